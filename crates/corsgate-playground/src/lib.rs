//! # corsgate-playground
//!
//! A web page that shows the CORS flow: edit a policy, build a request, see
//! the engine's verdict drawn as the flow (preflight, checks, actual request,
//! readable headers, explanation and fix), then run the same request for real
//! in the browser against a demo gateway on another origin, and watch the
//! gateway's decisions live.
//!
//! The engine runs on the server behind `POST /api/evaluate` rather than in
//! the page as WebAssembly: the page then needs no build step and no wasm
//! toolchain, and the prediction comes from exactly the code the gateway runs.
//!
//! Two listeners: the page (`/`, `/api/*`) on one origin and the demo
//! gateway (a JSON API behind `Policy::decide`) on another, so the page's
//! requests to the gateway are real cross-origin requests.

pub mod assets;
pub mod evaluate;
pub mod events;
pub mod gateway;
pub mod page;
pub mod state;
pub mod upstream;

use std::net::SocketAddr;

use corsgate_core::Policy;
use tokio::net::TcpListener;

use crate::state::{Live, Shared};

/// The default policy for a page served at `page_origin`.
pub fn demo_policy(page_origin: &str) -> String {
    format!(
        r#"# Who may read the demo API from a browser. Edit me, then "Apply".
origins = ["{page_origin}"]
methods = ["PUT", "DELETE"]
request_headers = ["content-type", "x-request-id"]
expose_headers = ["x-total-count"]
credentials = true
max_age = 0      # no preflight caching, so every change shows at once
"#
    )
}

/// A running playground.
#[derive(Debug)]
pub struct Running {
    /// The page's origin.
    pub page_origin: String,
    /// The gateway's origin.
    pub gateway_origin: String,
    /// The shared state.
    pub shared: Shared,
}

/// Binds both listeners (port 0 picks a free port), then serves until the process ends.
pub async fn start(page_addr: SocketAddr, gateway_addr: SocketAddr) -> std::io::Result<Running> {
    let page = TcpListener::bind(page_addr).await?;
    let gateway = TcpListener::bind(gateway_addr).await?;
    let page_origin = format!("http://{}", page.local_addr()?);
    let gateway_origin = format!("http://{}", gateway.local_addr()?);
    let text = demo_policy(&page_origin);
    let policy = Policy::from_toml(&text)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let shared = Shared::new(
        Live {
            text,
            policy: policy.into(),
        },
        page_origin.clone(),
        gateway_origin.clone(),
    );
    let page_app = page::router(shared.clone());
    let gateway_app = gateway::router(shared.clone());
    tokio::spawn(async move {
        let _ = axum::serve(page, page_app).await;
    });
    tokio::spawn(async move {
        let _ = axum::serve(gateway, gateway_app).await;
    });
    Ok(Running {
        page_origin,
        gateway_origin,
        shared,
    })
}
