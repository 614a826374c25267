//! `corsgate test` against real loopback endpoints: corsgate's own gateway in
//! front of an API (every case as the policy says), and servers that depart
//! from the policy in one way each (the departure is named, the rest passes).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::io::Write as _;
use std::process::{Child, Command, Stdio};

use common::{answer, corsgate, policy_server, serve, Seen, Server};
use serde_json::Value;

/// The policy every endpoint here is tested against.
const POLICY: &str = r#"
origins = ["https://app.example.com", "https://*.tenants.example.com"]
methods = ["PUT", "DELETE"]
request_headers = ["content-type", "x-trace"]
expose_headers = ["x-request-id"]
credentials = true
max_age = 600
"#;

fn policy_file(tag: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("corsgate-contract-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("policy.toml");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap();
    path
}

fn test_json(url: &str, tag: &str, extra: &[&str]) -> (i32, Value, String) {
    let policy = policy_file(tag, POLICY);
    let p = policy.to_str().unwrap();
    let mut args = vec!["test", url, "--policy", p, "--json"];
    args.extend_from_slice(extra);
    let r = corsgate(&args);
    let v: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", r.stdout, r.stderr));
    (r.code, v, r.stderr)
}

fn cases(v: &Value) -> &Vec<Value> {
    v["cases"].as_array().expect("cases")
}

/// The names of the failing cases, each with its problem codes.
fn failing(v: &Value) -> Vec<String> {
    cases(v)
        .iter()
        .filter(|c| c["pass"] == false)
        .map(|c| {
            let codes: Vec<&str> = c["problems"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["code"].as_str().unwrap())
                .collect();
            format!("{} [{}]", c["name"].as_str().unwrap(), codes.join(","))
        })
        .collect()
}

fn case<'a>(v: &'a Value, origin: &str, method: &str) -> &'a Value {
    cases(v)
        .iter()
        .find(|c| {
            c["origin"] == origin && c["method"] == method && c["headers"] == Value::Array(vec![])
        })
        .unwrap_or_else(|| panic!("no {method} case from {origin}"))
}

/// `corsgate serve` with the policy on `/api/`, in front of `upstream`.
struct Gateway {
    child: Child,
    port: u16,
    config: std::path::PathBuf,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn gateway(upstream: &Server) -> Gateway {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let policy: String = POLICY
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\nupstream = \"http://{}\"\nlog_level = \"warn\"\n\n[[routes]]\npath = \"/api/\"\n[routes.policy]\n{policy}",
        upstream.addr
    );
    let file = policy_file("gateway", &config);
    let child = Command::new(env!("CARGO_BIN_EXE_corsgate"))
        .args(["serve", "--config"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed().as_secs() < 20,
            "the gateway did not come up"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Gateway {
        child,
        port,
        config: file,
    }
}

#[test]
fn the_gateway_in_front_of_an_api_keeps_the_contract() {
    // An API that knows nothing of CORS, except a stray wildcard the gateway
    // must replace.
    let api = serve(|_req: &Seen| {
        answer(
            200,
            &[
                ("x-request-id", "42"),
                ("access-control-allow-origin", "*"),
                ("content-type", "application/json"),
            ],
        )
    });
    let gw = gateway(&api);
    let url = format!("http://127.0.0.1:{}/api/items", gw.port);
    let junit = std::env::temp_dir().join(format!("corsgate-contract-{}.xml", std::process::id()));
    let (code, v, stderr) = test_json(&url, "gw", &["--junit", junit.to_str().unwrap()]);
    assert_eq!(code, 0, "{:?}\n{stderr}", failing(&v));
    assert_eq!(v["schema"], "corsgate-test/2");
    let all = cases(&v);
    let readable = all
        .iter()
        .filter(|c| c["expected"]["readable"] == true)
        .count();
    let refused = all.len() - readable;
    assert!(
        readable >= 6 && refused >= 8,
        "{readable} allowed, {refused} refused cases"
    );
    assert_eq!(v["summary"]["passed"], all.len());
    // The exposed header was sent by the API and is readable through the gateway.
    let ok = case(&v, "https://app.example.com", "GET");
    assert!(ok["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["response_headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h[0] == "x-request-id")));
    // Preflighted cases did preflight, refused ones were refused by the browser model.
    assert_eq!(
        case(&v, "https://app.example.com", "PUT")["actual"]["preflights"],
        1
    );
    assert_eq!(
        case(&v, "https://app.example.com", "PATCH")["actual"]["readable"],
        false
    );
    assert_eq!(case(&v, "null", "GET")["actual"]["readable"], false);
    // JUnit: one testcase per case, no failure.
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), all.len(), "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");
    assert!(xml.contains(&format!("tests=\"{}\" failures=\"0\"", all.len())));
    // The gateway's own configuration serves as the contract: the route of the URL.
    let config = gw.config.to_str().unwrap();
    let r = corsgate(&["test", &url, "--config", config, "--json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        v["policy"].as_str().unwrap().ends_with("(route /api/)"),
        "{}",
        v["policy"]
    );
    assert_eq!(v["summary"]["cases"], all.len());
    let elsewhere = format!("http://127.0.0.1:{}/other", gw.port);
    let r = corsgate(&["test", &elsewhere, "--config", config]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no route of"), "{}", r.stderr);
}

#[test]
fn a_server_that_reflects_any_origin_fails_every_refused_case() {
    let s = serve(|req: &Seen| {
        let origin = req.header("origin").unwrap_or("*").to_owned();
        let mut h = vec![
            ("access-control-allow-origin".to_owned(), origin),
            (
                "access-control-allow-credentials".to_owned(),
                "true".to_owned(),
            ),
            (
                "access-control-expose-headers".to_owned(),
                "x-request-id".to_owned(),
            ),
            ("vary".to_owned(), "Origin".to_owned()),
        ];
        if let Some(m) = req.header("access-control-request-method") {
            h.push(("access-control-allow-methods".to_owned(), m.to_owned()));
        }
        if let Some(x) = req.header("access-control-request-headers") {
            h.push(("access-control-allow-headers".to_owned(), x.to_owned()));
        }
        common::Answer {
            status: if req.method == "OPTIONS" { 204 } else { 200 },
            headers: h,
        }
    });
    let (code, v, _) = test_json(&s.url("/api/me"), "reflect", &[]);
    assert_eq!(code, 1);
    for c in cases(&v) {
        let expected = c["expected"]["readable"] == true;
        assert_eq!(c["pass"], expected, "{}: {:?}", c["name"], c["problems"]);
        if !expected {
            assert_eq!(
                c["problems"][0]["code"], "refused_but_allowed",
                "{}",
                c["name"]
            );
        }
    }
    let attacker = case(&v, "https://evil.net", "GET");
    let msg = attacker["problems"][0]["message"].as_str().unwrap();
    assert!(
        msg.to_ascii_lowercase()
            .contains("access-control-allow-origin: https://evil.net"),
        "{msg}"
    );
    // The human report names the failing cases and the fix.
    let policy = policy_file("reflect-human", POLICY);
    let r = corsgate(&[
        "test",
        &s.url("/api/me"),
        "--policy",
        policy.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("✗ GET with credentials from null"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("fix: answer only what the policy allows"),
        "{}",
        r.stdout
    );
}

#[test]
fn missing_vary_and_unexposed_headers_are_named() {
    // Right origins, but no Vary and no Access-Control-Expose-Headers.
    let s = common::policy_server(POLICY, &[("x-request-id", "7")]);
    let strip = serve({
        move |req: &Seen| {
            let allowed = matches!(
                req.header("origin"),
                Some("https://app.example.com") | Some("https://corsgate-test.tenants.example.com")
            );
            let mut h: Vec<(&str, String)> = vec![("x-request-id", "7".into())];
            if allowed {
                h.push((
                    "access-control-allow-origin",
                    req.header("origin").unwrap().into(),
                ));
                h.push(("access-control-allow-credentials", "true".into()));
                if let Some(m) = req.header("access-control-request-method") {
                    h.push(("access-control-allow-methods", m.into()));
                }
                if let Some(x) = req.header("access-control-request-headers") {
                    h.push(("access-control-allow-headers", x.into()));
                }
            }
            common::Answer {
                status: if req.method == "OPTIONS" { 204 } else { 200 },
                headers: h.into_iter().map(|(n, v)| (n.to_owned(), v)).collect(),
            }
        }
    });
    let (code, v, _) = test_json(&strip.url("/api/me"), "vary", &[]);
    assert_eq!(code, 1);
    let ok = case(&v, "https://app.example.com", "GET");
    let codes: Vec<&str> = ok["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["not_exposed", "no_vary_origin"],
        "{}",
        ok["problems"]
    );
    assert!(ok["problems"][0]["fix"]["sentence"]
        .as_str()
        .unwrap()
        .contains("Access-Control-Expose-Headers"));
    // A refused origin's answer lacks Vary too: named, as for allowed ones.
    let attacker = case(&v, "https://evil.net", "GET");
    assert_eq!(attacker["problems"][0]["code"], "no_vary_origin");
    // The correct server passes.
    let (code, v, _) = test_json(&s.url("/api/me"), "vary-ok", &[]);
    assert_eq!(code, 0, "{:?}", failing(&v));
}

#[test]
fn a_server_without_cors_fails_the_allowed_cases_with_the_browser_reason() {
    let s = serve(|_req: &Seen| answer(200, &[("content-type", "text/plain")]));
    let (code, v, _) = test_json(&s.url("/api/me"), "none", &[]);
    assert_eq!(code, 1);
    for c in cases(&v) {
        let expected = c["expected"]["readable"] == true;
        assert_eq!(c["pass"], !expected, "{}", c["name"]);
    }
    let ok = case(&v, "https://app.example.com", "GET");
    assert_eq!(ok["problems"][0]["code"], "readable_but_refused");
    assert_eq!(ok["actual"]["refusal"], "missing_allow_origin");
    // The browser's structured fix, in the one `fix` shape (report::Fix).
    let fix = &ok["problems"][0]["fix"];
    assert_eq!(fix["stage"], "actual", "{fix:#}");
    assert!(fix["set_headers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h[0] == "Access-Control-Allow-Origin" && h[1] == "https://app.example.com"));
}

#[test]
fn a_bad_policy_file_or_an_unreachable_endpoint_is_exit_2() {
    let bad = policy_file(
        "bad",
        "origins = [\"https://app.example.com/\"]\ncredentials = true\n",
    );
    let r = corsgate(&[
        "test",
        "http://127.0.0.1:9/x",
        "--policy",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("without the trailing slash"),
        "{}",
        r.stderr
    );
    // Nothing listens on the discard port.
    let good = policy_file("unreachable", POLICY);
    let r = corsgate(&[
        "test",
        "http://127.0.0.1:9/x",
        "--policy",
        good.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.contains("\"unreachable\""), "{}", r.stdout);
}

/// The README's main job, `serve --demo`, checked with the line it prints:
/// the demo gateway keeps the contract of its own configuration.
#[test]
fn the_demo_gateway_keeps_its_own_contract() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (gw, admin, up) = rt.block_on(async {
        let up = corsgate_gateway::start_demo_upstream(any).await.unwrap();
        let gw = corsgate_gateway::start(corsgate_gateway::demo_config(any, any, up).unwrap())
            .await
            .unwrap();
        let admin = gw.admin_addr().unwrap();
        (gw, admin, up)
    });
    let addr = gw.local_addr();
    let file = policy_file("demo", &corsgate_gateway::demo::demo_toml(addr, admin, up));
    let lines = corsgate_gateway::demo::curl_lines(addr, admin, Some(&file));
    let line = lines
        .lines()
        .find(|l| l.trim_start().starts_with("corsgate test "))
        .expect("the demo prints a corsgate test line");
    let args: Vec<&str> = line.split_whitespace().skip(1).collect();
    let r = corsgate(&args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(" as the policy says, 0 not"),
        "{}",
        r.stdout
    );
    // And /public/ (any origin, no credentials) keeps its contract too.
    let public = format!("http://{addr}/public/hello");
    let r = corsgate(&["test", &public, "--config", file.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    drop(gw);
    drop(rt);
}

#[test]
fn state_changing_requests_are_checked_by_preflight_unless_send_unsafe() {
    let s = policy_server(POLICY, &[("X-Request-Id", "1")]);
    let url = s.url("/items");
    let (code, v, _) = test_json(&url, "unsafe-off", &[]);
    assert_eq!(code, 0, "{:?}", failing(&v));
    let sent: Vec<String> = s.seen().iter().map(|r| r.method.clone()).collect();
    assert!(
        sent.iter().all(|m| m == "GET" || m == "OPTIONS"),
        "{sent:?}"
    );
    // The PUT case still ran: its preflight was sent and passed.
    let put = case(&v, "https://app.example.com", "PUT");
    assert_eq!(put["pass"], true);
    assert_eq!(put["exchanges"].as_array().unwrap().len(), 1);
    assert_eq!(put["exchanges"][0]["stage"], "preflight");

    let (code, v, _) = test_json(&url, "unsafe-on", &["--send-unsafe"]);
    assert_eq!(code, 0, "{:?}", failing(&v));
    let sent: Vec<String> = s.seen().iter().map(|r| r.method.clone()).collect();
    assert!(sent.iter().any(|m| m == "PUT"), "{sent:?}");
    assert!(sent.iter().any(|m| m == "DELETE"), "{sent:?}");
}

#[test]
fn an_endpoint_looser_than_a_read_only_policy_fails_with_each_difference_named() {
    // The issue's case: a GET-only policy without credentials, an endpoint
    // that allows PUT and DELETE with credentials, exposes more and caches
    // preflights for a day.
    let policy = policy_file("read-only", "origins = [\"https://app.example.com\"]\n");
    let s = serve(|req: &Seen| {
        let origin = req.header("origin").unwrap_or("").to_owned();
        let mut h = vec![("Vary".to_owned(), "Origin".to_owned())];
        if origin == "https://app.example.com" {
            h.push(("Access-Control-Allow-Origin".into(), origin));
            h.push(("Access-Control-Allow-Credentials".into(), "true".into()));
            if req.method == "OPTIONS" {
                h.push((
                    "Access-Control-Allow-Methods".into(),
                    "GET, PUT, DELETE".into(),
                ));
                h.push(("Access-Control-Max-Age".into(), "86400".into()));
            } else {
                h.push(("Access-Control-Expose-Headers".into(), "x-total".into()));
            }
        }
        common::Answer {
            status: if req.method == "OPTIONS" { 204 } else { 200 },
            headers: h,
        }
    });
    let url = s.url("/items");
    let r = corsgate(&["test", &url, "--policy", policy.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let messages: Vec<String> = cases(&v)
        .iter()
        .flat_map(|c| c["problems"].as_array().unwrap().clone())
        .map(|p| p["message"].as_str().unwrap().to_owned())
        .collect();
    for needle in [
        "the endpoint allows PUT, the policy does not",
        "the endpoint allows DELETE, the policy does not",
        "the endpoint allows credentials, the policy does not",
        "the endpoint exposes x-total to script, the policy does not",
        "cache its preflight answers for 86400 s, the policy for 5 s",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(needle)),
            "{needle:?} not in {messages:#?}"
        );
    }
    // Nothing but GET and OPTIONS was sent.
    assert!(s
        .seen()
        .iter()
        .all(|r| r.method == "GET" || r.method == "OPTIONS"));
}
