//! Remedies: the smallest safe change that fixes a refusal, as data.
//!
//! A remedy never proposes `*` with credentials, never reflects an arbitrary
//! origin, and never allows more than the request at hand: the one origin,
//! the one method, the headers it sends. The repair loop that applies them
//! one at a time is in `repair`, above the browser that it runs.

use serde::Serialize;

use crate::browser::refusal::{Refusal, Stage};
use crate::browser::response::Response;

/// Who has to change something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The server's answer must change.
    Server,
    /// No server answer can fix it: the request itself must change.
    Client,
}

/// A structured fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remedy {
    /// Who must change something.
    pub side: Side,
    /// Which response it concerns.
    pub stage: Stage,
    /// The URL of that response.
    pub url: String,
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
}

/// What a remedy needs to know about the request at the point it failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemedyContext {
    /// The URL whose response failed.
    pub url: String,
    /// The request's method (after any redirect rewriting).
    pub method: String,
    /// The CORS-unsafe request-header names, lower case.
    pub unsafe_headers: Vec<String>,
    /// The request's serialized origin, as sent in `Origin`.
    pub origin: String,
}

fn list_plus(list: &[String], extra: &[&str], case_sensitive: bool) -> String {
    let mut out: Vec<&str> = list
        .iter()
        .map(String::as_str)
        .filter(|s| *s != "*")
        .collect();
    for e in extra {
        let present = out.iter().any(|s| {
            if case_sensitive {
                s == e
            } else {
                s.eq_ignore_ascii_case(e)
            }
        });
        if !present {
            out.push(e);
        }
    }
    out.join(", ")
}

impl Refusal {
    /// The structured fix for this refusal.
    ///
    /// ```
    /// use corsgate_core::{Refusal, Stage, remedy::{RemedyContext, Side}};
    /// let r = Refusal::WildcardOriginWithCredentials { stage: Stage::Actual, origin: "https://app.example".into() };
    /// let fix = r.remedy(&RemedyContext { url: "https://api.example/".into(), ..Default::default() });
    /// assert_eq!(fix.side, Side::Server);
    /// assert_eq!(fix.set_headers, [
    ///     ("Access-Control-Allow-Origin".to_string(), "https://app.example".to_string()),
    ///     ("Access-Control-Allow-Credentials".to_string(), "true".to_string()),
    /// ]);
    /// assert_eq!(fix.vary, ["Origin"]);
    /// ```
    pub fn remedy(&self, ctx: &RemedyContext) -> Remedy {
        let mut r = Remedy {
            side: Side::Server,
            stage: self.stage(),
            url: ctx.url.clone(),
            set_headers: Vec::new(),
            vary: Vec::new(),
            remove_headers: Vec::new(),
            status: None,
            sentence: self.fix(),
        };
        let set = |r: &mut Remedy, name: &str, value: String| {
            r.set_headers.push((name.to_owned(), value))
        };
        match self {
            Refusal::DisallowedByMode { .. } | Refusal::UnsupportedScheme { .. } => {
                r.side = Side::Client
            }
            Refusal::MissingAllowOrigin { origin, .. }
            | Refusal::WildcardOriginWithCredentials { origin, .. }
            | Refusal::MultipleAllowOrigin { origin, .. }
            | Refusal::InvalidAllowOrigin { origin, .. }
            | Refusal::AllowOriginMismatch { origin, .. } => {
                if crate::browser::refusal::is_null(origin)
                    || crate::browser::refusal::is_null(&ctx.origin)
                {
                    // Allowing `null` would let any sandboxed page in: never propose it.
                    r.side = Side::Client;
                    r.sentence = crate::browser::refusal::NULL_ORIGIN_FIX.into();
                } else {
                    let named = crate::browser::refusal::named(origin).to_owned();
                    set(&mut r, "Access-Control-Allow-Origin", named);
                    if matches!(self, Refusal::WildcardOriginWithCredentials { .. }) {
                        // The request has credentials: the one origin and
                        // `true`, never the wildcard.
                        set(&mut r, "Access-Control-Allow-Credentials", "true".into());
                    }
                    r.vary.push("Origin".into());
                }
            }
            Refusal::InvalidAllowCredentials { .. } => {
                set(&mut r, "Access-Control-Allow-Credentials", "true".into())
            }
            Refusal::PreflightStatus { .. } => r.status = Some(204),
            Refusal::PreflightRedirect { .. } => {
                r.status = Some(204);
                r.remove_headers.push("Location".into());
            }
            Refusal::InvalidAllowMethods { .. } => {
                // Never an empty value: without the method, a placeholder.
                let method = if ctx.method.is_empty() {
                    "<METHOD>".to_owned()
                } else {
                    ctx.method.clone()
                };
                set(&mut r, "Access-Control-Allow-Methods", method)
            }
            Refusal::InvalidAllowHeaders { .. } => {
                if ctx.unsafe_headers.is_empty() {
                    r.remove_headers.push("Access-Control-Allow-Headers".into());
                } else {
                    set(
                        &mut r,
                        "Access-Control-Allow-Headers",
                        ctx.unsafe_headers.join(", "),
                    );
                }
            }
            Refusal::MethodNotAllowed {
                method, allowed, ..
            } => set(
                &mut r,
                "Access-Control-Allow-Methods",
                list_plus(allowed, &[method], true),
            ),
            Refusal::HeaderNotAllowed {
                header, allowed, ..
            } => {
                let wanted: Vec<&str> = std::iter::once(header.as_str())
                    .chain(ctx.unsafe_headers.iter().map(String::as_str))
                    .collect();
                set(
                    &mut r,
                    "Access-Control-Allow-Headers",
                    list_plus(allowed, &wanted, false),
                )
            }
            Refusal::RedirectContainsCredentials { location } => match url::Url::parse(location) {
                Ok(mut u) => {
                    let _ = u.set_username("");
                    let _ = u.set_password(None);
                    set(&mut r, "Location", u.to_string());
                }
                Err(_) => r.remove_headers.push("Location".into()),
            },
            Refusal::RedirectNotHttp { .. }
            | Refusal::InvalidRedirectLocation { .. }
            | Refusal::TooManyRedirects => {
                r.side = Side::Client;
                r.sentence = format!(
                    "{} (the redirect target must be decided by the server's owner)",
                    self.fix()
                );
            }
        }
        // A remedy that widens methods, headers, credentials or the status is
        // scoped to the one origin at hand: the answer names it instead of `*`,
        // so no other origin gains anything from the fix.
        let widens = matches!(
            self,
            Refusal::InvalidAllowCredentials { .. }
                | Refusal::PreflightStatus { .. }
                | Refusal::PreflightRedirect { .. }
                | Refusal::InvalidAllowMethods { .. }
                | Refusal::InvalidAllowHeaders { .. }
                | Refusal::MethodNotAllowed { .. }
                | Refusal::HeaderNotAllowed { .. }
                // Taking `user:pass@` out of a `Location` lets every origin
                // the redirect already admits through it; naming the one
                // origin on the redirect keeps the others out (found by the
                // Chromium fixes harness).
                | Refusal::RedirectContainsCredentials { .. }
        );
        if widens && crate::browser::refusal::is_null(&ctx.origin) {
            // A redirect-tainted request: every page that reaches this URL
            // through a cross-origin redirect sends `null`, so the answer
            // cannot be scoped to one origin and widening it would let them
            // all in (found by the Chromium fixes harness).
            r.side = Side::Client;
            // A client-side fix carries no server change: a tool that
            // ignores `side` must find nothing to apply.
            r.set_headers.clear();
            r.vary.clear();
            r.remove_headers.clear();
            r.status = None;
            r.sentence = format!(
                "the request's origin is `null` (after a cross-origin redirect, or from a sandboxed or file: page), so no answer can be limited to one origin, and this fix ({}) would apply to every such page: request the final URL directly instead of through the redirect, from a page with a real origin",
                self.fix()
            );
        } else if widens && !ctx.origin.is_empty() {
            r.set_headers.insert(
                0,
                ("Access-Control-Allow-Origin".into(), ctx.origin.clone()),
            );
            r.vary.push("Origin".into());
        }
        r
    }
}

impl Remedy {
    /// Applies the remedy to a response.
    pub fn apply(&self, response: &mut Response) {
        if let Some(s) = self.status {
            response.status = s;
        }
        for name in &self.remove_headers {
            response.headers.remove(name);
        }
        for (name, value) in &self.set_headers {
            response.headers.set(name.clone(), value);
        }
        if !self.vary.is_empty() {
            let mut tokens: Vec<String> = Vec::new();
            for line in response.headers.get_all("vary") {
                for t in String::from_utf8_lossy(line).split(',') {
                    let t = t.trim();
                    if !t.is_empty() && !tokens.iter().any(|x| x.eq_ignore_ascii_case(t)) {
                        tokens.push(t.to_owned());
                    }
                }
            }
            for v in &self.vary {
                if !tokens.iter().any(|x| x.eq_ignore_ascii_case(v)) {
                    tokens.push(v.clone());
                }
            }
            response.headers.set("Vary", tokens.join(", "));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_for_a_null_origin_is_client_side() {
        // After a cross-origin redirect the request carries `Origin: null`;
        // `Access-Control-Allow-Credentials: true` next to an echoed `null`
        // would let every redirected page read the answer.
        let r = Refusal::InvalidAllowCredentials {
            stage: Stage::Actual,
            value: None,
        };
        let ctx = RemedyContext {
            url: "https://api.example/final".into(),
            method: "GET".into(),
            unsafe_headers: Vec::new(),
            origin: "null".into(),
        };
        let fix = r.remedy(&ctx);
        assert_eq!(fix.side, Side::Client);
        assert!(fix.sentence.contains("`null`"));
        let named = r.remedy(&RemedyContext {
            origin: "https://app.example".into(),
            ..ctx
        });
        assert_eq!(named.side, Side::Server);
        assert_eq!(
            named.set_headers[0],
            (
                "Access-Control-Allow-Origin".to_string(),
                "https://app.example".to_string()
            )
        );
    }
}
