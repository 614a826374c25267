//! The tightest policy that allows a set of observed cross-origin requests
//! (server role, from traffic): each origin, method, request header and
//! exposed response header that some observed request needed, and nothing
//! else; credentials only when a request carried them.
//!
//! The proposal is a [`PolicyConfig`] that goes through the same validation
//! as any policy, so it can never hold `null`, `*` with credentials, or a
//! reflected origin: an observed `null` origin is listed among the requests
//! the proposal refuses, with why. Origin patterns appear only when the caller
//! asks for one (the CLI refuses a pattern over a public suffix before it
//! gets here), and each pattern replaces the exact origins it covers.
//!
//! ```
//! use corsgate_core::infer::{infer, InferOptions, Observed};
//!
//! let seen = [
//!     Observed::new("https://app.example", "PATCH").header("X-CSRF", "1").credentials(true),
//!     Observed::new("https://admin.example", "GET").expose("x-total"),
//! ];
//! let inference = infer(&seen, &InferOptions::default())?;
//! let config = inference.config();
//! assert_eq!(config.origins, ["https://admin.example", "https://app.example"]);
//! assert_eq!(config.methods, ["PATCH"]);
//! assert_eq!(config.request_headers, ["x-csrf"]);
//! assert_eq!(config.expose_headers, ["x-total"]);
//! assert!(config.credentials);
//! assert!(seen.iter().all(|o| inference.allows(o)));
//! assert!(!inference.allows(&Observed::new("https://evil.example", "GET")));
//! # Ok::<(), corsgate_core::infer::InferError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use http::{HeaderMap, Method};

use crate::decision::Action as Decided;
use crate::policy::{Policy, PolicyConfig, PolicyErrors};
use crate::safelist::{
    is_forbidden_request_header, is_forbidden_response_header, is_safelisted_response_header,
    unsafe_request_header_names,
};
use crate::{Browser, Credentials, HeaderList, Origin, Profile, Request, Response};

/// The URL every replayed request goes to: inference judges a policy, not a
/// route, so any cross-origin URL does.
const REPLAY_URL: &str = "https://corsgate-infer.invalid/";

/// Methods a policy never needs to list (the CORS-safelisted ones).
fn is_safelisted_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "POST")
}

/// One cross-origin request seen in traffic: what the page sent and what it
/// needed to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The `Origin` header as sent (`null` included: it is refused).
    pub origin: String,
    /// The actual request's method, as sent (methods are case-sensitive).
    pub method: String,
    /// The request headers the page set, with their values (browser-added
    /// and forbidden ones may be given too: they are ignored, and safelisted
    /// ones count only when their value makes them unsafe).
    pub headers: HeaderList,
    /// Header names a preflight announced in `Access-Control-Request-Headers`
    /// (when the traffic shows the preflight but not the values).
    pub announced: Vec<String>,
    /// Whether the request carried credentials (cookies, HTTP authentication).
    pub credentials: bool,
    /// Response header names the page needed to read (safelisted ones are
    /// readable anyway and are ignored).
    pub expose: Vec<String>,
    /// Where it was seen, for the proposal's comments (`app.har #12 PATCH https://…`).
    pub source: String,
}

impl Observed {
    /// A request from `origin` with `method`, no custom headers, no
    /// credentials, nothing to read beyond the safelisted headers.
    pub fn new(origin: impl Into<String>, method: impl Into<String>) -> Self {
        let (origin, method) = (origin.into(), method.into());
        Observed {
            source: format!("{method} from {origin}"),
            origin,
            method,
            headers: HeaderList::new(),
            announced: Vec::new(),
            credentials: false,
            expose: Vec::new(),
        }
    }
    /// Adds a request header the page set.
    pub fn header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        self.headers.append(name, value);
        self
    }
    /// Adds a header name a preflight announced.
    pub fn announced(mut self, name: impl Into<String>) -> Self {
        self.announced.push(name.into());
        self
    }
    /// Sets whether credentials were carried.
    pub fn credentials(mut self, yes: bool) -> Self {
        self.credentials = yes;
        self
    }
    /// Adds a response header name the page needed to read.
    pub fn expose(mut self, name: impl Into<String>) -> Self {
        self.expose.push(name.into());
        self
    }
    /// Sets where the request was seen.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// The header names that need listing: the CORS-unsafe names of the
    /// headers sent (as a browser computes them) and the announced names,
    /// lower case.
    fn listed_headers(&self) -> Vec<String> {
        let mut sent = HeaderList::new();
        for (name, value) in self.headers.iter() {
            if !is_forbidden_request_header(&name.to_ascii_lowercase(), value) {
                sent.append(name, value);
            }
        }
        let mut names: Vec<String> = unsafe_request_header_names(&sent, Profile::Chromium)
            .into_iter()
            .map(|u| u.name)
            .collect();
        names.extend(
            self.announced
                .iter()
                .flat_map(|v| v.split(','))
                .map(|n| n.trim().to_ascii_lowercase())
                .filter(|n| !n.is_empty() && !is_forbidden_request_header(n, b"")),
        );
        dedup(names.into_iter())
    }

    /// Whether `policy` lets a page read the response to this request: the
    /// request replayed through the browser role (Chromium) against the
    /// policy's own decisions, the headers the page reads included.
    pub fn allowed_by(&self, policy: &Policy) -> bool {
        replay(policy, self, Profile::Chromium)
    }

    /// The response header names that need exposing.
    fn exposed(&self) -> impl Iterator<Item = String> + '_ {
        self.expose
            .iter()
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| {
                !n.is_empty()
                    && !is_safelisted_response_header(n)
                    && !is_forbidden_response_header(n)
                    && !n.starts_with("access-control-")
            })
    }
}

/// What the caller can choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InferOptions {
    /// Origin patterns the user asked for (`https://*.preview.example.com`);
    /// each replaces the observed origins it matches. Validated as policy
    /// origins; a pattern no observed origin needs is refused.
    pub patterns: Vec<String>,
    /// The preflight cache lifetime to propose when some request needed a
    /// preflight (600 s by default: WebKit's cap, below Chromium's 7,200 s).
    pub max_age: u32,
}

impl Default for InferOptions {
    fn default() -> Self {
        InferOptions {
            patterns: Vec::new(),
            max_age: 600,
        }
    }
}

/// Why no proposal could be made.
#[derive(Debug)]
pub enum InferError {
    /// A requested pattern is not a valid policy origin, or no observed origin
    /// needs it.
    Pattern {
        /// The pattern.
        pattern: String,
        /// Why.
        why: String,
    },
    /// The proposal did not validate (a bug in inference; never silently
    /// weakened).
    Invalid(PolicyErrors),
}

impl fmt::Display for InferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InferError::Pattern { pattern, why } => write!(f, "pattern `{pattern}`: {why}"),
            InferError::Invalid(e) => write!(f, "the inferred policy does not validate: {e}"),
        }
    }
}

impl std::error::Error for InferError {}

/// An observed request the proposal refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unallowable {
    /// Where it was seen.
    pub source: String,
    /// The origin it came from.
    pub origin: String,
    /// Why no safe policy allows it.
    pub why: &'static str,
}

/// Which requests needed one value of the proposal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uses {
    /// How many observed requests needed it.
    pub count: usize,
    /// The first few, by source.
    pub examples: Vec<String>,
}

impl Uses {
    const EXAMPLES: usize = 2;
    fn add(&mut self, source: &str) {
        self.count += 1;
        if self.examples.len() < Self::EXAMPLES {
            self.examples.push(source.to_owned());
        }
    }
}

/// A proposed policy, each value with the requests that needed it.
#[derive(Debug, Clone)]
pub struct Inference {
    config: PolicyConfig,
    policy: Option<Policy>,
    origins: BTreeMap<String, Uses>,
    methods: BTreeMap<String, Uses>,
    headers: BTreeMap<String, Uses>,
    expose: BTreeMap<String, Uses>,
    credentials: Uses,
    preflighted: Uses,
    refused: Vec<Unallowable>,
    observed: usize,
}

/// Something the current policy allows that the proposal refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narrowing {
    /// The setting (`origins`, `methods`, …).
    pub setting: &'static str,
    /// The value allowed today (`*` included).
    pub value: String,
}

/// Proposes the tightest policy that allows every observed request a safe
/// policy can allow.
pub fn infer(observed: &[Observed], options: &InferOptions) -> Result<Inference, InferError> {
    let mut patterns: Vec<(String, Policy)> = Vec::new();
    for p in &options.patterns {
        let policy =
            Policy::builder()
                .origin(p.clone())
                .build()
                .map_err(|e| InferError::Pattern {
                    pattern: p.clone(),
                    why: e.to_string(),
                })?;
        if policy.origins().is_any() {
            return Err(InferError::Pattern {
                pattern: p.clone(),
                why: "`*` is not a pattern: it allows every origin".into(),
            });
        }
        patterns.push((p.clone(), policy));
    }
    let mut inf = Inference {
        config: PolicyConfig::default(),
        policy: None,
        origins: BTreeMap::new(),
        methods: BTreeMap::new(),
        headers: BTreeMap::new(),
        expose: BTreeMap::new(),
        credentials: Uses::default(),
        preflighted: Uses::default(),
        refused: Vec::new(),
        observed: observed.len(),
    };
    for o in observed {
        let origin = match Origin::parse_header(o.origin.trim()) {
            Ok(origin) if origin.is_opaque() => {
                inf.refused.push(Unallowable {
                    source: o.source.clone(),
                    origin: o.origin.clone(),
                    why: "an opaque origin (`null`: a sandboxed page, a file, or a redirect \
                          across origins) can be sent by any site; no safe policy allows it",
                });
                continue;
            }
            Ok(origin)
                if !origin
                    .tuple()
                    .is_some_and(|t| matches!(t.scheme(), "http" | "https")) =>
            {
                inf.refused.push(Unallowable {
                    source: o.source.clone(),
                    origin: o.origin.clone(),
                    why: "not an http(s) origin",
                });
                continue;
            }
            Ok(origin) => origin,
            Err(_) => {
                inf.refused.push(Unallowable {
                    source: o.source.clone(),
                    origin: o.origin.clone(),
                    why: "not a valid serialized origin (a browser never sends it)",
                });
                continue;
            }
        };
        // A method or header name no browser sends (a hand-edited or hostile
        // recording) is refused here, not left to fail the whole proposal.
        let (listed, exposed) = (o.listed_headers(), dedup(o.exposed()));
        let names_ok = crate::method::is_valid(o.method.trim())
            && listed
                .iter()
                .chain(&exposed)
                .all(|n| crate::headers::is_token(n.as_bytes()));
        if !names_ok {
            inf.refused.push(Unallowable {
                source: o.source.clone(),
                origin: o.origin.clone(),
                why: "its method or a header name is not one a browser sends",
            });
            continue;
        }
        let entry = patterns
            .iter()
            .find(|(_, p)| allows_origin(p, origin.as_str()))
            .map_or_else(|| origin.as_str().to_owned(), |(name, _)| name.clone());
        inf.origins.entry(entry).or_default().add(&o.source);
        let method = o.method.trim();
        let mut preflight = false;
        if !is_safelisted_method(method) {
            inf.methods
                .entry(method.to_owned())
                .or_default()
                .add(&o.source);
            preflight = true;
        }
        for h in listed {
            inf.headers.entry(h).or_default().add(&o.source);
            preflight = true;
        }
        for h in exposed {
            inf.expose.entry(h).or_default().add(&o.source);
        }
        if o.credentials {
            inf.credentials.add(&o.source);
        }
        if preflight {
            inf.preflighted.add(&o.source);
        }
    }
    for (p, _) in &patterns {
        if !inf.origins.contains_key(p) {
            return Err(InferError::Pattern {
                pattern: p.clone(),
                why: "no observed origin matches it; it would only widen the policy".into(),
            });
        }
    }
    inf.config = PolicyConfig {
        origins: inf.origins.keys().cloned().collect(),
        methods: inf.methods.keys().cloned().collect(),
        request_headers: inf.headers.keys().cloned().collect(),
        expose_headers: inf.expose.keys().cloned().collect(),
        credentials: inf.credentials.count > 0,
        max_age: (inf.preflighted.count > 0).then_some(i64::from(options.max_age)),
        ..PolicyConfig::default()
    };
    // No origin to allow (every request refused, or none seen): no policy.
    if !inf.config.origins.is_empty() {
        inf.policy = Some(inf.config.build().map_err(InferError::Invalid)?);
    }
    Ok(inf)
}

fn dedup(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = names.collect();
    v.sort();
    v.dedup();
    v
}

/// Whether `policy` allows the serialized origin (its own matcher).
fn allows_origin(policy: &Policy, origin: &str) -> bool {
    use crate::origin_set::OriginMatch;
    http::HeaderValue::from_str(origin).is_ok_and(|v| {
        matches!(
            policy.origins().matches(&v),
            OriginMatch::Any
                | OriginMatch::Exact(_)
                | OriginMatch::Pattern
                | OriginMatch::PatternSeen(_)
        )
    })
}

impl Inference {
    /// The proposed settings.
    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }
    /// The proposed policy, validated; `None` when no observed request
    /// can be allowed (a policy needs at least one origin).
    pub fn policy(&self) -> Option<&Policy> {
        self.policy.as_ref()
    }
    /// The observed requests no safe policy allows, with why.
    pub fn refused(&self) -> &[Unallowable] {
        &self.refused
    }
    /// How many requests were observed.
    pub fn observed(&self) -> usize {
        self.observed
    }

    /// Whether the proposal lets a page read the response to `o`: the
    /// request replayed through the browser role (Chromium) against the
    /// proposal's own decisions, its exposed headers included.
    pub fn allows(&self, o: &Observed) -> bool {
        self.policy.as_ref().is_some_and(|p| o.allowed_by(p))
    }

    /// What `current` allows that the proposal refuses: the values of each
    /// setting not in the proposal (`*` included), credentials when the
    /// proposal drops them, and a longer cache lifetime.
    pub fn narrowings(&self, current: &PolicyConfig) -> Vec<Narrowing> {
        let mut out = Vec::new();
        let missing = |setting: &'static str,
                       now: &[String],
                       proposed: &[String],
                       out: &mut Vec<Narrowing>,
                       fold: fn(&str) -> String| {
            for v in now {
                if !proposed.iter().any(|p| fold(p) == fold(v)) {
                    out.push(Narrowing {
                        setting,
                        value: v.clone(),
                    });
                }
            }
        };
        let same = |s: &str| s.to_owned();
        let lower = |s: &str| s.to_ascii_lowercase();
        missing(
            "origins",
            &current.origins,
            &self.config.origins,
            &mut out,
            same,
        );
        missing(
            "methods",
            &current.methods,
            &self.config.methods,
            &mut out,
            same,
        );
        missing(
            "request_headers",
            &current.request_headers,
            &self.config.request_headers,
            &mut out,
            lower,
        );
        missing(
            "expose_headers",
            &current.expose_headers,
            &self.config.expose_headers,
            &mut out,
            lower,
        );
        if current.credentials && !self.config.credentials {
            out.push(Narrowing {
                setting: "credentials",
                value: "true".into(),
            });
        }
        if current.private_network {
            out.push(Narrowing {
                setting: "private_network",
                value: "true".into(),
            });
        }
        // A longer preflight cache lifetime (none proposed: no preflight seen).
        if let Some(now) = current.max_age {
            if self.config.max_age.is_none_or(|proposed| now > proposed) {
                out.push(Narrowing {
                    setting: "max_age",
                    value: now.to_string(),
                });
            }
        }
        out
    }

    /// The proposal as TOML, each value with a comment saying which requests
    /// need it.
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# Inferred by corsgate from {} observed cross-origin request{}: the tightest policy \
             that allows every one a safe policy can allow.",
            self.observed,
            if self.observed == 1 { "" } else { "s" }
        );
        // Refused requests, one line per origin and reason.
        let mut groups: BTreeMap<(&str, &str), Uses> = BTreeMap::new();
        for r in &self.refused {
            groups.entry((&r.origin, r.why)).or_default().add(&r.source);
        }
        for ((origin, why), uses) in &groups {
            let _ = writeln!(
                s,
                "# not allowed: origin {}: {}; {}",
                one_line(&toml_str(origin)),
                why,
                uses_comment(uses, "came from it")
            );
        }
        list(&mut s, "origins", &self.origins);
        list(&mut s, "methods", &self.methods);
        list(&mut s, "request_headers", &self.headers);
        list(&mut s, "expose_headers", &self.expose);
        if self.config.credentials {
            let _ = writeln!(
                s,
                "credentials = true  # {}",
                uses_comment(&self.credentials, "carried cookies or authentication")
            );
        }
        if let Some(age) = self.config.max_age {
            let _ = writeln!(
                s,
                "max_age = {age}  # {}",
                uses_comment(&self.preflighted, "needed a preflight")
            );
        }
        s
    }
}

fn list(s: &mut String, key: &str, values: &BTreeMap<String, Uses>) {
    if values.is_empty() && key != "origins" {
        return;
    }
    let _ = writeln!(s, "{key} = [");
    for (v, uses) in values {
        let _ = writeln!(
            s,
            "  {},  # {}",
            toml_str(v),
            uses_comment(uses, "needed it")
        );
    }
    let _ = writeln!(s, "]");
}

fn uses_comment(uses: &Uses, what: &str) -> String {
    let mut c = format!(
        "{} request{} {what}",
        uses.count,
        if uses.count == 1 { "" } else { "s" }
    );
    if !uses.examples.is_empty() {
        let ex: Vec<String> = uses.examples.iter().map(|e| one_line(e)).collect();
        let _ = write!(c, ", e.g. {}", ex.join("; "));
    }
    c
}

/// A value as a TOML basic string (escapes included).
fn toml_str(v: &str) -> String {
    let mut out = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text safe inside a TOML comment: one line, control characters shown
/// escaped, clipped.
fn one_line(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().take(160) {
        if c.is_control() {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Replays `o` through the browser role against `policy`'s decisions.
fn replay(policy: &Policy, o: &Observed, profile: Profile) -> bool {
    // Only what a browser sends as `Origin` (the builder would also take a
    // page URL and reduce it to its origin).
    if Origin::parse_header(o.origin.trim()).map_or(true, |origin| origin.is_opaque()) {
        return false;
    }
    let mut b = Request::builder(o.origin.trim(), REPLAY_URL).method(o.method.trim());
    // An announced name was unsafe whatever value the traffic shows (or
    // hides): replay it with a value no safelist accepts.
    let mut headers = o.headers.clone();
    for name in o.announced.iter().flat_map(|v| v.split(',')).map(str::trim) {
        if !name.is_empty() {
            headers.set(name, "\"");
        }
    }
    for (name, value) in headers.iter() {
        b = b.header(name, value);
    }
    if o.credentials {
        b = b.credentials(Credentials::Include);
    }
    let Ok(request) = b.build() else {
        return false;
    };
    let expose: Vec<String> = o.exposed().collect();
    let mut browser = Browser::new(profile);
    let verdict = browser.run(request, |out| {
        let method = Method::from_bytes(out.method.as_bytes()).map_err(|_| ())?;
        let (headers, _) = out.headers.to_http();
        let decision = policy.decide(&method, &headers);
        Ok::<_, ()>(match decision.action() {
            Decided::Respond(status) => Response::with_headers(
                status.as_u16(),
                HeaderList::from_http(&decision.headers().to_header_map()),
            ),
            Decided::PassOn => {
                let mut map = HeaderMap::new();
                for name in &expose {
                    if let (Ok(n), Ok(v)) = (
                        http::HeaderName::from_bytes(name.as_bytes()),
                        http::HeaderValue::from_str("1"),
                    ) {
                        map.append(n, v);
                    }
                }
                decision.into_headers().apply_to(&mut map);
                Response::with_headers(200, HeaderList::from_http(&map))
            }
        })
    });
    match verdict {
        Ok(v) => v.allowed && expose.iter().all(|n| v.exposed_headers.contains(n)),
        Err(()) => false,
    }
}
