//! The HTTP client of `corsgate check`: one request, one fresh connection,
//! exactly the headers the browser model says, no redirect following and no
//! headers of its own beyond those every browser request carries.
//!
//! Failures are typed ([`NetError`]) so that a DNS failure, a refused
//! connection, a TLS error or a timeout is reported as what it is, never as a
//! CORS refusal.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use corsgate_core::{HeaderList, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use url::Url;

/// How many body bytes are read (and thrown away) before the connection is dropped.
const BODY_LIMIT: usize = 64 * 1024;

/// A request to put on the wire.
#[derive(Debug, Clone)]
pub struct WireRequest {
    /// The method.
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// The header lines, in order (`Host` is added here).
    pub headers: HeaderList,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
}

/// Why a request could not be completed: never a CORS matter.
#[derive(Debug, Clone, PartialEq)]
pub enum NetError {
    /// The URL cannot be requested (not http/https, no host).
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// The host name does not resolve.
    Dns {
        /// The host.
        host: String,
        /// The resolver's message.
        message: String,
    },
    /// Nothing listens at the address.
    Refused {
        /// The address tried.
        addr: String,
    },
    /// Another connection failure (unreachable network, reset...).
    Connect {
        /// The address tried.
        addr: String,
        /// The system's message.
        message: String,
    },
    /// The TLS handshake failed (certificate, protocol).
    Tls {
        /// The host.
        host: String,
        /// The TLS library's message.
        message: String,
    },
    /// No answer within the timeout.
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        seconds: f64,
    },
    /// The server answered something that is not HTTP/1.1, or closed the connection.
    Protocol {
        /// The URL.
        url: String,
        /// The HTTP library's message.
        message: String,
    },
}

impl NetError {
    /// A stable code for `--json`.
    pub fn code(&self) -> &'static str {
        match self {
            NetError::BadUrl { .. } => "bad_url",
            NetError::Dns { .. } => "dns",
            NetError::Refused { .. } => "connection_refused",
            NetError::Connect { .. } => "connect",
            NetError::Tls { .. } => "tls",
            NetError::Timeout { .. } => "timeout",
            NetError::Protocol { .. } => "protocol",
        }
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::BadUrl { url, message } => write!(f, "cannot request {url}: {message}"),
            NetError::Dns { host, message } => {
                write!(f, "DNS lookup of '{host}' failed: {message}")
            }
            NetError::Refused { addr } => write!(
                f,
                "connection refused by {addr}: nothing is listening there (is the server running, on this port?)"
            ),
            NetError::Connect { addr, message } => {
                write!(f, "could not connect to {addr}: {message}")
            }
            NetError::Tls { host, message } => {
                write!(f, "TLS handshake with '{host}' failed: {message}")
            }
            NetError::Timeout { url, seconds } => {
                write!(f, "no answer from {url} within {seconds} s")
            }
            NetError::Protocol { url, message } => {
                write!(f, "the server at {url} did not answer with valid HTTP: {message}")
            }
        }
    }
}

impl std::error::Error for NetError {}

/// A blocking HTTP/1.1 client over a private single-threaded runtime.
pub struct Client {
    runtime: tokio::runtime::Runtime,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
}

impl Client {
    /// A client whose every request (connect, TLS, answer) must finish within
    /// `timeout`, trusting the public web's roots plus `extra_roots`.
    pub fn new(
        timeout: Duration,
        extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    ) -> std::io::Result<Client> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for cert in extra_roots {
            roots.add(cert).map_err(std::io::Error::other)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Client {
            runtime,
            tls: Arc::new(tls),
            timeout,
        })
    }

    /// Sends one request on a new connection and returns the status and headers.
    pub fn send(&self, request: &WireRequest) -> Result<Response, NetError> {
        let url = Url::parse(&request.url).map_err(|e| NetError::BadUrl {
            url: request.url.clone(),
            message: e.to_string(),
        })?;
        let seconds = self.timeout.as_secs_f64();
        let fut = send_async(self.tls.clone(), url, request);
        self.runtime
            .block_on(async { tokio::time::timeout(self.timeout, fut).await })
            .unwrap_or_else(|_| {
                Err(NetError::Timeout {
                    url: request.url.clone(),
                    seconds,
                })
            })
    }
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

async fn connect(url: &Url) -> Result<(TcpStream, String), NetError> {
    let bad = |message: &str| NetError::BadUrl {
        url: url.to_string(),
        message: message.into(),
    };
    let host = url.host_str().ok_or_else(|| bad("the URL has no host"))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| bad("the URL has no port"))?;
    // IPv6 literals come bracketed in URLs.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|e| NetError::Dns {
            host: bare.to_owned(),
            message: e.to_string(),
        })?
        .collect();
    if addrs.is_empty() {
        return Err(NetError::Dns {
            host: bare.to_owned(),
            message: "no addresses".into(),
        });
    }
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok((s, bare.to_owned())),
            Err(e) => last = Some((addr.to_string(), e)),
        }
    }
    let (addr, e) = last.unwrap_or_else(|| {
        (
            format!("{bare}:{port}"),
            std::io::Error::other("no address"),
        )
    });
    Err(if e.kind() == std::io::ErrorKind::ConnectionRefused {
        NetError::Refused { addr }
    } else {
        NetError::Connect {
            addr,
            message: e.to_string(),
        }
    })
}

async fn send_async(
    tls: Arc<rustls::ClientConfig>,
    url: Url,
    request: &WireRequest,
) -> Result<Response, NetError> {
    let protocol = |message: String| NetError::Protocol {
        url: url.to_string(),
        message,
    };
    let scheme = url.scheme();
    if scheme != "http" && scheme != "https" {
        return Err(NetError::BadUrl {
            url: url.to_string(),
            message: format!("'{scheme}:' is not http or https"),
        });
    }
    let (tcp, host) = connect(&url).await?;
    let stream: Box<dyn Io> = if scheme == "https" {
        let name =
            rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| NetError::Tls {
                host: host.clone(),
                message: e.to_string(),
            })?;
        let connector = tokio_rustls::TlsConnector::from(tls);
        let s = connector
            .connect(name, tcp)
            .await
            .map_err(|e| NetError::Tls {
                host: host.clone(),
                message: e.to_string(),
            })?;
        Box::new(s)
    } else {
        Box::new(tcp)
    };
    // Lenient like a browser: a malformed header line is dropped, not fatal.
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .ignore_invalid_headers_in_responses(true)
        .allow_spaces_after_header_name_in_responses(true)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| protocol(e.to_string()))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });

    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let method = http::Method::from_bytes(request.method.as_bytes())
        .map_err(|e| protocol(format!("method '{}': {e}", request.method)))?;
    let mut builder = http::Request::builder().method(method).uri(path);
    let authority = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    builder = builder.header(http::header::HOST, authority);
    let (map, _skipped) = request.headers.to_http();
    if let Some(h) = builder.headers_mut() {
        for (name, value) in &map {
            h.append(name, value.clone());
        }
    }
    let body = request.body.clone().unwrap_or_default();
    let req = builder
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| protocol(e.to_string()))?;
    let response = sender
        .send_request(req)
        .await
        .map_err(|e| protocol(e.to_string()))?;
    let status = response.status().as_u16();
    let headers = HeaderList::from_http(response.headers());
    // Read a little of the body so well-behaved servers are not cut off mid-write.
    let mut body = response.into_body();
    let mut read = 0usize;
    while read < BODY_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
            _ => break,
        }
    }
    driver.abort();
    Ok(Response::with_headers(status, headers))
}
