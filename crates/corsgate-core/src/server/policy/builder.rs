//! Building a [`Policy`]: the builder, and the validation that turns settings
//! into precomputed header values or into a list of every problem.

use std::collections::HashSet;

use http::HeaderValue;

use super::{HeaderRule, MethodRule, Policy, PolicyConfig, PolicyError, PolicyErrors, Setting};
use crate::browser::safelist::is_forbidden_request_header;
use crate::headers::is_token;
use crate::method;
use crate::server::fast::fx::FxBuild;
use crate::server::fast::table::Table;
use crate::server::fast::values::shared;
use crate::server::origin_set::{Entry, OriginSet};

/// The longest preflight max-age any browser honours (Firefox: a day).
pub(super) const MAX_AGE_LIMIT: i64 = 86_400;

/// Builds a [`Policy`] in code. Nothing is checked until [`build`](Self::build),
/// which reports every problem at once.
///
/// ```
/// use corsgate_core::policy::Policy;
/// let policy = Policy::builder()
///     .origins(["https://app.example.com", "http://localhost:*"])
///     .methods(["PUT", "DELETE"])
///     .request_headers(["Content-Type", "Authorization"])
///     .expose_headers(["X-Request-Id"])
///     .credentials(true)
///     .max_age(600)
///     .build()
///     .expect("valid policy");
/// assert!(policy.credentials());
/// assert_eq!(policy.exposed_headers(), ["x-request-id"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct PolicyBuilder {
    config: PolicyConfig,
}

impl PolicyBuilder {
    /// Allows one origin: exact (`https://app.example.com`), a subdomain
    /// pattern (`https://*.example.com`, one or more labels, never the bare
    /// domain), an any-port pattern (`http://localhost:*`), or `*` for any
    /// origin (public data only: refused with credentials).
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.config.origins.push(origin.into());
        self
    }
    /// Allows several origins; see [`origin`](Self::origin).
    pub fn origins<I: IntoIterator<Item = S>, S: Into<String>>(mut self, origins: I) -> Self {
        self.config
            .origins
            .extend(origins.into_iter().map(Into::into));
        self
    }
    /// Allows any origin (`*`), for public data without credentials.
    pub fn any_origin(self) -> Self {
        self.origin("*")
    }
    /// Allows a method beyond GET, HEAD and POST (which are always allowed);
    /// `*` allows any method.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.config.methods.push(method.into());
        self
    }
    /// Allows several methods; see [`method`](Self::method).
    pub fn methods<I: IntoIterator<Item = S>, S: Into<String>>(mut self, methods: I) -> Self {
        self.config
            .methods
            .extend(methods.into_iter().map(Into::into));
        self
    }
    /// Allows a request header (case does not matter); `*` allows whatever
    /// the preflight asks for (the requested names are echoed).
    pub fn request_header(mut self, name: impl Into<String>) -> Self {
        self.config.request_headers.push(name.into());
        self
    }
    /// Allows several request headers; see [`request_header`](Self::request_header).
    pub fn request_headers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.config
            .request_headers
            .extend(names.into_iter().map(Into::into));
        self
    }
    /// Lets pages read a response header; `*` exposes every header (refused
    /// with credentials).
    pub fn expose_header(mut self, name: impl Into<String>) -> Self {
        self.config.expose_headers.push(name.into());
        self
    }
    /// Exposes several headers; see [`expose_header`](Self::expose_header).
    pub fn expose_headers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.config
            .expose_headers
            .extend(names.into_iter().map(Into::into));
        self
    }
    /// Allows credentialed requests (cookies, HTTP authentication).
    pub fn credentials(mut self, yes: bool) -> Self {
        self.config.credentials = yes;
        self
    }
    /// How long browsers may cache a preflight answer, 0 to 86400 seconds.
    pub fn max_age(mut self, seconds: i64) -> Self {
        self.config.max_age = Some(seconds);
        self
    }
    /// Legacy Private Network Access: answer `Access-Control-Request-Private-Network`
    /// preflights with `Access-Control-Allow-Private-Network: true`. Chrome
    /// shelved PNA for a permission prompt; leave it off unless you need it.
    pub fn private_network(mut self, yes: bool) -> Self {
        self.config.private_network = yes;
        self
    }
    /// Debug mode: refused preflights get the partial headers that make the
    /// browser console name the precise failure, instead of a bare 403.
    pub fn debug(mut self, yes: bool) -> Self {
        self.config.debug = yes;
        self
    }
    /// The policy's own reason on every refused request: `corsgate-reason`
    /// (what the policy lists and what was asked) and `corsgate-policy-edit`
    /// (the TOML change that allows the request). Off by default: it tells
    /// anyone, an attacker too, what the policy allows (see
    /// `reason_header`).
    pub fn reason_header(mut self, yes: bool) -> Self {
        self.config.reason_header = yes;
        self
    }
    /// Validates every setting and builds the policy, or returns every problem.
    pub fn build(self) -> Result<Policy, PolicyErrors> {
        build(&self.config)
    }
}

fn joined(names: &[String]) -> Option<HeaderValue> {
    if names.is_empty() {
        return None;
    }
    HeaderValue::from_str(&names.join(", ")).ok().map(shared)
}

pub(crate) fn build(c: &PolicyConfig) -> Result<Policy, PolicyErrors> {
    let mut errors = PolicyErrors::new();
    let mut normalized = PolicyConfig {
        credentials: c.credentials,
        max_age: c.max_age,
        private_network: c.private_network,
        debug: c.debug,
        reason_header: c.reason_header,
        ..PolicyConfig::default()
    };

    // Origins.
    let mut origins = OriginSet::new();
    if c.origins.is_empty() {
        errors.push(PolicyError::NoOrigins);
    }
    for value in &c.origins {
        match Entry::parse(value) {
            Ok(entry) => {
                if c.credentials && entry.is_insecure() {
                    errors.push(PolicyError::InsecureOriginWithCredentials {
                        value: value.clone(),
                    });
                }
                if origins.insert(entry) {
                    normalized.origins.push(value.clone());
                } else {
                    errors.push(PolicyError::DuplicateOrigin {
                        value: value.clone(),
                    });
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if origins.is_any() {
        if c.origins.len() > 1 {
            errors.push(PolicyError::AnyOriginWithOthers);
        }
        if c.credentials {
            errors.push(PolicyError::AnyOriginWithCredentials);
        }
    }

    // Methods.
    let mut method_values: Table<HeaderValue> = Table::default();
    let mut any_method = false;
    for m in ["GET", "HEAD", "POST"] {
        method_values.insert(m.as_bytes(), HeaderValue::from_static(m));
    }
    for value in &c.methods {
        if value == "*" {
            any_method = true;
            normalized.methods.push("*".into());
        } else if !method::is_valid(value) {
            errors.push(PolicyError::InvalidMethod {
                value: value.clone(),
            });
        } else if method::is_forbidden(value) {
            errors.push(PolicyError::ForbiddenMethod {
                value: value.clone(),
            });
        } else {
            let m = method::normalize(value);
            if !method_values.contains_key(m.as_bytes()) {
                if let Ok(v) = HeaderValue::from_str(&m) {
                    method_values.insert(m.as_bytes(), shared(v));
                    normalized.methods.push(m);
                }
            }
        }
    }

    // Request headers.
    let mut mirror = false;
    let mut names: HashSet<Box<str>, FxBuild> = HashSet::default();
    let mut listed = Vec::new();
    for value in &c.request_headers {
        if value == "*" {
            mirror = true;
            normalized.request_headers.push("*".into());
            continue;
        }
        if !is_token(value.as_bytes()) {
            errors.push(PolicyError::InvalidHeaderName {
                setting: Setting::RequestHeaders,
                value: value.clone(),
            });
            continue;
        }
        let lower = value.to_ascii_lowercase();
        if lower.starts_with("access-control-") && !lower.starts_with("access-control-request-") {
            errors.push(PolicyError::MisplacedCorsHeader {
                setting: Setting::RequestHeaders,
                value: value.clone(),
            });
        } else if is_forbidden_request_header(&lower, b"") {
            errors.push(PolicyError::ForbiddenRequestHeader {
                value: value.clone(),
            });
        } else if names.insert(lower.clone().into()) {
            listed.push(lower);
        }
    }
    let request_headers = if mirror {
        HeaderRule::Mirror
    } else {
        normalized.request_headers.extend(listed.iter().cloned());
        HeaderRule::List {
            longest: listed.iter().map(String::len).max().unwrap_or(0),
            value: joined(&listed),
            names,
        }
    };

    // Exposed headers.
    let mut expose_names: Vec<String> = Vec::new();
    let mut expose_all = false;
    for value in &c.expose_headers {
        if value == "*" {
            if c.credentials {
                errors.push(PolicyError::ExposeWildcardWithCredentials);
            } else {
                expose_all = true;
            }
            continue;
        }
        if !is_token(value.as_bytes()) {
            errors.push(PolicyError::InvalidHeaderName {
                setting: Setting::ExposeHeaders,
                value: value.clone(),
            });
            continue;
        }
        let lower = value.to_ascii_lowercase();
        let misplaced = lower == "origin"
            || lower.starts_with("access-control-request-")
            || matches!(
                lower.as_str(),
                "access-control-allow-methods"
                    | "access-control-allow-headers"
                    | "access-control-max-age"
            );
        if misplaced {
            errors.push(PolicyError::MisplacedCorsHeader {
                setting: Setting::ExposeHeaders,
                value: value.clone(),
            });
        } else if crate::browser::safelist::is_forbidden_response_header(&lower) {
            errors.push(PolicyError::ForbiddenResponseHeader {
                value: value.clone(),
            });
        } else if !expose_names.contains(&lower) {
            expose_names.push(lower);
        }
    }
    if expose_all {
        expose_names = vec!["*".into()];
    }
    normalized.expose_headers = expose_names.clone();

    // Max age.
    let max_age = match c.max_age {
        None => None,
        Some(v) if !(0..=MAX_AGE_LIMIT).contains(&v) => {
            errors.push(PolicyError::MaxAgeOutOfRange { value: v });
            None
        }
        Some(v) => u32::try_from(v).ok().map(|s| {
            let value = HeaderValue::from(s);
            (s, shared(value))
        }),
    };

    if !errors.is_empty() {
        return Err(errors);
    }
    let any_origin = origins.is_any();
    let preflight_vary = match (any_origin, c.private_network) {
        (true, false) => "access-control-request-method, access-control-request-headers",
        (false, false) => "origin, access-control-request-method, access-control-request-headers",
        (true, true) => "access-control-request-method, access-control-request-headers, access-control-request-private-network",
        (false, true) => "origin, access-control-request-method, access-control-request-headers, access-control-request-private-network",
    };
    let expose = joined(&expose_names);
    let pass_template = std::sync::Arc::new(crate::server::fast::template::allowed_actual(
        c.credentials,
        expose.as_ref(),
        !any_origin,
    ));
    let preflight_vary = HeaderValue::from_static(preflight_vary);
    let preflight_template = match &request_headers {
        HeaderRule::List { value, .. } => Some(crate::server::fast::template::allowed_preflight(
            c.credentials,
            value.as_ref(),
            max_age.as_ref().map(|(_, v)| v),
            &preflight_vary,
        )),
        HeaderRule::Mirror => None,
    };
    Ok(Policy {
        origins,
        credentials: c.credentials,
        methods: if any_method {
            MethodRule::Any
        } else {
            MethodRule::List(method_values)
        },
        request_headers,
        expose,
        expose_names,
        max_age,
        private_network: c.private_network,
        debug: c.debug,
        reason_header: c.reason_header,
        preflight_vary,
        pass_template,
        preflight_template,
        config: normalized,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(b: PolicyBuilder) -> Vec<&'static str> {
        b.build()
            .unwrap_err()
            .iter()
            .map(PolicyError::code)
            .collect()
    }

    #[test]
    fn collects_every_problem() {
        let c = codes(
            Policy::builder()
                .origins([
                    "*",
                    "null",
                    "https://app.example.com/",
                    "http://intranet.example.com",
                    "https://*.com",
                ])
                .methods(["TRACE", "GE T", "PATCH"])
                .request_headers(["Cookie", "x ok", "Access-Control-Allow-Origin", "x-fine"])
                .expose_headers(["*", "Set-Cookie", "Origin"])
                .credentials(true)
                .max_age(90_000),
        );
        assert_eq!(
            c,
            [
                "null_origin",
                "invalid_origin",
                "insecure_origin_with_credentials",
                "public_suffix_wildcard",
                "any_origin_with_others",
                "any_origin_with_credentials",
                "forbidden_method",
                "invalid_method",
                "forbidden_request_header",
                "invalid_header_name",
                "misplaced_cors_header",
                "expose_wildcard_with_credentials",
                "forbidden_response_header",
                "misplaced_cors_header",
                "max_age_out_of_range",
            ]
        );
    }

    #[test]
    fn messages_name_setting_and_fix() {
        let e = Policy::builder()
            .origin("https://app.example.com/")
            .build()
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("origins: 'https://app.example.com/' ends with a trailing slash"),
            "{text}"
        );
        assert!(text.contains("did you mean https://app.example.com — without the trailing slash?"));
        let e = Policy::builder().build().unwrap_err();
        assert_eq!(e.iter().next().map(PolicyError::code), Some("no_origins"));
        assert!(e
            .to_string()
            .contains("origins = [\"https://app.example.com\"]"));
    }

    #[test]
    fn loopback_http_is_fine_with_credentials() {
        assert!(Policy::builder()
            .origins([
                "http://localhost:*",
                "http://127.0.0.1:8080",
                "http://[::1]:3000"
            ])
            .credentials(true)
            .build()
            .is_ok());
        assert_eq!(
            codes(
                Policy::builder()
                    .origin("http://*.example.com")
                    .credentials(true)
            ),
            ["insecure_origin_with_credentials"]
        );
        assert_eq!(
            codes(Policy::builder().origins(["https://a.example", "https://a.example"])),
            ["duplicate_origin"]
        );
        assert!(Policy::builder().max_age(0).any_origin().build().is_ok());
        assert_eq!(
            codes(Policy::builder().any_origin().max_age(-1)),
            ["max_age_out_of_range"]
        );
    }
}
