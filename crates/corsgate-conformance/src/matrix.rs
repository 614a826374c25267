//! The generated case matrix: a fixed seed drives a small PRNG over methods,
//! request headers, credentials modes and response variations, so every run
//! (and every machine) checks the same cases.
//!
//! Responses are "mostly right" with one or two things wrong, which keeps a
//! good share of cases allowed and makes each refusal about one detail.
//! Only values the real pipeline can carry are generated: no NUL, CR or LF in
//! request header values, ASCII only.

use corsgate_core::{Credentials, HeadersForm, Mode};

use crate::case::{Acac, Acao, ActualSpec, Case, Dest, Hop, PreflightSpec, Redirect, RequestSpec};
use crate::rng::Rng;

/// The seed and the number of cases of a harness run: `CORSGATE_SEED`
/// (hex, `0x` optional) and `CORSGATE_CASES` when set and valid, else
/// [`SEED`] and `default_count`.
pub fn seed_and_count_from_env(default_count: u32) -> (u64, u32) {
    let count = std::env::var("CORSGATE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_count);
    let seed = std::env::var("CORSGATE_SEED")
        .ok()
        .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        .unwrap_or(SEED);
    (seed, count)
}

/// The seed of the committed matrix.
pub const SEED: u64 = 0x00C0_25A7_E5EE_D001;

/// `count` cases from `seed`.
pub fn generate(seed: u64, count: u32) -> Vec<Case> {
    let mut rng = Rng::new(seed);
    // The form dimension draws from a stream of its own, so the rest of
    // every case is what it was before forms were generated.
    let mut forms = Rng::new(seed ^ FORM_STREAM);
    (0..count)
        .map(|id| {
            let mut c = case(&mut rng, id);
            headers_form(&mut forms, &mut c.request);
            c
        })
        .collect()
}

/// Mixed into the seed for the form stream ("HEADERS" and 5: the first
/// such stream whose matrix still shows every WebKit departure on its
/// listed case; the one ending in 0 left none of
/// `same_origin_start_keeps_credentials`).
const FORM_STREAM: u64 = 0x4845_4144_4552_5305;

/// Values a repeated name gets, by lower-case name: safe and unsafe ones,
/// and, for the method-override names, safe and forbidden methods.
const REPEATS: [(&str, &[&str]); 8] = [
    (
        "content-type",
        &[
            "text/plain",
            "application/json",
            "text/plain;charset=utf-8",
            "multipart/form-data; boundary=x",
        ],
    ),
    ("accept", &["application/json", "*/*", "a\"b"]),
    ("accept-language", &["en", "de", LONG_LANGUAGE]),
    ("content-language", &["de", "en", "de:DE"]),
    ("range", &["bytes=0-1", "bytes=2-3", "items=1-2"]),
    (
        "x-http-method-override",
        &["PATCH", "TRACE", "DELETE", "connect", "GET"],
    ),
    ("x-method-override", &["PATCH", "trace", "GET"]),
    ("x-http-method", &["PATCH", "track", "DELETE"]),
];

/// 120 bytes: a safelisted `Accept-Language` alone, over 128 once combined.
const LONG_LANGUAGE: &str = "en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us,en-us";

/// The form in which the page passes `fetch()` the headers, and now and
/// then a name the request already has given once more (the same spelling
/// or lower case, with a value from [`REPEATS`] or `2`): where the forms,
/// and the browsers, part ways.
fn headers_form(rng: &mut Rng, req: &mut RequestSpec) {
    req.form = *rng.weighted(&[
        (40, HeadersForm::Headers),
        (40, HeadersForm::Pairs),
        (20, HeadersForm::Record),
    ]);
    if req.headers.is_empty() || !rng.chance(25) {
        return;
    }
    let (name, _) = rng.pick(&req.headers).clone();
    let lower = name.to_ascii_lowercase();
    let value = match REPEATS.iter().find(|(n, _)| *n == lower) {
        Some((_, values)) => (*rng.pick(values)).to_owned(),
        None => "2".to_owned(),
    };
    let name = if rng.chance(30) { lower } else { name };
    let at = rng.below(req.headers.len() + 1);
    req.headers.insert(at, (name, value));
}

const METHODS: [(u32, &str); 20] = [
    (22, "GET"),
    (4, "get"),
    (5, "HEAD"),
    (12, "POST"),
    (3, "post"),
    (6, "PUT"),
    (4, "put"),
    (4, "DELETE"),
    (2, "delete"),
    (5, "PATCH"),
    (5, "patch"),
    (2, "Patch"),
    (2, "OPTIONS"),
    (2, "M-SEARCH"),
    (2, "PROPFIND"),
    (2, "custom"),
    (1, "X_Y"),
    (1, "TRACE"),
    (1, "Connect"),
    (1, "GE T"),
];

/// Request headers: (weight, name, value).
const HEADERS: [(u32, (&str, &str)); 83] = [
    // Safelisted names with valid values.
    (4, ("Accept", "application/json")),
    (2, ("Accept", "*/*")),
    (3, ("Accept-Language", "en-US,en;q=0.9")),
    (3, ("Content-Language", "de-DE")),
    (4, ("Content-Type", "text/plain")),
    (3, ("Content-Type", "text/plain;charset=utf-8")),
    (2, ("Content-Type", "multipart/form-data; boundary=x")),
    (3, ("Content-Type", "application/x-www-form-urlencoded")),
    (1, ("content-type", "TEXT/PLAIN")),
    (1, ("Content-Type", "text/plain;garbage")),
    (3, ("Range", "bytes=100-200")),
    (2, ("Range", "bytes=200-")),
    (1, ("Range", "bytes=0-0")),
    // Safelisted names with values that are not.
    (4, ("Content-Type", "application/json")),
    (1, ("Content-Type", "text/html")),
    (1, ("Content-Type", "text /plain")),
    (1, ("Content-Type", "text/plain,")),
    (1, ("Content-Type", "text/plain\u{b}")),
    (1, ("Content-Type", "multipart/form-data;\"")),
    (1, ("Accept", "a\"b")),
    (1, ("Accept", "(x)")),
    (1, ("Accept", "text/html\u{1}")),
    (1, ("Accept-Language", "en@x")),
    (1, ("Accept-Language", "en\u{7f}")),
    (1, ("Content-Language", "de:DE")),
    (1, ("Range", "bytes=-500")),
    (1, ("Range", "bytes=200-100")),
    (1, ("Range", "bytes=0-1,2-3")),
    (1, ("Range", "bytes= 1-2")),
    (1, ("Range", "items=1-2")),
    (1, ("Accept", LONG_ACCEPT)),
    (1, ("Accept", LONG_OK_ACCEPT)),
    // Custom headers.
    (6, ("X-A", "1")),
    (3, ("x-a", "2")),
    (3, ("X-Trace", "abc")),
    (2, ("X-Requested-With", "XMLHttpRequest")),
    (1, ("X-Empty", "")),
    (1, ("X-Spaced", "  padded  ")),
    (1, ("X-Ctl", "a\u{1}b")),
    (1, ("X-Quote", "\"q\"")),
    (1, ("Cache-Control", "no-cache")),
    (1, ("If-None-Match", "\"x\"")),
    (1, ("If-Modified-Since", "Tue, 01 Jan 2030 00:00:00 GMT")),
    (1, ("If-Range", "\"x\"")),
    (1, ("Pragma", "no-cache")),
    (1, ("Last-Event-ID", "1")),
    (1, ("DPR", "2")),
    (1, ("Save-Data", "on")),
    (1, ("Device-Memory", "4")),
    (1, ("Viewport-Width", "800")),
    (1, ("Width", "100")),
    (1, ("Save-Data", "off")),
    (1, ("Save-Data", "ON")),
    (1, ("DPR", "1.5")),
    (1, ("DPR", "1.")),
    (1, ("Width", "1.5")),
    (1, ("Viewport-Width", "-1")),
    (1, ("Device-Memory", ".5")),
    (1, ("RTT", "50")),
    (1, ("RTT", "abc")),
    (1, ("Downlink", "1.5")),
    (1, ("Downlink", "1.")),
    (1, ("ECT", "4g")),
    (1, ("ECT", "4G")),
    (1, ("Intervention", "a(b")),
    // Authorization.
    (6, ("Authorization", "Bearer t0ken")),
    (1, ("authorization", "Basic dTpw")),
    (1, ("Authorization", "")),
    (1, ("Content-Type", "text/plain; charset=\"utf-8\"")),
    (
        1,
        (
            "Content-Type",
            "application/x-www-form-urlencoded;charset=UTF-8",
        ),
    ),
    (1, ("Accept-Language", "*")),
    (1, ("Content-Language", "")),
    (1, ("X-Long", LONG_OK_ACCEPT)),
    // Forbidden headers script cannot set.
    (1, ("Cookie", "a=b")),
    (1, ("Origin", "http://evil.example")),
    (1, ("Sec-Custom", "1")),
    (1, ("Proxy-Foo", "1")),
    (1, ("Connection", "close")),
    (1, ("X-HTTP-Method-Override", "TRACE")),
    (1, ("X-HTTP-Method-Override", "PATCH")),
    (1, ("x-http-method-override", "delete")),
    (1, ("X-Method-Override", "trace")),
    (1, ("X-Bad", "a\u{0}b")),
];

const LONG_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7x";
const LONG_OK_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";

fn request(rng: &mut Rng) -> RequestSpec {
    let method = rng.weighted(&METHODS).to_string();
    let n = *rng.weighted(&[(30, 0usize), (40, 1), (20, 2), (10, 3)]);
    let mut headers: Vec<(String, String)> = (0..n)
        .map(|_| {
            let (name, value) = *rng.weighted(&HEADERS);
            (name.to_owned(), value.to_owned())
        })
        .collect();
    // Now and then, push the safelisted total over 1024 bytes.
    if rng.chance(2) {
        for i in 0..9 {
            let name = ["Accept", "Accept-Language", "Content-Language"][i % 3];
            let value = if name == "Accept" {
                "a".repeat(120)
            } else {
                "en".repeat(60)
            };
            headers.push((name.to_owned(), value));
        }
    }
    // Now and then, several custom headers of random names (lengths, case,
    // token characters): when the answer allows several of them not, the
    // browser names the first in its own order (Chromium: Blink's header
    // map, `Profile::unsafe_header_order`). Drawn from a stream of their
    // own, so that every other choice of the matrix stays as it was.
    let mut side = Rng::new(rng.clone().next_u64() ^ 0xb11c_0de5_eed0_4ead);
    if side.chance(6) {
        for _ in 0..2 + side.below(4) {
            headers.push((random_header_name(&mut side), "1".to_owned()));
        }
    }
    let credentials = *rng.weighted(&[
        (35, Credentials::SameOrigin),
        (20, Credentials::Omit),
        (45, Credentials::Include),
    ]);
    let mode = *rng.weighted(&[(86, Mode::Cors), (10, Mode::NoCors), (4, Mode::SameOrigin)]);
    RequestSpec {
        method,
        headers,
        credentials,
        mode,
        form: HeadersForm::Headers,
    }
}

/// A custom header name: an optional `x-`/`X-`, then 1 to 14 (now and then
/// up to 40) token characters of mixed case.
fn random_header_name(rng: &mut Rng) -> String {
    const PUNCT: &[u8] = b"!#$%&'*+-.^_`|~";
    let mut name = String::new();
    if rng.chance(40) {
        name.push_str(if rng.chance(50) { "x-" } else { "X-" });
    }
    let max = if rng.chance(20) { 40 } else { 14 };
    for _ in 0..=rng.below(max) {
        let c = match rng.below(10) {
            0..=5 => char::from(b'a' + rng.below(26) as u8),
            6 | 7 => char::from(b'A' + rng.below(26) as u8),
            8 => char::from(b'0' + rng.below(10) as u8),
            _ => char::from(*rng.pick(PUNCT)),
        };
        name.push(c);
    }
    name
}

/// The method the browser puts on the wire (fetch and XHR normalize six methods).
fn normalized(m: &str) -> String {
    for n in ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"] {
        if m.eq_ignore_ascii_case(n) {
            return n.to_owned();
        }
    }
    m.to_owned()
}

fn acao(rng: &mut Rng, include: bool) -> Acao {
    if rng.chance(70) {
        return if include || rng.chance(50) {
            Acao::Echo
        } else {
            Acao::Star
        };
    }
    *rng.pick(&[
        Acao::Missing,
        Acao::Echo,
        Acao::Page,
        Acao::Star,
        Acao::Null,
        Acao::PageSlash,
        Acao::SchemeUpper,
        Acao::HostUpper,
        Acao::Wrong,
        Acao::Spaced,
        Acao::DupPage,
        Acao::DupStarPage,
        Acao::ListPageStar,
        Acao::Empty,
        Acao::QuotedStar,
    ])
}

fn acac(rng: &mut Rng, include: bool) -> Acac {
    if include && rng.chance(75) {
        return Acac::True;
    }
    *rng.weighted(&[
        (30, Acac::Missing),
        (20, Acac::True),
        (6, Acac::TrueUpper),
        (6, Acac::False),
        (5, Acac::Dup),
        (4, Acac::Empty),
        (5, Acac::Spaced),
    ])
}

fn acam(rng: &mut Rng, method: &str) -> Vec<String> {
    let m = normalized(method);
    let v = |s: &str| vec![s.to_owned()];
    match rng.below(16) {
        0..=4 => v(&m),
        5 => vec![],
        6 => v(&format!("GET, {m}, POST")),
        7 => v("*"),
        8 => v(&m.to_ascii_lowercase()),
        9 => v(&m.to_ascii_uppercase()),
        10 => v("GET, POST"),
        11 => v(&[",", &m, ",,"].concat()),
        12 => vec!["GET".into(), m],
        13 => v(&format!("{m}, no no")),
        14 => v(&format!("{m};")),
        _ => v(""),
    }
}

fn acah(rng: &mut Rng, req: &RequestSpec) -> Vec<String> {
    let names: Vec<String> = req.headers.iter().map(|(n, _)| n.clone()).collect();
    let all = names.join(", ");
    let v = |s: String| vec![s];
    match rng.below(18) {
        0..=4 => v(all),
        5 => vec![],
        6 | 7 => v("*".into()),
        8 => v(format!("*, {}", "authorization")),
        9 => v(all.to_ascii_uppercase()),
        10 => v(names.iter().skip(1).cloned().collect::<Vec<_>>().join(",")),
        11 => v(format!(",{all},")),
        12 => names.clone(),
        13 => v(format!("{all}, x-a;")),
        14 => v(format!("{all}, no no")),
        15 => v("x-a, x-trace, authorization, content-type".into()),
        16 => vec![String::new(), all],
        _ => v(String::new()),
    }
}

fn aceh(rng: &mut Rng) -> Vec<String> {
    let v = |s: &str| vec![s.to_owned()];
    match rng.below(22) {
        0..=3 => vec![],
        4 | 5 => v("X-B"),
        6 => v("x-b, x-c"),
        7 | 8 => v("*"),
        9 => v(",x-b"),
        10 => v("x-b,"),
        11 => vec![String::new(), "x-b".into()],
        12 => vec!["x-b".into(), "x-c".into()],
        13 => v("x-b, no no"),
        14 => vec!["x-b".into(), "no no".into()],
        15 => v("x-b\u{b}"),
        16 => v("'x-b'"),
        17 => v("set-cookie, x-b"),
        18 => v("content-length, content-type"),
        19 => v("*, x-b"),
        20 => v("X-B , X-C"),
        _ => v(""),
    }
}

fn extra(rng: &mut Rng) -> Vec<(String, String)> {
    let mut out = vec![("X-B".to_owned(), "1".to_owned())];
    let pool: [(&str, &str); 9] = [
        ("X-C", "2"),
        ("Content-Type", "text/plain"),
        ("Content-Language", "en"),
        ("Cache-Control", "no-store"),
        ("Expires", "0"),
        ("Pragma", "no-cache"),
        ("Set-Cookie", "k=v; Path=/"),
        ("X-B", "again"),
        ("Server-Timing", "db;dur=1"),
    ];
    for (name, value) in pool {
        if rng.chance(25) {
            out.push((name.to_owned(), value.to_owned()));
        }
    }
    out
}

fn preflight(rng: &mut Rng, req: &RequestSpec, include: bool) -> PreflightSpec {
    let status = *rng.weighted(&[
        (40, 200u16),
        (35, 204),
        (2, 201),
        (2, 206),
        (2, 299),
        (2, 300),
        (2, 301),
        (2, 302),
        (2, 307),
        (2, 308),
        (2, 400),
        (2, 403),
        (2, 404),
        (2, 405),
        (2, 500),
    ]);
    // Half the redirect statuses come without a `Location`: an ordinary
    // non-ok answer for the browser, not a redirect.
    let location = matches!(status, 301 | 302 | 303 | 307 | 308) && rng.chance(50);
    PreflightSpec {
        status,
        location,
        acao: acao(rng, include),
        acac: acac(rng, include),
        acam: acam(rng, &req.method),
        acah: acah(rng, req),
        max_age: rng
            .chance(40)
            .then(|| rng.pick(&["0", "600", "-1", "abc", "86400"]).to_string()),
    }
}

fn actual(rng: &mut Rng, include: bool, last: bool) -> ActualSpec {
    let redirect = (!last).then(|| Redirect {
        status: *rng.pick(&[301, 302, 303, 307, 308]),
        to: *rng.weighted(&[(45, Dest::Target), (35, Dest::Other), (20, Dest::Page)]),
        userinfo: rng.chance(4),
    });
    ActualSpec {
        status: *rng.weighted(&[(80, 200u16), (5, 201), (5, 204), (5, 404), (5, 500)]),
        acao: acao(rng, include),
        acac: acac(rng, include),
        aceh: aceh(rng),
        extra: extra(rng),
        redirect,
    }
}

fn case(rng: &mut Rng, id: u32) -> Case {
    let request = request(rng);
    let include = request.credentials == Credentials::Include;
    let hop_count = *rng.weighted(&[(80, 1usize), (15, 2), (5, 3)]);
    let start = *rng.weighted(&[(90, Dest::Target), (4, Dest::Other), (6, Dest::Page)]);
    let hops = (0..hop_count)
        .map(|i| Hop {
            preflight: preflight(rng, &request, include),
            actual: actual(rng, include, i + 1 == hop_count),
        })
        .collect();
    Case {
        id,
        request,
        start,
        hops,
        repeat: rng.chance(15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_seed_gives_fixed_cases() {
        assert_eq!(generate(SEED, 50), generate(SEED, 50));
        assert_ne!(generate(SEED, 50), generate(SEED + 1, 50));
    }
}
