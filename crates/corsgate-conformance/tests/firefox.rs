//! Conformance against real Firefox: every case of the seeded matrix, through
//! `fetch()` and `XMLHttpRequest`, must come out exactly as the engine's
//! `firefox` profile predicts: same outcome, same readable headers, same
//! requests reaching the servers. Needs Debian's `firefox-esr`
//! (`/usr/bin/firefox-esr`, or `CORSGATE_FIREFOX`) and geckodriver
//! (`cargo install geckodriver --locked`: `$CARGO_HOME/bin/geckodriver`, or
//! `CORSGATE_GECKODRIVER`) and fails, never skips, without them.
//!
//! `CORSGATE_CASES=N` runs another number of cases while developing.

use std::sync::Arc;
use std::time::Instant;

use corsgate_conformance::gecko::{run_firefox, FirefoxOptions};
use corsgate_conformance::judge::{Engine, Judge};
use corsgate_conformance::matrix::{generate, SEED};
use corsgate_conformance::run::compare;
use corsgate_conformance::server::Servers;
use corsgate_core::Profile;

/// The size of the committed matrix (the same as the Chromium test's).
const CASES: u32 = 2400;

#[test]
fn firefox_agrees_with_the_engine() {
    let started = Instant::now();
    let count = std::env::var("CORSGATE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    let cases = Arc::new(generate(SEED, count));
    let servers = Servers::start(cases.clone()).expect("loopback servers start");
    let site = servers.site().clone();
    let mut opts = FirefoxOptions::default();
    if let Ok(p) = std::env::var("CORSGATE_FIREFOX") {
        opts.firefox = p;
    }
    if let Ok(p) = std::env::var("CORSGATE_GECKODRIVER") {
        opts.geckodriver = p;
    }
    let firefox = run_firefox(&servers, &cases, &opts)
        .unwrap_or_else(|e| panic!("Firefox conformance run failed: {e}"));
    let mut engine = Engine(Profile::Firefox);
    let bad = compare(&mut engine, &site, &cases, &firefox.observed);
    let standard = compare(
        &mut Engine(Profile::Standard),
        &site,
        &cases,
        &firefox.observed,
    );
    let total = firefox.observed.len();
    eprintln!(
        "{} cases x fetch/XHR = {total} requests against {} in {:.1} s ({:.1} s in all); {}: {} of {total} agree; engine:standard differs on {}",
        cases.len(),
        firefox.version,
        firefox.elapsed.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        engine.name(),
        total - bad.len(),
        standard.len(),
    );
    let mut report = String::new();
    let shown = std::env::var("CORSGATE_SHOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    for d in bad.iter().take(shown) {
        let case = &cases[d.id as usize];
        report.push_str(&format!(
            "\n{case}\n  {}: firefox: {}{}\n  {}: engine:  {}\n",
            d.api.name(),
            d.expected,
            firefox
                .errors
                .get(&(d.id, d.api))
                .map(|e| format!(" ({e})"))
                .unwrap_or_default(),
            d.api.name(),
            match &d.got {
                Ok(o) => o.to_string(),
                Err(e) => format!("error: {e}"),
            }
        ));
        for l in servers.requests(d.id, d.api) {
            report.push_str(&format!("    server saw: {l:?}\n"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {total} requests disagree between Firefox and the engine's firefox profile (first {shown} shown):{report}",
        bad.len()
    );
}
