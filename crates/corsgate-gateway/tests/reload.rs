//! Hot reload while requests run: a valid file is applied, an invalid one is
//! refused and the old policy kept, SIGHUP triggers a reload, and no request
//! fails meanwhile.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use corsgate_gateway::{start, GatewayConfig};

const NEW: (&str, &str) = ("origin", "https://newer.example.com");

async fn wait_for(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !f().await {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn temp_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("corsgate-gw-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("corsgate.toml")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_valid_and_invalid_files_while_requests_run() {
    let (up, _) = start_upstream().await;
    let path = temp_file("poll");
    let original = config_text(up);
    std::fs::write(&path, &original).unwrap();
    let gw = start(GatewayConfig::from_file(&path).unwrap())
        .await
        .unwrap();
    let a = gw.local_addr();

    // Load: four clients sending requests for the whole test.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (stop, ok, bad) = (stop.clone(), ok.clone(), bad.clone());
        load.push(tokio::spawn(async move {
            let c = client();
            while !stop.load(Relaxed) {
                let req = http::Request::builder()
                    .uri(format!("http://{a}/api/echo"))
                    .header("origin", "https://app.example.com")
                    .body(Default::default())
                    .unwrap();
                match c.request(req).await {
                    Ok(r) if r.status() == 200 => {
                        read(r).await;
                        ok.fetch_add(1, Relaxed)
                    }
                    _ => bad.fetch_add(1, Relaxed),
                };
            }
        }));
    }

    assert_eq!(
        send(a, "GET", "/api/echo", &[NEW])
            .await
            .h("access-control-allow-origin"),
        None
    );
    // A valid change: applied by the file watcher.
    let changed = original.replace(
        "origins = [\"https://app.example.com\"]",
        "origins = [\"https://app.example.com\", \"https://newer.example.com\"]",
    );
    std::fs::write(&path, &changed).unwrap();
    wait_for("the new origin", async || {
        send(a, "GET", "/api/echo", &[NEW])
            .await
            .h("access-control-allow-origin")
            == Some("https://newer.example.com")
    })
    .await;
    assert_eq!(gw.reloader().reload_file(), Ok(()));

    // An invalid change (trailing slash in an origin): refused, old kept.
    let failed_before = gw.metrics().reloads_failed();
    std::fs::write(
        &path,
        changed.replace(
            "https://newer.example.com\"",
            "https://newer.example.com/\"",
        ),
    )
    .unwrap();
    wait_for("the refusal", async || {
        gw.metrics().reloads_failed() > failed_before
    })
    .await;
    let e = gw.reloader().reload_file().unwrap_err();
    assert!(e[0].line.is_some(), "{e:?}");
    assert_eq!(
        send(a, "GET", "/api/echo", &[NEW])
            .await
            .h("access-control-allow-origin"),
        Some("https://newer.example.com"),
        "the previous configuration stays in force"
    );
    // A TOML syntax error too.
    std::fs::write(&path, "listen = \n").unwrap();
    assert!(gw.reloader().reload_file().is_err());
    assert_eq!(send(a, "GET", "/api/echo", &[APP]).await.status, 200);

    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Relaxed);
    for t in load {
        t.await.unwrap();
    }
    assert_eq!(bad.load(Relaxed), 0, "no request failed during reloads");
    assert!(ok.load(Relaxed) > 20, "the load ran: {}", ok.load(Relaxed));
    let m = metrics(&gw).await;
    assert!(
        m.contains("corsgate_config_reloads_total{result=\"refused\"}"),
        "{m}"
    );
    gw.shutdown().await;
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads() {
    let (up, _) = start_upstream().await;
    let path = temp_file("hup");
    // Polling off: only SIGHUP can reload.
    let original = config_text(up).replace("reload_poll = \"100ms\"", "reload_poll = \"0s\"");
    std::fs::write(&path, &original).unwrap();
    let gw = start(GatewayConfig::from_file(&path).unwrap())
        .await
        .unwrap();
    let a = gw.local_addr();
    tokio::time::sleep(Duration::from_millis(200)).await; // the watcher is up
    std::fs::write(
        &path,
        original.replace(
            "\"https://app.example.com\"]",
            "\"https://app.example.com\", \"https://newer.example.com\"]",
        ),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        send(a, "GET", "/api/echo", &[NEW])
            .await
            .h("access-control-allow-origin"),
        None
    );
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for("SIGHUP reload", async || {
        send(a, "GET", "/api/echo", &[NEW])
            .await
            .h("access-control-allow-origin")
            .is_some()
    })
    .await;
    gw.shutdown().await;
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
