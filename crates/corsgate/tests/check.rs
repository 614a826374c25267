//! `corsgate check` against real loopback servers with canned CORS answers.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::{answer, corsgate, serve, serve_tls, set_value, CA_PEM};

const APP: &str = "http://localhost:3000";

fn codes(v: &serde_json::Value, field: &str) -> Vec<String> {
    v[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["code"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn simple_get_allowed_with_exposed_headers() {
    let s = serve(|_| {
        answer(
            200,
            &[
                ("Access-Control-Allow-Origin", APP),
                ("Access-Control-Expose-Headers", "X-Request-Id"),
                ("Vary", "Origin"),
                ("Content-Type", "application/json"),
                ("X-Request-Id", "42"),
                ("X-Secret", "s"),
            ],
        )
    });
    let r = corsgate(&[
        "check",
        &s.url("/items"),
        "--origin",
        APP,
        "--json",
        "--no-probe",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["allowed"], true);
    assert_eq!(v["preflight"], false);
    assert!(v["reason"].is_null());
    let exposed: Vec<&str> = v["exposed_headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert!(exposed.contains(&"content-type") && exposed.contains(&"x-request-id"));
    assert!(!exposed.contains(&"x-secret"));
    assert!(codes(&v, "hints").contains(&"headers_not_exposed".to_owned()));
    assert!(v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["kind"].is_string() && s["ok"].is_boolean() && s["message"].is_string()));
    // Exactly one request, carrying the Origin and nothing CORS-specific besides.
    let seen = s.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].header("origin"), Some(APP));
    assert_eq!(seen[0].header("access-control-request-method"), None);
}

#[test]
fn preflighted_put_sends_exactly_the_browser_preflight() {
    let s = serve(|req| {
        if req.method == "OPTIONS" {
            answer(
                204,
                &[
                    ("Access-Control-Allow-Origin", APP),
                    ("Access-Control-Allow-Methods", "PUT"),
                    ("Access-Control-Allow-Headers", "content-type, x-token"),
                    ("Vary", "Origin"),
                ],
            )
        } else {
            answer(
                200,
                &[("Access-Control-Allow-Origin", APP), ("Vary", "Origin")],
            )
        }
    });
    let r = corsgate(&[
        "check",
        &s.url("/items/1"),
        "--origin",
        APP,
        "--method",
        "PUT",
        "-H",
        "Content-Type: application/json",
        "-H",
        "X-Token: abc",
        "--body",
        "{\"a\":1}",
        "--json",
        "--no-probe",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["allowed"], true);
    assert_eq!(v["preflight"], true);
    assert_eq!(v["preflights"], 1);
    let seen = s.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, "OPTIONS");
    assert_eq!(seen[0].header("access-control-request-method"), Some("PUT"));
    assert_eq!(
        seen[0].header("access-control-request-headers"),
        Some("content-type,x-token")
    );
    assert_eq!(seen[0].header("x-token"), None);
    assert_eq!(seen[0].header("content-length"), None);
    assert_eq!(seen[1].method, "PUT");
    assert_eq!(seen[1].header("x-token"), Some("abc"));
    assert_eq!(seen[1].header("content-length"), Some("7"));
}

#[test]
fn credentials_need_allow_credentials_true() {
    let s = serve(|_| {
        answer(
            200,
            &[("Access-Control-Allow-Origin", APP), ("Vary", "Origin")],
        )
    });
    let r = corsgate(&[
        "check",
        &s.url("/me"),
        "--origin",
        APP,
        "--credentials",
        "include",
        "--json",
        "--no-probe",
    ]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["allowed"], false);
    assert_eq!(v["reason"]["code"], "invalid_allow_credentials");
    assert_eq!(
        set_value(&v["reason"]["fix"], "Access-Control-Allow-Credentials").as_deref(),
        Some("true")
    );

    let ok = serve(|_| {
        answer(
            200,
            &[
                ("Access-Control-Allow-Origin", APP),
                ("Access-Control-Allow-Credentials", "true"),
                ("Vary", "Origin"),
            ],
        )
    });
    let r = corsgate(&[
        "check",
        &ok.url("/me"),
        "--origin",
        APP,
        "--credentials",
        "include",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn wildcard_with_credentials_is_refused_and_the_fix_names_the_origin() {
    let s = serve(|_| answer(200, &[("Access-Control-Allow-Origin", "*")]));
    let r = corsgate(&[
        "check",
        &s.url("/me"),
        "--origin",
        APP,
        "--credentials",
        "include",
        "--json",
        "--no-probe",
    ]);
    assert_eq!(r.code, 1);
    let v = r.json();
    assert_eq!(v["reason"]["code"], "wildcard_origin_with_credentials");
    assert_eq!(v["reason"]["chromium"], "WildcardOriginNotAllowed");
    assert_eq!(v["reason"]["firefox"], "CORSNotSupportingCredentials");
    // One fix: the one origin instead of `*`, keeping credentials; the plan
    // ends in a pass, with no wildcard anywhere.
    let fixes = v["fixes"].as_array().unwrap();
    assert_eq!(fixes.len(), 1, "{fixes:#?}");
    assert_eq!(
        set_value(&fixes[0], "Access-Control-Allow-Credentials").as_deref(),
        Some("true")
    );
    assert_eq!(v["fixes_complete"], true);
    for f in fixes {
        for h in f["set_headers"].as_array().unwrap() {
            assert_ne!(h[1], "*");
        }
    }
    assert_eq!(
        set_value(&fixes[0], "Access-Control-Allow-Origin").as_deref(),
        Some(APP)
    );
}

#[test]
fn missing_allow_origin_human_output() {
    let s = serve(|_| answer(200, &[("Content-Type", "text/plain")]));
    let r = corsgate(&["check", &s.url("/x"), "--origin", APP, "--no-probe"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("BLOCKED by CORS"), "{}", r.stdout);
    assert!(r.stdout.contains("MissingAllowOriginHeader"));
    assert!(r
        .stdout
        .contains("Access-Control-Allow-Origin: http://localhost:3000"));
    // Every answer was received: the list is not called partial.
    assert!(!r.stdout.contains("may be partial"), "{}", r.stdout);
    // Not a terminal: no colour.
    assert!(!r.stdout.contains('\x1b'));
    // Unknown server: the snippet is a corsgate policy.
    assert!(
        r.stdout.contains("origins = [\"http://localhost:3000\"]"),
        "{}",
        r.stdout
    );
}

#[test]
fn error_response_without_cors_headers_is_named() {
    let s = serve(|_| answer(500, &[]));
    let r = corsgate(&[
        "check",
        &s.url("/boom"),
        "--origin",
        APP,
        "--json",
        "--no-probe",
    ]);
    assert_eq!(r.code, 1);
    let v = r.json();
    assert_eq!(v["reason"]["code"], "missing_allow_origin");
    assert!(codes(&v, "hints").contains(&"error_response_without_cors".to_owned()));
}

fn preflight_answered(
    status: u16,
    extra: &'static [(&'static str, &'static str)],
) -> common::Server {
    serve(move |req| {
        if req.method == "OPTIONS" {
            answer(status, extra)
        } else {
            answer(200, &[("Access-Control-Allow-Origin", APP)])
        }
    })
}

#[test]
fn preflight_401_means_auth_before_cors() {
    let s = preflight_answered(401, &[("WWW-Authenticate", "Bearer")]);
    let r = corsgate(&[
        "check",
        &s.url("/api"),
        "--origin",
        APP,
        "-X",
        "DELETE",
        "-H",
        "Authorization: Bearer t",
        "--json",
    ]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["preflight"], true);
    // Like Chromium: the preflight's CORS check comes before its status.
    assert_eq!(v["reason"]["code"], "missing_allow_origin");
    assert_eq!(v["reason"]["chromium"], "PreflightMissingAllowOriginHeader");
    assert!(codes(&v, "hints").contains(&"preflight_auth_before_cors".to_owned()));
    // The plan, one fix at a time, for the preflight actually received; the
    // actual response (a DELETE, never sent) is not assumed: no fix for it,
    // and the list says it is partial and not complete.
    let fixes = v["fixes"].as_array().unwrap();
    assert_eq!(v["fixes_complete"], false, "{v:#}");
    assert_eq!(v["fixes_partial"], true, "{v:#}");
    assert_eq!(v["unobserved"][0]["method"], "DELETE", "{v:#}");
    assert_eq!(
        set_value(&fixes[0], "Access-Control-Allow-Origin").as_deref(),
        Some(APP)
    );
    assert!(fixes
        .iter()
        .any(|f| f["stage"] == "preflight" && f["status"] == 204));
    assert!(fixes
        .iter()
        .any(|f| set_value(f, "Access-Control-Allow-Methods").as_deref() == Some("DELETE")));
    assert!(fixes
        .iter()
        .any(|f| set_value(f, "Access-Control-Allow-Headers").as_deref() == Some("authorization")));
    assert!(fixes
        .iter()
        .all(|f| f["stage"] == "preflight" && f["assumed"] == false));
    let human = corsgate(&[
        "check",
        &s.url("/api"),
        "--origin",
        APP,
        "-X",
        "DELETE",
        "-H",
        "Authorization: Bearer t",
    ]);
    assert!(
        human
            .stdout
            .contains("This list is partial: the answer to DELETE"),
        "{}",
        human.stdout
    );
    // Only the preflight was sent (plus the probe, which repeats it with another origin).
    assert!(s.seen().iter().all(|r| r.method == "OPTIONS"));
}

#[test]
fn preflight_403_with_cors_headers_is_a_status_failure() {
    let s = preflight_answered(403, &[("Access-Control-Allow-Origin", APP)]);
    let r = corsgate(&[
        "check",
        &s.url("/api"),
        "--origin",
        APP,
        "-X",
        "PUT",
        "--json",
        "--no-probe",
    ]);
    assert_eq!(r.code, 1);
    let v = r.json();
    assert_eq!(v["reason"]["code"], "preflight_status");
    assert_eq!(v["reason"]["chromium"], "PreflightInvalidStatus");
    assert_eq!(v["reason"]["firefox"], "CORSPreflightDidNotSucceed");
    assert_eq!(v["reason"]["fix"]["status"], 204);
    assert!(codes(&v, "hints").contains(&"preflight_auth_before_cors".to_owned()));
}

#[test]
fn preflight_405_means_router_before_cors() {
    let s = preflight_answered(405, &[("Allow", "GET, PUT")]);
    let r = corsgate(&[
        "check",
        &s.url("/api"),
        "--origin",
        APP,
        "-X",
        "PUT",
        "--json",
        "--no-probe",
    ]);
    assert_eq!(r.code, 1);
    assert!(codes(&r.json(), "hints").contains(&"preflight_method_not_routed".to_owned()));
}

#[test]
fn redirect_on_preflight_names_the_trailing_slash() {
    let s = serve(|req| {
        if req.method == "OPTIONS" && req.path == "/api" {
            answer(308, &[("Location", "/api/")])
        } else {
            answer(204, &[("Access-Control-Allow-Origin", APP)])
        }
    });
    let r = corsgate(&[
        "check",
        &s.url("/api"),
        "--origin",
        APP,
        "-X",
        "PATCH",
        "--json",
        "--no-probe",
    ]);
    assert_eq!(r.code, 1);
    let v = r.json();
    assert_eq!(v["reason"]["code"], "preflight_redirect");
    let hint = v["hints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["code"] == "preflight_redirect")
        .expect("hint");
    assert!(
        hint["message"].as_str().unwrap().contains("trailing slash"),
        "{hint}"
    );
}

#[test]
fn allow_origin_sent_twice() {
    let s = serve(|_| {
        answer(
            200,
            &[
                ("Access-Control-Allow-Origin", APP),
                ("Access-Control-Allow-Origin", APP),
            ],
        )
    });
    let r = corsgate(&[
        "check",
        &s.url("/x"),
        "--origin",
        APP,
        "--json",
        "--no-probe",
    ]);
    assert_eq!(r.code, 1);
    let v = r.json();
    assert_eq!(v["reason"]["code"], "multiple_allow_origin");
    assert!(codes(&v, "hints").contains(&"allow_origin_twice".to_owned()));
    // One line left after the fix.
    assert_eq!(
        set_value(&v["reason"]["fix"], "Access-Control-Allow-Origin").as_deref(),
        Some(APP)
    );
}

#[test]
fn origin_dependent_answer_without_vary() {
    // Allows the app's origin only, and forgets Vary: Origin.
    let s = serve(|req| match req.header("origin") {
        Some(APP) => answer(200, &[("Access-Control-Allow-Origin", APP)]),
        _ => answer(200, &[]),
    });
    let r = corsgate(&["check", &s.url("/x"), "--origin", APP, "--json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    assert!(
        codes(&v, "hints").contains(&"vary_origin_missing".to_owned()),
        "{v:#}"
    );
    assert!(!codes(&v, "hints").contains(&"reflects_any_origin".to_owned()));
    // The probe used another origin.
    let seen = s.seen();
    assert_eq!(seen.len(), 2);
    assert_ne!(seen[1].header("origin"), Some(APP));

    // The same with Vary: no hint.
    let s = serve(|req| match req.header("origin") {
        Some(APP) => answer(
            200,
            &[("Access-Control-Allow-Origin", APP), ("Vary", "Origin")],
        ),
        _ => answer(200, &[("Vary", "Origin")]),
    });
    let v = corsgate(&["check", &s.url("/x"), "--origin", APP, "--json"]).json();
    assert!(
        !codes(&v, "hints")
            .iter()
            .any(|c| c.starts_with("vary_origin")),
        "{v:#}"
    );
}

#[test]
fn reflecting_any_origin_with_credentials_is_flagged() {
    let s = serve(|req| {
        let o = req.header("origin").unwrap_or("").to_owned();
        Answer2::new(200)
            .h("Access-Control-Allow-Origin", &o)
            .h("Access-Control-Allow-Credentials", "true")
            .h("Vary", "Origin")
            .done()
    });
    let r = corsgate(&[
        "check",
        &s.url("/me"),
        "--origin",
        APP,
        "--credentials",
        "include",
        "--json",
    ]);
    assert_eq!(r.code, 0);
    let v = r.json();
    let h = v["hints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["code"] == "reflects_any_origin")
        .expect("hint");
    assert!(h["message"].as_str().unwrap().contains("credentials"));
}

struct Answer2(common::Answer);
impl Answer2 {
    fn new(status: u16) -> Self {
        Answer2(common::Answer {
            status,
            headers: Vec::new(),
        })
    }
    fn h(mut self, n: &str, v: &str) -> Self {
        self.0.headers.push((n.to_owned(), v.to_owned()));
        self
    }
    fn done(self) -> common::Answer {
        self.0
    }
}

#[test]
fn localhost_vs_127_and_trailing_slash() {
    let s = serve(|_| {
        answer(
            200,
            &[("Access-Control-Allow-Origin", "http://127.0.0.1:3000")],
        )
    });
    let r = corsgate(&[
        "check",
        &s.url("/x"),
        "--origin",
        APP,
        "--json",
        "--no-probe",
    ]);
    assert_eq!(r.code, 1);
    let v = r.json();
    assert_eq!(v["reason"]["code"], "allow_origin_mismatch");
    let h = v["hints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["code"] == "origin_mixup")
        .expect("hint");
    assert!(
        h["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1 and localhost")
            || h["message"]
                .as_str()
                .unwrap()
                .contains("localhost and 127.0.0.1"),
        "{h}"
    );

    let s = serve(|_| {
        answer(
            200,
            &[("Access-Control-Allow-Origin", "http://localhost:3000/")],
        )
    });
    let r = corsgate(&[
        "check",
        &s.url("/x"),
        "--origin",
        "http://localhost:3000/",
        "--json",
        "--no-probe",
    ]);
    assert_eq!(r.code, 1);
    let v = r.json();
    let hints = codes(&v, "hints");
    assert!(hints.contains(&"origin_mixup".to_owned()), "{v:#}");
    assert!(
        hints.contains(&"origin_argument_normalized".to_owned()),
        "{v:#}"
    );
}

#[test]
fn redirects_are_followed_as_the_browser_does() {
    // Same server: redirect then answer; both carry CORS headers.
    let s = serve(|req| {
        if req.path == "/old" {
            answer(
                302,
                &[("Location", "/new"), ("Access-Control-Allow-Origin", APP)],
            )
        } else {
            answer(200, &[("Access-Control-Allow-Origin", APP)])
        }
    });
    let v = corsgate(&[
        "check",
        &s.url("/old"),
        "--origin",
        APP,
        "--json",
        "--no-probe",
    ])
    .json();
    assert_eq!(v["allowed"], true);
    assert_eq!(v["redirects"], 1);
    assert!(v["final_url"].as_str().unwrap().ends_with("/new"));

    // A redirect to another origin: the browser then sends Origin: null.
    let other = serve(|req| {
        answer(
            200,
            &[(
                "Access-Control-Allow-Origin",
                req.header("origin").map_or("", |_| APP),
            )],
        )
    });
    let target = other.url("/final");
    let s = serve(move |_| {
        answer(
            302,
            &[("Location", &target), ("Access-Control-Allow-Origin", "*")],
        )
    });
    let r = corsgate(&[
        "check",
        &s.url("/start"),
        "--origin",
        APP,
        "--json",
        "--no-probe",
    ]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(other.seen()[0].header("origin"), Some("null"));
    let v = r.json();
    assert_eq!(v["reason"]["code"], "allow_origin_mismatch");
    assert!(codes(&v, "hints").contains(&"cross_origin_redirect".to_owned()));
    // Never proposes to allow `null`.
    assert_eq!(v["reason"]["fix"]["side"], "client");
}

#[test]
fn server_kind_picks_the_snippet() {
    let s = serve(|_| answer(200, &[("Server", "nginx/1.24.0")]));
    let r = corsgate(&[
        "check",
        &s.url("/v1/items"),
        "--origin",
        APP,
        "--json",
        "--no-probe",
    ]);
    let v = r.json();
    assert_eq!(v["server"], "nginx");
    let snippet = v["snippet"].as_str().unwrap();
    assert!(snippet.contains("location /v1/items {"));
    assert!(snippet
        .contains("add_header Access-Control-Allow-Origin \"http://localhost:3000\" always;"));
    assert!(v["reason"]["fix"]["snippet"]["text"]
        .as_str()
        .unwrap()
        .contains("add_header"));

    let s = serve(|_| answer(200, &[("X-Powered-By", "Express")]));
    let v = corsgate(&[
        "check",
        &s.url("/x"),
        "--origin",
        APP,
        "--json",
        "--no-probe",
    ])
    .json();
    assert_eq!(v["server"], "express");
    assert!(v["snippet"].as_str().unwrap().contains("app.use(cors({"));
}

#[test]
fn connection_refused_is_not_a_cors_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/x");
    let r = corsgate(&["check", &url, "--origin", APP]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("connection refused"), "{}", r.stderr);
    assert!(r.stderr.contains("not a CORS"), "{}", r.stderr);
    assert!(!r.stdout.contains("BLOCKED"));
    let r = corsgate(&["check", &url, "--origin", APP, "--json"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.json()["error"]["code"], "connection_refused");
}

#[test]
fn dns_failure_is_not_a_cors_error() {
    let r = corsgate(&[
        "check",
        "http://no-such-host.invalid/x",
        "--origin",
        APP,
        "--json",
        // A resolver without network can take a while to give up.
        "--timeout",
        "60",
    ]);
    assert_eq!(r.code, 2);
    assert_eq!(r.json()["error"]["code"], "dns", "{}", r.stdout);
}

#[test]
fn tls_failure_is_not_a_cors_error() {
    // A plain-HTTP server spoken to in TLS.
    let s = serve(|_| answer(200, &[]));
    let url = format!("https://{}/x", s.addr);
    let r = corsgate(&["check", &url, "--origin", APP, "--json", "--timeout", "5"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert_eq!(r.json()["error"]["code"], "tls", "{}", r.stdout);
}

#[test]
fn timeout_is_reported() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/slow", l.local_addr().unwrap());
    let keep = std::thread::spawn(move || {
        let c = l.accept();
        std::thread::sleep(std::time::Duration::from_secs(3));
        drop(c);
    });
    let r = corsgate(&["check", &url, "--origin", APP, "--timeout", "0.5"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no answer"), "{}", r.stderr);
    drop(keep);
}

#[test]
fn bad_arguments_exit_2_with_a_clear_message() {
    let r = corsgate(&[
        "check",
        "http://127.0.0.1:1/",
        "--origin",
        APP,
        "-H",
        "NoColon",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("Name: value"), "{}", r.stderr);
    let r = corsgate(&[
        "check",
        "http://127.0.0.1:1/",
        "--origin",
        APP,
        "-X",
        "TRACE",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("TRACE"), "{}", r.stderr);
    let r = corsgate(&["check", "http://127.0.0.1:1/", "--origin", "not an origin"]);
    assert_eq!(r.code, 2);
    let r = corsgate(&[
        "check",
        "http://127.0.0.1:1/",
        "--origin",
        APP,
        "--credentials",
        "always",
    ]);
    assert_eq!(r.code, 2);
    let r = corsgate(&["check", "ftp://127.0.0.1/", "--origin", APP]);
    assert_eq!(r.code, 2);
}

#[test]
fn forced_colour_and_plain_text() {
    let s = serve(|_| answer(200, &[("Access-Control-Allow-Origin", "*")]));
    let r = corsgate(&[
        "--color",
        "always",
        "check",
        &s.url("/x"),
        "--origin",
        APP,
        "--no-probe",
    ]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("\x1b[32m"));
    assert!(r.stdout.contains("ALLOWED"));
}

#[test]
fn a_redirect_loop_is_a_network_error_not_cors() {
    let s = serve(|_| {
        answer(
            302,
            &[("Location", "/loop"), ("Access-Control-Allow-Origin", "*")],
        )
    });
    let r = corsgate(&["check", &s.url("/loop"), "--origin", APP, "--json"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["reason"]["code"], "too_many_redirects");
    assert_eq!(v["reason"]["is_cors"], false);
    let human = corsgate(&["check", &s.url("/loop"), "--origin", APP]);
    assert!(
        human.stdout.contains("network error, not CORS"),
        "{}",
        human.stdout
    );
    assert!(!human.stdout.contains("BLOCKED by CORS"));
}

#[test]
fn no_probe_when_the_answer_does_not_name_the_origin() {
    let s = serve(|_| answer(200, &[("Access-Control-Allow-Origin", "*")]));
    let r = corsgate(&["check", &s.url("/x"), "--origin", APP, "--json"]);
    assert_eq!(r.code, 0);
    assert_eq!(s.seen().len(), 1);
}

#[test]
fn https_with_a_trusted_ca_and_without() {
    let s = serve_tls(|_| answer(200, &[("Access-Control-Allow-Origin", APP)]));
    let url = format!("https://localhost:{}/secure", s.addr.port());
    let r = corsgate(&[
        "check",
        &url,
        "--origin",
        APP,
        "--cacert",
        CA_PEM,
        "--json",
        "--no-probe",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.json()["allowed"], true);
    assert_eq!(s.seen()[0].header("origin"), Some(APP));
    // The same server without its CA: a TLS error, not CORS.
    let r = corsgate(&["check", &url, "--origin", APP, "--json"]);
    assert_eq!(r.code, 2);
    let v = r.json();
    assert_eq!(v["error"]["code"], "tls");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a CORS"),
        "{v}"
    );
    // A --cacert that is not PEM.
    let r = corsgate(&[
        "check",
        &url,
        "--origin",
        APP,
        "--cacert",
        concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--cacert"), "{}", r.stderr);
}

#[test]
fn browser_profiles_differ_where_browsers_do() {
    // Max-Age: Chromium caps it at 2 hours, Firefox at 24 hours.
    let s = serve(|req| {
        if req.method == "OPTIONS" {
            answer(
                204,
                &[
                    ("Access-Control-Allow-Origin", APP),
                    ("Access-Control-Allow-Methods", "PUT"),
                    ("Access-Control-Max-Age", "86400"),
                    ("Server", "Apache/2.4.62 (Debian)"),
                ],
            )
        } else {
            answer(200, &[("Access-Control-Allow-Origin", APP)])
        }
    });
    let step = |browser: &str| -> String {
        let v = corsgate(&[
            "check",
            &s.url("/x"),
            "--origin",
            APP,
            "-X",
            "PUT",
            "--browser",
            browser,
            "--json",
            "--no-probe",
        ])
        .json();
        assert_eq!(v["allowed"], true);
        v["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["kind"] == "preflight_checked")
            .unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(step("chromium").contains("7200 s"));
    assert!(step("firefox").contains("86400 s"));
    let r = corsgate(&[
        "check",
        &s.url("/x"),
        "--origin",
        APP,
        "--browser",
        "netscape",
    ]);
    assert_eq!(r.code, 2);
}

#[test]
fn apache_snippet() {
    let s = serve(|_| answer(200, &[("Server", "Apache/2.4.62 (Debian)")]));
    let v = corsgate(&[
        "check",
        &s.url("/api/x"),
        "--origin",
        APP,
        "--credentials",
        "include",
        "--json",
    ])
    .json();
    assert_eq!(v["server"], "apache");
    let snippet = v["snippet"].as_str().unwrap();
    assert!(
        snippet.contains("Header always set Access-Control-Allow-Origin \"http://localhost:3000\"")
    );
    assert!(snippet.contains("Access-Control-Allow-Credentials \"true\""));
    assert!(v["reason"]["fix"]["snippet"]["text"]
        .as_str()
        .unwrap()
        .contains("Header always set"));
}

#[test]
fn malformed_header_lines_are_dropped_as_a_browser_would_not_read_them() {
    // WPT's `Access-Control-Expose-Headers: bb-8\u000B`: never exposes bb-8, and is not a network error.
    let bad = common::serve_raw(
        b"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nBB-8: hey\r\nAccess-Control-Expose-Headers: bb-8\x0b\r\nContent-Length: 0\r\n\r\n",
    );
    let v = corsgate(&[
        "check",
        &format!("http://{bad}/x"),
        "--origin",
        APP,
        "--json",
    ])
    .json();
    assert_eq!(v["allowed"], true, "{v:#}");
    assert!(!v["exposed_headers"]
        .as_array()
        .unwrap()
        .contains(&"bb-8".into()));
    let good = common::serve_raw(
        b"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nBB-8: hey\r\nAccess-Control-Expose-Headers: bb-8\r\nContent-Length: 0\r\n\r\n",
    );
    let v = corsgate(&[
        "check",
        &format!("http://{good}/x"),
        "--origin",
        APP,
        "--json",
    ])
    .json();
    assert!(
        v["exposed_headers"]
            .as_array()
            .unwrap()
            .contains(&"bb-8".into()),
        "{v:#}"
    );
}

#[test]
fn garbage_instead_of_http_is_a_protocol_error() {
    let addr = common::serve_raw(b"SSH-2.0-OpenSSH_9.6\r\n\r\n");
    let r = corsgate(&[
        "check",
        &format!("http://{addr}/"),
        "--origin",
        APP,
        "--json",
    ]);
    assert_eq!(r.code, 2);
    assert_eq!(r.json()["error"]["code"], "protocol");
}

#[test]
fn a_string_body_is_labelled_as_fetch_does() {
    let s = serve(|_| answer(200, &[("Access-Control-Allow-Origin", APP)]));
    let r = corsgate(&[
        "check",
        &s.url("/log"),
        "--origin",
        APP,
        "-X",
        "POST",
        "--body",
        "hello",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // text/plain is safelisted: still no preflight.
    assert_eq!(r.json()["preflight"], false);
    let seen = s.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(
        seen[0].header("content-type"),
        Some("text/plain;charset=UTF-8")
    );
    let r = corsgate(&["check", &s.url("/log"), "--origin", APP, "--body", "hello"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("refuses a body with GET"), "{}", r.stderr);
}

/// An endpoint for signed-in users: 401 without CORS headers unless the
/// session cookie comes along.
#[test]
fn cookies_go_with_the_actual_request_when_credentials_allow() {
    let s = serve(|req| {
        if req.method == "OPTIONS" {
            return answer(
                204,
                &[
                    ("Access-Control-Allow-Origin", APP),
                    ("Access-Control-Allow-Credentials", "true"),
                    ("Access-Control-Allow-Methods", "PUT"),
                    ("Vary", "Origin"),
                ],
            );
        }
        if req.header("cookie") == Some("session=ok; theme=dark") {
            answer(
                200,
                &[
                    ("Access-Control-Allow-Origin", APP),
                    ("Access-Control-Allow-Credentials", "true"),
                    ("Vary", "Origin"),
                ],
            )
        } else {
            answer(401, &[("WWW-Authenticate", "Cookie")])
        }
    });
    let url = s.url("/me");
    let check = |extra: &[&str]| {
        let mut args = vec![
            "check",
            url.as_str(),
            "--origin",
            APP,
            "--json",
            "--no-probe",
            "-X",
            "PUT",
        ];
        args.extend_from_slice(extra);
        corsgate(&args)
    };
    let cookies = ["--cookie", "session=ok", "--cookie", "theme=dark"];
    let r = check(&[&["--credentials", "include"][..], &cookies[..]].concat());
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // Never with the preflight; with the request itself, as one line.
    let seen = s.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, "OPTIONS");
    assert_eq!(seen[0].header("cookie"), None);
    assert_eq!(seen[1].header("cookie"), Some("session=ok; theme=dark"));
    // Cross-origin with the default credentials mode, a browser keeps the
    // cookie: the endpoint answers 401 without CORS headers.
    let r = check(&cookies);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(s.seen()[3].header("cookie"), None);
    // A value that would break the request head is refused.
    let r = check(&["--cookie", "a=b\r\nX-Evil: 1"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("one name=value pair"), "{}", r.stderr);
}

#[test]
fn a_3xx_preflight_without_location_is_a_bad_status_not_a_redirect() {
    // As Chromium: the CORS headers first, then "does not have HTTP ok
    // status"; no fix or hint talks about a `Location` that is not there.
    for (status, extra, code) in [
        (
            302u16,
            &[
                ("Access-Control-Allow-Origin", APP),
                ("Access-Control-Allow-Methods", "PATCH"),
            ][..],
            "preflight_status",
        ),
        (301, &[("Location", "")][..], "missing_allow_origin"),
        (307, &[][..], "missing_allow_origin"),
    ] {
        let s = preflight_answered(status, extra);
        let r = corsgate(&[
            "check",
            &s.url("/api"),
            "--origin",
            APP,
            "-X",
            "PATCH",
            "--json",
            "--no-probe",
        ]);
        assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
        let v = r.json();
        assert_eq!(v["reason"]["code"], code, "{status}: {v:#}");
        assert_eq!(v["reason"]["stage"], "preflight");
        let hints = codes(&v, "hints");
        assert!(
            hints.contains(&"preflight_status_without_location".to_owned()),
            "{hints:?}"
        );
        assert!(
            !hints.contains(&"preflight_redirect".to_owned()),
            "{hints:?}"
        );
        for f in v["fixes"].as_array().unwrap() {
            assert!(f["remove_headers"].as_array().unwrap().is_empty(), "{f:#}");
            assert!(
                !f["sentence"].as_str().unwrap().contains("redirect"),
                "{f:#}"
            );
        }
        assert!(
            v["fixes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["status"] == 204),
            "{v:#}"
        );
    }
}

/// A failed preflight hides where the GET goes: `check` asks the server for
/// it (a GET is safe to send), sees the redirect, and lists the fixes for
/// both hops instead of assuming a plain answer; a `*` that already serves
/// the final answer is kept.
#[test]
fn a_failed_preflight_of_a_get_learns_the_redirect() {
    let s = serve(|req| match (req.method.as_str(), req.path.as_str()) {
        ("OPTIONS", _) => answer(401, &[]),
        ("GET", "/api") => answer(301, &[("Location", "/api/")]),
        _ => answer(200, &[("Access-Control-Allow-Origin", "*")]),
    });
    // With --no-probe, nothing beyond what the browser sends: the list stops
    // at the GET's answer, never received, and says so.
    let args = [
        "check",
        &s.url("/api"),
        "--origin",
        APP,
        "-H",
        "X-Token: 1",
        "--json",
    ];
    let r = corsgate(&[&args[..], &["--no-probe"]].concat());
    let v = r.json();
    assert_eq!(v["learned"], serde_json::json!([]), "{v:#}");
    assert_eq!(v["fixes_partial"], true, "{v:#}");
    assert_eq!(v["fixes_complete"], false, "{v:#}");
    assert_eq!(v["unobserved"][0]["method"], "GET", "{v:#}");
    assert!(s.seen().iter().all(|q| q.method == "OPTIONS"));
    let r = corsgate(&args);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["learned"][0]["method"], "GET", "{v:#}");
    assert_eq!(v["learned"][0]["status"], 301, "{v:#}");
    assert_eq!(v["fixes_partial"], false, "{v:#}");
    assert_eq!(v["fixes_complete"], true, "{v:#}");
    let fixes = v["fixes"].as_array().unwrap();
    // The redirect's own preflight and answer are fixed too.
    assert!(
        fixes
            .iter()
            .any(|f| f["stage"] == "redirect"
                || f["url"].as_str().is_some_and(|u| u.ends_with("/api/"))),
        "{v:#}"
    );
    // No fix narrows the final answer's working `*`.
    for f in fixes {
        if f["url"].as_str().is_some_and(|u| u.ends_with("/api/")) && f["stage"] == "actual" {
            panic!("the final answer's `*` already serves this request: {f:#}");
        }
    }
    // What was sent: the preflight, the learning GET, and what followed it.
    assert!(s
        .seen()
        .iter()
        .any(|q| q.method == "GET" && q.path == "/api"));
}

/// A redirect to another origin turns the page's origin into `null`: only
/// the client can fix that from there (and the client-side step sets
/// nothing), but the server has an alternative: keep the redirect on its
/// own origin, offered beside it.
#[test]
fn a_null_tainting_redirect_gets_a_server_side_alternative() {
    let s = serve(|req| match req.path.as_str() {
        "/a" => {
            let port = req
                .header("host")
                .and_then(|h| h.rsplit(':').next())
                .unwrap_or("0");
            let to = format!("http://localhost:{port}/b?x=1");
            let mut a = answer(302, &[("Access-Control-Allow-Origin", APP)]);
            a.headers.push(("Location".into(), to));
            a
        }
        _ => answer(200, &[("Access-Control-Allow-Origin", APP)]),
    });
    let r = corsgate(&[
        "check",
        &s.url("/a"),
        "--origin",
        APP,
        "--json",
        "--no-probe",
    ]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    let fixes = v["fixes"].as_array().unwrap();
    let last = fixes.last().expect("a fix");
    assert_eq!(last["side"], "client", "{v:#}");
    assert_eq!(last["set_headers"], serde_json::json!([]), "{v:#}");
    assert_eq!(v["fixes_complete"], false);
    let alt = &v["fix_alternatives"][0];
    assert_eq!(alt["side"], "server", "{v:#}");
    assert_eq!(alt["stage"], "redirect");
    assert_eq!(
        set_value(alt, "Location").as_deref(),
        Some(s.url("/b?x=1").as_str()),
        "{v:#}"
    );
}

/// `--headers-form`: two `Range` lines, each safelisted. Given as pairs,
/// Firefox judges each line (no preflight) and Chromium the combined value
/// (`bytes=0-1, bytes=2-3`: preflighted); in a `Headers` object both see one
/// combined line; in a plain object the last value alone goes. As measured
/// by the conformance crate's `tests/headers_form.rs`.
#[test]
fn headers_form_decides_how_a_repeated_header_is_judged() {
    for (form, browser, preflight, sent) in [
        ("pairs", "firefox", false, "bytes=0-1, bytes=2-3"),
        ("pairs", "chromium", true, "bytes=0-1, bytes=2-3"),
        ("headers", "firefox", true, "bytes=0-1, bytes=2-3"),
        ("object", "chromium", false, "bytes=2-3"),
    ] {
        let s = serve(|req| {
            let mut h = vec![("Access-Control-Allow-Origin", APP)];
            if req.method == "OPTIONS" {
                h.push(("Access-Control-Allow-Headers", "range"));
            }
            answer(if req.method == "OPTIONS" { 204 } else { 200 }, &h)
        });
        let r = corsgate(&[
            "check",
            &s.url("/r"),
            "--origin",
            APP,
            "-H",
            "Range: bytes=0-1",
            "-H",
            "Range: bytes=2-3",
            "--headers-form",
            form,
            "--browser",
            browser,
            "--json",
            "--no-probe",
        ]);
        assert_eq!(r.code, 0, "{form} {browser}: {}{}", r.stdout, r.stderr);
        let v = r.json();
        assert_eq!(v["preflight"], preflight, "{form} {browser}");
        let seen = s.seen();
        let get = seen.last().expect("the request reached the server");
        let lines: Vec<&str> = get
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("range"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(lines.join(", "), sent, "{form} {browser}");
    }
    let r = corsgate(&[
        "check",
        "http://127.0.0.1:9/",
        "--origin",
        APP,
        "--headers-form",
        "tuple",
    ]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("pairs"), "{}", r.stderr);
}
