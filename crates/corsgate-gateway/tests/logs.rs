//! The gateway process logs one JSON line per denied request, with its
//! reason, and nothing of the kind for allowed ones.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::process::{Command, Stdio};

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_json_line_per_denied_request() {
    let (up, _) = start_upstream().await;
    let (child, addr, dir) = gateway_process(
        "logs",
        up,
        |t| t.replace("admin = \"127.0.0.1:0\"\n", "log_format = \"json\"\n"),
        Stdio::inherit(),
        Stdio::piped(),
    )
    .await;
    send(addr, "GET", "/api/echo", &[APP]).await;
    send(
        addr,
        "OPTIONS",
        "/api/echo",
        &[APP, ("access-control-request-method", "PUT")],
    )
    .await;
    send(addr, "GET", "/api/echo", &[EVIL]).await;
    send(
        addr,
        "OPTIONS",
        "/api/echo",
        &[APP, ("access-control-request-method", "PATCH")],
    )
    .await;
    // SIGTERM: drains and exits, flushing its log.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "clean exit on SIGTERM");
    let log = String::from_utf8_lossy(&out.stderr);
    let denied: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("corsgate::denied"))
        .collect();
    assert_eq!(denied.len(), 2, "{log}");
    for (line, reason) in denied
        .iter()
        .zip(["origin_not_allowed", "method_not_allowed"])
    {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON object per line");
        assert_eq!(v["reason"], reason, "{line}");
        assert_eq!(v["level"], "WARN");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .starts_with("CORS request denied"),
            "{line}"
        );
    }
    assert!(
        denied[0].contains("\"origin\":\"https://evil.example\""),
        "{}",
        denied[0]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
