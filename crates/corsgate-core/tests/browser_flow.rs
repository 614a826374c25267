//! The browser model end to end: redirects, redirect-taint, the preflight
//! cache, and what the browser puts on the wire.

use std::collections::HashMap;

use corsgate_core::{Browser, Credentials, Outgoing, Profile, Request, Response, Stage, Verdict};

const A: &str = "http://web-platform.test:8000";
const B: &str = "http://www1.web-platform.test:8000";
const C: &str = "http://www2.web-platform.test:8000";

/// Runs `req` against a table URL → response; records what was sent.
fn run_table(
    profile: Profile,
    req: Request,
    table: &HashMap<String, Response>,
) -> (Verdict, Vec<Outgoing>) {
    let mut sent = Vec::new();
    let mut browser = Browser::new(profile);
    let v = browser
        .run(req, |out| {
            sent.push(out.clone());
            table.get(&out.url).cloned().ok_or(())
        })
        .expect("every URL is in the table");
    (v, sent)
}

fn hop(acao: Option<&str>, location: Option<&str>) -> Response {
    let mut r = Response::new(if location.is_some() { 302 } else { 200 });
    if let Some(a) = acao {
        r = r.header("Access-Control-Allow-Origin", a);
    }
    if let Some(l) = location {
        r = r.header("Location", l);
    }
    r
}

/// (first URL, its ACAO, second URL, its ACAO, Origin expected at the second hop).
type RedirectRow = (
    &'static str,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

/// web-platform-tests `cors/redirect-origin.htm`: (first hop, its ACAO) →
/// (second hop, its ACAO) ⇒ the Origin seen at the second hop, or refusal.
#[test]
fn wpt_redirect_origin() {
    let rows: [RedirectRow; 9] = [
        (A, Some("*"), B, Some("*"), Some(A)),
        (A, Some("*"), B, Some("null"), None),
        (B, Some("*"), A, Some("*"), Some("null")),
        (B, Some("*"), A, Some(A), None),
        (B, Some("*"), A, Some("null"), Some("null")),
        (B, None, A, Some("*"), None),
        (B, Some("*"), B, Some("*"), Some(A)),
        (B, Some("*"), C, Some("*"), Some("null")),
        (B, Some(A), C, Some("null"), Some("null")),
    ];
    for (i, (first, acao1, second, acao2, expect)) in rows.into_iter().enumerate() {
        let u1 = format!("{first}/first");
        let u2 = format!("{second}/second");
        let table = HashMap::from([
            (u1.clone(), hop(acao1, Some(&u2))),
            (u2.clone(), hop(acao2, None)),
        ]);
        let req = Request::builder(A, &u1).build().expect("request");
        for profile in [Profile::Chromium, Profile::Standard] {
            let (v, sent) = run_table(profile, req.clone(), &table);
            assert_eq!(v.allowed, expect.is_some(), "row {i} {profile}: {v}");
            if let Some(origin) = expect {
                let last = sent.last().expect("sent something");
                assert_eq!(last.url, u2);
                assert_eq!(
                    last.headers.get_str("origin").as_deref(),
                    Some(origin),
                    "row {i}"
                );
            }
        }
    }
}

#[test]
fn redirect_with_userinfo_is_refused() {
    let u1 = format!("{B}/a");
    let u2 = "http://user:pw@www1.web-platform.test:8000/b".to_string();
    let table = HashMap::from([(u1.clone(), hop(Some("*"), Some(&u2)))]);
    let (v, _) = run_table(
        Profile::Chromium,
        Request::builder(A, &u1).build().expect("request"),
        &table,
    );
    assert_eq!(
        v.reason.expect("refused").code,
        "redirect_contains_credentials"
    );
}

#[test]
fn authorization_is_dropped_on_cross_origin_redirect_and_post_becomes_get_on_303() {
    let u1 = format!("{B}/a");
    let u2 = format!("{C}/b");
    let req = Request::builder(A, &u1)
        .method("POST")
        .header("Authorization", "Bearer x")
        .header("Content-Type", "text/plain")
        .build()
        .expect("request");
    let mut sent = Vec::new();
    let mut browser = Browser::new(Profile::Chromium);
    let v = browser
        .run(req, |out| {
            sent.push(out.clone());
            Ok::<_, ()>(match (out.stage, out.url == u1) {
                (Stage::Preflight, _) => Response::new(204)
                    .header("Access-Control-Allow-Origin", A)
                    .header("Access-Control-Allow-Headers", "authorization"),
                (Stage::Actual, true) => {
                    let mut r = hop(Some(A), Some(&u2));
                    r.status = 303;
                    r
                }
                _ => hop(Some("*"), None),
            })
        })
        .expect("no network error");
    assert!(v.allowed, "{v}");
    let last = sent.last().expect("sent");
    assert_eq!(last.url, u2);
    assert_eq!(last.method, "GET");
    assert!(!last.headers.contains("authorization"));
    assert!(!last.headers.contains("content-type"));
    assert_eq!(last.headers.get_str("origin").as_deref(), Some("null"));
    assert_eq!(v.redirects, 1);
    assert_eq!(
        v.preflights, 1,
        "after the rewrite to GET nothing needs a preflight"
    );
}

#[test]
fn a_redirected_preflight_fails_and_a_redirect_after_preflight_preflights_again() {
    let u1 = format!("{B}/a");
    let u2 = format!("{C}/b");
    let req = Request::builder(A, &u1)
        .method("PUT")
        .build()
        .expect("request");
    // The preflight itself is redirected: refused.
    let mut browser = Browser::new(Profile::Chromium);
    let v = browser
        .run(req.clone(), |out| {
            Ok::<_, ()>(match out.stage {
                Stage::Preflight => Response::new(307).header("Location", &u2),
                _ => Response::new(200),
            })
        })
        .expect("no network error");
    assert_eq!(v.reason.expect("refused").code, "preflight_redirect");
    // The actual request is redirected cross-origin: a new preflight with Origin: null.
    let mut origins = Vec::new();
    let mut browser = Browser::new(Profile::Chromium);
    let v = browser
        .run(req, |out| {
            origins.push((out.stage, out.url.clone(), out.headers.get_str("origin")));
            let allow = |o: &str| {
                Response::new(204)
                    .header("Access-Control-Allow-Origin", o)
                    .header("Access-Control-Allow-Methods", "PUT")
            };
            Ok::<_, ()>(match (out.stage, out.url == u1) {
                (Stage::Preflight, true) => allow(A),
                (Stage::Actual, true) => hop(Some(A), Some(&u2)),
                (Stage::Preflight, false) => allow("null"),
                _ => hop(Some("null"), None),
            })
        })
        .expect("no network error");
    assert!(v.allowed, "{v}");
    assert_eq!(v.preflights, 2);
    assert_eq!(origins[2].0, Stage::Preflight);
    assert_eq!(origins[2].2.as_deref(), Some("null"));
}

#[test]
fn preflight_cache_is_used_until_max_age() {
    let url = format!("{B}/cached");
    let mut browser = Browser::new(Profile::Chromium);
    let req = Request::builder(A, &url)
        .method("PUT")
        .header("X-A", "1")
        .build()
        .expect("request");
    let answer = |b: &mut Browser, r: Request| {
        b.run(r, |out| {
            Ok::<_, ()>(match out.stage {
                Stage::Preflight => Response::new(204)
                    .header("Access-Control-Allow-Origin", A)
                    .header("Access-Control-Allow-Methods", "PUT")
                    .header("Access-Control-Allow-Headers", "x-a, *")
                    .header("Access-Control-Max-Age", "600"),
                _ => Response::new(200).header("Access-Control-Allow-Origin", A),
            })
        })
        .expect("no network error")
    };
    assert!(answer(&mut browser, req.clone()).preflight);
    let second = answer(&mut browser, req.clone());
    assert!(second.allowed && !second.preflight, "cached");
    // A credentialed request cannot use a non-credentialed entry.
    let cred = Request::builder(A, &url)
        .method("PUT")
        .header("X-A", "1")
        .credentials(Credentials::Include)
        .build()
        .expect("request");
    assert!(answer(&mut browser, cred).preflight);
    // Chromium's cache never lets `*` cover Authorization: a fresh preflight.
    let auth = Request::builder(A, &url)
        .method("PUT")
        .header("Authorization", "x")
        .build()
        .expect("request");
    assert!(answer(&mut browser, auth.clone()).preflight);
    browser.advance_ms(601_000);
    assert!(answer(&mut browser, req).preflight, "expired");
    // Firefox's cache never honours a cached `*` (checked against Firefox
    // 153 ESR): a fresh preflight each time.
    let mut firefox = Browser::new(Profile::Firefox);
    assert!(answer(&mut firefox, auth.clone()).preflight);
    let again = answer(&mut firefox, auth);
    assert!(again.allowed && again.preflight);
}

#[test]
fn what_goes_on_the_wire() {
    let url = format!("{B}/wire");
    let req = Request::builder(A, &url)
        .method("delete")
        .header("X-B", "2")
        .header("x-a", "1")
        .header("Cookie", "dropped")
        .build()
        .expect("request");
    let mut sent = Vec::new();
    let mut browser = Browser::new(Profile::Chromium);
    let v = browser
        .run(req, |out| {
            sent.push(out.clone());
            Ok::<_, ()>(Response::new(500))
        })
        .expect("no network error");
    assert!(!v.allowed);
    assert_eq!(
        sent.len(),
        1,
        "the actual request is never sent after a failed preflight"
    );
    let pf = &sent[0];
    assert_eq!(pf.method, "OPTIONS");
    assert_eq!(
        pf.headers
            .get_str("access-control-request-method")
            .as_deref(),
        Some("DELETE")
    );
    assert_eq!(
        pf.headers
            .get_str("access-control-request-headers")
            .as_deref(),
        Some("x-a,x-b")
    );
    assert_eq!(pf.headers.get_str("origin").as_deref(), Some(A));
    assert!(
        !pf.headers.contains("x-a"),
        "author headers are not sent on a preflight"
    );
    assert!(v.steps.iter().any(|s| s.message.contains("cookie")));
    let reason = v.reason.expect("refused");
    assert_eq!(reason.chromium, Some("PreflightMissingAllowOriginHeader"));
}

#[test]
fn verdict_serializes_for_machines() {
    let url = format!("{B}/json");
    let req = Request::builder(A, &url).build().expect("request");
    let table = HashMap::from([(url.clone(), hop(Some("https://other.example"), None))]);
    let (v, _) = run_table(Profile::Chromium, req, &table);
    let json = serde_json::to_value(&v).expect("serializes");
    assert_eq!(json["allowed"], false);
    assert_eq!(json["reason"]["code"], "allow_origin_mismatch");
    assert_eq!(json["reason"]["chromium"], "AllowOriginMismatch");
    assert_eq!(
        json["reason"]["firefox"],
        "CORSAllowOriginNotMatchingOrigin"
    );
    assert_eq!(json["reason"]["details"]["value"], "https://other.example");
    assert!(json["steps"].as_array().is_some_and(|s| !s.is_empty()));
}

/// The state machine is safe to poke: `start` while waiting hands out the same
/// request, and `respond` after the end returns the same verdict, never a new fetch.
#[test]
fn fetch_is_idempotent_at_its_edges() {
    let url = format!("{B}/edges");
    let req = Request::builder(A, &url)
        .method("PUT")
        .build()
        .expect("request");
    let mut browser = Browser::new(Profile::Chromium);
    let mut fetch = browser.fetch(req);
    let first = match fetch.start() {
        corsgate_core::Action::Send(out) => out,
        other => panic!("expected a preflight, got {other:?}"),
    };
    match fetch.start() {
        corsgate_core::Action::Send(again) => assert_eq!(again, first),
        other => panic!("expected the same preflight, got {other:?}"),
    }
    let done = fetch.respond(Response::new(500));
    let corsgate_core::Action::Done(v) = done else {
        panic!("a 500 preflight ends the fetch");
    };
    for _ in 0..2 {
        match fetch.respond(Response::new(200).header("Access-Control-Allow-Origin", "*")) {
            corsgate_core::Action::Done(again) => assert_eq!(again, v),
            other => panic!("after the end, the same verdict: {other:?}"),
        }
    }
}
