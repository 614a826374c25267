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
pub(crate) struct Planned {
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
pub(crate) const LEARN_BUDGET: usize = 8;

/// The fixes to apply, in order, until the request would pass in the model,
/// replaying the answers received. An answer never received is asked of
/// `learn` (which sends the request when its method is safe, e.g. the GET the
/// failed preflight stopped, to see whether the URL redirects); one still
/// unknown is never assumed: the list stops before the first fix for it,
/// says which answers are missing, and is not complete.
pub(crate) fn plan(
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
    use proptest::prelude::*;

    fn response(status: u16, lines: &[(&'static str, &'static str)]) -> Response {
        let mut r = Response::new(status);
        for (n, v) in lines {
            r = r.header(*n, *v);
        }
        r
    }

    fn answer() -> impl Strategy<Value = Response> {
        (
            prop::sample::select(vec![200u16, 204, 301, 401, 403, 500]),
            prop::collection::vec(
                prop::sample::select(vec![
                    ("Access-Control-Allow-Origin", "https://app.example"),
                    ("Access-Control-Allow-Origin", "*"),
                    ("Access-Control-Allow-Origin", "https://other.example"),
                    ("Access-Control-Allow-Credentials", "true"),
                    ("Access-Control-Allow-Methods", "PUT"),
                    ("Access-Control-Allow-Headers", "x-token"),
                    ("Location", "https://api.example/elsewhere"),
                ]),
                0..4,
            ),
        )
            .prop_map(|(status, lines)| response(status, &lines))
    }

    proptest! {
        /// Whatever was answered: a fix only ever concerns an answer that
        /// was received or learned (never assumed), the plan is complete
        /// only when nothing was missing, a learned answer is asked for at
        /// most once per URL and stage with a safe method, and no fix sets
        /// `Access-Control-Allow-Origin` to `*` or `null`.
        #[test]
        fn fixes_concern_only_answers_received(
            method in prop::sample::select(vec!["GET", "PUT"]),
            credentials in any::<bool>(),
            token in any::<bool>(),
            first in answer(),
            second in prop::option::of(answer()),
            learnable in prop::option::of(answer()),
        ) {
            let url = "https://api.example/items";
            let mut b = Request::builder("https://app.example", url)
                .method(method)
                .credentials(if credentials { Credentials::Include } else { Credentials::Omit });
            if token {
                b = b.header("X-Token", "1");
            }
            let req = b.build().unwrap();
            let preflighted = method == "PUT" || token;
            let mut exchanges = vec![ex(if preflighted { Stage::Preflight } else { Stage::Actual }, url, first)];
            if let (true, Some(s)) = (preflighted, second) {
                exchanges.push(ex(Stage::Actual, url, s));
            }
            let mut asked: Vec<(Stage, String, String)> = Vec::new();
            let planned = plan(&req, Profile::Chromium, &exchanges, ServerKind::Unknown, &mut |out| {
                asked.push((out.stage, out.url.clone(), out.method.clone()));
                learnable.clone().map(|r| ex(out.stage, &out.url, r))
            });
            let seen: Vec<(bool, String)> = exchanges
                .iter()
                .chain(&planned.learned)
                .map(|e| (e.stage == Stage::Preflight, e.url.clone()))
                .collect();
            for f in &planned.fixes {
                let stage = f.stage.expect("a planned fix names its response");
                let url = f.url.clone().expect("and its URL");
                prop_assert!(seen.contains(&(stage == Stage::Preflight, url)), "{:?}", f);
                prop_assert!(!f.assumed);
                for (n, v) in &f.set_headers {
                    if n.eq_ignore_ascii_case("access-control-allow-origin") {
                        prop_assert!(v != "*" && v != "null", "{:?}", f);
                    }
                }
            }
            if planned.complete {
                prop_assert!(planned.unobserved.is_empty());
            }
            prop_assert!(planned.learned.len() <= LEARN_BUDGET);
            for (i, a) in asked.iter().enumerate() {
                prop_assert!(matches!(a.2.as_str(), "GET" | "HEAD" | "OPTIONS"), "{:?}", a);
                prop_assert!(!asked[..i].iter().any(|b| (b.0 == Stage::Preflight, &b.1) == (a.0 == Stage::Preflight, &a.1)), "asked twice: {:?}", asked);
            }
        }
    }

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
