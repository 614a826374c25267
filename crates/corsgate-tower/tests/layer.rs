//! The middleware with real inner services: tower `service_fn`s, and an axum
//! router served by hyper on a loopback socket.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use corsgate_core::Policy;
use corsgate_tower::{CorsLayer, CorsOutcome};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use tower::{service_fn, Layer, Service, ServiceExt};

fn policy() -> Policy {
    Policy::builder()
        .origins(["https://app.example.com", "https://*.preview.example.com"])
        .methods(["PUT", "DELETE"])
        .request_headers(["content-type", "x-trace"])
        .expose_headers(["x-request-id"])
        .credentials(true)
        .max_age(600)
        .build()
        .unwrap()
}

/// An inner service that counts its calls and answers with `status`, its own
/// `Vary: Accept-Encoding` and an `X-Request-Id`.
fn counting(
    status: StatusCode,
) -> (
    Arc<AtomicUsize>,
    impl Service<Request<()>, Response = Response<String>, Error = Infallible> + Clone,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let svc = service_fn(move |_req: Request<()>| {
        c.fetch_add(1, Ordering::SeqCst);
        async move {
            let mut res = Response::new(String::from("body"));
            *res.status_mut() = status;
            res.headers_mut()
                .insert("vary", HeaderValue::from_static("Accept-Encoding"));
            res.headers_mut()
                .insert("x-request-id", HeaderValue::from_static("r-1"));
            Ok::<_, Infallible>(res)
        }
    });
    (calls, svc)
}

fn request(method: Method, headers: &[(&str, &str)]) -> Request<()> {
    let mut b = Request::builder().method(method).uri("/things/1");
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(()).unwrap()
}

async fn send<S>(svc: &mut S, req: Request<()>) -> Response<String>
where
    S: Service<Request<()>, Response = Response<String>, Error = Infallible>,
{
    svc.ready().await.unwrap().call(req).await.unwrap()
}

#[tokio::test]
async fn preflights_never_reach_the_inner_service() {
    let (calls, inner) = counting(StatusCode::OK);
    let mut svc = CorsLayer::new(policy()).layer(inner);
    let ok = send(
        &mut svc,
        request(
            Method::OPTIONS,
            &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "X-Trace, Content-Type"),
            ],
        ),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    let h = ok.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(h["access-control-allow-methods"], "PUT");
    assert_eq!(h["access-control-allow-headers"], "content-type, x-trace");
    assert_eq!(h["access-control-max-age"], "600");
    assert!(ok.body().is_empty());

    let refused = send(
        &mut svc,
        request(
            Method::OPTIONS,
            &[
                ("origin", "https://evil.example.net"),
                ("access-control-request-method", "PUT"),
            ],
        ),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused
        .headers()
        .keys()
        .all(|n| !n.as_str().starts_with("access-control-")));
    let pattern = send(
        &mut svc,
        request(
            Method::OPTIONS,
            &[
                ("origin", "https://pr-3.preview.example.com"),
                ("access-control-request-method", "DELETE"),
            ],
        ),
    )
    .await;
    assert_eq!(pattern.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        pattern.headers()["access-control-allow-origin"],
        "https://pr-3.preview.example.com"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    // An OPTIONS request that is not a preflight is the application's.
    let plain = send(
        &mut svc,
        request(Method::OPTIONS, &[("origin", "https://app.example.com")]),
    )
    .await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn error_responses_get_the_headers_and_vary_is_appended() {
    for status in [
        StatusCode::OK,
        StatusCode::UNAUTHORIZED,
        StatusCode::INTERNAL_SERVER_ERROR,
    ] {
        let (calls, inner) = counting(status);
        let mut svc = CorsLayer::new(policy()).layer(inner);
        let res = send(
            &mut svc,
            request(
                Method::DELETE,
                &[("origin", "https://pr-9.preview.example.com")],
            ),
        )
        .await;
        assert_eq!(res.status(), status);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let h = res.headers();
        assert_eq!(
            h["access-control-allow-origin"],
            "https://pr-9.preview.example.com"
        );
        assert_eq!(h["access-control-expose-headers"], "x-request-id");
        let vary: Vec<_> = h.get_all("vary").iter().collect();
        assert_eq!(vary, ["Accept-Encoding", "origin"]);
    }
    // A refused origin still reaches the application (CORS protects the
    // response, not the server), gets Vary, and no CORS header.
    let (_, inner) = counting(StatusCode::OK);
    let mut svc = CorsLayer::new(policy()).layer(inner);
    let res = send(
        &mut svc,
        request(Method::GET, &[("origin", "https://preview.example.com")]),
    )
    .await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert_eq!(res.headers().get_all("vary").iter().count(), 2);
}

#[tokio::test]
async fn policy_swaps_and_debug_toggles_while_serving() {
    let (_, inner) = counting(StatusCode::OK);
    let layer = CorsLayer::new(policy());
    // A handle taken first still controls the layer configured after.
    let handle = layer.handle();
    let layer = layer.record_decisions(true);
    let mut svc = layer.layer(inner);
    let pf = || {
        request(
            Method::OPTIONS,
            &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "PATCH"),
            ],
        )
    };
    let res = send(&mut svc, pf()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let outcome = res.extensions().get::<CorsOutcome>().copied().unwrap();
    assert_eq!(outcome.reason.code(), "method_not_allowed");

    handle.set_debug(true);
    let res = send(&mut svc, pf()).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(res.headers().get("access-control-allow-methods").is_none());
    handle.set_debug(false);

    let mut clone = svc.clone();
    handle.set_policy(
        Policy::builder()
            .origin("https://app.example.com")
            .method("PATCH")
            .build()
            .unwrap(),
    );
    for s in [&mut svc, &mut clone] {
        let res = send(s, pf()).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert_eq!(res.headers()["access-control-allow-methods"], "PATCH");
    }
    assert!(!handle.policy().credentials());
}

#[tokio::test(flavor = "current_thread")]
async fn axum_over_a_real_socket() {
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = axum::Router::new()
        .route(
            "/items",
            get(|| async { "items" }).put(|| async { (StatusCode::CONFLICT, "taken") }),
        )
        .layer(CorsLayer::new(policy()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    async fn raw(addr: std::net::SocketAddr, text: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(text.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out.to_ascii_lowercase()
    }
    let preflight = raw(
        addr,
        "OPTIONS /items HTTP/1.1\r\nHost: api\r\nOrigin: https://app.example.com\r\nAccess-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(preflight.starts_with("http/1.1 204"), "{preflight}");
    assert!(
        preflight.contains("access-control-allow-methods: put\r\n"),
        "{preflight}"
    );

    let conflict = raw(
        addr,
        "PUT /items HTTP/1.1\r\nHost: api\r\nOrigin: https://app.example.com\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(conflict.starts_with("http/1.1 409"), "{conflict}");
    assert!(conflict.contains("access-control-allow-origin: https://app.example.com\r\n"));
    assert!(conflict.contains("vary: origin\r\n"));
    assert!(conflict.ends_with("taken"));

    let denied = raw(
        addr,
        "OPTIONS /items HTTP/1.1\r\nHost: api\r\nOrigin: https://evil.example\r\nAccess-Control-Request-Method: PUT\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(denied.starts_with("http/1.1 403"), "{denied}");
    assert!(!denied.contains("access-control-allow-origin"));
    server.abort();
}

/// The policy is the only authority: an inner service's own
/// `Access-Control-*` headers never reach a denied origin, and are replaced
/// for an allowed one.
#[tokio::test]
async fn inner_cors_headers_never_leak() {
    let inner = service_fn(|_req: Request<()>| async {
        let mut res = Response::new(String::from("body"));
        let h = res.headers_mut();
        h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
        h.insert(
            "access-control-allow-credentials",
            HeaderValue::from_static("true"),
        );
        h.insert(
            "access-control-expose-headers",
            HeaderValue::from_static("*"),
        );
        h.insert(
            "access-control-allow-methods",
            HeaderValue::from_static("*"),
        );
        // A misspelt and a Private Network Access line: the policy owns every
        // Access-Control-* name (corsgate_core::is_cors_response_header), as
        // the gateway does.
        h.insert(
            "access-control-allow-origins",
            HeaderValue::from_static("*"),
        );
        h.insert(
            "access-control-allow-private-network",
            HeaderValue::from_static("true"),
        );
        Ok::<_, Infallible>(res)
    });
    let mut svc = CorsLayer::new(policy()).layer(inner);
    let denied = send(
        &mut svc,
        request(Method::GET, &[("origin", "https://evil.example.net")]),
    )
    .await;
    assert!(
        denied
            .headers()
            .keys()
            .all(|n| !n.as_str().starts_with("access-control-")),
        "{:?}",
        denied.headers()
    );
    let allowed = send(
        &mut svc,
        request(Method::GET, &[("origin", "https://app.example.com")]),
    )
    .await;
    let h = allowed.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(h["access-control-expose-headers"], "x-request-id");
    assert!(h.get("access-control-allow-methods").is_none());
    assert_eq!(h.get_all("access-control-allow-origin").iter().count(), 1);
    assert!(h.get("access-control-allow-origins").is_none(), "{h:?}");
    assert!(
        h.get("access-control-allow-private-network").is_none(),
        "{h:?}"
    );
}

/// Services on other threads pick up every swap: while this thread swaps
/// between two policies, each answer matches one of them, and once the last
/// swap is done, the very next request on every service sees the last policy
/// (each service cached an older one while serving).
#[test]
fn swaps_reach_services_on_other_threads() {
    let only = |origin: &str| Policy::builder().origin(origin).build().unwrap();
    let layer = CorsLayer::new(only("https://a.example.com"));
    let handle = layer.handle();
    let inner =
        service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(String::new())) });
    let services: Vec<_> = (0..2).map(|_| layer.layer(inner)).collect();
    let servers: Vec<_> = services
        .into_iter()
        .map(|mut svc| {
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let mut ask = |origin: &'static str| {
                    let req = request(Method::GET, &[("origin", origin)]);
                    let res = rt.block_on(send(&mut svc, req));
                    res.headers()
                        .get("access-control-allow-origin")
                        .map(|v| v.to_str().unwrap().to_owned())
                };
                for _ in 0..2_000 {
                    // Whatever policy is in force, an answer only ever names the
                    // origin asked about (the final check below is the strong one).
                    let a = ask("https://a.example.com");
                    let b = ask("https://b.example.com");
                    assert!(a.is_none() || a.as_deref() == Some("https://a.example.com"));
                    assert!(b.is_none() || b.as_deref() == Some("https://b.example.com"));
                }
                svc
            })
        })
        .collect();
    for i in 0..500 {
        let origin = if i % 2 == 0 {
            "https://b.example.com"
        } else {
            "https://a.example.com"
        };
        handle.set_policy(only(origin));
    }
    handle.set_policy(only("https://c.example.com"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for t in servers {
        let mut svc = t.join().unwrap();
        let req = request(Method::GET, &[("origin", "https://c.example.com")]);
        let res = rt.block_on(send(&mut svc, req));
        assert_eq!(
            res.headers()["access-control-allow-origin"],
            "https://c.example.com"
        );
    }
}

#[tokio::test]
async fn the_policys_reason_only_when_turned_on_and_only_on_refusals() {
    let patch = || {
        request(
            Method::OPTIONS,
            &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "PATCH"),
            ],
        )
    };
    let evil = || request(Method::GET, &[("origin", "https://evil.example")]);
    let allowed = || request(Method::GET, &[("origin", "https://app.example.com")]);
    // Off by default: nothing of the policy is told.
    let (_, inner) = counting(StatusCode::OK);
    let mut svc = CorsLayer::new(policy()).layer(inner);
    for req in [patch(), evil(), allowed()] {
        let res = send(&mut svc, req).await;
        assert!(res.headers().get("corsgate-reason").is_none());
        assert!(res.headers().get("corsgate-policy-edit").is_none());
    }
    // On: the refused preflight (answered here) and the refused actual
    // request (passed on) carry it; the allowed one does not.
    let on = Policy::try_from({
        let mut c = policy().config().clone();
        c.reason_header = true;
        c
    })
    .unwrap();
    let (calls, inner) = counting(StatusCode::OK);
    let mut svc = CorsLayer::new(on).layer(inner);
    let res = send(&mut svc, patch()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.headers()["corsgate-reason"],
        "method_not_allowed; the policy lists `PUT, DELETE`; `PATCH` is not listed (methods are case-sensitive)"
    );
    assert_eq!(
        res.headers()["corsgate-policy-edit"],
        r#"methods = ["PUT", "DELETE", "PATCH"]"#
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let res = send(&mut svc, evil()).await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let reason = res.headers()["corsgate-reason"].to_str().unwrap();
    assert!(reason.starts_with("origin_not_allowed; "), "{reason}");
    let res = send(&mut svc, allowed()).await;
    assert!(res.headers().get("corsgate-reason").is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
