//! Fixes that work, in real Chromium and in real Firefox. Every (case, API)
//! of the seeded matrix that the browser blocks gets the remedies the engine reports for it
//! (`corsgate_core::remedy::repair` over the case's own answers, the list
//! `corsgate check --json` prints as `fixes`); the loopback servers then
//! answer with those remedies applied (status, headers set and removed,
//! `Vary`, per stage and hop) and the case runs again in the browser, where it
//! must now pass (readable; for `no-cors`, opaque or, on the page's own
//! origin, readable). Cases whose repair ends on
//! a client-side remedy are counted and listed, never dropped; a repair that
//! gets stuck without one fails the test.
//!
//! Then every fixed case runs from a second page origin
//! (`http://127.0.0.1:P1`, the page's server under another host name), once
//! with the original answers and once with the fixed ones: whatever the
//! original answers refused that origin, the fixed ones must refuse too.
//! (Refusing here means script cannot read the response: a `no-cors`
//! request that gets an opaque answer instead of a network error gains no
//! access.)
//!
//! Every one of those browser runs must also be what the engine's profile
//! for that browser (`chromium`, `firefox`) predicts from the same (fixed or
//! original) answers: the same outcome, every run. (Firefox's reuse of a
//! cached preflight on `127.0.0.1`, which its DNS cache decides, is tolerated
//! in `tests/firefox.rs` only where the outcomes are the same, so it needs
//! no tolerance here: only outcomes are compared.)
//!
//! Last, `corsgate check --json` itself runs once per blocked `fetch` request
//! it models, and its `fixes` are applied as printed and the request rerun:
//! a list it calls complete must make the request pass, a partial one is
//! counted (it says so and what to run next), and nothing may widen.
//!
//! `CORSGATE_CASES`, `CORSGATE_SEED`, `CORSGATE_CHROMIUM`,
//! `CORSGATE_CHROMEDRIVER` as in `tests/chromium.rs`, `CORSGATE_FIREFOX`,
//! `CORSGATE_GECKODRIVER` as in `tests/firefox.rs`; `CORSGATE_WRITE_DOCS=1`
//! rewrites the browser's section of `docs/fixes.md` from a passing run of
//! the committed matrix. The two tests take turns (one browser at a time).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use corsgate_conformance::case::{Api, Case, Site};
use corsgate_conformance::check_cli::built_binary;
use corsgate_conformance::fixes::{plan, predict, run_pairs, show, table, Plan, Switch};
use corsgate_conformance::gecko::{
    firefox_version, geckodriver_version, start_firefox, FirefoxOptions,
};
use corsgate_conformance::judge::Outcome;
use corsgate_conformance::matrix::{generate, seed_and_count_from_env, SEED};
use corsgate_conformance::run::{chromium_version, Options, BROWSER_APIS, REPEAT_SESSION};
use corsgate_conformance::server::Servers;
use corsgate_conformance::webdriver::Driver;
use corsgate_core::remedy::Remedy;
use corsgate_core::{Mode, Profile};

const CASES: u32 = 4000;

struct Failure {
    id: u32,
    api: Api,
    what: String,
    remedies: Vec<Remedy>,
    seen: Vec<String>,
}

/// A fix of `corsgate check --json` as the engine's [`Remedy`], its URL
/// moved from `from` to `to` (the check route to the fetch one).
fn remedy_from_json(f: &serde_json::Value, from: &str, to: &str) -> Option<Remedy> {
    use corsgate_core::remedy::Side;
    use corsgate_core::Stage;
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(Remedy {
        side: match f["side"].as_str()? {
            "server" => Side::Server,
            _ => Side::Client,
        },
        stage: match f["stage"].as_str()? {
            "preflight" => Stage::Preflight,
            "redirect" => Stage::Redirect,
            _ => Stage::Actual,
        },
        url: f["url"].as_str()?.replace(from, to),
        set_headers: f["set_headers"]
            .as_array()?
            .iter()
            // A `Location` names the check route too.
            .filter_map(|p| Some((p[0].as_str()?.to_owned(), p[1].as_str()?.replace(from, to))))
            .collect(),
        vary: strings(&f["vary"]),
        remove_headers: strings(&f["remove_headers"]),
        status: f["status"].as_u64().and_then(|s| u16::try_from(s).ok()),
        sentence: f["sentence"].as_str().unwrap_or_default().to_owned(),
    })
}

fn pairs_line(pairs: &[(u32, Api)]) -> String {
    pairs
        .iter()
        .map(|(id, api)| format!("#{id} {}", api.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What each browser showed was wrong in the engine's remedies (the
/// "What the browser showed was wrong" part of its section).
fn wrong(which: Which) -> &'static str {
    match which {
        Which::Chromium => "Each was a remedy that made the request pass but let the second origin read too; each is fixed in `corsgate-core/src/remedy.rs`, pinned by a unit test there and by the redirect property in `corsgate-core/tests/remedies.rs`:\n\n\
* A widening fix (credentials, methods, headers, preflight status) for a request whose origin had become `null` after a cross-origin redirect: next to an echoed `Origin`, `Access-Control-Allow-Credentials: true` let every redirected page in. No answer can be limited to one origin there, so the remedy is now client-side (request the final URL directly).\n\
* Taking `user:pass@` out of a redirect's `Location` let every origin the redirect already admitted through it. The fix now also names the request's origin on the redirect (`Access-Control-Allow-Origin`, `Vary: Origin`), and the repair loop takes the request's own origin when it sent no `Origin` header (a same-origin first hop).",
        Which::Firefox => "Nothing: every server-side remedy of the engine's `firefox` profile made its request pass in Firefox and let the second origin read nothing new.",
    }
}

const HEAD: &str = "# Fixes that work, in real browsers\n\n\
Generated by `crates/corsgate-conformance/tests/fixes.rs` (`CORSGATE_WRITE_DOCS=1 cargo test -p corsgate-conformance --test fixes`, one section per browser: `-- chromium` or `-- firefox` rewrites only that one); do not edit by hand.\n\n\
For every request of the conformance matrix that the browser blocks, the remedies the engine reports under that browser's profile (`corsgate_core::remedy::repair` over the case's own answers: the list `corsgate check --browser <b> --json` prints as `fixes`, computed here in-process) are applied to the loopback servers' answers — status, headers set and removed, `Vary`, per stage (preflight or request) and per hop — and the request runs again in the same browser. It must now pass: readable (for `no-cors`: opaque, or readable when it stays on the page's origin), every time for a case that runs twice. Then every fixed request runs from a second page origin, `http://127.0.0.1:P1` (the page's own server under another host name), with the original answers and with the fixed ones: whatever the original answers did not let that origin read, the fixed ones must not let it read either (an opaque `no-cors` answer instead of a network error grants no access). Each phase runs in fresh browser sessions, so no preflight cache carries over. Every one of these browser runs must also come out as the engine's profile for that browser (`chromium`, `firefox`) predicts from the same answers.\n\n\
Then `corsgate check --browser <b> --json` itself runs once for every blocked `fetch` request it models (`cors` mode, not repeated), and its `fixes`, as printed, are applied and the request run again in the browser: where it said the list is complete (`fixes_complete: true`) the request must pass; where it said the list is partial (`fixes_partial: true`: an answer it never received, because the failed preflight stopped the browser and the method is not safe for corsgate to send; nothing is assumed, and it prints what to run next) it is counted; from the second origin, its fixes must widen nothing.\n";

/// `old` (the current `docs/fixes.md`) with `which`'s section replaced by
/// `section`, the other browser's kept, Chromium's first.
fn splice(old: &str, which: Which, section: &str) -> String {
    let mut out = String::from(HEAD);
    for w in [Which::Chromium, Which::Firefox] {
        let (open, close) = (
            format!("<!-- fixes:{} -->\n", w.profile().1),
            format!("<!-- /fixes:{} -->\n", w.profile().1),
        );
        let body = if w == which {
            Some(section.to_owned())
        } else {
            old.find(&open).and_then(|i| {
                let rest = &old[i + open.len()..];
                rest.find(&close).map(|j| rest[..j].to_owned())
            })
        };
        if let Some(body) = body {
            out.push('\n');
            out.push_str(&open);
            out.push_str(&body);
            out.push_str(&close);
        }
    }
    out
}

/// One browser at a time (both tests share the cores and `docs/fixes.md`).
static TURN: Mutex<()> = Mutex::new(());

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Chromium,
    Firefox,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::Chromium => "Chromium",
            Which::Firefox => "Firefox",
        }
    }
    /// The engine's profile and `corsgate check --browser` value.
    fn profile(self) -> (Profile, &'static str) {
        match self {
            Which::Chromium => (Profile::Chromium, "chromium"),
            Which::Firefox => (Profile::Firefox, "firefox"),
        }
    }
}

/// A browser to run pages in.
struct Launcher {
    version: String,
    start: Box<dyn Fn() -> Result<Driver, String>>,
    batch: usize,
    width: usize,
    repeat_session: usize,
}

fn launcher(which: Which) -> Launcher {
    match which {
        Which::Chromium => {
            let mut opts = Options::default();
            if let Ok(p) = std::env::var("CORSGATE_CHROMIUM") {
                opts.chromium = p;
            }
            if let Ok(p) = std::env::var("CORSGATE_CHROMEDRIVER") {
                opts.chromedriver = p;
            }
            let version = chromium_version(&opts.chromium).unwrap_or_else(|e| panic!("{e}"));
            Launcher {
                version: format!("{version} (headless, through chromedriver)"),
                batch: opts.batch,
                width: opts.width,
                repeat_session: REPEAT_SESSION,
                start: Box::new(move || Driver::start(&opts.chromedriver, &opts.chromium)),
            }
        }
        Which::Firefox => {
            let mut opts = FirefoxOptions::default();
            if let Ok(p) = std::env::var("CORSGATE_FIREFOX") {
                opts.firefox = p;
            }
            if let Ok(p) = std::env::var("CORSGATE_GECKODRIVER") {
                opts.geckodriver = p;
            }
            let version = firefox_version(&opts.firefox).unwrap_or_else(|e| panic!("{e}"));
            let gecko = geckodriver_version(&opts.geckodriver).unwrap_or_else(|e| panic!("{e}"));
            Launcher {
                version: format!("{version} (headless, through {gecko})"),
                batch: opts.batch,
                width: opts.width,
                repeat_session: opts.repeat_session,
                start: Box::new(move || start_firefox(&opts)),
            }
        }
    }
}

#[test]
fn reported_fixes_fix_the_case_in_chromium() {
    prove(Which::Chromium);
}

#[test]
fn reported_fixes_fix_the_case_in_firefox() {
    prove(Which::Firefox);
}

fn prove(which: Which) {
    let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    let started = Instant::now();
    let name = which.name();
    let (profile, cli_browser) = which.profile();
    let (seed, count) = seed_and_count_from_env(CASES);
    let cases: Arc<Vec<Case>> = Arc::new(generate(seed, count));
    let switch = Arc::new(Switch::default());
    let servers =
        Servers::start_patched(cases.clone(), switch.patch()).expect("loopback servers start");
    let site: Site = servers.site().clone();
    let second = site.page.replacen("localhost", "127.0.0.1", 1);
    assert_ne!(second, site.page);
    let browser = launcher(which);
    let version = &browser.version;
    let run = |pairs: &[(u32, Api)], origin: &str| {
        run_pairs(
            &*browser.start,
            &servers,
            &cases,
            pairs,
            origin,
            browser.batch,
            browser.width,
            browser.repeat_session,
        )
        .unwrap_or_else(|e| panic!("{name} run failed: {e}"))
    };

    // 1. The original answers, from the page: which requests the browser blocks.
    let browser_started = Instant::now();
    let all: Vec<(u32, Api)> = cases
        .iter()
        .flat_map(|c| BROWSER_APIS.map(|api| (c.id, api)))
        .collect();
    let original = run(&all, &site.page);
    let blocked: Vec<(u32, Api)> = all
        .iter()
        .copied()
        .filter(|p| original[p].blocked())
        .collect();

    // 2. The engine's remedies for each.
    let mut server: BTreeMap<(u32, Api), Vec<Remedy>> = BTreeMap::new();
    let mut client: BTreeMap<&'static str, Vec<(u32, Api)>> = BTreeMap::new();
    let mut client_examples: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut failures: Vec<Failure> = Vec::new();
    for &(id, api) in &blocked {
        let case = &cases[id as usize];
        match plan(profile, &site, case, api) {
            Plan::Server(r) => {
                server.insert((id, api), r);
            }
            Plan::Client { remedies, code } => {
                client.entry(code).or_default().push((id, api));
                if let Some(last) = remedies.last() {
                    client_examples
                        .entry(code)
                        .or_insert_with(|| last.sentence.clone());
                }
            }
            Plan::Stuck(remedies) => failures.push(Failure {
                id,
                api,
                what: "the repair loop found no fix (nor a client-side one)".into(),
                remedies,
                seen: vec![format!("original: {}", original[&(id, api)])],
            }),
        }
    }
    let fixable: Vec<(u32, Api)> = server.keys().copied().collect();
    let remedies = table(&site, &server).unwrap_or_else(|e| panic!("{e}"));
    switch.install(remedies.clone());

    // 3. The fixed answers, from the page: every fixed request must pass.
    switch.set(true);
    let fixed = run(&fixable, &site.page);
    let mut passing = 0;
    for p in &fixable {
        let case = &cases[p.0 as usize];
        if fixed[p].passes(case, p.1) {
            passing += 1;
        } else {
            failures.push(Failure {
                id: p.0,
                api: p.1,
                what: format!("still refused by {name} with the fixes applied"),
                remedies: server[p].clone(),
                seen: vec![
                    format!("original: {}", original[p]),
                    format!("fixed: {}", fixed[p]),
                ],
            });
        }
    }

    // 4. A second page origin: original answers, then fixed ones.
    switch.set(false);
    let original2 = run(&fixable, &second);
    switch.set(true);
    let fixed2 = run(&fixable, &second);
    switch.set(false);
    let browser_elapsed = browser_started.elapsed();
    // Access is reading the response: an opaque `no-cors` answer grants none.
    let readable = |o: Option<&Outcome>| matches!(o, Some(Outcome::Allowed { .. }));
    let mut guarded = 0;
    let mut open2: Vec<(u32, Api)> = Vec::new();
    for p in &fixable {
        let (o, f) = (&original2[p], &fixed2[p]);
        let widened = (!readable(Some(&o.outcome)) && readable(Some(&f.outcome)))
            || (o.first.is_some() && !readable(o.first.as_ref()) && readable(f.first.as_ref()));
        if !readable(Some(&o.outcome)) || (o.first.is_some() && !readable(o.first.as_ref())) {
            guarded += 1;
        } else {
            open2.push(*p);
        }
        if widened {
            failures.push(Failure {
                id: p.0,
                api: p.1,
                what: format!("the fixes let the second origin {second} in"),
                remedies: server[p].clone(),
                seen: vec![
                    format!("second origin, original: {o}"),
                    format!("second origin, fixed: {f}"),
                ],
            });
        }
    }

    // 5. The engine's prediction for every browser run of the fixes.
    let mut predicted = 0;
    let mut mispredicted: Vec<String> = Vec::new();
    for p in &fixable {
        let case = &cases[p.0 as usize];
        for (phase, origin, t, seen) in [
            ("fixed", &site.page, Some(&remedies), &fixed[p]),
            ("second origin, original", &second, None, &original2[p]),
            ("second origin, fixed", &second, Some(&remedies), &fixed2[p]),
        ] {
            let e = predict(profile, &site, case, p.1, origin, t);
            predicted += 1;
            if (&e.outcome, &e.first) != (&seen.outcome, &seen.first) {
                mispredicted.push(format!(
                    "#{} {} ({phase}): {cli_browser} {seen}; engine {e}",
                    p.0,
                    p.1.name()
                ));
                failures.push(Failure {
                    id: p.0,
                    api: p.1,
                    what: format!("the engine mispredicts {name} ({phase}, page {origin})"),
                    remedies: server[p].clone(),
                    seen: vec![format!("{cli_browser}: {seen}"), format!("engine: {e}")],
                });
            }
        }
    }

    // 6. What `corsgate check --json` reports as `fixes` for the same
    //    requests (the `fetch` half it models; its own URLs), against the
    //    engine's list that the browser just proved.
    let binary = built_binary();
    let covered = |p: &(u32, Api)| {
        let case = &cases[p.0 as usize];
        p.1 == Api::Fetch
            && !case.repeat
            && case.request.mode == Mode::Cors
            && !case.request.headers.iter().any(|(_, v)| v.contains('\0'))
    };
    let run_check = |case: &Case| -> serde_json::Value {
        let mut cmd = std::process::Command::new(&binary);
        cmd.arg("check")
            .arg(case.start_url(&site, Api::Check))
            .args(["--origin", &site.page, "--method", &case.request.method])
            .args(["--credentials", case.request.credentials.name()])
            // Without --no-probe: check may ask for what a failed
            // preflight hid (a GET's redirect), as a user's run does.
            .args(["--browser", cli_browser, "--json"])
            .args(["--headers-form", case.request.form.name()]);
        for (n, v) in &case.request.headers {
            // One argument, so a name starting with `-` is not read as an option.
            cmd.arg(format!("--header={n}: {v}"));
        }
        let out = cmd.output().expect("run corsgate check");
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    };
    let mut cli_json: BTreeMap<(u32, Api), serde_json::Value> = BTreeMap::new();
    for p in blocked.iter().filter(|p| covered(p)) {
        cli_json.insert(*p, run_check(&cases[p.0 as usize]));
    }
    let mut cli_compared = 0;
    let mut cli_same = 0;
    let mut cli_assumed = 0;
    let mut cli_other: Vec<(u32, String)> = Vec::new();
    for p in fixable.iter().filter(|p| covered(p)) {
        let case = &cases[p.0 as usize];
        let json = &cli_json[p];
        cli_compared += 1;
        let from = format!("/c/{}/{}/f/", site.run, case.id);
        let to = format!("/c/{}/{}/c/", site.run, case.id);
        let engine: Vec<serde_json::Value> = server[p]
            .iter()
            .map(|r| {
                let text = serde_json::to_string(r).expect("remedy to JSON");
                serde_json::from_str(&text.replace(&from, &to)).expect("JSON")
            })
            .collect();
        // The fixes for answers it received (or learned); when it says the
        // list is partial, they stop before the first answer it never got.
        let cli: Vec<serde_json::Value> = json["fixes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|mut f| {
                if let Some(o) = f.as_object_mut() {
                    o.remove("assumed");
                    o.remove("snippet");
                }
                f
            })
            .collect();
        if cli == engine {
            cli_same += 1;
        } else if json["fixes_partial"] == true
            && json["fixes_complete"] == false
            && engine.len() > cli.len()
            && engine[..cli.len()] == cli[..]
        {
            cli_assumed += 1;
        } else {
            cli_other.push((
                case.id,
                format!(
                    "engine {} / corsgate check {}",
                    serde_json::Value::from(engine),
                    serde_json::Value::from(cli)
                ),
            ));
        }
    }

    // 7. What one `corsgate check` run reported, applied as it stands (the
    //    URLs of its `/c/` routes mapped to the `fetch` ones), and the
    //    request run again in the browser: where check said the list is
    //    complete, the request must pass; where it said partial, it is
    //    counted (honest); from the second origin, nothing may widen.
    let mut check_fixes: BTreeMap<(u32, Api), Vec<Remedy>> = BTreeMap::new();
    let (mut said_complete, mut said_partial, mut said_client) =
        (Vec::new(), Vec::new(), Vec::new());
    for (p, json) in &cli_json {
        let from = format!("/c/{}/{}/c/", site.run, p.0);
        let to = format!("/c/{}/{}/f/", site.run, p.0);
        let remedies: Vec<Remedy> = json["fixes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| remedy_from_json(f, &from, &to))
                    .collect()
            })
            .unwrap_or_default();
        let server_side = remedies
            .iter()
            .any(|r| r.side == corsgate_core::remedy::Side::Server);
        if json["fixes_partial"] == true {
            assert_eq!(
                json["fixes_complete"], false,
                "#{} partial yet complete",
                p.0
            );
            said_partial.push(*p);
        } else if json["fixes_complete"] == true {
            said_complete.push(*p);
        } else {
            said_client.push(*p);
        }
        if server_side {
            check_fixes.insert(*p, remedies);
        }
    }
    let check_pairs: Vec<(u32, Api)> = check_fixes.keys().copied().collect();
    let check_table = table(&site, &check_fixes).unwrap_or_else(|e| panic!("{e}"));
    switch.install(check_table);
    switch.set(true);
    let after_check = run(&check_pairs, &site.page);
    switch.set(false);
    let check_original2 = run(&check_pairs, &second);
    switch.set(true);
    let check_fixed2 = run(&check_pairs, &second);
    switch.set(false);
    let mut complete_passing = 0;
    let mut partial_passing = 0;
    let mut partial_with_fixes = 0;
    let mut check_widened = 0;
    for p in &check_pairs {
        let case = &cases[p.0 as usize];
        let passes = after_check[p].passes(case, p.1);
        if said_complete.contains(p) {
            if passes {
                complete_passing += 1;
            } else {
                failures.push(Failure {
                    id: p.0,
                    api: p.1,
                    what: format!("`corsgate check` said its fixes are complete, yet {name} still refuses with them applied"),
                    remedies: check_fixes[p].clone(),
                    seen: vec![
                        format!("original: {}", original[p]),
                        format!("with check's fixes: {}", after_check[p]),
                    ],
                });
            }
        } else if said_partial.contains(p) {
            partial_with_fixes += 1;
            partial_passing += usize::from(passes);
        }
        let (o, f) = (&check_original2[p], &check_fixed2[p]);
        let widened = (!readable(Some(&o.outcome)) && readable(Some(&f.outcome)))
            || (o.first.is_some() && !readable(o.first.as_ref()) && readable(f.first.as_ref()));
        if widened {
            check_widened += 1;
            failures.push(Failure {
                id: p.0,
                api: p.1,
                what: format!("`corsgate check`'s fixes let the second origin {second} in"),
                remedies: check_fixes[p].clone(),
                seen: vec![
                    format!("second origin, original: {o}"),
                    format!("second origin, with check's fixes: {f}"),
                ],
            });
        }
    }
    let complete_with_fixes = check_pairs
        .iter()
        .filter(|p| said_complete.contains(p))
        .count();
    eprintln!(
        "corsgate check, one run, its fixes applied in {name}: {} blocked fetch requests checked; said complete {} ({complete_with_fixes} with server-side fixes, {complete_passing} pass), said partial {} ({partial_with_fixes} with fixes so far, {partial_passing} pass already), client-side or no complete fix {}; second origin widened by check's fixes: {check_widened}",
        cli_json.len(),
        said_complete.len(),
        said_partial.len(),
        said_client.len(),
    );

    // 7b. Where check said its list is partial: the answers with its fixes
    //     (served on its own route too), check run a second time, both
    //     lists applied, and the request run again.
    let fixes_of = |json: &serde_json::Value, p: &(u32, Api), to_fetch: bool| -> Vec<Remedy> {
        let from = format!("/c/{}/{}/c/", site.run, p.0);
        let to = if to_fetch {
            format!("/c/{}/{}/f/", site.run, p.0)
        } else {
            from.clone()
        };
        json["fixes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| remedy_from_json(f, &from, &to))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut both: BTreeMap<(u32, Api), Vec<Remedy>> = BTreeMap::new();
    for p in &said_partial {
        both.insert(*p, fixes_of(&cli_json[p], p, true));
        both.insert((p.0, Api::Check), fixes_of(&cli_json[p], p, false));
    }
    switch.install(table(&site, &both).unwrap_or_else(|e| panic!("{e}")));
    switch.set(true);
    let mut twice: BTreeMap<(u32, Api), Vec<Remedy>> = BTreeMap::new();
    let mut second_complete = 0;
    let mut second_partial = 0;
    let mut complete_twice: Vec<(u32, Api)> = Vec::new();
    for p in &said_partial {
        let json = run_check(&cases[p.0 as usize]);
        if json["allowed"] == true || json["fixes_complete"] == true {
            second_complete += 1;
            complete_twice.push(*p);
        } else if json["fixes_partial"] == true {
            second_partial += 1;
        }
        let mut all = fixes_of(&cli_json[p], p, true);
        all.extend(fixes_of(&json, p, true));
        twice.insert(*p, all);
    }
    switch.set(false);
    let twice_pairs: Vec<(u32, Api)> = twice.keys().copied().collect();
    switch.install(table(&site, &twice).unwrap_or_else(|e| panic!("{e}")));
    switch.set(true);
    let after_twice = run(&twice_pairs, &site.page);
    switch.set(false);
    let twice_original2 = run(&twice_pairs, &second);
    switch.set(true);
    let twice_fixed2 = run(&twice_pairs, &second);
    switch.set(false);
    let mut twice_passing = 0;
    let mut twice_widened = 0;
    for p in &twice_pairs {
        let case = &cases[p.0 as usize];
        let passes = after_twice[p].passes(case, p.1);
        twice_passing += usize::from(passes);
        if !passes && complete_twice.contains(p) {
            failures.push(Failure {
                id: p.0,
                api: p.1,
                what: format!("the second `corsgate check` said its fixes are complete, yet {name} still refuses with both runs' fixes applied"),
                remedies: twice[p].clone(),
                seen: vec![
                    format!("original: {}", original[p]),
                    format!("with both runs' fixes: {}", after_twice[p]),
                ],
            });
        }
        let (o, f) = (&twice_original2[p], &twice_fixed2[p]);
        let widened = (!readable(Some(&o.outcome)) && readable(Some(&f.outcome)))
            || (o.first.is_some() && !readable(o.first.as_ref()) && readable(f.first.as_ref()));
        if widened {
            twice_widened += 1;
            failures.push(Failure {
                id: p.0,
                api: p.1,
                what: format!("two `corsgate check` runs' fixes let the second origin {second} in"),
                remedies: twice[p].clone(),
                seen: vec![
                    format!("second origin, original: {o}"),
                    format!("second origin, with both runs' fixes: {f}"),
                ],
            });
        }
    }
    eprintln!(
        "corsgate check, second run where the first said partial ({}): complete {second_complete}, still partial {second_partial}; both runs' fixes applied: {twice_passing} pass; second origin widened: {twice_widened}",
        said_partial.len()
    );

    let client_total: usize = client.values().map(Vec::len).sum();
    let no_cors = fixable
        .iter()
        .filter(|p| cases[p.0 as usize].mode(p.1) == Mode::NoCors)
        .count();
    eprintln!(
        "{} cases x fetch/XHR against {version}: {} blocked; {} with server-side fixes, {passing} pass after them; {client_total} client-side only; second origin: {guarded} refused originally, still refused after the fixes; engine predicts {} of {predicted} runs; corsgate check: same fixes on {cli_same} of {cli_compared}, {cli_assumed} agree up to an assumed answer, {} otherwise; {:.1} s in the browser, {:.1} s in all",
        cases.len(),
        blocked.len(),
        fixable.len(),
        predicted - mispredicted.len(),
        cli_other.len(),
        browser_elapsed.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );

    if std::env::var_os("CORSGATE_WRITE_DOCS").is_some() && failures.is_empty() && seed == SEED {
        let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
        let mut by_len: BTreeMap<usize, usize> = BTreeMap::new();
        for r in server.values() {
            *by_len.entry(r.len()).or_default() += 1;
            for m in r {
                let mut what: Vec<String> = m
                    .set_headers
                    .iter()
                    .map(|(n, _)| format!("set `{n}`"))
                    .collect();
                what.extend(m.remove_headers.iter().map(|n| format!("remove `{n}`")));
                if let Some(s) = m.status {
                    what.push(format!("status {s}"));
                }
                *by_kind
                    .entry(format!("{:?}: {}", m.stage, what.join(", ")).to_lowercase())
                    .or_default() += 1;
            }
        }
        let mut doc = String::new();
        let _ = writeln!(doc, "## {name}\n");
        let _ = writeln!(doc, "| | |\n|---|---|");
        let _ = writeln!(doc, "| Browser | {version} |");
        let _ = writeln!(
            doc,
            "| Requests | {} cases from seed `{seed:#x}` × `fetch()` and `XMLHttpRequest` = {} |",
            cases.len(),
            all.len()
        );
        let _ = writeln!(doc, "| Blocked by {name} | {} |", blocked.len());
        let _ = writeln!(
            doc,
            "| With server-side fixes | {} ({no_cors} of them `no-cors`) |",
            fixable.len()
        );
        let _ = writeln!(
            doc,
            "| **Fixed and passing in {name}** | **{passing} / {} ({:.1}%)** |",
            fixable.len(),
            100.0 * passing as f64 / fixable.len().max(1) as f64
        );
        let _ = writeln!(doc, "| Client-side only (listed below) | {client_total} |");
        let _ = writeln!(doc, "| Second origin: requests it could not read with the original answers | {guarded}; none can read with the fixes |");
        let _ = writeln!(
            doc,
            "| Second origin: requests it could already read with the original answers | {}{} |",
            open2.len(),
            if open2.is_empty() {
                " (so the check above covers every fixed request)"
            } else {
                " (not a widening: they are not checked)"
            }
        );
        let _ = writeln!(doc, "| Engine (`{cli_browser}` profile) predicts these browser runs (fixed; second origin, original and fixed) | {} / {predicted} |", predicted - mispredicted.len());
        let _ = writeln!(doc, "| `corsgate check --browser {cli_browser} --json` reports the same `fixes` (the `fetch` half it models: `cors` mode, not repeated) | {cli_same} / {cli_compared}; {cli_assumed} stop before the first answer it never received (`fixes_partial: true`, `fixes_complete: false`, the missing answers in `unobserved`) and agree up to there; {} otherwise |", cli_other.len());
        let _ = writeln!(doc, "| One `corsgate check` run per blocked `fetch` request it models, its `fixes` applied as printed, run again in {name} | {} checked: **said complete {} ({complete_with_fixes} with server-side fixes), {complete_passing} / {complete_with_fixes} pass**; said partial (what to run next printed) {} ({partial_with_fixes} with fixes so far, {partial_passing} of them pass already); client-side or no complete server fix {}; second origin: {check_widened} widened |", cli_json.len(), said_complete.len(), said_partial.len(), said_client.len());
        let _ = writeln!(doc, "| The same, where the first run said partial: its fixes served, `corsgate check` run a second time, both lists applied, run again in {name} | {}: **{twice_passing} pass** ({:.1}%); the second run said complete (or allowed) for {second_complete}, still partial for {second_partial}; second origin: {twice_widened} widened |", said_partial.len(), 100.0 * twice_passing as f64 / said_partial.len().max(1) as f64);
        let _ = writeln!(doc, "| Run time | {:.1} s in the browser, {:.1} s for the whole test (debug build, 2 cores) |\n", browser_elapsed.as_secs_f64(), started.elapsed().as_secs_f64());
        let _ = writeln!(
            doc,
            "### What the browser showed was wrong\n\n{}\n",
            wrong(which)
        );
        let _ = writeln!(doc, "### Remedies applied\n\n| remedy | times |\n|---|---|");
        for (k, n) in &by_kind {
            let _ = writeln!(doc, "| {k} | {n} |");
        }
        let _ = writeln!(
            doc,
            "\nRemedies per request: {}.\n",
            by_len
                .iter()
                .map(|(l, n)| format!("{l}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(doc, "### Client-side only\n\nThe repair loop ended on a remedy no server answer can give; the request itself has to change. Grouped by the refusal left once the server-side remedies before it are applied.\n");
        for (code, pairs) in &client {
            let _ = writeln!(doc, "#### `{code}` — {} requests\n", pairs.len());
            if let Some(s) = client_examples.get(code) {
                let _ = writeln!(doc, "Remedy: {s}\n");
            }
            let _ = writeln!(doc, "{}\n", pairs_line(pairs));
        }
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/fixes.md");
        let old = std::fs::read_to_string(path).unwrap_or_default();
        std::fs::write(path, splice(&old, which, &doc)).expect("write docs/fixes.md");
    }

    for (id, o) in &cli_other {
        failures.push(Failure {
            id: *id,
            api: Api::Check,
            what: format!("`corsgate check --json` reports other fixes than the engine: {o}"),
            remedies: Vec::new(),
            seen: Vec::new(),
        });
    }
    let mut report = String::new();
    for f in failures.iter().take(40) {
        let case = &cases[f.id as usize];
        let _ = writeln!(report, "\n{case}\n  {}: {}", f.api.name(), f.what);
        for r in &f.remedies {
            let _ = writeln!(report, "    remedy: {}", show(r));
        }
        for s in &f.seen {
            let _ = writeln!(report, "    {s}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures among {} blocked requests (first 40 shown):{report}",
        failures.len(),
        blocked.len()
    );
}
