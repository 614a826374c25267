//! An upstream answer in a transfer coding other than `chunked` (here
//! `gzip, chunked`) cannot be passed on: `Transfer-Encoding` is hop-by-hop,
//! so the client would get gzip bytes it was never told about. The gateway
//! answers 502, with the policy's CORS headers, on both upstream paths
//! (the in-task client for bodiless requests, hyper for requests with a body).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_transfer_codings_are_a_502_with_cors_headers() {
    let (up, _, _) = common::scripted_upstream(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        true,
    )
    .await;
    let gw = common::gateway(up).await;
    let addr = gw.local_addr();
    for method in ["GET", "POST"] {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let body = if method == "POST" { "hi" } else { "" };
        let req = format!(
            "{method} /api/items HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example.com\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        let text = String::from_utf8_lossy(&out).to_ascii_lowercase();
        assert!(text.starts_with("http/1.1 502"), "{method}: {text}");
        assert!(
            text.contains("access-control-allow-origin: https://app.example.com"),
            "{method}: {text}"
        );
        assert!(!text.contains("abc"), "{method}: {text}");
    }
}
