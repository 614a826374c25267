//! The CORS-safelisted request and response headers, the forbidden headers,
//! and the CORS-unsafe request-header names a preflight announces.
//!
//! A request header is "safelisted" when a browser may send it cross-origin
//! without asking first. [`check_request_header`] says not only whether a
//! header is safelisted but *why not*, so that an explanation can tell a user
//! that `Content-Type: application/json` is what triggered the preflight.

use std::fmt;

use serde::Serialize;

use crate::browser::init::HeadersForm;
use crate::browser::profile::Profile;
use crate::headers::HeaderList;

/// Why a request header is not CORS-safelisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UnsafeReason {
    /// The name is not one of Accept, Accept-Language, Content-Language, Content-Type, Range.
    NotSafelistedName,
    /// The value is longer than 128 bytes.
    ValueTooLong {
        /// Its length.
        len: usize,
    },
    /// The value holds a byte that is not allowed for this header.
    UnsafeByte {
        /// The byte.
        byte: u8,
    },
    /// `Content-Type` is not one of the three types a form can send.
    ContentTypeNotSafelisted {
        /// The type and subtype, lower case.
        essence: String,
    },
    /// `Content-Type` is not a valid MIME type.
    ContentTypeUnparsable,
    /// `Range` is not a single `bytes=N-` or `bytes=N-M` range.
    RangeNotSimple,
    /// A client hint Chromium safelists, with a value of the wrong shape
    /// (`Save-Data` must be `on`; `DPR`, `Device-Memory`, `Downlink` a
    /// decimal number; `Width`, `Viewport-Width`, `RTT` digits; `ECT` one of
    /// `slow-2g`, `2g`, `3g`, `4g`).
    ClientHintValue,
    /// The safelisted headers' values add up to more than 1024 bytes.
    TotalTooLarge {
        /// Their total length.
        total: usize,
    },
}

impl fmt::Display for UnsafeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnsafeReason::NotSafelistedName => f.write_str(
                "only Accept, Accept-Language, Content-Language, Content-Type and Range can be sent without a preflight",
            ),
            UnsafeReason::ValueTooLong { len } => {
                write!(f, "its value is {len} bytes long; safelisted values are at most 128 bytes")
            }
            UnsafeReason::UnsafeByte { byte } => {
                write!(f, "its value contains the byte 0x{byte:02X}, which is not allowed without a preflight")
            }
            UnsafeReason::ContentTypeNotSafelisted { essence } => write!(
                f,
                "'{essence}' is not one of text/plain, multipart/form-data and application/x-www-form-urlencoded"
            ),
            UnsafeReason::ContentTypeUnparsable => f.write_str("its value is not a valid MIME type"),
            UnsafeReason::RangeNotSimple => f.write_str(
                "only a single range of the form bytes=START- or bytes=START-END is safelisted",
            ),
            UnsafeReason::ClientHintValue => f.write_str(
                "Chromium safelists this client hint only with a value of the expected shape (Save-Data: on; DPR, Device-Memory and Downlink: a number; Width, Viewport-Width and RTT: digits; ECT: slow-2g, 2g, 3g or 4g)",
            ),
            UnsafeReason::TotalTooLarge { total } => write!(
                f,
                "the safelisted headers' values add up to {total} bytes; more than 1024 makes all of them need a preflight"
            ),
        }
    }
}

/// The Fetch standard's *CORS-safelisted request-header* test, with the reason
/// when it fails.
///
/// ```
/// use corsgate_core::{Profile, safelist::{check_request_header, UnsafeReason}};
/// assert!(check_request_header("Content-Type", b"text/plain; charset=utf-8", Profile::Chromium).is_ok());
/// assert_eq!(
///     check_request_header("Content-Type", b"application/json", Profile::Chromium),
///     Err(UnsafeReason::ContentTypeNotSafelisted { essence: "application/json".into() })
/// );
/// assert!(check_request_header("Range", b"bytes=100-200", Profile::Standard).is_ok());
/// ```
pub fn check_request_header(
    name: &str,
    value: &[u8],
    profile: Profile,
) -> Result<(), UnsafeReason> {
    let lower = name.to_ascii_lowercase();
    if profile.safelists_client_hints() {
        if let Some(shape_ok) = client_hint_value_ok(&lower, value) {
            if value.len() > 128 {
                return Err(UnsafeReason::ValueTooLong { len: value.len() });
            }
            return if shape_ok {
                Ok(())
            } else {
                Err(UnsafeReason::ClientHintValue)
            };
        }
    }
    let known = matches!(
        lower.as_str(),
        "accept" | "accept-language" | "content-language" | "content-type"
    ) || (lower == "range" && profile.range_is_safelisted());
    if !known {
        return Err(UnsafeReason::NotSafelistedName);
    }
    if value.len() > 128 {
        return Err(UnsafeReason::ValueTooLong { len: value.len() });
    }
    match lower.as_str() {
        "accept" => {
            first_unsafe_byte(value).map_or(Ok(()), |byte| Err(UnsafeReason::UnsafeByte { byte }))
        }
        "accept-language" | "content-language" => value
            .iter()
            .find(|b| !(b.is_ascii_alphanumeric() || b" *,-.;=".contains(b)))
            .map_or(Ok(()), |byte| Err(UnsafeReason::UnsafeByte { byte: *byte })),
        "content-type" => {
            if let Some(byte) = first_unsafe_byte(value) {
                return Err(UnsafeReason::UnsafeByte { byte });
            }
            if profile.content_type_rejects_comma() && value.contains(&b',') {
                return Err(UnsafeReason::ContentTypeUnparsable);
            }
            let essence = mime_essence(value).ok_or(UnsafeReason::ContentTypeUnparsable)?;
            match essence.as_str() {
                "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain" => {
                    Ok(())
                }
                _ => Err(UnsafeReason::ContentTypeNotSafelisted { essence }),
            }
        }
        "range" => match parse_single_range(value) {
            Some(ByteRange { start: Some(_), .. }) => Ok(()),
            _ => Err(UnsafeReason::RangeNotSimple),
        },
        _ => Err(UnsafeReason::NotSafelistedName),
    }
}

/// Chromium's extra safelisted client hints (`cors.cc`): `None` when `lower`
/// is not one of them, else whether the value has the expected shape.
fn client_hint_value_ok(lower: &str, value: &[u8]) -> Option<bool> {
    let digits = |v: &[u8]| !v.is_empty() && v.iter().all(u8::is_ascii_digit);
    Some(match lower {
        "save-data" => value.eq_ignore_ascii_case(b"on"),
        "width" | "viewport-width" | "rtt" => digits(value),
        // 1*DIGIT [ "." 1*DIGIT ]
        "dpr" | "device-memory" | "downlink" => match value.iter().position(|b| *b == b'.') {
            Some(dot) => digits(&value[..dot]) && digits(&value[dot + 1..]),
            None => digits(value),
        },
        // Case-sensitive: `4G` is not safelisted.
        "ect" => matches!(value, b"slow-2g" | b"2g" | b"3g" | b"4g"),
        // Any value (up to 128 bytes), even one with `(`.
        "intervention" => true,
        _ => return None,
    })
}

/// A CORS-unsafe request-header byte: controls other than tab, DEL, and
/// `"():<>?@[\]{}`.
pub(crate) fn is_unsafe_byte(b: u8) -> bool {
    (b < 0x20 && b != 0x09) || b == 0x7f || b"\"():<>?@[\\]{}".contains(&b)
}

fn first_unsafe_byte(v: &[u8]) -> Option<u8> {
    v.iter().copied().find(|b| is_unsafe_byte(*b))
}

/// The essence (`type/subtype`, lower case) of a MIME type, by the MIME
/// Sniffing standard's *parse a MIME type*; `None` when it does not parse.
pub fn mime_essence(value: &[u8]) -> Option<String> {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let start = value.iter().position(|b| !is_ws(b))?;
    let end = value.iter().rposition(|b| !is_ws(b))? + 1;
    let v = &value[start..end];
    let slash = v.iter().position(|b| *b == b'/')?;
    let ty = &v[..slash];
    let rest = &v[slash + 1..];
    let sub_end = rest.iter().position(|b| *b == b';').unwrap_or(rest.len());
    let mut sub = &rest[..sub_end];
    while let Some((last, init)) = sub.split_last() {
        if is_ws(last) {
            sub = init;
        } else {
            break;
        }
    }
    if !crate::headers::is_token(ty) || !crate::headers::is_token(sub) {
        return None;
    }
    let mut essence = String::with_capacity(ty.len() + sub.len() + 1);
    essence.push_str(&String::from_utf8_lossy(ty).to_ascii_lowercase());
    essence.push('/');
    essence.push_str(&String::from_utf8_lossy(sub).to_ascii_lowercase());
    Some(essence)
}

/// A parsed single byte range: the decimal digits of its start and end, either
/// of which may be absent (but not both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange<'a> {
    /// The first byte's position, as written.
    pub start: Option<&'a [u8]>,
    /// The last byte's position, as written.
    pub end: Option<&'a [u8]>,
}

/// The Fetch standard's *parse a single range header value* without
/// whitespace: `bytes=START-END` where either part may be empty but not both.
/// Numbers of any length are compared exactly.
pub fn parse_single_range(value: &[u8]) -> Option<ByteRange<'_>> {
    let eq = value.iter().position(|b| *b == b'=')?;
    if !value[..eq].eq_ignore_ascii_case(b"bytes") {
        return None;
    }
    let rest = &value[eq + 1..];
    let start_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (start, rest) = rest.split_at(start_len);
    let rest = rest.strip_prefix(b"-")?;
    let end_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (end, tail) = rest.split_at(end_len);
    if !tail.is_empty() {
        return None;
    }
    let start = (!start.is_empty()).then_some(start);
    let end = (!end.is_empty()).then_some(end);
    match (start, end) {
        (None, None) => None,
        (Some(s), Some(e)) if cmp_decimal(s, e) == std::cmp::Ordering::Greater => None,
        (start, end) => Some(ByteRange { start, end }),
    }
}

fn cmp_decimal(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let strip = |x: &[u8]| -> Vec<u8> {
        let i = x.iter().position(|d| *d != b'0').unwrap_or(x.len());
        x[i..].to_vec()
    };
    let (a, b) = (strip(a), strip(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(&b))
}

/// One request header that will be announced in a preflight, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnsafeHeader {
    /// The name, lower case.
    pub name: String,
    /// Why it is not safelisted.
    pub reason: UnsafeReason,
}

/// The Fetch standard's *CORS-unsafe request-header names*: lower-cased,
/// deduplicated and sorted, exactly as a browser lists them in
/// `Access-Control-Request-Headers`; each with the reason it is unsafe.
///
/// ```
/// use corsgate_core::{HeaderList, Profile, safelist::unsafe_request_header_names};
/// let h = HeaderList::new()
///     .with("X-B", "1")
///     .with("Content-Type", "application/json")
///     .with("x-b", "2")
///     .with("Accept", "*/*");
/// let names: Vec<String> = unsafe_request_header_names(&h, Profile::Chromium)
///     .into_iter().map(|u| u.name).collect();
/// assert_eq!(names, ["content-type", "x-b"]);
/// ```
pub fn unsafe_request_header_names(headers: &HeaderList, profile: Profile) -> Vec<UnsafeHeader> {
    unsafe_request_header_names_in(headers, profile, HeadersForm::Headers)
}

/// [`unsafe_request_header_names`] for a request whose headers script
/// passed in `form`: a profile that [`Profile::judges_header_lines`] in that
/// form judges (and announces) each line apart.
///
/// ```
/// use corsgate_core::{HeaderList, HeadersForm, Profile, safelist::unsafe_request_header_names_in};
/// let h = HeaderList::new().with("Range", "bytes=0-1").with("Range", "bytes=2-3");
/// let names = |p, f| -> Vec<String> {
///     unsafe_request_header_names_in(&h, p, f).into_iter().map(|u| u.name).collect()
/// };
/// assert_eq!(names(Profile::Chromium, HeadersForm::Pairs), ["range"]);
/// assert!(names(Profile::Firefox, HeadersForm::Pairs).is_empty());
/// ```
pub fn unsafe_request_header_names_in(
    headers: &HeaderList,
    profile: Profile,
    form: HeadersForm,
) -> Vec<UnsafeHeader> {
    let mut unsafe_names: Vec<UnsafeHeader> = Vec::new();
    let mut potentially: Vec<String> = Vec::new();
    let mut total = 0usize;
    let combined;
    let per_line = profile.judges_header_lines(form);
    let headers = if profile.combines_request_headers() && !per_line {
        combined = combine(headers);
        &combined
    } else {
        headers
    };
    for (name, value) in headers.iter() {
        match check_request_header(name, value, profile) {
            Ok(()) => {
                let lower = name.to_ascii_lowercase();
                if profile.total_limit_covers(&lower) {
                    potentially.push(lower);
                    total += value.len();
                }
            }
            Err(reason) => unsafe_names.push(UnsafeHeader {
                name: name.to_ascii_lowercase(),
                reason,
            }),
        }
    }
    if total > 1024 {
        unsafe_names.extend(potentially.into_iter().map(|name| UnsafeHeader {
            name,
            reason: UnsafeReason::TotalTooLarge { total },
        }));
    }
    unsafe_names.sort_by(|a, b| a.name.cmp(&b.name));
    if !per_line {
        unsafe_names.dedup_by(|a, b| a.name == b.name);
    }
    unsafe_names
}

/// The Fetch standard's *no-CORS-safelisted request-header*: `Accept`,
/// `Accept-Language`, `Content-Language` or `Content-Type` with a
/// CORS-safelisted value. `fetch()` in `no-cors` mode drops any other.
pub(crate) fn is_no_cors_safelisted_request_header(name: &str, value: &[u8]) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "accept" | "accept-language" | "content-language" | "content-type"
    ) && check_request_header(name, value, Profile::Standard).is_ok()
}

/// One line per name, in first-seen order, the values joined by `", "`.
fn combine(headers: &HeaderList) -> HeaderList {
    let mut out = HeaderList::new();
    for name in headers.unique_names() {
        let value = headers.get(&name).map(|v| v.into_owned());
        if let Some(v) = value {
            out.append(name, v);
        }
    }
    out
}

/// The names, joined with `,` and no space, as a browser writes
/// `Access-Control-Request-Headers`.
pub fn request_headers_value(unsafe_names: &[UnsafeHeader]) -> String {
    let mut out = String::new();
    for (i, u) in unsafe_names.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&u.name);
    }
    out
}

/// Request headers script cannot set: the browser silently drops them.
pub fn is_forbidden_request_header(name: &str, value: &[u8]) -> bool {
    const FORBIDDEN: [&str; 21] = [
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
    ];
    let lower = name.to_ascii_lowercase();
    if FORBIDDEN.contains(&lower.as_str())
        || lower.starts_with("proxy-")
        || lower.starts_with("sec-")
        || lower == "access-control-request-private-network"
    {
        return true;
    }
    if matches!(
        lower.as_str(),
        "x-http-method" | "x-http-method-override" | "x-method-override"
    ) {
        return value
            .split(|b| *b == b',')
            .map(crate::headers::trim_ows)
            .any(|m| crate::method::is_forbidden(&String::from_utf8_lossy(m)));
    }
    false
}

/// Request headers a browser adds by itself (`User-Agent`, `Sec-*`,
/// `Priority`, conditional and cache headers of its own…): seen on the wire
/// but not set by script, so they are never what a policy must allow. Used
/// where traffic is read without knowing what script set (a HAR recording,
/// the gateway's decision log).
pub fn is_browser_added_request_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("sec-")
        || n.starts_with(':')
        || matches!(
            n.as_str(),
            "user-agent"
                | "priority"
                | "pragma"
                | "cache-control"
                | "dnt"
                | "upgrade-insecure-requests"
                | "if-none-match"
                | "if-modified-since"
                | "x-client-data"
        )
}

/// Response headers script can read from any CORS response.
pub(crate) const SAFELISTED_RESPONSE_HEADERS: [&str; 7] = [
    "cache-control",
    "content-language",
    "content-length",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
];

/// Whether script can read this response header without it being exposed.
pub fn is_safelisted_response_header(name: &str) -> bool {
    SAFELISTED_RESPONSE_HEADERS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(name))
}

/// `Set-Cookie` and `Set-Cookie2`: never readable by script.
pub fn is_forbidden_response_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("set-cookie") || name.eq_ignore_ascii_case("set-cookie2")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safe(name: &str, value: &[u8]) -> bool {
        check_request_header(name, value, Profile::Standard).is_ok()
    }

    /// web-platform-tests `cors/cors-safelisted-request-header.any.js`.
    #[test]
    fn wpt_content_type() {
        for v in [
            "text /plain",
            "text\t/\tplain",
            "text/plain;garbage\u{1}\u{2}",
            "text/plain,",
            ",text/plain",
            "text/plain,text/plain",
            "text/plain,x/x",
            "text/plain\u{b}",
            "text/plain\u{c}",
            "application/www-form-urlencoded",
            "application/x-www-form-urlencoded;\u{7f}",
            "multipart/form-data;\"",
        ] {
            assert!(
                !safe("content-type", v.as_bytes()),
                "{v:?} should need a preflight"
            );
        }
        for v in [
            "text/plain;",
            "text/plain;garbage",
            "multipart/form-data",
            "TEXT/Plain",
        ] {
            assert!(
                safe("content-type", v.as_bytes()),
                "{v:?} should be safelisted"
            );
        }
    }

    #[test]
    fn wpt_range() {
        for v in ["bytes=100-200", "bytes=200-"] {
            assert!(safe("range", v.as_bytes()), "{v}");
        }
        let zeros = format!("bytes=1{}-2{}", "0".repeat(60), "0".repeat(60));
        for v in [
            "100-200",
            "MB=100-200",
            "bytes =100-200",
            "bytes\t=100-200",
            "bytes=  100-200",
            "bytes=\t\t100-200",
            "bytes= \t100-200",
            "bytes=100 -200",
            "bytes=100\t-200",
            "bytes=100- 200",
            "bytes=100-\t200",
            "bytes=100-200hello",
            "bytes=abc-def",
            "bytes=100-200,300-400",
            "bytes=-200",
            "bytes=200-100",
            zeros.as_str(),
            "bytes 100-200",
            "bytes = 100-200",
            ",bytes=100-200",
            "bytes=,100-200",
        ] {
            assert!(
                !safe("range", v.as_bytes()),
                "{v:?} should need a preflight"
            );
        }
        assert_eq!(
            check_request_header("range", zeros.as_bytes(), Profile::Standard),
            Err(UnsafeReason::ValueTooLong { len: 129 })
        );
    }

    /// web-platform-tests `fetch/api/cors/resources/not-cors-safelisted.json`.
    #[test]
    fn wpt_not_safelisted() {
        let long_ct = format!("text/plain; long={}", "0".repeat(120));
        let digits = "0123456789".repeat(13);
        for (n, v) in [
            ("accept", "\""),
            ("accept", &digits[..129]),
            ("accept-language", "\u{1}"),
            ("accept-language", "@"),
            ("authorization", "basics"),
            ("content-language", "\u{1}"),
            ("content-language", "@"),
            ("content-type", "text/html"),
            ("content-type", long_ct.as_str()),
            ("range", "bytes 0-"),
            ("test", "hi"),
        ] {
            assert!(!safe(n, v.as_bytes()), "{n}: {v:?}");
        }
    }

    #[test]
    fn total_over_1024_makes_all_unsafe() {
        let mut h = HeaderList::new();
        for _ in 0..9 {
            h.append("Accept", "a".repeat(120));
        }
        let names = unsafe_request_header_names(&h, Profile::Standard);
        assert_eq!(names.len(), 1);
        assert_eq!(names[0].name, "accept");
        assert!(matches!(
            names[0].reason,
            UnsafeReason::TotalTooLarge { total: 1080 }
        ));
        let mut ok = HeaderList::new();
        for _ in 0..8 {
            ok.append("Accept", "a".repeat(128));
        }
        assert!(unsafe_request_header_names(&ok, Profile::Standard).is_empty());
    }

    /// Checked against Chromium 156: these client hints go without a
    /// preflight when their value has the right shape; the standard has none.
    #[test]
    fn chromium_safelists_client_hints() {
        for (name, value, ok) in [
            ("Save-Data", "on", true),
            ("DPR", "2", true),
            ("Device-Memory", "4", true),
            ("Viewport-Width", "800", true),
            ("Width", "100", true),
            ("DPR", "1.5", true),
            ("Save-Data", "off", false),
            ("DPR", "1.", false),
            ("Width", "1.5", false),
            ("Device-Memory", ".5", false),
            ("RTT", "007", true),
            ("RTT", "-1", false),
            ("Downlink", "1.5", true),
            ("Downlink", "1.", false),
            ("ECT", "slow-2g", true),
            ("ECT", "4G", false),
            ("ECT", "5g", false),
            ("Intervention", "a(b", true),
            ("Intervention", "", true),
        ] {
            let chromium = check_request_header(name, value.as_bytes(), Profile::Chromium);
            assert_eq!(chromium.is_ok(), ok, "{name}: {value}");
            let standard = check_request_header(name, value.as_bytes(), Profile::Standard);
            assert_eq!(standard, Err(UnsafeReason::NotSafelistedName));
        }
    }

    /// Checked against Chromium 156: `Content-Type: text/plain` appended twice
    /// is judged as `text/plain, text/plain` and preflighted; the standard
    /// judges each line and sends it as is.
    #[test]
    fn chromium_judges_repeated_headers_combined() {
        let h = HeaderList::new()
            .with("Content-Type", "text/plain")
            .with("Content-Type", "text/plain");
        let names: Vec<String> = unsafe_request_header_names(&h, Profile::Chromium)
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert_eq!(names, ["content-type"]);
        assert!(unsafe_request_header_names(&h, Profile::Standard).is_empty());
        // Combined, a safelisted type first makes the whole value pass.
        let h = HeaderList::new()
            .with("Content-Type", "multipart/form-data; boundary=x")
            .with("Content-Type", "application/json");
        assert!(unsafe_request_header_names(&h, Profile::Chromium).is_empty());
    }

    /// Checked against Firefox 153 ESR: `fetch()` with `Range: bytes=0-0`
    /// appended twice, or `Content-Type: text/plain` twice, preflights and
    /// announces the name, as Chromium does.
    #[test]
    fn firefox_judges_repeated_headers_combined() {
        for (name, value) in [("Content-Type", "text/plain"), ("Range", "bytes=0-0")] {
            let h = HeaderList::new().with(name, value).with(name, value);
            let names: Vec<String> = unsafe_request_header_names(&h, Profile::Firefox)
                .into_iter()
                .map(|u| u.name)
                .collect();
            assert_eq!(names, [name.to_ascii_lowercase()]);
            assert!(unsafe_request_header_names(&h, Profile::Standard).is_empty());
        }
    }

    /// Checked against Firefox 153 ESR, Chromium 156 and WebKitGTK 2.50.6
    /// (`tests/headers_form.rs`): given as pairs, Firefox judges each line
    /// and lists a custom name once per line; the others judge the combined
    /// value and list it once.
    #[test]
    fn firefox_judges_pairs_line_by_line() {
        let names = |h: &HeaderList, p, f| -> Vec<String> {
            unsafe_request_header_names_in(h, p, f)
                .into_iter()
                .map(|u| u.name)
                .collect()
        };
        let long = "en-us,".repeat(20);
        for (name, a, b) in [
            ("Content-Type", "text/plain;charset=utf-8", "text/plain"),
            ("Range", "bytes=0-1", "bytes=2-3"),
            ("Accept-Language", &long[..119], &long[..119]),
        ] {
            let h = HeaderList::new().with(name, a).with(name, b);
            for form in [HeadersForm::Pairs, HeadersForm::Record] {
                assert!(names(&h, Profile::Firefox, form).is_empty(), "{name}");
            }
            assert_eq!(
                names(&h, Profile::Firefox, HeadersForm::Headers),
                [name.to_ascii_lowercase()]
            );
            // Combined, `text/plain;charset=utf-8, text/plain` is one
            // MIME type with an odd parameter for Chromium and WebKit.
            let expected: &[&str] = if name == "Content-Type" { &[] } else { &[name] };
            for p in [Profile::Chromium, Profile::Safari] {
                let lower: Vec<String> = expected.iter().map(|n| n.to_ascii_lowercase()).collect();
                assert_eq!(names(&h, p, HeadersForm::Pairs), lower, "{p} {name}");
            }
        }
        let h = HeaderList::new().with("X-A", "1").with("x-a", "2");
        assert_eq!(
            names(&h, Profile::Firefox, HeadersForm::Pairs),
            ["x-a", "x-a"]
        );
        assert_eq!(names(&h, Profile::Chromium, HeadersForm::Pairs), ["x-a"]);
        assert_eq!(names(&h, Profile::Standard, HeadersForm::Pairs), ["x-a"]);
    }

    /// Checked against Firefox 153 ESR: XHR's `setRequestHeader` twice makes
    /// `text/plain;charset=utf-8, application/json`, which Firefox preflights
    /// (its strict parser wants one media type) and Chromium and the
    /// standard read as `text/plain`.
    #[test]
    fn firefox_content_type_with_a_comma_is_not_safelisted() {
        let v = b"text/plain;charset=utf-8, application/json";
        assert_eq!(
            check_request_header("Content-Type", v, Profile::Firefox),
            Err(UnsafeReason::ContentTypeUnparsable)
        );
        assert!(check_request_header("Content-Type", v, Profile::Chromium).is_ok());
        assert!(check_request_header("Content-Type", v, Profile::Standard).is_ok());
        assert!(check_request_header(
            "Content-Type",
            b"text/plain;charset=utf-8",
            Profile::Firefox
        )
        .is_ok());
    }

    /// Checked against Firefox 153 ESR: three `Accept`, `Accept-Language`
    /// and `Content-Language` lines of 120 bytes are announced when they
    /// reach the request combined (360 bytes each: too long), but given as
    /// pairs they need no preflight: Firefox has no 1024-byte rule. A safe
    /// `Content-Type` or `Range` is never announced.
    #[test]
    fn firefox_total_limit_leaves_out_content_type_and_range() {
        let long = "a".repeat(120);
        let mut h = HeaderList::new()
            .with("Content-Type", "text/plain")
            .with("Range", "bytes=0-0");
        for _ in 0..3 {
            h = h
                .with("Accept", long.as_str())
                .with("Accept-Language", "en".repeat(60))
                .with("Content-Language", "en".repeat(60));
        }
        let names = |p| -> Vec<String> {
            unsafe_request_header_names(&h, p)
                .into_iter()
                .map(|u| u.name)
                .collect()
        };
        assert_eq!(
            names(Profile::Firefox),
            ["accept", "accept-language", "content-language"]
        );
        assert_eq!(
            names(Profile::Standard),
            [
                "accept",
                "accept-language",
                "content-language",
                "content-type",
                "range"
            ]
        );
        assert!(
            unsafe_request_header_names_in(&h, Profile::Firefox, HeadersForm::Pairs).is_empty()
        );
    }

    #[test]
    fn forbidden_headers() {
        for n in [
            "Cookie",
            "Origin",
            "Sec-Fetch-Mode",
            "Proxy-Authorization",
            "Host",
            "Referer",
        ] {
            assert!(is_forbidden_request_header(n, b"x"), "{n}");
        }
        assert!(is_forbidden_request_header(
            "X-HTTP-Method-Override",
            b"GET, trace"
        ));
        assert!(!is_forbidden_request_header(
            "X-HTTP-Method-Override",
            b"PATCH"
        ));
        assert!(!is_forbidden_request_header("Authorization", b"x"));
        assert!(is_safelisted_response_header("Content-Type"));
        assert!(!is_safelisted_response_header("Content-Encoding"));
    }
}
