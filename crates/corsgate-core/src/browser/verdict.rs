//! Verdicts: the outcome of a cross-origin fetch as the browser model saw it,
//! with the trace of every step, ready to print or to serialize.

use std::fmt;

use serde::Serialize;

use crate::browser::profile::Profile;
use crate::browser::refusal::{Refusal, Stage};
use crate::browser::remedy::{Remedy, RemedyContext};

/// One step of the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// What happened.
    pub kind: StepKind,
    /// Whether it went well.
    pub ok: bool,
    /// One line for a person.
    pub message: String,
}

/// The kinds of steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// The request was classified (same-origin, simple, needs a preflight).
    Classify,
    /// A preflight was found in the cache.
    CacheHit,
    /// A preflight was sent.
    PreflightSent,
    /// The preflight response was checked.
    PreflightChecked,
    /// The request itself was sent.
    RequestSent,
    /// The CORS check on a response.
    CorsCheck,
    /// A redirect was followed.
    Redirect,
    /// Which headers script can read.
    Exposure,
    /// A note: dropped headers, browser-specific behaviour.
    Note,
}

/// A refusal, rendered for machines: a stable code, the message, the fix, and
/// the browsers' own names for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusalReport {
    /// Stable code, e.g. `allow_origin_mismatch`.
    pub code: &'static str,
    /// The full explanation.
    pub message: String,
    /// The fix, one sentence.
    pub fix: String,
    /// Which response it concerns.
    pub stage: Stage,
    /// The response header concerned.
    pub header: Option<&'static str>,
    /// Chromium's `CorsError`.
    pub chromium: Option<&'static str>,
    /// Firefox's console key.
    pub firefox: Option<&'static str>,
    /// Whether this is a CORS failure rather than a network error.
    pub is_cors: bool,
    /// When the outcome depends on the browser.
    pub browser_note: Option<&'static str>,
    /// The structured fix: which response, which headers, which status.
    pub remedy: Remedy,
    /// The structured refusal.
    pub details: Refusal,
}

impl RefusalReport {
    /// A report whose remedy knows the request at the point it failed.
    pub fn with_context(r: &Refusal, ctx: &RemedyContext) -> Self {
        let remedy = r.remedy(ctx);
        RefusalReport {
            code: r.code(),
            message: r.to_string(),
            // The remedy's sentence: it says so when only the client can fix it.
            fix: remedy.sentence.clone(),
            stage: r.stage(),
            header: r.header(),
            chromium: r.chromium_error(),
            firefox: r.firefox_error(),
            is_cors: r.is_cors(),
            browser_note: r.browser_specific_note(),
            remedy,
            details: r.clone(),
        }
    }
}

impl From<&Refusal> for RefusalReport {
    /// A report whose remedy knows only the refusal (no URL or request context).
    fn from(r: &Refusal) -> Self {
        RefusalReport::with_context(r, &RemedyContext::default())
    }
}

/// The outcome of one fetch in the browser model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The profile that judged.
    pub profile: Profile,
    /// Whether script can read the response.
    pub allowed: bool,
    /// Whether a preflight was sent (to the network, not served from cache).
    pub preflight: bool,
    /// How many preflights were sent.
    pub preflights: usize,
    /// How many redirects were followed.
    pub redirects: usize,
    /// The last URL.
    pub final_url: String,
    /// The final response's status, when one was received and allowed.
    pub status: Option<u16>,
    /// Response header names script can read (lower case, safelisted ones included).
    pub exposed_headers: Vec<String>,
    /// Why not, when refused.
    pub reason: Option<RefusalReport>,
    /// The trace.
    pub steps: Vec<Step>,
}

impl Verdict {
    /// The refusal, if any.
    pub fn refusal(&self) -> Option<&Refusal> {
        self.reason.as_ref().map(|r| &r.details)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            writeln!(f, "  {} {}", if s.ok { "✓" } else { "✗" }, s.message)?;
        }
        match &self.reason {
            None => write!(
                f,
                "ALLOWED ({}): script can read the response{}",
                self.profile,
                if self.exposed_headers.is_empty() {
                    String::new()
                } else {
                    format!("; readable headers: {}", self.exposed_headers.join(", "))
                }
            ),
            Some(r) => {
                write!(f, "BLOCKED ({}): {}", self.profile, r.message)?;
                if let Some(n) = r.browser_note {
                    write!(f, "\n  note: {n}")?;
                }
                Ok(())
            }
        }
    }
}
