//! Experiment: which request header does Chromium's console name when a
//! preflight answer allows several of them not?
//!
//! Sends `fetch()` (with a `Headers` object, a plain object or an array of
//! pairs) and `XMLHttpRequest` requests with 2 to 6 disallowed headers of
//! random names (lengths, case, token characters, with and without
//! safelisted ones) to a loopback server whose preflight answer allows none
//! or some of them, and prints one JSON line per request: the API, the
//! headers in the order script gave them, the allowed names, and the header
//! Chromium's console named.
//!
//! ```text
//! cargo run -p corsgate-conformance --example blink_header_order -- [SEED] [N] > data.jsonl
//! ```
//!
//! Needs Debian's `chromium` and `chromium-driver`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use corsgate_conformance::rng::Rng;
use corsgate_conformance::webdriver::Driver;
use serde_json::{json, Value};

/// Token characters besides letters and digits.
const PUNCT: &[u8] = b"!#$%&'*+-.^_`|~";
/// Names the conformance matrix and real pages often use.
const COMMON: &[&str] = &[
    "X-A",
    "x-b",
    "X-Trace",
    "X-Requested-With",
    "Authorization",
    "Cache-Control",
    "If-Range",
    "If-None-Match",
    "If-Modified-Since",
    "X-HTTP-Method-Override",
    "X-Quote",
    "Sec-Custom",
    "X-Custom-Header",
    "Pragma",
    "Upgrade-Insecure-Requests",
    "X-Api-Key",
    "X-CSRF-Token",
];
/// Safelisted headers with safelisted values.
const SAFE: &[(&str, &str)] = &[
    ("Content-Type", "text/plain"),
    ("Accept", "application/json"),
    ("Accept-Language", "en"),
    ("Content-Language", "de"),
];
/// Safelisted names with values that make them unsafe.
const UNSAFE_VALUE: &[(&str, &str)] = &[
    ("Content-Type", "application/json"),
    ("Accept", "a(b"),
    ("Content-Language", "a(b"),
];

fn random_name(rng: &mut Rng) -> String {
    if rng.chance(25) {
        return rng.pick(COMMON).to_string();
    }
    let max = if rng.chance(20) { 40 } else { 14 };
    let len = 1 + rng.below(max);
    let mut s = String::new();
    if rng.chance(40) {
        s.push_str(if rng.chance(50) { "x-" } else { "X-" });
    }
    for _ in 0..len {
        let c = match rng.below(10) {
            0..=5 => (b'a' + rng.below(26) as u8) as char,
            6 | 7 => (b'A' + rng.below(26) as u8) as char,
            8 => (b'0' + rng.below(10) as u8) as char,
            _ => *rng.pick(PUNCT) as char,
        };
        s.push(c);
    }
    s
}

/// One request: the headers in script order, which names (lower-case) the
/// preflight allows, and the API form.
fn job(rng: &mut Rng, id: usize) -> Value {
    let n = 2 + rng.below(5);
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    while seen.len() < n {
        let name = random_name(rng);
        let lower = name.to_ascii_lowercase();
        if seen.contains(&lower) || forbidden(&lower) {
            continue;
        }
        seen.push(lower);
        headers.push((name, "v".to_owned()));
    }
    if rng.chance(30) {
        let (n, v) = rng.pick(UNSAFE_VALUE);
        if !seen.contains(&n.to_ascii_lowercase()) {
            seen.push(n.to_ascii_lowercase());
            headers.push((n.to_string(), v.to_string()));
        }
    }
    for _ in 0..rng.below(3) {
        let (n, v) = rng.pick(SAFE);
        let l = n.to_ascii_lowercase();
        if !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(n)) {
            headers.push((n.to_string(), v.to_string()));
            let _ = l;
        }
    }
    // Shuffle.
    for i in (1..headers.len()).rev() {
        let j = rng.below(i + 1);
        headers.swap(i, j);
    }
    // Allow none or some (never all) of the unsafe names.
    let mut allow: Vec<String> = Vec::new();
    if rng.chance(60) {
        for l in &seen {
            if rng.chance(35) {
                allow.push(l.clone());
            }
        }
        if allow.len() + 1 >= seen.len() {
            allow.truncate(seen.len().saturating_sub(2));
        }
    }
    let kind = *rng.pick(&["headers", "object", "pairs", "xhr"]);
    json!({"id": id, "kind": kind, "headers": headers, "allow": allow})
}

/// A name the page could not set with some value: the engine's forbidden
/// list (a method override counts, judged with a forbidden method).
fn forbidden(lower: &str) -> bool {
    corsgate_core::safelist::is_forbidden_request_header(lower, b"TRACE")
}

const RUNNER: &str = r#"
const jobs = arguments[0], base = arguments[1], done = arguments[arguments.length - 1];
function one(j) {
  const url = base + '/x/' + j.id + '?allow=' + encodeURIComponent(j.allow.join(','));
  if (j.kind === 'xhr') {
    return new Promise(resolve => {
      const x = new XMLHttpRequest();
      x.open('GET', url);
      for (const [n, v] of j.headers) x.setRequestHeader(n, v);
      x.onload = x.onerror = () => resolve();
      x.send();
    });
  }
  let h;
  if (j.kind === 'headers') { h = new Headers(); for (const [n, v] of j.headers) h.append(n, v); }
  else if (j.kind === 'object') { h = {}; for (const [n, v] of j.headers) h[n] = v; }
  else { h = j.headers.map(p => [p[0], p[1]]); }
  return fetch(url, {headers: h}).then(r => r.arrayBuffer(), () => {});
}
(async () => {
  for (let i = 0; i < jobs.length; i += 8) await Promise.all(jobs.slice(i, i + 8).map(one));
})().then(() => done('ok'), e => done(String(e)));
"#;

fn serve(listener: TcpListener, page: bool) {
    for stream in listener.incoming().flatten() {
        thread::spawn(move || answer(stream, page));
    }
}

fn answer(mut stream: TcpStream, page: bool) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let mut origin = String::from("*");
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" || h == "\n" {
                break;
            }
            if let Some(v) = h
                .strip_prefix("Origin: ")
                .or_else(|| h.strip_prefix("origin: "))
            {
                origin = v.trim().to_owned();
            }
        }
        let response = if page {
            let body = "<!doctype html><title>p</title>";
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        } else if method == "OPTIONS" {
            let allow = target
                .split("allow=")
                .nth(1)
                .map(decode)
                .unwrap_or_default();
            format!(
                "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: {origin}\r\nAccess-Control-Allow-Methods: GET\r\nAccess-Control-Allow-Headers: {allow}\r\nContent-Length: 0\r\n\r\n"
            )
        } else {
            "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 0\r\n\r\n"
                .to_owned()
        };
        if stream.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = s
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed = args
        .get(1)
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0xb11c);
    let count: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(400);
    let page = TcpListener::bind("127.0.0.1:0").expect("bind");
    let target = TcpListener::bind("127.0.0.1:0").expect("bind");
    // `BLINK_PAGE_HOST=name.test` serves the page from that name instead.
    let page_host = std::env::var("BLINK_PAGE_HOST").ok();
    let page_url = format!(
        "http://{}:{}",
        page_host.as_deref().unwrap_or("localhost"),
        page.local_addr().expect("addr").port()
    );
    // `BLINK_TARGET_HOST=name.test` sends the requests to that name
    // (resolved to 127.0.0.1 by Chromium's host resolver rules): an origin
    // that is not potentially trustworthy, unlike `localhost`.
    let target_host = std::env::var("BLINK_TARGET_HOST").ok();
    let target_url = format!(
        "http://{}:{}",
        target_host.as_deref().unwrap_or("localhost"),
        target.local_addr().expect("addr").port()
    );
    thread::spawn(move || serve(page, true));
    thread::spawn(move || serve(target, false));
    let mut rng = Rng::new(seed);
    let jobs: Vec<Value> = (0..count).map(|i| job(&mut rng, i)).collect();
    let chromedriver =
        std::env::var("CORSGATE_CHROMEDRIVER").unwrap_or("/usr/bin/chromedriver".into());
    let chromium = std::env::var("CORSGATE_CHROMIUM").unwrap_or("/usr/bin/chromium".into());
    let mapped: Vec<&String> = page_host.iter().chain(target_host.iter()).collect();
    let driver = match mapped.is_empty() {
        true => Driver::start(&chromedriver, &chromium).expect("chromium starts"),
        false => {
            let profile_dir =
                std::env::temp_dir().join(format!("corsgate-blink-order-{}", std::process::id()));
            let mut args: Vec<String> = corsgate_conformance::webdriver::CHROMIUM_FLAGS
                .iter()
                .map(|s| s.to_string())
                .collect();
            args.push(format!("--user-data-dir={}", profile_dir.display()));
            let rules: Vec<String> = mapped
                .iter()
                .map(|h| format!("MAP {h} 127.0.0.1"))
                .collect();
            args.push(format!("--host-resolver-rules={}", rules.join(",")));
            let caps = json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium, "args": args},
                "goog:loggingPrefs": {"browser": "ALL"},
                "timeouts": {"script": 300_000, "pageLoad": 60_000}
            }}});
            let mut d = Driver::launch(
                &chromedriver,
                |port| vec![format!("--port={port}")],
                &caps,
                profile_dir,
            )
            .expect("chromium starts");
            d.console_source = corsgate_conformance::webdriver::ConsoleSource::ChromeLog;
            d
        }
    };
    driver
        .navigate(&format!("{page_url}/"))
        .expect("page loads");
    let mut console = driver.console().expect("console");
    for chunk in jobs.chunks(200) {
        let r = driver
            .execute_async(
                RUNNER,
                vec![Value::Array(chunk.to_vec()), json!(target_url)],
            )
            .expect("script runs");
        assert_eq!(r, json!("ok"), "{r}");
        console.extend(driver.console().expect("console"));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    console.extend(driver.console().expect("console"));
    let mut named: BTreeMap<usize, String> = BTreeMap::new();
    for line in &console {
        let Some(rest) = line.split("/x/").nth(1) else {
            continue;
        };
        let id: usize = match rest.split('?').next().and_then(|s| s.parse().ok()) {
            Some(id) => id,
            None => continue,
        };
        if let Some(h) = line
            .split("Request header field ")
            .nth(1)
            .and_then(|s| s.split(" is not allowed").next())
        {
            named.insert(id, h.to_owned());
        }
    }
    let out = std::io::stdout();
    let mut out = out.lock();
    for j in &jobs {
        let id = j["id"].as_u64().unwrap_or_default() as usize;
        let mut j = j.clone();
        j["named"] = named.get(&id).map(|s| json!(s)).unwrap_or(Value::Null);
        let _ = writeln!(out, "{j}");
    }
    eprintln!(
        "{} requests, {} named, {}",
        jobs.len(),
        named.len(),
        driver_version(&chromium)
    );
}

fn driver_version(chromium: &str) -> String {
    corsgate_conformance::run::chromium_version(chromium).unwrap_or_default()
}
