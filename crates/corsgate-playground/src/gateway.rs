//! The playground's own live gateway: the demo upstream
//! ([`corsgate_gateway::demo::answer`], the one `serve --demo` runs) behind
//! shipped code, [`corsgate_tower::CorsLayer`]; every decision is published
//! for the live view. The engine's model ([`gateway_answer`]) calls the same
//! layer in-process.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::State;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use corsgate_core::Policy;
use corsgate_tower::{CorsLayer, CorsOutcome};
use futures_util::FutureExt;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use tower_layer::Layer;
use tower_service::Service;

use crate::events::DecisionEvent;
use crate::state::Shared;

/// The demo upstream as a tower service (the body is read to report its size).
#[derive(Debug, Clone, Copy, Default)]
pub struct DemoUpstream;

impl<B> Service<Request<B>> for DemoUpstream
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
{
    type Response = http::Response<String>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (parts, body) = req.into_parts();
        Box::pin(async move {
            let received = body
                .collect()
                .await
                .map(|b| b.to_bytes().len())
                .unwrap_or(0);
            Ok(corsgate_gateway::demo::answer(
                &parts.method,
                parts.uri.path(),
                &parts.headers,
                received,
            ))
        })
    }
}

/// The live gateway's router: the layer in front of the demo upstream,
/// decisions recorded for the live view.
pub fn router(shared: Shared, layer: CorsLayer) -> Router {
    let service = layer.record_decisions(true).layer(DemoUpstream);
    Router::new()
        .fallback_service(service)
        .layer(axum::middleware::from_fn_with_state(shared, publish))
}

async fn publish(
    State(shared): State<Shared>,
    req: axum::extract::Request,
    next: Next,
) -> Response {
    let origin = req
        .headers()
        .get(http::header::ORIGIN)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    if let Some(o) = resp.extensions().get::<CorsOutcome>() {
        shared.events.publish(DecisionEvent::now(
            origin, method, path, o.allowed, &o.reason,
        ));
    }
    resp
}

/// What the live gateway answers to one request under `policy`, computed
/// in-process by the same layer and upstream: status, headers (with the
/// `Content-Length` the server adds to a body) and body.
pub fn gateway_answer(
    policy: &Policy,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> (StatusCode, HeaderMap, String) {
    let mut service = CorsLayer::new(policy.clone()).layer(DemoUpstream);
    let mut req = Request::new(String::new());
    *req.method_mut() = method.clone();
    *req.headers_mut() = headers.clone();
    if let Ok(uri) = path.parse() {
        *req.uri_mut() = uri;
    }
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    // The demo upstream never waits: ready at once, answered at once.
    let answered = match Service::<Request<String>>::poll_ready(&mut service, &mut cx) {
        Poll::Ready(Ok(())) => service.call(req).now_or_never(),
        _ => None,
    };
    match answered {
        Some(Ok(resp)) => {
            let (parts, body) = resp.into_parts();
            let mut map = parts.headers;
            if parts.status != StatusCode::NO_CONTENT {
                map.insert(http::header::CONTENT_LENGTH, body.len().into());
            }
            (parts.status, map, body)
        }
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            HeaderMap::new(),
            String::new(),
        ),
    }
}
