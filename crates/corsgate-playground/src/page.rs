//! The page server: the embedded page, the engine's JSON endpoint, policy
//! updates for the live gateway, and its decisions as server-sent events.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

use crate::assets;
use crate::evaluate::{evaluate, EvalRequest, EvalResponse, PolicyProblem};
use crate::state::Shared;

/// The page's router.
pub fn router(shared: Shared) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", assets::INDEX_HTML) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", assets::APP_JS) }),
        )
        .route(
            "/style.css",
            get(|| async { asset("text/css; charset=utf-8", assets::STYLE_CSS) }),
        )
        .route("/api/config", get(config))
        .route("/api/evaluate", post(eval))
        .route("/api/policy", put(apply))
        .route("/api/events", get(events))
        .with_state(shared)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

#[derive(Serialize)]
struct ConfigOut {
    page_origin: String,
    gateway_origin: String,
    policy: String,
    /// Whether `/api/events` streams the gateway's decisions.
    live_decisions: bool,
}

async fn config(State(s): State<Shared>) -> Json<ConfigOut> {
    Json(ConfigOut {
        page_origin: s.page_origin.clone(),
        gateway_origin: s.gateway_origin.clone(),
        policy: s.live().text.clone(),
        live_decisions: s.streams_decisions(),
    })
}

async fn eval(State(s): State<Shared>, Json(req): Json<EvalRequest>) -> Json<EvalResponse> {
    Json(evaluate(&req, &s.gateway_origin))
}

#[derive(Deserialize)]
struct PolicyIn {
    policy: String,
}

#[derive(Serialize)]
struct PolicyOut {
    errors: Vec<PolicyProblem>,
}

async fn apply(State(s): State<Shared>, Json(p): Json<PolicyIn>) -> (StatusCode, Json<PolicyOut>) {
    match s.apply(p.policy) {
        Ok(()) => (StatusCode::OK, Json(PolicyOut { errors: Vec::new() })),
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, Json(PolicyOut { errors })),
    }
}

async fn events(State(s): State<Shared>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = BroadcastStream::new(s.events.subscribe()).filter_map(|e| {
        let e = e.ok()?;
        let json = serde_json::to_string(&e).ok()?;
        Some(Ok(Event::default().data(json)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
