//! The request path: route, CORS decision, then either an answer from the
//! gateway (preflights) or a forward to the upstream, with the policy's CORS
//! headers on whatever comes back, including the gateway's own 502 and 504.

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body::Body as _;
use hyper::body::Incoming;

use crate::body::GatewayBody;
use crate::config::{GatewayConfig, Route, Upstream, UpstreamProtocol};
use crate::cors::{is_cors_response_header, kind_label, Verdict};
use crate::forward::{is_plain, remove_hop_by_hop, ClientSide, ForwardingCache};
use crate::h1client;
use crate::metrics::{Metrics, UpstreamError};
use crate::routes;
use crate::target;
use crate::tunnel;
use crate::upstream::{Outgoing, Pool};

/// What a reload swaps atomically: the configuration and the upstream
/// connection pools built for it.
pub struct Runtime {
    /// The configuration in force.
    pub config: GatewayConfig,
    /// One connection pool per distinct upstream (authority and protocol).
    pools: Vec<Pool>,
    /// Whether any route is host-specific.
    host_routes: bool,
    /// The index in `pools` of each route's pool, in the order of
    /// `config.routes` (no authority comparison per request).
    route_pools: Vec<usize>,
}

impl Runtime {
    /// Builds the upstream connection pools for a configuration.
    pub fn new(config: GatewayConfig) -> Runtime {
        let mut pools: Vec<Pool> = Vec::new();
        for r in &config.routes {
            let up = &r.upstream;
            if !pools.iter().any(|p| p.serves(&up.authority, up.protocol)) {
                pools.push(Pool::new(
                    up.authority.clone(),
                    up.protocol,
                    config.timeouts.upstream_connect,
                    config.timeouts.idle,
                    config.timeouts.upstream_read,
                    config.timeouts.upstream_quarantine,
                    config.limits.upstream_idle_per_host,
                ));
            }
        }
        let host_routes = config.routes.iter().any(|r| r.host.is_some());
        let route_pools = config
            .routes
            .iter()
            .map(|r| {
                let up = &r.upstream;
                pools
                    .iter()
                    .position(|p| p.serves(&up.authority, up.protocol))
                    .unwrap_or(usize::MAX)
            })
            .collect();
        Runtime {
            config,
            pools,
            host_routes,
            route_pools,
        }
    }

    /// The pool of a route of this runtime's configuration.
    fn pool(&self, route: &Route) -> Option<&Pool> {
        let i = self
            .config
            .routes
            .iter()
            .position(|r| std::ptr::eq(r, route))?;
        self.pools.get(*self.route_pools.get(i)?)
    }
}

/// State shared by every connection.
pub struct Shared {
    /// The swappable runtime.
    pub runtime: ArcSwap<Runtime>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
}

fn local(status: StatusCode, text: &'static str) -> Response<GatewayBody> {
    let mut r = Response::new(GatewayBody::text(text));
    *r.status_mut() = status;
    if status == StatusCode::BAD_REQUEST {
        // After a malformed request, the rest of the stream cannot be trusted.
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if !text.is_empty() {
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    r
}

/// Handles one request. Never fails: every problem becomes a response.
pub async fn handle(
    client: Arc<ClientSideBase>,
    req: Request<Incoming>,
) -> Result<Response<Answer>, Infallible> {
    let start = Instant::now();
    client.started.fetch_add(1, Relaxed);
    if req.version() == Version::HTTP_2 {
        client.h2.store(true, Relaxed);
    }
    let shared = &*client.shared;
    // A guard rather than a clone of the Arc: no write to the reference
    // count that every worker thread shares.
    let rt = shared.runtime.load();
    let resp = route_and_forward(shared, &rt, &client, req, start).await;
    shared
        .metrics
        .response(resp.status().as_u16(), start.elapsed());
    // The response is owed to the client until its body is taken (the send
    // timeout, see `listener::drive`).
    client.owing.fetch_add(1, Relaxed);
    Ok(resp.map(|body| Answer {
        body,
        client,
        owes: true,
    }))
}

/// A response body on its way to the client: when dropped (sent, or the
/// exchange given up) it counts as the end of its exchange.
#[derive(Debug)]
pub struct Answer {
    body: GatewayBody,
    client: Arc<ClientSideBase>,
    /// The client has yet to take the last frame given (or the head): the
    /// exchange waits on the client, not on the upstream.
    owes: bool,
}

impl Answer {
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
    type Error = crate::upstream::BoxError;

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
pub struct ClientSideBase {
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
struct TimedOut;

/// Runs `fut` until the upstream response deadline: with the connection's
/// timer when it watches ([`HeadWatch`]), else with a timer of its own.
///
/// With `upload`, the deadline is `timeout` after the request body's last
/// hand-over to the upstream (its end, once sent), and none runs while the
/// body waits on the client: the deadline only moves later, so each timer
/// firing checks it again before the exchange is given up.
async fn within_deadline<F: std::future::Future>(
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
    pub fn new(
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
    pub fn exchanges(&self) -> (u64, u64) {
        // `finished` first: read the other way round, an exchange ending in
        // between could make a request in flight look finished.
        let finished = self.finished.load(Relaxed);
        (self.started.load(Relaxed), finished)
    }

    /// Takes the connection's slot, for a tunnel that outlives the
    /// connection's HTTP exchange.
    pub fn take_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.slot.lock().ok().and_then(|mut s| s.take())
    }

    /// Records that the connection speaks HTTP/2 (known from ALPN before
    /// its first request).
    pub fn mark_h2(&self) {
        self.h2.store(true, Relaxed);
    }

    /// Whether a request came over HTTP/2.
    pub fn is_h2(&self) -> bool {
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

async fn route_and_forward(
    shared: &Shared,
    rt: &Runtime,
    client: &ClientSideBase,
    mut req: Request<Incoming>,
    start: Instant,
) -> Response<GatewayBody> {
    let metrics = &shared.metrics;
    // The host the client asked for: HTTP/2 :authority or absolute-form URI
    // first, else the Host header.
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let first_host = hosts.next();
    let several_hosts = hosts.next().is_some();
    let raw_host: Option<HeaderValue> = match req.uri().authority() {
        Some(a) => HeaderValue::from_str(a.as_str()).ok(),
        None => first_host.cloned(),
    };
    if several_hosts {
        metrics.undecided("bad_request");
        return local(StatusCode::BAD_REQUEST, "corsgate: several Host headers\n");
    }
    if req.method() == http::Method::CONNECT {
        metrics.undecided("bad_request");
        return local(
            StatusCode::BAD_REQUEST,
            "corsgate: unsupported request target\n",
        );
    }
    // The host, checked as an authority and canonical (lower case, no
    // trailing dot): what routes match and what the upstream is given.
    let checked = match raw_host.as_ref().map(|h| target::authority(h.as_bytes())) {
        None => None,
        // HTTP/1.0 may send an empty Host: as good as none.
        Some(Err(target::HostRefusal::Empty)) if req.version() < Version::HTTP_11 => None,
        Some(Err(why)) => {
            metrics.undecided("bad_request");
            tracing::debug!(reason = why.as_str(), "bad Host");
            return local(StatusCode::BAD_REQUEST, "corsgate: bad Host\n");
        }
        Some(Ok(a)) => {
            // The host name is only kept when a route is host-specific.
            let name = if rt.host_routes {
                a.host().to_owned()
            } else {
                String::new()
            };
            // `None`: the value as sent is canonical.
            let canonical = a.into_canonical().map(|v| HeaderValue::from_str(&v).ok());
            Some((canonical, name))
        }
    };
    let (host_value, host) = match checked {
        None => (None, String::new()),
        Some((None, name)) => (raw_host, name),
        Some((Some(canonical), name)) => (canonical, name),
    };
    if req.version() == Version::HTTP_11 && host_value.is_none() {
        metrics.undecided("bad_request");
        return local(
            StatusCode::BAD_REQUEST,
            "corsgate: HTTP/1.1 request without Host\n",
        );
    }
    // The path, normalised once: routed on, and forwarded as it is.
    let path = match target::normalise(req.uri().path()) {
        Ok(p) => p,
        Err(why) => {
            metrics.undecided("bad_request");
            tracing::debug!(reason = why.as_str(), path = %req.uri().path(), "bad request target");
            return local(StatusCode::BAD_REQUEST, "corsgate: bad request target\n");
        }
    };
    let found = match routes::find_unambiguous(&rt.config.routes, &host, &path) {
        Ok(found) => found,
        Err(why) => {
            metrics.undecided("bad_request");
            tracing::debug!(reason = why.as_str(), path = %path, "bad request target");
            return local(StatusCode::BAD_REQUEST, "corsgate: bad request target\n");
        }
    };
    let Some(route) = found else {
        metrics.undecided("no_route");
        tracing::debug!(host = %host, path = %path, "no route");
        return local(StatusCode::NOT_FOUND, "corsgate: no route for this path\n");
    };

    let verdict = match &route.policy {
        None => {
            metrics.undecided("cors_off");
            None
        }
        Some(policy) => {
            let v = policy.decide(req.method(), req.headers());
            metrics.decision(kind_label(v.kind()), v.allowed(), v.reason_code());
            if !v.allowed() {
                log_denied(&req, route, &v);
            }
            if let Some(status) = v.respond() {
                // Answered here: preflights never reach the upstream.
                let mut resp = local(status, "");
                v.apply_to(resp.headers_mut());
                return resp;
            }
            Some(v)
        }
    };

    // From here on, the request's target is the upstream's: the routed
    // path after the base path (preflights answered above never need it).
    match upstream_uri(&route.upstream, req.uri(), path) {
        None => {}
        Some(Ok(uri)) => *req.uri_mut() = uri,
        Some(Err(_)) => {
            metrics.undecided("bad_request");
            return local(StatusCode::BAD_REQUEST, "corsgate: bad request target\n");
        }
    }
    let side = ClientSide {
        peer: client.peer,
        tls: client.tls,
        host: host_value,
    };
    // A switch with a body (an `h2c` upgrade of a POST) goes the ordinary
    // way, its upgrade headers dropped as hop-by-hop: its body is never lost.
    if tunnel::is_upgrade(&req) && http_body::Body::is_end_stream(req.body()) {
        return upgrade(shared, rt, route, client, &side, req, verdict, start).await;
    }
    let mut resp = forward(shared, rt, route, client, &side, req, start).await;
    if let Some(v) = verdict {
        replace_cors_headers(shared, route, &mut resp, v);
    }
    resp
}

/// A protocol switch (WebSocket): refused when the route's policy does not
/// allow the page's origin, else passed to the upstream (see `tunnel`).
#[allow(clippy::too_many_arguments)]
async fn upgrade(
    shared: &Shared,
    rt: &Runtime,
    route: &Route,
    client: &ClientSideBase,
    side: &ClientSide,
    req: Request<Incoming>,
    verdict: Option<Verdict>,
    start: Instant,
) -> Response<GatewayBody> {
    let from_browser = req.headers().contains_key(header::ORIGIN);
    if from_browser && verdict.as_ref().is_some_and(|v| !v.allowed()) {
        // Browsers apply no CORS to WebSockets: refusing the handshake is
        // the only protection against cross-site WebSocket hijacking.
        let mut resp = local(
            StatusCode::FORBIDDEN,
            "corsgate: the policy does not allow this origin to open a WebSocket here\n",
        );
        if let Some(v) = verdict {
            v.apply_to(resp.headers_mut());
        }
        return resp;
    }
    let up = &route.upstream;
    let pool = match rt.pool(route) {
        Some(p) if up.protocol == UpstreamProtocol::Http1 => p,
        _ => {
            shared.metrics.upstream_error(UpstreamError::Other);
            let mut resp = local(
                StatusCode::BAD_GATEWAY,
                "corsgate: protocol upgrades (WebSocket) need an HTTP/1.1 upstream\n",
            );
            if let Some(v) = verdict {
                replace_cors_headers(shared, route, &mut resp, v);
            }
            return resp;
        }
    };
    let target = tunnel::Target {
        pool,
        host: upstream_host(rt, side, pool),
        trust_forwarded: rt.config.trust_forwarded,
        idle: rt.config.timeouts.idle,
    };
    // The same deadline as for any forwarded request: a response head
    // within `upstream_response` of the request's start, else 504.
    let timeout = rt.config.timeouts.upstream_response;
    let deadline = tokio::time::Instant::from_std(crate::config::later(start, timeout));
    let sent = tokio::time::timeout_at(deadline, tunnel::forward(target, client, side, req)).await;
    let mut resp = match sent {
        Ok(Ok(tunnel::Handshake::Switched(resp))) => return resp,
        Ok(Ok(tunnel::Handshake::Refused(resp))) => resp,
        Ok(Err(e)) => upstream_failed(shared, route, &e),
        Err(_) => upstream_timed_out(shared, route, timeout),
    };
    if let Some(v) = verdict {
        replace_cors_headers(shared, route, &mut resp, v);
    }
    resp
}

fn log_denied(req: &Request<Incoming>, route: &Route, v: &Verdict) {
    // A client can send a denied request per packet: the lines are rate
    // limited (the metrics count every denial) and each value clipped.
    let Some(suppressed) = crate::logging::denied_budget().admit() else {
        return;
    };
    let clip = crate::logging::clip;
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .map(|o| clip(o.as_bytes()))
        .unwrap_or_default();
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .map(|o| clip(o.as_bytes()))
        .unwrap_or_default();
    tracing::warn!(
        target: "corsgate::denied",
        kind = kind_label(v.kind()),
        reason = v.reason_code(),
        method = %clip(req.method().as_str().as_bytes()),
        path = %clip(req.uri().path().as_bytes()),
        route = %route.path,
        origin = %origin,
        user_agent = %user_agent,
        suppressed,
        "CORS request denied: {}",
        clip(v.reason_text().as_bytes())
    );
}

/// Removes the upstream's CORS headers, logs when they disagreed with the
/// policy's, and writes the policy's.
fn replace_cors_headers(
    shared: &Shared,
    route: &Route,
    resp: &mut Response<GatewayBody>,
    v: Verdict,
) {
    let headers = resp.headers_mut();
    let upstream_has_cors = headers.keys().any(is_cors_response_header);
    if upstream_has_cors {
        let names: Vec<_> = headers
            .keys()
            .filter(|n| is_cors_response_header(n))
            .cloned()
            .collect();
        let mut disagree = false;
        for n in &names {
            let ours = v.cors_headers().find(|(m, _)| m == n).map(|(_, val)| val);
            let theirs: Vec<_> = headers.get_all(n).iter().collect();
            if theirs.len() != 1 || ours != theirs.first().copied() {
                disagree = true;
            }
        }
        if disagree {
            let count = shared.metrics.disagreement();
            // Log the first disagreement and then at powers of two, so a
            // misconfigured upstream cannot flood the log.
            if count.is_power_of_two() {
                let theirs: Vec<String> = names
                    .iter()
                    .flat_map(|n| {
                        headers.get_all(n).iter().map(move |val| {
                            format!("{n}: {}", String::from_utf8_lossy(val.as_bytes()))
                        })
                    })
                    .collect();
                tracing::warn!(
                    route = %route.path,
                    upstream = %crate::logging::clip(theirs.join("; ").as_bytes()),
                    occurrences = count,
                    "the upstream's CORS headers disagree with the policy; replaced by the policy's"
                );
            }
        }
        for n in names {
            headers.remove(n);
        }
    }
    // No CORS header is left in the map: `apply_to` appends the verdict's
    // lines, and `Vary: origin` only where the upstream does not vary on it.
    v.apply_to(headers);
}

async fn forward(
    shared: &Shared,
    rt: &Runtime,
    route: &Route,
    client: &ClientSideBase,
    side: &ClientSide,
    req: Request<Incoming>,
    start: Instant,
) -> Response<GatewayBody> {
    let up = &route.upstream;
    // The request's target is the upstream's already (`route_and_forward`).
    let (mut parts, body) = req.into_parts();
    let Some(pool) = rt.pool(route) else {
        // Runtime::new builds a pool for every route's upstream.
        shared.metrics.upstream_error(UpstreamError::Other);
        return local(StatusCode::BAD_GATEWAY, "corsgate: the upstream failed\n");
    };
    let host = upstream_host(rt, side, pool);
    let timeout = rt.config.timeouts.upstream_response;
    let deadline = crate::config::later(start, timeout);
    let sent = if up.protocol == UpstreamProtocol::Http1
        && body.is_end_stream()
        && is_plain(&parts.headers)
    {
        // The common case: no body, no hop-by-hop, forwarding or override
        // headers of its own (`is_plain`). The in-task client writes the head with the forwarding
        // headers added as it goes, the map untouched.
        let lines = client.forwarding.fresh_lines(side);
        let extra = h1client::Extra {
            host,
            fields: &[],
            lines: &lines,
        };
        let out = Outgoing::Head {
            parts: &parts,
            extra: &extra,
            now: start,
        };
        within_deadline(client, deadline, None, pool.send(out)).await
    } else {
        remove_hop_by_hop(&mut parts.headers);
        client
            .forwarding
            .apply(&mut parts.headers, side, rt.config.trust_forwarded);
        if let Some(h) = host {
            parts.headers.insert(header::HOST, h.clone());
        }
        parts.version = match up.protocol {
            UpstreamProtocol::Http1 => Version::HTTP_11,
            UpstreamProtocol::H2c => Version::HTTP_2,
        };
        // The deadline runs from the body's last piece handed upstream (its
        // end, once sent); a body the client stops sending gets 408.
        let progress = Arc::new(crate::upload::Progress::new(start));
        let body = crate::upload::Upload::new(
            body,
            rt.config.timeouts.client_body,
            Some(progress.clone()),
        );
        let req = Request::from_parts(parts, body);
        within_deadline(
            client,
            deadline,
            Some((&progress, timeout)),
            pool.send(Outgoing::Request(req)),
        )
        .await
    };
    match sent {
        // Normalised by the pool (hop-by-hop fields gone, framing checked),
        // whichever client read it.
        Ok(Ok(resp)) => resp.map(GatewayBody::Upstream),
        Ok(Err(e)) if crate::upload::timed_out(&e) => {
            shared
                .metrics
                .client_timeout(crate::metrics::ClientTimeout::Body);
            tracing::debug!(
                client_body_ms = rt.config.timeouts.client_body.as_millis() as u64,
                "the client sent nothing of its request body in time: 408"
            );
            let mut r = local(
                StatusCode::REQUEST_TIMEOUT,
                "corsgate: the request body did not arrive in time\n",
            );
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            r
        }
        Ok(Err(e)) if client_body_failed(&e) => {
            // The client's own body was malformed or cut short: its fault, not
            // the upstream's.
            shared.metrics.undecided("bad_request");
            tracing::debug!(error = %error_chain(&e), "request body failed while forwarding");
            local(
                StatusCode::BAD_REQUEST,
                "corsgate: the request body was malformed or incomplete\n",
            )
        }
        Ok(Err(e)) => upstream_failed(shared, route, &e),
        Err(_) => upstream_timed_out(shared, route, timeout),
    }
}

/// The request target for the upstream: the normalised `path` the request
/// was routed on, after the upstream's base path, with the query as the
/// client sent it; in origin form for HTTP/1.1, absolute form for h2c.
/// `None`: the request's own target is exactly that already (no allocation).
fn upstream_uri(up: &Upstream, uri: &Uri, path: Cow<'_, str>) -> Option<Result<Uri, http::Error>> {
    let origin_form = uri.scheme().is_none() && uri.authority().is_none();
    let same_path = matches!(path, Cow::Borrowed(_));
    if up.protocol == UpstreamProtocol::Http1 && up.base_path.is_empty() && origin_form && same_path
    {
        return None;
    }
    let query = uri.query();
    let mut pq =
        String::with_capacity(up.base_path.len() + path.len() + query.map_or(0, |q| q.len() + 1));
    pq.push_str(&up.base_path);
    pq.push_str(&path);
    if let Some(q) = query {
        pq.push('?');
        pq.push_str(q);
    }
    let b = match up.protocol {
        UpstreamProtocol::Http1 => Uri::builder(),
        UpstreamProtocol::H2c => Uri::builder()
            .scheme(up.scheme.clone())
            .authority(up.authority.clone()),
    };
    Some(b.path_and_query(pq).build())
}

/// The `Host` the upstream gets: the client's with `preserve_host`, else
/// the upstream's own authority.
fn upstream_host<'a>(
    rt: &'a Runtime,
    side: &'a ClientSide,
    pool: &'a Pool,
) -> Option<&'a HeaderValue> {
    if rt.config.preserve_host {
        side.host.as_ref()
    } else {
        pool.host_header()
    }
}

/// The gateway's own 504 when the upstream sent no response head in time
/// (counted and logged); the caller puts the policy's CORS headers on it.
fn upstream_timed_out(
    shared: &Shared,
    route: &Route,
    timeout: std::time::Duration,
) -> Response<GatewayBody> {
    shared.metrics.upstream_error(UpstreamError::Timeout);
    tracing::error!(
        route = %route.path,
        upstream = %route.upstream.authority,
        timeout_ms = timeout.as_millis() as u64,
        "upstream response timed out: 504"
    );
    local(
        StatusCode::GATEWAY_TIMEOUT,
        "corsgate: the upstream did not answer in time\n",
    )
}

/// The gateway's own 502 for an upstream exchange that failed (counted and
/// logged); the caller puts the policy's CORS headers on it.
fn upstream_failed(
    shared: &Shared,
    route: &Route,
    e: &crate::upstream::UpstreamFailure,
) -> Response<GatewayBody> {
    let kind = if e.is_connect() {
        UpstreamError::Connect
    } else {
        UpstreamError::Other
    };
    shared.metrics.upstream_error(kind);
    tracing::error!(
        route = %route.path,
        upstream = %route.upstream.authority,
        error = %error_chain(e),
        "upstream request failed: 502"
    );
    local(
        StatusCode::BAD_GATEWAY,
        if kind == UpstreamError::Connect {
            "corsgate: the upstream is unreachable\n"
        } else {
            "corsgate: the upstream failed\n"
        },
    )
}

/// Whether a forwarding error came from reading the client's request body.
fn client_body_failed(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            if h.is_user() {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
