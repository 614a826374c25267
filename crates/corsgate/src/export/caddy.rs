//! Caddy 2 (Caddyfile, 2.6 and later): one `route` block for a site.
//!
//! Inside a `route`, Caddy keeps the written order, so the preflight answers
//! come before anything the user adds after them (authentication included).
//! Every decision is a CEL `expression` matcher on request placeholders:
//! exact origins are a CEL list (data, compared byte for byte), patterns are
//! anchored RE2 regexes with every non-alphanumeric byte hex-escaped. The CORS
//! headers are set immediately (not deferred), before the proxy or `respond`
//! runs, so they are on every status, Caddy's own errors included; the
//! upstream's copies are removed with `header_down`.
//!
//! Paths: Caddy's `path_regexp` matcher reads the request path decoded
//! (`%2F` included), dot-resolved and slash-merged, while `reverse_proxy`
//! sends the request target as received. The location is matched on that
//! normalized path, in any case and with `;parameters` after a segment, and
//! a path holding `..;` or a backslash is refused (400) wherever it points.

use std::fmt::Write as _;

use super::hexre;
use super::{comment, header_comment, Headers, Model, Site, CORS_RESPONSE_HEADERS};

const ORIGIN: &str = "{http.request.header.Origin}";
const ACRM: &str = "{http.request.header.Access-Control-Request-Method}";
const ACRH: &str = "{http.request.header.Access-Control-Request-Headers}";
const ACRPN: &str = "{http.request.header.Access-Control-Request-Private-Network}";

/// A CEL raw string (hexre output and origins hold no `"`).
fn raw(s: &str) -> String {
    format!("r\"{s}\"")
}

pub(crate) fn render(
    m: &Model,
    site: &Site,
    source: &str,
    name: Option<&str>,
) -> Result<String, String> {
    // Matcher names are per site: a second exported route needs its own.
    Ok(super::with_name(
        write(m, site, source)?,
        "@corsgate_",
        name,
    ))
}

fn write(m: &Model, site: &Site, source: &str) -> Result<String, String> {
    if site.upstream_path.is_some() {
        return Err(format!(
            "--upstream '{}' has a path: Caddy's reverse_proxy takes scheme, host and port only (rewrite the path with `uri` before it if the upstream needs one)",
            site.upstream
        ));
    }
    let mut o = String::new();
    let mut lines = header_comment(m, source, "caddy");
    lines.extend(
        [
            "",
            "Paste this block first in your site block. Caddy sorts top-level directives: a",
            "`basicauth`, `forward_auth`, `header`, `rewrite` or `handle` at site level runs before",
            "any `route`, so put those inside this route, at the marked line (after the preflight",
            "answers), or they would catch preflights and see requests before the policy does.",
            "Caddy 2.6 or later (CEL `expression` matchers).",
            "",
            "Paths: the location is matched on the path Caddy has decoded, dot-resolved and",
            "slash-merged, in any case and with `;parameters` after a segment; the proxy sends the",
            "request target as received. A path holding `..;` or a backslash is refused (400).",
            "",
            "What Caddy cannot check, and the browser still enforces:",
            " - several Origin or Access-Control-Request-* lines are joined with ','; a joined Origin",
            "   matches nothing, but several Access-Control-Request-Headers lines are read as one list;",
            " - an empty Origin or Access-Control-Request-Method counts as absent;",
            " - corsgate's limits on Access-Control-Request-Headers (128 names, 16 empty elements,",
            "   8 KiB) are not counted; the names themselves are checked.",
        ]
        .map(String::from),
    );
    comment(&mut o, &lines);
    let w = &mut o;
    let _ = writeln!(w);

    let preflight =
        format!("{{http.request.method}} == 'OPTIONS' && {ORIGIN} != '' && {ACRM} != ''");
    let origin_ok = if m.any {
        "true".to_owned()
    } else {
        let mut alts = Vec::new();
        if !m.exact.is_empty() {
            let list = m
                .exact
                .iter()
                .map(|e| raw(e))
                .collect::<Vec<_>>()
                .join(", ");
            alts.push(format!("{ORIGIN} in [{list}]"));
        }
        for p in &m.patterns {
            let mut t = format!("{ORIGIN}.matches({})", raw(&hexre::origin(p)));
            if let Some(d) = hexre::default_port_regex(p) {
                let _ = write!(t, " && !{ORIGIN}.matches({})", raw(&d));
            }
            alts.push(format!("({t})"));
        }
        format!("({})", alts.join(" || "))
    };
    let method_ok = format!("{ACRM}.matches({})", raw(&hexre::method(m)));
    let headers_ok = format!(
        "{ACRH}.matches({})",
        raw(&format!("(?i){}", hexre::headers(m)))
    );

    let _ = writeln!(w, "route {{");
    let _ = writeln!(
        w,
        "\t# Paths some upstreams read differently from Caddy (`..;` as `..`, `\\` as `/`): refused."
    );
    // On the decoded path before dot segments are resolved: `/x/.;/../api/` is
    // `/x/api/` to Caddy's cleaning and `/api/` to Tomcat.
    let _ = writeln!(
        w,
        "\t@corsgate_refused_path expression `{{http.request.uri.path}}.matches({})`",
        raw(hexre::REFUSED_PATH)
    );
    let _ = writeln!(w, "\trespond @corsgate_refused_path 400");
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "\t# The paths the policy covers: {} on the normalized path, any case, `;parameters` allowed.",
        site.location
    );
    let _ = writeln!(
        w,
        "\t@corsgate_location path_regexp {}",
        hexre::location(site)
    );
    let _ = writeln!(w, "\troute @corsgate_location {{");
    let _ = writeln!(
        w,
        "\t\t# A preflight is exactly OPTIONS with Origin and Access-Control-Request-Method; a bare"
    );
    let _ = writeln!(w, "\t\t# OPTIONS is an ordinary request and is proxied.");
    let _ = writeln!(w, "\t\t@corsgate_preflight expression `{preflight}`");
    let _ = writeln!(
        w,
        "\t\t# Allowed: the origin (exact origins as a list, patterns anchored), the method"
    );
    let _ = writeln!(
        w,
        "\t\t# (case-sensitive) and every requested header name (any case, order, spaces)."
    );
    let ok = format!("({preflight}) && {origin_ok} && {method_ok} && {headers_ok}");
    let _ = writeln!(w, "\t\t@corsgate_preflight_ok expression `{ok}`");
    let _ = writeln!(
        w,
        "\t\t@corsgate_actual expression `!({preflight}) && {origin_ok}`"
    );
    if let (Headers::Mirror, _) = (&m.headers, ()) {
        let _ = writeln!(
            w,
            "\t\t@corsgate_mirror expression `{ok} && !{ACRH}.matches({})`",
            raw(&hexre::blank_list())
        );
    }
    if m.private_network {
        let _ = writeln!(
            w,
            "\t\t@corsgate_private_network expression `{ok} && {ACRPN}.matches(r\"^(?i)true$\")`"
        );
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "\t\t# Set now (not deferred): on every status, Caddy's own errors included."
    );
    let _ = writeln!(w, "\t\theader @corsgate_preflight_ok {{");
    if m.any {
        let _ = writeln!(w, "\t\t\tAccess-Control-Allow-Origin *");
    } else {
        let _ = writeln!(w, "\t\t\tAccess-Control-Allow-Origin {ORIGIN}");
    }
    if m.credentials {
        let _ = writeln!(w, "\t\t\tAccess-Control-Allow-Credentials true");
    }
    let _ = writeln!(w, "\t\t\tAccess-Control-Allow-Methods {ACRM}");
    if let Some(v) = m.allow_headers_list() {
        let _ = writeln!(w, "\t\t\tAccess-Control-Allow-Headers \"{v}\"");
    }
    if let Some(a) = m.max_age {
        let _ = writeln!(w, "\t\t\tAccess-Control-Max-Age {a}");
    }
    let _ = writeln!(w, "\t\t}}");
    if matches!(m.headers, Headers::Mirror) {
        let _ = writeln!(
            w,
            "\t\theader @corsgate_mirror Access-Control-Allow-Headers {ACRH}"
        );
    }
    if m.private_network {
        let _ = writeln!(
            w,
            "\t\theader @corsgate_private_network Access-Control-Allow-Private-Network true"
        );
    }
    let _ = writeln!(
        w,
        "\t\theader @corsgate_preflight Vary \"{}\"",
        m.preflight_vary()
    );
    let _ = writeln!(
        w,
        "\t\t# Preflights are answered here, never proxied: 204 with the headers, or 403 without."
    );
    let _ = writeln!(w, "\t\trespond @corsgate_preflight_ok 204");
    let _ = writeln!(w, "\t\trespond @corsgate_preflight 403");
    let _ = writeln!(w);
    let _ = writeln!(w, "\t\theader @corsgate_actual {{");
    if m.any {
        let _ = writeln!(w, "\t\t\tAccess-Control-Allow-Origin *");
    } else {
        let _ = writeln!(w, "\t\t\tAccess-Control-Allow-Origin {ORIGIN}");
    }
    if m.credentials {
        let _ = writeln!(w, "\t\t\tAccess-Control-Allow-Credentials true");
    }
    if let Some(v) = m.expose_value() {
        let _ = writeln!(w, "\t\t\tAccess-Control-Expose-Headers \"{v}\"");
    }
    let _ = writeln!(w, "\t\t}}");
    if !m.any {
        let _ = writeln!(
            w,
            "\t\t# The answer depends on Origin: on every answer, refused and Origin-less ones too."
        );
        let _ = writeln!(w, "\t\theader +Vary Origin");
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "\t\t# ---- your authentication (basicauth, forward_auth...) here, after the preflight answers"
    );
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "\t\t# The upstream's own CORS headers are dropped: one source of truth, never two values."
    );
    let _ = writeln!(w, "\t\treverse_proxy {} {{", site.upstream_authority);
    for h in CORS_RESPONSE_HEADERS {
        let _ = writeln!(w, "\t\t\theader_down -{h}");
    }
    let _ = writeln!(w, "\t\t}}");
    let _ = writeln!(w, "\t}}");
    let _ = writeln!(w, "}}");
    Ok(o)
}
