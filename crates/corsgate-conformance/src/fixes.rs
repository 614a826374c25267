//! Fixes that work: for every case the browser blocks, the remedies the
//! engine reports ([`corsgate_core::remedy::repair`] over the case's own
//! answers, the same list `corsgate check --json` prints as `fixes`) are
//! applied to the case's answers on the loopback servers, and the case runs
//! again in the real browser, where it must now pass. The same fixed answers
//! are also tried from a second page origin, where they must still refuse
//! whatever the original answers refused.
//!
//! The servers stay the same for every phase (same URLs, same origins); a
//! [`Switch`] turns the remedied answers on and off, and every phase runs in
//! fresh browser sessions, so no preflight cache carries over.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use corsgate_core::remedy::{repair, Remedy, Side};
use corsgate_core::{
    Browser, Initiator, Mode, Profile, Refusal, Request, Response, Stage, Verdict,
};

use crate::case::{route, Api, Case, Route, Site, Wire};
use crate::judge::Outcome;
use crate::page;
use crate::run::{parse_outcome, run_jobs};
use crate::server::{Patch, Servers};
use crate::webdriver::Driver;

/// What the engine proposes for one blocked (case, API).
#[derive(Debug, Clone)]
pub enum Plan {
    /// Server-side remedies, in order; with all of them the engine lets the request pass.
    Server(Vec<Remedy>),
    /// The repair loop ended on a client-side remedy (the last one); the
    /// request itself must change. `code` is the refusal left after the
    /// server-side remedies before it.
    Client {
        /// Every remedy, the client-side one last.
        remedies: Vec<Remedy>,
        /// The refusal code the client-side remedy answers.
        code: &'static str,
    },
    /// The repair loop gave up without a client-side remedy, or the engine
    /// does not refuse the request at all: a bug either way.
    Stuck(Vec<Remedy>),
}

fn answer(
    site: &Site,
    case: &Case,
    api: Api,
    url: &str,
    preflight: bool,
    origin: Option<&[u8]>,
) -> Response {
    let Some(r) = route(url, &site.run).filter(|r| r.id == case.id && r.api == api) else {
        return Response::new(599);
    };
    let wire = case.respond(site, api, r.hop, preflight, origin);
    let mut resp = Response::new(wire.status);
    for (n, v) in wire.headers {
        resp = resp.header(n, v);
    }
    resp
}

/// The engine's remedies for a case and API (the request must build).
pub fn plan(profile: Profile, site: &Site, case: &Case, api: Api) -> Plan {
    let Ok(request) = case.engine_request(site, api) else {
        return Plan::Stuck(Vec::new());
    };
    let fixed = repair(profile, &request, |out| {
        let origin = out.headers.get("origin").map(|o| o.into_owned());
        answer(
            site,
            case,
            api,
            &out.url,
            out.stage == Stage::Preflight,
            origin.as_deref(),
        )
    });
    if fixed.passes {
        return if fixed.remedies.is_empty() {
            Plan::Stuck(fixed.remedies)
        } else {
            Plan::Server(fixed.remedies)
        };
    }
    if fixed
        .remedies
        .last()
        .is_some_and(|r| r.side == Side::Client)
    {
        let code =
            final_refusal(profile, site, case, api, &fixed.remedies).map_or("none", |r| r.code());
        return Plan::Client {
            remedies: fixed.remedies,
            code,
        };
    }
    Plan::Stuck(fixed.remedies)
}

/// The refusal the engine is left with once the server-side `remedies` are applied.
pub fn final_refusal(
    profile: Profile,
    site: &Site,
    case: &Case,
    api: Api,
    remedies: &[Remedy],
) -> Option<Refusal> {
    let request = case.engine_request(site, api).ok()?;
    let mut browser = Browser::new(profile);
    let verdict = browser
        .run(request, |out| {
            let origin = out.headers.get("origin").map(|o| o.into_owned());
            let mut resp = answer(
                site,
                case,
                api,
                &out.url,
                out.stage == Stage::Preflight,
                origin.as_deref(),
            );
            for r in remedies.iter().filter(|r| r.applies_to(out)) {
                r.apply(&mut resp);
            }
            Ok::<_, std::convert::Infallible>(resp)
        })
        .ok()?;
    verdict.refusal().cloned()
}

/// What the engine predicts for a case and API made from a page on
/// `page_origin`, with `remedies` (by hop and stage, as in [`Table`]) applied
/// to the case's answers: the outcome and, for a repeated case, the first
/// run's (one browser, so the second run meets the first one's preflight cache).
pub fn predict(
    profile: Profile,
    site: &Site,
    case: &Case,
    api: Api,
    page_origin: &str,
    table: Option<&Table>,
) -> Seen {
    let mut b = Request::builder(page_origin, case.start_url(site, api))
        .method(case.request.method.as_str())
        .credentials(case.credentials(api))
        .mode(case.mode(api))
        .headers_form(case.headers_form(api))
        .initiator(if api == Api::Xhr {
            Initiator::Xhr
        } else {
            Initiator::Fetch
        });
    for (n, v) in case.script_headers(api) {
        b = b.header(n, v);
    }
    let Ok(request) = b.build() else {
        return Seen {
            outcome: Outcome::Threw,
            first: case.repeat.then_some(Outcome::Threw),
            error: None,
        };
    };
    let mut browser = Browser::new(profile);
    let mut outcomes = Vec::new();
    for _ in 0..if case.repeat { 2 } else { 1 } {
        let verdict = browser.run(request.clone(), |out| {
            let origin = out.headers.get("origin").map(|o| o.into_owned());
            let preflight = out.stage == Stage::Preflight;
            let mut resp = answer(site, case, api, &out.url, preflight, origin.as_deref());
            let hop = route(&out.url, &site.run).map(|r| r.hop);
            if let (Some(t), Some(hop)) = (table, hop) {
                for r in t.get(&(case.id, api, hop, preflight)).into_iter().flatten() {
                    r.apply(&mut resp);
                }
            }
            Ok::<_, std::convert::Infallible>(resp)
        });
        let verdict: Verdict = match verdict {
            Ok(v) => v,
            Err(never) => match never {},
        };
        outcomes.push(Outcome::of(&verdict));
    }
    let outcome = outcomes.pop().unwrap_or(Outcome::Threw);
    Seen {
        outcome,
        first: outcomes.pop(),
        error: None,
    }
}

/// Remedies by (case, API, hop, preflight).
pub type Table = HashMap<(u32, Api, usize, bool), Vec<Remedy>>;

/// Files each server-side remedy under the route of its URL. A remedy whose
/// URL is not a case URL of this run is returned as an error.
pub fn table(site: &Site, fixes: &BTreeMap<(u32, Api), Vec<Remedy>>) -> Result<Table, String> {
    let mut t = Table::new();
    for (&(id, api), remedies) in fixes {
        for r in remedies.iter().filter(|r| r.side == Side::Server) {
            let at = route(&r.url, &site.run)
                .filter(|at| at.id == id && at.api == api)
                .ok_or_else(|| {
                    format!(
                        "case {id} {}: remedy for a foreign URL {}",
                        api.name(),
                        r.url
                    )
                })?;
            t.entry((id, api, at.hop, r.stage == Stage::Preflight))
                .or_default()
                .push(r.clone());
        }
    }
    Ok(t)
}

/// Applies remedies, in order, to an answer on the wire.
pub fn apply(remedies: &[Remedy], wire: Wire) -> Wire {
    let mut resp = Response::new(wire.status);
    for (n, v) in &wire.headers {
        resp = resp.header(n.clone(), v);
    }
    for r in remedies {
        r.apply(&mut resp);
    }
    Wire {
        status: resp.status,
        headers: resp
            .headers
            .iter()
            .map(|(n, v)| (n.to_owned(), v.to_vec()))
            .collect(),
        body: wire.body,
    }
}

/// Whether the servers answer with the remedies applied.
#[derive(Debug, Default)]
pub struct Switch {
    on: AtomicBool,
    table: RwLock<Table>,
}

impl Switch {
    /// Installs the remedies (off until [`Switch::set`]).
    pub fn install(&self, table: Table) {
        *self.table.write().unwrap_or_else(PoisonError::into_inner) = table;
    }
    /// Turns the remedied answers on or off.
    pub fn set(&self, on: bool) {
        self.on.store(on, Ordering::SeqCst);
    }
    /// The server patch that consults this switch.
    pub fn patch(self: &Arc<Self>) -> Patch {
        let me = self.clone();
        Arc::new(move |r: Route, preflight: bool, wire: Wire| {
            if !me.on.load(Ordering::SeqCst) {
                return wire;
            }
            let t = me.table.read().unwrap_or_else(PoisonError::into_inner);
            match t.get(&(r.id, r.api, r.hop, preflight)) {
                Some(remedies) => apply(remedies, wire),
                None => wire,
            }
        })
    }
}

/// What one (case, API) did in the browser in one phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The outcome (the second run's, for a repeated case).
    pub outcome: Outcome,
    /// The first run's outcome, for a repeated case.
    pub first: Option<Outcome>,
    /// The error script saw, if any.
    pub error: Option<String>,
}

impl Seen {
    /// Whether either run was blocked.
    pub fn blocked(&self) -> bool {
        self.outcome == Outcome::Blocked || self.first == Some(Outcome::Blocked)
    }
    /// Whether every run came out as `api` would without CORS trouble:
    /// readable, or for `no-cors` opaque (readable when it stays on the
    /// page's origin).
    pub fn passes(&self, case: &Case, api: Api) -> bool {
        let ok = |o: &Outcome| match case.mode(api) {
            Mode::NoCors => matches!(o, Outcome::Opaque | Outcome::Allowed { .. }),
            _ => matches!(o, Outcome::Allowed { .. }),
        };
        ok(&self.outcome) && self.first.iter().all(ok)
    }
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(first) = &self.first {
            write!(f, "first {first}, then ")?;
        }
        write!(f, "{}", self.outcome)?;
        if let Some(e) = &self.error {
            write!(f, " ({e})")?;
        }
        Ok(())
    }
}

/// Runs `pairs` in browsers that `start` opens (Chromium or Firefox) from a
/// page on `page_origin`, as [`run_jobs`] does: the single cases in one
/// session, the repeated ones at most `repeat_session` jobs per fresh session.
#[allow(clippy::too_many_arguments)]
pub fn run_pairs(
    start: &dyn Fn() -> Result<Driver, String>,
    servers: &Servers,
    cases: &[Case],
    pairs: &[(u32, Api)],
    page_origin: &str,
    batch: usize,
    width: usize,
    repeat_session: usize,
) -> Result<BTreeMap<(u32, Api), Seen>, String> {
    let (results, _) = run_jobs(
        start,
        servers.site(),
        cases,
        pairs,
        page_origin,
        batch,
        width,
        repeat_session,
    )?;
    let mut out = BTreeMap::new();
    for &(id, api) in pairs {
        let case = &cases[id as usize];
        let r = results
            .get(&page::key(case, api))
            .ok_or_else(|| format!("no result for case {id} {}", api.name()))?;
        let bad = || format!("bad result for case {id}: {r}");
        let outcome = parse_outcome(r).ok_or_else(bad)?;
        let first = match r.get("first") {
            Some(f) => Some(parse_outcome(f).ok_or_else(bad)?),
            None => None,
        };
        out.insert(
            (id, api),
            Seen {
                outcome,
                first,
                error: r["error"].as_str().map(str::to_owned),
            },
        );
    }
    Ok(out)
}

/// A remedy in one line, for reports.
pub fn show(r: &Remedy) -> String {
    let mut parts = Vec::new();
    if r.side == Side::Client {
        parts.push("client".to_owned());
    }
    parts.push(format!("{:?}", r.stage).to_lowercase());
    if let Some(s) = r.status {
        parts.push(format!("status {s}"));
    }
    for (n, v) in &r.set_headers {
        parts.push(format!("set {n}: {v}"));
    }
    for n in &r.remove_headers {
        parts.push(format!("remove {n}"));
    }
    if !r.vary.is_empty() {
        parts.push(format!("vary {}", r.vary.join(", ")));
    }
    let path = r.url.find("/c/").map_or(r.url.as_str(), |i| &r.url[i..]);
    format!("[{} @ {path}]", parts.join("; "))
}
