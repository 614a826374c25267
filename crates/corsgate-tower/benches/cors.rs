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

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use http::{header, HeaderValue, Method, Request, Response};
use tower::{service_fn, Layer, Service};
use tower_http::cors::{AllowOrigin, CorsLayer as TowerHttpCors};

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn inner() -> impl Service<
    Request<()>,
    Response = Response<()>,
    Error = Infallible,
    Future = Ready<Result<Response<()>, Infallible>>,
> + Clone {
    service_fn(|_req: Request<()>| ready(Ok::<_, Infallible>(Response::new(()))))
}

fn drive<S>(svc: &mut S, req: Request<()>, cx: &mut Context<'_>) -> Response<()>
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible>,
{
    let fut = pin!(svc.call(req));
    match fut.poll(cx) {
        Poll::Ready(Ok(res)) => res,
        _ => unreachable!("every service here is ready at once"),
    }
}

#[derive(Clone, Copy)]
enum Origins {
    Exact(usize),
    Pattern,
}

impl Origins {
    fn label(self) -> String {
        match self {
            Origins::Exact(n) => format!("{n}_origins"),
            Origins::Pattern => "subdomain_pattern".into(),
        }
    }
    fn list(self) -> Vec<String> {
        match self {
            Origins::Exact(n) => (0..n)
                .map(|i| format!("https://app{i}.example.com"))
                .collect(),
            Origins::Pattern => vec!["https://*.tenants.example.com".into()],
        }
    }
    fn allowed(self) -> &'static str {
        match self {
            Origins::Exact(1) => "https://app0.example.com",
            Origins::Exact(100) => "https://app99.example.com",
            Origins::Exact(10_000) => "https://app9999.example.com",
            Origins::Exact(_) => unreachable!("only 1, 100 and 10,000"),
            Origins::Pattern => "https://tenant-42.tenants.example.com",
        }
    }
}

fn corsgate(origins: Origins) -> corsgate_tower::CorsLayer {
    let policy = corsgate_core::Policy::builder()
        .origins(origins.list())
        .methods(["PUT", "DELETE"])
        .request_headers(["content-type", "x-trace"])
        .expose_headers(["x-request-id"])
        .credentials(true)
        .max_age(600)
        .build()
        .expect("valid policy");
    corsgate_tower::CorsLayer::new(policy)
}

fn tower_http(origins: Origins) -> TowerHttpCors {
    let allow = match origins {
        Origins::Exact(_) => AllowOrigin::list(
            origins
                .list()
                .iter()
                .map(|o| HeaderValue::from_str(o).expect("valid")),
        ),
        Origins::Pattern => AllowOrigin::predicate(|o: &HeaderValue, _| {
            let b = o.as_bytes();
            b.starts_with(b"https://")
                && b.ends_with(b".tenants.example.com")
                && b.len() > "https://.tenants.example.com".len()
        }),
    };
    TowerHttpCors::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::HeaderName::from_static("x-trace"),
        ])
        .expose_headers([header::HeaderName::from_static("x-request-id")])
        .allow_credentials(true)
        .max_age(Duration::from_secs(600))
}

#[derive(Clone, Copy)]
enum Workload {
    ActualAllowed,
    ActualDenied,
    PreflightAllowed,
    PreflightDenied,
    HostileAcrh,
}

impl Workload {
    const ALL: [Workload; 5] = [
        Workload::ActualAllowed,
        Workload::ActualDenied,
        Workload::PreflightAllowed,
        Workload::PreflightDenied,
        Workload::HostileAcrh,
    ];
    fn name(self) -> &'static str {
        match self {
            Workload::ActualAllowed => "actual_allowed",
            Workload::ActualDenied => "actual_denied",
            Workload::PreflightAllowed => "preflight_allowed",
            Workload::PreflightDenied => "preflight_denied",
            Workload::HostileAcrh => "hostile_acrh",
        }
    }
    fn request(self, allowed: &'static str, hostile: &HeaderValue) -> Request<()> {
        let b = Request::builder().uri("/items");
        match self {
            Workload::ActualAllowed => b.header(header::ORIGIN, allowed),
            Workload::ActualDenied => b.header(header::ORIGIN, "https://evil.example.net"),
            Workload::PreflightAllowed => b
                .method(Method::OPTIONS)
                .header(header::ORIGIN, allowed)
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
                .header(
                    header::ACCESS_CONTROL_REQUEST_HEADERS,
                    "content-type,x-trace",
                ),
            Workload::PreflightDenied => b
                .method(Method::OPTIONS)
                .header(header::ORIGIN, "https://evil.example.net")
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT"),
            Workload::HostileAcrh => b
                .method(Method::OPTIONS)
                .header(header::ORIGIN, allowed)
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
                .header(header::ACCESS_CONTROL_REQUEST_HEADERS, hostile.clone()),
        }
        .body(())
        .expect("valid request")
    }
}

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
        let allowed = origins.allowed();
        for w in Workload::ALL {
            // The layers must disagree with nothing essential before we time them.
            let a = drive(&mut ours, w.request(allowed, &hostile), &mut cx);
            let b = drive(&mut theirs, w.request(allowed, &hostile), &mut cx);
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
                bch.iter(|| black_box(drive(&mut none, w.request(allowed, &hostile), &mut cx)))
            });
            g.bench_function("corsgate", |bch| {
                bch.iter(|| black_box(drive(&mut ours, w.request(allowed, &hostile), &mut cx)))
            });
            g.bench_function("tower_http", |bch| {
                bch.iter(|| black_box(drive(&mut theirs, w.request(allowed, &hostile), &mut cx)))
            });
            g.finish();
        }
    }
}

criterion_group!(cors, benches);
criterion_main!(cors);
