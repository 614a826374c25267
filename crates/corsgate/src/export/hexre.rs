//! Regexes for the Caddy and HAProxy writers, written so that they hold no
//! quote, backtick, brace, `#` or space: every byte that is not an ASCII
//! letter or digit is a `\xHH` escape (RE2, PCRE and PCRE2 all read it as that
//! byte). They can then sit inside any quoting those configuration languages
//! have (Caddyfile backticks and CEL raw strings, HAProxy single quotes) with
//! nothing to escape, whatever a header name in the policy holds.
//!
//! The regexes use neither lookahead nor possessive quantifiers, which RE2
//! (Caddy) does not have; RE2 and PCRE2 with JIT are linear or near-linear on
//! these shapes (the list elements are delimited by commas).

use std::fmt::Write as _;

use super::{Headers, Methods, Model, Pattern, Site};
use corsgate_core::origin_set::PortSpec;

/// `s` with every byte that is not ASCII alphanumeric as `\xHH`.
pub(crate) fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() {
            out.push(b as char);
        } else {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// A header-name token (RFC 9110), as a character class.
pub(crate) const TOKEN: &str =
    "[\\x21\\x23-\\x27\\x2a\\x2b\\x2d\\x2e\\x5e\\x5f\\x60\\x7c\\x7e0-9A-Za-z]";

/// Spaces and tabs.
const WS: &str = "[\\x20\\x09]";

/// 1 to 65535 without a leading zero.
const PORT: &str =
    "(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])";

/// The anchored regex of an origin pattern. Under `:*` an explicit default
/// port is refused by [`default_port_regex`], a second test (no lookahead).
pub(crate) fn origin(p: &Pattern) -> String {
    let mut r = String::from("^");
    r.push_str(&lit(p.scheme));
    r.push_str("\\x3a\\x2f\\x2f");
    if p.subdomains {
        // One or more whole labels, as browsers serialize them.
        r.push_str("(?:[a-z0-9_\\x2d]+\\x2e)+");
    }
    r.push_str(&lit(&p.host));
    match p.port {
        PortSpec::Default => {}
        PortSpec::Exact(n) => {
            let _ = write!(r, "\\x3a{n}");
        }
        PortSpec::Any => {
            let _ = write!(r, "(?:\\x3a{PORT})?");
        }
    }
    r.push('$');
    r
}

/// For a `:*` pattern, the regex of the origins it must still refuse: an
/// explicit default port, which browsers never send.
pub(crate) fn default_port_regex(p: &Pattern) -> Option<String> {
    (p.port == PortSpec::Any).then(|| {
        let default = if p.scheme == "https" { 443 } else { 80 };
        format!("\\x3a{default}$")
    })
}

/// The regex an allowed `Access-Control-Request-Method` matches (case-sensitive).
pub(crate) fn method(m: &Model) -> String {
    match &m.methods {
        Methods::Any => format!("^{TOKEN}+$"),
        Methods::List(l) => format!(
            "^(?:{})$",
            l.iter().map(|x| lit(x)).collect::<Vec<_>>().join("|")
        ),
    }
}

/// The regex an allowed `Access-Control-Request-Headers` matches, to be used
/// case-insensitively (`(?i)` in front): a comma-separated list, with spaces,
/// tabs and empty elements, of allowed names. The empty string matches.
pub(crate) fn headers(m: &Model) -> String {
    let name = match &m.headers {
        Headers::Mirror => format!("{TOKEN}+"),
        Headers::List(l) if l.is_empty() => return format!("^(?:{WS}|\\x2c)*$"),
        Headers::List(l) => format!(
            "(?:{})",
            l.iter().map(|h| lit(h)).collect::<Vec<_>>().join("|")
        ),
    };
    let elem = format!("{WS}*(?:{name}{WS}*)?");
    format!("^(?:{elem}\\x2c)*{elem}$")
}

/// A header value made only of spaces, tabs and commas (no names).
pub(crate) fn blank_list() -> String {
    format!("^(?:{WS}|\\x2c)*$")
}

/// The paths the policy covers, on a path already decoded, dot-resolved and
/// slash-merged by the server: the location's segments in any case (some
/// upstreams ignore case), each with trailing dots and spaces (IIS drops
/// them) and optional `;parameters` (Tomcat drops them: `/api;x/` is `/api/`
/// there). Unanchored at the end.
pub(crate) fn location(site: &Site) -> String {
    let trailing = site.location.ends_with('/');
    let segments: Vec<&str> = site.location.split('/').filter(|s| !s.is_empty()).collect();
    let mut r = String::from("^(?i)");
    for s in &segments {
        let _ = write!(r, "/+{}[\\x2e\\x20]*(?:\\x3b[^/]*)?", lit(s));
    }
    if segments.is_empty() || trailing {
        r.push('/');
    } else {
        r.push_str("(?:/|$)");
    }
    r
}

/// The paths the policy covers, on a raw (still percent-encoded) path whose
/// dot segments and encoded slashes were refused before: every character of
/// the location also as its `%HH` escape (either case), in any letter case,
/// with trailing dots and spaces (plain or encoded) and `;parameters` (or
/// `%3B`) after a segment, any number of slashes.
pub(crate) fn location_raw(site: &Site) -> String {
    let trailing = site.location.ends_with('/');
    let segments: Vec<&str> = site.location.split('/').filter(|s| !s.is_empty()).collect();
    let mut r = String::from("^(?i)");
    for s in &segments {
        r.push_str("/+");
        for b in s.bytes() {
            let mut alts = vec![lit(&(b as char).to_string())];
            for c in [b.to_ascii_lowercase(), b.to_ascii_uppercase()] {
                let e = format!("\\x25{c:02x}");
                if !alts.contains(&e) {
                    alts.push(e);
                }
            }
            let _ = write!(r, "(?:{})", alts.join("|"));
        }
        // Trailing dots and spaces (IIS drops them), plain or encoded.
        r.push_str("(?:\\x2e|\\x252e|\\x2520)*(?:(?:\\x3b|\\x253b)[^/]*)?");
    }
    if segments.is_empty() || trailing {
        r.push('/');
    } else {
        r.push_str("(?:/|$)");
    }
    r
}

/// What a raw (still percent-encoded) path may not hold anywhere: a `.` or
/// `..` segment, plain or percent-encoded, ended by `/`, `;` (or `%3B`), a
/// backslash or the end; an encoded slash or backslash; a backslash. Servers
/// and upstreams resolve these differently (Tomcat reads `..;` as `..`); no
/// browser sends them (it resolves dot segments itself).
pub(crate) const REFUSED_RAW_PATH: &str = "(?i)(?:/(?:\\x2e|\\x252e){1,2}(?:/|\\x3b|\\x253b|\\x5c|\\x255c|\\x252f|$)|\\x252f|\\x255c|\\x5c)";

/// What no path the policy covers may hold once decoded: a `.` or `..`
/// segment with parameters (`..;`, read as `..` by Tomcat and other Java
/// stacks) or a backslash (read as `/` by some upstreams). Either could move
/// the request into or out of the location at the upstream after the proxy
/// decided; such requests are refused (400) wherever they point.
pub(crate) const REFUSED_PATH: &str = "(?:/\\x2e\\x2e?\\x3b|\\x5c)";

#[cfg(test)]
mod tests {
    use super::*;
    use corsgate_core::Policy;

    fn model(toml: &str) -> Model {
        Model::new(&Policy::from_toml(toml).unwrap()).unwrap()
    }

    #[test]
    fn nothing_a_config_language_would_read_is_left() {
        let m = model(
            "origins = [\"https://*.example.com:*\", \"http://[::1]:3000\"]\nmethods = [\"PUT\", \"x`'y\"]\nrequest_headers = [\"x-a'b\", \"c`d\", \"e#f\"]\n",
        );
        for re in [
            origin(&m.patterns[0]),
            method(&m),
            headers(&m),
            location(&Site::new("http://a", "/v1.0/api/").unwrap()),
            REFUSED_PATH.to_owned(),
        ] {
            assert!(
                !re.contains(['"', '\'', '`', ' ', '#', '{', '}'].as_slice())
                    || re.contains("{0,3}"),
                "{re}"
            );
            assert!(!re.contains(['"', '\'', '`', ' ', '#'].as_slice()), "{re}");
        }
        assert_eq!(
            location(&Site::new("http://a", "/api/").unwrap()),
            "^(?i)/+api[\\x2e\\x20]*(?:\\x3b[^/]*)?/"
        );
        assert_eq!(location(&Site::new("http://a", "/").unwrap()), "^(?i)/");
        assert_eq!(
            location(&Site::new("http://a", "/api").unwrap()),
            "^(?i)/+api[\\x2e\\x20]*(?:\\x3b[^/]*)?(?:/|$)"
        );
    }
}
