//! The middleware with real inner services: tower `service_fn`s, and an axum
//! router served by hyper on a loopback socket.

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
    let layer = CorsLayer::new(policy()).record_decisions(true);
    let handle = layer.handle();
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
