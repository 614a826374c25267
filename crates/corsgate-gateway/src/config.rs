//! The gateway's configuration file (TOML): listen address, upstream, routes
//! with their CORS policies, limits, timeouts, admin listener, logging.
//!
//! Every error names the line and column of the offending value. See
//! `docs/gateway.md` for the full reference and an example file.

use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use corsgate_core::PolicyError;

use crate::cors::RoutePolicy;

/// One configuration problem, located in the file when possible.
///
/// A route's policy problem carries the engine's own typed error
/// ([`ConfigErrorKind::Policy`]), placed on the value it is about, in an
/// inline `policy = { … }` table as in a `[routes.policy]` table:
///
/// ```
/// use corsgate_core::PolicyError;
/// use corsgate_gateway::{ConfigErrorKind, GatewayConfig};
/// let text = "listen = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:3000\"\n\
///             [[routes]]\npath = \"/api/\"\n\
///             policy = { origins = [\"https://a.example\", \"null\"], methods = [\"TRACE\"] }\n";
/// let errors = GatewayConfig::from_toml(text).unwrap_err();
/// assert_eq!(errors.len(), 2);
/// assert!(matches!(errors[0].policy_error(), Some(PolicyError::NullOrigin)));
/// assert_eq!((errors[0].line, errors[0].column), (Some(5), Some(44)));
/// assert!(matches!(
///     &errors[1].kind,
///     ConfigErrorKind::Policy { route, error: PolicyError::ForbiddenMethod { value }, .. }
///         if route == "/api/" && value == "TRACE"
/// ));
/// assert_eq!((errors[1].line, errors[1].column), (Some(5), Some(64)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, when the text came from one.
    pub file: Option<PathBuf>,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column (in characters).
    pub column: Option<usize>,
    /// What is wrong.
    pub kind: ConfigErrorKind,
}

/// What is wrong with a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The file cannot be read, is not TOML of the right shape, or a
    /// gateway setting (address, upstream, duration, limit, route) is
    /// invalid: what is wrong and how to fix it.
    Invalid(String),
    /// A route's CORS policy is invalid: the engine's own error, unchanged.
    Policy {
        /// The route's path.
        route: String,
        /// The engine's error.
        error: PolicyError,
    },
}

impl ConfigError {
    /// The engine's error, when the problem is in a route's policy.
    pub fn policy_error(&self) -> Option<&PolicyError> {
        match &self.kind {
            ConfigErrorKind::Policy { error, .. } => Some(error),
            ConfigErrorKind::Invalid(_) => None,
        }
    }

    /// The problem without its location.
    pub fn message(&self) -> String {
        self.kind.to_string()
    }

    /// A problem found without a file position.
    pub(crate) fn unlocated(file: Option<PathBuf>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file,
            line: None,
            column: None,
            kind: ConfigErrorKind::Invalid(message.into()),
        }
    }
}

impl fmt::Display for ConfigErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigErrorKind::Invalid(m) => f.write_str(m),
            ConfigErrorKind::Policy { route, error } => {
                write!(f, "route {route:?} policy: {error}")
            }
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, "line {l}, column {c}: ")?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.policy_error()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Which protocol the gateway speaks to the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum UpstreamProtocol {
    /// HTTP/1.1 with pooled keep-alive connections (the default).
    #[default]
    Http1,
    /// HTTP/2 over cleartext with prior knowledge; one multiplexed connection.
    H2c,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// How the kernel schedules the worker threads (Linux; elsewhere ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum WorkerScheduling {
    /// `SCHED_BATCH`: the same share of the CPU as any thread, but a worker
    /// woken by network activity does not preempt the thread running on its
    /// core; it runs at the next scheduling point and then serves every
    /// connection that became ready meanwhile. Fewer context switches per
    /// request for the gateway, the upstream and the clients on a shared
    /// machine (see docs/gateway.md, Figures).
    #[default]
    Batch,
    /// `SCHED_OTHER`, the default of every thread: a woken worker may
    /// preempt the running thread at once.
    Normal,
}

/// An upstream base URL: `http://host:port`, optionally with a path prefix
/// that is prepended to every forwarded path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Upstream {
    /// `http`.
    pub scheme: http::uri::Scheme,
    /// `host:port`.
    pub authority: http::uri::Authority,
    /// Path prefix without a trailing slash (may be empty).
    pub base_path: String,
    /// Protocol spoken to it.
    pub protocol: UpstreamProtocol,
}

impl Upstream {
    /// Parses `http://host[:port][/prefix]`.
    pub(crate) fn parse(text: &str, protocol: UpstreamProtocol) -> Result<Upstream, String> {
        let uri: http::Uri = text
            .parse()
            .map_err(|e| format!("upstream {text:?} is not a URL: {e}"))?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or_else(|| format!("upstream {text:?} needs a scheme, e.g. http://{text}"))?;
        if scheme != http::uri::Scheme::HTTP {
            return Err(format!(
                "upstream {text:?}: only http:// upstreams are supported (TLS is terminated at the gateway)"
            ));
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| format!("upstream {text:?} has no host"))?;
        if uri.query().is_some() {
            return Err(format!("upstream {text:?} must not have a query"));
        }
        let base_path = uri.path().trim_end_matches('/').to_owned();
        Ok(Upstream {
            scheme,
            authority,
            base_path,
            protocol,
        })
    }
}

/// One route: requests whose path starts with `path` (and whose host is
/// `host`, when set) use this route's upstream and CORS policy.
#[derive(Debug, Clone)]
pub struct Route {
    /// Path prefix, e.g. `/api/`.
    pub(crate) path: String,
    /// Host name (lower case, no port), when the route is host-specific.
    pub(crate) host: Option<String>,
    /// The upstream for this route.
    pub(crate) upstream: Upstream,
    /// The CORS policy, or `None` when the route has `cors = false`.
    pub(crate) policy: Option<RoutePolicy>,
}

impl Route {
    /// The path prefix, e.g. `/api/`.
    pub fn path(&self) -> &str {
        &self.path
    }
    /// The host name (lower case, no port), when the route is host-specific.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }
    /// The route's CORS policy, or `None` when the route has `cors = false`.
    pub fn policy(&self) -> Option<&corsgate_core::Policy> {
        self.policy.as_ref().map(RoutePolicy::policy)
    }
    /// The candidate policy judged beside it in shadow (`[routes.shadow]`).
    pub fn shadow(&self) -> Option<&corsgate_core::Policy> {
        self.policy.as_ref().and_then(RoutePolicy::shadow)
    }
}

/// Size and count limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Largest request head (request line and headers) in bytes (HTTP/1.1),
    /// or header list (HTTP/2).
    pub max_header_bytes: usize,
    /// Most request header lines.
    pub max_headers: usize,
    /// Most client connections open at once; more wait in the accept queue.
    pub max_connections: usize,
    /// Most idle pooled connections kept per upstream.
    pub upstream_idle_per_host: usize,
    /// How the worker threads are scheduled.
    pub worker_scheduling: WorkerScheduling,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_connections: 10_000,
            upstream_idle_per_host: 256,
            worker_scheduling: WorkerScheduling::Batch,
        }
    }
}

/// Timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Timeouts {
    /// Time a client has to send a complete request head.
    pub header_read: Duration,
    /// Time a client connection may stay without traffic.
    pub idle: Duration,
    /// Time to connect to the upstream (then 502).
    pub upstream_connect: Duration,
    /// Time for the upstream to send its response head, counted from the
    /// end of the request body sent upstream (then 504).
    pub upstream_response: Duration,
    /// Longest wait between two reads of an upstream response body (then
    /// both connections are closed: the response had started).
    pub upstream_read: Duration,
    /// How long an upstream caught writing outside a response gets no
    /// connection reuse (zero: never quarantined).
    pub upstream_quarantine: Duration,
    /// Longest time between two successful writes to a client while a
    /// response is owed to it (nginx `send_timeout`); then the connection
    /// is closed and its upstream exchanges dropped.
    pub client_send: Duration,
    /// Longest time between two reads of a request body from the client
    /// (nginx `client_body_timeout`); then 408 and the connection closes.
    pub client_body: Duration,
    /// How long shutdown waits for requests in flight.
    pub drain: Duration,
}

/// The longest duration any setting accepts: one day. Longer values are
/// refused where they are read, so that no deadline computed from one can
/// overflow the clock.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            upstream_connect: Duration::from_secs(5),
            upstream_response: Duration::from_secs(60),
            upstream_read: Duration::from_secs(60),
            upstream_quarantine: Duration::from_secs(60),
            client_send: Duration::from_secs(60),
            client_body: Duration::from_secs(60),
            drain: Duration::from_secs(30),
        }
    }
}

/// The decision log's format (`declog.rs` writes it): every line names it
/// in its first key; `corsgate infer` refuses any other.
pub(crate) const FORMAT: &str = "corsgate-decisions/1";

/// Where the log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    /// The gateway's standard error (beside its own log).
    Stderr,
    /// The gateway's standard output.
    Stdout,
    /// A file, appended to (relative paths are relative to the
    /// configuration file).
    File(PathBuf),
}

/// `[decision_log]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecisionLogConfig {
    /// Where the lines go.
    pub destination: Destination,
    /// The most bytes of lines waiting for the writer; more are dropped and
    /// counted.
    pub buffer: usize,
}

/// The default queue bound: 1 MiB of lines.
pub(crate) const DEFAULT_BUFFER: usize = 1 << 20;

/// TLS termination settings (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

/// A validated gateway configuration.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where clients connect.
    pub(crate) listen: SocketAddr,
    /// Admin listener (`/healthz`, `/metrics`), if any.
    pub(crate) admin: Option<SocketAddr>,
    /// Routes, most specific first.
    pub(crate) routes: Vec<Route>,
    /// Forward the client's `Host` to the upstream (else the upstream's authority).
    pub(crate) preserve_host: bool,
    /// Keep incoming `X-Forwarded-*`/`Forwarded` and append to them, and
    /// keep the other forwarding facts (`X-Forwarded-Prefix`, `X-Real-IP`…:
    /// `forward::FORWARDING_FACTS`) (only behind another trusted proxy);
    /// otherwise they are replaced or removed. Path and method overrides
    /// (`forward::OVERRIDES`) are removed either way.
    pub(crate) trust_forwarded: bool,
    /// Limits.
    pub(crate) limits: Limits,
    /// Timeouts.
    pub(crate) timeouts: Timeouts,
    /// TLS termination, if any.
    pub(crate) tls: Option<TlsFiles>,
    /// Log format.
    pub(crate) log_format: LogFormat,
    /// Log level (`error`, `warn`, `info`, `debug`, `trace`).
    pub(crate) log_level: tracing::Level,
    /// How often the file is checked for changes (hot reload); zero disables.
    pub(crate) reload_poll: Duration,
    /// The file it was read from.
    pub(crate) source: Option<PathBuf>,
    /// Whether every route's shadow candidate is enforced instead of its
    /// policy (`serve --promote`; kept across reloads).
    pub(crate) promoted: bool,
    /// The decision log (`[decision_log]`), if on.
    pub(crate) decision_log: Option<DecisionLogConfig>,
}

// ---------------------------------------------------------------------------
// The file format.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Spanned<String>,
    upstream: Option<Spanned<String>>,
    #[serde(default)]
    upstream_protocol: UpstreamProtocol,
    admin: Option<Spanned<String>>,
    #[serde(default = "yes")]
    preserve_host: bool,
    #[serde(default)]
    trust_forwarded: bool,
    #[serde(default)]
    log_format: LogFormat,
    log_level: Option<Spanned<String>>,
    reload_poll: Option<Spanned<String>>,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    timeouts: FileTimeouts,
    tls: Option<FileTls>,
    decision_log: Option<FileDecisionLog>,
    routes: Spanned<Vec<FileRoute>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDecisionLog {
    path: Spanned<String>,
    format: Option<Spanned<String>>,
    buffer: Option<Spanned<i64>>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_header_bytes: Option<Spanned<i64>>,
    max_headers: Option<Spanned<i64>>,
    max_connections: Option<Spanned<i64>>,
    upstream_idle_per_host: Option<Spanned<i64>>,
    worker_scheduling: Option<WorkerScheduling>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileTimeouts {
    header_read: Option<Spanned<String>>,
    idle: Option<Spanned<String>>,
    upstream_connect: Option<Spanned<String>>,
    upstream_response: Option<Spanned<String>>,
    upstream_read: Option<Spanned<String>>,
    upstream_quarantine: Option<Spanned<String>>,
    client_send: Option<Spanned<String>>,
    client_body: Option<Spanned<String>>,
    drain: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTls {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRoute {
    path: Spanned<String>,
    host: Option<Spanned<String>>,
    upstream: Option<Spanned<String>>,
    upstream_protocol: Option<UpstreamProtocol>,
    #[serde(default = "yes")]
    cors: bool,
    policy: Option<Spanned<corsgate_core::policy::SpannedPolicy>>,
    /// A candidate policy judged beside `policy` on every request, never
    /// enforced (shadow mode).
    shadow: Option<Spanned<corsgate_core::policy::SpannedPolicy>>,
}

/// Converts a byte offset into a 1-based (line, column).
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.as_bytes().get(..offset).unwrap_or_default();
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, column)
}

struct Ctx<'a> {
    text: &'a str,
    file: Option<&'a Path>,
    errors: Vec<ConfigError>,
}

impl Ctx<'_> {
    fn err(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        let (line, column) = match span {
            Some(s) => {
                let (l, c) = line_col(self.text, s.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        self.errors.push(ConfigError {
            file: self.file.map(Path::to_path_buf),
            line,
            column,
            kind: ConfigErrorKind::Invalid(message.into()),
        });
    }

    /// A route's policy problem, the engine's error kept whole.
    fn policy_err(&mut self, span: Range<usize>, route: &str, error: PolicyError) {
        let (line, column) = line_col(self.text, span.start);
        self.errors.push(ConfigError {
            file: self.file.map(Path::to_path_buf),
            line: Some(line),
            column: Some(column),
            kind: ConfigErrorKind::Policy {
                route: route.to_owned(),
                error,
            },
        });
    }
}

/// `t + d`, saturating at `t` plus [`MAX_DURATION`] (or `t` itself) where
/// the clock cannot represent the sum: no deadline computation panics.
pub(crate) fn later(t: std::time::Instant, d: Duration) -> std::time::Instant {
    t.checked_add(d)
        .or_else(|| t.checked_add(MAX_DURATION))
        .unwrap_or(t)
}

/// Parses a duration such as `250ms`, `10s`, `2m` or `1h`, at most
/// [`MAX_DURATION`].
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = parse_any_duration(text)?;
    if d > MAX_DURATION {
        return Err(format!(
            "{text:?} is longer than the longest duration accepted, 24h"
        ));
    }
    Ok(d)
}

/// Parses a duration without an upper bound (`None` when it overflows).
fn parse_any_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit: ms, s, m or h (e.g. \"10s\")"))?;
    let (n, unit) = t.split_at(split);
    // Digits beyond u64 are "too long", not "not a duration".
    let n: u64 = match n.parse() {
        Ok(n) => n,
        Err(_) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => u64::MAX,
        Err(_) => return Err(format!("{text:?} is not a duration such as \"10s\"")),
    };
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use ms, s, m or h)"
            ))
        }
    };
    Ok(d)
}

impl GatewayConfig {
    /// Reads and validates a configuration file.
    pub fn from_file(path: &Path) -> Result<GatewayConfig, Vec<ConfigError>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![ConfigError::unlocated(
                Some(path.to_path_buf()),
                format!("cannot read the file: {e}"),
            )]
        })?;
        let mut config = Self::parse(&text, Some(path))?;
        // TLS files and the decision log are relative to the configuration
        // file.
        if let (Some(tls), Some(dir)) = (config.tls.as_mut(), path.parent()) {
            tls.cert = dir.join(&tls.cert);
            tls.key = dir.join(&tls.key);
        }
        if let Some(DecisionLogConfig {
            destination: Destination::File(p),
            ..
        }) = config.decision_log.as_mut()
        {
            if let Some(dir) = path.parent() {
                *p = dir.join(&*p);
            }
        }
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses and validates configuration text.
    ///
    /// ```
    /// let config = corsgate_gateway::GatewayConfig::from_toml(
    ///     r#"
    /// listen = "127.0.0.1:0"
    /// upstream = "http://127.0.0.1:3000"
    /// [[routes]]
    /// path = "/api/"
    /// policy = { origins = ["https://app.example.com"] }
    /// "#,
    /// )
    /// .unwrap();
    /// assert_eq!(config.routes()[0].path(), "/api/");
    /// assert!(config.routes()[0].policy().is_some());
    /// ```
    pub fn from_toml(text: &str) -> Result<GatewayConfig, Vec<ConfigError>> {
        Self::parse(text, None)
    }

    /// The routes, most specific first (the order they are matched in).
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Where clients connect (port 0: any free port, see
    /// [`crate::RunningGateway::local_addr`]).
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// The admin listener's address (`/healthz`, `/metrics`), if any.
    pub fn admin(&self) -> Option<SocketAddr> {
        self.admin
    }

    fn parse(text: &str, file: Option<&Path>) -> Result<GatewayConfig, Vec<ConfigError>> {
        let mut cx = Ctx {
            text,
            file,
            errors: Vec::new(),
        };
        let raw: FileConfig = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                cx.err(e.span(), e.message().trim().to_owned());
                return Err(cx.errors);
            }
        };
        let listen = addr(&mut cx, &raw.listen);
        let admin = raw.admin.as_ref().and_then(|a| addr(&mut cx, a));
        let default_upstream = raw.upstream.as_ref().and_then(|u| {
            Upstream::parse(u.get_ref(), raw.upstream_protocol)
                .map_err(|m| cx.err(Some(u.span()), m))
                .ok()
        });
        let log_level = match &raw.log_level {
            None => tracing::Level::INFO,
            Some(l) => match l.get_ref().parse() {
                Ok(v) => v,
                Err(_) => {
                    cx.err(
                        Some(l.span()),
                        format!(
                            "log_level {:?}: use error, warn, info, debug or trace",
                            l.get_ref()
                        ),
                    );
                    tracing::Level::INFO
                }
            },
        };
        let dur = |cx: &mut Ctx<'_>, v: &Option<Spanned<String>>, default: Duration| match v {
            None => default,
            Some(s) => parse_duration(s.get_ref()).unwrap_or_else(|m| {
                cx.err(Some(s.span()), m);
                default
            }),
        };
        let reload_poll = dur(&mut cx, &raw.reload_poll, Duration::from_secs(1));
        let d = Timeouts::default();
        let t = &raw.timeouts;
        let timeouts = Timeouts {
            header_read: dur(&mut cx, &t.header_read, d.header_read),
            idle: dur(&mut cx, &t.idle, d.idle),
            upstream_connect: dur(&mut cx, &t.upstream_connect, d.upstream_connect),
            upstream_response: dur(&mut cx, &t.upstream_response, d.upstream_response),
            upstream_read: dur(&mut cx, &t.upstream_read, d.upstream_read),
            upstream_quarantine: dur(&mut cx, &t.upstream_quarantine, d.upstream_quarantine),
            client_send: dur(&mut cx, &t.client_send, d.client_send),
            client_body: dur(&mut cx, &t.client_body, d.client_body),
            drain: dur(&mut cx, &t.drain, d.drain),
        };
        for (name, v) in [
            ("header_read", &t.header_read),
            ("idle", &t.idle),
            ("upstream_connect", &t.upstream_connect),
            ("upstream_response", &t.upstream_response),
            ("upstream_read", &t.upstream_read),
            ("client_send", &t.client_send),
            ("client_body", &t.client_body),
        ] {
            if let Some(s) = v {
                if parse_duration(s.get_ref()).is_ok_and(|d| d.is_zero()) {
                    cx.err(
                        Some(s.span()),
                        format!("timeouts.{name} must be more than 0"),
                    );
                }
            }
        }
        let dl = Limits::default();
        let l = &raw.limits;
        let int = |cx: &mut Ctx<'_>,
                   name: &str,
                   v: &Option<Spanned<i64>>,
                   min: i64,
                   max: i64,
                   default: usize| match v {
            None => default,
            Some(s) => {
                let n = *s.get_ref();
                if n < min || n > max {
                    cx.err(
                        Some(s.span()),
                        format!("limits.{name} = {n}: must be between {min} and {max}"),
                    );
                    default
                } else {
                    usize::try_from(n).unwrap_or(default)
                }
            }
        };
        let limits = Limits {
            // hyper's HTTP/1.1 read buffer cannot be smaller than 8 KiB.
            max_header_bytes: int(
                &mut cx,
                "max_header_bytes",
                &l.max_header_bytes,
                8192,
                1 << 20,
                dl.max_header_bytes,
            ),
            max_headers: int(
                &mut cx,
                "max_headers",
                &l.max_headers,
                1,
                1000,
                dl.max_headers,
            ),
            max_connections: int(
                &mut cx,
                "max_connections",
                &l.max_connections,
                1,
                1_000_000,
                dl.max_connections,
            ),
            upstream_idle_per_host: int(
                &mut cx,
                "upstream_idle_per_host",
                &l.upstream_idle_per_host,
                0,
                100_000,
                dl.upstream_idle_per_host,
            ),
            worker_scheduling: l.worker_scheduling.unwrap_or(dl.worker_scheduling),
        };

        let decision_log = raw
            .decision_log
            .as_ref()
            .and_then(|d| decision_log(&mut cx, d));
        let mut routes = Vec::new();
        if raw.routes.get_ref().is_empty() {
            cx.err(
                Some(raw.routes.span()),
                "at least one [[routes]] entry is needed (path = \"/\" for everything)",
            );
        }
        for r in raw.routes.into_inner() {
            let path = r.path.get_ref();
            if !path.starts_with('/') {
                cx.err(
                    Some(r.path.span()),
                    format!("route path {path:?} must start with '/'"),
                );
            } else if let Ok(n) = crate::target::normalise(path) {
                // Requests are routed on normalised paths: another
                // spelling could never match.
                if n != path.as_str() {
                    cx.err(
                        Some(r.path.span()),
                        format!("route path {path:?} is not in normal form; write {n:?}"),
                    );
                }
            } else {
                cx.err(
                    Some(r.path.span()),
                    format!("route path {path:?} holds what requests are refused for (%2F, %5C, \\, ..;, control bytes)"),
                );
            }
            let host = r.host.as_ref().map(|h| {
                // Requests' hosts lose a trailing dot before matching.
                let v = h
                    .get_ref()
                    .trim()
                    .trim_end_matches('.')
                    .to_ascii_lowercase();
                if v.is_empty() || v.contains(['/', ' ']) || v.contains(':') {
                    cx.err(
                        Some(h.span()),
                        format!("route host {v:?} must be a host name without port"),
                    );
                }
                v
            });
            let upstream = match &r.upstream {
                Some(u) => Upstream::parse(
                    u.get_ref(),
                    r.upstream_protocol.unwrap_or(raw.upstream_protocol),
                )
                .map_err(|m| cx.err(Some(u.span()), m))
                .ok(),
                None => match &default_upstream {
                    Some(d) => {
                        let mut d = d.clone();
                        if let Some(p) = r.upstream_protocol {
                            d.protocol = p;
                        }
                        Some(d)
                    }
                    None => {
                        if raw.upstream.is_none() {
                            cx.err(
                                Some(r.path.span()),
                                "this route has no upstream and there is no top-level upstream",
                            );
                        }
                        None
                    }
                },
            };
            let policy = match (r.cors, &r.policy) {
                (true, None) => {
                    cx.err(
                        Some(r.path.span()),
                        format!(
                            "route {path:?} has no [routes.policy]; add one, or set cors = false to pass CORS through untouched"
                        ),
                    );
                    None
                }
                (false, Some(p)) => {
                    cx.err(
                        Some(p.span()),
                        "cors = false and a policy on the same route: remove one",
                    );
                    None
                }
                (false, None) => None,
                (true, Some(p)) => match p.get_ref().build(p.span()) {
                    Ok(policy) => Some(RoutePolicy::new(policy)),
                    Err(errors) => {
                        for (error, span) in errors {
                            cx.policy_err(span, path, error);
                        }
                        None
                    }
                },
            };
            // The shadow candidate: validated as any policy, only beside one.
            let shadow = match &r.shadow {
                None => None,
                Some(s) if !r.cors || r.policy.is_none() => {
                    cx.err(
                        Some(s.span()),
                        "a [routes.shadow] policy needs the route's [routes.policy] beside it",
                    );
                    None
                }
                Some(s) => match s.get_ref().build(s.span()) {
                    Ok(candidate) => Some(candidate),
                    Err(errors) => {
                        for (error, span) in errors {
                            cx.policy_err(span, path, error);
                        }
                        None
                    }
                },
            };
            let policy = policy.map(|p| p.with_shadow(shadow));
            if let Some(upstream) = upstream {
                routes.push(Route {
                    path: path.clone(),
                    host,
                    upstream,
                    policy,
                });
            }
        }
        // Two routes with the same host and path would make one unreachable.
        for (i, a) in routes.iter().enumerate() {
            if routes[..i]
                .iter()
                .any(|b| b.path == a.path && b.host == a.host)
            {
                cx.err(
                    None,
                    format!(
                        "two routes have path {:?} and host {:?}",
                        a.path,
                        a.host.as_deref().unwrap_or("(any)")
                    ),
                );
            }
        }
        sort_routes(&mut routes);
        if !cx.errors.is_empty() {
            return Err(cx.errors);
        }
        let listen = listen.ok_or_else(Vec::new)?;
        Ok(GatewayConfig {
            listen,
            admin,
            routes,
            preserve_host: raw.preserve_host,
            trust_forwarded: raw.trust_forwarded,
            limits,
            timeouts,
            tls: raw.tls.map(|t| TlsFiles {
                cert: t.cert,
                key: t.key,
            }),
            log_format: raw.log_format,
            log_level,
            reload_poll,
            source: None,
            promoted: false,
            decision_log,
        })
    }

    /// Enforces every route's shadow candidate in place of its policy (the
    /// routes without one keep theirs), now and after every reload:
    /// `corsgate serve --promote`. Returns how many routes changed.
    pub fn promote_shadows(&mut self) -> usize {
        self.promoted = true;
        self.routes
            .iter_mut()
            .filter_map(|r| r.policy.as_mut())
            .map(|p| usize::from(p.promote()))
            .sum()
    }

    /// Whether a reload from `self` to `new` needs a restart to take full
    /// effect (listener settings are not hot-swapped), and which ones.
    pub(crate) fn restart_only_changes(&self, new: &GatewayConfig) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.listen != new.listen {
            v.push("listen");
        }
        if self.admin != new.admin {
            v.push("admin");
        }
        if self.tls != new.tls {
            v.push("tls");
        }
        if self.limits != new.limits {
            v.push("limits");
        }
        if self.timeouts.header_read != new.timeouts.header_read
            || self.timeouts.idle != new.timeouts.idle
            || self.timeouts.drain != new.timeouts.drain
            || self.timeouts.client_send != new.timeouts.client_send
        {
            v.push("timeouts (client side)");
        }
        if self.log_format != new.log_format || self.log_level != new.log_level {
            v.push("log_format/log_level");
        }
        if self.decision_log != new.decision_log {
            v.push("decision_log");
        }
        v
    }
}

/// `[decision_log]`: `path` (a file, or `stderr`/`stdout`), `format` (only
/// `corsgate-decisions/1`), `buffer` (bytes of lines queued before lines
/// are dropped and counted).
fn decision_log(cx: &mut Ctx<'_>, d: &FileDecisionLog) -> Option<DecisionLogConfig> {
    let mut ok = true;
    let destination = match d.path.get_ref().as_str() {
        "stderr" => Destination::Stderr,
        "stdout" => Destination::Stdout,
        "" => {
            cx.err(
                Some(d.path.span()),
                "decision_log.path is empty: a file, \"stderr\" or \"stdout\"",
            );
            ok = false;
            Destination::Stderr
        }
        p if p.bytes().any(|b| b.is_ascii_control()) => {
            cx.err(
                Some(d.path.span()),
                "decision_log.path has a control character",
            );
            ok = false;
            Destination::Stderr
        }
        p => Destination::File(PathBuf::from(p)),
    };
    if let Some(f) = &d.format {
        if f.get_ref() != FORMAT {
            cx.err(
                Some(f.span()),
                format!(
                    "decision_log.format {:?}: this gateway writes only {:?}",
                    f.get_ref(),
                    FORMAT
                ),
            );
            ok = false;
        }
    }
    let buffer = match &d.buffer {
        None => DEFAULT_BUFFER,
        Some(b) => {
            let (min, max) = (4096i64, 1i64 << 30);
            let n = *b.get_ref();
            if n < min || n > max {
                cx.err(
                    Some(b.span()),
                    format!("decision_log.buffer = {n}: must be between {min} and {max} bytes"),
                );
                ok = false;
            }
            usize::try_from(n).unwrap_or(DEFAULT_BUFFER)
        }
    };
    ok.then_some(DecisionLogConfig {
        destination,
        buffer,
    })
}

fn addr(cx: &mut Ctx<'_>, v: &Spanned<String>) -> Option<SocketAddr> {
    match v.get_ref().parse() {
        Ok(a) => Some(a),
        Err(_) => {
            cx.err(
                Some(v.span()),
                format!(
                    "{:?} is not an IP address and port such as \"127.0.0.1:8080\"",
                    v.get_ref()
                ),
            );
            None
        }
    }
}

/// Orders routes most specific first, the order `routes::find` relies on
/// (its first match is the most specific).
fn sort_routes(routes: &mut [Route]) {
    routes.sort_by(|a, b| {
        b.host
            .is_some()
            .cmp(&a.host.is_some())
            .then(b.path.len().cmp(&a.path.len()))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
listen = "127.0.0.1:8080"
upstream = "http://127.0.0.1:9000"
admin = "127.0.0.1:9901"

[timeouts]
upstream_response = "5s"

[[routes]]
path = "/public/"
[routes.policy]
origins = ["*"]

[[routes]]
path = "/api/"
host = "API.example.com"
[routes.policy]
origins = ["https://app.example.com"]
credentials = true
"#;

    /// `[decision_log]`: off by default; a path, `stderr` or `stdout`; the
    /// one format; a bounded buffer; each error on its value.
    #[test]
    fn the_decision_log_is_configured_and_located() {
        let with = |v: &str| {
            GatewayConfig::from_toml(
                &GOOD.replace("[timeouts]", &format!("[decision_log]\n{v}\n[timeouts]")),
            )
        };
        assert_eq!(GatewayConfig::from_toml(GOOD).unwrap().decision_log, None);
        for (text, want) in [
            ("path = \"stderr\"", Destination::Stderr),
            ("path = \"stdout\"", Destination::Stdout),
            (
                "path = \"logs/d.jsonl\"\nformat = \"corsgate-decisions/1\"",
                Destination::File("logs/d.jsonl".into()),
            ),
        ] {
            let c = with(text).unwrap().decision_log.unwrap();
            assert_eq!((c.destination, c.buffer), (want, 1 << 20), "{text}");
        }
        assert_eq!(
            with("path = \"stderr\"\nbuffer = 4096")
                .unwrap()
                .decision_log
                .unwrap()
                .buffer,
            4096
        );
        // (text, line, column, message part)
        for (text, line, column, part) in [
            ("path = \"\"", 7, 8, "is empty"),
            ("path = \"a\\nb\"", 7, 8, "control character"),
            (
                "path = \"stderr\"\nformat = \"corsgate-decisions/2\"",
                8,
                10,
                "writes only \"corsgate-decisions/1\"",
            ),
            ("path = \"stderr\"\nbuffer = 10", 8, 10, "between 4096"),
            ("path = \"stderr\"\nbuffer = -1", 8, 10, "between 4096"),
            (
                "format = \"corsgate-decisions/1\"",
                6,
                1,
                "missing field `path`",
            ),
            (
                "path = \"stderr\"\nlevel = 1",
                8,
                1,
                "unknown field `level`",
            ),
        ] {
            let e = with(text).unwrap_err();
            assert_eq!(
                (e[0].line, e[0].column),
                (Some(line), Some(column)),
                "{text}: {e:?}"
            );
            assert!(e[0].message().contains(part), "{text}: {}", e[0]);
        }
        // A change needs a restart.
        let a = with("path = \"stderr\"").unwrap();
        let b = with("path = \"stdout\"").unwrap();
        assert!(a.restart_only_changes(&b).contains(&"decision_log"));
        assert!(a.restart_only_changes(&a.clone()).is_empty());
    }

    /// `timeouts.upstream_read` is read, defaults to 60 s and must be more
    /// than zero (was in `tests/hostile_upstream.rs`).
    #[test]
    fn the_read_timeout_is_configured() {
        let with = |v: &str| {
            GatewayConfig::from_toml(&GOOD.replace(
                "upstream_response = \"5s\"",
                &format!("upstream_response = \"5s\"\n{v}"),
            ))
        };
        assert_eq!(
            with("").unwrap().timeouts.upstream_read,
            Duration::from_secs(60)
        );
        assert_eq!(
            with("upstream_read = \"250ms\"")
                .unwrap()
                .timeouts
                .upstream_read,
            Duration::from_millis(250)
        );
        for bad in ["upstream_read = \"0s\"", "upstream_read = \"soon\""] {
            let errors = with(bad).unwrap_err();
            assert!(
                errors.iter().any(|e| e.line == Some(8)
                    && (e.to_string().contains("upstream_read") || e.to_string().contains("soon"))),
                "{bad}: {errors:?}"
            );
        }
    }

    #[test]
    fn worker_scheduling_is_batch_unless_said_otherwise() {
        let c = GatewayConfig::from_toml(GOOD).unwrap();
        assert_eq!(c.limits.worker_scheduling, WorkerScheduling::Batch);
        let with = |v: &str| {
            GOOD.replace(
                "[timeouts]",
                &format!("[limits]\nworker_scheduling = {v}\n\n[timeouts]"),
            )
        };
        let c = GatewayConfig::from_toml(&with("\"normal\"")).unwrap();
        assert_eq!(c.limits.worker_scheduling, WorkerScheduling::Normal);
        let c = GatewayConfig::from_toml(&with("\"batch\"")).unwrap();
        assert_eq!(c.limits.worker_scheduling, WorkerScheduling::Batch);
        for bad in ["\"fifo\"", "1", "\"Batch \""] {
            let errors = GatewayConfig::from_toml(&with(bad)).unwrap_err();
            let text = errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ");
            assert!(text.contains("line 7, column 21"), "{bad}: {text}");
        }
    }

    #[test]
    fn parses_a_good_file() {
        let c = GatewayConfig::from_toml(GOOD).unwrap();
        assert_eq!(c.listen.port(), 8080);
        assert_eq!(c.routes.len(), 2);
        assert_eq!(c.routes[0].host.as_deref(), Some("api.example.com"));
        assert_eq!(c.timeouts.upstream_response, Duration::from_secs(5));
        assert_eq!(c.timeouts.idle, Timeouts::default().idle);
    }

    #[test]
    fn errors_name_line_and_column() {
        let bad = GOOD.replace("listen = \"127.0.0.1:8080\"", "listen = \"localhost\"");
        let e = GatewayConfig::from_toml(&bad).unwrap_err();
        assert_eq!((e[0].line, e[0].column), (Some(2), Some(10)), "{e:?}");
        let bad = GOOD.replace(
            "upstream_response = \"5s\"",
            "upstream_response = \"5 parsecs\"",
        );
        let e = GatewayConfig::from_toml(&bad).unwrap_err();
        assert_eq!(e[0].line, Some(7), "{e:?}");
        let bad = GOOD.replace("credentials = true", "credentials = true\ncredentails = 1");
        let e = GatewayConfig::from_toml(&bad).unwrap_err();
        assert!(e[0].to_string().contains("line 2"), "{e:?}");
        let bad = GOOD.replace("origins = [\"*\"]", "origins = [\"*\"]\ncredentials = true");
        let e = GatewayConfig::from_toml(&bad).unwrap_err();
        assert_eq!(e[0].line, Some(13), "{}", e[0]); // the credentials value
    }

    #[test]
    fn policy_errors_point_at_the_value() {
        let bad = GOOD.replace(
            "\"https://app.example.com\"]",
            "\"https://app.example.com/\"]",
        );
        let e = GatewayConfig::from_toml(&bad).unwrap_err();
        assert_eq!((e[0].line, e[0].column), (Some(18), Some(12)), "{e:?}");
        assert!(e[0].message().contains("trailing slash"), "{e:?}");
        // Inline tables are located at the table.
        let inline = "listen = \"127.0.0.1:1\"\nupstream = \"http://127.0.0.1:2\"\n[[routes]]\npath = \"/\"\npolicy = { origins = [\"https://a.example/\"] }\n";
        let e = GatewayConfig::from_toml(inline).unwrap_err();
        assert_eq!(e[0].line, Some(5), "{e:?}");
    }

    #[test]
    fn routes_need_a_policy_or_cors_off() {
        let bad = "listen = \"127.0.0.1:1\"\nupstream = \"http://127.0.0.1:2\"\n[[routes]]\npath = \"/\"\n";
        let e = GatewayConfig::from_toml(bad).unwrap_err();
        assert!(e[0].message().contains("cors = false"), "{e:?}");
        let ok = format!("{bad}cors = false\n");
        assert!(GatewayConfig::from_toml(&ok).unwrap().routes[0]
            .policy
            .is_none());
    }

    #[test]
    fn the_example_file_is_valid() {
        let c = GatewayConfig::from_toml(include_str!("../corsgate.example.toml")).unwrap();
        assert_eq!(c.routes.len(), 4);
        assert_eq!(c.routes[0].host.as_deref(), Some("admin.example.com"));
        assert_eq!(c.limits, Limits::default());
        assert_eq!(c.timeouts, Timeouts::default());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("10 days").is_err());
        assert_eq!(parse_duration("24h"), Ok(MAX_DURATION));
        assert_eq!(parse_duration("86400s"), Ok(MAX_DURATION));
        // Every unit, just past the bound and far past it (u64 overflow in
        // the number, in the multiplication, in the Duration itself).
        for bad in [
            "25h",
            "1441m",
            "86401s",
            "86400001ms",
            "10000000000000000000s",
            "18446744073709551615s",
            "18446744073709551616s",
            "99999999999999999999999999999h",
            "18446744073709551615ms",
            "307445734561825861m",
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("longest"), "{bad}: {e}");
        }
    }

    #[test]
    fn durations_past_the_bound_are_located_errors() {
        for key in [
            "header_read",
            "idle",
            "upstream_connect",
            "upstream_response",
            "client_send",
            "client_body",
            "drain",
        ] {
            let bad = GOOD.replace(
                "upstream_response = \"5s\"",
                &format!("{key} = \"10000000000000000000s\""),
            );
            let e = GatewayConfig::from_toml(&bad).unwrap_err();
            assert_eq!(
                (e[0].line, e[0].column),
                (Some(7), Some(4 + key.len())),
                "{key}: {e:?}"
            );
            assert!(e[0].message().contains("24h"), "{e:?}");
        }
        let bad = format!("reload_poll = \"1000h\"\n{GOOD}");
        assert!(GatewayConfig::from_toml(&bad).is_err());
    }
}
