//! `corsgate infer` on the gateway's decision log (`corsgate-decisions/1`):
//! a table of line shapes (what each contributes, or the note that says why
//! it does not), malformed lines located by file and line, a log mixed with
//! a HAR giving the union, detection (first line, `--decision-log`, gzip,
//! standard input) and an unknown format version refused with exit 2. The
//! round trip through a real gateway is `tests/decision_log_round_trip.rs`.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_corsgate")
}

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "corsgate-infer-declog-{tag}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A line as the gateway writes it, with `edit` applied.
fn line(edit: Value) -> String {
    let mut v = json!({
        "format": "corsgate-decisions/1",
        "time": "2026-12-04T02:00:00.000Z",
        "route": "/api/",
        "host": "api.example.net",
        "path": "/api/items",
        "kind": "actual",
        "origin": "https://app.example.com",
        "method": "GET",
        "request_headers": [],
        "credentials": false,
        "response_headers": [],
        "exposed": [],
        "status": 200,
        "decision": "allowed",
        "reason": "origin_allowed",
    });
    for (k, val) in edit.as_object().unwrap() {
        if val.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = val.clone();
        }
    }
    v.to_string()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn infer(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut c = Command::new(bin())
        .arg("infer")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = c.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s).unwrap();
    }
    drop(input);
    let out = c.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The proposal's values (comments dropped by the TOML parser).
fn values(stdout: &str, key: &str) -> Vec<String> {
    let t: toml::Table = toml::from_str(stdout).unwrap_or_else(|e| panic!("{e}\n{stdout}"));
    match t.get(key) {
        None => Vec::new(),
        Some(toml::Value::Array(a)) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
        Some(toml::Value::Boolean(b)) => vec![b.to_string()],
        Some(toml::Value::Integer(n)) => vec![n.to_string()],
        Some(v) => panic!("{key} = {v:?}"),
    }
}

/// What one line contributes: (edit, origins, methods, request headers,
/// exposed, credentials, a note part when it contributes nothing).
#[test]
fn each_line_shape_contributes_what_it_showed() {
    let d = dir("shapes");
    type Case = (
        Value,
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
        bool,
        &'static str,
    );
    let app: &[&str] = &["https://app.example.com"];
    let cases: Vec<Case> = vec![
        // A simple GET: the origin only.
        (json!({}), app, &[], &[], &[], false, ""),
        // A preflight: its method and announced names (safelisted methods
        // need no listing).
        (
            json!({"kind": "preflight", "method": "PATCH", "request_headers": ["x-csrf", "content-type"], "status": 204}),
            app,
            &["PATCH"],
            &["content-type", "x-csrf"],
            &[],
            false,
            "",
        ),
        // An actual request: credentials, announced names, what the answer
        // exposed (not every candidate the upstream sent).
        (
            json!({"method": "DELETE", "credentials": true, "request_headers": ["authorization"],
                   "response_headers": ["server", "x-total"], "exposed": ["x-total"]}),
            app,
            &["DELETE"],
            &["authorization"],
            &["x-total"],
            true,
            "each is a guess that the page reads it",
        ),
        // A preflight's credentials flag means nothing (preflights carry
        // none): only the actual request's counts.
        (
            json!({"kind": "preflight", "method": "PUT", "credentials": true}),
            app,
            &["PUT"],
            &[],
            &[],
            false,
            "",
        ),
        // Exposed `*`: nothing added, a note.
        (
            json!({"exposed_any": true}),
            app,
            &[],
            &[],
            &[],
            false,
            "exposed every header",
        ),
        // Refused: left out, a note naming it.
        (
            json!({"origin": "https://evil.example", "decision": "refused", "reason": "origin_not_allowed"}),
            &[],
            &[],
            &[],
            &[],
            false,
            "https://evil.example GET",
        ),
        // The site's own origin: no CORS needed.
        (
            json!({"origin": "https://api.example.net"}),
            &[],
            &[],
            &[],
            &[],
            false,
            "site's own origin",
        ),
        // Clipped by the gateway: not the request as sent.
        (
            json!({"origin": "https://aaaa…(15000 bytes)"}),
            &[],
            &[],
            &[],
            &[],
            false,
            "clipped",
        ),
        (
            json!({"request_headers": ["x-a"], "request_headers_omitted": 3}),
            &[],
            &[],
            &[],
            &[],
            false,
            "clipped",
        ),
        // `null`: listed among the refusals of the proposal, never allowed.
        (json!({"origin": "null"}), &[], &[], &[], &[], false, "null"),
        // Unknown keys of the same version are ignored.
        (json!({"future_key": [1, 2]}), app, &[], &[], &[], false, ""),
    ];
    for (i, (edit, origins, methods, headers, exposed, credentials, note)) in
        cases.into_iter().enumerate()
    {
        let f = d.join(format!("case{i}.jsonl"));
        std::fs::write(&f, line(edit.clone()) + "\n").unwrap();
        let r = infer(&[f.to_str().unwrap()], None);
        assert!(r.code == 0 || r.code == 1, "{edit}: {}", r.stderr);
        for (key, want) in [
            ("origins", origins),
            ("methods", methods),
            ("request_headers", headers),
            ("expose_headers", exposed),
        ] {
            assert_eq!(values(&r.stdout, key), *want, "{edit}: {key}\n{}", r.stdout);
        }
        assert_eq!(
            values(&r.stdout, "credentials") == ["true"],
            credentials,
            "{edit}\n{}",
            r.stdout
        );
        // A case without a note part must give no note at all (`contains("")`
        // would hold for any output).
        let notes: Vec<&str> = r
            .stdout
            .lines()
            .filter(|l| l.starts_with("# note:"))
            .collect();
        if note.is_empty() {
            assert!(notes.is_empty(), "{edit}: {notes:?}");
        } else {
            assert!(
                r.stdout.contains(note),
                "{edit}: no {note:?} in\n{}",
                r.stdout
            );
        }
        if !origins.is_empty() {
            // Every requirement names its line.
            let at = format!("{}:1", f.display());
            assert!(r.stdout.contains(&at), "{edit}: no {at} in\n{}", r.stdout);
        }
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn malformed_lines_are_located_counted_and_the_rest_read() {
    let d = dir("malformed");
    let f = d.join("d.jsonl");
    let lines = [
        line(json!({"method": "PUT", "kind": "preflight"})),
        "not json at all".to_owned(),
        String::new(),
        line(json!({"method": null})),
        line(json!({"kind": "sideways"})),
        line(json!({"decision": "maybe"})),
        line(json!({"credentials": "yes"})),
        line(json!({"format": "something-else/1"})),
        "[1,2,3]".to_owned(),
        format!(
            "{{\"format\":\"corsgate-decisions/1\",\"origin\":\"{}\"",
            "a".repeat(2 << 20)
        ),
        line(json!({"origin": "https://admin.example.com"})),
        // Cut short by a crash: no newline.
        r#"{"format":"corsgate-decisions/1","kind":"act"#.to_owned(),
    ];
    std::fs::write(&f, lines.join("\n")).unwrap();
    let r = infer(&[f.to_str().unwrap()], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = f.display().to_string();
    for (n, what) in [
        (2, "not a JSON object"),
        (4, "missing field `method`"),
        (5, "kind \"sideways\""),
        (6, "decision \"maybe\""),
        (7, "invalid type"),
        (8, "format \"something-else/1\""),
        (9, "invalid type"),
        (10, "a line of"),
        (12, "cut short"),
    ] {
        let at = format!("{file}:{n}: ");
        let found = r
            .stdout
            .split("; ")
            .any(|p| p.contains(&at) && p.contains(what));
        assert!(found, "no {at}{what} in\n{}", r.stdout);
    }
    assert!(
        r.stdout.contains("9 malformed decision log line(s)"),
        "{}",
        r.stdout
    );
    assert_eq!(
        values(&r.stdout, "origins"),
        ["https://admin.example.com", "https://app.example.com"]
    );
    assert_eq!(values(&r.stdout, "methods"), ["PUT"]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn an_unknown_format_version_is_refused() {
    let text = format!(
        "{}\n{}\n",
        line(json!({})),
        line(json!({"format": "corsgate-decisions/2"}))
    );
    let r = infer(&["-"], Some(text.as_bytes()));
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("-:2: format \"corsgate-decisions/2\" is not one this corsgate reads"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn a_log_and_a_har_give_the_union_and_logs_are_found_in_every_form() {
    let d = dir("mixed");
    let har = json!({"log": {"version": "1.2", "creator": {"name": "t"}, "entries": [
        {"startedDateTime": "2026-12-03T10:00:00.000Z", "_resourceType": "fetch",
         "request": {"method": "GET", "url": "https://api.example.net/v1/items",
                     "headers": [{"name": "Origin", "value": "https://app.example.com"},
                                 {"name": "Cookie", "value": "sid=1"}]},
         "response": {"status": 200, "headers": [
             {"name": "Access-Control-Allow-Origin", "value": "https://app.example.com"},
             {"name": "Access-Control-Expose-Headers", "value": "X-Total"},
             {"name": "X-Total", "value": "3"}]}}
    ]}});
    let har_file = d.join("app.har");
    std::fs::write(&har_file, har.to_string()).unwrap();
    let log_text = [
        line(
            json!({"origin": "https://admin.example.com", "kind": "preflight", "method": "PUT",
                    "request_headers": ["x-csrf"]}),
        ),
        line(
            json!({"origin": "https://admin.example.com", "method": "PUT",
                    "request_headers": ["x-csrf"], "exposed": ["x-admin"]}),
        ),
    ]
    .join("\n")
        + "\n";
    let log = d.join("decisions.log");
    std::fs::write(&log, &log_text).unwrap();
    let gz = d.join("decisions.log.gz");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(log_text.as_bytes()).unwrap();
    std::fs::write(&gz, e.finish().unwrap()).unwrap();
    // A log whose first line is blank and then malformed is not told by
    // its first line: --decision-log reads it as one.
    let odd = d.join("odd.txt");
    std::fs::write(&odd, format!("garbage\n{log_text}")).unwrap();

    let union = |r: &Run| {
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(
            values(&r.stdout, "origins"),
            ["https://admin.example.com", "https://app.example.com"],
            "{}",
            r.stdout
        );
        assert_eq!(values(&r.stdout, "methods"), ["PUT"]);
        assert_eq!(values(&r.stdout, "request_headers"), ["x-csrf"]);
        assert_eq!(values(&r.stdout, "expose_headers"), ["x-admin", "x-total"]);
        assert_eq!(values(&r.stdout, "credentials"), ["true"]);
    };
    let (h, l, g, o) = (
        har_file.to_str().unwrap(),
        log.to_str().unwrap(),
        gz.to_str().unwrap(),
        odd.to_str().unwrap(),
    );
    union(&infer(&[h, l], None));
    union(&infer(&[l, h], None));
    union(&infer(&[h, g], None));
    union(&infer(&[h, "-"], Some(log_text.as_bytes())));
    union(&infer(&[h, "--decision-log", o], None));
    let r = infer(&[h, o], None);
    assert_eq!(r.code, 2, "not told by its first line, it is read as a HAR");
    // The log alone: only its own requests.
    let r = infer(&[l], None);
    assert_eq!(values(&r.stdout, "origins"), ["https://admin.example.com"]);
    assert!(
        r.stdout
            .contains(&format!("{l}:1 PUT /api/items (preflight)")),
        "{}",
        r.stdout
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// Hostile lines (a hand-edited or forged log): each is refused with a note
/// at its `file:line` saying what is wrong, and nothing of it is proposed.
/// `https://evil.example` and `x-evil` mark what must never be proposed.
#[test]
fn hostile_lines_are_refused_with_a_located_note() {
    let d = dir("hostile");
    let evil = |edit: Value| line(edit).into_bytes();
    // `line` with `"method":"GET"` replaced: raw JSON serde_json::json! cannot write.
    let raw = |with: &[u8]| {
        let base = line(json!({"origin": "https://evil.example"}));
        let (a, b) = base.split_once(r#""method":"GET""#).unwrap();
        [a.as_bytes(), with, b.as_bytes()].concat()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "invalid UTF-8",
            raw(b"\"method\":\"GET\xff\""),
            "invalid unicode code point",
        ),
        (
            "a raw NUL",
            raw(b"\"method\":\"G\0T\""),
            "control character",
        ),
        (
            "an escaped NUL in the origin",
            evil(json!({"origin": "https://evil.example\u{0}"})),
            "not a valid serialized origin",
        ),
        (
            "a repeated key",
            raw(br#""method":"GET","origin":"https://app.example.com""#),
            "duplicate field `origin`",
        ),
        (
            "a negative count",
            raw(br#""method":"GET","request_headers_omitted":-1"#),
            "invalid value",
        ),
        (
            "a count over u64",
            raw(br#""method":"GET","request_headers_omitted":18446744073709551616"#),
            "invalid type",
        ),
        (
            "a count out of f64's range",
            raw(br#""method":"GET","request_headers_omitted":1e400"#),
            "number out of range",
        ),
        ("a lone surrogate", raw(br#""method":"G\ud800T""#), "escape"),
        (
            "an origin with a path",
            evil(json!({"origin": "https://evil.example/app"})),
            "not a valid serialized origin",
        ),
        (
            "an origin with spaces",
            evil(json!({"origin": "https://evil .example"})),
            "not a valid serialized origin",
        ),
        (
            "an origin of another scheme",
            evil(json!({"origin": "ftp://evil.example"})),
            "not an http(s) origin",
        ),
        (
            "a header name with a space",
            evil(
                json!({"origin": "https://evil.example", "kind": "preflight", "method": "PUT", "request_headers": ["x evil"]}),
            ),
            "not one a browser sends",
        ),
        (
            "an exposed name with a space",
            evil(json!({"origin": "https://evil.example", "exposed": ["x evil"]})),
            "not one a browser sends",
        ),
        (
            "a method with a space",
            evil(json!({"origin": "https://evil.example", "method": "PU T"})),
            "not one a browser sends",
        ),
    ];
    for (i, (what, bytes, note)) in cases.into_iter().enumerate() {
        let f = d.join(format!("hostile{i}.jsonl"));
        let mut bytes = bytes;
        bytes.push(b'\n');
        std::fs::write(&f, &bytes).unwrap();
        let r = infer(&["--decision-log", f.to_str().unwrap()], None);
        assert!(r.code == 0 || r.code == 1, "{what}: {}", r.stderr);
        for key in ["origins", "methods", "request_headers", "expose_headers"] {
            let v = values(&r.stdout, key);
            assert!(
                !v.iter().any(|v| v.contains("evil") || v.contains("PU")),
                "{what}: {key} = {v:?}\n{}",
                r.stdout
            );
        }
        let at = format!("{}:1", f.display());
        let located = r
            .stdout
            .lines()
            .any(|l| l.starts_with('#') && l.contains(&at) && l.contains(note));
        assert!(located, "{what}: no {at} … {note:?} in\n{}", r.stdout);
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// A value the notes quote (a refused line's origin and method) cannot end
/// the `# note:` comment and write TOML into the proposal.
#[test]
fn a_note_quoting_a_line_stays_one_comment() {
    let d = dir("inject");
    let f = d.join("d.jsonl");
    let text = [
        line(json!({})),
        line(
            json!({"origin": "https://evil.example\ncredentials = true\n#", "decision": "refused"}),
        ),
        line(json!({"method": "GET\r\nmax_age = 1\n#", "decision": "refused"})),
    ]
    .join("\n");
    std::fs::write(&f, text + "\n").unwrap();
    let r = infer(&[f.to_str().unwrap()], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        values(&r.stdout, "credentials"),
        Vec::<String>::new(),
        "{}",
        r.stdout
    );
    assert_eq!(
        values(&r.stdout, "max_age"),
        Vec::<String>::new(),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("2 request(s) the gateway refused"),
        "{}",
        r.stdout
    );
    let _ = std::fs::remove_dir_all(&d);
}
