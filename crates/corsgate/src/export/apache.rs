//! Apache httpd 2.4: server config or `<VirtualHost>` context.
//!
//! Every decision about the request's headers is an environment variable set
//! by `SetEnvIfExpr` at server scope, in the post-read-request phase, before
//! anything else runs. Nothing there looks at the path: at that phase
//! `REQUEST_URI` is still the raw request target (`/%61pi/` is not `/api/`
//! yet), so a path test there can be sidestepped. Which paths the policy
//! covers is decided by a `<Location>` section instead, matched on the path
//! Apache has decoded, dot-resolved and slash-merged, and that section holds
//! the `ProxyPass` too: a request is proxied only where the policy's headers
//! apply. mod_rewrite answers preflights at server scope in the
//! translate-name phase (the same normalized path, before authentication and
//! before the proxy); mod_headers sets the CORS headers in the `always` table
//! (every status, locally generated answers included) after unsetting the
//! upstream's copies from both tables.

use std::fmt::Write as _;

use super::{comment, header_comment, Headers, Model, Site, CORS_RESPONSE_HEADERS, REFUSED_PATH};

fn set_env(w: &mut String, cond: &str, var: &str) {
    let _ = writeln!(w, "SetEnvIfExpr \"{cond}\" {var}");
}

fn on(var: &str) -> String {
    format!("-n reqenv('{var}')")
}

fn off(var: &str) -> String {
    format!("-z reqenv('{var}')")
}

pub(crate) fn render(m: &Model, site: &Site, source: &str) -> String {
    let mut o = String::new();
    let mut lines = header_comment(m, source, "apache");
    lines.extend(
        [
            "",
            "Context: the <VirtualHost> that serves these requests, or the server config when",
            "there is none (a virtual host does not inherit the main server's RewriteRules);",
            "not inside a <Location>, not .htaccess. The variables are set right after the",
            "request is read; preflights are answered once Apache has normalized the path,",
            "before authentication and before the proxy.",
            "Modules: headers, setenvif, rewrite, proxy, proxy_http",
            "  (Debian: a2enmod headers setenvif rewrite proxy proxy_http).",
            "",
            "What Apache cannot check, and the browser still enforces:",
            " - several Origin or Access-Control-Request-* lines are joined by Apache with ', ';",
            "   a joined Origin matches nothing, so it is refused as corsgate refuses it, but",
            "   several Access-Control-Request-Headers lines are read as one list;",
            " - an empty Origin or Access-Control-Request-Method counts as absent;",
            " - corsgate's limits on Access-Control-Request-Headers (128 names, 16 empty",
            "   elements, 8 KiB) are not counted; the names themselves are checked.",
            "If your vhost has its own RewriteRules, keep these first; with `RewriteOptions",
            "Inherit` in a <Directory>, these are not repeated there.",
        ]
        .map(String::from),
    );
    comment(&mut o, &lines);
    let w = &mut o;
    let _ = writeln!(w);

    let _ = writeln!(
        w,
        "# Nothing here tests the path: at this phase it is still the raw request target."
    );
    let _ = writeln!(
        w,
        "# The <Location> below decides which paths the policy covers, on the normalized path."
    );
    let _ = writeln!(w);

    // Origin.
    let _ = writeln!(
        w,
        "# An allowed origin (req_novary: the Vary header is set below, once)."
    );
    if m.any {
        let _ = writeln!(
            w,
            "# Any origin: Access-Control-Allow-Origin: * (never with credentials)."
        );
        set_env(w, "true", "CORSGATE_ORIGIN");
    } else {
        if !m.exact.is_empty() {
            let list = m
                .exact
                .iter()
                .map(|e| format!("'{e}'"))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(w, "# Exact origins, compared byte for byte.");
            set_env(
                w,
                &format!("req_novary('Origin') in {{ {list} }}"),
                "CORSGATE_ORIGIN",
            );
        }
        for p in &m.patterns {
            let what = p.describe();
            let _ = writeln!(w, "# {}: {what}", p.entry);
            set_env(
                w,
                &format!("req_novary('Origin') =~ m#{}#", p.regex(true)),
                "CORSGATE_ORIGIN",
            );
        }
    }
    let _ = writeln!(w);

    // Classification and checks.
    let _ = writeln!(
        w,
        "# A preflight is exactly OPTIONS with Origin and Access-Control-Request-Method; a bare"
    );
    let _ = writeln!(w, "# OPTIONS is an ordinary request and is proxied.");
    set_env(
        w,
        "%{REQUEST_METHOD} == 'OPTIONS' && -n req_novary('Origin') && -n req_novary('Access-Control-Request-Method')",
        "CORSGATE_PREFLIGHT",
    );
    let _ = writeln!(
        w,
        "# The requested method, compared case-sensitively as browsers do (`patch` is not `PATCH`)."
    );
    set_env(
        w,
        &format!(
            "{} && req_novary('Access-Control-Request-Method') =~ /{}/",
            on("CORSGATE_PREFLIGHT"),
            m.method_regex()
        ),
        "CORSGATE_METHOD_OK",
    );
    let _ = writeln!(
        w,
        "{}",
        match &m.headers {
            Headers::Mirror =>
                "# Requested headers: any well-formed list of names is allowed and echoed.",
            Headers::List(l) if l.is_empty() =>
                "# Requested headers: none are allowed beyond the CORS-safelisted ones.",
            Headers::List(_) =>
                "# Requested headers: every name must be in the list (any case, any order, spaces).",
        }
    );
    set_env(
        w,
        &format!(
            "{} && req_novary('Access-Control-Request-Headers') =~ /{}/i",
            on("CORSGATE_PREFLIGHT"),
            m.headers_regex()
        ),
        "CORSGATE_HEADERS_OK",
    );
    let _ = writeln!(w, "# The answer.");
    set_env(
        w,
        &format!(
            "{} && {} && {} && {}",
            on("CORSGATE_PREFLIGHT"),
            on("CORSGATE_ORIGIN"),
            on("CORSGATE_METHOD_OK"),
            on("CORSGATE_HEADERS_OK")
        ),
        "CORSGATE_PREFLIGHT_OK",
    );
    set_env(
        w,
        &format!(
            "{} && {}",
            on("CORSGATE_PREFLIGHT"),
            off("CORSGATE_PREFLIGHT_OK")
        ),
        "CORSGATE_PREFLIGHT_REFUSED",
    );
    set_env(
        w,
        &format!("{} && {}", on("CORSGATE_ORIGIN"), off("CORSGATE_PREFLIGHT")),
        "CORSGATE_ACTUAL",
    );
    set_env(
        w,
        &format!(
            "{} || {}",
            on("CORSGATE_ACTUAL"),
            on("CORSGATE_PREFLIGHT_OK")
        ),
        "CORSGATE_ALLOW",
    );
    if matches!(m.headers, Headers::Mirror) {
        set_env(
            w,
            &format!(
                "{} && req_novary('Access-Control-Request-Headers') !~ /^[ \\t,]*$/",
                on("CORSGATE_PREFLIGHT_OK")
            ),
            "CORSGATE_MIRROR_HEADERS",
        );
    }
    if m.private_network {
        set_env(
            w,
            &format!(
                "{} && req_novary('Access-Control-Request-Private-Network') =~ /^true$/i",
                on("CORSGATE_PREFLIGHT_OK")
            ),
            "CORSGATE_PRIVATE_NETWORK",
        );
    }
    if let (true, Some(_)) = (m.any, m.expose_value()) {
        // Any origin: also on requests without an Origin, as Policy::decide does (for caches).
        set_env(w, &off("CORSGATE_PREFLIGHT"), "CORSGATE_EXPOSE");
    }
    let _ = writeln!(w);

    let covered = site.path_regex();
    let _ = writeln!(
        w,
        "# At server scope mod_rewrite runs after Apache has decoded the path, resolved dot"
    );
    let _ = writeln!(
        w,
        "# segments and merged slashes (the path the <Location> and ProxyPass see), and before"
    );
    let _ = writeln!(w, "# authentication.");
    let _ = writeln!(w, "RewriteEngine On");
    let _ = writeln!(
        w,
        "# Paths refused in the whole server (400), so that no other ProxyPass or RewriteRule of it"
    );
    let _ = writeln!(
        w,
        "# can hand the upstream a path it may read as this location: `..;` and `.;` segments, dot"
    );
    let _ = writeln!(
        w,
        "# segments next to an encoded slash, backslashes (Tomcat, IIS and lenient decoders read"
    );
    let _ = writeln!(
        w,
        "# them as `..` or `/`); and the prefix in another case, with a path parameter (`/api;x/`)"
    );
    let _ = writeln!(
        w,
        "# or trailing dots (`/api./`, as Windows reads it), or a letter still encoded (`%2561pi`)."
    );
    let _ = writeln!(w, "RewriteCond %{{REQUEST_URI}} \"{REFUSED_PATH}\"");
    let _ = writeln!(w, "RewriteRule ^ - [R=400,L]");
    if let Some(variant) = site.variant_regex() {
        let _ = writeln!(w, "RewriteCond %{{REQUEST_URI}} \"!{covered}\"");
        let _ = writeln!(w, "RewriteRule \"{variant}\" - [NC,R=400,L]");
    }
    let _ = writeln!(
        w,
        "# Preflights under the location are answered here, never proxied: 204 with the headers,"
    );
    let _ = writeln!(
        w,
        "# or 403 without. The pattern takes any number of slashes, as <Location> does."
    );
    let _ = writeln!(w, "RewriteCond %{{ENV:CORSGATE_PREFLIGHT_OK}} =1");
    let _ = writeln!(w, "RewriteRule \"{covered}\" - [R=204,L]");
    let _ = writeln!(w, "RewriteCond %{{ENV:CORSGATE_PREFLIGHT_REFUSED}} =1");
    let _ = writeln!(w, "RewriteRule \"{covered}\" - [F,L]");
    let _ = writeln!(w);

    let _ = writeln!(
        w,
        "# The paths the policy covers, matched on the normalized path. The proxy is inside:"
    );
    let _ = writeln!(
        w,
        "# no request reaches the upstream through here without the policy's headers."
    );
    let _ = writeln!(w, "<Location \"{}\">", site.location);
    let _ = writeln!(
        w,
        "    # The upstream's own CORS headers are dropped from both tables (a proxied answer's"
    );
    let _ = writeln!(
        w,
        "    # headers and the `always` ones are kept apart): one source of truth, never two values."
    );
    for h in CORS_RESPONSE_HEADERS {
        let _ = writeln!(w, "    Header unset {h}");
        let _ = writeln!(w, "    Header always unset {h}");
    }
    let _ = writeln!(
        w,
        "    # `always`: on every status, so pages can read 401, 404 and 500 answers."
    );
    let acao = if m.any {
        "\"*\"".to_owned()
    } else {
        "\"expr=%{req_novary:Origin}\"".to_owned()
    };
    let _ = writeln!(
        w,
        "    Header always set Access-Control-Allow-Origin {acao} env=CORSGATE_ALLOW"
    );
    if m.credentials {
        let _ = writeln!(
            w,
            "    Header always set Access-Control-Allow-Credentials \"true\" env=CORSGATE_ALLOW"
        );
    }
    let _ = writeln!(
        w,
        "    Header always set Access-Control-Allow-Methods \"expr=%{{req_novary:Access-Control-Request-Method}}\" env=CORSGATE_PREFLIGHT_OK"
    );
    match &m.headers {
        Headers::Mirror => {
            let _ = writeln!(
                w,
                "    Header always set Access-Control-Allow-Headers \"expr=%{{req_novary:Access-Control-Request-Headers}}\" env=CORSGATE_MIRROR_HEADERS"
            );
        }
        Headers::List(_) => {
            if let Some(v) = m.allow_headers_list() {
                let _ = writeln!(
                    w,
                    "    Header always set Access-Control-Allow-Headers \"{v}\" env=CORSGATE_PREFLIGHT_OK"
                );
            }
        }
    }
    if let Some(age) = m.max_age {
        let _ = writeln!(
            w,
            "    Header always set Access-Control-Max-Age \"{age}\" env=CORSGATE_PREFLIGHT_OK"
        );
    }
    if let Some(v) = m.expose_value() {
        let expose_var = if m.any {
            "CORSGATE_EXPOSE"
        } else {
            "CORSGATE_ACTUAL"
        };
        let _ = writeln!(
            w,
            "    Header always set Access-Control-Expose-Headers \"{v}\" env={expose_var}"
        );
    }
    if m.private_network {
        let _ = writeln!(
            w,
            "    Header always set Access-Control-Allow-Private-Network \"true\" env=CORSGATE_PRIVATE_NETWORK"
        );
    }
    let _ = writeln!(
        w,
        "    # Vary: answers depend on these request headers (merge: never twice, never clobbering)."
    );
    if !m.any {
        let _ = writeln!(w, "    Header always merge Vary \"Origin\"");
    }
    let rest = m.preflight_vary();
    let rest = rest.strip_prefix("Origin, ").unwrap_or(&rest);
    let _ = writeln!(
        w,
        "    Header always merge Vary \"{rest}\" env=CORSGATE_PREFLIGHT"
    );
    let _ = writeln!(
        w,
        "    # Actual requests go to the upstream, with the path Apache matched (decoded, dot"
    );
    let _ = writeln!(
        w,
        "    # segments resolved, slashes merged, then percent-encoded again)."
    );
    let target = match &site.upstream_path {
        Some(_) => site.upstream.clone(),
        None => format!("{}{}", site.upstream_authority, site.location),
    };
    let _ = writeln!(w, "    ProxyPass \"{target}\"");
    let _ = writeln!(w, "    ProxyPassReverse \"{target}\"");
    let _ = writeln!(w, "</Location>");
    o
}
