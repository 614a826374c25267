//! Writes `docs/conformance.md` from a run: the figures (cases, Chromium
//! version, agreement, time), what the matrix covered, and every case where
//! the engine's `standard` profile departs from what Chromium did, grouped by
//! the standard's reason.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use corsgate_core::{Credentials, Profile};

use crate::case::{Api, Case, Site};
use crate::judge::{Engine, Observation, Outcome};
use crate::matrix::SEED;
use crate::run::{ChromiumRun, Comparison, Disagreement, BROWSER_APIS, REPEAT_SESSION};

/// Everything the report needs.
#[derive(Debug)]
pub struct ReportInput<'a> {
    /// The cases.
    pub cases: &'a [Case],
    /// The origins of the run (to re-run the standard engine for reasons).
    pub site: &'a Site,
    /// What Chromium did.
    pub chromium: &'a ChromiumRun,
    /// Where the chromium profile disagreed (empty for a passing run).
    pub chromium_disagreements: &'a [Disagreement],
    /// Where the standard profile departs from Chromium.
    pub standard: &'a [Disagreement],
    /// `corsgate check`, when it ran.
    pub check: Option<&'a Comparison>,
    /// Chromium's console against the engine's refusals, when read.
    pub console: Option<&'a crate::console::ConsoleComparison>,
    /// Wall time of the whole test.
    pub elapsed: Duration,
}

/// The console rows of a report's table.
pub fn console_rows(s: &mut String, browser: &str, c: &crate::console::ConsoleComparison) {
    let _ = writeln!(
        s,
        "| The failure {browser}'s console names for a blocked request, named by the engine | {} / {} ({}) |",
        c.same_class,
        c.compared,
        pct(c.same_class, c.compared)
    );
    let _ = writeln!(
        s,
        "| The request header or method it quotes, quoted by the engine | {} / {} ({}){}{} |",
        c.same_named,
        c.named,
        pct(c.same_named, c.named),
        if c.several_disallowed == 0 {
            String::new()
        } else {
            format!(
                "; {} of them with several request headers the answer did not allow, where {browser} quotes the first {} (the first alphabetically is the one quoted in {} of them)",
                c.several_disallowed,
                if browser == "Chromium" {
                    "in Blink's header-map order (`Profile::unsafe_header_order`)"
                } else {
                    "in its own order"
                },
                c.first_sorted_named
            )
        },
        if c.other_header.is_empty() {
            String::new()
        } else {
            format!(
                "; the other {} quote another header the answer did not allow (the browser's order, which the engine does not model for it: it quotes the first alphabetically)",
                c.other_header.len()
            )
        }
    );
    if c.neither + c.silent_no_cors.len() > 0 {
        let _ = writeln!(
            s,
            "| Blocked requests with no CORS message | {} (network errors the engine names no {browser} class for: {}; refused `no-cors` redirects {browser} logs nothing for: {}) |",
            c.neither + c.silent_no_cors.len(),
            c.neither,
            c.silent_no_cors.len()
        );
    }
}

fn outcome_word(o: &Observation) -> String {
    let what = match &o.outcome {
        Outcome::Threw => "throws".to_owned(),
        Outcome::Blocked => "blocked".to_owned(),
        Outcome::Opaque => "opaque".to_owned(),
        Outcome::Allowed { status, readable } => {
            format!("readable ({status}; headers: {})", readable.join(", "))
        }
    };
    format!("{what}, {} preflight(s)", o.preflights)
}

fn is_preflight(line: &str) -> bool {
    let first = line.split(' ').next().unwrap_or_default();
    first.len() > 1 && first.starts_with('P') && first[1..].bytes().all(|b| b.is_ascii_digit())
}

fn kind(o: &Observation) -> &'static str {
    match o.outcome {
        Outcome::Threw => "throws",
        Outcome::Blocked => "blocked",
        Outcome::Opaque => "opaque",
        Outcome::Allowed { .. } => "readable",
    }
}

/// How Chromium and the standard part ways: at the first request that
/// differs, or, when the requests are the same, in the outcome.
fn label(chromium: &Observation, standard: &Observation) -> String {
    let first = (0..chromium.trace.len().max(standard.trace.len()))
        .find(|i| chromium.trace.get(*i) != standard.trace.get(*i));
    let (c, st) = (&chromium.trace, &standard.trace);
    if st.len() < c.len() && c.starts_with(st) {
        return "Chromium accepts a response that the standard refuses".into();
    }
    if c.len() < st.len() && st.starts_with(c) {
        return "The standard accepts a response that Chromium refuses".into();
    }
    let Some(i) = first else {
        return if kind(chromium) != kind(standard) {
            format!(
                "Same requests; Chromium: {}, standard: {}",
                kind(chromium),
                kind(standard)
            )
        } else {
            "Same requests; different readable headers".to_owned()
        };
    };
    match (chromium.trace.get(i), standard.trace.get(i)) {
        (Some(c), Some(s)) => match (is_preflight(c), is_preflight(s)) {
            (false, true) => {
                "Chromium sends the request without a preflight; the standard preflights".into()
            }
            (true, false) => {
                "Chromium preflights; the standard sends the request without one".into()
            }
            (true, true) => {
                "Both preflight, with different `Access-Control-Request-Headers`".into()
            }
            (false, false) => "Both send the request, differently".into(),
        },
        (Some(_), None) => "Chromium sends more requests than the standard".into(),
        _ => "The standard sends more requests than Chromium".into(),
    }
}

fn pct(n: usize, total: usize) -> String {
    if total == 0 {
        return "0%".into();
    }
    format!("{:.1}%", n as f64 * 100.0 / total as f64)
}

/// The Markdown text of `docs/conformance.md`.
pub fn render(input: &ReportInput<'_>) -> String {
    let ReportInput {
        cases,
        site,
        chromium,
        chromium_disagreements,
        standard,
        check,
        console,
        elapsed,
    } = input;
    let total = chromium.observed.len();
    let agree = total - chromium_disagreements.len();
    let mut s = String::new();
    let _ = writeln!(s, "# Conformance against real Chromium\n");
    let _ = writeln!(
        s,
        "Generated by the harness in `crates/corsgate-conformance` \
         (`CORSGATE_WRITE_DOCS=1 cargo test -p corsgate-conformance --test chromium`); \
         do not edit by hand. CI runs the same test on every submission, without rewriting this file.\n"
    );
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(
        s,
        "| Browser | {} (headless, through chromedriver) |",
        chromium.version
    );
    let _ = writeln!(
        s,
        "| Cases | {} generated from seed `{SEED:#x}`, each run with `fetch()` and with `XMLHttpRequest`: {total} requests |",
        cases.len()
    );
    let _ = writeln!(
        s,
        "| Agreement with the engine's `chromium` profile | {agree} / {total} ({}) |",
        pct(agree, total)
    );
    match check {
        Some(c) => {
            let ok = c.compared - c.disagreements.len();
            let _ = writeln!(
                s,
                "| Agreement of `corsgate check --json` (the `fetch` half, non-repeated cases) | {ok} / {} ({}) |",
                c.compared,
                pct(ok, c.compared)
            );
        }
        None => {
            let _ = writeln!(s, "| `corsgate check --json` | not compared in this run |");
        }
    }
    if let Some(c) = console {
        console_rows(&mut s, "Chromium", c);
    }
    let _ = writeln!(
        s,
        "| Standard profile ≠ Chromium | {} / {total} requests |",
        standard.len()
    );
    let _ = writeln!(
        s,
        "| Run time | {:.1} s in the browser, {:.1} s for the whole test (debug build, 2 cores) |\n",
        chromium.elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );

    let _ = writeln!(s, "## What is compared\n");
    let _ = writeln!(
        s,
        "For every case and API, Chromium's behaviour is observed and the engine's is predicted, and the two must be equal:\n\n\
         * **outcome**: the API threw before sending, the request was blocked (a network error), or it was readable, with its status and the exact set of response header names script could read (`fetch`: iterating `response.headers`; XHR: `getAllResponseHeaders()`);\n\
         * **what reached the servers**, in order: each preflight and each request, with its hop, method, `Origin` and `Access-Control-Request-Headers` (from the servers' own logs).\n\n\
         The page is served from `http://localhost:P1`; the target is `http://localhost:P2`, a second cross-origin server `http://127.0.0.1:P3`. \
         Every case has its own URLs per API (`/c/<run>/<case>/<api>/<hop>`), so the preflight cache never carries over between cases. \
         The servers write header lines byte for byte as the case says (duplicates, empty values, control bytes), and the engine is fed the very same bytes by the same function (`Case::respond`).\n"
    );

    let _ = writeln!(
        s,
        "`corsgate check --json` is the third judge: run as a subprocess against the same live servers (its own URLs), on the `fetch` half of every case except the repeated ones (one command has no preflight cache to carry over) and those with a NUL byte (which a command line cannot carry); its outcome, readable headers and the requests that reached the servers must equal Chromium's.\n"
    );
    let _ = writeln!(
        s,
        "The console is a fourth witness: every message Chromium's DevTools console printed (read through chromedriver's log) is attributed to its case by URL, and for every blocked request the failure it names (`PreflightMissingAllowOriginHeader`…, and the request header or method it quotes) must be the one the engine's refusal names. The same runs for Firefox's console (its console service, read in Marionette's chrome context: each request's first message after the previous \"CORS request did not succeed\"). The distinct messages are `corsgate explain`'s test fixtures (`crates/corsgate/tests/fixtures/console_*.txt`, rewritten with `CORSGATE_WRITE_CONSOLE=1`).\n"
    );
    let _ = writeln!(s, "## What the matrix covers\n");
    let mut outcomes: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let (mut preflighted, mut redirected, mut include) = (0, 0, 0);
    let repeated = cases.iter().filter(|c| c.repeat).count();
    let sessions = chromium.sessions;
    for case in cases.iter() {
        if case.hops.len() > 1 {
            redirected += 1;
        }
        if case.request.credentials == Credentials::Include {
            include += 1;
        }
        for api in BROWSER_APIS {
            if let Some(o) = chromium.observed.get(&(case.id, api)) {
                let kind = match o.outcome {
                    Outcome::Threw => "threw",
                    Outcome::Blocked => "blocked",
                    Outcome::Opaque => "opaque",
                    Outcome::Allowed { .. } => "readable",
                };
                *outcomes.entry((api.name(), kind)).or_default() += 1;
                if o.preflights > 0 {
                    preflighted += 1;
                }
            }
        }
    }
    let _ = writeln!(
        s,
        "| API | readable | opaque (no-cors) | blocked | threw |\n|---|---|---|---|---|"
    );
    for api in BROWSER_APIS {
        let n = |k| outcomes.get(&(api.name(), k)).copied().unwrap_or(0);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            api.name(),
            n("readable"),
            n("opaque"),
            n("blocked"),
            n("threw")
        );
    }
    let _ = writeln!(
        s,
        "\n{preflighted} of the {total} requests sent at least one preflight; {redirected} cases redirect (301/302/303/307/308, to the same origin, another origin or back to the page's origin, some with `user:pass@`); {include} cases use `credentials: \"include\"` (`withCredentials` for XHR); {repeated} cases run twice in a row, so the second run meets the preflight cache (`Access-Control-Max-Age` absent, `0`, `600`, `86400`, `-1`, `abc`). Chromium's preflight cache holds 1024 entries and evicts at random when full, so the repeated cases run in fresh browsers of at most {REPEAT_SESSION} requests each ({sessions} browser sessions in all), where it cannot fill up; the engine's cache has no such limit.\n\n\
         Requests vary the method (`GET`, `get`, `HEAD`, `POST`, `post`, `PUT`, `put`, `DELETE`, `PATCH`, `patch`, `Patch`, `OPTIONS`, `M-SEARCH`, `PROPFIND`, `custom`, and `TRACE`, `Connect`, `GE T` which throw), \
         headers (safelisted names with valid and invalid values, `Range`, values over 128 bytes and totals over 1024, custom headers (now and then several of random names), client hints, `Authorization`, forbidden headers, repeated names) the credentials mode, and `fetch()`'s mode (`cors`, `no-cors` — whose answer is opaque —, `same-origin`). \
         Responses vary the preflight status (2xx, 3xx with and without `Location`, 4xx, 5xx), `Access-Control-Allow-Origin` (missing, echoed, `*`, `null`, trailing slash, upper-case scheme or host, another origin, padded, duplicated, a list, empty, quoted), \
         `Access-Control-Allow-Credentials` (`true`, `True`, `false`, duplicated, empty, padded), `Access-Control-Allow-Methods` and `-Headers` (exact, case-changed, `*`, lists with empty elements, invalid tokens, split over lines), \
         `Access-Control-Max-Age`, and `Access-Control-Expose-Headers` (names, `*`, empty elements, invalid tokens, control bytes, quoted names, `set-cookie`).\n"
    );

    let _ = writeln!(
        s,
        "## Chromium behaviour the engine's `chromium` profile models\n"
    );
    let _ = writeln!(
        s,
        "Each of these was found or confirmed by this harness and is pinned by a unit test in `corsgate-core`:\n\n\
         * `*` in `Access-Control-Allow-Headers` covers `Authorization` when credentials are not included (the standard says it never does).\n\
         * `Range: bytes=N-` / `bytes=N-M` needs no preflight (as the standard says).\n\
         * An empty element in `Access-Control-Expose-Headers` (`,x-b`, or an empty line next to `x-b`) still exposes `x-b` (as the standard says).\n\
         * The client hints `Save-Data` (`on`), `DPR`, `Device-Memory`, `Downlink` (a decimal number), `Width`, `Viewport-Width`, `RTT` (digits), `ECT` (`slow-2g`, `2g`, `3g`, `4g`) and `Intervention` are safelisted request headers.\n\
         * A request header given twice is judged by its combined value, whatever the form script passed the headers in: `Content-Type: text/plain` twice (`text/plain, text/plain`) needs a preflight, given as pairs too, where the standard judges each pair (a `Headers` object reaches the request as one combined line, as the standard says; see `tests/headers_form.rs`).\n\
         * A forbidden `X-HTTP-Method-Override` value drops what the form joined it with: every line in a `Headers` object (read back as one line `PATCH, TRACE`), only that pair or `setRequestHeader` call otherwise, as the standard says (`HeadersForm` in `corsgate-core`, not a `Profile` method).\n\
         * On a redirect to any origin but the page's own, Chromium removes the client hints `DPR`, `Device-Memory`, `Width`, `Viewport-Width`, `RTT`, `Downlink` and `ECT`, so the next hop's preflight no longer announces them.\n\
         * A request with a conditional header (`If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since`, `If-Match`, `If-Range`) skips the preflight cache: it is preflighted every time.\n\
         * A preflight made with the `null` origin of a redirect-tainted request is never reused (each tainted request gets a fresh opaque origin).\n\
         * `fetch()` refuses a redirect to a URL with `user:pass@` even when it stays on the page's origin; XHR follows it.\n\
         * A same-origin URL that redirects cross-origin is preflighted there when the request is not simple (an engine bug, now fixed).\n\
         * `no-cors`: `new Request()` throws for methods other than GET, HEAD and POST; `Origin` is sent only on methods other than GET and HEAD; once the request has been to another origin the answer stays opaque, even back on the page's origin (engine bugs, now fixed).\n\
         * A new preflight to a URL replaces what the preflight cache held for that origin and URL, whatever the credentials mode: `PUT`, then `DELETE`, then `PUT` again is preflighted three times (the standard keeps `PUT`). Shown by `tests/preflight_cache.rs`, which runs request sequences against a server that allows exactly what each preflight asks.\n\
         * A preflight to a URL of 1024 bytes or more is never cached (a URL of 1023 bytes is): requests to it are preflighted every time (`tests/preflight_cache.rs`).\n\
         * When a preflight answer allows several of the request's headers not, the console names the first in the order of Blink's `HTTPHeaderMap`, a hash table: rapidhash of the lower-cased name (as UTF-16), open addressing with triangular probing from a table of 8 that doubles at half load; `fetch()` inserts the names sorted, XHR in the slot order of its own map (script's order), then Blink adds `User-Agent` and, on a potentially trustworthy URL, the three user-agent client hints, which can grow the table (`blink_header_map`; 5,400 requests of `examples/blink_header_order.rs` in `tests/blink_header_order.rs`).\n"
    );

    let _ = writeln!(s, "## Where the standard and Chromium differ\n");
    let _ = writeln!(
        s,
        "The same cases run against the engine's `standard` profile (the Fetch standard to the letter). \
         These {} requests (in {} cases) come out differently from what Chromium did. That is expected: it is the list of Chromium's departures from the standard that this matrix reaches, grouped by the first place they part ways. Each line gives the request (method, credentials mode, where it goes, the headers script set), both outcomes, and the standard's refusal code when it blocks.\n",
        standard.len(),
        {
            let mut ids: Vec<u32> = standard.iter().map(|d| d.id).collect();
            ids.dedup();
            ids.len()
        }
    );
    // group -> case id -> (apis, line)
    let mut groups: BTreeMap<String, BTreeMap<u32, (Vec<Api>, String)>> = BTreeMap::new();
    for d in standard.iter() {
        let Some(case) = cases.get(d.id as usize) else {
            continue;
        };
        let (got, reason) = match Engine(Profile::Standard).run(site, case, d.api) {
            Ok((o, v)) => (o, v.and_then(|v| v.reason.map(|r| r.code.to_owned()))),
            Err(e) => {
                let _ = writeln!(s, "* #{} {}: the engine failed: {e}", d.id, d.api.name());
                continue;
            }
        };
        let key = label(&d.expected, &got);
        let request = case.to_string();
        let request = request.lines().next().unwrap_or_default().to_owned();
        let line = format!(
            "{request} — Chromium: {}; standard: {}{}",
            outcome_word(&d.expected),
            outcome_word(&got),
            reason.map(|r| format!(" (`{r}`)")).unwrap_or_default()
        );
        let entry = groups
            .entry(key)
            .or_default()
            .entry(d.id)
            .or_insert_with(|| (Vec::new(), line));
        entry.0.push(d.api);
    }
    for (key, items) in &groups {
        let _ = writeln!(s, "### {key} — {} cases\n", items.len());
        for (apis, line) in items.values() {
            let names: Vec<&str> = apis.iter().map(|a| a.name()).collect();
            let _ = writeln!(s, "* [{}] {}", names.join(", "), line.replace('|', "\\|"));
        }
        let _ = writeln!(s);
    }
    if let Some(c) = check.filter(|c| !c.disagreements.is_empty()) {
        let _ = writeln!(
            s,
            "## Where `corsgate check` departs from Chromium\n\n\
             These make the test fail until `corsgate check` is fixed. Each line: the case, what Chromium's `fetch()` did, what `corsgate check --json` reported (requests as the servers saw them).\n"
        );
        for d in &c.disagreements {
            let Some(case) = cases.get(d.id as usize) else {
                continue;
            };
            let request = case.to_string();
            let request = request.lines().next().unwrap_or_default().to_owned();
            let got = match &d.got {
                Ok(o) => o.to_string(),
                Err(e) => format!("error: {e}"),
            };
            let _ = writeln!(
                s,
                "* {} — Chromium: {}; check: {}",
                request.replace('|', "\\|"),
                d.expected,
                got.replace('|', "\\|")
            );
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "The full hop-by-hop description of any case is printed by the test when it fails; the cases are `matrix::generate(SEED, N)`."
    );
    s
}
