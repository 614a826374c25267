//! The serializable form of a policy, and TOML loading with errors located by
//! line and column.
//!
//! ```toml
//! origins = ["https://app.example.com", "https://*.preview.example.com", "http://localhost:*"]
//! methods = ["PUT", "PATCH", "DELETE"]          # GET, HEAD and POST are always allowed; "*" = any
//! request_headers = ["content-type", "authorization"]  # "*" = echo what the preflight asks for
//! expose_headers = ["x-request-id"]             # "*" = every header (not with credentials)
//! credentials = true
//! max_age = 600                                 # seconds, 0 to 86400
//! private_network = false                       # legacy Private Network Access
//! debug = false                                 # partial headers on refused preflights
//! reason_header = false                         # corsgate-reason on refusals (reveals the policy)
//! ```

use serde::{Deserialize, Serialize};

use super::{builder, Policy, PolicyError, PolicyErrors, SpannedPolicy};

/// A policy's settings, as written in a configuration file. Unknown keys are
/// an error. Turn it into a [`Policy`] with [`build`](Self::build) (or
/// `Policy::try_from`), which validates it.
///
/// ```
/// use corsgate_core::policy::{Policy, PolicyConfig};
/// let config: PolicyConfig = serde_json::from_str(r#"{"origins": ["https://app.example.com"]}"#).unwrap();
/// let policy = Policy::try_from(config).unwrap();
/// assert_eq!(policy.config().origins, ["https://app.example.com"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Allowed origins: exact, `https://*.example.com`, `http://localhost:*`, or `["*"]`.
    pub origins: Vec<String>,
    /// Allowed methods beyond GET, HEAD and POST; `["*"]` for any.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Allowed request header names; `["*"]` to echo what is asked.
    #[serde(default)]
    pub request_headers: Vec<String>,
    /// Response header names pages may read; `["*"]` for all (not with credentials).
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Whether cookies and HTTP authentication may be sent.
    #[serde(default)]
    pub credentials: bool,
    /// Preflight cache lifetime in seconds (0 to 86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
    /// Legacy Private Network Access.
    #[serde(default)]
    pub private_network: bool,
    /// Partial headers on refused preflights, for the browser console.
    #[serde(default)]
    pub debug: bool,
    /// The policy's reason (`corsgate-reason`) and edit (`corsgate-policy-edit`)
    /// on every refused request; off by default because it reveals the policy
    /// to anyone who asks (see `crate::server::policy_reason`).
    #[serde(default)]
    pub reason_header: bool,
}

impl PolicyConfig {
    /// Validates and builds the policy.
    pub fn build(&self) -> Result<Policy, PolicyErrors> {
        builder::build(self)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.as_bytes().get(..offset).unwrap_or_default();
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let col_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[col_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

pub(super) fn from_toml(text: &str) -> Result<Policy, PolicyErrors> {
    let doc: SpannedPolicy = match toml::from_str(text) {
        Ok(d) => d,
        Err(e) => {
            let (line, column) = match e.span() {
                Some(span) => {
                    let (l, c) = line_col(text, span.start);
                    (Some(l), Some(c))
                }
                None => (None, None),
            };
            let mut errors = PolicyErrors::new();
            errors.push(PolicyError::Toml {
                message: e.message().trim().to_owned(),
                line,
                column,
            });
            return Err(errors);
        }
    };
    let config = doc.config();
    builder::build(&config).map_err(|mut errors| {
        errors.locate(|e| doc.span_of(e).map(|s| line_col(text, s.start)));
        errors
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_errors_are_located() {
        let e = Policy::from_toml("origins = [\"https://a.example\"]\nmax_age = \"ten\"\n")
            .unwrap_err();
        let (err, _) = e.located().next().unwrap();
        match err {
            PolicyError::Toml { line, column, .. } => {
                assert_eq!((*line, *column), (Some(2), Some(11)));
            }
            other => panic!("{other:?}"),
        }
        let e = Policy::from_toml(
            "origins = [\"https://a.example\"]\nmax_age = 100000\nmethods = [\"GET\", \"TRACK\"]\n",
        )
        .unwrap_err();
        let located: Vec<_> = e.located().map(|(e, l)| (e.code(), l)).collect();
        assert_eq!(
            located,
            [
                ("forbidden_method", Some((3, 19))),
                ("max_age_out_of_range", Some((2, 11))),
            ]
        );
        let text = e.to_string();
        assert!(
            text.starts_with("the CORS policy has 2 problems:"),
            "{text}"
        );
        assert!(
            text.contains("line 3, column 19: methods: 'TRACK'"),
            "{text}"
        );
    }

    #[test]
    fn round_trips() {
        let p = Policy::from_toml(
            "origins = [\"https://a.example\", \"https://*.b.example\"]\nmethods = [\"put\", \"PATCH\"]\nrequest_headers = [\"X-A\"]\ncredentials = true\n",
        )
        .unwrap();
        let c = p.config().clone();
        assert_eq!(c.methods, ["PUT", "PATCH"]);
        assert_eq!(c.request_headers, ["x-a"]);
        let again = c.build().unwrap();
        assert_eq!(again.config(), &c);
        let json = serde_json::to_string(&c).unwrap();
        let back: Policy = serde_json::from_str(&json).unwrap();
        assert_eq!(back.config(), &c);
    }
}
