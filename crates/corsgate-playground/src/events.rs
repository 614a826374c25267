//! The live gateway's recent decisions, broadcast to the page as server-sent events.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::broadcast;

/// One decision of the live gateway.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionEvent {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
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

impl DecisionEvent {
    /// An event stamped now.
    pub fn now(
        origin: Option<String>,
        method: String,
        path: String,
        allowed: bool,
        reason: &corsgate_core::Reason,
    ) -> Self {
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        DecisionEvent {
            time_ms,
            origin,
            method,
            path,
            allowed,
            code: reason.code(),
            reason: reason.to_string(),
        }
    }
}

/// The broadcast channel; slow listeners miss old events rather than slow the gateway.
#[derive(Debug, Clone)]
pub struct Events {
    tx: broadcast::Sender<DecisionEvent>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            tx: broadcast::channel(256).0,
        }
    }
}

impl Events {
    /// Publishes an event (dropped when nobody listens).
    pub fn publish(&self, e: DecisionEvent) {
        let _ = self.tx.send(e);
    }
    /// A new listener.
    pub fn subscribe(&self) -> broadcast::Receiver<DecisionEvent> {
        self.tx.subscribe()
    }
}
