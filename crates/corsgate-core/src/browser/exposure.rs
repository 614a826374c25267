//! Which response headers script can read: the CORS-safelisted response
//! headers plus those named in `Access-Control-Expose-Headers`.

use serde::Serialize;

use crate::browser::init::Credentials;
use crate::browser::safelist::{is_forbidden_response_header, is_safelisted_response_header};
use crate::headers::HeaderList;
use crate::lists::{parse_token_list, TokenList};

/// The headers of a CORS response that script can read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exposure {
    /// The readable header names present in the response, lower case, sorted.
    pub readable: Vec<String>,
    /// `*` exposed every header (only without credentials).
    pub wildcard: bool,
    /// `*` was sent with a credentialed request, where it only names a header called `*`.
    pub wildcard_ignored: bool,
    /// `Access-Control-Expose-Headers` did not parse, so nothing extra is exposed: the bad element.
    pub invalid_element: Option<String>,
    /// Names listed in `Access-Control-Expose-Headers`, lower case.
    pub listed: Vec<String>,
}

impl Exposure {
    /// Whether script can read this header.
    pub fn is_readable(&self, name: &str) -> bool {
        self.readable.iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// Computes what script can read from a CORS response.
///
/// ```
/// use corsgate_core::{HeaderList, Credentials, exposure::exposed_headers};
/// let h = HeaderList::new()
///     .with("Content-Type", "application/json")
///     .with("X-Total", "7")
///     .with("X-Secret", "s")
///     .with("Access-Control-Expose-Headers", "X-Total");
/// let e = exposed_headers(&h, Credentials::Omit);
/// assert_eq!(e.readable, ["content-type", "x-total"]);
/// ```
pub fn exposed_headers(headers: &HeaderList, credentials: Credentials) -> Exposure {
    let list = parse_token_list(headers, "access-control-expose-headers");
    let include = credentials.is_include();
    let listed: Vec<String> = list
        .items()
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let has_star = listed.iter().any(|n| n == "*");
    let wildcard = has_star && !include;
    let mut readable: Vec<String> = headers
        .unique_names()
        .into_iter()
        .filter(|n| {
            !is_forbidden_response_header(n)
                && (wildcard || is_safelisted_response_header(n) || listed.contains(n))
        })
        .collect();
    readable.sort();
    Exposure {
        readable,
        wildcard,
        wildcard_ignored: has_star && include,
        invalid_element: match list {
            TokenList::Invalid { element, .. } => Some(element),
            _ => None,
        },
        listed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_credentials() {
        let h = HeaderList::new()
            .with("X-A", "1")
            .with("Set-Cookie", "a=b")
            .with("Access-Control-Expose-Headers", "*");
        let open = exposed_headers(&h, Credentials::Omit);
        assert!(open.wildcard && open.is_readable("x-a") && !open.is_readable("set-cookie"));
        assert!(open.is_readable("access-control-expose-headers"));
        let cred = exposed_headers(&h, Credentials::Include);
        assert!(!cred.is_readable("x-a") && cred.wildcard_ignored);
        let cookie = HeaderList::new()
            .with("Set-Cookie", "a=b")
            .with("Access-Control-Expose-Headers", "set-cookie");
        assert!(!exposed_headers(&cookie, Credentials::Omit).is_readable("set-cookie"));
    }

    #[test]
    fn invalid_list_exposes_nothing_extra() {
        let h = HeaderList::new()
            .with("BB-8", "hey")
            .with("Content-Language", "mkay")
            .with("Access-Control-Expose-Headers", "bb-8, no no");
        let e = exposed_headers(&h, Credentials::Omit);
        assert_eq!(e.readable, ["content-language"]);
        assert_eq!(e.invalid_element.as_deref(), Some("no no"));
    }
}
