//! Remedies: the smallest safe change that fixes a refusal, as data, and the
//! repair loop that applies them one at a time until a request would pass.
//!
//! A browser reports only the first failed check. [`repair`] keeps going: it
//! applies the remedy for the first refusal to the server's answers in the
//! model, runs the fetch again, and repeats, so the user gets the whole list
//! in order. A remedy never proposes `*` with credentials, never reflects an
//! arbitrary origin, and never allows more than the request at hand: the one
//! origin, the one method, the headers it sends.

use serde::Serialize;

use crate::browser::{Browser, Outgoing};
use crate::profile::Profile;
use crate::refusal::{Refusal, Stage};
use crate::request::Request;
use crate::response::Response;

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
                if crate::refusal::is_null(origin) || crate::refusal::is_null(&ctx.origin) {
                    // Allowing `null` would let any sandboxed page in: never propose it.
                    r.side = Side::Client;
                    r.sentence = crate::refusal::NULL_ORIGIN_FIX.into();
                } else {
                    let named = crate::refusal::named(origin).to_owned();
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
        if widens && crate::refusal::is_null(&ctx.origin) {
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
    /// Whether this remedy applies to the answer to `out`.
    pub fn applies_to(&self, out: &Outgoing) -> bool {
        let preflight = self.stage == Stage::Preflight;
        self.side == Side::Server
            && (out.stage == Stage::Preflight) == preflight
            && out.url == self.url
    }

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

/// The outcome of [`repair`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repair {
    /// The remedies, in the order they were needed.
    pub remedies: Vec<Remedy>,
    /// Whether the request passes with all of them applied.
    pub passes: bool,
    /// Server-side alternatives to a client-side last remedy, where one
    /// exists: for an origin tainted to `null` by a cross-origin redirect,
    /// keeping that redirect on the redirecting server's own origin (the
    /// browser then keeps the page's origin, and the answers there can be
    /// scoped to it). It changes the URL the request ends on, whose answers
    /// were never seen: run the check again once it is in place.
    pub alternatives: Vec<Remedy>,
}

/// One hop of a run: its URL, the `Origin` it carried, and the answer.
struct Hop {
    url: String,
    origin: Option<String>,
    response: Response,
}

fn origin_of(url: &str) -> Option<url::Origin> {
    url::Url::parse(url).ok().map(|u| u.origin())
}

/// The server-side alternative to a redirect-tainted `null` origin: the
/// first redirect that took a cross-origin request to yet another origin,
/// kept on its own origin instead.
fn keep_redirect_on_origin(page: &str, hops: &[Hop]) -> Option<Remedy> {
    for hop in hops {
        let sent = hop.origin.as_deref().unwrap_or(page);
        if crate::refusal::is_null(sent) || !hop.response.is_redirect_status() {
            continue;
        }
        let here = url::Url::parse(&hop.url).ok()?;
        let Some(location) = hop.response.location() else {
            continue;
        };
        let Ok(target) = here.join(location.trim()) else {
            continue;
        };
        let cross_request = origin_of(&hop.url) != origin_of(sent);
        if !cross_request || target.origin() == here.origin() {
            continue;
        }
        let mut kept = here.clone();
        kept.set_path(target.path());
        kept.set_query(target.query());
        let own = here.origin().ascii_serialization();
        return Some(Remedy {
            side: Side::Server,
            stage: Stage::Redirect,
            url: hop.url.clone(),
            set_headers: vec![("Location".into(), kept.to_string())],
            vary: Vec::new(),
            remove_headers: Vec::new(),
            status: None,
            sentence: format!(
                "or, on the server: keep this redirect on {own} (`Location: {kept}`, serving the resource there too) instead of sending it to {}: a redirect to another origin makes the browser send `Origin: null` from then on, one on the same origin keeps `Origin: {sent}`, so the answers can name that origin alone; the answers at the new URL were never seen: run the check again once it redirects there",
                target.origin().ascii_serialization()
            ),
        });
    }
    None
}

/// Applies remedies one at a time, in the model, until `request` would pass
/// (or a remedy is on the client side, or 12 rounds have passed).
/// `answer` gives the server's original answer to each outgoing request.
///
/// ```
/// use corsgate_core::{remedy::repair, Credentials, Profile, Request, Response, Stage};
/// let req = Request::builder("https://app.example", "https://api.example/x")
///     .method("PUT").header("X-Token", "1").credentials(Credentials::Include).build().unwrap();
/// // The server answers the preflight with 401 and nothing else.
/// let fixed = repair(Profile::Chromium, &req, |out| match out.stage {
///     Stage::Preflight => Response::new(401),
///     _ => Response::new(200),
/// });
/// assert!(fixed.passes);
/// let codes: Vec<_> = fixed.remedies.iter().map(|r| r.sentence.clone()).collect();
/// assert!(codes.len() >= 4); // origin, credentials, status, method, header… one at a time
/// ```
pub fn repair(
    profile: Profile,
    request: &Request,
    mut answer: impl FnMut(&Outgoing) -> Response,
) -> Repair {
    let mut remedies: Vec<Remedy> = Vec::new();
    let mut hops: Vec<Hop> = Vec::new();
    for _ in 0..12 {
        let mut browser = Browser::new(profile);
        let mut ctx = RemedyContext::default();
        hops.clear();
        let verdict = browser.run(request.clone(), |out| {
            let mut resp = answer(out);
            for r in remedies.iter().filter(|r| r.applies_to(out)) {
                r.apply(&mut resp);
            }
            if out.stage != Stage::Preflight {
                hops.push(Hop {
                    url: out.url.clone(),
                    origin: out.headers.get_str("origin"),
                    response: resp.clone(),
                });
            }
            ctx.url = out.url.clone();
            // No `Origin` header (a same-origin GET or HEAD, or `no-cors`):
            // the request is not redirect-tainted, so its origin is the page's.
            ctx.origin = out
                .headers
                .get_str("origin")
                .unwrap_or_else(|| request.origin().to_string());
            ctx.method = if out.stage == Stage::Preflight {
                out.headers
                    .get_str("access-control-request-method")
                    .unwrap_or_default()
            } else {
                out.method.clone()
            };
            ctx.unsafe_headers = out
                .headers
                .get_str("access-control-request-headers")
                .map(|v| {
                    v.split(',')
                        .map(str::to_owned)
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            Ok::<_, std::convert::Infallible>(resp)
        });
        let verdict = match verdict {
            Ok(v) => v,
            Err(never) => match never {},
        };
        let Some(refusal) = verdict.refusal() else {
            return Repair {
                remedies,
                passes: true,
                alternatives: Vec::new(),
            };
        };
        let remedy = refusal.remedy(&ctx);
        let client = remedy.side == Side::Client;
        let stuck = client || remedies.contains(&remedy);
        remedies.push(remedy);
        if stuck {
            let alternatives = if client && crate::refusal::is_null(&ctx.origin) {
                keep_redirect_on_origin(&request.origin().to_string(), &hops)
                    .into_iter()
                    .collect()
            } else {
                Vec::new()
            };
            return Repair {
                remedies,
                passes: false,
                alternatives,
            };
        }
    }
    Repair {
        remedies,
        passes: false,
        alternatives: Vec::new(),
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

    #[test]
    fn a_redirect_fix_names_the_origin_even_without_an_origin_header() {
        use crate::{Profile, Request, Response};
        // A same-origin GET (no `Origin` header) redirected cross-origin
        // through a `Location` with `user:pass@`: the fix takes the userinfo
        // out and names the page's origin on the redirect, so a page on
        // another origin, for which that redirect is cross-origin, gains nothing.
        let req = Request::builder("https://app.example", "https://app.example/start")
            .build()
            .unwrap();
        let fixed = repair(Profile::Chromium, &req, |out| {
            if out.url.starts_with("https://app.example/") {
                Response::new(302)
                    .header("Location", "https://u:p@api.example/next")
                    .header("Access-Control-Allow-Origin", "*")
            } else {
                Response::new(200).header("Access-Control-Allow-Origin", "*")
            }
        });
        assert!(fixed.passes);
        let r = &fixed.remedies[0];
        assert_eq!(r.stage, Stage::Redirect);
        assert_eq!(
            r.set_headers,
            [
                (
                    "Access-Control-Allow-Origin".to_string(),
                    "https://app.example".to_string()
                ),
                (
                    "Location".to_string(),
                    "https://api.example/next".to_string()
                )
            ]
        );
        assert_eq!(r.vary, ["Origin"]);
    }

    #[test]
    fn a_redirect_tainted_origin_gets_a_server_side_alternative() {
        use crate::{Profile, Request, Response};
        // The page asks api.example, which redirects to cdn.example: the
        // browser sends `Origin: null` there, and only the client can fix
        // that — or the server, by keeping the redirect on api.example.
        let req = Request::builder("https://app.example", "https://api.example/v1/x?y=1")
            .build()
            .unwrap();
        let fixed = repair(Profile::Chromium, &req, |out| {
            if out.url.starts_with("https://api.example/") {
                Response::new(302)
                    .header("Location", "https://cdn.example/v1/x?y=1")
                    .header("Access-Control-Allow-Origin", "https://app.example")
            } else {
                Response::new(200).header("Access-Control-Allow-Origin", "https://app.example")
            }
        });
        assert!(!fixed.passes);
        let last = fixed.remedies.last().unwrap();
        assert_eq!(last.side, Side::Client);
        assert!(last.set_headers.is_empty() && last.status.is_none());
        assert_eq!(fixed.alternatives.len(), 1, "{fixed:#?}");
        let alt = &fixed.alternatives[0];
        assert_eq!((alt.side, alt.stage), (Side::Server, Stage::Redirect));
        assert_eq!(alt.url, "https://api.example/v1/x?y=1");
        assert_eq!(
            alt.set_headers,
            [(
                "Location".to_string(),
                "https://api.example/v1/x?y=1".to_string()
            )]
        );
        assert!(crate::advice::unsafe_advice(&alt.sentence).is_none());
    }
}
