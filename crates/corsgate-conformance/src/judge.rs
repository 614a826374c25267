//! Judges: anything that can say what happens to a case's request. Chromium
//! (observed through the page and the server logs), the engine under a
//! profile, and later `corsgate check --json` all answer with the same
//! [`Observation`], so comparing them is one `==`.
//!
//! Adding a judge is implementing [`Judge`]; [`crate::check_cli`] is the
//! `corsgate check --json` one.

use std::fmt;

use corsgate_core::{Browser, Profile, Response, Stage, StepKind, Verdict};

use crate::case::{route, Api, Case, Site};

/// What script saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The API threw before sending anything (bad method or header).
    Threw,
    /// A network error: CORS refused the response (or a redirect, or the preflight).
    Blocked,
    /// `fetch()` in `no-cors` mode got an opaque response: no status, no headers.
    Opaque,
    /// Script can read the response.
    Allowed {
        /// The final status.
        status: u16,
        /// The response header names script can read, lower case, sorted, unique.
        readable: Vec<String>,
    },
}

impl Outcome {
    /// What script sees, by the engine's verdict.
    pub fn of(verdict: &Verdict) -> Outcome {
        if verdict.allowed {
            let mut readable = verdict.exposed_headers.clone();
            readable.sort();
            readable.dedup();
            Outcome::Allowed {
                status: verdict.status.unwrap_or(0),
                readable,
            }
        } else if verdict.reason.is_none() {
            // Not refused, not readable: the opaque response of no-cors.
            Outcome::Opaque
        } else {
            Outcome::Blocked
        }
    }
}

/// The outcome plus what reached the servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// What script saw (the second time, for a `repeat` case).
    pub outcome: Outcome,
    /// What script saw the first time, for a `repeat` case.
    pub first: Option<Outcome>,
    /// Preflights that reached a server.
    pub preflights: usize,
    /// Requests (not preflights) that reached a server, redirects included.
    pub requests: usize,
    /// Each request that reached a server, in order: `P<hop>` for a
    /// preflight or `<METHOD> <hop>`, with its `Origin` and
    /// `Access-Control-Request-Headers`.
    pub trace: Vec<String>,
}

/// One line of [`Observation::trace`].
pub fn trace_line(
    hop: usize,
    preflight: bool,
    method: &str,
    origin: Option<&str>,
    acrh: Option<&str>,
) -> String {
    let what = if preflight {
        format!("P{hop}")
    } else {
        format!("{method} {hop}")
    };
    format!(
        "{what} origin={} acrh={}",
        origin.unwrap_or("-"),
        acrh.unwrap_or("-")
    )
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(first) = &self.first {
            write!(f, "first {first}, then ")?;
        }
        write!(f, "{}", self.outcome)?;
        write!(
            f,
            " preflights={} requests={} trace=[{}]",
            self.preflights,
            self.requests,
            self.trace.join("; ")
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Threw => f.write_str("threw"),
            Outcome::Blocked => f.write_str("blocked"),
            Outcome::Opaque => f.write_str("opaque"),
            Outcome::Allowed { status, readable } => {
                write!(f, "allowed {status} readable=[{}]", readable.join(","))
            }
        }
    }
}

/// Something that predicts or observes a case's outcome.
pub trait Judge {
    /// Its name in reports, e.g. `engine:chromium`.
    fn name(&self) -> String;
    /// What happens when `api` makes the case's request.
    fn judge(&mut self, site: &Site, case: &Case, api: Api) -> Result<Observation, String>;
    /// Which of Chromium's APIs it is compared with.
    fn apis(&self) -> &'static [Api] {
        &crate::case::BROWSER_APIS
    }
    /// Whether it can judge this case at all.
    fn covers(&self, _case: &Case) -> bool {
        true
    }
}

/// The engine, under a profile, fed the same responses the servers send.
#[derive(Debug, Clone, Copy)]
pub struct Engine(pub Profile);

impl Judge for Engine {
    fn name(&self) -> String {
        format!("engine:{}", self.0)
    }

    fn judge(&mut self, site: &Site, case: &Case, api: Api) -> Result<Observation, String> {
        self.run(site, case, api).map(|(o, _)| o)
    }
}

impl Engine {
    /// The observation and the engine's full verdict of the last run
    /// (`None` when the request could not be built, i.e. script would have
    /// thrown). A `repeat` case runs twice through one browser, so the second
    /// run meets the first one's preflight cache.
    pub fn run(
        &self,
        site: &Site,
        case: &Case,
        api: Api,
    ) -> Result<(Observation, Option<Verdict>), String> {
        let Ok(request) = case.engine_request(site, api) else {
            let threw = Observation {
                outcome: Outcome::Threw,
                first: case.repeat.then_some(Outcome::Threw),
                preflights: 0,
                requests: 0,
                trace: Vec::new(),
            };
            return Ok((threw, None));
        };
        let mut browser = Browser::new(self.0);
        let mut trace = Vec::new();
        let mut runs = Vec::new();
        for _ in 0..if case.repeat { 2 } else { 1 } {
            let verdict = browser.run(request.clone(), |out| {
                let r = route(&out.url, &site.run)
                    .filter(|r| r.id == case.id && r.api == api)
                    .ok_or_else(|| {
                        format!("the engine requested a URL outside the case: {}", out.url)
                    })?;
                let origin = out.headers.get("origin").map(|o| o.into_owned());
                let preflight = out.stage == Stage::Preflight;
                trace.push(trace_line(
                    r.hop,
                    preflight,
                    &out.method,
                    origin.as_deref().map(String::from_utf8_lossy).as_deref(),
                    out.headers
                        .get_str("access-control-request-headers")
                        .as_deref(),
                ));
                let wire = case.respond(site, api, r.hop, preflight, origin.as_deref());
                let mut resp = Response::new(wire.status);
                for (n, v) in wire.headers {
                    resp = resp.header(n, v);
                }
                Ok::<_, String>(resp)
            })?;
            runs.push(verdict);
        }
        let preflights = runs.iter().map(|v| v.preflights).sum();
        let requests = runs
            .iter()
            .flat_map(|v| &v.steps)
            .filter(|s| s.kind == StepKind::RequestSent)
            .count();
        let last = runs.pop().ok_or("the engine made no run")?;
        let observation = Observation {
            outcome: Outcome::of(&last),
            first: runs.first().map(Outcome::of),
            preflights,
            requests,
            trace,
        };
        Ok((observation, Some(last)))
    }
}

/// The engine as it was before the request model knew the form: every
/// `fetch()` judged as if the page had passed a `Headers` object, whatever
/// form it used. Only for the figures (how many requests the form decides).
#[derive(Debug, Clone, Copy)]
pub struct FormBlind(pub Profile);

impl Judge for FormBlind {
    fn name(&self) -> String {
        format!("engine:{} (form ignored)", self.0)
    }

    fn judge(&mut self, site: &Site, case: &Case, api: Api) -> Result<Observation, String> {
        let mut blind = case.clone();
        blind.request.form = corsgate_core::HeadersForm::Headers;
        Engine(self.0).judge(site, &blind, api)
    }
}
