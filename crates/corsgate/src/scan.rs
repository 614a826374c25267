//! `corsgate scan`: finds CORS misconfigurations in a deployed endpoint.
//!
//! 1. `probes::plan` picks the `Origin` values: controls (none, same origin,
//!    the user's trusted origins, a pattern's representative origin), then
//!    the shared catalogue of hostile origins ([`corsgate_core::hostile`]):
//!    deterministic, so one run is the verdict.
//! 2. Each is sent as a simple GET and as preflights (`OPTIONS` asking for
//!    each method — the first one only for hostile origins — with
//!    `Content-Type: application/json`), over the HTTP
//!    client of `corsgate check`, with `Cache-Control: no-cache`. The requests
//!    are the engine's own (`Browser::fetch(..).start()`): byte for byte what
//!    a browser sends.
//! 3. Every answer is judged by the engine's browser role, with and without
//!    credentials: could a page on that origin read it (or pass the preflight)?
//!    An origin no browser sends (upper case, `%0b`) is sent raw and judged
//!    by whether the answer echoes it.
//! 4. `findings::find` turns the judgements and the raw headers into typed
//!    findings with a severity, the evidence, why it matters and the fix; the
//!    fix includes a corsgate policy validated with [`corsgate_core::Policy`].
//!
//! No request but GET and OPTIONS is ever sent: the preflighted PUT or DELETE
//! itself never is.
//!
//! For CI, `batch` scans many targets (`targets`: URLs, a file, an OpenAPI
//! document) with bounded concurrency and streams each result to the chosen
//! outputs (human, JSON, `sarif`) in input order; `baseline` marks accepted
//! findings as suppressed; `--fail-on` sets the severity that fails the run.

mod baseline;
mod batch;
mod findings;
mod probes;
mod render;
mod sarif;
mod targets;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use corsgate_core::hostile::{HostileClass, LABEL_LETTERS};
use corsgate_core::origin_set::AllowedOrigin;
use corsgate_core::{Action, Browser, Credentials, HeaderList, Origin, Profile, Request, Response};
use serde::Serialize;

use crate::check::wire_request;
use crate::cli::{parse_header, FailOnArg, ScanArgs};
use crate::http::{Client, NetError, WireRequest};

pub use batch::main;
pub use findings::{Evidence, FindingClass};
pub use findings::{Finding, PolicySuggestion, Severity};
pub use probes::{PlannedOrigin, ProbeKind};
pub use render::render;
#[cfg(test)]
pub(crate) use sarif::SarifWriter;

/// The version of the JSON document (bumped on any incompatible change).
pub const SCHEMA: &str = "corsgate-scan/2";

/// The `User-Agent` of the probes.
pub const USER_AGENT: &str = concat!("corsgate/", env!("CARGO_PKG_VERSION"), " (CORS scan)");

/// How many requests of one target are in flight at once.
pub const WORKERS: usize = 4;

/// The methods the preflight probes ask for when `--method` is not given.
const DEFAULT_METHODS: [&str; 2] = ["PUT", "DELETE"];

/// Why a scan could not be made: exit code 2.
#[derive(Debug)]
pub enum ScanError {
    /// Bad arguments.
    Usage(String),
    /// Not one probe got an answer.
    Unreachable(NetError),
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScanError::Usage(m) => f.write_str(m),
            ScanError::Unreachable(e) => write!(f, "no probe got an answer: {e}"),
        }
    }
}

impl ScanError {
    /// A stable code for `--json`.
    pub fn code(&self) -> &'static str {
        match self {
            ScanError::Usage(_) => "bad_arguments",
            ScanError::Unreachable(e) => e.code(),
        }
    }
}

/// Which request a probe is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeRequest {
    /// A simple `GET` (no preflight needed).
    Get,
    /// A preflight asking for one of the scanned methods and `content-type`.
    Preflight,
    /// A preflight asking for a made-up method and header: is anything allowed?
    PreflightReflection,
}

/// Could a page on the probe's origin read the answer (or, for a preflight,
/// send the request)? The engine's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    /// Whether the browser allows it.
    pub allowed: bool,
    /// The engine's refusal code when not (`redirect_not_followed` for a redirect).
    pub refusal: Option<&'static str>,
}

/// A network failure of one probe.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeFailure {
    /// Stable code (`connection_refused`, `timeout`, `tls`, ...).
    pub code: &'static str,
    /// The message.
    pub message: String,
}

/// One request sent and its answer.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeRecord {
    /// Its index in `probes`.
    pub id: usize,
    /// What the origin stands for.
    pub kind: ProbeKind,
    /// The `Origin` sent (null for the baseline).
    pub origin: Option<String>,
    /// The request.
    pub request: ProbeRequest,
    /// The method on the wire (`GET` or `OPTIONS`).
    pub method: String,
    /// `Access-Control-Request-Method`, for a preflight.
    pub requested_method: Option<String>,
    /// `Access-Control-Request-Headers`, for a preflight.
    pub requested_headers: Option<String>,
    /// The status, when answered.
    pub status: Option<u16>,
    /// The CORS response headers (`Access-Control-*`, `Vary`, `Location`), in order.
    pub headers: Vec<(String, String)>,
    /// The network failure, when not answered.
    pub error: Option<ProbeFailure>,
    /// The browser's verdict without credentials (null when not judged: baseline,
    /// same origin, failures).
    pub without_credentials: Option<Access>,
    /// The browser's verdict with credentials (`credentials: 'include'`).
    pub with_credentials: Option<Access>,
    /// The full answer, for the engine.
    #[serde(skip)]
    pub response: Option<Response>,
}

impl ProbeRecord {
    /// `GET` or `OPTIONS (PUT)`.
    pub fn label(&self) -> String {
        match &self.requested_method {
            Some(m) => format!("{} (preflight for {m})", self.method),
            None => self.method.clone(),
        }
    }
    /// The first value of a response header.
    pub fn header(&self, name: &str) -> Option<String> {
        self.response.as_ref()?.headers.get_str(name)
    }
    /// Whether a page could read it (or pass the preflight) with or without credentials.
    pub fn allowed(&self, credentials: bool) -> bool {
        let a = if credentials {
            &self.with_credentials
        } else {
            &self.without_credentials
        };
        a.as_ref().is_some_and(|a| a.allowed)
    }
}

/// The target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetInfo {
    /// The URL scanned.
    pub url: String,
    /// Its origin.
    pub origin: String,
    /// Its registrable domain, when it has one.
    pub registrable_domain: Option<String>,
}

/// Counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// High findings.
    pub high: usize,
    /// Medium findings.
    pub medium: usize,
    /// Low findings.
    pub low: usize,
    /// Informational findings.
    pub info: usize,
    /// Requests sent.
    pub probes: usize,
    /// Requests that got no answer.
    pub failed: usize,
    /// Answers that say something about the endpoint's CORS (not a redirect,
    /// not 404/410, not 5xx); none means nothing was judged (exit 2).
    pub judged: usize,
    /// The highest severity found (null when nothing was found); suppressed findings are not counted.
    pub worst: Option<Severity>,
    /// Findings suppressed by the baseline (not counted above).
    pub suppressed: usize,
}

/// The outcome of `corsgate scan`.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// The target.
    pub target: TargetInfo,
    /// The browser model that judged.
    pub browser: &'static str,
    /// The origins the user trusts.
    pub trusted_origins: Vec<String>,
    /// The methods the preflight probes asked for.
    pub methods: Vec<String>,
    /// The attacker domain of the unrelated-origin probes (fixed: the catalogue is deterministic).
    pub attacker_domain: String,
    /// Counts.
    pub summary: Summary,
    /// The findings, highest severity first (without those the baseline suppresses).
    pub findings: Vec<Finding>,
    /// The findings the baseline (`--baseline`) accepts, with why.
    pub suppressed: Vec<Suppressed>,
    /// The lowest severity that makes the exit code 1 (`--fail-on`).
    pub fail_on: Severity,
    /// A corsgate policy allowing exactly the trusted origins.
    pub policy: PolicySuggestion,
    /// Every request sent and its answer.
    pub probes: Vec<ProbeRecord>,
}

/// A finding the baseline accepts.
#[derive(Debug, Clone, Serialize)]
pub struct Suppressed {
    /// The finding.
    #[serde(flatten)]
    pub finding: Finding,
    /// The baseline entry's `reason` (null when it gives none).
    pub reason: Option<String>,
}

impl ScanReport {
    /// 0: nothing at or above `fail_on`; 1: findings at or above it; 2: none,
    /// but the scan is incomplete (some probes failed) or nothing was judged
    /// (every answer a redirect, a 404 or a 5xx).
    pub fn exit_code(&self) -> u8 {
        match self.summary.worst {
            Some(s) if s >= self.fail_on => 1,
            _ if self.incomplete() => 2,
            _ => 0,
        }
    }

    /// Whether part of the endpoint's behaviour was not judged.
    pub fn incomplete(&self) -> bool {
        self.summary.failed > 0 || self.summary.judged == 0
    }

    /// Recomputes the finding counts of the summary from `findings` and `suppressed`.
    pub fn recount(&mut self) {
        let s = &mut self.summary;
        (s.high, s.medium, s.low, s.info) = (0, 0, 0, 0);
        for f in &self.findings {
            match f.severity {
                Severity::High => s.high += 1,
                Severity::Medium => s.medium += 1,
                Severity::Low => s.low += 1,
                Severity::Info => s.info += 1,
            }
        }
        s.worst = self.findings.iter().map(|f| f.severity).max();
        s.suppressed = self.suppressed.len();
    }
}

/// A request to send, with what the engine needs to judge its answer.
struct Planned {
    kind: ProbeKind,
    origin: Option<String>,
    request: ProbeRequest,
    /// The engine requests (without, with credentials) whose first step this is.
    engine: Option<(Request, Request)>,
    wire: WireRequest,
}

fn usage(m: impl Into<String>) -> ScanError {
    ScanError::Usage(m.into())
}

/// Parses and checks the target URL.
fn target(url: &str) -> Result<(url::Url, Origin), ScanError> {
    let parsed = url::Url::parse(url).map_err(|e| {
        usage(format!(
            "'{url}' is not a valid URL ({e}); write it like https://api.example.com/path"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(usage(format!(
            "'{url}' is a {}: URL; corsgate scan requests http and https URLs",
            parsed.scheme()
        )));
    }
    let origin = Origin::from_url(&parsed);
    if origin.is_opaque() || parsed.host_str().is_none_or(str::is_empty) {
        return Err(usage(format!("'{url}' has no host")));
    }
    Ok((parsed, origin))
}

/// Parses a trusted origin: an origin, a pattern (`https://*.example.com`,
/// `http://localhost:*`), or any URL of the page.
fn trusted_origin(arg: &str) -> Result<AllowedOrigin, ScanError> {
    if arg.trim() == "*" {
        return Err(usage(
            "--origin *: give the origins of your own pages (every origin is what the scan probes for)",
        ));
    }
    if arg.contains('*') {
        return match AllowedOrigin::parse(arg) {
            Ok(AllowedOrigin::Any) | Err(_) => Err(usage(format!(
                "--origin {arg}: a pattern is scheme://*.host[:port] or scheme://host:*"
            ))),
            Ok(p) => Ok(p),
        };
    }
    let origin = if arg.contains("://") {
        Origin::from_url_str(arg)
    } else {
        Origin::parse_header(arg)
    }
    .map_err(|e| usage(format!("--origin {arg}: {e}")))?;
    match &origin {
        Origin::Opaque => Err(usage(format!(
            "--origin {arg}: `null` is never a safe origin to trust (any site can send it); give the origins of your own pages"
        ))),
        Origin::Tuple(t) if !matches!(t.scheme(), "http" | "https") => Err(usage(format!(
            "--origin {arg}: a page origin is http:// or https://"
        ))),
        _ => Ok(AllowedOrigin::Exact(origin.as_str().to_owned())),
    }
}

fn user_headers(args: &ScanArgs) -> Result<Vec<(String, String)>, ScanError> {
    let mut out = Vec::new();
    for h in &args.headers {
        let (name, value) = parse_header(h).map_err(ScanError::Usage)?;
        if !corsgate_core::headers::is_token(name.as_bytes()) {
            return Err(usage(format!(
                "--header '{h}': '{name}' is not a valid header name"
            )));
        }
        if value.bytes().any(|b| matches!(b, 0 | b'\r' | b'\n')) {
            return Err(usage(format!(
                "--header '{h}': a header value cannot contain NUL, CR or LF"
            )));
        }
        let lower = name.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "origin" | "host" | "content-length" | "connection" | "transfer-encoding"
        ) || lower.starts_with("access-control-request-")
        {
            return Err(usage(format!(
                "--header '{h}': the scanner sets {name} itself; give Cookie or Authorization headers here"
            )));
        }
        out.push((name, value));
    }
    Ok(out)
}

/// The wire request for the first step of an engine request, plus the
/// scanner's own headers.
fn engine_wire(
    profile: Profile,
    request: &Request,
    extra: &[(String, String)],
) -> Result<WireRequest, ScanError> {
    let mut browser = Browser::new(profile);
    let mut fetch = browser.fetch(request.clone());
    let out = match fetch.start() {
        Action::Send(out) => out,
        Action::Done(v) => {
            return Err(usage(format!(
                "the browser model refuses the probe before sending it: {}",
                v.reason.map(|r| r.message).unwrap_or_default()
            )))
        }
    };
    let origin = out
        .headers
        .get_str("origin")
        .unwrap_or_else(|| request.origin().as_str().to_owned());
    let mut wire = wire_request(&out, &origin, None);
    wire.headers.set("User-Agent", USER_AGENT);
    wire.headers.append("Cache-Control", "no-cache");
    if out.stage == corsgate_core::Stage::Actual {
        for (n, v) in extra {
            wire.headers.append(n.clone(), v.as_bytes());
        }
    }
    Ok(wire)
}

/// A GET built by hand, for the probes the engine does not send (no Origin,
/// or the target's own origin: a browser does not send `Origin` on a same-origin GET).
fn plain_get(url: &str, origin: Option<&str>, extra: &[(String, String)]) -> WireRequest {
    let mut headers = HeaderList::new();
    if let Some(o) = origin {
        headers.append("Origin", o);
    }
    headers.append("Accept", "*/*");
    headers.append("User-Agent", USER_AGENT);
    headers.append("Cache-Control", "no-cache");
    for (n, v) in extra {
        headers.append(n.clone(), v.as_bytes());
    }
    WireRequest {
        method: "GET".into(),
        url: url.to_owned(),
        headers,
        body: None,
    }
}

fn both(
    builder: impl Fn(Credentials) -> corsgate_core::request::RequestBuilder,
) -> Result<(Request, Request), ScanError> {
    let build = |c| {
        builder(c)
            .build()
            .map_err(|e| usage(format!("cannot build the probe: {e}")))
    };
    Ok((build(Credentials::Omit)?, build(Credentials::Include)?))
}

fn plan_requests(
    url: &str,
    profile: Profile,
    origins: &[PlannedOrigin],
    methods: &[String],
    extra: &[(String, String)],
    label: &str,
) -> Result<Vec<Planned>, ScanError> {
    let mut out = Vec::new();
    let reflection_origin = origins
        .iter()
        .find(|p| p.kind == ProbeKind::Trusted)
        .or_else(|| {
            origins
                .iter()
                .find(|p| p.kind == ProbeKind::Hostile(HostileClass::Reflection))
        })
        .and_then(|p| p.origin.clone());
    for p in origins {
        let Some(origin) = p.origin.as_deref() else {
            out.push(Planned {
                kind: p.kind,
                origin: None,
                request: ProbeRequest::Get,
                engine: None,
                wire: plain_get(url, None, extra),
            });
            continue;
        };
        if p.kind == ProbeKind::SameOrigin || !p.sendable {
            out.push(Planned {
                kind: p.kind,
                origin: Some(origin.to_owned()),
                request: ProbeRequest::Get,
                engine: None,
                wire: plain_get(url, Some(origin), extra),
            });
            continue;
        }
        let get = both(|c| Request::builder(origin, url).credentials(c))?;
        out.push(Planned {
            kind: p.kind,
            origin: Some(origin.to_owned()),
            request: ProbeRequest::Get,
            wire: engine_wire(profile, &get.0, extra)?,
            engine: Some(get),
        });
        // Every method for the controls; the first one for hostile origins.
        let asked = if p.kind.class().is_some() {
            &methods[..methods.len().min(1)]
        } else {
            methods
        };
        for m in asked {
            let pre = both(|c| {
                Request::builder(origin, url)
                    .method(m.clone())
                    .header("Content-Type", "application/json")
                    .credentials(c)
            })?;
            out.push(Planned {
                kind: p.kind,
                origin: Some(origin.to_owned()),
                request: ProbeRequest::Preflight,
                wire: engine_wire(profile, &pre.0, extra)?,
                engine: Some(pre),
            });
        }
        if reflection_origin.as_deref() == Some(origin) {
            let method = format!("CORSGATE{}", label.to_ascii_uppercase());
            let header = format!("X-Corsgate-{label}");
            let pre = both(|c| {
                Request::builder(origin, url)
                    .method(method.clone())
                    .header(header.clone(), "1")
                    .credentials(c)
            })?;
            out.push(Planned {
                kind: p.kind,
                origin: Some(origin.to_owned()),
                request: ProbeRequest::PreflightReflection,
                wire: engine_wire(profile, &pre.0, extra)?,
                engine: Some(pre),
            });
        }
    }
    Ok(out)
}

/// What a scan reports while it runs (the progress line).
pub trait Observer: Sync {
    /// The target's requests are planned: `n` of them.
    fn planned(&self, _n: usize) {}
    /// One request was answered (or failed).
    fn sent(&self) {}
}

/// The HTTP clients of one scan's request workers: `n` of them.
pub(crate) fn clients(
    n: usize,
    timeout: Duration,
    roots: &[rustls::pki_types::CertificateDer<'static>],
) -> Result<Vec<Client>, ScanError> {
    (0..n.max(1))
        .map(|_| {
            Client::new(timeout, roots.to_vec())
                .map_err(|e| usage(format!("cannot start the HTTP client: {e}")))
        })
        .collect()
}

/// Sends every request, one worker per client, each on its own connection.
fn send_all(
    planned: &[Planned],
    clients: &[Client],
    observer: &dyn Observer,
) -> Vec<Result<Response, NetError>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Response, NetError>>>> =
        Mutex::new(vec![None; planned.len()]);
    let work = |client: &Client| loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(p) = planned.get(i) else { break };
        let r = client.send(&p.wire);
        observer.sent();
        if let Ok(mut all) = results.lock() {
            all[i] = Some(r);
        }
    };
    let used = clients.len().min(planned.len());
    if used <= 1 {
        if let Some(c) = clients.first() {
            work(c);
        }
    } else {
        std::thread::scope(|s| {
            for c in &clients[..used] {
                s.spawn(|| work(c));
            }
        });
    }
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(NetError::Protocol {
                    url: String::new(),
                    message: "the probe was not sent".into(),
                })
            })
        })
        .collect()
}

/// The engine's verdict on an answer: a GET is read (or not); a preflight
/// lets the request through (or not). A redirect is not followed.
fn judge(profile: Profile, request: &Request, response: &Response) -> Access {
    let mut browser = Browser::new(profile);
    let mut fetch = browser.fetch(request.clone());
    let Action::Send(first) = fetch.start() else {
        return Access {
            allowed: false,
            refusal: Some("not_sent"),
        };
    };
    match fetch.respond(response.clone()) {
        Action::Done(v) => Access {
            allowed: v.allowed,
            refusal: v.reason.as_ref().map(|r| r.code),
        },
        // After a preflight: the browser would now send the request itself.
        Action::Send(next) if first.stage == corsgate_core::Stage::Preflight => {
            let _ = next;
            Access {
                allowed: true,
                refusal: None,
            }
        }
        // A redirect: where it leads is another resource.
        Action::Send(_) => Access {
            allowed: false,
            refusal: Some("redirect_not_followed"),
        },
    }
}

fn cors_lines(h: &HeaderList) -> Vec<(String, String)> {
    h.iter()
        .filter(|(n, _)| {
            let n = n.to_ascii_lowercase();
            n.starts_with("access-control-") || n == "vary" || n == "location"
        })
        .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
        .collect()
}

/// The label of the made-up method and header of the reflection preflight
/// (fixed: the verdict must not depend on a random draw).
const PROBE_LABEL: &str = "probe";

/// A trusted entry as the user would write it.
fn entry_string(e: &AllowedOrigin) -> String {
    match e {
        AllowedOrigin::Any => "*".to_owned(),
        AllowedOrigin::Exact(o) => o.clone(),
        AllowedOrigin::Pattern {
            scheme,
            host,
            subdomains,
            port,
        } => {
            let star = if *subdomains { "*." } else { "" };
            let port = match port {
                corsgate_core::origin_set::PortSpec::Default => String::new(),
                corsgate_core::origin_set::PortSpec::Exact(p) => format!(":{p}"),
                corsgate_core::origin_set::PortSpec::Any => ":*".to_owned(),
            };
            format!("{scheme}://{star}{host}{port}")
        }
    }
}

/// Whether an answer says something about the endpoint's CORS: not a
/// redirect, not 404/410 (no such resource), not a server error.
fn judged(r: &ProbeRecord) -> bool {
    r.status
        .is_some_and(|s| !(300..400).contains(&s) && s != 404 && s != 410 && s < 500)
}

/// The verdict on an origin no browser sends: a page "could read" the answer
/// if it echoes the origin byte for byte (and with credentials if it also
/// says `Access-Control-Allow-Credentials: true`).
fn judge_raw(origin: &str, response: &Response) -> (Access, Access) {
    let echoed = response
        .headers
        .get_str("access-control-allow-origin")
        .is_some_and(|v| v == origin);
    let credentials = response
        .headers
        .get_str("access-control-allow-credentials")
        .is_some_and(|v| v == "true");
    let access = |allowed: bool| Access {
        allowed,
        refusal: (!allowed).then_some("not_echoed"),
    };
    (access(echoed), access(echoed && credentials))
}

/// What every target of one run shares, validated once: the trusted
/// origins, the user's headers, the methods, the browser model, `--fail-on`.
pub struct Settings {
    trusted: Vec<AllowedOrigin>,
    extra: Vec<(String, String)>,
    methods: Vec<String>,
    profile: Profile,
    fail_on: Severity,
}

impl Settings {
    /// Validates the arguments every target shares.
    pub fn from_args(args: &ScanArgs) -> Result<Settings, ScanError> {
        let mut trusted: Vec<AllowedOrigin> = Vec::new();
        for o in &args.origins {
            let origin = trusted_origin(o)?;
            if !trusted.contains(&origin) {
                trusted.push(origin);
            }
        }
        let extra = user_headers(args)?;
        let methods: Vec<String> = if args.methods.is_empty() {
            DEFAULT_METHODS.iter().map(|m| (*m).to_owned()).collect()
        } else {
            let mut ms = Vec::new();
            for m in &args.methods {
                // Validated (and normalized) as fetch() does.
                let r = Request::builder("https://corsgate.invalid", "https://corsgate.invalid/")
                    .method(m.clone())
                    .build()
                    .map_err(|e| usage(format!("--method {m}: {e}")))?;
                if !ms.contains(&r.method().to_owned()) {
                    ms.push(r.method().to_owned());
                }
            }
            ms
        };
        Ok(Settings {
            trusted,
            extra,
            methods,
            profile: args.client.profile(),
            fail_on: args.fail_on.into(),
        })
    }
}

/// Checks a target URL as `scan` requests it and returns it normalized.
pub fn check_target(url: &str) -> Result<String, ScanError> {
    target(url).map(|(u, _)| u.to_string())
}

/// Scans one target with `clients` (one request worker each).
pub(crate) fn scan_target(
    settings: &Settings,
    url: &str,
    clients: &[Client],
    observer: &dyn Observer,
) -> Result<ScanReport, ScanError> {
    let (url, target_origin) = target(url)?;
    let url_str = url.to_string();
    let Settings {
        trusted,
        extra,
        methods,
        profile,
        fail_on,
    } = settings;
    let (profile, methods, extra) = (*profile, methods.clone(), extra.as_slice());
    let label = PROBE_LABEL;
    let trusted_cross: Vec<AllowedOrigin> = trusted
        .iter()
        .filter(|t| !matches!(t, AllowedOrigin::Exact(o) if o == target_origin.as_str()))
        .cloned()
        .collect();
    let origins = probes::plan(&target_origin, &trusted_cross);
    let planned = plan_requests(&url_str, profile, &origins, &methods, extra, label)?;
    observer.planned(planned.len());
    let answers = send_all(&planned, clients, observer);
    if let Some(Err(e)) = answers.iter().find(|r| r.is_err()) {
        if answers.iter().all(Result::is_err) {
            return Err(ScanError::Unreachable(e.clone()));
        }
    }
    let mut records = Vec::with_capacity(planned.len());
    for (id, (p, answer)) in planned.iter().zip(answers).enumerate() {
        let requested_method = p.wire.headers.get_str("access-control-request-method");
        let requested_headers = p.wire.headers.get_str("access-control-request-headers");
        let mut record = ProbeRecord {
            id,
            kind: p.kind,
            origin: p.origin.clone(),
            request: p.request,
            method: p.wire.method.clone(),
            requested_method,
            requested_headers,
            status: None,
            headers: Vec::new(),
            error: None,
            without_credentials: None,
            with_credentials: None,
            response: None,
        };
        match answer {
            Ok(response) => {
                record.status = Some(response.status);
                record.headers = cors_lines(&response.headers);
                if let Some((omit, include)) = &p.engine {
                    record.without_credentials = Some(judge(profile, omit, &response));
                    record.with_credentials = Some(judge(profile, include, &response));
                } else if let (Some(_), Some(origin)) = (p.kind.class(), &p.origin) {
                    let (without, with) = judge_raw(origin, &response);
                    record.without_credentials = Some(without);
                    record.with_credentials = Some(with);
                }
                record.response = Some(response);
            }
            Err(e) => {
                record.error = Some(ProbeFailure {
                    code: e.code(),
                    message: e.to_string(),
                });
            }
        }
        records.push(record);
    }
    let plan_info: Vec<PlannedOrigin> = origins;
    let trusted_strings: Vec<String> = trusted_cross.iter().map(entry_string).collect();
    let (found, policy) = findings::find(&records, &plan_info, &trusted_strings, &methods, label);
    let summary = Summary {
        probes: records.len(),
        failed: records.iter().filter(|r| r.error.is_some()).count(),
        judged: records.iter().filter(|r| judged(r)).count(),
        ..Summary::default()
    };
    let mut report = ScanReport {
        schema: SCHEMA,
        target: TargetInfo {
            url: url_str,
            origin: target_origin.as_str().to_owned(),
            registrable_domain: url.host_str().and_then(probes::registrable_domain),
        },
        browser: profile.name(),
        trusted_origins: trusted.iter().map(entry_string).collect(),
        methods,
        attacker_domain: format!("{LABEL_LETTERS}.net"),
        summary,
        findings: found,
        suppressed: Vec::new(),
        fail_on: *fail_on,
        policy,
        probes: records,
    };
    report.recount();
    Ok(report)
}

/// `--fail-on`: the lowest severity that fails the run.
impl From<FailOnArg> for Severity {
    fn from(f: FailOnArg) -> Self {
        match f {
            FailOnArg::Info => Severity::Info,
            FailOnArg::Low => Severity::Low,
            FailOnArg::Medium => Severity::Medium,
            FailOnArg::High => Severity::High,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use proptest::prelude::*;

    #[test]
    fn targets_are_http_urls_with_a_host() {
        let cases = [
            ("https://api.example.com/me", Ok("https://api.example.com")),
            ("http://127.0.0.1:8080/x?y", Ok("http://127.0.0.1:8080")),
            (
                "HTTPS://API.Example.COM:443/",
                Ok("https://api.example.com"),
            ),
            ("ftp://files.example.com/", Err("ftp: URL")),
            ("file:///etc/passwd", Err("file: URL")),
            ("data:text/plain,x", Err("data: URL")),
            ("api.example.com/me", Err("not a valid URL")),
            ("", Err("not a valid URL")),
        ];
        for (url, want) in cases {
            match (target(url), want) {
                (Ok((_, origin)), Ok(o)) => assert_eq!(origin.as_str(), o, "{url}"),
                (Err(e), Err(says)) => {
                    assert!(matches!(e, ScanError::Usage(_)), "{url}");
                    assert!(e.to_string().contains(says), "{url}: {e}");
                }
                (got, want) => panic!("{url}: got {:?}, want {want:?}", got.map(|g| g.1)),
            }
        }
    }

    #[test]
    fn trusted_origins_are_origins_or_patterns_never_null_or_any() {
        let ok = [
            ("https://app.example.com", "https://app.example.com"),
            (
                "https://app.example.com/page?q=1",
                "https://app.example.com",
            ),
            ("http://localhost:3000", "http://localhost:3000"),
            ("https://*.example.com", "https://*.example.com"),
            ("http://localhost:*", "http://localhost:*"),
        ];
        for (arg, entry) in ok {
            let parsed = trusted_origin(arg).unwrap_or_else(|e| panic!("{arg}: {e}"));
            assert_eq!(entry_string(&parsed), entry, "{arg}");
        }
        let refused = [
            ("*", "every origin"),
            (" * ", "every origin"),
            ("null", "never a safe origin"),
            ("ftp://app.example.com", "http:// or https://"),
            ("https://*", "a pattern is"),
        ];
        for (arg, says) in refused {
            let e = trusted_origin(arg).expect_err(arg);
            assert!(e.to_string().contains(says), "{arg}: {e}");
        }
    }

    proptest! {
        /// What `--origin` accepts prints back as an entry that parses to
        /// the same thing (the policy suggestion and the report use it).
        #[test]
        fn trusted_entries_round_trip(
            scheme in prop::sample::select(vec!["http", "https"]),
            labels in prop::collection::vec("[a-z][a-z0-9]{0,6}", 1..4),
            wildcard in any::<bool>(),
            port in prop::option::of(prop_oneof![Just(None), (1u16..).prop_map(Some)]),
        ) {
            let host = format!("{}.example", labels.join("."));
            let star = if wildcard { "*." } else { "" };
            let port = match port {
                None => String::new(),
                Some(None) => ":*".to_owned(),
                Some(Some(p)) => format!(":{p}"),
            };
            let arg = format!("{scheme}://{star}{host}{port}");
            let parsed = trusted_origin(&arg);
            prop_assert!(parsed.is_ok(), "{}: {:?}", arg, parsed.as_ref().err().map(ToString::to_string));
            let parsed = parsed.expect("checked");
            let again = trusted_origin(&entry_string(&parsed)).expect("its own entry parses");
            prop_assert_eq!(&again, &parsed);
            prop_assert!(!matches!(parsed, AllowedOrigin::Any));
        }
    }

    #[test]
    fn a_raw_origin_is_read_only_when_echoed_byte_for_byte() {
        let origin = "https://app.example.com`.evil.net";
        /// (the answer's lines, (read without credentials, with))
        type Case<'a> = (&'a [(&'a str, &'a str)], (bool, bool));
        let cases: &[Case] = &[
            (&[], (false, false)),
            (&[("Access-Control-Allow-Origin", origin)], (true, false)),
            (
                &[
                    ("Access-Control-Allow-Origin", origin),
                    ("Access-Control-Allow-Credentials", "true"),
                ],
                (true, true),
            ),
            (
                &[
                    ("Access-Control-Allow-Origin", origin),
                    ("Access-Control-Allow-Credentials", "TRUE"),
                ],
                (true, false),
            ),
            (&[("Access-Control-Allow-Origin", "*")], (false, false)),
            (
                &[(
                    "Access-Control-Allow-Origin",
                    "https://APP.example.com`.evil.net",
                )],
                (false, false),
            ),
        ];
        for (headers, (read, with_credentials)) in cases {
            let mut r = Response::new(200);
            for (n, v) in *headers {
                r = r.header(*n, *v);
            }
            let (plain, creds) = judge_raw(origin, &r);
            assert_eq!(
                (plain.allowed, creds.allowed),
                (*read, *with_credentials),
                "{headers:?}"
            );
            assert_eq!(plain.refusal.is_none(), plain.allowed);
            assert_eq!(creds.refusal, (!creds.allowed).then_some("not_echoed"));
        }
    }

    #[test]
    fn the_engine_judges_a_probe_answer_as_a_browser() {
        let req = |origin: &str, method: &str, credentials| {
            Request::builder(origin, "https://api.example/me")
                .method(method)
                .credentials(credentials)
                .build()
                .unwrap()
        };
        let app = "https://app.example";
        let cases = [
            (
                req(app, "GET", Credentials::Omit),
                Response::new(200).header("Access-Control-Allow-Origin", app),
                true,
                None,
            ),
            (
                req(app, "GET", Credentials::Omit),
                Response::new(200).header("Access-Control-Allow-Origin", "*"),
                true,
                None,
            ),
            (
                req(app, "GET", Credentials::Include),
                Response::new(200).header("Access-Control-Allow-Origin", "*"),
                false,
                Some("wildcard_origin_with_credentials"),
            ),
            (
                req(app, "GET", Credentials::Omit),
                Response::new(200),
                false,
                Some("missing_allow_origin"),
            ),
            (
                req(app, "GET", Credentials::Omit),
                Response::new(302)
                    .header("Location", "https://api.example/x")
                    .header("Access-Control-Allow-Origin", app),
                false,
                Some("redirect_not_followed"),
            ),
            (
                req(app, "PUT", Credentials::Omit),
                Response::new(204)
                    .header("Access-Control-Allow-Origin", app)
                    .header("Access-Control-Allow-Methods", "PUT"),
                true,
                None,
            ),
            (
                req(app, "PUT", Credentials::Omit),
                Response::new(204).header("Access-Control-Allow-Origin", app),
                false,
                Some("method_not_allowed"),
            ),
        ];
        for (request, response, allowed, refusal) in cases {
            let a = judge(Profile::Chromium, &request, &response);
            assert_eq!(
                (a.allowed, a.refusal),
                (allowed, refusal),
                "{} {:?}",
                request.method(),
                response
            );
        }
    }

    #[test]
    fn only_cors_vary_and_location_lines_are_kept_in_order() {
        let mut h = HeaderList::new();
        for (n, v) in [
            ("Content-Type", "text/plain"),
            ("access-control-allow-origin", "https://a.example"),
            ("Vary", "Origin"),
            ("Set-Cookie", "s=1"),
            ("Location", "/x"),
            ("ACCESS-CONTROL-ALLOW-CREDENTIALS", "true"),
            ("X-Access-Control-Fake", "1"),
        ] {
            h.append(n, v);
        }
        let kept: Vec<String> = cors_lines(&h).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            kept,
            [
                "access-control-allow-origin",
                "Vary",
                "Location",
                "ACCESS-CONTROL-ALLOW-CREDENTIALS"
            ]
        );
    }

    #[test]
    fn user_headers_are_what_a_signed_in_request_carries_not_what_the_scanner_sets() {
        let parse = |h: &str| {
            let cli =
                crate::Cli::try_parse_from(["corsgate", "scan", "https://a.example/", "-H", h])
                    .expect("parses");
            match cli.command {
                crate::Command::Scan(a) => user_headers(&a),
                _ => unreachable!(),
            }
        };
        for ok in [
            "Cookie: session=1",
            "Authorization: Bearer x",
            "X-Api-Key: a:b",
        ] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
        let refused = [
            ("Origin: https://x.example", "sets Origin itself"),
            ("host: x", "sets host itself"),
            ("Access-Control-Request-Method: PUT", "itself"),
            ("Content-Length: 5", "itself"),
            ("Bad Name: x", "not a valid header name"),
            ("nocolon", "has no ':'"),
            ("X-A: a\rb", "NUL, CR or LF"),
        ];
        for (h, says) in refused {
            let e = parse(h).expect_err(h);
            assert!(e.to_string().contains(says), "{h}: {e}");
        }
    }
}
