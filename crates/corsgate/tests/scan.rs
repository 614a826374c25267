//! `corsgate scan` against real loopback servers, each misconfigured in one
//! way, and one configured correctly (with corsgate's own `Policy::decide`).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::{answer, corsgate, serve, serve_tls, Answer, Seen, Server, CA_PEM};
use serde_json::Value;

/// The origin the scanned endpoints are meant to trust.
const TRUSTED: &str = "https://app.example.com";

fn scan(s: &Server, extra: &[&str]) -> (i32, Value) {
    let url = s.url("/api/me");
    let mut args = vec!["scan", url.as_str(), "--origin", TRUSTED, "--json"];
    args.extend_from_slice(extra);
    let r = corsgate(&args);
    let v = r.json();
    (r.code, v)
}

fn findings(v: &Value) -> &Vec<Value> {
    v["findings"].as_array().expect("findings is an array")
}

fn finding<'a>(v: &'a Value, class: &str) -> Option<&'a Value> {
    findings(v).iter().find(|f| f["class"] == class)
}

fn classes(v: &Value) -> Vec<String> {
    findings(v)
        .iter()
        .map(|f| {
            format!(
                "{}:{}",
                f["class"].as_str().unwrap(),
                f["severity"].as_str().unwrap()
            )
        })
        .collect()
}

fn must<'a>(v: &'a Value, class: &str) -> &'a Value {
    finding(v, class).unwrap_or_else(|| panic!("no {class} finding in {:?}", classes(v)))
}

fn above_info(v: &Value) -> Vec<String> {
    findings(v)
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| f["class"].as_str().unwrap().to_owned())
        .collect()
}

/// A server that allows the origins `allowed` accepts: preflights get 204 with
/// the methods and `content-type`; everything else 200. With `vary`, every
/// answer carries `Vary: Origin`.
fn allowing(
    allowed: impl Fn(&str) -> bool + Send + Sync + 'static,
    credentials: bool,
    vary: bool,
) -> Server {
    serve(move |req: &Seen| {
        let mut headers: Vec<(&str, String)> = Vec::new();
        if vary {
            headers.push(("Vary", "Origin".into()));
        }
        let origin = req.header("origin").map(str::to_owned);
        let ok = origin.as_deref().is_some_and(&allowed);
        if ok {
            headers.push((
                "Access-Control-Allow-Origin",
                origin.clone().unwrap_or_default(),
            ));
            if credentials {
                headers.push(("Access-Control-Allow-Credentials", "true".into()));
            }
        }
        let preflight =
            req.method == "OPTIONS" && req.header("access-control-request-method").is_some();
        if preflight && ok {
            headers.push(("Access-Control-Allow-Methods", "GET, PUT, DELETE".into()));
            headers.push(("Access-Control-Allow-Headers", "content-type".into()));
        }
        let status = if preflight { 204 } else { 200 };
        let h: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        answer(status, &h)
    })
}

/// No request but GET and OPTIONS ever reaches the server.
fn only_safe_methods(s: &Server) {
    let seen = s.seen();
    assert!(!seen.is_empty());
    for r in &seen {
        assert!(
            r.method == "GET" || r.method == "OPTIONS",
            "the scanner sent {}",
            r.method
        );
        assert_eq!(r.header("cache-control"), Some("no-cache"));
    }
}

#[test]
fn reflecting_any_origin_with_credentials_is_high() {
    let s = allowing(|_| true, true, true);
    let (code, v) = scan(&s, &[]);
    assert_eq!(code, 1, "{v:#}");
    let f = must(&v, "reflected_origin");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["credentials"], true);
    let attacker = v["attacker_domain"].as_str().unwrap();
    // Fixed, not random: one run is the verdict.
    assert_eq!(attacker, "evil.net");
    assert_eq!(f["origin"], format!("https://{attacker}"));
    assert_eq!(f["attacker_domain"], attacker);
    // The evidence is the echo itself.
    let headers = f["evidence"]["headers"].as_array().unwrap();
    assert!(headers.iter().any(|h| h[0]
        .as_str()
        .unwrap()
        .eq_ignore_ascii_case("access-control-allow-origin")
        && h[1] == format!("https://{attacker}")));
    assert!(headers.iter().any(|h| h[0]
        .as_str()
        .unwrap()
        .eq_ignore_ascii_case("access-control-allow-credentials")));
    // The narrower classes it explains are folded into it, not repeated.
    for c in [
        "null_origin",
        "suffix_match",
        "prefix_match",
        "unescaped_dot",
    ] {
        assert!(
            finding(&v, c).is_none(),
            "{c} listed separately: {:?}",
            classes(&v)
        );
    }
    let also: Vec<&str> = f["also_allowed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    assert!(also.contains(&"null"), "{also:?}");
    assert!(also.contains(&"https://appxexample.com"), "{also:?}");
    // The suggested policy names only the trusted origin, with credentials.
    assert_eq!(v["policy"]["valid"], true);
    let toml = v["policy"]["toml"].as_str().unwrap();
    assert!(
        toml.contains("origins = [\"https://app.example.com\"]"),
        "{toml}"
    );
    assert!(toml.contains("credentials = true"), "{toml}");
    assert!(toml.contains("methods = [\"PUT\", \"DELETE\"]"), "{toml}");
    assert!(corsgate_core::Policy::from_toml(toml).is_ok());
    only_safe_methods(&s);
}

#[test]
fn reflecting_without_credentials_is_medium() {
    let s = allowing(|_| true, false, true);
    let (code, v) = scan(&s, &[]);
    assert_eq!(code, 1);
    let f = must(&v, "reflected_origin");
    assert_eq!(f["severity"], "medium");
    assert_eq!(f["credentials"], false);
}

#[test]
fn null_origin_allowed_is_high() {
    let s = allowing(|o| o == "null" || o == TRUSTED, true, true);
    let (code, v) = scan(&s, &[]);
    assert_eq!(code, 1);
    let f = must(&v, "null_origin");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["origin"], "null");
    assert_eq!(f["credentials"], true);
    assert!(
        finding(&v, "reflected_origin").is_none(),
        "{:?}",
        classes(&v)
    );
    assert_eq!(above_info(&v), ["null_origin"], "{:?}", classes(&v));
}

#[test]
fn suffix_regex_flaw_is_high() {
    // Like `origin.endsWith("example.com")` or /example\.com$/.
    let s = allowing(|o| o.ends_with("example.com"), true, true);
    let (code, v) = scan(&s, &[]);
    assert_eq!(code, 1);
    let f = must(&v, "suffix_match");
    assert_eq!(f["severity"], "high");
    let origin = f["origin"].as_str().unwrap();
    // https://evilexample.com: a domain anyone can buy.
    assert_eq!(origin, "https://evilexample.com");
    assert_eq!(f["attacker_domain"], "evilexample.com");
    assert!(finding(&v, "reflected_origin").is_none());
    assert!(finding(&v, "prefix_match").is_none());
    // The dot and subdomain probes pass too, and are folded into the suffix finding.
    assert!(finding(&v, "unescaped_dot").is_none());
    let also = f["also_allowed"].to_string();
    assert!(also.contains("https://appxexample.com"), "{also}");
}

#[test]
fn unescaped_dot_flaw_is_high() {
    // Like /^https:\/\/app.example.com$/ with the dots unescaped.
    let s = allowing(
        |o| {
            o.len() == TRUSTED.len()
                && o.bytes()
                    .zip(TRUSTED.bytes())
                    .all(|(a, b)| b == b'.' || a == b)
        },
        true,
        true,
    );
    let (code, v) = scan(&s, &[]);
    assert_eq!(code, 1);
    let f = must(&v, "unescaped_dot");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["origin"], "https://appxexample.com");
    assert_eq!(f["attacker_domain"], "appxexample.com");
    assert_eq!(above_info(&v), ["unescaped_dot"], "{:?}", classes(&v));
}

#[test]
fn prefix_regex_flaw_is_high() {
    // Like `origin.startsWith("https://app.example.com")`.
    let s = allowing(|o| o.starts_with(TRUSTED), true, true);
    let (code, v) = scan(&s, &[]);
    assert_eq!(code, 1);
    let f = must(&v, "prefix_match");
    assert_eq!(f["severity"], "high");
    let attacker = v["attacker_domain"].as_str().unwrap();
    assert_eq!(f["origin"], format!("https://app.example.com.{attacker}"));
    // The special-character probes are explained by it.
    assert!(finding(&v, "special_character").is_none());
    assert!(f["also_allowed"].to_string().contains('_'));
}

#[test]
fn http_variant_of_a_trusted_origin_is_medium() {
    let s = allowing(
        |o| o == TRUSTED || o == "http://app.example.com",
        true,
        true,
    );
    let (code, v) = scan(&s, &[]);
    assert_eq!(code, 1);
    let f = must(&v, "http_origin_trusted");
    assert_eq!(f["severity"], "medium");
    assert_eq!(f["origin"], "http://app.example.com");
    assert_eq!(f["credentials"], true);
    assert_eq!(above_info(&v), ["http_origin_trusted"], "{:?}", classes(&v));
}

#[test]
fn subdomains_trusted_is_medium_with_credentials() {
    let s = allowing(
        |o| o == TRUSTED || (o.starts_with("https://") && o.ends_with(".example.com")),
        true,
        true,
    );
    let (code, v) = scan(&s, &[]);
    assert_eq!(code, 1);
    let f = must(&v, "subdomain_trusted");
    assert_eq!(f["severity"], "medium");
    assert!(finding(&v, "suffix_match").is_none(), "{:?}", classes(&v));
}

#[test]
fn echo_without_vary_is_low() {
    // An exact allowlist, but the answer varies with Origin and says nothing.
    let s = allowing(|o| o == TRUSTED, true, false);
    let (code, v) = scan(&s, &[]);
    assert_eq!(code, 1);
    let f = must(&v, "missing_vary");
    assert_eq!(f["severity"], "low");
    assert_eq!(f["evidence"]["origin"], TRUSTED);
    assert_eq!(above_info(&v), ["missing_vary"], "{:?}", classes(&v));
}

#[test]
fn wildcard_with_credentials_is_low_and_not_a_read() {
    let s = serve(|req| {
        let mut h = vec![
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Allow-Credentials", "true"),
        ];
        if req.method == "OPTIONS" {
            h.push(("Access-Control-Allow-Methods", "*"));
            h.push(("Access-Control-Allow-Headers", "*"));
            return answer(204, &h);
        }
        answer(200, &h)
    });
    let (code, v) = scan(&s, &[]);
    assert_eq!(code, 1);
    let f = must(&v, "wildcard_with_credentials");
    assert_eq!(f["severity"], "low");
    // Browsers refuse `*` with credentials: no credentialed read, no reflection.
    assert!(finding(&v, "reflected_origin").is_none());
    assert_eq!(
        above_info(&v),
        ["wildcard_with_credentials"],
        "{:?}",
        classes(&v)
    );
    // Without credentials anyone can read: said, as info.
    assert_eq!(must(&v, "wildcard_origin")["severity"], "info");
}

/// The correct server: corsgate's own policy decides every answer.
fn policy_server() -> Server {
    common::policy_server(
        r#"
origins = ["https://app.example.com"]
methods = ["PUT", "DELETE"]
request_headers = ["content-type"]
credentials = true
"#,
        &[],
    )
}

#[test]
fn correct_policy_has_nothing_above_info() {
    let s = policy_server();
    let (code, v) = scan(&s, &[]);
    assert_eq!(code, 0, "{:?}", classes(&v));
    assert!(above_info(&v).is_empty(), "{:?}", classes(&v));
    assert!(
        v["summary"]["worst"].is_null() || v["summary"]["worst"] == "info",
        "{}",
        v["summary"]
    );
    assert_eq!(v["summary"]["failed"], 0);
    // The control passes: the trusted origin reads with credentials and its
    // preflights pass; every look-alike is refused.
    let probes = v["probes"].as_array().unwrap();
    let trusted: Vec<&Value> = probes.iter().filter(|p| p["kind"] == "trusted").collect();
    assert!(!trusted.is_empty());
    for p in &trusted {
        if p["request"] != "preflight_reflection" {
            assert_eq!(p["with_credentials"]["allowed"], true, "{p:#}");
        }
    }
    let kinds: Vec<&str> = probes.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    for k in [
        "reflection",
        "null",
        "prefix",
        "suffix",
        "unescaped_dot",
        "special_character",
        "tld_swap",
        "substring",
        "subdomain",
        "scheme_downgrade",
        "other_port",
        "third_party",
        "localhost",
        "case_variant",
        "trailing_dot",
    ] {
        assert!(kinds.contains(&k), "no {k} probe");
    }
    for p in probes.iter().filter(|p| {
        !matches!(
            p["kind"].as_str().unwrap(),
            "trusted" | "baseline" | "same_origin"
        )
    }) {
        assert_eq!(p["without_credentials"]["allowed"], false, "{p:#}");
        assert_eq!(p["with_credentials"]["allowed"], false, "{p:#}");
    }
    only_safe_methods(&s);
}

#[test]
fn correct_policy_human_report() {
    let s = policy_server();
    let r = corsgate(&["scan", &s.url("/"), "--origin", TRUSTED, "--color", "never"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("corsgate scan http://127.0.0.1:"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("origins = [\"https://app.example.com\"]"));
    assert!(r.stdout.contains("nothing above info"), "{}", r.stdout);
}

#[test]
fn human_report_groups_by_severity() {
    let s = allowing(|_| true, true, false);
    let r = corsgate(&["scan", &s.url("/"), "--origin", TRUSTED, "--color", "never"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let out = &r.stdout;
    let high = out.find("HIGH (1)").expect(out);
    let low = out.find("LOW (1)").expect(out);
    assert!(high < low);
    assert!(out.contains("reflected_origin"));
    assert!(out.contains("missing_vary"));
    assert!(out.contains("why:") && out.contains("fix:"));
    assert!(
        out.contains("Access-Control-Allow-Credentials: true")
            || out.contains("access-control-allow-credentials: true"),
        "{out}"
    );
    assert!(out.contains("Result: 1 high, 0 medium, 1 low"), "{out}");
}

#[test]
fn json_carries_the_documented_fields() {
    let s = allowing(|_| true, true, true);
    let (_, v) = scan(&s, &["-X", "PATCH", "-H", "Cookie: session=abc"]);
    assert_eq!(v["schema"], "corsgate-scan/2");
    assert!(v["target"]["url"].as_str().unwrap().ends_with("/api/me"));
    assert!(v["target"]["origin"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    assert!(v["target"]["registrable_domain"].is_null());
    assert_eq!(v["browser"], "chromium");
    assert_eq!(v["trusted_origins"], serde_json::json!([TRUSTED]));
    assert_eq!(v["methods"], serde_json::json!(["PATCH"]));
    assert!(v["attacker_domain"].is_string());
    let sum = &v["summary"];
    for k in ["high", "medium", "low", "info", "probes", "failed"] {
        assert!(sum[k].is_u64(), "summary.{k}");
    }
    assert_eq!(sum["worst"], "high");
    let probes = v["probes"].as_array().unwrap();
    assert_eq!(sum["probes"].as_u64().unwrap() as usize, probes.len());
    for f in findings(&v) {
        for k in ["class", "severity", "title", "why"] {
            assert!(f[k].is_string(), "finding.{k}: {f:#}");
        }
        // The one `fix` shape (report::Fix): advice names no response.
        assert!(f["fix"]["sentence"].is_string(), "finding.fix: {f:#}");
        assert_eq!(f["fix"]["side"], "server");
        assert!(f["fix"]["stage"].is_null() && f["fix"]["set_headers"].is_array());
        assert!(f["credentials"].is_boolean());
        assert!(f["also_allowed"].is_array());
        assert!(f.get("origin").is_some() && f.get("attacker_domain").is_some());
        let e = &f["evidence"];
        let id = e["probe"].as_u64().unwrap() as usize;
        assert_eq!(probes[id]["id"].as_u64().unwrap() as usize, id);
        assert_eq!(probes[id]["origin"], e["origin"]);
        assert!(e["request"].is_string() && e["status"].is_u64() && e["headers"].is_array());
    }
    for (i, p) in probes.iter().enumerate() {
        assert_eq!(p["id"].as_u64().unwrap() as usize, i);
        for k in ["kind", "request", "method"] {
            assert!(p[k].is_string(), "probe.{k}: {p:#}");
        }
        assert!(p["headers"].is_array());
        assert!(p.get("error").is_some() && p.get("status").is_some());
        assert!(p.get("requested_method").is_some() && p.get("requested_headers").is_some());
        for k in ["without_credentials", "with_credentials"] {
            let a = &p[k];
            assert!(
                a.is_null() || (a["allowed"].is_boolean() && a.get("refusal").is_some()),
                "probe.{k}: {p:#}"
            );
        }
        if p["kind"] == "baseline" || p["kind"] == "same_origin" {
            assert!(p["with_credentials"].is_null());
        } else {
            assert!(p["with_credentials"]["allowed"].is_boolean());
        }
        if p["request"] == "preflight" {
            assert_eq!(p["method"], "OPTIONS");
            assert_eq!(p["requested_method"], "PATCH");
            assert_eq!(p["requested_headers"], "content-type");
        }
    }
    let pol = &v["policy"];
    assert!(pol["toml"].is_string() && pol["valid"].is_boolean());
    assert_eq!(pol["placeholder"], false);
    assert!(pol["notes"].is_array());
    // The user's header went with the GET probes, never with the preflights.
    for r in s.seen() {
        match r.method.as_str() {
            "GET" => assert_eq!(r.header("cookie"), Some("session=abc")),
            _ => assert_eq!(r.header("cookie"), None),
        }
    }
    // Preflights are the browser's own: ACRM and ACRH as Chromium sends them.
    assert!(s.seen().iter().any(|r| r.method == "OPTIONS"
        && r.header("access-control-request-method") == Some("PATCH")
        && r.header("access-control-request-headers") == Some("content-type")));
}

#[test]
fn bad_input_is_a_clear_error() {
    for (args, needle) in [
        (vec!["scan", "not a url"], "not a valid URL"),
        (vec!["scan", "ftp://example.com/x"], "http and https"),
        (
            vec!["scan", "http://127.0.0.1:1/", "-H", "nocolon"],
            "no ':'",
        ),
        (
            vec!["scan", "http://127.0.0.1:1/", "-H", "Origin: x"],
            "sets Origin itself",
        ),
        (
            vec!["scan", "http://127.0.0.1:1/", "--origin", "null"],
            "null",
        ),
        (
            vec!["scan", "http://127.0.0.1:1/", "--origin", "app.example.com"],
            "no scheme",
        ),
        (vec!["scan", "http://127.0.0.1:1/", "-X", "TRACE"], "TRACE"),
        (
            vec!["scan", "http://127.0.0.1:1/", "--timeout", "0"],
            "timeout",
        ),
    ] {
        let r = corsgate(&args);
        assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    let r = corsgate(&["scan", "not a url", "--json"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.json()["error"]["code"], "bad_arguments");
}

#[test]
fn unreachable_target_is_exit_2() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let r = corsgate(&["scan", &url, "--json", "--timeout", "5"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.json()["error"]["code"], "connection_refused");
    assert!(r.stderr.contains("no probe got an answer"), "{}", r.stderr);
}

#[test]
fn failed_probes_are_reported_one_by_one() {
    // Answers GET, hangs up on every preflight.
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            if got.starts_with(b"GET ") {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nVary: Origin\r\n\r\n{}");
            }
        }
    });
    let url = format!("http://{addr}/");
    let r = corsgate(&["scan", &url, "--origin", TRUSTED, "--json"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    let probes = v["probes"].as_array().unwrap();
    let failed: Vec<&Value> = probes.iter().filter(|p| !p["error"].is_null()).collect();
    assert_eq!(
        failed.len(),
        probes.iter().filter(|p| p["method"] == "OPTIONS").count()
    );
    assert!(!failed.is_empty());
    for p in &failed {
        assert_eq!(p["error"]["code"], "protocol", "{p:#}");
        assert!(p["status"].is_null());
    }
    assert_eq!(
        v["summary"]["failed"].as_u64().unwrap() as usize,
        failed.len()
    );
    let human = corsgate(&["scan", &url, "--origin", TRUSTED, "--color", "never"]);
    assert_eq!(human.code, 2);
    assert!(human.stdout.contains("Could not probe"), "{}", human.stdout);
    assert!(human.stdout.contains("incomplete"), "{}", human.stdout);
}

#[test]
fn lax_origin_parser_is_a_special_character_flaw() {
    // The host is read up to the first character that cannot be in a DNS name,
    // then compared: `https://app.example.com_.attacker….com` passes as app.example.com.
    let s = allowing(
        |o| {
            let host = o.strip_prefix("https://").unwrap_or("");
            let end = host
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                .unwrap_or(host.len());
            &host[..end] == "app.example.com"
        },
        true,
        true,
    );
    let (code, v) = scan(&s, &[]);
    assert_eq!(code, 1);
    let f = must(&v, "special_character");
    // `_` is sent by every browser: high.
    assert_eq!(f["severity"], "high", "{f:#}");
    assert!(
        f["origin"].as_str().unwrap().contains("app.example.com_."),
        "{f:#}"
    );
    // Every browser sends it: no restriction named.
    assert!(f["browsers"].is_null(), "{f:#}");
    // The backtick (Safari only) and the others are listed with it.
    assert!(f["also_allowed"].to_string().contains('`'), "{f:#}");
    // That parser also stops at the port's colon: the port is ignored too.
    assert_eq!(
        above_info(&v),
        ["special_character", "other_port"],
        "{:?}",
        classes(&v)
    );
}

#[test]
fn reflection_on_preflights_only_is_high() {
    // GETs carry no CORS headers, but every preflight echoes the origin with
    // credentials: any site can send credentialed PUT and DELETE requests.
    let s = serve(|req| {
        let origin = req.header("origin").unwrap_or("").to_owned();
        if req.method == "OPTIONS" {
            return answer(
                204,
                &[
                    ("Access-Control-Allow-Origin", &origin),
                    ("Access-Control-Allow-Credentials", "true"),
                    ("Access-Control-Allow-Methods", "PUT, DELETE"),
                    ("Access-Control-Allow-Headers", "content-type"),
                    ("Vary", "Origin"),
                ],
            );
        }
        answer(200, &[("Vary", "Origin")])
    });
    let (code, v) = scan(&s, &[]);
    assert_eq!(code, 1);
    let f = must(&v, "reflected_origin");
    assert_eq!(f["severity"], "high");
    let request = f["evidence"]["request"].as_str().unwrap();
    assert!(request.starts_with("OPTIONS"), "{request}");
    assert!(
        f["why"].as_str().unwrap().contains("send PUT requests"),
        "{f:#}"
    );
}

#[test]
fn preflight_rejected_by_auth_is_info() {
    // An auth layer answers every OPTIONS with 401 before CORS runs.
    let s = serve(|req| {
        if req.method == "OPTIONS" {
            return answer(401, &[("WWW-Authenticate", "Bearer")]);
        }
        let ok = req.header("origin") == Some(TRUSTED);
        let mut h = vec![("Vary", "Origin")];
        if ok {
            h.push(("Access-Control-Allow-Origin", TRUSTED));
        }
        answer(200, &h)
    });
    let (code, v) = scan(&s, &[]);
    assert_eq!(code, 0, "{:?}", classes(&v));
    let f = must(&v, "preflight_not_ok");
    assert_eq!(f["severity"], "info");
    assert_eq!(f["evidence"]["status"], 401);
    assert_eq!(f["evidence"]["origin"], TRUSTED);
}

#[test]
fn redirect_is_said_not_followed() {
    let s = serve(|_| answer(302, &[("Location", "/login"), ("Vary", "Origin")]));
    let (code, v) = scan(&s, &[]);
    // Every answer a redirect: nothing was judged, which is not a pass.
    assert_eq!(code, 2, "{:?}", classes(&v));
    assert_eq!(v["summary"]["judged"], 0);
    let f = must(&v, "redirected");
    assert!(f["title"].as_str().unwrap().contains("/login"));
    // Only the scanned URL was requested.
    assert!(s.seen().iter().all(|r| r.path == "/api/me"));
}

#[test]
fn https_target_trusting_its_own_http_origin() {
    // Over TLS, without --origin: the probes come from the target itself. The
    // server trusts its own origin over http too (and answers the others).
    let s = serve_tls(|req| {
        let origin = req.header("origin").unwrap_or("");
        let host = req.header("host").unwrap_or("");
        let mut h = vec![("Vary", "Origin")];
        let http_self = format!("http://{host}");
        if origin == http_self {
            h.push(("Access-Control-Allow-Origin", origin));
            h.push(("Access-Control-Allow-Credentials", "true"));
        }
        let h: Vec<(String, String)> = h
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        Answer {
            status: 200,
            headers: h,
        }
    });
    let url = format!("https://localhost:{}/api", s.addr.port());
    let r = corsgate(&["scan", &url, "--cacert", CA_PEM, "--json"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    let f = must(&v, "http_origin_trusted");
    assert_eq!(f["origin"], format!("http://localhost:{}", s.addr.port()));
    assert_eq!(f["severity"], "medium");
    assert!(v["attacker_domain"].is_string());
    let arbitrary = v["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "reflection")
        .unwrap();
    assert_eq!(arbitrary["origin"], "https://evil.net");
    // No --origin: the policy is a placeholder, and says so.
    assert_eq!(v["policy"]["placeholder"], true);
    assert_eq!(v["policy"]["valid"], true);
    assert!(v["policy"]["notes"][0]
        .as_str()
        .unwrap()
        .contains("--origin"));
}

#[test]
fn not_found_everywhere_is_nothing_judged() {
    let s = serve(|_| answer(404, &[("Content-Type", "text/plain")]));
    let (code, v) = scan(&s, &[]);
    assert_eq!(code, 2, "{:?}", classes(&v));
    assert_eq!(v["summary"]["judged"], 0);
    assert_eq!(v["summary"]["failed"], 0);
    let r = corsgate(&["scan", &s.url("/api/me"), "--origin", TRUSTED]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains("nothing judged"), "{}", r.stdout);
    assert!(
        !r.stdout.contains("No CORS misconfiguration found"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_fixed_third_party_origin_with_credentials_is_high() {
    // Not a catalogue origin: found from the answer itself.
    let s = serve(|_| {
        answer(
            200,
            &[
                ("Access-Control-Allow-Origin", "https://our-demo.github.io"),
                ("Access-Control-Allow-Credentials", "true"),
            ],
        )
    });
    let (code, v) = scan(&s, &[]);
    assert_eq!(code, 1);
    let f = must(&v, "third_party_trusted");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["rule_id"], "CORS-THIRD-PARTY");
}

#[test]
fn a_pattern_origin_is_a_pattern() {
    // A correct *.example.com check: the pattern's subdomains are not findings,
    // its look-alikes are probed.
    let s = allowing(
        |o| {
            o.strip_prefix("https://")
                .and_then(|h| h.strip_suffix(".example.com"))
                .is_some_and(|l| {
                    !l.is_empty()
                        && l.bytes().all(|b| {
                            b.is_ascii_lowercase() || b == b'.' || b == b'-' || b.is_ascii_digit()
                        })
                })
        },
        true,
        true,
    );
    let r = corsgate(&[
        "scan",
        &s.url("/api/me"),
        "--origin",
        "https://*.example.com",
        "--json",
    ]);
    let v = r.json();
    assert_eq!(r.code, 0, "{:?}", classes(&v));
    assert_eq!(v["trusted_origins"][0], "https://*.example.com");
    let probes = v["probes"].as_array().unwrap();
    let origins: Vec<&str> = probes.iter().filter_map(|p| p["origin"].as_str()).collect();
    assert!(origins.contains(&"https://www.example.com"));
    assert!(origins.contains(&"https://www.example.com.evil.net"));
    assert!(!origins.contains(&"https://evil.example.com"));
}

#[test]
fn every_finding_has_its_rule_id() {
    let s = allowing(|_| true, true, false);
    let (_, v) = scan(&s, &[]);
    for f in findings(&v) {
        let id = f["rule_id"].as_str().unwrap();
        assert!(id.starts_with("CORS-"), "{f:#}");
    }
    assert_eq!(must(&v, "reflected_origin")["rule_id"], "CORS-REFLECT");
    assert_eq!(must(&v, "missing_vary")["rule_id"], "CORS-VARY");
}
