//! HAProxy 2.6 and later: rules for a frontend (`mode http`), and a backend
//! for the upstream.
//!
//! Every decision is an ACL or a transaction variable set by `http-request`
//! rules, which run in the written order before anything else in the
//! frontend: a preflight is answered there with `http-request return` (204
//! or 403), before any `http-request auth` or backend. Every CORS header is
//! set by `http-after-response`, which applies to every answer, HAProxy's own
//! (`return`, `deny`, 502/503/504) included, after the upstream's copies are
//! deleted. Exact origins are `-m str` patterns (data, byte for byte);
//! patterns are anchored PCRE regexes with every non-alphanumeric byte
//! hex-escaped, in single quotes (no escape processing).
//!
//! Paths: HAProxy matches the request path as received (percent-encoded,
//! dot segments unresolved) and forwards it unchanged; its URI normalizers
//! are experimental in 2.6. So a path holding a dot segment (plain or
//! encoded, `..;` included), an encoded slash or backslash, or a backslash is
//! refused (400) wherever it points, and the location is matched in every
//! spelling an upstream might decode to it: each character also as `%HH`,
//! any letter case, `;parameters`, repeated slashes.

use std::fmt::Write as _;

use super::hexre;
use super::{comment, header_comment, Headers, Model, Site, CORS_RESPONSE_HEADERS};

/// A log-format argument in double quotes (`%` doubled, `"`, `\` and `$`
/// escaped: header names may hold `%` and `$`).
fn fmt(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '%' => out.push_str("%%"),
            '"' | '\\' | '$' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A single-quoted argument (no processing; our regexes and origins hold no `'`).
fn sq(s: &str) -> String {
    format!("'{s}'")
}

/// The marker line between the frontend rules and the backend section.
pub(super) const BACKEND_PART: &str = "# ---- backend";

pub(crate) fn render(
    m: &Model,
    site: &Site,
    source: &str,
    name: Option<&str>,
) -> Result<String, String> {
    Ok(super::with_name(write(m, site, source)?, "corsgate_", name))
}

fn write(m: &Model, site: &Site, source: &str) -> Result<String, String> {
    if site.upstream_path.is_some() {
        return Err(format!(
            "--upstream '{}' has a path: an HAProxy server is an address (rewrite the path with `http-request set-path` in the backend if the upstream needs one)",
            site.upstream
        ));
    }
    let mut o = String::new();
    let mut lines = header_comment(m, source, "haproxy");
    lines.extend(
        [
            "",
            "Two parts: rules for your `frontend` (mode http), first in it, before any other",
            "http-request rule (authentication included) and any use_backend; and a backend section,",
            "after the marker line below. HAProxy 2.6 or later (http-after-response, return).",
            "",
            "Paths: HAProxy matches the path as received and forwards it unchanged, so any path",
            "with a dot segment (plain or %2e-encoded, `..;` too), an encoded slash or backslash,",
            "or a backslash is refused with 400, in the whole frontend; the location is matched in",
            "every spelling an upstream could decode to it (%HH escapes, any case, ;parameters).",
            "",
            "What HAProxy cannot check, and the browser still enforces:",
            " - corsgate's limits on Access-Control-Request-Headers (128 names, 16 empty elements,",
            "   8 KiB) are not counted; the names themselves are checked.",
        ]
        .map(String::from),
    );
    comment(&mut o, &lines);
    let w = &mut o;
    let _ = writeln!(w);

    let loc = &site.location;
    let _ = writeln!(
        w,
        "    # Paths an upstream could read differently from HAProxy: refused, wherever they point."
    );
    let _ = writeln!(
        w,
        "    http-request deny deny_status 400 if {{ path -m reg {} }}",
        sq(hexre::REFUSED_RAW_PATH)
    );
    let _ = writeln!(
        w,
        "    # The paths the policy covers: {loc} in every spelling an upstream decodes to it."
    );
    let _ = writeln!(
        w,
        "    acl corsgate_location path -m reg {}",
        sq(&hexre::location_raw(site))
    );
    let _ = writeln!(
        w,
        "    http-request set-var(txn.corsgate_location) bool(true) if corsgate_location"
    );
    let _ = writeln!(w);

    // Origin.
    let _ = writeln!(
        w,
        "    # One Origin line, allowed: exact origins byte for byte, patterns anchored."
    );
    let _ = writeln!(w, "    acl corsgate_one_origin req.fhdr_cnt(origin) eq 1");
    if m.any {
        let _ = writeln!(
            w,
            "    # Any origin: Access-Control-Allow-Origin: * (never with credentials)."
        );
        let _ = writeln!(
            w,
            "    http-request set-var(txn.corsgate_origin) bool(true) if corsgate_location"
        );
    } else {
        if !m.exact.is_empty() {
            let list = m.exact.iter().map(|e| sq(e)).collect::<Vec<_>>().join(" ");
            let _ = writeln!(
                w,
                "    acl corsgate_origin_exact req.fhdr(origin) -m str {list}"
            );
            let _ = writeln!(
                w,
                "    http-request set-var(txn.corsgate_origin) bool(true) if corsgate_location corsgate_one_origin corsgate_origin_exact"
            );
        }
        for (i, p) in m.patterns.iter().enumerate() {
            let _ = writeln!(w, "    # {}: {}", p.entry, p.describe());
            let _ = writeln!(
                w,
                "    acl corsgate_origin_p{i} req.fhdr(origin) -m reg {}",
                sq(&hexre::origin(p))
            );
            let mut cond = format!("corsgate_location corsgate_one_origin corsgate_origin_p{i}");
            if let Some(d) = hexre::default_port_regex(p) {
                let _ = writeln!(
                    w,
                    "    acl corsgate_origin_p{i}_default_port req.fhdr(origin) -m reg {}",
                    sq(&d)
                );
                let _ = write!(cond, " !corsgate_origin_p{i}_default_port");
            }
            let _ = writeln!(
                w,
                "    http-request set-var(txn.corsgate_origin) bool(true) if {cond}"
            );
        }
    }
    let _ = writeln!(
        w,
        "    acl corsgate_origin_ok var(txn.corsgate_origin) -m bool"
    );
    let _ = writeln!(w);

    // Preflight, method, headers.
    let _ = writeln!(
        w,
        "    # A preflight is exactly OPTIONS with Origin and Access-Control-Request-Method; a bare"
    );
    let _ = writeln!(w, "    # OPTIONS is an ordinary request and is proxied.");
    let _ = writeln!(w, "    acl corsgate_preflight_shape method OPTIONS");
    let _ = writeln!(
        w,
        "    http-request set-var(txn.corsgate_preflight) bool(true) if corsgate_location corsgate_preflight_shape {{ req.fhdr_cnt(origin) gt 0 }} {{ req.fhdr_cnt(access-control-request-method) gt 0 }}"
    );
    let _ = writeln!(
        w,
        "    acl corsgate_preflight var(txn.corsgate_preflight) -m bool"
    );
    let _ = writeln!(
        w,
        "    # The requested method: one line, compared case-sensitively (`patch` is not `PATCH`)."
    );
    let _ = writeln!(
        w,
        "    acl corsgate_method_ok req.fhdr(access-control-request-method) -m reg {}",
        sq(&hexre::method(m))
    );
    let _ = writeln!(
        w,
        "    acl corsgate_one_method req.fhdr_cnt(access-control-request-method) eq 1"
    );
    let _ = writeln!(
        w,
        "{}",
        match &m.headers {
            Headers::Mirror =>
                "    # Requested headers: at most one line; any well-formed list of names is allowed and echoed.",
            Headers::List(l) if l.is_empty() =>
                "    # Requested headers: at most one line; none beyond the CORS-safelisted ones.",
            Headers::List(_) =>
                "    # Requested headers: at most one line; every name in the list (any case, order, spaces).",
        }
    );
    let _ = writeln!(
        w,
        "    acl corsgate_no_headers req.fhdr_cnt(access-control-request-headers) eq 0"
    );
    let _ = writeln!(
        w,
        "    acl corsgate_one_headers req.fhdr_cnt(access-control-request-headers) eq 1"
    );
    let _ = writeln!(
        w,
        "    acl corsgate_headers_listed req.fhdr(access-control-request-headers) -m reg -i {}",
        sq(&hexre::headers(m))
    );
    let _ = writeln!(
        w,
        "    http-request set-var(txn.corsgate_headers) bool(true) if corsgate_no_headers || corsgate_one_headers corsgate_headers_listed"
    );
    let _ = writeln!(
        w,
        "    acl corsgate_headers_ok var(txn.corsgate_headers) -m bool"
    );
    let _ = writeln!(
        w,
        "    http-request set-var(txn.corsgate_preflight_ok) bool(true) if corsgate_preflight corsgate_origin_ok corsgate_one_method corsgate_method_ok corsgate_headers_ok"
    );
    let _ = writeln!(
        w,
        "    acl corsgate_preflight_ok var(txn.corsgate_preflight_ok) -m bool"
    );
    let _ = writeln!(
        w,
        "    http-request set-var(txn.corsgate_actual) bool(true) if corsgate_location !corsgate_preflight corsgate_origin_ok"
    );
    // Values the response rules need (request headers are gone by then).
    if !m.any {
        let _ = writeln!(
            w,
            "    http-request set-var(txn.corsgate_acao) req.fhdr(origin) if corsgate_origin_ok"
        );
    }
    let _ = writeln!(
        w,
        "    http-request set-var(txn.corsgate_acam) req.fhdr(access-control-request-method) if corsgate_preflight_ok"
    );
    if matches!(m.headers, Headers::Mirror) {
        let _ = writeln!(
            w,
            "    http-request set-var(txn.corsgate_acah) req.fhdr(access-control-request-headers) if corsgate_preflight_ok corsgate_one_headers !{{ req.fhdr(access-control-request-headers) -m reg {} }}",
            sq(&hexre::blank_list())
        );
    }
    if m.private_network {
        let _ = writeln!(
            w,
            "    http-request set-var(txn.corsgate_acapn) bool(true) if corsgate_preflight_ok {{ req.fhdr(access-control-request-private-network) -m reg -i {} }}",
            sq("^true$")
        );
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "    # Preflights are answered here, never proxied (the headers are added below)."
    );
    let _ = writeln!(
        w,
        "    http-request return status 204 if corsgate_preflight_ok"
    );
    let _ = writeln!(
        w,
        "    http-request return status 403 if corsgate_preflight"
    );
    let _ = writeln!(
        w,
        "    # ---- your authentication (http-request auth...) here, after the preflight answers"
    );
    let _ = writeln!(w, "    use_backend corsgate_upstream if corsgate_location");
    let _ = writeln!(w);

    // Response headers.
    let var = |v: &str| format!("{{ var(txn.corsgate_{v}) -m bool }}");
    let _ = writeln!(
        w,
        "    # On every answer, HAProxy's own included: the upstream's CORS headers dropped (one"
    );
    let _ = writeln!(
        w,
        "    # source of truth, never two values), then the policy's."
    );
    for h in CORS_RESPONSE_HEADERS {
        let _ = writeln!(
            w,
            "    http-after-response del-header {h} if {}",
            var("location")
        );
    }
    let allow = format!("{} || {}", var("preflight_ok"), var("actual"));
    let acao = if m.any {
        fmt("*")
    } else {
        "\"%[var(txn.corsgate_acao)]\"".to_owned()
    };
    let _ = writeln!(
        w,
        "    http-after-response set-header Access-Control-Allow-Origin {acao} if {allow}"
    );
    if m.credentials {
        let _ = writeln!(
            w,
            "    http-after-response set-header Access-Control-Allow-Credentials \"true\" if {allow}"
        );
    }
    let _ = writeln!(
        w,
        "    http-after-response set-header Access-Control-Allow-Methods \"%[var(txn.corsgate_acam)]\" if {}",
        var("preflight_ok")
    );
    match &m.headers {
        Headers::Mirror => {
            let _ = writeln!(
                w,
                "    http-after-response set-header Access-Control-Allow-Headers \"%[var(txn.corsgate_acah)]\" if {{ var(txn.corsgate_acah) -m found }}"
            );
        }
        Headers::List(_) => {
            if let Some(v) = m.allow_headers_list() {
                let _ = writeln!(
                    w,
                    "    http-after-response set-header Access-Control-Allow-Headers {} if {}",
                    fmt(&v),
                    var("preflight_ok")
                );
            }
        }
    }
    if let Some(a) = m.max_age {
        let _ = writeln!(
            w,
            "    http-after-response set-header Access-Control-Max-Age \"{a}\" if {}",
            var("preflight_ok")
        );
    }
    if let Some(v) = m.expose_value() {
        let _ = writeln!(
            w,
            "    http-after-response set-header Access-Control-Expose-Headers {} if {}",
            fmt(&v),
            var("actual")
        );
    }
    if m.private_network {
        let _ = writeln!(
            w,
            "    http-after-response set-header Access-Control-Allow-Private-Network \"true\" if {}",
            var("acapn")
        );
    }
    let _ = writeln!(
        w,
        "    # Vary: answers depend on these request headers (added, never clobbering the upstream's)."
    );
    let _ = writeln!(
        w,
        "    http-after-response add-header Vary {} if {}",
        fmt(&m.preflight_vary()),
        var("preflight")
    );
    if !m.any {
        let _ = writeln!(
            w,
            "    http-after-response add-header Vary \"Origin\" if {} !{}",
            var("location"),
            var("preflight")
        );
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "{BACKEND_PART} (a section of its own) ----");
    let _ = writeln!(w);
    let (host, port) = site.host_port();
    let _ = writeln!(w, "backend corsgate_upstream");
    let _ = writeln!(w, "    mode http");
    let addr = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    if site.upstream_tls {
        let _ = writeln!(
            w,
            "    server upstream {addr} ssl verify required ca-file @system-ca sni str({host})"
        );
    } else {
        let _ = writeln!(w, "    server upstream {addr}");
    }
    Ok(o)
}
