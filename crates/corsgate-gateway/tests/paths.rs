//! The gateway routes on the normalised request target and the upstream
//! receives exactly what was routed (`target` module).
//!
//! A byte-exact upstream records each request line: every route has its own
//! upstream base path, so the line says which route the gateway chose and
//! which path it forwarded. For a generated table of path forms (encoded
//! characters, dot segments, `..;`, `//`, case, base-path escapes, queries
//! holding `/../`) sent three ways (the in-task client's plain path, hyper's
//! path with a body, and a WebSocket handshake), the test checks:
//!
//! - what was forwarded matches the route that forwarded it, is a fixed
//!   point of the gateway's normalisation, and keeps the query byte for byte;
//! - an *aggressive* upstream (decoding every escape once, `\` as `/`,
//!   `;params` dropped from segments, dot segments resolved, slashes merged)
//!   would route the client's raw path, and the forwarded one, to the same
//!   route: no path form reaches another route's resource;
//! - the forwarded path never leaves the route's base path;
//! - what is refused (400) reaches nothing and carries no CORS header.
//!
//! Then host confusions through host routes, WebSocket handshakes from a
//! disallowed origin, a real normalising nginx as the upstream, and a real
//! Chromium page on a disallowed origin.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use corsgate_gateway::{GatewayConfig, RunningGateway};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Routes, each with its own base path on the one upstream.
const ROUTES: &[(&str, &str)] = &[
    ("/", "/_root"),
    ("/healthz", "/_healthz"),
    ("/public/", "/_public"),
    ("/api/", "/_api"),
];

fn config(up: SocketAddr) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
admin = "127.0.0.1:0"

[timeouts]
upstream_connect = "2s"
upstream_response = "5s"
{}"#,
        base_path_routes(up)
    )
}

/// `/healthz` with CORS off, `/public/` any origin and `/api/` one
/// credentialed origin, all on the config's default upstream.
const DEFAULT_UPSTREAM_ROUTES: &str = r#"
[[routes]]
path = "/healthz"
cors = false

[[routes]]
path = "/public/"
[routes.policy]
origins = ["*"]

[[routes]]
path = "/api/"
[routes.policy]
origins = ["https://app.example.com"]
credentials = true
"#;

async fn setup() -> (RunningGateway, Heads) {
    let (up, heads) = recording_upstream(OK.to_vec()).await;
    (start_gateway(&config(up)).await, heads)
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    /// No body, no hop-by-hop header: the in-task client's path
    /// (`h1client::send_plain`).
    Plain,
    /// A body: hyper's client path.
    Body,
    /// A WebSocket handshake (no `Origin`): the tunnel's path.
    Handshake,
}

fn request(mode: Mode, target: &str, host: &str, extra: &str) -> Vec<u8> {
    let head = match mode {
        Mode::Plain => format!("GET {target} HTTP/1.1\r\nhost: {host}\r\n{extra}\r\n"),
        Mode::Body => format!(
            "POST {target} HTTP/1.1\r\nhost: {host}\r\n{extra}content-length: 3\r\n\r\nabc"
        ),
        Mode::Handshake => format!(
            "GET {target} HTTP/1.1\r\nhost: {host}\r\n{extra}connection: upgrade\r\nupgrade: websocket\r\n\
             sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        ),
    };
    head.into_bytes()
}

/// The request line the upstream received for the one exchange since
/// `heads` was last emptied (`None`: nothing reached it).
fn received(heads: &Mutex<Vec<String>>) -> Option<String> {
    let mut h = heads.lock().unwrap();
    assert!(h.len() <= 1, "one request, several heads: {h:?}");
    h.pop()
        .map(|head| head.split("\r\n").next().unwrap_or("").to_owned())
}

/// The head the upstream received, whole.
fn received_head(heads: &Mutex<Vec<String>>) -> Option<String> {
    heads.lock().unwrap().pop()
}

// ---------------------------------------------------------------------------
// An independent model of a normalising upstream and of the routes.

/// What an aggressive application makes of a path: every escape decoded
/// once, `\` taken as `/`, `;params` dropped from each segment, dot
/// segments resolved, empty segments dropped.
fn aggressive(path: &str) -> String {
    // A `\` the client wrote is a `/`; one decoded from `%5C` is not.
    let dec = percent_decode_once(&path.replace('\\', "/"));
    let dec = String::from_utf8_lossy(&dec).into_owned();
    let mut out: Vec<&str> = Vec::new();
    for seg in dec.split('/') {
        let seg = seg.split(';').next().unwrap_or("");
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// The route (its prefix) a path goes to under the table's routes, by
/// segment-wise prefix: the model, not the gateway's code.
fn model_route(path: &str) -> &'static str {
    if path == "/api" || path.starts_with("/api/") {
        "/api/"
    } else if path == "/public" || path.starts_with("/public/") {
        "/public/"
    } else if path == "/healthz" || path.starts_with("/healthz/") {
        "/healthz"
    } else {
        "/"
    }
}

fn route_of_base(base: &str) -> &'static str {
    ROUTES
        .iter()
        .find(|(_, b)| *b == base)
        .map(|(r, _)| *r)
        .unwrap_or_else(|| panic!("unknown base {base}"))
}

/// Splits a forwarded target `/_base/rest?query` into (route, rest, query).
fn split_forwarded(target: &str) -> (&'static str, String, Option<String>) {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (target, None),
    };
    let rest = path.strip_prefix('/').unwrap_or(path);
    let (base, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let base = format!("/{base}");
    let route = route_of_base(&base);
    (route, format!("/{tail}"), query)
}

/// The generated path forms: a route prefix, a way to climb out of it, a
/// way to spell the sensitive target, and a query.
fn path_forms() -> Vec<String> {
    let from = ["/healthz", "/public", "/public/x", "", "/api"];
    let climb = [
        "/../",
        "/%2e%2e/",
        "/%2E%2E/",
        "/.%2e/",
        "/%2e./",
        "/..%2f",
        "/..%2F",
        "/%2e%2e%2f",
        "/..%5c",
        "/..%5C",
        "/..\\",
        "/..;/",
        "/..;x=1/",
        "/%2e%2e;/",
        "/..%3b/",
        "/.;/",
        "//../",
        "/./../",
        "/../../",
        "/",
        "//",
        "/%2f",
        "/%00/../",
        "/.../",
        "/..%252f",
        "/%252e%252e/",
        "/x;y/../",
    ];
    let target = [
        "api/me",
        "%61pi/me",
        "%61%70%69/me",
        "API/me",
        "api%2fme",
        "api//me",
        "healthz",
        "admin",
        "api/me/",
        "api/./me",
        "a%7Epi",
        "api/%7e",
        "api/a%3ab",
        "api;x/me",
        ";x/api/me",
        "api/me;jsessionid=1",
    ];
    let query = ["", "?x=/../api/me", "?a=%2f..%2f&b=..;/&c=%2e%2e"];
    let mut out = Vec::new();
    for (i, f) in from.iter().enumerate() {
        for (j, c) in climb.iter().enumerate() {
            for (k, t) in target.iter().enumerate() {
                let q = query[(i + j + k) % query.len()];
                out.push(format!("{f}{c}{t}{q}"));
            }
        }
    }
    out
}

/// Checks one exchange against the model; returns whether it was forwarded.
fn check(raw_target: &str, mode: Mode, status: u16, resp: &str, line: Option<String>) -> bool {
    let raw_path = raw_target.split('?').next().unwrap_or("");
    let raw_query = raw_target.split_once('?').map(|(_, q)| q.to_owned());
    let ctx = format!("{mode:?} {raw_target:?} → {status}, upstream got {line:?}");
    let Some(line) = line else {
        // Refused: by the gateway (400) or hyper's request parser (400).
        assert_eq!(status, 400, "{ctx}: {resp}");
        assert!(
            !resp.to_ascii_lowercase().contains("access-control-"),
            "{ctx}: a refusal carries no CORS header: {resp}"
        );
        return false;
    };
    let expected_method = if matches!(mode, Mode::Body) {
        "POST"
    } else {
        "GET"
    };
    let target = line
        .strip_prefix(expected_method)
        .and_then(|l| l.strip_prefix(' '))
        .and_then(|l| l.strip_suffix(" HTTP/1.1"))
        .unwrap_or_else(|| panic!("{ctx}: request line"));
    let (route, forwarded, query) = split_forwarded(target);
    // The query, byte for byte.
    assert_eq!(query, raw_query, "{ctx}");
    // What was forwarded is in normal form, and is what the route matched.
    let again = corsgate_gateway::routing::normalise(&forwarded).expect("normal form is accepted");
    assert_eq!(
        again,
        forwarded.as_str(),
        "{ctx}: forwarded path not normal"
    );
    assert_eq!(
        model_route(&forwarded),
        route,
        "{ctx}: forwarded path and route disagree"
    );
    // An aggressive upstream sees the same route in what it got and in
    // what the client sent.
    assert_eq!(
        model_route(&aggressive(&forwarded)),
        route,
        "{ctx}: an aggressive upstream would serve another route"
    );
    assert_eq!(
        model_route(&aggressive(raw_path)),
        route,
        "{ctx}: the client aimed at another route than the one that forwarded"
    );
    // Never out of the base path, even for an aggressive upstream.
    let base = ROUTES
        .iter()
        .find(|(r, _)| *r == route)
        .map(|(_, b)| *b)
        .unwrap_or("");
    let full = format!("{base}{forwarded}");
    let seen = aggressive(&full);
    assert!(
        seen == base || seen.starts_with(&format!("{base}/")),
        "{ctx}: escaped the base path: {seen}"
    );
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_receives_exactly_the_normalised_path_that_was_routed() {
    let (gw, heads) = setup().await;
    let addr = gw.local_addr();

    // By hand first: the exact line for representative forms.
    let table: &[(&str, Option<&str>)] = &[
        ("/api/me", Some("/_api/api/me")),
        ("/%61pi/me", Some("/_api/api/me")),
        ("/%61%70%69/me", Some("/_api/api/me")),
        ("/API/me", None),
        ("/healthz/%2e%2e/api/me", Some("/_api/api/me")),
        ("/healthz/../api/me", Some("/_api/api/me")),
        ("/public/../admin", Some("/_root/admin")),
        ("/public/%2e%2e/%2e%2e/admin", Some("/_root/admin")),
        ("//api//me", Some("/_api/api/me")),
        ("/api/a%3ab%7e", Some("/_api/api/a%3Ab~")),
        ("/healthz", Some("/_healthz/healthz")),
        ("/healthzx", Some("/_root/healthzx")),
        ("/api/me?x=/../y&z=%2f", Some("/_api/api/me?x=/../y&z=%2f")),
        ("/public/x?", Some("/_public/public/x?")),
        ("/healthz/..%2fapi/me", None),
        ("/healthz/..%2Fapi/me", None),
        ("/healthz/..%5capi/me", None),
        ("/healthz/..;/api/me", None),
        ("/healthz/%2e%2e;/api/me", None),
        ("/public/..%3B/api/me", None),
        ("/api/me%00", None),
        ("/api/me%zz", None),
        ("/healthz/%252e%252e/api/me", None),
        ("/api;x/me", None),
        ("/healthz;x", None),
        ("/;x/api/me", None),
        ("/api/me;jsessionid=1", Some("/_api/api/me;jsessionid=1")),
        ("/public/x;y/../z", Some("/_public/public/z")),
        // A fragment is no part of a request target: dropped by the parser.
        ("/api/me#/../../healthz", Some("/_api/api/me")),
        ("/healthz#/../api/me", Some("/_healthz/healthz")),
    ];
    for (target, want) in table {
        for mode in [Mode::Plain, Mode::Body, Mode::Handshake] {
            heads.lock().unwrap().clear();
            let (status, resp) = raw(addr, &request(mode, target, "gw.example", "")).await;
            let line = received(&heads);
            let method = if matches!(mode, Mode::Body) {
                "POST"
            } else {
                "GET"
            };
            match want {
                Some(w) => {
                    assert_eq!(
                        line.as_deref(),
                        Some(format!("{method} {w} HTTP/1.1").as_str()),
                        "{mode:?} {target}: {resp}"
                    );
                    assert_eq!(status, 200, "{mode:?} {target}: {resp}");
                }
                None => {
                    assert_eq!(line, None, "{mode:?} {target}");
                    assert_eq!(status, 400, "{mode:?} {target}: {resp}");
                    assert!(resp.contains("corsgate: bad request target"), "{resp}");
                }
            }
        }
    }

    // Raw bytes outside ASCII: percent-encoded when they are UTF-8; hyper's
    // parser refuses the others (overlong forms included) with 400.
    for (target, want) in [
        (&b"/api/\xc3\xa9"[..], Some("/_api/api/%C3%A9")),
        (b"/api/\xe2\x80\xa8", Some("/_api/api/%E2%80%A8")),
        (b"/api/\xff\xfe", None),
        (b"/healthz/\xc0\xae\xc0\xae/api", None),
        // Overlong UTF-8 dots: refused (a lenient decoder reads `..`).
        (b"/healthz/%c0%ae%c0%ae/api", None),
        (b"/api/\x7f", None),
    ] {
        heads.lock().unwrap().clear();
        let mut req = b"GET ".to_vec();
        req.extend_from_slice(target);
        req.extend_from_slice(b" HTTP/1.1\r\nhost: gw.example\r\n\r\n");
        let (status, resp) = raw(addr, &req).await;
        let line = received(&heads);
        assert_eq!(
            line,
            want.map(|w| format!("GET {w} HTTP/1.1")),
            "{target:?}: {resp}"
        );
        if want.is_none() {
            assert_eq!(status, 400);
        }
    }

    // Then the generated forms, against the model.
    let forms = path_forms();
    let (mut forwarded, mut refused) = (0, 0);
    for (i, target) in forms.iter().enumerate() {
        let mode = [Mode::Plain, Mode::Body, Mode::Handshake][i % 3];
        heads.lock().unwrap().clear();
        let (status, resp) = raw(addr, &request(mode, target, "gw.example", "")).await;
        if check(target, mode, status, &resp, received(&heads)) {
            forwarded += 1;
        } else {
            refused += 1;
        }
    }
    assert!(
        forwarded > 300 && refused > 300,
        "{forwarded} forwarded, {refused} refused"
    );
    let m = metrics(&gw).await;
    let bad: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("corsgate_requests_by_reason_total{reason=\"bad_request\"} "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        bad >= refused,
        "refusals are counted as bad_request: {bad} < {refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_are_checked_and_canonical_before_host_routes() {
    let (gw, heads) = setup().await;
    let addr = gw.local_addr();
    // (Host value, route base it must reach or None for 400, Host forwarded)
    let table: &[(&str, Option<(&str, &str)>)] = &[
        ("admin.example.com", Some(("/_admin", "admin.example.com"))),
        ("admin.example.com.", Some(("/_admin", "admin.example.com"))),
        ("ADMIN.Example.Com", Some(("/_admin", "admin.example.com"))),
        (
            "Admin.Example.Com.:8080",
            Some(("/_admin", "admin.example.com:8080")),
        ),
        (
            "admin.example.com:8080",
            Some(("/_admin", "admin.example.com:8080")),
        ),
        ("gw.example", Some(("/_api", "gw.example"))),
        ("127.0.0.1:80", Some(("/_api", "127.0.0.1:80"))),
        ("[::1]:80", Some(("/_api", "[::1]:80"))),
        ("admin.example.com/x", None),
        ("admin.example.com/api/", None),
        ("admin.example.com?x", None),
        ("admin.example.com#x", None),
        ("admin .example.com", None),
        ("admin.example.com x", None),
        ("user@admin.example.com", None),
        ("admin.example.com@gw.example", None),
        ("admin.example.com:", None),
        ("admin.example.com:80x", None),
        ("admin.example.com:99999", None),
        ("admin.example.com:80:80", None),
        ("admin.example.com..", None),
        ("admin..example.com", None),
        (".admin.example.com", None),
        ("adm%69n.example.com", None),
        ("admin.example.com\\x", None),
        ("[::1", None),
        ("", None),
    ];
    for (host, want) in table {
        heads.lock().unwrap().clear();
        let (status, resp) = raw(addr, &request(Mode::Plain, "/api/x", host, "")).await;
        let head = received_head(&heads);
        match want {
            Some((base, fwd)) => {
                let head = head.unwrap_or_else(|| panic!("{host:?}: nothing forwarded: {resp}"));
                assert!(
                    head.starts_with(&format!("GET {base}/api/x HTTP/1.1\r\n")),
                    "{host:?}: {head}"
                );
                let lower = head.to_ascii_lowercase();
                assert!(
                    lower.contains(&format!("\r\nhost: {fwd}\r\n")),
                    "{host:?}: {head}"
                );
                assert!(
                    lower.contains(&format!("\r\nx-forwarded-host: {fwd}\r\n")),
                    "{host:?}: {head}"
                );
                assert_eq!(status, 200);
            }
            None => {
                assert_eq!(head, None, "{host:?}");
                assert_eq!(status, 400, "{host:?}: {resp}");
            }
        }
    }
    // Absolute form: the target's authority is the host.
    for (target, want) in [
        ("http://admin.example.com./api/x", Some("/_admin/api/x")),
        (
            "http://ADMIN.example.com/api/%2e%2e/api/x",
            Some("/_admin/api/x"),
        ),
        ("http://admin.example.com/healthz/..%2fapi/x", None),
        ("http://u@admin.example.com/api/x", None),
    ] {
        heads.lock().unwrap().clear();
        let (status, resp) = raw(addr, &request(Mode::Plain, target, "gw.example", "")).await;
        let line = received(&heads);
        match want {
            Some(w) => assert_eq!(line, Some(format!("GET {w} HTTP/1.1")), "{target}: {resp}"),
            None => {
                assert_eq!(line, None, "{target}");
                assert_eq!(status, 400, "{target}: {resp}");
            }
        }
    }
    // HTTP/1.0 without Host: no host-specific route.
    heads.lock().unwrap().clear();
    let (status, _) = raw(addr, b"GET /api/x HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 200);
    assert_eq!(
        received(&heads).as_deref(),
        Some("GET /_api/api/x HTTP/1.1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_handshakes_cannot_climb_into_another_route() {
    let (gw, heads) = setup().await;
    let addr = gw.local_addr();
    let evil = "origin: https://evil.example\r\n";
    // (target, status): nothing may reach the upstream.
    for (target, status) in [
        ("/healthz/..%2fapi/ws", 400),
        ("/healthz/..%2Fapi/ws", 400),
        ("/public/..%2fapi/ws", 400),
        ("/public/..%5capi/ws", 400),
        ("/public/..;/api/ws", 400),
        ("/healthz/..;/api/ws", 400),
        ("/public/%2e%2e/api/ws", 403),
        ("/healthz/%2e%2e/api/ws", 403),
        ("/public//..//api/ws", 403),
        ("/%61pi/ws", 403),
        ("/api/ws", 403),
    ] {
        heads.lock().unwrap().clear();
        let (got, resp) = raw(addr, &request(Mode::Handshake, target, "gw.example", evil)).await;
        assert_eq!(got, status, "{target}: {resp}");
        assert_eq!(received(&heads), None, "{target}");
        assert!(
            !resp
                .to_ascii_lowercase()
                .contains("access-control-allow-origin"),
            "{resp}"
        );
    }
    // The control: the `*` route's own WebSocket is open to any origin, and
    // forwarded under its normalised path.
    heads.lock().unwrap().clear();
    let (got, resp) = raw(
        addr,
        &request(Mode::Handshake, "/public/./%77s", "gw.example", evil),
    )
    .await;
    assert_eq!(got, 200, "{resp}");
    assert_eq!(
        received(&heads).as_deref(),
        Some("GET /_public/public/ws HTTP/1.1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_requests_are_normalised_the_same_way() {
    let (gw, heads) = setup().await;
    let mut sender = h2_connect(gw.local_addr()).await;
    // (`:authority` and `:path`, upstream line or None for 400, Host forwarded)
    for (uri, want, host) in [
        ("http://gw.example/healthz/..%2fapi/me", None, ""),
        ("http://gw.example/healthz/..;/api/me", None, ""),
        (
            "http://gw.example/healthz/%2e%2e/%61pi/me?q=/../x",
            Some("/_api/api/me?q=/../x"),
            "gw.example",
        ),
        (
            "http://Admin.Example.com./api/%2e%2e/api/x",
            Some("/_admin/api/x"),
            "admin.example.com",
        ),
        (
            "http://admin.example.com.:8443/api/x",
            Some("/_admin/api/x"),
            "admin.example.com:8443",
        ),
        ("http://u@admin.example.com/api/x", None, ""),
    ] {
        heads.lock().unwrap().clear();
        let req = http::Request::builder()
            .uri(uri)
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let got = read(sender.send_request(req).await.unwrap()).await;
        let head = received_head(&heads);
        match want {
            Some(w) => {
                let head = head.unwrap_or_else(|| {
                    panic!("{uri}: nothing forwarded: {} {}", got.status, got.body)
                });
                assert!(
                    head.starts_with(&format!("GET {w} HTTP/1.1\r\n")),
                    "{uri}: {head}"
                );
                assert!(
                    head.to_ascii_lowercase()
                        .contains(&format!("\r\nhost: {host}\r\n")),
                    "{uri}: {head}"
                );
            }
            None => {
                assert_eq!(got.status, 400, "{uri}");
                assert_eq!(head, None, "{uri}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2c_upstream_gets_the_normalised_path_too() {
    let (up, _) = start_upstream().await;
    let text = format!(
        "listen = \"127.0.0.1:0\"\nupstream = \"http://{up}\"\n\
         [[routes]]\npath = \"/h2/\"\nupstream_protocol = \"h2c\"\ncors = false\n\
         [[routes]]\npath = \"/\"\ncors = false\n"
    );
    let gw = start_gateway(&text).await;
    let a = gw.local_addr();
    for (path, want) in [
        ("/h2/x/../%65cho?q=/../a", Some("/h2/echo?q=/../a")),
        ("/x/%2e%2e/h2/echo", Some("/h2/echo")),
        ("/h2/..%2fh2/echo", None),
    ] {
        let got = send(a, "GET", path, &[]).await;
        match want {
            Some(w) => {
                assert_eq!(got.status, 200, "{path}: {}", got.body);
                assert!(
                    got.body.contains(&format!("\"uri\":\"http://{up}{w}\"")),
                    "{path}: {}",
                    got.body
                );
            }
            None => assert_eq!(got.status, 400, "{path}"),
        }
    }
}

#[test]
fn route_paths_and_hosts_are_written_in_normal_form() {
    for (path, ok) in [
        ("/api/", true),
        ("/healthz", true),
        ("/.well-known/", true),
        ("/a/../b", false),
        ("/a/./b", false),
        ("/%61pi/", false),
        ("/api//", false),
        ("/a%2fb", false),
        ("/a%5cb", false),
        ("/a/..;/b", false),
    ] {
        let text = format!(
            "listen = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:1\"\n[[routes]]\npath = {path:?}\ncors = false\n"
        );
        assert_eq!(GatewayConfig::from_toml(&text).is_ok(), ok, "{path}");
    }
    let text = "listen = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:1\"\n[[routes]]\npath = \"/\"\nhost = \"Admin.Example.com.\"\ncors = false\n";
    let c = GatewayConfig::from_toml(text).unwrap();
    assert_eq!(c.routes()[0].host(), Some("admin.example.com"));
}

// ---------------------------------------------------------------------------
// A real normalising upstream: nginx.

/// nginx on loopback, unprivileged paths under a temporary directory;
/// stopped (SIGTERM to its own pid) and the directory removed on drop.
struct Nginx {
    child: std::process::Child,
    dir: std::path::PathBuf,
    port: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const SECRET: &str = "SECRET-API-BODY";

/// A careless application behind nginx: it reflects any `Origin` with
/// credentials everywhere; `/api/` is the sensitive location.
fn start_nginx() -> Nginx {
    let bin = "/usr/sbin/nginx";
    assert!(
        std::path::Path::new(bin).is_file(),
        "nginx is needed for this test (Debian: apt-get install nginx; scripts/test installs it)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!(
        "corsgate-paths-nginx-{}-{port}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    let conf = format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         server {{\n    listen 127.0.0.1:{port};\n    default_type text/plain;\n\
         location /api/ {{\n      add_header Access-Control-Allow-Origin $http_origin always;\n\
         add_header Access-Control-Allow-Credentials true always;\n      return 200 \"{SECRET}\\n\";\n    }}\n\
         location / {{\n      add_header Access-Control-Allow-Origin $http_origin always;\n\
         add_header Access-Control-Allow-Credentials true always;\n      return 200 \"public $uri\\n\";\n    }}\n  }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let mut child = std::process::Command::new(bin)
        .arg("-p")
        .arg(&dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nginx starts");
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "nginx exited ({status}): {}",
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "nginx did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Nginx { child, dir, port }
}

fn acao(resp: &str) -> Option<String> {
    let head = resp.split("\r\n\r\n").next().unwrap_or("");
    head.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case("access-control-allow-origin")
            .then(|| v.trim().to_owned())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normalising_nginx_behind_the_gateway_never_leaks_its_sensitive_location() {
    let nginx = start_nginx();
    let n = format!("127.0.0.1:{}", nginx.port);
    let nginx_addr: SocketAddr = n.parse().unwrap();
    let evil = "origin: https://evil.example\r\ncookie: session=1\r\n";

    // The premise: nginx itself normalises these forms into `/api/`, with
    // the evil origin reflected (what a gateway routing on the raw path
    // would pass through its `cors = false` route).
    for p in [
        "/healthz/..%2fapi/me",
        "/healthz/%2e%2e/api/me",
        "/public/x/..%2F..%2Fapi/me",
    ] {
        let (status, resp) = raw(nginx_addr, &request(Mode::Plain, p, "nginx", evil)).await;
        assert_eq!(status, 200, "{p}: {resp}");
        assert!(resp.contains(SECRET), "nginx normalises {p}: {resp}");
        assert_eq!(
            acao(&resp).as_deref(),
            Some("https://evil.example"),
            "{resp}"
        );
    }

    let config = format!(
        r#"
listen = "127.0.0.1:0"
upstream = "http://{n}"

[timeouts]
upstream_connect = "2s"
upstream_response = "5s"

[[routes]]
path = "/"
cors = false
upstream = "http://{n}/public"
{DEFAULT_UPSTREAM_ROUTES}"#
    );
    let gw = start_gateway(&config).await;
    let addr = gw.local_addr();

    // Controls: the sensitive location through its own route is readable
    // by the allowed origin only; the careless reflection passes through
    // the `cors = false` route.
    let (_, resp) = raw(
        addr,
        &request(
            Mode::Plain,
            "/api/me",
            "gw",
            "origin: https://app.example.com\r\n",
        ),
    )
    .await;
    assert!(resp.contains(SECRET), "{resp}");
    assert_eq!(acao(&resp).as_deref(), Some("https://app.example.com"));
    let (_, resp) = raw(addr, &request(Mode::Plain, "/healthz", "gw", evil)).await;
    assert!(resp.contains("public /healthz"), "{resp}");
    assert_eq!(acao(&resp).as_deref(), Some("https://evil.example"));

    let mut secret_seen = 0;
    for (i, p) in path_forms().iter().enumerate() {
        let mode = [Mode::Plain, Mode::Body][i % 2];
        let (status, resp) = raw(addr, &request(mode, p, "gw", evil)).await;
        if resp.contains(SECRET) {
            secret_seen += 1;
            // Only through the `/api/` route, whose policy does not allow
            // the evil origin: no CORS header lets the page read it.
            let a = acao(&resp);
            assert!(
                a.is_none(),
                "{mode:?} {p} → {status}: the sensitive body with ACAO {a:?}: {resp}"
            );
        }
    }
    // The sensitive location was reached by many forms, each time through
    // its own route.
    assert!(secret_seen > 100, "{secret_seen}");
}

// ---------------------------------------------------------------------------
// A real browser: a page on a disallowed origin.

/// A page on `http://localhost:<port>` (an origin no policy allows) calls
/// the gateway on `http://127.0.0.1:<port>` with `fetch(…, {credentials})`.
/// The upstream reflects the page's origin with credentials everywhere
/// (a careless application): only the gateway stands between the page and
/// the body. The `cors = false` route `/healthz` is the control the page
/// can read; every form aiming at `/api/` through it, or through the `*`
/// route, must leave the script unable to read the body. (The upstream
/// answers the sensitive body for what a normalising application takes
/// for `/api/…`.)
#[test]
fn chromium_on_a_disallowed_origin_cannot_read_through_path_tricks() {
    use corsgate_conformance::webdriver::Driver;
    use serde_json::{json, Value};

    let rt = tokio::runtime::Runtime::new().unwrap();
    let (page_origin, gw_url, heads, _gw) = rt.block_on(async {
        // The page's server first: the upstream needs its origin.
        let page_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let page_port = page_listener.local_addr().unwrap().port();
        drop(page_listener);
        let page_origin = format!("http://localhost:{page_port}");
        let html = "<!doctype html><title>elsewhere</title><p>a page on another origin";
        let page = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\r\n{html}",
            html.len()
        );
        let l = tokio::net::TcpListener::bind(("127.0.0.1", page_port)).await.unwrap();
        let page: Arc<[u8]> = page.into_bytes().into();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let page = page.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while let Ok(n) = s.read(&mut chunk).await {
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            if s.write_all(&page).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        // It normalises as applications do, and reflects the page's
        // origin with credentials on every answer.
        let origin = page_origin.clone();
        let careless: Answer = Arc::new(move |head: &str| {
            let target = head.split(' ').nth(1).unwrap_or("");
            let path = target.split('?').next().unwrap_or("");
            let body = if model_route(&aggressive(path)) == "/api/" {
                format!("{SECRET} for whoever asks")
            } else {
                "healthy".to_owned()
            };
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\naccess-control-allow-origin: {origin}\r\n\
                 access-control-allow-credentials: true\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        });
        let (up, heads) = answering_upstream(careless).await;
        let config = format!(
            r#"
listen = "127.0.0.1:0"
upstream = "http://{up}"
{DEFAULT_UPSTREAM_ROUTES}"#
        );
        let gw = start_gateway(&config).await;
        let gw_url = format!("http://127.0.0.1:{}", gw.local_addr().port());
        (page_origin, gw_url, heads, gw)
    });

    let driver = Driver::start("/usr/bin/chromedriver", "/usr/bin/chromium")
        .expect("chromium and chromedriver are installed (scripts/test installs them)");
    driver
        .navigate(&format!("{page_origin}/"))
        .expect("page loads");
    let forms: Vec<(&str, &str)> = vec![
        ("/healthz", "include"),
        ("/healthz/..%2fapi/me", "include"),
        ("/healthz/..%2Fapi/me", "include"),
        ("/healthz/%2e%2e/api/me", "include"),
        ("/healthz/..%5capi/me", "include"),
        ("/healthz/..;/api/me", "include"),
        ("/healthz/%2e%2e;/api/me", "include"),
        ("/healthz//..%2f..%2fapi/me", "include"),
        ("/healthz/..%252fapi/me", "include"),
        ("/public/..%2fapi/me", "include"),
        ("/public/..%2fapi/me", "omit"),
        ("/public/..;/api/me", "omit"),
        ("/public/%2e%2e/api/me", "omit"),
        ("/api/me", "include"),
    ];
    let script = "const done = arguments[arguments.length - 1];
        const [gw, forms] = [arguments[0], arguments[1]];
        (async () => {
          const out = [];
          for (const [p, credentials] of forms) {
            try {
              const r = await fetch(gw + p, {credentials});
              out.push({p, credentials, read: true, status: r.status, body: await r.text()});
            } catch (e) {
              out.push({p, credentials, read: false, error: String(e)});
            }
          }
          done(out);
        })().catch(e => done('JS error: ' + e));";
    let out = driver
        .execute_async(script, vec![json!(gw_url), json!(forms)])
        .expect("the script runs");
    let results = out.as_array().unwrap_or_else(|| panic!("{out}"));
    assert_eq!(results.len(), forms.len(), "{out}");
    for r in results {
        let p = r["p"].as_str().unwrap_or("");
        let readable = r["read"] == Value::Bool(true)
            && r["body"].as_str().is_some_and(|b| b.contains(SECRET));
        if p == "/healthz" {
            // The control: the careless reflection through `cors = false`
            // is readable, so a leak would show.
            assert_eq!(r["read"], Value::Bool(true), "control not readable: {r}");
            assert_eq!(r["body"], "healthy", "{r}");
        } else {
            assert!(!readable, "the page read the body: {r}");
        }
    }
    // What the gateway forwarded means the same route to the application.
    let heads = heads.lock().unwrap();
    assert!(!heads.is_empty());
    for head in heads.iter() {
        let target = head.split(' ').nth(1).unwrap_or("");
        let path = target.split('?').next().unwrap_or("");
        assert_eq!(model_route(&aggressive(path)), model_route(path), "{head}");
    }
    drop(driver);
}
