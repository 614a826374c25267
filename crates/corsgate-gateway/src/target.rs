//! The request target as the gateway routes it and forwards it: the path
//! normalised once, before routing, and the `Host` checked as an authority.
//!
//! An upstream that normalises a path the gateway did not (nginx, most
//! frameworks) would otherwise serve another route's resource: routing on
//! `/healthz/..%2fapi/me` by prefix picks `/healthz`'s route and its
//! policy, the application resolves it to `/api/me`. So the path is put in
//! one canonical form, routed on, and that same form is what the upstream
//! receives; what has no single safe meaning is refused with 400.
//!
//! [`normalise`] does, in one pass over the segments:
//!
//! - percent-encoded *unreserved* characters (`A-Z a-z 0-9 - . _ ~`) are
//!   decoded (RFC 3986 §6.2.2.2); what stays encoded gets upper-case hex;
//!   bytes that may not appear raw in a path (`"`, `<`, `>`, `` ` ``, `{`,
//!   `}`, `|`, `^`, non-ASCII) are percent-encoded;
//! - dot segments are removed (RFC 3986 §5.2.4) *after* that decoding, so
//!   `%2e%2e` is `..` as browsers and Envoy take it; `..` above the root
//!   stays at the root (RFC 3986; nginx answers 400 instead);
//! - empty segments are dropped (`//` → `/`, as nginx's `merge_slashes` and
//!   Envoy's `merge_slashes` do), a trailing `/` kept.
//!
//! It refuses ([`Refusal`]) `%2F` and `%5C` (encoded separators: Envoy's
//! `REJECT_REQUEST`), a raw `\`, `%00` and raw control bytes, a `%` not
//! followed by two hex digits, double-encoded dots and separators
//! (`%252e`, `%252f`, `%255c`), and a dot segment carrying a path parameter
//! (`..;x`, `.;`, `..%3B`: Tomcat and other Java stacks take `..;x` for `..`),
//! and overlong UTF-8 encodings of ASCII characters (`%C0%AE`, `%C0%AF`,
//! `%E0%80%AE`: a dot or a slash to lenient decoders).
//! Other `;` parameters are kept; [`without_parameters`] gives the path as
//! those stacks match it, so that routing can refuse a `;` that would change
//! the route (`crate::routes::find_unambiguous`). Paths stay case-sensitive
//! (`/API` is not `/api`), but [`lenient_reading`] gives the path as a
//! case-insensitive, Windows-like application reads it (`/API./me` is
//! `/api/me` there), so that routing can refuse a path that such an
//! application would take for another route's; the query is not touched.
//!
//! [`authority`] checks a `Host` value (reg-name, IPv4 or `[IPv6]`, optional
//! port; no userinfo, path or spaces) and canonicalises it: lower case, one
//! trailing dot removed.
//!
//! A path that needs no change (the common case) is returned borrowed,
//! after one scan of its bytes.

use std::borrow::Cow;

/// Why a request target is refused with 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `%2F`: a `/` that is not a separator to the gateway but may be one
    /// to the upstream.
    EncodedSlash,
    /// `%5C`: likewise for `\`.
    EncodedBackslash,
    /// A raw `\`, a separator to some servers.
    Backslash,
    /// `%00`, which truncates paths in some servers.
    EncodedNul,
    /// A raw control byte (0x00–0x1F, 0x7F).
    ControlByte,
    /// `%` not followed by two hex digits.
    BadPercent,
    /// A dot segment with a path parameter (`..;x`, `.;x`, `..%3B`).
    DotSegmentParameter,
    /// Not a path starting with `/`.
    NotAbsolute,
    /// `%25` encoding `%2E`, `%2F` or `%5C` (`%252e`, `%252f`, `%255c`): a
    /// dot segment or separator to an application that decodes twice.
    DoubleEncoded,
    /// An overlong UTF-8 encoding of an ASCII character (`%C0%AE` for `.`,
    /// `%C0%AF` for `/`, `%E0%80%AE`): never valid UTF-8, and a dot or a
    /// separator to a lenient decoder (old IIS, some Java decoders).
    OverlongUtf8,
    /// `;` path parameters (`/api;x/me`) that would select another route
    /// once dropped, as Tomcat, Jetty and Spring drop them
    /// ([`crate::routes::find_unambiguous`]).
    ParameterChangesRoute,
    /// A path that a lenient application (case-insensitive, Windows'
    /// trailing dots and spaces) reads as another route's: `/API/me` or
    /// `/api./me` beside routes `/` and `/api/`
    /// ([`crate::routes::find_unambiguous`]).
    ReadingChangesRoute,
}

impl Refusal {
    /// A short reason, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::EncodedSlash => "encoded slash (%2F) in the path",
            Refusal::EncodedBackslash => "encoded backslash (%5C) in the path",
            Refusal::Backslash => "backslash in the path",
            Refusal::EncodedNul => "encoded NUL (%00) in the path",
            Refusal::ControlByte => "control byte in the path",
            Refusal::BadPercent => "malformed percent-encoding in the path",
            Refusal::DotSegmentParameter => "dot segment with a path parameter (..;)",
            Refusal::NotAbsolute => "the path does not start with /",
            Refusal::DoubleEncoded => "double-encoded dot, slash or backslash in the path",
            Refusal::OverlongUtf8 => "overlong UTF-8 encoding of an ASCII character in the path",
            Refusal::ParameterChangesRoute => "a ;parameter in the path hides another route",
            Refusal::ReadingChangesRoute => {
                "the path reads as another route's in another case or without trailing dots"
            }
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bytes that may stay as they are in a normalised path segment: RFC 3986
/// `pchar` without `%` (unreserved, sub-delims, `:`, `@`), plus `/`.
const fn is_plain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
        )
}

/// Byte classes for the fast path: 0 not plain ([`is_plain_byte`]), 1 `/`
/// or `.` (not allowed right after a `/`), 2 any other plain byte.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b == b'/' || b == b'.' {
            1
        } else if is_plain_byte(b) {
            2
        } else {
            0
        };
        i += 1;
    }
    t
};

fn is_plain(b: u8) -> bool {
    CLASS[usize::from(b)] != 0
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Whether `path` is already normalised, judged in one scan: plain bytes
/// only, no `//`, and no segment starting with `.` (a dot segment, or a
/// name like `.well-known` that the slow path confirms).
fn already_normal(path: &[u8]) -> bool {
    // The least class the next byte may have: 1 anywhere, 2 after a `/`.
    let mut least = 1;
    for &b in path {
        if CLASS[usize::from(b)] < least {
            return false;
        }
        least = 1 + u8::from(b == b'/');
    }
    true
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn push_encoded(out: &mut String, b: u8) {
    out.push('%');
    out.push(HEX[usize::from(b >> 4)] as char);
    out.push(HEX[usize::from(b & 15)] as char);
}

/// One segment in canonical form: unreserved decoded, other escapes with
/// upper-case hex, bytes not allowed raw encoded.
fn canonical_segment(seg: &[u8], out: &mut String) -> Result<(), Refusal> {
    let mut i = 0;
    while i < seg.len() {
        let b = seg[i];
        if b == b'%' {
            let (Some(hi), Some(lo)) = (
                seg.get(i + 1).copied().and_then(hex),
                seg.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(Refusal::BadPercent);
            };
            let d = hi << 4 | lo;
            if d == b'%' {
                let next = (
                    seg.get(i + 3).copied().and_then(hex),
                    seg.get(i + 4).copied().and_then(hex),
                );
                if matches!(next, (Some(2), Some(0xe | 0xf)) | (Some(5), Some(0xc))) {
                    return Err(Refusal::DoubleEncoded);
                }
            }
            if matches!(d, 0xc0 | 0xc1 | 0xe0 | 0xf0) {
                // The next escape's byte: a continuation byte after C0/C1,
                // 80 or 81 after E0, 80 after F0 make an overlong encoding
                // of an ASCII character.
                let next = match (seg.get(i + 3), seg.get(i + 4), seg.get(i + 5)) {
                    (Some(b'%'), Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| h << 4 | l),
                    _ => None,
                };
                if matches!(
                    (d, next),
                    (0xc0 | 0xc1, Some(0x80..=0xbf))
                        | (0xe0, Some(0x80 | 0x81))
                        | (0xf0, Some(0x80))
                ) {
                    return Err(Refusal::OverlongUtf8);
                }
            }
            match d {
                b'/' => return Err(Refusal::EncodedSlash),
                b'\\' => return Err(Refusal::EncodedBackslash),
                0 => return Err(Refusal::EncodedNul),
                _ if is_unreserved(d) => out.push(d as char),
                _ => push_encoded(out, d),
            }
            i += 3;
            continue;
        }
        match b {
            b'\\' => return Err(Refusal::Backslash),
            0..=0x1f | 0x7f => return Err(Refusal::ControlByte),
            _ if is_plain(b) => out.push(b as char),
            _ => push_encoded(out, b),
        }
        i += 1;
    }
    Ok(())
}

/// Whether a canonical segment is `.` or `..` followed by a path parameter
/// (`;` raw or encoded).
fn dot_with_parameter(seg: &str) -> bool {
    let rest = seg
        .strip_prefix("..")
        .or_else(|| seg.strip_prefix('.'))
        .unwrap_or(seg);
    rest.len() < seg.len() && (rest.starts_with(';') || rest.starts_with("%3B"))
}

/// The normalised form of a request path (see the module documentation):
/// borrowed when `path` is normal already.
pub fn normalise(path: &str) -> Result<Cow<'_, str>, Refusal> {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err(Refusal::NotAbsolute);
    }
    if already_normal(bytes) {
        return Ok(Cow::Borrowed(path));
    }
    rebuild(path)
}

/// The slow path of [`normalise`], out of line so that the fast path stays
/// a small function.
#[inline(never)]
fn rebuild(path: &str) -> Result<Cow<'_, str>, Refusal> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    // Segment start offsets in `out`, for `..` to pop.
    let mut starts: Vec<usize> = Vec::new();
    let mut segs = bytes[1..].split(|&b| b == b'/').peekable();
    let mut seg_buf = String::new();
    while let Some(raw) = segs.next() {
        let last = segs.peek().is_none();
        seg_buf.clear();
        canonical_segment(raw, &mut seg_buf)?;
        match seg_buf.as_str() {
            "" => {
                // `//` merged; a trailing `/` is written below.
            }
            "." => {}
            ".." => {
                if let Some(s) = starts.pop() {
                    out.truncate(s);
                }
            }
            s => {
                if dot_with_parameter(s) {
                    return Err(Refusal::DotSegmentParameter);
                }
                starts.push(out.len());
                out.push('/');
                out.push_str(s);
                continue;
            }
        }
        // A dot segment or an empty one at the end leaves a directory: `/`.
        if last {
            out.push('/');
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    if out == path {
        return Ok(Cow::Borrowed(path));
    }
    Ok(Cow::Owned(out))
}

/// A normalised path with each segment's `;` parameters dropped, as
/// Tomcat, Jetty and Spring drop them before matching (`/api;x/me` →
/// `/api/me`, `/;x/api` → `/api`); `None` when it holds no `;`.
pub(crate) fn without_parameters(path: &str) -> Option<String> {
    if !path.contains(';') {
        return None;
    }
    let mut out = String::with_capacity(path.len());
    let mut segs = path.split('/').skip(1).peekable();
    while let Some(seg) = segs.next() {
        let name = seg.split(';').next().unwrap_or("");
        if !name.is_empty() || segs.peek().is_none() {
            out.push('/');
            out.push_str(name);
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Some(out)
}

/// The percent-encoded non-ASCII letters that Java's `equalsIgnoreCase`,
/// .NET's `OrdinalIgnoreCase` and Unicode case folding take for an ASCII
/// letter: `İ` and `ı` for `i`, `ſ` for `s`, the Kelvin sign `K` for `k`.
const FOLDS_TO_ASCII: &[(&str, u8)] = &[
    ("%C4%B0", b'i'),
    ("%C4%B1", b'i'),
    ("%C5%BF", b's'),
    ("%E2%84%AA", b'k'),
];

/// Whether a normalised path may read as another one to a lenient
/// application: it holds `;`, an ASCII upper-case letter, `%` (a non-ASCII
/// letter that folds to an ASCII one, a `%20` at a segment's end), or a
/// segment ending in `.`. One scan, no allocation: false for most paths.
pub(crate) fn may_read_otherwise(path: &str) -> bool {
    let b = path.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c == b';'
            || c == b'%'
            || c.is_ascii_uppercase()
            || (c == b'.' && matches!(b.get(i + 1), None | Some(b'/')))
    })
}

/// A normalised path as the most lenient common application reads it: each
/// segment's `;` (or `%3B`) parameters dropped (Tomcat, Jetty, Spring), ASCII letters
/// lower-cased and the non-ASCII letters that fold to ASCII ones replaced by
/// them (case-insensitive routing: Express by default, IIS, ASP.NET, Spring
/// with `setCaseSensitive(false)`), trailing dots and spaces (`%20`) removed
/// from each segment (Windows file names: `/api./` is `/api/`), then empty
/// segments dropped. The routes' prefixes read the same way
/// ([`crate::routes::find_unambiguous`]) must choose the same route.
pub(crate) fn lenient_reading(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut segs = path.split('/').skip(1).peekable();
    while let Some(seg) = segs.next() {
        let name = seg.split(';').next().unwrap_or("");
        // `%3B` too: an application that decodes before it drops parameters.
        let name = match name.find("%3B").or_else(|| name.find("%3b")) {
            Some(i) => &name[..i],
            None => name,
        };
        let mut folded = String::with_capacity(name.len());
        let mut rest = name;
        while let Some(c) = rest.chars().next() {
            if let Some((enc, ascii)) = FOLDS_TO_ASCII.iter().find(|(e, _)| {
                rest.get(..e.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(e))
            }) {
                folded.push(char::from(*ascii));
                rest = &rest[enc.len()..];
                continue;
            }
            folded.push(c.to_ascii_lowercase());
            rest = &rest[c.len_utf8()..];
        }
        let mut name = folded.as_str();
        loop {
            let trimmed = name
                .strip_suffix('.')
                .or_else(|| name.strip_suffix(' '))
                .or_else(|| name.strip_suffix("%20"));
            match trimmed {
                Some(t) => name = t,
                None => break,
            }
        }
        if !name.is_empty() || segs.peek().is_none() {
            out.push('/');
            out.push_str(name);
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Why a `Host` (or `:authority`) is refused with 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostRefusal {
    /// Empty (where HTTP/1.1 needs one), or empty host before the port.
    Empty,
    /// Not a reg-name, IPv4 or bracketed IPv6 (a `/`, `@`, space, …).
    BadHost,
    /// A port that is not 1 to 5 digits up to 65535.
    BadPort,
    /// Longer than 255 bytes.
    TooLong,
}

impl HostRefusal {
    /// A short reason, for logs.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            HostRefusal::Empty => "empty Host",
            HostRefusal::BadHost => "Host is not a host name or IP address",
            HostRefusal::BadPort => "bad port in Host",
            HostRefusal::TooLong => "Host too long",
        }
    }
}

/// A validated `Host` value: host lower-cased, a trailing dot removed, the
/// port as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authority<'a> {
    /// The value as given.
    raw: &'a [u8],
    /// The canonical value, when it differs from `raw`.
    canonical: Option<String>,
    /// The length of the host part in the canonical value (with brackets
    /// for IPv6).
    host_len: usize,
}

impl<'a> Authority<'a> {
    #[cfg(test)]
    /// The canonical `host[:port]`.
    pub(crate) fn value(&self) -> Cow<'_, str> {
        match &self.canonical {
            Some(c) => Cow::Borrowed(c),
            // Checked to be ASCII.
            None => String::from_utf8_lossy(self.raw),
        }
    }

    /// The canonical value when it differs from the value given (`None`:
    /// the value given is canonical).
    pub(crate) fn into_canonical(self) -> Option<String> {
        self.canonical
    }

    /// The host name as routes name it: lower case, no port, no brackets.
    pub(crate) fn host(&self) -> &str {
        let v = self.canonical.as_deref().map_or(self.raw, str::as_bytes);
        let h = v.get(..self.host_len).unwrap_or_default();
        let h = h
            .strip_prefix(b"[")
            .and_then(|h| h.strip_suffix(b"]"))
            .unwrap_or(h);
        std::str::from_utf8(h).unwrap_or_default()
    }
}

/// Checks a `Host` value or URI authority (RFC 3986 `host [":" port]`, no
/// userinfo) and gives its canonical form. A reg-name may hold letters,
/// digits, `-`, `_` and dots between non-empty labels, with one trailing
/// dot (removed: `admin.example.com.` is `admin.example.com`).
pub(crate) fn authority(value: &[u8]) -> Result<Authority<'_>, HostRefusal> {
    if value.is_empty() {
        return Err(HostRefusal::Empty);
    }
    if value.len() > 255 {
        return Err(HostRefusal::TooLong);
    }
    let (host, port) = if value[0] == b'[' {
        let end = value
            .iter()
            .position(|&b| b == b']')
            .ok_or(HostRefusal::BadHost)?;
        let inner = std::str::from_utf8(&value[1..end]).map_err(|_| HostRefusal::BadHost)?;
        if inner.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(HostRefusal::BadHost);
        }
        (&value[..=end], &value[end + 1..])
    } else {
        match value.iter().position(|&b| b == b':') {
            Some(i) => (&value[..i], &value[i..]),
            None => (value, &value[value.len()..]),
        }
    };
    if !port.is_empty() {
        let digits = &port[1..];
        if port[0] != b':'
            || digits.is_empty()
            || digits.len() > 5
            || !digits.iter().all(u8::is_ascii_digit)
            || digits
                .iter()
                .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
                > 65535
        {
            return Err(HostRefusal::BadPort);
        }
    }
    if host.is_empty() {
        return Err(HostRefusal::Empty);
    }
    let mut host_len = host.len();
    let mut needs_change = false;
    if host[0] != b'[' {
        let name = host.strip_suffix(b".").unwrap_or(host);
        if name.len() != host.len() {
            needs_change = true;
            host_len -= 1;
        }
        // Labels of letters, digits, `-` and `_`, none empty.
        let mut label_start = true;
        for &b in name {
            match b {
                b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => label_start = false,
                b'A'..=b'Z' => {
                    needs_change = true;
                    label_start = false;
                }
                b'.' if !label_start => label_start = true,
                _ => return Err(HostRefusal::BadHost),
            }
        }
        if label_start {
            return Err(HostRefusal::BadHost);
        }
    } else if host.iter().any(u8::is_ascii_uppercase) {
        needs_change = true;
    }
    let canonical = needs_change.then(|| {
        // Only ASCII got this far.
        let mut c: Vec<u8> = value[..host_len].to_ascii_lowercase();
        c.extend_from_slice(&value[host.len()..]);
        String::from_utf8_lossy(&c).into_owned()
    });
    Ok(Authority {
        raw: value,
        canonical,
        host_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(p: &str) -> Result<String, Refusal> {
        normalise(p).map(Cow::into_owned)
    }

    #[test]
    fn table() {
        use Refusal::*;
        let ok: &[(&str, &str)] = &[
            ("/", "/"),
            ("/api/me", "/api/me"),
            ("/api/", "/api/"),
            ("/API/me", "/API/me"),
            ("/%61pi/me", "/api/me"),
            ("/%41PI", "/API"),
            ("/a%7eb", "/a~b"),
            ("/a%7Eb", "/a~b"),
            ("/a%3ab", "/a%3Ab"),
            ("/a%3Ab", "/a%3Ab"),
            ("/a%20b", "/a%20b"),
            ("/a b", "/a%20b"),
            ("/a\"b", "/a%22b"),
            ("/caf\u{e9}", "/caf%C3%A9"),
            ("/healthz/../api/me", "/api/me"),
            ("/healthz/%2e%2e/api/me", "/api/me"),
            ("/healthz/%2E%2E/api/me", "/api/me"),
            ("/healthz/.%2e/api/me", "/api/me"),
            ("/./api/./me", "/api/me"),
            ("/api/.", "/api/"),
            ("/api/..", "/"),
            ("/api/%2e", "/api/"),
            ("/..", "/"),
            ("/../../admin", "/admin"),
            ("/public/../admin", "/admin"),
            ("//api//me", "/api/me"),
            ("/api///", "/api/"),
            ("///", "/"),
            ("/.well-known/x", "/.well-known/x"),
            ("/...", "/..."),
            ("/..a", "/..a"),
            ("/a..", "/a.."),
            ("/a;b=c", "/a;b=c"),
            ("/a/b;c/../d", "/a/d"),
            ("/a%2525", "/a%2525"),
            ("/a%2541", "/a%2541"),
            ("/caf%c3%a9", "/caf%C3%A9"),
            ("/%c0", "/%C0"),
            ("/%e0%a4%85", "/%E0%A4%85"),
            ("/%f0%9f%98%80", "/%F0%9F%98%80"),
            (
                "/%ef%bc%8e%ef%bc%8e%ef%bc%8f",
                "/%EF%BC%8E%EF%BC%8E%EF%BC%8F",
            ),
        ];
        for (input, want) in ok {
            assert_eq!(n(input).as_deref(), Ok(*want), "{input}");
        }
        let refused: &[(&str, Refusal)] = &[
            ("/healthz/..%2fapi/me", EncodedSlash),
            ("/healthz/..%2Fapi/me", EncodedSlash),
            ("/a%2fb", EncodedSlash),
            ("/a%5cb", EncodedBackslash),
            ("/a%5Cb", EncodedBackslash),
            ("/a\\b", Backslash),
            ("/healthz/..\\api", Backslash),
            ("/a%00b", EncodedNul),
            ("/a\0b", ControlByte),
            ("/a\tb", ControlByte),
            ("/a\x7fb", ControlByte),
            ("/a%", BadPercent),
            ("/a%2", BadPercent),
            ("/a%zz", BadPercent),
            ("/healthz/..;/api/me", DotSegmentParameter),
            ("/healthz/..;x=1/api", DotSegmentParameter),
            ("/.;/api", DotSegmentParameter),
            ("/a/..%3b/b", DotSegmentParameter),
            ("/a/%2e%2e;/b", DotSegmentParameter),
            ("", NotAbsolute),
            ("api", NotAbsolute),
            ("/healthz/%252e%252e/api", DoubleEncoded),
            ("/healthz/..%252fapi", DoubleEncoded),
            ("/healthz/..%255Capi", DoubleEncoded),
            ("/a%252E", DoubleEncoded),
            ("/healthz/%c0%ae%c0%ae/api", OverlongUtf8),
            ("/healthz/%C0%AE%C0%AE/api", OverlongUtf8),
            ("/healthz/..%c0%afapi", OverlongUtf8),
            ("/healthz/..%c1%9capi", OverlongUtf8),
            ("/healthz/%e0%80%ae%e0%80%ae/api", OverlongUtf8),
            ("/healthz/%f0%80%80%ae", OverlongUtf8),
        ];
        for (input, want) in refused {
            assert_eq!(n(input), Err(*want), "{input:?}");
        }
    }

    #[test]
    fn parameters() {
        for (p, want) in [
            ("/api/me", None),
            ("/api;x/me", Some("/api/me")),
            ("/api/me;jsessionid=1", Some("/api/me")),
            ("/;x/api", Some("/api")),
            ("/api/;x", Some("/api/")),
            ("/;x", Some("/")),
            ("/a;b/c;d/", Some("/a/c/")),
        ] {
            assert_eq!(without_parameters(p).as_deref(), want, "{p}");
        }
    }

    #[test]
    fn lenient_readings() {
        for (p, want) in [
            ("/api/me", "/api/me"),
            ("/API/Me", "/api/me"),
            ("/api./me", "/api/me"),
            ("/api.../me", "/api/me"),
            ("/api%20/me", "/api/me"),
            ("/api.%20./me", "/api/me"),
            ("/ap%C4%B1/me", "/api/me"),
            ("/ap%c4%b0/me", "/api/me"),
            ("/%C5%BFecret", "/secret"),
            ("/%E2%84%AAeys", "/keys"),
            ("/api;x/me", "/api/me"),
            ("/api%3Bx/me", "/api/me"),
            ("/API;x./ME", "/api/me"),
            ("/.../api", "/api"),
            ("/api/", "/api/"),
            ("/", "/"),
            ("/caf%C3%A9", "/caf%c3%a9"),
        ] {
            assert_eq!(lenient_reading(p), want, "{p}");
        }
        for (p, may) in [
            ("/api/me", false),
            ("/api/v1.2/x.json", false),
            ("/api/x.", true),
            ("/api./x", true),
            ("/Api", true),
            ("/a;b", true),
            ("/a%20", true),
        ] {
            assert_eq!(may_read_otherwise(p), may, "{p}");
            if !may {
                assert_eq!(lenient_reading(p), p, "{p}");
            }
        }
    }

    #[test]
    fn unchanged_paths_are_borrowed() {
        for p in ["/", "/api/me", "/a;b", "/.well-known/x", "/a.b/c."] {
            assert!(matches!(normalise(p), Ok(Cow::Borrowed(_))), "{p}");
        }
    }

    #[test]
    fn hosts() {
        let ok: &[(&[u8], &str, &str)] = &[
            (b"example.com", "example.com", "example.com"),
            (
                b"Admin.Example.COM",
                "admin.example.com",
                "admin.example.com",
            ),
            (
                b"admin.example.com.",
                "admin.example.com",
                "admin.example.com",
            ),
            (
                b"admin.example.com.:8080",
                "admin.example.com:8080",
                "admin.example.com",
            ),
            (
                b"API.example.com:8080",
                "api.example.com:8080",
                "api.example.com",
            ),
            (b"127.0.0.1:80", "127.0.0.1:80", "127.0.0.1"),
            (b"[::1]:80", "[::1]:80", "::1"),
            (b"[::FFFF:1.2.3.4]", "[::ffff:1.2.3.4]", "::ffff:1.2.3.4"),
            (b"a_b-c.d", "a_b-c.d", "a_b-c.d"),
        ];
        for (input, value, host) in ok {
            let a = authority(input).unwrap();
            assert_eq!(a.value(), *value);
            assert_eq!(a.host(), *host);
        }
        let bad: &[&[u8]] = &[
            b"",
            b".",
            b":80",
            b"admin.example.com/x",
            b"admin.example.com /x",
            b"admin example.com",
            b"user@admin.example.com",
            b"admin.example.com@evil",
            b"admin.example.com:",
            b"admin.example.com:80x",
            b"admin.example.com:99999",
            b"admin.example.com:123456",
            b"admin.example.com:-1",
            b"admin.example.com:80:80",
            b"admin..example.com",
            b".admin.example.com",
            b"admin.example.com..",
            b"[::1",
            b"[::1]x",
            b"[::1]:",
            b"[zz]",
            b"[v1.x]",
            b"adm%69n.example.com",
            b"admin.example.com\0",
            b"admin.example.com\\x",
            b"admin.example.com?x",
            b"admin.example.com#x",
            "\u{e9}.example.com".as_bytes(),
        ];
        for input in bad {
            assert!(
                authority(input).is_err(),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(authority(&[b'a'; 256]), Err(HostRefusal::TooLong));
    }

    fn interesting() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("/".to_owned()),
            Just(".".to_owned()),
            Just("..".to_owned()),
            Just("%2e".to_owned()),
            Just("%2E".to_owned()),
            Just("%2f".to_owned()),
            Just("%5c".to_owned()),
            Just("%61".to_owned()),
            Just("%3b".to_owned()),
            Just("%3A".to_owned()),
            Just("%7e".to_owned()),
            Just("%".to_owned()),
            Just(";".to_owned()),
            Just("\\".to_owned()),
            Just("a".to_owned()),
            Just("api".to_owned()),
            Just("~".to_owned()),
            Just(" ".to_owned()),
            Just("\u{e9}".to_owned()),
            "[ -~]{0,3}",
        ];
        proptest::collection::vec(piece, 0..16).prop_map(|v| format!("/{}", v.concat()))
    }

    fn check_normal(out: &str) {
        assert!(out.starts_with('/'));
        assert!(!out.contains("//"), "{out}");
        assert!(!out.contains("/./") && !out.ends_with("/."), "{out}");
        assert!(!out.contains("/../") && !out.ends_with("/.."), "{out}");
        assert!(!out.contains('\\'), "{out}");
        let b = out.as_bytes();
        for (i, &c) in b.iter().enumerate() {
            assert!(is_plain(c) || c == b'%', "{out}");
            if c == b'%' {
                let d = hex(b[i + 1]).unwrap() << 4 | hex(b[i + 2]).unwrap();
                assert!(!is_unreserved(d), "{out}");
                assert!(!b[i + 1..i + 3].iter().any(u8::is_ascii_lowercase), "{out}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn normal_form_is_normal_and_idempotent(p in interesting()) {
            if let Ok(once) = normalise(&p) {
                check_normal(&once);
                let twice = normalise(&once).expect("a normal path is accepted");
                prop_assert_eq!(&*twice, &*once);
                prop_assert!(matches!(twice, Cow::Borrowed(_)));
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(p in "\\PC{0,40}", raw in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = normalise(&p);
            let _ = normalise(&format!("/{p}"));
            let _ = lenient_reading(&p);
            let _ = may_read_otherwise(&p);
            let _ = authority(p.as_bytes());
            let _ = authority(&raw);
            let s = String::from_utf8_lossy(&raw);
            if let Ok(once) = normalise(&format!("/{s}")) {
                check_normal(&once);
                // What reads as itself needs no second look.
                if !may_read_otherwise(&once) {
                    prop_assert_eq!(lenient_reading(&once), once.to_string());
                }
                prop_assert_eq!(&*normalise(&once).unwrap(), &*once);
            }
        }

        #[test]
        fn authorities_are_canonical(h in "[a-zA-Z0-9._:\\[\\]-]{0,20}") {
            if let Ok(a) = authority(h.as_bytes()) {
                let value = a.value();
                let again = authority(value.as_bytes()).expect("canonical is valid");
                prop_assert_eq!(again.value(), value.clone());
                prop_assert!(again.into_canonical().is_none());
                prop_assert!(!a.host().ends_with('.'));
                prop_assert_eq!(a.host().to_ascii_lowercase(), a.host());
            }
        }
    }
}
