//! Upstream connections: a lean pool of HTTP/1.1 connections (LIFO, one
//! connection per request in flight, returned when the response body has
//! been read to its end) and one shared multiplexed h2c connection per
//! upstream. Bodiless HTTP/1.1 requests go through the in-task client of
//! [`crate::h1client`]; requests with a body and h2c go through hyper's
//! `client::conn` API.
//!
//! This replaces hyper-util's legacy `Client`, whose pool checkout allocates,
//! hashes a key and spawns a task per request to watch the connection come
//! back; here a checkout is a `Vec::pop` under an uncontended lock.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::Authority;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;

use crate::config::UpstreamProtocol;
use crate::h1client;
use crate::upload::Upload;

/// The error type of response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a request could not be forwarded.
#[derive(Debug)]
pub enum UpstreamFailure {
    /// No connection to the upstream could be made.
    Connect(io::Error),
    /// The exchange failed (the request body included).
    Http(hyper::Error),
    /// The exchange over the in-task HTTP/1.1 client failed.
    Exchange(h1client::Error),
}

impl UpstreamFailure {
    /// Whether the connection could not be made.
    pub fn is_connect(&self) -> bool {
        matches!(self, UpstreamFailure::Connect(_))
    }
}

impl fmt::Display for UpstreamFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamFailure::Connect(_) => f.write_str("cannot connect to the upstream"),
            UpstreamFailure::Http(_) | UpstreamFailure::Exchange(_) => {
                f.write_str("upstream exchange failed")
            }
        }
    }
}

impl std::error::Error for UpstreamFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UpstreamFailure::Connect(e) => Some(e),
            UpstreamFailure::Http(e) => Some(e),
            UpstreamFailure::Exchange(e) => Some(e),
        }
    }
}

/// The connections to one upstream (`host:port`, protocol).
pub struct Pool {
    authority: Authority,
    host: Option<http::HeaderValue>,
    protocol: UpstreamProtocol,
    connect_timeout: Duration,
    idle_timeout: Duration,
    /// One idle list per worker thread (see [`crate::listener::worker_index`]):
    /// an HTTP/1.1 connection's task runs on the worker that opened it, so
    /// it is only lent to requests on that worker.
    shards: Vec<Arc<Mutex<Idle>>>,
    h2: Mutex<Option<http2::SendRequest<Upload>>>,
}

struct Idle {
    /// Connections driven by hyper, oldest first; checkouts take the newest.
    conns: Vec<(http1::SendRequest<Upload>, Instant)>,
    /// Plain connections for the in-task client, oldest first.
    raw: Vec<(h1client::Conn, Instant)>,
    /// This worker's share of `upstream_idle_per_host` (the shares add up
    /// to it exactly).
    max: usize,
}

/// An HTTP/1.1 connection lent to one request; it goes back to the pool
/// when the response body has been read to its end, and is closed otherwise.
pub struct Lease {
    conn: Option<http1::SendRequest<Upload>>,
    pool: Arc<Mutex<Idle>>,
    idle_timeout: Duration,
}

impl Lease {
    fn give_back(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if conn.is_closed() {
            return;
        }
        let now = Instant::now();
        let Ok(mut idle) = self.pool.lock() else {
            return;
        };
        // Connections idle for longer than the idle timeout are closed as
        // the pool is used (the oldest sit at the front).
        let stale = idle
            .conns
            .iter()
            .take_while(|(_, since)| now.duration_since(*since) >= self.idle_timeout)
            .count();
        if stale > 0 {
            idle.conns.drain(..stale);
        }
        if idle.conns.len() + idle.raw.len() < idle.max {
            idle.conns.push((conn, now));
        }
    }
}

/// Where a plain connection goes back to.
struct Home {
    pool: Arc<Mutex<Idle>>,
    idle_timeout: Duration,
    /// When the request started: the connection's idle time is counted from
    /// there (a little early), which spares a clock read per request.
    now: Instant,
}

impl Home {
    fn give_back(&self, conn: h1client::Conn) {
        let now = self.now;
        let Ok(mut idle) = self.pool.lock() else {
            return;
        };
        let stale = idle
            .raw
            .iter()
            .take_while(|(_, since)| now.duration_since(*since) >= self.idle_timeout)
            .count();
        if stale > 0 {
            idle.raw.drain(..stale);
        }
        if idle.conns.len() + idle.raw.len() < idle.max {
            idle.raw.push((conn, now));
        }
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease").finish_non_exhaustive()
    }
}

/// An upstream response body that hands its connection back to the pool
/// once read to the end.
pub struct UpstreamBody {
    inner: Inner,
}

enum Inner {
    /// Read by hyper's connection task (requests with a body, h2c).
    Hyper {
        body: Incoming,
        lease: Option<Lease>,
    },
    /// Read in this task from a plain connection.
    Plain {
        body: h1client::ResponseBody,
        home: Home,
    },
}

impl fmt::Debug for UpstreamBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamBody").finish_non_exhaustive()
    }
}

impl UpstreamBody {
    /// The body of a response on a connection of its own (no pool to give
    /// it back to).
    pub(crate) fn unpooled(body: Incoming) -> UpstreamBody {
        UpstreamBody {
            inner: Inner::Hyper { body, lease: None },
        }
    }

    /// Whether the body comes from the in-task HTTP/1.1 client.
    pub(crate) fn is_plain(&self) -> bool {
        matches!(self.inner, Inner::Plain { .. })
    }

    fn finished(&mut self) {
        match &mut self.inner {
            Inner::Hyper { lease, .. } => {
                if let Some(mut l) = lease.take() {
                    l.give_back();
                }
            }
            Inner::Plain { body, home } => {
                if let Some(conn) = body.reusable_conn() {
                    home.give_back(conn);
                }
            }
        }
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        if self.is_end_stream() {
            self.finished();
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match &mut this.inner {
            Inner::Hyper { body, lease } => {
                let r = Pin::new(body).poll_frame(cx);
                match r {
                    Poll::Ready(None) => {
                        this.finished();
                        Poll::Ready(None)
                    }
                    Poll::Ready(Some(Err(e))) => {
                        *lease = None;
                        Poll::Ready(Some(Err(e.into())))
                    }
                    Poll::Ready(Some(Ok(f))) => Poll::Ready(Some(Ok(f))),
                    Poll::Pending => Poll::Pending,
                }
            }
            Inner::Plain { body, .. } => match Pin::new(body).poll_frame(cx) {
                Poll::Ready(None) => {
                    this.finished();
                    Poll::Ready(None)
                }
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(Some(Ok(f))) => Poll::Ready(Some(Ok(f))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Hyper { body, .. } => body.is_end_stream(),
            Inner::Plain { body, .. } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Hyper { body, .. } => body.size_hint(),
            Inner::Plain { body, .. } => body.size_hint(),
        }
    }
}

impl Pool {
    /// A pool for one upstream.
    pub fn new(
        authority: Authority,
        protocol: UpstreamProtocol,
        connect_timeout: Duration,
        idle_timeout: Duration,
        max_idle: usize,
    ) -> Pool {
        Pool {
            host: http::HeaderValue::from_str(authority.as_str()).ok(),
            authority,
            protocol,
            connect_timeout,
            idle_timeout,
            shards: {
                let n = crate::listener::worker_count().max(1);
                (0..n)
                    .map(|i| {
                        let max = max_idle / n + usize::from(i < max_idle % n);
                        Arc::new(Mutex::new(Idle {
                            conns: Vec::new(),
                            raw: Vec::new(),
                            max,
                        }))
                    })
                    .collect()
            },
            h2: Mutex::new(None),
        }
    }

    /// The upstream's `host:port` as a `Host` header value.
    pub fn host_header(&self) -> Option<&http::HeaderValue> {
        self.host.as_ref()
    }

    /// Whether this pool serves that upstream.
    pub fn serves(&self, authority: &Authority, protocol: UpstreamProtocol) -> bool {
        self.protocol == protocol && self.authority == *authority
    }

    /// Sends a request (origin-form URI for HTTP/1.1, absolute for h2c) and
    /// returns the response head with its streamed body.
    pub async fn send(
        &self,
        req: Request<Upload>,
    ) -> Result<Response<UpstreamBody>, UpstreamFailure> {
        match self.protocol {
            UpstreamProtocol::Http1 => self.send_h1(req).await,
            UpstreamProtocol::H2c => self.send_h2(req).await,
        }
    }

    fn shard(&self) -> &Arc<Mutex<Idle>> {
        let i = crate::listener::worker_index();
        &self.shards[i % self.shards.len()]
    }

    fn checkout(&self) -> Option<http1::SendRequest<Upload>> {
        let mut idle = self.shard().lock().ok()?;
        let now = Instant::now();
        while let Some((conn, since)) = idle.conns.pop() {
            if conn.is_closed() || now.duration_since(since) >= self.idle_timeout {
                continue;
            }
            return Some(conn);
        }
        None
    }

    /// A plain idle connection, the newest that has not timed out.
    fn checkout_plain(&self, check_open: bool, now: Instant) -> Option<h1client::Conn> {
        let mut idle = self.shard().lock().ok()?;
        while let Some((conn, since)) = idle.raw.pop() {
            if now.duration_since(since) >= self.idle_timeout || (check_open && !conn.looks_open())
            {
                continue;
            }
            return Some(conn);
        }
        None
    }

    /// Sends a request without a body (its head as `parts` and `extra` make
    /// it, see [`h1client::exchange`]) to an HTTP/1.1 upstream over the
    /// in-task client; `now` is about the current time. A pooled connection
    /// that fails before any byte of the response is replaced by a new one
    /// once, for idempotent requests; others are only sent on a pooled
    /// connection that still looks open.
    pub async fn send_plain(
        &self,
        parts: &http::request::Parts,
        extra: &h1client::Extra<'_>,
        now: Instant,
    ) -> Result<Response<UpstreamBody>, UpstreamFailure> {
        let idempotent = h1client::is_idempotent(&parts.method);
        let mut pooled = self.checkout_plain(!idempotent, now);
        loop {
            let reused = pooled.is_some();
            let conn = match pooled.take() {
                Some(c) => c,
                None => h1client::Conn::new(self.tcp().await?),
            };
            match h1client::exchange(conn, parts, extra).await {
                Ok(resp) => {
                    let home = Home {
                        pool: self.shard().clone(),
                        idle_timeout: self.idle_timeout,
                        now,
                    };
                    return Ok(resp.map(|body| UpstreamBody {
                        inner: Inner::Plain { body, home },
                    }));
                }
                // The upstream had closed the pooled connection: a new one.
                Err(e) if reused && e.nothing_received() => {}
                Err(e) => return Err(UpstreamFailure::Exchange(e)),
            }
        }
    }

    async fn send_h1(
        &self,
        mut req: Request<Upload>,
    ) -> Result<Response<UpstreamBody>, UpstreamFailure> {
        if req.body().is_end_stream() {
            let (parts, _empty) = req.into_parts();
            return self
                .send_plain(&parts, &h1client::Extra::default(), Instant::now())
                .await;
        }
        loop {
            let (mut conn, reused) = match self.checkout() {
                Some(c) => (c, true),
                None => match self
                    .checkout_plain(true, Instant::now())
                    .and_then(h1client::Conn::into_stream)
                {
                    // A plain idle connection is handed over to hyper.
                    Some(stream) => (self.handshake_h1(stream).await?, true),
                    None => (self.connect_h1().await?, false),
                },
            };
            if let Err(e) = conn.ready().await {
                if reused {
                    continue;
                }
                return Err(UpstreamFailure::Http(e));
            }
            match conn.try_send_request(req).await {
                Ok(resp) => {
                    let lease = Lease {
                        conn: Some(conn),
                        pool: self.shard().clone(),
                        idle_timeout: self.idle_timeout,
                    };
                    return Ok(resp.map(|body| UpstreamBody {
                        inner: Inner::Hyper {
                            body,
                            lease: Some(lease),
                        },
                    }));
                }
                Err(mut e) => match e.take_message() {
                    // Not sent: an idle connection closed under us; another
                    // one (or a new one) takes it, as hyper-util's client did.
                    Some(r) if reused => req = r,
                    _ => return Err(UpstreamFailure::Http(e.into_error())),
                },
            }
        }
    }

    async fn send_h2(
        &self,
        mut req: Request<Upload>,
    ) -> Result<Response<UpstreamBody>, UpstreamFailure> {
        loop {
            let shared = self
                .h2
                .lock()
                .ok()
                .and_then(|c| c.as_ref().filter(|c| !c.is_closed()).cloned());
            let (mut conn, reused) = match shared {
                Some(c) => (c, true),
                None => {
                    let c = self.connect_h2().await?;
                    if let Ok(mut slot) = self.h2.lock() {
                        *slot = Some(c.clone());
                    }
                    (c, false)
                }
            };
            if let Err(e) = conn.ready().await {
                self.forget_h2(&conn);
                if reused {
                    continue;
                }
                return Err(UpstreamFailure::Http(e));
            }
            match conn.try_send_request(req).await {
                Ok(resp) => {
                    return Ok(resp.map(|body| UpstreamBody {
                        inner: Inner::Hyper { body, lease: None },
                    }))
                }
                Err(mut e) => match e.take_message() {
                    Some(r) if reused => {
                        self.forget_h2(&conn);
                        req = r;
                    }
                    _ => return Err(UpstreamFailure::Http(e.into_error())),
                },
            }
        }
    }

    fn forget_h2(&self, conn: &http2::SendRequest<Upload>) {
        if !conn.is_closed() {
            return;
        }
        if let Ok(mut slot) = self.h2.lock() {
            if slot.as_ref().is_some_and(|c| c.is_closed()) {
                *slot = None;
            }
        }
    }

    /// A new TCP connection to the upstream, within the connect timeout.
    pub(crate) async fn tcp(&self) -> Result<TcpStream, UpstreamFailure> {
        let host = self.authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port = self.authority.port_u16().unwrap_or(80);
        let connect = async {
            let mut last = None;
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
            for a in addrs {
                match TcpStream::connect(a).await {
                    Ok(s) => return Ok(s),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, "the host name has no address")
            }))
        };
        let stream = match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(UpstreamFailure::Connect(e)),
            Err(_) => {
                return Err(UpstreamFailure::Connect(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connect timed out",
                )))
            }
        };
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    async fn connect_h1(&self) -> Result<http1::SendRequest<Upload>, UpstreamFailure> {
        let stream = self.tcp().await?;
        self.handshake_h1(stream).await
    }

    async fn handshake_h1(
        &self,
        stream: TcpStream,
    ) -> Result<http1::SendRequest<Upload>, UpstreamFailure> {
        let io = TokioIo::new(stream);
        let (send, conn) = http1::Builder::new()
            .handshake(io)
            .await
            .map_err(UpstreamFailure::Http)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "upstream connection ended with an error");
            }
        });
        Ok(send)
    }

    async fn connect_h2(&self) -> Result<http2::SendRequest<Upload>, UpstreamFailure> {
        let io = TokioIo::new(self.tcp().await?);
        let (send, conn) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake(io)
            .await
            .map_err(UpstreamFailure::Http)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "upstream h2c connection ended with an error");
            }
        });
        Ok(send)
    }
}
