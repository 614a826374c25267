//! State shared by the page server and the demo gateway: the current policy
//! (swapped whole when the page applies a new one) and the event channel.

use std::sync::{Arc, RwLock};

use corsgate_core::Policy;

use crate::events::Events;

/// The live policy, with the text it came from.
#[derive(Debug)]
pub struct Live {
    /// The TOML text.
    pub text: String,
    /// The validated policy.
    pub policy: Arc<Policy>,
}

/// Shared state.
#[derive(Debug, Clone)]
pub struct Shared {
    live: Arc<RwLock<Arc<Live>>>,
    /// Decisions, for the live view.
    pub events: Events,
    /// `http://127.0.0.1:PORT` of the page.
    pub page_origin: String,
    /// `http://127.0.0.1:PORT` of the gateway.
    pub gateway_origin: String,
}

impl Shared {
    /// New state.
    pub fn new(live: Live, page_origin: String, gateway_origin: String) -> Self {
        Shared {
            live: Arc::new(RwLock::new(Arc::new(live))),
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
    /// Replaces the policy.
    pub fn swap(&self, live: Live) {
        let mut g = match self.live.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *g = Arc::new(live);
    }
}
