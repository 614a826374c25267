//! The admin listener: `GET /healthz` (200 `ok`, 503 `draining` during
//! shutdown) and `GET /metrics` (Prometheus text format), answering while
//! the public side is saturated.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::fdlimit::{release_reserve, reserve_held, AcceptBackoff, ADMIN_CONNECTIONS};

use crate::metrics::Metrics;

fn answer(req: &Request<Incoming>, metrics: &Metrics, draining: bool) -> Response<Full<Bytes>> {
    let (status, ctype, body) = match (req.method().as_str(), req.uri().path()) {
        ("GET" | "HEAD", "/healthz") if draining => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "draining\n".to_owned(),
        ),
        ("GET" | "HEAD", "/healthz") => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        ("GET" | "HEAD", "/metrics") => (
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "try /healthz or /metrics\n".to_owned(),
        ),
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

/// Serves the admin endpoints until shutdown: at most
/// [`ADMIN_CONNECTIONS`] at once, and still when the public side has used
/// up the process's descriptors (one kept in reserve is given up to accept
/// an admin connection, and taken back after).
pub(crate) async fn run(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    draining: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(ADMIN_CONNECTIONS));
    reserve_held();
    let mut backoff = AcceptBackoff::default();
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = stop.changed() => return,
        };
        reserve_held();
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) if is_out_of_descriptors(&e) && release_reserve() => {
                // Out of descriptors: the reserved one made room for this
                // connection (taken back as soon as it closes).
                match listener.accept().await {
                    Ok((s, _)) => s,
                    Err(e) => {
                        tokio::time::sleep(backoff.failed(&e)).await;
                        continue;
                    }
                }
            }
            Err(e) => {
                tokio::time::sleep(backoff.failed(&e)).await;
                continue;
            }
        };
        backoff.succeeded();
        let metrics = metrics.clone();
        let draining = draining.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let r = answer(&req, &metrics, *draining.borrow());
                async move { Ok::<_, Infallible>(r) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(5))
                .serve_connection(TokioIo::new(stream), svc);
            // A scraper that stops reading does not keep its slot.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(30), conn).await;
            // The descriptor just closed becomes the reserve again, before
            // the public side can take it.
            reserve_held();
            drop(permit);
        });
    }
}

/// Whether an accept failed for want of descriptors or memory.
pub(crate) fn is_out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
