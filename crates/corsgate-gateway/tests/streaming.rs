//! Bodies stream both ways in bounded memory: a large upload and a large
//! download go through the gateway *process* while its peak RSS (VmHWM) is
//! read from /proc. Size: `CORSGATE_STREAM_BYTES` (default 1 GiB).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::process::{Child, Stdio};
use std::time::Instant;

use common::*;
use http_body_util::BodyExt;

struct Gateway(Child);
impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_stream_in_bounded_memory() {
    let total: u64 = std::env::var("CORSGATE_STREAM_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30);
    let (up, _) = start_upstream().await;
    let (child, addr, dir) = gateway_process(
        "stream",
        up,
        |t| {
            t.replace("admin = \"127.0.0.1:0\"\n", "log_level = \"warn\"\n")
                .replace("upstream_response = \"1s\"", "upstream_response = \"120s\"")
        },
        Stdio::null(),
        Stdio::inherit(),
    )
    .await;
    let pid = child.id();
    let _guard = Gateway(child);
    let idle_kib = vm_hwm_kib(pid);

    // Upload.
    let t = Instant::now();
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/api/upload"))
        .header("origin", "https://app.example.com")
        .body(chunked(total))
        .unwrap();
    let got = read(client().request(req).await.unwrap()).await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.body,
        total.to_string(),
        "every byte reached the upstream"
    );
    assert_eq!(
        got.h("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let up_secs = t.elapsed().as_secs_f64();

    // Download, read frame by frame.
    let t = Instant::now();
    let req = http::Request::builder()
        .uri(format!("http://{addr}/api/download/{total}"))
        .header("origin", "https://app.example.com")
        .body(chunked(0))
        .unwrap();
    let resp = client().request(req).await.unwrap();
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let mut body = resp.into_body();
    let mut n = 0u64;
    while let Some(f) = body.frame().await {
        if let Some(d) = f.unwrap().data_ref() {
            n += d.len() as u64;
        }
    }
    assert_eq!(n, total);
    let down_secs = t.elapsed().as_secs_f64();

    let peak_kib = vm_hwm_kib(pid);
    let mib = total as f64 / (1 << 20) as f64;
    eprintln!(
        "streamed {mib:.0} MiB each way: upload {:.0} MiB/s, download {:.0} MiB/s; gateway peak RSS {} KiB (idle {} KiB)",
        mib / up_secs,
        mib / down_secs,
        peak_kib,
        idle_kib
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(peak_kib > 0, "VmHWM readable");
    assert!(
        peak_kib < 64 * 1024,
        "peak RSS {peak_kib} KiB must stay under 64 MiB"
    );
}
