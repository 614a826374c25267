//! `corsgate explain`: reads a Chrome, Firefox or Safari console CORS message
//! (pasted as is), finds which refusal it is, and says what it means, the
//! likely causes, and the fix, using the engine's refusal enum.
//!
//! Chrome: `Access to fetch at 'URL' [(redirected from 'URL') ]from origin
//! 'ORIGIN' has been blocked by CORS policy: [Response to preflight request
//! doesn't pass access control check: ]TEXT`.
//! Firefox: `Cross-Origin Request Blocked: The Same Origin Policy disallows
//! reading the remote resource at URL. (Reason: TEXT).`

use std::fmt::Write as _;
use std::io::Read;

use corsgate_core::{Refusal, Stage};
use serde::Serialize;

use crate::cli::ExplainArgs;
use corsgate_core::remedy::RemedyContext;

use crate::fix::Fix;
use crate::render::Style;
use crate::snippets::ServerKind;

/// What a console message says.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// `chrome`, `firefox` or `safari`.
    pub browser: &'static str,
    /// Stable code: the refusal's code, or one of `network_error`,
    /// `cors_disabled`, `origin_header_not_added`, `local_network_access`.
    pub code: &'static str,
    /// Chromium's `CorsError` name.
    pub chromium: Option<&'static str>,
    /// Firefox's console key.
    pub firefox: Option<&'static str>,
    /// Whether it is about CORS headers at all (false: a network failure the
    /// browser reports in the same place).
    pub is_cors: bool,
    /// Whether the preflight failed (null when the message does not say).
    pub preflight: Option<bool>,
    /// The URL requested (the last one, after redirects).
    pub url: Option<String>,
    /// The first URL, when the request was redirected.
    pub redirected_from: Option<String>,
    /// The page's origin.
    pub origin: Option<String>,
    /// The status the message gives.
    pub status: Option<u16>,
    /// The value the message quotes (a header value, method or header name).
    pub value: Option<String>,
    /// What it means.
    pub meaning: String,
    /// The likely causes, most likely first.
    pub causes: Vec<String>,
    /// The fix.
    pub fix: Option<Fix>,
    /// The refusal, structured.
    pub details: Option<Refusal>,
}

/// Reads the message (or stdin for `-`) and explains it.
pub fn run(args: &ExplainArgs) -> Result<Explanation, String> {
    let text = if args.message == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read the message from standard input: {e}"))?;
        s
    } else {
        args.message.clone()
    };
    explain(&text, args.origin.as_deref()).ok_or_else(|| {
        "this does not look like a Chrome, Firefox or Safari CORS console message; paste the whole line, e.g. \"Access to fetch at '…' from origin '…' has been blocked by CORS policy: …\" or \"Cross-Origin Request Blocked: …\"".to_owned()
    })
}

/// Text between `start` and the next `end`, after `from`.
fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    let rest = &s[i..];
    let j = rest.find(end)?;
    Some(&rest[..j])
}

fn status_in(s: &str) -> Option<u16> {
    for marker in ["Status code: ", "status code ", "net::ERR_FAILED "] {
        if let Some(i) = s.find(marker) {
            let digits: String = s[i + marker.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(n) = digits.parse() {
                return Some(n);
            }
        }
    }
    None
}

struct Parsed {
    browser: &'static str,
    url: Option<String>,
    redirected_from: Option<String>,
    origin: Option<String>,
    preflight: Option<bool>,
    status: Option<u16>,
    kind: Kind,
}

enum Kind {
    Refusal(Refusal, Option<String>),
    Other {
        code: &'static str,
        chromium: Option<&'static str>,
        firefox: Option<&'static str>,
        is_cors: bool,
    },
}

/// Explains one message, or `None` when it is not a CORS console message.
/// `origin` is the page's origin when the caller knows it (Firefox and
/// Safari messages do not always name it).
pub fn explain(raw: &str, origin: Option<&str>) -> Option<Explanation> {
    // Normalize typographic quotes (Firefox) and whitespace from copying.
    let text: String = raw
        .replace(['\u{2018}', '\u{2019}'], "'")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let page = origin.unwrap_or(UNKNOWN_ORIGIN);
    let mut parsed = chrome(&text)
        .or_else(|| firefox(&text, page))
        .or_else(|| safari(&text, page))
        .or_else(|| {
            // A message cut short (mid-word, mid-value): completed when what
            // is left names one message family only.
            let full = complete(&text)?;
            chrome(&full).or_else(|| firefox(&full, page))
        })?;
    if parsed.origin.is_none() {
        parsed.origin = origin.map(str::to_owned);
    }
    Some(build(parsed))
}

/// Chrome's message bodies as (fixed head, tail after a quoted value): a
/// body cut inside the head is completed when one family only starts so; a
/// body cut inside the value loses the value (it is not known).
const CHROME_BODIES: &[(&str, Option<&str>)] = &[
    ("No 'Access-Control-Allow-Origin' header is present on the requested resource.", None),
    ("Cross origin requests are not allowed by request mode.", None),
    ("Cross origin requests are only supported for protocol schemes: http, https.", None),
    ("It does not have HTTP ok status.", None),
    ("Redirect is not allowed for a preflight request.", None),
    ("Cannot parse Access-Control-Allow-Methods response header field in preflight response.", None),
    ("Cannot parse Access-Control-Allow-Headers response header field in preflight response.", None),
    ("The value of the 'Access-Control-Allow-Origin' header in the response must not be the wildcard '*' when the request's credentials mode is 'include'.", None),
    ("The 'Access-Control-Allow-Origin' header has a value '", Some("' that is not equal to the supplied origin.")),
    ("The 'Access-Control-Allow-Origin' header contains multiple values '", Some("', but only one is allowed.")),
    ("The 'Access-Control-Allow-Origin' header contains the invalid value '", Some("'.")),
    ("The value of the 'Access-Control-Allow-Credentials' header in the response is '", Some("' which must be 'true' when the request's credentials mode is 'include'.")),
];

/// Firefox's reasons, in the same form.
const FIREFOX_REASONS: &[(&str, Option<&str>)] = &[
    ("CORS header 'Access-Control-Allow-Origin' missing", None),
    (
        "CORS header 'Access-Control-Allow-Origin' does not match '",
        Some("'"),
    ),
    (
        "Multiple CORS header 'Access-Control-Allow-Origin' not allowed",
        None,
    ),
    (
        "Credential is not supported if the CORS header 'Access-Control-Allow-Origin' is '*'",
        None,
    ),
    (
        "Did not find method in CORS header 'Access-Control-Allow-Methods'",
        None,
    ),
    (
        "expected 'true' in CORS header 'Access-Control-Allow-Credentials'",
        None,
    ),
    ("CORS preflight response did not succeed", None),
    ("CORS request external redirect not allowed", None),
    ("CORS request did not succeed", None),
    ("CORS disabled", None),
];

/// The shortest cut body that is completed.
const MIN_CUT: usize = 12;

/// Completes a cut `body` from `forms`: the one form it is a prefix of (or
/// whose head it starts with, when the cut is inside the value).
fn complete_from(body: &str, forms: &[(&str, Option<&str>)]) -> Option<String> {
    let body = body.trim_end_matches(['…', '.', ' ']);
    if body.len() < MIN_CUT {
        return None;
    }
    let found: Vec<String> = forms
        .iter()
        .filter_map(|(head, tail)| {
            if head.starts_with(body) {
                Some(format!("{head}{}", tail.unwrap_or_default()))
            } else {
                tail.filter(|_| body.starts_with(head))
                    .map(|tail| format!("{head}{tail}"))
            }
        })
        .collect();
    match found.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// The whole message for one cut short, when it can be told which it was.
fn complete(text: &str) -> Option<String> {
    let marker = "has been blocked by CORS policy: ";
    if let Some(i) = text.find(marker) {
        let pre = "Response to preflight request doesn't pass access control check: ";
        let (head, body) = text.split_at(i + marker.len());
        let (head, body) = match body.strip_prefix(pre) {
            Some(rest) => (format!("{head}{pre}"), rest),
            None => (head.to_owned(), body),
        };
        return complete_from(body, CHROME_BODIES).map(|b| format!("{head}{b}"));
    }
    let marker = "(Reason: ";
    let i = text.find(marker)?;
    let reason = &text[i + marker.len()..];
    if reason.contains(')') {
        return None;
    }
    complete_from(reason, FIREFOX_REASONS).map(|r| format!("{}{r}).", &text[..i + marker.len()]))
}

/// Stands for the page's origin when the message does not name it.
const UNKNOWN_ORIGIN: &str = "<page origin>";

fn chrome(t: &str) -> Option<Parsed> {
    let marker = "has been blocked by CORS policy: ";
    let i = t.find(marker)?;
    let head = &t[..i];
    let mut body = &t[i + marker.len()..];
    let url = between(head, " at '", "'").map(str::to_owned);
    let redirected_from = between(head, "(redirected from '", "'").map(str::to_owned);
    let origin = between(head, "from origin '", "'").map(str::to_owned);
    let pre_marker = "Response to preflight request doesn't pass access control check: ";
    let mut preflight = false;
    if let Some(rest) = body.strip_prefix(pre_marker) {
        preflight = true;
        body = rest;
    }
    let status = status_in(body);
    // After a redirect across origins from a cross-origin URL, Chromium sent
    // `Origin: null` (the message still quotes the page's origin): that is
    // the origin the answer was judged against.
    let tainted = match (&redirected_from, &url, &origin) {
        (Some(first), Some(last), Some(page)) => {
            let of = |u: &str| url::Url::parse(u).ok().map(|u| u.origin());
            let first = of(first);
            first.is_some()
                && first != of(last)
                && url::Url::parse(page).ok().map(|u| u.origin()) != first
        }
        _ => false,
    };
    let o = if tainted {
        "null".to_owned()
    } else {
        origin.clone().unwrap_or_else(|| UNKNOWN_ORIGIN.into())
    };
    let stage = if preflight {
        Stage::Preflight
    } else {
        Stage::Actual
    };
    let quoted = |start: &str| between(body, start, "'").map(str::to_owned);
    let r = if body.starts_with("Cross origin requests are not allowed by request mode") {
        Refusal::DisallowedByMode {
            url: url.clone().unwrap_or_default(),
        }
    } else if body.contains("must not be the wildcard '*'") {
        Refusal::WildcardOriginWithCredentials { stage, origin: o }
    } else if body.starts_with("No 'Access-Control-Allow-Origin' header is present") {
        Refusal::MissingAllowOrigin {
            stage,
            origin: o,
            status: status.unwrap_or(0),
        }
    } else if body.contains("header contains multiple values '") {
        let value = quoted("multiple values '").unwrap_or_default();
        let parts: Vec<&str> = value.split(',').map(str::trim).collect();
        let same = parts.len() > 1 && parts.iter().all(|p| *p == parts[0]);
        Refusal::MultipleAllowOrigin {
            stage,
            lines: if same { parts.len() } else { 1 },
            value,
            origin: o,
        }
    } else if body.contains("header contains the invalid value '") {
        Refusal::InvalidAllowOrigin {
            stage,
            value: quoted("the invalid value '").unwrap_or_default(),
            origin: o,
        }
    } else if body.contains("that is not equal to the supplied origin") {
        Refusal::AllowOriginMismatch {
            stage,
            value: quoted("has a value '").unwrap_or_default(),
            origin: o,
        }
    } else if body.contains("'Access-Control-Allow-Credentials' header in the response is '") {
        let v = quoted("in the response is '").unwrap_or_default();
        Refusal::InvalidAllowCredentials {
            stage,
            value: (!v.is_empty()).then_some(v),
        }
    } else if body.starts_with("Cross origin requests are only supported for protocol schemes") {
        let u = url.clone().unwrap_or_default();
        Refusal::UnsupportedScheme {
            scheme: u.split(':').next().unwrap_or_default().to_owned(),
            url: u,
        }
    } else if body.starts_with("It does not have HTTP ok status") {
        preflight = true;
        Refusal::PreflightStatus {
            status: status.unwrap_or(0),
        }
    } else if body.starts_with("Redirect is not allowed for a preflight request") {
        preflight = true;
        Refusal::PreflightRedirect {
            status: status.unwrap_or(0),
            location: None,
        }
    } else if body.starts_with("Cannot parse Access-Control-Allow-Methods") {
        preflight = true;
        Refusal::InvalidAllowMethods {
            value: String::new(),
            element: String::new(),
        }
    } else if body.starts_with("Cannot parse Access-Control-Allow-Headers") {
        preflight = true;
        Refusal::InvalidAllowHeaders {
            value: String::new(),
            element: String::new(),
        }
    } else if let Some(m) = between(
        body,
        "Method ",
        " is not allowed by Access-Control-Allow-Methods",
    ) {
        preflight = true;
        Refusal::MethodNotAllowed {
            method: m.to_owned(),
            allowed: Vec::new(),
            wildcard_ignored: false,
        }
    } else if let Some(h) = between(
        body,
        "Request header field ",
        " is not allowed by Access-Control-Allow-Headers",
    ) {
        preflight = true;
        Refusal::HeaderNotAllowed {
            header: h.to_ascii_lowercase(),
            allowed: Vec::new(),
            wildcard_ignored: false,
            authorization_not_covered: false,
        }
    } else if let Some(l) = between(body, "Redirect location '", "'") {
        Refusal::RedirectContainsCredentials {
            location: l.to_owned(),
        }
    } else if body.contains("address space") || body.contains("local network") {
        return Some(Parsed {
            browser: "chrome",
            url,
            redirected_from,
            origin,
            preflight: None,
            status,
            kind: Kind::Other {
                code: "local_network_access",
                chromium: Some(if body.contains("Permission was denied") {
                    "LocalNetworkAccessPermissionDenied"
                } else if body.contains("not a secure context") {
                    "InsecureLocalNetwork"
                } else {
                    "InvalidLocalNetworkAccess"
                }),
                firefox: None,
                is_cors: true,
            },
        });
    } else {
        return None;
    };
    let value = match &r {
        Refusal::MultipleAllowOrigin { value, .. }
        | Refusal::InvalidAllowOrigin { value, .. }
        | Refusal::AllowOriginMismatch { value, .. } => Some(value.clone()),
        Refusal::InvalidAllowCredentials { value, .. } => value.clone(),
        _ => None,
    };
    Some(Parsed {
        browser: "chrome",
        url,
        redirected_from,
        origin,
        preflight: Some(preflight),
        status,
        kind: Kind::Refusal(r, value),
    })
}

fn firefox(t: &str, page: &str) -> Option<Parsed> {
    let warning = t.contains("Cross-Origin Request Warning:");
    if !t.contains("Cross-Origin Request Blocked:") && !warning {
        return None;
    }
    let reason = between(t, "(Reason: ", ").")
        .or_else(|| between(t, "(Reason: ", ")"))
        .unwrap_or_default();
    let url = between(t, "remote resource at '", "'")
        .or_else(|| between(t, "remote resource at ", ". (Reason"))
        .or_else(|| between(t, "remote resource at ", " soon."))
        .map(str::to_owned);
    let status = status_in(t);
    let o = page.to_owned();
    let quoted = |start: &str| between(reason, start, "'").map(str::to_owned);
    let other = |code, firefox, is_cors| Kind::Other {
        code,
        chromium: None,
        firefox: Some(firefox),
        is_cors,
    };
    let mut preflight = None;
    let kind = if warning && reason.contains("the `Authorization` header is not covered") {
        preflight = Some(true);
        Kind::Refusal(
            Refusal::HeaderNotAllowed {
                header: "authorization".into(),
                allowed: vec!["*".into()],
                wildcard_ignored: false,
                authorization_not_covered: true,
            },
            None,
        )
    } else if reason.starts_with("CORS disabled") {
        other("cors_disabled", "CORSDisabled", true)
    } else if reason.starts_with("CORS request did not succeed") {
        other("network_error", "CORSDidNotSucceed", false)
    } else if reason.starts_with("CORS header 'Origin' cannot be added") {
        other("origin_header_not_added", "CORSOriginHeaderNotAdded", true)
    } else if reason.starts_with("CORS request external redirect not allowed") {
        preflight = Some(true);
        Kind::Refusal(
            Refusal::PreflightRedirect {
                status: status.unwrap_or(0),
                location: None,
            },
            None,
        )
    } else if reason.starts_with("CORS request not http") {
        let u = url.clone().unwrap_or_default();
        Kind::Refusal(
            Refusal::UnsupportedScheme {
                scheme: u.split(':').next().unwrap_or_default().to_owned(),
                url: u,
            },
            None,
        )
    } else if reason.starts_with("CORS header 'Access-Control-Allow-Origin' missing") {
        Kind::Refusal(
            Refusal::MissingAllowOrigin {
                stage: Stage::Actual,
                origin: o,
                status: status.unwrap_or(0),
            },
            None,
        )
    } else if reason.starts_with("Multiple CORS header 'Access-Control-Allow-Origin'") {
        Kind::Refusal(
            Refusal::MultipleAllowOrigin {
                stage: Stage::Actual,
                value: String::new(),
                lines: 2,
                origin: o,
            },
            None,
        )
    } else if reason.contains("'Access-Control-Allow-Origin' does not match '") {
        let v = quoted("does not match '").unwrap_or_default();
        Kind::Refusal(
            Refusal::AllowOriginMismatch {
                stage: Stage::Actual,
                value: v.clone(),
                origin: o,
            },
            Some(v),
        )
    } else if reason.starts_with("Credential is not supported if the CORS header") {
        Kind::Refusal(
            Refusal::WildcardOriginWithCredentials {
                stage: Stage::Actual,
                origin: o,
            },
            None,
        )
    } else if reason.starts_with("Did not find method in CORS header") {
        preflight = Some(true);
        Kind::Refusal(
            Refusal::MethodNotAllowed {
                method: "<method>".into(),
                allowed: Vec::new(),
                wildcard_ignored: false,
            },
            None,
        )
    } else if reason
        .starts_with("expected 'true' in CORS header 'Access-Control-Allow-Credentials'")
    {
        Kind::Refusal(
            Refusal::InvalidAllowCredentials {
                stage: Stage::Actual,
                value: None,
            },
            None,
        )
    } else if reason.starts_with("CORS preflight response did not succeed")
        || reason.starts_with("CORS preflight channel did not succeed")
    {
        preflight = Some(true);
        Kind::Refusal(
            Refusal::PreflightStatus {
                status: status.unwrap_or(0),
            },
            None,
        )
    } else if reason.contains("in CORS header 'Access-Control-Allow-Methods'")
        && reason.starts_with("invalid token")
    {
        preflight = Some(true);
        let v = quoted("invalid token '").unwrap_or_default();
        Kind::Refusal(
            Refusal::InvalidAllowMethods {
                value: String::new(),
                element: v.clone(),
            },
            Some(v),
        )
    } else if reason.contains("in CORS header 'Access-Control-Allow-Headers'")
        && reason.starts_with("invalid token")
    {
        preflight = Some(true);
        let v = quoted("invalid token '").unwrap_or_default();
        Kind::Refusal(
            Refusal::InvalidAllowHeaders {
                value: String::new(),
                element: v.clone(),
            },
            Some(v),
        )
    } else if let Some(h) = quoted("header '")
        .filter(|_| reason.contains("is not allowed according to header"))
        .or_else(|| quoted("missing token '"))
    {
        preflight = Some(true);
        Kind::Refusal(
            Refusal::HeaderNotAllowed {
                header: h.to_ascii_lowercase(),
                allowed: Vec::new(),
                wildcard_ignored: false,
                authorization_not_covered: false,
            },
            Some(h),
        )
    } else {
        return None;
    };
    Some(Parsed {
        browser: "firefox",
        url,
        redirected_from: None,
        origin: None,
        preflight,
        status,
        kind,
    })
}

fn safari(t: &str, page: &str) -> Option<Parsed> {
    let status = status_in(t);
    let url = between(t, "cannot load ", " due to access control checks").map(str::to_owned);
    let o = page.to_owned();
    let (r, pre) = if let Some(origin) = between(
        t,
        "Origin ",
        " is not allowed by Access-Control-Allow-Origin",
    ) {
        // Safari says this for a missing header and for a mismatch alike.
        (
            Refusal::AllowOriginMismatch {
                stage: Stage::Actual,
                value: String::new(),
                origin: origin.to_owned(),
            },
            None,
        )
    } else if t.contains("Preflight response is not successful") {
        (
            Refusal::PreflightStatus {
                status: status.unwrap_or(0),
            },
            Some(true),
        )
    } else if t.contains(
        "Cannot use wildcard in Access-Control-Allow-Origin when credentials flag is true",
    ) {
        (
            Refusal::WildcardOriginWithCredentials {
                stage: Stage::Actual,
                origin: o,
            },
            None,
        )
    } else if t.contains("Access-Control-Allow-Origin cannot contain more than one origin") {
        (
            Refusal::MultipleAllowOrigin {
                stage: Stage::Actual,
                value: String::new(),
                lines: 1,
                origin: o,
            },
            None,
        )
    } else if t.contains("Credentials flag is true, but Access-Control-Allow-Credentials is not") {
        (
            Refusal::InvalidAllowCredentials {
                stage: Stage::Actual,
                value: None,
            },
            None,
        )
    } else if let Some(m) = between(
        t,
        "Method ",
        " is not allowed by Access-Control-Allow-Methods",
    ) {
        (
            Refusal::MethodNotAllowed {
                method: m.to_owned(),
                allowed: Vec::new(),
                wildcard_ignored: false,
            },
            Some(true),
        )
    } else if let Some(h) = between(
        t,
        "Request header field ",
        " is not allowed by Access-Control-Allow-Headers",
    ) {
        (
            Refusal::HeaderNotAllowed {
                header: h.to_ascii_lowercase(),
                allowed: Vec::new(),
                wildcard_ignored: false,
                authorization_not_covered: false,
            },
            Some(true),
        )
    } else {
        return None;
    };
    let origin = match &r {
        Refusal::AllowOriginMismatch { origin, .. } => Some(origin.clone()),
        _ => None,
    };
    Some(Parsed {
        browser: "safari",
        url,
        redirected_from: None,
        origin,
        preflight: pre,
        status,
        kind: Kind::Refusal(r, None),
    })
}

/// What a refusal means and its usual causes, most likely first.
fn causes(r: &Refusal, browser: &str) -> Vec<String> {
    let v: &[&str] = match r {
        Refusal::DisallowedByMode { .. } => &["the page's code passes `mode: 'same-origin'` to fetch()"],
        Refusal::UnsupportedScheme { .. } => &[
            "the page was opened from a file: URL, or requests one; serve it over http(s) (e.g. a local dev server)",
            "a typo in the URL's scheme",
        ],
        Refusal::MissingAllowOrigin { .. } => &[
            "the server has no CORS configuration for this path, or the CORS middleware is registered after the route that answered",
            "the response is an error (4xx/5xx) produced before or outside the CORS layer: look at the status in the Network panel",
            "a proxy, CDN or cache in front of the server strips the header or serves a cached answer without it",
            "the preflight passed but CORS headers are only added to OPTIONS answers",
        ],
        Refusal::WildcardOriginWithCredentials { .. } => &[
            "the request sends cookies (`credentials: 'include'`, `withCredentials = true`) and the server is configured with `*`",
            "the server uses a CORS library's any-origin option (`*`) and the page sends credentials",
        ],
        Refusal::MultipleAllowOrigin { .. } => &[
            "both a reverse proxy (nginx `add_header`, a CDN, an API gateway) and the application add `Access-Control-Allow-Origin`",
            "the server sends a list of allowed origins instead of choosing the one that matches the request",
        ],
        Refusal::InvalidAllowOrigin { .. } => &[
            "the server sends something that is not an origin (a bare host name, a pattern like `*.example.com`, a URL with a path)",
        ],
        Refusal::AllowOriginMismatch { .. } => &[
            "the allowed origin differs from the page's: a trailing slash, http vs https, another port, localhost vs 127.0.0.1, www vs no www",
            "the server allows one fixed origin (e.g. production) and the page runs on another (e.g. a dev server or a preview deploy)",
            "a cache served an answer made for another origin (missing `Vary: Origin`)",
        ],
        Refusal::InvalidAllowCredentials { .. } => &[
            "the request sends cookies and the server does not send `Access-Control-Allow-Credentials: true` (exactly, lower case)",
            "the page sends credentials without needing them: then drop `credentials: 'include'` / `withCredentials`",
        ],
        Refusal::PreflightStatus { .. } => &[
            "authentication or authorization runs before CORS and rejects the OPTIONS preflight (401/403): a preflight never carries cookies or tokens",
            "the router has no OPTIONS route for this path (404/405) and the CORS layer is not in front of it",
            "the server crashed on OPTIONS (5xx)",
        ],
        Refusal::PreflightRedirect { .. } => &[
            "the URL is missing (or has an extra) trailing slash and the framework redirects",
            "http is redirected to https, or the bare domain to www",
            "an authentication layer redirects to a login page",
        ],
        Refusal::InvalidAllowMethods { .. } | Refusal::InvalidAllowHeaders { .. } => &[
            "a typo or a stray character (quotes, semicolons) in the list; it must be names separated by commas",
        ],
        Refusal::MethodNotAllowed { .. } => &[
            "the method is missing from `Access-Control-Allow-Methods` (GET, HEAD and POST never need to be listed)",
            "the method was written in another case (`patch` vs `PATCH`): only DELETE, GET, HEAD, OPTIONS, POST and PUT are upper-cased by the browser",
            "`*` with credentials: it is then not a wildcard",
        ],
        Refusal::HeaderNotAllowed { authorization_not_covered: true, .. } => &[
            "the server answers `Access-Control-Allow-Headers: *`, which (by the standard, and in Firefox soon) does not cover Authorization",
        ],
        Refusal::HeaderNotAllowed { .. } => &[
            "the page sends a header (often Content-Type: application/json, Authorization or a custom X- header) the server does not list in `Access-Control-Allow-Headers`",
            "`*` with credentials: it is then not a wildcard",
        ],
        Refusal::RedirectContainsCredentials { .. } => &["a redirect's Location has `user:password@`"],
        Refusal::RedirectNotHttp { .. } | Refusal::InvalidRedirectLocation { .. } | Refusal::TooManyRedirects => {
            &["a broken redirect on the server"]
        }
    };
    let mut out: Vec<String> = v.iter().map(|s| (*s).to_owned()).collect();
    if browser == "firefox"
        && matches!(
            r,
            Refusal::MissingAllowOrigin { .. }
                | Refusal::AllowOriginMismatch { .. }
                | Refusal::WildcardOriginWithCredentials { .. }
                | Refusal::InvalidAllowCredentials { .. }
        )
    {
        out.push("Firefox does not say whether the preflight or the response itself failed: look for an OPTIONS request in the Network panel, or run `corsgate check`".into());
    }
    out
}

fn other_meaning(code: &str) -> (String, Vec<String>) {
    match code {
        "network_error" => (
            "the request never got an HTTP answer: this is a network failure that Firefox reports as CORS, not a problem with CORS headers".into(),
            vec![
                "the server is down or not listening on that port (connection refused)".into(),
                "the host name does not resolve (DNS), or a TLS certificate error".into(),
                "an ad blocker or privacy extension blocked the request".into(),
                "the server closed the connection (a crash, a proxy timeout)".into(),
            ],
        ),
        "cors_disabled" => (
            "CORS is disabled in this browser (the `content.cors.disable` preference), so every cross-origin request fails".into(),
            vec!["reset `content.cors.disable` in about:config".into()],
        ),
        "origin_header_not_added" => (
            "the browser could not add the Origin header; this happens with requests made by browser extensions".into(),
            vec!["the request comes from an extension's content script".into()],
        ),
        _ => (
            "Chrome's Local Network Access blocked a request from a public page to a private or local address (localhost, 192.168.x.x…)".into(),
            vec![
                "the page must be served over https, and the user must grant the local network permission".into(),
                "serve the API from a public address, or the page from the same private network".into(),
            ],
        ),
    }
}

fn build(p: Parsed) -> Explanation {
    match p.kind {
        Kind::Refusal(r, value) => {
            let mut causes = causes(&r, p.browser);
            let tainted = origin_of(&r).is_some_and(|o| o == "null");
            if tainted {
                causes.insert(
                    0,
                    format!(
                        "the request was redirected from {} to another origin, so the browser sent `Origin: null` (the console still names the page's origin); no safe answer can allow `null`: have the page request {} directly",
                        p.redirected_from.as_deref().unwrap_or("its first URL"),
                        p.url.as_deref().unwrap_or("the final URL")
                    ),
                );
            } else if let Refusal::AllowOriginMismatch { value, origin, .. }
            | Refusal::InvalidAllowOrigin { value, origin, .. } = &r
            {
                let why = crate::hints::mixup(value, origin).or_else(|| {
                    (value.len() > 1 && value.ends_with('/')).then(|| {
                        "the allowed value ends with a slash; an origin never has one".into()
                    })
                });
                if let Some(why) = why {
                    causes.insert(0, format!("here: '{value}' — {why}"));
                }
            }
            let meaning = match (&r, p.status) {
                // A console message names the method or header, never the
                // list the server sent: say so rather than guess "absent".
                (Refusal::MethodNotAllowed { method, allowed, .. }, _) if allowed.is_empty() => format!(
                    "the request uses method {method}, and the preflight response's `Access-Control-Allow-Methods` does not list it (the message does not say what it lists: the header may be absent, or list other methods; methods are case-sensitive). `corsgate check` with this method shows the header"
                ),
                (Refusal::HeaderNotAllowed { header, allowed, .. }, _) if allowed.is_empty() => format!(
                    "the request sends the header '{header}', and the preflight response's `Access-Control-Allow-Headers` does not list it (the message does not say what it lists: the header may be absent, or list other names). `corsgate check` with this header shows it"
                ),
                (Refusal::PreflightStatus { .. }, None) => "the browser sent an OPTIONS preflight first, and it was answered with a status outside 200–299 (the message does not say which; the Network panel does)".to_owned(),
                _ => {
                    let m = r.to_string().replace(" (status 0)", "");
                    m.split(". Fix: ").next().unwrap_or(&m).to_owned()
                }
            };
            let fix = Some(Fix::new(
                r.remedy(&context(&r, p.origin.as_deref(), p.url.as_deref())),
                ServerKind::Unknown,
                false,
            ));
            let preflight = p
                .preflight
                .or(Some(r.stage() == Stage::Preflight))
                .filter(|_| p.browser == "chrome" || r.stage() == Stage::Preflight);
            Explanation {
                browser: p.browser,
                code: r.code(),
                chromium: r.chromium_error(),
                firefox: r.firefox_error(),
                is_cors: r.is_cors(),
                preflight,
                url: p.url,
                redirected_from: p.redirected_from,
                origin: p.origin,
                status: p.status,
                value,
                meaning,
                causes,
                fix,
                details: Some(r),
            }
        }
        Kind::Other {
            code,
            chromium,
            firefox,
            is_cors,
        } => {
            let (meaning, causes) = other_meaning(code);
            Explanation {
                browser: p.browser,
                code,
                chromium,
                firefox,
                is_cors,
                preflight: p.preflight,
                url: p.url,
                redirected_from: p.redirected_from,
                origin: p.origin,
                status: p.status,
                value: None,
                meaning,
                causes,
                fix: None,
                details: None,
            }
        }
    }
}

/// What the message tells about the request, for the structured fix.
fn context(r: &Refusal, origin: Option<&str>, url: Option<&str>) -> RemedyContext {
    let mut ctx = RemedyContext {
        url: url.unwrap_or_default().to_owned(),
        origin: origin.unwrap_or(UNKNOWN_ORIGIN).to_owned(),
        ..Default::default()
    };
    match r {
        Refusal::MethodNotAllowed { method, .. } => ctx.method = method.clone(),
        Refusal::HeaderNotAllowed { header, .. } => ctx.unsafe_headers = vec![header.clone()],
        // The message does not say what the request sends: a placeholder,
        // never an empty value.
        Refusal::InvalidAllowMethods { .. } => ctx.method = "<METHOD>".into(),
        Refusal::InvalidAllowHeaders { .. } => {
            ctx.unsafe_headers = vec!["<the header names the page sends>".into()]
        }
        _ => {}
    }
    // The origin the browser really sent (`null` after a cross-origin redirect).
    if let Some(o) = origin_of(r) {
        ctx.origin = o.to_owned();
    }
    ctx
}

fn origin_of(r: &Refusal) -> Option<&str> {
    match r {
        Refusal::MissingAllowOrigin { origin, .. }
        | Refusal::WildcardOriginWithCredentials { origin, .. }
        | Refusal::MultipleAllowOrigin { origin, .. }
        | Refusal::InvalidAllowOrigin { origin, .. }
        | Refusal::AllowOriginMismatch { origin, .. } => Some(origin),
        _ => None,
    }
}

/// The human report.
pub fn render(e: &Explanation, st: &Style) -> String {
    let mut out = String::new();
    let browser = match e.browser {
        "chrome" => "Chrome",
        "firefox" => "Firefox",
        _ => "Safari",
    };
    let mut names = Vec::new();
    if let Some(c) = e.chromium {
        names.push(format!("Chromium {c}"));
    }
    if let Some(f) = e.firefox {
        names.push(format!("Firefox {f}"));
    }
    let _ = writeln!(
        out,
        "{} {} ({})",
        st.bold(&format!("{browser} says:")),
        e.code,
        names.join(", ")
    );
    if let Some(u) = &e.url {
        let _ = writeln!(out, "  url:    {u}");
    }
    if let Some(u) = &e.redirected_from {
        let _ = writeln!(out, "  redirected from: {u}");
    }
    if let Some(o) = &e.origin {
        let _ = writeln!(out, "  origin: {o}");
    }
    match e.preflight {
        Some(true) => {
            let _ = writeln!(out, "  failed: the preflight (OPTIONS) response");
        }
        Some(false) => {
            let _ = writeln!(out, "  failed: the response to the request itself");
        }
        None => {}
    }
    if !e.is_cors {
        let _ = writeln!(
            out,
            "  {}",
            st.warn("this is a network error, not a CORS header problem")
        );
    }
    let _ = writeln!(out, "\n{}\n  {}", st.bold("What it means:"), e.meaning);
    let _ = writeln!(out, "\n{}", st.bold("Likely causes:"));
    for c in &e.causes {
        let _ = writeln!(out, "  {} {c}", st.warn("•"));
    }
    if let Some(f) = &e.fix {
        let _ = writeln!(out, "\n{}\n  {}", st.bold("Fix:"), f.remedy.sentence);
        crate::render::remedy_lines(&mut out, &f.remedy, "    ", None);
    }
    if let (Some(u), Some(o)) = (&e.url, &e.origin) {
        let _ = writeln!(
            out,
            "\n{} corsgate check '{u}' --origin '{o}'{}",
            st.dim("To see every problem at once, with a snippet for your server:"),
            if e.preflight == Some(true) {
                " --method <METHOD> --header '<Name: value>'"
            } else {
                ""
            }
        );
    }
    out
}
