//! nginx: `map` blocks for the http context, a `location` for the server
//! context. Every decision is a `map` (evaluated lazily, once per request);
//! the location only adds headers (`always`, so on every status), hides the
//! upstream's CORS headers, and answers preflights with the one safe form of
//! `if` (`return`).

use std::fmt::Write as _;

use super::{comment, header_comment, Headers, Model, Site, CORS_RESPONSE_HEADERS, REFUSED_PATH};

/// The marker line between the http-context part and the server-context part.
pub(super) const SERVER_PART: &str = "# ---- server {} context";

/// An nginx quoted string (our values never hold `"` or `\`; `$` only where a
/// variable is meant, or inside a regex, which nginx does not expand).
fn q(s: &str) -> String {
    format!("\"{s}\"")
}

pub(crate) fn render(m: &Model, site: &Site, source: &str) -> String {
    let mut o = String::new();
    comment(&mut o, &header_comment(m, source, "nginx"));
    let w = &mut o;
    let _ = writeln!(w, "#");
    let _ = writeln!(
        w,
        "# What nginx cannot check, and the browser still enforces:"
    );
    let _ = writeln!(
        w,
        "#  - nginx reads only the first Origin, Access-Control-Request-Method and"
    );
    let _ = writeln!(
        w,
        "#    Access-Control-Request-Headers line (browsers send one of each); an empty"
    );
    let _ = writeln!(
        w,
        "#    Origin or Access-Control-Request-Method counts as absent."
    );
    let _ = writeln!(
        w,
        "#  - exact origins are compared ignoring case (nginx map keys); the answer"
    );
    let _ = writeln!(
        w,
        "#    names the policy's own lower-case origin, which a browser would refuse for"
    );
    let _ = writeln!(
        w,
        "#    an upper-case Origin (browsers always send lower case)."
    );
    let _ = writeln!(
        w,
        "#  - corsgate's limits on Access-Control-Request-Headers (128 names, 16 empty"
    );
    let _ = writeln!(
        w,
        "#    elements, 8 KiB) are not counted; the names themselves are checked."
    );
    let _ = writeln!(
        w,
        "#  - nginx before 1.29 takes an upstream's 1xx (103 Early Hints) for the final answer"
    );
    let _ = writeln!(
        w,
        "#    and relays the real one after it unfiltered, the upstream's own CORS headers"
    );
    let _ = writeln!(
        w,
        "#    included: behind nginx < 1.29 the upstream must send no 1xx (RFC 9110 forbids"
    );
    let _ = writeln!(
        w,
        "#    them to the HTTP/1.0 requests nginx sends; no directive can drop them)."
    );
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "# ---- http {{}} context (maps must be at http level) ----"
    );
    let _ = writeln!(w);

    // 1. Origin → the Access-Control-Allow-Origin to send ("" = refused).
    let _ = writeln!(
        w,
        "# The Access-Control-Allow-Origin an origin gets; empty = not allowed (no header)."
    );
    let _ = writeln!(w, "map $http_origin $corsgate_allow_origin {{");
    if m.any {
        let _ = writeln!(
            w,
            "    default \"*\";                # any origin, never with credentials"
        );
    } else {
        let _ = writeln!(w, "    default \"\";");
        if !m.exact.is_empty() {
            let _ = writeln!(
                w,
                "    # exact origins: a hash lookup; the value is the policy's own spelling"
            );
        }
        for e in &m.exact {
            let _ = writeln!(w, "    {} {};", q(e), q(e));
        }
        for p in &m.patterns {
            let what = p.describe();
            let _ = writeln!(w, "    # {}: {what}", p.entry);
            let _ = writeln!(w, "    {} $http_origin;", q(&format!("~{}", p.regex(true))));
        }
    }
    let _ = writeln!(w, "}}");
    let _ = writeln!(w);

    // 2. Classification.
    let _ = writeln!(
        w,
        "# A preflight is exactly OPTIONS with Origin and Access-Control-Request-Method; a bare"
    );
    let _ = writeln!(w, "# OPTIONS is an ordinary request and is proxied.");
    let _ = writeln!(
        w,
        "map $http_origin $corsgate_has_origin {{ \"\" 0; default 1; }}"
    );
    let _ = writeln!(
        w,
        "map $http_access_control_request_method $corsgate_has_acrm {{ \"\" 0; default 1; }}"
    );
    let _ = writeln!(
        w,
        "map \"$request_method:$corsgate_has_origin:$corsgate_has_acrm\" $corsgate_preflight {{ default 0; \"~^OPTIONS:1:1$\" 1; }}"
    );
    let _ = writeln!(
        w,
        "map $corsgate_allow_origin $corsgate_origin_ok {{ \"\" 0; default 1; }}"
    );
    let _ = writeln!(w);

    // 3. Method.
    let _ = writeln!(
        w,
        "# The requested method, compared case-sensitively as browsers do (`patch` is not `PATCH`)."
    );
    let _ = writeln!(
        w,
        "map $http_access_control_request_method $corsgate_method_ok {{ default 0; {} 1; }}",
        q(&format!("~{}", m.method_regex()))
    );
    let _ = writeln!(w);

    // 4. Request headers. (nginx skips a map's regexes for an empty value: the
    // absent header is the explicit "" key.)
    match &m.headers {
        Headers::Mirror => {
            let _ = writeln!(
                w,
                "# Requested headers: any well-formed list of names is allowed and echoed."
            );
        }
        Headers::List(l) if l.is_empty() => {
            let _ = writeln!(
                w,
                "# Requested headers: none are allowed beyond the CORS-safelisted ones."
            );
        }
        Headers::List(_) => {
            let _ = writeln!(
                w,
                "# Requested headers: every name must be in the list (any case, any order, spaces)."
            );
        }
    }
    let _ = writeln!(
        w,
        "map $http_access_control_request_headers $corsgate_headers_ok {{ default 0; \"\" 1; {} 1; }}",
        q(&format!("~*{}", m.headers_regex()))
    );
    if matches!(m.headers, Headers::Mirror) {
        let _ = writeln!(
            w,
            "map $http_access_control_request_headers $corsgate_mirror_headers {{ \"~^[ \\t,]*$\" \"\"; default $http_access_control_request_headers; }}"
        );
    }
    let _ = writeln!(w);

    // 5. The answer.
    let _ = writeln!(
        w,
        "# The answer: pass (proxy, adding headers), 204 (allowed preflight) or 403 (refused preflight)."
    );
    let _ = writeln!(
        w,
        "map \"$corsgate_preflight$corsgate_origin_ok$corsgate_method_ok$corsgate_headers_ok\" $corsgate_answer {{"
    );
    let _ = writeln!(w, "    default pass;");
    let _ = writeln!(w, "    \"~^1111$\" 204;");
    let _ = writeln!(w, "    \"~^1\" 403;");
    let _ = writeln!(w, "}}");
    let _ = writeln!(w);

    // 6. Header values.
    let _ = writeln!(
        w,
        "# Header values; an empty value means nginx sends no header."
    );
    let _ = writeln!(
        w,
        "map $corsgate_answer $corsgate_acao {{ 403 \"\"; default $corsgate_allow_origin; }}"
    );
    if m.credentials {
        let _ = writeln!(
            w,
            "map \"$corsgate_answer:$corsgate_origin_ok\" $corsgate_acac {{ \"~^(?:pass|204):1$\" \"true\"; default \"\"; }}"
        );
    }
    // The requested method itself (Policy::decide's answer under a list too).
    let _ = writeln!(
        w,
        "map $corsgate_answer $corsgate_acam {{ 204 $http_access_control_request_method; default \"\"; }}"
    );
    let acah = match &m.headers {
        Headers::Mirror => Some("$corsgate_mirror_headers".to_owned()),
        Headers::List(_) => m.allow_headers_list().map(|v| q(&v)),
    };
    if let Some(acah) = &acah {
        let _ = writeln!(
            w,
            "map $corsgate_answer $corsgate_acah {{ 204 {acah}; default \"\"; }}"
        );
    }
    if let Some(age) = m.max_age {
        let _ = writeln!(
            w,
            "map $corsgate_answer $corsgate_acma {{ 204 \"{age}\"; default \"\"; }}"
        );
    }
    if let Some(expose) = m.expose_value() {
        let _ = writeln!(
            w,
            "map \"$corsgate_answer:$corsgate_origin_ok\" $corsgate_aceh {{ \"pass:1\" {}; default \"\"; }}",
            q(&expose)
        );
    }
    if m.private_network {
        let _ = writeln!(
            w,
            "map \"$corsgate_answer:$http_access_control_request_private_network\" $corsgate_acapn {{ \"~*^204:true$\" \"true\"; default \"\"; }}"
        );
    }
    let pass_vary = if m.any { "\"\"" } else { "\"Origin\"" };
    let _ = writeln!(
        w,
        "map $corsgate_answer $corsgate_vary {{ pass {pass_vary}; default {}; }}",
        q(&m.preflight_vary())
    );
    let _ = writeln!(w);

    // Paths refused in the whole server. Map regexes are tried in order.
    let _ = writeln!(
        w,
        "# Paths refused in the whole server (400), so that no other location of it can hand the"
    );
    let _ = writeln!(
        w,
        "# upstream a path it may read as this one: `..;` and `.;` segments, dot segments next to an"
    );
    let _ = writeln!(
        w,
        "# encoded slash, backslashes; and the prefix in another case, with a path parameter"
    );
    let _ = writeln!(
        w,
        "# (`/api;x/`), trailing dots (`/api./`, as Windows reads it) or a letter still encoded (`%2561pi`),"
    );
    let _ = writeln!(
        w,
        "# also with nothing after it (`/API`, `/api.`: `/api/` to a case-insensitive upstream)."
    );
    let _ = writeln!(w, "map $uri $corsgate_refused_path {{");
    let _ = writeln!(w, "    default 0;");
    let _ = writeln!(w, "    {} 1;", q(&format!("~{REFUSED_PATH}")));
    if let Some(variant) = site.variant_regex() {
        let _ = writeln!(
            w,
            "    {} 0;   # the location itself",
            q(&format!("~^{}", super::escape(&site.location)))
        );
        if let Some(bare) = site.location.strip_suffix('/').filter(|b| !b.is_empty()) {
            let _ = writeln!(
                w,
                "    {} 0;   # nginx redirects it to the location (301)",
                q(&format!("~^{}$", super::escape(bare)))
            );
        }
        let _ = writeln!(w, "    {} 1;", q(&format!("~*{variant}")));
    }
    let _ = writeln!(w, "}}");
    let _ = writeln!(w);

    // The location.
    let _ = writeln!(w, "{SERVER_PART} (inside your server block) ----");
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "# At server level (before any location is chosen): the refused paths above."
    );
    let _ = writeln!(w, "if ($corsgate_refused_path) {{ return 400; }}");
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "# nginx matches the normalized path: percent-decoded, dot segments resolved, slashes merged"
    );
    let _ = writeln!(
        w,
        "# (merge_slashes on, the default). `^~`: no regex location elsewhere in the server can take"
    );
    let _ = writeln!(w, "# a path under this prefix away from the policy.");
    if !site.location.ends_with('/') {
        let _ = writeln!(
            w,
            "# A prefix without a trailing slash is a string prefix: `{0}` also covers `{0}x` and",
            site.location
        );
        let _ = writeln!(
            w,
            "# `{}-admin/` (the policy applies there too). End --location with `/` to cover one tree.",
            site.location
        );
    }
    let _ = writeln!(w, "location ^~ {} {{", site.location);
    let _ = writeln!(
        w,
        "    # add_header here replaces every add_header inherited from the server level"
    );
    let _ = writeln!(
        w,
        "    # (HSTS, CSP...): repeat those here, or use `add_header_inherit merge;` (nginx >= 1.29.3)."
    );
    let _ = writeln!(
        w,
        "    # `always`: on every status, so pages can read 401, 404 and 500 answers."
    );
    let _ = writeln!(
        w,
        "    add_header Access-Control-Allow-Origin $corsgate_acao always;"
    );
    if m.credentials {
        let _ = writeln!(
            w,
            "    add_header Access-Control-Allow-Credentials $corsgate_acac always;"
        );
    }
    let _ = writeln!(
        w,
        "    add_header Access-Control-Allow-Methods $corsgate_acam always;"
    );
    if acah.is_some() {
        let _ = writeln!(
            w,
            "    add_header Access-Control-Allow-Headers $corsgate_acah always;"
        );
    }
    if m.max_age.is_some() {
        let _ = writeln!(
            w,
            "    add_header Access-Control-Max-Age $corsgate_acma always;"
        );
    }
    if m.expose_value().is_some() {
        let _ = writeln!(
            w,
            "    add_header Access-Control-Expose-Headers $corsgate_aceh always;"
        );
    }
    if m.private_network {
        let _ = writeln!(
            w,
            "    add_header Access-Control-Allow-Private-Network $corsgate_acapn always;"
        );
    }
    let _ = writeln!(w, "    add_header Vary $corsgate_vary always;");
    let _ = writeln!(
        w,
        "    # The upstream's own CORS headers are dropped: one source of truth, never two values."
    );
    for h in CORS_RESPONSE_HEADERS {
        let _ = writeln!(w, "    proxy_hide_header {h};");
    }
    let _ = writeln!(
        w,
        "    # Preflights are answered here, before any auth_request or upstream."
    );
    let _ = writeln!(w, "    if ($corsgate_answer = 204) {{ return 204; }}");
    let _ = writeln!(w, "    if ($corsgate_answer = 403) {{ return 403; }}");
    let _ = writeln!(
        w,
        "    # With a URI part, nginx sends the path it matched (normalized, then percent-encoded"
    );
    let _ = writeln!(
        w,
        "    # again), not the raw request target: the upstream serves what the policy covered."
    );
    let target = match &site.upstream_path {
        Some(_) => site.upstream.clone(),
        None => format!("{}{}", site.upstream_authority, site.location),
    };
    let _ = writeln!(w, "    proxy_pass {target};");
    let _ = writeln!(w, "}}");
    o
}
