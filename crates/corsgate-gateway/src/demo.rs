//! `serve --demo`: a built-in demo upstream (a small JSON API that knows
//! nothing of CORS, or gets it wrong) and a demo policy in front of it.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::config::{ConfigError, GatewayConfig};

/// The demo policy: `/public/` open to any origin without credentials,
/// `/api/` to two exact origins with credentials.
pub fn demo_toml(listen: SocketAddr, admin: SocketAddr, upstream: SocketAddr) -> String {
    format!(
        r#"# corsgate demo configuration
listen = "{listen}"
admin = "{admin}"
upstream = "http://{upstream}"

[[routes]]
path = "/public/"
[routes.policy]
origins = ["*"]
expose_headers = ["x-request-id"]
reason_header = true

[[routes]]
path = "/api/"
[routes.policy]
origins = ["https://app.example.com", "http://localhost:3000"]
methods = ["PUT", "DELETE"]
request_headers = ["content-type", "authorization"]
expose_headers = ["x-request-id"]
credentials = true
max_age = 600
# The policy's reason on refusals (corsgate-reason, corsgate-policy-edit): on for
# the demo, off by default because it shows the policy to anyone who asks.
reason_header = true
"#
    )
}

/// The demo configuration, parsed through the normal file parser.
pub fn demo_config(
    listen: SocketAddr,
    admin: SocketAddr,
    upstream: SocketAddr,
) -> Result<GatewayConfig, Vec<ConfigError>> {
    GatewayConfig::from_toml(&demo_toml(listen, admin, upstream))
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert("x-request-id", HeaderValue::from_static("demo-1"));
    r
}

fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

/// The demo API. `/api/*` deliberately sends `Access-Control-Allow-Origin: *`
/// (a common upstream mistake) to show the gateway replacing it.
async fn demo_api(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut resp = match (&method, path.as_str()) {
        (&Method::GET, "/public/hello") => json(
            StatusCode::OK,
            r#"{"message":"hello from the demo upstream"}"#.into(),
        ),
        (&Method::GET, "/api/me") => {
            let cookie = req
                .headers()
                .get(header::COOKIE)
                .and_then(|c| c.to_str().ok())
                .unwrap_or("");
            if cookie.contains("session=") {
                json(StatusCode::OK, r#"{"user":"alice"}"#.into())
            } else {
                json(
                    StatusCode::UNAUTHORIZED,
                    r#"{"error":"log in first"}"#.into(),
                )
            }
        }
        (_, "/api/items") | (_, "/api/items/1") => {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            json(
                StatusCode::OK,
                format!(
                    r#"{{"method":"{}","path":"{}","received_bytes":{}}}"#,
                    escape(method.as_str()),
                    escape(&path),
                    body.len()
                ),
            )
        }
        _ => json(StatusCode::NOT_FOUND, r#"{"error":"not found"}"#.into()),
    };
    if path.starts_with("/api/") {
        resp.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    Ok(resp)
}

/// Starts the demo upstream on `addr` (port 0 for any); returns its address.
pub async fn start_demo_upstream(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        let mut backoff = crate::fdlimit::AcceptBackoff::default();
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => {
                    backoff.succeeded();
                    s
                }
                Err(e) => {
                    // Out of descriptors: pause rather than spin.
                    tokio::time::sleep(backoff.failed(&e)).await;
                    continue;
                }
            };
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service_fn(demo_api))
                    .await;
            });
        }
    });
    Ok(local)
}

/// The curl lines printed by `serve --demo`, and, when the demo's
/// configuration was written to `config_file`, the `corsgate test` line that
/// checks the running gateway against it.
pub fn curl_lines(gw: SocketAddr, admin: SocketAddr, config_file: Option<&Path>) -> String {
    let mut text = format!(
        r#"corsgate demo: gateway on http://{gw}, admin on http://{admin}

Allowed: any origin may read /public/ (no credentials)
  curl -i http://{gw}/public/hello -H 'Origin: https://anyone.example'
Allowed: an exact origin, with credentials (the upstream's wrong 'ACAO: *' is replaced)
  curl -i http://{gw}/api/me -H 'Origin: https://app.example.com' -H 'Cookie: session=1'
Allowed preflight, answered by the gateway (the upstream never sees it)
  curl -i -X OPTIONS http://{gw}/api/items -H 'Origin: https://app.example.com' -H 'Access-Control-Request-Method: PUT' -H 'Access-Control-Request-Headers: content-type'
Denied: an origin not in the list (no Access-Control-Allow-Origin; see the log line)
  curl -i http://{gw}/api/me -H 'Origin: https://evil.example'
Denied preflight: a method the policy does not allow (403; corsgate-reason says why, corsgate-policy-edit how to allow it)
  curl -i -X OPTIONS http://{gw}/api/items -H 'Origin: https://app.example.com' -H 'Access-Control-Request-Method: PATCH'
Errors keep their CORS headers (401 from the upstream, readable by the page)
  curl -i http://{gw}/api/me -H 'Origin: https://app.example.com'
Metrics
  curl -s http://{admin}/metrics | grep corsgate_requests
"#
    );
    text.push_str(&format!(
        "A browser's view of one request, step by step, with the fix when it fails\n  corsgate check http://{gw}/api/items --origin https://app.example.com -X PUT -H 'Content-Type: application/json' --credentials include\nThe same for the refused PATCH: the policy's reason first, with the policy edit that fixes it\n  corsgate check http://{gw}/api/items --origin https://app.example.com -X PATCH\n"
    ));
    if let Some(f) = config_file {
        text.push_str(&format!(
            "Contract tests of the running gateway against its own configuration (allowed and refused requests)\n  corsgate test http://{gw}/api/items --config {}\n",
            f.display()
        ));
    }
    text
}
