//! What `corsgate check` reports, as `--json` writes it: the types shared by
//! `check`, `explain`, `har` and the modules that compute their parts (hints,
//! fixes, snippets) and print them (render). A leaf below all of them: it
//! names no other module of the crate.

use corsgate_core::policy_reason::PolicyReason;
use corsgate_core::remedy::{Remedy, Side};
use corsgate_core::{RefusalReport, Stage};
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

impl Reason {
    /// The engine's refusal report with `fix` in the one [`Fix`] shape (the
    /// report's `fix` sentence and `remedy` become that object): the one
    /// conversion from the engine's type, field by field.
    pub fn new(r: &RefusalReport, fix: Fix) -> Reason {
        Reason {
            code: r.code,
            message: r.message.clone(),
            fix,
            stage: r.stage,
            header: r.header,
            chromium: r.chromium,
            firefox: r.firefox,
            is_cors: r.is_cors,
            browser_note: r.browser_note,
            details: r.details.clone(),
        }
    }
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

/// One fix: the `fix` key of every report corsgate writes.
///
/// The same shape everywhere: `check` (`reason.fix`, each of `fixes` and
/// `fix_alternatives`), `explain` (`fix`), `har` (each result's `fix`), `scan`
/// (each finding's `fix`), `test` (each problem's `fix`) and the playground
/// (`verdict.reason.fix`, written by corsgate-playground to these keys; a unit
/// test below holds the two to the same keys). One JSON object:
///
/// | key | type | meaning |
/// |-----|------|---------|
/// | `side` | `"server"` \| `"client"` | who must change something (`client`: no server answer can fix it) |
/// | `stage` | `"preflight"` \| `"actual"` \| `"redirect"` \| null | which response it concerns; null when the fix is advice about the endpoint as a whole (scan, some test problems) |
/// | `url` | string \| null | the URL of that response; null with `stage` null |
/// | `set_headers` | array of `[name, value]` | headers to set (replacing lines of the same name), exact values |
/// | `vary` | array of string | names to merge into `Vary` |
/// | `remove_headers` | array of string | headers to remove |
/// | `status` | integer \| null | the status to answer with instead |
/// | `sentence` | string | the fix in one sentence, for a person (always present) |
/// | `assumed` | bool | always false: a fix for an answer corsgate never received is not listed (kept for readers of `check --json`) |
/// | `snippet` | `{server, text}` \| null | the change written for the likely server (`check`, `explain`); null elsewhere |
///
/// The structured keys (`set_headers` … `status`) are empty/null when the fix
/// is only a sentence. Nothing else writes a `fix` key: every report holds
/// this type, so its `Serialize` is the one serializer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// Who must change something.
    pub side: Side,
    /// Which response it concerns, when one.
    pub stage: Option<Stage>,
    /// The URL of that response, when one.
    pub url: Option<String>,
    /// Headers to set (replacing any lines of the same name), with exact values.
    pub set_headers: Vec<(String, String)>,
    /// Header names to add to `Vary` (merged with what is there).
    pub vary: Vec<String>,
    /// Headers to remove.
    pub remove_headers: Vec<String>,
    /// The status to answer with instead.
    pub status: Option<u16>,
    /// The fix in one sentence.
    pub sentence: String,
    /// Always false: a fix for a response corsgate never received is not
    /// listed (see `fix::Planned::unobserved`); kept for readers of `--json`.
    pub assumed: bool,
    /// The change for the likely server, when it can be told.
    pub snippet: Option<Snippet>,
}

impl Fix {
    /// A fix that is only a sentence for the server side (no structured
    /// change, no response named).
    pub fn advice(sentence: impl Into<String>) -> Fix {
        Fix {
            side: Side::Server,
            stage: None,
            url: None,
            set_headers: Vec::new(),
            vary: Vec::new(),
            remove_headers: Vec::new(),
            status: None,
            sentence: sentence.into(),
            assumed: false,
            snippet: None,
        }
    }

    /// The engine's structured remedy, as it was (when the fix names a
    /// response: every fix made [`From`] a remedy does).
    pub fn remedy(&self) -> Option<Remedy> {
        Some(Remedy {
            side: self.side,
            stage: self.stage?,
            url: self.url.clone()?,
            set_headers: self.set_headers.clone(),
            vary: self.vary.clone(),
            remove_headers: self.remove_headers.clone(),
            status: self.status,
            sentence: self.sentence.clone(),
        })
    }

    /// Only the client can fix it.
    pub fn client_side(&self) -> bool {
        self.side == Side::Client
    }
}

impl From<Remedy> for Fix {
    /// The remedy's fields, no snippet.
    fn from(r: Remedy) -> Fix {
        Fix {
            side: r.side,
            stage: Some(r.stage),
            url: Some(r.url),
            set_headers: r.set_headers,
            vary: r.vary,
            remove_headers: r.remove_headers,
            status: r.status,
            sentence: r.sentence,
            assumed: false,
            snippet: None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use corsgate_core::remedy::RemedyContext;
    use corsgate_core::Refusal;

    /// The keys of the `fix` object, in the order the doc of [`Fix`] lists them.
    const KEYS: &[&str] = &[
        "side",
        "stage",
        "url",
        "set_headers",
        "vary",
        "remove_headers",
        "status",
        "sentence",
        "assumed",
        "snippet",
    ];

    fn keys(v: &serde_json::Value) -> Vec<String> {
        let mut k: Vec<String> = v
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {v}"))
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    }

    fn documented() -> Vec<String> {
        let mut k: Vec<String> = KEYS.iter().map(|s| s.to_string()).collect();
        k.sort();
        k
    }

    fn refusals() -> Vec<Refusal> {
        vec![
            Refusal::WildcardOriginWithCredentials {
                stage: Stage::Actual,
                origin: "https://app.example".into(),
            },
            Refusal::MissingAllowOrigin {
                stage: Stage::Actual,
                origin: "https://app.example".into(),
                status: 0,
            },
            Refusal::PreflightStatus { status: 401 },
            Refusal::PreflightRedirect {
                status: 302,
                location: Some("https://login.example/".into()),
            },
            Refusal::MethodNotAllowed {
                method: "PUT".into(),
                allowed: vec!["GET".into()],
                wildcard_ignored: true,
            },
        ]
    }

    #[test]
    fn every_fix_has_the_documented_keys_in_order() {
        let ctx = RemedyContext {
            url: "https://api.example/items".into(),
            method: "PUT".into(),
            unsafe_headers: vec!["x-token".into()],
            origin: "https://app.example".into(),
        };
        let mut fixes = vec![Fix::advice("add Vary: Origin")];
        for r in refusals() {
            fixes.push(Fix::from(r.remedy(&ctx)));
        }
        for f in fixes {
            let text = serde_json::to_string(&f).unwrap();
            // In the documented order (serde writes fields in declaration order).
            let mut at = 0;
            for k in KEYS {
                let i = text[at..]
                    .find(&format!("\"{k}\":"))
                    .unwrap_or_else(|| panic!("{k} missing or out of order in {text}"));
                at += i;
            }
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(keys(&v), documented());
        }
    }

    /// `check --json` wrote the engine's remedy flattened, then `assumed` and
    /// `snippet`: the one shape writes the same bytes for it.
    #[test]
    fn a_fix_from_a_remedy_writes_the_bytes_check_wrote_before() {
        let ctx = RemedyContext {
            url: "https://api.example/items".into(),
            ..Default::default()
        };
        for r in refusals() {
            let remedy = r.remedy(&ctx);
            let snippet = Snippet {
                server: ServerKind::Nginx,
                text: "add_header X 1;".into(),
            };
            let fix = Fix {
                snippet: Some(snippet.clone()),
                ..Fix::from(remedy.clone())
            };
            let engine = serde_json::to_string(&remedy).unwrap();
            let before = format!(
                "{},\"assumed\":false,\"snippet\":{}}}",
                engine.strip_suffix('}').unwrap(),
                serde_json::to_string(&snippet).unwrap()
            );
            assert_eq!(serde_json::to_string(&fix).unwrap(), before);
        }
    }

    #[test]
    fn a_fix_from_a_remedy_gives_it_back_and_advice_names_no_response() {
        for r in refusals() {
            for url in ["", "https://api.example/x?y#z"] {
                let ctx = RemedyContext {
                    url: url.into(),
                    ..Default::default()
                };
                let remedy = r.remedy(&ctx);
                let fix = Fix::from(remedy.clone());
                assert_eq!(fix.remedy(), Some(remedy.clone()));
                assert_eq!(fix.client_side(), remedy.side == Side::Client);
                assert_eq!(fix.sentence, remedy.sentence);
                assert!(!fix.assumed && fix.snippet.is_none());
            }
        }
        let advice = Fix::advice("compare the origin with a list");
        assert_eq!(advice.remedy(), None);
        assert!(!advice.client_side());
        let v = serde_json::to_value(&advice).unwrap();
        assert!(v["stage"].is_null() && v["url"].is_null() && v["status"].is_null());
        assert_eq!(v["sentence"], "compare the origin with a list");
    }

    /// The playground writes its own JSON (it cannot depend on this crate):
    /// its `verdict.reason.fix` must have the same keys.
    #[test]
    fn the_playground_fix_has_the_same_keys() {
        let req = corsgate_playground::evaluate::EvalRequest {
            policy: "origins = [\"http://127.0.0.1:8088\"]\nmethods = [\"GET\"]\n".into(),
            origin: "https://not-allowed.example".into(),
            method: "PUT".into(),
            path: "/api/items".into(),
            headers: vec![("X-Token".into(), "1".into())],
            credentials: "include".into(),
            browser: None,
        };
        let answer = corsgate_playground::evaluate::evaluate(&req, "http://127.0.0.1:8089");
        let v = serde_json::to_value(&answer).unwrap();
        let fix = &v["verdict"]["reason"]["fix"];
        assert_eq!(keys(fix), documented(), "{v:#}");
        assert!(v["verdict"]["reason"].get("remedy").is_none(), "{v:#}");
        assert!(fix["sentence"].as_str().is_some_and(|s| !s.is_empty()));
    }
}
