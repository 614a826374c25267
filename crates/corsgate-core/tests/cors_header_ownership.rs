//! The policy owns every `Access-Control-*` response line: whatever a
//! handler or an upstream put in the response (the seven names browsers read,
//! in any case, repeated, misspelt or future ones, beside ordinary headers
//! and `Vary`), the applied map's `Access-Control-*` lines are exactly the
//! decision's own, and every other header is kept. The gateway and the tower
//! layer share this through `corsgate_core::is_cors_response_header`.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use corsgate_core::{is_cors_response_header, Policy};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use proptest::prelude::*;

const NAMES: &[&str] = &[
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
    "access-control-expose-headers",
    "access-control-allow-private-network",
    "access-control-allow-origins",
    "access-control-allow-credential",
    "access-control-allow-everything",
    "access-control-",
    "content-type",
    "x-request-id",
    "set-cookie",
    "vary",
];

fn requests() -> Vec<(Method, HeaderMap)> {
    let h = |pairs: &[(&'static str, &'static str)]| {
        let mut m = HeaderMap::new();
        for (n, v) in pairs {
            m.append(HeaderName::from_static(n), HeaderValue::from_static(v));
        }
        m
    };
    vec![
        (Method::GET, h(&[("origin", "https://app.example.com")])),
        (Method::GET, h(&[("origin", "https://evil.example")])),
        (Method::GET, h(&[])),
        (
            Method::OPTIONS,
            h(&[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "PUT"),
            ]),
        ),
        (
            Method::OPTIONS,
            h(&[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "PUT"),
            ]),
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn the_applied_cors_lines_are_the_decisions_alone(
        lines in proptest::collection::vec((0..NAMES.len(), "[ -~]{0,20}"), 0..10),
        credentials in any::<bool>(),
        wildcard in any::<bool>(),
    ) {
        let origins: &[&str] = if wildcard && !credentials { &["*"] } else { &["https://app.example.com"] };
        let policy = Policy::builder()
            .origins(origins.iter().copied())
            .methods(["PUT"])
            .expose_headers(["x-request-id"])
            .credentials(credentials)
            .build()
            .unwrap();
        let mut inner = HeaderMap::new();
        for (i, value) in &lines {
            if let Ok(v) = HeaderValue::from_str(value) {
                inner.append(HeaderName::from_static(NAMES[*i]), v);
            }
        }
        for (method, request) in requests() {
            let decision = policy.decide(&method, &request);
            let own = decision.headers().to_header_map();
            let mut out = inner.clone();
            decision.into_headers().apply_to(&mut out);
            // Every Access-Control-* line of the result is the decision's, in
            // number and value.
            for name in out.keys().chain(own.keys()) {
                if is_cors_response_header(name) {
                    let got: Vec<_> = out.get_all(name).iter().collect();
                    let want: Vec<_> = own.get_all(name).iter().collect();
                    prop_assert_eq!(got, want, "{} after {:?} {:?}", name, method, request);
                }
            }
            // Every other line of the inner response is kept (Vary may gain
            // the decision's names).
            for name in inner.keys().filter(|n| !is_cors_response_header(n)) {
                let kept: Vec<_> = out.get_all(name).iter().collect();
                let before: Vec<_> = inner.get_all(name).iter().collect();
                prop_assert!(kept.len() >= before.len(), "{} lost", name);
                prop_assert_eq!(&kept[..before.len()], &before[..]);
            }
        }
    }
}
