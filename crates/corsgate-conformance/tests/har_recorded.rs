//! `corsgate har` on HARs recorded from real Chromium: the seeded matrix's
//! cases run with `fetch()` and XHR in a session whose DevTools network events
//! are recorded ([`har_record`]), the HAR written as DevTools-recording tools
//! write it, and once more with every header line doubled (as some recording
//! tools do). Every request Chromium refused for CORS (its own
//! `corsErrorStatus`, which the HAR does not carry) must be flagged as refused
//! by `corsgate har`, and no request Chromium let through may be flagged.
//!
//! `CORSGATE_CASES=N` / `CORSGATE_SEED=<hex>` pick another matrix.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;
use std::sync::Arc;

use corsgate_conformance::case::Api;
use corsgate_conformance::check_cli::built_binary;
use corsgate_conformance::har_record::{record, Recording};
use corsgate_conformance::matrix::{generate, seed_and_count_from_env};
use corsgate_conformance::page;
use corsgate_conformance::server::Servers;
use corsgate_conformance::webdriver::Driver;
use serde_json::Value;

/// Cases per run: enough for every class of refusal the matrix makes.
const CASES: u32 = 600;

fn chromium_paths() -> (String, String) {
    (
        std::env::var("CORSGATE_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into()),
        std::env::var("CORSGATE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    )
}

/// Runs the single (not repeated) cases in one recorded session.
fn recorded_session(seed: u64, count: u32) -> (Recording, usize) {
    let cases = Arc::new(generate(seed, count));
    let servers = Servers::start(cases.clone()).expect("loopback servers start");
    let site = servers.site().clone();
    let jobs: Vec<Value> = cases
        .iter()
        .filter(|c| !c.repeat)
        .flat_map(|c| [Api::Fetch, Api::Xhr].map(|api| page::job(&site, c, api)))
        .collect();
    let (driver_path, chromium) = chromium_paths();
    let driver = Driver::start_recording(&driver_path, &chromium)
        .unwrap_or_else(|e| panic!("cannot start Chromium: {e}"));
    driver
        .navigate(&format!("{}/", site.page))
        .expect("page loads");
    let mut log = driver.performance_log().expect("performance log");
    for chunk in jobs.chunks(100) {
        let v = driver
            .execute_async(
                page::RUNNER,
                vec![Value::Array(chunk.to_vec()), Value::from(8)],
            )
            .expect("page runs the jobs");
        assert!(v.get("error").is_none(), "page script failed: {v}");
        log.extend(driver.performance_log().expect("performance log"));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    log.extend(driver.performance_log().expect("performance log"));
    (record(&log), jobs.len())
}

/// Every header line of every entry written twice.
fn doubled(har: &Value) -> Value {
    let mut har = har.clone();
    if let Some(entries) = har["log"]["entries"].as_array_mut() {
        for e in entries {
            for side in ["request", "response"] {
                if let Some(h) = e[side]["headers"].as_array_mut() {
                    let copy = h.clone();
                    h.extend(copy);
                }
            }
        }
    }
    har
}

/// `corsgate har --json --all` on `har`: outcome by (method, url).
fn judge(har: &Value, name: &str) -> BTreeMap<(String, String), Vec<String>> {
    let path = std::env::temp_dir().join(format!(
        "corsgate-recorded-{}-{name}.har",
        std::process::id()
    ));
    std::fs::write(&path, serde_json::to_vec(har).unwrap()).unwrap();
    let out = std::process::Command::new(built_binary())
        .args(["har", "--json", "--all"])
        .arg(&path)
        .output()
        .expect("corsgate runs");
    let _ = std::fs::remove_file(&path);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "corsgate har --json: {e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut by_request: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for r in report["results"].as_array().expect("results") {
        by_request
            .entry((
                r["method"].as_str().unwrap_or_default().to_owned(),
                r["url"].as_str().unwrap_or_default().to_owned(),
            ))
            .or_default()
            .push(r["outcome"].as_str().unwrap_or_default().to_owned());
    }
    by_request
}

#[test]
fn har_flags_every_request_chromium_refused_in_a_recorded_har() {
    let (seed, count) = seed_and_count_from_env(CASES);
    let (recording, jobs) = recorded_session(seed, count);
    if let Ok(out) = std::env::var("CORSGATE_HAR_OUT") {
        std::fs::write(out, serde_json::to_vec_pretty(&recording.har).unwrap()).unwrap();
    }
    let refused: BTreeMap<(String, String), String> = recording
        .cors_errors
        .iter()
        .map(|f| ((f.method.clone(), f.url.clone()), f.error.clone()))
        .collect();
    assert!(
        refused.len() > jobs / 10,
        "the matrix should make Chromium refuse many requests; it refused {} of {jobs}",
        refused.len()
    );
    for (name, har) in [
        ("plain", recording.har.clone()),
        ("doubled", doubled(&recording.har)),
    ] {
        let judged = judge(&har, name);
        let mut missed = Vec::new();
        for ((method, url), error) in &refused {
            let outcomes = judged.get(&(method.clone(), url.clone()));
            if !outcomes.is_some_and(|o| o.iter().all(|x| x == "refused")) {
                missed.push(format!(
                    "{method} {url}: Chromium {error}, har {outcomes:?}"
                ));
            }
        }
        let mut wrongly = Vec::new();
        for ((method, url), outcomes) in &judged {
            if outcomes.iter().any(|o| o == "refused")
                && !refused.contains_key(&(method.clone(), url.clone()))
            {
                wrongly.push(format!("{method} {url}: {outcomes:?}"));
            }
        }
        eprintln!(
            "{name}: {} requests Chromium refused for CORS, {} flagged by har; {} flagged that Chromium let through",
            refused.len(),
            refused.len() - missed.len(),
            wrongly.len()
        );
        assert!(
            missed.is_empty(),
            "{name}: not flagged:\n{}",
            missed.join("\n")
        );
        assert!(
            wrongly.is_empty(),
            "{name}: flagged but allowed:\n{}",
            wrongly.join("\n")
        );
    }
}
