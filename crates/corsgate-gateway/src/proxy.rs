//! The request path: route, CORS decision, then either an answer from the
//! gateway (preflights) or a forward to the upstream, with the policy's CORS
//! headers on whatever comes back, including the gateway's own 502 and 504.

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body::Body as _;
use hyper::body::Incoming;

use crate::body::GatewayBody;
use crate::config::{Route, Upstream, UpstreamProtocol};
use crate::connection::{within_deadline, Answer, ClientSideBase};
use crate::cors::{is_cors_response_header, kind_label, Verdict};
use crate::declog;
use crate::forward::{is_plain, remove_hop_by_hop, ClientSide};
use crate::h1client;
use crate::metrics::UpstreamError;
use crate::routes;
use crate::runtime::{Decided, Runtime, Shared};
use crate::target;
use crate::tunnel;
use crate::upstream::{Outgoing, Pool};

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
pub(crate) async fn handle(
    client: Arc<ClientSideBase>,
    req: Request<Incoming>,
) -> Result<Response<Answer>, Infallible> {
    let start = Instant::now();
    client.request_started(req.version() == Version::HTTP_2);
    let shared = client.shared();
    // A guard rather than a clone of the Arc: no write to the reference
    // count that every worker thread shares.
    let rt = shared.runtime.load();
    let resp = route_and_forward(shared, &rt, &client, req, start).await;
    shared
        .metrics
        .response(resp.status().as_u16(), start.elapsed());
    // The response is owed to the client until its body is taken (the send
    // timeout, see `listener::drive`).
    Ok(resp.map(|body| Answer::owed(body, client)))
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

    let mut pending = None;
    let verdict = match &route.policy {
        None => {
            metrics.undecided("cors_off");
            None
        }
        Some(policy) => {
            let v = policy.decide(req.method(), req.headers());
            metrics.decision(kind_label(v.kind()), v.allowed(), v.reason_code());
            if shared.decision_log.is_some() {
                pending = declog::Pending::new(declog::Request {
                    route: &route.path,
                    host: host_value.as_ref().map_or(&[][..], |h| h.as_bytes()),
                    path: &path,
                    method: req.method(),
                    headers: req.headers(),
                    kind: v.kind(),
                    allowed: v.allowed(),
                    reason: v.reason_code(),
                });
            }
            if let Some(d) = v.disagreement() {
                metrics.shadow(d);
                log_shadow(&req, route, d);
            }
            if let Some(watcher) = shared.decisions.get() {
                let _ = watcher.send(Decided {
                    origin: req
                        .headers()
                        .get(header::ORIGIN)
                        .map(|o| String::from_utf8_lossy(o.as_bytes()).into_owned()),
                    method: req.method().to_string(),
                    path: path.to_string(),
                    allowed: v.allowed(),
                    code: v.reason_code(),
                    reason: v.reason_text(),
                });
            }
            if !v.allowed() {
                log_denied(&req, route, &v);
            }
            if let Some(status) = v.respond() {
                // Answered here: preflights never reach the upstream.
                let mut resp = local(status, "");
                v.apply_to(resp.headers_mut());
                log_decision(shared, pending, &resp, false);
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
            let resp = local(StatusCode::BAD_REQUEST, "corsgate: bad request target\n");
            log_decision(shared, pending, &resp, true);
            return resp;
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
        let resp = upgrade(shared, rt, route, client, &side, req, verdict, start).await;
        log_decision(shared, pending, &resp, true);
        return resp;
    }
    let mut resp = forward(shared, rt, route, client, &side, req, start).await;
    if let Some(v) = verdict {
        replace_cors_headers(shared, route, &mut resp, v);
    }
    log_decision(shared, pending, &resp, true);
    resp
}

/// Writes a decided request's line to the decision log (when it is on and
/// the request was CORS): `with_headers` for an actual request's answer,
/// whose header names are the candidates for exposure.
fn log_decision(
    shared: &Shared,
    pending: Option<declog::Pending>,
    resp: &Response<GatewayBody>,
    with_headers: bool,
) {
    if let (Some(p), Some(log)) = (pending, shared.decision_log.as_ref()) {
        p.finish(
            log,
            resp.status().as_u16(),
            with_headers.then(|| resp.headers()),
        );
    }
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

/// A request header's value for a log line, clipped (empty when absent).
fn clipped<B>(req: &Request<B>, name: header::HeaderName) -> std::borrow::Cow<'_, str> {
    req.headers()
        .get(name)
        .map(|v| crate::logging::clip(v.as_bytes()))
        .unwrap_or_default()
}

fn log_denied(req: &Request<Incoming>, route: &Route, v: &Verdict) {
    // A client can send a denied request per packet: the lines are rate
    // limited (the metrics count every denial) and each value clipped.
    let Some(suppressed) = crate::logging::denied_budget().admit() else {
        return;
    };
    let clip = crate::logging::clip;
    let origin = clipped(req, header::ORIGIN);
    let user_agent = clipped(req, header::USER_AGENT);
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

/// A shadow candidate's disagreement, logged (rate-limited, each value
/// clipped; every one is counted in the metrics).
fn log_shadow<B>(req: &Request<B>, route: &Route, d: &corsgate_core::shadow::Disagreement) {
    let Some(suppressed) = crate::logging::shadow_budget().admit() else {
        return;
    };
    let clip = crate::logging::clip;
    let origin = clipped(req, header::ORIGIN);
    tracing::warn!(
        target: "corsgate::shadow",
        kind = d.kind.code(),
        reason = d.reason().code(),
        enforced = d.enforced.code(),
        candidate = d.candidate.code(),
        method = %clip(req.method().as_str().as_bytes()),
        path = %clip(req.uri().path().as_bytes()),
        route = %route.path,
        origin = %origin,
        suppressed,
        "shadow policy disagrees: {}",
        d.kind
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
