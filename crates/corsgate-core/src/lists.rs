//! Parsers for the CORS response headers' values: comma-separated token lists
//! (`Access-Control-Allow-Methods`, `-Allow-Headers`, `-Expose-Headers`) and
//! `Access-Control-Max-Age`.
//!
//! These follow the Fetch standard's *extract header list values*: each header
//! line is parsed on its own, empty elements are skipped, every element must be
//! an HTTP token, and one bad element makes the whole header a failure.

use serde::Serialize;

use crate::headers::{is_token, trim_ows, HeaderList};
use crate::profile::{InvalidMaxAge, Profile};

/// The outcome of parsing a token-list header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TokenList {
    /// The header is absent.
    Absent,
    /// Some element is not a token: the header counts as a failure.
    Invalid {
        /// The whole value of the line that failed.
        value: String,
        /// The first element that is not a token.
        element: String,
    },
    /// The elements, in order, as sent (case kept).
    Tokens {
        /// The elements.
        items: Vec<String>,
    },
}

impl TokenList {
    /// The tokens, or an empty slice when absent or invalid.
    pub fn items(&self) -> &[String] {
        match self {
            TokenList::Tokens { items } => items,
            _ => &[],
        }
    }

    /// Whether the list holds this exact token.
    pub fn contains(&self, token: &str) -> bool {
        self.items().iter().any(|t| t == token)
    }

    /// Whether the list holds this token, ASCII case-insensitively.
    pub fn contains_ignore_case(&self, token: &str) -> bool {
        self.items().iter().any(|t| t.eq_ignore_ascii_case(token))
    }
}

/// Parses every line of `name` in `headers` as a `#token` list.
///
/// ```
/// use corsgate_core::{HeaderList, lists::{parse_token_list, TokenList}};
/// let h = HeaderList::new().with("Access-Control-Allow-Methods", ", PUT ,, patch");
/// assert_eq!(parse_token_list(&h, "access-control-allow-methods").items(), ["PUT", "patch"]);
/// let bad = HeaderList::new().with("Access-Control-Allow-Headers", "x-a, no no");
/// assert!(matches!(parse_token_list(&bad, "access-control-allow-headers"), TokenList::Invalid { .. }));
/// ```
pub fn parse_token_list(headers: &HeaderList, name: &str) -> TokenList {
    let mut items = Vec::new();
    let mut any = false;
    for line in headers.get_all(name) {
        any = true;
        if let Err(element) = split_tokens(line, |t| items.push(t.to_owned())) {
            return TokenList::Invalid {
                value: String::from_utf8_lossy(line).into_owned(),
                element,
            };
        }
    }
    if any {
        TokenList::Tokens { items }
    } else {
        TokenList::Absent
    }
}

/// Splits one header line on commas, trims spaces and tabs, skips empty
/// elements and hands each token to `each`. Returns the first non-token element
/// as an error. Does no allocation of its own.
pub fn split_tokens<'a>(line: &'a [u8], mut each: impl FnMut(&'a str)) -> Result<(), String> {
    for raw in line.split(|b| *b == b',') {
        let element = trim_ows(raw);
        if element.is_empty() {
            continue;
        }
        if !is_token(element) {
            return Err(String::from_utf8_lossy(element).into_owned());
        }
        // Tokens are ASCII, so this cannot fail.
        if let Ok(s) = std::str::from_utf8(element) {
            each(s);
        }
    }
    Ok(())
}

/// The outcome of parsing `Access-Control-Max-Age` for a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MaxAge {
    /// Seconds the preflight result may be cached, after the profile's cap.
    pub seconds: u64,
    /// Whether the header was absent (the default applied).
    pub absent: bool,
    /// Whether the header was present but not valid `delta-seconds`.
    pub invalid: bool,
    /// Whether the value was lowered to the profile's cap.
    pub capped: bool,
}

/// Parses `Access-Control-Max-Age` the way `profile` does.
///
/// ```
/// use corsgate_core::{HeaderList, Profile, lists::parse_max_age};
/// let h = HeaderList::new().with("Access-Control-Max-Age", "86400");
/// assert_eq!(parse_max_age(&h, Profile::Chromium).seconds, 7200);
/// assert_eq!(parse_max_age(&h, Profile::Firefox).seconds, 86400);
/// assert_eq!(parse_max_age(&HeaderList::new(), Profile::Chromium).seconds, 5);
/// ```
pub fn parse_max_age(headers: &HeaderList, profile: Profile) -> MaxAge {
    let cap = profile.max_age_cap();
    let mut lines = headers.get_all("access-control-max-age");
    let Some(first) = lines.next() else {
        return MaxAge {
            seconds: profile.default_max_age(),
            absent: true,
            invalid: false,
            capped: false,
        };
    };
    let several = lines.next().is_some();
    let parsed: Option<i128> = if several {
        None
    } else {
        if profile.max_age_takes_a_sign() {
            // A negative value then means "do not cache".
            parse_signed(first)
        } else {
            parse_digits(first)
        }
    };
    match parsed {
        Some(v) => {
            let v = v.max(0) as u128;
            let capped = v > u128::from(cap);
            MaxAge {
                seconds: if capped { cap } else { v as u64 },
                absent: false,
                invalid: false,
                capped,
            }
        }
        None => MaxAge {
            seconds: match profile.invalid_max_age() {
                InvalidMaxAge::Default => profile.default_max_age(),
                InvalidMaxAge::NoCache => 0,
            },
            absent: false,
            invalid: true,
            capped: false,
        },
    }
}

fn parse_digits(v: &[u8]) -> Option<i128> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Saturate huge values: they are capped anyway.
    let mut n: i128 = 0;
    for d in v {
        n = (n * 10 + i128::from(d - b'0')).min(i128::from(u64::MAX));
    }
    Some(n)
}

fn parse_signed(v: &[u8]) -> Option<i128> {
    match v.split_first() {
        Some((b'-', rest)) => parse_digits(rest).map(|n| -n),
        Some((b'+', rest)) => parse_digits(rest),
        _ => parse_digits(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aceh(lines: &[&[u8]]) -> TokenList {
        let mut h = HeaderList::new();
        for l in lines {
            h.append("Access-Control-Expose-Headers", l);
        }
        parse_token_list(&h, "access-control-expose-headers")
    }

    /// The web-platform-tests table `cors/resources/access-control-expose-headers.json`.
    #[test]
    fn wpt_expose_headers_parsing() {
        let exposed = |lines: &[&[u8]]| aceh(lines).contains_ignore_case("bb-8");
        assert!(exposed(&[b"BB-8"]));
        assert!(!exposed(&[b"bb-8,,@#$#%%&^&^*()()11!"]));
        assert!(!exposed(&[b"bb-8, no no"]));
        assert!(!exposed(&[b"@#$#%%&^&^*()()11!,bb-8"]));
        assert!(exposed(&[b"bb-8", b"no"]));
        assert!(!exposed(&[b"bb-8", b"no no"]));
        assert!(exposed(&[b"no", b"bb-8"]));
        assert!(exposed(&[b"", b"bb-8"]));
        assert!(exposed(&[b",bb-8"]));
        assert!(!exposed(&[b"bb-8\x0c"]));
        assert!(!exposed(&[b"bb-8\x0b"]));
        assert!(!exposed(&[b"bb-8\x0b,bb-8"]));
        assert!(!exposed(&[b"'bb-8'"]));
        assert!(exposed(&[b"'bb-8',bb-8"]));
        assert!(!exposed(&[b"\"bb-8\",bb-8"]));
    }

    #[test]
    fn max_age_per_profile() {
        let h = |v: &str| HeaderList::new().with("Access-Control-Max-Age", v);
        assert_eq!(parse_max_age(&h("600"), Profile::Standard).seconds, 600);
        assert_eq!(parse_max_age(&h("abc"), Profile::Standard).seconds, 5);
        assert_eq!(parse_max_age(&h("abc"), Profile::Firefox).seconds, 0);
        assert_eq!(parse_max_age(&h("-1"), Profile::Chromium).seconds, 0);
        assert_eq!(parse_max_age(&h("-1"), Profile::Standard).seconds, 5);
        // WebKitGTK 2.50.6: -1 caches nothing, an unparsable value 5 s
        // (conformance matrix, e.g. case #563).
        assert_eq!(parse_max_age(&h("-1"), Profile::Safari).seconds, 0);
        assert_eq!(parse_max_age(&h("abc"), Profile::Safari).seconds, 5);
        assert_eq!(
            parse_max_age(&h("99999999999999999999999"), Profile::Safari).seconds,
            600
        );
        let two = h("1").with("Access-Control-Max-Age", "2");
        assert!(parse_max_age(&two, Profile::Standard).invalid);
    }
}
