//! Upstream connections: a lean pool of HTTP/1.1 connections (LIFO, one
//! connection per request in flight, returned when the response body has
//! been read to its end) and one shared multiplexed h2c connection per
//! upstream. Bodiless HTTP/1.1 requests go through the in-task client of
//! [`crate::h1client`]; requests with a body and h2c go through hyper's
//! `client::conn` API; [`Pool::send`] hands back one normalised response
//! from either.
//!
//! Pool hygiene: a connection on which anything arrived while it was idle
//! is never reused (checked at every checkout), one with bytes left after
//! its response is closed, and an upstream caught writing outside a
//! response is quarantined (no reuse at all for a while). A body that
//! stalls for `timeouts.upstream_read` is cut.
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
use crate::forward::remove_hop_by_hop;
use crate::h1client;
use crate::upload::Upload;

pub(crate) use crate::error::BoxError;

/// The error of a response body whose upstream sent nothing for
/// `timeouts.upstream_read` while more was expected (nginx's
/// `proxy_read_timeout`); the upstream connection is closed.
#[derive(Debug)]
pub(crate) struct ReadTimedOut(pub Duration);

impl fmt::Display for ReadTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the upstream sent nothing for {} ms mid-body",
            self.0.as_millis()
        )
    }
}

impl std::error::Error for ReadTimedOut {}

/// Why a request could not be forwarded.
#[derive(Debug)]
pub(crate) enum UpstreamFailure {
    /// No connection to the upstream could be made.
    Connect(io::Error),
    /// The exchange failed (the request body included).
    Http(hyper::Error),
    /// The exchange over the in-task HTTP/1.1 client failed.
    Exchange(h1client::Error),
    /// The upstream's response head cannot be forwarded as it is
    /// (ambiguous or unsupported framing, an unasked protocol switch).
    Refused(&'static str),
}

impl UpstreamFailure {
    /// Whether the connection could not be made.
    pub(crate) fn is_connect(&self) -> bool {
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
            UpstreamFailure::Refused(why) => write!(f, "upstream response refused: {why}"),
        }
    }
}

impl std::error::Error for UpstreamFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UpstreamFailure::Connect(e) => Some(e),
            UpstreamFailure::Http(e) => Some(e),
            UpstreamFailure::Exchange(e) => Some(e),
            UpstreamFailure::Refused(_) => None,
        }
    }
}

/// A request for [`Pool::send`]. (Moved once into `send`, never stored:
/// boxing the larger variant would cost an allocation per request.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Outgoing<'a> {
    /// A request without a body for an HTTP/1.1 upstream, sent by the
    /// in-task client (see [`h1client::exchange`]).
    Head {
        /// The request head: URI in origin form, headers ready for the
        /// upstream but for `extra`.
        parts: &'a http::request::Parts,
        /// Fields added as the head is written.
        extra: &'a h1client::Extra<'a>,
        /// About the current time.
        now: Instant,
    },
    /// Any request (origin-form URI for HTTP/1.1, absolute for h2c), its
    /// headers ready for the upstream, sent by hyper's client (bodiless
    /// HTTP/1.1 ones by the in-task client).
    Request(Request<Upload>),
}

/// The connections to one upstream (`host:port`, protocol).
pub(crate) struct Pool {
    authority: Authority,
    host: Option<http::HeaderValue>,
    protocol: UpstreamProtocol,
    connect_timeout: Duration,
    idle_timeout: Duration,
    /// Longest wait between two reads of a response body.
    read_timeout: Duration,
    /// One idle list per worker thread (see [`crate::worker::worker_index`]):
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
    /// Whether the upstream is trusted with reuse, shared by every worker.
    health: Arc<Health>,
}

/// An upstream's quarantine, shared by the workers' idle lists: written
/// only when the upstream misbehaves, read at every checkout and give-back.
struct Health {
    /// The reference point of `until`.
    epoch: Instant,
    /// Until when no connection is reused, in nanoseconds after `epoch`
    /// (0: never quarantined).
    until: std::sync::atomic::AtomicU64,
    /// `timeouts.upstream_quarantine`.
    quarantine: Duration,
    /// The upstream, for the log.
    authority: String,
}

impl Health {
    fn nanos(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }
}

impl Idle {
    /// Whether connections may be reused at `now`; when not, the idle ones
    /// of this worker are closed.
    fn reusing(&mut self, now: Instant) -> bool {
        let h = &self.health;
        let until = h.until.load(std::sync::atomic::Ordering::Relaxed);
        if until == 0 || h.nanos(now) >= until {
            return true;
        }
        self.conns.clear();
        self.raw.clear();
        false
    }

    /// The upstream wrote outside a response (bytes after a response's
    /// end, bytes on an idle connection, a response that breaks framing): for
    /// `timeouts.upstream_quarantine` no connection to it is reused, on any
    /// worker: every request has a connection of its own, on which no
    /// earlier response can linger. (Bytes that come after the next request
    /// was written cannot be told from its response; this bounds how often
    /// that can happen to the first misbehaviour seen.)
    fn suspect(&mut self, now: Instant, why: &str) {
        let h = self.health.clone();
        if h.quarantine.is_zero() {
            return;
        }
        if self.reusing(now) {
            tracing::warn!(
                upstream = %h.authority,
                why,
                quarantine_ms = h.quarantine.as_millis() as u64,
                "the upstream wrote outside a response: its connections are not reused for a while"
            );
        }
        let until = h.nanos(now + h.quarantine).max(1);
        h.until.store(until, std::sync::atomic::Ordering::Relaxed);
        self.conns.clear();
        self.raw.clear();
    }
}

/// An HTTP/1.1 connection lent to one request; it goes back to the pool
/// when the response body has been read to its end, and is closed otherwise.
pub(crate) struct Lease {
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
        if idle.reusing(now) && idle.conns.len() + idle.raw.len() < idle.max {
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
    /// The response ran past its end: see [`Idle::suspect`].
    fn overran(&self) {
        if let Ok(mut idle) = self.pool.lock() {
            idle.suspect(Instant::now(), "bytes after the end of a response");
        }
    }

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
        if idle.reusing(now) && idle.conns.len() + idle.raw.len() < idle.max {
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
pub(crate) struct UpstreamBody {
    inner: Inner,
    /// Longest wait between two reads from the upstream.
    read_timeout: Duration,
    /// Armed the first time the body waits for the upstream (most bodies
    /// arrive with their head and never need it).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// A frame came since the timer was last armed.
    progressed: bool,
    /// The body failed: the connection is never reused.
    failed: bool,
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
    /// A body read through `inner`, cut when the upstream sends nothing
    /// for `read_timeout` while more is expected.
    fn new(inner: Inner, read_timeout: Duration) -> UpstreamBody {
        UpstreamBody {
            inner,
            read_timeout,
            timer: None,
            progressed: false,
            failed: false,
        }
    }

    /// Watches the wait for the upstream: `true` when it has sent nothing
    /// for `read_timeout` since the body last made progress.
    fn stalled(&mut self, cx: &mut Context<'_>) -> bool {
        let timer = match &mut self.timer {
            None => self
                .timer
                .insert(Box::pin(tokio::time::sleep(self.read_timeout))),
            Some(t) => {
                if self.progressed {
                    t.as_mut()
                        .reset(tokio::time::Instant::now() + self.read_timeout);
                }
                t
            }
        };
        self.progressed = false;
        std::future::Future::poll(timer.as_mut(), cx).is_ready()
    }

    fn finished(&mut self) {
        if self.failed {
            return;
        }
        match &mut self.inner {
            Inner::Hyper { lease, .. } => {
                if let Some(mut l) = lease.take() {
                    l.give_back();
                }
            }
            Inner::Plain { body, home } => {
                if body.overran() {
                    home.overran();
                }
                if let Some(conn) = body.reusable_conn() {
                    home.give_back(conn);
                }
            }
        }
    }

    /// The body failed: its connection is closed, never pooled.
    fn fail(&mut self) {
        self.failed = true;
        self.timer = None;
        match &mut self.inner {
            Inner::Hyper { lease, .. } => *lease = None,
            Inner::Plain { body, .. } => body.abandon(),
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
        if this.failed {
            return Poll::Ready(None);
        }
        let r: Poll<Option<Result<Frame<Bytes>, BoxError>>> = match &mut this.inner {
            Inner::Hyper { body, .. } => Pin::new(body)
                .poll_frame(cx)
                .map(|f| f.map(|f| f.map_err(Into::into))),
            Inner::Plain { body, .. } => Pin::new(body)
                .poll_frame(cx)
                .map(|f| f.map(|f| f.map_err(Into::into))),
        };
        match r {
            Poll::Ready(None) => {
                this.finished();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(f))) => {
                this.progressed = true;
                Poll::Ready(Some(Ok(f)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.fail();
                Poll::Ready(Some(Err(e)))
            }
            Poll::Pending if this.stalled(cx) => {
                this.fail();
                Poll::Ready(Some(Err(Box::new(ReadTimedOut(this.read_timeout)))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        if self.failed {
            return true;
        }
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
    pub(crate) fn new(
        authority: Authority,
        protocol: UpstreamProtocol,
        connect_timeout: Duration,
        idle_timeout: Duration,
        read_timeout: Duration,
        quarantine: Duration,
        max_idle: usize,
    ) -> Pool {
        let health = Arc::new(Health {
            epoch: Instant::now(),
            until: std::sync::atomic::AtomicU64::new(0),
            quarantine,
            authority: authority.to_string(),
        });
        let shards = {
            let n = crate::worker::worker_count().max(1);
            (0..n)
                .map(|i| {
                    let max = max_idle / n + usize::from(i < max_idle % n);
                    Arc::new(Mutex::new(Idle {
                        conns: Vec::new(),
                        raw: Vec::new(),
                        max,
                        health: health.clone(),
                    }))
                })
                .collect()
        };
        Pool {
            host: http::HeaderValue::from_str(authority.as_str()).ok(),
            authority,
            protocol,
            connect_timeout,
            idle_timeout,
            read_timeout,
            shards,
            h2: Mutex::new(None),
        }
    }

    /// The upstream's `host:port` as a `Host` header value.
    pub(crate) fn host_header(&self) -> Option<&http::HeaderValue> {
        self.host.as_ref()
    }

    /// Whether this pool serves that upstream.
    pub(crate) fn serves(&self, authority: &Authority, protocol: UpstreamProtocol) -> bool {
        self.protocol == protocol && self.authority == *authority
    }

    /// Sends a request and returns the response head with its streamed
    /// body, normalised whichever client read it: hop-by-hop fields
    /// removed, framing checked (ambiguous or unsupported framing is an
    /// [`UpstreamFailure::Refused`]), split cookies joined for HTTP/1.1.
    pub(crate) async fn send(
        &self,
        out: Outgoing<'_>,
    ) -> Result<Response<UpstreamBody>, UpstreamFailure> {
        match (out, self.protocol) {
            (Outgoing::Head { parts, extra, now }, UpstreamProtocol::Http1) => {
                self.send_plain(parts, extra, now).await
            }
            (Outgoing::Head { .. }, UpstreamProtocol::H2c) => Err(UpstreamFailure::Refused(
                "a head-only request for an h2c upstream (a gateway bug)",
            )),
            (Outgoing::Request(req), UpstreamProtocol::Http1) => self.send_h1(req).await,
            (Outgoing::Request(req), UpstreamProtocol::H2c) => self.send_h2(req).await,
        }
    }

    fn shard(&self) -> &Arc<Mutex<Idle>> {
        let i = crate::worker::worker_index();
        &self.shards[i % self.shards.len()]
    }

    fn checkout(&self) -> Option<http1::SendRequest<Upload>> {
        let mut idle = self.shard().lock().ok()?;
        let now = Instant::now();
        if !idle.reusing(now) {
            return None;
        }
        while let Some((conn, since)) = idle.conns.pop() {
            if conn.is_closed() || now.duration_since(since) >= self.idle_timeout {
                continue;
            }
            return Some(conn);
        }
        None
    }

    /// A plain idle connection, the newest that has not timed out and on
    /// which nothing arrived while it was idle (pool hygiene: an upstream
    /// that wrote after its response, or closed, is never sent another
    /// request; the check reads the socket only when the reactor saw it
    /// readable).
    fn checkout_plain(&self, now: Instant) -> Option<h1client::Conn> {
        let mut idle = self.shard().lock().ok()?;
        if !idle.reusing(now) {
            return None;
        }
        while let Some((conn, since)) = idle.raw.pop() {
            if now.duration_since(since) >= self.idle_timeout {
                continue;
            }
            match conn.idle_state() {
                h1client::Idle::Quiet => return Some(conn),
                h1client::Idle::Closed => {}
                h1client::Idle::Unsolicited => {
                    idle.suspect(now, "bytes on an idle connection");
                    return None;
                }
            }
        }
        None
    }

    /// Sends a request without a body (its head as `parts` and `extra` make
    /// it, see [`h1client::exchange`]) to an HTTP/1.1 upstream over the
    /// in-task client; `now` is about the current time. A pooled connection
    /// that fails before any byte of the response is replaced by a new one
    /// once, for idempotent requests. Every pooled connection is checked
    /// as it is taken (see `checkout_plain`).
    async fn send_plain(
        &self,
        parts: &http::request::Parts,
        extra: &h1client::Extra<'_>,
        now: Instant,
    ) -> Result<Response<UpstreamBody>, UpstreamFailure> {
        let idempotent = h1client::is_idempotent(&parts.method);
        let mut pooled = self.checkout_plain(now);
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
                    let (parts, body) = normalise_plain(resp).into_parts();
                    let body = UpstreamBody::new(Inner::Plain { body, home }, self.read_timeout);
                    return Ok(Response::from_parts(parts, body));
                }
                // The upstream had closed the pooled connection: a new one.
                Err(e) if reused && idempotent && e.nothing_received() => {}
                Err(e) => {
                    if e.breaks_framing() {
                        if let Ok(mut idle) = self.shard().lock() {
                            idle.suspect(Instant::now(), "a response that breaks HTTP/1.1 framing");
                        }
                    }
                    return Err(UpstreamFailure::Exchange(e));
                }
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
        join_cookies(req.headers_mut());
        loop {
            let (mut conn, reused) = match self.checkout() {
                Some(c) => (c, true),
                None => match self
                    .checkout_plain(Instant::now())
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
                    let resp = normalise_h1(resp)?;
                    return Ok(resp.map(|body| {
                        UpstreamBody::new(
                            Inner::Hyper {
                                body,
                                lease: Some(lease),
                            },
                            self.read_timeout,
                        )
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
                    let (mut parts, body) = resp.into_parts();
                    remove_hop_by_hop(&mut parts.headers);
                    let body =
                        UpstreamBody::new(Inner::Hyper { body, lease: None }, self.read_timeout);
                    return Ok(Response::from_parts(parts, body));
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

    /// A response read over a connection of its own (a refused protocol
    /// switch), checked and stripped as pooled ones are.
    pub(crate) fn unpooled(
        &self,
        resp: Response<Incoming>,
    ) -> Result<Response<UpstreamBody>, UpstreamFailure> {
        Ok(normalise_h1(resp)?
            .map(|body| UpstreamBody::new(Inner::Hyper { body, lease: None }, self.read_timeout)))
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
            // The in-task client's limit on a response head, exact (hyper's
            // default is its read buffer's, some 400 KiB).
            .max_header_size(h1client::MAX_HEAD)
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

/// A response from the in-task client made ready for the client side: the
/// hop-by-hop fields were left out as the head was parsed, but for a
/// `Connection` naming other fields.
pub(crate) fn normalise_plain<B>(mut resp: Response<B>) -> Response<B> {
    if resp.headers().contains_key(http::header::CONNECTION) {
        remove_hop_by_hop(resp.headers_mut());
    }
    resp
}

/// A response from hyper's HTTP/1.1 client made ready for the client side,
/// with the in-task client's rules: hop-by-hop fields removed; refused when
/// its framing is ambiguous or one the gateway cannot pass on (a transfer
/// coding other than chunked would reach the client undeclared once
/// `Transfer-Encoding` goes), or when it switches protocols unasked.
pub(crate) fn normalise_h1<B>(resp: Response<B>) -> Result<Response<B>, UpstreamFailure> {
    let (mut parts, body) = resp.into_parts();
    if parts.status == http::StatusCode::SWITCHING_PROTOCOLS {
        return Err(UpstreamFailure::Refused("unasked protocol switch"));
    }
    let mut codings = parts
        .headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .peekable();
    if codings.peek().is_some() {
        if codings.any(|v| !h1client::is_only_chunked(v.as_bytes()))
            || parts
                .headers
                .get_all(http::header::TRANSFER_ENCODING)
                .iter()
                .count()
                > 1
        {
            return Err(UpstreamFailure::Refused(
                "a transfer coding other than chunked (not supported by the gateway)",
            ));
        }
        if parts.headers.contains_key(http::header::CONTENT_LENGTH) {
            return Err(UpstreamFailure::Refused(
                "both content-length and transfer-encoding",
            ));
        }
    }
    // hyper checks the length only where it frames a body; a bodiless
    // response (HEAD, 204, 304) would carry a bad one to the client.
    if !h1client::content_length_is_valid(parts.headers.get_all(http::header::CONTENT_LENGTH)) {
        return Err(UpstreamFailure::Refused("invalid content-length"));
    }
    remove_hop_by_hop(&mut parts.headers);
    Ok(Response::from_parts(parts, body))
}

/// Joins the `cookie` fields an HTTP/2 client splits into one, with "; ",
/// for an HTTP/1.1 upstream (RFC 9113 §8.2.3).
pub(crate) fn join_cookies(map: &mut http::HeaderMap) {
    let mut values = map.get_all(http::header::COOKIE).iter();
    if values.next().is_none() || values.next().is_none() {
        return;
    }
    let mut joined = Vec::new();
    for v in map.get_all(http::header::COOKIE) {
        if !joined.is_empty() {
            joined.extend_from_slice(b"; ");
        }
        joined.extend_from_slice(v.as_bytes());
    }
    if let Ok(v) = http::HeaderValue::from_bytes(&joined) {
        map.insert(http::header::COOKIE, v);
    }
}
