//! The policy's own reason, end to end through the binaries: `corsgate serve
//! --demo` prints a `corsgate check` line for its refused PATCH; run as
//! printed against the running demo gateway, `check` names the policy's
//! reason (`corsgate-reason`) and the TOML edit (`corsgate-policy-edit`)
//! first, and no authentication layer. The edit, applied to the demo's own
//! configuration file and served by a second gateway, makes the same check
//! pass — and no origin, method or header the policy allowed is lost.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

#[path = "common/edge.rs"]
mod edge;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use edge::{free_port, temp_dir, wait_port, Running, BIN};

/// Starts `serve` with `args`; its standard output lines come through the
/// returned channel.
fn start(
    args: &[&str],
    port: u16,
    log: &std::path::Path,
) -> (Running, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    wait_port(port, &mut child, log);
    (Running { child }, rx)
}

/// Runs a printed shell line (`corsgate check ...`) through `sh`, with the
/// built binary.
fn run_line(line: &str, extra: &[&str]) -> (i32, String) {
    let rest = line
        .strip_prefix("corsgate ")
        .unwrap_or_else(|| panic!("{line}"));
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("\"$0\" {rest} \"$@\""))
        .arg(BIN)
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_demos_refused_patch_names_the_policy_and_its_edit_fixes_it() {
    let dir = temp_dir("reason");
    let (port, admin) = (free_port(), free_port());
    let listen = format!("127.0.0.1:{port}");
    let admin_addr = format!("127.0.0.1:{admin}");
    let (_demo, lines) = start(
        &[
            "serve",
            "--demo",
            "--listen",
            &listen,
            "--admin",
            &admin_addr,
        ],
        port,
        &dir.join("demo.log"),
    );
    // The printed lines: the PATCH check and the configuration file.
    let mut printed = Vec::new();
    let start_time = Instant::now();
    while !printed
        .iter()
        .any(|l: &String| l.contains("corsgate test "))
    {
        assert!(
            start_time.elapsed() < Duration::from_secs(20),
            "{printed:?}"
        );
        if let Ok(l) = lines.recv_timeout(Duration::from_millis(200)) {
            printed.push(l);
        }
    }
    let patch = printed
        .iter()
        .find(|l| l.contains("corsgate check") && l.contains("-X PATCH"))
        .unwrap_or_else(|| panic!("no PATCH check line: {printed:#?}"))
        .trim()
        .to_owned();
    let config = printed
        .iter()
        .find_map(|l| l.split("--config ").nth(1))
        .unwrap()
        .trim()
        .to_owned();

    // Human output: the policy's reason comes first, with its edit.
    let (code, human) = run_line(&patch, &[]);
    assert_eq!(code, 1, "{human}");
    let refused = human
        .find("REFUSED by the server's corsgate policy: the policy lists `PUT, DELETE`; `PATCH` is not listed (methods are case-sensitive)")
        .unwrap_or_else(|| panic!("{human}"));
    let blocked = human.find("BLOCKED by CORS").unwrap();
    assert!(refused < blocked, "{human}");
    assert!(
        human.contains(r#"    methods = ["PUT", "DELETE", "PATCH"]"#),
        "{human}"
    );
    assert!(
        !human.contains("authentication or authorization layer"),
        "{human}"
    );

    // JSON: the same, structured.
    let (_, json) = run_line(&patch, &["--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["policy_reason"]["code"], "method_not_allowed", "{json}");
    assert_eq!(
        v["policy_reason"]["edits"],
        serde_json::json!([r#"methods = ["PUT", "DELETE", "PATCH"]"#])
    );
    assert!(v["hints"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["code"] != "preflight_auth_before_cors"));

    // The edit applied to the demo's own file, served by a second gateway in
    // front of the same demo upstream: the printed check passes.
    let text = std::fs::read_to_string(&config).unwrap();
    let (port2, admin2) = (free_port(), free_port());
    let edited = text
        .replace(
            r#"methods = ["PUT", "DELETE"]"#,
            r#"methods = ["PUT", "DELETE", "PATCH"]"#,
        )
        .replace(&listen, &format!("127.0.0.1:{port2}"))
        .replace(&admin_addr, &format!("127.0.0.1:{admin2}"));
    assert_ne!(edited, text);
    let file = dir.join("edited.toml");
    std::fs::write(&file, edited).unwrap();
    let (_edited, _) = start(
        &["serve", "--config", file.to_str().unwrap()],
        port2,
        &dir.join("edited.log"),
    );
    let again = patch.replace(&listen, &format!("127.0.0.1:{port2}"));
    let (code, out) = run_line(&again, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ALLOWED"), "{out}");
    assert!(!out.contains("corsgate-reason"), "{out}");
    // Nothing the policy allowed before is lost: the other printed checks.
    for l in printed
        .iter()
        .filter(|l| l.contains("corsgate check") && !l.contains("PATCH"))
    {
        let (code, out) = run_line(
            &l.trim().replace(&listen, &format!("127.0.0.1:{port2}")),
            &[],
        );
        assert_eq!(code, 0, "{l}: {out}");
    }
    // An origin the policy refuses: its reason, and an edit naming only it.
    let (code, out) = run_line(
        &format!("corsgate check http://{listen}/api/me --origin https://evil.example"),
        &["--json"],
    );
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["policy_reason"]["code"], "origin_not_allowed", "{out}");
    let edit = v["policy_reason"]["edits"][0].as_str().unwrap();
    assert!(
        // The demo policy's list (the playground page's origin first), and it.
        edit.starts_with(r#"origins = ["http://127.0.0.1:8088", "https://app.example.com", "http://localhost:3000", "https://evil.example"]"#),
        "{edit}"
    );
}
