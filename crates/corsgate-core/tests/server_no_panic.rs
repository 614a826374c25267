//! Outside input never panics the server role: arbitrary policy text and
//! arbitrary request headers.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use corsgate_core::Policy;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_setting_text_is_accepted_or_explained(
        origins in proptest::collection::vec(".{0,40}", 0..4),
        methods in proptest::collection::vec(".{0,12}", 0..3),
        headers in proptest::collection::vec(".{0,12}", 0..3),
        credentials in any::<bool>(),
        max_age in any::<i64>(),
    ) {
        let result = Policy::builder()
            .origins(origins)
            .methods(methods.clone())
            .request_headers(headers.clone())
            .expose_headers(headers)
            .credentials(credentials)
            .max_age(max_age)
            .build();
        if let Err(errors) = result {
            prop_assert!(!errors.is_empty());
            for e in errors.iter() {
                prop_assert!(e.to_string().starts_with(e.setting().key()));
            }
        }
    }

    #[test]
    fn any_toml_text_is_accepted_or_located(text in "(origins|methods|max_age|[a-z]{1,8}| |=|\\[|\\]|\"|,|\n|[a-z:/.*]{1,20}|-?[0-9]{1,6}){0,30}") {
        if let Err(errors) = Policy::from_toml(&text) {
            prop_assert!(!errors.is_empty());
            prop_assert!(!errors.to_string().is_empty());
        }
    }

    #[test]
    fn any_request_headers_decide_without_panic(
        method in prop_oneof![Just(Method::GET), Just(Method::OPTIONS), Just(Method::PUT)],
        lines in proptest::collection::vec(
            (
                prop_oneof![
                    Just("origin"),
                    Just("access-control-request-method"),
                    Just("access-control-request-headers"),
                    Just("access-control-request-private-network"),
                ],
                proptest::collection::vec(any::<u8>(), 0..64),
            ),
            0..6,
        ),
        debug in any::<bool>(),
    ) {
        let policy = Policy::builder()
            .origins(["https://app.example.com", "https://*.example.org", "http://localhost:*"])
            .methods(["PUT", "*"])
            .request_headers(["x-a", "*"])
            .private_network(true)
            .build()
            .unwrap();
        let strict = Policy::builder()
            .origins(["https://app.example.com", "https://*.example.org"])
            .methods(["PUT"])
            .request_headers(["x-a"])
            .build()
            .unwrap();
        let mut map = HeaderMap::new();
        for (name, value) in &lines {
            if let Ok(v) = HeaderValue::from_bytes(value) {
                map.append(HeaderName::from_static(name), v);
            }
        }
        for p in [&policy, &strict] {
            let d = p.decide_with(&method, &map, debug);
            let mut out = HeaderMap::new();
            d.clone().into_headers().apply_to(&mut out);
            prop_assert!(!d.reason().to_string().is_empty());
        }
    }
}
