//! The page edits the policy of the gateway the user started, over real
//! sockets: the playground's own `corsgate_tower::CorsLayer` gateway
//! (`corsgate playground`) and the gateway of `corsgate serve --demo`.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP/1.1 exchange (`Connection: close`); returns the status and the
/// lower-cased head.
async fn exchange(origin: &str, request: String) -> (u16, String) {
    let addr = origin.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    (status, head)
}

/// The preflight of a `PATCH` from `page`.
async fn preflight_patch(gateway: &str, page: &str) -> (u16, String) {
    let host = gateway.trim_start_matches("http://");
    exchange(
        gateway,
        format!("OPTIONS /api/items/1 HTTP/1.1\r\nHost: {host}\r\nOrigin: {page}\r\nAccess-Control-Request-Method: PATCH\r\nConnection: close\r\n\r\n"),
    )
    .await
}

/// `PUT /api/policy` on the page with `policy`.
async fn apply(page: &str, policy: &str) -> (u16, String) {
    let host = page.trim_start_matches("http://");
    let body = serde_json::json!({ "policy": policy }).to_string();
    exchange(
        page,
        format!(
            "PUT /api/policy HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await
}

async fn edits_the_gateway(r: &corsgate_playground::Running) {
    let (page, gw) = (&r.page_origin, &r.gateway_origin);
    let mut live = r.shared.events.subscribe();
    // The demo policy allows the page, not PATCH.
    let (status, head) = preflight_patch(gw, page).await;
    assert_eq!(status, 403, "{head}");
    assert!(head.contains("corsgate-reason:"), "{head}");
    // The live view hears of it.
    let seen = tokio::time::timeout(std::time::Duration::from_secs(5), live.recv())
        .await
        .expect("a decision event")
        .expect("an event");
    assert_eq!(
        (
            seen.origin.as_deref(),
            seen.method.as_str(),
            seen.path.as_str(),
            seen.allowed
        ),
        (Some(page.as_str()), "OPTIONS", "/api/items/1", false),
        "{seen:?}"
    );
    assert_eq!(seen.code, "method_not_allowed", "{seen:?}");
    // An invalid edit changes nothing.
    let text = r.shared.live().text.clone();
    let (status, _) = apply(page, &text.replace(page.as_str(), &format!("{page}/"))).await;
    assert_eq!(status, 422);
    assert_eq!(preflight_patch(gw, page).await.0, 403);
    // The page's edit reaches the gateway the user started.
    let edited = text.replace(
        r#"methods = ["PUT", "DELETE"]"#,
        r#"methods = ["PUT", "DELETE", "PATCH"]"#,
    );
    assert_ne!(edited, text);
    let (status, body) = apply(page, &edited).await;
    assert_eq!(status, 200, "{body}");
    let (status, head) = preflight_patch(gw, page).await;
    assert_eq!(status, 204, "{head}");
    assert!(
        head.contains(&format!("access-control-allow-origin: {page}")),
        "{head}"
    );
    // The demo upstream behind it: its wrong `*` replaced.
    let host = gw.trim_start_matches("http://");
    let (status, head) = exchange(
        gw,
        format!("GET /api/items HTTP/1.1\r\nHost: {host}\r\nOrigin: {page}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("x-total-count: 2"), "{head}");
    assert_eq!(
        head.matches("access-control-allow-origin:").count(),
        1,
        "{head}"
    );
    assert!(!head.contains("access-control-allow-origin: *"), "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_edits_the_playgrounds_tower_gateway() {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let r = corsgate_playground::start(any, any).await.unwrap();
    edits_the_gateway(&r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_edits_the_gateway_serve_demo_started() {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let up = corsgate_gateway::start_demo_upstream(any).await.unwrap();
    let gw = corsgate_gateway::start(corsgate_gateway::demo_config(any, any, up).unwrap())
        .await
        .unwrap();
    let demo = corsgate_gateway::DemoGateway::of(&gw, up).unwrap();
    let r = corsgate_playground::start_page(any, demo).await.unwrap();
    assert_eq!(r.gateway_origin, format!("http://{}", gw.local_addr()));
    edits_the_gateway(&r).await;
    gw.shutdown().await;
}
