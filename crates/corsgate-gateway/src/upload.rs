//! A client's request body on its way upstream: the read timeout between
//! two pieces of it (`timeouts.client_body`, then the exchange fails with
//! [`ClientBodyTimeout`] and the client gets 408), and the [`Progress`]
//! that the upstream response deadline is counted from: a slow upload that
//! keeps moving is not cut by `upstream_response`.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::config::later;
use crate::error::BoxError;

/// The client sent nothing of its request body for `client_body`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientBodyTimeout;

impl std::fmt::Display for ClientBodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the client sent nothing of its request body in time")
    }
}

impl std::error::Error for ClientBodyTimeout {}

/// Whether an exchange failed because the client's body stalled.
pub(crate) fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<ClientBodyTimeout>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Where a request body is, for the upstream response deadline: waiting on
/// the client (no deadline runs: the client body timeout does), or handed
/// to the upstream at some instant (its last piece, or its end), from
/// which the upstream has `upstream_response`.
#[derive(Debug)]
pub(crate) struct Progress {
    epoch: Instant,
    /// Nanoseconds after `epoch` of the last hand-over, or [`Self::CLIENT`].
    mark: AtomicU64,
}

impl Progress {
    const CLIENT: u64 = u64::MAX;

    /// A body whose request head was sent at `start`.
    pub(crate) fn new(start: Instant) -> Progress {
        Progress {
            epoch: start,
            mark: AtomicU64::new(0),
        }
    }

    fn handed_over(&self, now: Instant) {
        let n = u64::try_from(now.saturating_duration_since(self.epoch).as_nanos())
            .unwrap_or(Self::CLIENT - 1)
            .min(Self::CLIENT - 1);
        self.mark.store(n, Relaxed);
    }

    fn waiting_on_client(&self) {
        self.mark.store(Self::CLIENT, Relaxed);
    }

    /// The upstream response deadline: `timeout` after the last hand-over,
    /// `None` while the body waits on the client.
    pub(crate) fn deadline(&self, timeout: Duration) -> Option<Instant> {
        match self.mark.load(Relaxed) {
            Self::CLIENT => None,
            n => Some(later(later(self.epoch, Duration::from_nanos(n)), timeout)),
        }
    }
}

/// A client's request body with its read timeout and progress.
#[derive(Debug)]
pub(crate) struct Upload {
    inner: Incoming,
    progress: Option<Arc<Progress>>,
    timeout: Duration,
    /// Armed while the body waits on the client.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    waiting: bool,
}

impl Upload {
    /// Wraps a body: `timeout` between two pieces from the client;
    /// `progress` is told where the body is.
    pub(crate) fn new(
        inner: Incoming,
        timeout: Duration,
        progress: Option<Arc<Progress>>,
    ) -> Upload {
        Upload {
            inner,
            progress,
            timeout,
            timer: None,
            waiting: false,
        }
    }
}

impl Body for Upload {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(r) => {
                this.waiting = false;
                if let Some(p) = &this.progress {
                    p.handed_over(Instant::now());
                }
                Poll::Ready(r.map(|f| f.map_err(BoxError::from)))
            }
            Poll::Pending => {
                let now = Instant::now();
                if !this.waiting {
                    this.waiting = true;
                    if let Some(p) = &this.progress {
                        p.waiting_on_client();
                    }
                    let at = tokio::time::Instant::from_std(later(now, this.timeout));
                    match &mut this.timer {
                        Some(t) => t.as_mut().reset(at),
                        None => this.timer = Some(Box::pin(tokio::time::sleep_until(at))),
                    }
                }
                if let Some(t) = &mut this.timer {
                    if std::future::Future::poll(t.as_mut(), cx).is_ready() {
                        return Poll::Ready(Some(Err(Box::new(ClientBodyTimeout))));
                    }
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_runs_from_the_last_hand_over_and_stops_while_waiting() {
        let t0 = Instant::now();
        let p = Progress::new(t0);
        let d = Duration::from_secs(5);
        assert_eq!(p.deadline(d), Some(t0 + d));
        p.handed_over(t0 + Duration::from_secs(7));
        assert_eq!(p.deadline(d), Some(t0 + Duration::from_secs(12)));
        p.waiting_on_client();
        assert_eq!(p.deadline(d), None);
        // Far-off instants saturate instead of panicking.
        p.handed_over(t0 + Duration::from_secs(1));
        assert!(p.deadline(Duration::MAX).is_some());
    }

    #[test]
    fn a_body_timeout_is_found_in_an_error_chain() {
        #[derive(Debug)]
        struct Wrap(Box<dyn std::error::Error + Send + Sync>);
        impl std::fmt::Display for Wrap {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("wrap")
            }
        }
        impl std::error::Error for Wrap {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&*self.0)
            }
        }
        assert!(timed_out(&Wrap(Box::new(ClientBodyTimeout))));
        assert!(!timed_out(&Wrap(Box::new(std::io::Error::other("x")))));
    }
}
