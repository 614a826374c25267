//! Structured fixes as `corsgate` prints them: the engine's [`Remedy`] (which
//! response, headers to set with exact values, `Vary` additions, headers to
//! remove, status to change, the sentence) plus a snippet for the likely
//! server, and the plan from the engine's repair loop over the answers that
//! were really received.

use std::collections::HashMap;

use corsgate_core::remedy::{repair, Remedy, Side};
use corsgate_core::{Outgoing, Profile, Request, Response, Stage};

use crate::report::{Exchange, Fix, ServerKind, Unobserved};
use crate::snippets;

impl Fix {
    /// Wraps a remedy, with a snippet for `server` when the server must change.
    pub fn new(remedy: Remedy, server: ServerKind, assumed: bool) -> Fix {
        let snippet = if remedy.side == Side::Server {
            snippets::for_fix(server, &remedy)
        } else {
            None
        };
        Fix {
            assumed,
            snippet,
            ..Fix::from(remedy)
        }
    }
}

/// What [`plan`] found.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The fixes, for answers received (or learned) only.
    pub fixes: Vec<Fix>,
    /// Whether the request passes with them, every answer on the way seen.
    pub complete: bool,
    /// The answers the plan needed and never saw: the list stops before the
    /// first fix that would have concerned one of them.
    pub unobserved: Vec<Unobserved>,
    /// The requests sent to learn an answer the browser had not asked for
    /// yet (safe methods only: GET, HEAD, OPTIONS), and their answers.
    pub learned: Vec<Exchange>,
    /// Server-side alternatives to a client-side last fix (a redirect kept on
    /// its own origin instead of a `null`-tainting one).
    pub alternatives: Vec<Fix>,
}

/// How many requests a plan may send to learn answers.
pub const LEARN_BUDGET: usize = 8;

/// The fixes to apply, in order, until the request would pass in the model,
/// replaying the answers received. An answer never received is asked of
/// `learn` (which sends the request when its method is safe, e.g. the GET the
/// failed preflight stopped, to see whether the URL redirects); one still
/// unknown is never assumed: the list stops before the first fix for it,
/// says which answers are missing, and is not complete.
pub fn plan(
    request: &Request,
    profile: Profile,
    exchanges: &[Exchange],
    server: ServerKind,
    learn: &mut dyn FnMut(&Outgoing) -> Option<Exchange>,
) -> Planned {
    let mut canned: HashMap<(bool, String), Response> = HashMap::new();
    for e in exchanges {
        canned
            .entry((e.stage == Stage::Preflight, e.url.clone()))
            .or_insert_with(|| e.response.clone());
    }
    let mut unseen: Vec<(bool, String, String)> = Vec::new();
    let mut learned: Vec<Exchange> = Vec::new();
    let mut tried: Vec<(bool, String)> = Vec::new();
    let outcome = repair(profile, request, |out| {
        let key = (out.stage == Stage::Preflight, out.url.clone());
        if let Some(r) = canned.get(&key) {
            return r.clone();
        }
        let safe = matches!(out.method.as_str(), "GET" | "HEAD" | "OPTIONS");
        if safe && learned.len() < LEARN_BUDGET && !tried.contains(&key) {
            tried.push(key.clone());
            if let Some(ex) = learn(out) {
                canned.insert(key, ex.response.clone());
                let r = ex.response.clone();
                learned.push(ex);
                return r;
            }
        }
        if !unseen.iter().any(|u| (u.0, &u.1) == (key.0, &key.1)) {
            unseen.push((key.0, key.1, out.method.clone()));
        }
        Response::new(if out.stage == Stage::Preflight {
            204
        } else {
            200
        })
    });
    let alternatives = outcome
        .alternatives
        .into_iter()
        .map(|r| Fix::new(r, server, false))
        .collect();
    let mut fixes = Vec::new();
    for r in outcome.remedies {
        let never_seen = unseen
            .iter()
            .any(|u| u.0 == (r.stage == Stage::Preflight) && u.1 == r.url);
        if never_seen {
            break;
        }
        fixes.push(Fix::new(r, server, false));
    }
    Planned {
        fixes,
        complete: outcome.passes && unseen.is_empty(),
        unobserved: unseen
            .into_iter()
            .map(|(pre, url, method)| Unobserved {
                stage: if pre { Stage::Preflight } else { Stage::Actual },
                method,
                url,
            })
            .collect(),
        learned,
        alternatives,
    }
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
    fn plan_replays_what_was_received_and_marks_what_was_not() {
        let url = "https://api.example/items";
        let req = Request::builder("https://app.example", url)
            .method("PUT")
            .header("X-Token", "1")
            .credentials(Credentials::Include)
            .build()
            .unwrap();
        // Only the preflight was received (it failed, so the browser stopped).
        let pre = Response::new(401).header("Access-Control-Allow-Origin", "*");
        let planned = plan(
            &req,
            Profile::Chromium,
            &[ex(Stage::Preflight, url, pre.clone())],
            ServerKind::Nginx,
            &mut |_| None,
        );
        // The actual response was never received: no fix for it, and the
        // list says it is not complete and which answer is missing.
        assert!(!planned.complete, "{:#?}", planned.fixes);
        assert_eq!(planned.unobserved.len(), 1);
        assert_eq!(planned.unobserved[0].stage, Stage::Actual);
        let fixes = planned.fixes;
        assert!(fixes.iter().any(|f| f.status == Some(204)));
        assert!(fixes
            .iter()
            .all(|f| f.stage == Some(Stage::Preflight) && !f.assumed));
        // Learned (a safe method would be asked for): complete.
        let get = Request::builder("https://app.example", url)
            .header("X-Token", "1")
            .credentials(Credentials::Include)
            .build()
            .unwrap();
        let planned = plan(
            &get,
            Profile::Chromium,
            &[ex(Stage::Preflight, url, pre)],
            ServerKind::Nginx,
            &mut |out| {
                assert_eq!(out.method, "GET");
                Some(ex(
                    Stage::Actual,
                    url,
                    Response::new(200).header("Access-Control-Allow-Origin", "*"),
                ))
            },
        );
        assert!(planned.complete, "{:#?}", planned.fixes);
        assert_eq!(planned.learned.len(), 1);
        assert!(planned.unobserved.is_empty());
        assert!(planned.fixes.iter().any(|f| f.stage == Some(Stage::Actual)));
        for f in &fixes {
            assert!(f.set_headers.iter().all(|(_, v)| v != "*"));
            assert!(
                f.snippet.as_ref().unwrap().text.contains("add_header") || f.set_headers.is_empty()
            );
        }
    }
}
