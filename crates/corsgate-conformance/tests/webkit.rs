//! Conformance against real WebKit (WebKitGTK's MiniBrowser under Xvfb,
//! driven by WebKitWebDriver): every case of the seeded matrix, through
//! `fetch()` and `XMLHttpRequest`, must come out exactly as the engine's
//! `safari` profile predicts (same outcome, same readable headers, same
//! requests reaching the servers), and as `corsgate check --browser safari
//! --json` reports for the `fetch()` cases it covers. Needs Debian's
//! `webkit2gtk-driver` and `xvfb` (`/usr/bin/WebKitWebDriver`,
//! `/usr/bin/Xvfb`, MiniBrowser from `libwebkit2gtk-4.1-0`; or
//! `CORSGATE_WEBKITWEBDRIVER`, `CORSGATE_XVFB`, `CORSGATE_MINIBROWSER`) and
//! fails, never skips, without them.
//!
//! This judges WebKitGTK on libsoup, not Safari on CFNetwork: the CORS code
//! is WebCore's, shared by every port; the HTTP stack is not.
//!
//! `CORSGATE_CASES=N` and `CORSGATE_SEED=<hex>` pick another matrix while
//! developing; `CORSGATE_SHOW=N` prints more disagreements.

use std::sync::Arc;
use std::time::Instant;

use corsgate_conformance::check_cli::{find_binary, CheckCli};
use corsgate_conformance::judge::{Engine, Judge};
use corsgate_conformance::matrix::{generate, SEED};
use corsgate_conformance::run::{compare, disagreement_report};
use corsgate_conformance::server::Servers;
use corsgate_conformance::webkit::{run_webkit, SafariCheckCli, WebkitOptions};
use corsgate_core::Profile;

/// The size of the committed matrix (the same as the Chromium test's).
const CASES: u32 = 4000;

#[test]
fn webkit_agrees_with_the_engine() {
    let started = Instant::now();
    let count = std::env::var("CORSGATE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    let seed = std::env::var("CORSGATE_SEED")
        .ok()
        .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        .unwrap_or(SEED);
    let cases = Arc::new(generate(seed, count));
    let servers = Servers::start(cases.clone()).expect("loopback servers start");
    let site = servers.site().clone();
    let opts = WebkitOptions::from_env();
    let webkit = run_webkit(&servers, &cases, &opts)
        .unwrap_or_else(|e| panic!("WebKit conformance run failed: {e}"));
    let mut engine = Engine(Profile::Safari);
    let bad = compare(&mut engine, &site, &cases, &webkit.observed).disagreements;
    let standard = compare(
        &mut Engine(Profile::Standard),
        &site,
        &cases,
        &webkit.observed,
    )
    .disagreements;
    let check = {
        let binary = find_binary().expect(
            "the workspace has `corsgate check` but no built `corsgate` binary next to this test: \
             run `cargo build -p corsgate` (cargo test --workspace builds it) or set CORSGATE_BIN",
        );
        let mut judge = SafariCheckCli(CheckCli {
            binary,
            servers: &servers,
        });
        compare(&mut judge, &site, &cases, &webkit.observed)
    };
    let total = webkit.observed.len();
    eprintln!(
        "{} cases x fetch/XHR = {total} requests against {} in {:.1} s ({} sessions; {:.1} s in all); {}: {} of {total} agree; engine:standard differs on {}",
        cases.len(),
        webkit.version,
        webkit.elapsed.as_secs_f64(),
        webkit.sessions,
        started.elapsed().as_secs_f64(),
        engine.name(),
        total - bad.len(),
        standard.len(),
    );
    let check_bad = check.disagreements.clone();
    eprintln!(
        "corsgate check --browser safari: {} of {} agree",
        check.compared - check.disagreements.len(),
        check.compared
    );
    let shown = std::env::var("CORSGATE_SHOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let report = disagreement_report(
        "webkit",
        &cases,
        &webkit.errors,
        &servers,
        &bad,
        &check_bad,
        shown,
    );
    assert!(
        bad.is_empty() && check_bad.is_empty(),
        "{} of {total} requests disagree between WebKit and the engine's safari profile, {} with `corsgate check --browser safari` (first {shown} shown):{report}",
        bad.len(),
        check_bad.len()
    );
}
