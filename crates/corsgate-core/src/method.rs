//! Request methods: normalization, the CORS-safelisted methods, and the
//! forbidden methods that script can never use.

use crate::headers::is_token;

/// The Fetch standard's *normalize a method*: only `DELETE`, `GET`, `HEAD`,
/// `OPTIONS`, `POST` and `PUT` are upper-cased; any other method keeps its
/// case, so `patch` stays `patch` and must be listed as `patch`.
///
/// ```
/// use corsgate_core::method::normalize;
/// assert_eq!(normalize("put"), "PUT");
/// assert_eq!(normalize("patch"), "patch");
/// ```
pub fn normalize(method: &str) -> String {
    const NORMALIZED: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
    for m in NORMALIZED {
        if method.eq_ignore_ascii_case(m) {
            return m.to_owned();
        }
    }
    method.to_owned()
}

/// `GET`, `HEAD` and `POST`, byte for byte (after normalization).
pub fn is_cors_safelisted(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "POST")
}

/// `CONNECT`, `TRACE` and `TRACK`, in any case: script can never send them.
pub fn is_forbidden(method: &str) -> bool {
    ["CONNECT", "TRACE", "TRACK"]
        .iter()
        .any(|m| method.eq_ignore_ascii_case(m))
}

/// Whether a method is syntactically valid (an HTTP token).
pub fn is_valid(method: &str) -> bool {
    is_token(method.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_is_limited_to_six_methods() {
        for (given, want) in [
            ("get", "GET"),
            ("Post", "POST"),
            ("delete", "DELETE"),
            ("options", "OPTIONS"),
            ("head", "HEAD"),
            ("pUt", "PUT"),
            ("patch", "patch"),
            ("Patch", "Patch"),
            ("PATCH", "PATCH"),
            ("custom", "custom"),
        ] {
            assert_eq!(normalize(given), want);
        }
        assert!(is_cors_safelisted("GET"));
        assert!(!is_cors_safelisted("get"));
        assert!(!is_cors_safelisted("PUT"));
        assert!(is_forbidden("trace") && is_forbidden("CONNECT") && is_forbidden("Track"));
        assert!(!is_valid("GE T") && is_valid("M-SEARCH"));
    }
}
