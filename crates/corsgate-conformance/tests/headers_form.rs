//! A header name given twice, in each form script can pass headers in
//! (`fetch()` with a `Headers` object, a sequence of pairs or a plain
//! object; `XMLHttpRequest.setRequestHeader`), in real Chromium, Firefox and
//! WebKit against the engine's profiles.
//!
//! The matrix (tests/chromium.rs, tests/firefox.rs, tests/webkit.rs) runs
//! every form too, but sees only whether a preflight was sent, what it
//! announced and the outcome. This test also looks at the header lines that
//! reached the server: each request's lines for the duplicated name must be
//! the ones the engine sends, line for line. The server allows every header
//! and method, so the request itself always goes out.
//!
//! `CORSGATE_FORM_TABLE=1` prints what each browser did;
//! `CORSGATE_WRITE_DOCS=1` writes it as a section of `docs/conformance.md`;
//! `CORSGATE_FORM_BROWSERS=chromium,firefox,webkit` picks the browsers
//! (default: all three). Needs the browsers of the matrix
//! tests and fails without them.

use std::collections::BTreeMap;
use std::sync::Arc;

use corsgate_conformance::case::{
    Acac, Acao, ActualSpec, Api, Case, Dest, Hop, PreflightSpec, RequestSpec, Site,
};
use corsgate_conformance::gecko::{firefox_version, start_firefox, FirefoxOptions};
use corsgate_conformance::headers_form_report::{render, splice, Row};
use corsgate_conformance::judge::{Engine, Judge, Observation, Outcome};
use corsgate_conformance::run::{chromium_version, parse_outcome, run_jobs, Options, BROWSER_APIS};
use corsgate_conformance::server::Servers;
use corsgate_conformance::webdriver::Driver;
use corsgate_conformance::webkit::{start_webkit, webkit_version, WebkitOptions, Xvfb};
use corsgate_core::{Browser, Credentials, HeadersForm, Mode, Profile, Response, Stage};
use serde_json::Value;

/// The header sets: a label, the method, the mode, and the lines script sets.
/// A header set: a label, the method, the mode, the lines.
type Set = (
    &'static str,
    &'static str,
    Mode,
    &'static [(&'static str, &'static str)],
);

const SETS: &[Set] = &[
    (
        "ct-same",
        "POST",
        Mode::Cors,
        &[
            ("Content-Type", "text/plain"),
            ("Content-Type", "text/plain"),
        ],
    ),
    (
        "ct-safe-unsafe",
        "POST",
        Mode::Cors,
        &[
            ("Content-Type", "text/plain"),
            ("Content-Type", "application/json"),
        ],
    ),
    (
        "ct-unsafe-safe",
        "POST",
        Mode::Cors,
        &[
            ("Content-Type", "application/json"),
            ("Content-Type", "text/plain"),
        ],
    ),
    (
        "ct-charset",
        "POST",
        Mode::Cors,
        &[
            ("Content-Type", "text/plain;charset=utf-8"),
            ("Content-Type", "text/plain"),
        ],
    ),
    (
        "ct-case",
        "POST",
        Mode::Cors,
        &[
            ("Content-Type", "text/plain"),
            ("content-type", "text/plain"),
        ],
    ),
    (
        "accept-same",
        "GET",
        Mode::Cors,
        &[
            ("Accept", "application/json"),
            ("Accept", "application/json"),
        ],
    ),
    (
        "accept-unsafe-safe",
        "GET",
        Mode::Cors,
        &[("Accept", "a\"b"), ("Accept", "application/json")],
    ),
    (
        "accept-case",
        "GET",
        Mode::Cors,
        &[("Accept", "application/json"), ("accept", "*/*")],
    ),
    (
        "al-same",
        "GET",
        Mode::Cors,
        &[("Accept-Language", "en"), ("Accept-Language", "de")],
    ),
    (
        "al-long",
        "GET",
        Mode::Cors,
        &[
            ("Accept-Language", LONG_LANG),
            ("Accept-Language", LONG_LANG),
        ],
    ),
    (
        "cl-same",
        "GET",
        Mode::Cors,
        &[("Content-Language", "de"), ("Content-Language", "en")],
    ),
    (
        "range-same",
        "GET",
        Mode::Cors,
        &[("Range", "bytes=0-1"), ("Range", "bytes=0-1")],
    ),
    (
        "range-two",
        "GET",
        Mode::Cors,
        &[("Range", "bytes=0-1"), ("Range", "bytes=2-3")],
    ),
    (
        "xhmo-patch-trace",
        "GET",
        Mode::Cors,
        &[
            ("X-HTTP-Method-Override", "PATCH"),
            ("X-HTTP-Method-Override", "TRACE"),
        ],
    ),
    (
        "xhmo-trace-patch",
        "GET",
        Mode::Cors,
        &[
            ("X-HTTP-Method-Override", "TRACE"),
            ("X-HTTP-Method-Override", "PATCH"),
        ],
    ),
    (
        "xhmo-case",
        "GET",
        Mode::Cors,
        &[
            ("X-HTTP-Method-Override", "PATCH"),
            ("x-http-method-override", "TRACE"),
        ],
    ),
    (
        "xhm-patch-delete",
        "GET",
        Mode::Cors,
        &[("X-HTTP-Method", "PATCH"), ("X-HTTP-Method", "DELETE")],
    ),
    (
        "xmo-patch-connect",
        "GET",
        Mode::Cors,
        &[
            ("X-Method-Override", "PATCH"),
            ("X-Method-Override", "connect"),
        ],
    ),
    (
        "xhm-track-get",
        "GET",
        Mode::Cors,
        &[("X-HTTP-Method", "track"), ("X-HTTP-Method", "GET")],
    ),
    (
        "custom-same",
        "GET",
        Mode::Cors,
        &[("X-A", "1"), ("X-A", "2")],
    ),
    (
        "custom-case",
        "GET",
        Mode::Cors,
        &[("X-A", "1"), ("x-a", "2")],
    ),
    (
        "total-over-1024",
        "GET",
        Mode::Cors,
        &[
            ("Accept", LONG_ACCEPT),
            ("Accept-Language", LONG_LANG),
            ("Content-Language", LONG_LANG),
            ("Accept", LONG_ACCEPT),
            ("Accept-Language", LONG_LANG),
            ("Content-Language", LONG_LANG),
            ("Accept", LONG_ACCEPT),
            ("Accept-Language", LONG_LANG),
            ("Content-Language", LONG_LANG),
        ],
    ),
    (
        "nocors-ct-same",
        "POST",
        Mode::NoCors,
        &[
            ("Content-Type", "text/plain"),
            ("Content-Type", "text/plain"),
        ],
    ),
    (
        "nocors-ct-unsafe",
        "POST",
        Mode::NoCors,
        &[
            ("Content-Type", "text/plain"),
            ("Content-Type", "application/json"),
        ],
    ),
    (
        "nocors-accept-case",
        "GET",
        Mode::NoCors,
        &[("Accept", "application/json"), ("accept", "*/*")],
    ),
];

/// 120 bytes: safelisted alone, over 128 once combined.
const LONG_LANG: &str = "en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us";

/// 120 bytes of a safe `Accept`: three such lines and six of `LONG_LANG` come
/// to 1,074 bytes, over the standard's 1,024.
const LONG_ACCEPT: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// The fetch() forms (XHR runs with every case, always `setRequestHeader`).
const FORMS: [HeadersForm; 3] = [
    HeadersForm::Headers,
    HeadersForm::Pairs,
    HeadersForm::Record,
];

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (_, method, mode, lines) in SETS {
        for form in FORMS {
            let names: Vec<String> = lines.iter().map(|(n, _)| n.to_string()).collect();
            let hop = Hop {
                preflight: PreflightSpec {
                    status: 204,
                    location: false,
                    acao: Acao::Echo,
                    acac: Acac::Missing,
                    acam: vec![format!("{method}, PATCH, DELETE")],
                    acah: vec![names.join(", ")],
                    max_age: Some("0".into()),
                },
                actual: ActualSpec {
                    status: 200,
                    acao: Acao::Echo,
                    acac: Acac::Missing,
                    aceh: vec![],
                    extra: vec![],
                    redirect: None,
                },
            };
            out.push(Case {
                id: out.len() as u32,
                request: RequestSpec {
                    method: method.to_string(),
                    headers: lines
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .collect(),
                    credentials: Credentials::Omit,
                    mode: *mode,
                    form,
                },
                start: Dest::Target,
                hops: vec![hop],
                repeat: false,
            });
        }
    }
    out
}

/// The value of `name` (any case) a request carried: its lines joined with
/// `", "` (what several lines mean in HTTP; the browsers send one line),
/// `None` without any.
fn value_of<'a>(lines: impl Iterator<Item = (&'a str, String)>, name: &str) -> Option<String> {
    let values: Vec<String> = lines
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// What one browser (or the engine) did: the observation and, for each
/// request that reached the server, the value of the duplicated name.
type Seen = BTreeMap<(u32, Api), (Observation, Vec<Option<String>>)>;

fn in_browser(
    start: &dyn Fn() -> Result<Driver, String>,
    servers: &Servers,
    cases: &[Case],
) -> Seen {
    let site = servers.site();
    let pairs: Vec<(u32, Api)> = cases
        .iter()
        .flat_map(|c| BROWSER_APIS.map(|api| (c.id, api)))
        .collect();
    let (results, _) = run_jobs(start, site, cases, &pairs, &site.page, 400, 8, 100)
        .unwrap_or_else(|e| panic!("browser run failed: {e}"));
    let mut out = Seen::new();
    for case in cases {
        for api in BROWSER_APIS {
            let r: &Value = &results[&corsgate_conformance::page::key(case, api)];
            let outcome = parse_outcome(r).unwrap_or_else(|| panic!("bad result {r}"));
            let log = servers.requests(case.id, api);
            let name = &case.request.headers[0].0;
            let obs = Observation {
                outcome,
                first: None,
                preflights: log.iter().filter(|l| l.preflight).count(),
                requests: log.iter().filter(|l| !l.preflight).count(),
                trace: log
                    .iter()
                    .map(|l| {
                        corsgate_conformance::judge::trace_line(
                            l.hop,
                            l.preflight,
                            &l.method,
                            l.origin.as_deref(),
                            l.request_headers.as_deref(),
                        )
                    })
                    .collect(),
            };
            let sent = log
                .iter()
                .filter(|l| !l.preflight)
                .map(|l| value_of(l.lines.iter().map(|(n, v)| (n.as_str(), v.clone())), name))
                .collect();
            out.insert((case.id, api), (obs, sent));
        }
    }
    out
}

/// The engine's value of the duplicated name on each request it sent.
fn engine_lines(profile: Profile, site: &Site, case: &Case, api: Api) -> Vec<Option<String>> {
    let Ok(request) = case.engine_request(site, api) else {
        return Vec::new();
    };
    let name = case.request.headers[0].0.clone();
    let mut sent = Vec::new();
    let mut browser = Browser::new(profile);
    let _ = browser.run(request, |out| {
        if out.stage != Stage::Preflight {
            sent.push(value_of(
                out.headers
                    .iter()
                    .map(|(n, v)| (n, String::from_utf8_lossy(v).into_owned())),
                &name,
            ));
        }
        let preflight = out.stage == Stage::Preflight;
        let origin = out.headers.get("origin").map(|o| o.into_owned());
        let wire = case.respond(site, api, 0, preflight, origin.as_deref());
        let mut resp = Response::new(wire.status);
        for (n, v) in wire.headers {
            resp = resp.header(n, v);
        }
        Ok::<_, String>(resp)
    });
    sent
}

fn label(case: &Case, api: Api) -> String {
    let set = SETS[case.id as usize / FORMS.len()].0;
    let form = case.headers_form(api).name();
    format!("{set} {form}")
}

fn show(o: &Observation, lines: &[Option<String>]) -> String {
    let pre: Vec<String> = o
        .trace
        .iter()
        .filter(|t| t.starts_with("P0 "))
        .map(|t| t.split(" acrh=").nth(1).unwrap_or("-").to_owned())
        .collect();
    let pre = match pre.first().map(String::as_str) {
        None => "no preflight".to_owned(),
        Some("-") => "preflight (no headers)".to_owned(),
        Some(acrh) => format!("preflight `{acrh}`"),
    };
    let sent = match lines.first() {
        None => "nothing sent".to_owned(),
        Some(None) => "not sent".to_owned(),
        Some(Some(v)) if v.len() > 60 => format!("sent `{}…` ({} bytes)", &v[..20], v.len()),
        Some(Some(v)) => format!("sent `{}`", v.replace('|', "\\|")),
    };
    let outcome = match &o.outcome {
        Outcome::Allowed { status: 200, .. } => String::new(),
        other => format!("{other}; "),
    };
    format!("{outcome}{pre}; {sent}")
}

/// The lines of a set as a table cell.
fn show_lines(method: &str, mode: Mode, lines: &[(&str, &str)]) -> String {
    let mode = if mode == Mode::NoCors {
        " `no-cors`"
    } else {
        ""
    };
    let lines: Vec<String> = lines
        .iter()
        .map(|(n, v)| format!("`{n}: {}`", v.replace('|', "\\|")))
        .collect();
    format!("{method}{mode} {}", lines.join(" + "))
}

#[test]
fn duplicated_headers_in_every_form() {
    let cases = Arc::new(cases());
    let which = std::env::var("CORSGATE_FORM_BROWSERS")
        .unwrap_or_else(|_| "chromium,firefox,webkit".into());
    let mut failures = Vec::new();
    let mut table = String::new();
    let mut versions: Vec<(&str, String)> = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    for browser in which.split(',') {
        // Servers of its own per browser: the logs are per case and API.
        let servers = Servers::start(cases.clone()).expect("loopback servers start");
        let site = servers.site().clone();
        let (name, profile, seen) = match browser {
            "chromium" => {
                let o = Options::default();
                versions.push((
                    "Chromium",
                    chromium_version(&o.chromium).unwrap_or_default(),
                ));
                let start = || Driver::start(&o.chromedriver, &o.chromium);
                (
                    "Chromium",
                    Profile::Chromium,
                    in_browser(&start, &servers, &cases),
                )
            }
            "firefox" => {
                let o = FirefoxOptions::default();
                versions.push(("Firefox", firefox_version(&o.firefox).unwrap_or_default()));
                let start = || start_firefox(&o);
                (
                    "Firefox",
                    Profile::Firefox,
                    in_browser(&start, &servers, &cases),
                )
            }
            "webkit" => {
                let o = WebkitOptions::from_env();
                let x = Xvfb::start(&o.xvfb).expect("Xvfb starts");
                versions.push(("WebKit", webkit_version(&o, &x.display).unwrap_or_default()));
                let start = || start_webkit(&o, &x.display);
                (
                    "WebKit",
                    Profile::Safari,
                    in_browser(&start, &servers, &cases),
                )
            }
            other => panic!("unknown browser {other}"),
        };
        let mut engine = Engine(profile);
        for case in cases.iter() {
            for api in BROWSER_APIS {
                if api == Api::Xhr && case.request.form != HeadersForm::Headers {
                    continue; // XHR is the same in every case of a set
                }
                let (obs, sent) = &seen[&(case.id, api)];
                let cell = show(obs, sent);
                table.push_str(&format!("{browser}\t{}\t{cell}\n", label(case, api)));
                let set = SETS[case.id as usize / FORMS.len()];
                let form = case.headers_form(api).name();
                let at = match rows.iter().position(|r| r.set == set.0 && r.form == form) {
                    Some(i) => i,
                    None => {
                        rows.push(Row {
                            set: set.0.to_owned(),
                            lines: show_lines(set.1, set.2, set.3),
                            form: form.to_owned(),
                            seen: Default::default(),
                        });
                        rows.len() - 1
                    }
                };
                rows[at].seen.insert(name.to_owned(), cell.clone());
                let got = engine.judge(&site, case, api);
                let got_lines = engine_lines(profile, &site, case, api);
                if got.as_ref() != Ok(obs) || &got_lines != sent {
                    failures.push(format!(
                        "{browser} {}: browser {cell}; engine {}",
                        label(case, api),
                        match &got {
                            Ok(o) => show(o, &got_lines),
                            Err(e) => e.clone(),
                        }
                    ));
                }
            }
        }
    }
    if std::env::var_os("CORSGATE_FORM_TABLE").is_some() {
        eprintln!("{table}");
    }
    if std::env::var_os("CORSGATE_WRITE_DOCS").is_some()
        && failures.is_empty()
        && versions.len() == 3
    {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/conformance.md");
        let old = std::fs::read_to_string(path).unwrap_or_default();
        std::fs::write(path, splice(&old, &render(&versions, &rows)))
            .expect("write docs/conformance.md");
    }
    assert!(
        failures.is_empty(),
        "{} requests where the engine departs from the browser:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
