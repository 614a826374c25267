//! Origins: parsing an `Origin` header value or a URL, the browser's exact
//! serialization, and same-origin comparison.
//!
//! An origin is either *opaque* (serialized `null`) or a tuple of scheme,
//! host and port. Browsers serialize a tuple origin as `scheme://host[:port]`
//! with the port left out when it is the scheme's default, the host in ASCII
//! (IDN hosts in punycode, IPv6 in brackets) and never a trailing slash.
//! The WHATWG URL parser (the `url` crate) does the URL work; this module adds
//! the strictness an `Origin` header needs and explains every rejection.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Serialize, Serializer};
use url::Url;

/// The host part of a tuple origin.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name in ASCII form (IDN labels already punycode-encoded), lower case.
    Domain(String),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address (serialized in brackets).
    Ipv6(Ipv6Addr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// A tuple origin: scheme, host and port, with its serialization computed once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TupleOrigin {
    serialized: String,
    scheme_len: usize,
    host: Host,
    port: Option<u16>,
}

impl TupleOrigin {
    /// The scheme, lower case, without `://`.
    pub fn scheme(&self) -> &str {
        &self.serialized[..self.scheme_len]
    }
    /// The host.
    pub fn host(&self) -> &Host {
        &self.host
    }
    /// The port, or `None` when it is the scheme's default port.
    pub fn port(&self) -> Option<u16> {
        self.port
    }
    /// The port, with the scheme's default filled in (`None` for schemes without one).
    pub fn port_or_default(&self) -> Option<u16> {
        self.port.or_else(|| default_port(self.scheme()))
    }
}

/// A web origin, as browsers put it in the `Origin` request header.
///
/// ```
/// use corsgate_core::Origin;
///
/// let o = Origin::parse_header("https://app.example.com").unwrap();
/// assert_eq!(o.as_str(), "https://app.example.com");
///
/// // From a URL, default ports are elided and IDN hosts become ASCII.
/// let u = Origin::from_url_str("https://BÜCHER.example:443/a/b?c").unwrap();
/// assert_eq!(u.as_str(), "https://xn--bcher-kva.example");
///
/// // A trailing slash is not part of an origin, and the error says so.
/// let err = Origin::parse_header("https://app.example.com/").unwrap_err();
/// assert!(err.to_string().contains("trailing slash"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    /// An opaque origin: sandboxed documents, `file:` and `data:` pages, and
    /// requests tainted by a cross-origin redirect. Serialized `null`.
    Opaque,
    /// A tuple origin.
    Tuple(TupleOrigin),
}

impl Serialize for Origin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why a string is not a valid origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginError {
    /// The value is empty.
    Empty,
    /// A byte that can never appear in a serialized origin.
    InvalidByte {
        /// The offending byte.
        byte: u8,
        /// Its position in the value.
        position: usize,
    },
    /// The URL parser refused the value.
    Malformed {
        /// The value.
        value: String,
        /// What the URL parser said.
        detail: String,
    },
    /// The value has no `scheme://` part.
    MissingScheme {
        /// The value.
        value: String,
    },
    /// The URL has no host, so it has no tuple origin.
    NoHost {
        /// The value.
        value: String,
    },
    /// The value ends with `/`.
    TrailingSlash {
        /// The value.
        value: String,
        /// The value without the slash.
        origin: String,
    },
    /// The value has a path.
    HasPath {
        /// The value.
        value: String,
        /// The origin part of it.
        origin: String,
    },
    /// The value has a `?query`.
    HasQuery {
        /// The value.
        value: String,
        /// The origin part of it.
        origin: String,
    },
    /// The value has a `#fragment`.
    HasFragment {
        /// The value.
        value: String,
        /// The origin part of it.
        origin: String,
    },
    /// The value has `user:password@`.
    HasUserinfo {
        /// The value.
        value: String,
        /// The origin part of it.
        origin: String,
    },
    /// The value spells out the scheme's default port, which browsers never do.
    ExplicitDefaultPort {
        /// The value.
        value: String,
        /// The origin as browsers send it.
        origin: String,
    },
    /// The value is an origin, but not written the way browsers write it
    /// (upper case, Unicode host, non-canonical IP address, ...).
    NotCanonical {
        /// The value.
        value: String,
        /// The origin as browsers send it.
        origin: String,
    },
}

impl fmt::Display for OriginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginError::Empty => f.write_str("the origin is empty; an origin looks like https://app.example.com"),
            OriginError::InvalidByte { byte, position } => write!(
                f,
                "byte 0x{byte:02X} at position {position} cannot appear in an origin; an origin is plain ASCII like https://app.example.com"
            ),
            OriginError::Malformed { value, detail } => write!(
                f,
                "'{value}' is not a valid origin ({detail}); an origin looks like https://app.example.com"
            ),
            OriginError::MissingScheme { value } => write!(
                f,
                "'{value}' has no scheme; an origin starts with http:// or https://, e.g. https://{value}"
            ),
            OriginError::NoHost { value } => write!(
                f,
                "'{value}' has no host, so it has no origin of its own (browsers send `null` for such pages)"
            ),
            OriginError::TrailingSlash { value, origin } => write!(
                f,
                "'{value}' ends with a trailing slash, which is never part of an origin; did you mean {origin} — without the trailing slash?"
            ),
            OriginError::HasPath { value, origin } => write!(
                f,
                "'{value}' has a path; an origin is only scheme, host and port: did you mean {origin}?"
            ),
            OriginError::HasQuery { value, origin } => write!(
                f,
                "'{value}' has a query string; an origin is only scheme, host and port: did you mean {origin}?"
            ),
            OriginError::HasFragment { value, origin } => write!(
                f,
                "'{value}' has a fragment; an origin is only scheme, host and port: did you mean {origin}?"
            ),
            OriginError::HasUserinfo { value, origin } => write!(
                f,
                "'{value}' contains a user name or password, which is never part of an origin: did you mean {origin}?"
            ),
            OriginError::ExplicitDefaultPort { value, origin } => write!(
                f,
                "'{value}' spells out the default port, but browsers leave it out of the Origin header: did you mean {origin}?"
            ),
            OriginError::NotCanonical { value, origin } => write!(
                f,
                "'{value}' is not written the way browsers send it (lower case, ASCII host, canonical address): did you mean {origin}?"
            ),
        }
    }
}

impl std::error::Error for OriginError {}

/// The default port of a scheme, if it has one.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "ftp" => Some(21),
        _ => None,
    }
}

impl Origin {
    /// Parses an `Origin` request-header value strictly: it must be exactly what a
    /// browser sends, `null` or `scheme://host[:port]` in canonical form.
    ///
    /// ```
    /// use corsgate_core::{Origin, OriginError};
    /// assert_eq!(Origin::parse_header("null").unwrap(), Origin::Opaque);
    /// assert!(matches!(
    ///     Origin::parse_header("https://a.example:443"),
    ///     Err(OriginError::ExplicitDefaultPort { .. })
    /// ));
    /// ```
    pub fn parse_header(value: impl AsRef<[u8]>) -> Result<Origin, OriginError> {
        let bytes = value.as_ref();
        if bytes.is_empty() {
            return Err(OriginError::Empty);
        }
        if let Some(position) = bytes.iter().position(|b| !(0x21..0x7f).contains(b)) {
            return Err(OriginError::InvalidByte {
                byte: bytes[position],
                position,
            });
        }
        // All bytes are visible ASCII, so this cannot fail.
        let text = std::str::from_utf8(bytes).map_err(|e| OriginError::InvalidByte {
            byte: bytes[e.valid_up_to()],
            position: e.valid_up_to(),
        })?;
        if text == "null" {
            return Ok(Origin::Opaque);
        }
        if !text.contains("://") {
            return Err(OriginError::MissingScheme {
                value: text.to_owned(),
            });
        }
        let url = Url::parse(text).map_err(|e| OriginError::Malformed {
            value: text.to_owned(),
            detail: e.to_string(),
        })?;
        let origin = Origin::from_url(&url);
        let Origin::Tuple(tuple) = &origin else {
            return Err(OriginError::NoHost {
                value: text.to_owned(),
            });
        };
        let canonical = tuple.serialized.clone();
        let value = text.to_owned();
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OriginError::HasUserinfo {
                value,
                origin: canonical,
            });
        }
        if url.query().is_some() {
            return Err(OriginError::HasQuery {
                value,
                origin: canonical,
            });
        }
        if url.fragment().is_some() {
            return Err(OriginError::HasFragment {
                value,
                origin: canonical,
            });
        }
        let path = url.path();
        if path == "/" && text.ends_with('/') {
            return Err(OriginError::TrailingSlash {
                value,
                origin: canonical,
            });
        }
        if !path.is_empty() && path != "/" {
            return Err(OriginError::HasPath {
                value,
                origin: canonical,
            });
        }
        if text != canonical {
            let explicit_default = default_port(tuple.scheme())
                .is_some_and(|p| tuple.port.is_none() && text.ends_with(&format!(":{p}")));
            return Err(if explicit_default {
                OriginError::ExplicitDefaultPort {
                    value,
                    origin: canonical,
                }
            } else {
                OriginError::NotCanonical {
                    value,
                    origin: canonical,
                }
            });
        }
        Ok(origin)
    }

    /// The origin of a parsed URL, as the URL standard defines it: a tuple for
    /// URLs with a host (`http`, `https`, `ws`, `wss`, `ftp`, and
    /// non-special schemes such as `chrome-extension`), opaque otherwise
    /// (`file:`, `data:`, `about:`). A `blob:` URL has the origin of the URL inside it.
    pub fn from_url(url: &Url) -> Origin {
        if url.scheme() == "blob" {
            return match Url::parse(url.path()) {
                Ok(inner) if matches!(inner.scheme(), "http" | "https") => Origin::from_url(&inner),
                _ => Origin::Opaque,
            };
        }
        if url.scheme() == "file" {
            return Origin::Opaque;
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => Host::Domain(d.to_owned()),
            Some(url::Host::Ipv4(a)) => Host::Ipv4(a),
            Some(url::Host::Ipv6(a)) => Host::Ipv6(a),
            _ => return Origin::Opaque,
        };
        let scheme = url.scheme();
        let port = url.port().filter(|p| Some(*p) != default_port(scheme));
        Origin::Tuple(TupleOrigin::new(scheme, host, port))
    }

    /// Parses any URL and returns its origin (paths and queries allowed).
    pub fn from_url_str(url: &str) -> Result<Origin, OriginError> {
        if url.is_empty() {
            return Err(OriginError::Empty);
        }
        let parsed = Url::parse(url).map_err(|e| {
            if matches!(e, url::ParseError::RelativeUrlWithoutBase) {
                OriginError::MissingScheme {
                    value: url.to_owned(),
                }
            } else {
                OriginError::Malformed {
                    value: url.to_owned(),
                    detail: e.to_string(),
                }
            }
        })?;
        Ok(Origin::from_url(&parsed))
    }

    /// The ASCII serialization, byte for byte what a browser sends in `Origin`.
    pub fn as_str(&self) -> &str {
        match self {
            Origin::Opaque => "null",
            Origin::Tuple(t) => &t.serialized,
        }
    }

    /// Whether this is an opaque origin.
    pub fn is_opaque(&self) -> bool {
        matches!(self, Origin::Opaque)
    }

    /// The tuple, if this is a tuple origin.
    pub fn tuple(&self) -> Option<&TupleOrigin> {
        match self {
            Origin::Opaque => None,
            Origin::Tuple(t) => Some(t),
        }
    }

    /// Same-origin comparison: two tuple origins are the same origin when scheme,
    /// host and port are identical. An opaque origin is only ever same-origin with
    /// itself, which a serialized `null` cannot tell, so it is never same-origin here.
    ///
    /// ```
    /// use corsgate_core::Origin;
    /// let a = Origin::from_url_str("http://localhost:3000/app").unwrap();
    /// let b = Origin::from_url_str("http://127.0.0.1:3000/").unwrap();
    /// assert!(!a.same_origin(&b)); // localhost and 127.0.0.1 are different origins
    /// ```
    pub fn same_origin(&self, other: &Origin) -> bool {
        match (self, other) {
            (Origin::Tuple(a), Origin::Tuple(b)) => a.serialized == b.serialized,
            _ => false,
        }
    }

    /// Same-site comparison (scheme and registrable domain), approximated without a
    /// public-suffix list: the last two labels of a domain, or the whole IP address.
    pub fn same_site(&self, other: &Origin) -> bool {
        match (self, other) {
            (Origin::Tuple(a), Origin::Tuple(b)) => {
                a.scheme() == b.scheme() && site_of(&a.host) == site_of(&b.host)
            }
            _ => false,
        }
    }

    /// Whether the host is loopback: `localhost` (and `*.localhost`), 127.0.0.0/8 or `[::1]`.
    pub fn is_loopback(&self) -> bool {
        match self.tuple().map(|t| &t.host) {
            Some(Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
            Some(Host::Ipv4(a)) => a.is_loopback(),
            Some(Host::Ipv6(a)) => a.is_loopback(),
            None => false,
        }
    }

    /// Whether the host is an IP address, and which.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.tuple().map(|t| &t.host) {
            Some(Host::Ipv4(a)) => Some(IpAddr::V4(*a)),
            Some(Host::Ipv6(a)) => Some(IpAddr::V6(*a)),
            _ => None,
        }
    }
}

fn site_of(host: &Host) -> String {
    match host {
        Host::Domain(d) => {
            let labels: Vec<&str> = d.rsplitn(3, '.').collect();
            if labels.len() >= 2 {
                format!("{}.{}", labels[1], labels[0])
            } else {
                d.clone()
            }
        }
        other => other.to_string(),
    }
}

impl TupleOrigin {
    fn new(scheme: &str, host: Host, port: Option<u16>) -> TupleOrigin {
        let serialized = match port {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        };
        TupleOrigin {
            serialized,
            scheme_len: scheme.len(),
            host,
            port,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Origin {
    type Err = OriginError;
    fn from_str(s: &str) -> Result<Origin, OriginError> {
        Origin::parse_header(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        Origin::parse_header(s).unwrap().as_str().to_owned()
    }

    #[test]
    fn serializes_like_browsers() {
        assert_eq!(ok("https://example.com"), "https://example.com");
        assert_eq!(ok("http://localhost:3000"), "http://localhost:3000");
        assert_eq!(ok("http://[::1]:8080"), "http://[::1]:8080");
        assert_eq!(ok("http://127.0.0.1"), "http://127.0.0.1");
        assert_eq!(ok("null"), "null");
        assert_eq!(
            Origin::from_url_str("HTTPS://Example.COM:443/x")
                .unwrap()
                .as_str(),
            "https://example.com"
        );
        assert_eq!(
            Origin::from_url_str("http://[0:0::1]:80/")
                .unwrap()
                .as_str(),
            "http://[::1]"
        );
        assert_eq!(
            Origin::from_url_str("https://bücher.de/").unwrap().as_str(),
            "https://xn--bcher-kva.de"
        );
        assert_eq!(
            Origin::from_url_str("file:///etc/passwd").unwrap(),
            Origin::Opaque
        );
        assert_eq!(
            Origin::from_url_str("data:text/plain,hi").unwrap(),
            Origin::Opaque
        );
        assert_eq!(
            Origin::from_url_str("blob:https://a.example/uuid")
                .unwrap()
                .as_str(),
            "https://a.example"
        );
    }

    #[test]
    fn rejects_what_is_not_an_origin() {
        use OriginError::*;
        type Case = (&'static str, fn(&OriginError) -> bool);
        let cases: Vec<Case> = vec![
            ("", |e| matches!(e, Empty)),
            ("https://a.example/", |e| matches!(e, TrailingSlash { .. })),
            ("https://a.example/app", |e| matches!(e, HasPath { .. })),
            ("https://a.example?x", |e| matches!(e, HasQuery { .. })),
            ("https://a.example#x", |e| matches!(e, HasFragment { .. })),
            ("https://u:p@a.example", |e| matches!(e, HasUserinfo { .. })),
            ("https://a.example:443", |e| {
                matches!(e, ExplicitDefaultPort { .. })
            }),
            ("HTTPS://A.example", |e| matches!(e, NotCanonical { .. })),
            ("http://[0::1]", |e| matches!(e, NotCanonical { .. })),
            ("a.example", |e| matches!(e, MissingScheme { .. })),
            ("https://a .example", |e| {
                matches!(e, InvalidByte { byte: b' ', .. })
            }),
            ("https://a.example\0", |e| {
                matches!(e, InvalidByte { byte: 0, .. })
            }),
            ("http://", |e| matches!(e, Malformed { .. })),
            ("Null", |e| matches!(e, MissingScheme { .. })),
        ];
        for (input, check) in cases {
            let err = Origin::parse_header(input).unwrap_err();
            assert!(check(&err), "{input:?} gave {err:?}");
            assert!(!err.to_string().is_empty());
        }
        let bytes: &[u8] = b"https://\xff.example";
        assert!(matches!(
            Origin::parse_header(bytes),
            Err(OriginError::InvalidByte {
                byte: 0xff,
                position: 8
            })
        ));
    }

    #[test]
    fn same_origin_is_exact() {
        let a = Origin::parse_header("https://a.example").unwrap();
        let b = Origin::from_url_str("https://a.example:443/path").unwrap();
        let c = Origin::parse_header("https://a.example:8443").unwrap();
        let d = Origin::parse_header("http://a.example").unwrap();
        assert!(a.same_origin(&b));
        assert!(!a.same_origin(&c));
        assert!(!a.same_origin(&d));
        assert!(!Origin::Opaque.same_origin(&Origin::Opaque));
        assert!(a.same_site(&Origin::parse_header("https://b.a.example").unwrap()));
    }

    #[test]
    fn loopback() {
        for s in [
            "http://localhost:1",
            "http://127.0.0.2",
            "http://[::1]",
            "http://x.localhost",
        ] {
            assert!(Origin::parse_header(s).unwrap().is_loopback(), "{s}");
        }
        assert!(!Origin::parse_header("http://10.0.0.1")
            .unwrap()
            .is_loopback());
    }
}
