//! `corsgate export`: a validated policy as nginx, Apache httpd, Caddy,
//! HAProxy or Envoy configuration, or a Gateway API `HTTPRoute`, that answers
//! the way `Policy::decide` does (what a target cannot express: exit 2).
//!
//! The policy is read with `Policy::from_toml`, so a policy that fails
//! validation is refused with its own located error text (exit 2), and the
//! exporter works only from the normalized settings (`policy.config()`).
//! Nothing unsafe can be emitted: no `*` with credentials (validation refuses
//! it), no blind reflection of `Origin` (only values that matched an exact
//! origin or an anchored pattern are echoed), no `null`.
//!
//! Paths: in each output the block that matches the location (on the path
//! the server has normalized) is the block that proxies, and the upstream
//! receives that normalized path; what an upstream could read differently
//! (`..;`, backslashes, the prefix's case and `;parameter` variants) is
//! refused in the whole server. `Site` checks `--location` and builds the
//! patterns.
//!
//! What each server cannot express is said in a comment in its output and in
//! `docs/export.md`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use corsgate_core::origin_set::{AllowedOrigin, PortSpec};
use corsgate_core::Policy;

mod apache;
mod caddy;
mod envoy;
mod gateway_api;
mod haproxy;
mod hexre;
mod nginx;

/// `corsgate export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The server whose configuration to print.
    #[arg(long, value_enum)]
    pub to: Target,
    /// The policy file (TOML; see docs/server-role.md).
    pub policy: PathBuf,
    /// Where actual requests are proxied to.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub upstream: String,
    /// The URL path prefix the policy covers: `/`, or `/` and segments of
    /// letters, digits, `-`, `.`, `_`, `~` (end it with `/`: nginx and Envoy
    /// read `/api` as a string prefix that also covers `/apix`).
    #[arg(long, default_value = "/")]
    pub location: String,
    /// A name for this policy (letters, digits, `_`) that goes into the names of the variables
    /// (nginx `$corsgate_NAME_*`, Apache `CORSGATE_NAME_*`), so that several exported policies
    /// can share one `http {}` or one server.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// The servers `export` writes configuration for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// nginx: `map` blocks (http context) and a `location` (server context).
    Nginx,
    /// Apache httpd 2.4: server config or `<VirtualHost>` context.
    Apache,
    /// Envoy: the `envoy.filters.http.cors` filter and a route `CorsPolicy` (YAML).
    Envoy,
    /// Caddy 2.6+: a `route` block for a site (Caddyfile).
    Caddy,
    /// HAProxy 2.6+: `http-request`/`http-response` rules for a frontend, and a backend.
    Haproxy,
    /// Kubernetes Gateway API v1.5+: an `HTTPRoute` with the `CORS` filter (YAML).
    GatewayApi,
}

/// Runs `corsgate export`: the configuration on standard output, or the
/// problem on standard error and exit status 2.
pub fn main(args: &ExportArgs) -> ExitCode {
    match run(args) {
        Ok(text) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("corsgate: cannot export: {e}");
            ExitCode::from(2)
        }
    }
}

/// The configuration text for `args`.
pub fn run(args: &ExportArgs) -> Result<String, String> {
    let text = std::fs::read_to_string(&args.policy)
        .map_err(|e| format!("cannot read {}: {e}", args.policy.display()))?;
    let policy = Policy::from_toml(&text).map_err(|e| format!("{}: {e}", args.policy.display()))?;
    let model = Model::new(&policy)?;
    let site = Site::new(&args.upstream, &args.location)?;
    let source = args.policy.display().to_string();
    let name = match &args.name {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
            Some(n.as_str())
        }
        Some(n) => {
            return Err(format!(
                "--name '{n}' must be letters, digits and '_' only (it goes into variable names)"
            ))
        }
        None => None,
    };
    Ok(match (args.to, name) {
        (Target::Nginx, n) => with_name(nginx::render(&model, &site, &source), "$corsgate_", n),
        (Target::Apache, n) => with_name(apache::render(&model, &site, &source), "CORSGATE_", n),
        (Target::Envoy, None) => envoy::render(&model, &site, &source),
        (Target::Envoy, Some(n)) => envoy::render(&model, &site, &source)
            .replace("corsgate_upstream", &format!("corsgate_{n}_upstream"))
            .replace("  - name: corsgate\n", &format!("  - name: corsgate_{n}\n")),
        (Target::Caddy, n) => caddy::render(&model, &site, &source, n)?,
        (Target::Haproxy, n) => haproxy::render(&model, &site, &source, n)?,
        (Target::GatewayApi, n) => gateway_api::render(&model, &site, &source, n)?,
    })
}

/// Where the policy applies and where requests go.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    /// `http(s)://host[:port][/path]`, checked to hold nothing a config file
    /// would read as syntax.
    pub upstream: String,
    /// Scheme, host and port of the upstream.
    pub upstream_authority: String,
    /// The upstream's path, if it has one.
    pub upstream_path: Option<String>,
    pub upstream_tls: bool,
    /// The path prefix, starting with `/`.
    pub location: String,
}

impl Site {
    fn new(upstream: &str, location: &str) -> Result<Site, String> {
        let bad = |s: &str| {
            s.is_empty()
                || s.bytes().any(|b| {
                    b.is_ascii_control()
                        || b.is_ascii_whitespace()
                        || matches!(
                            b,
                            b';' | b'{'
                                | b'}'
                                | b'"'
                                | b'\''
                                | b'\\'
                                | b'#'
                                | b'$'
                                | b'<'
                                | b'>'
                                | b'`'
                                | b'%'
                        )
                        || !b.is_ascii()
                })
        };
        if !location_ok(location) {
            return Err(format!(
                "--location '{location}' must be a URL path prefix: '/' and segments of letters, digits, '-', '.', '_' and '~', without empty, '.' or '..' segments (the servers match the normalized request path, so the prefix must be normalized too)"
            ));
        }
        let (tls, rest) = if let Some(r) = upstream.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = upstream.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!(
                "--upstream '{upstream}' must start with http:// or https://"
            ));
        };
        if bad(rest) || rest.starts_with('/') || rest.contains('@') || rest.contains('?') {
            return Err(format!(
                "--upstream '{upstream}' must be http(s)://host[:port][/path], without credentials, a query, spaces or quotes"
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], Some(&rest[i..])),
            None => (rest, None),
        };
        let upstream_authority = format!("{}://{authority}", if tls { "https" } else { "http" });
        // The servers replace the location's prefix with the upstream's path:
        // `/api/` onto `/base` would make `/api/items` `/baseitems`.
        let upstream_path = path.filter(|p| *p != "/").map(|p| {
            if location.ends_with('/') && !p.ends_with('/') {
                format!("{p}/")
            } else {
                p.to_owned()
            }
        });
        Ok(Site {
            upstream: match &upstream_path {
                Some(p) => format!("{upstream_authority}{p}"),
                None => upstream.to_owned(),
            },
            upstream_authority,
            upstream_path,
            upstream_tls: tls,
            location: location.to_owned(),
        })
    }

    /// A regex (PCRE) for the paths `<Location "LOCATION">` covers, on
    /// Apache's normalized path: any number of slashes where the location has
    /// one (Apache's location walk merges them, even under `MergeSlashes
    /// Off`), and a location without a trailing slash ends at a segment end.
    pub(crate) fn path_regex(&self) -> String {
        let trailing = self.location.ends_with('/');
        let segments: Vec<&str> = self.location.split('/').filter(|s| !s.is_empty()).collect();
        let mut r = String::from("^/+");
        r.push_str(
            &segments
                .iter()
                .map(|s| escape(s))
                .collect::<Vec<_>>()
                .join("/+"),
        );
        if !segments.is_empty() {
            r.push_str(if trailing { "/+" } else { "(?:/|$)" });
        }
        r
    }

    /// A regex, to be matched ignoring case, for the paths an upstream could
    /// read as the location while the server does not: the prefix in another
    /// case (`/API/`), with a path parameter on a segment (`/api;x/`, which
    /// Tomcat reads as `/api/`), with trailing dots or spaces on a segment
    /// (`/api./`, which Windows reads as `/api/`), with a letter still
    /// percent-encoded after the server's decoding (`%2561pi` arrives as `%61pi`), behind extra
    /// slashes, or with a slash still encoded (`/api%2Fitems`). The exact prefix matches it too: the configurations test the
    /// exact prefix first. `None` for `/`, which every path is under.
    pub(crate) fn variant_regex(&self) -> Option<String> {
        let segments: Vec<&str> = self.location.split('/').filter(|s| !s.is_empty()).collect();
        if segments.is_empty() {
            return None;
        }
        let segment = |seg: &str| {
            let mut r = String::new();
            for c in seg.chars() {
                let mut alts = vec![escape(&c.to_string())];
                for v in [c.to_ascii_lowercase(), c.to_ascii_uppercase()] {
                    let hex = format!("%{:02x}", v as u32);
                    if !alts.contains(&hex) {
                        alts.push(hex);
                    }
                }
                let _ = write!(r, "(?:{})", alts.join("|"));
            }
            // Trailing dots and spaces (Windows drops them), then `;parameters`.
            r.push_str("(?:\\.|%2e|\\x20|%20)*(?:;[^/]*)?");
            r
        };
        // A slash, or one still encoded (Apache keeps %2F under NoDecode).
        const SLASH: &str = "(?:/|%2f|%5c)";
        let mut r = format!("^{SLASH}+");
        r.push_str(
            &segments
                .iter()
                .map(|s| segment(s))
                .collect::<Vec<_>>()
                .join(&format!("{SLASH}+")),
        );
        // The name may end the path too: `/API`, `/api.`, `/api;x` with
        // nothing after are `/api` to a lenient upstream, and `/api` is
        // `/api/` to one that ignores a trailing slash (Express' default).
        // nginx answers the exact `/api` itself (301 to `/api/`), and
        // excepts it; Apache and Envoy refuse it.
        let _ = write!(r, "(?:{SLASH}|$)");
        Some(r)
    }

    /// The upstream's host and port, for Envoy's cluster.
    pub(crate) fn host_port(&self) -> (String, u16) {
        let auth = self
            .upstream_authority
            .split_once("://")
            .map_or("", |(_, a)| a);
        let default = if self.upstream_tls { 443 } else { 80 };
        if let Some(rest) = auth.strip_prefix('[') {
            if let Some((host, after)) = rest.split_once(']') {
                let port = after
                    .strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(default);
                return (host.to_owned(), port);
            }
        }
        match auth.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().unwrap_or(default)),
            None => (auth.to_owned(), default),
        }
    }
}

/// A `--location` the servers can match as written: `/`, or `/` and
/// segments of unreserved characters, none empty (but a trailing slash), `.`
/// or `..`. Every server matches the normalized request path, so a prefix
/// holding `//`, a dot segment or a percent sign would never match (or match
/// differently per server); `*`, `?` and `[` are patterns in `<Location>`.
fn location_ok(location: &str) -> bool {
    let Some(rest) = location.strip_prefix('/') else {
        return false;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    rest.is_empty()
        || rest.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        })
}

/// A normalized path the exported nginx and Apache configurations refuse
/// (400) in the whole server, searched anywhere in the decoded path:
/// - a `.` or `..` segment followed by `;` (Tomcat and other Java stacks read
///   `..;` as `..`);
/// - a `.` or `..` segment bounded by a still-encoded slash or backslash
///   (`%2F..%2F`: Apache keeps `%2F` under `AllowEncodedSlashes NoDecode`, and
///   an upstream that decodes it resolves the dot segment);
/// - a backslash (read as `/` by some upstreams).
///
/// Each could take the request out of the location at the upstream while the
/// proxy applied the location's policy, or into it through another route of
/// the same server. The servers resolve plain dot segments themselves, so no
/// normalized path holds `/../` otherwise. PCRE;
/// `\x5c` rather than a doubled backslash, which both servers' quoted strings
/// would unescape.
pub(crate) const REFUSED_PATH: &str = "(?:/|%2[fF]|%5[cC])\\.\\.?(?:[;/]|%2[fF]|%5[cC]|$)|\\x5c";

/// An `origins` entry that is a pattern.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    /// As written in the policy.
    pub entry: String,
    pub scheme: &'static str,
    /// The host after `*.` (or the whole host).
    pub host: String,
    pub subdomains: bool,
    pub port: PortSpec,
}

impl Pattern {
    /// What the pattern accepts, for a comment beside it.
    pub(crate) fn describe(&self) -> &'static str {
        match (self.subdomains, self.port) {
            (true, PortSpec::Any) => "one or more whole labels before the domain, any port",
            (true, _) => "one or more whole labels before the domain, never the domain itself",
            (false, _) => "any port, the default one included",
        }
    }

    /// The anchored regex, for PCRE (nginx, Apache) when `lookahead`, else for
    /// RE2 (Envoy), which has no lookahead: then an explicit default port is
    /// not refused (browsers never send one).
    pub(crate) fn regex(&self, lookahead: bool) -> String {
        let mut r = String::from("^");
        r.push_str(&escape(self.scheme));
        r.push_str("://");
        if self.subdomains {
            // One or more whole labels, as browsers serialize them.
            r.push_str("(?:[a-z0-9_-]+\\.)+");
        }
        r.push_str(&escape(&self.host));
        match self.port {
            PortSpec::Default => {}
            PortSpec::Exact(p) => {
                r.push(':');
                r.push_str(&p.to_string());
            }
            PortSpec::Any => {
                let default = if self.scheme == "https" { 443 } else { 80 };
                r.push_str("(?::");
                if lookahead {
                    let _ = write!(r, "(?!{default}$)");
                }
                r.push_str(PORT_RE);
                r.push_str(")?");
            }
        }
        r.push('$');
        r
    }
}

/// 1 to 65535 without a leading zero.
const PORT_RE: &str =
    "(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])";

/// A header-name token, as a regex class.
pub(crate) const TOKEN_CLASS: &str = "[-!#\\$%&'*+.^_\\x60|~0-9A-Za-z]";

/// Backslash before every byte that is not ASCII alphanumeric: literal in
/// PCRE and RE2, and kept as is by nginx's and Apache's quoted strings.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if !c.is_ascii_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Which methods a preflight may ask for.
#[derive(Debug, Clone)]
pub(crate) enum Methods {
    Any,
    /// GET, HEAD, POST and the configured ones, compared case-sensitively.
    List(Vec<String>),
}

/// Which request headers a preflight may ask for.
#[derive(Debug, Clone)]
pub(crate) enum Headers {
    Mirror,
    /// Lower case.
    List(Vec<String>),
}

/// The policy's normalized settings, in the shape the exporters need.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub any: bool,
    pub exact: Vec<String>,
    pub patterns: Vec<Pattern>,
    pub methods: Methods,
    pub headers: Headers,
    pub expose: Vec<String>,
    pub credentials: bool,
    pub max_age: Option<u32>,
    pub private_network: bool,
    pub debug: bool,
}

impl Model {
    pub(crate) fn new(policy: &Policy) -> Result<Model, String> {
        let c = policy.config();
        let mut m = Model {
            any: false,
            exact: Vec::new(),
            patterns: Vec::new(),
            methods: Methods::List(Vec::new()),
            headers: Headers::List(Vec::new()),
            expose: policy.exposed_headers().to_vec(),
            credentials: policy.credentials(),
            max_age: policy.max_age(),
            private_network: c.private_network,
            debug: policy.debug(),
        };
        // Parsed by the engine's own parser: the same entries the policy
        // matches, never a second reading of the strings.
        for o in &c.origins {
            match AllowedOrigin::parse(o).map_err(|e| e.to_string())? {
                AllowedOrigin::Any => m.any = true,
                AllowedOrigin::Exact(e) => m.exact.push(e),
                AllowedOrigin::Pattern {
                    scheme,
                    host,
                    subdomains,
                    port,
                } => m.patterns.push(Pattern {
                    entry: o.clone(),
                    scheme,
                    host,
                    subdomains,
                    port,
                }),
            }
        }
        m.methods = if c.methods.iter().any(|x| x == "*") {
            Methods::Any
        } else {
            let mut list: Vec<String> = ["GET", "HEAD", "POST"].map(String::from).to_vec();
            for x in &c.methods {
                if !list.contains(x) {
                    list.push(x.clone());
                }
            }
            Methods::List(list)
        };
        m.headers = if c.request_headers.iter().any(|x| x == "*") {
            Headers::Mirror
        } else {
            Headers::List(c.request_headers.clone())
        };
        Ok(m)
    }

    /// The regex an allowed `Access-Control-Request-Method` matches (case-sensitive).
    pub(crate) fn method_regex(&self) -> String {
        match &self.methods {
            Methods::Any => format!("^{TOKEN_CLASS}+$"),
            Methods::List(l) => format!(
                "^(?:{})$",
                l.iter().map(|m| escape(m)).collect::<Vec<_>>().join("|")
            ),
        }
    }

    /// The regex an allowed `Access-Control-Request-Headers` matches, to be
    /// used case-insensitively: a comma-separated list (optional spaces and
    /// tabs, empty elements) of allowed names. Possessive quantifiers keep it
    /// linear (the elements are delimited by commas). An absent header reads
    /// as the empty string, which matches.
    pub(crate) fn headers_regex(&self) -> String {
        let name = match &self.headers {
            Headers::Mirror => format!("{TOKEN_CLASS}++"),
            Headers::List(l) if l.is_empty() => {
                return "^[ \\t,]*$".into();
            }
            Headers::List(l) => format!(
                "(?:{})",
                l.iter().map(|h| escape(h)).collect::<Vec<_>>().join("|")
            ),
        };
        let elem = format!("[ \\t]*+(?:{name}[ \\t]*+)?");
        format!("^(?:{elem},)*+{elem}$")
    }

    /// `Access-Control-Allow-Headers` for a list policy (None when empty).
    pub(crate) fn allow_headers_list(&self) -> Option<String> {
        match &self.headers {
            Headers::List(l) if !l.is_empty() => Some(l.join(", ")),
            _ => None,
        }
    }

    pub(crate) fn expose_value(&self) -> Option<String> {
        (!self.expose.is_empty()).then(|| self.expose.join(", "))
    }

    /// The policy, summarized for a comment at the top of the output.
    pub(crate) fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.any {
            lines.push("origins: * (any origin, without credentials)".into());
        } else {
            let mut all: Vec<&str> = self.exact.iter().map(String::as_str).collect();
            all.extend(self.patterns.iter().map(|p| p.entry.as_str()));
            lines.push(format!("origins: {}", all.join(", ")));
        }
        lines.push(match &self.methods {
            Methods::Any => "methods: any (the requested method is echoed)".into(),
            Methods::List(l) => format!("methods: {}", l.join(", ")),
        });
        lines.push(match &self.headers {
            Headers::Mirror => "request headers: any (the requested names are echoed)".into(),
            Headers::List(l) if l.is_empty() => "request headers: none".into(),
            Headers::List(l) => format!("request headers: {}", l.join(", ")),
        });
        if !self.expose.is_empty() {
            lines.push(format!("exposed headers: {}", self.expose.join(", ")));
        }
        lines.push(format!("credentials: {}", self.credentials));
        if let Some(a) = self.max_age {
            lines.push(format!("max-age: {a}"));
        }
        if self.private_network {
            lines.push("private network access: on".into());
        }
        lines
    }

    /// The `Vary` value of a preflight answer (Policy::decide's).
    pub(crate) fn preflight_vary(&self) -> String {
        let mut v = Vec::new();
        if !self.any {
            v.push("Origin");
        }
        v.push("Access-Control-Request-Method");
        v.push("Access-Control-Request-Headers");
        if self.private_network {
            v.push("Access-Control-Request-Private-Network");
        }
        v.join(", ")
    }
}

/// Every CORS response header: removed from upstream answers so that the
/// policy is the one source of them.
pub(crate) const CORS_RESPONSE_HEADERS: [&str; 7] = [
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Max-Age",
    "Access-Control-Expose-Headers",
    "Access-Control-Allow-Private-Network",
];

/// Writes `lines` as `#` comments.
pub(crate) fn comment(out: &mut String, lines: &[String]) {
    for l in lines {
        if l.is_empty() {
            out.push_str("#\n");
        } else {
            let _ = writeln!(out, "# {l}");
        }
    }
}

/// `text` with the export's `--name` after every occurrence of `prefix`
/// (`$corsgate_` → `$corsgate_api_`), in the prefix's case, so that two
/// exported routes in one server get their own variables and matchers.
pub(crate) fn with_name(text: String, prefix: &str, name: Option<&str>) -> String {
    match name {
        None => text,
        Some(n) => {
            let n = if prefix.bytes().any(|b| b.is_ascii_uppercase()) {
                n.to_ascii_uppercase()
            } else {
                n.to_ascii_lowercase()
            };
            text.replace(prefix, &format!("{prefix}{n}_"))
        }
    }
}

/// The comment lines every output starts with.
pub(crate) fn header_comment(model: &Model, source: &str, target: &str) -> Vec<String> {
    let mut lines = vec![
        format!("Generated by `corsgate export --to {target}` from {source}."),
        "Regenerate it rather than editing it; docs/export.md explains every part.".into(),
        String::new(),
    ];
    lines.extend(model.summary());
    if model.debug {
        lines.push(String::new());
        lines.push("debug = true is not exported: refused preflights get a bare 403 here.".into());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prefix_case() {
        let t = "set $corsgate_origin x; SetEnvIf X CORSGATE_ORIGIN; @corsgate_pre".to_owned();
        assert_eq!(with_name(t.clone(), "$corsgate_", None), t);
        assert_eq!(
            with_name(t.clone(), "$corsgate_", Some("Api")),
            "set $corsgate_api_origin x; SetEnvIf X CORSGATE_ORIGIN; @corsgate_pre"
        );
        assert_eq!(
            with_name(t, "CORSGATE_", Some("Api")),
            "set $corsgate_origin x; SetEnvIf X CORSGATE_API_ORIGIN; @corsgate_pre"
        );
    }

    fn model(toml: &str) -> Model {
        Model::new(&Policy::from_toml(toml).unwrap()).unwrap()
    }

    #[test]
    fn patterns_are_anchored_dot_escaped_and_label_aware() {
        let m = model(
            r#"origins = ["https://app.example.com", "https://*.example.org:*", "http://[::1]:*", "http://localhost:3000"]"#,
        );
        assert_eq!(
            m.exact,
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert_eq!(
            m.patterns[0].regex(true),
            format!("^https://(?:[a-z0-9_-]+\\.)+example\\.org(?::(?!443$){PORT_RE})?$")
        );
        assert_eq!(
            m.patterns[1].regex(false),
            format!("^http://\\[\\:\\:1\\](?::{PORT_RE})?$")
        );
    }

    #[test]
    fn site_arguments_are_checked() {
        assert!(Site::new("http://127.0.0.1:8000", "/api/").is_ok());
        assert!(Site::new("127.0.0.1:8000", "/").is_err());
        assert!(Site::new("http://a;b", "/").is_err());
        assert!(Site::new("http://a", "api").is_err());
        assert!(Site::new("http://a", "/a b").is_err());
        assert!(Site::new("http://a", "/a}").is_err());
        // Locations the servers could not match as written are refused.
        for bad in [
            "/api//",
            "//api/",
            "/./api/",
            "/api/../x/",
            "/api/.",
            "/%61pi/",
            "/api/*",
            "/api?",
            "/api[1]/",
            "/api/;x",
            "/api\\x",
            "/é/",
        ] {
            assert!(Site::new("http://a", bad).is_err(), "{bad}");
        }
        for good in ["/", "/api", "/api/", "/v1.2/a-b_c~d/", "/.well-known/x"] {
            assert!(Site::new("http://a", good).is_ok(), "{good}");
        }
        let s = Site::new("http://[::1]:9000/base", "/").unwrap();
        assert_eq!(s.host_port(), ("::1".into(), 9000));
        assert_eq!(s.upstream_path.as_deref(), Some("/base/"));
        assert_eq!(s.upstream, "http://[::1]:9000/base/");
        // A location with a trailing slash maps onto a path with one.
        let s = Site::new("https://up.example/v2", "/api/").unwrap();
        assert_eq!(s.upstream_path.as_deref(), Some("/v2/"));
        assert_eq!(s.upstream, "https://up.example/v2/");
        let s = Site::new("https://up.example/v2", "/api").unwrap();
        assert_eq!(s.upstream_path.as_deref(), Some("/v2"));
    }

    /// The Apache rewrite pattern covers what `<Location>` covers: any number
    /// of slashes, and a location without a trailing slash ends at a segment.
    #[test]
    fn path_regex_follows_location_matching() {
        let re = |loc: &str| Site::new("http://a", loc).unwrap().path_regex();
        assert_eq!(re("/"), "^/+");
        assert_eq!(re("/api/"), "^/+api/+");
        assert_eq!(re("/api"), "^/+api(?:/|$)");
        assert_eq!(re("/v1.2/x/"), "^/+v1\\.2/+x/+");
    }

    /// A regex the servers match ignoring case (nginx `~*`, Apache `[NC]`),
    /// checked with the `regex` crate (the patterns use no lookaround).
    fn matches_nocase(re: &str, text: &str) -> bool {
        regex::RegexBuilder::new(re)
            .case_insensitive(true)
            .build()
            .unwrap()
            .is_match(text)
    }

    /// The variants an upstream could read as the location.
    #[test]
    fn variant_regex_catches_what_an_upstream_reads_as_the_location() {
        let site = |loc: &str| Site::new("http://a", loc).unwrap();
        assert_eq!(site("/").variant_regex(), None);
        let v = site("/api/").variant_regex().unwrap();
        let m = |p: &str| matches_nocase(&v, p);
        for p in [
            "/api/x",
            "/API/x",
            "/aPi/x",
            "/api;x/x",
            "/api;/x",
            "//api//x",
            "/%61pi/x",
            "/%41PI/x",
            "/api%2Fx",
            "/api%2fx",
            "/api%5cx",
            "%2Fapi/x",
            "/api./x",
            "/api .;x/y",
            "/api%2e%20/x",
        ] {
            assert!(m(p), "{p} should be a variant ({v})");
        }
        // The name alone, in any spelling (`/api` itself included: the
        // nginx writer excepts it, nginx redirects it).
        for p in [
            "/api", "/API", "/api.", "/api%20", "/api;x", "/%61pi", "/Api. ",
        ] {
            assert!(m(p), "{p} should be a variant ({v})");
        }
        for p in [
            "/apix/x", "/ap/x", "/x/api/x", "/apii/x", "/%62pi/x", "/apix", "/api.x",
        ] {
            assert!(!m(p), "{p} is not a variant ({v})");
        }
        let v = site("/api").variant_regex().unwrap();
        assert!(matches_nocase(&v, "/API"));
        assert!(matches_nocase(&v, "/Api/x"));
        assert!(!matches_nocase(&v, "/apix"));
    }

    /// The refused paths: `..;`, `.;`, dot segments next to an encoded slash
    /// or backslash, any backslash; never an ordinary normalized path.
    #[test]
    fn refused_path_pattern() {
        let m = |p: &str| regex::Regex::new(REFUSED_PATH).unwrap().is_match(p);
        for p in [
            "/api/..;/x",
            "/api/.;/x",
            "/..;",
            "/api/x%2F..%2Fy",
            "/api/x%2f../y",
            "/api/..%5cy",
            "/api/a\\b",
            "/api/x%2F.",
        ] {
            assert!(m(p), "{p} must be refused");
        }
        for p in [
            "/api/items",
            "/.well-known/x",
            "/api/..x/y",
            "/api/x..;/y",
            "/api/a%2Fb",
            "/api/v1.2/",
            "/api/x;y/z",
        ] {
            assert!(!m(p), "{p} must not be refused");
        }
    }
}
