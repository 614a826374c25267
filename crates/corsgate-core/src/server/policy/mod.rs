//! The server role's configuration: a validated CORS [`Policy`].
//!
//! A `Policy` can only be made by [`PolicyBuilder::build`] (in code) or from a
//! [`PolicyConfig`] (TOML, JSON or any serde format), and both validate every
//! setting, returning *all* problems at once as [`PolicyErrors`]. Once built, a
//! policy is immutable and holds every response header value precomputed, so
//! [`Policy::decide`] does not allocate on the allowed actual-request path.
//!
//! ```
//! use corsgate_core::policy::Policy;
//! use http::{HeaderMap, HeaderValue, Method};
//!
//! let policy = Policy::from_toml(r#"
//!     origins = ["https://app.example.com", "https://*.preview.example.com"]
//!     methods = ["PUT", "DELETE"]
//!     request_headers = ["content-type", "authorization"]
//!     expose_headers = ["x-request-id"]
//!     credentials = true
//!     max_age = 600
//! "#)?;
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("origin", HeaderValue::from_static("https://pr-7.preview.example.com"));
//! let decision = policy.decide(&Method::GET, &headers);
//! assert!(decision.allowed());
//! # Ok::<(), corsgate_core::policy::PolicyErrors>(())
//! ```

mod builder;
mod config;
mod spanned;

use http::HeaderValue;

pub use crate::server::policy_error::{PolicyError, PolicyErrors, Setting};
pub use builder::PolicyBuilder;
pub use config::PolicyConfig;
pub use spanned::SpannedPolicy;

use crate::server::fast::fx::FxBuild;
use crate::server::origin_set::OriginSet;

/// Which methods a preflight may ask for.
#[derive(Debug, Clone)]
pub(crate) enum MethodRule {
    /// Any method (`*`): the requested one is echoed.
    Any,
    /// These methods (normalized), each with its precomputed header value.
    /// GET, HEAD and POST are always in.
    List(crate::server::fast::table::Table<HeaderValue>),
}

/// Which request headers a preflight may ask for.
#[derive(Debug, Clone)]
pub(crate) enum HeaderRule {
    /// Any header (`*`): the requested names are echoed.
    Mirror,
    /// These names (lower case), and the precomputed `Access-Control-Allow-Headers`.
    List {
        names: std::collections::HashSet<Box<str>, FxBuild>,
        longest: usize,
        value: Option<HeaderValue>,
    },
}

/// A validated CORS policy.
///
/// It deserializes from any serde format through [`PolicyConfig`], validated.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(try_from = "PolicyConfig")]
pub struct Policy {
    pub(crate) origins: OriginSet,
    pub(crate) credentials: bool,
    pub(crate) methods: MethodRule,
    pub(crate) request_headers: HeaderRule,
    pub(crate) expose: Option<HeaderValue>,
    pub(crate) expose_names: Vec<String>,
    pub(crate) max_age: Option<(u32, HeaderValue)>,
    pub(crate) private_network: bool,
    pub(crate) debug: bool,
    pub(crate) reason_header: bool,
    pub(crate) preflight_vary: HeaderValue,
    /// The headers of an allowed actual request, ready to clone (`template`).
    pub(crate) pass_template: std::sync::Arc<crate::server::fast::template::PassTemplate>,
    /// The answer to an allowed preflight, ready to clone, for a policy that
    /// lists its request headers (`template`).
    pub(crate) preflight_template: Option<http::HeaderMap>,
    pub(crate) config: PolicyConfig,
}

impl Policy {
    /// Starts a [`PolicyBuilder`].
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// Parses and validates a TOML policy. TOML errors name the line and column;
    /// validation problems are located on the offending value.
    ///
    /// ```
    /// use corsgate_core::policy::Policy;
    /// let err = Policy::from_toml("origins = [\n  \"https://app.example.com/\",\n]\ncredentals = true\n").unwrap_err();
    /// let text = err.to_string();
    /// assert!(text.contains("line 4, column 1"), "{text}");
    /// let err = Policy::from_toml("origins = [\n  \"https://app.example.com/\",\n]\n").unwrap_err();
    /// assert!(err.to_string().contains("line 2, column 3"), "{err}");
    /// ```
    pub fn from_toml(text: &str) -> Result<Policy, PolicyErrors> {
        config::from_toml(text)
    }

    /// The allowed origins.
    pub fn origins(&self) -> &OriginSet {
        &self.origins
    }

    /// Whether credentialed requests (cookies, HTTP authentication, client
    /// certificates) are allowed.
    pub fn credentials(&self) -> bool {
        self.credentials
    }

    /// Whether debug mode is on: refused preflights get partial CORS headers
    /// so that the browser console names the exact failure.
    pub fn debug(&self) -> bool {
        self.debug
    }

    /// Whether refused requests carry the policy's reason
    /// (`crate::server::policy_reason`).
    pub fn reason_header(&self) -> bool {
        self.reason_header
    }

    /// The exposed header names, lower case (`*` when every header is exposed).
    pub fn exposed_headers(&self) -> &[String] {
        &self.expose_names
    }

    /// The preflight max-age in seconds, when set.
    pub fn max_age(&self) -> Option<u32> {
        self.max_age.as_ref().map(|(s, _)| *s)
    }

    /// The configuration this policy was built from, normalized (serializable,
    /// and building it again gives the same policy).
    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }
}

impl TryFrom<PolicyConfig> for Policy {
    type Error = PolicyErrors;
    fn try_from(c: PolicyConfig) -> Result<Policy, PolicyErrors> {
        c.build()
    }
}
