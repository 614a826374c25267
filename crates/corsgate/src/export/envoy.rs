//! Envoy: the `envoy.filters.http.cors` filter and a route `CorsPolicy`, as
//! YAML fragments for a static configuration. Not run here (no Envoy on the
//! test machine); its content is unit-tested.

use std::fmt::Write as _;

use super::{comment, header_comment, Headers, Methods, Model, Site, CORS_RESPONSE_HEADERS};

/// A YAML double-quoted string (our values hold no `"` or `\`, except regex
/// backslashes, which are doubled).
fn yq(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\"))
}

pub(crate) fn render(m: &Model, site: &Site, source: &str) -> String {
    let mut o = String::new();
    let mut lines = header_comment(m, source, "envoy");
    lines.extend(
        [
            "",
            "Envoy's CORS filter differs from corsgate's decisions, and the browser enforces the rest:",
            " - it does not check the requested method or headers: it answers every preflight from",
            "   an allowed origin with the configured lists (the browser refuses what is not listed);",
            " - patterns are RE2 `safe_regex` (full match): an explicit default port (`:443`), which",
            "   browsers never send, is not refused under `:*`;",
            " - preflights from other origins are not forwarded (`forward_not_matching_preflights:",
            "   false`, Envoy 1.31+) but answered without CORS headers, which the browser refuses;",
            " - the filter echoes the request's Origin in Access-Control-Allow-Origin, never `*`, even",
            "   for `origins = [\"*\"]`: `Vary: Origin` is added to every proxied answer with",
            "   `response_headers_to_add` (the filter adds none); the filter's own preflight answers",
            "   may not get it (OPTIONS answers, which HTTP caches do not store);",
            " - routing sees the path normalized (RFC 3986, slashes merged, escaped slashes refused)",
            "   and the upstream receives that same path: the first three settings below belong to",
            "   the HttpConnectionManager and apply to every route of it.",
            "Put the CORS filter before any authentication filter (jwt_authn, ext_authz, rbac).",
            "This output has not been run against a real Envoy; see docs/export.md.",
        ]
        .map(String::from),
    );
    comment(&mut o, &lines);
    let w = &mut o;
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "# HttpConnectionManager: route on the path the upstream receives. Percent-encoded"
    );
    let _ = writeln!(
        w,
        "# letters are decoded and dot segments resolved (`/%61pi/x/../items` is `/api/items`"
    );
    let _ = writeln!(
        w,
        "# for the route and for the upstream alike); %2F and %5C are refused (400)."
    );
    let _ = writeln!(w, "normalize_path: true");
    let _ = writeln!(w, "merge_slashes: true");
    let _ = writeln!(w, "path_with_escaped_slashes_action: REJECT_REQUEST");
    let _ = writeln!(w, "http_filters:");
    let _ = writeln!(w, "- name: envoy.filters.http.cors");
    let _ = writeln!(
        w,
        "  typed_config: {{\"@type\": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors}}"
    );
    let _ = writeln!(w, "# - authentication filters here, after cors");
    let _ = writeln!(w, "- name: envoy.filters.http.router");
    let _ = writeln!(
        w,
        "  typed_config: {{\"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}"
    );
    let _ = writeln!(w, "route_config:");
    let _ = writeln!(w, "  virtual_hosts:");
    let _ = writeln!(w, "  - name: corsgate");
    let _ = writeln!(w, "    domains: [\"*\"]");
    let _ = writeln!(w, "    routes:");
    let _ = writeln!(
        w,
        "    # Keep these routes before any catch-all route. A dot segment with a parameter (`..;`)"
    );
    let _ = writeln!(
        w,
        "    # or a backslash anywhere: some upstreams (Tomcat, IIS) read them as `..` or `/`, which"
    );
    let _ = writeln!(
        w,
        "    # could take a request into or out of the location there. Refused."
    );
    let _ = writeln!(
        w,
        "    - match: {{safe_regex: {{regex: {}}}}}",
        yq(".*(?:/\\.\\.?;|\\\\).*")
    );
    let _ = writeln!(w, "      direct_response: {{status: 400}}");
    if !site.location.ends_with('/') {
        let _ = writeln!(
            w,
            "    # a prefix without a trailing slash is a string prefix: it also covers `{0}x`",
            site.location
        );
    }
    let _ = writeln!(w, "    - match: {{prefix: {}}}", yq(&site.location));
    let _ = writeln!(w, "      route:");
    let _ = writeln!(w, "        cluster: corsgate_upstream");
    if let Some(p) = &site.upstream_path {
        let _ = writeln!(w, "        prefix_rewrite: {}", yq(p));
    }
    // Always, `*` included: the filter answers with the request's Origin.
    let _ = writeln!(
        w,
        "      # the filter echoes the Origin (never `*`), so every answer varies on it"
    );
    let _ = writeln!(w, "      response_headers_to_add:");
    let _ = writeln!(w, "      - header: {{key: vary, value: Origin}}");
    let _ = writeln!(w, "        append_action: APPEND_IF_EXISTS_OR_ADD");
    let _ = writeln!(
        w,
        "      # the upstream's own CORS headers are dropped; the filter adds the policy's"
    );
    let _ = writeln!(w, "      response_headers_to_remove:");
    for h in CORS_RESPONSE_HEADERS {
        let _ = writeln!(w, "      - {}", h.to_ascii_lowercase());
    }
    let _ = writeln!(w, "      typed_per_filter_config:");
    let _ = writeln!(w, "        envoy.filters.http.cors:");
    let _ = writeln!(
        w,
        "          \"@type\": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy"
    );
    let _ = writeln!(w, "          allow_origin_string_match:");
    if m.any {
        let _ = writeln!(
            w,
            "          - safe_regex: {{regex: \".*\"}}   # any origin"
        );
    }
    for e in &m.exact {
        let _ = writeln!(w, "          - exact: {}", yq(e));
    }
    for p in &m.patterns {
        let _ = writeln!(w, "          # {}", p.entry);
        let _ = writeln!(
            w,
            "          - safe_regex: {{regex: {}}}",
            yq(&p.regex(false))
        );
    }
    match &m.methods {
        Methods::Any if !m.credentials => {
            let _ = writeln!(w, "          allow_methods: \"*\"");
        }
        Methods::Any => {
            let _ = writeln!(
                w,
                "          # methods = [\"*\"] with credentials cannot be expressed (a literal `*` is"
            );
            let _ = writeln!(
                w,
                "          # not a wildcard with credentials): list the methods in the policy"
            );
        }
        Methods::List(l) => {
            let _ = writeln!(w, "          allow_methods: {}", yq(&l.join(", ")));
        }
    }
    match &m.headers {
        Headers::Mirror if !m.credentials => {
            let _ = writeln!(
                w,
                "          allow_headers: \"*\"   # not Authorization: browsers need it listed"
            );
        }
        Headers::Mirror => {
            let _ = writeln!(
                w,
                "          # request_headers = [\"*\"] with credentials cannot be expressed (Envoy does"
            );
            let _ = writeln!(
                w,
                "          # not echo, and `*` is not a wildcard with credentials): list the headers"
            );
        }
        Headers::List(_) => {
            if let Some(v) = m.allow_headers_list() {
                let _ = writeln!(w, "          allow_headers: {}", yq(&v));
            }
        }
    }
    if let Some(v) = m.expose_value() {
        let _ = writeln!(w, "          expose_headers: {}", yq(&v));
    }
    if let Some(a) = m.max_age {
        let _ = writeln!(w, "          max_age: \"{a}\"");
    }
    let _ = writeln!(w, "          allow_credentials: {}", m.credentials);
    if m.private_network {
        let _ = writeln!(w, "          allow_private_network_access: true");
    }
    let _ = writeln!(w, "          forward_not_matching_preflights: false");
    if let Some(variant) = site.variant_regex() {
        let _ = writeln!(
            w,
            "    # The prefix in another case, with a path parameter (`/api;x/`) or a letter still"
        );
        let _ = writeln!(
            w,
            "    # encoded (`%2561pi`), trailing dots (`/api./`): an upstream may read it as the location."
        );
        let _ = writeln!(
            w,
            "    - match: {{safe_regex: {{regex: {}}}}}",
            yq(&format!(
                "(?i){}.*",
                variant.strip_prefix('^').unwrap_or(&variant)
            ))
        );
        let _ = writeln!(w, "      direct_response: {{status: 400}}");
    }
    let (host, port) = site.host_port();
    let _ = writeln!(w, "clusters:");
    let _ = writeln!(w, "- name: corsgate_upstream");
    let _ = writeln!(w, "  type: STRICT_DNS");
    let _ = writeln!(w, "  load_assignment:");
    let _ = writeln!(w, "    cluster_name: corsgate_upstream");
    let _ = writeln!(w, "    endpoints:");
    let _ = writeln!(w, "    - lb_endpoints:");
    let _ = writeln!(
        w,
        "      - endpoint: {{address: {{socket_address: {{address: {}, port_value: {port}}}}}}}",
        yq(&host)
    );
    if site.upstream_tls {
        let _ = writeln!(w, "  transport_socket:");
        let _ = writeln!(w, "    name: envoy.transport_sockets.tls");
        let _ = writeln!(w, "    typed_config:");
        let _ = writeln!(
            w,
            "      \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
        );
        let _ = writeln!(w, "      sni: {}", yq(&host));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use corsgate_core::Policy;

    fn export(toml: &str) -> String {
        let m = Model::new(&Policy::from_toml(toml).unwrap()).unwrap();
        let site = Site::new("http://127.0.0.1:8000", "/api/").unwrap();
        render(&m, &site, "p.toml")
    }

    #[test]
    fn exact_origins_with_credentials() {
        let y = export(
            r#"origins = ["https://app.example.com", "https://*.example.org:*"]
methods = ["PUT"]
request_headers = ["content-type", "authorization"]
expose_headers = ["x-request-id"]
credentials = true
max_age = 600"#,
        );
        for line in [
            "- name: envoy.filters.http.cors",
            "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
            "- exact: \"https://app.example.com\"",
            "- safe_regex: {regex: \"^https://(?:[a-z0-9_-]+\\\\.)+example\\\\.org(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?$\"}",
            "allow_methods: \"GET, HEAD, POST, PUT\"",
            "allow_headers: \"content-type, authorization\"",
            "expose_headers: \"x-request-id\"",
            "max_age: \"600\"",
            "allow_credentials: true",
            "forward_not_matching_preflights: false",
            "- header: {key: vary, value: Origin}",
            "- access-control-allow-origin",
            "- match: {prefix: \"/api/\"}",
            "endpoint: {address: {socket_address: {address: \"127.0.0.1\", port_value: 8000}}}",
        ] {
            assert!(y.contains(line), "missing {line:?} in\n{y}");
        }
        // The CORS filter comes before the router.
        assert!(
            y.find("envoy.filters.http.cors").unwrap()
                < y.find("envoy.filters.http.router").unwrap()
        );
        assert!(!y.contains("regex: \".*\""));
    }

    #[test]
    fn any_origin_has_no_credentials_and_varies_on_origin() {
        let y = export("origins = [\"*\"]\nmethods = [\"*\"]\nrequest_headers = [\"*\"]\n");
        assert!(y.contains("safe_regex: {regex: \".*\"}"), "{y}");
        assert!(y.contains("allow_credentials: false"));
        assert!(y.contains("allow_methods: \"*\""));
        assert!(y.contains("allow_headers: \"*\""));
        // Envoy's filter echoes the request's Origin, `*` policy or not.
        assert_eq!(route_vary(&y), ["Origin"], "{y}");
    }

    /// The `vary` values in the route's `response_headers_to_add`, read by
    /// structure: the list under that key, at the route's indentation.
    fn route_vary(y: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut inside = false;
        for line in y.lines() {
            if line == "      response_headers_to_add:" {
                inside = true;
                continue;
            }
            if inside && !line.starts_with("      - ") && !line.starts_with("        ") {
                inside = false;
            }
            if inside {
                if let Some(rest) = line.strip_prefix("      - header: {key: vary, value: ") {
                    out.push(rest.trim_end_matches('}').to_owned());
                }
            }
        }
        out
    }

    /// The connection manager's path settings come before `http_filters`, at
    /// the top level of the fragment, once each.
    fn top_level(y: &str, key: &str) -> Vec<String> {
        y.lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}: ")).map(str::to_owned))
            .collect()
    }

    #[test]
    fn every_policy_varies_on_origin_and_routes_on_the_normalized_path() {
        for toml in [
            "origins = [\"*\"]\n",
            "origins = [\"*\"]\nmax_age = 60\nexpose_headers = [\"x-a\"]\n",
            "origins = [\"https://app.example.com\"]\ncredentials = true\n",
            "origins = [\"https://*.example.org:*\"]\n",
        ] {
            let y = export(toml);
            assert_eq!(route_vary(&y), ["Origin"], "{toml}\n{y}");
            assert_eq!(top_level(&y, "normalize_path"), ["true"], "{y}");
            assert_eq!(top_level(&y, "merge_slashes"), ["true"], "{y}");
            assert_eq!(
                top_level(&y, "path_with_escaped_slashes_action"),
                ["REJECT_REQUEST"],
                "{y}"
            );
            // The routes, in order: the refused forms, the policy's prefix, the
            // variants of the prefix; the regexes full-match (RE2), checked here
            // with the `regex` crate, whose syntax agrees for these.
            let routes: Vec<&str> = y
                .lines()
                .filter_map(|l| l.strip_prefix("    - match: "))
                .collect();
            assert_eq!(routes.len(), 3, "{y}");
            assert_eq!(routes[1], "{prefix: \"/api/\"}");
            let full = |route: &str, path: &str| {
                let re = route
                    .strip_prefix("{safe_regex: {regex: \"")
                    .and_then(|r| r.strip_suffix("\"}}"))
                    .unwrap()
                    .replace("\\\\", "\\");
                regex::Regex::new(&format!("^(?:{re})$"))
                    .unwrap()
                    .is_match(path)
            };
            for p in ["/api/..;/x", "/x/..;/api/y", "/api/.;/x", "/api/a\\b"] {
                assert!(full(routes[0], p), "{p} must be refused: {}", routes[0]);
            }
            for p in ["/api/items", "/api/..x", "/a;b/c"] {
                assert!(!full(routes[0], p), "{p} must pass: {}", routes[0]);
            }
            for p in [
                "/API/items",
                "/Api/",
                "/api;x/items",
                "/%61pi/items",
                "//API/x",
            ] {
                assert!(full(routes[2], p), "{p} is a variant: {}", routes[2]);
            }
            for p in ["/apix/items", "/x/api/items", "/api"] {
                assert!(!full(routes[2], p), "{p} is not a variant: {}", routes[2]);
            }
            let settings = y.find("\nnormalize_path:").unwrap();
            assert!(settings < y.find("\nhttp_filters:").unwrap());
            // Every line is a comment, blank, or indented YAML under a known top-level key.
            for line in y.lines() {
                let top = !line.starts_with(' ') && !line.starts_with('#') && !line.is_empty();
                if top {
                    assert!(
                        [
                            "normalize_path:",
                            "merge_slashes:",
                            "path_with_escaped_slashes_action:",
                            "http_filters:",
                            "- name: envoy.filters.http.",
                            "route_config:",
                            "clusters:",
                            "- name: corsgate_upstream",
                        ]
                        .iter()
                        .any(|k| line.starts_with(k)),
                        "unexpected top-level line {line:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn mirror_with_credentials_is_a_comment_not_a_wildcard() {
        let y = export(
            "origins = [\"https://app.example.com\"]\nrequest_headers = [\"*\"]\nmethods = [\"*\"]\ncredentials = true\n",
        );
        assert!(!y.contains("allow_headers:"), "{y}");
        assert!(!y.contains("allow_methods:"), "{y}");
        assert!(y.contains("cannot be expressed"));
    }
}
