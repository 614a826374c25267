//! A client connection's state: the facts every request on it shares
//! ([`ClientSideBase`]: peer, TLS, forwarding lines, counters the
//! connection's timers read), the upstream response deadline its timer
//! watches ([`HeadWatch`], [`within_deadline`]), the response body owed to
//! the client ([`Answer`]) and the stream wrapper that counts activity
//! ([`Activity`]).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::body::GatewayBody;
use crate::forward::ForwardingCache;
use crate::metrics::{Metrics, UpstreamError};
use crate::runtime::Shared;

/// A response body on its way to the client: when dropped (sent, or the
/// exchange given up) it counts as the end of its exchange.
#[derive(Debug)]
pub(crate) struct Answer {
    body: GatewayBody,
    client: Arc<ClientSideBase>,
    /// The client has yet to take the last frame given (or the head): the
    /// exchange waits on the client, not on the upstream.
    owes: bool,
}

impl Answer {
    /// The response body of an exchange, owed to the client until taken
    /// (the send timeout, see `listener::drive`).
    pub(crate) fn owed(body: GatewayBody, client: Arc<ClientSideBase>) -> Answer {
        client.owing.fetch_add(1, Relaxed);
        Answer {
            body,
            client,
            owes: true,
        }
    }

    fn owes(&mut self, owes: bool) {
        if self.owes != owes {
            self.owes = owes;
            if owes {
                self.client.owing.fetch_add(1, Relaxed);
            } else {
                self.client.owing.fetch_sub(1, Relaxed);
            }
        }
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        self.owes(false);
        self.client.finished.fetch_add(1, Relaxed);
    }
}

impl http_body::Body for Answer {
    type Data = bytes::Bytes;
    type Error = crate::error::BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let r = std::pin::Pin::new(&mut this.body).poll_frame(cx);
        match &r {
            std::task::Poll::Ready(Some(Ok(_))) => {
                this.client.sent.fetch_add(1, Relaxed);
                this.owes(true);
            }
            std::task::Poll::Ready(Some(Err(e))) => {
                // The upstream failed mid-body: the client connection is cut.
                this.client.shared.metrics.upstream_error(
                    if e.is::<crate::upstream::ReadTimedOut>() {
                        UpstreamError::ReadTimeout
                    } else {
                        UpstreamError::Other
                    },
                );
                tracing::warn!(error = %e, "upstream response body failed; the client connection is cut");
                this.owes(false);
            }
            _ => this.owes(false),
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The per-connection facts every request on it shares.
pub(crate) struct ClientSideBase {
    /// Client address.
    pub peer: std::net::SocketAddr,
    /// TLS connection.
    pub tls: bool,
    /// The forwarding headers, computed once per connection.
    pub forwarding: ForwardingCache,
    shared: Arc<Shared>,
    /// Requests whose head was read.
    started: AtomicU64,
    /// Exchanges whose response was sent or given up.
    finished: AtomicU64,
    /// Whether the connection speaks HTTP/2.
    h2: AtomicBool,
    /// Responses the client has yet to take (see [`Answer`]).
    owing: AtomicU64,
    /// Response body frames taken by the connection.
    sent: AtomicU64,
    /// The connection's slot among `max_connections`; a WebSocket tunnel
    /// takes it along, so tunnels count against the limit too.
    slot: std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>,
    /// The upstream response deadline of the exchange in flight, when the
    /// connection's own timer watches it (HTTP/1.x, see `listener::drive`).
    pub(crate) head_watch: HeadWatch,
}

/// The upstream response deadline of an HTTP/1.x connection's exchange in
/// flight (hyper serves one at a time, in the connection's task), watched by
/// one timer of the connection (`listener::drive`) instead of a timer entry
/// registered and removed in the runtime's wheel for every request.
///
/// The connection's timer is always armed no later than the deadline of
/// any exchange that can begin: at most `upstream_response` ahead, and
/// brought forward when an exchange's deadline is earlier (after a reload
/// that shortened it). When it fires, it expires the waiting exchange if
/// its deadline has passed, and is armed again.
#[derive(Debug)]
pub(crate) struct HeadWatch {
    /// Whether the connection's timer watches this connection's exchanges;
    /// without it (h2, or `handle` used on its own), each exchange gets a
    /// timer of its own.
    watched: AtomicBool,
    /// The reference point of `deadline`.
    epoch: Instant,
    /// The waiting exchange's deadline, in nanoseconds after `epoch`
    /// (`NONE`: no exchange waits for an upstream response head).
    deadline: AtomicU64,
    /// The waiting exchange's deadline has passed.
    expired: AtomicBool,
}

impl HeadWatch {
    const NONE: u64 = u64::MAX;

    fn new() -> HeadWatch {
        HeadWatch {
            watched: AtomicBool::new(false),
            epoch: Instant::now(),
            deadline: AtomicU64::new(Self::NONE),
            expired: AtomicBool::new(false),
        }
    }

    /// The connection's timer watches from now on.
    pub(crate) fn watch(&self) {
        self.watched.store(true, Relaxed);
    }

    /// An exchange starts waiting for its upstream response head until
    /// `deadline`; `false` when the connection's timer does not watch.
    fn begin(&self, deadline: Instant) -> bool {
        if !self.watched.load(Relaxed) {
            return false;
        }
        self.expired.store(false, Relaxed);
        self.deadline.store(self.to_nanos(deadline), Relaxed);
        true
    }

    /// The waiting exchange is over (answered, failed or dropped).
    fn end(&self) {
        self.deadline.store(Self::NONE, Relaxed);
    }

    /// Whether the waiting exchange's deadline has passed.
    fn is_expired(&self) -> bool {
        self.expired.load(Relaxed)
    }

    /// The waiting exchange's deadline, if one waits.
    pub(crate) fn due(&self) -> Option<Instant> {
        match self.deadline.load(Relaxed) {
            Self::NONE => None,
            n => Some(crate::config::later(
                self.epoch,
                std::time::Duration::from_nanos(n),
            )),
        }
    }

    /// The waiting exchange's deadline in the form [`Self::due`] gives,
    /// as a number to compare cheaply (`u64::MAX`: none).
    pub(crate) fn due_nanos(&self) -> u64 {
        self.deadline.load(Relaxed)
    }

    /// `t` in the form of [`Self::due_nanos`].
    pub(crate) fn to_nanos(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos())
            .unwrap_or(Self::NONE - 1)
            .min(Self::NONE - 1)
    }

    /// Marks the waiting exchange as timed out; the caller wakes the task.
    pub(crate) fn expire(&self) {
        self.expired.store(true, Relaxed);
    }
}

/// The output of [`within_deadline`] when the deadline passed first.
pub(crate) struct TimedOut;

/// Runs `fut` until the upstream response deadline: with the connection's
/// timer when it watches ([`HeadWatch`]), else with a timer of its own.
///
/// With `upload`, the deadline is `timeout` after the request body's last
/// hand-over to the upstream (its end, once sent), and none runs while the
/// body waits on the client: the deadline only moves later, so each timer
/// firing checks it again before the exchange is given up.
pub(crate) async fn within_deadline<F: std::future::Future>(
    client: &ClientSideBase,
    deadline: Instant,
    upload: Option<(&crate::upload::Progress, std::time::Duration)>,
    fut: F,
) -> Result<F::Output, TimedOut> {
    // The deadline in force now (a recheck point while the body waits on
    // the client).
    let current = |now: Instant| match upload {
        None => deadline,
        Some((p, timeout)) => p
            .deadline(timeout)
            .unwrap_or_else(|| crate::config::later(now, timeout)),
    };
    let watch = &client.head_watch;
    if client.is_h2() || !watch.begin(deadline) {
        let mut fut = std::pin::pin!(fut);
        let mut timer = std::pin::pin!(tokio::time::sleep_until(tokio::time::Instant::from_std(
            deadline
        )));
        return std::future::poll_fn(|cx| {
            if let std::task::Poll::Ready(out) = fut.as_mut().poll(cx) {
                return std::task::Poll::Ready(Ok(out));
            }
            while std::future::Future::poll(timer.as_mut(), cx).is_ready() {
                let now = Instant::now();
                let at = current(now);
                if at <= now {
                    return std::task::Poll::Ready(Err(TimedOut));
                }
                timer.as_mut().reset(tokio::time::Instant::from_std(at));
            }
            std::task::Poll::Pending
        })
        .await;
    }
    struct End<'a>(&'a HeadWatch);
    impl Drop for End<'_> {
        fn drop(&mut self) {
            self.0.end();
        }
    }
    let _end = End(watch);
    let mut fut = std::pin::pin!(fut);
    // The connection's timer wakes the connection's task, which polls this
    // future (hyper polls an HTTP/1.x service future in the connection's
    // own task, with its waker).
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(out) = fut.as_mut().poll(cx) {
            return std::task::Poll::Ready(Ok(out));
        }
        if watch.is_expired() {
            let now = Instant::now();
            let at = current(now);
            if at <= now {
                return std::task::Poll::Ready(Err(TimedOut));
            }
            // Moved on since: watched again until the new deadline.
            watch.begin(at);
        }
        std::task::Poll::Pending
    })
    .await
}

impl std::fmt::Debug for ClientSideBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSideBase")
            .field("peer", &self.peer)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl ClientSideBase {
    /// The facts of a new client connection.
    pub(crate) fn new(
        shared: Arc<Shared>,
        peer: std::net::SocketAddr,
        tls: bool,
        slot: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> ClientSideBase {
        ClientSideBase {
            slot: std::sync::Mutex::new(slot),
            peer,
            tls,
            forwarding: ForwardingCache::new(peer, tls),
            shared,
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            h2: AtomicBool::new(false),
            owing: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            head_watch: HeadWatch::new(),
        }
    }

    /// How many requests were read and how many exchanges have ended, in
    /// that order; the connection waits for (or reads) a request head when
    /// the two are equal.
    pub(crate) fn exchanges(&self) -> (u64, u64) {
        // `finished` first: read the other way round, an exchange ending in
        // between could make a request in flight look finished.
        let finished = self.finished.load(Relaxed);
        (self.started.load(Relaxed), finished)
    }

    /// Takes the connection's slot, for a tunnel that outlives the
    /// connection's HTTP exchange.
    pub(crate) fn take_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.slot.lock().ok().and_then(|mut s| s.take())
    }

    /// Counts a request whose head was read (and whether it came over HTTP/2).
    pub(crate) fn request_started(&self, h2: bool) {
        self.started.fetch_add(1, Relaxed);
        if h2 {
            self.h2.store(true, Relaxed);
        }
    }

    /// What every connection shares.
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Records that the connection speaks HTTP/2 (known from ALPN before
    /// its first request).
    pub(crate) fn mark_h2(&self) {
        self.h2.store(true, Relaxed);
    }

    /// Whether a request came over HTTP/2.
    pub(crate) fn is_h2(&self) -> bool {
        self.h2.load(Relaxed)
    }

    /// Responses the client has yet to take.
    pub(crate) fn owing(&self) -> u64 {
        self.owing.load(Relaxed)
    }

    /// Response body frames the connection has taken so far.
    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(Relaxed)
    }

    /// The gateway's metrics.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }
}

/// A stream that counts its reads and writes, so that an idle connection can
/// be told from a busy one without reading the clock on every poll.
pub(crate) struct Activity<T> {
    pub(crate) inner: T,
    pub(crate) ticks: Arc<AtomicU64>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Activity<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if r.is_ready() {
            self.ticks.fetch_add(1, Relaxed);
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Activity<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if r.is_ready() {
            self.ticks.fetch_add(1, Relaxed);
        }
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if r.is_ready() {
            self.ticks.fetch_add(1, Relaxed);
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
