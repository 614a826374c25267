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
        let mut headers = HeaderList::new();
        let mut dropped = Vec::new();
        for (name, value) in self.headers {
            if !crate::headers::is_token(name.as_bytes()) {
                return Err(RequestError::InvalidHeaderName { name });
            }
            // fetch strips leading and trailing HTTP whitespace, then refuses NUL, CR, LF.
            let trimmed = trim_http_whitespace(&value);
            if trimmed.iter().any(|b| matches!(b, 0 | b'\r' | b'\n')) {
                return Err(RequestError::InvalidHeaderValue { name });
            }
            if safelist::is_forbidden_request_header(&name, trimmed) {
                dropped.push(name.to_ascii_lowercase());
                continue;
            }
            headers.append(name, trimmed);
        }
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
        })
    }
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
            headers: safelist::unsafe_request_header_names(&self.headers, profile),
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
}
