//! WebSocket passthrough (HTTP/1.1 `Upgrade: websocket`, no other protocol:
//! see [`is_upgrade`]), with the route's allowed origins enforced on the
//! handshake.
//!
//! The handshake goes to the upstream on a connection of its own. When the
//! upstream switches protocols (101), its answer goes back to the client and
//! the two connections are spliced byte for byte until either side closes;
//! any other answer is passed on as an ordinary response.
//!
//! Browsers apply no CORS to WebSocket handshakes: any page can open a socket
//! to any server, with the user's cookies, and only the `Origin` header says
//! which page it is (cross-site WebSocket hijacking). So on a route with a
//! policy, a handshake whose `Origin` the policy does not allow is refused
//! with 403 and never reaches the upstream. A handshake without `Origin` (not
//! from a browser) passes, as an actual request without `Origin` does.
//!
//! A tunnel keeps its client connection's slot among `max_connections`, and
//! is closed after the `idle` timeout passes with no byte either way (within
//! one to two times `idle`), as an idle connection is.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::body::GatewayBody;
use crate::connection::{Activity, ClientSideBase};
use crate::forward::{remove_hop_by_hop, ClientSide};
use crate::upstream::{Pool, UpstreamFailure};

/// Whether a request asks to switch to WebSocket (`Connection: upgrade` and
/// `Upgrade: websocket`, over HTTP/1.1), the one switch that is tunnelled.
///
/// Any other `Upgrade` (`h2c`, `TLS/1.2`, several protocols offered) goes
/// the ordinary way, its upgrade headers dropped as hop-by-hop: a tunnelled
/// `h2c` switch would let the client speak HTTP/2 straight to the upstream
/// after the 101, every later request on it unrouted and unchecked (h2c
/// smuggling), as Envoy and nginx (without explicit configuration) refuse.
pub(crate) fn is_upgrade<B>(req: &Request<B>) -> bool {
    let mut upgrades = req.headers().get_all(header::UPGRADE).iter();
    let websocket = match (upgrades.next(), upgrades.next()) {
        (Some(u), None) => u.as_bytes().trim_ascii().eq_ignore_ascii_case(b"websocket"),
        _ => false,
    };
    req.version() == Version::HTTP_11
        && websocket
        && req
            .headers()
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// What became of a handshake sent upstream.
pub(crate) enum Handshake {
    /// The upstream switched protocols; the tunnel runs in its own task.
    Switched(Response<GatewayBody>),
    /// The upstream answered otherwise: an ordinary response.
    Refused(Response<GatewayBody>),
}

/// Where the handshake goes and what it carries.
pub(crate) struct Target<'a> {
    /// The upstream's pool (only its connect settings are used).
    pub pool: &'a Pool,
    /// `Host` for the upstream, if it is set.
    pub host: Option<&'a HeaderValue>,
    /// Whether forwarding headers from the client are kept and appended to.
    pub trust_forwarded: bool,
    /// How long a tunnel may carry no byte either way before it is closed.
    pub idle: std::time::Duration,
}

/// Sends the handshake upstream on a new connection and, on 101, splices the
/// client's connection to it. The request's target is the upstream's
/// already: the normalised path it was routed on, in origin form, after the
/// upstream's base path (`proxy::route_and_forward`).
pub(crate) async fn forward(
    target: Target<'_>,
    client: &ClientSideBase,
    side: &ClientSide,
    mut req: Request<Incoming>,
) -> Result<Handshake, UpstreamFailure> {
    let client_upgrade = hyper::upgrade::on(&mut req);
    let (mut parts, _body) = req.into_parts();
    let upgrade = parts.headers.get(header::UPGRADE).cloned();
    remove_hop_by_hop(&mut parts.headers);
    if let Some(u) = upgrade {
        parts.headers.insert(header::UPGRADE, u);
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    client
        .forwarding
        .apply(&mut parts.headers, side, target.trust_forwarded);
    if let Some(h) = target.host {
        parts.headers.insert(header::HOST, h.clone());
    }
    parts.version = Version::HTTP_11;
    let upstream_req = Request::from_parts(parts, Empty::<Bytes>::new());

    let stream = target.pool.tcp().await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(UpstreamFailure::Http)?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "upstream connection of a tunnel ended");
        }
    });
    // The caller bounds the whole handshake by the upstream response timeout.
    let mut resp = sender
        .send_request(upstream_req)
        .await
        .map_err(UpstreamFailure::Http)?;
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        let resp = target.pool.unpooled(resp)?;
        return Ok(Handshake::Refused(resp.map(GatewayBody::Upstream)));
    }
    let upstream_upgrade = hyper::upgrade::on(&mut resp);
    let slot = client.take_slot();
    let idle = target.idle;
    tokio::spawn(async move {
        // Held until the tunnel ends: it counts against `max_connections`.
        let _slot = slot;
        let (client_io, upstream_io) = match tokio::join!(client_upgrade, upstream_upgrade) {
            (Ok(c), Ok(u)) => (c, u),
            (c, u) => {
                tracing::debug!(
                    client = c.is_ok(),
                    upstream = u.is_ok(),
                    "a tunnel could not start"
                );
                return;
            }
        };
        // Both ends count their reads and writes; a tunnel with no byte
        // either way for `idle` is closed, as an idle connection is.
        let ticks = Arc::new(AtomicU64::new(0));
        let mut c = Activity {
            inner: TokioIo::new(client_io),
            ticks: ticks.clone(),
        };
        let mut u = Activity {
            inner: TokioIo::new(upstream_io),
            ticks: ticks.clone(),
        };
        let copy = tokio::io::copy_bidirectional(&mut c, &mut u);
        tokio::pin!(copy);
        let mut seen = ticks.load(Relaxed);
        loop {
            tokio::select! {
                r = &mut copy => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "a tunnel ended with an error");
                    }
                    return;
                }
                _ = tokio::time::sleep(idle) => {
                    let now = ticks.load(Relaxed);
                    if now == seen {
                        tracing::debug!("an idle tunnel was closed");
                        return;
                    }
                    seen = now;
                }
            }
        }
    });
    // The 101 goes back as the upstream wrote it: its `Upgrade` and
    // `Connection` are this hop's too.
    let (parts, _) = resp.into_parts();
    Ok(Handshake::Switched(Response::from_parts(
        parts,
        GatewayBody::empty(),
    )))
}
