//! Which server answered (from `Server` and `X-Powered-By`), and ready
//! configuration for it: nginx, Apache, Express, or else a corsgate policy
//! (for `corsgate serve` or corsgate-tower in an axum app). Every snippet
//! allows exactly the request at hand: one origin, its method, its headers.

use corsgate_core::{HeaderList, Profile, Request};

use crate::report::{Exchange, ServerKind, Snippet};
use corsgate_core::remedy::Remedy;

/// Detects the server from the responses' headers. The application framework
/// (`X-Powered-By`) wins over the front server, since that is where CORS
/// usually belongs.
pub(crate) fn detect<'a>(responses: impl IntoIterator<Item = &'a HeaderList>) -> ServerKind {
    let mut kind = ServerKind::Unknown;
    for h in responses {
        if h.get_str("x-powered-by")
            .is_some_and(|v| v.to_ascii_lowercase().contains("express"))
        {
            return ServerKind::Express;
        }
        if let Some(s) = h.get_str("server").map(|s| s.to_ascii_lowercase()) {
            if s.contains("nginx") || s.contains("openresty") {
                kind = ServerKind::Nginx;
            } else if s.contains("apache") && kind == ServerKind::Unknown {
                kind = ServerKind::Apache;
            }
        }
    }
    kind
}

/// The snippet applying one remedy, for a known server.
pub(crate) fn for_fix(server: ServerKind, fix: &Remedy) -> Option<Snippet> {
    let preflight = fix.stage == corsgate_core::Stage::Preflight;
    let mut set: Vec<(String, String)> = fix.set_headers.clone();
    let mut merge: Vec<String> = Vec::new();
    for v in &fix.vary {
        merge.push(v.clone());
    }
    let mut lines = Vec::new();
    match server {
        ServerKind::Nginx => {
            for r in &fix.remove_headers {
                lines.push(format!("proxy_hide_header {r};"));
            }
            let mut adds: Vec<String> = set
                .drain(..)
                .map(|(n, v)| format!("add_header {n} \"{v}\" always;"))
                .collect();
            for v in &merge {
                adds.push(format!("add_header Vary \"{v}\" always;"));
            }
            if preflight {
                if fix.status.is_some() {
                    adds.push("return 204;".into());
                }
                lines.push("if ($request_method = OPTIONS) {".into());
                lines.extend(adds.into_iter().map(|l| format!("    {l}")));
                lines.push("}".into());
            } else {
                lines.extend(adds);
            }
        }
        ServerKind::Apache => {
            for r in &fix.remove_headers {
                lines.push(format!("Header always unset {r}"));
            }
            let cond = if preflight {
                " \"expr=%{REQUEST_METHOD} == 'OPTIONS'\""
            } else {
                ""
            };
            for (n, v) in &set {
                lines.push(format!("Header always set {n} \"{v}\"{cond}"));
            }
            for v in &merge {
                lines.push(format!("Header always merge Vary {v}"));
            }
            if fix.status.is_some() {
                lines.push("RewriteEngine On".into());
                lines.push("RewriteCond %{REQUEST_METHOD} OPTIONS".into());
                lines.push("RewriteRule ^ - [R=204,L]".into());
            }
        }
        ServerKind::Express => {
            lines.push("app.use((req, res, next) => {".into());
            let indent = if preflight {
                lines.push("  if (req.method === 'OPTIONS') {".into());
                "    "
            } else {
                "  "
            };
            for r in &fix.remove_headers {
                lines.push(format!("{indent}res.removeHeader('{r}');"));
            }
            for (n, v) in &set {
                lines.push(format!("{indent}res.set('{n}', '{v}');"));
            }
            for v in &merge {
                lines.push(format!("{indent}res.vary('{v}');"));
            }
            if fix.status.is_some() {
                lines.push(format!("{indent}return res.sendStatus(204);"));
            }
            if preflight {
                lines.push("  }".into());
            }
            lines.push("  next();".into());
            lines.push("}); // before authentication and the routes".into());
        }
        ServerKind::Unknown => return None,
    }
    Some(Snippet {
        server,
        text: lines.join("\n"),
    })
}

/// What the request needs from the server.
struct Needs {
    origin: String,
    path: String,
    method: Option<String>,
    headers: Vec<String>,
    credentials: bool,
    max_age: u64,
}

fn needs(request: &Request, profile: Profile) -> Needs {
    let reasons = request.preflight_reasons(profile);
    Needs {
        origin: request.origin().as_str().to_owned(),
        path: request.url().path().to_owned(),
        method: reasons.method.clone(),
        headers: reasons.headers.iter().map(|h| h.name.clone()).collect(),
        credentials: request.credentials().is_include(),
        max_age: profile.max_age_cap().min(7200),
    }
}

/// A complete configuration allowing exactly this request, for `server`.
pub(crate) fn config(
    server: ServerKind,
    request: &Request,
    profile: Profile,
    exchanges: &[Exchange],
) -> String {
    let n = needs(request, profile);
    let preflight = n.method.is_some() || !n.headers.is_empty();
    let duplicated = exchanges.iter().any(|e| {
        e.response
            .headers
            .get_all("access-control-allow-origin")
            .count()
            > 1
    });
    let mut out = Vec::new();
    let quoted = |v: &[String]| {
        v.iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match server {
        ServerKind::Nginx => {
            let mut common = vec![format!(
                "add_header Access-Control-Allow-Origin \"{}\" always;",
                n.origin
            )];
            if n.credentials {
                common.push("add_header Access-Control-Allow-Credentials \"true\" always;".into());
            }
            common.push("add_header Vary \"Origin\" always;".into());
            out.push(format!("location {} {{", n.path));
            if duplicated {
                out.push("    # the application adds CORS headers too: keep one place only".into());
                out.push("    proxy_hide_header Access-Control-Allow-Origin;".into());
                out.push("    proxy_hide_header Access-Control-Allow-Credentials;".into());
            }
            if preflight {
                out.push("    if ($request_method = OPTIONS) {".into());
                for c in &common {
                    out.push(format!("        {c}"));
                }
                if let Some(m) = &n.method {
                    out.push(format!(
                        "        add_header Access-Control-Allow-Methods \"{m}\" always;"
                    ));
                }
                if !n.headers.is_empty() {
                    out.push(format!(
                        "        add_header Access-Control-Allow-Headers \"{}\" always;",
                        n.headers.join(", ")
                    ));
                }
                out.push(format!(
                    "        add_header Access-Control-Max-Age \"{}\" always;",
                    n.max_age
                ));
                out.push("        return 204;".into());
                out.push("    }".into());
            }
            for c in &common {
                out.push(format!("    {c}"));
            }
            out.push("    # proxy_pass / root as before".into());
            out.push("}".into());
        }
        ServerKind::Apache => {
            out.push(format!(
                "<Location \"{}\">  # needs mod_headers and mod_rewrite",
                n.path
            ));
            out.push(format!(
                "    Header always set Access-Control-Allow-Origin \"{}\"",
                n.origin
            ));
            if n.credentials {
                out.push("    Header always set Access-Control-Allow-Credentials \"true\"".into());
            }
            out.push("    Header always merge Vary Origin".into());
            if preflight {
                if let Some(m) = &n.method {
                    out.push(format!(
                        "    Header always set Access-Control-Allow-Methods \"{m}\""
                    ));
                }
                if !n.headers.is_empty() {
                    out.push(format!(
                        "    Header always set Access-Control-Allow-Headers \"{}\"",
                        n.headers.join(", ")
                    ));
                }
                out.push("    RewriteEngine On".into());
                out.push("    RewriteCond %{REQUEST_METHOD} OPTIONS".into());
                out.push("    RewriteRule ^ - [R=204,L]".into());
            }
            out.push("</Location>".into());
        }
        ServerKind::Express => {
            out.push("const cors = require('cors');".into());
            out.push("// before any authentication middleware and before the routes:".into());
            out.push("app.use(cors({".into());
            out.push(format!("  origin: '{}',", n.origin));
            if let Some(m) = &n.method {
                out.push(format!("  methods: ['{m}'],"));
            }
            if !n.headers.is_empty() {
                out.push(format!("  allowedHeaders: [{}],", quoted(&n.headers)));
            }
            if n.credentials {
                out.push("  credentials: true,".into());
            }
            if preflight {
                out.push(format!("  maxAge: {},", n.max_age));
            }
            out.push("}));".into());
        }
        ServerKind::Unknown => {
            // The keys of corsgate_core::PolicyConfig: this text is a valid policy.
            let q = |v: &str| serde_json::to_string(v).unwrap_or_else(|_| format!("{v:?}"));
            out.push(
                "# corsgate policy (TOML), for `corsgate serve` or corsgate-tower in axum".into(),
            );
            out.push(format!("origins = [{}]", q(&n.origin)));
            if let Some(m) = &n.method {
                out.push(format!("methods = [{}]", q(m)));
            }
            if !n.headers.is_empty() {
                let list: Vec<String> = n.headers.iter().map(|h| q(h)).collect();
                out.push(format!("request_headers = [{}]", list.join(", ")));
            }
            if n.credentials {
                out.push("credentials = true".into());
            }
            if preflight {
                out.push(format!("max_age = {}", n.max_age));
            }
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_servers() {
        let h = |n: &str, v: &str| HeaderList::new().with(n, v);
        assert_eq!(detect([&h("Server", "nginx/1.25")]), ServerKind::Nginx);
        assert_eq!(
            detect([&h("Server", "Apache/2.4 (Debian)")]),
            ServerKind::Apache
        );
        assert_eq!(
            detect([&h("Server", "nginx"), &h("X-Powered-By", "Express")]),
            ServerKind::Express
        );
        assert_eq!(detect([&h("Server", "hyper")]), ServerKind::Unknown);
    }

    #[test]
    fn config_names_exactly_the_request() {
        let req = Request::builder("https://app.example", "https://api.example/v1/items")
            .method("PUT")
            .header("X-Token", "1")
            .credentials(corsgate_core::Credentials::Include)
            .build()
            .unwrap();
        let nginx = config(ServerKind::Nginx, &req, Profile::Chromium, &[]);
        assert!(nginx.contains("location /v1/items {"));
        assert!(nginx.contains("Access-Control-Allow-Methods \"PUT\""));
        assert!(nginx.contains("Access-Control-Allow-Headers \"x-token\""));
        assert!(!nginx.contains('*'));
        let express = config(ServerKind::Express, &req, Profile::Chromium, &[]);
        assert!(express.contains("credentials: true"));
        let toml = config(ServerKind::Unknown, &req, Profile::Chromium, &[]);
        assert!(toml.contains("origins = [\"https://app.example\"]"));
        // The snippet is a policy corsgate accepts, and it allows exactly this request.
        let body: String = toml
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        let policy =
            corsgate_core::Policy::from_toml(&body).expect("the snippet is a valid policy");
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "origin",
            http::HeaderValue::from_static("https://app.example"),
        );
        headers.insert(
            "access-control-request-method",
            http::HeaderValue::from_static("PUT"),
        );
        headers.insert(
            "access-control-request-headers",
            http::HeaderValue::from_static("x-token"),
        );
        assert!(policy.decide(&http::Method::OPTIONS, &headers).allowed());
        headers.insert(
            "access-control-request-method",
            http::HeaderValue::from_static("DELETE"),
        );
        assert!(!policy.decide(&http::Method::OPTIONS, &headers).allowed());
    }
}
