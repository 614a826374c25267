//! What the corsgate-tower benchmarks share: the inner service, the three
//! contenders' configurations, the workloads and the request builder.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake};
use std::time::Duration;

use http::{header, HeaderValue, Method, Request, Response};
use tower::{service_fn, Service};
use tower_http::cors::{AllowOrigin, CorsLayer as TowerHttpCors};

pub struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

pub fn inner() -> impl Service<
    Request<()>,
    Response = Response<()>,
    Error = Infallible,
    Future = Ready<Result<Response<()>, Infallible>>,
> + Clone {
    service_fn(|_req: Request<()>| ready(Ok::<_, Infallible>(Response::new(()))))
}

pub fn drive<S>(svc: &mut S, req: Request<()>, cx: &mut Context<'_>) -> Response<()>
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
pub enum Origins {
    Exact(usize),
    Pattern,
}

impl Origins {
    pub fn label(self) -> String {
        match self {
            Origins::Exact(n) => format!("{n}_origins"),
            Origins::Pattern => "subdomain_pattern".into(),
        }
    }
    pub fn list(self) -> Vec<String> {
        match self {
            Origins::Exact(n) => (0..n)
                .map(|i| format!("https://app{i}.example.com"))
                .collect(),
            Origins::Pattern => vec!["https://*.tenants.example.com".into()],
        }
    }
    pub fn allowed(self) -> &'static str {
        match self {
            Origins::Exact(1) => "https://app0.example.com",
            Origins::Exact(100) => "https://app99.example.com",
            Origins::Exact(10_000) => "https://app9999.example.com",
            Origins::Exact(_) => unreachable!("only 1, 100 and 10,000"),
            Origins::Pattern => "https://tenant-42.tenants.example.com",
        }
    }
}

pub fn corsgate(origins: Origins) -> corsgate_tower::CorsLayer {
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

pub fn tower_http(origins: Origins) -> TowerHttpCors {
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
pub enum Workload {
    ActualAllowed,
    ActualDenied,
    PreflightAllowed,
    PreflightDenied,
    HostileAcrh,
}

impl Workload {
    pub const ALL: [Workload; 5] = [
        Workload::ActualAllowed,
        Workload::ActualDenied,
        Workload::PreflightAllowed,
        Workload::PreflightDenied,
        Workload::HostileAcrh,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Workload::ActualAllowed => "actual_allowed",
            Workload::ActualDenied => "actual_denied",
            Workload::PreflightAllowed => "preflight_allowed",
            Workload::PreflightDenied => "preflight_denied",
            Workload::HostileAcrh => "hostile_acrh",
        }
    }
    pub fn request(self, allowed: &'static str, hostile: &HeaderValue) -> Request<()> {
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
