//! Property tests for the parsers: what the engine produces parses back to the
//! same thing, and no byte string makes any parser panic.

use corsgate_core::lists::{parse_token_list, split_tokens};
use corsgate_core::preflight::parse_max_age;
use corsgate_core::safelist::{
    check_request_header, mime_essence, parse_single_range, unsafe_request_header_names,
};
use corsgate_core::{
    cors_check, exposure::exposed_headers, preflight::check_preflight_response, Credentials,
    HeaderList, Origin, Profile, Request, Response, Stage,
};
use proptest::prelude::*;

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Accept".to_string()),
        Just("Content-Type".to_string()),
        Just("content-language".to_string()),
        Just("Accept-Language".to_string()),
        Just("Range".to_string()),
        Just("Authorization".to_string()),
        "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}",
    ]
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"text/plain".to_vec()),
        Just(b"application/json".to_vec()),
        Just(b"bytes=0-10".to_vec()),
        Just(b"en-US".to_vec()),
        proptest::collection::vec(
            any::<u8>().prop_filter("fetch refuses NUL CR LF", |b| !matches!(b, 0 | 10 | 13)),
            0..200
        ),
    ]
}

fn profile() -> impl Strategy<Value = Profile> {
    prop_oneof![
        Just(Profile::Chromium),
        Just(Profile::Firefox),
        Just(Profile::Safari),
        Just(Profile::Standard)
    ]
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..300)
}

fn raw_headers() -> impl Strategy<Value = HeaderList> {
    let names = prop_oneof![
        Just("Access-Control-Allow-Origin"),
        Just("Access-Control-Allow-Credentials"),
        Just("Access-Control-Allow-Methods"),
        Just("Access-Control-Allow-Headers"),
        Just("Access-Control-Expose-Headers"),
        Just("Access-Control-Max-Age"),
        Just("Location"),
        Just("X-Other"),
    ];
    proptest::collection::vec((names, bytes()), 0..8).prop_map(|lines| lines.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// `Access-Control-Request-Headers` as the engine writes it parses back to
    /// the same set: lower-case, sorted, without duplicates.
    #[test]
    fn request_headers_round_trip(lines in proptest::collection::vec((header_name(), header_value()), 0..12), p in profile()) {
        let headers: HeaderList = lines.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        let unsafe_names = unsafe_request_header_names(&headers, p);
        let value = corsgate_core::safelist::request_headers_value(&unsafe_names);
        let mut parsed = Vec::new();
        prop_assert!(split_tokens(value.as_bytes(), |t| parsed.push(t.to_owned())).is_ok());
        let mut expected: Vec<String> = unsafe_names.iter().map(|u| u.name.clone()).collect();
        prop_assert_eq!(&parsed, &expected);
        expected.sort();
        expected.dedup();
        prop_assert_eq!(&parsed, &expected);
        prop_assert!(parsed.iter().all(|n| *n == n.to_ascii_lowercase()));
        prop_assert!(!value.contains(' '));
    }

    /// A serialized origin always parses back, strictly, to the same origin.
    #[test]
    fn origin_serialization_round_trips(scheme in prop_oneof![Just("http"), Just("https")],
                                         host in "[a-zA-Z0-9-]{1,10}(\\.[a-zA-Z0-9-]{1,10}){0,3}",
                                         port in proptest::option::of(any::<u16>()),
                                         path in "(/[a-z]{0,5}){0,3}") {
        let url = match port {
            Some(p) => format!("{scheme}://{host}:{p}{path}"),
            None => format!("{scheme}://{host}{path}"),
        };
        if let Ok(o) = Origin::from_url_str(&url) {
            if !o.is_opaque() {
                let back = Origin::parse_header(o.as_str());
                prop_assert_eq!(back.as_ref(), Ok(&o), "{}", o);
                prop_assert!(!o.as_str().ends_with('/'));
            }
        }
    }

    /// No byte string panics any parser.
    #[test]
    fn parsers_never_panic(b in bytes(), name in header_name(), p in profile()) {
        let _ = Origin::parse_header(&b);
        let _ = Origin::from_url_str(&String::from_utf8_lossy(&b));
        let _ = mime_essence(&b);
        let _ = parse_single_range(&b);
        let _ = check_request_header(&name, &b, p);
        let h = HeaderList::new().with("Access-Control-Allow-Methods", &b).with("Access-Control-Max-Age", &b);
        let _ = parse_token_list(&h, "access-control-allow-methods");
        let _ = parse_max_age(&h, p);
        let _ = split_tokens(&b, |_| {});
    }

    /// No response, however malformed, panics the checks.
    #[test]
    fn checks_never_panic(headers in raw_headers(), status in 0u16..1000, p in profile(), include in any::<bool>()) {
        let cred = if include { Credentials::Include } else { Credentials::Omit };
        let resp = Response::with_headers(status, headers);
        let _ = cors_check("https://a.example", cred, &resp, Stage::Actual, p);
        let _ = exposed_headers(&resp.headers, cred);
        let req = Request::builder("https://a.example", "https://b.example/x")
            .method("PUT")
            .header("X-A", "1")
            .credentials(cred)
            .build()
            .expect("valid request");
        let _ = check_preflight_response(&req, "https://a.example", &resp, p);
        let mut browser = corsgate_core::Browser::new(p);
        let v = browser.run(req, |_| Ok::<_, ()>(resp.clone()));
        prop_assert!(v.is_ok());
    }

    /// The CORS check passes for the exact origin and fails for any other single value
    /// (without credentials, `*` aside).
    #[test]
    fn cors_check_is_byte_exact(value in "[ -~]{0,40}", p in profile()) {
        let origin = "https://app.example";
        let resp = Response::new(200).header("Access-Control-Allow-Origin", &value);
        let ok = cors_check(origin, Credentials::Omit, &resp, Stage::Actual, p).is_ok();
        let trimmed = value.trim_matches([' ', '\t']);
        prop_assert_eq!(ok, trimmed == origin || trimmed == "*");
    }
}
