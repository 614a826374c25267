//! Running the matrix: Chromium first (through the page, in batches), then
//! every other judge over the same cases, and the comparison.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::case::{Api, Case, Site};
use crate::judge::{trace_line, Judge, Observation, Outcome};
use crate::page;
use crate::server::Servers;
use crate::webdriver::Driver;

pub use crate::case::BROWSER_APIS;

/// What Chromium did with every case.
#[derive(Debug)]
pub struct ChromiumRun {
    /// `chromium --version` (or the session's browserVersion).
    pub version: String,
    /// Observations by (case id, API).
    pub observed: BTreeMap<(u32, Api), Observation>,
    /// The error text script saw, for blocked or thrown cases (for reports).
    pub errors: BTreeMap<(u32, Api), String>,
    /// The browser's console messages, in order ([`crate::webdriver::Driver::console`]).
    pub console: Vec<String>,
    /// Wall time of the browser part.
    pub elapsed: Duration,
    /// How many browser sessions (fresh profiles) the run used.
    pub sessions: usize,
}

/// At most this many repeated jobs share one browser (see [`run_chromium`]).
pub const REPEAT_SESSION: usize = 300;

/// Options of a Chromium run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Path of chromedriver.
    pub chromedriver: String,
    /// Path of chromium.
    pub chromium: String,
    /// Jobs per executeAsyncScript call.
    pub batch: usize,
    /// Requests in flight in the page.
    pub width: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            chromedriver: "/usr/bin/chromedriver".into(),
            chromium: "/usr/bin/chromium".into(),
            batch: 400,
            width: 12,
        }
    }
}

/// `chromium --version`, trimmed.
pub fn chromium_version(chromium: &str) -> Result<String, String> {
    let out = std::process::Command::new(chromium)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run {chromium} --version: {e} (install Debian's chromium)"))?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if v.is_empty() {
        return Err(format!("{chromium} --version printed nothing"));
    }
    Ok(v)
}

/// Runs every case through `fetch()` and XHR in headless Chromium.
pub fn run_chromium(
    servers: &Servers,
    cases: &Arc<Vec<Case>>,
    opts: &Options,
) -> Result<ChromiumRun, String> {
    let start = Instant::now();
    let version = chromium_version(&opts.chromium)?;
    let pages = run_pages(
        &|| Driver::start(&opts.chromedriver, &opts.chromium),
        servers,
        cases,
        opts.batch,
        opts.width,
        REPEAT_SESSION,
    )?;
    let version = if version.is_empty() {
        driver_version_fallback()
    } else {
        version
    };
    Ok(pages.into_run(version, start.elapsed()))
}

/// What a browser did with every case, before the version and timing are added.
#[derive(Debug, Default)]
pub struct Pages {
    /// Observations by (case id, API).
    pub observed: BTreeMap<(u32, Api), Observation>,
    /// The error text script saw, for blocked or thrown cases.
    pub errors: BTreeMap<(u32, Api), String>,
    /// The browsers' console messages, in order.
    pub console: Vec<String>,
    /// How many browser sessions (fresh profiles) the run used.
    pub sessions: usize,
}

impl Pages {
    /// The run these pages make, with the browser's version and the wall
    /// time of the browser part.
    pub fn into_run(self, version: String, elapsed: Duration) -> ChromiumRun {
        ChromiumRun {
            version,
            observed: self.observed,
            errors: self.errors,
            console: self.console,
            elapsed,
            sessions: self.sessions,
        }
    }
}

/// Runs every case through `fetch()` and XHR in browsers that `start` opens
/// (Chromium or Firefox: any WebDriver session): the single cases in one
/// session, the repeated ones `repeat_session` jobs per fresh session; then
/// reads the servers' logs.
pub fn run_pages(
    start: &dyn Fn() -> Result<Driver, String>,
    servers: &Servers,
    cases: &Arc<Vec<Case>>,
    batch: usize,
    width: usize,
    repeat_session: usize,
) -> Result<Pages, String> {
    let site = servers.site();
    let pairs: Vec<(u32, Api)> = cases
        .iter()
        .flat_map(|c| BROWSER_APIS.map(|api| (c.id, api)))
        .collect();
    let (results, sessions_run, console) = run_jobs_with_console(
        start,
        site,
        cases,
        &pairs,
        &site.page,
        batch,
        width,
        repeat_session,
    )?;
    let mut observed = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for case in cases.iter() {
        for api in BROWSER_APIS {
            let r = results
                .get(&page::key(case, api))
                .ok_or_else(|| format!("no result for case {} {}", case.id, api.name()))?;
            let outcome =
                parse_outcome(r).ok_or_else(|| format!("bad result for case {}: {r}", case.id))?;
            let first = match r.get("first") {
                Some(f) => Some(
                    parse_outcome(f)
                        .ok_or_else(|| format!("bad first result for case {}: {r}", case.id))?,
                ),
                None => None,
            };
            if let Some(e) = r["error"].as_str() {
                errors.insert((case.id, api), e.to_owned());
            }
            let log = servers.requests(case.id, api);
            observed.insert(
                (case.id, api),
                Observation {
                    outcome,
                    first,
                    preflights: log.iter().filter(|l| l.preflight).count(),
                    requests: log.iter().filter(|l| !l.preflight).count(),
                    trace: log
                        .iter()
                        .map(|l| {
                            trace_line(
                                l.hop,
                                l.preflight,
                                &l.method,
                                l.origin.as_deref(),
                                l.request_headers.as_deref(),
                            )
                        })
                        .collect(),
                },
            );
        }
    }
    Ok(Pages {
        observed,
        errors,
        console,
        sessions: sessions_run,
    })
}

/// Runs the (case, API) `pairs` in browsers that `start` opens, from a page
/// on `page_origin`: the single cases in one session, the repeated ones at
/// most `repeat_session` jobs per fresh session (their first run's
/// preflight-cache entries must live until the second run: Chromium's cache
/// holds 1024 entries and evicts at random when full). Returns the page's
/// results by [`page::key`] and how many sessions it used.
#[allow(clippy::too_many_arguments)]
pub fn run_jobs(
    start: &dyn Fn() -> Result<Driver, String>,
    site: &Site,
    cases: &[Case],
    pairs: &[(u32, Api)],
    page_origin: &str,
    batch: usize,
    width: usize,
    repeat_session: usize,
) -> Result<(BTreeMap<String, Value>, usize), String> {
    run_jobs_with_console(
        start,
        site,
        cases,
        pairs,
        page_origin,
        batch,
        width,
        repeat_session,
    )
    .map(|(results, sessions, _)| (results, sessions))
}

/// What [`run_jobs_with_console`] returns: the page's results by
/// [`page::key`], the number of sessions, and the console messages.
pub type JobsRun = (BTreeMap<String, Value>, usize, Vec<String>);

/// [`run_jobs`], also returning the console messages the sessions logged
/// (read after every batch, so none is lost when a session ends).
#[allow(clippy::too_many_arguments)]
pub fn run_jobs_with_console(
    start: &dyn Fn() -> Result<Driver, String>,
    site: &Site,
    cases: &[Case],
    pairs: &[(u32, Api)],
    page_origin: &str,
    batch: usize,
    width: usize,
    repeat_session: usize,
) -> Result<JobsRun, String> {
    let job = |&(id, api): &(u32, Api)| page::job(site, &cases[id as usize], api);
    let (repeated, single): (Vec<_>, Vec<_>) =
        pairs.iter().partition(|(id, _)| cases[*id as usize].repeat);
    let mut sessions: Vec<Vec<Value>> = vec![single.iter().map(job).collect()];
    for chunk in repeated.chunks(repeat_session.max(1)) {
        sessions.push(chunk.iter().map(job).collect());
    }
    let mut results: BTreeMap<String, Value> = BTreeMap::new();
    let mut console = Vec::new();
    let mut sessions_run = 0;
    for jobs in sessions.iter().filter(|j| !j.is_empty()) {
        let driver = start()?;
        driver.navigate(&format!("{page_origin}/"))?;
        // The first read starts the recording where one is needed.
        console.extend(driver.console()?);
        sessions_run += 1;
        for chunk in jobs.chunks(batch.max(1)) {
            let v = driver.execute_async(
                page::RUNNER,
                vec![Value::Array(chunk.to_vec()), Value::from(width)],
            )?;
            let Value::Object(map) = v else {
                return Err(format!("the page returned {v}"));
            };
            if let Some(e) = map.get("error") {
                return Err(format!("the page script failed: {e}"));
            }
            results.extend(map);
            console.extend(driver.console()?);
        }
        // Messages still on their way from the network stack.
        std::thread::sleep(Duration::from_millis(300));
        console.extend(driver.console()?);
    }
    Ok((results, sessions_run, console))
}

/// A result of the page script as an [`Outcome`].
pub fn parse_outcome(r: &Value) -> Option<Outcome> {
    Some(match r["kind"].as_str()? {
        "threw" => Outcome::Threw,
        "blocked" => Outcome::Blocked,
        "opaque" => Outcome::Opaque,
        "allowed" => Outcome::Allowed {
            status: u16::try_from(r["status"].as_u64()?).ok()?,
            readable: r["headers"]
                .as_array()?
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
        },
        _ => return None,
    })
}

fn driver_version_fallback() -> String {
    "unknown".into()
}

/// One case on which two judges disagree.
#[derive(Debug, Clone)]
pub struct Disagreement {
    /// The case id.
    pub id: u32,
    /// The API.
    pub api: Api,
    /// What the reference (Chromium) saw.
    pub expected: Observation,
    /// What the judge said (or its error).
    pub got: Result<Observation, String>,
}

/// The result of running one judge over the matrix.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    /// How many (case, API) pairs the judge answered.
    pub compared: usize,
    /// Where it departed from the reference.
    pub disagreements: Vec<Disagreement>,
}

/// Runs `judge` over every (case, API) it covers and lists where it departs
/// from `reference`.
pub fn compare(
    judge: &mut dyn Judge,
    site: &Site,
    cases: &[Case],
    reference: &BTreeMap<(u32, Api), Observation>,
) -> Comparison {
    let mut out = Vec::new();
    let mut compared = 0;
    for case in cases {
        if !judge.covers(case) {
            continue;
        }
        for &api in judge.apis() {
            let Some(expected) = reference.get(&(case.id, api)) else {
                continue;
            };
            compared += 1;
            let got = judge.judge(site, case, api);
            if got.as_ref() != Ok(expected) {
                out.push(Disagreement {
                    id: case.id,
                    api,
                    expected: expected.clone(),
                    got,
                });
            }
        }
    }
    Comparison {
        compared,
        disagreements: out,
    }
}

/// The failure text of a conformance test: the first `shown` disagreements of
/// the engine and of `corsgate check` with `browser`, each with the case, both
/// observations, the browser's own error, and what reached the servers.
pub fn disagreement_report(
    browser: &str,
    cases: &[Case],
    errors: &BTreeMap<(u32, Api), String>,
    servers: &Servers,
    engine: &[Disagreement],
    check: &[Disagreement],
    shown: usize,
) -> String {
    let mut report = String::new();
    let judged = engine
        .iter()
        .map(|d| ("engine", d))
        .chain(check.iter().map(|d| ("corsgate check", d)));
    for (who, d) in judged.take(shown) {
        let Some(case) = cases.get(d.id as usize) else {
            continue;
        };
        report.push_str(&format!(
            "\n{case}\n  {}: {browser}: {}{}\n  {}: {who}: {}\n",
            d.api.name(),
            d.expected,
            errors
                .get(&(d.id, d.api))
                .map(|e| format!(" ({e})"))
                .unwrap_or_default(),
            d.api.name(),
            match &d.got {
                Ok(o) => o.to_string(),
                Err(e) => format!("error: {e}"),
            }
        ));
        let api = if who == "engine" { d.api } else { Api::Check };
        for l in servers.requests(d.id, api) {
            report.push_str(&format!("    server saw: {l:?}\n"));
        }
    }
    report
}
