//! `corsgate har` on HAR files written here in Chrome's and Firefox's shapes.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::corsgate;
use serde_json::{json, Value};

const APP: &str = "https://app.example.com";
const API: &str = "https://api.example.com";

fn headers(pairs: &[(&str, &str)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(n, v)| json!({ "name": n, "value": v }))
            .collect(),
    )
}

/// An entry as Chrome DevTools exports it (HTTP/2 pseudo-headers, lower-case names).
fn chrome_entry(
    kind: &str,
    method: &str,
    url: &str,
    req: &[(&str, &str)],
    status: i64,
    resp: &[(&str, &str)],
    error: Option<&str>,
) -> Value {
    let mut all = vec![
        (":authority", "api.example.com"),
        (":method", method),
        (":path", "/"),
        (":scheme", "https"),
        ("accept-language", "en-US,en;q=0.9"),
        ("priority", "u=1, i"),
        ("sec-fetch-mode", "cors"),
        ("user-agent", "Mozilla/5.0 Chrome/156.0"),
    ];
    all.extend_from_slice(req);
    let mut response = json!({
        "status": status,
        "statusText": "",
        "httpVersion": "http/2.0",
        "headers": headers(resp),
        "cookies": [],
        "content": { "size": 2, "mimeType": "application/json", "text": "{}" },
        "redirectURL": "",
        "headersSize": -1,
        "bodySize": -1,
        "_transferSize": 0,
    });
    if let Some(e) = error {
        response["_error"] = json!(e);
    }
    json!({
        "_initiator": { "type": "script" },
        "_priority": "High",
        "_resourceType": kind,
        "cache": {},
        "connection": "443",
        "pageref": "page_1",
        "request": {
            "method": method,
            "url": url,
            "httpVersion": "http/2.0",
            "headers": headers(&all),
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": 0
        },
        "response": response,
        "serverIPAddress": "192.0.2.1",
        "startedDateTime": "2026-11-25T10:00:00.000Z",
        "time": 12.5,
        "timings": { "blocked": 1, "dns": -1, "ssl": -1, "connect": -1, "send": 0, "wait": 10, "receive": 1 }
    })
}

/// An entry as Firefox exports it (HTTP/1.1 header case).
fn firefox_entry(
    method: &str,
    url: &str,
    req: &[(&str, &str)],
    status: i64,
    resp: &[(&str, &str)],
) -> Value {
    let mut all = vec![
        ("Host", "api.example.com"),
        (
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
        ),
        ("Accept", "*/*"),
        ("Accept-Language", "en-US,en;q=0.5"),
        ("Accept-Encoding", "gzip, deflate, br"),
        ("Referer", "https://app.example.com/"),
        ("Connection", "keep-alive"),
        ("Sec-Fetch-Dest", "empty"),
        ("Sec-Fetch-Mode", "cors"),
        ("Sec-Fetch-Site", "same-site"),
    ];
    all.extend_from_slice(req);
    json!({
        "pageref": "page_1",
        "startedDateTime": "2026-11-25T11:00:00.000+01:00",
        "request": {
            "bodySize": 0,
            "method": method,
            "url": url,
            "httpVersion": "HTTP/1.1",
            "headers": headers(&all),
            "cookies": [],
            "queryString": [],
            "headersSize": 400
        },
        "response": {
            "status": status,
            "statusText": "OK",
            "httpVersion": "HTTP/1.1",
            "headers": headers(resp),
            "cookies": [],
            "content": { "mimeType": "application/json", "size": 2, "text": "{}" },
            "redirectURL": "",
            "headersSize": 200,
            "bodySize": 2
        },
        "cache": {},
        "timings": { "blocked": 0, "dns": 0, "connect": 0, "ssl": 0, "send": 0, "wait": 10, "receive": 0 },
        "time": 10,
        "_securityState": "secure",
        "serverIPAddress": "192.0.2.1",
        "connection": "443"
    })
}

fn har(creator: &str, entries: Vec<Value>) -> Value {
    json!({ "log": {
        "version": "1.2",
        "creator": { "name": creator, "version": "1" },
        "pages": [{ "id": "page_1", "title": APP, "startedDateTime": "2026-11-25T10:00:00.000Z", "pageTimings": {} }],
        "entries": entries
    }})
}

fn write(name: &str, v: &Value) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("har");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    p
}

fn result<'a>(v: &'a Value, url: &str, method: &str) -> &'a Value {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["url"] == url && r["method"] == method)
        .unwrap_or_else(|| panic!("no result for {method} {url} in {v:#}"))
}

fn chrome_har() -> Value {
    let o = ("origin", APP);
    har(
        "WebInspector",
        vec![
            // The page itself: same-origin, no Origin header: not CORS.
            chrome_entry(
                "document",
                "GET",
                "https://app.example.com/",
                &[],
                200,
                &[("content-type", "text/html")],
                None,
            ),
            // A preflight whose request Chrome never sent: x-token is not allowed.
            chrome_entry(
                "preflight",
                "OPTIONS",
                &format!("{API}/items"),
                &[
                    o,
                    ("access-control-request-method", "PUT"),
                    ("access-control-request-headers", "content-type,x-token"),
                ],
                204,
                &[
                    ("access-control-allow-origin", APP),
                    ("access-control-allow-methods", "PUT"),
                    ("access-control-allow-headers", "content-type"),
                ],
                None,
            ),
            // Blocked with nothing recorded.
            chrome_entry(
                "fetch",
                "GET",
                &format!("{API}/nothing"),
                &[o],
                0,
                &[],
                Some("net::ERR_FAILED"),
            ),
            // Allowed.
            chrome_entry(
                "fetch",
                "GET",
                &format!("{API}/public"),
                &[o, ("accept", "*/*")],
                200,
                &[("access-control-allow-origin", "*")],
                None,
            ),
            // Blocked, headers recorded: fails only with credentials.
            chrome_entry(
                "fetch",
                "GET",
                &format!("{API}/me"),
                &[o],
                0,
                &[("access-control-allow-origin", "*")],
                Some("net::ERR_FAILED"),
            ),
            // A passing preflight and its request.
            chrome_entry(
                "preflight",
                "OPTIONS",
                &format!("{API}/items/1"),
                &[o, ("access-control-request-method", "DELETE")],
                204,
                &[
                    ("access-control-allow-origin", APP),
                    ("access-control-allow-methods", "GET, DELETE"),
                ],
                None,
            ),
            chrome_entry(
                "fetch",
                "DELETE",
                &format!("{API}/items/1"),
                &[o],
                200,
                &[("access-control-allow-origin", APP)],
                None,
            ),
            // A www mix-up.
            chrome_entry(
                "fetch",
                "GET",
                &format!("{API}/mismatch"),
                &[o],
                200,
                &[("access-control-allow-origin", "https://www.app.example.com")],
                None,
            ),
            // A cross-origin form POST (a navigation): Origin, but not CORS.
            chrome_entry(
                "document",
                "POST",
                &format!("{API}/form"),
                &[o, ("sec-fetch-mode", "navigate")],
                200,
                &[("content-type", "text/html")],
                None,
            ),
            // A cross-origin redirect: the next hop carries Origin: null.
            chrome_entry(
                "fetch",
                "GET",
                &format!("{API}/start"),
                &[o],
                302,
                &[
                    ("location", "https://cdn.example.net/final"),
                    ("access-control-allow-origin", "*"),
                ],
                None,
            ),
            chrome_entry(
                "fetch",
                "GET",
                "https://cdn.example.net/final",
                &[("origin", "null")],
                200,
                &[("access-control-allow-origin", APP)],
                None,
            ),
        ],
    )
}

#[test]
fn chrome_har_is_judged() {
    let p = write("chrome.har", &chrome_har());
    let r = corsgate(&["har", p.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["creator"], "WebInspector");
    assert_eq!(v["entries"], 11);
    assert_eq!(v["preflights"], 2);
    assert_eq!(v["cross_origin"], 8);
    assert_eq!(v["failed"], 4, "{v:#}");
    assert_eq!(v["unknown"], 1, "{v:#}");

    let pre = result(&v, &format!("{API}/items"), "PUT");
    assert_eq!(pre["outcome"], "refused");
    assert_eq!(pre["code"], "header_not_allowed");
    assert!(pre["message"].as_str().unwrap().contains("x-token"));
    assert_eq!(pre["preflight"], true);
    // The one `fix` shape (report::Fix), the structured change included.
    assert_eq!(pre["fix"]["stage"], "preflight", "{pre:#}");
    assert!(pre["fix"]["set_headers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h[0] == "Access-Control-Allow-Headers"
            && h[1]
                .as_str()
                .unwrap()
                .to_ascii_lowercase()
                .contains("x-token")));
    assert!(pre["fix"]["sentence"].is_string() && pre["fix"]["snippet"].is_null());

    let nothing = result(&v, &format!("{API}/nothing"), "GET");
    assert_eq!(nothing["outcome"], "unknown");
    assert!(nothing["notes"][0].as_str().unwrap().contains("status 0"));

    let me = result(&v, &format!("{API}/me"), "GET");
    assert_eq!(me["code"], "wildcard_origin_with_credentials");
    assert!(me["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().contains("credentials mode")));

    assert_eq!(
        result(&v, &format!("{API}/mismatch"), "GET")["code"],
        "allow_origin_mismatch"
    );
    let hop = result(&v, "https://cdn.example.net/final", "GET");
    assert_eq!(hop["origin"], "null");
    assert_eq!(hop["code"], "allow_origin_mismatch");
    // Allowed ones are listed only with --all.
    assert!(v["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["outcome"] != "allowed"));
    let all = corsgate(&["har", p.to_str().unwrap(), "--json", "--all"]).json();
    let del = result(&all, &format!("{API}/items/1"), "DELETE");
    assert_eq!(del["outcome"], "allowed");
    assert_eq!(del["preflight"], true);
    assert_eq!(
        result(&all, &format!("{API}/public"), "GET")["outcome"],
        "allowed"
    );
    assert_eq!(
        result(&all, &format!("{API}/start"), "GET")["outcome"],
        "allowed"
    );

    // Human table.
    let h = corsgate(&["har", p.to_str().unwrap()]);
    assert_eq!(h.code, 1);
    assert!(
        h.stdout
            .contains("REFUSED PUT https://api.example.com/items"),
        "{}",
        h.stdout
    );
    assert!(h.stdout.contains("header_not_allowed"));
    assert!(h
        .stdout
        .contains("UNKNOWN GET https://api.example.com/nothing"));
}

#[test]
fn firefox_har_is_judged() {
    let o = ("Origin", APP);
    let doc = har(
        "Firefox",
        vec![
            firefox_entry(
                "OPTIONS",
                &format!("{API}/orders"),
                &[
                    o,
                    ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "content-type"),
                ],
                401,
                &[("WWW-Authenticate", "Bearer"), ("Content-Length", "0")],
            ),
            firefox_entry(
                "POST",
                &format!("{API}/form"),
                &[
                    o,
                    ("Content-Type", "text/plain;charset=UTF-8"),
                    ("Cookie", "session=1"),
                ],
                200,
                &[
                    ("Access-Control-Allow-Origin", APP),
                    ("Content-Type", "application/json"),
                ],
            ),
            firefox_entry(
                "GET",
                &format!("{API}/twice"),
                &[o],
                200,
                &[
                    ("Access-Control-Allow-Origin", APP),
                    ("Access-Control-Allow-Origin", APP),
                ],
            ),
            firefox_entry(
                "GET",
                &format!("{API}/fine"),
                &[o],
                200,
                &[("Access-Control-Allow-Origin", APP), ("Vary", "Origin")],
            ),
        ],
    );
    let p = write("firefox.har", &doc);
    let r = corsgate(&["har", p.to_str().unwrap(), "--json", "--browser", "firefox"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["failed"], 3, "{v:#}");
    let orders = result(&v, &format!("{API}/orders"), "POST");
    // Firefox, like Chromium, runs the CORS check on a preflight answer
    // before its status (Firefox 153 ESR's console, in the conformance harness).
    assert_eq!(orders["code"], "missing_allow_origin");
    assert_eq!(orders["status"], 401);
    let chromium = corsgate(&["har", p.to_str().unwrap(), "--json"]).json();
    assert_eq!(
        result(&chromium, &format!("{API}/orders"), "POST")["code"],
        "missing_allow_origin"
    );
    let form = result(&v, &format!("{API}/form"), "POST");
    assert_eq!(form["code"], "invalid_allow_credentials", "{form:#}");
    assert!(form["notes"][0].as_str().unwrap().contains("Cookie"));
    let twice = result(&v, &format!("{API}/twice"), "GET");
    assert_eq!(twice["code"], "multiple_allow_origin");
    let has = |r: &Value, code: &str| {
        r["hints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["code"] == code)
    };
    assert!(has(twice, "allow_origin_twice"), "{twice:#}");
    assert!(has(orders, "preflight_auth_before_cors"), "{orders:#}");
}

#[test]
fn a_clean_har_exits_0() {
    let doc = har(
        "WebInspector",
        vec![chrome_entry(
            "fetch",
            "GET",
            &format!("{API}/ok"),
            &[("origin", APP)],
            200,
            &[("access-control-allow-origin", APP)],
            None,
        )],
    );
    let p = write("clean.har", &doc);
    let r = corsgate(&["har", p.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("every cross-origin request passes"));
}

#[test]
fn malformed_files_are_clear_errors() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("har-bad");
    std::fs::create_dir_all(&dir).unwrap();
    let truncated = dir.join("truncated.har");
    let full = serde_json::to_string(&chrome_har()).unwrap();
    std::fs::write(&truncated, &full[..full.len() / 2]).unwrap();
    let r = corsgate(&["har", truncated.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not a valid HAR file"), "{}", r.stderr);
    assert!(r.stderr.contains("line"), "{}", r.stderr);

    let not_har = dir.join("not.har");
    std::fs::write(&not_har, "{\"hello\": [1, 2, 3]}").unwrap();
    let r = corsgate(&["har", not_har.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no \"log\""), "{}", r.stderr);

    let wrong = dir.join("wrong.har");
    std::fs::write(&wrong, "{\"log\": {\"entries\": [{\"request\": 5}]}}").unwrap();
    let r = corsgate(&["har", wrong.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.json()["error"]["code"], "bad_har");

    let r = corsgate(&["har", dir.join("missing.har").to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot read"), "{}", r.stderr);
}

#[test]
#[cfg(target_os = "linux")]
fn large_har_streams_in_bounded_memory() {
    // ~60 MB: 4,000 entries with 15 kB bodies; bodies are skipped unread.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("har-big");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.har");
    let body = "x".repeat(15_000);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    use std::io::Write;
    write!(
        f,
        "{{\"log\":{{\"version\":\"1.2\",\"creator\":{{\"name\":\"WebInspector\"}},\"entries\":["
    )
    .unwrap();
    let n = 4_000;
    for i in 0..n {
        let mut e = chrome_entry(
            "fetch",
            "GET",
            &format!("{API}/item/{i}"),
            &[("origin", APP)],
            200,
            &[(
                "access-control-allow-origin",
                if i % 1000 == 0 {
                    "https://evil.example"
                } else {
                    APP
                },
            )],
            None,
        );
        e["response"]["content"]["text"] = json!(body);
        if i > 0 {
            write!(f, ",").unwrap();
        }
        serde_json::to_writer(&mut f, &e).unwrap();
    }
    write!(f, "]}}}}").unwrap();
    drop(f);
    let start = std::time::Instant::now();
    // Watch the peak resident memory (VmHWM) while it runs: the file is 60 MB.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_corsgate"))
        .args(["har", path.to_str().unwrap(), "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    while child.try_wait().unwrap().is_none() {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak_kb = peak_kb.max(kb);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let took = start.elapsed();
    let r = common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        peak_kb > 0 && peak_kb < 40_000,
        "peak resident memory {peak_kb} kB"
    );
    assert!(std::fs::metadata(&path).unwrap().len() > 60_000_000);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["entries"], n);
    assert_eq!(v["failed"], 4);
    assert!(took.as_secs() < 60, "took {took:?}");
    let _ = std::fs::remove_file(&path);
}

/// Every request and response header line written twice, as some recording
/// tools do: judged as if written once, so every blocked request is flagged.
#[test]
fn a_har_with_every_header_line_doubled_is_judged_as_written_once() {
    let double = |v: &mut Value, part: &str| {
        let lines = v[part]["headers"].as_array().unwrap().clone();
        let mut twice = Vec::new();
        for l in lines {
            twice.push(l.clone());
            twice.push(l);
        }
        v[part]["headers"] = Value::Array(twice);
    };
    let mut entries = Vec::new();
    for i in 0..40 {
        let (acao, blocked) = if i % 2 == 0 {
            ("https://other.example", true)
        } else {
            (APP, false)
        };
        let mut e = chrome_entry(
            "fetch",
            "GET",
            &format!("{API}/doubled/{i}"),
            &[("origin", APP)],
            if blocked { 0 } else { 200 },
            &[
                ("access-control-allow-origin", acao),
                ("content-type", "application/json"),
            ],
            blocked.then_some("net::ERR_FAILED"),
        );
        double(&mut e, "request");
        double(&mut e, "response");
        entries.push(e);
    }
    // A server that really sends the header twice (among single lines) is still refused.
    entries.push(chrome_entry(
        "fetch",
        "GET",
        &format!("{API}/twice"),
        &[("origin", APP)],
        0,
        &[
            ("access-control-allow-origin", APP),
            ("access-control-allow-origin", APP),
            ("content-type", "application/json"),
        ],
        Some("net::ERR_FAILED"),
    ));
    let path = write("doubled.har", &har("a recorder", entries));
    let r = corsgate(&["har", path.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["cross_origin"], 41, "{v:#}");
    assert_eq!(v["failed"], 21, "{v:#}");
    assert_eq!(v["unknown"], 0, "{v:#}");
    assert_eq!(
        result(&v, &format!("{API}/doubled/0"), "GET")["code"],
        "allow_origin_mismatch"
    );
    assert_eq!(
        result(&v, &format!("{API}/twice"), "GET")["code"],
        "multiple_allow_origin"
    );
    // The human report: one group per refusal, with its count and one example.
    let h = corsgate(&["har", path.to_str().unwrap()]);
    assert!(
        h.stdout
            .contains("allow_origin_mismatch — 20 requests (20 URLs, 1 origin)"),
        "{}",
        h.stdout
    );
    assert_eq!(h.stdout.matches("REFUSED GET").count(), 2, "{}", h.stdout);
    let all = corsgate(&["har", path.to_str().unwrap(), "--all"]);
    assert_eq!(
        all.stdout.matches("REFUSED GET").count(),
        21,
        "{}",
        all.stdout
    );
}

/// More preflights waiting for their request than the judge keeps: the
/// oldest are judged alone, none is dropped.
#[test]
fn preflights_beyond_the_pending_bound_are_judged_not_dropped() {
    let n = 10_050;
    let mut entries = Vec::with_capacity(n);
    for i in 0..n {
        entries.push(chrome_entry(
            "preflight",
            "OPTIONS",
            &format!("{API}/p/{i}"),
            &[("origin", APP), ("access-control-request-method", "PUT")],
            if i % 10 == 0 { 403 } else { 204 },
            &[
                ("access-control-allow-origin", APP),
                ("access-control-allow-methods", "PUT"),
            ],
            None,
        ));
    }
    let path = write("many-preflights.har", &har("WebInspector", entries));
    let r = corsgate(&["har", path.to_str().unwrap(), "--json"]);
    let v = r.json();
    assert_eq!(v["preflights"], n as u64);
    assert_eq!(v["cross_origin"], n as u64, "every preflight is judged");
    assert_eq!(v["failed"], (n as u64).div_ceil(10), "{}", v["failed"]);
    assert_eq!(
        v["failed"].as_u64().unwrap() + v["unknown"].as_u64().unwrap(),
        n as u64
    );
}

/// `.har.gz` (told by its bytes) and `-` for standard input, plain or compressed.
#[test]
fn gzip_and_standard_input() {
    use std::io::Write;
    let v = chrome_har();
    let plain = serde_json::to_vec(&v).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("har");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("chrome.har.gz");
    std::fs::write(&file, &gz).unwrap();
    let expected = corsgate(&[
        "har",
        write("chrome-plain.har", &v).to_str().unwrap(),
        "--json",
    ]);
    let from_file = corsgate(&["har", file.to_str().unwrap(), "--json"]);
    assert_eq!(from_file.code, expected.code, "{}", from_file.stderr);
    assert_eq!(from_file.json(), expected.json());
    for bytes in [plain, gz] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_corsgate"))
            .args(["har", "-", "--json"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(&bytes));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert_eq!(out.status.code(), Some(expected.code));
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(got, expected.json());
    }
    // A broken compressed file is a clear error, not a panic.
    std::fs::write(&file, [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
    let r = corsgate(&["har", file.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
}
