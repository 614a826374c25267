//! The gateway's CORS step: a thin adapter over the project's server-role
//! engine, [`corsgate_core::Policy::decide`] — the same decision code the
//! `corsgate-tower` layer runs.
//!
//! The proxy only talks to this module. What the gateway adds on top of the
//! engine: the upstream's own `Access-Control-*` headers are always removed
//! before the policy's are written (so a denied origin never inherits an
//! upstream `Access-Control-Allow-Origin: *`, and no header is ever doubled),
//! and, when the route's policy sets `reason_header = true`, the policy's own
//! reason on every refusal (`corsgate-reason`, `corsgate-policy-edit`; see
//! [`corsgate_core::policy_reason`], off by default because it
//! reveals the policy to whoever asks).

use corsgate_core::decision::{Action, Decision, ParsedRequest};
use corsgate_core::policy_reason::PolicyReason;
use corsgate_core::shadow::Disagreement;
use corsgate_core::{Policy, RequestKind};
use http::header::HeaderName;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

/// A validated policy for one route, and the candidate judged beside it
/// (shadow mode), if any.
#[derive(Debug, Clone)]
pub(crate) struct RoutePolicy {
    policy: Policy,
    shadow: Option<Policy>,
}

/// What kind of request it was.
pub(crate) type Kind = RequestKind;

/// A label for metrics and logs.
pub(crate) fn kind_label(kind: Kind) -> &'static str {
    match kind {
        RequestKind::NotCors => "not_cors",
        RequestKind::Preflight => "preflight",
        RequestKind::Actual => "actual",
    }
}

/// The decision for one request.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    decision: Decision,
    /// The policy's reason, for a refusal when the policy turns it on.
    reason: Option<Box<PolicyReason>>,
    /// How the shadow candidate would have decided otherwise, if it would.
    disagreement: Option<Disagreement>,
}

impl Verdict {
    /// What kind of request it was.
    pub(crate) fn kind(&self) -> Kind {
        self.decision.kind()
    }
    /// `Some(status)` when the gateway answers the request itself.
    pub(crate) fn respond(&self) -> Option<StatusCode> {
        match self.decision.action() {
            Action::PassOn => None,
            Action::Respond(s) => Some(s),
        }
    }
    /// Whether the policy allows it.
    pub(crate) fn allowed(&self) -> bool {
        self.decision.allowed()
    }
    /// How the route's shadow candidate disagrees, if it does.
    pub(crate) fn disagreement(&self) -> Option<&Disagreement> {
        self.disagreement.as_ref()
    }
    /// A stable reason code.
    pub(crate) fn reason_code(&self) -> &'static str {
        self.decision.reason().code()
    }
    /// A sentence for the log.
    pub(crate) fn reason_text(&self) -> String {
        self.decision.reason().to_string()
    }
    /// The CORS headers this verdict sets (`Vary` excluded).
    pub(crate) fn cors_headers(&self) -> impl Iterator<Item = (HeaderName, &HeaderValue)> {
        self.decision
            .headers()
            .iter()
            .filter(|(n, _)| is_cors_response_header(n))
    }
    /// Writes the verdict's headers into a response's header map: CORS
    /// headers replace any already there; `Vary` gains the names it lacks.
    pub(crate) fn apply_to(self, map: &mut HeaderMap) {
        self.decision.into_headers().apply_to(map);
        if let Some(r) = self.reason {
            r.apply_to(map);
        }
    }
}

impl RoutePolicy {
    /// A route's validated policy.
    pub(crate) fn new(policy: Policy) -> RoutePolicy {
        RoutePolicy {
            policy,
            shadow: None,
        }
    }

    /// The same with a candidate judged in shadow.
    pub(crate) fn with_shadow(mut self, candidate: Option<Policy>) -> RoutePolicy {
        self.shadow = candidate;
        self
    }

    /// The candidate judged in shadow, if any.
    pub(crate) fn shadow(&self) -> Option<&Policy> {
        self.shadow.as_ref()
    }

    /// Enforces the candidate instead of the policy; false when there is none.
    pub(crate) fn promote(&mut self) -> bool {
        match self.shadow.take() {
            Some(candidate) => {
                self.policy = candidate;
                true
            }
            None => false,
        }
    }

    /// The engine's policy.
    pub(crate) fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Decides what to do with a request.
    pub(crate) fn decide(&self, method: &Method, headers: &HeaderMap) -> Verdict {
        // The request is read once; the candidate and the policy both
        // decide on that reading.
        let request = ParsedRequest::new(method, headers);
        let shadow = self
            .shadow
            .as_ref()
            .map(|c| c.decide_shadow_parsed(&request));
        let decision = self.policy.decide_parsed(&request, self.policy.debug());
        let reason = if !decision.allowed() && self.policy.reason_header() {
            PolicyReason::of(&self.policy, method, headers).map(Box::new)
        } else {
            None
        };
        let disagreement = shadow.and_then(|s| s.compare(&decision));
        Verdict {
            decision,
            reason,
            disagreement,
        }
    }
}

/// Whether a response header is a CORS response header the policy owns
/// (upstream copies are removed): the engine's one definition, the same as
/// the tower layer's.
pub(crate) use corsgate_core::is_cors_response_header;
