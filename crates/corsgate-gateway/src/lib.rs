//! # corsgate-gateway
//!
//! `corsgate serve`: a reverse proxy that enforces a corsgate CORS policy in
//! front of an HTTP API that knows nothing of CORS.
//!
//! The public API is small; the modules are private:
//!
//! * [`GatewayConfig`]: the TOML file (routes with per-route policies,
//!   limits, timeouts, admin listener, logging), read with
//!   [`GatewayConfig::from_file`] or [`GatewayConfig::from_toml`]; every
//!   problem a [`ConfigError`] with its line and column.
//! * [`start`] (tests, embedding) binds the listeners and returns a
//!   [`RunningGateway`] (its address, [`Metrics`], [`Reloader`], graceful
//!   [`RunningGateway::shutdown`]); [`serve`] runs until a future resolves.
//! * [`run_cli`] with [`ServeArgs`]: `serve --config FILE` / `serve --demo`,
//!   parsed by clap (the `corsgate serve` command and the `corsgate-gateway`
//!   binary).
//! * [`routing`]: how a request's route is chosen (what `corsgate test
//!   --config` runs to test the route a URL goes through).
//! * [`demo`]: the demo upstream and configuration of `serve --demo`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = corsgate_gateway::GatewayConfig::from_toml(
//!     r#"
//! listen = "127.0.0.1:0"
//! upstream = "http://127.0.0.1:3000"
//! [[routes]]
//! path = "/api/"
//! policy = { origins = ["https://app.example.com"], credentials = true }
//! "#,
//! )
//! .map_err(|errors| errors[0].to_string())?;
//! let gateway = corsgate_gateway::start(config).await?;
//! println!("listening on {}", gateway.local_addr());
//! gateway.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Inside (see ARCHITECTURE.md): `listener` accepts and drives connections
//! (HTTP/1.1 and h2c/h2 on one port, optional rustls TLS, limits, timers,
//! graceful drain); `proxy` handles one request (route, decide, answer
//! preflights here, forward the rest with the policy's CORS headers on every
//! response, 502/504 included) over `upstream`'s pools; `admin` serves
//! `/healthz` and Prometheus `/metrics`; `reload` re-reads the file on change
//! and SIGHUP; `fdlimit` sets the connection budget the open-file limit allows.
// Unsafe code only in `fdlimit` (getrlimit/setrlimit), which allows it.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod admin;
mod body;
mod cli;
mod config;
mod connection;
mod cors;
mod declog;
pub mod demo;
mod error;
mod fdlimit;
mod forward;
mod h1client;
mod listener;
mod logging;
mod metrics;
mod proxy;
mod reload;
mod routes;
mod runtime;
mod target;
mod tls;
mod tunnel;
mod upload;
mod upstream;
mod worker;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use cli::{run_cli, run_cli_with, ServeArgs};
pub use config::{ConfigError, ConfigErrorKind, GatewayConfig, Route};
pub use demo::{demo_config, start_demo_upstream, DemoGateway};
pub use fdlimit::raise_nofile;
pub use metrics::Metrics;
pub use reload::Reloader;
pub use runtime::Decided;

/// How the gateway chooses a request's route, for tools that must choose as
/// it does (`corsgate test --config`): the host as routes name it
/// (`host_name`), the path normalised (`normalise`; a path the gateway
/// refuses with 400 is an `Err`), then the first matching route, unless a
/// lenient application would read the path as another route's
/// (`find_unambiguous`).
///
/// ```
/// use corsgate_gateway::routing::{find_unambiguous, host_name, normalise};
/// let config = corsgate_gateway::GatewayConfig::from_toml(
///     "listen = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:3000\"\n\
///      [[routes]]\npath = \"/api/\"\npolicy = { origins = [\"https://a.example\"] }\n\
///      [[routes]]\npath = \"/\"\ncors = false\n",
/// )
/// .unwrap();
/// let host = host_name("API.example.com.:443");
/// assert_eq!(host, "api.example.com");
/// let path = normalise("/x/../api//me").unwrap();
/// assert_eq!(path, "/api/me");
/// let route = find_unambiguous(config.routes(), &host, &path).unwrap().unwrap();
/// assert_eq!(route.path(), "/api/");
/// // `/API/me` is `/api/me` to a case-insensitive application: refused,
/// // never served by the route of `/`.
/// assert!(find_unambiguous(config.routes(), &host, "/API/me").is_err());
/// assert!(normalise("/api%2Fadmin").is_err());
/// ```
pub mod routing {
    pub use crate::routes::{find_unambiguous, host_name};
    pub use crate::target::{normalise, Refusal};
}

/// Why the gateway could not start.
#[derive(Debug)]
pub enum GatewayError {
    /// A listener could not bind.
    Bind(SocketAddr, std::io::Error),
    /// The TLS certificate or key could not be loaded.
    Tls(String),
    /// The decision log (`[decision_log]`) could not be opened.
    DecisionLog(String),
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatewayError::Bind(a, e) => write!(f, "cannot listen on {a}: {e}"),
            GatewayError::Tls(e) => write!(f, "TLS: {e}"),
            GatewayError::DecisionLog(e) => write!(f, "decision log: {e}"),
        }
    }
}

impl std::error::Error for GatewayError {}

/// A gateway that is running; see [`start`].
pub struct RunningGateway {
    addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    shared: Arc<runtime::Shared>,
    reloader: Arc<Reloader>,
    draining: watch::Sender<bool>,
    stop: watch::Sender<bool>,
    proxy_task: JoinHandle<()>,
    other_tasks: Vec<JoinHandle<()>>,
}

impl RunningGateway {
    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    /// The admin listener's address.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }
    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }
    /// The reloader (re-read the file, or apply a configuration).
    pub fn reloader(&self) -> &Reloader {
        &self.reloader
    }
    /// Stops accepting, lets requests in flight finish (up to the drain
    /// timeout), then stops.
    pub async fn shutdown(self) {
        tracing::info!("shutting down: draining requests in flight");
        let _ = self.draining.send(true);
        let _ = self.proxy_task.await;
        let _ = self.stop.send(true);
        for t in self.other_tasks {
            let _ = t.await;
        }
        tracing::info!("stopped");
    }
}

/// Binds the listeners and starts serving in the background (port 0 binds
/// any free port; see [`RunningGateway::local_addr`]).
pub async fn start(config: GatewayConfig) -> Result<RunningGateway, GatewayError> {
    let tls = match &config.tls {
        Some(files) => Some(tls::acceptor(files).map_err(GatewayError::Tls)?),
        None => None,
    };
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| GatewayError::Bind(config.listen, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| GatewayError::Bind(config.listen, e))?;
    let admin = match config.admin {
        Some(a) => {
            let l = TcpListener::bind(a)
                .await
                .map_err(|e| GatewayError::Bind(a, e))?;
            let la = l.local_addr().map_err(|e| GatewayError::Bind(a, e))?;
            Some((l, la))
        }
        None => None,
    };
    let metrics = Arc::new(Metrics::default());
    let (draining, draining_rx) = watch::channel(false);
    let (stop, stop_rx) = watch::channel(false);
    let mut limits = config.limits.clone();
    limits.max_connections = fdlimit::clamp_max_connections(limits.max_connections);
    let timeouts = config.timeouts.clone();
    let poll = config.reload_poll;
    let source = config.source.clone();
    let decision_log = match &config.decision_log {
        None => None,
        Some(c) => Some(declog::DecisionLog::open(c, metrics.clone()).map_err(|e| {
            GatewayError::DecisionLog(match &c.destination {
                config::Destination::File(p) => format!("cannot open {}: {e}", p.display()),
                _ => e.to_string(),
            })
        })?),
    };
    let shared = Arc::new(runtime::Shared {
        runtime: ArcSwap::from_pointee(runtime::Runtime::new(config)),
        metrics: metrics.clone(),
        decisions: std::sync::OnceLock::new(),
        decision_log,
    });
    let reloader = Arc::new(Reloader::new(shared.clone(), source.clone()));
    let mut other_tasks = Vec::new();
    let admin_addr = admin.as_ref().map(|(_, a)| *a);
    if let Some((l, _)) = admin {
        other_tasks.push(tokio::spawn(admin::run(
            l,
            metrics.clone(),
            draining_rx.clone(),
            stop_rx.clone(),
        )));
    }
    other_tasks.push(tokio::spawn(logging::report_suppressed(stop_rx.clone())));
    if source.is_some() {
        other_tasks.push(tokio::spawn(reload::watch(
            reloader.clone(),
            poll,
            stop_rx.clone(),
        )));
    }
    let proxy_task = tokio::spawn(listener::run(
        listener,
        tls,
        shared.clone(),
        limits,
        timeouts,
        draining_rx,
    ));
    tracing::info!(listen = %addr, admin = ?admin_addr, "corsgate gateway listening");
    Ok(RunningGateway {
        addr,
        admin_addr,
        shared,
        reloader,
        draining,
        stop,
        proxy_task,
        other_tasks,
    })
}

/// Serves until `shutdown` resolves, then drains requests in flight.
pub async fn serve(
    config: GatewayConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), GatewayError> {
    let running = start(config).await?;
    shutdown.await;
    running.shutdown().await;
    Ok(())
}
