//! Client connections: accept (bounded by `max_connections`, backing off
//! when out of descriptors), optional TLS, HTTP/1.1 or h2c/h2 on the same
//! port, header size and read-time limits (the HTTP/2 preface included),
//! the send timeout for clients that stop reading, idle timeout, and
//! graceful shutdown that drains requests in flight.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{
    AtomicBool, AtomicU64, AtomicUsize, Ordering::AcqRel, Ordering::Acquire, Ordering::Relaxed,
    Ordering::Release,
};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::config::{later, Limits, Timeouts};
use crate::connection::ClientSideBase;
use crate::metrics::ClientTimeout;
use crate::proxy::handle;
use crate::runtime::Shared;

/// What a client connection's I/O tells its timers (`drive`): traffic,
/// write stalls, and, for HTTP/2, how far the client got with its preface
/// and whether it is in the middle of a frame.
#[derive(Debug, Default)]
pub(crate) struct Pulse {
    /// Reads and writes that completed (the idle timeout).
    ticks: AtomicU64,
    /// Writes that moved bytes.
    writes: AtomicU64,
    /// The last write attempt could not proceed (the client is not reading).
    write_blocked: AtomicBool,
    /// The client sent the HTTP/2 preface and its first frame (SETTINGS).
    h2_ready: AtomicBool,
    /// HTTP/2 frames received in full.
    frames: AtomicU64,
    /// A frame other than DATA is partly received.
    partial: AtomicBool,
}

/// The HTTP/2 client connection preface.
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Where the reader is in the client's byte stream, to tell an HTTP/2
/// connection that completed its preface from one trickling it.
#[derive(Debug, Clone, Copy)]
enum Snoop {
    /// Comparing the first bytes with the HTTP/2 preface (this many matched).
    Preface(usize),
    /// Reading HTTP/2 frames: header bytes held, payload bytes to skip, the
    /// frame type, whether a frame was completed yet.
    Frames {
        header: [u8; 9],
        held: usize,
        payload: usize,
        kind: u8,
        first_done: bool,
    },
    /// Not HTTP/2 (or given up): nothing to look at.
    Off,
}

impl Snoop {
    /// Follows the bytes just read; updates `pulse`.
    fn feed(&mut self, mut data: &[u8], pulse: &Pulse) {
        while !data.is_empty() {
            match self {
                Snoop::Off => return,
                Snoop::Preface(n) => {
                    let take = (PREFACE.len() - *n).min(data.len());
                    if data[..take] != PREFACE[*n..*n + take] {
                        *self = Snoop::Off;
                        return;
                    }
                    *n += take;
                    data = &data[take..];
                    if *n == PREFACE.len() {
                        *self = Snoop::Frames {
                            header: [0; 9],
                            held: 0,
                            payload: 0,
                            kind: 0,
                            first_done: false,
                        };
                    }
                }
                Snoop::Frames {
                    header,
                    held,
                    payload,
                    kind,
                    first_done,
                } => {
                    let mut done = false;
                    if *payload > 0 {
                        let take = (*payload).min(data.len());
                        *payload -= take;
                        data = &data[take..];
                        done = *payload == 0;
                    } else {
                        let take = (9 - *held).min(data.len());
                        header[*held..*held + take].copy_from_slice(&data[..take]);
                        *held += take;
                        data = &data[take..];
                        if *held == 9 {
                            *held = 0;
                            *payload = usize::from(header[0]) << 16
                                | usize::from(header[1]) << 8
                                | usize::from(header[2]);
                            *kind = header[3];
                            done = *payload == 0;
                        }
                    }
                    if done {
                        let f = &pulse.frames;
                        f.store(f.load(Relaxed).wrapping_add(1), Relaxed);
                        if !*first_done {
                            *first_done = true;
                            pulse.h2_ready.store(true, Release);
                        }
                    }
                }
            }
        }
        if let Snoop::Frames {
            held,
            payload,
            kind,
            ..
        } = *self
        {
            let partial = held > 0 || (payload > 0 && kind != 0);
            if pulse.partial.load(Relaxed) != partial {
                pulse.partial.store(partial, Relaxed);
            }
        }
    }
}

/// A client connection's stream: counts traffic and write stalls, and
/// follows an HTTP/2 client's frames (see [`Pulse`]).
pub(crate) struct ClientIo<T> {
    inner: T,
    pulse: Arc<Pulse>,
    snoop: Snoop,
}

impl<T> ClientIo<T> {
    fn new(inner: T, pulse: Arc<Pulse>) -> ClientIo<T> {
        ClientIo {
            inner,
            pulse,
            snoop: Snoop::Preface(0),
        }
    }

    fn wrote(&self, r: &Poll<io::Result<usize>>) {
        match r {
            Poll::Ready(r) => {
                self.pulse.ticks.fetch_add(1, Relaxed);
                if matches!(r, Ok(n) if *n > 0) {
                    // One writer (this stream): no read-modify-write needed.
                    let w = &self.pulse.writes;
                    w.store(w.load(Relaxed).wrapping_add(1), Relaxed);
                }
                if self.pulse.write_blocked.load(Relaxed) {
                    self.pulse.write_blocked.store(false, Relaxed);
                }
            }
            Poll::Pending => {
                if !self.pulse.write_blocked.load(Relaxed) {
                    self.pulse.write_blocked.store(true, Relaxed);
                }
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ClientIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if r.is_ready() {
            self.pulse.ticks.fetch_add(1, Relaxed);
            if !matches!(self.snoop, Snoop::Off) {
                let this = &mut *self;
                this.snoop.feed(&buf.filled()[before..], &this.pulse);
            }
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ClientIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.wrote(&r);
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(&r);
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

/// The HTTP server settings for client connections.
pub(crate) fn http_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        // The head timer is the connection's own (see `drive`): hyper's arms
        // and drops a timer per request, and wakes the runtime's driver.
        .header_read_timeout(None)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true)
        // One contiguous write per response rather than a vectored one.
        .writev(false);
    if limits.max_headers != 100 {
        // 100 is hyper's default, which parses with an array on the stack;
        // an explicit limit makes it fill a vector per request.
        b.http1().max_headers(limits.max_headers);
    }
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(256);
    b
}

/// Accepts and serves client connections until `shutdown` turns true, then
/// asks every connection to finish its requests in flight and close, and
/// waits for them (at most `timeouts.drain`).
///
/// The work runs on one single-threaded runtime per core ([`crate::worker::worker_count`]);
/// this task accepts and hands each connection to the worker with the fewest
/// open connections. A connection, its requests and its upstream
/// connections then stay on one thread, with no work stealing and no
/// cross-thread wake-ups on the request path.
pub(crate) async fn run(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    limits: Limits,
    timeouts: Timeouts,
    mut shutdown: watch::Receiver<bool>,
) {
    let builder = http_builder(&limits);
    let scheduling = limits.worker_scheduling;
    let max = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let slots = Arc::new(Semaphore::new(max as usize));
    let (stop, stop_rx) = watch::channel(false);
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut workers = Vec::new();
    for i in 0..crate::worker::worker_count() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Handoff>();
        let open = Arc::new(AtomicUsize::new(0));
        let w = Worker {
            tls: tls.clone(),
            shared: shared.clone(),
            builder: builder.clone(),
            timeouts: timeouts.clone(),
            shutdown: shutdown.clone(),
            open: open.clone(),
        };
        let mut stop_rx = stop_rx.clone();
        let done = done_tx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("corsgate-worker-{i}"))
            .spawn(move || {
                crate::worker::enter(i, scheduling);
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start a worker runtime");
                        return;
                    }
                };
                rt.block_on(async move {
                    w.serve(rx).await;
                    // Keep serving the connections in flight until the drain
                    // is over; dropping the runtime then closes what is left.
                    let _ = stop_rx.wait_for(|s| *s).await;
                });
                drop(rt);
                drop(done);
            });
        match spawned {
            Ok(_) => workers.push((tx, open)),
            Err(e) => tracing::error!(error = %e, "cannot start a worker thread"),
        }
    }
    drop(done_tx);
    if !*shutdown.borrow() && !workers.is_empty() {
        accept_loop(&listener, &slots, &workers, &mut shutdown).await;
    }
    // The workers stop taking connections; the listener closes.
    drop(workers);
    drop(listener);
    let _ = shutdown.wait_for(|s| *s).await;
    // Drain: every connection holds a slot until it is closed.
    let drained = tokio::time::timeout(timeouts.drain, slots.acquire_many(max)).await;
    if drained.is_err() {
        tracing::warn!(
            drain_ms = timeouts.drain.as_millis() as u64,
            "drain timeout reached; closing the remaining connections"
        );
    }
    let _ = stop.send(true);
    // Every worker has stopped when all senders are dropped.
    let _ = done_rx.recv().await;
}

/// An accepted connection on its way to a worker, with its slot.
type Handoff = (
    std::net::TcpStream,
    std::net::SocketAddr,
    OwnedSemaphorePermit,
);

/// Accepts until shutdown and hands each connection to the worker with the
/// fewest open connections (the workers polling one shared socket
/// themselves could leave one of them with every connection of a burst).
async fn accept_loop(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
    workers: &[(
        tokio::sync::mpsc::UnboundedSender<Handoff>,
        Arc<AtomicUsize>,
    )],
    shutdown: &mut watch::Receiver<bool>,
) {
    let mut next = 0;
    let mut backoff = crate::fdlimit::AcceptBackoff::default();
    loop {
        // Wait for a free slot first: past max_connections, new clients
        // wait in the kernel's accept queue rather than being served badly.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.changed() => break,
        };
        if !crate::fdlimit::reserve_held() {
            // The admin listener's reserve descriptor comes first: without
            // it, accepting would take the last one.
            let e = io::Error::from_raw_os_error(libc::EMFILE);
            tokio::select! {
                _ = tokio::time::sleep(backoff.failed(&e)) => {}
                _ = shutdown.changed() => break,
            }
            continue;
        }
        let (stream, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => {
                    backoff.succeeded();
                    a
                }
                Err(e) => {
                    // EMFILE and friends: the connection stays in the
                    // kernel's queue and the listener stays readable, so
                    // retrying at once would spin; back off instead.
                    let pause = backoff.failed(&e);
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = shutdown.changed() => break,
                    }
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        // Fewest open connections; ties go round-robin.
        let n = workers.len();
        let mut best = next % n;
        for k in 1..n {
            let i = (next + k) % n;
            if workers[i].1.load(Relaxed) < workers[best].1.load(Relaxed) {
                best = i;
            }
        }
        next = best + 1;
        workers[best].1.fetch_add(1, Relaxed);
        if let Err(e) = workers[best].0.send((stream, peer, permit)) {
            workers[best].1.fetch_sub(1, Relaxed);
            drop(e);
        }
    }
}

/// What each worker needs to serve connections.
struct Worker {
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    builder: auto::Builder<TokioExecutor>,
    timeouts: Timeouts,
    shutdown: watch::Receiver<bool>,
    /// Connections open on this worker.
    open: Arc<AtomicUsize>,
}

impl Worker {
    /// Serves the connections handed over until the accept loop stops.
    async fn serve(self, mut rx: tokio::sync::mpsc::UnboundedReceiver<Handoff>) {
        while let Some((stream, peer, permit)) = rx.recv().await {
            let open = self.open.clone();
            let Ok(stream) = TcpStream::from_std(stream) else {
                open.fetch_sub(1, Relaxed);
                continue;
            };
            let shared = self.shared.clone();
            let builder = self.builder.clone();
            let tls = self.tls.clone();
            let shutdown = self.shutdown.clone();
            let timeouts = self.timeouts.clone();
            tokio::spawn(async move {
                shared.metrics.connection_opened();
                // The slot goes with the connection (and with a WebSocket
                // tunnel it turns into, see `tunnel`).
                serve_one(
                    stream,
                    peer,
                    tls,
                    shared.clone(),
                    builder,
                    timeouts,
                    shutdown,
                    permit,
                )
                .await;
                shared.metrics.connection_closed();
                open.fetch_sub(1, Relaxed);
            });
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn serve_one(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    builder: auto::Builder<TokioExecutor>,
    timeouts: Timeouts,
    shutdown: watch::Receiver<bool>,
    slot: OwnedSemaphorePermit,
) {
    let pulse = Arc::new(Pulse::default());
    match tls {
        None => {
            let io = ClientIo::new(stream, pulse.clone());
            let base = ClientSideBase::new(shared, peer, false, Some(slot));
            drive(io, base, builder, timeouts, shutdown, pulse).await;
        }
        Some(acceptor) => {
            let hs = tokio::time::timeout(timeouts.header_read, acceptor.accept(stream)).await;
            match hs {
                Ok(Ok(s)) => {
                    // ALPN says h2 before any request: its exchanges get
                    // timers of their own. It still has `header_read` to
                    // send its preface (see `drive`).
                    let h2 = s.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
                    let io = ClientIo::new(s, pulse.clone());
                    let base = ClientSideBase::new(shared, peer, true, Some(slot));
                    if h2 {
                        base.mark_h2();
                    }
                    drive(io, base, builder, timeouts, shutdown, pulse).await;
                }
                Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "TLS handshake failed"),
                Err(_) => {
                    shared.metrics.client_timeout(ClientTimeout::HeaderRead);
                    tracing::debug!(peer = %peer, "TLS handshake timed out");
                }
            }
        }
    }
}

async fn drive<T>(
    io: T,
    base: ClientSideBase,
    builder: auto::Builder<TokioExecutor>,
    timeouts: Timeouts,
    mut shutdown: watch::Receiver<bool>,
    pulse: Arc<Pulse>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = base.peer;
    let base = Arc::new(base);
    let svc = {
        let base = base.clone();
        service_fn(move |req| handle(base.clone(), req))
    };
    // With upgrades: a WebSocket handshake hands the connection to `tunnel`.
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), svc);
    tokio::pin!(conn);
    let mut closing = *shutdown.borrow();
    if closing {
        conn.as_mut().graceful_shutdown();
    }
    let mut shutdown = Box::pin(async move {
        // A dropped sender counts as a shutdown too.
        let _ = shutdown.wait_for(|s| *s).await;
    });
    let ticks = &pulse.ticks;
    let mut seen = ticks.load(Relaxed);
    let mut idle = tokio::time::interval(timeouts.idle);
    idle.reset();
    // The header read timeout: checked every `header_read`, a connection
    // with nothing in flight that has not completed a request head since
    // the last check is closed (so a head gets between one and two
    // `header_read`s, and an idle keep-alive connection as long). An HTTP/2
    // connection is held to it until it has sent its preface and SETTINGS
    // (a preconnect then waits under `idle`); after that, a frame other
    // than DATA begun and not finished in a whole `header_read` (a HEADERS
    // frame trickled byte by byte) closes it.
    let mut heads = tokio::time::interval(timeouts.header_read);
    heads.reset();
    let mut seen_exchanges = base.exchanges();
    let mut seen_frames = (pulse.frames.load(Relaxed), false);
    // The send timeout: checked every half `client_send`, a connection that
    // owes its client a response (a response body the client has not taken,
    // or bytes it does not read) and sent nothing for two checks in a row
    // is closed, dropping its upstream exchanges: between one and one and a
    // half `client_send` after its last progress.
    let mut sends = tokio::time::interval((timeouts.client_send / 2).max(Duration::from_millis(1)));
    sends.reset();
    let mut seen_sent = (0u64, 0u32);
    let counts = base.clone();
    // The upstream response deadline of the HTTP/1.x exchange in flight:
    // one timer for the connection (see `HeadWatch`), armed at most
    // `upstream_response` ahead, never later than the waiting exchange's
    // deadline.
    let period = timeouts.upstream_response;
    let mut head_timer = Box::pin(tokio::time::sleep(period));
    let mut head_armed = base
        .head_watch
        .to_nanos(later(std::time::Instant::now(), period));
    base.head_watch.watch();
    let control = Arc::new(ControlWaker {
        fired: AtomicBool::new(true),
        task: Mutex::new(None),
    });
    let control_waker = Waker::from(control.clone());
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = conn.as_mut().poll(cx) {
            if let Err(e) = r {
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
            return Poll::Ready(());
        }
        // An exchange whose deadline is earlier than the timer's (the
        // timeout was shortened by a reload): the timer is brought forward.
        let due = counts.head_watch.due_nanos();
        if due < head_armed {
            if let Some(at) = counts.head_watch.due() {
                head_armed = due;
                head_timer
                    .as_mut()
                    .reset(tokio::time::Instant::from_std(at));
                control.fired.store(true, Release);
            }
        }
        // The shutdown signal and the idle tick are polled only when one of
        // them woke the task, not on each of the connection's own wake-ups.
        if control.fired.swap(false, AcqRel) {
            if let Ok(mut t) = control.task.lock() {
                if !t.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *t = Some(cx.waker().clone());
                }
            }
            let mut ccx = Context::from_waker(&control_waker);
            let was_closing = closing;
            if !closing && shutdown.as_mut().poll(&mut ccx).is_ready() {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            while heads.poll_tick(&mut ccx).is_ready() {
                let now = counts.exchanges();
                if pulse.h2_ready.load(Acquire) {
                    let frames = (pulse.frames.load(Relaxed), pulse.partial.load(Relaxed));
                    if frames.1 && seen_frames == frames {
                        counts.metrics().client_timeout(ClientTimeout::HeaderRead);
                        tracing::debug!(peer = %peer, "HTTP/2 frame not completed in time: closed");
                        return Poll::Ready(());
                    }
                    seen_frames = frames;
                } else if now.0 == now.1 && now == seen_exchanges {
                    counts.metrics().client_timeout(ClientTimeout::HeaderRead);
                    tracing::debug!(peer = %peer, "no request head in time: closed");
                    return Poll::Ready(());
                }
                seen_exchanges = now;
            }
            while sends.poll_tick(&mut ccx).is_ready() {
                let owed = counts.owing() > 0 || pulse.write_blocked.load(Relaxed);
                // An HTTP/2 connection writes PING answers and SETTINGS
                // acknowledgements whatever its streams do: only response
                // body frames taken count as progress there.
                let progress = if counts.is_h2() {
                    counts.sent()
                } else {
                    counts.sent().wrapping_add(pulse.writes.load(Relaxed))
                };
                if owed && progress == seen_sent.0 {
                    seen_sent.1 += 1;
                    if seen_sent.1 >= 2 {
                        counts.metrics().client_timeout(ClientTimeout::Send);
                        tracing::debug!(
                            peer = %peer,
                            client_send_ms = timeouts.client_send.as_millis() as u64,
                            "the client took nothing of its response in time: closed"
                        );
                        return Poll::Ready(());
                    }
                } else {
                    seen_sent = (progress, 0);
                }
            }
            while head_timer.as_mut().poll(&mut ccx).is_ready() {
                let watch = &counts.head_watch;
                let now = std::time::Instant::now();
                let next = match watch.due() {
                    Some(at) if at <= now => {
                        // The waiting exchange answers 504 (see
                        // `within_deadline`) when the task is polled again.
                        watch.expire();
                        cx.waker().wake_by_ref();
                        later(now, period)
                    }
                    Some(at) => at.min(later(now, period)),
                    None => later(now, period),
                };
                head_armed = watch.to_nanos(next);
                head_timer
                    .as_mut()
                    .reset(tokio::time::Instant::from_std(next));
            }
            while idle.poll_tick(&mut ccx).is_ready() {
                let now = ticks.load(Relaxed);
                if now == seen && !closing {
                    tracing::debug!(peer = %peer, "idle timeout");
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                seen = now;
            }
            if closing && !was_closing {
                // The connection has to see its graceful shutdown.
                cx.waker().wake_by_ref();
            }
        }
        Poll::Pending
    })
    .await;
}

/// The waker given to a connection's shutdown and idle futures: it marks
/// them for polling and wakes the connection's task.
struct ControlWaker {
    fired: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for ControlWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Release);
        if let Ok(t) = self.task.lock() {
            if let Some(w) = t.as_ref() {
                w.wake_by_ref();
            }
        }
    }
}
