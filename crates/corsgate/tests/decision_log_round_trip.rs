//! The round trip: browser-shaped traffic through a real gateway (loopback
//! sockets, a wide policy in force, `[decision_log]` on) → its decision log
//! → `corsgate infer` → the inferred policy allows exactly that traffic,
//! judged by the engine (`Policy::decide`, and each observed request
//! replayed through the browser role), and refuses what the wide policy
//! allowed but no page used, and what the gateway refused.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::net::SocketAddr;
use std::path::PathBuf;

use corsgate_core::infer::{infer, InferOptions};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const APP: &str = "https://app.example.com";
const ADMIN: &str = "https://admin.example.com";

/// An upstream answering every request with headers a page may read.
async fn upstream() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 4096];
                loop {
                    while let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                        head.drain(..end + 4);
                        let answer = b"HTTP/1.1 200 OK\r\nx-total: 3\r\nx-internal: y\r\nserver: up\r\ncontent-length: 2\r\n\r\nok";
                        if s.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                    match s.read(&mut b).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&b[..n]),
                    }
                }
            });
        }
    });
    addr
}

/// One request as a browser sends it.
struct Sent {
    method: &'static str,
    headers: Vec<(&'static str, &'static str)>,
}

impl Sent {
    fn map(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in &self.headers {
            h.append(HeaderName::from_static(n), HeaderValue::from_static(v));
        }
        h
    }
}

/// Sends a request and returns the status.
async fn send(addr: SocketAddr, r: &Sent) -> u16 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "{} /api/items HTTP/1.1\r\nhost: api.example.net\r\n",
        r.method
    );
    for (n, v) in &r.headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

fn preflight(origin: &'static str, method: &'static str, names: &'static str) -> Sent {
    let mut headers = vec![
        ("origin", origin),
        ("access-control-request-method", method),
        ("sec-fetch-mode", "cors"),
        ("user-agent", "Mozilla/5.0"),
    ];
    if !names.is_empty() {
        headers.push(("access-control-request-headers", names));
    }
    Sent {
        method: "OPTIONS",
        headers,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_through_the_gateway_infers_a_policy_that_allows_exactly_it() {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("corsgate-declog-trip-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("decisions.jsonl");
    let up = upstream().await;
    // Today's policy: wider than the pages need.
    let config = format!(
        r#"
listen = "127.0.0.1:0"
upstream = "http://{up}"

[decision_log]
path = {log:?}

[[routes]]
path = "/api/"
[routes.policy]
origins = ["{APP}", "{ADMIN}", "https://old.example.com"]
methods = ["PUT", "DELETE", "PATCH"]
request_headers = ["content-type", "x-csrf", "x-debug"]
expose_headers = ["x-total", "x-internal"]
credentials = true
max_age = 600
"#,
        log = log.display().to_string()
    );
    let gw = corsgate_gateway::start(corsgate_gateway::GatewayConfig::from_toml(&config).unwrap())
        .await
        .unwrap();
    let addr = gw.local_addr();
    // The pages' traffic, as Chromium sends it.
    let traffic = vec![
        // app: a credentialed GET.
        Sent {
            method: "GET",
            headers: vec![
                ("origin", APP),
                ("cookie", "sid=1"),
                ("accept", "application/json"),
                ("sec-fetch-mode", "cors"),
                ("user-agent", "Mozilla/5.0"),
            ],
        },
        // app: a PUT with a JSON body type and a CSRF header, preflighted.
        preflight(APP, "PUT", "content-type,x-csrf"),
        Sent {
            method: "PUT",
            headers: vec![
                ("origin", APP),
                ("cookie", "sid=1"),
                ("content-type", "application/json"),
                ("x-csrf", "t0k3n"),
                ("content-length", "0"),
            ],
        },
        // admin: a public GET.
        Sent {
            method: "GET",
            headers: vec![("origin", ADMIN), ("accept-language", "fr")],
        },
    ];
    for r in &traffic {
        let status = send(addr, r).await;
        assert!(status == 200 || status == 204, "{status}");
    }
    // A hostile origin, refused by the gateway: never proposed.
    let hostile = preflight("https://evil.example", "DELETE", "");
    assert_eq!(send(addr, &hostile).await, 403);
    let mut lines = 0;
    for _ in 0..200 {
        lines = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count();
        if lines >= 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(lines, 5);
    gw.shutdown().await;

    let read = corsgate::infer::read(std::slice::from_ref(&log), &[], false).unwrap();
    assert_eq!(read.observed.len(), 4, "{:?}", read.notes);
    assert!(read
        .notes
        .iter()
        .any(|n| n.contains("https://evil.example DELETE")));
    let inference = infer(&read.observed, &InferOptions::default()).unwrap();
    let c = inference.config();
    assert_eq!(c.origins, [ADMIN, APP]);
    assert_eq!(c.methods, ["PUT"]);
    assert_eq!(c.request_headers, ["content-type", "x-csrf"]);
    // What the answers exposed and carried.
    assert_eq!(c.expose_headers, ["x-internal", "x-total"]);
    assert!(c.credentials);
    let policy = inference.policy().unwrap();
    // Every request of the traffic allowed, by the server role…
    for r in &traffic {
        let m = Method::from_bytes(r.method.as_bytes()).unwrap();
        assert!(
            policy.decide(&m, &r.map()).allowed(),
            "{} {:?}",
            r.method,
            r.headers
        );
    }
    // …and by the browser role replaying each observed request.
    for o in &read.observed {
        assert!(inference.allows(o), "{}", o.source);
        assert!(o.allowed_by(policy), "{}", o.source);
    }
    // What the old policy allowed and no page used, and what the gateway
    // refused: refused.
    for r in [
        hostile,
        preflight(APP, "DELETE", ""),
        preflight(APP, "PATCH", "x-csrf"),
        preflight(APP, "PUT", "content-type,x-debug"),
        preflight("https://old.example.com", "PUT", "x-csrf"),
        Sent {
            method: "GET",
            headers: vec![("origin", "https://old.example.com")],
        },
    ] {
        let m = Method::from_bytes(r.method.as_bytes()).unwrap();
        assert!(!policy.decide(&m, &r.map()).allowed(), "{:?}", r.headers);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
