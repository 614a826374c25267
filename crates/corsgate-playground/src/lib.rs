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
//! One demo: the upstream is `corsgate_gateway::demo::answer` and the policy
//! `corsgate_gateway::demo::demo_policy`, the same as `corsgate serve --demo`'s.
//! The page edits the policy of the gateway the user started: with [`start`]
//! (`corsgate playground`) its own live gateway, shipped code
//! (`corsgate_tower::CorsLayer` in front of the demo upstream); with
//! [`start_page`] (`corsgate serve --demo`) the gateway `serve` started. Page
//! and gateway are on two origins, so the page's requests to the gateway are
//! real cross-origin requests.

pub mod assets;
pub mod evaluate;
pub mod events;
pub mod gateway;
pub mod page;
pub mod policy;
pub mod state;

use std::net::SocketAddr;

use corsgate_core::Policy;
use corsgate_gateway::demo::demo_policy;
use corsgate_gateway::DemoGateway;
use corsgate_tower::CorsLayer;
use tokio::net::TcpListener;

use crate::policy::telling;
use crate::state::{Live, Shared, Target};

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

fn invalid(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
}

/// Binds the page and the playground's own live gateway (port 0 picks a free
/// port), then serves until the process ends.
pub async fn start(page_addr: SocketAddr, gateway_addr: SocketAddr) -> std::io::Result<Running> {
    let page = TcpListener::bind(page_addr).await?;
    let gateway = TcpListener::bind(gateway_addr).await?;
    let page_origin = format!("http://{}", page.local_addr()?);
    let gateway_origin = format!("http://{}", gateway.local_addr()?);
    let text = demo_policy(&page_origin);
    let policy = telling(Policy::from_toml(&text).map_err(invalid)?);
    let layer = CorsLayer::new(policy.clone());
    let shared = Shared::new(
        Live {
            text,
            policy: policy.into(),
        },
        Target::Tower(layer.handle()),
        page_origin.clone(),
        gateway_origin.clone(),
    );
    let page_app = page::router(shared.clone());
    let gateway_app = gateway::router(shared.clone(), layer);
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

/// Binds the page alone, editing the `/api/` policy of the gateway
/// `corsgate serve --demo` started (made to allow the page's origin first).
pub async fn start_page(page_addr: SocketAddr, demo: DemoGateway) -> std::io::Result<Running> {
    let page = TcpListener::bind(page_addr).await?;
    let page_origin = format!("http://{}", page.local_addr()?);
    let gateway_origin = demo.origin();
    let text = demo_policy(&page_origin);
    let policy = telling(Policy::from_toml(&text).map_err(invalid)?);
    // The demo configuration allows the usual page origin already.
    if page_origin != corsgate_gateway::demo::DEMO_PAGE_ORIGIN {
        demo.set_api_policy(&text).map_err(|errors| {
            invalid(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
    }
    let shared = Shared::new(
        Live {
            text,
            policy: policy.into(),
        },
        Target::Gateway(demo),
        page_origin.clone(),
        gateway_origin.clone(),
    );
    let page_app = page::router(shared.clone());
    tokio::spawn(async move {
        let _ = axum::serve(page, page_app).await;
    });
    Ok(Running {
        page_origin,
        gateway_origin,
        shared,
    })
}
