//! The options script passes with a request (`fetch`'s `RequestInit`): its
//! credentials mode, its mode, and which API made it.
//!
//! Plain enums below the request model, the profiles and the checks, so that
//! each of them can name these without naming the others.

use serde::{Deserialize, Serialize};

/// The request's credentials mode (`fetch`'s `credentials` option;
/// `XMLHttpRequest.withCredentials = true` is `include`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Credentials {
    /// Never send cookies or HTTP authentication.
    Omit,
    /// Send them only to the page's own origin (the default of `fetch`).
    #[default]
    SameOrigin,
    /// Send them cross-origin too; the server must then opt in with
    /// `Access-Control-Allow-Credentials: true` and name the origin.
    Include,
}

impl Credentials {
    /// Whether this is `include`, the only mode the CORS checks care about.
    pub fn is_include(self) -> bool {
        matches!(self, Credentials::Include)
    }
    /// The name used by `fetch`.
    pub fn name(self) -> &'static str {
        match self {
            Credentials::Omit => "omit",
            Credentials::SameOrigin => "same-origin",
            Credentials::Include => "include",
        }
    }
}

impl std::str::FromStr for Credentials {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "omit" => Ok(Credentials::Omit),
            "same-origin" => Ok(Credentials::SameOrigin),
            "include" => Ok(Credentials::Include),
            other => Err(format!(
                "unknown credentials mode '{other}': use omit, same-origin or include"
            )),
        }
    }
}

/// The request's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `cors`: the default for `fetch()` and `XMLHttpRequest`.
    #[default]
    Cors,
    /// `same-origin`: cross-origin requests fail outright.
    SameOrigin,
    /// `no-cors`: only safelisted requests, and script gets an opaque response.
    NoCors,
}

/// Which script API makes the request (changes only the wording of messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Initiator {
    /// `fetch()`.
    #[default]
    Fetch,
    /// `XMLHttpRequest`.
    Xhr,
}
