//! Test support: a real upstream on loopback that knows nothing of CORS (or
//! gets it wrong on purpose), and a small HTTP client; the `raw` module for tests
//! that must see the bytes on the wire.
#![allow(dead_code)]

mod raw;
// Not every test file uses the raw helpers.
#[allow(unused_imports)]
pub(crate) use raw::*;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use corsgate_gateway::{start, GatewayConfig, RunningGateway};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

/// What the upstream saw.
#[derive(Default, Debug)]
pub(crate) struct Seen {
    pub requests: AtomicU64,
    pub options: AtomicU64,
}

type UpBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn full(s: impl Into<Bytes>) -> UpBody {
    Full::new(s.into()).boxed()
}

fn headers_json(h: &HeaderMap) -> String {
    let mut parts = Vec::new();
    for (n, v) in h {
        parts.push(format!(
            "{:?}:{:?}",
            n.as_str(),
            String::from_utf8_lossy(v.as_bytes())
        ));
    }
    format!("{{{}}}", parts.join(","))
}

/// The upstream. Paths are `/<route>/<op>[/<arg>]`:
/// `echo` (JSON of what it received), `status/<code>`, `slow/<ms>`,
/// `cors-star` (sends `ACAO: *` + `ACAC: true`, a bad upstream),
/// `vary` (sends `Vary: Accept-Encoding`), `auth` (401 without
/// Authorization), `upload` (counts the body), `download/<bytes>` (streams).
async fn upstream(seen: Arc<Seen>, req: Request<Incoming>) -> Result<Response<UpBody>, Infallible> {
    seen.requests.fetch_add(1, Relaxed);
    if req.method() == Method::OPTIONS {
        seen.options.fetch_add(1, Relaxed);
    }
    let path = req.uri().path().to_owned();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let op = segs.get(1).copied().unwrap_or("");
    let arg = segs.get(2).copied().unwrap_or("");
    let mut resp = Response::new(full(""));
    resp.headers_mut()
        .insert("strict-transport-security", "max-age=60".parse().unwrap());
    match op {
        "echo" => {
            let body = format!(
                "{{\"method\":{:?},\"uri\":{:?},\"version\":{:?},\"headers\":{}}}",
                req.method().as_str(),
                req.uri().to_string(),
                format!("{:?}", req.version()),
                headers_json(req.headers())
            );
            *resp.body_mut() = full(body);
        }
        "status" => {
            *resp.status_mut() = arg
                .parse::<u16>()
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::IM_A_TEAPOT);
            *resp.body_mut() = full("an error body the page should be able to read");
        }
        "slow" => {
            tokio::time::sleep(Duration::from_millis(arg.parse().unwrap_or(1000))).await;
            *resp.body_mut() = full("slow");
        }
        "cors-star" => {
            let h = resp.headers_mut();
            h.insert("access-control-allow-origin", "*".parse().unwrap());
            h.append(
                "access-control-allow-origin",
                "https://other.example".parse().unwrap(),
            );
            h.insert("access-control-allow-credentials", "true".parse().unwrap());
            h.insert("access-control-allow-methods", "*".parse().unwrap());
        }
        "vary" => {
            resp.headers_mut()
                .insert("vary", "Accept-Encoding".parse().unwrap());
        }
        "auth" => {
            if !req.headers().contains_key("authorization") {
                *resp.status_mut() = StatusCode::UNAUTHORIZED;
            }
        }
        "upload" => {
            let mut body = req.into_body();
            let mut n: u64 = 0;
            while let Some(f) = body.frame().await {
                match f {
                    Ok(f) => {
                        if let Some(d) = f.data_ref() {
                            n += d.len() as u64;
                        }
                    }
                    Err(_) => break,
                }
            }
            *resp.body_mut() = full(n.to_string());
        }
        "download" => {
            let total: u64 = arg.parse().unwrap_or(0);
            *resp.body_mut() = chunked(total);
        }
        _ => *resp.status_mut() = StatusCode::NOT_FOUND,
    }
    Ok(resp)
}

/// A body of `total` bytes made lazily in 64 KiB chunks.
pub(crate) fn chunked<E: Send + Sync + 'static>(
    total: u64,
) -> http_body_util::combinators::BoxBody<Bytes, E> {
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let stream = futures_stream(total, chunk);
    StreamBody::new(stream).boxed()
}

fn futures_stream<E>(
    total: u64,
    chunk: Bytes,
) -> impl futures_core_stream::Stream<Item = Result<Frame<Bytes>, E>> {
    futures_core_stream::Unfold::new(total, chunk)
}

/// A minimal `Stream` (no futures crate needed).
pub(crate) mod futures_core_stream {
    use std::marker::PhantomData;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use bytes::Bytes;
    use hyper::body::Frame;

    pub(crate) use futures_core::Stream;

    pub(crate) struct Unfold<E> {
        left: u64,
        chunk: Bytes,
        _e: PhantomData<fn() -> E>,
    }
    impl<E> Unfold<E> {
        pub(crate) fn new(left: u64, chunk: Bytes) -> Self {
            Unfold {
                left,
                chunk,
                _e: PhantomData,
            }
        }
    }
    impl<E> Stream for Unfold<E> {
        type Item = Result<Frame<Bytes>, E>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            if self.left == 0 {
                return Poll::Ready(None);
            }
            let n = self.left.min(self.chunk.len() as u64);
            self.left -= n;
            Poll::Ready(Some(Ok(Frame::data(self.chunk.slice(..n as usize)))))
        }
    }
}

/// Starts the upstream on a free loopback port.
pub(crate) async fn start_upstream() -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let s2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let seen = s2.clone();
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(
                        TokioIo::new(stream),
                        service_fn(move |r| upstream(seen.clone(), r)),
                    )
                    .await;
            });
        }
    });
    (addr, seen)
}

/// The test configuration: `/public/` any origin; `/api/` exact origin with
/// credentials; `/api/` on host `admin.example.com` another origin; `/raw/`
/// with CORS off.
pub(crate) fn config_text(upstream: SocketAddr) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
admin = "127.0.0.1:0"
upstream = "http://{upstream}"
reload_poll = "100ms"

[timeouts]
upstream_connect = "1s"
upstream_response = "1s"
drain = "5s"

[[routes]]
path = "/public/"
[routes.policy]
origins = ["*"]
expose_headers = ["x-request-id"]

[[routes]]
path = "/api/"
[routes.policy]
origins = ["https://app.example.com"]
methods = ["PUT", "DELETE"]
request_headers = ["content-type", "authorization"]
expose_headers = ["x-request-id"]
credentials = true
max_age = 600

[[routes]]
path = "/api/"
host = "admin.example.com"
[routes.policy]
origins = ["https://admin.example.com"]
credentials = true

[[routes]]
path = "/raw/"
cors = false
"#
    )
}

pub(crate) async fn gateway(upstream: SocketAddr) -> RunningGateway {
    let config = GatewayConfig::from_toml(&config_text(upstream)).unwrap();
    start(config).await.unwrap()
}

pub(crate) type TestClient = Client<HttpConnector, UpBody>;

pub(crate) fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

/// A response, read whole.
pub(crate) struct Got {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Got {
    pub(crate) fn h(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .collect()
    }
}

pub(crate) async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Got {
    let mut b = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    let resp = client().request(b.body(full("")).unwrap()).await.unwrap();
    read(resp).await
}

pub(crate) async fn read(resp: Response<Incoming>) -> Got {
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Got {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

pub(crate) const APP: (&str, &str) = ("origin", "https://app.example.com");
pub(crate) const EVIL: (&str, &str) = ("origin", "https://evil.example");

pub(crate) async fn metrics(gw: &RunningGateway) -> String {
    let admin = gw.admin_addr().unwrap();
    send(admin, "GET", "/metrics", &[]).await.body
}

/// The gateway *binary* as a child process, serving [`config_text`] with its
/// listener on a free port, edited further by `edit`; returned once it
/// accepts connections, with that address and the config's directory.
pub(crate) async fn gateway_process(
    tag: &str,
    upstream: SocketAddr,
    edit: impl FnOnce(String) -> String,
    stdout: std::process::Stdio,
    stderr: std::process::Stdio,
) -> (std::process::Child, SocketAddr, std::path::PathBuf) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("corsgate-gw-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("corsgate.toml");
    let text = config_text(upstream).replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    std::fs::write(&file, edit(text)).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_corsgate-gateway"))
        .args(["serve", "--config"])
        .arg(&file)
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let start = std::time::Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "gateway did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, addr, dir)
}

/// A bare HTTP/1.1 upstream (no HTTP library): it answers every request head
/// it reads with `answer` and, with `close_after`, closes the connection
/// after one answer without saying so (as an upstream whose keep-alive ran
/// out does). Returns its address, the heads it read and how many
/// connections it accepted.
pub(crate) async fn scripted_upstream(
    answer: &'static [u8],
    close_after: bool,
) -> (
    SocketAddr,
    Arc<std::sync::Mutex<Vec<String>>>,
    Arc<AtomicU64>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let conns = Arc::new(AtomicU64::new(0));
    let (h2, c2) = (heads.clone(), conns.clone());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            c2.fetch_add(1, Relaxed);
            let heads = h2.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head: Vec<u8> = buf.drain(..end + 4).collect();
                        heads
                            .lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&head).into_owned());
                        if s.write_all(answer).await.is_err() || close_after {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, heads, conns)
}

/// An HTTP/2 (prior knowledge) client connection to `addr`, driven in the
/// background.
pub(crate) async fn h2_connect<B>(addr: SocketAddr) -> hyper::client::conn::http2::SendRequest<B>
where
    B: hyper::body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(s))
            .await
            .unwrap();
    tokio::spawn(conn);
    sender
}
