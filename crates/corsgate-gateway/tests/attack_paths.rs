//! An attacker's tables against the gateway's request-target handling,
//! written apart from `paths.rs`: every request form a client can send,
//! through routes that mix `cors = false`, `*` and credentialed policies,
//! host routes and upstream base paths.
//!
//! The upstream is a *lenient* application, the worst the gateway may sit
//! in front of: it decodes every escape once (overlong UTF-8 included), reads
//! paths case-insensitively (Express' default, IIS, ASP.NET, Spring with
//! `setCaseSensitive(false)`; `ı`, `İ`, `ſ` and the Kelvin sign folded as
//! Java and .NET fold them), drops `;` parameters, trims Windows' trailing
//! dots and spaces, resolves dot segments; it answers the credentialed
//! resource `/api/me` with `secret` and *reflects* any `Origin` with
//! credentials, as careless applications do. Each table row says what the
//! upstream must receive (or that the gateway refuses with 400); on every
//! row, a page on a disallowed origin must never get `secret` together with
//! an `Access-Control-Allow-Origin` that lets it read it.
//!
//! Found by these tables and fixed: `/API/me`, `/ap%C4%B1/me`, `/api./me`,
//! `/api%20/me`, `/api%3Bx/me` went through the catch-all `cors = false`
//! route to an application that reads them as `/api/me` (the reflecting
//! upstream's headers reached the page); `/healthz/%c0%ae%c0%ae/api/me`
//! went through `/healthz` to a decoder that takes overlong UTF-8 for dots.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{
    answering_upstream, base_path_routes, h2_connect, percent_decode_once, raw, start_gateway,
    Heads,
};
use corsgate_gateway::RunningGateway;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const EVIL: &str = "https://evil.example";

fn config(up: SocketAddr, preserve_host: bool) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
preserve_host = {preserve_host}

[timeouts]
upstream_connect = "5s"
upstream_response = "20s"
{}"#,
        base_path_routes(up)
    )
}

// ---------------------------------------------------------------------------
// The lenient application, written independently of `target.rs`.

/// Decodes every `%XX` once; overlong UTF-8 sequences of ASCII characters
/// decode to that character (as old lenient decoders did).
fn lenient_decode(path: &str) -> String {
    let bytes = percent_decode_once(path);
    let mut out = String::new();
    let mut j = 0;
    while j < bytes.len() {
        let c = bytes[j];
        // Overlong: C0/C1 xx, E0 80/81 xx, F0 80 80 xx.
        let overlong = match c {
            0xc0 | 0xc1 => bytes.get(j + 1).map(|n| (2, ((c & 1) << 6) | (n & 0x3f))),
            0xe0 if matches!(bytes.get(j + 1), Some(0x80 | 0x81)) => bytes
                .get(j + 2)
                .map(|n| (3, ((bytes[j + 1] & 1) << 6) | (n & 0x3f))),
            0xf0 if bytes.get(j + 1) == Some(&0x80) && bytes.get(j + 2) == Some(&0x80) => {
                bytes.get(j + 3).map(|n| (4, n & 0x3f))
            }
            _ => None,
        };
        if let Some((len, ascii)) = overlong {
            out.push(char::from(ascii));
            j += len;
            continue;
        }
        let rest = String::from_utf8_lossy(&bytes[j..]);
        let ch = rest.chars().next().unwrap_or('\u{fffd}');
        let width = if ch == '\u{fffd}' { 1 } else { ch.len_utf8() };
        out.push(ch);
        j += width;
    }
    out
}

/// What the lenient application makes of a path: decoded, `\\` as `/`,
/// `;` parameters dropped, dot segments resolved, then each name folded to
/// lower case and trimmed of trailing dots and spaces, empty names dropped.
fn lenient(path: &str) -> String {
    let decoded = lenient_decode(&path.replace('\\', "/"));
    let mut resolved: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg.split(';').next().unwrap_or("") {
            "" | "." => {}
            ".." => {
                resolved.pop();
            }
            s => resolved.push(s),
        }
    }
    let names: Vec<String> = resolved
        .iter()
        .map(|seg| {
            let s: String = seg
                .chars()
                .map(|c| match c {
                    '\u{131}' | '\u{130}' => 'i',
                    '\u{17f}' => 's',
                    '\u{212a}' => 'k',
                    c => c.to_ascii_lowercase(),
                })
                .collect();
            s.trim_end_matches(['.', ' ']).to_owned()
        })
        .filter(|s| !s.is_empty())
        .collect();
    format!("/{}", names.join("/"))
}

/// The application's answer: `secret` for what it reads as `/api/me` under
/// any base, reflecting the `Origin` with credentials.
fn answer(head: &str) -> Vec<u8> {
    let target = head.split(' ').nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("");
    let read = lenient(path);
    let secret = read
        .split_once('/')
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_, tail)| format!("/{tail}") == "/api/me");
    if head.to_ascii_lowercase().contains("\r\nupgrade: h2c") {
        // A careless upstream that accepts any switch.
        return b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: h2c\r\n\r\n"
            .to_vec();
    }
    let body = if secret { "secret" } else { "public" };
    // Misbehaviours on request, by the last name of the path.
    let trick = path.rsplit('/').next().unwrap_or("");
    let reflect = "access-control-allow-origin: https://evil.example\r\naccess-control-allow-credentials: true\r\n";
    let tricky = |status: &str, cors: &str| {
        format!("HTTP/1.1 {status}\r\n{cors}content-length: 6\r\n\r\nsecret").into_bytes()
    };
    match trick {
        "upper" => {
            return tricky(
                "200 OK",
                "ACCESS-CONTROL-ALLOW-ORIGIN: https://evil.example\r\nAccess-Control-Allow-Credentials: TRUE\r\n",
            )
        }
        "dup" => return tricky("200 OK", &format!("{reflect}{reflect}")),
        "space" => {
            return tricky(
                "200 OK",
                "access-control-allow-origin : https://evil.example\r\naccess-control-allow-credentials : true\r\n",
            )
        }
        "fold" => {
            return tricky(
                "200 OK",
                "x-a: 1\r\n access-control-allow-origin: https://evil.example\r\n",
            )
        }
        "early" => {
            let mut out = format!("HTTP/1.1 103 Early Hints\r\n{reflect}\r\n").into_bytes();
            out.extend(tricky("200 OK", reflect));
            return out;
        }
        "error" => return tricky("500 Internal Server Error", reflect),
        _ => {}
    }
    let origin = head
        .split("\r\n")
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("origin")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    let mut out = String::from("HTTP/1.1 200 OK\r\n");
    if !origin.is_empty() {
        out.push_str(&format!(
            "access-control-allow-origin: {origin}\r\naccess-control-allow-credentials: true\r\n"
        ));
    }
    out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    out.into_bytes()
}

async fn setup(preserve_host: bool) -> (RunningGateway, Heads) {
    let (up, heads) = answering_upstream(Arc::new(answer)).await;
    (start_gateway(&config(up, preserve_host)).await, heads)
}

fn header<'a>(resp: &'a str, name: &str) -> Vec<&'a str> {
    let head = resp.split("\r\n\r\n").next().unwrap_or("");
    head.split("\r\n")
        .skip(1)
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .collect()
}

/// Whether a page on `origin` could read `secret` from this response.
fn readable_secret(resp: &str, origin: &str) -> bool {
    let body = resp.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let acao = header(resp, "access-control-allow-origin");
    body == "secret" && acao.len() == 1 && (acao[0] == origin || acao[0] == "*")
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    /// No body: the in-task client's path.
    Plain,
    /// A body: hyper's client path.
    Body,
    /// A WebSocket handshake without `Origin`: the tunnel's path.
    Handshake,
}

fn request(mode: Mode, target: &str, host: &str) -> Vec<u8> {
    match mode {
        Mode::Plain => {
            format!("GET {target} HTTP/1.1\r\nhost: {host}\r\norigin: {EVIL}\r\ncookie: s=1\r\n\r\n")
        }
        Mode::Body => format!(
            "POST {target} HTTP/1.1\r\nhost: {host}\r\norigin: {EVIL}\r\ncontent-type: text/plain\r\n\
             content-length: 3\r\n\r\nabc"
        ),
        Mode::Handshake => format!(
            "GET {target} HTTP/1.1\r\nhost: {host}\r\nconnection: upgrade\r\nupgrade: websocket\r\n\
             sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        ),
    }
    .into_bytes()
}

fn take(heads: &Heads) -> Vec<String> {
    std::mem::take(&mut *heads.lock().unwrap())
}

/// (target, what the upstream must receive as the request target, or
/// `None`: 400 and nothing forwarded). Host `gw.example` unless the target
/// is in absolute form.
const TARGETS: &[(&str, Option<&str>)] = &[
    // Case: a case-insensitive application reads these as `/api/me`.
    ("/API/me", None),
    ("/Api/me", None),
    ("/aPi/me", None),
    ("/%41PI/me", None),
    ("/public/../API/me", None),
    ("/HEALTHZ", None),
    ("/HEALTHZ/../api/me", Some("/_api/api/me")),
    ("/api/ME", Some("/_api/api/ME")),
    ("/healthz/X", Some("/_healthz/healthz/X")),
    ("/Other/Path", Some("/_root/Other/Path")),
    // Non-ASCII letters that Java's equalsIgnoreCase / .NET fold to ASCII.
    ("/ap%C4%B1/me", None),
    ("/ap%c4%b1/me", None),
    ("/ap%C4%B0/me", None),
    ("/%C5%BFecret", Some("/_root/%C5%BFecret")),
    ("/caf%c3%a9", Some("/_root/caf%C3%A9")),
    // Windows: trailing dots and spaces of a name are dropped.
    ("/api./me", None),
    ("/api../me", None),
    ("/api.../me", None),
    ("/api%20/me", None),
    ("/api.%20/me", None),
    ("/api%2e/me", None),
    ("/.../api/me", None),
    ("/public./x", None),
    ("/api/me.", Some("/_api/api/me.")),
    ("/v1.2/x.json", Some("/_root/v1.2/x.json")),
    // `;` in odd places.
    ("/api/me;", Some("/_api/api/me;")),
    ("/;/api/me", None),
    ("/api;/me", None),
    ("/api%3Bx/me", None),
    ("/api%3bx/me", None),
    ("/healthz;/../api/me", Some("/_api/api/me")),
    ("/api/me%3B", Some("/_api/api/me%3B")),
    // Queries and fragments.
    ("/healthz?/../api/me", Some("/_healthz/healthz?/../api/me")),
    (
        "/healthz??/../api/me",
        Some("/_healthz/healthz??/../api/me"),
    ),
    (
        "/healthz?x=%2f..%2fapi",
        Some("/_healthz/healthz?x=%2f..%2fapi"),
    ),
    ("/healthz%3F/../api/me", Some("/_api/api/me")),
    ("/healthz%3f/x/../../api/me", Some("/_api/api/me")),
    ("/healthz#/../api/me", Some("/_healthz/healthz")),
    ("/healthz/%23/../../api/me", Some("/_api/api/me")),
    ("/api/me?", Some("/_api/api/me?")),
    // Encodings.
    ("/%u002e%u002e/api/me", None),
    ("/healthz/%u002e%u002e/api/me", None),
    ("/healthz/%c0%ae%c0%ae/api/me", None),
    ("/healthz/%C0%AE%C0%AE/api/me", None),
    ("/healthz/..%c0%afapi/me", None),
    ("/healthz/..%c1%9capi/me", None),
    ("/healthz/%e0%80%ae%e0%80%ae/api/me", None),
    ("/healthz/%2E%2E/API/me", None),
    ("/healthz/%2E%2E/%61pi/me", Some("/_api/api/me")),
    // Full-width dots and slash: no standard decoder takes them for
    // separators; kept encoded and routed as written.
    (
        "/healthz/%ef%bc%8e%ef%bc%8e%ef%bc%8fapi/me",
        Some("/_healthz/healthz/%EF%BC%8E%EF%BC%8E%EF%BC%8Fapi/me"),
    ),
    ("/%ef%bc%a1pi/me", Some("/_root/%EF%BC%A1pi/me")),
    // Network-path look-alike: a path, not an authority.
    (
        "//admin.example.com/api/me",
        Some("/_root/admin.example.com/api/me"),
    ),
    // Base-path escapes.
    ("/public/../../_api/api/me", Some("/_root/_api/api/me")),
    ("/public/..%2f..%2f_api/api/me", None),
    // Absolute form: the target's authority routes, the path is normalised.
    ("http://gw.example/healthz/..%2fapi/me", None),
    ("http://gw.example/HEALTHZ/../API/me", None),
    (
        "http://gw.example/healthz/%2e%2e/api/me",
        Some("/_api/api/me"),
    ),
    ("http://gw.example:80/api/me", Some("/_api/api/me")),
    ("http://[::1]:8080/api/me", Some("/_api/api/me")),
    ("http://admin.example.com./API/me", None),
    ("http://admin.example.com/api/me", Some("/_admin/api/me")),
    // Not a path at all.
    ("*", None),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_target_form_reaches_another_routes_resource() {
    let (gw, heads) = setup(true).await;
    let addr = gw.local_addr();
    let mut failures = Vec::new();
    for mode in [Mode::Plain, Mode::Body, Mode::Handshake] {
        for (target, want) in TARGETS {
            take(&heads);
            let (status, resp) = raw(addr, &request(mode, target, "gw.example")).await;
            let got = take(&heads);
            let line = got
                .first()
                .map(|h| h.split("\r\n").next().unwrap_or("").to_owned());
            let ctx = format!("{mode:?} {target:?}: {status}, upstream got {line:?}");
            if readable_secret(&resp, EVIL) {
                failures.push(format!("{ctx}: the disallowed origin reads the secret"));
            }
            let method = if matches!(mode, Mode::Body) {
                "POST"
            } else {
                "GET"
            };
            match want {
                None => {
                    if status != 400 || line.is_some() {
                        failures.push(format!("{ctx}: want 400 and nothing forwarded"));
                    }
                }
                Some(w) => {
                    if line.as_deref() != Some(format!("{method} {w} HTTP/1.1").as_str()) {
                        failures.push(format!("{ctx}: want {w}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The same forms as [`TARGETS`], against the host route: the catch-all
/// has no host, the admin route has one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_routes_are_not_left_by_another_spelling() {
    let (gw, heads) = setup(true).await;
    let addr = gw.local_addr();
    for (target, host, want) in [
        ("/API/me", "admin.example.com", None),
        ("/api./me", "admin.example.com", None),
        ("/api/me", "ADMIN.example.com.", Some("/_admin/api/me")),
        ("/api/me", "admin.example.com.:8443", Some("/_admin/api/me")),
        ("/api/me", "admin.example.com\t", Some("/_admin/api/me")),
        ("/api/me", "admin.example.com, gw.example", None),
        ("/api/me", "admin.example.com\u{3002}", None),
        ("/api/me", "admin%2eexample.com", None),
        ("/api/me", "[::1]", Some("/_api/api/me")),
        ("/api/me", "[::ffff:127.0.0.1]:80", Some("/_api/api/me")),
        ("/api/me", "[::1]:", None),
        ("/api/me", "0x7f.1", Some("/_api/api/me")),
    ] {
        take(&heads);
        let (status, resp) = raw(addr, &request(Mode::Plain, target, host)).await;
        let line = take(&heads)
            .first()
            .map(|h| h.split("\r\n").next().unwrap_or("").to_owned());
        assert!(!readable_secret(&resp, EVIL), "{target} {host:?}: {resp}");
        match want {
            None => {
                assert_eq!(status, 400, "{target} {host:?}: {resp}");
                assert_eq!(line, None, "{target} {host:?}");
            }
            Some(w) => assert_eq!(
                line.as_deref(),
                Some(format!("GET {w} HTTP/1.1").as_str()),
                "{target} {host:?}: {resp}"
            ),
        }
    }
}

/// Raw request lines that no parser should take: spaces and tabs in the
/// target, `OPTIONS *`, a missing target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_request_lines_reach_nothing() {
    let (gw, heads) = setup(true).await;
    let addr = gw.local_addr();
    for req in [
        &b"GET /healthz /../api/me HTTP/1.1\r\nhost: gw.example\r\n\r\n"[..],
        b"GET /healthz\t/../api/me HTTP/1.1\r\nhost: gw.example\r\n\r\n",
        b"GET /api/me\x0b HTTP/1.1\r\nhost: gw.example\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nhost: gw.example\r\norigin: https://evil.example\r\naccess-control-request-method: GET\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nhost: gw.example\r\n\r\n",
        b"GET  HTTP/1.1\r\nhost: gw.example\r\n\r\n",
        b"GET api/me HTTP/1.1\r\nhost: gw.example\r\n\r\n",
        b"GET gw.example:80 HTTP/1.1\r\nhost: gw.example\r\n\r\n",
        b"CONNECT gw.example:80 HTTP/1.1\r\nhost: gw.example\r\n\r\n",
        b"GET http://gw.example HTTP/1.1\r\nhost: gw.example\r\n\r\n",
        b"GET /api/me HTTP/1.1\r\nhost: gw.example\r\nhost: admin.example.com\r\n\r\n",
    ] {
        take(&heads);
        let (status, resp) = raw(addr, req).await;
        let ctx = String::from_utf8_lossy(req).into_owned();
        let got = take(&heads);
        // `GET http://gw.example` (no path) is `/` to the http crate.
        if req.starts_with(b"GET http://gw.example HTTP") {
            assert_eq!(
                got.first().map(|h| h.split("\r\n").next().unwrap_or("")),
                Some("GET /_root/ HTTP/1.1"),
                "{ctx}"
            );
            continue;
        }
        assert_eq!(got, Vec::<String>::new(), "{ctx}");
        assert!((400..500).contains(&status), "{ctx}: {resp}");
        assert!(
            header(&resp, "access-control-allow-origin").is_empty(),
            "{ctx}: {resp}"
        );
    }
}

/// Absolute form with another `Host`, and HTTP/2 with `:authority` and a
/// `host` field that disagree: the request's own authority routes, and the
/// upstream gets one `Host`, the routed one (or its own with
/// `preserve_host = false`), never the client's other one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routed_authority_is_the_only_host_forwarded() {
    for preserve in [true, false] {
        let (gw, heads) = setup(preserve).await;
        let addr = gw.local_addr();
        let up_host = |h: &str| -> String {
            if preserve {
                h.to_owned()
            } else {
                String::new()
            }
        };
        // h1 absolute form.
        for mode in [Mode::Plain, Mode::Body, Mode::Handshake] {
            for (target, host, base, routed) in [
                (
                    "http://gw.example/api/me",
                    "admin.example.com",
                    "/_api",
                    "gw.example",
                ),
                (
                    "http://admin.example.com/api/me",
                    "gw.example",
                    "/_admin",
                    "admin.example.com",
                ),
                (
                    "http://Admin.Example.com.:8080/api/me",
                    "gw.example",
                    "/_admin",
                    "admin.example.com:8080",
                ),
            ] {
                take(&heads);
                let (status, resp) = raw(addr, &request(mode, target, host)).await;
                let got = take(&heads);
                let head = got
                    .first()
                    .unwrap_or_else(|| panic!("{mode:?} {target}: {status} {resp}"));
                let method = if matches!(mode, Mode::Body) {
                    "POST"
                } else {
                    "GET"
                };
                assert!(
                    head.starts_with(&format!("{method} {base}/api/me HTTP/1.1\r\n")),
                    "{mode:?} {target}: {head}"
                );
                let hosts: Vec<&str> = header(head, "host");
                assert_eq!(hosts.len(), 1, "{mode:?} {target} {preserve}: {head}");
                let want = up_host(routed);
                if preserve {
                    assert_eq!(hosts[0], want, "{mode:?} {target}: {head}");
                } else {
                    assert!(
                        hosts[0].starts_with("127.0.0.1:"),
                        "{mode:?} {target}: {head}"
                    );
                }
                assert_eq!(
                    header(head, "x-forwarded-host"),
                    vec![routed],
                    "{mode:?} {target}: {head}"
                );
            }
        }
        // h2 with `:authority` and a disagreeing `host` field.
        let mut sender = h2_connect(addr).await;
        for (uri, host, want) in [
            (
                "http://gw.example/api/me",
                "admin.example.com",
                Some(("/_api/api/me", "gw.example")),
            ),
            (
                "http://admin.example.com/api/me",
                "gw.example",
                Some(("/_admin/api/me", "admin.example.com")),
            ),
            ("http://gw.example/API/me", "admin.example.com", None),
            ("http://gw.example/api./me", "gw.example", None),
        ] {
            take(&heads);
            let req = http::Request::builder()
                .uri(uri)
                .header("host", host)
                .header("origin", EVIL)
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .unwrap();
            let resp = sender.send_request(req).await.unwrap();
            let status = resp.status().as_u16();
            let acao = resp
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap_or("").to_owned());
            let body = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap()
                .to_bytes();
            assert!(
                !(body.as_ref() == b"secret" && acao.is_some()),
                "{uri}: readable"
            );
            let got = take(&heads);
            match want {
                None => {
                    assert_eq!(status, 400, "{uri}");
                    assert!(got.is_empty(), "{uri}: {got:?}");
                }
                Some((line, routed)) => {
                    let head = got.first().unwrap_or_else(|| panic!("{uri}: {status}"));
                    assert!(
                        head.starts_with(&format!("GET {line} HTTP/1.1\r\n")),
                        "{uri}: {head}"
                    );
                    let hosts = header(head, "host");
                    assert_eq!(hosts.len(), 1, "{uri}: {head}");
                    if preserve {
                        assert_eq!(hosts[0], routed, "{uri}: {head}");
                    } else {
                        assert!(hosts[0].starts_with("127.0.0.1:"), "{uri}: {head}");
                    }
                }
            }
        }
    }
}

/// With `trust_forwarded = false` (the default), the client's own
/// `X-Forwarded-*` and `Forwarded` never reach the upstream, on any of the
/// three upstream paths; the gateway's values replace them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_from_the_client_are_replaced() {
    let (gw, heads) = setup(true).await;
    let addr = gw.local_addr();
    let spoof = "x-forwarded-for: 10.0.0.1\r\nX-Forwarded-Host: admin.example.com\r\n\
                 x-forwarded-proto: https\r\nforwarded: for=10.0.0.1;host=admin.example.com;proto=https\r\n\
                 X-FORWARDED-FOR: 10.0.0.2\r\nForwarded: for=10.0.0.3\r\n";
    for mode in [Mode::Plain, Mode::Body, Mode::Handshake] {
        let base = String::from_utf8(request(mode, "/api/me", "gw.example")).unwrap();
        // The spoofed lines right after the request line.
        let (line, rest) = base.split_once("\r\n").unwrap();
        let req = format!("{line}\r\n{spoof}{rest}");
        take(&heads);
        let (status, resp) = raw(addr, req.as_bytes()).await;
        let got = take(&heads);
        let head = got
            .first()
            .unwrap_or_else(|| panic!("{mode:?}: {status} {resp}"));
        assert_eq!(
            header(head, "x-forwarded-for"),
            vec!["127.0.0.1"],
            "{mode:?}: {head}"
        );
        assert_eq!(
            header(head, "x-forwarded-host"),
            vec!["gw.example"],
            "{mode:?}: {head}"
        );
        assert_eq!(
            header(head, "x-forwarded-proto"),
            vec!["http"],
            "{mode:?}: {head}"
        );
        assert_eq!(
            header(head, "forwarded"),
            vec!["for=127.0.0.1;proto=http;host=gw.example"],
            "{mode:?}: {head}"
        );
        assert!(!head.contains("10.0.0."), "{mode:?}: {head}");
    }
}

/// WebSocket handshakes from a disallowed origin, in every spelling of the
/// upgrade: refused before the upstream on the credentialed route, on the
/// normalised path, whatever the target form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_handshake_variants_from_a_disallowed_origin() {
    let (gw, heads) = setup(true).await;
    let addr = gw.local_addr();
    let upgrades = [
        "connection: upgrade\r\nupgrade: websocket\r\n",
        "connection: keep-alive, Upgrade\r\nupgrade: websocket\r\n",
        "Connection: UPGRADE\r\nUpgrade: WebSocket\r\n",
        "connection: keep-alive\r\nconnection: upgrade\r\nupgrade: websocket\r\n",
        "connection:upgrade,close\r\nupgrade: websocket, h2c\r\n",
    ];
    for (target, status) in [
        ("/api/ws", 403),
        ("/%61pi/ws", 403),
        ("/healthz/../api/ws", 403),
        ("/public/%2e%2e/api/ws", 403),
        ("http://gw.example/api/ws", 403),
        ("http://gw.example/healthz/%2e%2e/api/ws", 403),
        ("/API/ws", 400),
        ("/api./ws", 400),
        ("/healthz/..;/api/ws", 400),
        ("http://gw.example/HEALTHZ/..%2fapi/ws", 400),
    ] {
        for up in upgrades {
            take(&heads);
            let req = format!(
                "GET {target} HTTP/1.1\r\nhost: gw.example\r\norigin: {EVIL}\r\n{up}\
                 sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            );
            let (got, resp) = raw(addr, req.as_bytes()).await;
            assert!(!readable_secret(&resp, EVIL), "{target} {up:?}");
            let seen = take(&heads);
            if up.contains("websocket, h2c") && status == 403 {
                // Not a WebSocket handshake (`only_websocket_is_tunnelled`):
                // an ordinary request, without its upgrade headers, under
                // the policy (no `Access-Control-Allow-Origin` for it).
                assert_eq!(got, 200, "{target} {up:?}: {resp}");
                assert_eq!(seen.len(), 1, "{target} {up:?}");
                assert!(
                    !seen[0].to_ascii_lowercase().contains("\r\nupgrade:"),
                    "{target}: {}",
                    seen[0]
                );
                assert!(header(&resp, "access-control-allow-origin").is_empty());
                continue;
            }
            assert_eq!(got, status, "{target} {up:?}: {resp}");
            assert!(seen.is_empty(), "{target} {up:?}");
        }
    }
}

/// The upstream's own CORS headers, however it spells them, never reach a
/// page on a disallowed origin through a route with a policy: upper case,
/// twice, a space before the colon, folded into another line, in a 103
/// before the answer, on a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_cors_headers_cannot_slip_through() {
    let (gw, _heads) = setup(true).await;
    let addr = gw.local_addr();
    for trick in ["upper", "dup", "space", "fold", "early", "error"] {
        for mode in [Mode::Plain, Mode::Body] {
            let target = format!("/api/{trick}");
            let (status, resp) = raw(addr, &request(mode, &target, "gw.example")).await;
            let ctx = format!("{mode:?} {trick}: {status}");
            // Every response in the stream (1xx included) is checked.
            for head in resp.split("\r\n\r\n") {
                let lower = head.to_ascii_lowercase();
                assert!(!lower.contains("evil.example"), "{ctx}: {resp}");
            }
            assert!(!readable_secret(&resp, EVIL), "{ctx}: {resp}");
            assert!(
                header(&resp, "vary")
                    .iter()
                    .any(|v| v.to_ascii_lowercase().contains("origin")),
                "{ctx}: {resp}"
            );
        }
    }
}

/// A switch to another protocol than WebSocket is not tunnelled: after a
/// 101 for `h2c` (or `TLS/1.2`, or a list), the client would talk straight to
/// the upstream, each later request unrouted and unchecked (h2c smuggling).
/// The switch goes the ordinary way without its upgrade headers, and what
/// the client writes next is a new request, routed and normalised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_websocket_is_tunnelled() {
    let (gw, heads) = setup(true).await;
    let addr = gw.local_addr();
    for upgrade in ["h2c", "H2C", "TLS/1.2", "h2c, websocket", "websocket, h2c"] {
        take(&heads);
        let mut s = TcpStream::connect(addr).await.unwrap();
        let hello = format!(
            "GET /public/x HTTP/1.1\r\nhost: gw.example\r\nconnection: Upgrade, HTTP2-Settings\r\n\
             upgrade: {upgrade}\r\nhttp2-settings: AAMAAABkAAQAAP__\r\n\r\n"
        );
        s.write_all(hello.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await;
        let first = String::from_utf8_lossy(&got).into_owned();
        assert!(!first.starts_with("HTTP/1.1 101"), "{upgrade}: {first}");
        // What the client writes next: a request the gateway refuses.
        let _ = s
            .write_all(b"GET /healthz/..%2fapi/me HTTP/1.1\r\nhost: gw.example\r\n\r\n")
            .await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await;
        let seen = take(&heads);
        assert!(
            seen.iter().all(|h| !h.contains("..%2f")),
            "{upgrade}: the upstream got an unrouted request: {seen:?}"
        );
        assert_eq!(seen.len(), 1, "{upgrade}: {seen:?}");
        let lower = seen[0].to_ascii_lowercase();
        assert!(
            seen[0].starts_with("GET /_public/public/x HTTP/1.1\r\n"),
            "{upgrade}: {seen:?}"
        );
        assert!(!lower.contains("\r\nupgrade:"), "{upgrade}: {lower}");
        assert!(!lower.contains("http2-settings"), "{upgrade}: {lower}");
    }
}
