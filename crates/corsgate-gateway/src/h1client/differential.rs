//! The differential test of the in-task client against hyper's: the same
//! generated upstream responses (versions, statuses, 1xx, framings, chunk
//! grammars, connection fields, head quirks) go through both, each
//! followed by the steps the pool takes ([`normalise_plain`] and
//! [`normalise_h1`]), and both must agree on what the client gets (the
//! status, header fields and body, or a refusal) and on whether the
//! connection may carry another request.
//!
//! Known, deliberate differences are listed in [`deliberate`]: each is a
//! case where the in-task client refuses before the head goes out
//! (a 502) what hyper's would cut after it.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::upstream::{normalise_h1, normalise_plain};

/// What the client side gets, with the connection's fate.
#[derive(Debug, PartialEq)]
enum Seen {
    /// Refused before the head reached the client (a 502).
    Refused,
    /// A head, then a body that failed before its end (the client's
    /// connection is cut).
    Cut { status: u16 },
    Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        reusable: bool,
    },
}

/// An upstream that reads one request head, writes `bytes`, and closes
/// after `close` or else holds the connection open for a while.
async fn upstream(bytes: Vec<u8>, close: bool) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let Ok((mut s, _)) = l.accept().await else {
            return;
        };
        let mut seen = Vec::new();
        let mut b = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut b).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&b[..n]),
            }
        }
        let _ = s.write_all(&bytes).await;
        if !close {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    addr
}

fn sorted(h: &HeaderMap) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = h
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

/// How long both clients get to notice bytes after a response.
const SETTLE: Duration = Duration::from_millis(40);

async fn in_task(bytes: Vec<u8>, close: bool, method: &Method) -> Seen {
    let addr = upstream(bytes, close).await;
    let conn = Conn::new(TcpStream::connect(addr).await.unwrap());
    let (req, ()) = http::Request::builder()
        .method(method.clone())
        .uri("/x")
        .header("host", "up.example")
        .body(())
        .unwrap()
        .into_parts();
    let Ok(resp) = exchange(conn, &req, &Extra::default()).await else {
        return Seen::Refused;
    };
    let (parts, mut body) = normalise_plain(resp).into_parts();
    let mut data = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        match frame {
            Ok(f) => {
                if let Ok(d) = f.into_data() {
                    data.extend_from_slice(&d);
                }
            }
            Err(_) => {
                return Seen::Cut {
                    status: parts.status.as_u16(),
                }
            }
        }
    }
    let conn = body.reusable_conn();
    tokio::time::sleep(SETTLE).await;
    Seen::Answer {
        status: parts.status.as_u16(),
        headers: sorted(&parts.headers),
        body: data,
        // What the pool does: given back, then checked at checkout.
        reusable: conn.is_some_and(|c| c.looks_open()),
    }
}

async fn hyper_client(bytes: Vec<u8>, close: bool, method: &Method) -> Seen {
    let addr = upstream(bytes, close).await;
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (mut send, conn) = hyper::client::conn::http1::Builder::new()
        .max_header_size(MAX_HEAD)
        .handshake::<_, Empty<Bytes>>(io)
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .method(method.clone())
        .uri("/x")
        .header("host", "up.example")
        .body(Empty::new())
        .unwrap();
    let Ok(resp) = send.send_request(req).await else {
        return Seen::Refused;
    };
    let Ok(resp) = normalise_h1(resp) else {
        return Seen::Refused;
    };
    let (parts, body) = resp.into_parts();
    let Ok(collected) = body.collect().await else {
        return Seen::Cut {
            status: parts.status.as_u16(),
        };
    };
    tokio::time::sleep(SETTLE).await;
    Seen::Answer {
        status: parts.status.as_u16(),
        headers: sorted(&parts.headers),
        body: collected.to_bytes().to_vec(),
        reusable: !send.is_closed() && send.is_ready(),
    }
}

/// One generated case: the upstream's bytes, whether it closes after
/// them, the request method, and a name for messages.
struct Case {
    name: String,
    bytes: Vec<u8>,
    close: bool,
    method: Method,
}

/// Bodies and framings, each as (name, framing fields, body bytes, closes).
fn framings() -> Vec<(&'static str, String, Vec<u8>, bool)> {
    let b = |s: &str| s.as_bytes().to_vec();
    vec![
        ("cl", "content-length: 5\r\n".into(), b("hello"), false),
        ("cl-zero", "content-length: 0\r\n".into(), b(""), false),
        (
            "cl-dup-same",
            "content-length: 5\r\ncontent-length: 5\r\n".into(),
            b("hello"),
            false,
        ),
        (
            "cl-list-same",
            "content-length: 5, 5\r\n".into(),
            b("hello"),
            false,
        ),
        (
            "cl-dup-differ",
            "content-length: 5\r\ncontent-length: 6\r\n".into(),
            b("hello!"),
            false,
        ),
        (
            "cl-plus",
            "content-length: +5\r\n".into(),
            b("hello"),
            false,
        ),
        ("cl-empty", "content-length: \r\n".into(), b("hello"), false),
        (
            "cl-extra",
            "content-length: 5\r\n".into(),
            b("helloEXTRA"),
            false,
        ),
        (
            "cl-extra-response",
            "content-length: 5\r\n".into(),
            b("helloHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
            false,
        ),
        (
            "cl-short-close",
            "content-length: 9\r\n".into(),
            b("hello"),
            true,
        ),
        (
            "chunked",
            "transfer-encoding: chunked\r\n".into(),
            b("5\r\nhello\r\n0\r\n\r\n"),
            false,
        ),
        (
            "chunked-ext-trailers",
            "transfer-encoding: chunked\r\n".into(),
            b("5;a=b;c=\"d;e\"\r\nhello\r\n3 \t;x\r\n!!!\r\n0\r\nx-t: 1\r\ny-t: 2\r\n\r\n"),
            false,
        ),
        (
            "chunked-upper-zeros",
            "transfer-encoding: Chunked\r\n".into(),
            b("0000000000000000000A\r\n0123456789\r\n0\r\n\r\n"),
            false,
        ),
        (
            "chunked-extra",
            "transfer-encoding: chunked\r\n".into(),
            b("5\r\nhello\r\n0\r\n\r\nEXTRA"),
            false,
        ),
        (
            "chunked-plus",
            "transfer-encoding: chunked\r\n".into(),
            b("+5\r\nhello\r\n0\r\n\r\n"),
            false,
        ),
        (
            "chunked-minus",
            "transfer-encoding: chunked\r\n".into(),
            b("-5\r\nhello\r\n0\r\n\r\n"),
            false,
        ),
        (
            "chunked-space",
            "transfer-encoding: chunked\r\n".into(),
            b(" 5\r\nhello\r\n0\r\n\r\n"),
            false,
        ),
        (
            "chunked-0x",
            "transfer-encoding: chunked\r\n".into(),
            b("0x5\r\nhello\r\n0\r\n\r\n"),
            false,
        ),
        (
            "chunked-overflow",
            "transfer-encoding: chunked\r\n".into(),
            b("10000000000000000\r\nhello\r\n0\r\n\r\n"),
            false,
        ),
        (
            "chunked-bare-lf",
            "transfer-encoding: chunked\r\n".into(),
            b("5\nhello\r\n0\r\n\r\n"),
            false,
        ),
        (
            "chunked-ext-lf",
            "transfer-encoding: chunked\r\n".into(),
            b("5;a\nb\r\nhello\r\n0\r\n\r\n"),
            false,
        ),
        (
            "chunked-long-data",
            "transfer-encoding: chunked\r\n".into(),
            b("3\r\nhello\r\n0\r\n\r\n"),
            false,
        ),
        (
            "chunked-cut",
            "transfer-encoding: chunked\r\n".into(),
            b("9\r\nhello"),
            true,
        ),
        (
            "chunked-and-cl",
            "transfer-encoding: chunked\r\ncontent-length: 5\r\n".into(),
            b("5\r\nhello\r\n0\r\n\r\n"),
            false,
        ),
        (
            "te-gzip",
            "transfer-encoding: gzip\r\n".into(),
            b("hello"),
            true,
        ),
        (
            "te-gzip-chunked",
            "transfer-encoding: gzip, chunked\r\n".into(),
            b("5\r\nhello\r\n0\r\n\r\n"),
            false,
        ),
        ("close-delimited", String::new(), b("hello"), true),
    ]
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let statuses = [
        ("", "200 OK"),
        ("", "204 No Content"),
        ("", "304 Not Modified"),
        ("", "404 Not Found"),
        ("HTTP/1.1 100 Continue\r\n\r\n", "200 OK"),
        ("HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n", "200 OK"),
    ];
    let connections = [
        "",
        "connection: close\r\n",
        "connection: keep-alive\r\n",
        "connection: x-hop\r\nx-hop: 1\r\nkeep-alive: timeout=5\r\n",
    ];
    for version in ["HTTP/1.1", "HTTP/1.0"] {
        for (interim, status) in statuses {
            for (fname, fields, body, close) in framings() {
                for (ci, connection) in connections.iter().enumerate() {
                    for method in [Method::GET, Method::HEAD] {
                        // The whole product would take long: every framing
                        // with GET, the rest with one connection field each.
                        if method == Method::HEAD && ci != 0 {
                            continue;
                        }
                        let head = format!(
                            "{interim}{version} {status}\r\nx-a: 1\r\n{fields}{connection}\r\n"
                        );
                        let mut bytes = head.into_bytes();
                        bytes.extend_from_slice(&body);
                        out.push(Case {
                            name: format!(
                                "{version} {status} {fname} conn#{ci} {method} interim={}",
                                !interim.is_empty()
                            ),
                            bytes,
                            close,
                            method: method.clone(),
                        });
                    }
                }
            }
        }
    }
    // Head quirks, once each.
    for (name, head) in [
        (
            "bare-lf",
            "HTTP/1.1 200 OK\nx-a: 1\ncontent-length: 5\n\nhello",
        ),
        (
            "obs-fold",
            "HTTP/1.1 200 OK\r\nx-a: 1\r\n folded\r\ncontent-length: 5\r\n\r\nhello",
        ),
        (
            "space-before-colon",
            "HTTP/1.1 200 OK\r\nx-a : 1\r\ncontent-length: 5\r\n\r\nhello",
        ),
        (
            "no-reason",
            "HTTP/1.1 200\r\ncontent-length: 5\r\n\r\nhello",
        ),
        (
            "status-99",
            "HTTP/1.1 099 Odd\r\ncontent-length: 5\r\n\r\nhello",
        ),
        (
            "status-1000",
            "HTTP/1.1 1000 Odd\r\ncontent-length: 5\r\n\r\nhello",
        ),
        (
            "switching",
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
        ),
        (
            "http2-version",
            "HTTP/2.0 200 OK\r\ncontent-length: 5\r\n\r\nhello",
        ),
        ("not-http", "SMTP ready\r\n\r\n"),
    ] {
        out.push(Case {
            name: name.into(),
            bytes: head.as_bytes().to_vec(),
            close: false,
            method: Method::GET,
        });
    }
    // Around the head limit.
    for extra in [0usize, 1] {
        let start = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-pad: ";
        let pad = MAX_HEAD - start.len() - 4 + extra;
        out.push(Case {
            name: format!("head-limit+{extra}"),
            bytes: format!("{start}{}\r\n\r\nhello", "p".repeat(pad)).into_bytes(),
            close: false,
            method: Method::GET,
        });
    }
    out
}

/// Cases where the two clients differ on purpose: the in-task client
/// checks the chunked framing that came with the head and refuses a bad
/// one with a 502, where hyper's hands out the head and fails the body.
fn deliberate(case: &Case, ours: &Seen, hyper: &Seen) -> bool {
    matches!((ours, hyper), (Seen::Refused, Seen::Cut { .. }))
        && [
            "chunked-plus",
            "chunked-minus",
            "chunked-space",
            "chunked-0x",
            "chunked-overflow",
            "chunked-bare-lf",
            "chunked-ext-lf",
            "chunked-long-data",
        ]
        .iter()
        .any(|f| case.name.contains(&format!(" {f} ")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_task_client_agrees_with_hypers() {
    let cases = cases();
    let mut differences = Vec::new();
    let mut deliberate_ones = 0;
    let mut kinds = [0usize; 3];
    for batch in cases.chunks(48) {
        let runs: Vec<_> = batch
            .iter()
            .map(|c| {
                let (bytes, close, method) = (c.bytes.clone(), c.close, c.method.clone());
                tokio::spawn(async move {
                    let ours = in_task(bytes.clone(), close, &method).await;
                    let theirs = hyper_client(bytes, close, &method).await;
                    (ours, theirs)
                })
            })
            .collect();
        for (case, run) in batch.iter().zip(runs) {
            let (ours, theirs) = run.await.unwrap();
            kinds[match &ours {
                Seen::Refused => 0,
                Seen::Cut { .. } => 1,
                Seen::Answer { .. } => 2,
            }] += 1;
            if ours == theirs {
                continue;
            }
            if deliberate(case, &ours, &theirs) {
                deliberate_ones += 1;
                continue;
            }
            let short = |s: String| s.chars().take(300).collect::<String>();
            differences.push(format!(
                "{}: {:?}\n  in-task: {}\n  hyper:   {}",
                case.name,
                String::from_utf8_lossy(&case.bytes[..case.bytes.len().min(160)]),
                short(format!("{ours:?}")),
                short(format!("{theirs:?}"))
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} cases differ:\n{}",
        differences.len(),
        cases.len(),
        differences.join("\n")
    );
    // Every kind of outcome was generated.
    assert!(kinds.iter().all(|k| *k > 0), "{kinds:?}");
    assert!(deliberate_ones > 0);
}
