//! The repair loop: remedies applied one at a time until a request would pass.
//!
//! A browser reports only the first failed check. [`repair`] keeps going: it
//! applies the remedy for the first refusal to the server's answers in the
//! model, runs the fetch again, and repeats, so the user gets the whole list
//! in order.

use serde::Serialize;

use crate::browser::profile::Profile;
use crate::browser::refusal::Stage;
use crate::browser::remedy::{Remedy, RemedyContext, Side};
use crate::browser::request::Request;
use crate::browser::response::Response;
use crate::browser::{Browser, Outgoing};

impl Remedy {
    /// Whether this remedy applies to the answer to `out`.
    pub fn applies_to(&self, out: &Outgoing) -> bool {
        let preflight = self.stage == Stage::Preflight;
        self.side == Side::Server
            && (out.stage == Stage::Preflight) == preflight
            && out.url == self.url
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
        if crate::browser::refusal::is_null(sent) || !hop.response.is_redirect_status() {
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
            let alternatives = if client && crate::browser::refusal::is_null(&ctx.origin) {
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
