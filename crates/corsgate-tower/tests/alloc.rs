//! Zero heap allocation on the allowed actual-request path, proved with a
//! counting global allocator (in its own test binary, so the allocator is
//! process-wide for these tests only). Counting is per thread, so the test
//! harness's own threads do not disturb the figures.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::{ready, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use corsgate_core::decision::Action;
use corsgate_core::Policy;
use corsgate_tower::CorsLayer;
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use tower::{service_fn, Layer, Service};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

fn policy() -> Policy {
    Policy::builder()
        .origins((0..10_000).map(|i| format!("https://app{i}.example.com")))
        .origin("https://*.tenants.example.com")
        .methods(["PUT", "DELETE"])
        .request_headers(["content-type", "x-trace"])
        .expose_headers(["x-request-id", "x-total"])
        .credentials(true)
        .build()
        .unwrap()
}

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// A request as hyper hands it over: the header values are slices of the
/// shared read buffer, so cloning one is a reference-count bump. (A value
/// built from a `Vec` allocates its shared header on its first clone; cloning
/// once here puts it in the same state.)
fn request(origin: &HeaderValue) -> Request<()> {
    let mut req = Request::new(());
    *req.method_mut() = Method::GET;
    req.headers_mut().insert("origin", origin.clone());
    req
}

#[test]
fn decide_allocates_nothing_on_the_allowed_actual_path() {
    let policy = policy();
    assert_eq!(
        allocations_in(|| drop(std::hint::black_box(Vec::<u8>::with_capacity(3)))),
        1,
        "the counter counts"
    );
    for origin in [
        "https://app9999.example.com",
        "https://a.b.tenants.example.com",
    ] {
        let origin = HeaderValue::from_str(origin).unwrap();
        drop(origin.clone());
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert("origin", origin.clone());
        let mut response = HeaderMap::with_capacity(16);
        // The first sight of a value a pattern allows may allocate once: its
        // static copy is made (see `corsgate_core`'s `learned` module).
        let first = allocations_in(|| drop(policy.decide(&Method::GET, &headers)));
        assert!(first <= 3, "{origin:?}: {first} allocations at first sight");
        let n = allocations_in(|| {
            for _ in 0..100 {
                let d = policy.decide(&Method::GET, &headers);
                assert!(d.allowed());
                assert_eq!(d.action(), Action::PassOn);
                response.clear();
                d.into_headers().apply_to(&mut response);
                assert_eq!(response.len(), 4); // ACAO, ACAC, ACEH, Vary
            }
        });
        assert_eq!(n, 0, "{origin:?}: {n} allocations in 100 decisions");
    }
}

#[test]
fn pattern_matches_allocate_nothing_once_seen_whether_remembered_or_not() {
    // More distinct origins than a policy remembers: after one pass, some are
    // answered from their static copy and the others (their slot taken) by
    // echoing the request's value. Neither path may allocate.
    let policy = policy();
    let origins: Vec<HeaderValue> = (0..2 * corsgate_core::origin_set::REMEMBERED)
        .map(|i| HeaderValue::from_str(&format!("https://t{i}.tenants.example.com")).unwrap())
        .collect();
    let headers: Vec<HeaderMap> = origins
        .iter()
        .map(|o| {
            drop(o.clone());
            let mut h = HeaderMap::with_capacity(8);
            h.insert("origin", o.clone());
            h
        })
        .collect();
    for h in &headers {
        assert!(policy.decide(&Method::GET, h).allowed());
    }
    let mut response = HeaderMap::with_capacity(16);
    let n = allocations_in(|| {
        for (h, o) in headers.iter().zip(&origins) {
            let d = policy.decide(&Method::GET, h);
            response.clear();
            d.into_headers().apply_to(&mut response);
            assert_eq!(response["access-control-allow-origin"], o);
        }
    });
    assert_eq!(n, 0, "{n} allocations in {} decisions", origins.len());
    let remembered = origins
        .iter()
        .filter(|o| {
            matches!(
                policy.origins().matches(o),
                corsgate_core::origin_set::OriginMatch::PatternSeen(_)
            )
        })
        .count();
    assert!(
        remembered > 0 && remembered < origins.len(),
        "both paths taken: {remembered} of {} remembered",
        origins.len()
    );
}

#[test]
fn the_layer_adds_no_allocation_to_an_allowed_actual_request() {
    // The inner service builds a response with room for its headers, as
    // frameworks do; the layer must not add a single allocation to that.
    let inner = service_fn(|_req: Request<()>| {
        let mut res = Response::new(());
        *res.headers_mut() = HeaderMap::with_capacity(16);
        res.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        ready(Ok::<_, Infallible>(res))
    });
    // The same with a candidate in shadow, agreeing or not (a narrower one
    // refuses two of the origins below): the layer still adds nothing.
    let narrower = || {
        Policy::builder()
            .origin("https://app0.example.com")
            .build()
            .unwrap()
    };
    for shadow in [None, Some(policy()), Some(narrower())] {
        let counted = shadow.as_ref().is_some_and(|s| s.origins().len() == 1);
        let layer = match shadow {
            Some(candidate) => CorsLayer::new(policy()).shadow(candidate),
            None => CorsLayer::new(policy()),
        };
        let handle = layer.handle();
        allowed_actual_requests_add_nothing(inner, layer);
        assert_eq!(
            handle.shadow_counts().total() > 0,
            counted,
            "disagreements counted exactly when the candidate disagrees"
        );
    }
}

fn allowed_actual_requests_add_nothing<S>(inner: S, layer: CorsLayer)
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible> + Clone,
{
    let mut bare = inner.clone();
    let mut layered = layer.layer(inner);
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);

    fn drive<S>(svc: &mut S, req: Request<()>, cx: &mut Context<'_>) -> Response<()>
    where
        S: Service<Request<()>, Response = Response<()>, Error = Infallible>,
    {
        let fut = pin!(svc.call(req));
        match fut.poll(cx) {
            Poll::Ready(Ok(res)) => res,
            _ => unreachable!("the inner service is ready at once"),
        }
    }

    for origin in [
        "https://app0.example.com",
        "https://app9999.example.com",
        "https://x.tenants.example.com",
    ] {
        let origin = HeaderValue::from_str(origin).unwrap();
        drop(origin.clone());
        // Warm up: arc-swap registers this thread once.
        drive(&mut layered, request(&origin), &mut cx);
        let mut reqs: Vec<_> = (0..200).map(|_| request(&origin)).collect();
        let without = allocations_in(|| {
            for req in reqs.drain(..100) {
                drive(&mut bare, req, &mut cx);
            }
        });
        let with = allocations_in(|| {
            for req in reqs.drain(..) {
                let res = drive(&mut layered, req, &mut cx);
                assert_eq!(res.headers()["access-control-allow-origin"], origin);
            }
        });
        assert!(without > 0, "the counter counts");
        assert_eq!(
            with,
            without,
            "{origin:?}: the layer added {} allocations over 100 requests",
            with as isize - without as isize
        );
    }
}
