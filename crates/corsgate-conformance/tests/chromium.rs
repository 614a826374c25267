//! Conformance against real Chromium: every case of the seeded matrix, through
//! `fetch()` and `XMLHttpRequest`, must come out exactly as the engine's
//! `chromium` profile predicts: same outcome, same readable headers, same
//! requests reaching the servers. Needs Debian's `chromium` and
//! `chromium-driver` (`/usr/bin/chromium`, `/usr/bin/chromedriver`, or
//! `CORSGATE_CHROMIUM` / `CORSGATE_CHROMEDRIVER`) and fails, never skips,
//! without them.
//!
//! `CORSGATE_CASES=N` runs another number of cases and `CORSGATE_SEED=<hex>`
//! another matrix, to hunt for new differences while developing;
//! `CORSGATE_WRITE_DOCS=1` rewrites `docs/conformance.md` from a passing run.

use std::sync::Arc;
use std::time::Instant;

use corsgate_conformance::check_cli::{built_binary, CheckCli};
use corsgate_conformance::judge::{Engine, FormBlind, Judge};
use corsgate_conformance::matrix::{generate, seed_and_count_from_env, SEED};
use corsgate_conformance::report::{render, ReportInput};
use corsgate_conformance::run::{compare, disagreement_report, run_chromium, Options};
use corsgate_conformance::server::Servers;
use corsgate_core::Profile;

/// The size of the committed matrix.
const CASES: u32 = 4000;

#[test]
fn chromium_agrees_with_the_engine() {
    let started = Instant::now();
    let (seed, count) = seed_and_count_from_env(CASES);
    let cases = Arc::new(generate(seed, count));
    let servers = Servers::start(cases.clone()).expect("loopback servers start");
    let site = servers.site().clone();
    let mut opts = Options::default();
    if let Ok(p) = std::env::var("CORSGATE_CHROMIUM") {
        opts.chromium = p;
    }
    if let Ok(p) = std::env::var("CORSGATE_CHROMEDRIVER") {
        opts.chromedriver = p;
    }
    let chromium = run_chromium(&servers, &cases, &opts)
        .unwrap_or_else(|e| panic!("Chromium conformance run failed: {e}"));
    let mut engine = Engine(Profile::Chromium);
    let bad = compare(&mut engine, &site, &cases, &chromium.observed).disagreements;
    let standard = compare(
        &mut Engine(Profile::Standard),
        &site,
        &cases,
        &chromium.observed,
    )
    .disagreements;
    // The third judge: `corsgate check --json`, against the same live servers.
    let check = {
        let binary = built_binary();
        let mut judge = CheckCli {
            browser: "chromium",
            binary,
            servers: &servers,
        };
        compare(&mut judge, &site, &cases, &chromium.observed)
    };
    let total = chromium.observed.len();
    // The figure before the request model knew the form (every `fetch()`
    // judged as a `Headers` object): what the form dimension decides.
    let blind = compare(
        &mut FormBlind(Profile::Chromium),
        &site,
        &cases,
        &chromium.observed,
    )
    .disagreements
    .len();
    eprintln!(
        "engine:chromium ignoring the headers form: {} of {total} agree",
        total - blind
    );
    eprintln!(
        "{} cases x fetch/XHR = {total} requests against {} in {:.1} s; {}: {} of {total} agree; engine:standard differs on {}",
        cases.len(),
        chromium.version,
        chromium.elapsed.as_secs_f64(),
        engine.name(),
        total - bad.len(),
        standard.len(),
    );
    let check_bad = check.disagreements.clone();
    eprintln!(
        "corsgate check: {} of {} agree",
        check.compared - check.disagreements.len(),
        check.compared
    );
    // The console: the same first failure, and the same header or method named.
    let (console, console_report) = corsgate_conformance::console::check_run(
        corsgate_conformance::console::Family::Chromium,
        Profile::Chromium,
        &site,
        &cases,
        &chromium.observed,
        &chromium.console,
        "console_chromium.txt",
        40,
    );
    if !console_report.is_empty() {
        eprintln!("console differences (first 40):{console_report}");
    }
    if std::env::var_os("CORSGATE_WRITE_DOCS").is_some() && bad.is_empty() && seed == SEED {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/conformance.md");
        let text = render(&ReportInput {
            cases: &cases,
            site: &site,
            chromium: &chromium,
            chromium_disagreements: &bad,
            standard: &standard,
            check: Some(&check),
            console: Some(&console),
            elapsed: started.elapsed(),
        });
        // Keep the Firefox section (tests/firefox.rs writes it).
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let text = corsgate_conformance::firefox_report::keep_section(&old, &text);
        // And the WebKit section (tests/webkit.rs writes it).
        let text = corsgate_conformance::webkit_report::keep_section(&old, &text);
        // And the headers-form section (tests/headers_form.rs writes it).
        let text = corsgate_conformance::headers_form_report::keep_section(&old, &text);
        std::fs::write(path, text).expect("write docs/conformance.md");
    }
    let report = disagreement_report(
        "chromium",
        &cases,
        &chromium.errors,
        &servers,
        &bad,
        &check_bad,
        40,
    );
    assert!(
        bad.is_empty() && check_bad.is_empty(),
        "{} of {total} requests disagree between Chromium and the engine's chromium profile, {} with `corsgate check` (first 40 shown):{report}",
        bad.len(),
        check_bad.len()
    );
    assert!(
        console.misses.is_empty(),
        "{} blocked requests where Chromium's console names another failure (or header, method) than the engine (first 40 shown):{console_report}",
        console.misses.len()
    );
}
