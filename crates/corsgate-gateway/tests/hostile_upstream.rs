//! Hostile HTTP/1.1 upstreams, byte-exact on raw sockets: bodies after
//! 204/304/HEAD, lengths too short and too long, double responses, late
//! bytes in a later segment, 1xx, bad chunk sizes, over-long heads,
//! ambiguous framing, a stall mid-body. Each is answered to the current
//! client correctly or with a 502 (or cut, when the response had started),
//! and a connection that misbehaved never carries another request: the
//! upstream itself records any request that arrives on a connection after
//! it misbehaved there.
//!
//! The headline test sends many requests from concurrent clients, each
//! with a unique id the upstream echoes in a header and in the body, mixed
//! with misbehaving answers, through the gateway *process* pinned to one
//! and to two CPUs (one worker per CPU), and counts cross-client responses.
//! Its size is `CORSGATE_HOSTILE_REQUESTS` (default 10,000: some 4 s per
//! layout in a debug build); with the figures printed:
//!
//! ```text
//! cargo test -p corsgate-gateway --test hostile_upstream -- --nocapture mixed
//! ```
//!
//! Misbehaviour that arrives in a later segment *after a delay* is only
//! tested one request at a time: bytes that come after the gateway has
//! written the next request on the connection cannot be told from that
//! request's response, by any HTTP/1.1 client (docs/gateway.md, "Pool
//! hygiene").
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use corsgate_gateway::{start, GatewayConfig};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One step of an upstream's answer.
#[derive(Clone)]
enum Piece {
    Write(Vec<u8>),
    Sleep(u64),
    /// Close the connection.
    Close,
    /// From here on the connection must carry no other request.
    Dirty,
}

/// What the client must see.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// This status, the request's id in `x-echo-id` and (but for bodiless
    /// statuses and HEAD) `id=<id>` as the body.
    Answer(u16),
    /// The gateway's 502.
    BadGateway,
    /// The response started and was cut (a truncated body never looks
    /// complete to the client).
    Cut,
}

/// A complete, well-framed response carrying `id`.
fn ok(id: &str) -> Vec<u8> {
    let body = format!("id={id}");
    format!(
        "HTTP/1.1 200 OK\r\nx-echo-id: {id}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The classes of answer, by name: what the upstream sends and what the
/// client must get. `late` and `stall` involve delays and are only used
/// in the sequential tests.
fn answer(mode: &str, id: &str) -> (Vec<Piece>, Expect) {
    use Piece::*;
    let body = format!("id={id}");
    let w = |v: Vec<u8>| Write(v);
    let chunked_head =
        format!("HTTP/1.1 200 OK\r\nx-echo-id: {id}\r\ntransfer-encoding: chunked\r\n\r\n");
    match mode {
        "ok" => (vec![w(ok(id))], Expect::Answer(200)),
        "chunked" => (
            vec![w(format!(
                "{chunked_head}{:x};ext=\"v\"\r\n{body}\r\n0\r\nx-trailer: 1\r\n\r\n",
                body.len()
            )
            .into_bytes())],
            Expect::Answer(200),
        ),
        "close-delimited" => (
            vec![
                w(format!("HTTP/1.1 200 OK\r\nx-echo-id: {id}\r\n\r\n{body}").into_bytes()),
                Close,
            ],
            Expect::Answer(200),
        ),
        "interim" => (
            vec![w(cat(&[
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n",
                &ok(id),
            ]))],
            Expect::Answer(200),
        ),
        "204-body" => (
            vec![
                w(cat(&[
                    format!("HTTP/1.1 204 No Content\r\nx-echo-id: {id}\r\n\r\n").as_bytes(),
                    &ok(id),
                ])),
                Dirty,
            ],
            Expect::Answer(204),
        ),
        "304-body" => (
            vec![
                w(cat(&[
                    format!(
                        "HTTP/1.1 304 Not Modified\r\nx-echo-id: {id}\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                    &ok(id),
                ])),
                Dirty,
            ],
            Expect::Answer(304),
        ),
        // Sent to a HEAD request: a body that must not be there.
        "head-body" => (
            vec![w(cat(&[&ok(id), &ok(id)])), Dirty],
            Expect::Answer(200),
        ),
        "longer-than-length" => (
            vec![w(cat(&[&ok(id), b"trailing junk\r\n\r\n"])), Dirty],
            Expect::Answer(200),
        ),
        "double" => (vec![w(cat(&[&ok(id), &ok(id)])), Dirty], Expect::Answer(200)),
        "chunked-then-more" => (
            vec![
                w(cat(&[
                    format!("{chunked_head}{:x}\r\n{body}\r\n0\r\n\r\n", body.len()).as_bytes(),
                    &ok(id),
                ])),
                Dirty,
            ],
            Expect::Answer(200),
        ),
        "shorter-than-length" => (
            vec![
                w(format!(
                    "HTTP/1.1 200 OK\r\nx-echo-id: {id}\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len() + 10
                )
                .into_bytes()),
                Close,
            ],
            Expect::Cut,
        ),
        "chunk-plus" | "chunk-minus" | "chunk-space" | "chunk-overflow" | "chunk-bare-lf" => {
            let size = match mode {
                "chunk-plus" => format!("+{:x}\r\n", body.len()),
                "chunk-minus" => format!("-{:x}\r\n", body.len()),
                "chunk-space" => format!(" {:x}\r\n", body.len()),
                "chunk-bare-lf" => format!("{:x}\n", body.len()),
                _ => "1ffffffffffffffff\r\n".to_owned(),
            };
            (
                vec![
                    w(format!("{chunked_head}{size}{body}\r\n0\r\n\r\n").into_bytes()),
                    Dirty,
                ],
                Expect::BadGateway,
            )
        }
        "length-and-chunked" => (
            vec![
                w(format!(
                    "HTTP/1.1 200 OK\r\nx-echo-id: {id}\r\ncontent-length: {}\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                    body.len(),
                    body.len()
                )
                .into_bytes()),
                Dirty,
            ],
            Expect::BadGateway,
        ),
        "differing-lengths" => (
            vec![
                w(format!(
                    "HTTP/1.1 200 OK\r\nx-echo-id: {id}\r\ncontent-length: {}\r\ncontent-length: 1\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes()),
                Dirty,
            ],
            Expect::BadGateway,
        ),
        "obs-fold" => (
            vec![
                w(format!(
                    "HTTP/1.1 200 OK\r\nx-echo-id: {id}\r\nx-folded: a\r\n  b\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes()),
                Dirty,
            ],
            Expect::BadGateway,
        ),
        "head-too-long" => (
            vec![
                w(format!(
                    "HTTP/1.1 200 OK\r\nx-echo-id: {id}\r\nx-big: {}\r\ncontent-length: {}\r\n\r\n{body}",
                    "a".repeat(64 * 1024),
                    body.len()
                )
                .into_bytes()),
                Dirty,
            ],
            Expect::BadGateway,
        ),
        "late" => (
            vec![w(ok(id)), Sleep(30), w(ok(id)), Dirty],
            Expect::Answer(200),
        ),
        "stall" => (
            vec![
                w(format!(
                    "HTTP/1.1 200 OK\r\nx-echo-id: {id}\r\ncontent-length: {}\r\n\r\nid=",
                    body.len()
                )
                .into_bytes()),
                Dirty,
                Sleep(3_000),
                Close,
            ],
            Expect::Cut,
        ),
        other => panic!("unknown mode {other}"),
    }
}

/// Every class without delays: the headline test mixes these.
const MIXED: &[&str] = &[
    "ok",
    "chunked",
    "close-delimited",
    "interim",
    "204-body",
    "304-body",
    "head-body",
    "longer-than-length",
    "double",
    "chunked-then-more",
    "shorter-than-length",
    "chunk-plus",
    "chunk-minus",
    "chunk-space",
    "chunk-overflow",
    "chunk-bare-lf",
    "length-and-chunked",
    "differing-lengths",
    "obs-fold",
    "head-too-long",
];

/// What the hostile upstream saw.
#[derive(Default)]
struct Record {
    connections: AtomicU64,
    requests: AtomicU64,
    /// Requests that arrived on a connection after it misbehaved.
    violations: Mutex<Vec<String>>,
}

/// The upstream: requests are `GET|HEAD /<route>/<mode>/<id>`; each is
/// answered as [`answer`] says, one after the other on a connection.
async fn hostile_upstream() -> (SocketAddr, Arc<Record>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let record = Arc::new(Record::default());
    let r = record.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let _ = s.set_nodelay(true);
            let conn = r.connections.fetch_add(1, Relaxed);
            let record = r.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = vec![0u8; 16 * 1024];
                let mut dirty: Option<String> = None;
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head: Vec<u8> = buf.drain(..end + 4).collect();
                    // A request body (requests with one go through hyper's
                    // client) is read and dropped.
                    let length = String::from_utf8_lossy(&head)
                        .lines()
                        .filter_map(|l| l.split_once(':'))
                        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    while buf.len() < length {
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..length);
                    let line = String::from_utf8_lossy(&head)
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let target = line.split(' ').nth(1).unwrap_or_default().to_owned();
                    let segs: Vec<&str> = target.split('/').collect();
                    let (mode, id) = (
                        segs.get(2).copied().unwrap_or("ok"),
                        segs.get(3).copied().unwrap_or("?"),
                    );
                    record.requests.fetch_add(1, Relaxed);
                    if let Some(before) = &dirty {
                        record
                            .violations
                            .lock()
                            .unwrap()
                            .push(format!("connection {conn}: {line} after {before}"));
                    }
                    let (pieces, _) = answer(mode, id);
                    for p in pieces {
                        match p {
                            Piece::Write(b) => {
                                if s.write_all(&b).await.is_err() {
                                    return;
                                }
                            }
                            Piece::Sleep(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                            Piece::Close => return,
                            Piece::Dirty => dirty = Some(format!("{mode} for {id}")),
                        }
                    }
                }
            });
        }
    });
    (addr, record)
}

/// How one exchange ended, as the client saw it.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// A complete response: status, `x-echo-id`, body.
    Complete(u16, Option<String>, String, bool),
    /// The connection failed before or during the response.
    Failed(String),
}

async fn exchange(client: &TestClient, gw: SocketAddr, mode: &str, id: &str) -> Outcome {
    send_one(client, gw, mode, id, false).await
}

/// One request: bodiless (the in-task client) or, with `body`, a POST
/// with a body (hyper's client); HEAD for the `head-body` class.
async fn send_one(
    client: &TestClient,
    gw: SocketAddr,
    mode: &str,
    id: &str,
    body: bool,
) -> Outcome {
    let (method, bytes) = match (mode, body) {
        ("head-body", _) => ("HEAD", Bytes::new()),
        (_, false) => ("GET", Bytes::new()),
        (_, true) => ("POST", Bytes::from_static(b"a request body")),
    };
    let req = Request::builder()
        .method(method)
        .uri(format!("http://{gw}/public/{mode}/{id}"))
        .header("origin", "https://app.example.com")
        .body(Full::new(bytes).boxed())
        .unwrap();
    let resp = match client.request(req).await {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(format!("{e:?}")),
    };
    let (parts, body) = resp.into_parts();
    let cors = parts.headers.contains_key("access-control-allow-origin");
    let echo = parts
        .headers
        .get("x-echo-id")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    match body.collect().await {
        Ok(b) => Outcome::Complete(
            parts.status.as_u16(),
            echo,
            String::from_utf8_lossy(&b.to_bytes()).into_owned(),
            cors,
        ),
        Err(e) => Outcome::Failed(format!("body: {e:?}")),
    }
}

/// Whether an outcome is what `expect` allows for request `id`; `Err`
/// says how it is wrong.
fn check(mode: &str, id: &str, expect: Expect, got: &Outcome) -> Result<(), String> {
    let bodiless = matches!(expect, Expect::Answer(204 | 304)) || mode == "head-body";
    match (expect, got) {
        (Expect::Answer(status), Outcome::Complete(s, echo, body, cors)) => {
            let want_body = if bodiless {
                String::new()
            } else {
                format!("id={id}")
            };
            if *s == status && echo.as_deref() == Some(id) && *body == want_body && *cors {
                Ok(())
            } else {
                Err(format!("{mode} {id}: got {got:?}"))
            }
        }
        (Expect::BadGateway, Outcome::Complete(502, None, _, true)) => Ok(()),
        (Expect::Cut, Outcome::Failed(_)) => Ok(()),
        _ => Err(format!("{mode} {id}: expected {expect:?}, got {got:?}")),
    }
}

/// A gateway in this process in front of `up`, with a short read timeout
/// and the given `upstream_quarantine` (`"0s"`: none, so that every
/// request shows what the pool's checks do on their own).
async fn gateway_in_process(up: SocketAddr, quarantine: &str) -> corsgate_gateway::RunningGateway {
    let text = config_text(up).replace(
        "upstream_response = \"1s\"",
        &format!(
            "upstream_response = \"5s\"\nupstream_read = \"400ms\"\nupstream_quarantine = \"{quarantine}\""
        ),
    );
    start(GatewayConfig::from_toml(&text).unwrap())
        .await
        .unwrap()
}

/// Every class, one at a time, each followed (after a pause that lets
/// late bytes arrive) by well-behaved requests on the same client
/// connection: the misbehaving answer reaches its own client correctly or
/// as a 502, and the next requests get their own responses.
///
/// Each class is sent bodiless (through the in-task client) and as a POST
/// with a body (through hyper's client, whose connections watch their own
/// socket while idle).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_class_is_answered_and_never_leaks_into_the_next_request() {
    for with_body in [false, true] {
        each_class(with_body).await;
    }
}

async fn each_class(with_body: bool) {
    let (up, record) = hostile_upstream().await;
    let gw = gateway_in_process(up, "0s").await;
    let a = gw.local_addr();
    let client = client();
    let mut failures = Vec::new();
    let modes: Vec<&str> = MIXED.iter().copied().chain(["late", "stall"]).collect();
    for (n, mode) in modes.iter().enumerate() {
        let id = format!("m{n}");
        let (_, expect) = answer(mode, &id);
        let started = Instant::now();
        let got = send_one(&client, a, mode, &id, with_body).await;
        let hyper_cuts =
            with_body && mode.starts_with("chunk-") && matches!(got, Outcome::Failed(_));
        if hyper_cuts {
            // hyper's client hands out the head before the first chunk is
            // read: the response is cut (a 502 from the in-task client).
        } else if let Err(e) = check(mode, &id, expect, &got) {
            failures.push(format!("body={with_body}: {e}"));
        }
        if *mode == "stall" {
            let waited = started.elapsed();
            assert!(
                waited < Duration::from_millis(2_500),
                "the stall was cut after {waited:?}, not after upstream_read"
            );
        }
        // Late bytes arrive while the connection is idle.
        tokio::time::sleep(Duration::from_millis(if *mode == "late" {
            150
        } else {
            20
        }))
        .await;
        for k in 0..3 {
            let id = format!("m{n}-next{k}");
            let got = send_one(&client, a, "ok", &id, with_body).await;
            if let Err(e) = check("ok", &id, Expect::Answer(200), &got) {
                failures.push(format!("body={with_body}: after {mode}: {e}"));
            }
        }
    }
    let violations = record.violations.lock().unwrap().clone();
    let m = metrics(&gw).await;
    gw.shutdown().await;
    assert!(failures.is_empty(), "body={with_body}: {failures:#?}");
    assert!(
        violations.is_empty(),
        "body={with_body}: misbehaving connections reused: {violations:#?}"
    );
    assert!(
        m.contains("corsgate_upstream_errors_total{kind=\"read_timeout\"} 1"),
        "body={with_body}: the stall is counted: {m}"
    );
}

/// The 64 KiB limit on a response head is exact, however the bytes are
/// split into reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_head_limit_is_exact() {
    for (extra, split, fits) in [
        (0usize, false, true),
        (1, false, false),
        (0, true, true),
        (1, true, false),
    ] {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut b = [0u8; 4096];
            let _ = s.read(&mut b).await;
            // A head of exactly 64 KiB (+ extra) followed by its body.
            let start = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-pad: ";
            let end = "\r\n\r\n";
            let pad = 64 * 1024 - start.len() - end.len() + extra;
            let head = format!("{start}{}{end}ok", "p".repeat(pad));
            if split {
                for piece in head.as_bytes().chunks(1000) {
                    let _ = s.write_all(piece).await;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            } else {
                let _ = s.write_all(head.as_bytes()).await;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        });
        let gw = gateway_in_process(up, "60s").await;
        let r = send(gw.local_addr(), "GET", "/public/x", &[APP]).await;
        assert_eq!(
            r.status,
            if fits {
                StatusCode::OK
            } else {
                StatusCode::BAD_GATEWAY
            },
            "extra={extra} split={split}"
        );
        gw.shutdown().await;
    }
}

/// Cookie fields an HTTP/2 client splits reach an HTTP/1.1 upstream as
/// one line joined with "; ", on both upstream paths (bodiless requests
/// through the in-task client, others through hyper's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_cookies_from_h2_clients_are_joined() {
    let (up, _) = start_upstream().await;
    let gw = gateway(up).await;
    let stream = tokio::net::TcpStream::connect(gw.local_addr())
        .await
        .unwrap();
    let (mut send_req, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    for (method, body) in [("GET", ""), ("POST", "a body")] {
        let req = Request::builder()
            .method(method)
            .uri(format!("http://{}/public/echo", gw.local_addr()))
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .header("cookie", "c=3")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let resp = send_req.send_request(req).await.unwrap();
        let got = read(resp).await;
        assert_eq!(got.status, 200, "{method}: {}", got.body);
        assert!(
            got.body.contains(r#""cookie":"a=1; b=2; c=3""#)
                && got.body.matches("cookie").count() == 1,
            "{method}: {}",
            got.body
        );
    }
    gw.shutdown().await;
}

struct Process(std::process::Child, std::path::PathBuf);
impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// The gateway binary pinned to `cpus` (one worker per CPU it may use),
/// with the given `upstream_quarantine`.
/// The gateway's worker threads: name and scheduling policy (field 41 of
/// /proc/PID/task/TID/stat).
fn worker_tasks(pid: u32) -> Vec<(String, u32)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|t| {
            let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
            if !comm.starts_with("corsgate-worker") {
                return None;
            }
            let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 2..];
            let policy = rest.split(' ').nth(38)?.parse().ok()?;
            Some((comm.trim().to_owned(), policy))
        })
        .collect()
}

async fn gateway_on_cpus(up: SocketAddr, cpus: &str, quarantine: &str) -> (Process, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("corsgate-hostile-{cpus}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("corsgate.toml");
    let text = config_text(up)
        .replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        )
        .replace(
            "upstream_response = \"1s\"",
            &format!("upstream_response = \"10s\"\nupstream_quarantine = \"{quarantine}\""),
        );
    std::fs::write(&file, text).unwrap();
    let child = std::process::Command::new("taskset")
        .args(["-c", cpus])
        .arg(env!("CARGO_BIN_EXE_corsgate-gateway"))
        .args(["serve", "--config"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("taskset (util-linux) runs the gateway");
    let proc = Process(child, dir);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let t = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "gateway did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (proc, addr)
}

/// The headline: requests from concurrent clients, each with a unique id,
/// every class of misbehaviour mixed in on the same upstream, through a
/// gateway with one worker and with two: no response ever carries another
/// request's id. The quarantine is off, so connections keep being reused
/// after misbehaving answers and the pool's own checks carry the result.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_hostile_traffic_never_crosses_clients() {
    let total: usize = std::env::var("CORSGATE_HOSTILE_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let layouts: Vec<&str> = if cpus >= 2 {
        vec!["0", "0,1"]
    } else {
        vec!["0"]
    };
    for layout in layouts {
        let (up, record) = hostile_upstream().await;
        let (gw, a) = gateway_on_cpus(up, layout, "0s").await;
        // One worker thread per CPU the process may use (the listener is
        // bound before the workers start: wait for them, at most 10 s), each
        // under SCHED_BATCH (the default `limits.worker_scheduling`).
        let want = layout.split(',').count();
        let waited = Instant::now();
        let mut workers = worker_tasks(gw.0.id());
        while workers.len() < want && waited.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            workers = worker_tasks(gw.0.id());
        }
        assert_eq!(workers.len(), want, "cpus {layout}");
        for (comm, policy) in &workers {
            assert_eq!(*policy, 3, "{comm}: policy {policy}, want SCHED_BATCH (3)");
        }
        let clients = 8;
        let started = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                tokio::spawn(async move {
                    let client = client();
                    let mut tally = [0u64; 4]; // correct, 502, cut, crossed
                    let mut crossed = Vec::new();
                    for i in (c..total).step_by(clients) {
                        // Mostly well-behaved traffic, every class mixed in.
                        let mode = if i % 3 == 0 {
                            "ok"
                        } else {
                            MIXED[(i / 3) % MIXED.len()]
                        };
                        let id = format!("c{c}r{i}");
                        let (_, expect) = answer(mode, &id);
                        let got = exchange(&client, a, mode, &id).await;
                        match (&got, check(mode, &id, expect, &got)) {
                            (Outcome::Complete(502, ..), _) => tally[1] += 1,
                            (Outcome::Failed(_), _) => tally[2] += 1,
                            (_, Ok(())) => tally[0] += 1,
                            (_, Err(e)) => {
                                tally[3] += 1;
                                crossed.push(e);
                            }
                        }
                    }
                    (tally, crossed)
                })
            })
            .collect();
        let mut tally = [0u64; 4];
        let mut crossed = Vec::new();
        for t in tasks {
            let (t, c) = t.await.unwrap();
            for k in 0..4 {
                tally[k] += t[k];
            }
            crossed.extend(c);
        }
        let violations = record.violations.lock().unwrap().clone();
        drop(gw);
        println!(
            "cpus {layout} ({} workers): {total} requests in {:?}: {} correct, {} gateway 502, {} cut, {} wrong; \
             {} upstream connections, {} reused after misbehaving",
            workers.len(),
            started.elapsed(),
            tally[0],
            tally[1],
            tally[2],
            tally[3],
            record.connections.load(Relaxed),
            violations.len()
        );
        assert!(crossed.is_empty(), "cpus {layout}: {crossed:#?}");
        assert!(violations.is_empty(), "cpus {layout}: {violations:#?}");
        assert_eq!(tally.iter().sum::<u64>(), total as u64);
        assert!(tally[0] as usize > total / 2, "mostly answered: {tally:?}");
    }
}

/// An upstream caught writing outside a response loses connection reuse
/// for `upstream_quarantine`: every request then has a connection of its
/// own, so even late bytes, which no check can tell from the next
/// response, have no next request to reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misbehaving_upstream_loses_keep_alive() {
    let (up, record) = hostile_upstream().await;
    let gw = gateway_in_process(up, "60s").await;
    let a = gw.local_addr();
    let client = client();
    let mut failures = Vec::new();
    let mut run = |mode: &'static str, id: String, got: Outcome| {
        let (_, expect) = answer(mode, &id);
        if let Err(e) = check(mode, &id, expect, &got) {
            failures.push(e);
        }
    };
    for i in 0..3 {
        let id = format!("warm{i}");
        run("ok", id.clone(), exchange(&client, a, "ok", &id).await);
    }
    let reused = record.connections.load(Relaxed);
    assert!(
        reused <= 2,
        "well-behaved: connections reused ({reused} opened)"
    );
    run(
        "double",
        "bad".into(),
        exchange(&client, a, "double", "bad").await,
    );
    let before = record.connections.load(Relaxed);
    for i in 0..5 {
        let id = format!("after{i}");
        run("ok", id.clone(), exchange(&client, a, "ok", &id).await);
    }
    let opened = record.connections.load(Relaxed) - before;
    assert_eq!(opened, 5, "one connection per request in quarantine");
    // Late forged responses, concurrently: none reaches another request.
    let tasks: Vec<_> = (0..4)
        .map(|c| {
            tokio::spawn(async move {
                let client = common::client();
                let mut bad = Vec::new();
                for i in 0..40 {
                    let mode = if i % 2 == 0 { "late" } else { "ok" };
                    let id = format!("q{c}-{i}");
                    let (_, expect) = answer(mode, &id);
                    let got = exchange(&client, a, mode, &id).await;
                    if let Err(e) = check(mode, &id, expect, &got) {
                        bad.push(e);
                    }
                }
                bad
            })
        })
        .collect();
    for t in tasks {
        failures.extend(t.await.unwrap());
    }
    let violations = record.violations.lock().unwrap().clone();
    gw.shutdown().await;
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(violations.is_empty(), "{violations:#?}");
}
