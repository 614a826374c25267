//! The decision log (`[decision_log]`) over real sockets: requests through
//! the gateway give the expected lines (names only, never a value), hostile
//! values are clipped and escaped, and a flood with the writer stalled (a
//! FIFO nobody reads) drops and counts lines instead of waiting or growing.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use corsgate_gateway::RunningGateway;
use serde_json::Value;

/// An answer with headers a page could need exposed, a cookie and values
/// that must never reach the log.
const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
x-request-id: REQID-VALUE\r\nx-secret-value: SECRET-RESPONSE-VALUE\r\n\
set-cookie: session=SECRET-SET-COOKIE\r\nAccess-Control-Allow-Origin: *\r\n\
content-length: 2\r\n\r\n{}";

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("corsgate-declog-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn config(up: std::net::SocketAddr, log: &Path, extra: &str) -> String {
    config_text(up).replacen(
        "[[routes]]",
        &format!(
            "[decision_log]\npath = {:?}\n{extra}\n\n[[routes]]",
            log.display().to_string()
        ),
        1,
    )
}

/// The log's lines, once `n` are there (the writer flushes when its queue
/// is empty).
async fn lines(path: &Path, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.lines().count() >= n {
            return text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "fewer than {n} lines: {}",
        std::fs::read_to_string(path).unwrap_or_default()
    );
}

fn names(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect()
}

async fn metric(gw: &RunningGateway, name: &str) -> u64 {
    let m = metrics(gw).await;
    m.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{m}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_through_the_gateway_give_their_lines() {
    let (up, _) = recording_upstream(ANSWER.to_vec()).await;
    let d = dir("lines");
    let log = d.join("decisions.jsonl");
    let gw = start_gateway(&config(up, &log, "")).await;
    let addr = gw.local_addr();
    let app = "https://app.example.com";
    // (method, path, headers, expected line or None)
    let preflight = send(
        addr,
        "OPTIONS",
        "/api/items",
        &[
            ("origin", app),
            ("access-control-request-method", "PUT"),
            (
                "access-control-request-headers",
                "content-type,authorization",
            ),
        ],
    )
    .await;
    assert_eq!(preflight.status, 204);
    let actual = send(
        addr,
        "PUT",
        "/api/items?secret-query=QUERYVALUE",
        &[
            ("origin", app),
            ("cookie", "session=SECRET-COOKIE"),
            ("authorization", "Bearer SECRET-TOKEN"),
            ("content-type", "application/json"),
            ("user-agent", "Mozilla/5.0"),
            ("sec-fetch-mode", "cors"),
            ("x-custom", "CUSTOM-VALUE"),
        ],
    )
    .await;
    assert_eq!(actual.status, 200);
    let refused = send(
        addr,
        "OPTIONS",
        "/api/items",
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "DELETE"),
        ],
    )
    .await;
    assert_eq!(refused.status, 403);
    // Not CORS: no line.
    send(addr, "GET", "/api/items", &[]).await;
    // A route without CORS: no line.
    send(addr, "GET", "/raw/items", &[("origin", app)]).await;
    // A refused actual request: forwarded, logged as refused.
    send(
        addr,
        "GET",
        "/public/x",
        &[("origin", "https://anyone.example")],
    )
    .await;
    send(
        addr,
        "GET",
        "/api/list",
        &[("origin", "https://evil.example")],
    )
    .await;

    let got = lines(&log, 5).await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(got.len(), 5, "{text}");
    for secret in [
        "SECRET",
        "REQID-VALUE",
        "CUSTOM-VALUE",
        "QUERYVALUE",
        "Mozilla",
    ] {
        assert!(!text.contains(secret), "{secret} in the log:\n{text}");
    }
    for l in &got {
        assert_eq!(l["format"], "corsgate-decisions/1");
        assert!(l["time"].as_str().unwrap().ends_with('Z'), "{l}");
    }
    let p = &got[0];
    assert_eq!(
        (
            &p["kind"],
            &p["origin"],
            &p["method"],
            &p["route"],
            &p["path"]
        ),
        (
            &"preflight".into(),
            &app.into(),
            &"PUT".into(),
            &"/api/".into(),
            &"/api/items".into()
        )
    );
    assert_eq!(
        names(p, "request_headers"),
        ["authorization", "content-type"]
    );
    assert_eq!(
        (&p["decision"], p["status"].as_u64()),
        (&"allowed".into(), Some(204))
    );
    assert_eq!(p["credentials"], false);
    assert!(names(p, "response_headers").is_empty());

    let a = &got[1];
    assert_eq!(
        (&a["kind"], &a["method"]),
        (&"actual".into(), &"PUT".into())
    );
    assert_eq!(
        names(a, "request_headers"),
        ["authorization", "content-type", "x-custom"]
    );
    assert_eq!(a["credentials"], true);
    // Names only; no set-cookie, no safelisted, no CORS header.
    // Names only; no set-cookie, no safelisted, no CORS header (`vary` is
    // the gateway's own `Vary: Origin`).
    assert_eq!(
        names(a, "response_headers"),
        ["vary", "x-request-id", "x-secret-value"]
    );
    assert_eq!(names(a, "exposed"), ["x-request-id"]);
    assert_eq!(
        (&a["decision"], &a["reason"]),
        (&"allowed".into(), &"origin_allowed".into())
    );

    let r = &got[2];
    assert_eq!(
        (
            &r["origin"],
            &r["method"],
            &r["decision"],
            r["status"].as_u64()
        ),
        (
            &"https://evil.example".into(),
            &"DELETE".into(),
            &"refused".into(),
            Some(403)
        )
    );
    let public = &got[3];
    assert_eq!(
        (&public["route"], &public["decision"]),
        (&"/public/".into(), &"allowed".into())
    );
    assert_eq!(public["exposed"], serde_json::json!(["x-request-id"]));
    let r = &got[4];
    assert_eq!(
        (&r["kind"], &r["decision"], &r["reason"]),
        (
            &"actual".into(),
            &"refused".into(),
            &"origin_not_allowed".into()
        )
    );
    assert!(names(r, "exposed").is_empty());
    assert_eq!(metric(&gw, "corsgate_decision_log_lines_total").await, 5);
    assert_eq!(metric(&gw, "corsgate_decision_log_dropped_total").await, 0);
    gw.shutdown().await;
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_are_clipped_and_escaped() {
    let (up, _) = recording_upstream(ANSWER.to_vec()).await;
    let d = dir("hostile");
    let log = d.join("decisions.jsonl");
    let gw = start_gateway(&config(up, &log, "")).await;
    let addr = gw.local_addr();
    let long_origin = format!("https://{}.example", "a".repeat(15 * 1024));
    let long_name = "x".repeat(3000);
    let many: Vec<String> = (0..200).map(|i| format!("x-h{i:03}")).collect();
    let many = many.join(",");
    let long_path = format!("/api/{}", "p".repeat(10 * 1024));
    // Tabs and bytes above 0x7f are legal in a header value; quotes and
    // backslashes too.
    let odd_origin: &[u8] = b"https://a.example\t\"\\\xff";
    let client = client();
    let mut sent = 0;
    let app: &[u8] = b"https://app.example.com";
    for (origin, acrh, path) in [
        (long_origin.as_bytes(), "x-a", "/api/x"),
        (app, long_name.as_str(), "/api/x"),
        (app, many.as_str(), "/api/x"),
        (app, "x-a", long_path.as_str()),
        (odd_origin, "x-a", "/api/x"),
    ] {
        let req = http::Request::builder()
            .method("OPTIONS")
            .uri(format!("http://{addr}{path}"))
            .header("origin", http::HeaderValue::from_bytes(origin).unwrap())
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", acrh)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        let resp = client
            .request(req.map(http_body_util::BodyExt::boxed))
            .await
            .unwrap();
        // The gateway answers each preflight itself, allowed or refused:
        // no hostile value turns it into another answer.
        assert!(
            matches!(resp.status().as_u16(), 204 | 403),
            "{}",
            resp.status()
        );
        sent += 1;
    }
    let got = lines(&log, sent).await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines().all(|l| l.len() < 32 * 1024),
        "a line over 32 KiB"
    );
    assert!(
        !text.bytes().any(|b| b < 0x20 && b != b'\n'),
        "a raw control byte"
    );
    assert!(got[0]["origin"]
        .as_str()
        .unwrap()
        .ends_with(&format!("…({} bytes)", long_origin.len())));
    assert!(names(&got[1], "request_headers")[0].ends_with("…(3000 bytes)"));
    assert_eq!(names(&got[2], "request_headers").len(), 64);
    assert_eq!(got[2]["request_headers_omitted"], 200 - 64);
    assert!(got[3]["path"]
        .as_str()
        .unwrap()
        .ends_with(&format!("…({} bytes)", long_path.len())));
    assert_eq!(got[4]["origin"], "https://a.example\t\"\\\u{FFFD}");
    assert!(text.contains(r#"https://a.example\t\"\\"#), "{text}");
    gw.shutdown().await;
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_with_the_writer_stalled_counts_drops_and_stays_bounded() {
    let (up, _) = recording_upstream(ANSWER.to_vec()).await;
    let d = dir("flood");
    let fifo = d.join("decisions.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // The reader end opened (so the gateway's open succeeds) and not read:
    // once the pipe's buffer is full, every write blocks.
    let reader = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap()
    };
    let buffer = 64 * 1024;
    let gw = start_gateway(&config(up, &fifo, &format!("buffer = {buffer}"))).await;
    let addr = gw.local_addr();
    let sent = 4000u64;
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for t in 0..8 {
        tasks.push(tokio::spawn(async move {
            let client = client();
            for i in 0..sent / 8 {
                let req = http::Request::builder()
                    .method("OPTIONS")
                    .uri(format!("http://{addr}/api/item/{t}/{i}"))
                    .header("origin", "https://app.example.com")
                    .header("access-control-request-method", "PUT")
                    .header("access-control-request-headers", "content-type")
                    .body(http_body_util::BodyExt::boxed(http_body_util::Full::new(
                        bytes::Bytes::new(),
                    )))
                    .unwrap();
                let resp = client.request(req).await.unwrap();
                assert_eq!(resp.status(), 204);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let took = started.elapsed();
    // The proxy never waited for the log: 4,000 requests in far less than
    // any stall.
    assert!(took < Duration::from_secs(30), "{took:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let dropped = metric(&gw, "corsgate_decision_log_dropped_total").await;
    let written = metric(&gw, "corsgate_decision_log_lines_total").await;
    assert!(dropped > 0, "nothing dropped with the writer stalled");
    // What was not dropped sits in the queue (at most `buffer` bytes), the
    // writer's 64 KiB buffer or the pipe: each line is over 300 bytes.
    let held = sent - dropped;
    let bound = (buffer + 64 * 1024 + 1024 * 1024) as u64 / 300;
    assert!(held <= bound, "{held} lines held (bound {bound})");
    // Now read: every line not dropped arrives, whole.
    let mut reader = reader;
    let mut pending: Vec<u8> = Vec::new();
    let mut got = 0u64;
    let mut chunk = vec![0u8; 64 * 1024];
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while got + dropped < sent && std::time::Instant::now() < deadline {
        match reader.read(&mut chunk) {
            Ok(n) if n > 0 => {
                pending.extend_from_slice(&chunk[..n]);
                while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                    let v: Value = serde_json::from_slice(&pending[..end]).unwrap();
                    assert_eq!(v["format"], "corsgate-decisions/1");
                    got += 1;
                    pending.drain(..=end);
                }
                continue;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(pending.is_empty(), "a partial line");
    assert_eq!(got + dropped, sent, "{got} read + {dropped} dropped");
    let written_now = metric(&gw, "corsgate_decision_log_lines_total").await;
    assert!(written_now >= written);
    assert_eq!(written_now, got);
    gw.shutdown().await;
    let _ = std::fs::remove_dir_all(&d);
}
