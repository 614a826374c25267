//! Shadow mode in the tower layer: for random requests and random pairs of
//! policies, a layer with a candidate in shadow answers byte for byte as the
//! same layer without it; it counts exactly the disagreements the engine's
//! `shadow::compare` finds, hands each to the callback, and `promote` makes
//! the candidate the enforced policy.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use corsgate_core::Policy;
use corsgate_tower::CorsLayer;
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use proptest::prelude::*;
use tower::{service_fn, Layer, Service, ServiceExt};

const ORIGINS: &[&str] = &[
    "https://app.example.com",
    "https://admin.example.com",
    "https://*.example.org",
];
const SENT: &[&str] = &[
    "https://app.example.com",
    "https://admin.example.com",
    "https://a.example.org",
    "https://evil.example",
    "null",
];

fn policy(origins: Vec<&str>, put: bool, credentials: bool) -> Policy {
    let mut b = Policy::builder()
        .origins(origins)
        .credentials(credentials)
        .expose_headers(["x-total"]);
    if put {
        b = b.method("PUT").request_header("x-a");
    }
    b.build().unwrap()
}

fn settings() -> impl Strategy<Value = (Vec<&'static str>, bool, bool)> {
    (
        prop::sample::subsequence(ORIGINS, 1..=3),
        any::<bool>(),
        any::<bool>(),
    )
}

fn request() -> impl Strategy<Value = (Method, HeaderMap)> {
    (prop::sample::select(SENT), any::<bool>(), any::<bool>()).prop_map(
        |(origin, preflight, header)| {
            let mut h = HeaderMap::new();
            h.insert("origin", HeaderValue::from_static(origin));
            if preflight {
                h.insert(
                    "access-control-request-method",
                    HeaderValue::from_static("PUT"),
                );
                if header {
                    h.insert(
                        "access-control-request-headers",
                        HeaderValue::from_static("x-a"),
                    );
                }
                (Method::OPTIONS, h)
            } else {
                (Method::GET, h)
            }
        },
    )
}

fn call(layer: &CorsLayer, method: &Method, headers: &HeaderMap) -> Response<String> {
    let inner = service_fn(|_req: Request<()>| async {
        let mut r = Response::new(String::from("body"));
        r.headers_mut()
            .insert("x-total", HeaderValue::from_static("3"));
        Ok::<_, Infallible>(r)
    });
    let mut req = Request::new(());
    *req.method_mut() = method.clone();
    *req.headers_mut() = headers.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async { layer.clone().layer(inner).oneshot(req).await.unwrap() })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn shadow_never_changes_a_response_and_counts_every_disagreement(
        a in settings(), b in settings(), (method, headers) in request()
    ) {
        let (enforced, candidate) = (policy(a.0.clone(), a.1, a.2), policy(b.0.clone(), b.1, b.2));
        let expected = candidate.decide_shadow(&method, &headers).compare(&enforced.decide(&method, &headers));
        let plain = CorsLayer::new(policy(a.0.clone(), a.1, a.2));
        let seen = Arc::new(AtomicUsize::new(0));
        let s = seen.clone();
        // The callback set on a clone reaches the original's services too.
        let shadowed = CorsLayer::new(enforced).shadow(candidate);
        let _ = shadowed.clone().on_disagreement(move |_, _, _, _| {
            s.fetch_add(1, Ordering::Relaxed);
        });
        let (x, y) = (call(&plain, &method, &headers), call(&shadowed, &method, &headers));
        prop_assert_eq!(x.status(), y.status());
        prop_assert_eq!(x.headers(), y.headers());
        prop_assert_eq!(x.body(), y.body());
        let counts: Vec<_> = shadowed.handle().shadow_counts().nonzero().collect();
        match expected {
            Some(d) => prop_assert_eq!(counts, vec![(d.kind, d.reason().code(), 1)]),
            None => prop_assert!(counts.is_empty()),
        }
        prop_assert_eq!(seen.load(Ordering::Relaxed), usize::from(expected.is_some()));
    }
}

#[test]
fn promote_makes_the_candidate_the_enforced_policy() {
    let layer = CorsLayer::new(policy(
        vec!["https://app.example.com", "https://old.example.com"],
        false,
        false,
    ))
    .shadow(policy(vec!["https://app.example.com"], false, false));
    let handle = layer.handle();
    let mut h = HeaderMap::new();
    h.insert(
        "origin",
        HeaderValue::from_static("https://old.example.com"),
    );
    // Before: allowed (enforced), the candidate's refusal only counted.
    let r = call(&layer, &Method::GET, &h);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://old.example.com"
    );
    assert_eq!(handle.shadow_counts().total(), 1);
    assert!(handle.promote());
    assert!(handle.shadow().is_none());
    let r = call(&layer, &Method::GET, &h);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert!(!handle.promote(), "nothing left to promote");
    // A service made before the promotion follows it too.
    let mut svc = layer.layer(service_fn(|_req: Request<()>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    }));
    handle.set_shadow(Some(policy(vec!["https://old.example.com"], false, false)));
    assert!(handle.promote());
    let mut req = Request::new(());
    *req.headers_mut() = h.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let r = rt.block_on(async { svc.ready().await.unwrap().call(req).await.unwrap() });
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://old.example.com"
    );
}
