//! Kubernetes Gateway API: an `HTTPRoute` (`gateway.networking.k8s.io/v1`)
//! whose rule carries the `CORS` filter (experimental channel from v1.3.0,
//! standard channel from v1.5.0, GEP-1767) and a `ResponseHeaderModifier`
//! (`Vary: Origin`, the upstream's CORS headers removed).
//!
//! The filter's fields say less than a corsgate policy, so what they cannot
//! say is refused (exit 2, with the reason), never exported weaker: origins
//! with any port (`:*`), hosts the field's pattern refuses (IPv6 literals,
//! `_`), methods outside the field's enum (lower-case `patch`, extension
//! methods), `max_age = 0` (the field's minimum is 1), Private Network
//! Access, an https upstream (a `BackendTLSPolicy`, not a route). What the
//! implementation does with the rest (refusing preflights for unlisted
//! methods or headers, answering them before authentication) is its own;
//! `corsgate test` checks it once deployed.

use std::fmt::Write as _;

use super::{header_comment, Headers, Methods, Model, Site, CORS_RESPONSE_HEADERS};
use corsgate_core::origin_set::PortSpec;

/// The methods the `allowMethods` field accepts (besides `*`).
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// A YAML double-quoted string (our values hold no `"`, `\` or control bytes).
fn yq(s: &str) -> String {
    format!("\"{s}\"")
}

/// A host the `allowOrigins` pattern accepts: DNS labels of letters, digits
/// and `-`.
fn host_ok(h: &str) -> bool {
    !h.is_empty()
        && h.split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// The origin as `allowOrigins` spells it, or why it cannot.
fn origin_entry(origin: &str) -> Result<String, String> {
    let (scheme, rest) = origin
        .split_once("://")
        .ok_or_else(|| format!("'{origin}' is not scheme://host[:port]"))?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    let host_part = host.strip_prefix("*.").unwrap_or(host);
    if !host_ok(host_part) {
        return Err(format!(
            "origin '{origin}': the Gateway API's allowOrigins takes DNS names and IPv4 addresses only (letters, digits, '-' and '.'), not this host"
        ));
    }
    if !matches!(scheme, "http" | "https") {
        return Err(format!("origin '{origin}': only http and https origins"));
    }
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("origin '{origin}': bad port"));
        }
    }
    Ok(origin.to_owned())
}

/// The Kubernetes Service an `--upstream` names: `http://SERVICE[.NAMESPACE[.svc[.cluster.local]]][:PORT]`.
fn service(site: &Site) -> Result<(String, Option<String>, u16), String> {
    if site.upstream_tls {
        return Err(format!(
            "--upstream '{}': TLS to the backend is a BackendTLSPolicy in the Gateway API, not part of an HTTPRoute; export with http:// and attach a BackendTLSPolicy to the Service",
            site.upstream
        ));
    }
    let (host, port) = site.host_port();
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.as_bytes()[0].is_ascii_lowercase()
    };
    let parts: Vec<&str> = host.split('.').collect();
    let ok = match parts.as_slice() {
        [name] => label(name),
        [name, ns] | [name, ns, "svc"] | [name, ns, "svc", "cluster", "local"] => {
            label(name) && label(ns)
        }
        _ => false,
    };
    if !ok {
        return Err(format!(
            "--upstream '{}' must name a Kubernetes Service for an HTTPRoute: http://SERVICE[.NAMESPACE][:PORT] (lower-case DNS labels), not an address",
            site.upstream
        ));
    }
    Ok((
        parts[0].to_owned(),
        parts.get(1).map(|s| (*s).to_owned()),
        port,
    ))
}

pub(crate) fn render(
    m: &Model,
    site: &Site,
    source: &str,
    name: Option<&str>,
) -> Result<String, String> {
    // What the filter cannot say: refused, never exported weaker.
    if m.private_network {
        return Err(
            "private_network = true: the Gateway API's CORS filter has no Private Network Access field".into(),
        );
    }
    if m.any && m.credentials {
        // Validation refuses it; the filter would then reflect every origin
        // with credentials ("must return a single origin"): never emitted.
        return Err("origins = [\"*\"] with credentials is never exported".into());
    }
    let mut origins = Vec::new();
    if m.any {
        origins.push("*".to_owned());
    }
    for e in &m.exact {
        origins.push(origin_entry(e)?);
    }
    for p in &m.patterns {
        match p.port {
            PortSpec::Any => {
                return Err(format!(
                    "origin '{}': the Gateway API's allowOrigins cannot say \"any port\" (a wildcard is only allowed in the host); list the ports",
                    p.entry
                ))
            }
            PortSpec::Default | PortSpec::Exact(_) => {}
        }
        if !p.subdomains {
            return Err(format!(
                "origin '{}': the Gateway API's allowOrigins has no pattern for this entry",
                p.entry
            ));
        }
        origins.push(origin_entry(&p.entry)?);
    }
    if origins.len() > 64 {
        return Err(format!(
            "{} origins: the Gateway API's allowOrigins takes at most 64",
            origins.len()
        ));
    }
    let methods: Vec<String> = match &m.methods {
        Methods::Any => vec!["*".into()],
        Methods::List(l) => {
            for x in l {
                if !METHODS.contains(&x.as_str()) {
                    return Err(format!(
                        "method '{x}': the Gateway API's allowMethods takes only {} (compared case-sensitively)",
                        METHODS.join(", ")
                    ));
                }
            }
            l.clone()
        }
    };
    if m.max_age == Some(0) {
        return Err(
            "max_age = 0: the Gateway API's maxAge is at least 1 second (0, no caching, cannot be said)"
                .into(),
        );
    }
    let (svc, ns, port) = service(site)?;
    let route_name = match name {
        Some(n) => format!("corsgate-{}", n.to_ascii_lowercase().replace('_', "-")),
        None => "corsgate".into(),
    };

    let mut o = String::new();
    let mut lines = header_comment(m, source, "gateway-api");
    lines.extend(
        [
            "",
            "Gateway API v1.5.0 or later, standard channel (the CORS filter is in the experimental",
            "channel from v1.3.0: there, use the same object). Set parentRefs to your Gateway.",
            "What the CORS filter leaves to the implementation, and the browser still enforces:",
            " - preflights for methods or headers not listed are answered with the lists (the",
            "   browser refuses what is not listed), not refused with 403;",
            " - whether preflights are answered before authentication filters, and whether the",
            "   ResponseHeaderModifier below applies to the filter's own answers;",
            " - path normalisation (dot segments, encoded slashes) before PathPrefix matching.",
            "Verify the deployed route with `corsgate test URL --policy POLICY`.",
        ]
        .map(String::from),
    );
    if matches!(m.headers, Headers::Mirror) && !m.credentials {
        lines.push(
            "allowHeaders [\"*\"] without credentials: an implementation may answer `*`, which does"
                .into(),
        );
        lines.push(
            "not cover Authorization (corsgate echoes the requested names): list it if pages send it."
                .into(),
        );
    }
    for l in &lines {
        if l.is_empty() {
            o.push_str("#\n");
        } else {
            let _ = writeln!(o, "# {l}");
        }
    }
    let w = &mut o;
    let _ = writeln!(w, "apiVersion: gateway.networking.k8s.io/v1");
    let _ = writeln!(w, "kind: HTTPRoute");
    let _ = writeln!(w, "metadata:");
    let _ = writeln!(w, "  name: {route_name}");
    if let Some(ns) = &ns {
        let _ = writeln!(w, "  namespace: {ns}");
    }
    let _ = writeln!(w, "spec:");
    let _ = writeln!(w, "  parentRefs:");
    let _ = writeln!(w, "  - name: gateway   # your Gateway");
    let _ = writeln!(w, "  rules:");
    let _ = writeln!(w, "  - matches:");
    let _ = writeln!(w, "    - path:");
    let _ = writeln!(w, "        type: PathPrefix");
    let _ = writeln!(w, "        value: {}", yq(&site.location));
    let _ = writeln!(w, "    filters:");
    let _ = writeln!(w, "    - type: CORS");
    let _ = writeln!(w, "      cors:");
    let _ = writeln!(w, "        allowOrigins:");
    for e in &origins {
        let _ = writeln!(w, "        - {}", yq(e));
    }
    let _ = writeln!(w, "        allowMethods:");
    for x in &methods {
        let _ = writeln!(w, "        - {}", yq(x));
    }
    match &m.headers {
        Headers::Mirror => {
            let _ = writeln!(w, "        allowHeaders:");
            let _ = writeln!(
                w,
                "        - \"*\"   # with credentials, the requested names are echoed"
            );
        }
        Headers::List(l) if !l.is_empty() => {
            let _ = writeln!(w, "        allowHeaders:");
            for h in l {
                let _ = writeln!(w, "        - {}", yq(h));
            }
        }
        Headers::List(_) => {}
    }
    if !m.expose.is_empty() {
        let _ = writeln!(w, "        exposeHeaders:");
        for h in &m.expose {
            let _ = writeln!(w, "        - {}", yq(h));
        }
    }
    let _ = writeln!(w, "        allowCredentials: {}", m.credentials);
    if let Some(a) = m.max_age {
        let _ = writeln!(w, "        maxAge: {a}");
    }
    let _ = writeln!(w, "    - type: ResponseHeaderModifier");
    let _ = writeln!(w, "      responseHeaderModifier:");
    let _ = writeln!(
        w,
        "        # The answer depends on Origin (implementations echo it, even for allowOrigins: [\"*\"])."
    );
    let _ = writeln!(w, "        add:");
    let _ = writeln!(w, "        - name: Vary");
    let _ = writeln!(w, "          value: Origin");
    let _ = writeln!(
        w,
        "        # The upstream's own CORS headers: one source of truth, never two values."
    );
    let _ = writeln!(w, "        remove:");
    for h in CORS_RESPONSE_HEADERS {
        let _ = writeln!(w, "        - {h}");
    }
    if let Some(p) = &site.upstream_path {
        let _ = writeln!(w, "    - type: URLRewrite");
        let _ = writeln!(w, "      urlRewrite:");
        let _ = writeln!(w, "        path:");
        let _ = writeln!(w, "          type: ReplacePrefixMatch");
        let _ = writeln!(w, "          replacePrefixMatch: {}", yq(p));
    }
    let _ = writeln!(w, "    backendRefs:");
    let _ = writeln!(w, "    - name: {svc}");
    let _ = writeln!(w, "      port: {port}");
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use corsgate_core::Policy;

    fn export(toml: &str, upstream: &str) -> Result<String, String> {
        let m = Model::new(&Policy::from_toml(toml).unwrap()).unwrap();
        let site = Site::new(upstream, "/api/").unwrap();
        render(&m, &site, "p.toml", None)
    }

    #[test]
    fn what_the_filter_cannot_say_is_refused() {
        let up = "http://api-backend:8000";
        for (toml, why) in [
            ("origins = [\"https://*.example.com:*\"]", "any port"),
            ("origins = [\"http://[::1]:3000\"]", "DNS names"),
            (
                "origins = [\"https://a.example.com\"]\nmethods = [\"patch\"]",
                "allowMethods",
            ),
            (
                "origins = [\"https://a.example.com\"]\nmethods = [\"FOO\"]",
                "allowMethods",
            ),
            (
                "origins = [\"https://a.example.com\"]\nmax_age = 0",
                "maxAge",
            ),
            (
                "origins = [\"https://a.example.com\"]\nprivate_network = true",
                "Private Network",
            ),
        ] {
            let e = export(toml, up).unwrap_err();
            assert!(e.contains(why), "{toml}: {e}");
        }
        let ok = "origins = [\"https://a.example.com\"]";
        assert!(export(ok, "https://api-backend")
            .unwrap_err()
            .contains("BackendTLSPolicy"));
        assert!(export(ok, "http://127.0.0.1:8000")
            .unwrap_err()
            .contains("Service"));
        let y = export(ok, "http://api.prod.svc.cluster.local:8080").unwrap();
        assert!(
            y.contains("  namespace: prod\n") && y.contains("    - name: api\n      port: 8080\n"),
            "{y}"
        );
    }

    #[test]
    fn the_route_says_the_policy() {
        let y = export(
            "origins = [\"https://app.example.com\", \"https://*.example.org:8443\"]\nmethods = [\"PUT\"]\nrequest_headers = [\"content-type\"]\nexpose_headers = [\"x-request-id\"]\ncredentials = true\nmax_age = 600\n",
            "http://api-backend:8000",
        )
        .unwrap();
        for line in [
            "    - type: CORS\n",
            "        - \"https://app.example.com\"\n",
            "        - \"https://*.example.org:8443\"\n",
            "        allowMethods:\n        - \"GET\"\n        - \"HEAD\"\n        - \"POST\"\n        - \"PUT\"\n",
            "        allowHeaders:\n        - \"content-type\"\n",
            "        exposeHeaders:\n        - \"x-request-id\"\n",
            "        allowCredentials: true\n",
            "        maxAge: 600\n",
            "        - name: Vary\n          value: Origin\n",
            "        - Access-Control-Allow-Origin\n",
            "        value: \"/api/\"\n",
        ] {
            assert!(y.contains(line), "missing {line:?} in\n{y}");
        }
    }
}
