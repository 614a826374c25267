//! The wire of `check` (and so of `scan` and `test`) as a browser reads it:
//! interim 1xx answers skipped (never judged, whatever CORS headers they
//! carry; `101` is final), the verdict given once the final head is in even
//! when the body drips, and heads whose lines end in a bare LF accepted.
//! Raw-socket servers write what no HTTP library would.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use common::corsgate;

const APP: &str = "https://app.example";

/// What a raw server writes on one connection.
#[derive(Clone)]
enum Step {
    Write(Vec<u8>),
    /// Writes one byte every `ms` milliseconds, `n` times (a dripping body).
    Drip {
        ms: u64,
        n: usize,
    },
}

fn w(s: &str) -> Step {
    Step::Write(s.as_bytes().to_vec())
}

/// A server that answers each connection with `steps(is_preflight)`.
fn serve(steps: fn(bool) -> Vec<Step>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let preflight = got.starts_with(b"OPTIONS ");
                for step in steps(preflight) {
                    match step {
                        Step::Write(b) => {
                            if stream.write_all(&b).is_err() {
                                return;
                            }
                        }
                        Step::Drip { ms, n } => {
                            for _ in 0..n {
                                if stream.write_all(b"x").is_err() {
                                    return;
                                }
                                std::thread::sleep(Duration::from_millis(ms));
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

struct Case {
    name: &'static str,
    /// `--method PUT --header X-Token: 1` (preflighted) instead of a GET.
    preflighted: bool,
    steps: fn(bool) -> Vec<Step>,
    allowed: bool,
    /// The refusal's code when blocked.
    code: Option<&'static str>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "100 Continue before an allowed answer",
            preflighted: false,
            steps: |_| {
                vec![w("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 2\r\n\r\n{}")]
            },
            allowed: true,
            code: None,
        },
        Case {
            name: "103 Early Hints (its own head arrives first) before an allowed answer",
            preflighted: false,
            steps: |_| {
                vec![
                    w("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"),
                    w("HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 2\r\n\r\n{}"),
                ]
            },
            allowed: true,
            code: None,
        },
        Case {
            name: "several interim answers in a row",
            preflighted: false,
            steps: |_| {
                vec![w("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 0\r\n\r\n")]
            },
            allowed: true,
            code: None,
        },
        Case {
            name: "a 100 carrying ACAO: * never makes a blocked answer allowed",
            preflighted: false,
            steps: |_| {
                vec![w("HTTP/1.1 100 Continue\r\nAccess-Control-Allow-Origin: *\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")]
            },
            allowed: false,
            code: Some("missing_allow_origin"),
        },
        Case {
            name: "a 103 carrying ACAO: * never makes a blocked answer allowed",
            preflighted: false,
            steps: |_| {
                vec![w("HTTP/1.1 103 Early Hints\r\nAccess-Control-Allow-Origin: *\r\n\r\nHTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: https://other.example\r\nContent-Length: 2\r\n\r\n{}")]
            },
            allowed: false,
            code: Some("allow_origin_mismatch"),
        },
        Case {
            name: "interim answers to the preflight and to the request",
            preflighted: true,
            steps: |preflight| {
                if preflight {
                    vec![w("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: PUT\r\nAccess-Control-Allow-Headers: x-token\r\n\r\n")]
                } else {
                    vec![w("HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 0\r\n\r\n")]
                }
            },
            allowed: true,
            code: None,
        },
        Case {
            name: "a 100 with every CORS header before a preflight answered 401",
            preflighted: true,
            steps: |preflight| {
                if preflight {
                    vec![w("HTTP/1.1 100 Continue\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: PUT\r\nAccess-Control-Allow-Headers: x-token\r\n\r\nHTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")]
                } else {
                    vec![w("HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 0\r\n\r\n")]
                }
            },
            allowed: false,
            code: Some("missing_allow_origin"),
        },
        Case {
            name: "101 is a final answer, not an interim one",
            preflighted: false,
            steps: |_| {
                vec![w("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nHTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\n\r\n")]
            },
            allowed: false,
            code: Some("missing_allow_origin"),
        },
        Case {
            name: "a body that drips for longer than the timeout",
            preflighted: false,
            steps: |_| {
                vec![
                    w("HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 100000\r\n\r\n"),
                    Step::Drip { ms: 100, n: 150 },
                ]
            },
            allowed: true,
            code: None,
        },
        Case {
            name: "a blocked answer whose body drips",
            preflighted: false,
            steps: |_| {
                vec![
                    w("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
                    Step::Drip { ms: 100, n: 150 },
                ]
            },
            allowed: false,
            code: Some("missing_allow_origin"),
        },
        Case {
            name: "bare LF line endings",
            preflighted: false,
            steps: |_| {
                vec![w(
                    "HTTP/1.1 200 OK\nAccess-Control-Allow-Origin: *\nContent-Length: 2\n\n{}",
                )]
            },
            allowed: true,
            code: None,
        },
        Case {
            name: "bare LF line endings, blocked",
            preflighted: false,
            steps: |_| {
                vec![w("HTTP/1.1 200 OK\nAccess-Control-Allow-Origin: https://other.example\nContent-Length: 2\n\n{}")]
            },
            allowed: false,
            code: Some("allow_origin_mismatch"),
        },
        Case {
            name: "mixed CRLF and LF, the head ending in LF CRLF",
            preflighted: false,
            steps: |_| {
                vec![w(
                    "HTTP/1.1 200 OK\r\nX-A: 1\nAccess-Control-Allow-Origin: *\n\r\n{}",
                )]
            },
            allowed: true,
            code: None,
        },
        Case {
            name: "mixed CRLF and LF, the head ending in CRLF LF",
            preflighted: false,
            steps: |_| {
                vec![w(
                    "HTTP/1.1 200 OK\nX-A: 1\r\nAccess-Control-Allow-Origin: *\r\n\n{}",
                )]
            },
            allowed: true,
            code: None,
        },
        Case {
            name: "bare LF in the interim and the final heads of a preflighted request",
            preflighted: true,
            steps: |preflight| {
                if preflight {
                    vec![w("HTTP/1.1 100 Continue\n\nHTTP/1.1 204 No Content\nAccess-Control-Allow-Origin: *\nAccess-Control-Allow-Methods: PUT\nAccess-Control-Allow-Headers: x-token\n\n")]
                } else {
                    vec![w("HTTP/1.1 103 Early Hints\nAccess-Control-Allow-Origin: *\n\nHTTP/1.1 200 OK\nContent-Length: 0\n\n")]
                }
            },
            allowed: false,
            code: Some("missing_allow_origin"),
        },
    ]
}

#[test]
fn interim_answers_dripping_bodies_and_bare_lf() {
    for case in cases() {
        let addr = serve(case.steps);
        let url = format!("http://{addr}/x");
        let mut args = vec![
            "check",
            url.as_str(),
            "--origin",
            APP,
            "--json",
            "--no-probe",
            "--timeout",
            "4",
        ];
        if case.preflighted {
            args.extend(["--method", "PUT", "--header", "X-Token: 1"]);
        }
        let started = Instant::now();
        let r = corsgate(&args);
        let took = started.elapsed();
        let expected = if case.allowed { 0 } else { 1 };
        assert_eq!(
            r.code, expected,
            "{}: exit {}\n{}{}",
            case.name, r.code, r.stdout, r.stderr
        );
        let v = r.json();
        assert_eq!(v["allowed"], case.allowed, "{}: {v:#}", case.name);
        if let Some(code) = case.code {
            assert_eq!(v["reason"]["code"], code, "{}: {v:#}", case.name);
        }
        // The drips last 15 s; the verdict comes once the head is in (the
        // drain's own deadline is 1 s per answer).
        assert!(
            took < Duration::from_secs(10),
            "{}: took {took:?}",
            case.name
        );
    }
}

#[test]
fn a_server_that_closes_after_an_interim_answer_is_a_protocol_error() {
    let addr = serve(|_| {
        vec![w(
            "HTTP/1.1 100 Continue\r\nAccess-Control-Allow-Origin: *\r\n\r\n",
        )]
    });
    let url = format!("http://{addr}/x");
    let r = corsgate(&["check", &url, "--origin", APP, "--json", "--no-probe"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["error"]["code"], "protocol", "{v:#}");
}

#[test]
fn a_head_that_never_ends_is_still_a_timeout() {
    let addr = serve(|_| {
        vec![
            w("HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\n"),
            Step::Drip { ms: 100, n: 100 },
        ]
    });
    let url = format!("http://{addr}/x");
    let r = corsgate(&[
        "check",
        &url,
        "--origin",
        APP,
        "--json",
        "--no-probe",
        "--timeout",
        "2",
    ]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.json()["error"]["code"], "timeout");
}
