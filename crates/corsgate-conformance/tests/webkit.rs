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
//! is WebCore's, shared by every port; the HTTP stack is not. Where libsoup
//! shows (a `DELETE` redirected to another origin goes on as a `GET`), the
//! case is read as libsoup sends it ([`corsgate_conformance::soup`]), the
//! outcome, requests and console reason are held to the profile on that
//! reading, and the requests whose answer it changes are listed as tolerated.
//!
//! The blocked requests then run once more in a plain MiniBrowser that writes
//! its console to stdout ([`corsgate_conformance::webkit_console`]): the
//! engine's refusal must be the one WebKit's last reason line names, and
//! every distinct message (run-specific URLs and origins replaced) must be
//! listed in `tests/fixtures/webkit_messages.txt`, which `corsgate explain`
//! is to recognise.
//!
//! `CORSGATE_CASES=N` and `CORSGATE_SEED=<hex>` pick another matrix while
//! developing; `CORSGATE_SHOW=N` prints more disagreements;
//! `CORSGATE_WRITE_DOCS=1` rewrites the fixture (and the WebKit section of
//! `docs/conformance.md`) from a run of the committed matrix;
//! `CORSGATE_CONSOLE_DEBUG=1` echoes MiniBrowser's output.

use std::sync::Arc;
use std::time::Instant;

use std::collections::{BTreeMap, BTreeSet};

use corsgate_conformance::case::{Api, Case};
use corsgate_conformance::check_cli::{built_binary, CheckCli};
use corsgate_conformance::judge::{Engine, FormBlind, Judge, Observation, Outcome};
use corsgate_conformance::matrix::{generate, seed_and_count_from_env, SEED};
use corsgate_conformance::run::{compare, disagreement_report};
use corsgate_conformance::server::Servers;
use corsgate_conformance::soup::Soup;
use corsgate_conformance::webkit::{run_webkit_on, WebkitOptions, Xvfb};
use corsgate_conformance::webkit_console::{console_messages, is_reason, normalize, reason_codes};
use corsgate_conformance::webkit_report::{render, splice, Differs, WebkitReport, DEPARTURES};
use corsgate_core::Profile;

/// The size of the committed matrix (the same as the Chromium test's).
const CASES: u32 = 4000;

#[test]
fn webkit_agrees_with_the_engine() {
    let started = Instant::now();
    let (seed, count) = seed_and_count_from_env(CASES);
    let cases = Arc::new(generate(seed, count));
    let servers = Servers::start(cases.clone()).expect("loopback servers start");
    let site = servers.site().clone();
    let opts = WebkitOptions::from_env();
    let x = Xvfb::start(&opts.xvfb).unwrap_or_else(|e| panic!("cannot start Xvfb: {e}"));
    let webkit = run_webkit_on(&x, &servers, &cases, &opts)
        .unwrap_or_else(|e| panic!("WebKit conformance run failed: {e}"));
    // The judge: the safari profile, on each case as libsoup sends it (a
    // DELETE redirected to another origin goes on as a GET; see
    // `corsgate_conformance::soup`). Where that reading changes the engine's
    // answer, the request is tolerated and listed.
    let mut engine = Soup(Profile::Safari);
    let bad = compare(&mut engine, &site, &cases, &webkit.observed).disagreements;
    let failing: BTreeSet<(u32, Api)> = bad.iter().map(|d| (d.id, d.api)).collect();
    let soup: Vec<(u32, Api)> = webkit
        .observed
        .keys()
        .filter(|k| !failing.contains(k))
        .filter(|(id, api)| engine.changes(&site, &cases[*id as usize], *api))
        .copied()
        .collect();
    let standard = compare(
        &mut Engine(Profile::Standard),
        &site,
        &cases,
        &webkit.observed,
    )
    .disagreements;
    let check = {
        let binary = built_binary();
        let mut judge = CheckCli {
            binary,
            servers: &servers,
            browser: "safari",
        };
        compare(&mut judge, &site, &cases, &webkit.observed)
    };
    let total = webkit.observed.len();
    // The figure before the request model knew the form (every `fetch()`
    // judged as a `Headers` object): what the form dimension decides.
    let blind = compare(
        &mut FormBlind(Profile::Safari),
        &site,
        &cases,
        &webkit.observed,
    )
    .disagreements
    .len();
    eprintln!(
        "engine:safari ignoring the headers form: {} of {total} agree",
        total - blind
    );
    eprintln!(
        "{} cases x fetch/XHR = {total} requests against {} in {:.1} s ({} sessions; {:.1} s in all); {}: {} of {total} agree exactly, {} tolerated (libsoup turns a DELETE redirected across origins into a GET); engine:standard differs on {}",
        cases.len(),
        webkit.version,
        webkit.elapsed.as_secs_f64(),
        webkit.sessions,
        started.elapsed().as_secs_f64(),
        engine.name(),
        total - bad.len() - soup.len(),
        soup.len(),
        standard.len(),
    );
    for (id, api) in &soup {
        eprintln!(
            "tolerated (libsoup's DELETE-to-GET on a cross-origin redirect): #{id} {}",
            api.name()
        );
    }
    let reasons = console_reasons(&x, &servers, &cases, &webkit.observed, &opts);
    drop(x);
    // `check` is the safari profile without libsoup: where WebKit went on
    // as libsoup does and `check` as the profile does, it is tolerated.
    let (check_soup, check_bad): (Vec<_>, Vec<_>) =
        check.disagreements.iter().cloned().partition(|d| {
            let case = &cases[d.id as usize];
            let profile = Engine(Profile::Safari)
                .run(&site, case, d.api)
                .map(|(o, _)| o);
            soup.contains(&(d.id, d.api)) && d.got == profile
        });
    eprintln!(
        "corsgate check --browser safari: {} of {} agree exactly, {} tolerated (libsoup's DELETE-to-GET)",
        check.compared - check.disagreements.len(),
        check.compared,
        check_soup.len()
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
    eprintln!(
        "WebKit's console: {} blocked requests with a reason line; the engine's safari reason agrees on {}, differs on {}; {} distinct messages",
        reasons.compared,
        reasons.compared - reasons.differ.len(),
        reasons.differ.len(),
        reasons.messages.len()
    );
    if !reasons.soup.is_empty() {
        eprintln!(
            "WebKit's console: {} reasons are those of libsoup's GET, not of the page's DELETE: {}",
            reasons.soup.len(),
            reasons.soup.join(", ")
        );
    }
    for d in reasons.differ.iter().take(shown) {
        eprintln!("reason differs: {d}");
    }
    if seed == SEED && count == CASES {
        // Every listed departure shows on its case: the safari profile and the
        // other profile differ there (WebKit's side is the comparison above).
        for d in DEPARTURES {
            let case = &cases[d.case as usize];
            let run = |p: Profile| Engine(p).run(&site, case, d.api).expect("the engine runs");
            let (ours, theirs) = (run(Profile::Safari), run(d.versus));
            let differs = match d.differs {
                Differs::Observation => ours.0 != theirs.0,
                Differs::Reason => {
                    let code = |v: &Option<corsgate_core::Verdict>| {
                        v.as_ref().and_then(|v| v.reason.as_ref()).map(|r| r.code)
                    };
                    code(&ours.1) != code(&theirs.1)
                }
            };
            assert!(
                differs,
                "docs: case #{} does not show `{}` (safari and {} agree there)",
                d.case, d.method, d.versus
            );
        }
        if std::env::var_os("CORSGATE_WRITE_DOCS").is_some() && bad.is_empty() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/conformance.md");
            let section = render(&WebkitReport {
                webkit: &webkit,
                total,
                tolerated: &soup,
                standard: standard.len(),
                check: (
                    check.compared,
                    check.compared - check.disagreements.len(),
                    check_soup.len(),
                ),
                reasons: (reasons.compared, reasons.messages.len()),
                elapsed: started.elapsed(),
            });
            let old = std::fs::read_to_string(path).unwrap_or_default();
            std::fs::write(path, splice(&old, &section)).expect("write docs/conformance.md");
        }
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/webkit_messages.txt"
        );
        let text: String = reasons.messages.iter().map(|m| format!("{m}\n")).collect();
        if std::env::var_os("CORSGATE_WRITE_DOCS").is_some() {
            std::fs::write(fixture, &text).expect("write the fixture");
        }
        let known = std::fs::read_to_string(fixture).unwrap_or_default();
        let known: BTreeSet<&str> = known.lines().collect();
        let new: Vec<&String> = reasons
            .messages
            .iter()
            .filter(|m| !known.contains(m.as_str()))
            .collect();
        assert!(
            new.is_empty(),
            "WebKit wrote console messages that {fixture} does not list (rerun with CORSGATE_WRITE_DOCS=1): {new:#?}"
        );
    }
    assert!(
        reasons.differ.is_empty(),
        "the engine's safari refusal differs from WebKit's console reason on {} blocked requests: {:#?}",
        reasons.differ.len(),
        reasons.differ
    );
    assert!(
        bad.is_empty() && check_bad.is_empty(),
        "{} of {total} requests disagree between WebKit and the engine's safari profile, {} with `corsgate check --browser safari` (first {shown} shown):{report}",
        bad.len(),
        check_bad.len()
    );
}

/// WebKit's console reasons against the engine's.
struct Reasons {
    /// Blocked requests for which WebKit wrote a reason line.
    compared: usize,
    /// Where the engine's refusal code is not the one WebKit's reason stands for.
    differ: Vec<String>,
    /// Every distinct message, normalized.
    messages: BTreeSet<String>,
    /// Where libsoup's reading of the case (a `DELETE` gone on as a `GET`)
    /// names another refusal than the case as the page wrote it.
    soup: Vec<String>,
}

/// Runs the blocked requests again in a plain MiniBrowser that writes its
/// console to stdout, and compares the last reason line of each with the
/// engine's refusal.
fn console_reasons(
    x: &Xvfb,
    servers: &Servers,
    cases: &[Case],
    observed: &BTreeMap<(u32, Api), Observation>,
    opts: &WebkitOptions,
) -> Reasons {
    let site = servers.site();
    let blocked: Vec<(u32, Api)> = observed
        .iter()
        .filter(|(_, o)| o.outcome == Outcome::Blocked || o.first == Some(Outcome::Blocked))
        .map(|(k, _)| *k)
        .collect();
    let seen = console_messages(servers, cases, &blocked, opts, &x.display)
        .unwrap_or_else(|e| panic!("WebKit console pass failed: {e}"));
    let mut out = Reasons {
        compared: 0,
        differ: Vec::new(),
        messages: BTreeSet::new(),
        soup: Vec::new(),
    };
    for ((id, api), messages) in &seen {
        for m in messages {
            out.messages.insert(normalize(&m.text, site));
        }
        let case = &cases[*id as usize];
        if observed.get(&(*id, *api)).map(|o| &o.outcome) != Some(&Outcome::Blocked) {
            continue;
        }
        let Some(last) = messages.iter().rev().find(|m| is_reason(m)) else {
            continue;
        };
        out.compared += 1;
        let theirs = reason_codes(&last.text);
        let run = Soup(Profile::Safari).run(site, case, *api).ok();
        let ours = run
            .as_ref()
            .and_then(|(_, v)| v.as_ref())
            .and_then(|v| v.reason.as_ref())
            .map(|r| r.code);
        let plain = Engine(Profile::Safari)
            .run(site, case, *api)
            .ok()
            .and_then(|(_, v)| v)
            .and_then(|v| v.reason)
            .map(|r| r.code);
        if plain != ours {
            out.soup.push(format!("#{id} {}", api.name()));
        }
        if !theirs.is_some_and(|t| ours.is_some_and(|o| t.contains(&o))) {
            // Both traces: what reached the servers says which check WebKit
            // ran last (a method the network stack changed shows here).
            let webkit = observed.get(&(*id, *api)).map(|o| o.trace.join(" | "));
            let engine = run.as_ref().map(|(o, _)| o.trace.join(" | "));
            out.differ.push(format!(
                "#{id} {}: WebKit {:?} ({}), engine:safari {:?}; WebKit sent [{}], engine [{}]",
                api.name(),
                theirs,
                normalize(&last.text, site),
                ours,
                webkit.unwrap_or_default(),
                engine.unwrap_or_default()
            ));
        }
    }
    out
}
