//! WebSocket handshakes through the gateway: spliced to the upstream when the
//! route's policy allows the page's origin (or there is no `Origin`), refused
//! with 403 before the upstream when it does not (cross-site WebSocket
//! hijacking), and an upstream that does not switch protocols answered as an
//! ordinary response.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An upstream that switches protocols for `Upgrade: websocket` on `/api/ws`
/// and then echoes every byte back; anything else gets 426. Counts the
/// connections it accepted and keeps the last handshake head.
async fn echo_upstream() -> (SocketAddr, Arc<AtomicUsize>, Arc<std::sync::Mutex<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(std::sync::Mutex::new(String::new()));
    let (a, l) = (accepted.clone(), last.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            a.fetch_add(1, Ordering::SeqCst);
            let l = l.clone();
            tokio::spawn(async move {
                let head = read_head(&mut s).await;
                *l.lock().unwrap() = head.clone();
                let lower = head.to_ascii_lowercase();
                if lower.starts_with("get /api/ws ") && lower.contains("\r\nupgrade: websocket\r\n")
                {
                    let _ = s
                        .write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
                        .await;
                    let mut buf = [0u8; 1024];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if s.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                } else {
                    let _ = s
                        .write_all(b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 4\r\nAccess-Control-Allow-Origin: *\r\n\r\nnope")
                        .await;
                }
            });
        }
    });
    (addr, accepted, last)
}

async fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut b)).await {
            Ok(Ok(1)) => head.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn handshake(path: &str, origin: Option<&str>) -> String {
    let mut h = format!(
        "GET {path} HTTP/1.1\r\nHost: api.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    );
    if let Some(o) = origin {
        h.push_str(&format!("Origin: {o}\r\n"));
    }
    h.push_str("\r\n");
    h
}

/// Opens a handshake; returns the answer's head and the open stream.
async fn open(gw: SocketAddr, path: &str, origin: Option<&str>) -> (String, TcpStream) {
    let mut s = TcpStream::connect(gw).await.unwrap();
    s.write_all(handshake(path, origin).as_bytes())
        .await
        .unwrap();
    let head = read_head(&mut s).await;
    (head, s)
}

async fn echo(s: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    s.write_all(msg).await.unwrap();
    let mut got = vec![0u8; msg.len()];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut got))
        .await
        .expect("the echo comes back in time")
        .unwrap();
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_pass_for_allowed_origins_only() {
    let (up, accepted, last) = echo_upstream().await;
    let gw = common::gateway(up).await;
    let addr = gw.local_addr();

    // An allowed page: switched, then bytes flow both ways through the tunnel.
    let (head, mut s) = open(addr, "/api/ws", Some("https://app.example.com")).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("upgrade: websocket"),
        "{head}"
    );
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    assert_eq!(
        echo(&mut s, b"hello through the gateway").await,
        b"hello through the gateway"
    );
    assert_eq!(
        echo(&mut s, &[0x81, 0x02, b'h', b'i']).await,
        [0x81, 0x02, b'h', b'i']
    );
    // The upstream got the handshake with its upgrade headers and the forwarding ones.
    let seen = last.lock().unwrap().to_ascii_lowercase();
    assert!(seen.contains("\r\nupgrade: websocket\r\n"), "{seen}");
    assert!(seen.contains("\r\nconnection: upgrade\r\n"), "{seen}");
    assert!(seen.contains("\r\nsec-websocket-key: "), "{seen}");
    assert!(seen.contains("\r\nx-forwarded-for: 127.0.0.1"), "{seen}");
    drop(s);

    // Another origin: 403 at the gateway, the upstream never contacted.
    let before = accepted.load(Ordering::SeqCst);
    let (head, _s) = open(addr, "/api/ws", Some("https://evil.example")).await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(head.to_ascii_lowercase().contains("vary: origin"), "{head}");
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("access-control-allow-origin"),
        "{head}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), before);

    // No Origin (not a browser): passes.
    let (head, mut s) = open(addr, "/api/ws", None).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(echo(&mut s, b"no origin").await, b"no origin");

    // The upstream refuses to switch: an ordinary answer, the policy's CORS
    // headers in place of the upstream's.
    let (head, _s) = open(addr, "/api/other", Some("https://app.example.com")).await;
    assert!(head.starts_with("HTTP/1.1 426"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("access-control-allow-origin: https://app.example.com"),
        "{head}"
    );
    assert!(!lower.contains("access-control-allow-origin: *"), "{head}");

    // Ordinary requests on the same gateway go the usual way (this upstream
    // answers them 426): the policy's CORS headers replace the upstream's `*`.
    let got = common::send(addr, "GET", "/api/items", &[common::APP]).await;
    assert_eq!(got.status, 426);
    assert_eq!(
        got.h("access-control-allow-origin"),
        Some("https://app.example.com")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_upstream_gives_502_to_a_handshake() {
    // A port with nothing behind it.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let gw = common::gateway(closed).await;
    let (head, _s) = open(gw.local_addr(), "/api/ws", Some("https://app.example.com")).await;
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
    assert!(head
        .to_ascii_lowercase()
        .contains("access-control-allow-origin: https://app.example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_keeps_its_connection_slot() {
    let (up, _, _) = echo_upstream().await;
    let text = common::config_text(up).replacen(
        "[[routes]]",
        "[limits]\nmax_connections = 1\n\n[[routes]]",
        1,
    );
    let config = corsgate_gateway::GatewayConfig::from_toml(&text).unwrap();
    let gw = corsgate_gateway::start(config).await.unwrap();
    let addr = gw.local_addr();
    let (head, mut tunnel) = open(addr, "/api/ws", Some("https://app.example.com")).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(echo(&mut tunnel, b"x").await, b"x");
    // The only slot is the tunnel's: a new client waits in the accept queue.
    let waiting = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /public/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        read_head(&mut s).await
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !waiting.is_finished(),
        "served while the tunnel holds the only slot"
    );
    // Closing the tunnel frees the slot.
    drop(tunnel);
    let head = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once the tunnel closed")
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 "), "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_tunnel_is_closed_a_busy_one_is_not() {
    let (up, _, _) = echo_upstream().await;
    let text = common::config_text(up).replacen("[timeouts]", "[timeouts]\nidle = \"300ms\"", 1);
    let config = corsgate_gateway::GatewayConfig::from_toml(&text).unwrap();
    let gw = corsgate_gateway::start(config).await.unwrap();
    let addr = gw.local_addr();
    // Busy: a byte every 100 ms for 1.2 s, four times the idle timeout.
    let (head, mut busy) = open(addr, "/api/ws", Some("https://app.example.com")).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let (head, mut quiet) = open(addr, "/api/ws", Some("https://app.example.com")).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    for _ in 0..12 {
        assert_eq!(echo(&mut busy, b"p").await, b"p");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Quiet for those 1.2 s: closed by the gateway (end of stream, or reset).
    let mut b = [0u8; 1];
    let r = tokio::time::timeout(Duration::from_secs(2), quiet.read(&mut b)).await;
    assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "{r:?}");
    assert_eq!(echo(&mut busy, b"still open").await, b"still open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_upstream_gives_504_to_a_handshake() {
    // Accepts and reads, never answers (config_text: upstream_response = 1s).
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let _ = read_head(&mut s).await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    let gw = common::gateway(up).await;
    let started = std::time::Instant::now();
    let (head, _s) = open(gw.local_addr(), "/api/ws", Some("https://app.example.com")).await;
    assert!(head.starts_with("HTTP/1.1 504"), "{head}");
    assert!(head
        .to_ascii_lowercase()
        .contains("access-control-allow-origin: https://app.example.com"));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}
