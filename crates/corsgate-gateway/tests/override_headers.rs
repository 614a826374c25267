//! Headers that application stacks read as the request's path, method,
//! scheme, port, prefix or client address never reach the upstream from a
//! client (`forward::OVERRIDES`, `forward::FORWARDING_FACTS`).
//!
//! A byte-exact upstream records each request head. For every header of a
//! table (each name, other spellings of it: upper case, `_` for `-`,
//! repeated, named in `Connection`; and all of them at once), sent
//! four ways — a bodiless `GET` over HTTP/1.1 (the in-task client's fast
//! path when nothing needs removing), a `POST` with a body (hyper's client),
//! a WebSocket handshake (the tunnel), and both methods over HTTP/2 from the
//! client — the head the upstream receives must equal, **byte for byte**,
//! the head of the same request sent without that header (with
//! `trust_forwarded = false`; field lines compared as a sorted list, see
//! [`lines`]). With `trust_forwarded = true` the path and
//! method overrides and every `_` spelling still go; the other forwarding
//! facts (`X-Forwarded-Prefix`, `X-Real-IP`…) arrive as sent, and the head
//! is the control's plus exactly their line.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use corsgate_gateway::RunningGateway;
use http_body_util::Full;

/// (name as the client spells it, value, kept with `trust_forwarded`).
const ROWS: &[(&str, &str, bool)] = &[
    // Path overrides: IIS URL Rewrite / ISAPI_Rewrite, Symfony < 2.7.49 /
    // 3.4.14 and Zend Framework (CVE-2018-14773), nginx auth_request,
    // Traefik ForwardAuth.
    ("X-Original-URL", "/admin/users", false),
    ("X-Rewrite-URL", "/admin/users?id=1", false),
    ("X-Original-URI", "/admin", false),
    ("X-Forwarded-Uri", "/admin", false),
    ("x-original-url", "//evil.example/admin", false),
    ("X-ORIGINAL-URL", "/%2e%2e/admin", false),
    // gunicorn's SCRIPT_NAME (benoitc/gunicorn#2650), Flask/Django recipes.
    ("Script-Name", "/api", false),
    ("SCRIPT_NAME", "/api", false),
    ("X-Script-Name", "/api", false),
    // Method overrides.
    ("X-HTTP-Method-Override", "DELETE", false),
    ("X-HTTP-Method", "PUT", false),
    ("X-Method-Override", "PATCH", false),
    ("x-http-method-override", "delete, put", false),
    // `_` spellings, one `HTTP_*` variable with the dashed ones to CGI/PHP.
    ("X_Original_URL", "/admin", false),
    ("X-Original_URL", "/admin", false),
    ("x_http_method_override", "DELETE", false),
    ("X_Forwarded_For", "10.0.0.1", false),
    ("X_Forwarded_Host", "evil.example", false),
    ("X_Forwarded_Proto", "https", false),
    ("X_Forwarded_Prefix", "/evil", false),
    ("X_Real_IP", "10.0.0.1", false),
    // Forwarding facts: a trusted proxy in front may set them.
    ("X-Forwarded-Prefix", "/evil", true),
    ("X-Forwarded-Path", "/evil", true),
    ("X-Forwarded-Port", "8443", true),
    ("X-Forwarded-Scheme", "https", true),
    ("X-Forwarded-Ssl", "on", true),
    ("X-Forwarded-Protocol", "ssl", true),
    ("Front-End-Https", "on", true),
    ("X-Url-Scheme", "https", true),
    ("X-Forwarded-Server", "evil.example", true),
    ("X-Real-IP", "10.0.0.1", true),
];

fn config(up: SocketAddr, trust: bool) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
trust_forwarded = {trust}

[timeouts]
upstream_connect = "2s"
upstream_response = "10s"

[[routes]]
path = "/"
cors = false
upstream = "http://{up}/_root"

[[routes]]
path = "/api/"
upstream = "http://{up}/_api"
[routes.policy]
origins = ["https://app.example.com"]
methods = ["POST"]
request_headers = ["*"]
"#
    )
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// `GET`, no body, HTTP/1.1: the in-task client (its fast path for the
    /// control, which carries nothing to remove).
    Plain,
    /// `POST` with a body, HTTP/1.1: hyper's client.
    Body,
    /// A WebSocket handshake: the tunnel.
    Handshake,
    /// `GET` over HTTP/2 from the client.
    H2Get,
    /// `POST` with a body over HTTP/2 from the client.
    H2Post,
}

const MODES: [Mode; 5] = [
    Mode::Plain,
    Mode::Body,
    Mode::Handshake,
    Mode::H2Get,
    Mode::H2Post,
];

/// One request on a fresh connection, `extra` added as header lines as
/// written; returns the head the upstream received.
async fn exchange(
    gw: &RunningGateway,
    heads: &Mutex<Vec<String>>,
    mode: Mode,
    extra: &[(&str, &str)],
) -> String {
    heads.lock().unwrap().clear();
    let addr = gw.local_addr();
    match mode {
        Mode::Plain | Mode::Body | Mode::Handshake => {
            let mut req = match mode {
                Mode::Plain => "GET /api/x?q=1 HTTP/1.1\r\n".to_owned(),
                Mode::Body => "POST /api/x?q=1 HTTP/1.1\r\ncontent-length: 5\r\n".to_owned(),
                _ => "GET /api/ws HTTP/1.1\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
                      sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    .to_owned(),
            };
            req.push_str("host: gw.example\r\norigin: https://app.example.com\r\n");
            for (n, v) in extra {
                req.push_str(&format!("{n}: {v}\r\n"));
            }
            req.push_str("\r\n");
            if mode == Mode::Body {
                req.push_str("hello");
            }
            raw_text(addr, req.as_bytes(), NoLength::HeadOnly).await;
        }
        Mode::H2Get | Mode::H2Post => {
            let mut sender = h2_connect(addr).await;
            let mut b = http::Request::builder()
                .method(if mode == Mode::H2Get { "GET" } else { "POST" })
                .uri("http://gw.example/api/x?q=1")
                .header("origin", "https://app.example.com");
            for (n, v) in extra {
                b = b.header(*n, *v);
            }
            let body = if mode == Mode::H2Get { "" } else { "hello" };
            let req = b.body(Full::new(Bytes::from(body))).unwrap();
            let resp = tokio::time::timeout(Duration::from_secs(20), sender.send_request(req))
                .await
                .expect("no answer over HTTP/2")
                .unwrap();
            read(resp).await;
        }
    }
    let got = heads.lock().unwrap().pop();
    got.unwrap_or_else(|| panic!("{mode:?} {extra:?}: nothing reached the upstream"))
}

/// The requests of the table: each row alone, repeated, named in
/// `Connection` (hop-by-hop then too), and all rows at once.
fn cases() -> Vec<Vec<(&'static str, &'static str)>> {
    let mut out: Vec<Vec<(&str, &str)>> = ROWS.iter().map(|(n, v, _)| vec![(*n, *v)]).collect();
    out.push(vec![
        ("X-Original-URL", "/admin"),
        ("X-Original-URL", "/root"),
    ]);
    out.push(vec![
        ("X-HTTP-Method-Override", "DELETE"),
        ("x-http-method-override", "PUT"),
    ]);
    out.push(ROWS.iter().map(|(n, v, _)| (*n, *v)).collect());
    out
}

/// A head as its request line and its field lines, each byte for byte, the
/// fields sorted: removing a field from hyper's `HeaderMap` moves its last
/// entry into the hole, so the order of *different* names may change, which
/// carries no meaning (RFC 9110 §5.3); lines of one name keep their order.
fn lines(head: &str) -> (String, Vec<String>) {
    let body = head
        .strip_suffix("\r\n\r\n")
        .unwrap_or_else(|| panic!("not a head: {head:?}"));
    let mut it = body.split("\r\n");
    let first = it.next().unwrap_or_default().to_owned();
    let mut fields: Vec<String> = it.map(str::to_owned).collect();
    // A stable sort on the name alone: same-name lines stay in order.
    fields.sort_by_key(|l| l.split(':').next().unwrap_or_default().to_owned());
    (first, fields)
}

/// What a head must be: the control's, line for line and byte for byte,
/// plus (trusted) each kept line once as the upstream gets it (lower-case
/// name, value as sent).
fn check(mode: Mode, trust: bool, extra: &[(&str, &str)], control: &str, head: &str) {
    let kept: Vec<String> = extra
        .iter()
        .filter(|(n, _)| {
            trust
                && ROWS
                    .iter()
                    .any(|(r, _, keep)| *keep && r.eq_ignore_ascii_case(n))
        })
        .map(|(n, v)| format!("{}: {v}\r\n", n.to_ascii_lowercase()))
        .collect();
    if kept.is_empty() {
        assert_eq!(
            lines(head),
            lines(control),
            "{mode:?} trust={trust} {extra:?}: the upstream's head differs from the control's"
        );
        return;
    }
    // Each kept line once, and nothing else added or lost.
    let mut rest = head.to_owned();
    for line in &kept {
        let at = rest
            .find(line.as_str())
            .unwrap_or_else(|| panic!("{mode:?} {extra:?}: {line:?} not kept in {head:?}"));
        rest.replace_range(at..at + line.len(), "");
    }
    assert_eq!(
        lines(&rest),
        lines(control),
        "{mode:?} trust={trust} {extra:?}: beside the kept lines, the head differs from the control's"
    );
    for (n, _) in extra {
        let lower = n.to_ascii_lowercase();
        if !kept.iter().any(|k| k.starts_with(&format!("{lower}:"))) {
            assert!(
                !head.to_ascii_lowercase().contains(&format!("\r\n{lower}:")),
                "{mode:?} {n} reached the upstream: {head:?}"
            );
        }
    }
}

async fn run(trust: bool) {
    let (up, heads) = recording_upstream(OK.to_vec()).await;
    let gw = start_gateway(&config(up, trust)).await;
    let cases = cases();
    for mode in MODES {
        let control = exchange(&gw, &heads, mode, &[]).await;
        // The control is what the route forwards: the request line says so.
        let line = match mode {
            Mode::Plain | Mode::H2Get => "GET /_api/api/x?q=1 HTTP/1.1\r\n",
            Mode::Body | Mode::H2Post => "POST /_api/api/x?q=1 HTTP/1.1\r\n",
            Mode::Handshake => "GET /_api/api/ws HTTP/1.1\r\n",
        };
        assert!(control.starts_with(line), "{mode:?}: {control}");
        for extra in &cases {
            let head = exchange(&gw, &heads, mode, extra).await;
            check(mode, trust, extra, &control, &head);
        }
        // Named in `Connection` as well: gone either way (hop-by-hop).
        if mode != Mode::Handshake && mode != Mode::H2Get && mode != Mode::H2Post {
            let extra = [
                ("Connection", "X-Forwarded-Prefix, x-real-ip"),
                ("X-Forwarded-Prefix", "/evil"),
                ("X-Real-IP", "10.0.0.1"),
                ("X-Original-URL", "/admin"),
            ];
            let head = exchange(&gw, &heads, mode, &extra).await;
            assert_eq!(
                lines(&head),
                lines(&control),
                "{mode:?} trust={trust} {extra:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_override_header_reaches_the_upstream_by_default() {
    run(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_trust_forwarded_only_the_forwarding_facts_pass() {
    run(true).await;
}
