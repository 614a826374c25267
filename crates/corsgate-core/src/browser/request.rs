//! The request a page's script makes, and whether it needs a preflight.
//!
//! [`Request`] is what `fetch()` or `XMLHttpRequest` would build from the
//! script's arguments: a normalized method, the author headers minus the
//! forbidden ones the browser drops, and a credentials mode.
//! [`Request::classify`] answers the first question of CORS: is this request
//! same-origin, a simple cross-origin request, or one that needs a preflight,
//! and why.

use std::fmt;

use serde::Serialize;
use url::Url;

pub use crate::browser::init::{Credentials, Initiator, Mode};

use crate::browser::profile::Profile;
use crate::browser::safelist::{self, UnsafeHeader};
use crate::headers::HeaderList;
use crate::method;
use crate::origin::Origin;

pub use crate::browser::init::HeadersForm;

/// A request as the browser holds it after script built it.
///
/// ```
/// use corsgate_core::{Request, Credentials, Classification};
/// let req = Request::builder("https://app.example", "https://api.example/items")
///     .method("patch")
///     .header("Content-Type", "application/json")
///     .credentials(Credentials::Include)
///     .build()
///     .unwrap();
/// assert_eq!(req.method(), "patch"); // not upper-cased: only six methods are
/// match req.classify(Default::default()) {
///     Classification::Preflight(why) => {
///         assert_eq!(why.method.as_deref(), Some("patch"));
///         assert_eq!(why.request_headers_value(), "content-type");
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub(crate) origin: Origin,
    pub(crate) url: Url,
    pub(crate) method: String,
    pub(crate) headers: HeaderList,
    pub(crate) credentials: Credentials,
    pub(crate) mode: Mode,
    pub(crate) initiator: Initiator,
    pub(crate) use_cors_preflight: bool,
    pub(crate) dropped_headers: Vec<String>,
    pub(crate) headers_form: HeadersForm,
}

/// Why script could not make a request at all (the browser throws before sending anything).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RequestError {
    /// The page origin does not parse.
    InvalidOrigin {
        /// What was wrong.
        message: String,
    },
    /// The URL does not parse.
    InvalidUrl {
        /// The URL.
        url: String,
        /// What the URL parser said.
        message: String,
    },
    /// The method is not a valid token.
    InvalidMethod {
        /// The method.
        method: String,
    },
    /// CONNECT, TRACE and TRACK cannot be sent by script.
    ForbiddenMethod {
        /// The method.
        method: String,
    },
    /// `no-cors` mode allows only GET, HEAD and POST (`new Request` throws).
    NoCorsMethod {
        /// The method.
        method: String,
    },
    /// The header name is not a valid token.
    InvalidHeaderName {
        /// The name.
        name: String,
    },
    /// The header value contains NUL, CR or LF.
    InvalidHeaderValue {
        /// The header name.
        name: String,
    },
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::InvalidOrigin { message } => write!(f, "invalid page origin: {message}"),
            RequestError::InvalidUrl { url, message } => write!(f, "'{url}' is not a valid URL: {message}"),
            RequestError::InvalidMethod { method } => {
                write!(f, "'{method}' is not a valid HTTP method (letters, digits and !#$%&'*+-.^_`|~ only)")
            }
            RequestError::ForbiddenMethod { method } => write!(
                f,
                "browsers never let script send {method} requests; this cannot be fixed on the server"
            ),
            RequestError::NoCorsMethod { method } => write!(
                f,
                "'{method}' is unsupported in no-cors mode: only GET, HEAD and POST are"
            ),
            RequestError::InvalidHeaderName { name } => write!(f, "'{name}' is not a valid header name"),
            RequestError::InvalidHeaderValue { name } => {
                write!(f, "the value of header '{name}' contains NUL, CR or LF, which script cannot send")
            }
        }
    }
}

impl std::error::Error for RequestError {}

/// Builds a [`Request`]; see [`Request::builder`].
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    origin: String,
    url: String,
    method: String,
    headers: Vec<(String, Vec<u8>)>,
    credentials: Credentials,
    mode: Mode,
    initiator: Initiator,
    use_cors_preflight: bool,
    headers_form: HeadersForm,
}

impl RequestBuilder {
    /// The method (normalized as `fetch` does).
    pub fn method(mut self, m: impl Into<String>) -> Self {
        self.method = m.into();
        self
    }
    /// Adds a header as script would with `headers.append`.
    pub fn header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((name.into(), value.as_ref().to_vec()));
        self
    }
    /// The credentials mode.
    pub fn credentials(mut self, c: Credentials) -> Self {
        self.credentials = c;
        self
    }
    /// The mode.
    pub fn mode(mut self, m: Mode) -> Self {
        self.mode = m;
        self
    }
    /// Which API makes the request.
    pub fn initiator(mut self, i: Initiator) -> Self {
        self.initiator = i;
        self
    }
    /// How script passed the headers (default: a `Headers` object).
    pub fn headers_form(mut self, form: HeadersForm) -> Self {
        self.headers_form = form;
        self
    }
    /// Forces a preflight, as XHR upload listeners or a streamed body do.
    pub fn force_preflight(mut self, yes: bool) -> Self {
        self.use_cors_preflight = yes;
        self
    }
    /// Validates like `fetch()` does: a forbidden method or a malformed header
    /// is an error; forbidden headers are dropped and listed in
    /// [`Request::dropped_headers`].
    pub fn build(self) -> Result<Request, RequestError> {
        let origin = if self.origin.contains("://") && !self.origin.ends_with("//") {
            Origin::from_url_str(&self.origin)
        } else {
            Origin::parse_header(&self.origin)
        }
        .map_err(|e| RequestError::InvalidOrigin {
            message: e.to_string(),
        })?;
        let url = Url::parse(&self.url).map_err(|e| RequestError::InvalidUrl {
            url: self.url.clone(),
            message: e.to_string(),
        })?;
        if !method::is_valid(&self.method) {
            return Err(RequestError::InvalidMethod {
                method: self.method,
            });
        }
        if method::is_forbidden(&self.method) {
            return Err(RequestError::ForbiddenMethod {
                method: self.method,
            });
        }
        let method = method::normalize(&self.method);
        if self.mode == Mode::NoCors && !method::is_cors_safelisted(&method) {
            return Err(RequestError::NoCorsMethod { method });
        }
        // A plain object holds a key once: script's later assignment replaced
        // the earlier value before `fetch()` saw (and validated) it.
        let mut written: Vec<(String, Vec<u8>)> = Vec::with_capacity(self.headers.len());
        for (name, value) in self.headers {
            match written.iter_mut().find(|(n, _)| *n == name) {
                Some(line) if self.headers_form == HeadersForm::Record => line.1 = value,
                _ => written.push((name, value)),
            }
        }
        let mut lines = Vec::with_capacity(written.len());
        for (name, value) in written {
            if !crate::headers::is_token(name.as_bytes()) {
                return Err(RequestError::InvalidHeaderName { name });
            }
            // fetch strips leading and trailing HTTP whitespace, then refuses NUL, CR, LF.
            let trimmed = trim_http_whitespace(&value);
            if trimmed.iter().any(|b| matches!(b, 0 | b'\r' | b'\n')) {
                return Err(RequestError::InvalidHeaderValue { name });
            }
            lines.push((name, trimmed.to_vec()));
        }
        let (headers, dropped) = form_header_list(self.headers_form, self.mode, lines);
        Ok(Request {
            origin,
            url,
            method,
            headers,
            credentials: self.credentials,
            mode: self.mode,
            initiator: self.initiator,
            use_cors_preflight: self.use_cors_preflight,
            dropped_headers: dropped,
            headers_form: self.headers_form,
        })
    }
}

/// The request's header list as the form makes it from what script wrote
/// (names and trimmed values, in order), with the forbidden names dropped.
///
/// * a `Headers` object is read back through its iterator: one line per
///   name, the values combined with `", "`; then each line is appended, so
///   a forbidden combined value (`X-HTTP-Method-Override: PATCH, TRACE`)
///   drops the whole name (the iterator also lower-cases and sorts the
///   names; the engine keeps them where and as script first wrote them);
/// * pairs are appended one by one: only the forbidden line is dropped;
/// * a record keeps a key's first place and last value, then is appended
///   like pairs (`X-A` and `x-a` are two keys);
/// * `setRequestHeader` ignores a forbidden call and combines a repeated
///   name into the first line.
///
/// In `no-cors` mode `fetch()`'s guard appends a line only when the name's
/// combined value is still no-CORS-safelisted (Fetch standard, "append" with
/// guard `request-no-cors`). Checked against Chromium 156, Firefox 153 ESR
/// and WebKitGTK 2.50.6 (`tests/headers_form.rs` in the conformance crate).
fn form_header_list(
    form: HeadersForm,
    mode: Mode,
    lines: Vec<(String, Vec<u8>)>,
) -> (HeaderList, Vec<String>) {
    let position = |out: &[(String, Vec<u8>)], name: &str, exact: bool| {
        out.iter().position(|(n, _)| {
            if exact {
                n == name
            } else {
                n.eq_ignore_ascii_case(name)
            }
        })
    };
    let join = |old: &mut Vec<u8>, value: &[u8]| {
        old.extend_from_slice(b", ");
        old.extend_from_slice(value);
    };
    // What reaches the request's "append", in order.
    let mut appended: Vec<(String, Vec<u8>)> = Vec::with_capacity(lines.len());
    match form {
        HeadersForm::Headers | HeadersForm::Record => {
            let exact = form == HeadersForm::Record;
            for (name, value) in lines {
                match position(&appended, &name, exact) {
                    Some(i) if exact => appended[i].1 = value,
                    Some(i) => join(&mut appended[i].1, &value),
                    None => appended.push((name, value)),
                }
            }
        }
        HeadersForm::Pairs | HeadersForm::SetRequestHeader => appended = lines,
    }
    let mut out: Vec<(String, Vec<u8>)> = Vec::with_capacity(appended.len());
    let mut dropped = Vec::new();
    for (name, value) in appended {
        if safelist::is_forbidden_request_header(&name, &value) {
            dropped.push(name.to_ascii_lowercase());
            continue;
        }
        let existing = position(&out, &name, false);
        if form == HeadersForm::SetRequestHeader {
            if let Some(i) = existing {
                join(&mut out[i].1, &value);
                continue;
            }
        } else if mode == Mode::NoCors {
            let mut combined = existing.map(|i| out[i].1.clone()).unwrap_or_default();
            if existing.is_some() {
                combined.extend_from_slice(b", ");
            }
            combined.extend_from_slice(&value);
            if !safelist::is_no_cors_safelisted_request_header(&name, &combined) {
                // The guard drops it silently (it is not a forbidden name).
                continue;
            }
        }
        out.push((name, value));
    }
    let mut headers = HeaderList::new();
    for (name, value) in out {
        headers.append(name, value);
    }
    (headers, dropped)
}

fn trim_http_whitespace(v: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = v.iter().position(|b| !ws(b)).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !ws(b)).map_or(start, |e| e + 1);
    &v[start..end]
}

/// Why a request needs a preflight.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct PreflightReasons {
    /// The method, when it is not GET, HEAD or POST.
    pub method: Option<String>,
    /// The CORS-unsafe request headers, sorted, with their reasons.
    pub headers: Vec<UnsafeHeader>,
    /// Whether the preflight was forced (XHR upload listeners, streamed body).
    pub forced: bool,
}

impl PreflightReasons {
    /// The value of `Access-Control-Request-Headers` (empty when none).
    pub fn request_headers_value(&self) -> String {
        safelist::request_headers_value(&self.headers)
    }
}

/// The answer to "what kind of request is this?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Classification {
    /// Same origin: CORS does not apply.
    SameOrigin,
    /// Mode `same-origin` and a cross-origin URL: the browser refuses outright.
    DisallowedByMode,
    /// Not `http:` or `https:`: CORS cannot be used.
    UnsupportedScheme {
        /// The scheme.
        scheme: String,
    },
    /// `no-cors` mode: sent, but script gets an opaque response.
    NoCors,
    /// A cross-origin request sent without a preflight; the response must pass the CORS check.
    Simple,
    /// A cross-origin request that needs a preflight first.
    Preflight(PreflightReasons),
}

impl Request {
    /// Starts a request from the page at `origin` (an origin or any URL of the page) to `url`.
    pub fn builder(origin: impl Into<String>, url: impl Into<String>) -> RequestBuilder {
        RequestBuilder {
            origin: origin.into(),
            url: url.into(),
            method: "GET".into(),
            headers: Vec::new(),
            credentials: Credentials::SameOrigin,
            mode: Mode::Cors,
            initiator: Initiator::Fetch,
            use_cors_preflight: false,
            headers_form: HeadersForm::Headers,
        }
    }

    /// The page's origin.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }
    /// The URL requested.
    pub fn url(&self) -> &Url {
        &self.url
    }
    /// The normalized method.
    pub fn method(&self) -> &str {
        &self.method
    }
    /// The author headers the browser will send.
    pub fn headers(&self) -> &HeaderList {
        &self.headers
    }
    /// The credentials mode.
    pub fn credentials(&self) -> Credentials {
        self.credentials
    }
    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }
    /// The initiating API.
    pub fn initiator(&self) -> Initiator {
        self.initiator
    }
    /// How script passed the headers.
    pub fn headers_form(&self) -> HeadersForm {
        self.headers_form
    }
    /// Whether a preflight is forced.
    pub fn forces_preflight(&self) -> bool {
        self.use_cors_preflight
    }
    /// Forbidden headers script tried to set, which the browser dropped.
    pub fn dropped_headers(&self) -> &[String] {
        &self.dropped_headers
    }

    /// Whether the request is cross-origin.
    pub fn is_cross_origin(&self) -> bool {
        !self.origin.same_origin(&Origin::from_url(&self.url))
    }

    /// Why a preflight would be needed, ignoring the cache (empty when none).
    pub fn preflight_reasons(&self, profile: Profile) -> PreflightReasons {
        PreflightReasons {
            method: (!method::is_cors_safelisted(&self.method)).then(|| self.method.clone()),
            headers: safelist::unsafe_request_header_names_in(
                &self.headers,
                profile,
                self.headers_form,
            ),
            forced: self.use_cors_preflight,
        }
    }

    /// Decides what kind of request this is for the browser in `profile`
    /// (ignoring the preflight cache; see [`crate::Browser`] for that).
    pub fn classify(&self, profile: Profile) -> Classification {
        if !self.is_cross_origin() {
            return Classification::SameOrigin;
        }
        match self.mode {
            Mode::SameOrigin => return Classification::DisallowedByMode,
            Mode::NoCors => return Classification::NoCors,
            Mode::Cors => {}
        }
        if !matches!(self.url.scheme(), "http" | "https") {
            return Classification::UnsupportedScheme {
                scheme: self.url.scheme().to_owned(),
            };
        }
        let reasons = self.preflight_reasons(profile);
        if reasons.method.is_none() && reasons.headers.is_empty() && !reasons.forced {
            Classification::Simple
        } else {
            Classification::Preflight(reasons)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> RequestBuilder {
        Request::builder("https://app.example", "https://api.example/x")
    }

    #[test]
    fn classification() {
        let same = Request::builder("https://api.example", "https://api.example/x")
            .method("DELETE")
            .build()
            .unwrap();
        assert_eq!(same.classify(Profile::Chromium), Classification::SameOrigin);
        let simple = req()
            .method("post")
            .header("Content-Type", "text/plain")
            .build()
            .unwrap();
        assert_eq!(simple.method(), "POST");
        assert_eq!(simple.classify(Profile::Chromium), Classification::Simple);
        let put = req().method("put").build().unwrap();
        assert!(
            matches!(put.classify(Profile::Chromium), Classification::Preflight(r) if r.method.as_deref() == Some("PUT"))
        );
        let forced = req().force_preflight(true).build().unwrap();
        assert!(
            matches!(forced.classify(Profile::Chromium), Classification::Preflight(r) if r.forced)
        );
        let mode = req().mode(Mode::SameOrigin).build().unwrap();
        assert_eq!(
            mode.classify(Profile::Chromium),
            Classification::DisallowedByMode
        );
    }

    /// A plain object given the same key twice keeps the last value only, so
    /// an invalid earlier value never reaches `fetch()` (found by the WebKit
    /// conformance run on seed `f9810568a0b2d`, case #1013: `{"X-Bad":
    /// "a\0b", "X-Bad": "2"}` did not throw). Pairs still throw.
    #[test]
    fn an_object_validates_only_the_value_it_kept() {
        let build = |form| {
            req()
                .header("X-Bad", "a\0b")
                .header("X-Bad", "2")
                .headers_form(form)
                .build()
        };
        let kept = build(HeadersForm::Record).unwrap();
        assert_eq!(kept.headers.get_str("x-bad").as_deref(), Some("2"));
        assert!(matches!(
            build(HeadersForm::Pairs),
            Err(RequestError::InvalidHeaderValue { .. })
        ));
    }

    #[test]
    fn builder_validates_like_fetch() {
        assert!(matches!(
            req().method("TRACE").build(),
            Err(RequestError::ForbiddenMethod { .. })
        ));
        assert!(matches!(
            req().method("GE T").build(),
            Err(RequestError::InvalidMethod { .. })
        ));
        assert!(matches!(
            req().header("X", "a\nb").build(),
            Err(RequestError::InvalidHeaderValue { .. })
        ));
        assert!(matches!(
            req().header("X Y", "a").build(),
            Err(RequestError::InvalidHeaderName { .. })
        ));
        let r = req()
            .header("Cookie", "a=b")
            .header("X-Ok", "  1 ")
            .build()
            .unwrap();
        assert_eq!(r.dropped_headers(), ["cookie"]);
        assert_eq!(r.headers().get("x-ok").unwrap().as_ref(), b"1");
        assert!(matches!(
            Request::builder("nope", "https://a.example").build(),
            Err(RequestError::InvalidOrigin { .. })
        ));
    }

    /// What each form makes of a name given twice, as Chromium 156, Firefox
    /// 153 ESR and WebKitGTK 2.50.6 sent it (`tests/headers_form.rs` in the
    /// conformance crate).
    #[test]
    fn each_form_builds_its_header_list() {
        let lines = |form, mode, h: &[(&str, &str)]| -> Vec<(String, String)> {
            let mut b = req().headers_form(form).mode(mode).method("POST");
            for (n, v) in h {
                b = b.header(*n, *v);
            }
            let r = b.build().unwrap();
            r.headers()
                .iter()
                .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
                .collect()
        };
        let l = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        let two = [("X-A", "1"), ("x-a", "2"), ("X-A", "3")];
        use HeadersForm::*;
        assert_eq!(lines(Headers, Mode::Cors, &two), [l("X-A", "1, 2, 3")]);
        assert_eq!(
            lines(Pairs, Mode::Cors, &two),
            [l("X-A", "1"), l("x-a", "2"), l("X-A", "3")]
        );
        assert_eq!(
            lines(Record, Mode::Cors, &two),
            [l("X-A", "3"), l("x-a", "2")]
        );
        assert_eq!(
            lines(SetRequestHeader, Mode::Cors, &two),
            [l("X-A", "1, 2, 3")]
        );
        // `no-cors`: the guard judges the name's combined value.
        let ct = [
            ("Content-Type", "text/plain"),
            ("Content-Type", "application/json"),
        ];
        assert!(lines(Headers, Mode::NoCors, &ct).is_empty());
        assert_eq!(
            lines(Pairs, Mode::NoCors, &ct),
            [l("Content-Type", "text/plain")]
        );
        assert!(lines(Record, Mode::NoCors, &ct).is_empty());
        assert!(lines(Pairs, Mode::NoCors, &[("X-A", "1")]).is_empty());
        // A forbidden override value drops what the form joined it with.
        let o = [
            ("X-HTTP-Method-Override", "PATCH"),
            ("X-HTTP-Method-Override", "TRACE"),
        ];
        assert!(lines(Headers, Mode::Cors, &o).is_empty());
        assert_eq!(
            lines(Pairs, Mode::Cors, &o),
            [l("X-HTTP-Method-Override", "PATCH")]
        );
        assert!(lines(Record, Mode::Cors, &o).is_empty());
        assert_eq!(
            lines(SetRequestHeader, Mode::Cors, &o),
            [l("X-HTTP-Method-Override", "PATCH")]
        );
    }
}
