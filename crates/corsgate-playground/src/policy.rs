//! The edited policy: its problems located in the page's text, and the
//! policy the playground's gateways run (the policy's reason always on).

use corsgate_core::{Policy, PolicyErrors};
use serde::Serialize;

/// A policy problem, located in the TOML text when possible.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PolicyProblem {
    /// What is wrong and how to fix it.
    pub message: String,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
}

/// Turns policy errors into located problems.
pub fn problems(errors: &PolicyErrors) -> Vec<PolicyProblem> {
    errors
        .located()
        .map(|(e, loc)| PolicyProblem {
            message: e.to_string(),
            line: loc.map(|l| l.0),
            column: loc.map(|l| l.1),
        })
        .collect()
}

/// `policy` with `reason_header` on: the playground's gateways tell the
/// policy's reason on every refusal.
pub fn telling(policy: Policy) -> Policy {
    if policy.reason_header() {
        return policy;
    }
    let mut config = policy.config().clone();
    config.reason_header = true;
    config.build().unwrap_or(policy)
}
