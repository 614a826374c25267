//! What `corsgate check` reports, as `--json` writes it: the types shared by
//! `check`, `explain`, `har` and the modules that compute their parts (hints,
//! fixes, snippets) and print them (render). A leaf below all of them: it
//! names no other module of the crate.

use corsgate_core::policy_reason::PolicyReason;
use corsgate_core::remedy::Remedy;
use corsgate_core::Stage;
use serde::Serialize;

/// What the user asked for, normalized.
#[derive(Debug, Clone, Serialize)]
pub struct Asked {
    /// The page's origin, serialized as the browser sends it.
    pub origin: String,
    /// The URL.
    pub url: String,
    /// The method.
    pub method: String,
    /// The author headers, as `Name: value`.
    pub headers: Vec<String>,
    /// The credentials mode.
    pub credentials: &'static str,
    /// The browser profile.
    pub browser: &'static str,
    /// The `--origin` argument when it was not a bare origin (a path or trailing slash was dropped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_argument: Option<String>,
}

/// One request sent and the answer received.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    /// `preflight` or `actual`.
    pub stage: Stage,
    /// The method.
    pub method: String,
    /// The URL.
    pub url: String,
    /// The request's header lines.
    pub request_headers: Vec<(String, String)>,
    /// The response's status.
    pub status: u16,
    /// The response's header lines.
    pub response_headers: Vec<(String, String)>,
    /// The response, for the engine.
    #[serde(skip)]
    pub response: corsgate_core::Response,
}

/// The reason for a refusal, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Reason {
    /// Stable code, e.g. `allow_origin_mismatch`.
    pub code: &'static str,
    /// The explanation.
    pub message: String,
    /// The structured fix.
    pub fix: Fix,
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
    /// The structured refusal.
    pub details: corsgate_core::Refusal,
}

/// The outcome of `corsgate check`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Whether script could read the response.
    pub allowed: bool,
    /// Whether a preflight was needed and sent.
    pub preflight: bool,
    /// How many preflights were sent (a redirect can need a second one).
    pub preflights: usize,
    /// Lower-case names of the response headers script can read.
    pub exposed_headers: Vec<String>,
    /// Why not (null when allowed).
    pub reason: Option<Reason>,
    /// When the server is corsgate (gateway, tower layer, playground) with
    /// `reason_header` on: its policy's own reason for the refusal
    /// (`corsgate-reason`) and the TOML edit that allows the request
    /// (`corsgate-policy-edit`), read from the refusing answer.
    pub policy_reason: Option<PolicyReason>,
    /// The engine's trace.
    pub steps: Vec<corsgate_core::Step>,
    /// Root causes and warnings beyond the first failed check.
    pub hints: Vec<Hint>,
    /// Every fix to apply, in order, until the request would pass (in corsgate's model).
    pub fixes: Vec<Fix>,
    /// Whether the request passes in the model once every fix is applied,
    /// every answer on the way seen (false when a fix is on the client side,
    /// the plan gave up, or an answer was never received).
    pub fixes_complete: bool,
    /// Whether the plan needed an answer corsgate never received (the browser
    /// stopped before sending that request, and its method is not safe to
    /// send): the list stops before the first fix for it (nothing is
    /// assumed); apply these, then run the same `check` again.
    pub fixes_partial: bool,
    /// The answers the plan needed and never saw.
    pub unobserved: Vec<Unobserved>,
    /// Requests `check` sent beyond the browser's own to learn an answer the
    /// plan needed (safe methods only: the GET a failed preflight stopped,
    /// to see whether the URL redirects), with their answers.
    pub learned: Vec<Exchange>,
    /// Server-side alternatives to a client-side last fix, where one exists
    /// (a redirect that taints the origin to `null`, kept on its own origin
    /// instead); each changes the URL the request ends on, so run `check`
    /// again once it is in place.
    pub fix_alternatives: Vec<Fix>,
    /// The server software, when its headers tell.
    pub server: ServerKind,
    /// A ready configuration for that server, allowing exactly this request.
    pub snippet: Option<String>,
    /// How many redirects were followed.
    pub redirects: usize,
    /// The final URL.
    pub final_url: String,
    /// The final status, when allowed.
    pub status: Option<u16>,
    /// What was asked.
    pub request: Asked,
    /// The requests sent and the answers received.
    pub exchanges: Vec<Exchange>,
}

/// One hint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hint {
    /// Stable code, e.g. `preflight_auth_before_cors`.
    pub code: &'static str,
    /// For a person.
    pub message: String,
}

/// A snippet for one server kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snippet {
    /// The server kind it is written for.
    pub server: ServerKind,
    /// The configuration text.
    pub text: String,
}

/// One fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// The engine's structured remedy.
    #[serde(flatten)]
    pub remedy: Remedy,
    /// Always false: a fix for a response corsgate never received is not
    /// listed (see [`Planned::unobserved`]); kept for readers of `--json`.
    pub assumed: bool,
    /// The change for the likely server, when it can be told.
    pub snippet: Option<Snippet>,
}

/// An answer the plan needed but corsgate never received (the browser would
/// not have sent that request yet, and it was not safe to send it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unobserved {
    /// Which response.
    pub stage: Stage,
    /// The request's method.
    pub method: String,
    /// Its URL.
    pub url: String,
}

/// The server software, as far as its headers tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerKind {
    /// nginx or OpenResty.
    Nginx,
    /// Apache httpd.
    Apache,
    /// Node.js Express.
    Express,
    /// Not told: snippets are a corsgate policy.
    Unknown,
}

impl ServerKind {
    /// The name for people.
    pub fn label(self) -> &'static str {
        match self {
            ServerKind::Nginx => "nginx",
            ServerKind::Apache => "Apache",
            ServerKind::Express => "Express",
            ServerKind::Unknown => "corsgate policy (corsgate serve, or corsgate-tower in axum)",
        }
    }
}
