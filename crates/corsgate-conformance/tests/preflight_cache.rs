//! The preflight cache across *different* requests to one URL, in real
//! Chromium, Firefox and WebKit against the engine's profiles.
//!
//! The matrix (tests/chromium.rs, tests/firefox.rs) repeats one request, so it
//! only sees a cache entry reused or not. What happens when a second request
//! to the same URL needs a preflight of its own is left to this test: the
//! standard adds the second answer's methods and headers to what the first one
//! allowed, a browser may instead replace what it had. The server mirrors
//! each preflight (it allows exactly the method and headers asked for), so the
//! two behaviours differ on the third request of a sequence.
//!
//! Each sequence runs through the browser one request after another, and
//! through the engine's browser with the same mirroring server; the number of
//! preflights before each request must be the same. Needs Debian's
//! `chromium`, `chromium-driver` and `firefox-esr` and geckodriver, and
//! `webkit2gtk-driver` and `xvfb`, like the matrix tests, and fails without
//! them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use corsgate_conformance::gecko::{start_firefox, FirefoxOptions};
use corsgate_conformance::run::Options;
use corsgate_conformance::webdriver::Driver;
use corsgate_conformance::webkit::{start_webkit, WebkitOptions, Xvfb};
use corsgate_core::{Browser, Credentials, Profile, Request, Response, Stage};
use serde_json::{json, Value};

/// One request of a sequence: method, request headers, credentials.
type Step = (&'static str, &'static [&'static str], bool);

/// What is special about a sequence's URL.
#[derive(Clone, Copy)]
enum Url {
    /// Nothing: the server mirrors each preflight.
    Plain,
    /// Padded to this many bytes.
    Length(usize),
    /// The server answers every preflight with `*` for methods and headers.
    Wildcard,
}

/// The path segment that makes the server answer with `*`.
const WILDCARD: &str = "/wildcard/";

/// The sequences: a name, the URL, and the requests, all to that URL.
const SEQUENCES: &[(&str, Url, &[Step])] = &[
    (
        "another method, then the first again",
        Url::Plain,
        &[
            ("PUT", &["x-a"], false),
            ("DELETE", &["x-b"], false),
            ("PUT", &["x-a"], false),
        ],
    ),
    (
        "another header, then the first again",
        Url::Plain,
        &[
            ("PUT", &["x-a"], false),
            ("PUT", &["x-b"], false),
            ("PUT", &["x-a"], false),
        ],
    ),
    (
        "credentialed, then uncredentialed, then credentialed again",
        Url::Plain,
        &[
            ("PUT", &["x-a"], true),
            ("DELETE", &[], false),
            ("PUT", &["x-a"], true),
        ],
    ),
    (
        "uncredentialed, then credentialed, then uncredentialed again",
        Url::Plain,
        &[("PUT", &[], false), ("PUT", &[], true), ("PUT", &[], false)],
    ),
    (
        "requests the first answer covers",
        Url::Plain,
        &[
            ("PUT", &["x-a", "x-b"], false),
            ("PUT", &["x-a"], false),
            ("PUT", &["x-b"], false),
        ],
    ),
    (
        "the same request twice, to a URL of 1023 bytes",
        Url::Length(1023),
        &[("PUT", &["x-a"], false), ("PUT", &["x-a"], false)],
    ),
    (
        "the same request twice, to a URL of 1024 bytes",
        Url::Length(1024),
        &[("PUT", &["x-a"], false), ("PUT", &["x-a"], false)],
    ),
    (
        "a conditional request twice",
        Url::Plain,
        &[
            ("PUT", &["x-a", "if-none-match"], false),
            ("PUT", &["x-a", "if-none-match"], false),
        ],
    ),
    (
        "a `*` answer, then Authorization again",
        Url::Wildcard,
        &[
            ("PUT", &["authorization"], false),
            ("PUT", &["authorization"], false),
        ],
    ),
    (
        "a `*` answer, then another method and header",
        Url::Wildcard,
        &[
            ("PUT", &["x-a"], false),
            ("DELETE", &["x-b"], false),
            ("PATCH", &["x-c"], false),
        ],
    ),
];

/// What reached the API server: (path, preflight?).
type Log = Arc<Mutex<Vec<(String, bool)>>>;

const PAGE: &str = "<!doctype html><meta charset=utf-8><title>corsgate preflight cache</title>";

/// Serves the page on one port and the mirroring API on another; both on
/// `localhost` (a name: Firefox does not reuse preflights for IP hosts).
fn serve() -> (String, String, Log) {
    let page = TcpListener::bind("127.0.0.1:0").expect("bind page port");
    let api = TcpListener::bind("127.0.0.1:0").expect("bind api port");
    let page_origin = format!(
        "http://localhost:{}",
        page.local_addr().expect("addr").port()
    );
    let api_origin = format!(
        "http://localhost:{}",
        api.local_addr().expect("addr").port()
    );
    let log: Log = Arc::default();
    for (listener, is_api) in [(page, false), (api, true)] {
        let log = log.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                thread::spawn(move || {
                    let _ = answer(stream, is_api, &log);
                });
            }
        });
    }
    (page_origin, api_origin, log)
}

/// Reads one request and answers it, closing the connection.
fn answer(stream: TcpStream, is_api: bool, log: &Log) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim_end().is_empty() {
            break;
        }
        if let Some((n, v)) = h.trim_end().split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let len: usize = get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let response = if !is_api {
        format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PAGE}", PAGE.len())
    } else {
        let origin = get("origin").unwrap_or_default();
        let preflight = method == "OPTIONS" && get("access-control-request-method").is_some();
        let wildcard = path.contains(WILDCARD);
        if let Ok(mut l) = log.lock() {
            l.push((path, preflight));
        }
        let mut r = format!(
            "Access-Control-Allow-Origin: {origin}\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\nConnection: close\r\n"
        );
        if preflight {
            let (acrm, acrh) = if wildcard {
                (Some("*".to_owned()), Some("*".to_owned()))
            } else {
                (
                    get("access-control-request-method"),
                    get("access-control-request-headers"),
                )
            };
            r += &format!(
                "Access-Control-Allow-Methods: {}\r\nAccess-Control-Max-Age: 600\r\n",
                acrm.unwrap_or_default()
            );
            if let Some(acrh) = acrh {
                r += &format!("Access-Control-Allow-Headers: {acrh}\r\n");
            }
            format!("HTTP/1.1 204 No Content\r\n{r}\r\n")
        } else {
            format!("HTTP/1.1 200 OK\r\n{r}Content-Length: 2\r\n\r\nok")
        }
    };
    let mut stream = stream;
    stream.write_all(response.as_bytes())?;
    stream.flush()
}

/// Runs the steps one after another with `fetch()`; the callback gets each
/// step's outcome.
const SCRIPT: &str = r#"
const steps = arguments[0], done = arguments[arguments.length - 1];
(async () => {
  const out = [];
  for (const s of steps) {
    const h = new Headers();
    for (const n of s.headers) h.append(n, '1');
    try {
      const r = await fetch(s.url, {method: s.method, headers: h, credentials: s.credentials, mode: 'cors'});
      await r.text();
      out.push('allowed');
    } catch (e) { out.push('blocked: ' + e); }
  }
  return out;
})().then(done, e => done(['error: ' + e]));
"#;

/// The URL of sequence `i`, padded to its length if it has one.
fn url(api: &str, run: &str, i: usize) -> String {
    let base = format!("{api}/cache/{run}/{i}/");
    match SEQUENCES[i].1 {
        Url::Length(len) => format!("{base}{}", "a".repeat(len.saturating_sub(base.len()))),
        Url::Wildcard => format!("{base}{}", &WILDCARD[1..]),
        Url::Plain => base,
    }
}

/// The path of sequence `i` (what the server logs).
fn path(api: &str, run: &str, i: usize) -> String {
    url(api, run, i)[api.len()..].to_owned()
}

/// Preflights before each request of each sequence, as the browser made them.
fn in_browser(driver: &Driver, page: &str, api: &str, log: &Log, run: &str) -> Vec<Vec<usize>> {
    driver.navigate(&format!("{page}/")).expect("load the page");
    SEQUENCES
        .iter()
        .enumerate()
        .map(|(i, (name, _, steps))| {
            let steps_json: Vec<Value> = steps
                .iter()
                .map(|(m, h, c)| {
                    json!({"url": url(api, run, i), "method": m, "headers": h,
                           "credentials": if *c { "include" } else { "omit" }})
                })
                .collect();
            let out = driver
                .execute_async(SCRIPT, vec![Value::Array(steps_json)])
                .expect("run the sequence");
            assert!(
                out.as_array()
                    .is_some_and(|a| a.len() == steps.len() && a.iter().all(|o| o == "allowed")),
                "{name}: every request is allowed by the mirroring server, got {out}"
            );
            let path = path(api, run, i);
            let entries: Vec<bool> = log
                .lock()
                .expect("log")
                .iter()
                .filter(|(p, _)| *p == path)
                .map(|(_, pre)| *pre)
                .collect();
            per_request(&entries)
        })
        .collect()
}

/// Splits a log of (preflight?) entries into preflights per request.
fn per_request(entries: &[bool]) -> Vec<usize> {
    let mut counts = Vec::new();
    let mut pending = 0;
    for &pre in entries {
        if pre {
            pending += 1;
        } else {
            counts.push(pending);
            pending = 0;
        }
    }
    counts
}

/// The same, as the engine's browser predicts for `profile`.
fn in_engine(profile: Profile, page: &str, api: &str, run: &str) -> Vec<Vec<usize>> {
    SEQUENCES
        .iter()
        .enumerate()
        .map(|(i, (_, _, steps))| {
            let mut browser = Browser::new(profile);
            steps
                .iter()
                .map(|(m, h, c)| {
                    let mut b = Request::builder(page, url(api, run, i))
                        .method(*m)
                        .credentials(if *c {
                            Credentials::Include
                        } else {
                            Credentials::Omit
                        });
                    for n in *h {
                        b = b.header(*n, "1");
                    }
                    let req = b.build().expect("a valid request");
                    let verdict = browser
                        .run(req, |out| {
                            let mut r = Response::new(if out.stage == Stage::Preflight {
                                204
                            } else {
                                200
                            })
                            .header("Access-Control-Allow-Origin", page)
                            .header("Access-Control-Allow-Credentials", "true");
                            if out.stage == Stage::Preflight {
                                let (acrm, acrh) = if out.url.contains(WILDCARD) {
                                    (Some("*".to_owned()), Some("*".to_owned()))
                                } else {
                                    (
                                        out.headers.get_str("access-control-request-method"),
                                        out.headers.get_str("access-control-request-headers"),
                                    )
                                };
                                r = r
                                    .header(
                                        "Access-Control-Allow-Methods",
                                        acrm.unwrap_or_default(),
                                    )
                                    .header("Access-Control-Max-Age", "600");
                                if let Some(h) = acrh {
                                    r = r.header("Access-Control-Allow-Headers", h);
                                }
                            }
                            Ok::<_, ()>(r)
                        })
                        .expect("the engine runs");
                    assert!(verdict.allowed, "the engine allows {m} {h:?}");
                    verdict.preflights
                })
                .collect()
        })
        .collect()
}

fn compare(browser: &str, profile: Profile, seen: &[Vec<usize>], page: &str, api: &str, run: &str) {
    let predicted = in_engine(profile, page, api, run);
    let mut bad = Vec::new();
    for (((name, _, _), s), p) in SEQUENCES.iter().zip(seen).zip(&predicted) {
        eprintln!("{browser}: {name}: preflights per request {s:?}, engine {p:?}");
        if s != p {
            bad.push(format!("{name}: {browser} {s:?}, engine:{profile} {p:?}"));
        }
    }
    assert!(
        bad.is_empty(),
        "preflights per request differ:\n{}",
        bad.join("\n")
    );
}

#[test]
fn chromium_preflight_cache_across_requests() {
    let (page, api, log) = serve();
    let opts = Options::default();
    let chromedriver = std::env::var("CORSGATE_CHROMEDRIVER").unwrap_or(opts.chromedriver);
    let chromium = std::env::var("CORSGATE_CHROMIUM").unwrap_or(opts.chromium);
    let driver = Driver::start(&chromedriver, &chromium)
        .unwrap_or_else(|e| panic!("cannot start Chromium: {e}"));
    let seen = in_browser(&driver, &page, &api, &log, "c");
    compare("chromium", Profile::Chromium, &seen, &page, &api, "c");
}

#[test]
fn firefox_preflight_cache_across_requests() {
    let (page, api, log) = serve();
    let mut opts = FirefoxOptions::default();
    if let Ok(p) = std::env::var("CORSGATE_GECKODRIVER") {
        opts.geckodriver = p;
    }
    let driver = start_firefox(&opts).unwrap_or_else(|e| panic!("cannot start Firefox: {e}"));
    let seen = in_browser(&driver, &page, &api, &log, "f");
    compare("firefox", Profile::Firefox, &seen, &page, &api, "f");
}

#[test]
fn webkit_preflight_cache_across_requests() {
    let (page, api, log) = serve();
    let opts = WebkitOptions::from_env();
    let x = Xvfb::start(&opts.xvfb).unwrap_or_else(|e| panic!("cannot start Xvfb: {e}"));
    let driver =
        start_webkit(&opts, &x.display).unwrap_or_else(|e| panic!("cannot start WebKit: {e}"));
    let seen = in_browser(&driver, &page, &api, &log, "w");
    drop(driver);
    compare("webkit", Profile::Safari, &seen, &page, &api, "w");
}
