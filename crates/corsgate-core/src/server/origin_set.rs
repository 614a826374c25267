//! The allowed origins of a policy and the matcher that decides, per request,
//! whether an `Origin` is one of them.
//!
//! Three kinds of entry, all checked on the *parsed* request origin (scheme,
//! host, port), never with a regex or a substring test on the raw string:
//!
//! * exact origins, `https://app.example.com`: one hash lookup;
//! * subdomain patterns, `https://*.example.com`: one or more whole DNS labels
//!   in front of `example.com`, never `example.com` itself; the request host's
//!   parent domains are looked up in a hash map, so the cost depends on the
//!   number of labels in the request host, not on the number of entries;
//! * any-port patterns, `http://localhost:*` (combinable with `*.`).
//!
//! The request-side parser allocates nothing and accepts only what browsers
//! send: lower case, no default port, no empty label. A value a pattern
//! allowed is remembered (bounded, see `learned`), so that the next request
//! with it costs one hash lookup, as an exact entry does.

use std::collections::HashMap;

use http::HeaderValue;

use crate::origin::{default_port, Host, Origin, OriginError};
use crate::server::fast::fx::{hash_bytes, FxBuild};
pub use crate::server::fast::learned::SLOTS as REMEMBERED;
use crate::server::fast::learned::{Learned, Slot};
use crate::server::fast::table::Table;
use crate::server::fast::values::shared;
use crate::server::policy_error::PolicyError;

/// `http` or `https`: the only schemes a policy allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn parse(s: &str) -> Option<Scheme> {
        match s {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }
}

/// Which ports a rule accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PortRule {
    /// Only the scheme's default port (no port in the serialization).
    Default,
    /// Only this port.
    Exact(u16),
    /// Any port, the default one included (`:*`).
    Any,
}

/// A pattern entry: scheme, host and port rule, and whether it is `*.host`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Rule {
    scheme: Scheme,
    port: PortRule,
    subdomains: bool,
}

/// One `origins` entry of a policy, parsed and checked exactly as the policy
/// builder does: what a tool needs to express the entry elsewhere (the
/// `corsgate export` configurations).
///
/// ```
/// use corsgate_core::origin_set::{AllowedOrigin, PortSpec};
/// let e = AllowedOrigin::parse("https://*.example.com").unwrap();
/// assert_eq!(e, AllowedOrigin::Pattern {
///     scheme: "https",
///     host: "example.com".into(),
///     subdomains: true,
///     port: PortSpec::Default,
/// });
/// assert!(AllowedOrigin::parse("https://example.com/").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigin {
    /// `*`: any origin.
    Any,
    /// One origin, in its serialization.
    Exact(String),
    /// A pattern: `scheme://[*.]host[:port|:*]`.
    Pattern {
        /// `http` or `https`.
        scheme: &'static str,
        /// The host after `*.` (or the whole host).
        host: String,
        /// Whether one or more labels go in front of `host` (never none).
        subdomains: bool,
        /// Which ports.
        port: PortSpec,
    },
}

/// The ports a pattern accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortSpec {
    /// Only the scheme's default port (no port in the serialization).
    Default,
    /// Only this port.
    Exact(u16),
    /// Any port, the default one included (`:*`).
    Any,
}

impl AllowedOrigin {
    /// Parses one entry; the error is the one the policy builder reports.
    pub fn parse(entry: &str) -> Result<AllowedOrigin, PolicyError> {
        Ok(match Entry::parse(entry)? {
            Entry::Any => AllowedOrigin::Any,
            Entry::Exact(o) => AllowedOrigin::Exact(o.as_str().to_owned()),
            Entry::Pattern { host, rule, .. } => AllowedOrigin::Pattern {
                scheme: match rule.scheme {
                    Scheme::Http => "http",
                    Scheme::Https => "https",
                },
                host,
                subdomains: rule.subdomains,
                port: match rule.port {
                    PortRule::Default => PortSpec::Default,
                    PortRule::Exact(p) => PortSpec::Exact(p),
                    PortRule::Any => PortSpec::Any,
                },
            },
        })
    }
}

/// One parsed `origins` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// `*`.
    Any,
    /// An exact origin.
    Exact(Origin),
    /// A pattern on `host`.
    Pattern {
        host: String,
        rule: Rule,
        loopback: bool,
    },
}

impl Entry {
    /// Whether the entry is plain `http` on a non-loopback host.
    pub(crate) fn is_insecure(&self) -> bool {
        match self {
            Entry::Any => false,
            Entry::Exact(o) => o.tuple().is_some_and(|t| t.scheme() == "http") && !o.is_loopback(),
            Entry::Pattern { rule, loopback, .. } => rule.scheme == Scheme::Http && !loopback,
        }
    }

    /// Parses and checks one configured entry.
    pub(crate) fn parse(value: &str) -> Result<Entry, PolicyError> {
        if value == "*" {
            return Ok(Entry::Any);
        }
        if value.eq_ignore_ascii_case("null") {
            return Err(PolicyError::NullOrigin);
        }
        if value
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case("file:"))
        {
            return Err(PolicyError::FileOrigin {
                value: value.to_owned(),
            });
        }
        let Some(sep) = value.find("://") else {
            return Err(PolicyError::InvalidOrigin {
                value: value.to_owned(),
                problem: Origin::parse_header(value)
                    .err()
                    .unwrap_or(OriginError::MissingScheme {
                        value: value.to_owned(),
                    }),
            });
        };
        let scheme = &value[..sep];
        let lower_scheme = scheme.to_ascii_lowercase();
        if Scheme::parse(&lower_scheme).is_none() {
            let valid = !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
            if valid {
                return Err(PolicyError::UnsupportedScheme {
                    value: value.to_owned(),
                    scheme: lower_scheme,
                });
            }
        }
        let rest = &value[sep + 3..];
        let subdomains = rest.starts_with("*.");
        let rest = if subdomains { &rest[2..] } else { rest };
        let any_port = rest.ends_with(":*");
        let rest = if any_port {
            &rest[..rest.len() - 2]
        } else {
            rest
        };
        if rest.contains('*') {
            return Err(PolicyError::InvalidPattern {
                value: value.to_owned(),
                detail: "a wildcard may only stand for whole leading labels (`*.` right after `://`) or for the port (`:*` at the end)",
            });
        }
        let core = format!("{scheme}://{rest}");
        let rewild = |s: &str| -> String {
            let Some(i) = s.find("://") else {
                return s.to_owned();
            };
            let mut out = String::with_capacity(s.len() + 4);
            out.push_str(&s[..i + 3]);
            if subdomains {
                out.push_str("*.");
            }
            out.push_str(&s[i + 3..]);
            if any_port {
                out.push_str(":*");
            }
            out
        };
        let origin = match Origin::parse_header(&core) {
            Ok(o) => o,
            Err(problem) => {
                let problem = match problem {
                    // A Unicode host: suggest the punycode browsers send.
                    OriginError::InvalidByte { byte, .. } if byte >= 0x80 => {
                        match Origin::from_url_str(&core) {
                            Ok(o) if !o.is_opaque() => OriginError::NotCanonical {
                                value: value.to_owned(),
                                origin: rewild(o.as_str()),
                            },
                            _ => problem,
                        }
                    }
                    other => rewrite_origin_error(other, value, &rewild),
                };
                return Err(PolicyError::InvalidOrigin {
                    value: value.to_owned(),
                    problem,
                });
            }
        };
        let Some(tuple) = origin.tuple() else {
            return Err(PolicyError::NullOrigin);
        };
        let Some(scheme) = Scheme::parse(tuple.scheme()) else {
            return Err(PolicyError::UnsupportedScheme {
                value: value.to_owned(),
                scheme: tuple.scheme().to_owned(),
            });
        };
        if !subdomains && !any_port {
            return Ok(Entry::Exact(origin));
        }
        if any_port && tuple.port().is_some() {
            return Err(PolicyError::InvalidPattern {
                value: value.to_owned(),
                detail: "it has both a port and `:*`",
            });
        }
        if subdomains {
            let Host::Domain(domain) = tuple.host() else {
                return Err(PolicyError::InvalidPattern {
                    value: value.to_owned(),
                    detail: "`*.` needs a domain name after it, not an IP address",
                });
            };
            let loopback_name = domain == "localhost" || domain.ends_with(".localhost");
            if !loopback_name {
                if let Some(suffix) = psl::suffix_str(domain) {
                    if suffix == domain {
                        return Err(PolicyError::PublicSuffixWildcard {
                            value: value.to_owned(),
                            suffix: suffix.to_owned(),
                        });
                    }
                }
            }
        }
        let port = if any_port {
            PortRule::Any
        } else {
            match tuple.port() {
                Some(p) => PortRule::Exact(p),
                None => PortRule::Default,
            }
        };
        Ok(Entry::Pattern {
            host: tuple.host().to_string(),
            rule: Rule {
                scheme,
                port,
                subdomains,
            },
            loopback: origin.is_loopback(),
        })
    }
}

/// Puts the configured value and a wildcard-restored suggestion into an origin error.
fn rewrite_origin_error(
    e: OriginError,
    value: &str,
    rewild: &dyn Fn(&str) -> String,
) -> OriginError {
    use OriginError::*;
    let v = value.to_owned();
    match e {
        TrailingSlash { origin, .. } => TrailingSlash {
            value: v,
            origin: rewild(&origin),
        },
        HasPath { origin, .. } => HasPath {
            value: v,
            origin: rewild(&origin),
        },
        HasQuery { origin, .. } => HasQuery {
            value: v,
            origin: rewild(&origin),
        },
        HasFragment { origin, .. } => HasFragment {
            value: v,
            origin: rewild(&origin),
        },
        HasUserinfo { origin, .. } => HasUserinfo {
            value: v,
            origin: rewild(&origin),
        },
        ExplicitDefaultPort { origin, .. } => ExplicitDefaultPort {
            value: v,
            origin: rewild(&origin),
        },
        NotCanonical { origin, .. } => NotCanonical {
            value: v,
            origin: rewild(&origin),
        },
        Malformed { detail, .. } => Malformed { value: v, detail },
        MissingScheme { .. } => MissingScheme { value: v },
        NoHost { .. } => NoHost { value: v },
        other => other,
    }
}

/// How a request's `Origin` compares with the allowed origins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginMatch<'p> {
    /// The policy allows any origin.
    Any,
    /// An exact entry: its precomputed header value.
    Exact(&'p HeaderValue),
    /// A pattern entry, seen for the first time (the request's own value is
    /// echoed). The value is remembered, so the next request with it gets
    /// [`PatternSeen`](OriginMatch::PatternSeen).
    Pattern,
    /// A pattern entry that allowed this very value before: the set's copy
    /// of it, as cheap to answer with as an exact entry. (A set remembers a
    /// bounded number of values; beyond that, matches stay
    /// [`Pattern`](OriginMatch::Pattern).)
    PatternSeen(&'p HeaderValue),
    /// A well-formed origin that no entry allows.
    NotAllowed,
    /// Not an origin a browser would send (or `null`).
    Malformed,
}

/// The compiled set of allowed origins.
///
/// ```
/// use corsgate_core::policy::Policy;
/// use corsgate_core::origin_set::OriginMatch;
/// use http::HeaderValue;
/// let p = Policy::builder()
///     .origin("https://app.example.com")
///     .origin("https://*.example.org")
///     .origin("http://localhost:*")
///     .build()
///     .unwrap();
/// let set = p.origins();
/// let m = |s: &'static str| set.matches(&HeaderValue::from_static(s));
/// assert!(matches!(m("https://app.example.com"), OriginMatch::Exact(_)));
/// assert_eq!(m("https://a.b.example.org"), OriginMatch::Pattern);
/// // The same value again: remembered, answered like an exact entry.
/// assert!(matches!(m("https://a.b.example.org"), OriginMatch::PatternSeen(v) if v == "https://a.b.example.org"));
/// assert_eq!(m("https://example.org"), OriginMatch::NotAllowed); // never the bare domain
/// assert_eq!(m("https://evil-example.org"), OriginMatch::NotAllowed);
/// assert_eq!(m("http://localhost:5173"), OriginMatch::Pattern);
/// assert_eq!(m("https://app.example.com/"), OriginMatch::Malformed);
/// ```
#[derive(Debug, Clone, Default)]
pub struct OriginSet {
    any: bool,
    exact: Table<HeaderValue>,
    rules: HashMap<Box<str>, Vec<Rule>, FxBuild>,
    host_rules: bool,
    subdomain_rules: bool,
    learned: Learned,
    len: usize,
}

impl OriginSet {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds an entry; `false` if it was already there.
    pub(crate) fn insert(&mut self, entry: Entry) -> bool {
        self.len += 1;
        match entry {
            Entry::Any => !std::mem::replace(&mut self.any, true),
            Entry::Exact(o) => {
                let s = o.as_str();
                if self.exact.contains_key(s.as_bytes()) {
                    return false;
                }
                match HeaderValue::from_str(s) {
                    Ok(v) => self.exact.insert(s.as_bytes(), shared(v)),
                    Err(_) => false,
                }
            }
            Entry::Pattern { host, rule, .. } => {
                self.host_rules |= !rule.subdomains;
                self.subdomain_rules |= rule.subdomains;
                self.learned.enable();
                let rules = self.rules.entry(host.into_boxed_str()).or_default();
                if rules.contains(&rule) {
                    return false;
                }
                rules.push(rule);
                true
            }
        }
    }

    /// Whether any origin is allowed (`*`).
    pub fn is_any(&self) -> bool {
        self.any
    }

    /// How many entries were configured.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Matches a request's `Origin` value. Allocates only the first time a
    /// pattern allows a value (see [`OriginMatch::PatternSeen`]).
    #[inline]
    pub fn matches(&self, value: &HeaderValue) -> OriginMatch<'_> {
        self.matches_keyed(value, OriginKey::of(value))
    }

    /// [`matches`](Self::matches) with the value's lookup key computed
    /// already (once per request, for every set that looks it up).
    #[inline(always)]
    pub(crate) fn matches_keyed(&self, value: &HeaderValue, key: OriginKey) -> OriginMatch<'_> {
        if self.any {
            return OriginMatch::Any;
        }
        // Exact entries are stored in their canonical serialization, so a
        // byte-equal value *is* that parsed origin: look it up first.
        if let Some(v) = self.exact.get_hashed(key.0, value.as_bytes()) {
            return OriginMatch::Exact(v);
        }
        let slot = self.learned.slot(key.0);
        if let Some(v) = slot.as_ref().and_then(|s| s.get(value.as_bytes())) {
            return OriginMatch::PatternSeen(v);
        }
        self.match_and_learn(value, slot)
    }

    /// [`matches_keyed`](Self::matches_keyed) past the exact entries and the
    /// learned values: out of line, so that those two are looked up in the
    /// caller.
    #[inline(never)]
    fn match_and_learn(&self, value: &HeaderValue, slot: Option<Slot<'_>>) -> OriginMatch<'_> {
        let m = self.match_rules(value);
        if let (OriginMatch::Pattern, Some(slot)) = (m, slot) {
            slot.learn(value);
        }
        m
    }

    /// [`matches`](Self::matches) on the rules (patterns) alone.
    fn match_rules(&self, value: &HeaderValue) -> OriginMatch<'_> {
        let Some(parts) = RequestOrigin::parse(value.as_bytes()) else {
            return OriginMatch::Malformed;
        };
        if self.rules.is_empty() {
            return OriginMatch::NotAllowed;
        }
        let accepts = |rules: &Vec<Rule>, subdomain: bool| {
            rules.iter().any(|r| {
                r.subdomains == subdomain
                    && r.scheme == parts.scheme
                    && match r.port {
                        PortRule::Any => true,
                        PortRule::Default => parts.port.is_none(),
                        PortRule::Exact(p) => parts.port == Some(p),
                    }
            })
        };
        if self.host_rules {
            if let Some(rules) = self.rules.get(parts.host) {
                if accepts(rules, false) {
                    return OriginMatch::Pattern;
                }
            }
        }
        if parts.domain && self.subdomain_rules {
            let host = parts.host.as_bytes();
            for (i, b) in host.iter().enumerate() {
                if *b == b'.' {
                    if let Some(rules) = self.rules.get(&parts.host[i + 1..]) {
                        if accepts(rules, true) {
                            return OriginMatch::Pattern;
                        }
                    }
                }
            }
        }
        OriginMatch::NotAllowed
    }
}

/// The lookup key of a request's `Origin` value: the hash every table of
/// an origin set (exact entries, learned slots) is probed with, computed
/// once per request whatever the number of sets that look the value up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OriginKey(u64);

impl OriginKey {
    /// The key of a request without `Origin` (never looked up).
    pub(crate) const NONE: OriginKey = OriginKey(0);

    /// The key of `value`.
    #[inline]
    pub(crate) fn of(value: &HeaderValue) -> OriginKey {
        OriginKey(hash_bytes(value.as_bytes()))
    }
}

/// A request `Origin` split into its parts, borrowed from the header value.
#[derive(Debug, Clone, Copy)]
struct RequestOrigin<'a> {
    scheme: Scheme,
    host: &'a str,
    domain: bool,
    port: Option<u16>,
}

/// Bytes allowed in a domain host as browsers serialize it.
static HOST_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.');
        i += 1;
    }
    t
};

/// Longest host a browser sends (DNS limit), plus brackets for IPv6.
const MAX_HOST: usize = 255;

impl<'a> RequestOrigin<'a> {
    fn parse(bytes: &'a [u8]) -> Option<RequestOrigin<'a>> {
        if bytes.len() > 8 + MAX_HOST + 6 {
            return None;
        }
        let (scheme, rest) = if let Some(r) = bytes.strip_prefix(b"https://") {
            (Scheme::Https, r)
        } else if let Some(r) = bytes.strip_prefix(b"http://") {
            (Scheme::Http, r)
        } else {
            return None;
        };
        let (host, port_str, domain) = if rest.first() == Some(&b'[') {
            let end = rest.iter().position(|b| *b == b']')?;
            let inner = &rest[1..end];
            if inner.is_empty()
                || !inner
                    .iter()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'a'..=b'f' | b':' | b'.'))
            {
                return None;
            }
            let after = &rest[end + 1..];
            let port = match after.strip_prefix(b":") {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return None,
            };
            (&rest[..end + 1], port, false)
        } else {
            // One pass: lower-case letters, digits, `-`, `_` and dots, with
            // no empty label (a leading, trailing or doubled dot), up to `:`.
            let mut end = rest.len();
            let mut after_dot = true;
            for (i, b) in rest.iter().enumerate() {
                if *b == b':' {
                    end = i;
                    break;
                }
                if !HOST_BYTE[usize::from(*b)] {
                    return None;
                }
                let dot = *b == b'.';
                if dot && after_dot {
                    return None;
                }
                after_dot = dot;
            }
            if after_dot || end > MAX_HOST {
                return None;
            }
            let port = (end < rest.len()).then(|| &rest[end + 1..]);
            (&rest[..end], port, true)
        };
        // Only ASCII got this far.
        let host = std::str::from_utf8(host).ok()?;
        let port = match port_str {
            None => None,
            Some(p) => {
                if p.is_empty() || p.len() > 5 || p[0] == b'0' {
                    return None;
                }
                let mut n: u32 = 0;
                for b in p.iter().copied() {
                    if !b.is_ascii_digit() {
                        return None;
                    }
                    n = n * 10 + u32::from(b - b'0');
                }
                let n = u16::try_from(n).ok()?;
                let name = match scheme {
                    Scheme::Http => "http",
                    Scheme::Https => "https",
                };
                if default_port(name) == Some(n) {
                    return None;
                }
                Some(n)
            }
        };
        Some(RequestOrigin {
            scheme,
            host,
            domain,
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(entries: &[&str]) -> OriginSet {
        let mut s = OriginSet::new();
        for e in entries {
            assert!(s.insert(Entry::parse(e).unwrap()), "{e}");
        }
        s
    }

    fn m<'a>(s: &'a OriginSet, v: &str) -> OriginMatch<'a> {
        s.matches(&HeaderValue::from_str(v).unwrap())
    }

    #[test]
    fn subdomain_patterns_are_label_aware() {
        let s = set(&[
            "https://*.example.com",
            "https://foo.com",
            "https://bar.com",
        ]);
        assert_eq!(m(&s, "https://a.example.com"), OriginMatch::Pattern);
        assert_eq!(m(&s, "https://c.b.a.example.com"), OriginMatch::Pattern);
        for no in [
            "https://example.com",
            "https://evilexample.com",
            "https://a.example.com.evil.com",
            "http://a.example.com",
            "https://a.example.com:8443",
            "https://barfoo.com",
            "https://foo.com.bar.com",
        ] {
            assert_eq!(m(&s, no), OriginMatch::NotAllowed, "{no}");
        }
        for bad in [
            "https://.example.com",
            "https://a..example.com",
            "https://A.example.com",
            "https://a.example.com:443",
            "https://a.example.com:",
            "https://a.example.com:0443",
            "https://a.example.com/",
            "null",
            "",
        ] {
            assert_eq!(m(&s, bad), OriginMatch::Malformed, "{bad}");
        }
    }

    #[test]
    fn ports() {
        let s = set(&[
            "http://localhost:*",
            "https://*.dev.example:8443",
            "http://[::1]:*",
        ]);
        assert_eq!(m(&s, "http://localhost"), OriginMatch::Pattern);
        assert_eq!(m(&s, "http://localhost:3000"), OriginMatch::Pattern);
        assert_eq!(m(&s, "https://localhost:3000"), OriginMatch::NotAllowed);
        assert_eq!(m(&s, "https://x.dev.example:8443"), OriginMatch::Pattern);
        assert_eq!(m(&s, "https://x.dev.example"), OriginMatch::NotAllowed);
        assert_eq!(m(&s, "http://[::1]:8080"), OriginMatch::Pattern);
        assert_eq!(m(&s, "http://a.localhost:1"), OriginMatch::NotAllowed);
    }

    #[test]
    fn refuses_bad_entries() {
        let code = |v: &str| Entry::parse(v).unwrap_err().code();
        assert_eq!(code("https://*.com"), "public_suffix_wildcard");
        assert_eq!(code("https://*.co.uk"), "public_suffix_wildcard");
        assert_eq!(code("https://*.github.io"), "public_suffix_wildcard");
        assert_eq!(code("null"), "null_origin");
        assert_eq!(code("file:///home/me/index.html"), "file_origin");
        assert_eq!(code("ftp://files.example.com"), "unsupported_scheme");
        assert_eq!(code("chrome-extension://abc"), "unsupported_scheme");
        assert_eq!(code("https://a*.example.com"), "invalid_pattern");
        assert_eq!(code("https://*.127.0.0.1"), "invalid_pattern");
        assert_eq!(code("https://a.com:8080:*"), "invalid_pattern");
        let e = Entry::parse("https://*.example.com/").unwrap_err();
        assert!(
            e.to_string()
                .contains("did you mean https://*.example.com — without"),
            "{e}"
        );
        let e = Entry::parse("https://app.example.com:443").unwrap_err();
        assert!(
            e.to_string()
                .contains("did you mean https://app.example.com?"),
            "{e}"
        );
        let e = Entry::parse("https://bücher.example").unwrap_err();
        assert!(
            e.to_string().contains("https://xn--bcher-kva.example"),
            "{e}"
        );
        let e = Entry::parse("http://0x7f.0.0.1:*").unwrap_err();
        assert!(e.to_string().contains("http://127.0.0.1:*"), "{e}");
        assert!(Entry::parse("https://*.example.co.uk").is_ok());
        assert!(Entry::parse("http://*.localhost:*").is_ok());
    }

    /// What a matcher that remembers nothing says: `Pattern` for both
    /// pattern outcomes, so first and later sights compare equal.
    fn fresh(m: OriginMatch<'_>) -> OriginMatch<'_> {
        match m {
            OriginMatch::PatternSeen(_) => OriginMatch::Pattern,
            other => other,
        }
    }

    proptest::proptest! {
        /// Remembering changes the cost, never the answer: from any number
        /// of threads, first and later sights of random origins agree with
        /// the rules alone, and a remembered answer is the request's value.
        #[test]
        fn remembered_answers_equal_the_rules(
            labels in proptest::collection::vec("[a-z0-9-]{1,4}", 1..40),
            ports in proptest::collection::vec(proptest::option::of(1u16..4), 1..40),
        ) {
            let s = set(&["https://*.example.com", "http://*.dev.example:*", "https://app.example.com"]);
            let values: Vec<HeaderValue> = labels
                .iter()
                .zip(ports.iter().cycle())
                .enumerate()
                .map(|(i, (l, p))| {
                    let scheme = if i % 2 == 0 { "https" } else { "http" };
                    let host = if i % 3 == 0 { "dev.example" } else { "example.com" };
                    let port = p.map(|p| format!(":{p}")).unwrap_or_default();
                    HeaderValue::from_str(&format!("{scheme}://{l}.{host}{port}")).unwrap()
                })
                .collect();
            std::thread::scope(|scope| {
                for _ in 0..3 {
                    scope.spawn(|| {
                        for _ in 0..3 {
                            for v in &values {
                                let got = s.matches(v);
                                if let OriginMatch::PatternSeen(echo) = got {
                                    assert_eq!(echo, v);
                                }
                                let want = s.exact.get(v.as_bytes()).map_or_else(|| s.match_rules(v), OriginMatch::Exact);
                                assert_eq!(fresh(got), want, "{v:?}");
                            }
                        }
                    });
                }
            });
        }
    }

    #[test]
    fn a_second_sight_gives_the_same_answer() {
        let s = set(&["https://*.example.com", "http://localhost:*"]);
        for v in [
            "https://a.example.com",
            "http://localhost:3000",
            "https://example.com",
            "null",
        ] {
            let first = m(&s, v);
            let second = m(&s, v);
            assert_eq!(fresh(second), first, "{v}");
            if first == OriginMatch::Pattern {
                assert!(
                    matches!(second, OriginMatch::PatternSeen(e) if e == v),
                    "{v}: {second:?}"
                );
            }
        }
    }
}
