//! Inference proposes the tightest safe policy: for random traffic, every
//! request a safe policy can allow is allowed by the proposal (replayed
//! through the browser role), every value of the proposal is needed by some
//! request (remove it and one is refused), origins never seen are refused,
//! and the TOML it prints loads back to the same settings.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use corsgate_core::infer::{infer, InferOptions, Observed};
use corsgate_core::policy::{Policy, PolicyConfig};
use proptest::prelude::*;

const ORIGINS: &[&str] = &[
    "https://app.example.com",
    "https://admin.example.com",
    "http://localhost:3000",
    "https://app.example.com:8443",
    "http://127.0.0.1:8080",
    "https://a.preview.example.org",
    "https://b.preview.example.org",
    "null",
    "https://app.example.com/",
    "file://",
    "not an origin",
];
const HOSTILE: &[&str] = &[
    "https://evil.example",
    "https://app.example.com.evil.net",
    "http://app.example.com",
    "https://example.com",
    "http://localhost:3001",
    "https://preview.example.org",
    "null",
];
const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "patch", "PURGE",
];
const HEADERS: &[(&str, &str)] = &[
    ("X-A", "1"),
    ("x-b", "2"),
    ("Content-Type", "application/json"),
    ("Content-Type", "text/plain"),
    ("Accept", "application/json"),
    ("Accept-Language", "\"odd\""),
    ("Authorization", "Bearer t"),
    ("Cookie", "a=b"),
    ("Range", "bytes=0-10"),
];
const ANNOUNCED: &[&str] = &["x-c", "content-type", "x-a, x-d", "cookie"];
const EXPOSE: &[&str] = &[
    "x-total",
    "X-ID",
    "content-type",
    "set-cookie",
    "access-control-allow-origin",
];

fn observed() -> impl Strategy<Value = Observed> {
    (
        prop::sample::select(ORIGINS),
        prop::sample::select(METHODS),
        prop::collection::vec(prop::sample::select(HEADERS), 0..3),
        prop::collection::vec(prop::sample::select(ANNOUNCED), 0..2),
        any::<bool>(),
        prop::collection::vec(prop::sample::select(EXPOSE), 0..2),
        "[a-z\"\n\\\\ ]{0,12}",
    )
        .prop_map(
            |(origin, method, headers, announced, creds, expose, source)| {
                let mut o = Observed::new(origin, method)
                    .credentials(creds)
                    .source(source);
                for (n, v) in headers {
                    o = o.header(n, v);
                }
                for a in announced {
                    o = o.announced(a);
                }
                for e in expose {
                    o = o.expose(e);
                }
                o
            },
        )
}

fn allowable(o: &Observed) -> bool {
    !matches!(
        o.origin.as_str(),
        "null" | "file://" | "not an origin" | "https://app.example.com/"
    )
}

/// Every way to make the proposal one step narrower.
fn narrower(c: &PolicyConfig) -> Vec<(String, PolicyConfig)> {
    let mut out = Vec::new();
    let mut drop = |key: &str, list: fn(&mut PolicyConfig) -> &mut Vec<String>| {
        for i in 0..list(&mut c.clone()).len() {
            let mut n = c.clone();
            let v = list(&mut n).remove(i);
            out.push((format!("{key} without {v}"), n));
        }
    };
    drop("origins", |c| &mut c.origins);
    drop("methods", |c| &mut c.methods);
    drop("request_headers", |c| &mut c.request_headers);
    drop("expose_headers", |c| &mut c.expose_headers);
    if c.credentials {
        let mut n = c.clone();
        n.credentials = false;
        out.push(("credentials false".into(), n));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_proposal_is_the_tightest_safe_policy(seen in prop::collection::vec(observed(), 1..8)) {
        let inf = infer(&seen, &InferOptions::default()).unwrap();
        let c = inf.config();
        // Never unsafe.
        prop_assert!(!c.origins.iter().any(|o| o == "*" || o == "null"));
        prop_assert!(!c.methods.iter().any(|m| m == "*"));
        prop_assert!(!c.request_headers.iter().any(|h| h == "*"));
        prop_assert!(!c.expose_headers.iter().any(|h| h == "*"));
        // Every allowable request allowed; the others listed as refused.
        for o in &seen {
            if allowable(o) {
                prop_assert!(inf.allows(o), "not allowed: {:?}\n{}", o, inf.to_toml());
            } else {
                prop_assert!(!inf.allows(o));
                prop_assert!(inf.refused().iter().any(|r| r.origin == o.origin));
            }
        }
        // Credentials only when a request carried them.
        prop_assert_eq!(c.credentials, seen.iter().any(|o| allowable(o) && o.credentials));
        // Tight: each value is needed by some request.
        for (what, n) in narrower(c) {
            let still_all = match n.build() {
                Ok(p) => seen.iter().filter(|o| allowable(o)).all(|o| o.allowed_by(&p)),
                Err(_) => false, // no origin left: nothing allowed
            };
            prop_assert!(!still_all, "{} is not needed:\n{}", what, inf.to_toml());
        }
        // Origins never seen are refused, whatever they ask.
        for h in HOSTILE {
            if seen.iter().any(|o| o.origin == *h) {
                continue;
            }
            for o in &seen {
                let mut probe = o.clone();
                probe.origin = (*h).to_string();
                prop_assert!(!inf.allows(&probe), "{} allowed:\n{}", h, inf.to_toml());
            }
        }
        // The printed TOML loads back to the same settings, comments and all.
        let text = inf.to_toml();
        match Policy::from_toml(&text) {
            Ok(p) => prop_assert_eq!(p.config(), c, "{}", text),
            Err(e) => prop_assert!(c.origins.is_empty(), "{}\n{}", e, text),
        }
        // Against itself nothing narrows; against `*` the star does.
        prop_assert!(inf.narrowings(c).is_empty());
        let any = PolicyConfig { origins: vec!["*".into()], methods: vec!["*".into()], ..PolicyConfig::default() };
        let n = inf.narrowings(&any);
        prop_assert!(n.iter().any(|x| x.setting == "origins" && x.value == "*"));
        prop_assert!(n.iter().any(|x| x.setting == "methods" && x.value == "*"));
        // A longer preflight cache lifetime than the proposal's (600 s, or none) narrows too.
        let longer = PolicyConfig { max_age: Some(86_400), ..c.clone() };
        prop_assert!(inf.narrowings(&longer).iter().any(|x| x.setting == "max_age" && x.value == "86400"));
    }
}

#[test]
fn a_requested_pattern_replaces_the_origins_it_covers_and_must_be_needed() {
    let seen = [
        Observed::new("https://a.preview.example.org", "GET"),
        Observed::new("https://b.preview.example.org", "PUT"),
        Observed::new("https://app.example.com", "GET"),
    ];
    let options = InferOptions {
        patterns: vec!["https://*.preview.example.org".into()],
        ..InferOptions::default()
    };
    let inf = infer(&seen, &options).unwrap();
    assert_eq!(
        inf.config().origins,
        ["https://*.preview.example.org", "https://app.example.com"]
    );
    assert!(seen.iter().all(|o| inf.allows(o)));
    assert!(!inf.allows(&Observed::new("https://preview.example.org", "GET")));

    for (pattern, why) in [
        ("https://*.unused.example", "no observed origin"),
        ("*", "every origin"),
        ("https://*", ""),
    ] {
        let options = InferOptions {
            patterns: vec![pattern.into()],
            ..InferOptions::default()
        };
        let e = infer(&seen, &options).unwrap_err().to_string();
        assert!(e.contains(pattern) && e.contains(why), "{pattern}: {e}");
    }
}

#[test]
fn names_no_browser_sends_are_refused_not_fatal() {
    let seen = [
        Observed::new("https://app.example.com", "GE T"),
        Observed::new("https://app.example.com", "PUT").announced("x a, x-b"),
        Observed::new("https://app.example.com", "GET").expose("x\ny"),
        Observed::new("https://admin.example.com", "PATCH").announced("x-ok"),
    ];
    let inf = infer(&seen, &InferOptions::default()).unwrap();
    assert_eq!(inf.refused().len(), 3, "{:?}", inf.refused());
    assert_eq!(inf.config().origins, ["https://admin.example.com"]);
    assert_eq!(inf.config().methods, ["PATCH"]);
    assert_eq!(inf.config().request_headers, ["x-ok"]);
    assert!(inf.allows(&seen[3]));
    assert!(Policy::from_toml(&inf.to_toml()).is_ok());
}

#[test]
fn only_refused_traffic_gives_no_policy() {
    let seen = [Observed::new("null", "GET").credentials(true)];
    let inf = infer(&seen, &InferOptions::default()).unwrap();
    assert!(inf.policy().is_none());
    assert_eq!(inf.refused().len(), 1);
    assert!(inf.to_toml().contains("not allowed"));
}
