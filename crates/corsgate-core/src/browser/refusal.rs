//! Refusals: every way a browser can refuse a cross-origin response, as one
//! enum whose messages are written for a person who never read the standard.
//!
//! Each variant names the matching value of Chromium's
//! `network::mojom::CorsError` (as DevTools spells it) and Firefox's `CORS…`
//! console key (MDN's "Reason:" pages). Its `Display` says what was sent, what
//! came back, what was needed, and the smallest server-side change that fixes it.

use std::fmt;

use serde::Serialize;

/// Which response a check concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The answer to the `OPTIONS` preflight.
    Preflight,
    /// The response to the request itself.
    Actual,
    /// A redirect (3xx) on the way to the final response.
    Redirect,
}

impl Stage {
    fn response(self) -> &'static str {
        match self {
            Stage::Preflight => "the preflight response",
            Stage::Actual => "the response",
            Stage::Redirect => "the redirect response",
        }
    }
}

/// Why the browser refused to let script read a cross-origin response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Refusal {
    /// The request's mode is `same-origin` and the URL is cross-origin.
    /// Chromium `DisallowedByMode`; Firefox: no console key.
    DisallowedByMode {
        /// The URL.
        url: String,
    },
    /// The URL's scheme is not `http` or `https`.
    /// Chromium `CorsDisabledScheme`; Firefox `CORSRequestNotHttp`.
    UnsupportedScheme {
        /// The URL.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// No `Access-Control-Allow-Origin` header.
    /// Chromium `MissingAllowOriginHeader` / `PreflightMissingAllowOriginHeader`;
    /// Firefox `CORSMissingAllowOrigin`.
    MissingAllowOrigin {
        /// Which response.
        stage: Stage,
        /// The request's serialized origin.
        origin: String,
        /// The response's status.
        status: u16,
    },
    /// `Access-Control-Allow-Origin: *` on a credentialed request.
    /// Chromium `WildcardOriginNotAllowed` / `PreflightWildcardOriginNotAllowed`;
    /// Firefox `CORSNotSupportingCredentials`.
    WildcardOriginWithCredentials {
        /// Which response.
        stage: Stage,
        /// The request's serialized origin.
        origin: String,
    },
    /// `Access-Control-Allow-Origin` holds several values (a list, or the header
    /// sent twice, typically by both a proxy and the application).
    /// Chromium `MultipleAllowOriginValues` / `PreflightMultipleAllowOriginValues`;
    /// Firefox `CORSMultipleAllowOriginNotAllowed` when there were several
    /// header lines, `CORSAllowOriginNotMatchingOrigin` otherwise.
    MultipleAllowOrigin {
        /// Which response.
        stage: Stage,
        /// The combined value.
        value: String,
        /// How many header lines carried it.
        lines: usize,
        /// The request's serialized origin.
        origin: String,
    },
    /// `Access-Control-Allow-Origin` is not an origin, `null` or `*` at all.
    /// Chromium `InvalidAllowOriginValue` / `PreflightInvalidAllowOriginValue`;
    /// Firefox `CORSAllowOriginNotMatchingOrigin`.
    InvalidAllowOrigin {
        /// Which response.
        stage: Stage,
        /// The value.
        value: String,
        /// The request's serialized origin.
        origin: String,
    },
    /// `Access-Control-Allow-Origin` names another origin (or differs by a
    /// trailing slash, case, scheme or port).
    /// Chromium `AllowOriginMismatch` / `PreflightAllowOriginMismatch`;
    /// Firefox `CORSAllowOriginNotMatchingOrigin`.
    AllowOriginMismatch {
        /// Which response.
        stage: Stage,
        /// The value.
        value: String,
        /// The request's serialized origin.
        origin: String,
    },
    /// Credentials were included but `Access-Control-Allow-Credentials` is not exactly `true`.
    /// Chromium `InvalidAllowCredentials` / `PreflightInvalidAllowCredentials`;
    /// Firefox `CORSMissingAllowCredentials`.
    InvalidAllowCredentials {
        /// Which response.
        stage: Stage,
        /// The value, or `None` when absent.
        value: Option<String>,
    },
    /// The preflight's status is not 200–299.
    /// Chromium `PreflightInvalidStatus`; Firefox `CORSPreflightDidNotSucceed`.
    PreflightStatus {
        /// The status.
        status: u16,
    },
    /// The preflight was answered with a redirect, which browsers never follow.
    /// Chromium `PreflightDisallowedRedirect`; Firefox `CORSExternalRedirectNotAllowed`.
    PreflightRedirect {
        /// The status.
        status: u16,
        /// The `Location`, if any.
        location: Option<String>,
    },
    /// `Access-Control-Allow-Methods` does not parse as a list of methods.
    /// Chromium `InvalidAllowMethodsPreflightResponse`; Firefox `CORSInvalidAllowMethod`.
    InvalidAllowMethods {
        /// The header line.
        value: String,
        /// The element that is not a method.
        element: String,
    },
    /// `Access-Control-Allow-Headers` does not parse as a list of header names.
    /// Chromium `InvalidAllowHeadersPreflightResponse`; Firefox `CORSInvalidAllowHeader`.
    InvalidAllowHeaders {
        /// The header line.
        value: String,
        /// The element that is not a header name.
        element: String,
    },
    /// The method is not in `Access-Control-Allow-Methods`.
    /// Chromium `MethodDisallowedByPreflightResponse`; Firefox `CORSMethodNotFound`.
    MethodNotAllowed {
        /// The request's method.
        method: String,
        /// What the preflight allowed.
        allowed: Vec<String>,
        /// `*` was sent but means nothing with credentials.
        wildcard_ignored: bool,
    },
    /// A request header is not in `Access-Control-Allow-Headers`.
    /// Chromium `HeaderDisallowedByPreflightResponse`; Firefox `CORSMissingAllowHeaderFromPreflight`.
    HeaderNotAllowed {
        /// The header name, lower case.
        header: String,
        /// What the preflight allowed.
        allowed: Vec<String>,
        /// `*` was sent but means nothing with credentials.
        wildcard_ignored: bool,
        /// `*` was sent, but the standard never lets it cover `Authorization`.
        authorization_not_covered: bool,
    },
    /// A redirect's `Location` contains a user name or password.
    /// Chromium `RedirectContainsCredentials`; Firefox logs only
    /// `CORSDidNotSucceed` ("CORS request did not succeed", its console
    /// checked by the conformance harness).
    RedirectContainsCredentials {
        /// The location.
        location: String,
    },
    /// A redirect to something other than `http:` or `https:` (a network error, not CORS).
    RedirectNotHttp {
        /// The location.
        location: String,
    },
    /// A redirect's `Location` does not parse (a network error, not CORS).
    InvalidRedirectLocation {
        /// The location.
        location: String,
    },
    /// More than 20 redirects (a network error, not CORS).
    TooManyRedirects,
}

impl Refusal {
    /// A stable code for machines, e.g. `allow_origin_mismatch`.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::DisallowedByMode { .. } => "disallowed_by_mode",
            Refusal::UnsupportedScheme { .. } => "unsupported_scheme",
            Refusal::MissingAllowOrigin { .. } => "missing_allow_origin",
            Refusal::WildcardOriginWithCredentials { .. } => "wildcard_origin_with_credentials",
            Refusal::MultipleAllowOrigin { .. } => "multiple_allow_origin",
            Refusal::InvalidAllowOrigin { .. } => "invalid_allow_origin",
            Refusal::AllowOriginMismatch { .. } => "allow_origin_mismatch",
            Refusal::InvalidAllowCredentials { .. } => "invalid_allow_credentials",
            Refusal::PreflightStatus { .. } => "preflight_status",
            Refusal::PreflightRedirect { .. } => "preflight_redirect",
            Refusal::InvalidAllowMethods { .. } => "invalid_allow_methods",
            Refusal::InvalidAllowHeaders { .. } => "invalid_allow_headers",
            Refusal::MethodNotAllowed { .. } => "method_not_allowed",
            Refusal::HeaderNotAllowed { .. } => "header_not_allowed",
            Refusal::RedirectContainsCredentials { .. } => "redirect_contains_credentials",
            Refusal::RedirectNotHttp { .. } => "redirect_not_http",
            Refusal::InvalidRedirectLocation { .. } => "invalid_redirect_location",
            Refusal::TooManyRedirects => "too_many_redirects",
        }
    }

    /// Which response the refusal concerns.
    pub fn stage(&self) -> Stage {
        match self {
            Refusal::MissingAllowOrigin { stage, .. }
            | Refusal::WildcardOriginWithCredentials { stage, .. }
            | Refusal::MultipleAllowOrigin { stage, .. }
            | Refusal::InvalidAllowOrigin { stage, .. }
            | Refusal::AllowOriginMismatch { stage, .. }
            | Refusal::InvalidAllowCredentials { stage, .. } => *stage,
            Refusal::PreflightStatus { .. }
            | Refusal::PreflightRedirect { .. }
            | Refusal::InvalidAllowMethods { .. }
            | Refusal::InvalidAllowHeaders { .. }
            | Refusal::MethodNotAllowed { .. }
            | Refusal::HeaderNotAllowed { .. } => Stage::Preflight,
            Refusal::RedirectContainsCredentials { .. }
            | Refusal::RedirectNotHttp { .. }
            | Refusal::InvalidRedirectLocation { .. }
            | Refusal::TooManyRedirects => Stage::Redirect,
            Refusal::DisallowedByMode { .. } | Refusal::UnsupportedScheme { .. } => Stage::Actual,
        }
    }

    /// Whether this is a CORS refusal (as opposed to a plain network error the
    /// browser reports the same way to script).
    pub fn is_cors(&self) -> bool {
        !matches!(
            self,
            Refusal::RedirectNotHttp { .. }
                | Refusal::InvalidRedirectLocation { .. }
                | Refusal::TooManyRedirects
        )
    }

    /// The response header the refusal is about, if one.
    pub fn header(&self) -> Option<&'static str> {
        match self {
            Refusal::MissingAllowOrigin { .. }
            | Refusal::WildcardOriginWithCredentials { .. }
            | Refusal::MultipleAllowOrigin { .. }
            | Refusal::InvalidAllowOrigin { .. }
            | Refusal::AllowOriginMismatch { .. } => Some("Access-Control-Allow-Origin"),
            Refusal::InvalidAllowCredentials { .. } => Some("Access-Control-Allow-Credentials"),
            Refusal::InvalidAllowMethods { .. } | Refusal::MethodNotAllowed { .. } => {
                Some("Access-Control-Allow-Methods")
            }
            Refusal::InvalidAllowHeaders { .. } | Refusal::HeaderNotAllowed { .. } => {
                Some("Access-Control-Allow-Headers")
            }
            Refusal::PreflightRedirect { .. } | Refusal::RedirectContainsCredentials { .. } => {
                Some("Location")
            }
            Refusal::DisallowedByMode { .. }
            | Refusal::UnsupportedScheme { .. }
            | Refusal::PreflightStatus { .. }
            | Refusal::RedirectNotHttp { .. }
            | Refusal::InvalidRedirectLocation { .. }
            | Refusal::TooManyRedirects => None,
        }
    }

    /// Chromium's `CorsError`, as DevTools names it.
    pub fn chromium_error(&self) -> Option<&'static str> {
        let pre = self.stage() == Stage::Preflight;
        let pick = |a: &'static str, b: &'static str| Some(if pre { b } else { a });
        match self {
            Refusal::DisallowedByMode { .. } => Some("DisallowedByMode"),
            Refusal::UnsupportedScheme { .. } => Some("CorsDisabledScheme"),
            Refusal::MissingAllowOrigin { .. } => pick(
                "MissingAllowOriginHeader",
                "PreflightMissingAllowOriginHeader",
            ),
            Refusal::WildcardOriginWithCredentials { .. } => pick(
                "WildcardOriginNotAllowed",
                "PreflightWildcardOriginNotAllowed",
            ),
            Refusal::MultipleAllowOrigin { .. } => pick(
                "MultipleAllowOriginValues",
                "PreflightMultipleAllowOriginValues",
            ),
            Refusal::InvalidAllowOrigin { .. } => pick(
                "InvalidAllowOriginValue",
                "PreflightInvalidAllowOriginValue",
            ),
            Refusal::AllowOriginMismatch { .. } => {
                pick("AllowOriginMismatch", "PreflightAllowOriginMismatch")
            }
            Refusal::InvalidAllowCredentials { .. } => pick(
                "InvalidAllowCredentials",
                "PreflightInvalidAllowCredentials",
            ),
            Refusal::PreflightStatus { .. } => Some("PreflightInvalidStatus"),
            Refusal::PreflightRedirect { .. } => Some("PreflightDisallowedRedirect"),
            Refusal::InvalidAllowMethods { .. } => Some("InvalidAllowMethodsPreflightResponse"),
            Refusal::InvalidAllowHeaders { .. } => Some("InvalidAllowHeadersPreflightResponse"),
            Refusal::MethodNotAllowed { .. } => Some("MethodDisallowedByPreflightResponse"),
            Refusal::HeaderNotAllowed { .. } => Some("HeaderDisallowedByPreflightResponse"),
            Refusal::RedirectContainsCredentials { .. } => Some("RedirectContainsCredentials"),
            Refusal::RedirectNotHttp { .. }
            | Refusal::InvalidRedirectLocation { .. }
            | Refusal::TooManyRedirects => None,
        }
    }

    /// Firefox's console key (the MDN "Reason:" page).
    pub fn firefox_error(&self) -> Option<&'static str> {
        match self {
            Refusal::UnsupportedScheme { .. } => Some("CORSRequestNotHttp"),
            Refusal::RedirectContainsCredentials { .. } => Some("CORSDidNotSucceed"),
            Refusal::MissingAllowOrigin { .. } => Some("CORSMissingAllowOrigin"),
            Refusal::WildcardOriginWithCredentials { .. } => Some("CORSNotSupportingCredentials"),
            Refusal::MultipleAllowOrigin { lines, .. } if *lines > 1 => {
                Some("CORSMultipleAllowOriginNotAllowed")
            }
            Refusal::MultipleAllowOrigin { .. }
            | Refusal::InvalidAllowOrigin { .. }
            | Refusal::AllowOriginMismatch { .. } => Some("CORSAllowOriginNotMatchingOrigin"),
            Refusal::InvalidAllowCredentials { .. } => Some("CORSMissingAllowCredentials"),
            Refusal::PreflightStatus { .. } => Some("CORSPreflightDidNotSucceed"),
            Refusal::PreflightRedirect { .. } => Some("CORSExternalRedirectNotAllowed"),
            Refusal::InvalidAllowMethods { .. } => Some("CORSInvalidAllowMethod"),
            Refusal::InvalidAllowHeaders { .. } => Some("CORSInvalidAllowHeader"),
            Refusal::MethodNotAllowed { .. } => Some("CORSMethodNotFound"),
            Refusal::HeaderNotAllowed { .. } => Some("CORSMissingAllowHeaderFromPreflight"),
            Refusal::DisallowedByMode { .. }
            | Refusal::RedirectNotHttp { .. }
            | Refusal::InvalidRedirectLocation { .. }
            | Refusal::TooManyRedirects => None,
        }
    }

    /// Whether the outcome depends on the browser (so the explanation says so).
    pub fn browser_specific_note(&self) -> Option<&'static str> {
        match self {
            Refusal::HeaderNotAllowed {
                authorization_not_covered: true,
                ..
            } => Some(
                "the Fetch standard says `*` never covers Authorization; Chromium, Firefox and Safari currently let it (Firefox warns it will stop)",
            ),
            Refusal::MultipleAllowOrigin { lines: 1, .. } => Some(
                "Chromium reports this as 'multiple values'; Firefox as 'does not match'",
            ),
            Refusal::DisallowedByMode { .. }
            | Refusal::UnsupportedScheme { .. }
            | Refusal::MissingAllowOrigin { .. }
            | Refusal::WildcardOriginWithCredentials { .. }
            | Refusal::MultipleAllowOrigin { .. }
            | Refusal::InvalidAllowOrigin { .. }
            | Refusal::AllowOriginMismatch { .. }
            | Refusal::InvalidAllowCredentials { .. }
            | Refusal::PreflightStatus { .. }
            | Refusal::PreflightRedirect { .. }
            | Refusal::InvalidAllowMethods { .. }
            | Refusal::InvalidAllowHeaders { .. }
            | Refusal::MethodNotAllowed { .. }
            | Refusal::HeaderNotAllowed { .. }
            | Refusal::RedirectContainsCredentials { .. }
            | Refusal::RedirectNotHttp { .. }
            | Refusal::InvalidRedirectLocation { .. }
            | Refusal::TooManyRedirects => None,
        }
    }

    /// The smallest server-side change that fixes it, in one sentence.
    pub fn fix(&self) -> String {
        match self {
            Refusal::DisallowedByMode { .. } => {
                "nothing on the server can fix this: the page asked for mode 'same-origin'; use mode 'cors' in the request".into()
            }
            Refusal::UnsupportedScheme { scheme, .. } => format!(
                "serve the resource over http or https; browsers do not use CORS for '{scheme}:' URLs"
            ),
            Refusal::MissingAllowOrigin { origin, .. }
            | Refusal::WildcardOriginWithCredentials { origin, .. }
            | Refusal::MultipleAllowOrigin { origin, .. }
            | Refusal::InvalidAllowOrigin { origin, .. }
            | Refusal::AllowOriginMismatch { origin, .. }
                if is_null(origin) =>
            {
                NULL_ORIGIN_FIX.into()
            }
            Refusal::MissingAllowOrigin { stage, origin, .. } => { let origin = named(origin); format!(
                "make {} include `Access-Control-Allow-Origin: {origin}`{}",
                stage.response(),
                if *stage == Stage::Preflight {
                    " and answer the OPTIONS request with 204 before any authentication or routing"
                } else {
                    " (on error responses too)"
                }
            ) }
            Refusal::WildcardOriginWithCredentials { stage, origin } => { let origin = named(origin); format!(
                "in {}, send `Access-Control-Allow-Origin: {origin}` instead of the wildcard, with `Access-Control-Allow-Credentials: true` and `Vary: Origin`; or make the request without credentials",
                stage.response()
            ) }
            Refusal::MultipleAllowOrigin { origin, lines, .. } => {
                let origin = named(origin);
                if *lines > 1 {
                    format!(
                        "`Access-Control-Allow-Origin` is added twice (usually by both a proxy and the application): remove it from one of them so exactly one `Access-Control-Allow-Origin: {origin}` remains"
                    )
                } else {
                    format!(
                        "send one origin, not a list: choose the value per request and send `Access-Control-Allow-Origin: {origin}` with `Vary: Origin`"
                    )
                }
            }
            Refusal::InvalidAllowOrigin { origin, .. } | Refusal::AllowOriginMismatch { origin, .. } => format!(
                "send `Access-Control-Allow-Origin: {}` exactly (same scheme, host and port, no trailing slash), with `Vary: Origin`",
                named(origin)
            ),
            Refusal::InvalidAllowCredentials { stage, .. } => format!(
                "add `Access-Control-Allow-Credentials: true` (exactly, lower case) to {}; or make the request without credentials",
                stage.response()
            ),
            Refusal::PreflightStatus { status } => format!(
                "answer the OPTIONS preflight with 204 (any 2xx works) instead of {}: handle OPTIONS before authentication, routing or method checks",
                if *status == 0 { "its current status".to_owned() } else { status.to_string() }
            ),
            Refusal::PreflightRedirect { .. } => {
                "answer the OPTIONS preflight directly with 204 at the URL requested; browsers never follow a redirect on a preflight (fix the URL, e.g. a missing trailing slash or http→https)".into()
            }
            Refusal::InvalidAllowMethods { element, .. } if element.is_empty() => {
                "make `Access-Control-Allow-Methods` a comma-separated list of the methods the page uses (e.g. `PUT, DELETE`), without quotes, semicolons or other characters".into()
            }
            Refusal::InvalidAllowMethods { element, .. } => format!(
                "make `Access-Control-Allow-Methods` a comma-separated list of methods; '{element}' is not a method"
            ),
            Refusal::InvalidAllowHeaders { element, .. } if element.is_empty() => {
                "make `Access-Control-Allow-Headers` a comma-separated list of the header names the page sends (e.g. `Content-Type, Authorization`), without quotes, semicolons or other characters".into()
            }
            Refusal::InvalidAllowHeaders { element, .. } => format!(
                "make `Access-Control-Allow-Headers` a comma-separated list of header names; '{element}' is not a header name"
            ),
            Refusal::MethodNotAllowed { method, allowed, .. } => format!(
                "add {method} to `Access-Control-Allow-Methods` in the preflight response (e.g. `Access-Control-Allow-Methods: {}`); methods are case-sensitive",
                join_with(allowed, method, true)
            ),
            Refusal::HeaderNotAllowed { header, allowed, .. } => format!(
                "add {header} to `Access-Control-Allow-Headers` in the preflight response (e.g. `Access-Control-Allow-Headers: {}`)",
                join_with(allowed, header, false)
            ),
            Refusal::RedirectContainsCredentials { .. } => {
                "redirect to a URL without `user:password@`".into()
            }
            Refusal::RedirectNotHttp { .. } => "redirect to an http or https URL".into(),
            Refusal::InvalidRedirectLocation { .. } => "send a valid URL in the `Location` header".into(),
            Refusal::TooManyRedirects => "stop the redirect loop: at most 20 redirects are followed".into(),
        }
    }
}

fn join_with(list: &[String], extra: &str, case_sensitive: bool) -> String {
    let mut items: Vec<&str> = list
        .iter()
        .map(String::as_str)
        .filter(|s| *s != "*")
        .collect();
    let same = |s: &&str| {
        if case_sensitive {
            *s == extra
        } else {
            s.eq_ignore_ascii_case(extra)
        }
    };
    if !items.iter().any(same) {
        items.push(extra);
    }
    items.join(", ")
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::DisallowedByMode { url } => write!(
                f,
                "the request to {url} was made with mode 'same-origin', so the browser refuses any cross-origin URL"
            )?,
            Refusal::UnsupportedScheme { url, scheme } => write!(
                f,
                "{url} uses the '{scheme}' scheme; cross-origin requests are only possible to http and https URLs"
            )?,
            Refusal::MissingAllowOrigin { stage, origin, status } if is_null(origin) => write!(
                f,
                "the request was sent with `Origin: null` ({NULL_ORIGIN_WHY}), and {}{} has no `Access-Control-Allow-Origin` header",
                stage.response(),
                status_note(*status)
            )?,
            Refusal::MissingAllowOrigin { stage, origin, status } => write!(
                f,
                "the request was sent with `Origin: {origin}`, but {}{} has no `Access-Control-Allow-Origin` header; the browser needs `Access-Control-Allow-Origin: {origin}` (or `*` without credentials) to let the page read it",
                stage.response(),
                status_note(*status)
            )?,
            Refusal::WildcardOriginWithCredentials { stage, origin } if is_null(origin) => write!(
                f,
                "the request included credentials (cookies or HTTP authentication) and {} says `Access-Control-Allow-Origin: *`, which is never enough with credentials; the request's origin is `null` ({NULL_ORIGIN_WHY})",
                stage.response()
            )?,
            Refusal::WildcardOriginWithCredentials { stage, origin } => write!(
                f,
                "the request included credentials (cookies or HTTP authentication) and {} says `Access-Control-Allow-Origin: *`; with credentials the wildcard is not allowed, the header must name the origin: `{origin}`",
                stage.response()
            )?,
            Refusal::MultipleAllowOrigin { stage, value, lines, origin } => write!(
                f,
                "{} has {} `Access-Control-Allow-Origin` value '{value}'{}; exactly one value is allowed{}",
                stage.response(),
                if *lines > 1 { "several" } else { "a list as its" },
                if *lines > 1 { format!(" (the header appears {lines} times)") } else { String::new() },
                if is_null(origin) { format!(", and the request's origin is `null` ({NULL_ORIGIN_WHY})") } else { format!(", and it must be `{origin}`") }
            )?,
            Refusal::InvalidAllowOrigin { stage, value, origin } => write!(
                f,
                "{} has `Access-Control-Allow-Origin: {value}`, which is not an origin{}",
                stage.response(),
                if is_null(origin) { format!("; the request's origin is `null` ({NULL_ORIGIN_WHY})") } else { format!("; the browser needs exactly `{origin}`") }
            )?,
            Refusal::AllowOriginMismatch { stage, value, origin } if value.is_empty() => write!(
                f,
                "the request was sent with `Origin: {origin}`, and {} does not allow it (what it sent instead is not known here: no `Access-Control-Allow-Origin` at all, or another value)",
                stage.response()
            )?,
            Refusal::AllowOriginMismatch { stage, value, origin } => {
                write!(
                    f,
                    "the request was sent with `Origin: {origin}`, but {} allows `{value}`; the two must match byte for byte",
                    stage.response()
                )?;
                if let Some(hint) = mismatch_hint(value, origin) {
                    write!(f, " ({hint})")?;
                }
            }
            Refusal::InvalidAllowCredentials { stage, value } => match value {
                Some(v) => write!(
                    f,
                    "the request included credentials, and {} has `Access-Control-Allow-Credentials: {v}`; it must be exactly `true`",
                    stage.response()
                )?,
                None => write!(
                    f,
                    "the request included credentials, but {} has no `Access-Control-Allow-Credentials: true` header",
                    stage.response()
                )?,
            },
            Refusal::PreflightStatus { status: 0 } => f.write_str(
                "the browser sent an OPTIONS preflight first, and it was answered with a status outside 200–299 (which one is not known here); a preflight must be answered with a 2xx status (usually 204)"
            )?,
            Refusal::PreflightStatus { status } if (300..400).contains(status) => write!(
                f,
                "the browser sent an OPTIONS preflight first and it was answered with status {status} without a `Location`, which browsers take as an ordinary answer, not a redirect: a status outside 2xx; a preflight must be answered with a 2xx status (usually 204)"
            )?,
            Refusal::PreflightStatus { status } => write!(
                f,
                "the browser sent an OPTIONS preflight first and it was answered with status {status}; a preflight must be answered with a 2xx status (usually 204)"
            )?,
            Refusal::PreflightRedirect { status, location } => {
                let what = match (*status, location.as_deref()) {
                    (0, None) => String::new(),
                    (0, Some(l)) => format!(" (to {l})"),
                    (s, None) => format!(" ({s})"),
                    (s, Some(l)) => format!(" ({s} to {l})"),
                };
                write!(
                    f,
                    "the OPTIONS preflight was answered with a redirect{what}; browsers never follow redirects for a preflight"
                )?
            }
            Refusal::InvalidAllowMethods { element, .. } if element.is_empty() => f.write_str(
                "the preflight response's `Access-Control-Allow-Methods` does not parse as a comma-separated list of methods, so the browser discards the whole preflight"
            )?,
            Refusal::InvalidAllowMethods { value, element } => write!(
                f,
                "the preflight response has `Access-Control-Allow-Methods: {value}`, and '{element}' in it is not a method name, so the browser discards the whole preflight"
            )?,
            Refusal::InvalidAllowHeaders { element, .. } if element.is_empty() => f.write_str(
                "the preflight response's `Access-Control-Allow-Headers` does not parse as a comma-separated list of header names, so the browser discards the whole preflight"
            )?,
            Refusal::InvalidAllowHeaders { value, element } => write!(
                f,
                "the preflight response has `Access-Control-Allow-Headers: {value}`, and '{element}' in it is not a header name, so the browser discards the whole preflight"
            )?,
            Refusal::MethodNotAllowed { method, allowed, wildcard_ignored } => {
                write!(
                    f,
                    "the request uses method {method}, and the preflight response's `Access-Control-Allow-Methods` is {}",
                    describe_list(allowed)
                )?;
                if *wildcard_ignored {
                    f.write_str("; `*` is only a wildcard for requests without credentials")?;
                } else if allowed.iter().any(|m| m.eq_ignore_ascii_case(method)) {
                    f.write_str("; methods are case-sensitive and only DELETE, GET, HEAD, OPTIONS, POST and PUT are upper-cased by the browser")?;
                }
            }
            Refusal::HeaderNotAllowed { header, allowed, wildcard_ignored, authorization_not_covered } => {
                write!(
                    f,
                    "the request sends the header '{header}', and the preflight response's `Access-Control-Allow-Headers` is {}",
                    describe_list(allowed)
                )?;
                if *wildcard_ignored {
                    f.write_str("; `*` is only a wildcard for requests without credentials")?;
                } else if *authorization_not_covered {
                    f.write_str("; `*` does not cover Authorization, which must be listed by name")?;
                }
            }
            Refusal::RedirectContainsCredentials { location } => write!(
                f,
                "the response redirected to {location}, which contains a user name or password; browsers refuse such redirects for cross-origin requests"
            )?,
            Refusal::RedirectNotHttp { location } => write!(
                f,
                "the response redirected to {location}, which is not an http or https URL (a network error, not CORS)"
            )?,
            Refusal::InvalidRedirectLocation { location } => write!(
                f,
                "the response redirected to '{location}', which is not a valid URL (a network error, not CORS)"
            )?,
            Refusal::TooManyRedirects => f.write_str("more than 20 redirects (a network error, not CORS)")?,
        }
        write!(f, ". Fix: {}.", self.fix())
    }
}

/// The origin as a fix names it: a placeholder when it is not known.
pub(crate) fn named(origin: &str) -> &str {
    if origin.trim().is_empty() {
        "<page origin>"
    } else {
        origin
    }
}

/// ` (status N)`, or nothing when the status is not known (0).
fn status_note(status: u16) -> String {
    if status == 0 {
        String::new()
    } else {
        format!(" (status {status})")
    }
}

/// Whether a serialized origin is the opaque `null`.
pub(crate) fn is_null(origin: &str) -> bool {
    origin.trim().eq_ignore_ascii_case("null")
}

/// Why a request carries `Origin: null`.
const NULL_ORIGIN_WHY: &str =
    "a sandboxed page, a page opened from a file, or a request redirected across origins";

/// The fix when the request's origin is `null`: never allow it.
pub(crate) const NULL_ORIGIN_FIX: &str = "no server change is safe: allowing `null` would let every sandboxed page read the response; make the request from a page with a real origin, and request the final URL directly instead of through a cross-origin redirect";

fn describe_list(list: &[String]) -> String {
    if list.is_empty() {
        "absent or empty".into()
    } else {
        format!("'{}'", list.join(", "))
    }
}

/// A short hint for the usual near-misses between an allowed origin and the real one.
pub(crate) fn mismatch_hint(value: &str, origin: &str) -> Option<String> {
    near_miss(value, origin)
}

/// How an allowed value and the request's origin were probably mixed up: a
/// trailing slash, case, a path, query or fragment, the scheme, the port,
/// two loopback names, `www.`; `None` when they are simply different.
/// Each hint names only what really differs (a value ending in `?` is not a
/// port, `ftp:` is not "http vs https").
///
/// ```
/// use corsgate_core::refusal::near_miss;
/// let o = "https://app.example";
/// assert!(near_miss("https://app.example:8443", o).unwrap().contains("port"));
/// assert!(!near_miss("https://app.example?", o).unwrap().contains("port differs"));
/// assert!(near_miss("ftp://app.example", o).unwrap().contains("ftp vs https"));
/// ```
pub fn near_miss(value: &str, origin: &str) -> Option<String> {
    let value = value.trim();
    if value == origin {
        return None;
    }
    if is_null(origin) {
        return Some("the request's origin is `null` (after a cross-origin redirect, or from a sandboxed or file: page), so no allowed origin matches it; never allow `null`".into());
    }
    if value.eq_ignore_ascii_case("null") {
        return Some("`null` only matches sandboxed pages, file: pages and requests after a cross-origin redirect; never allow it".into());
    }
    if value.len() > origin.len()
        && value.starts_with(origin)
        && value[origin.len()..].bytes().all(|b| b == b'/')
    {
        return Some("the allowed value has a trailing slash; origins never do".into());
    }
    if value.eq_ignore_ascii_case(origin) {
        return Some("they differ only in case; the comparison is byte for byte".into());
    }
    let scheme_hint = |sa: &str, sb: &str| {
        let web = |s: &str| s == "http" || s == "https";
        if web(sa) && web(sb) {
            format!(
                "the scheme differs ({sa} vs {sb}); http and https origins are different origins"
            )
        } else {
            format!("the scheme differs ({sa} vs {sb}); the scheme is part of the origin")
        }
    };
    if let (Some((sa, ra)), Some((sb, rb))) = (value.split_once("://"), origin.split_once("://")) {
        if ra == rb && !sa.eq_ignore_ascii_case(sb) {
            return Some(scheme_hint(
                &sa.to_ascii_lowercase(),
                &sb.to_ascii_lowercase(),
            ));
        }
    }
    let a = url::Url::parse(value).ok()?;
    let b = url::Url::parse(origin).ok()?;
    let extra = value.strip_prefix(origin).unwrap_or_default();
    let what = match extra.as_bytes().first() {
        Some(b'?') => Some("a query"),
        Some(b'#') => Some("a fragment"),
        Some(b'/') => Some("a path"),
        _ => None,
    };
    if let Some(what) = what {
        return Some(format!(
            "the allowed value has {what} ('{extra}') after the origin; an origin is only scheme://host[:port]"
        ));
    }
    if a.path() != "/" || a.query().is_some() || a.fragment().is_some() {
        return Some(
            "the allowed value has a path, query or fragment; an origin is only scheme://host[:port]"
                .into(),
        );
    }
    let (ha, hb) = (a.host_str()?, b.host_str()?);
    let (pa, pb) = (a.port_or_known_default(), b.port_or_known_default());
    let port = |p: Option<u16>| p.map_or("none".to_owned(), |p| p.to_string());
    if a.scheme() != b.scheme() && ha == hb {
        return Some(scheme_hint(a.scheme(), b.scheme()));
    }
    if ha == hb && pa != pb {
        return Some(format!(
            "the port differs ({} vs {}); the port is part of the origin",
            port(pa),
            port(pb)
        ));
    }
    let loopback = ["localhost", "127.0.0.1", "[::1]"];
    if ha != hb && loopback.contains(&ha) && loopback.contains(&hb) {
        return Some(format!(
            "{ha} and {hb} are different origins even though both reach this machine; allow the one the page is opened with"
        ));
    }
    if ha == format!("www.{hb}") || hb == format!("www.{ha}") {
        return Some(format!(
            "{ha} and {hb} are different origins; allow the one the page is served from"
        ));
    }
    None
}
