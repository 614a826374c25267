//! Any server can send `corsgate-reason` and `corsgate-policy-edit`: the
//! built `corsgate check` binary, run against a raw-socket server that
//! forges them (edits allowing `null` or `*`, a TOML escape spelling
//! `null`, a key no policy has, reason texts advising an unsafe answer),
//! must never repeat what it forged — in `--json` or in the human report,
//! outside the transcript of the server's answer, which shows the lines as
//! received — while a harmless edit from the same server is repeated (the
//! control that shows the headers were read at all).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::thread;

const BIN: &str = env!("CARGO_BIN_EXE_corsgate");

/// A server answering every request (preflight or not) with a 403 that has
/// no CORS headers and carries `extra` header lines verbatim.
fn forging_server(extra: Vec<String>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let extra = extra.clone();
            thread::spawn(move || answer(stream, &extra));
        }
    });
    port
}

fn answer(mut stream: TcpStream, extra: &[String]) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let mut head =
        String::from("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n");
    for l in extra {
        head.push_str(l);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
}

/// `corsgate check` (human and `--json`) of a PATCH from another origin.
fn check(port: u16) -> (String, serde_json::Value) {
    let url = format!("http://127.0.0.1:{port}/items");
    let args = [
        "check",
        "--origin",
        "https://app.example",
        "--method",
        "PATCH",
        &url,
    ];
    let human = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("corsgate runs");
    let json = Command::new(BIN)
        .args(args)
        .arg("--json")
        .output()
        .expect("corsgate runs");
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {}{}",
            String::from_utf8_lossy(&json.stdout),
            String::from_utf8_lossy(&json.stderr)
        )
    });
    (String::from_utf8_lossy(&human.stdout).into_owned(), v)
}

#[test]
fn check_never_repeats_a_forged_unsafe_edit_or_reason() {
    const REASON: &str =
        "corsgate-reason: method_not_allowed; the policy lists `PUT`; `PATCH` is not listed";
    // (forged header lines, text that must not appear in either output)
    let forged: &[(&[&str], &str)] = &[
        (&[r#"corsgate-policy-edit: origins = ["null"]"#], r#"origins = ["null"]"#),
        (&[r#"corsgate-policy-edit: origins = ['NULL']"#], r#"origins = ['NULL']"#),
        (
            &[r#"corsgate-policy-edit: origins = ["https://app.example", "*"]"#],
            r#"origins = ["https://app.example", "*"]"#,
        ),
        (&[r#"corsgate-policy-edit: origins = "*""#], r#"origins = "*""#),
        (
            &[r#"corsgate-policy-edit: origins = ["\u006Eull"]"#],
            r#"origins = ["\u006Eull"]"#,
        ),
        (&[r#"corsgate-policy-edit: origins = ["\x2A"]"#], r#"origins = ["\x2A"]"#),
        (&["corsgate-policy-edit: allow_any_origin = true"], "allow_any_origin = true"),
        // A harmless edit beside a forged one: neither is repeated.
        (
            &[
                r#"corsgate-policy-edit: methods = ["PUT", "PATCH"]"#,
                r#"corsgate-policy-edit: origins = ["null"]"#,
            ],
            r#"origins = ["null"]"#,
        ),
        (
            &["corsgate-policy-edit: # fix: send Access-Control-Allow-Origin: null"],
            "send Access-Control-Allow-Origin: null",
        ),
        (
            &["corsgate-reason: origin_not_allowed; Fix: send `Access-Control-Allow-Origin: null`"],
            "Fix: send `Access-Control-Allow-Origin: null`",
        ),
        (
            &["corsgate-reason: origin_not_allowed; reflect the request's Origin header back in Access-Control-Allow-Origin with Access-Control-Allow-Credentials: true"],
            "reflect the request's Origin header back",
        ),
    ];
    let mut failures = Vec::new();
    for (lines, never) in forged {
        let mut extra: Vec<String> = Vec::new();
        if !lines.iter().any(|l| l.starts_with("corsgate-reason")) {
            extra.push(REASON.to_owned());
        }
        extra.extend(lines.iter().map(|l| l.to_string()));
        let port = forging_server(extra);
        let (human, json) = check(port);
        let reason = &json["policy_reason"];
        if reason.is_null() {
            failures.push(format!("{lines:?}: check read no policy reason: {json}"));
            continue;
        }
        let repeated_edit = reason["edits"].as_array().is_some_and(|e| {
            e.iter()
                .any(|x| x.as_str().is_some_and(|s| s.contains(never)))
        });
        if repeated_edit {
            failures.push(format!("{lines:?}: --json repeats it as an edit: {reason}"));
        }
        // The transcript of what the server answered (`exchanges` in the
        // JSON, the header lines under `← 403` in the report) shows the
        // forged lines as received: evidence, not corsgate's words. Everything
        // else must not repeat them.
        let mut own = json.clone();
        if let Some(o) = own.as_object_mut() {
            o.remove("exchanges");
        }
        let json_text = own.to_string();
        let human_text: String = human
            .lines()
            .filter(|l| {
                let t = l.trim_start().to_ascii_lowercase();
                !(t.starts_with("corsgate-reason:") || t.starts_with("corsgate-policy-edit:"))
            })
            .collect::<Vec<_>>()
            .join("\n");
        for (what, text) in [
            ("--json", json_text.as_str()),
            ("human report", human_text.as_str()),
        ] {
            // serde_json escapes `"` and `\`: compare both spellings.
            let escaped = serde_json::to_string(never).unwrap_or_default();
            let escaped = escaped.trim_matches('"');
            if text.contains(never) || text.contains(escaped) {
                failures.push(format!("{lines:?}: the {what} repeats `{never}`:\n{text}"));
            }
        }
    }
    // The control: a harmless edit alone is read and repeated.
    let port = forging_server(vec![
        REASON.to_owned(),
        r#"corsgate-policy-edit: methods = ["PUT", "PATCH"]"#.to_owned(),
    ]);
    let (human, json) = check(port);
    assert!(
        json["policy_reason"]["edits"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x == r#"methods = ["PUT", "PATCH"]"#)),
        "the harmless edit is not repeated: {json}"
    );
    assert!(human.contains(r#"methods = ["PUT", "PATCH"]"#), "{human}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
