//! `serve --demo`: the one demo of corsgate — a demo upstream (a small JSON
//! API that knows nothing of CORS, or gets it wrong) and a demo policy in
//! front of it. The playground serves the same upstream ([`answer`]) behind
//! `corsgate_tower::CorsLayer` and edits the same policy ([`demo_policy`]);
//! under `serve --demo` its page edits the policy of the gateway started
//! ([`DemoGateway`]).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::config::{ConfigError, GatewayConfig};
use crate::reload::Reloader;

/// Where the playground page of `corsgate serve --demo` is served: an
/// origin the demo policy allows.
pub const DEMO_PAGE_ORIGIN: &str = "http://127.0.0.1:8088";

/// The demo policy (the `/api/` route's): two exact origins and the page's
/// (`page_origin`), with credentials. The playground edits this text.
pub fn demo_policy(page_origin: &str) -> String {
    format!(
        r#"# Who may read the demo API from a browser. Edit me, then "Apply".
origins = ["{page_origin}", "https://app.example.com", "http://localhost:3000"]
methods = ["PUT", "DELETE"]
request_headers = ["content-type", "authorization", "x-request-id"]
expose_headers = ["x-request-id", "x-total-count"]
credentials = true
max_age = 0      # no preflight caching, so every edit shows at once
# The policy's reason on refusals (corsgate-reason, corsgate-policy-edit): on for
# the demo, off by default because it shows the policy to anyone who asks.
reason_header = true
"#
    )
}

/// The demo configuration: `/public/` open to any origin without
/// credentials, `/api/` under [`demo_policy`] for the page of `serve --demo`.
pub fn demo_toml(listen: SocketAddr, admin: SocketAddr, upstream: SocketAddr) -> String {
    demo_toml_with(listen, admin, upstream, &demo_policy(DEMO_PAGE_ORIGIN))
}

/// The demo configuration with `policy` (TOML keys) as the `/api/` route's.
fn demo_toml_with(
    listen: SocketAddr,
    admin: SocketAddr,
    upstream: SocketAddr,
    policy: &str,
) -> String {
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
{policy}"#
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

/// The gateway `serve --demo` started, for a page that edits its `/api/`
/// policy (the playground; see [`crate::run_cli_with`]).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use corsgate_gateway::demo::{demo_policy, DemoGateway};
/// let any = "127.0.0.1:0".parse().unwrap();
/// let up = corsgate_gateway::start_demo_upstream(any).await.unwrap();
/// let gw = corsgate_gateway::start(corsgate_gateway::demo_config(any, any, up).unwrap())
///     .await
///     .unwrap();
/// let demo = DemoGateway::of(&gw, up).unwrap();
/// let page = "http://127.0.0.1:4000";
/// demo.set_api_policy(&demo_policy(page)).unwrap();
/// // An invalid policy changes nothing; the engine's error says why.
/// let errors = demo
///     .set_api_policy(&demo_policy(&format!("{page}/")))
///     .unwrap_err();
/// assert!(errors[0].policy_error().is_some());
/// assert_eq!(gw.metrics().reloads_ok(), 1);
/// gw.shutdown().await;
/// # });
/// ```
#[derive(Clone)]
pub struct DemoGateway {
    listen: SocketAddr,
    admin: SocketAddr,
    upstream: SocketAddr,
    reloader: Arc<Reloader>,
    file: Option<PathBuf>,
}

impl std::fmt::Debug for DemoGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoGateway")
            .field("listen", &self.listen)
            .field("admin", &self.admin)
            .finish_non_exhaustive()
    }
}

impl DemoGateway {
    /// The demo gateway `gateway` (started from [`demo_config`], with an
    /// admin listener) in front of the demo upstream at `upstream`.
    pub fn of(gateway: &crate::RunningGateway, upstream: SocketAddr) -> Option<DemoGateway> {
        Some(DemoGateway::new(
            gateway.local_addr(),
            gateway.admin_addr()?,
            upstream,
            gateway.reloader.clone(),
            None,
        ))
    }

    pub(crate) fn new(
        listen: SocketAddr,
        admin: SocketAddr,
        upstream: SocketAddr,
        reloader: Arc<Reloader>,
        file: Option<PathBuf>,
    ) -> DemoGateway {
        DemoGateway {
            listen,
            admin,
            upstream,
            reloader,
            file,
        }
    }

    /// The gateway's origin (`http://127.0.0.1:8080`).
    pub fn origin(&self) -> String {
        format!("http://{}", self.listen)
    }

    /// Replaces the `/api/` route's policy with `policy` (TOML keys, as
    /// [`demo_policy`] writes them) in the running gateway, and in the demo
    /// file `corsgate test --config` reads. Nothing changes when the
    /// configuration is invalid; the errors say why.
    pub fn set_api_policy(&self, policy: &str) -> Result<(), Vec<ConfigError>> {
        let text = demo_toml_with(self.listen, self.admin, self.upstream, policy);
        let config = GatewayConfig::from_toml(&text)?;
        self.reloader.apply(config);
        if let Some(f) = &self.file {
            // Best effort: the running gateway has the new policy either way.
            let _ = std::fs::write(f, &text);
        }
        Ok(())
    }
}

fn json(status: StatusCode, body: String) -> Response<String> {
    let mut r = Response::new(body);
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

/// The demo API's answer to a request: status, headers and a JSON body. A
/// plain function, so that the playground's model and its live gateway
/// (`corsgate_tower::CorsLayer` in front of it) see the same upstream as
/// `serve --demo`. `/api/*` deliberately sends `Access-Control-Allow-Origin: *`
/// (a common upstream mistake) to show the gateway replacing it.
pub fn answer(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    received_bytes: usize,
) -> Response<String> {
    let mut resp = match (method, path) {
        (&Method::GET | &Method::HEAD, "/public/hello") => json(
            StatusCode::OK,
            r#"{"message":"hello from the demo upstream"}"#.into(),
        ),
        (&Method::GET, "/api/me") => {
            let cookie = headers
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
        (&Method::GET | &Method::HEAD, "/api/items") => {
            let mut r = json(
                StatusCode::OK,
                r#"[{"id":1,"name":"apple"},{"id":2,"name":"pear"}]"#.into(),
            );
            r.headers_mut()
                .insert("x-total-count", HeaderValue::from_static("2"));
            r
        }
        (_, "/api/items") | (_, "/api/items/1") => json(
            StatusCode::OK,
            format!(
                r#"{{"method":"{}","path":"{}","received_bytes":{received_bytes}}}"#,
                escape(method.as_str()),
                escape(path),
            ),
        ),
        _ => json(StatusCode::NOT_FOUND, r#"{"error":"not found"}"#.into()),
    };
    if path.starts_with("/api/") {
        resp.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    resp
}

/// [`answer`] over hyper, the body read first (its size is in the answer).
async fn demo_api(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let resp = answer(&parts.method, parts.uri.path(), &parts.headers, body.len());
    Ok(resp.map(|b| Full::new(Bytes::from(b))))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_api_answers_known_and_unknown_paths() {
        let none = HeaderMap::new();
        let items = answer(&Method::GET, "/api/items", &none, 0);
        assert_eq!(items.status(), 200);
        assert_eq!(items.headers()["x-total-count"], "2");
        assert_eq!(items.headers()["access-control-allow-origin"], "*");
        let patch = answer(
            &Method::from_bytes(b"patch").unwrap(),
            "/api/items/1",
            &none,
            3,
        );
        assert_eq!(
            patch.body(),
            r#"{"method":"patch","path":"/api/items/1","received_bytes":3}"#
        );
        assert_eq!(answer(&Method::GET, "/api/me", &none, 0).status(), 401);
        let mut cookie = HeaderMap::new();
        cookie.insert(header::COOKIE, HeaderValue::from_static("session=1"));
        assert_eq!(answer(&Method::GET, "/api/me", &cookie, 0).status(), 200);
        let hello = answer(&Method::GET, "/public/hello", &none, 0);
        assert_eq!(hello.status(), 200);
        assert!(hello.headers().get("access-control-allow-origin").is_none());
        assert_eq!(answer(&Method::GET, "/nope", &none, 0).status(), 404);
    }

    #[test]
    fn the_demo_policy_is_valid_for_any_page_origin() {
        for page in [
            DEMO_PAGE_ORIGIN,
            "http://127.0.0.1:41234",
            "http://localhost:9",
        ] {
            let p = corsgate_core::Policy::from_toml(&demo_policy(page)).expect(page);
            assert!(p.reason_header());
        }
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let config = demo_config(any, any, any).unwrap();
        assert_eq!(config.routes().len(), 2);
    }
}
