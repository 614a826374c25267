//! The response body type: either the upstream's body, streamed through
//! frame by frame (never buffered), or a small body the gateway made.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::error::BoxError;
use crate::upstream::UpstreamBody;

/// A response body.
#[derive(Debug)]
pub(crate) enum GatewayBody {
    /// Streamed from the upstream.
    Upstream(UpstreamBody),
    /// Made by the gateway (possibly empty).
    Local(Option<Bytes>),
}

impl GatewayBody {
    /// An empty body.
    pub(crate) fn empty() -> Self {
        GatewayBody::Local(None)
    }
    /// A body holding these bytes.
    pub(crate) fn text(b: impl Into<Bytes>) -> Self {
        let b = b.into();
        if b.is_empty() {
            GatewayBody::Local(None)
        } else {
            GatewayBody::Local(Some(b))
        }
    }
}

impl Body for GatewayBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            GatewayBody::Upstream(b) => Pin::new(b).poll_frame(cx),
            GatewayBody::Local(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            GatewayBody::Upstream(b) => b.is_end_stream(),
            GatewayBody::Local(b) => b.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            GatewayBody::Upstream(b) => b.size_hint(),
            GatewayBody::Local(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
        }
    }
}
