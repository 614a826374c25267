//! Client connections: accept (bounded by `max_connections`), optional TLS,
//! HTTP/1.1 or h2c/h2 on the same port, header size and read-time limits,
//! idle timeout, and graceful shutdown that drains requests in flight.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::config::{Limits, Timeouts};
use crate::proxy::{handle, ClientSideBase, Shared};

/// A stream that counts its reads and writes, so that an idle connection can
/// be told from a busy one without reading the clock on every poll.
struct Activity<T> {
    inner: T,
    ticks: Arc<AtomicU64>,
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

/// The HTTP server settings for client connections.
pub(crate) fn http_builder(limits: &Limits, timeouts: &Timeouts) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers)
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(256);
    b
}

/// Accepts and serves client connections until `shutdown` turns true, then
/// asks every connection to finish its requests in flight and close, and
/// waits for them (at most `timeouts.drain`).
pub(crate) async fn run(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    limits: Limits,
    timeouts: Timeouts,
    mut shutdown: watch::Receiver<bool>,
) {
    let builder = http_builder(&limits, &timeouts);
    let max = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let slots = Arc::new(Semaphore::new(max as usize));
    loop {
        // Wait for a free slot first: past max_connections, new clients wait
        // in the kernel's accept queue rather than being served badly.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let builder = builder.clone();
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        let timeouts = timeouts.clone();
        tokio::spawn(async move {
            shared.metrics.connection_opened();
            serve_one(
                stream,
                peer,
                tls,
                shared.clone(),
                builder,
                timeouts,
                shutdown,
            )
            .await;
            shared.metrics.connection_closed();
            drop(permit);
        });
    }
    drop(listener);
    // Drain: every connection holds a slot until it is closed.
    let drained = tokio::time::timeout(timeouts.drain, slots.acquire_many(max)).await;
    if drained.is_err() {
        tracing::warn!(
            drain_ms = timeouts.drain.as_millis() as u64,
            "drain timeout reached; closing the remaining connections"
        );
    }
}

async fn serve_one(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    builder: auto::Builder<TokioExecutor>,
    timeouts: Timeouts,
    shutdown: watch::Receiver<bool>,
) {
    let ticks = Arc::new(AtomicU64::new(0));
    match tls {
        None => {
            let io = Activity {
                inner: stream,
                ticks: ticks.clone(),
            };
            drive(io, peer, false, shared, builder, timeouts, shutdown, ticks).await;
        }
        Some(acceptor) => {
            let hs = tokio::time::timeout(timeouts.header_read, acceptor.accept(stream)).await;
            match hs {
                Ok(Ok(s)) => {
                    let io = Activity {
                        inner: s,
                        ticks: ticks.clone(),
                    };
                    drive(io, peer, true, shared, builder, timeouts, shutdown, ticks).await;
                }
                Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out"),
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn drive<T>(
    io: T,
    peer: std::net::SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
    builder: auto::Builder<TokioExecutor>,
    timeouts: Timeouts,
    mut shutdown: watch::Receiver<bool>,
    ticks: Arc<AtomicU64>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let base = Arc::new(ClientSideBase { peer, tls });
    let svc = service_fn(move |req| handle(shared.clone(), base.clone(), req));
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    let mut closing = *shutdown.borrow();
    if closing {
        conn.as_mut().graceful_shutdown();
    }
    let mut seen = ticks.load(Relaxed);
    let mut idle = tokio::time::interval(timeouts.idle);
    idle.reset();
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = shutdown.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = idle.tick() => {
                let now = ticks.load(Relaxed);
                if now == seen && !closing {
                    tracing::debug!(peer = %peer, "idle timeout");
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                seen = now;
            }
        }
    }
}
