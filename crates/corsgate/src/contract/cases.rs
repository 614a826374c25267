//! The requests a policy file implies: each kind of origin it allows, every
//! method and request header it lists, and the requests it must refuse
//! (an unrelated origin, `null`, look-alikes of what it allows, a method and a
//! header it does not list).
//!
//! A case does not say what it expects: the policy decides that (see the
//! parent module), so a look-alike that a broader pattern happens to cover is
//! simply expected to pass.

use corsgate_core::origin_set::{AllowedOrigin, PortSpec};
use corsgate_core::policy::PolicyConfig;
use serde::Serialize;

/// One request to send, as script would make it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseSpec {
    /// What the case is, for a person: "GET from an allowed origin".
    pub name: String,
    /// The page's origin (`null` included).
    pub origin: String,
    /// The method, as passed to `fetch()`.
    pub method: String,
    /// Request headers script sets.
    pub headers: Vec<(String, String)>,
    /// Whether cookies go with it (`credentials: "include"`).
    pub credentials: bool,
}

/// How many exact origins are tried (the first ones and the last).
const EXACT_TRIED: usize = 3;

/// Methods tried, in order, for "a method the policy does not list".
const UNLISTED_METHODS: [&str; 5] = ["PATCH", "PUT", "DELETE", "PROPFIND", "MKCOL"];

/// A header name no policy lists by accident.
pub const UNLISTED_HEADER: &str = "x-corsgate-unlisted";

/// The origin tried when any origin is allowed, and the unrelated origin.
pub const SOME_ORIGIN: &str = "https://corsgate-test.example";
/// An origin no policy should allow.
pub const ATTACKER: &str = "https://corsgate-attacker.example";

/// Scheme, host and port suffix (`:8443` or nothing) of an origin.
struct Parts {
    scheme: String,
    host: String,
    port: String,
}

/// The parts of a canonical origin whose host is a domain name (look-alikes
/// of an IP address are not origins).
fn parts(origin: &str) -> Option<Parts> {
    let (scheme, rest) = origin.split_once("://")?;
    let (host, port) = match rest.rfind(':') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let ip = host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok();
    (!ip && !host.is_empty()).then(|| Parts {
        scheme: scheme.to_owned(),
        host: host.to_owned(),
        port: port.to_owned(),
    })
}

/// An origin a pattern allows: a made-up label in front of the domain, and a
/// port when the pattern wants one.
fn pattern_example(scheme: &str, host: &str, subdomains: bool, port: PortSpec) -> String {
    let host = if subdomains {
        format!("corsgate-test.{host}")
    } else {
        host.to_owned()
    };
    let port = match port {
        PortSpec::Default => String::new(),
        PortSpec::Exact(p) => format!(":{p}"),
        PortSpec::Any => ":8443".to_owned(),
    };
    format!("{scheme}://{host}{port}")
}

fn case(name: String, origin: &str, method: &str, headers: &[&str], credentials: bool) -> CaseSpec {
    CaseSpec {
        name,
        origin: origin.to_owned(),
        method: method.to_owned(),
        headers: headers
            .iter()
            .map(|h| ((*h).to_owned(), "1".to_owned()))
            .collect(),
        credentials,
    }
}

/// The cases for a policy (its settings and its parsed origin entries).
pub fn plan(config: &PolicyConfig, entries: &[AllowedOrigin]) -> Vec<CaseSpec> {
    let any = entries.iter().any(|e| matches!(e, AllowedOrigin::Any));
    let creds = config.credentials;
    let exact: Vec<&str> = entries
        .iter()
        .filter_map(|e| match e {
            AllowedOrigin::Exact(o) => Some(o.as_str()),
            _ => None,
        })
        .collect();
    let patterns: Vec<(String, &AllowedOrigin)> = entries
        .iter()
        .filter_map(|e| match e {
            AllowedOrigin::Pattern {
                scheme,
                host,
                subdomains,
                port,
            } => Some((pattern_example(scheme, host, *subdomains, *port), e)),
            _ => None,
        })
        .collect();
    let mut tried_exact: Vec<&str> = exact.iter().take(EXACT_TRIED).copied().collect();
    if exact.len() > EXACT_TRIED {
        tried_exact.extend(exact.last());
    }
    // The origin the method and header cases come from.
    let rep: String = tried_exact
        .first()
        .map(|o| (*o).to_owned())
        .or_else(|| patterns.first().map(|(o, _)| o.clone()))
        .unwrap_or_else(|| SOME_ORIGIN.to_owned());

    let mut out = Vec::new();
    let with = if creds { " with credentials" } else { "" };
    // Allowed origins.
    for o in &tried_exact {
        out.push(case(format!("GET{with} from {o}"), o, "GET", &[], creds));
    }
    for (o, e) in &patterns {
        let entry = match e {
            AllowedOrigin::Pattern {
                subdomains: true, ..
            } => "a subdomain pattern",
            _ => "an any-port pattern",
        };
        out.push(case(
            format!("GET{with} from {o} ({entry})"),
            o,
            "GET",
            &[],
            creds,
        ));
    }
    if any {
        out.push(case(
            format!("GET from {SOME_ORIGIN} (any origin)"),
            SOME_ORIGIN,
            "GET",
            &[],
            false,
        ));
        out.push(case(
            format!("GET with credentials from {SOME_ORIGIN} (any origin is for requests without credentials)"),
            SOME_ORIGIN,
            "GET",
            &[],
            true,
        ));
    }
    if creds {
        out.push(case(
            format!("GET without credentials from {rep}"),
            &rep,
            "GET",
            &[],
            false,
        ));
    }
    // Methods and headers.
    let wildcard_methods = config.methods.iter().any(|m| m == "*");
    let methods: Vec<String> = if wildcard_methods {
        vec!["PUT".to_owned()]
    } else {
        config
            .methods
            .iter()
            .filter(|m| !matches!(m.as_str(), "GET" | "HEAD" | "POST"))
            .cloned()
            .collect()
    };
    for m in &methods {
        out.push(case(
            format!("{m}{with} from {rep} (preflighted)"),
            &rep,
            m,
            &[],
            creds,
        ));
    }
    let mirror = config.request_headers.iter().any(|h| h == "*");
    let listed: Vec<&str> = if mirror {
        vec!["x-corsgate-test"]
    } else {
        config.request_headers.iter().map(String::as_str).collect()
    };
    if !listed.is_empty() {
        out.push(case(
            format!(
                "GET{with} from {rep} with {} (preflighted)",
                listed.join(", ")
            ),
            &rep,
            "GET",
            &listed,
            creds,
        ));
    }
    // What the policy must refuse.
    if !wildcard_methods {
        if let Some(m) = UNLISTED_METHODS
            .iter()
            .find(|m| !config.methods.iter().any(|c| c.eq_ignore_ascii_case(m)))
        {
            out.push(case(
                format!("{m}, a method the policy does not list, from {rep}"),
                &rep,
                m,
                &[],
                creds,
            ));
        }
    }
    if !mirror {
        out.push(case(
            format!(
                "GET{with} from {rep} with {UNLISTED_HEADER}, a header the policy does not list"
            ),
            &rep,
            "GET",
            &[UNLISTED_HEADER],
            creds,
        ));
    }
    let mut refused: Vec<(String, String)> = vec![
        (ATTACKER.to_owned(), "an unrelated origin".to_owned()),
        (
            "null".to_owned(),
            "the `null` origin (sandboxed iframes, file: pages)".to_owned(),
        ),
    ];
    if let Some(p) = tried_exact.first().and_then(|o| parts(o)) {
        let Parts { scheme, host, port } = &p;
        refused.push((
            format!("{scheme}://{host}.corsgate-evil.example{port}"),
            format!("{host} followed by another domain"),
        ));
        refused.push((
            format!("{scheme}://corsgate-evil{host}{port}"),
            format!("a domain that ends with {host}"),
        ));
        refused.push((
            format!("{scheme}://corsgate-evil.{host}{port}"),
            format!("a subdomain of {host}"),
        ));
        if scheme == "https" {
            refused.push((
                format!("http://{host}{port}"),
                "the http version of an https origin".to_owned(),
            ));
        }
    }
    for (_, e) in &patterns {
        if let AllowedOrigin::Pattern {
            scheme,
            host,
            subdomains: true,
            port,
        } = e
        {
            let port = match port {
                PortSpec::Exact(p) => format!(":{p}"),
                _ => String::new(),
            };
            refused.push((
                format!("{scheme}://{host}{port}"),
                format!("the bare domain of *.{host}"),
            ));
            refused.push((
                format!("{scheme}://corsgate-evil{host}{port}"),
                format!("a domain that ends with {host} without a dot"),
            ));
            refused.push((
                format!("{scheme}://corsgate-test.{host}.corsgate-evil.example{port}"),
                format!("*.{host} followed by another domain"),
            ));
        }
    }
    for (origin, what) in refused {
        if out.iter().any(|c| c.origin == origin) {
            continue;
        }
        out.push(case(
            format!("GET{with} from {origin}, {what}"),
            &origin,
            "GET",
            &[],
            creds,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml: &str) -> (PolicyConfig, Vec<AllowedOrigin>) {
        let policy = corsgate_core::Policy::from_toml(toml).unwrap();
        let c = policy.config().clone();
        let e = c
            .origins
            .iter()
            .map(|o| AllowedOrigin::parse(o).unwrap())
            .collect();
        (c, e)
    }

    #[test]
    fn a_typical_policy_gets_allowed_and_refused_cases() {
        let (c, e) = config(
            r#"origins = ["https://app.example.com", "https://*.tenants.example.com", "http://localhost:*"]
methods = ["PUT", "DELETE"]
request_headers = ["content-type", "authorization"]
credentials = true"#,
        );
        let cases = plan(&c, &e);
        let origins: Vec<&str> = cases.iter().map(|c| c.origin.as_str()).collect();
        for o in [
            "https://app.example.com",
            "https://corsgate-test.tenants.example.com",
            "http://localhost:8443",
            ATTACKER,
            "null",
            "https://app.example.com.corsgate-evil.example",
            "https://corsgate-evilapp.example.com",
            "http://app.example.com",
            "https://tenants.example.com",
        ] {
            assert!(origins.contains(&o), "{o} missing from {origins:?}");
        }
        let methods: Vec<&str> = cases.iter().map(|c| c.method.as_str()).collect();
        assert!(
            methods.contains(&"PUT") && methods.contains(&"DELETE") && methods.contains(&"PATCH")
        );
        assert!(cases.iter().any(|c| c.headers.len() == 2));
        assert!(cases
            .iter()
            .any(|c| c.headers.iter().any(|(n, _)| n == UNLISTED_HEADER)));
        assert!(
            cases.iter().any(|c| !c.credentials),
            "one case without credentials"
        );
        // No origin is tried twice for the same kind of request.
        let mut seen = std::collections::HashSet::new();
        for c in &cases {
            assert!(
                seen.insert((&c.origin, &c.method, &c.headers, c.credentials)),
                "{c:?} twice"
            );
        }
    }

    #[test]
    fn any_origin_tries_credentials_and_mirroring_skips_the_unlisted_header() {
        let (c, e) = config("origins = [\"*\"]\nrequest_headers = [\"*\"]\nmethods = [\"*\"]");
        let cases = plan(&c, &e);
        assert!(cases
            .iter()
            .any(|c| c.origin == SOME_ORIGIN && c.credentials));
        assert!(!cases
            .iter()
            .any(|c| c.headers.iter().any(|(n, _)| n == UNLISTED_HEADER)));
        assert!(!cases.iter().any(|c| c.method == "PATCH"));
    }
}
