//! The demo gateway: every request goes through `Policy::decide` in front of
//! the demo upstream, and every decision is published for the live view.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::Router;

use crate::evaluate::gateway_answer;
use crate::events::DecisionEvent;
use crate::state::Shared;

/// The gateway's router: one handler for everything.
pub fn router(shared: Shared) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

async fn handle(State(shared): State<Shared>, req: axum::extract::Request) -> Response {
    let live = shared.live();
    let path = req.uri().path().to_owned();
    let (status, headers, body, decision) =
        gateway_answer(&live.policy, req.method(), &path, req.headers());
    let origin = req
        .headers()
        .get(http::header::ORIGIN)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    shared.events.publish(DecisionEvent::now(
        origin,
        req.method().to_string(),
        path,
        &decision,
    ));
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}
