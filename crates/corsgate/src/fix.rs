//! Structured fixes as `corsgate` prints them: the engine's [`Remedy`] (which
//! response, headers to set with exact values, `Vary` additions, headers to
//! remove, status to change, the sentence) plus a snippet for the likely
//! server, and the plan from the engine's repair loop over the answers that
//! were really received.

use std::collections::HashMap;

use corsgate_core::remedy::{repair, Remedy, Side};
use corsgate_core::{Profile, Request, Response, Stage};
use serde::Serialize;

use crate::check::Exchange;
use crate::snippets::{self, ServerKind};

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
    /// Whether it concerns a response corsgate never received (the browser
    /// would not have sent that request yet): it then assumes an answer with
    /// no CORS headers at all.
    pub assumed: bool,
    /// The change for the likely server, when it can be told.
    pub snippet: Option<Snippet>,
}

impl Fix {
    /// Wraps a remedy, with a snippet for `server`.
    pub fn new(remedy: Remedy, server: ServerKind, assumed: bool) -> Fix {
        let snippet = if remedy.side == Side::Server {
            snippets::for_fix(server, &remedy)
        } else {
            None
        };
        Fix {
            remedy,
            assumed,
            snippet,
        }
    }

    /// Only the client can fix it.
    pub fn client_side(&self) -> bool {
        self.remedy.side == Side::Client
    }
}

/// The fixes to apply, in order, until the request would pass in the model,
/// replaying the answers received; and whether the request then passes.
pub fn plan(
    request: &Request,
    profile: Profile,
    exchanges: &[Exchange],
    server: ServerKind,
) -> (Vec<Fix>, bool) {
    let mut canned: HashMap<(bool, String), Response> = HashMap::new();
    for e in exchanges {
        canned
            .entry((e.stage == Stage::Preflight, e.url.clone()))
            .or_insert_with(|| e.response.clone());
    }
    let mut unseen: Vec<(bool, String)> = Vec::new();
    let outcome = repair(profile, request, |out| {
        let key = (out.stage == Stage::Preflight, out.url.clone());
        match canned.get(&key) {
            Some(r) => r.clone(),
            None => {
                if !unseen.contains(&key) {
                    unseen.push(key);
                }
                Response::new(if out.stage == Stage::Preflight {
                    204
                } else {
                    200
                })
            }
        }
    });
    let fixes = outcome
        .remedies
        .into_iter()
        .map(|r| {
            let assumed = unseen.contains(&(r.stage == Stage::Preflight, r.url.clone()));
            Fix::new(r, server, assumed)
        })
        .collect();
    (fixes, outcome.passes)
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
        let (fixes, passes) = plan(
            &req,
            Profile::Chromium,
            &[ex(Stage::Preflight, url, pre)],
            ServerKind::Nginx,
        );
        assert!(passes, "{fixes:#?}");
        assert!(fixes.iter().any(|f| f.remedy.status == Some(204)));
        assert!(fixes
            .iter()
            .filter(|f| f.remedy.stage == Stage::Preflight)
            .all(|f| !f.assumed));
        let actual: Vec<&Fix> = fixes
            .iter()
            .filter(|f| f.remedy.stage != Stage::Preflight)
            .collect();
        assert!(!actual.is_empty() && actual.iter().all(|f| f.assumed));
        for f in &fixes {
            assert!(f.remedy.set_headers.iter().all(|(_, v)| v != "*"));
            assert!(
                f.snippet.as_ref().unwrap().text.contains("add_header")
                    || f.remedy.set_headers.is_empty()
            );
        }
    }
}
