//! corsgate-tower against tower-http's `CorsLayer` and against no CORS layer
//! at all, side by side, through the same trivial inner service.
//!
//! Workloads: allowed actual request, denied origin, allowed preflight, denied
//! preflight, hostile `Access-Control-Request-Headers` (1 MiB of commas); each
//! with 1, 100 and 10,000 exact origins (the allowed one listed last) and with
//! a subdomain pattern. The request is built inside the measured loop.
//!
//! ```text
//! cargo bench -p corsgate-tower --bench cors -- --warm-up-time 1 --measurement-time 2
//! ```
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Waker};

use common::{corsgate, drive, inner, tower_http, Noop, Origins, Wire, Workload};
use criterion::{criterion_group, criterion_main, Criterion};
use http::{header, HeaderValue, Response};
use tower::Layer;

fn benches(c: &mut Criterion) {
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let hostile = HeaderValue::from_bytes(&vec![b','; 1 << 20]).expect("commas are valid");
    drop(hostile.clone());
    for origins in [
        Origins::Exact(1),
        Origins::Exact(100),
        Origins::Exact(10_000),
        Origins::Pattern,
    ] {
        let mut none = inner();
        let mut ours = corsgate(origins).layer(inner());
        let mut theirs = tower_http(origins).layer(inner());
        let wire = Wire::new(origins.allowed());
        for w in Workload::ALL {
            // The layers must disagree with nothing essential before we time them.
            let a = drive(&mut ours, w.request(&wire, &hostile), &mut cx);
            let b = drive(&mut theirs, w.request(&wire, &hostile), &mut cx);
            let acao = |r: &Response<()>| {
                r.headers()
                    .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                    .cloned()
            };
            if !matches!(w, Workload::HostileAcrh) {
                assert_eq!(acao(&a), acao(&b), "{} {}", w.name(), origins.label());
            }
            let mut g = c.benchmark_group(format!("{}/{}", w.name(), origins.label()));
            g.bench_function("none", |bch| {
                bch.iter(|| black_box(drive(&mut none, w.request(&wire, &hostile), &mut cx)))
            });
            g.bench_function("corsgate", |bch| {
                bch.iter(|| black_box(drive(&mut ours, w.request(&wire, &hostile), &mut cx)))
            });
            g.bench_function("tower_http", |bch| {
                bch.iter(|| black_box(drive(&mut theirs, w.request(&wire, &hostile), &mut cx)))
            });
            g.finish();
        }
    }
}

criterion_group!(cors, benches);
criterion_main!(cors);
