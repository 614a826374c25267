//! Structured fixes: for each refusal, the smallest server change that removes
//! it (which response, which headers to set with which exact values, which to
//! remove, which status to answer), and the plan that applies them one at a
//! time in the browser model until the request would pass.
//!
//! A fix never widens access beyond the request at hand: it names the one
//! origin (never `*`, never `null`), adds only the request's method and the
//! headers it asked for, and says when only the client can fix it.

use std::collections::HashMap;

use corsgate_core::{Browser, HeaderList, Profile, Refusal, Request, Response, Stage, Verdict};
use serde::Serialize;

use crate::check::Exchange;
use crate::snippets::{self, ServerKind};

/// A header line to set (replacing every line of that name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetHeader {
    /// The header name.
    pub name: String,
    /// The exact value.
    pub value: String,
}

/// A snippet for one server kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snippet {
    /// The server kind it is written for.
    pub server: ServerKind,
    /// The configuration text.
    pub text: String,
}

/// One change that removes one refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// The refusal it removes.
    pub code: &'static str,
    /// Which response to change.
    pub response: Stage,
    /// The URL of that response, when known.
    pub url: Option<String>,
    /// Headers to set, each replacing any line of the same name.
    pub set: Vec<SetHeader>,
    /// Headers to remove.
    pub remove: Vec<String>,
    /// The status to answer instead.
    pub status: Option<u16>,
    /// Only the client (the page's code) can fix it.
    pub client_side: bool,
    /// The change, for a person.
    pub sentence: String,
    /// The change for the likely server, when it can be told.
    pub snippet: Option<Snippet>,
}

impl Fix {
    fn new(refusal: &Refusal, sentence: String) -> Fix {
        Fix {
            code: refusal.code(),
            response: refusal.stage(),
            url: None,
            set: Vec::new(),
            remove: Vec::new(),
            status: None,
            client_side: false,
            sentence,
            snippet: None,
        }
    }

    fn set(&mut self, name: &str, value: impl Into<String>) {
        self.set.push(SetHeader {
            name: name.into(),
            value: value.into(),
        });
    }

    /// Whether applying it changes anything on the server side.
    pub fn changes_server(&self) -> bool {
        !self.set.is_empty() || !self.remove.is_empty() || self.status.is_some()
    }

    /// Applies it to a response.
    pub fn apply(&self, response: &mut Response) {
        for name in &self.remove {
            response.headers.remove(name);
        }
        for h in &self.set {
            response.headers.set(h.name.clone(), h.value.as_bytes());
        }
        if let Some(s) = self.status {
            response.status = s;
        }
    }
}

/// Splits a header's lines into its list elements (trimmed, non-empty).
fn elements(headers: Option<&HeaderList>, name: &str) -> Vec<String> {
    let Some(h) = headers else { return Vec::new() };
    h.get_all(name)
        .flat_map(|v| {
            String::from_utf8_lossy(v)
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

fn is_token(s: &str) -> bool {
    corsgate_core::headers::is_token(s.as_bytes())
}

/// `Vary` with `Origin` added (existing values kept).
fn vary_with_origin(headers: Option<&HeaderList>) -> Option<String> {
    let mut items = elements(headers, "vary");
    if items
        .iter()
        .any(|v| v.eq_ignore_ascii_case("origin") || v == "*")
    {
        return None;
    }
    items.push("Origin".into());
    Some(items.join(", "))
}

/// The fix for one refusal. `response` is the response it concerns, when known
/// (its other values are kept in the new header values).
pub fn for_refusal(
    request: &Request,
    profile: Profile,
    refusal: &Refusal,
    response: Option<&Response>,
    server: ServerKind,
) -> Fix {
    let headers = response.map(|r| &r.headers);
    let include = request.credentials().is_include();
    let mut fix = Fix::new(refusal, refusal.fix());
    match refusal {
        Refusal::DisallowedByMode { .. } | Refusal::UnsupportedScheme { .. } => {
            fix.client_side = true;
        }
        Refusal::MissingAllowOrigin { origin, .. }
        | Refusal::WildcardOriginWithCredentials { origin, .. }
        | Refusal::MultipleAllowOrigin { origin, .. }
        | Refusal::InvalidAllowOrigin { origin, .. }
        | Refusal::AllowOriginMismatch { origin, .. } => {
            if origin == "null" {
                fix.client_side = true;
                fix.sentence = "the request reached this server after a cross-origin redirect, so the browser sent `Origin: null`; do not allow `null` (any sandboxed page can send it): have the page request the final URL directly, or make the redirect stay on one origin".into();
            } else {
                fix.set("Access-Control-Allow-Origin", origin.clone());
                if let Some(v) = vary_with_origin(headers) {
                    fix.set("Vary", v);
                }
            }
        }
        Refusal::InvalidAllowCredentials { .. } => {
            fix.set("Access-Control-Allow-Credentials", "true");
        }
        Refusal::PreflightStatus { .. } => {
            fix.status = Some(204);
        }
        Refusal::PreflightRedirect { .. } => {
            fix.status = Some(204);
            fix.remove.push("Location".into());
        }
        Refusal::InvalidAllowMethods { .. } | Refusal::MethodNotAllowed { .. } => {
            let method = request.method().to_owned();
            let mut items: Vec<String> = elements(headers, "access-control-allow-methods")
                .into_iter()
                .filter(|m| is_token(m) && !(include && m == "*"))
                .collect();
            if response.is_none() {
                if let Refusal::MethodNotAllowed { allowed, .. } = refusal {
                    items = allowed.iter().filter(|m| *m != "*").cloned().collect();
                }
            }
            if !items.contains(&method) {
                items.push(method);
            }
            fix.set("Access-Control-Allow-Methods", items.join(", "));
        }
        Refusal::InvalidAllowHeaders { .. } | Refusal::HeaderNotAllowed { .. } => {
            let mut items: Vec<String> = elements(headers, "access-control-allow-headers")
                .into_iter()
                .filter(|h| is_token(h) && !(include && h == "*"))
                .collect();
            if response.is_none() {
                if let Refusal::HeaderNotAllowed { allowed, .. } = refusal {
                    items = allowed.iter().filter(|h| *h != "*").cloned().collect();
                }
            }
            for h in request.preflight_reasons(profile).headers {
                if !items.iter().any(|i| i.eq_ignore_ascii_case(&h.name)) {
                    items.push(h.name.clone());
                }
            }
            fix.set("Access-Control-Allow-Headers", items.join(", "));
        }
        Refusal::RedirectContainsCredentials { location } => {
            if let Ok(mut u) = url::Url::parse(location) {
                let _ = u.set_username("");
                let _ = u.set_password(None);
                fix.set("Location", u.to_string());
            }
        }
        Refusal::RedirectNotHttp { .. }
        | Refusal::InvalidRedirectLocation { .. }
        | Refusal::TooManyRedirects => {}
    }
    if fix.changes_server() {
        fix.snippet = snippets::for_fix(server, &fix);
    }
    fix
}

/// The fixes to apply, in order, until the request would pass in the model,
/// and whether the plan is complete (`false` when the model needs a response
/// that was never received, e.g. the actual response after a failed preflight,
/// or when only the client can fix it).
pub fn plan(
    request: &Request,
    profile: Profile,
    exchanges: &[Exchange],
    verdict: &Verdict,
    server: ServerKind,
) -> (Vec<Fix>, bool) {
    let mut canned: HashMap<(Stage, String), Response> = HashMap::new();
    for e in exchanges {
        canned
            .entry((e.stage, e.url.clone()))
            .or_insert_with(|| e.response.clone());
    }
    let mut fixes: Vec<Fix> = Vec::new();
    let mut current = verdict.clone();
    for _ in 0..12 {
        if current.allowed {
            return (fixes, true);
        }
        let Some(refusal) = current.refusal() else {
            return (fixes, false);
        };
        // The response that carries the problem: the preflight, or the actual
        // response (or redirect hop) at the URL where the fetch stopped.
        let key_stage = if refusal.stage() == Stage::Preflight {
            Stage::Preflight
        } else {
            Stage::Actual
        };
        let key = (key_stage, current.final_url.clone());
        let mut fix = for_refusal(request, profile, refusal, canned.get(&key), server);
        fix.url = Some(current.final_url.clone());
        let progress = fix.changes_server() && !fixes.contains(&fix);
        fixes.push(fix.clone());
        if !progress {
            return (fixes, false);
        }
        match canned.get_mut(&key) {
            Some(r) => fix.apply(r),
            None => return (fixes, false),
        }
        let next = Browser::new(profile).run(request.clone(), |out| {
            let stage = if out.stage == Stage::Preflight {
                Stage::Preflight
            } else {
                Stage::Actual
            };
            canned.get(&(stage, out.url.clone())).cloned().ok_or(())
        });
        match next {
            Ok(v) => current = v,
            Err(()) => return (fixes, false),
        }
    }
    (fixes, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use corsgate_core::Credentials;

    fn ex(stage: Stage, url: &str, r: Response) -> Exchange {
        Exchange {
            stage,
            method: String::new(),
            url: url.into(),
            request_headers: Vec::new(),
            status: r.status,
            response_headers: Vec::new(),
            response: r,
        }
    }

    #[test]
    fn plan_fixes_a_bare_preflight_and_actual_one_step_at_a_time() {
        let url = "https://api.example/items";
        let req = Request::builder("https://app.example", url)
            .method("PUT")
            .header("X-Token", "1")
            .credentials(Credentials::Include)
            .build()
            .unwrap();
        let pre = Response::new(401).header("Access-Control-Allow-Origin", "*");
        let act = Response::new(200).header("Vary", "Accept-Encoding");
        let exchanges = vec![
            ex(Stage::Preflight, url, pre.clone()),
            ex(Stage::Actual, url, act.clone()),
        ];
        let verdict = Browser::new(Profile::Chromium)
            .run(req.clone(), |o| {
                Ok::<_, ()>(if o.stage == Stage::Preflight {
                    pre.clone()
                } else {
                    act.clone()
                })
            })
            .unwrap();
        let (fixes, complete) = plan(
            &req,
            Profile::Chromium,
            &exchanges,
            &verdict,
            ServerKind::Unknown,
        );
        assert!(complete, "{fixes:#?}");
        let codes: Vec<_> = fixes.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            [
                "wildcard_origin_with_credentials",
                "invalid_allow_credentials",
                "preflight_status",
                "method_not_allowed",
                "header_not_allowed",
                "missing_allow_origin",
                "invalid_allow_credentials",
            ]
        );
        // Never a wildcard, and only what the request needs.
        for f in &fixes {
            for s in &f.set {
                assert_ne!(s.value, "*");
            }
        }
        assert_eq!(fixes[3].set[0].value, "PUT");
        assert_eq!(fixes[4].set[0].value, "x-token");
        assert_eq!(fixes[5].set[1].value, "Accept-Encoding, Origin");
    }

    #[test]
    fn null_origin_is_never_allowed() {
        let req = Request::builder("https://app.example", "https://b.example/")
            .build()
            .unwrap();
        let r = Refusal::MissingAllowOrigin {
            stage: Stage::Actual,
            origin: "null".into(),
            status: 200,
        };
        let f = for_refusal(&req, Profile::Chromium, &r, None, ServerKind::Unknown);
        assert!(f.client_side && f.set.is_empty());
    }
}
