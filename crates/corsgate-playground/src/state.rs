//! State shared by the page server and the live gateway: the current policy
//! (swapped whole when the page applies a new one), the gateway it is applied
//! to, and the event channel.

use std::sync::{Arc, RwLock};

use corsgate_core::Policy;
use corsgate_gateway::DemoGateway;
use corsgate_tower::CorsHandle;

use crate::events::Events;
use crate::policy::{problems, telling, PolicyProblem};

/// The live policy, with the text it came from.
#[derive(Debug)]
pub struct Live {
    /// The TOML text.
    pub text: String,
    /// The validated policy.
    pub policy: Arc<Policy>,
}

/// The gateway the page edits: the one the user started.
#[derive(Debug, Clone)]
pub enum Target {
    /// `corsgate playground`: its own gateway, `corsgate_tower::CorsLayer`
    /// in front of the demo upstream.
    Tower(CorsHandle),
    /// `corsgate serve --demo`: the gateway it started, whose `/api/`
    /// route's policy the page edits.
    Gateway(DemoGateway),
}

/// Shared state.
#[derive(Debug, Clone)]
pub struct Shared {
    live: Arc<RwLock<Arc<Live>>>,
    target: Target,
    /// Decisions, for the live view.
    pub events: Events,
    /// `http://127.0.0.1:PORT` of the page.
    pub page_origin: String,
    /// `http://127.0.0.1:PORT` of the gateway.
    pub gateway_origin: String,
}

impl Shared {
    /// New state.
    pub fn new(live: Live, target: Target, page_origin: String, gateway_origin: String) -> Self {
        Shared {
            live: Arc::new(RwLock::new(Arc::new(live))),
            target,
            events: Events::default(),
            page_origin,
            gateway_origin,
        }
    }
    /// The current policy.
    pub fn live(&self) -> Arc<Live> {
        match self.live.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
    /// Whether the live view has decisions to show (the playground's own
    /// gateway publishes them; the gateway of `serve --demo` logs them).
    pub fn streams_decisions(&self) -> bool {
        matches!(self.target, Target::Tower(_))
    }
    /// Validates `text` and applies it to the gateway; on failure nothing
    /// changes and the problems say why.
    pub fn apply(&self, text: String) -> Result<(), Vec<PolicyProblem>> {
        let policy = telling(Policy::from_toml(&text).map_err(|e| problems(&e))?);
        match &self.target {
            Target::Tower(handle) => handle.set_policy(policy.clone()),
            Target::Gateway(gateway) => gateway.set_api_policy(&text).map_err(|errors| {
                errors
                    .iter()
                    .map(|e| PolicyProblem {
                        message: e.message(),
                        line: None,
                        column: None,
                    })
                    .collect::<Vec<_>>()
            })?,
        }
        let mut g = match self.live.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *g = Arc::new(Live {
            text,
            policy: policy.into(),
        });
        Ok(())
    }
}
