//! End-to-end tests on loopback: a real upstream, the gateway in front of it,
//! real HTTP clients. Each pitfall of nginx, Apache, Envoy and ingress-nginx
//! from the reference notes has a test named after it.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PREFLIGHT_PUT: [(&str, &str); 3] = [
    APP,
    ("access-control-request-method", "PUT"),
    ("access-control-request-headers", "content-type"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_requests_allowed_and_denied() {
    let (up, _) = start_upstream().await;
    let gw = gateway(up).await;
    let a = gw.local_addr();
    let ok = send(a, "GET", "/api/echo", &[APP]).await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.h("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(ok.h("access-control-allow-credentials"), Some("true"));
    assert_eq!(ok.h("access-control-expose-headers"), Some("x-request-id"));
    assert_eq!(ok.h("vary"), Some("origin"));
    let no = send(a, "GET", "/api/echo", &[EVIL]).await;
    assert_eq!(
        no.status, 200,
        "the upstream answers; the browser blocks the read"
    );
    assert_eq!(no.h("access-control-allow-origin"), None);
    assert_eq!(no.h("access-control-allow-credentials"), None);
    assert_eq!(no.h("vary"), Some("origin"));
    // Prefix and suffix look-alikes (Envoy StringMatcher, nginx regex pitfalls).
    for o in [
        "https://app.example.com.evil.net",
        "https://evilapp.example.com",
        "https://app.example.com:8443",
        "http://app.example.com",
        "null",
    ] {
        let r = send(a, "GET", "/api/echo", &[("origin", o)]).await;
        assert_eq!(r.h("access-control-allow-origin"), None, "{o}");
    }
    let m = metrics(&gw).await;
    assert!(
        m.contains("corsgate_requests_total{kind=\"actual\",decision=\"allowed\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("corsgate_requests_total{kind=\"actual\",decision=\"denied\"} 6"),
        "{m}"
    );
    assert!(
        m.contains("corsgate_requests_by_reason_total{reason=\"origin_not_allowed\"}"),
        "{m}"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflights_are_answered_here_and_never_forwarded() {
    let (up, seen) = start_upstream().await;
    let gw = gateway(up).await;
    let a = gw.local_addr();
    let ok = send(a, "OPTIONS", "/api/echo", &PREFLIGHT_PUT).await;
    assert_eq!(ok.status, 204);
    assert_eq!(
        ok.h("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(ok
        .h("access-control-allow-methods")
        .unwrap()
        .contains("PUT"));
    assert_eq!(
        ok.h("access-control-allow-headers"),
        Some("content-type, authorization")
    );
    assert_eq!(ok.h("access-control-max-age"), Some("600"));
    assert!(ok.h("vary").unwrap().contains("origin"));
    // Refused preflights: method, header, origin; 403 and still not forwarded
    // (Envoy's forward_not_matching_preflights pitfall).
    for hs in [
        vec![APP, ("access-control-request-method", "PATCH")],
        vec![
            APP,
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "x-secret"),
        ],
        vec![EVIL, ("access-control-request-method", "PUT")],
    ] {
        let r = send(a, "OPTIONS", "/api/echo", &hs).await;
        assert_eq!(r.status, 403, "{hs:?}");
        assert_eq!(r.h("access-control-allow-origin"), None);
    }
    assert_eq!(
        seen.options.load(Relaxed),
        0,
        "no preflight reached the upstream"
    );
    assert_eq!(seen.requests.load(Relaxed), 0);
    // OPTIONS without Access-Control-Request-Method is not a preflight: passed on.
    let plain = send(a, "OPTIONS", "/api/echo", &[APP]).await;
    assert_eq!(plain.status, 200);
    assert_eq!(seen.options.load(Relaxed), 1);
    let m = metrics(&gw).await;
    assert!(
        m.contains("corsgate_preflights_total{result=\"allowed\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("corsgate_preflights_total{result=\"denied\"} 3"),
        "{m}"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pitfall_preflight_caught_by_auth() {
    // The upstream answers 401 to anything without Authorization; the
    // browser never sends credentials on a preflight.
    let (up, seen) = start_upstream().await;
    let gw = gateway(up).await;
    let a = gw.local_addr();
    let pre = send(
        a,
        "OPTIONS",
        "/api/auth",
        &[
            APP,
            ("access-control-request-method", "DELETE"),
            ("access-control-request-headers", "authorization"),
        ],
    )
    .await;
    assert_eq!(pre.status, 204);
    assert_eq!(seen.requests.load(Relaxed), 0);
    // And the 401 of the actual request carries the CORS headers.
    let r = send(a, "DELETE", "/api/auth", &[APP]).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.h("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pitfall_headers_missing_on_error_responses() {
    let (up, _) = start_upstream().await;
    let gw = gateway(up).await;
    let a = gw.local_addr();
    for code in [301, 400, 401, 403, 404, 500, 503] {
        let r = send(a, "GET", &format!("/api/status/{code}"), &[APP]).await;
        assert_eq!(r.status.as_u16(), code);
        assert_eq!(
            r.h("access-control-allow-origin"),
            Some("https://app.example.com"),
            "{code}"
        );
        assert_eq!(
            r.h("access-control-allow-credentials"),
            Some("true"),
            "{code}"
        );
        assert_eq!(r.h("vary"), Some("origin"), "{code}");
    }
    // The gateway's own 504.
    let r = send(a, "GET", "/api/slow/3000", &[APP]).await;
    assert_eq!(r.status, 504);
    assert_eq!(
        r.h("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(r.h("vary"), Some("origin"));
    let m = metrics(&gw).await;
    assert!(
        m.contains("corsgate_upstream_errors_total{kind=\"timeout\"} 1"),
        "{m}"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_gives_502_with_cors_headers() {
    // A port with nothing listening.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let gw = gateway(dead).await;
    let a = gw.local_addr();
    let r = send(a, "GET", "/api/echo", &[APP]).await;
    assert_eq!(r.status, 502);
    assert_eq!(
        r.h("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(r.h("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.h("vary"), Some("origin"));
    let r = send(a, "GET", "/public/echo", &[EVIL]).await;
    assert_eq!(r.status, 502);
    assert_eq!(r.h("access-control-allow-origin"), Some("*"));
    // Preflights do not need the upstream at all.
    assert_eq!(
        send(a, "OPTIONS", "/api/echo", &PREFLIGHT_PUT).await.status,
        204
    );
    let m = metrics(&gw).await;
    assert!(
        m.contains("corsgate_upstream_errors_total{kind=\"connect\"} 2"),
        "{m}"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_upstream_response_gives_502_with_cors_headers() {
    for answer in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n"[..],
        b"garbage\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\n",
    ] {
        let (up, _, _) = scripted_upstream(answer, false).await;
        let gw = gateway(up).await;
        let r = send(gw.local_addr(), "GET", "/api/echo", &[APP]).await;
        assert_eq!(r.status, 502, "{}", String::from_utf8_lossy(answer));
        assert_eq!(
            r.h("access-control-allow-origin"),
            Some("https://app.example.com")
        );
        gw.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodiless_requests_reach_the_upstream_as_proxies_send_them() {
    let (up, heads, _) = scripted_upstream(
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok",
        false,
    )
    .await;
    let gw = gateway(up).await;
    let a = gw.local_addr();
    let r = send(a, "GET", "/api/echo?q=1", &[APP]).await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "ok"));
    assert_eq!(r.h("connection"), None);
    // Its own hop-by-hop and forwarding headers: the general path.
    let r = send(
        a,
        "DELETE",
        "/api/echo",
        &[APP, ("x-forwarded-for", "10.9.9.9"), ("te", "trailers")],
    )
    .await;
    assert_eq!(r.status, 200);
    let r = send(a, "POST", "/api/echo", &[APP]).await;
    assert_eq!(r.status, 200);
    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 3, "{heads:?}");
    let get = heads[0].to_ascii_lowercase();
    assert!(get.starts_with("get /api/echo?q=1 http/1.1\r\n"), "{get}");
    for line in [
        // `preserve_host` is on by default.
        format!("host: {a}\r\n"),
        "x-forwarded-for: 127.0.0.1\r\n".to_string(),
        "x-forwarded-proto: http\r\n".to_string(),
        format!("x-forwarded-host: {a}\r\n"),
        format!("forwarded: for=127.0.0.1;proto=http;host=\"{a}\"\r\n"),
        "origin: https://app.example.com\r\n".to_string(),
    ] {
        assert!(get.contains(&line), "{line:?} in {get}");
    }
    assert_eq!(get.matches("\r\nhost:").count(), 1, "{get}");
    let delete = heads[1].to_ascii_lowercase();
    assert!(
        delete.starts_with("delete /api/echo http/1.1\r\n"),
        "{delete}"
    );
    assert!(
        delete.contains("x-forwarded-for: 127.0.0.1\r\n"),
        "untrusted: replaced; {delete}"
    );
    assert!(!delete.contains("te: trailers"), "{delete}");
    let post = heads[2].to_ascii_lowercase();
    assert!(post.contains("content-length: 0\r\n"), "{post}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pitfall_duplicated_allow_origin_from_upstream() {
    let (up, _) = start_upstream().await;
    let gw = gateway(up).await;
    let a = gw.local_addr();
    // The upstream sends two ACAO lines, ACAC and ACAM: all replaced.
    let r = send(a, "GET", "/api/cors-star", &[APP]).await;
    assert_eq!(
        r.all("access-control-allow-origin"),
        ["https://app.example.com"]
    );
    assert_eq!(r.all("access-control-allow-credentials"), ["true"]);
    assert_eq!(r.h("access-control-allow-methods"), None);
    // A denied origin does not inherit the upstream's wildcard.
    let r = send(a, "GET", "/api/cors-star", &[EVIL]).await;
    assert_eq!(r.h("access-control-allow-origin"), None);
    assert_eq!(r.h("access-control-allow-credentials"), None);
    // Nor does a request without Origin.
    let r = send(a, "GET", "/api/cors-star", &[]).await;
    assert_eq!(r.h("access-control-allow-origin"), None);
    let m = metrics(&gw).await;
    assert!(
        m.contains("corsgate_upstream_cors_disagreements_total 3"),
        "{m}"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pitfall_missing_vary_origin() {
    let (up, _) = start_upstream().await;
    let gw = gateway(up).await;
    let a = gw.local_addr();
    // Appended to the upstream's Vary, never clobbering it (Apache `set` pitfall).
    let r = send(a, "GET", "/api/vary", &[APP]).await;
    let vary = r.all("vary").join(", ").to_ascii_lowercase();
    assert!(
        vary.contains("accept-encoding") && vary.contains("origin"),
        "{vary}"
    );
    // On responses to requests without Origin too (shared caches).
    let r = send(a, "GET", "/api/echo", &[]).await;
    assert_eq!(r.h("vary"), Some("origin"));
    assert_eq!(r.h("access-control-allow-origin"), None);
    // `*` does not depend on the origin: no Vary needed.
    let r = send(a, "GET", "/public/echo", &[]).await;
    assert_eq!(r.h("access-control-allow-origin"), Some("*"));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pitfall_inheritance_wipe_out_keeps_other_headers() {
    // nginx's add_header inheritance drops server-level headers; here the
    // upstream's other headers (HSTS) are never touched by the CORS step.
    let (up, _) = start_upstream().await;
    let gw = gateway(up).await;
    let r = send(gw.local_addr(), "GET", "/api/status/404", &[APP]).await;
    assert_eq!(r.h("strict-transport-security"), Some("max-age=60"));
    assert_eq!(
        r.h("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_and_wildcard_never_combine() {
    let (up, _) = start_upstream().await;
    let gw = gateway(up).await;
    let a = gw.local_addr();
    let r = send(a, "GET", "/public/echo", &[APP, ("cookie", "session=1")]).await;
    assert_eq!(r.h("access-control-allow-origin"), Some("*"));
    assert_eq!(r.h("access-control-allow-credentials"), None);
    let r = send(a, "GET", "/api/echo", &[APP, ("cookie", "session=1")]).await;
    assert_eq!(r.h("access-control-allow-credentials"), Some("true"));
    assert!(r.body.contains("session=1"), "cookies reach the upstream");
    // And a file asking for both is refused (ingress-nginx's default).
    let bad = config_text(up).replace("origins = [\"*\"]", "origins = [\"*\"]\ncredentials = true");
    let e = corsgate_gateway::GatewayConfig::from_toml(&bad).unwrap_err();
    assert!(e[0].line.is_some(), "{e:?}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_route_and_per_host_policies() {
    let (up, seen) = start_upstream().await;
    let gw = gateway(up).await;
    let a = gw.local_addr();
    let admin_host = ("host", "admin.example.com");
    let r = send(
        a,
        "GET",
        "/api/echo",
        &[admin_host, ("origin", "https://admin.example.com")],
    )
    .await;
    assert_eq!(
        r.h("access-control-allow-origin"),
        Some("https://admin.example.com")
    );
    let r = send(a, "GET", "/api/echo", &[admin_host, APP]).await;
    assert_eq!(r.h("access-control-allow-origin"), None);
    let r = send(
        a,
        "GET",
        "/api/echo",
        &[
            ("host", "ADMIN.example.com:8080"),
            ("origin", "https://admin.example.com"),
        ],
    )
    .await;
    assert_eq!(
        r.h("access-control-allow-origin"),
        Some("https://admin.example.com")
    );
    // PUT is allowed on /api/ but not on the admin host's /api/.
    let p = send(
        a,
        "OPTIONS",
        "/api/x",
        &[
            admin_host,
            ("origin", "https://admin.example.com"),
            ("access-control-request-method", "PUT"),
        ],
    )
    .await;
    assert_eq!(p.status, 403);
    // CORS off: the upstream's headers pass through untouched.
    let r = send(a, "GET", "/raw/cors-star", &[APP]).await;
    assert_eq!(
        r.all("access-control-allow-origin"),
        ["*", "https://other.example"]
    );
    // No route: 404 from the gateway, nothing forwarded.
    let before = seen.requests.load(Relaxed);
    let r = send(a, "GET", "/elsewhere", &[APP]).await;
    assert_eq!(r.status, 404);
    assert_eq!(seen.requests.load(Relaxed), before);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_and_hop_by_hop_headers() {
    let (up, _) = start_upstream().await;
    let gw = gateway(up).await;
    let a = gw.local_addr();
    let r = send(
        a,
        "GET",
        "/api/echo?q=1",
        &[
            APP,
            ("x-forwarded-for", "203.0.113.9"),
            ("connection", "x-hop"),
            ("x-hop", "secret"),
            ("proxy-authorization", "Basic eA=="),
        ],
    )
    .await;
    let b = r.body.to_ascii_lowercase();
    assert!(
        b.contains("\"x-forwarded-for\":\"127.0.0.1\""),
        "spoofed XFF replaced: {b}"
    );
    assert!(b.contains("\"x-forwarded-proto\":\"http\""), "{b}");
    assert!(b.contains(&format!("\"x-forwarded-host\":\"{a}\"")), "{b}");
    assert!(
        b.contains("\"forwarded\":\"for=127.0.0.1;proto=http;host="),
        "{b}"
    );
    assert!(
        b.contains(&format!("\"host\":\"{a}\"")),
        "Host preserved: {b}"
    );
    assert!(
        !b.contains("x-hop") && !b.contains("proxy-authorization"),
        "{b}"
    );
    assert!(b.contains("\"uri\":\"/api/echo?q=1\""), "{b}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_400_and_the_gateway_survives() {
    let (up, _) = start_upstream().await;
    let gw = gateway(up).await;
    let a = gw.local_addr();
    let raw = |bytes: Vec<u8>| async move {
        let mut s = tokio::net::TcpStream::connect(a).await.unwrap();
        let _ = s.write_all(&bytes).await;
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut buf)).await;
        String::from_utf8_lossy(&buf).into_owned()
    };
    for bad in [
        b"GARBAGE\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\nHost: a\r\nbad header\r\n\r\n".to_vec(),
        b"GET /api/echo HTTP/1.1\r\n\r\n".to_vec(),
        b"GET /api/echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(),
        b"GET /api/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
            .to_vec(),
        b"GET * HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
        b"POST /api/upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n"
            .to_vec(),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
    ] {
        let out = raw(bad.clone()).await;
        assert!(
            out.starts_with("HTTP/1.1 400"),
            "{:?} -> {out:?}",
            String::from_utf8_lossy(&bad)
        );
    }
    let mut huge = b"GET /api/echo HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 64 * 1024));
    huge.extend_from_slice(b"\r\n\r\n");
    let out = raw(huge).await;
    assert!(
        out.starts_with("HTTP/1.1 431") || out.starts_with("HTTP/1.1 400"),
        "{out:?}"
    );
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let out = raw(format!("GET /api/echo HTTP/1.1\r\nHost: a\r\n{many}\r\n").into_bytes()).await;
    assert!(
        out.starts_with("HTTP/1.1 431") || out.starts_with("HTTP/1.1 400"),
        "{out:?}"
    );
    // Several Origin lines: denied, never reflected.
    let r = send(a, "GET", "/api/echo", &[APP, EVIL]).await;
    assert_eq!(r.h("access-control-allow-origin"), None);
    // Still serving.
    assert_eq!(send(a, "GET", "/api/echo", &[APP]).await.status, 200);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_hit_the_header_read_timeout_and_idle_connections_close() {
    let (up, _) = start_upstream().await;
    let text = config_text(up).replace(
        "[timeouts]",
        "[timeouts]\nheader_read = \"300ms\"\nidle = \"300ms\"",
    );
    let gw = corsgate_gateway::start(corsgate_gateway::GatewayConfig::from_toml(&text).unwrap())
        .await
        .unwrap();
    let a = gw.local_addr();
    // Slowloris: half a request head, then nothing.
    let mut s = tokio::net::TcpStream::connect(a).await.unwrap();
    s.write_all(b"GET /api/echo HTTP/1.1\r\nHost: a\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut buf)).await;
    assert!(r.is_ok(), "closed by the gateway");
    // Idle keep-alive connection, after one request.
    let mut s = tokio::net::TcpStream::connect(a).await.unwrap();
    s.write_all(b"GET /api/echo HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let start = std::time::Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(r.is_ok() && start.elapsed() < Duration::from_secs(3));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_on_both_sides() {
    let (up, _) = start_upstream().await;
    let text = config_text(up).replace(
        "[[routes]]\npath = \"/raw/\"",
        "[[routes]]\npath = \"/h2/\"\nupstream_protocol = \"h2c\"\n[routes.policy]\norigins = [\"https://app.example.com\"]\n\n[[routes]]\npath = \"/raw/\"",
    );
    let gw = corsgate_gateway::start(corsgate_gateway::GatewayConfig::from_toml(&text).unwrap())
        .await
        .unwrap();
    let a = gw.local_addr();
    let client: hyper_util::client::legacy::Client<_, http_body_util::Empty<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .http2_only(true)
            .build_http();
    for path in ["/api/echo", "/h2/echo"] {
        let req = http::Request::builder()
            .uri(format!("http://{a}{path}"))
            .header("origin", "https://app.example.com")
            .body(http_body_util::Empty::new())
            .unwrap();
        let resp = client.request(req).await.unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_2);
        let got = read(resp).await;
        assert_eq!(got.status, 200);
        assert_eq!(
            got.h("access-control-allow-origin"),
            Some("https://app.example.com")
        );
        let expect = if path == "/h2/echo" {
            "HTTP/2.0"
        } else {
            "HTTP/1.1"
        };
        assert!(got.body.contains(expect), "{path}: {}", got.body);
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_drains_requests_in_flight() {
    let (up, _) = start_upstream().await;
    let gw = gateway(up).await;
    let a = gw.local_addr();
    let slow = tokio::spawn(async move { send(a, "GET", "/public/slow/700", &[]).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    gw.shutdown().await;
    let r = slow.await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "slow");
    assert!(
        tokio::net::TcpStream::connect(a).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_healthz_and_metrics() {
    let (up, _) = start_upstream().await;
    let gw = gateway(up).await;
    let admin = gw.admin_addr().unwrap();
    let h = send(admin, "GET", "/healthz", &[]).await;
    assert_eq!((h.status.as_u16(), h.body.as_str()), (200, "ok\n"));
    send(gw.local_addr(), "GET", "/api/echo", &[APP]).await;
    let m = metrics(&gw).await;
    for needle in [
        "# TYPE corsgate_request_duration_seconds histogram",
        "corsgate_request_duration_seconds_count 1",
        "corsgate_requests_by_reason_total{reason=\"origin_allowed\"} 1",
        "corsgate_connections_total 1",
    ] {
        assert!(m.contains(needle), "{needle}\n{m}");
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_makes_new_clients_wait() {
    let (up, _) = start_upstream().await;
    let text = config_text(up).replace("[timeouts]", "[limits]\nmax_connections = 1\n\n[timeouts]");
    let gw = corsgate_gateway::start(corsgate_gateway::GatewayConfig::from_toml(&text).unwrap())
        .await
        .unwrap();
    let a = gw.local_addr();
    let request = b"GET /public/echo HTTP/1.1\r\nHost: a\r\n\r\n";
    // The first client holds the only slot with a keep-alive connection.
    let mut first = tokio::net::TcpStream::connect(a).await.unwrap();
    first.write_all(request).await.unwrap();
    let mut buf = vec![0u8; 65536];
    let n = first.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // The second is accepted by the kernel but not served yet.
    let mut second = tokio::net::TcpStream::connect(a).await.unwrap();
    second.write_all(request).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(400), second.read(&mut buf)).await;
    assert!(waited.is_err(), "served past max_connections");
    // When the first leaves, the second is served.
    drop(first);
    let n = tokio::time::timeout(Duration::from_secs(3), second.read(&mut buf))
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    drop(second);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_allowed_and_denied_requests() {
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let up = corsgate_gateway::start_demo_upstream(any).await.unwrap();
    let gw = corsgate_gateway::start(corsgate_gateway::demo_config(any, any, up).unwrap())
        .await
        .unwrap();
    let a = gw.local_addr();
    let lines = corsgate_gateway::demo::curl_lines(a, gw.admin_addr().unwrap(), None);
    assert!(
        lines.contains(&format!("curl -i http://{a}/public/hello")),
        "{lines}"
    );
    let r = send(
        a,
        "GET",
        "/public/hello",
        &[("origin", "https://anyone.example")],
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.h("access-control-allow-origin")),
        (200, Some("*"))
    );
    let r = send(a, "GET", "/api/me", &[APP, ("cookie", "session=1")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.all("access-control-allow-origin"),
        ["https://app.example.com"]
    );
    let r = send(a, "GET", "/api/me", &[APP]).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.h("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let r = send(a, "GET", "/api/me", &[EVIL]).await;
    assert_eq!(
        r.h("access-control-allow-origin"),
        None,
        "the upstream's '*' is not let through"
    );
    let r = send(
        a,
        "OPTIONS",
        "/api/items",
        &[APP, ("access-control-request-method", "PATCH")],
    )
    .await;
    assert_eq!(r.status, 403);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_connections_are_reused_and_closed_ones_replaced() {
    for close_after in [false, true] {
        let (up, _, conns) = scripted_upstream(
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            close_after,
        )
        .await;
        let gw = gateway(up).await;
        let a = gw.local_addr();
        for _ in 0..10 {
            let r = send(a, "GET", "/public/x", &[APP]).await;
            assert_eq!(r.status, 200, "close_after={close_after}");
            assert_eq!(r.body, "ok");
            // Let a closed connection be seen as closed.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let n = conns.load(Relaxed);
        if close_after {
            assert_eq!(n, 10, "one connection per request");
        } else {
            // One pool per worker thread (one per core).
            let workers = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
            assert!(
                (1..=workers).contains(&n),
                "sequential requests share the pooled connections: {n} opened"
            );
        }
        gw.shutdown().await;
    }
}

/// Reads one HTTP/1.1 response with a `content-length` off a raw stream:
/// its head (lower-cased) and body.
async fn read_raw_response(s: &mut tokio::net::TcpStream) -> (String, String) {
    let mut buf = Vec::new();
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed mid-head");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while buf.len() < end + len {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[end..end + len]).into_owned();
    (head, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_timeouts_on_one_keep_alive_connection() {
    // upstream_response = 1s (config_text). HTTP/1.1 exchanges are watched
    // by the connection's own timer: a 504 on time, and the requests after
    // it on the same connection are neither expired early nor late.
    let (up, _) = start_upstream().await;
    let gw = gateway(up).await;
    let a = gw.local_addr();
    let mut s = tokio::net::TcpStream::connect(a).await.unwrap();
    let get = |path: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: gw\r\nOrigin: https://app.example.com\r\n\r\n")
    };
    for round in 0..2 {
        let t = std::time::Instant::now();
        s.write_all(get("/api/slow/3000").as_bytes()).await.unwrap();
        let (head, _) = read_raw_response(&mut s).await;
        let took = t.elapsed();
        assert!(head.starts_with("http/1.1 504"), "{round}: {head}");
        assert!(
            head.contains("access-control-allow-origin: https://app.example.com"),
            "{head}"
        );
        assert!(
            took >= Duration::from_millis(990) && took < Duration::from_millis(2500),
            "{round}: 504 after {took:?}"
        );
        s.write_all(get("/api/echo").as_bytes()).await.unwrap();
        let (head, _) = read_raw_response(&mut s).await;
        assert!(head.starts_with("http/1.1 200"), "{round}: {head}");
        // Started after the connection's timer was armed again: its
        // deadline is later than the timer's, which must not expire it.
        tokio::time::sleep(Duration::from_millis(600)).await;
        s.write_all(get("/api/slow/700").as_bytes()).await.unwrap();
        let (head, _) = read_raw_response(&mut s).await;
        assert!(head.starts_with("http/1.1 200"), "{round}: {head}");
    }
    // HTTP/2 streams run in tasks of their own: each has its own timer.
    let client: hyper_util::client::legacy::Client<_, http_body_util::Empty<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .http2_only(true)
            .build_http();
    let req = |path: &str| {
        http::Request::builder()
            .uri(format!("http://{a}{path}"))
            .header("origin", "https://app.example.com")
            .body(http_body_util::Empty::new())
            .unwrap()
    };
    let t = std::time::Instant::now();
    let (slow, fast) = tokio::join!(
        client.request(req("/api/slow/3000")),
        client.request(req("/api/slow/200"))
    );
    let slow = read(slow.unwrap()).await;
    assert_eq!(slow.status, 504);
    assert_eq!(
        slow.h("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(t.elapsed() < Duration::from_millis(2500));
    assert_eq!(read(fast.unwrap()).await.status, 200);
    let m = metrics(&gw).await;
    assert!(
        m.contains("corsgate_upstream_errors_total{kind=\"timeout\"} 3"),
        "{m}"
    );
    gw.shutdown().await;
}
