//! Shadow evaluation: for random pairs of policies and random requests,
//! `shadow::compare` reports a disagreement exactly when the two decisions
//! differ in verdict or in the headers they add (the oracle compares the
//! built header maps), with the right kind; a policy never disagrees with
//! itself; and judging the candidate and comparing allocates nothing on an
//! allowed actual request.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use corsgate_core::policy::Policy;
use corsgate_core::shadow::{compare, DisagreementKind, ShadowCounts};
use http::{HeaderMap, HeaderValue, Method};
use proptest::prelude::*;

const ORIGINS: &[&str] = &[
    "https://app.example.com",
    "https://admin.example.com",
    "http://localhost:3000",
    "https://*.example.org",
];
const REQUEST_ORIGINS: &[&str] = &[
    "https://app.example.com",
    "https://admin.example.com",
    "http://localhost:3000",
    "https://a.example.org",
    "https://evil.example",
    "null",
];
const METHODS: &[&str] = &["PUT", "DELETE", "PATCH"];
const HEADERS: &[&str] = &["x-a", "content-type", "authorization"];
const EXPOSE: &[&str] = &["x-total", "x-id"];

#[derive(Debug, Clone)]
struct Settings {
    origins: Vec<&'static str>,
    methods: Vec<&'static str>,
    headers: Vec<&'static str>,
    expose: Vec<&'static str>,
    credentials: bool,
    max_age: Option<i64>,
}

fn settings() -> impl Strategy<Value = Settings> {
    (
        prop::sample::subsequence(ORIGINS, 1..=ORIGINS.len()),
        prop::sample::subsequence(METHODS, 0..=METHODS.len()),
        prop::sample::subsequence(HEADERS, 0..=HEADERS.len()),
        prop::sample::subsequence(EXPOSE, 0..=EXPOSE.len()),
        any::<bool>(),
        prop::option::of(0i64..1000),
    )
        .prop_map(
            |(origins, methods, headers, expose, credentials, max_age)| Settings {
                origins,
                methods,
                headers,
                expose,
                credentials,
                max_age,
            },
        )
}

fn build(s: &Settings) -> Policy {
    let mut b = Policy::builder()
        .origins(s.origins.iter().copied())
        .methods(s.methods.iter().copied())
        .request_headers(s.headers.iter().copied())
        .expose_headers(s.expose.iter().copied())
        .credentials(s.credentials);
    if let Some(age) = s.max_age {
        b = b.max_age(age);
    }
    b.build().unwrap()
}

fn request() -> impl Strategy<Value = (Method, HeaderMap)> {
    (
        prop::sample::select(REQUEST_ORIGINS),
        any::<bool>(),
        prop::sample::select(&["GET", "POST", "PUT", "DELETE", "PATCH"][..]),
        prop::sample::subsequence(HEADERS, 0..=2),
    )
        .prop_map(|(origin, preflight, method, headers)| {
            let mut h = HeaderMap::new();
            h.insert("origin", HeaderValue::from_static(origin));
            if preflight {
                h.insert(
                    "access-control-request-method",
                    HeaderValue::from_static(method),
                );
                if !headers.is_empty() {
                    h.insert(
                        "access-control-request-headers",
                        HeaderValue::from_str(&headers.join(",")).unwrap(),
                    );
                }
                (Method::OPTIONS, h)
            } else {
                (Method::from_bytes(method.as_bytes()).unwrap(), h)
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn a_disagreement_is_reported_exactly_when_the_decisions_differ(
        a in settings(), b in settings(), (method, headers) in request()
    ) {
        let (enforced, candidate) = (build(&a), build(&b));
        let today = enforced.decide(&method, &headers);
        let shadow = candidate.decide(&method, &headers);
        let got = compare(&today, &shadow);
        let same_headers = today.headers().to_header_map() == shadow.headers().to_header_map();
        let expected = match (today.allowed(), shadow.allowed()) {
            (true, false) => Some(DisagreementKind::CandidateRefuses),
            (false, true) => Some(DisagreementKind::CandidateAllows),
            (true, true) if !same_headers => Some(DisagreementKind::HeadersDiffer),
            _ => None,
        };
        prop_assert_eq!(got.map(|d| d.kind), expected);
        if let Some(d) = got {
            prop_assert_eq!(d.enforced, today.reason());
            prop_assert_eq!(d.candidate, shadow.reason());
            // Counted under its kind and the code of its reason.
            let counts = ShadowCounts::default();
            counts.record(&d);
            let seen: Vec<_> = counts.nonzero().collect();
            prop_assert_eq!(seen, vec![(d.kind, d.reason().code(), 1)]);
        }
        // The candidate's cheap side agrees on every verdict (a preflight
        // both allow is not compared line by line).
        let cheap = candidate.decide_shadow(&method, &headers).compare(&today);
        let preflight_headers_only = method == Method::OPTIONS
            && headers.contains_key("access-control-request-method")
            && got.is_some_and(|d| d.kind == DisagreementKind::HeadersDiffer);
        if preflight_headers_only {
            prop_assert!(cheap.is_none());
        } else {
            prop_assert_eq!(cheap, got);
        }
        // A policy agrees with itself.
        prop_assert!(compare(&today, &enforced.decide(&method, &headers)).is_none());
    }
}

mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// Counts this thread's allocations (the other tests run on others).
    pub(crate) struct Counting;
    thread_local! {
        static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    }

    /// This thread's allocations so far.
    pub(crate) fn allocations() -> usize {
        ALLOCATIONS.with(Cell::get)
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) }
        }
    }
}

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

#[test]
fn shadowing_an_allowed_actual_request_allocates_nothing() {
    let enforced = Policy::builder()
        .origins(["https://app.example.com", "https://*.example.org"])
        .expose_headers(["x-total"])
        .credentials(true)
        .build()
        .unwrap();
    let candidate = Policy::builder()
        .origins(["https://app.example.com", "https://b.example.org"])
        .expose_headers(["x-total"])
        .credentials(true)
        .build()
        .unwrap();
    for origin in ["https://app.example.com", "https://b.example.org"] {
        let mut h = HeaderMap::new();
        h.insert("origin", HeaderValue::from_static(origin));
        // Warm up (a pattern's first match may remember the value).
        for _ in 0..3 {
            let today = enforced.decide(&Method::GET, &h);
            assert!(compare(&today, &candidate.decide(&Method::GET, &h)).is_none());
        }
        let today = enforced.decide(&Method::GET, &h);
        let before = counting::allocations();
        for _ in 0..1000 {
            let shadow = candidate.decide(&Method::GET, &h);
            assert!(compare(&today, &shadow).is_none());
        }
        let after = counting::allocations();
        assert_eq!(after - before, 0, "{origin}: the shadow path allocated");
    }
}
