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

/// The APIs the page exercises.
pub const BROWSER_APIS: [Api; 2] = [Api::Fetch, Api::Xhr];

/// What Chromium did with every case.
#[derive(Debug)]
pub struct ChromiumRun {
    /// `chromium --version` (or the session's browserVersion).
    pub version: String,
    /// Observations by (case id, API).
    pub observed: BTreeMap<(u32, Api), Observation>,
    /// The error text script saw, for blocked or thrown cases (for reports).
    pub errors: BTreeMap<(u32, Api), String>,
    /// Wall time of the browser part.
    pub elapsed: Duration,
}

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
    let driver = Driver::start(&opts.chromedriver, &opts.chromium)?;
    let (observed, errors) = run_pages(&driver, servers, cases, opts.batch, opts.width)?;
    drop(driver);
    Ok(ChromiumRun {
        version: if version.is_empty() {
            driver_version_fallback()
        } else {
            version
        },
        observed,
        errors,
        elapsed: start.elapsed(),
    })
}

/// What a browser did: observations and the error text script saw, by (case id, API).
pub type Observed = (
    BTreeMap<(u32, Api), Observation>,
    BTreeMap<(u32, Api), String>,
);

/// Runs every case through `fetch()` and XHR in the session `driver` holds
/// (any browser): loads the page origin, then runs the jobs in batches of
/// `batch`, `width` in flight, and reads the servers' logs.
pub fn run_pages(
    driver: &Driver,
    servers: &Servers,
    cases: &Arc<Vec<Case>>,
    batch: usize,
    width: usize,
) -> Result<Observed, String> {
    let site = servers.site();
    driver.navigate(&format!("{}/", site.page))?;
    let jobs: Vec<(u32, Api, Value)> = cases
        .iter()
        .flat_map(|c| BROWSER_APIS.map(|api| (c.id, api, page::job(site, c, api))))
        .collect();
    let mut results: BTreeMap<String, Value> = BTreeMap::new();
    for chunk in jobs.chunks(batch.max(1)) {
        let batch: Vec<Value> = chunk.iter().map(|(_, _, j)| j.clone()).collect();
        let v =
            driver.execute_async(page::RUNNER, vec![Value::Array(batch), Value::from(width)])?;
        let Value::Object(map) = v else {
            return Err(format!("the page returned {v}"));
        };
        if let Some(e) = map.get("error") {
            return Err(format!("the page script failed: {e}"));
        }
        results.extend(map);
    }
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
    Ok((observed, errors))
}

fn parse_outcome(r: &Value) -> Option<Outcome> {
    Some(match r["kind"].as_str()? {
        "threw" => Outcome::Threw,
        "blocked" => Outcome::Blocked,
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

/// Runs `judge` over every (case, API) and lists where it departs from `reference`.
pub fn compare(
    judge: &mut dyn Judge,
    site: &Site,
    cases: &[Case],
    reference: &BTreeMap<(u32, Api), Observation>,
) -> Vec<Disagreement> {
    let mut out = Vec::new();
    for case in cases {
        for api in BROWSER_APIS {
            let Some(expected) = reference.get(&(case.id, api)) else {
                continue;
            };
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
    out
}
