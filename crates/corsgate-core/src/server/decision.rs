//! The server role's decision for one request: pass it on (with the CORS
//! headers to add to the response) or answer it here (a preflight), and why.
//!
//! [`Policy::decide`] classifies the request the way the Fetch standard does:
//!
//! * no `Origin` header: **not a CORS request**, passed on (with `Vary: Origin`
//!   when the answer depends on the origin, so shared caches stay correct);
//! * exactly `OPTIONS` with `Origin` and `Access-Control-Request-Method`: a
//!   **preflight**, answered here, 204 with the CORS headers or 403 without
//!   them (in debug mode, 204 with the partial headers that make the browser
//!   console name the failing check);
//! * anything else with `Origin` (including other `OPTIONS` requests): an
//!   **actual request**, passed on, with `Access-Control-Allow-Origin` and the
//!   rest added only when the origin is allowed.
//!
//! On the allowed actual-request path nothing is allocated: the header values
//! are precomputed in the policy (or, for a pattern match, the request's own
//! `Origin` value is reused), and the [`Decision`] lives on the stack.

use std::cell::OnceCell;
use std::fmt;
use std::sync::Arc;

use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::headers::{is_token, trim_ows};
use crate::server::fast::fx::hash_bytes;
use crate::server::fast::template::PassTemplate;
use crate::server::origin_set::{OriginKey, OriginMatch};
use crate::server::policy::{HeaderRule, MethodRule, Policy};

/// The most `Access-Control-Request-Headers` bytes (all lines together) read.
pub(crate) const MAX_REQUEST_HEADERS_BYTES: usize = 8 * 1024;
/// The most `Access-Control-Request-Headers` lines read.
pub(crate) const MAX_REQUEST_HEADERS_LINES: usize = 16;
/// The most header names one preflight may ask for.
pub(crate) const MAX_REQUEST_HEADERS_NAMES: usize = 128;
/// The most empty elements (`a,,b`) tolerated in `Access-Control-Request-Headers`.
pub(crate) const MAX_REQUEST_HEADERS_EMPTY: usize = 16;

static TRUE: HeaderValue = fresh::TRUE;
static VARY_ORIGIN: HeaderValue = fresh::VARY_ORIGIN;

/// Fixed values as `const` items: each use is a value built at compile time,
/// where cloning a `static` one is an indirect call through `Bytes`' vtable
/// (a few nanoseconds each, on a path that costs about a hundred).
#[allow(clippy::declare_interior_mutable_const)]
mod fresh {
    use http::HeaderValue;
    pub(super) const TRUE: HeaderValue = HeaderValue::from_static("true");
    pub(super) const ANY: HeaderValue = HeaderValue::from_static("*");
    pub(super) const VARY_ORIGIN: HeaderValue = HeaderValue::from_static("origin");
}
const ACAPN: &str = "access-control-allow-private-network";
const ACRPN: &str = "access-control-request-private-network";

/// What kind of request it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// No `Origin` header.
    NotCors,
    /// `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
    Preflight,
    /// Any other request with `Origin`.
    Actual,
}

/// What to do with the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Call the inner service and add [`Decision::headers`] to its response,
    /// whatever its status.
    PassOn,
    /// Do not call the inner service: answer with this status, an empty body
    /// and [`Decision::headers`].
    Respond(StatusCode),
}

/// A header name short enough to carry in a [`Reason`] without allocating
/// (longer names are cut, and shown with `…`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ShortName {
    buf: [u8; 40],
    len: u8,
    cut: bool,
}

impl ShortName {
    fn new(name: &[u8]) -> Self {
        let mut buf = [0u8; 40];
        let len = name.len().min(buf.len());
        for (d, s) in buf.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        ShortName {
            buf,
            len: len as u8,
            cut: name.len() > len,
        }
    }
    /// The (lower-cased, possibly cut) name.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("?")
    }
}

impl fmt::Debug for ShortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

impl fmt::Display for ShortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        if self.cut {
            f.write_str("…")?;
        }
        Ok(())
    }
}

/// Why the decision was made, for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// No `Origin` header: not a cross-origin request from a browser.
    NotCors,
    /// The policy allows any origin.
    AnyOrigin,
    /// The origin is allowed.
    OriginAllowed,
    /// The origin is well formed but not allowed.
    OriginNotAllowed,
    /// The `Origin` value is not one a browser sends (or is `null`).
    OriginMalformed,
    /// Several `Origin` header lines.
    MultipleOrigins,
    /// The preflight asked for nothing the policy refuses.
    PreflightAllowed,
    /// The preflight asked for a method the policy does not allow.
    MethodNotAllowed,
    /// `Access-Control-Request-Method` is not a method name, or is repeated.
    MethodMalformed,
    /// The preflight asked for a request header the policy does not allow.
    HeaderNotAllowed(ShortName),
    /// `Access-Control-Request-Headers` holds something that is not a header name.
    HeadersMalformed,
    /// `Access-Control-Request-Headers` is larger than any browser sends.
    HeadersTooLarge,
}

impl Reason {
    /// A stable code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NotCors => "not_cors",
            Reason::AnyOrigin => "any_origin",
            Reason::OriginAllowed => "origin_allowed",
            Reason::OriginNotAllowed => "origin_not_allowed",
            Reason::OriginMalformed => "origin_malformed",
            Reason::MultipleOrigins => "multiple_origins",
            Reason::PreflightAllowed => "preflight_allowed",
            Reason::MethodNotAllowed => "method_not_allowed",
            Reason::MethodMalformed => "method_malformed",
            Reason::HeaderNotAllowed(_) => "header_not_allowed",
            Reason::HeadersMalformed => "headers_malformed",
            Reason::HeadersTooLarge => "headers_too_large",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NotCors => f.write_str("no Origin header: not a cross-origin request from a browser, CORS does not apply"),
            Reason::AnyOrigin => f.write_str("the policy allows any origin"),
            Reason::OriginAllowed => f.write_str("the origin is in the allowed origins"),
            Reason::OriginNotAllowed => f.write_str("the origin is not in the allowed origins: the browser will not let the page read the response"),
            Reason::OriginMalformed => f.write_str("the Origin header is not an origin a browser sends (or is null): treated as not allowed"),
            Reason::MultipleOrigins => f.write_str("the request has several Origin headers, which no browser sends: treated as not allowed"),
            Reason::PreflightAllowed => f.write_str("preflight allowed: origin, method and request headers are all allowed"),
            Reason::MethodNotAllowed => f.write_str("preflight refused: the method the page wants to use is not in the allowed methods"),
            Reason::MethodMalformed => f.write_str("preflight refused: Access-Control-Request-Method is missing, repeated or not a method name"),
            Reason::HeaderNotAllowed(name) => write!(f, "preflight refused: the page wants to send the header '{name}', which is not in the allowed request headers"),
            Reason::HeadersMalformed => f.write_str("preflight refused: Access-Control-Request-Headers holds something that is not a header name"),
            Reason::HeadersTooLarge => write!(f, "preflight refused: Access-Control-Request-Headers is larger than any browser sends (more than {MAX_REQUEST_HEADERS_BYTES} bytes, {MAX_REQUEST_HEADERS_LINES} lines, {MAX_REQUEST_HEADERS_NAMES} names or {MAX_REQUEST_HEADERS_EMPTY} empty elements)"),
        }
    }
}

/// The CORS response headers a decision adds.
///
/// For a request passed on, at most four headers, held as values while the
/// inner service runs (small, so a middleware's future stays small); for a
/// preflight, the answer's header map, built once and moved into the
/// response. Values are shared with the policy (reference-counted, see
/// `values`) or the request, so cloning one never copies bytes.
#[derive(Debug, Clone)]
pub struct ResponseHeaders {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    Pass {
        allow_origin: Option<HeaderValue>,
        expose: Option<HeaderValue>,
        credentials: bool,
        vary_origin: bool,
    },
    /// An allowed request passed on: the policy's prebuilt lines (see
    /// `template`), with a placeholder for `allow_origin`. The same lines as
    /// [`Repr::Pass`] with the policy's credentials, exposed headers and
    /// `Vary`, held without copying them.
    Template {
        allow_origin: HeaderValue,
        template: Arc<PassTemplate>,
    },
    Answer(HeaderMap),
}

impl Default for ResponseHeaders {
    fn default() -> Self {
        ResponseHeaders {
            repr: Repr::Pass {
                allow_origin: None,
                expose: None,
                credentials: false,
                vary_origin: false,
            },
        }
    }
}

/// The names of the CORS response headers, in the order they are added.
const CORS_NAMES: [HeaderName; 7] = [
    header::ACCESS_CONTROL_ALLOW_ORIGIN,
    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
    header::ACCESS_CONTROL_ALLOW_METHODS,
    header::ACCESS_CONTROL_ALLOW_HEADERS,
    header::ACCESS_CONTROL_MAX_AGE,
    header::ACCESS_CONTROL_EXPOSE_HEADERS,
    HeaderName::from_static(ACAPN),
];

/// The iterator of [`ResponseHeaders::iter`].
#[derive(Debug)]
pub struct Iter<'a> {
    inner: IterRepr<'a>,
}

#[derive(Debug)]
enum IterRepr<'a> {
    Pass(std::array::IntoIter<Option<(HeaderName, &'a HeaderValue)>, 4>),
    Template(&'a HeaderValue, http::header::Iter<'a, HeaderValue>),
    Answer(http::header::Iter<'a, HeaderValue>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (HeaderName, &'a HeaderValue);
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            IterRepr::Pass(it) => it.find_map(|x| x),
            IterRepr::Template(origin, it) => it.next().map(|(n, v)| {
                if n == header::ACCESS_CONTROL_ALLOW_ORIGIN {
                    (n.clone(), *origin)
                } else {
                    (n.clone(), v)
                }
            }),
            IterRepr::Answer(it) => it.next().map(|(n, v)| (n.clone(), v)),
        }
    }
}

impl ResponseHeaders {
    /// The headers as (name, value) pairs, `Vary` last.
    pub fn iter(&self) -> Iter<'_> {
        let inner = match &self.repr {
            Repr::Pass {
                allow_origin,
                expose,
                credentials,
                vary_origin,
                ..
            } => IterRepr::Pass(
                [
                    allow_origin
                        .as_ref()
                        .map(|v| (header::ACCESS_CONTROL_ALLOW_ORIGIN, v)),
                    credentials.then_some((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, &TRUE)),
                    expose
                        .as_ref()
                        .map(|v| (header::ACCESS_CONTROL_EXPOSE_HEADERS, v)),
                    vary_origin.then_some((header::VARY, &VARY_ORIGIN)),
                ]
                .into_iter(),
            ),
            Repr::Template {
                allow_origin,
                template,
            } => IterRepr::Template(allow_origin, template.iter()),
            Repr::Answer(map) => IterRepr::Answer(map.iter()),
        };
        Iter { inner }
    }

    /// Whether `self` and `other` add the same lines in the same order (what
    /// a shadow comparison asks). Two allowed requests' lines are compared
    /// as their origins and their policies' prebuilt lines, without walking
    /// the substituted lines one by one.
    pub(crate) fn same_lines(&self, other: &ResponseHeaders) -> bool {
        if let (
            Repr::Template {
                allow_origin: a,
                template: t,
            },
            Repr::Template {
                allow_origin: b,
                template: u,
            },
        ) = (&self.repr, &other.repr)
        {
            // Both templates hold the origin's placeholder first, so equal
            // templates and equal origins are equal substituted lines.
            return a == b && (Arc::ptr_eq(t, u) || t.same_lines(u));
        }
        let (mut x, mut y) = (self.iter(), other.iter());
        loop {
            match (x.next(), y.next()) {
                (None, None) => return true,
                (Some((n1, v1)), Some((n2, v2))) if n1 == n2 && v1 == v2 => {}
                _ => return false,
            }
        }
    }

    /// Whether there is no header to add.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many header lines there are to add.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pass { .. } => self.iter().count(),
            Repr::Template { template, .. } => template.len(),
            Repr::Answer(map) => map.len(),
        }
    }

    /// Adds the headers to a response's header map. CORS headers replace any
    /// the inner service set (two `Access-Control-Allow-Origin` lines make
    /// browsers refuse the response), and are removed where the decision adds
    /// none (a denied origin must not keep an inner
    /// `Access-Control-Allow-Origin: *`); `Vary` is appended, and only with
    /// the names the response does not vary on already.
    #[inline(always)]
    pub fn apply_to(self, map: &mut HeaderMap) {
        // The allowed request into a map that has not allocated (the common
        // case) in the caller; anything else out of line.
        match self.repr {
            Repr::Template {
                allow_origin,
                template,
            } if map.capacity() == 0 => {
                crate::server::fast::template::fill(map, &template, allow_origin)
            }
            repr => apply_repr(repr, map),
        }
    }

    /// The headers in a new map.
    pub fn to_header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        self.clone().apply_to(&mut map);
        map
    }
}

/// [`ResponseHeaders::apply_to`] but for an allowed request's lines into a
/// map that has not allocated.
#[inline(never)]
fn apply_repr(repr: Repr, map: &mut HeaderMap) {
    {
        let repr = match repr {
            Repr::Template {
                allow_origin,
                template,
            } => {
                if map.capacity() == 0 {
                    return crate::server::fast::template::fill(map, &template, allow_origin);
                }
                pass_from_template(allow_origin, &template)
            }
            other => other,
        };
        match repr {
            Repr::Answer(answer) if map.is_empty() => *map = answer,
            Repr::Pass {
                allow_origin,
                expose,
                credentials,
                vary_origin,
                ..
            } => match scan(map) {
                // No CORS line to replace or remove (the common case of a
                // handler or an upstream that set only its own headers): one
                // append each, and `Vary` only if the response does not vary
                // on `Origin` already. (No `reserve`: the first append makes
                // room for six lines.)
                Scan::Clean { vary } => {
                    if let Some(v) = allow_origin {
                        map.append(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
                    }
                    if credentials {
                        map.append(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, fresh::TRUE);
                    }
                    if let Some(v) = expose {
                        map.append(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
                    }
                    if vary_origin && (!vary || !varies_on(map, b"origin")) {
                        map.append(header::VARY, fresh::VARY_ORIGIN);
                    }
                }
                Scan::Cors => merge(
                    Repr::Pass {
                        allow_origin,
                        expose,
                        credentials,
                        vary_origin,
                    },
                    map,
                ),
            },
            repr => merge(repr, map),
        }
    }
}

/// Whether a response header is a CORS response header: any name that
/// starts with `access-control-`. The one definition the tower layer (through
/// [`ResponseHeaders::apply_to`]) and the gateway use to decide which of a
/// handler's or an upstream's headers the policy's answer replaces: besides
/// the seven names browsers read today, a misspelt or future
/// `Access-Control-*` line is removed too, so no name can carry an answer
/// past the policy.
///
/// ```
/// use corsgate_core::decision::is_cors_response_header;
/// use http::HeaderName;
/// assert!(is_cors_response_header(&http::header::ACCESS_CONTROL_ALLOW_ORIGIN));
/// assert!(is_cors_response_header(&HeaderName::from_static("access-control-allow-private-network")));
/// assert!(is_cors_response_header(&HeaderName::from_static("access-control-allow-origins")));
/// assert!(!is_cors_response_header(&http::header::VARY));
/// ```
#[inline]
pub fn is_cors_response_header(name: &HeaderName) -> bool {
    name.as_str().as_bytes().starts_with(b"access-control-")
}

/// The lines of a [`Repr::Template`] as a [`Repr::Pass`], for a map that
/// has headers already (from the settings the template's lines are made of).
fn pass_from_template(allow_origin: HeaderValue, template: &PassTemplate) -> Repr {
    let (credentials, expose, vary_origin) = template.settings();
    Repr::Pass {
        allow_origin: Some(allow_origin),
        expose: expose.cloned(),
        credentials,
        vary_origin,
    }
}

/// What a response's map holds that matters to adding a decision's lines.
#[derive(Clone, Copy)]
enum Scan {
    /// A CORS response header: the lines must be merged.
    Cors,
    /// No CORS header: the lines can be appended; `vary` says whether `Vary`
    /// must be looked into before adding `Vary: origin`.
    Clean { vary: bool },
}

/// One pass over the map's names (a response has a few): cheaper than a
/// hashed lookup for each of the seven CORS names and `Vary`.
#[inline]
fn scan(map: &HeaderMap) -> Scan {
    let mut vary = false;
    for k in map.keys() {
        if *k == header::VARY {
            vary = true;
        } else if is_cors_response_header(k) {
            return Scan::Cors;
        }
    }
    Scan::Clean { vary }
}

/// [`ResponseHeaders::apply_to`] for a map that already holds CORS headers
/// (or a preflight's answer for a map that holds anything).
#[inline(never)]
fn merge(repr: Repr, map: &mut HeaderMap) {
    let (mut set, vary) = match repr {
        Repr::Pass {
            allow_origin,
            expose,
            credentials,
            vary_origin,
            ..
        } => (
            [
                allow_origin,
                credentials.then_some(fresh::TRUE),
                None,
                None,
                None,
                expose,
                None,
            ],
            vary_origin.then_some(fresh::VARY_ORIGIN),
        ),
        Repr::Answer(mut answer) => {
            let mut set: [Option<HeaderValue>; 7] = Default::default();
            for (slot, name) in set.iter_mut().zip(CORS_NAMES.iter()) {
                *slot = answer.remove(name);
            }
            (set, answer.remove(header::VARY))
        }
        Repr::Template {
            allow_origin,
            template,
        } => return merge(pass_from_template(allow_origin, &template), map),
    };
    for (name, value) in CORS_NAMES.iter().zip(set.iter_mut()) {
        match value.take() {
            Some(v) => {
                map.insert(name.clone(), v);
            }
            None => {
                map.remove(name);
            }
        }
    }
    // Any other `Access-Control-*` line (misspelt, or a name browsers may
    // read one day) goes too: the answer is the policy's alone. (Collecting
    // nothing allocates nothing.)
    let others: Vec<HeaderName> = map
        .keys()
        .filter(|k| is_cors_response_header(k) && !CORS_NAMES.contains(k))
        .cloned()
        .collect();
    for name in others {
        map.remove(name);
    }
    if let Some(vary) = vary {
        if split_list(vary.as_bytes()).any(|t| !varies_on(map, t)) {
            map.append(header::VARY, vary);
        }
    }
}

/// The headers a preflight's answer is built from.
#[derive(Default)]
struct Draft {
    allow_origin: Option<HeaderValue>,
    allow_credentials: bool,
    allow_methods: Option<HeaderValue>,
    allow_headers: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
    allow_private_network: bool,
    vary: Option<HeaderValue>,
}

impl Draft {
    /// The answer cloned from `template`, which holds exactly these lines
    /// but for the origin and the method (see `template`); the draft holds
    /// neither `policy`'s request headers nor its max-age, which are in the
    /// template.
    #[inline(never)]
    fn into_map_from(mut self, template: &HeaderMap, policy: &Policy) -> HeaderMap {
        match (self.allow_origin.take(), self.allow_methods.take()) {
            (Some(o), Some(m)) => crate::server::fast::template::preflight_answer(template, o, m),
            (o, m) => {
                self.allow_origin = o;
                self.allow_methods = m;
                if let HeaderRule::List { value, .. } = &policy.request_headers {
                    self.allow_headers = value.clone();
                }
                self.max_age = policy.max_age.as_ref().map(|(_, v)| v.clone());
                self.into_map()
            }
        }
    }

    fn into_map(self) -> HeaderMap {
        // Room for exactly these lines: the smallest table that holds them.
        // (Spelled out field by field: gathering the pairs in an array first
        // measured 30 ns slower per preflight.)
        let lines = usize::from(self.allow_origin.is_some())
            + usize::from(self.allow_credentials)
            + usize::from(self.allow_methods.is_some())
            + usize::from(self.allow_headers.is_some())
            + usize::from(self.max_age.is_some())
            + usize::from(self.allow_private_network)
            + usize::from(self.vary.is_some());
        let mut map = HeaderMap::with_capacity(lines);
        let mut put = |name: HeaderName, v: Option<HeaderValue>| {
            if let Some(v) = v {
                map.append(name, v);
            }
        };
        put(header::ACCESS_CONTROL_ALLOW_ORIGIN, self.allow_origin);
        put(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            self.allow_credentials.then_some(fresh::TRUE),
        );
        put(header::ACCESS_CONTROL_ALLOW_METHODS, self.allow_methods);
        put(header::ACCESS_CONTROL_ALLOW_HEADERS, self.allow_headers);
        put(header::ACCESS_CONTROL_MAX_AGE, self.max_age);
        put(
            HeaderName::from_static(ACAPN),
            self.allow_private_network.then_some(fresh::TRUE),
        );
        put(header::VARY, self.vary);
        map
    }
}

fn split_list(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|b| *b == b',')
        .map(trim_ows)
        .filter(|t| !t.is_empty())
}

/// Whether the response already varies on `name` (or on everything, `*`).
fn varies_on(map: &HeaderMap, name: &[u8]) -> bool {
    map.get_all(header::VARY)
        .iter()
        .any(|v| split_list(v.as_bytes()).any(|t| t == b"*" || t.eq_ignore_ascii_case(name)))
}

/// The decision for one request.
#[derive(Debug, Clone)]
pub struct Decision {
    kind: RequestKind,
    action: Action,
    allowed: bool,
    reason: Reason,
    headers: ResponseHeaders,
}

impl Decision {
    /// What kind of request it was.
    pub fn kind(&self) -> RequestKind {
        self.kind
    }
    /// Pass on, or answer here.
    #[inline]
    pub fn action(&self) -> Action {
        self.action
    }
    /// Whether the policy allows the request (true for non-CORS requests).
    pub fn allowed(&self) -> bool {
        self.allowed
    }
    /// Why.
    pub fn reason(&self) -> Reason {
        self.reason
    }
    /// The headers to add to the response.
    pub fn headers(&self) -> &ResponseHeaders {
        &self.headers
    }
    /// The headers to add to the response, by value.
    #[inline]
    pub fn into_headers(self) -> ResponseHeaders {
        self.headers
    }
}

/// A preflight's answer before the request's `Origin` is put in (when it
/// echoes it).
struct Answer<'p> {
    status: StatusCode,
    allowed: bool,
    reason: Reason,
    draft: Draft,
    echo: bool,
    /// The same lines prebuilt (`template`), where they are exactly the
    /// draft's but for its origin and method (and the policy, whose
    /// request headers and max-age the draft then leaves out).
    template: Option<(&'p HeaderMap, &'p Policy)>,
}

impl Answer<'_> {
    fn finish(mut self, origin: impl FnOnce() -> Option<HeaderValue>) -> Decision {
        if self.echo {
            self.draft.allow_origin = origin();
        }
        let map = match self.template {
            Some((t, policy)) => self.draft.into_map_from(t, policy),
            None => self.draft.into_map(),
        };
        Decision {
            kind: RequestKind::Preflight,
            action: Action::Respond(self.status),
            allowed: self.allowed,
            reason: self.reason,
            headers: ResponseHeaders {
                repr: Repr::Answer(map),
            },
        }
    }
}

/// The most `Access-Control-Request-Headers` names a [`ParsedRequest`] keeps
/// from its one read; a preflight that asks for more (rare: browsers send a
/// few) has the rest read again from its lines by each policy that checks
/// them, still without allocating.
const INLINE_NAMES: usize = 6;

/// A request read once, for any number of decisions: the `Origin` (and the
/// key every origin set looks it up with), and for a preflight its
/// `Access-Control-Request-Method` (checked to be one method name) and, on
/// first use, its `Access-Control-Request-Headers` split into names with
/// the size limits applied. [`Policy::decide_parsed`] and
/// [`Policy::decide_shadow_parsed`] take it, so a shadow candidate judged
/// beside the enforced policy reads nothing of the request again. Building
/// it allocates nothing.
///
/// ```
/// use corsgate_core::decision::ParsedRequest;
/// use corsgate_core::policy::Policy;
/// use http::{HeaderMap, HeaderValue, Method};
///
/// let enforced = Policy::builder().origin("https://app.example.com").method("PUT").build()?;
/// let candidate = Policy::builder().origin("https://app.example.com").build()?;
/// let mut h = HeaderMap::new();
/// h.insert("origin", HeaderValue::from_static("https://app.example.com"));
/// h.insert("access-control-request-method", HeaderValue::from_static("PUT"));
/// let request = ParsedRequest::new(&Method::OPTIONS, &h);
/// let today = enforced.decide_parsed(&request, false);
/// assert!(today.allowed());
/// let shadow = candidate.decide_shadow_parsed(&request);
/// assert_eq!(shadow.compare(&today).unwrap().candidate.code(), "method_not_allowed");
/// # Ok::<(), corsgate_core::policy::PolicyErrors>(())
/// ```
pub struct ParsedRequest<'h> {
    headers: &'h HeaderMap,
    origin: Option<&'h HeaderValue>,
    several_origins: bool,
    key: OriginKey,
    /// `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
    preflight: Option<PreflightAsk<'h>>,
}

impl fmt::Debug for ParsedRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedRequest")
            .field("kind", &self.kind())
            .field("origin", &self.origin)
            .field("several_origins", &self.several_origins)
            .finish_non_exhaustive()
    }
}

/// A preflight's own request headers, read once.
struct PreflightAsk<'h> {
    /// The requested method and its lookup key; `None` when the header is
    /// repeated or not a method name.
    method: Option<(&'h HeaderValue, u64)>,
    /// `Access-Control-Request-Headers`, read when a policy first needs it
    /// (a preflight refused for its origin never reads it).
    requested: OnceCell<RequestedNames<'h>>,
}

/// What makes `Access-Control-Request-Headers` unacceptable whatever the
/// policy.
#[derive(Debug, Clone, Copy)]
enum Problem {
    Malformed,
    TooLarge,
}

/// `Access-Control-Request-Headers` read tolerantly (any case, order,
/// spacing, several lines) with bounded work and no allocation.
struct RequestedNames<'h> {
    lines: usize,
    /// The names read before `problem` (all of them without one).
    names: usize,
    /// Where reading stopped: the names after it are not checked, as a
    /// policy reading name by name would not reach them.
    problem: Option<Problem>,
    /// The first [`INLINE_NAMES`] names.
    first: [&'h [u8]; INLINE_NAMES],
}

impl<'h> RequestedNames<'h> {
    fn read(headers: &'h HeaderMap) -> Self {
        let mut r = RequestedNames {
            lines: 0,
            names: 0,
            problem: None,
            first: [&[]; INLINE_NAMES],
        };
        let (mut bytes, mut empty) = (0usize, 0usize);
        'lines: for line in headers.get_all(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            r.lines += 1;
            bytes += line.len();
            if r.lines > MAX_REQUEST_HEADERS_LINES || bytes > MAX_REQUEST_HEADERS_BYTES {
                r.problem = Some(Problem::TooLarge);
                break;
            }
            for raw in line.as_bytes().split(|b| *b == b',') {
                let name = trim_ows(raw);
                if name.is_empty() {
                    empty += 1;
                    if empty > MAX_REQUEST_HEADERS_EMPTY {
                        r.problem = Some(Problem::TooLarge);
                        break 'lines;
                    }
                    continue;
                }
                if !is_token(name) {
                    r.problem = Some(Problem::Malformed);
                    break 'lines;
                }
                if r.names >= MAX_REQUEST_HEADERS_NAMES {
                    r.problem = Some(Problem::TooLarge);
                    break 'lines;
                }
                if let Some(slot) = r.first.get_mut(r.names) {
                    *slot = name;
                }
                r.names += 1;
            }
        }
        r
    }

    /// The first name read that `allowed` refuses, in request order.
    fn first_refused(
        &self,
        headers: &'h HeaderMap,
        allowed: impl Fn(&[u8]) -> bool,
    ) -> Option<&'h [u8]> {
        if let Some(names) = self.first.get(..self.names) {
            return names.iter().copied().find(|n| !allowed(n));
        }
        // More than were kept: read again (already checked to be tokens).
        headers
            .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .flat_map(|l| split_list(l.as_bytes()))
            .take(self.names)
            .find(|n| !allowed(n))
    }
}

impl<'h> ParsedRequest<'h> {
    /// Reads the request's method and headers (no allocation).
    // Always inline: built in the caller's frame, never moved (the struct
    // holds a preflight's first names).
    #[inline(always)]
    pub fn new(method: &Method, headers: &'h HeaderMap) -> Self {
        let mut origins = headers.get_all(header::ORIGIN).iter();
        let origin = origins.next();
        let (several_origins, key, preflight) = match origin {
            None => (false, OriginKey::NONE, None),
            Some(o) => (
                origins.next().is_some(),
                OriginKey::of(o),
                if *method == Method::OPTIONS {
                    Self::preflight(headers)
                } else {
                    None
                },
            ),
        };
        ParsedRequest {
            headers,
            origin,
            several_origins,
            key,
            preflight,
        }
    }

    #[inline(always)]
    fn preflight(headers: &'h HeaderMap) -> Option<PreflightAsk<'h>> {
        let mut acrm = headers
            .get_all(header::ACCESS_CONTROL_REQUEST_METHOD)
            .iter();
        let first = acrm.next()?;
        let method = (acrm.next().is_none() && is_token(first.as_bytes()))
            .then(|| (first, hash_bytes(first.as_bytes())));
        Some(PreflightAsk {
            method,
            requested: OnceCell::new(),
        })
    }

    /// What kind of request it is.
    pub fn kind(&self) -> RequestKind {
        match (self.origin, &self.preflight) {
            (None, _) => RequestKind::NotCors,
            (Some(_), Some(_)) => RequestKind::Preflight,
            (Some(_), None) => RequestKind::Actual,
        }
    }

    /// The request's headers.
    pub fn headers(&self) -> &'h HeaderMap {
        self.headers
    }
}

impl Policy {
    /// Decides what to do with a request, given its method and headers.
    ///
    /// ```
    /// use corsgate_core::policy::Policy;
    /// use corsgate_core::decision::{Action, RequestKind};
    /// use http::{HeaderMap, HeaderValue, Method, StatusCode};
    ///
    /// let policy = Policy::builder().origin("https://app.example.com").method("PUT").build()?;
    /// let mut h = HeaderMap::new();
    /// h.insert("origin", HeaderValue::from_static("https://app.example.com"));
    /// h.insert("access-control-request-method", HeaderValue::from_static("PUT"));
    /// let d = policy.decide(&Method::OPTIONS, &h);
    /// assert_eq!(d.kind(), RequestKind::Preflight);
    /// assert_eq!(d.action(), Action::Respond(StatusCode::NO_CONTENT));
    /// let answer = d.headers().to_header_map();
    /// assert_eq!(answer["access-control-allow-methods"], "PUT");
    ///
    /// h.insert("access-control-request-method", HeaderValue::from_static("DELETE"));
    /// let d = policy.decide(&Method::OPTIONS, &h);
    /// assert_eq!(d.action(), Action::Respond(StatusCode::FORBIDDEN));
    /// assert_eq!(d.reason().code(), "method_not_allowed");
    /// assert!(d.headers().to_header_map().get("access-control-allow-origin").is_none());
    /// # Ok::<(), corsgate_core::policy::PolicyErrors>(())
    /// ```
    pub fn decide(&self, method: &Method, headers: &HeaderMap) -> Decision {
        self.decide_with(method, headers, self.debug)
    }

    /// [`decide`](Self::decide) with debug mode forced on or off (a
    /// middleware's runtime switch).
    #[inline]
    pub fn decide_with(&self, method: &Method, headers: &HeaderMap, debug: bool) -> Decision {
        self.decide_parsed(&ParsedRequest::new(method, headers), debug)
    }

    /// [`decide_with`](Self::decide_with) on a request read already (the
    /// same request can be decided by other policies: a shadow candidate).
    #[inline]
    pub fn decide_parsed(&self, request: &ParsedRequest<'_>, debug: bool) -> Decision {
        match &request.preflight {
            None => self.decide_pass(request),
            Some(pf) => self
                .answer(request, pf, debug)
                .finish(|| request.origin.cloned()),
        }
    }

    /// [`decide_with`](Self::decide_with) for a caller that owns the request:
    /// when the request is answered here (a preflight) and the answer echoes
    /// the request's `Origin`, the value is moved out of `headers` (an empty
    /// value is left in its place) instead of copied. Nothing else in
    /// `headers` changes, and nothing changes when the request is passed on.
    ///
    /// ```
    /// use corsgate_core::policy::Policy;
    /// use http::{HeaderMap, HeaderValue, Method};
    /// let policy = Policy::builder().origin("https://*.example.com").method("PUT").build()?;
    /// let mut h = HeaderMap::new();
    /// h.insert("origin", HeaderValue::from_static("https://a.example.com"));
    /// h.insert("access-control-request-method", HeaderValue::from_static("PUT"));
    /// let d = policy.decide_taking(&Method::OPTIONS, &mut h, false);
    /// assert_eq!(d.headers().to_header_map()["access-control-allow-origin"], "https://a.example.com");
    /// assert_eq!(h["origin"], "");
    /// # Ok::<(), corsgate_core::policy::PolicyErrors>(())
    /// ```
    pub fn decide_taking(&self, method: &Method, headers: &mut HeaderMap, debug: bool) -> Decision {
        let answer = {
            let request = ParsedRequest::new(method, headers);
            match &request.preflight {
                None => return self.decide_pass(&request),
                Some(pf) => self.answer(&request, pf, debug),
            }
        };
        // Take the value, leaving an empty one: cheaper than removing the
        // entry, and the request is answered here, not passed on.
        answer.finish(|| {
            headers
                .get_mut(header::ORIGIN)
                .map(|v| std::mem::replace(v, HeaderValue::from_static("")))
        })
    }

    /// The candidate's side of a shadow evaluation
    /// ([`crate::shadow`]): the decision, except that a preflight's answer
    /// is not built (only its verdict is compared). Call it before a
    /// [`decide_taking`](Self::decide_taking) moves the request's `Origin`.
    pub fn decide_shadow(&self, method: &Method, headers: &HeaderMap) -> ShadowDecision {
        self.decide_shadow_parsed(&ParsedRequest::new(method, headers))
    }

    /// [`decide_shadow`](Self::decide_shadow) on a request read already
    /// (the one the enforced policy decides on): for a preflight, only the
    /// verdict, with nothing cloned or built.
    pub fn decide_shadow_parsed(&self, request: &ParsedRequest<'_>) -> ShadowDecision {
        if let (Some(origin), Some(pf)) = (request.origin, &request.preflight) {
            let verdict = self
                .match_origin(origin, request)
                .and_then(|_| self.check_method(pf))
                .and_then(|_| self.check_requested(request, pf));
            return ShadowDecision::Preflight {
                allowed: verdict.is_ok(),
                reason: verdict.err().unwrap_or(Reason::PreflightAllowed),
            };
        }
        ShadowDecision::Decided(self.decide_parsed(request, false))
    }

    /// How the policy's origins take the request's `Origin`.
    #[inline]
    fn match_origin(
        &self,
        origin: &HeaderValue,
        request: &ParsedRequest<'_>,
    ) -> Result<OriginMatch<'_>, Reason> {
        if request.several_origins && !self.origins.is_any() {
            return Err(Reason::MultipleOrigins);
        }
        match self.origins.matches_keyed(origin, request.key) {
            OriginMatch::NotAllowed => Err(Reason::OriginNotAllowed),
            OriginMatch::Malformed => Err(Reason::OriginMalformed),
            m => Ok(m),
        }
    }

    /// The value `Access-Control-Allow-Methods` takes for the preflight's
    /// method, or why it is refused.
    #[inline]
    fn check_method<'a, 'h: 'a>(
        &'a self,
        pf: &PreflightAsk<'h>,
    ) -> Result<&'a HeaderValue, Reason> {
        let Some((method, key)) = pf.method else {
            return Err(Reason::MethodMalformed);
        };
        match &self.methods {
            MethodRule::Any => Ok(method),
            MethodRule::List(table) => table
                .get_hashed(key, method.as_bytes())
                .ok_or(Reason::MethodNotAllowed),
        }
    }

    /// The preflight's requested headers if the policy allows them all
    /// (read on first use), or why not.
    fn check_requested<'r, 'h>(
        &self,
        request: &ParsedRequest<'h>,
        pf: &'r PreflightAsk<'h>,
    ) -> Result<&'r RequestedNames<'h>, Reason> {
        let r = pf
            .requested
            .get_or_init(|| RequestedNames::read(request.headers));
        if let HeaderRule::List {
            names: set,
            longest,
            ..
        } = &self.request_headers
        {
            if let Some(name) =
                r.first_refused(request.headers, |n| contains_name(set, *longest, n))
            {
                return Err(Reason::HeaderNotAllowed(ShortName::new(name)));
            }
        }
        match r.problem {
            None => Ok(r),
            Some(Problem::Malformed) => Err(Reason::HeadersMalformed),
            Some(Problem::TooLarge) => Err(Reason::HeadersTooLarge),
        }
    }

    /// The decision for a request that is not a preflight (passed on).
    #[inline]
    fn decide_pass(&self, request: &ParsedRequest<'_>) -> Decision {
        let any = self.origins.is_any();
        let Some(origin) = request.origin else {
            let repr = Repr::Pass {
                allow_origin: any.then_some(fresh::ANY),
                expose: if any { self.expose.clone() } else { None },
                credentials: false,
                vary_origin: !any,
            };
            return Decision {
                kind: RequestKind::NotCors,
                action: Action::PassOn,
                allowed: true,
                reason: Reason::NotCors,
                headers: ResponseHeaders { repr },
            };
        };
        let (repr, allowed, reason) = match self.match_origin(origin, request) {
            Ok(m) => (
                Repr::Template {
                    allow_origin: match m {
                        OriginMatch::Exact(v) | OriginMatch::PatternSeen(v) => v.clone(),
                        OriginMatch::Any => fresh::ANY,
                        // A pattern's first sight: the request's own value.
                        _ => origin.clone(),
                    },
                    template: Arc::clone(&self.pass_template),
                },
                true,
                if any {
                    Reason::AnyOrigin
                } else {
                    Reason::OriginAllowed
                },
            ),
            Err(reason) => (
                Repr::Pass {
                    allow_origin: None,
                    expose: None,
                    credentials: false,
                    vary_origin: !any,
                },
                false,
                reason,
            ),
        };
        Decision {
            kind: RequestKind::Actual,
            action: Action::PassOn,
            allowed,
            reason,
            headers: ResponseHeaders { repr },
        }
    }

    /// A preflight's answer, still to be finished with the request's
    /// `Origin` where it echoes it (the callers either copy the value or
    /// move it out of the request).
    #[inline]
    fn answer<'h>(
        &self,
        request: &ParsedRequest<'h>,
        pf: &PreflightAsk<'h>,
        debug: bool,
    ) -> Answer<'_> {
        // `Ok(None)`: allowed by a pattern, answered with the request's own value.
        let matched = match request.origin {
            Some(origin) => self.match_origin(origin, request).map(|m| match m {
                OriginMatch::Exact(v) | OriginMatch::PatternSeen(v) => Some(v.clone()),
                OriginMatch::Any => Some(fresh::ANY),
                _ => None,
            }),
            // Never: a preflight has an `Origin`.
            None => Err(Reason::OriginMalformed),
        };
        self.preflight(request, pf, matched, debug)
    }

    // Out of line: the actual-request path stays small (a preflight is
    // answered at once and its cost is dominated by its own checks).
    #[inline(never)]
    fn preflight<'h>(
        &self,
        request: &ParsedRequest<'h>,
        pf: &PreflightAsk<'h>,
        matched: Result<Option<HeaderValue>, Reason>,
        debug: bool,
    ) -> Answer<'_> {
        let headers = request.headers;
        let vary = Some(self.preflight_vary.clone());
        // Without debug, a refusal carries no CORS header at all.
        let forbidden = |vary: Option<HeaderValue>, reason: Reason| Answer {
            status: StatusCode::FORBIDDEN,
            allowed: false,
            reason,
            draft: Draft {
                vary,
                ..Draft::default()
            },
            echo: false,
            template: None,
        };
        let acao = match matched {
            Err(reason) => return forbidden(vary, reason),
            Ok(v) => v,
        };
        let echo = acao.is_none();
        let mut h = Draft {
            allow_origin: acao,
            allow_credentials: self.credentials,
            vary,
            ..Draft::default()
        };
        let refuse = |h: Draft, reason: Reason| {
            if debug {
                Answer {
                    status: StatusCode::NO_CONTENT,
                    allowed: false,
                    reason,
                    draft: h,
                    echo,
                    template: None,
                }
            } else {
                forbidden(h.vary, reason)
            }
        };

        let pna = self.private_network
            && headers
                .get(ACRPN)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
        let templated = !pna && self.preflight_template.is_some();

        // Method.
        match self.check_method(pf) {
            Ok(m) => h.allow_methods = Some(m.clone()),
            Err(reason) => return refuse(h, reason),
        }

        // Request headers.
        match self.check_requested(request, pf) {
            Ok(r) => {
                h.allow_headers = match &self.request_headers {
                    HeaderRule::List { .. } if templated => None,
                    HeaderRule::List { value, .. } => value.clone(),
                    HeaderRule::Mirror if r.names == 0 => None,
                    HeaderRule::Mirror if r.lines == 1 => {
                        headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned()
                    }
                    HeaderRule::Mirror => join_lines(headers),
                };
            }
            Err(reason) => {
                if let HeaderRule::List { value, .. } = &self.request_headers {
                    h.allow_headers = value.clone();
                }
                return refuse(h, reason);
            }
        }
        h.allow_private_network = pna;
        // The template holds no Private Network Access line, and lists the
        // policy's request headers and max-age: with it, the draft does not
        // copy them (`Answer::finish` puts them back if the template cannot
        // be used after all).
        let template = if pna {
            None
        } else {
            self.preflight_template.as_ref().map(|t| (t, self))
        };
        if template.is_none() {
            h.max_age = self.max_age.as_ref().map(|(_, v)| v.clone());
        }
        Answer {
            status: StatusCode::NO_CONTENT,
            allowed: true,
            reason: Reason::PreflightAllowed,
            draft: h,
            echo,
            template,
        }
    }
}

fn contains_name<S: std::hash::BuildHasher>(
    set: &std::collections::HashSet<Box<str>, S>,
    longest: usize,
    name: &[u8],
) -> bool {
    if name.len() > longest {
        return false;
    }
    // A short list is scanned: cheaper than lower-casing and hashing. The
    // listed names are lower case: only the request's side is folded.
    if set.len() <= 8 {
        return set.iter().any(|n| {
            n.len() == name.len()
                && n.bytes()
                    .zip(name)
                    .all(|(a, b)| a == b.to_ascii_lowercase())
        });
    }
    let mut buf = [0u8; 128];
    match buf.get_mut(..name.len()) {
        Some(dst) => {
            for (d, s) in dst.iter_mut().zip(name) {
                *d = s.to_ascii_lowercase();
            }
            std::str::from_utf8(dst).is_ok_and(|s| set.contains(s))
        }
        None => set.iter().any(|n| n.as_bytes().eq_ignore_ascii_case(name)),
    }
}

fn join_lines(headers: &HeaderMap) -> Option<HeaderValue> {
    let mut joined = Vec::new();
    for line in headers.get_all(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        if !joined.is_empty() {
            joined.extend_from_slice(b", ");
        }
        joined.extend_from_slice(line.as_bytes());
    }
    HeaderValue::from_bytes(&joined).ok()
}

/// The candidate's decision, as [`Policy::decide_shadow`] makes it: a
/// preflight's answer is not built, only its verdict kept.
///
/// [`Policy::decide_shadow`]: crate::policy::Policy::decide_shadow
/// (compared with the enforced decision in `crate::shadow`)
#[derive(Debug, Clone)]
pub enum ShadowDecision {
    /// A request passed on (or not CORS): the whole decision.
    Decided(Decision),
    /// A preflight: whether it would be allowed, and why.
    Preflight {
        /// Whether the candidate allows it.
        allowed: bool,
        /// Why.
        reason: Reason,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hm(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (n, v) in pairs {
            m.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    fn policy() -> Policy {
        Policy::builder()
            .origins(["https://app.example.com", "https://*.example.org"])
            .methods(["PUT", "patch"])
            .request_headers(["X-Trace", "Content-Type"])
            .expose_headers(["X-Total"])
            .credentials(true)
            .max_age(600)
            .build()
            .unwrap()
    }

    const APP: (&str, &str) = ("origin", "https://app.example.com");

    /// A map's lines in order, as text.
    fn lines(m: &HeaderMap) -> Vec<(String, String)> {
        m.iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect()
    }

    #[test]
    fn classifies_like_fetch() {
        let p = policy();
        let d = p.decide(&Method::GET, &HeaderMap::new());
        assert_eq!(
            (d.kind(), d.action()),
            (RequestKind::NotCors, Action::PassOn)
        );
        assert_eq!(d.headers().to_header_map()["vary"], "origin");
        // OPTIONS without ACRM is an actual request, passed on.
        let d = p.decide(&Method::OPTIONS, &hm(&[APP]));
        assert_eq!(
            (d.kind(), d.action()),
            (RequestKind::Actual, Action::PassOn)
        );
        // ACRM without OPTIONS is an actual request too.
        let d = p.decide(
            &Method::PUT,
            &hm(&[APP, ("access-control-request-method", "PUT")]),
        );
        assert_eq!(d.kind(), RequestKind::Actual);
    }

    #[test]
    fn actual_request_headers() {
        let p = policy();
        let d = p.decide(&Method::GET, &hm(&[APP]));
        assert!(d.allowed());
        let h = d.headers().to_header_map();
        assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert_eq!(h["access-control-expose-headers"], "x-total");
        assert_eq!(h["vary"], "origin");
        let d = p.decide(&Method::GET, &hm(&[("origin", "https://a.b.example.org")]));
        assert_eq!(
            d.headers().to_header_map()["access-control-allow-origin"],
            "https://a.b.example.org"
        );
        let d = p.decide(&Method::GET, &hm(&[("origin", "https://evil.example")]));
        assert!(!d.allowed());
        assert_eq!(d.reason(), Reason::OriginNotAllowed);
        let h = d.headers().to_header_map();
        assert_eq!(h.len(), 1);
        assert_eq!(h["vary"], "origin");
        let d = p.decide(&Method::GET, &hm(&[APP, APP]));
        assert_eq!(d.reason(), Reason::MultipleOrigins);
    }

    #[test]
    fn vary_is_appended_once() {
        let p = policy();
        let mut inner = hm(&[("vary", "Accept-Encoding")]);
        p.decide(&Method::GET, &hm(&[APP]))
            .into_headers()
            .apply_to(&mut inner);
        let v: Vec<_> = inner.get_all("vary").iter().collect();
        assert_eq!(v, ["Accept-Encoding", "origin"]);
        let mut inner = hm(&[("vary", "accept-encoding, Origin")]);
        p.decide(&Method::GET, &hm(&[APP]))
            .into_headers()
            .apply_to(&mut inner);
        assert_eq!(inner.get_all("vary").iter().count(), 1);
        let mut inner = hm(&[("vary", "*")]);
        p.decide(&Method::GET, &HeaderMap::new())
            .into_headers()
            .apply_to(&mut inner);
        assert_eq!(inner.get_all("vary").iter().count(), 1);
        // A stale ACAO from the inner service is replaced, never duplicated.
        let mut inner = hm(&[("access-control-allow-origin", "*")]);
        p.decide(&Method::GET, &hm(&[APP]))
            .into_headers()
            .apply_to(&mut inner);
        assert_eq!(
            inner.get_all("access-control-allow-origin").iter().count(),
            1
        );
    }

    fn preflight(p: &Policy, extra: &[(&str, &str)]) -> Decision {
        let mut h = hm(&[APP, ("access-control-request-method", "PUT")]);
        for (n, v) in extra {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        p.decide(&Method::OPTIONS, &h)
    }

    #[test]
    fn request_headers_are_read_tolerantly() {
        let p = policy();
        for ok in [
            vec![("access-control-request-headers", "x-trace,content-type")],
            vec![("access-control-request-headers", "Content-Type ,  X-TRACE")],
            vec![("access-control-request-headers", ",x-trace,,")],
            vec![
                ("access-control-request-headers", "x-trace"),
                ("access-control-request-headers", "content-type"),
            ],
            vec![("access-control-request-headers", "")],
        ] {
            let d = preflight(&p, &ok);
            assert!(d.allowed(), "{ok:?}: {}", d.reason());
            let h = d.headers().to_header_map();
            assert_eq!(h["access-control-allow-headers"], "x-trace, content-type");
            assert_eq!(h["access-control-allow-methods"], "PUT");
            assert_eq!(h["access-control-max-age"], "600");
            assert_eq!(
                h["vary"],
                "origin, access-control-request-method, access-control-request-headers"
            );
        }
        let d = preflight(
            &p,
            &[("access-control-request-headers", "x-trace, X-Other")],
        );
        assert_eq!(d.action(), Action::Respond(StatusCode::FORBIDDEN));
        assert!(d.reason().to_string().contains("'x-other'"));
        assert!(d
            .headers()
            .to_header_map()
            .get("access-control-allow-origin")
            .is_none());
        let d = preflight(&p, &[("access-control-request-headers", "x-trace, no no")]);
        assert_eq!(d.reason(), Reason::HeadersMalformed);
    }

    /// The first problem in request order wins, whether it is a name the
    /// policy refuses or one no policy accepts, past the names a parsed
    /// request keeps too; the parsed request gives every policy the same
    /// answer as its own reading, and a shadow's verdict is the decision's.
    #[test]
    fn a_parsed_request_answers_as_reading_it_name_by_name() {
        let many_ok = ["x-trace"; INLINE_NAMES + 3].join(",");
        let late_refused = format!("{many_ok},x-late");
        let late_malformed = format!("{many_ok},no no,x-late");
        let too_many = ["x-trace"; MAX_REQUEST_HEADERS_NAMES + 1].join(",");
        let refused_then_too_many = format!("x-other,{too_many}");
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (
                vec![("access-control-request-headers", "x-other, no no")],
                "header_not_allowed",
            ),
            (
                vec![("access-control-request-headers", "no no, x-other")],
                "headers_malformed",
            ),
            (
                vec![("access-control-request-headers", &many_ok)],
                "preflight_allowed",
            ),
            (
                vec![("access-control-request-headers", &late_refused)],
                "header_not_allowed",
            ),
            (
                vec![("access-control-request-headers", &late_malformed)],
                "headers_malformed",
            ),
            (
                vec![("access-control-request-headers", &too_many)],
                "headers_too_large",
            ),
            (
                vec![("access-control-request-headers", &refused_then_too_many)],
                "header_not_allowed",
            ),
            (
                vec![
                    ("access-control-request-headers", "x-trace"),
                    ("access-control-request-headers", "x-other"),
                ],
                "header_not_allowed",
            ),
            (
                vec![
                    ("access-control-request-headers", "x-trace"),
                    ("access-control-request-method", "PUT"),
                ],
                "method_malformed",
            ),
        ];
        let mirror = Policy::builder()
            .origin("https://app.example.com")
            .method("PUT")
            .request_header("*")
            .build()
            .unwrap();
        for (extra, code) in &cases {
            let mut h = hm(&[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "PUT"),
            ]);
            for (n, v) in extra {
                h.append(
                    HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            let request = ParsedRequest::new(&Method::OPTIONS, &h);
            assert_eq!(request.kind(), RequestKind::Preflight);
            for p in [policy(), mirror.clone()] {
                let d = p.decide_parsed(&request, false);
                let again = p.decide(&Method::OPTIONS, &h);
                assert_eq!(d.reason(), again.reason());
                assert_eq!(d.headers().to_header_map(), again.headers().to_header_map());
                match p.decide_shadow_parsed(&request) {
                    ShadowDecision::Preflight { allowed, reason } => {
                        assert_eq!((allowed, reason), (d.allowed(), d.reason()), "{extra:?}");
                    }
                    other => panic!("{other:?}"),
                }
            }
            let d = policy().decide_parsed(&request, false);
            assert_eq!(d.reason().code(), *code, "{extra:?}");
        }
        let d = policy().decide(
            &Method::OPTIONS,
            &hm(&[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", &late_refused),
            ]),
        );
        assert!(
            d.reason().to_string().contains("'x-late'"),
            "{}",
            d.reason()
        );
    }

    #[test]
    fn hostile_request_headers_are_refused_quickly() {
        let p = policy();
        let commas = ",".repeat(1 << 20);
        let d = preflight(&p, &[("access-control-request-headers", &commas)]);
        assert_eq!(d.reason(), Reason::HeadersTooLarge);
        let d = preflight(&p, &[("access-control-request-headers", &",".repeat(100))]);
        assert_eq!(d.reason(), Reason::HeadersTooLarge);
        let many: Vec<_> = (0..100)
            .map(|_| ("access-control-request-headers", "x-trace"))
            .collect();
        assert_eq!(preflight(&p, &many).reason(), Reason::HeadersTooLarge);
    }

    #[test]
    fn methods_are_case_sensitive_after_normalization() {
        let p = policy();
        let acrm = |m: &str| {
            p.decide(
                &Method::OPTIONS,
                &hm(&[APP, ("access-control-request-method", m)]),
            )
        };
        assert!(acrm("PUT").allowed());
        assert!(acrm("patch").allowed());
        assert!(acrm("GET").allowed());
        assert_eq!(acrm("PATCH").reason(), Reason::MethodNotAllowed);
        assert_eq!(acrm("DELETE").reason(), Reason::MethodNotAllowed);
        assert_eq!(acrm("GE T").reason(), Reason::MethodMalformed);
    }

    #[test]
    fn debug_sends_partial_headers() {
        let p = policy();
        let mut h = hm(&[APP, ("access-control-request-method", "DELETE")]);
        let d = p.decide_with(&Method::OPTIONS, &h, true);
        assert_eq!(d.action(), Action::Respond(StatusCode::NO_CONTENT));
        assert!(!d.allowed());
        let m = d.headers().to_header_map();
        assert_eq!(m["access-control-allow-origin"], "https://app.example.com");
        assert!(m.get("access-control-allow-methods").is_none());
        h.insert(
            "access-control-request-method",
            HeaderValue::from_static("PUT"),
        );
        h.insert(
            "access-control-request-headers",
            HeaderValue::from_static("x-nope"),
        );
        let m = p
            .decide_with(&Method::OPTIONS, &h, true)
            .headers()
            .to_header_map();
        assert_eq!(m["access-control-allow-headers"], "x-trace, content-type");
        h.insert("origin", HeaderValue::from_static("https://evil.example"));
        let d = p.decide_with(&Method::OPTIONS, &h, true);
        assert_eq!(d.action(), Action::Respond(StatusCode::FORBIDDEN));
    }

    #[test]
    fn answers_replace_and_merge_into_a_map_that_has_headers() {
        let p = policy();
        // A preflight answer applied over stale CORS headers and a Vary.
        let mut out = hm(&[
            ("access-control-allow-origin", "*"),
            ("access-control-expose-headers", "x-stale"),
            ("vary", "accept-encoding"),
            ("content-type", "text/plain"),
        ]);
        let d = p.decide(
            &Method::OPTIONS,
            &hm(&[
                ("origin", "https://a.example.org"),
                ("access-control-request-method", "PUT"),
            ]),
        );
        assert!(d.allowed());
        let fresh = d.headers().to_header_map();
        d.into_headers().apply_to(&mut out);
        for name in CORS_NAMES.iter() {
            let got: Vec<_> = out.get_all(name).iter().collect();
            let want: Vec<_> = fresh.get_all(name).iter().collect();
            assert_eq!(got, want, "{name}");
        }
        assert_eq!(out["access-control-allow-origin"], "https://a.example.org");
        assert_eq!(out["content-type"], "text/plain");
        let vary: Vec<_> = out.get_all("vary").iter().collect();
        assert_eq!(vary.len(), 2, "{vary:?}");
        assert_eq!(vary[0], "accept-encoding");
        // A denied actual request removes what the inner service set.
        let mut out = hm(&[
            ("access-control-allow-origin", "*"),
            ("access-control-allow-credentials", "true"),
        ]);
        p.decide(&Method::GET, &hm(&[("origin", "https://evil.example")]))
            .into_headers()
            .apply_to(&mut out);
        assert!(out.get("access-control-allow-origin").is_none());
        assert!(out.get("access-control-allow-credentials").is_none());
        assert_eq!(out["vary"], "origin");
    }

    #[test]
    fn iter_len_and_the_applied_map_agree() {
        let p = policy();
        let requests = [
            (Method::GET, hm(&[APP])),
            (Method::GET, hm(&[("origin", "https://b.example.org")])),
            (Method::GET, hm(&[("origin", "https://evil.example")])),
            (Method::GET, HeaderMap::new()),
            (
                Method::OPTIONS,
                hm(&[APP, ("access-control-request-method", "PUT")]),
            ),
            (
                Method::OPTIONS,
                hm(&[APP, ("access-control-request-method", "GET")]),
            ),
        ];
        for (m, h) in requests {
            let d = p.decide(&m, &h);
            let map = d.headers().to_header_map();
            let pairs: Vec<_> = d.headers().iter().collect();
            assert_eq!(pairs.len(), d.headers().len());
            assert_eq!(map.len(), d.headers().len());
            for (n, v) in &pairs {
                assert_eq!(map.get(n), Some(*v));
            }
            if let Some((last, _)) = pairs.last() {
                assert_eq!(*last, header::VARY, "Vary last");
            }
        }
    }

    /// The prebuilt lines (`template`, for a map that has not allocated) and
    /// the appended ones (a map with room) are the same, in the same order,
    /// for every shape of policy and every kind of allowed origin.
    #[test]
    fn template_and_appends_give_the_same_lines() {
        for credentials in [false, true] {
            for expose in [&[][..], &["X-Total"][..], &["x-a", "x-b"][..]] {
                for origins in [
                    &["*"][..],
                    &["https://app.example.com", "https://*.example.org"][..],
                ] {
                    if credentials && origins == ["*"] {
                        continue;
                    }
                    let p = Policy::builder()
                        .origins(origins.iter().copied())
                        .expose_headers(expose.iter().copied())
                        .credentials(credentials)
                        .build()
                        .unwrap();
                    for origin in ["https://app.example.com", "https://t.example.org"] {
                        let d = p.decide(&Method::GET, &hm(&[("origin", origin)]));
                        assert!(d.allowed());
                        let ResponseHeaders { repr } = d.headers();
                        assert!(matches!(repr, Repr::Template { .. }), "a template was made");
                        let mut fresh = HeaderMap::new();
                        d.headers().clone().apply_to(&mut fresh);
                        let mut roomy = HeaderMap::with_capacity(8);
                        d.headers().clone().apply_to(&mut roomy);
                        assert_eq!(
                            lines(&fresh),
                            lines(&roomy),
                            "{origins:?} {expose:?} {credentials}"
                        );
                        let from_iter: Vec<_> = d
                            .headers()
                            .iter()
                            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
                            .collect();
                        assert_eq!(lines(&fresh), from_iter);
                        let acao = &fresh["access-control-allow-origin"];
                        assert!(acao == origin || acao == "*", "{acao:?}");
                    }
                }
            }
        }
    }

    /// An allowed preflight's answer cloned from its template is line for
    /// line the one `Draft::into_map` builds, for every shape of policy.
    #[test]
    fn preflight_template_and_draft_give_the_same_answer() {
        for credentials in [false, true] {
            for max_age in [None, Some(600)] {
                for listed in [&[][..], &["X-Trace"][..], &["x-a", "Content-Type"][..]] {
                    for origins in [&["*"][..], &["https://*.example.org"][..]] {
                        if credentials && origins == ["*"] {
                            continue;
                        }
                        let mut b = Policy::builder()
                            .origins(origins.iter().copied())
                            .methods(["PUT", "patch"])
                            .request_headers(listed.iter().copied())
                            .credentials(credentials);
                        if let Some(m) = max_age {
                            b = b.max_age(m);
                        }
                        let p = b.build().unwrap();
                        assert!(p.preflight_template.is_some());
                        let mut h = hm(&[
                            ("origin", "https://t.example.org"),
                            ("access-control-request-method", "patch"),
                        ]);
                        if let Some(name) = listed.first() {
                            h.append(
                                header::ACCESS_CONTROL_REQUEST_HEADERS,
                                HeaderValue::from_str(name).unwrap(),
                            );
                        }
                        let d = p.decide(&Method::OPTIONS, &h);
                        assert!(d.allowed(), "{:?}", d.reason());
                        let got = d.headers().to_header_map();
                        let HeaderRule::List { value, .. } = &p.request_headers else {
                            panic!("a list");
                        };
                        let draft = Draft {
                            allow_origin: Some(HeaderValue::from_static(if origins == ["*"] {
                                "*"
                            } else {
                                "https://t.example.org"
                            })),
                            allow_credentials: credentials,
                            allow_methods: Some(HeaderValue::from_static("patch")),
                            allow_headers: value.clone(),
                            max_age: p.max_age.as_ref().map(|(_, v)| v.clone()),
                            allow_private_network: false,
                            vary: Some(p.preflight_vary.clone()),
                        };
                        assert_eq!(
                            lines(&got),
                            lines(&draft.into_map()),
                            "{origins:?} {listed:?} {credentials} {max_age:?}"
                        );
                    }
                }
            }
        }
    }

    /// Appending to a map that holds other headers only (a handler's
    /// `Content-Type`) gives what merging gives.
    #[test]
    fn appending_beside_other_headers_is_merging() {
        let p = policy();
        let bases = [
            hm(&[("content-type", "application/json"), ("x-request-id", "7")]),
            hm(&[("content-type", "text/html"), ("vary", "accept-encoding")]),
            hm(&[("vary", "Accept, Origin")]),
            hm(&[("vary", "*")]),
        ];
        for origin in [
            "https://app.example.com",
            "https://b.example.org",
            "https://evil.example",
        ] {
            let d = p.decide(&Method::GET, &hm(&[("origin", origin)]));
            for base in &bases {
                assert!(matches!(scan(base), Scan::Clean { .. }));
                let mut appended = base.clone();
                d.headers().clone().apply_to(&mut appended);
                let mut merged = base.clone();
                merge(d.headers().clone().repr, &mut merged);
                assert_eq!(lines(&appended), lines(&merged), "{origin} {base:?}");
                assert_eq!(
                    appended.get_all(header::VARY).iter().count(),
                    base.get_all(header::VARY).iter().count()
                        + usize::from(!varies_on(base, b"origin")),
                    "Vary: origin added once, only where missing"
                );
            }
        }
        assert!(matches!(
            scan(&hm(&[("access-control-allow-origin", "*")])),
            Scan::Cors
        ));
        assert!(matches!(
            scan(&hm(&[
                ("vary", "accept"),
                ("access-control-allow-private-network", "true")
            ])),
            Scan::Cors
        ));
        assert!(matches!(
            scan(&hm(&[("vary", "accept")])),
            Scan::Clean { vary: true }
        ));
    }

    #[test]
    fn any_origin_and_mirror() {
        let p = Policy::builder()
            .any_origin()
            .methods(["*"])
            .request_headers(["*"])
            .expose_headers(["*"])
            .private_network(true)
            .build()
            .unwrap();
        let h = p
            .decide(&Method::GET, &HeaderMap::new())
            .headers()
            .to_header_map();
        assert_eq!(h["access-control-allow-origin"], "*");
        assert_eq!(h["access-control-expose-headers"], "*");
        assert!(h.get("vary").is_none());
        let d = p.decide(
            &Method::OPTIONS,
            &hm(&[
                ("origin", "null"),
                ("access-control-request-method", "SUBSCRIBE"),
                ("access-control-request-headers", "x-a, Authorization"),
                ("access-control-request-headers", "x-b"),
                ("access-control-request-private-network", "true"),
            ]),
        );
        assert!(d.allowed());
        let h = d.headers().to_header_map();
        assert_eq!(h["access-control-allow-methods"], "SUBSCRIBE");
        assert_eq!(h["access-control-allow-headers"], "x-a, Authorization, x-b");
        assert_eq!(h["access-control-allow-private-network"], "true");
    }
}
