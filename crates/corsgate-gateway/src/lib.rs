//! # corsgate-gateway
//!
//! `corsgate serve`: a reverse proxy that enforces a corsgate CORS policy in
//! front of an HTTP API that knows nothing of CORS.
//!
//! * [`config`]: the TOML file (routes with per-route policies, limits,
//!   timeouts, admin listener, logging), errors with line and column.
//! * [`proxy`]: route, decide, answer preflights here, forward the rest with
//!   the policy's CORS headers on every response (502/504 included).
//! * [`listener`]: HTTP/1.1 and h2c/h2 on one port, optional rustls TLS,
//!   limits, idle timeout, graceful drain.
//! * [`admin`]: `/healthz` and Prometheus `/metrics`.
//! * [`fdlimit`]: the open-file limit and the connection budget it allows.
//! * [`upload`]: the request body on its way upstream (read timeout,
//!   progress for the upstream response deadline).
//! * [`reload`]: hot reload on file change and SIGHUP.
//! * [`demo`]: `serve --demo`.
//!
//! Entry points: [`start`] (tests, embedding), [`serve`] (runs until a
//! future resolves), [`run_cli`] with [`ServeArgs`] (`serve --config FILE` / `serve --demo`, parsed by clap).
// Unsafe code only in `fdlimit` (getrlimit/setrlimit), which allows it.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod body;
pub mod cli;
pub mod config;
pub mod connection;
pub mod cors;
pub mod demo;
mod error;
pub mod fdlimit;
pub mod forward;
pub mod h1client;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod proxy;
pub mod reload;
pub mod routes;
pub mod runtime;
pub mod target;
pub mod tls;
pub mod tunnel;
pub mod upload;
pub mod upstream;
mod worker;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use cli::{run_cli, ServeArgs};
pub use config::{ConfigError, GatewayConfig};
pub use demo::{demo_config, start_demo_upstream};
pub use metrics::Metrics;
pub use reload::Reloader;

/// Why the gateway could not start.
#[derive(Debug)]
pub enum GatewayError {
    /// A listener could not bind.
    Bind(SocketAddr, std::io::Error),
    /// The TLS certificate or key could not be loaded.
    Tls(String),
    /// The configuration is invalid.
    Config(Vec<ConfigError>),
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatewayError::Bind(a, e) => write!(f, "cannot listen on {a}: {e}"),
            GatewayError::Tls(e) => write!(f, "TLS: {e}"),
            GatewayError::Config(errors) => {
                for (i, e) in errors.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
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
    let shared = Arc::new(runtime::Shared {
        runtime: ArcSwap::from_pointee(runtime::Runtime::new(config)),
        metrics: metrics.clone(),
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
