//! The requests a policy file implies: each kind of origin it allows, every
//! method and request header it lists, and the requests it must refuse: every
//! origin of the shared hostile catalogue ([`corsgate_core::hostile`]) that
//! the policy does not allow, the state-changing methods and a header it does
//! not list, and credentials when it does not allow them.
//!
//! A case does not say what it expects: the policy decides that (see the
//! parent module), so a look-alike that a broader pattern happens to cover is
//! simply expected to pass.

use corsgate_core::hostile::Catalogue;
use corsgate_core::origin_set::{AllowedOrigin, PortSpec};
use corsgate_core::policy::PolicyConfig;
use serde::Serialize;

/// What a case checks, so that a failure can name the difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CaseKind {
    /// A request the policy allows (or any other request the policy decides).
    Policy,
    /// A hostile origin of the catalogue: the endpoint must refuse it.
    Hostile {
        /// Its class (`prefix`, `tld_swap`, ...).
        class: &'static str,
        /// Why it is hostile.
        why: String,
        /// No browser sends it: sent as is, judged by whether it is echoed.
        raw: bool,
    },
    /// A method the policy does not list.
    UnlistedMethod,
    /// A request header the policy does not list.
    UnlistedHeader,
    /// Credentials, which the policy does not allow.
    UnallowedCredentials,
}

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
    /// What it checks.
    #[serde(flatten)]
    pub kind: CaseKind,
}

/// How many exact origins are tried (the first ones and the last).
const EXACT_TRIED: usize = 3;

/// State-changing methods tried when the policy does not list them (each by
/// preflight only, unless `--send-unsafe`).
const UNLISTED_METHODS: [&str; 3] = ["PUT", "DELETE", "PATCH"];

/// A header name no policy lists by accident.
pub(super) const UNLISTED_HEADER: &str = "x-corsgate-unlisted";

/// The origin tried when any origin is allowed.
pub(super) const SOME_ORIGIN: &str = "https://corsgate-test.example";

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
        kind: CaseKind::Policy,
    }
}

fn kind(mut c: CaseSpec, kind: CaseKind) -> CaseSpec {
    c.kind = kind;
    c
}

/// The cases for a policy (its settings, its parsed origin entries, and the
/// hostile catalogue without what the policy allows: `Catalogue::for_policy`).
pub(super) fn plan(
    config: &PolicyConfig,
    entries: &[AllowedOrigin],
    catalogue: &Catalogue,
) -> Vec<CaseSpec> {
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
    } else if !any {
        out.push(kind(
            case(
                format!("GET with credentials from {rep} (the policy does not allow credentials)"),
                &rep,
                "GET",
                &[],
                true,
            ),
            CaseKind::UnallowedCredentials,
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
        for m in UNLISTED_METHODS
            .iter()
            .filter(|m| !config.methods.iter().any(|c| c.eq_ignore_ascii_case(m)))
        {
            out.push(kind(
                case(
                    format!("{m}{with}, a method the policy does not list, from {rep}"),
                    &rep,
                    m,
                    &[],
                    creds,
                ),
                CaseKind::UnlistedMethod,
            ));
        }
    }
    if !mirror {
        out.push(kind(
            case(
                format!(
                    "GET{with} from {rep} with {UNLISTED_HEADER}, a header the policy does not list"
                ),
                &rep,
                "GET",
                &[UNLISTED_HEADER],
                creds,
            ),
            CaseKind::UnlistedHeader,
        ));
    }
    // The bare domain of a subdomain pattern: not hostile (it is the
    // user's), but outside the policy.
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
            let origin = format!("{scheme}://{host}{port}");
            if !entries
                .iter()
                .any(|e| matches!(e, AllowedOrigin::Exact(o) if *o == origin))
            {
                out.push(case(
                    format!("GET{with} from {origin}, the bare domain of *.{host}"),
                    &origin,
                    "GET",
                    &[],
                    creds,
                ));
            }
        }
    }
    // Every hostile origin: the endpoint must refuse each one.
    for h in catalogue {
        if out.iter().any(|c| c.origin == h.origin) {
            continue;
        }
        out.push(kind(
            case(
                format!(
                    "GET{with} from {}, a hostile origin ({})",
                    h.origin,
                    h.class.name()
                ),
                &h.origin,
                "GET",
                &[],
                creds,
            ),
            CaseKind::Hostile {
                class: h.class.name(),
                why: h.why.clone(),
                raw: !h.sendable(),
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue(c: &PolicyConfig) -> Catalogue {
        Catalogue::for_policy(&c.build().unwrap())
    }

    #[test]
    fn a_get_only_policy_without_credentials_tries_both() {
        let (c, e) = config("origins = [\"https://app.example.com\"]");
        let cases = plan(&c, &e, &catalogue(&c));
        for m in ["PUT", "DELETE", "PATCH"] {
            assert!(cases
                .iter()
                .any(|c| c.method == m && c.kind == CaseKind::UnlistedMethod));
        }
        assert!(cases
            .iter()
            .any(|c| c.credentials && c.kind == CaseKind::UnallowedCredentials));
    }

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
        let cases = plan(&c, &e, &catalogue(&c));
        let origins: Vec<&str> = cases.iter().map(|c| c.origin.as_str()).collect();
        for o in [
            "https://app.example.com",
            "https://corsgate-test.tenants.example.com",
            "http://localhost:8443",
            "https://evil.net",
            "null",
            "https://app.example.com.evil.net",
            "https://evilapp.example.com",
            "https://appxexample.com",
            "https://app.example.net",
            "https://codepen.io",
            "http://app.example.com",
            "https://tenants.example.com",
        ] {
            assert!(origins.contains(&o), "{o} missing from {origins:?}");
        }
        let methods: Vec<&str> = cases.iter().map(|c| c.method.as_str()).collect();
        assert!(
            methods.contains(&"PUT") && methods.contains(&"DELETE") && methods.contains(&"PATCH")
        );
        // The localhost entries the policy allows are not among the hostile ones.
        assert!(!cases
            .iter()
            .any(|c| c.origin == "http://localhost:3000"
                && matches!(c.kind, CaseKind::Hostile { .. })));
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
        let cases = plan(&c, &e, &catalogue(&c));
        // Any origin: nothing is hostile.
        assert!(!cases
            .iter()
            .any(|c| matches!(c.kind, CaseKind::Hostile { .. })));
        assert!(cases
            .iter()
            .any(|c| c.origin == SOME_ORIGIN && c.credentials));
        assert!(!cases
            .iter()
            .any(|c| c.headers.iter().any(|(n, _)| n == UNLISTED_HEADER)));
        assert!(!cases.iter().any(|c| c.method == "PATCH"));
    }
}
