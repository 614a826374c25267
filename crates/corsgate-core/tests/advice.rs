//! The rule of `corsgate_core::advice` over every text the engine writes: no
//! refusal message, fix sentence, remedy or decision reason advises allowing
//! `null`, `*` with credentials, or reflecting an origin, for generated values
//! of every `Refusal` variant (origin `null` and credentials included).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

#[path = "support/refusals.rs"]
mod refusals;

use std::collections::BTreeSet;

use corsgate_core::advice::{unsafe_advice, unsafe_headers};
use corsgate_core::remedy::Side;
use corsgate_core::verdict::RefusalReport;
use corsgate_core::{Policy, Refusal};

fn assert_safe(what: &str, r: &Refusal, text: &str) {
    if let Some(f) = unsafe_advice(text) {
        panic!("{what} of {r:?} {f}\nfull text: {text}");
    }
}

#[test]
fn every_refusal_text_and_remedy_is_safe() {
    let all = refusals::all();
    let covered: BTreeSet<usize> = all.iter().map(refusals::variant).collect();
    assert_eq!(covered.len(), refusals::VARIANTS, "every variant generated");
    let contexts = refusals::contexts();
    let mut checked = 0;
    for r in &all {
        assert_safe("message", r, &r.to_string());
        assert_safe("fix", r, &r.fix());
        if let Some(n) = r.browser_specific_note() {
            assert_safe("note", r, n);
        }
        // The request's origin as the refusal names it, `null`, a real one
        // and none: the other combinations add nothing but time.
        let own = format!("{r:?}");
        for ctx in contexts.iter().filter(|c| {
            matches!(c.origin.as_str(), "null" | "https://app.example" | "")
                || own.contains(&format!("origin: \"{}\"", c.origin))
        }) {
            let report = RefusalReport::with_context(r, ctx);
            assert_safe("report message", r, &report.message);
            assert_safe("report fix", r, &report.fix);
            let remedy = &report.remedy;
            assert_safe("remedy sentence", r, &remedy.sentence);
            if remedy.side == Side::Client {
                assert!(
                    remedy.set_headers.is_empty()
                        && remedy.vary.is_empty()
                        && remedy.remove_headers.is_empty()
                        && remedy.status.is_none(),
                    "a client-side fix carries a server change: {r:?} in {ctx:?}: {remedy:?}"
                );
            }
            let lines = remedy
                .set_headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()));
            assert_eq!(unsafe_headers(lines), None, "{r:?} in {ctx:?}: {remedy:?}");
            for (n, v) in &remedy.set_headers {
                assert!(!v.trim().is_empty(), "{r:?}: sets {n} to an empty value");
                assert_ne!(v, "*", "{r:?}: a fix never sets a wildcard");
                if n.eq_ignore_ascii_case("access-control-allow-origin") {
                    assert!(
                        *v == ctx.origin
                            || v == "<page origin>"
                            || r.to_string().contains(v.as_str()),
                        "{r:?}: names an origin that is not the request's: {v}"
                    );
                }
            }
            if let Refusal::WildcardOriginWithCredentials { origin, .. } = r {
                if remedy.side == Side::Server {
                    assert!(
                        remedy
                            .set_headers
                            .iter()
                            .any(|(n, v)| n == "Access-Control-Allow-Origin"
                                && (v == origin || origin.is_empty() && v == "<page origin>")),
                        "{remedy:?}"
                    );
                    assert!(
                        remedy
                            .set_headers
                            .iter()
                            .any(|(n, v)| n == "Access-Control-Allow-Credentials" && v == "true"),
                        "the wildcard fix keeps credentials: {remedy:?}"
                    );
                }
            }
            checked += 1;
        }
    }
    eprintln!("{} refusal values, {checked} reports", all.len());
    assert!(checked > 10_000, "{checked}");
}

#[test]
fn a_null_origin_is_never_allowed_by_a_fix() {
    for r in refusals::all() {
        for ctx in refusals::contexts() {
            let remedy = r.remedy(&ctx);
            if ctx.origin.eq_ignore_ascii_case("null") && remedy.side == Side::Server {
                // Only fixes that widen nothing (a `Location`, a broken
                // redirect) may stay on the server for a `null` origin.
                assert!(
                    remedy.set_headers.iter().all(|(n, _)| n == "Location"),
                    "{r:?}: {remedy:?}"
                );
            }
        }
    }
}

#[test]
fn decision_reasons_for_gateway_logs_are_safe() {
    let policies = [
        "origins = [\"https://app.example\"]\nmethods = [\"PUT\"]\nrequest_headers = [\"x-token\"]\ncredentials = true\n",
        "origins = [\"*\"]\nrequest_headers = [\"*\"]\n",
        "origins = [\"https://*.app.example\"]\n",
    ];
    for toml in policies {
        let policy = Policy::from_toml(toml).expect("valid policy");
        for origin in [
            None,
            Some("https://app.example"),
            Some("null"),
            Some("https://evil.example"),
            Some("x"),
        ] {
            for (method, acrm, acrh) in [
                ("GET", None, None),
                ("OPTIONS", Some("PUT"), Some("x-token")),
                ("OPTIONS", Some("PATCH"), None),
                ("OPTIONS", Some("PUT"), Some("x-other")),
                ("OPTIONS", Some("P UT"), Some("a b")),
            ] {
                let mut h = http::HeaderMap::new();
                if let Some(o) = origin {
                    h.insert("origin", o.parse().expect("value"));
                }
                if let Some(m) = acrm {
                    h.insert("access-control-request-method", m.parse().expect("value"));
                }
                if let Some(v) = acrh {
                    h.insert("access-control-request-headers", v.parse().expect("value"));
                }
                let method: http::Method = method.parse().expect("method");
                let d = policy.decide(&method, &h);
                let text = d.reason().to_string();
                assert_eq!(unsafe_advice(&text), None, "{text}");
            }
        }
    }
}

#[test]
fn policy_errors_shown_by_the_gateway_and_playground_are_safe() {
    let bad = [
        "origins = [\"null\"]\n",
        "origins = [\"NULL\", \"file:///home/me/index.html\"]\n",
        "origins = [\"*\"]\ncredentials = true\n",
        "origins = [\"https://*.example\", \"*\"]\ncredentials = true\n",
        "origins = [\"https://app.example/\", \"https://app.example/path\"]\n",
        "origins = [\"*.example\", \"https://*\", \"https://a.*.example\"]\n",
        "origins = []\nmethods = [\"P UT\"]\nrequest_headers = [\"a b\"]\n",
        "origins = [\"https://app.example\"]\nexpose_headers = [\"*\"]\ncredentials = true\n",
        "origins = \"https://app.example\"\n",
        "not toml at all = = =\n",
    ];
    let mut seen = 0;
    for toml in bad {
        let Err(errors) = Policy::from_toml(toml) else {
            continue;
        };
        let all = errors.to_string();
        assert_eq!(unsafe_advice(&all), None, "{toml}: {all}");
        for (e, _) in errors.located() {
            let text = e.to_string();
            assert_eq!(unsafe_advice(&text), None, "{toml}: {text}");
            seen += 1;
        }
    }
    assert!(seen >= 8, "{seen}");
}
