//! Configuration errors: every problem a policy can have, as a typed value that
//! names the setting, says what is wrong and how to fix it.
//!
//! Validation never stops at the first problem: [`PolicyErrors`] holds them all.

use std::fmt;

use crate::origin::OriginError;

/// The policy setting a problem belongs to (its TOML key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setting {
    /// `origins`
    Origins,
    /// `methods`
    Methods,
    /// `request_headers`
    RequestHeaders,
    /// `expose_headers`
    ExposeHeaders,
    /// `credentials`
    Credentials,
    /// `max_age`
    MaxAge,
    /// The TOML document itself.
    Document,
}

impl Setting {
    /// The key as written in TOML.
    pub fn key(self) -> &'static str {
        match self {
            Setting::Origins => "origins",
            Setting::Methods => "methods",
            Setting::RequestHeaders => "request_headers",
            Setting::ExposeHeaders => "expose_headers",
            Setting::Credentials => "credentials",
            Setting::MaxAge => "max_age",
            Setting::Document => "(document)",
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// One problem in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// No origin is allowed at all.
    NoOrigins,
    /// An origin is not written the way browsers send it (trailing slash, path,
    /// query, default port, upper case, ...). The [`OriginError`] says which, and
    /// carries the corrected origin.
    InvalidOrigin {
        /// The value as configured.
        value: String,
        /// What is wrong, with the suggested fix.
        problem: OriginError,
    },
    /// `null` was listed: sandboxed iframes, `file:` pages and redirected
    /// requests all send `null`, so allowing it allows anyone.
    NullOrigin,
    /// A `file:` URL was listed; pages loaded from files send `Origin: null`.
    FileOrigin {
        /// The value as configured.
        value: String,
    },
    /// The scheme is neither `http` nor `https`.
    UnsupportedScheme {
        /// The value as configured.
        value: String,
        /// The scheme.
        scheme: String,
    },
    /// A pattern's wildcard is somewhere other than `scheme://*.domain` or `:*`.
    InvalidPattern {
        /// The value as configured.
        value: String,
        /// What is wrong.
        detail: &'static str,
    },
    /// `https://*.com`, `https://*.co.uk`, `https://*.github.io`: anyone can
    /// register a name under a public suffix.
    PublicSuffixWildcard {
        /// The value as configured.
        value: String,
        /// The public suffix the wildcard covers.
        suffix: String,
    },
    /// `*` was listed together with other origins.
    AnyOriginWithOthers,
    /// `*` (any origin) with `credentials = true`.
    AnyOriginWithCredentials,
    /// A plain-`http` origin that is not loopback, with `credentials = true`.
    InsecureOriginWithCredentials {
        /// The value as configured.
        value: String,
    },
    /// The same origin is listed twice (or is covered by a pattern listed too).
    DuplicateOrigin {
        /// The value as configured.
        value: String,
    },
    /// A method name that is not an HTTP token.
    InvalidMethod {
        /// The value as configured.
        value: String,
    },
    /// `CONNECT`, `TRACE` or `TRACK`: browsers never let script send them.
    ForbiddenMethod {
        /// The value as configured.
        value: String,
    },
    /// A header name that is not an HTTP token.
    InvalidHeaderName {
        /// Which list.
        setting: Setting,
        /// The value as configured.
        value: String,
    },
    /// A request header that script can never set (`Cookie`, `Host`, `Sec-*`, ...).
    ForbiddenRequestHeader {
        /// The value as configured.
        value: String,
    },
    /// A CORS header in the wrong list (`Access-Control-Allow-Origin` as a
    /// request header, `Origin` as an exposed header, ...).
    MisplacedCorsHeader {
        /// Which list.
        setting: Setting,
        /// The value as configured.
        value: String,
    },
    /// `Set-Cookie` or `Set-Cookie2` listed as exposed: script can never read them.
    ForbiddenResponseHeader {
        /// The value as configured.
        value: String,
    },
    /// `*` in `expose_headers` with `credentials = true`, where browsers read it
    /// as a header literally named `*`.
    ExposeWildcardWithCredentials,
    /// `max_age` outside 0 to 86400 seconds.
    MaxAgeOutOfRange {
        /// The value as configured.
        value: i64,
    },
    /// The TOML document does not parse, or has an unknown key or a wrong type.
    Toml {
        /// What the TOML parser said.
        message: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
    },
}

impl PolicyError {
    /// The setting the problem belongs to.
    pub fn setting(&self) -> Setting {
        use PolicyError::*;
        match self {
            NoOrigins
            | InvalidOrigin { .. }
            | NullOrigin
            | FileOrigin { .. }
            | UnsupportedScheme { .. }
            | InvalidPattern { .. }
            | PublicSuffixWildcard { .. }
            | AnyOriginWithOthers
            | DuplicateOrigin { .. } => Setting::Origins,
            AnyOriginWithCredentials | InsecureOriginWithCredentials { .. } => Setting::Credentials,
            InvalidMethod { .. } | ForbiddenMethod { .. } => Setting::Methods,
            InvalidHeaderName { setting, .. } | MisplacedCorsHeader { setting, .. } => *setting,
            ForbiddenRequestHeader { .. } => Setting::RequestHeaders,
            ForbiddenResponseHeader { .. } | ExposeWildcardWithCredentials => {
                Setting::ExposeHeaders
            }
            MaxAgeOutOfRange { .. } => Setting::MaxAge,
            Toml { .. } => Setting::Document,
        }
    }

    /// A stable code for programs (`snake_case`).
    pub fn code(&self) -> &'static str {
        use PolicyError::*;
        match self {
            NoOrigins => "no_origins",
            InvalidOrigin { .. } => "invalid_origin",
            NullOrigin => "null_origin",
            FileOrigin { .. } => "file_origin",
            UnsupportedScheme { .. } => "unsupported_scheme",
            InvalidPattern { .. } => "invalid_pattern",
            PublicSuffixWildcard { .. } => "public_suffix_wildcard",
            AnyOriginWithOthers => "any_origin_with_others",
            AnyOriginWithCredentials => "any_origin_with_credentials",
            InsecureOriginWithCredentials { .. } => "insecure_origin_with_credentials",
            DuplicateOrigin { .. } => "duplicate_origin",
            InvalidMethod { .. } => "invalid_method",
            ForbiddenMethod { .. } => "forbidden_method",
            InvalidHeaderName { .. } => "invalid_header_name",
            ForbiddenRequestHeader { .. } => "forbidden_request_header",
            MisplacedCorsHeader { .. } => "misplaced_cors_header",
            ForbiddenResponseHeader { .. } => "forbidden_response_header",
            ExposeWildcardWithCredentials => "expose_wildcard_with_credentials",
            MaxAgeOutOfRange { .. } => "max_age_out_of_range",
            Toml { .. } => "toml",
        }
    }

    /// The configured value the problem is about, when there is one.
    pub fn value(&self) -> Option<&str> {
        use PolicyError::*;
        match self {
            InvalidOrigin { value, .. }
            | FileOrigin { value }
            | UnsupportedScheme { value, .. }
            | InvalidPattern { value, .. }
            | PublicSuffixWildcard { value, .. }
            | InsecureOriginWithCredentials { value }
            | DuplicateOrigin { value }
            | InvalidMethod { value }
            | ForbiddenMethod { value }
            | InvalidHeaderName { value, .. }
            | ForbiddenRequestHeader { value }
            | MisplacedCorsHeader { value, .. }
            | ForbiddenResponseHeader { value } => Some(value),
            NullOrigin => Some("null"),
            _ => None,
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PolicyError::*;
        write!(f, "{}: ", self.setting())?;
        match self {
            NoOrigins => f.write_str(
                "no origin is allowed, so every cross-origin request would be refused; list the origins of your web pages, e.g. origins = [\"https://app.example.com\"]",
            ),
            InvalidOrigin { problem, .. } => write!(f, "{problem}"),
            NullOrigin => f.write_str(
                "'null' cannot be allowed: sandboxed iframes, pages opened from files and requests redirected across origins all send `Origin: null`, so allowing it allows anyone; serve the page from a real origin and list that",
            ),
            FileOrigin { value } => write!(
                f,
                "'{value}' is a file: URL; pages opened from files send `Origin: null`, which cannot be allowed safely; serve the page over http://localhost instead and list that origin"
            ),
            UnsupportedScheme { value, scheme } => write!(
                f,
                "'{value}' uses the scheme '{scheme}'; only http and https origins can be allowed here"
            ),
            InvalidPattern { value, detail } => write!(
                f,
                "'{value}' is not a valid origin pattern: {detail}; patterns look like https://*.example.com (any subdomain) or http://localhost:* (any port)"
            ),
            PublicSuffixWildcard { value, suffix } => write!(
                f,
                "'{value}' allows every site under the public suffix '{suffix}', which anyone can register; list your own domain instead, e.g. https://*.yourname.{suffix}"
            ),
            AnyOriginWithOthers => f.write_str(
                "'*' already allows every origin, so the other origins listed with it mean nothing; keep either '*' alone or only the list",
            ),
            AnyOriginWithCredentials => f.write_str(
                "credentials = true cannot be combined with origins = [\"*\"]: browsers refuse `Access-Control-Allow-Origin: *` on requests with cookies, and reflecting every origin would let any site act as your users; list the origins that may send credentials",
            ),
            InsecureOriginWithCredentials { value } => write!(
                f,
                "'{value}' is plain http and not loopback, and credentials = true: anyone on the network path can impersonate that origin and read your users' data; use https:// (http:// is accepted only for localhost and 127.0.0.1 during development)"
            ),
            DuplicateOrigin { value } => write!(
                f,
                "'{value}' is listed more than once; remove the duplicate"
            ),
            InvalidMethod { value } => write!(
                f,
                "'{value}' is not a valid method name (letters, digits and !#$%&'*+-.^_`|~ only, no spaces)"
            ),
            ForbiddenMethod { value } => write!(
                f,
                "'{value}' can never be sent by a web page (browsers forbid CONNECT, TRACE and TRACK), so allowing it does nothing; remove it"
            ),
            InvalidHeaderName { value, .. } => write!(
                f,
                "'{value}' is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only, no spaces or colons)"
            ),
            ForbiddenRequestHeader { value } => write!(
                f,
                "'{value}' is a header that browsers set themselves and never let a page set, so allowing it does nothing; remove it"
            ),
            MisplacedCorsHeader { setting, value } => match setting {
                Setting::ExposeHeaders => write!(
                    f,
                    "'{value}' is a request header or a preflight-only header, never on a response a page reads; remove it"
                ),
                _ => write!(
                    f,
                    "'{value}' is a CORS header the server sends or the browser sets, not one a page sends; remove it (corsgate sends the CORS response headers itself)"
                ),
            },
            ForbiddenResponseHeader { value } => write!(
                f,
                "'{value}' can never be read by a page, whatever the server says; remove it"
            ),
            ExposeWildcardWithCredentials => f.write_str(
                "'*' with credentials = true exposes nothing: on requests with cookies browsers read it as a header literally named '*'; list the header names to expose",
            ),
            MaxAgeOutOfRange { value } => write!(
                f,
                "{value} is not a usable max-age; use 0 (do not cache preflights) to 86400 seconds (the most any browser keeps them: Chromium caps at 7200, Safari at 600)"
            ),
            Toml {
                message,
                line,
                column,
            } => match (line, column) {
                (Some(l), Some(c)) => write!(f, "line {l}, column {c}: {message}"),
                _ => f.write_str(message),
            },
        }
    }
}

impl std::error::Error for PolicyError {}

/// Every problem found in a policy, in the order the settings were read.
///
/// ```
/// use corsgate_core::policy::{Policy, PolicyError};
/// let errors = Policy::builder()
///     .origin("https://app.example.com/")
///     .method("TRACE")
///     .build()
///     .unwrap_err();
/// assert_eq!(errors.len(), 2);
/// assert!(errors.to_string().contains("did you mean https://app.example.com — without the trailing slash?"));
/// assert!(matches!(errors.iter().nth(1), Some(PolicyError::ForbiddenMethod { .. })));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors {
    errors: Vec<(PolicyError, Option<(usize, usize)>)>,
}

impl PolicyErrors {
    pub(crate) fn new() -> Self {
        PolicyErrors { errors: Vec::new() }
    }
    pub(crate) fn push(&mut self, e: PolicyError) {
        self.errors.push((e, None));
    }
    pub(crate) fn locate(&mut self, mut find: impl FnMut(&PolicyError) -> Option<(usize, usize)>) {
        for (e, loc) in &mut self.errors {
            if loc.is_none() {
                *loc = find(e);
            }
        }
    }
    /// Whether no problem was found.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
    /// How many problems.
    pub fn len(&self) -> usize {
        self.errors.len()
    }
    /// The problems.
    pub fn iter(&self) -> impl Iterator<Item = &PolicyError> {
        self.errors.iter().map(|(e, _)| e)
    }
    /// The problems with their 1-based (line, column) in the TOML document, when
    /// the policy came from one.
    pub fn located(&self) -> impl Iterator<Item = (&PolicyError, Option<(usize, usize)>)> {
        self.errors.iter().map(|(e, l)| (e, *l))
    }
}

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "the CORS policy has {n} problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for (e, loc) in &self.errors {
            match loc {
                Some((l, c)) if !matches!(e, PolicyError::Toml { .. }) => {
                    write!(f, "\n  - line {l}, column {c}: {e}")?
                }
                _ => write!(f, "\n  - {e}")?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}
