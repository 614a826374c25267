//! Conformance against real Firefox: every case of the seeded matrix, through
//! `fetch()` and `XMLHttpRequest`, must come out exactly as the engine's
//! `firefox` profile predicts (same outcome, same readable headers, same
//! requests reaching the servers), and as `corsgate check --browser firefox
//! --json` reports for the `fetch()` cases it covers. Needs Debian's
//! `firefox-esr` (`/usr/bin/firefox-esr`, or `CORSGATE_FIREFOX`) and
//! geckodriver (`cargo install geckodriver --locked`:
//! `$CARGO_HOME/bin/geckodriver`, or `CORSGATE_GECKODRIVER`) and fails,
//! never skips, without them.
//!
//! `CORSGATE_CASES=N` and `CORSGATE_SEED=<hex>` pick another matrix while
//! developing; `CORSGATE_SHOW=N` prints more disagreements;
//! `CORSGATE_WRITE_DOCS=1` rewrites the Firefox section of
//! `docs/conformance.md` from a passing run.

use std::sync::Arc;
use std::time::Instant;

use corsgate_conformance::check_cli::{built_binary, CheckCli};
use corsgate_conformance::firefox_report::{render, splice, FirefoxReport};
use corsgate_conformance::gecko::{
    dns_dependent, geckodriver_version, run_firefox, FirefoxOptions,
};
use corsgate_conformance::judge::{Engine, FormBlind, Judge};
use corsgate_conformance::matrix::{generate, seed_and_count_from_env, SEED};
use corsgate_conformance::run::{compare, disagreement_report};
use corsgate_conformance::server::Servers;
use corsgate_core::Profile;

/// The size of the committed matrix (the same as the Chromium test's).
const CASES: u32 = 4000;

#[test]
fn firefox_agrees_with_the_engine() {
    let started = Instant::now();
    let (seed, count) = seed_and_count_from_env(CASES);
    let cases = Arc::new(generate(seed, count));
    let servers = Servers::start(cases.clone()).expect("loopback servers start");
    let site = servers.site().clone();
    let mut opts = FirefoxOptions::default();
    if let Ok(p) = std::env::var("CORSGATE_FIREFOX") {
        opts.firefox = p;
    }
    if let Ok(p) = std::env::var("CORSGATE_GECKODRIVER") {
        opts.geckodriver = p;
    }
    if let Some(w) = std::env::var("CORSGATE_WIDTH")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        opts.width = w;
    }
    let firefox = run_firefox(&servers, &cases, &opts)
        .unwrap_or_else(|e| panic!("Firefox conformance run failed: {e}"));
    let mut engine = Engine(Profile::Firefox);
    let (dns, bad): (Vec<_>, Vec<_>) = compare(&mut engine, &site, &cases, &firefox.observed)
        .disagreements
        .into_iter()
        .partition(|d| {
            d.got
                .as_ref()
                .is_ok_and(|got| dns_dependent(&cases[d.id as usize], &d.expected, got))
        });
    let standard = compare(
        &mut Engine(Profile::Standard),
        &site,
        &cases,
        &firefox.observed,
    )
    .disagreements;
    // The third judge: `corsgate check --browser firefox --json`.
    let check = {
        let binary = built_binary();
        let mut judge = CheckCli {
            binary,
            servers: &servers,
            browser: "firefox",
        };
        compare(&mut judge, &site, &cases, &firefox.observed)
    };
    let total = firefox.observed.len();
    // The figure before the request model knew the form (every `fetch()`
    // judged as a `Headers` object): what the form dimension decides.
    let blind = compare(
        &mut FormBlind(Profile::Firefox),
        &site,
        &cases,
        &firefox.observed,
    )
    .disagreements
    .len();
    eprintln!(
        "engine:firefox ignoring the headers form: {} of {total} agree",
        total - blind
    );
    eprintln!(
        "{} cases x fetch/XHR = {total} requests against {} in {:.1} s ({} sessions; {:.1} s in all); {}: {} of {total} agree exactly, {} tolerated (DNS-dependent cache reuse on 127.0.0.1); engine:standard differs on {}",
        cases.len(),
        firefox.version,
        firefox.elapsed.as_secs_f64(),
        firefox.sessions,
        started.elapsed().as_secs_f64(),
        engine.name(),
        total - bad.len() - dns.len(),
        dns.len(),
        standard.len(),
    );
    for d in &dns {
        eprintln!(
            "tolerated (Firefox's DNS-dependent preflight-cache reuse on 127.0.0.1): #{} {}",
            d.id,
            d.api.name()
        );
    }
    let check_bad = check.disagreements.clone();
    eprintln!(
        "corsgate check --browser firefox: {} of {} agree",
        check.compared - check.disagreements.len(),
        check.compared
    );
    // The console: the same first failure, and the same header or method named.
    let (console, console_report) = corsgate_conformance::console::check_run(
        corsgate_conformance::console::Family::Firefox,
        Profile::Firefox,
        &site,
        &cases,
        &firefox.observed,
        &firefox.console,
        "console_firefox.txt",
        40,
    );
    if !console_report.is_empty() {
        eprintln!("console differences (first 40):{console_report}");
    }
    if std::env::var_os("CORSGATE_WRITE_DOCS").is_some() && bad.is_empty() && seed == SEED {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/conformance.md");
        let gecko = geckodriver_version(&opts.geckodriver).unwrap_or_else(|e| e.to_string());
        let section = render(&FirefoxReport {
            cases: &cases,
            site: &site,
            firefox: &firefox,
            geckodriver: &gecko,
            disagreements: &bad,
            tolerated: &dns,
            standard: &standard,
            check: Some(&check),
            console: Some(&console),
            elapsed: started.elapsed(),
        });
        let old = std::fs::read_to_string(path).unwrap_or_default();
        std::fs::write(path, splice(&old, &section)).expect("write docs/conformance.md");
    }
    let shown = std::env::var("CORSGATE_SHOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let report = disagreement_report(
        "firefox",
        &cases,
        &firefox.errors,
        &servers,
        &bad,
        &check_bad,
        shown,
    );
    assert!(
        bad.is_empty() && check_bad.is_empty(),
        "{} of {total} requests disagree between Firefox and the engine's firefox profile, {} with `corsgate check --browser firefox` (first {shown} shown):{report}",
        bad.len(),
        check_bad.len()
    );
    assert!(
        console.misses.is_empty(),
        "{} blocked requests where Firefox's console names another failure (or header, method) than the engine (first 40 shown):{console_report}",
        console.misses.len()
    );
}
