//! The gateway's CORS step: the seam between the proxy and the policy engine.
//!
//! A [`RoutePolicy`] decides, for one request, whether the gateway answers it
//! itself (a preflight) or passes it on, and which CORS headers go on the
//! response. The proxy only talks to this module, so the decision code can be
//! swapped without touching the proxy.
//!
//! This is an interim engine with the same configuration keys as
//! `corsgate_core::policy::PolicyConfig` (exact origins or `*`, methods,
//! request headers, exposed headers, credentials, max-age); it is replaced by
//! `corsgate_core::policy::Policy::decide` once that lands.

use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::Deserialize;

/// A route's policy settings as written in the file (the keys of
/// `corsgate_core::policy::PolicyConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// Allowed origins, or `["*"]`.
    pub origins: Vec<String>,
    /// Methods beyond GET, HEAD, POST.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Allowed request headers.
    #[serde(default)]
    pub request_headers: Vec<String>,
    /// Exposed response headers.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Credentials allowed.
    #[serde(default)]
    pub credentials: bool,
    /// Preflight cache lifetime in seconds.
    #[serde(default)]
    pub max_age: Option<i64>,
    /// Legacy Private Network Access.
    #[serde(default)]
    pub private_network: bool,
    /// Partial headers on refused preflights.
    #[serde(default)]
    pub debug: bool,
}

/// A validated policy for one route.
#[derive(Debug, Clone)]
pub struct RoutePolicy {
    any: bool,
    origins: Vec<HeaderValue>,
    credentials: bool,
    methods: Vec<String>,
    allow_methods: Option<HeaderValue>,
    request_headers: Vec<String>,
    allow_headers: Option<HeaderValue>,
    expose: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
}

/// What kind of request it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No `Origin`.
    NotCors,
    /// `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
    Preflight,
    /// Any other request with `Origin`.
    Actual,
}

impl Kind {
    /// Label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NotCors => "not_cors",
            Kind::Preflight => "preflight",
            Kind::Actual => "actual",
        }
    }
}

/// The decision for one request.
#[derive(Debug, Clone)]
pub struct Verdict {
    kind: Kind,
    respond: Option<StatusCode>,
    allowed: bool,
    reason: &'static str,
    headers: Vec<(HeaderName, HeaderValue)>,
    vary: &'static str,
}

static VARY_ORIGIN: &str = "origin";
static VARY_PREFLIGHT: &str =
    "origin, access-control-request-method, access-control-request-headers";

impl Verdict {
    /// What kind of request it was.
    pub fn kind(&self) -> Kind {
        self.kind
    }
    /// `Some(status)` when the gateway answers the request itself.
    pub fn respond(&self) -> Option<StatusCode> {
        self.respond
    }
    /// Whether the policy allows it.
    pub fn allowed(&self) -> bool {
        self.allowed
    }
    /// A stable reason code.
    pub fn reason_code(&self) -> &'static str {
        self.reason
    }
    /// A sentence for the log.
    pub fn reason_text(&self) -> String {
        match self.reason {
            "origin_not_allowed" => "the origin is not in the allowed origins".into(),
            "method_not_allowed" => {
                "the preflight asked for a method the policy does not allow".into()
            }
            "header_not_allowed" => {
                "the preflight asked for a request header the policy does not allow".into()
            }
            "origin_malformed" => "the Origin header is not an origin a browser sends".into(),
            other => other.replace('_', " "),
        }
    }
    /// The CORS headers this verdict sets (excluding `Vary`).
    pub fn cors_headers(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.headers.iter().map(|(n, v)| (n, v))
    }
    /// Writes the verdict's headers into a response's header map: CORS
    /// headers replace any already there; `Vary` gains the names it lacks.
    pub fn apply_to(self, map: &mut HeaderMap) {
        for (n, v) in self.headers {
            map.insert(n, v);
        }
        if self.vary.is_empty() {
            return;
        }
        let missing = self
            .vary
            .split(',')
            .map(str::trim)
            .any(|name| !varies_on(map, name));
        if missing {
            map.append(header::VARY, HeaderValue::from_static(self.vary));
        }
    }
}

fn varies_on(map: &HeaderMap, name: &str) -> bool {
    map.get_all(header::VARY).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.eq_ignore_ascii_case(name))
        })
    })
}

fn list_value(items: &[String]) -> Option<HeaderValue> {
    if items.is_empty() {
        return None;
    }
    HeaderValue::from_str(&items.join(", ")).ok()
}

impl RoutePolicy {
    /// Validates a spec; returns every problem found.
    pub fn build(spec: &PolicySpec) -> Result<RoutePolicy, Vec<String>> {
        let mut problems = Vec::new();
        let any = spec.origins.iter().any(|o| o == "*");
        if spec.origins.is_empty() {
            problems.push("origins is empty: list the allowed origins, or [\"*\"]".to_owned());
        }
        if any && spec.origins.len() > 1 {
            problems.push("\"*\" must be the only origin".to_owned());
        }
        if any && spec.credentials {
            problems.push(
                "origins = [\"*\"] with credentials = true: browsers refuse this combination; list exact origins"
                    .to_owned(),
            );
        }
        let mut origins = Vec::new();
        if !any {
            for o in &spec.origins {
                let ok = (o.starts_with("https://") || o.starts_with("http://"))
                    && !o.ends_with('/')
                    && o.split("://")
                        .nth(1)
                        .is_some_and(|h| !h.is_empty() && !h.contains('/'));
                match (ok, HeaderValue::from_str(&o.to_ascii_lowercase())) {
                    (true, Ok(v)) => origins.push(v),
                    _ => problems.push(format!(
                        "origin {o:?} is not scheme://host[:port] (no path, no trailing slash)"
                    )),
                }
            }
        }
        if let Some(m) = spec.max_age {
            if !(0..=86400).contains(&m) {
                problems.push(format!("max_age = {m}: must be between 0 and 86400"));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let methods: Vec<String> = spec
            .methods
            .iter()
            .map(|m| m.to_ascii_uppercase())
            .collect();
        let request_headers: Vec<String> = spec
            .request_headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let mut allow_methods = vec!["GET".to_owned(), "HEAD".to_owned(), "POST".to_owned()];
        allow_methods.extend(methods.iter().cloned());
        Ok(RoutePolicy {
            any,
            origins,
            credentials: spec.credentials,
            allow_methods: list_value(&allow_methods),
            methods: allow_methods,
            allow_headers: list_value(&request_headers),
            request_headers,
            expose: list_value(
                &spec
                    .expose_headers
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect::<Vec<_>>(),
            ),
            max_age: spec
                .max_age
                .and_then(|m| HeaderValue::from_str(&m.to_string()).ok()),
        })
    }

    /// Decides what to do with a request.
    pub fn decide(&self, method: &Method, headers: &HeaderMap) -> Verdict {
        let mut v = Verdict {
            kind: Kind::NotCors,
            respond: None,
            allowed: true,
            reason: "not_cors",
            headers: Vec::new(),
            vary: if self.any { "" } else { VARY_ORIGIN },
        };
        let mut all = headers.get_all(header::ORIGIN).iter();
        let Some(origin) = all.next() else {
            if self.any {
                v.headers.push((
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                ));
            }
            return v;
        };
        let several = all.next().is_some();
        let preflight = method == Method::OPTIONS
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        v.kind = if preflight {
            Kind::Preflight
        } else {
            Kind::Actual
        };
        if preflight {
            v.vary = if self.any { "" } else { VARY_PREFLIGHT };
        }
        let origin_ok = self.any || (!several && self.origins.iter().any(|o| o == origin));
        let deny = |mut v: Verdict, reason| {
            v.allowed = false;
            v.reason = reason;
            v.headers.clear();
            if preflight {
                v.respond = Some(StatusCode::FORBIDDEN);
            }
            v
        };
        if !origin_ok {
            return deny(v, "origin_not_allowed");
        }
        v.reason = if self.any {
            "any_origin"
        } else {
            "origin_allowed"
        };
        v.headers.push((
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            if self.any {
                HeaderValue::from_static("*")
            } else {
                origin.clone()
            },
        ));
        if self.credentials {
            v.headers.push((
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            ));
        }
        if !preflight {
            if let Some(e) = &self.expose {
                v.headers
                    .push((header::ACCESS_CONTROL_EXPOSE_HEADERS, e.clone()));
            }
            return v;
        }
        let acrm = headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| m.to_str().ok())
            .unwrap_or("");
        if !self.methods.iter().any(|m| m == acrm) {
            return deny(v, "method_not_allowed");
        }
        for line in headers.get_all(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            let Ok(s) = line.to_str() else {
                return deny(v, "headers_malformed");
            };
            for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if !self
                    .request_headers
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(name))
                {
                    return deny(v, "header_not_allowed");
                }
            }
        }
        v.reason = "preflight_allowed";
        v.respond = Some(StatusCode::NO_CONTENT);
        if let Some(m) = &self.allow_methods {
            v.headers
                .push((header::ACCESS_CONTROL_ALLOW_METHODS, m.clone()));
        }
        if let Some(h) = &self.allow_headers {
            v.headers
                .push((header::ACCESS_CONTROL_ALLOW_HEADERS, h.clone()));
        }
        if let Some(m) = &self.max_age {
            v.headers.push((header::ACCESS_CONTROL_MAX_AGE, m.clone()));
        }
        v
    }
}

/// Whether a response header is one of the CORS response headers the policy
/// owns (upstream copies are removed).
pub fn is_cors_response_header(name: &HeaderName) -> bool {
    name.as_str().starts_with("access-control-")
}
