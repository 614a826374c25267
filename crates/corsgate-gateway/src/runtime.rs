//! The gateway's state: what a reload swaps atomically (the configuration
//! and the upstream connection pools built for it) and what every
//! connection shares (that swappable runtime, the metrics, and the stream of
//! decisions a watcher asked for).

use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;

use crate::config::{GatewayConfig, Route};
use crate::metrics::Metrics;
use crate::upstream::Pool;

/// What a reload swaps atomically: the configuration and the upstream
/// connection pools built for it.
pub(crate) struct Runtime {
    /// The configuration in force.
    pub config: GatewayConfig,
    /// One connection pool per distinct upstream (authority and protocol).
    pools: Vec<Pool>,
    /// Whether any route is host-specific.
    pub(crate) host_routes: bool,
    /// The index in `pools` of each route's pool, in the order of
    /// `config.routes` (no authority comparison per request).
    route_pools: Vec<usize>,
}

impl Runtime {
    /// Builds the upstream connection pools for a configuration.
    pub(crate) fn new(config: GatewayConfig) -> Runtime {
        let mut pools: Vec<Pool> = Vec::new();
        for r in &config.routes {
            let up = &r.upstream;
            if !pools.iter().any(|p| p.serves(&up.authority, up.protocol)) {
                pools.push(Pool::new(
                    up.authority.clone(),
                    up.protocol,
                    config.timeouts.upstream_connect,
                    config.timeouts.idle,
                    config.timeouts.upstream_read,
                    config.timeouts.upstream_quarantine,
                    config.limits.upstream_idle_per_host,
                ));
            }
        }
        let host_routes = config.routes.iter().any(|r| r.host.is_some());
        let route_pools = config
            .routes
            .iter()
            .map(|r| {
                let up = &r.upstream;
                pools
                    .iter()
                    .position(|p| p.serves(&up.authority, up.protocol))
                    .unwrap_or(usize::MAX)
            })
            .collect();
        Runtime {
            config,
            pools,
            host_routes,
            route_pools,
        }
    }

    /// The pool of a route of this runtime's configuration.
    pub(crate) fn pool(&self, route: &Route) -> Option<&Pool> {
        let i = self
            .config
            .routes
            .iter()
            .position(|r| std::ptr::eq(r, route))?;
        self.pools.get(*self.route_pools.get(i)?)
    }
}

/// State shared by every connection.
pub(crate) struct Shared {
    /// The swappable runtime.
    pub runtime: ArcSwap<Runtime>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Every CORS decision, once a watcher subscribed (the playground page of
    /// `serve --demo`, [`crate::DemoGateway::decisions`]); unset, it costs
    /// a request one load.
    pub decisions: OnceLock<tokio::sync::broadcast::Sender<Decided>>,
    /// The decision log (`[decision_log]`), if on; opened at start (a
    /// reload that changes it needs a restart).
    pub decision_log: Option<crate::declog::DecisionLog>,
}

/// One CORS decision of the gateway, for a watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// The `Origin` header, if any.
    pub origin: Option<String>,
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// Whether the policy allowed it.
    pub allowed: bool,
    /// The decision's reason code.
    pub code: &'static str,
    /// The decision's reason, for a person.
    pub reason: String,
}
