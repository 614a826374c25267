//! Raw HTTP/1.1 on loopback sockets, for tests that must see bytes exactly:
//! an upstream recording each request head byte for byte, one-shot raw
//! exchanges with the gateway, the gateway started from a config text, and
//! the routes and path decoding the path tests share.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use corsgate_gateway::{start, GatewayConfig, RunningGateway};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A complete `200 OK` with the body `ok`.
pub(crate) const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

/// The request heads an upstream recorded, in order.
pub(crate) type Heads = Arc<Mutex<Vec<String>>>;

/// An upstream's answer, chosen from the request head.
pub(crate) type Answer = Arc<dyn Fn(&str) -> Vec<u8> + Send + Sync>;

/// A bare HTTP/1.1 upstream that records each request head byte for byte,
/// skips its `content-length` body, and answers `answer`.
pub(crate) async fn recording_upstream(answer: Vec<u8>) -> (SocketAddr, Heads) {
    answering_upstream(Arc::new(move |_: &str| answer.clone())).await
}

/// [`recording_upstream`] with an answer chosen from the request head.
pub(crate) async fn answering_upstream(answer: Answer) -> (SocketAddr, Heads) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let heads: Heads = Arc::new(Mutex::new(Vec::new()));
    let h2 = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let heads = h2.clone();
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end + 4]).into_owned();
                        let body: usize = head
                            .split("\r\n")
                            .find_map(|l| {
                                let (n, v) = l.split_once(':')?;
                                n.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() < end + 4 + body {
                            break;
                        }
                        buf.drain(..end + 4 + body);
                        let out = answer(&head);
                        heads.lock().unwrap().push(head);
                        if s.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (addr, heads)
}

/// The gateway started from a TOML config text.
pub(crate) async fn start_gateway(config: &str) -> RunningGateway {
    start(GatewayConfig::from_toml(config).unwrap())
        .await
        .unwrap()
}

/// What to read of a response without `content-length`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum NoLength {
    /// Its body runs to the end of the stream.
    ToEnd,
    /// Only its head.
    HeadOnly,
}

/// One exchange on a fresh connection: the raw request bytes out, the
/// response back (its head, and its body by `content-length`, or as
/// `no_length` says without one), then the connection dropped.
pub(crate) async fn raw_text(addr: SocketAddr, request: &[u8], no_length: NoLength) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
                let len: Option<usize> = head
                    .split("\r\n")
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok());
                let len = match no_length {
                    NoLength::ToEnd => len,
                    NoLength::HeadOnly => Some(len.unwrap_or(0)),
                };
                if len.is_some_and(|n| out.len() >= end + 4 + n) {
                    return;
                }
            }
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "no answer to {:?}",
        String::from_utf8_lossy(request)
    );
    String::from_utf8_lossy(&out).into_owned()
}

/// [`raw_text`] reading an unsized body to the end of the stream; the
/// response's status and text.
pub(crate) async fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let text = raw_text(addr, request, NoLength::ToEnd).await;
    let status = text
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not a response: {text:?}"));
    (status, text)
}

/// The bytes of `path` with every `%XX` decoded once (and nothing else), as
/// an application behind the gateway may read it.
pub(crate) fn percent_decode_once(path: &str) -> Vec<u8> {
    let hexval = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let b = path.as_bytes();
    let mut bytes = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hexval(b[i + 1]), hexval(b[i + 2])) {
                bytes.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        bytes.push(b[i]);
        i += 1;
    }
    bytes
}

/// The routes of the path tests, each on its own base path of the one
/// upstream `up`: `/` and `/healthz` with CORS off, `/public/` any origin,
/// `/api/` one credentialed origin, and `/api/` on host `admin.example.com`
/// another.
pub(crate) fn base_path_routes(up: SocketAddr) -> String {
    format!(
        r#"
[[routes]]
path = "/"
cors = false
upstream = "http://{up}/_root"

[[routes]]
path = "/healthz"
cors = false
upstream = "http://{up}/_healthz"

[[routes]]
path = "/public/"
upstream = "http://{up}/_public"
[routes.policy]
origins = ["*"]

[[routes]]
path = "/api/"
upstream = "http://{up}/_api"
[routes.policy]
origins = ["https://app.example.com"]
credentials = true

[[routes]]
path = "/api/"
host = "admin.example.com"
upstream = "http://{up}/_admin"
[routes.policy]
origins = ["https://admin.example.com"]
credentials = true
"#
    )
}
