//! The HTTP client of `corsgate check`: one request, one fresh connection,
//! exactly the headers the browser model says, no redirect following and no
//! headers of its own beyond those every browser request carries.
//!
//! Failures are typed ([`NetError`]) so that a DNS failure, a refused
//! connection, a TLS error or a timeout is reported as what it is, never as a
//! CORS refusal.
//!
//! The response is read as a browser reads it: interim answers (`100
//! Continue`, `103 Early Hints`, any 1xx but `101`) are skipped, a head may
//! end its lines with a bare LF, and the answer is judged as soon as the final
//! head is in. The body is then drained for a moment under its own short
//! deadline (so a well-behaved server is not cut off mid-write), never under
//! the request's timeout: a body that drips is not a timeout.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use corsgate_core::{HeaderList, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

/// How many body bytes are read (and thrown away) before the connection is dropped.
const BODY_LIMIT: usize = 64 * 1024;
/// How long the body is drained at most, once the head is in.
const DRAIN_DEADLINE: Duration = Duration::from_millis(1000);
/// How long the drain waits for each chunk of the body.
const DRAIN_IDLE: Duration = Duration::from_millis(300);
/// The largest response head read, interim heads included.
const HEAD_LIMIT: usize = 256 * 1024;

/// A request to put on the wire.
#[derive(Debug, Clone)]
pub(crate) struct WireRequest {
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
pub(crate) struct Client {
    runtime: tokio::runtime::Runtime,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
}

impl Client {
    /// A client whose every request (connect, TLS, answer) must finish within
    /// `timeout`, trusting the public web's roots plus `extra_roots`.
    pub(crate) fn new(
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

    /// Sends one request on a new connection and returns the status and
    /// headers of the final response (interim 1xx skipped). The timeout
    /// covers everything up to the final head; the body is drained after,
    /// under its own short deadline.
    pub(crate) fn send(&self, request: &WireRequest) -> Result<Response, NetError> {
        let url = Url::parse(&request.url).map_err(|e| NetError::BadUrl {
            url: request.url.clone(),
            message: e.to_string(),
        })?;
        let seconds = self.timeout.as_secs_f64();
        let timeout = self.timeout;
        let fut = send_async(self.tls.clone(), url, request);
        self.runtime.block_on(async move {
            let (response, stream, body_read) = tokio::time::timeout(timeout, fut)
                .await
                .unwrap_or_else(|_| {
                    Err(NetError::Timeout {
                        url: request.url.clone(),
                        seconds,
                    })
                })?;
            let no_body = request.method == "HEAD"
                || response.status == 204
                || response.status == 304
                || response.status < 200;
            if !no_body {
                drain(stream, body_read).await;
            }
            Ok(response)
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

/// Reads (and throws away) a little of the body, so a well-behaved server is
/// not cut off mid-write; never an error, and never longer than
/// [`DRAIN_DEADLINE`].
async fn drain(mut stream: Box<dyn Io>, already: usize) {
    let work = async {
        let mut read = already;
        let mut chunk = [0u8; 8192];
        while read < BODY_LIMIT {
            match tokio::time::timeout(DRAIN_IDLE, stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => read += n,
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_DEADLINE, work).await;
}

/// Connects, sends the request and reads up to the final response head.
/// Returns the response, the stream and how many body bytes came with the head.
async fn send_async(
    tls: Arc<rustls::ClientConfig>,
    url: Url,
    request: &WireRequest,
) -> Result<(Response, Box<dyn Io>, usize), NetError> {
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
    let mut stream = stream;
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let authority = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let head = request_head(
        &request.method,
        &path,
        &authority,
        &request.headers,
        request.body.as_deref(),
    );
    let io = |e: std::io::Error| protocol(e.to_string());
    stream.write_all(&head).await.map_err(io)?;
    if let Some(body) = &request.body {
        stream.write_all(body).await.map_err(io)?;
    }
    stream.flush().await.map_err(io)?;
    let (status, headers, body_read) = read_final_head(&mut stream, protocol).await?;
    Ok((Response::with_headers(status, headers), stream, body_read))
}

/// Reads response heads until the final one: an interim 1xx (but `101
/// Switching Protocols`, which is final) is skipped as browsers skip it, its
/// headers never judged. Returns the final status and headers, and how many
/// bytes after the head were read with it.
async fn read_final_head(
    stream: &mut Box<dyn Io>,
    protocol: impl Fn(String) -> NetError,
) -> Result<(u16, HeaderList, usize), NetError> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut total = 0usize;
    loop {
        let head_end = loop {
            if let Some(i) = head_end(&buf) {
                break i;
            }
            if total + buf.len() > HEAD_LIMIT {
                return Err(protocol(format!(
                    "the response head is larger than {HEAD_LIMIT} bytes (interim 1xx heads included)"
                )));
            }
            let mut chunk = [0u8; 4096];
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| protocol(e.to_string()))?;
            if n == 0 {
                return Err(protocol(if buf.is_empty() && total == 0 {
                    "the server closed the connection without answering".into()
                } else if buf.is_empty() {
                    "the server closed the connection after an interim (1xx) response, without a final one".into()
                } else {
                    "the server closed the connection in the middle of the response head".into()
                }));
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let (status, headers) = parse_head(&buf[..head_end]).map_err(&protocol)?;
        if (100..200).contains(&status) && status != 101 {
            total += head_end;
            buf.drain(..head_end);
            continue;
        }
        return Ok((status, headers, buf.len() - head_end));
    }
}

/// Where a response head ends: after the first empty line, whether lines
/// end in CRLF or a bare LF (`\n\n` or `\n\r\n`), as browsers find it.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            match (buf.get(i + 1), buf.get(i + 2)) {
                (Some(b'\n'), _) => return Some(i + 2),
                (Some(b'\r'), Some(b'\n')) => return Some(i + 3),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// The request head, byte for byte: the method, the path, `Host`, then the
/// header lines exactly as the browser model has them (control bytes such as
/// 0x0B included, which `http`'s types refuse but browsers send), and
/// `Content-Length` for a body. `Connection: close`: one request per connection.
fn request_head(
    method: &str,
    path: &str,
    authority: &str,
    headers: &HeaderList,
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\n").as_bytes());
    for (name, value) in headers.iter() {
        if name.eq_ignore_ascii_case("host")
            || name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("connection")
        {
            continue;
        }
        // CR and LF can never be sent: they would end the line.
        let value: Vec<u8> = value
            .iter()
            .copied()
            .filter(|b| *b != b'\r' && *b != b'\n')
            .collect();
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(&value);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(b) = body {
        out.extend_from_slice(format!("Content-Length: {}\r\n", b.len()).as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out
}

/// Parses a response head as leniently as a browser: the status line must be
/// `HTTP/1.x NNN`, header lines are split at the first `:`, surrounding spaces
/// and tabs are trimmed, and every other byte of the value is kept (a browser
/// keeps 0x0B in `Access-Control-Expose-Headers: x-b\x0b`, for instance).
/// Lines without a `:` or with an empty name are skipped.
fn parse_head(head: &[u8]) -> Result<(u16, HeaderList), String> {
    let mut lines = head
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next().unwrap_or_default();
    let text = String::from_utf8_lossy(status_line);
    let mut parts = text.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(format!(
            "not an HTTP/1.x response: '{}'",
            text.chars().take(60).collect::<String>()
        ));
    }
    let status: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .filter(|c| (100..1000).contains(c))
        .ok_or_else(|| {
            format!(
                "bad status line '{}'",
                text.chars().take(60).collect::<String>()
            )
        })?;
    let mut headers = HeaderList::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = String::from_utf8_lossy(&line[..colon])
            .trim_end_matches([' ', '\t'])
            .to_owned();
        if name.is_empty() || !corsgate_core::headers::is_token(name.as_bytes()) {
            continue;
        }
        headers.append(name, &line[colon + 1..]);
    }
    Ok((status, headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_head_keeps_control_bytes() {
        let (status, h) = parse_head(b"HTTP/1.1 200 OK\r\nAccess-Control-Expose-Headers: x-b\x0b\r\nbad line\r\nX-A :  1 \r\nX-A: 2\r\n\r\n").expect("parses");
        assert_eq!(status, 200);
        assert_eq!(
            h.get("access-control-expose-headers").as_deref(),
            Some(&b"x-b\x0b"[..])
        );
        assert_eq!(h.get("x-a").as_deref(), Some(&b"1, 2"[..]));
        assert!(parse_head(b"SSH-2.0\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 abc\r\n\r\n").is_err());
    }

    #[test]
    fn heads_end_at_the_first_empty_line_whatever_the_line_endings() {
        // Complete heads are followed by `body`: the head ends where it starts.
        let cases: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\nbody",
            b"HTTP/1.1 200 OK\nA: 1\n\nbody",
            b"HTTP/1.1 200 OK\r\nA: 1\n\r\nbody",
            b"HTTP/1.1 200 OK\nA: 1\r\n\nbody",
            b"HTTP/1.1 200 OK\r\nA: 1\r\n",
            b"HTTP/1.1 200 OK\r\nA: 1\r\n\r",
            b"HTTP/1.1 200 OK\nA: 1\n",
            b"",
        ];
        for bytes in cases {
            let end = bytes.windows(4).position(|w| w == b"body");
            assert_eq!(head_end(bytes), end, "{:?}", String::from_utf8_lossy(bytes));
            if let Some(e) = end {
                let (status, h) = parse_head(&bytes[..e]).expect("parses");
                assert_eq!(status, 200);
                assert_eq!(h.get("a").as_deref(), Some(&b"1"[..]));
            }
        }
    }

    #[test]
    fn request_head_is_exact() {
        let h = HeaderList::new()
            .with("Content-Type", b"text/plain\x0b")
            .with("Origin", "http://a");
        let head = request_head("PUT", "/x?y", "b:8080", &h, Some(b"hi"));
        assert_eq!(
            head,
            b"PUT /x?y HTTP/1.1\r\nHost: b:8080\r\nContent-Type: text/plain\x0b\r\nOrigin: http://a\r\nContent-Length: 2\r\nConnection: close\r\n\r\n".to_vec()
        );
    }
}
