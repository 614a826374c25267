//! Parsers for the CORS response headers' values: comma-separated token lists
//! (`Access-Control-Allow-Methods`, `-Allow-Headers`, `-Expose-Headers`).
//! (`Access-Control-Max-Age`, whose reading depends on the browser, is
//! `browser::max_age`, re-exported as `preflight::parse_max_age`.)
//!
//! These follow the Fetch standard's *extract header list values*: each header
//! line is parsed on its own, empty elements are skipped, every element must be
//! an HTTP token, and one bad element makes the whole header a failure.

use serde::Serialize;

use crate::headers::{is_token, trim_ows, HeaderList};

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
}
