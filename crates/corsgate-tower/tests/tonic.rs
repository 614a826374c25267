//! gRPC-Web through the layer: a service with tonic's body type, the
//! preflight a gRPC-Web client sends, and the gRPC trailers-in-headers it must
//! be able to read.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::convert::Infallible;

use corsgate_core::Policy;
use corsgate_tower::CorsLayer;
use http::{Request, Response, StatusCode};
use tonic::body::Body;
use tower::{service_fn, Layer, ServiceExt};

fn grpc_web_policy() -> Policy {
    Policy::from_toml(
        r#"
        origins = ["https://app.example.com"]
        request_headers = ["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout"]
        expose_headers = ["grpc-status", "grpc-message", "grpc-status-details-bin"]
        max_age = 7200
        "#,
    )
    .unwrap()
}

#[tokio::test]
async fn grpc_web_preflight_and_call() {
    let inner = service_fn(|req: Request<Body>| async move {
        assert_eq!(req.headers()["content-type"], "application/grpc-web+proto");
        let mut res = Response::new(Body::empty());
        res.headers_mut().insert(
            "content-type",
            "application/grpc-web+proto".parse().unwrap(),
        );
        res.headers_mut()
            .insert("grpc-status", "0".parse().unwrap());
        Ok::<_, Infallible>(res)
    });
    let svc = CorsLayer::new(grpc_web_policy()).layer(inner);

    let preflight = Request::builder()
        .method("OPTIONS")
        .uri("/helloworld.Greeter/SayHello")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-grpc-web,x-user-agent",
        )
        .body(Body::empty())
        .unwrap();
    let res = svc.clone().oneshot(preflight).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        res.headers()["access-control-allow-headers"],
        "content-type, x-grpc-web, x-user-agent, grpc-timeout"
    );

    let call = Request::builder()
        .method("POST")
        .uri("/helloworld.Greeter/SayHello")
        .header("origin", "https://app.example.com")
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(Body::empty())
        .unwrap();
    let res = svc.oneshot(call).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(
        res.headers()["access-control-expose-headers"],
        "grpc-status, grpc-message, grpc-status-details-bin"
    );
}
