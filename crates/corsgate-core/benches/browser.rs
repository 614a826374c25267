//! Benchmarks of the browser role: classifying a request and checking responses.
use std::hint::black_box;

use corsgate_core::{
    cors_check, preflight::check_preflight_response, Credentials, Profile, Request, Response, Stage,
};
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let req = Request::builder("https://app.example", "https://api.example/v1/items")
        .method("PUT")
        .header("Content-Type", "application/json")
        .header("X-Request-Id", "42")
        .header("Accept", "application/json")
        .credentials(Credentials::Include)
        .build()
        .expect("valid request");
    let preflight = Response::new(204)
        .header("Access-Control-Allow-Origin", "https://app.example")
        .header("Access-Control-Allow-Credentials", "true")
        .header("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
        .header("Access-Control-Allow-Headers", "content-type, x-request-id")
        .header("Access-Control-Max-Age", "600");
    let actual = Response::new(200)
        .header("Access-Control-Allow-Origin", "https://app.example")
        .header("Access-Control-Allow-Credentials", "true")
        .header("Vary", "Origin");
    c.bench_function("classify_request", |b| {
        b.iter(|| black_box(&req).classify(Profile::Chromium))
    });
    c.bench_function("check_preflight_response", |b| {
        b.iter(|| {
            check_preflight_response(
                black_box(&req),
                "https://app.example",
                black_box(&preflight),
                Profile::Chromium,
            )
        })
    });
    c.bench_function("cors_check_actual", |b| {
        b.iter(|| {
            cors_check(
                "https://app.example",
                Credentials::Include,
                black_box(&actual),
                Stage::Actual,
                Profile::Chromium,
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
