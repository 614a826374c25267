//! `corsgate infer` on HAR files: a table of entry shapes (what each
//! contributes to the proposal, or why it is skipped or refused), the
//! inputs (several files, gzip, standard input), `--against`, `--pattern`
//! and the exit codes. The proposal itself is held to the engine by the
//! property test in corsgate-core (`tests/infer.rs`).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_corsgate")
}

fn entry(
    method: &str,
    url: &str,
    req: &[(&str, &str)],
    status: i64,
    resp: &[(&str, &str)],
    kind: &str,
) -> Value {
    let h = |l: &[(&str, &str)]| -> Value {
        l.iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect()
    };
    json!({
        "startedDateTime": "2026-12-03T10:00:00.000Z",
        "_resourceType": kind,
        "request": {"method": method, "url": url, "headers": h(req)},
        "response": {"status": status, "headers": h(resp)},
    })
}

fn har(entries: Vec<Value>) -> String {
    json!({"log": {"version": "1.2", "creator": {"name": "test"}, "entries": entries}}).to_string()
}

const API: &str = "https://api.example.net/v1/items";
const APP: &str = "https://app.example.com";
const ADMIN: &str = "https://admin.example.com";

/// A session of two front-ends: credentialed and public calls, a custom
/// header, an exposed header, a preflight recorded after its request (as
/// Chromium orders them), and entries that must not count.
fn session() -> Vec<Value> {
    vec![
        // app: a credentialed GET reading X-Total.
        entry(
            "GET",
            API,
            &[
                ("Origin", APP),
                ("Cookie", "sid=1"),
                ("Sec-Fetch-Mode", "cors"),
                ("User-Agent", "x"),
            ],
            200,
            &[
                ("Access-Control-Allow-Origin", APP),
                ("Access-Control-Allow-Credentials", "true"),
                ("Access-Control-Expose-Headers", "X-Total, X-Missing"),
                ("X-Total", "3"),
            ],
            "fetch",
        ),
        // app: a PUT with X-CSRF, listed before its preflight.
        entry(
            "PUT",
            API,
            &[
                ("Origin", APP),
                ("X-CSRF", "t"),
                ("Content-Type", "application/json"),
                ("Sec-Fetch-Mode", "cors"),
            ],
            204,
            &[("Access-Control-Allow-Origin", APP)],
            "fetch",
        ),
        entry(
            "OPTIONS",
            API,
            &[
                ("Origin", APP),
                ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "content-type,x-csrf"),
            ],
            204,
            &[],
            "preflight",
        ),
        // admin: a public GET.
        entry(
            "GET",
            API,
            &[("Origin", ADMIN), ("Sec-Fetch-Mode", "cors")],
            200,
            &[("Access-Control-Allow-Origin", "*")],
            "xhr",
        ),
        // Not CORS: same origin, a navigation, a no-cors image.
        entry(
            "DELETE",
            API,
            &[
                ("Origin", "https://api.example.net"),
                ("Sec-Fetch-Mode", "cors"),
            ],
            200,
            &[],
            "fetch",
        ),
        entry(
            "POST",
            API,
            &[
                ("Origin", "https://forms.example"),
                ("Sec-Fetch-Mode", "navigate"),
            ],
            200,
            &[],
            "document",
        ),
        entry(
            "GET",
            API,
            &[
                ("Origin", "https://img.example"),
                ("Sec-Fetch-Mode", "no-cors"),
            ],
            200,
            &[],
            "image",
        ),
        // A sandboxed frame: refused, with why.
        entry(
            "GET",
            API,
            &[("Origin", "null"), ("Sec-Fetch-Mode", "cors")],
            200,
            &[],
            "fetch",
        ),
    ]
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("corsgate runs");
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("corsgate-infer-{}-{name}", std::process::id()));
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The proposal's settings (the TOML without its comments).
fn settings(toml_text: &str) -> corsgate_core::policy::PolicyConfig {
    corsgate_core::policy::Policy::from_toml(toml_text)
        .unwrap_or_else(|e| panic!("not a valid policy ({e}):\n{toml_text}"))
        .config()
        .clone()
}

#[test]
fn a_session_gives_the_tightest_policy_whatever_the_input_form() {
    let text = har(session());
    let plain = temp("s.har", text.as_bytes());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let gzipped = temp("s.har.gz", &gz.finish().unwrap());
    for (name, args, stdin) in [
        ("file", vec![plain.to_str().unwrap()], None),
        ("gzip", vec![gzipped.to_str().unwrap()], None),
        ("stdin", vec!["-"], Some(text.as_bytes())),
    ] {
        let mut all = vec!["infer"];
        all.extend(args);
        let (code, out, err) = run(&all, stdin);
        assert_eq!(code, 0, "{name}: {err}");
        let c = settings(&out);
        assert_eq!(c.origins, [ADMIN, APP], "{name}");
        assert_eq!(c.methods, ["PUT"], "{name}");
        assert_eq!(c.request_headers, ["content-type", "x-csrf"], "{name}");
        assert_eq!(
            c.expose_headers,
            ["x-total"],
            "{name}: X-Missing was exposed but never sent"
        );
        assert!(c.credentials, "{name}");
        assert_eq!(c.max_age, Some(600), "{name}");
        assert!(
            out.contains("not allowed: origin \"null\""),
            "{name}: {out}"
        );
        assert!(
            !out.contains("forms.example") && !out.contains("img.example"),
            "{name}"
        );
    }
}

#[test]
fn two_files_add_up_and_the_current_policy_is_compared() {
    let mut a = session();
    a.truncate(3);
    let b = vec![entry(
        "PATCH",
        API,
        &[("Origin", ADMIN), ("Sec-Fetch-Mode", "cors")],
        200,
        &[],
        "fetch",
    )];
    let (fa, fb) = (
        temp("a.har", har(a).as_bytes()),
        temp("b.har", har(b).as_bytes()),
    );
    let current = temp(
        "current.toml",
        br#"origins = ["https://app.example.com", "https://admin.example.com", "https://old.example.com"]
methods = ["PUT", "PATCH", "DELETE"]
request_headers = ["content-type", "x-csrf", "authorization"]
credentials = true
"#,
    );
    let (code, out, err) = run(
        &[
            "infer",
            fa.to_str().unwrap(),
            fb.to_str().unwrap(),
            "--against",
            current.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let c = settings(&out);
    assert_eq!(c.origins, [ADMIN, APP]);
    assert_eq!(c.methods, ["PATCH", "PUT"]);
    for line in [
        "origins = https://old.example.com",
        "methods = DELETE",
        "request_headers = authorization",
    ] {
        assert!(
            out.contains(&format!("#   {line}")),
            "missing narrowing {line}:\n{out}"
        );
    }
}

#[test]
fn credentials_granted_without_a_cookie_are_a_guess_said_as_one() {
    let f = temp(
        "c.har",
        har(vec![entry(
            "GET",
            API,
            &[("Origin", APP), ("Sec-Fetch-Mode", "cors")],
            200,
            &[
                ("Access-Control-Allow-Origin", APP),
                ("Access-Control-Allow-Credentials", "true"),
            ],
            "fetch",
        )])
        .as_bytes(),
    );
    let (code, out, err) = run(&["infer", f.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        !settings(&out).credentials,
        "only a carried cookie grants credentials"
    );
    assert!(
        out.contains("# note: 1 request(s) carried no cookie"),
        "{out}"
    );
    assert!(
        out.contains("credentials: 'include' or withCredentials in its code"),
        "the note names the check that settles it (a shadow run cannot: tests/infer_session.rs)"
    );
}

#[test]
fn bad_input_and_unsafe_patterns_exit_2_and_nothing_allowable_exits_1() {
    let f = temp("p.har", har(session()).as_bytes());
    let only_null = temp("n.har", har(vec![session().pop().unwrap()]).as_bytes());
    let bad = temp("bad.har", b"{\"log\": {\"entries\": [ {\"request\": 1} ]}}");
    for (args, code, says) in [
        (
            vec!["infer", f.to_str().unwrap(), "--pattern", "https://*.com"],
            2,
            "public suffix",
        ),
        (
            vec![
                "infer",
                f.to_str().unwrap(),
                "--pattern",
                "https://*.github.io",
            ],
            2,
            "public suffix",
        ),
        (
            vec![
                "infer",
                f.to_str().unwrap(),
                "--pattern",
                "https://*.unused.example",
            ],
            2,
            "no observed origin",
        ),
        (vec!["infer", "/nonexistent/x.har"], 2, "cannot read"),
        (vec!["infer", bad.to_str().unwrap()], 2, "entry 0"),
        (
            vec![
                "infer",
                f.to_str().unwrap(),
                "--against",
                "/nonexistent/p.toml",
            ],
            2,
            "cannot read",
        ),
        (vec!["infer", only_null.to_str().unwrap()], 1, ""),
    ] {
        let (got, out, err) = run(&args, None);
        assert_eq!(got, code, "{args:?}: {out}{err}");
        assert!(err.contains(says) || out.contains(says), "{args:?}: {err}");
    }
    let (code, out, _) = run(&["infer", only_null.to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert!(out.contains("no policy to propose"));
}
