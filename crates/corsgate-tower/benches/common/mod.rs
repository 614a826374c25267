//! What the corsgate-tower benchmarks share: the inner service, the three
//! contenders' configurations, the workloads and the request builder.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Wake};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, Response};
use tower::{service_fn, Layer, Service};
use tower_http::cors::{AllowOrigin, CorsLayer as TowerHttpCors};

pub(crate) struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

pub(crate) fn inner() -> impl Service<
    Request<()>,
    Response = Response<()>,
    Error = Infallible,
    Future = Ready<Result<Response<()>, Infallible>>,
> + Clone {
    service_fn(|_req: Request<()>| ready(Ok::<_, Infallible>(Response::new(()))))
}

/// An inner service that answers like a JSON handler: a `Content-Type`
/// line, so the layer merges into a map that holds headers already.
pub(crate) fn inner_json() -> impl Service<
    Request<()>,
    Response = Response<()>,
    Error = Infallible,
    Future = Ready<Result<Response<()>, Infallible>>,
> + Clone {
    service_fn(|_req: Request<()>| {
        let mut res = Response::new(());
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        ready(Ok::<_, Infallible>(res))
    })
}

pub(crate) fn drive<S>(svc: &mut S, req: Request<()>, cx: &mut Context<'_>) -> Response<()>
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
pub(crate) enum Origins {
    Exact(usize),
    Pattern,
}

impl Origins {
    pub(crate) fn label(self) -> String {
        match self {
            Origins::Exact(n) => format!("{n}_origins"),
            Origins::Pattern => "subdomain_pattern".into(),
        }
    }
    pub(crate) fn list(self) -> Vec<String> {
        match self {
            Origins::Exact(n) => (0..n)
                .map(|i| format!("https://app{i}.example.com"))
                .collect(),
            Origins::Pattern => vec!["https://*.tenants.example.com".into()],
        }
    }
    pub(crate) fn allowed(self) -> &'static str {
        match self {
            Origins::Exact(1) => "https://app0.example.com",
            Origins::Exact(100) => "https://app99.example.com",
            Origins::Exact(10_000) => "https://app9999.example.com",
            Origins::Exact(_) => unreachable!("only 1, 100 and 10,000"),
            Origins::Pattern => "https://tenant-42.tenants.example.com",
        }
    }
}

pub(crate) fn corsgate(origins: Origins) -> corsgate_tower::CorsLayer {
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

pub(crate) fn tower_http(origins: Origins) -> TowerHttpCors {
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
pub(crate) enum Workload {
    ActualAllowed,
    ActualDenied,
    PreflightAllowed,
    PreflightDenied,
    HostileAcrh,
}

impl Workload {
    pub(crate) const ALL: [Workload; 5] = [
        Workload::ActualAllowed,
        Workload::ActualDenied,
        Workload::PreflightAllowed,
        Workload::PreflightDenied,
        Workload::HostileAcrh,
    ];
    pub(crate) fn name(self) -> &'static str {
        match self {
            Workload::ActualAllowed => "actual_allowed",
            Workload::ActualDenied => "actual_denied",
            Workload::PreflightAllowed => "preflight_allowed",
            Workload::PreflightDenied => "preflight_denied",
            Workload::HostileAcrh => "hostile_acrh",
        }
    }
    /// The request, shaped as hyper hands it over: header values are slices
    /// of one shared read buffer (`wire`), so cloning one (a layer echoing
    /// the `Origin`) is a reference-count bump, as in a real server.
    pub(crate) fn request(self, wire: &Wire, hostile: &HeaderValue) -> Request<()> {
        let mut req = Request::new(());
        *req.uri_mut() = http::Uri::from_static("/items");
        let h = req.headers_mut();
        match self {
            Workload::ActualAllowed => {
                h.insert(header::ORIGIN, wire.allowed.clone());
            }
            Workload::ActualDenied => {
                h.insert(header::ORIGIN, wire.denied.clone());
            }
            Workload::PreflightAllowed => {
                *req.method_mut() = Method::OPTIONS;
                let h = req.headers_mut();
                h.insert(header::ORIGIN, wire.allowed.clone());
                h.insert(header::ACCESS_CONTROL_REQUEST_METHOD, wire.put.clone());
                h.insert(header::ACCESS_CONTROL_REQUEST_HEADERS, wire.acrh.clone());
            }
            Workload::PreflightDenied => {
                *req.method_mut() = Method::OPTIONS;
                let h = req.headers_mut();
                h.insert(header::ORIGIN, wire.denied.clone());
                h.insert(header::ACCESS_CONTROL_REQUEST_METHOD, wire.put.clone());
            }
            Workload::HostileAcrh => {
                *req.method_mut() = Method::OPTIONS;
                let h = req.headers_mut();
                h.insert(header::ORIGIN, wire.allowed.clone());
                h.insert(header::ACCESS_CONTROL_REQUEST_METHOD, wire.put.clone());
                h.insert(header::ACCESS_CONTROL_REQUEST_HEADERS, hostile.clone());
            }
        }
        req
    }
}

/// The header values of the workloads' requests, sliced out of one shared
/// buffer the way hyper slices them out of a connection's read buffer.
pub(crate) struct Wire {
    allowed: HeaderValue,
    denied: HeaderValue,
    put: HeaderValue,
    acrh: HeaderValue,
}

impl Wire {
    pub(crate) fn new(allowed: &str) -> Wire {
        let text = format!("{allowed}\nhttps://evil.example.net\nPUT\ncontent-type,x-trace");
        let buf = Bytes::from(text.into_bytes());
        let mut at = 0;
        let mut next = || {
            let len = buf[at..]
                .iter()
                .position(|b| *b == b'\n')
                .unwrap_or(buf.len() - at);
            let v = HeaderValue::from_maybe_shared(buf.slice(at..at + len)).expect("valid value");
            at += len + 1;
            v
        };
        Wire {
            allowed: next(),
            denied: next(),
            put: next(),
            acrh: next(),
        }
    }
}

/// The floor: a layer that makes no decision at all and only appends the
/// four headers an allowed actual request gets (fixed values). What it costs
/// is what writing four headers into an `http::HeaderMap` costs (an
/// allocation, four appends, their drop), which no CORS layer can avoid.
#[derive(Clone, Copy)]
pub(crate) struct Floor;

#[derive(Clone)]
pub(crate) struct FloorService<S>(S);

impl<S> Layer<S> for Floor {
    type Service = FloorService<S>;
    fn layer(&self, inner: S) -> FloorService<S> {
        FloorService(inner)
    }
}

impl<S> Service<Request<()>> for FloorService<S>
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response<()>;
    type Error = Infallible;
    type Future = FloorFuture<S::Future>;
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }
    fn call(&mut self, req: Request<()>) -> Self::Future {
        FloorFuture(self.0.call(req))
    }
}

pub(crate) struct FloorFuture<F>(F);

impl<F> Future for FloorFuture<F>
where
    F: Future<Output = Result<Response<()>, Infallible>> + Unpin,
{
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let res = Pin::new(&mut self.0).poll(cx);
        if let Poll::Ready(Ok(mut res)) = res {
            append_four(res.headers_mut());
            return Poll::Ready(Ok(res));
        }
        res
    }
}

#[allow(clippy::declare_interior_mutable_const)]
const FOUR: [(HeaderName, HeaderValue); 4] = [
    (
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("https://app0.example.com"),
    ),
    (
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    ),
    (
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-request-id"),
    ),
    (header::VARY, HeaderValue::from_static("origin")),
];

fn append_four(map: &mut HeaderMap) {
    // No `reserve`: the first append makes room for six lines, and the call
    // would only add cost.
    for (n, v) in FOUR {
        map.append(n, v);
    }
}
