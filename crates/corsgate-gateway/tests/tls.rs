//! TLS termination with rustls: HTTPS in, plain HTTP to the upstream,
//! `X-Forwarded-Proto: https`.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::sync::Arc;

use common::*;
use corsgate_gateway::{start, GatewayConfig};
use hyper_util::rt::TokioIo;
use rustls_pki_types::{pem::PemObject, CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// A TLS gateway (self-signed certificate for `localhost`, `timeouts` added
/// to the test configuration's `[timeouts]`) in front of the test upstream,
/// and a TLS connection to it offering `alpn`.
async fn tls_gateway(
    tag: &str,
    timeouts: &str,
    alpn: &[&[u8]],
) -> (
    corsgate_gateway::RunningGateway,
    tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    std::path::PathBuf,
) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("corsgate-gw-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), ck.key_pair.serialize_pem()).unwrap();
    let (up, _) = start_upstream().await;
    let text = config_text(up).replace(
        "[timeouts]",
        &format!("[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n\n[timeouts]\n{timeouts}"),
    );
    let file = dir.join("corsgate.toml");
    std::fs::write(&file, text).unwrap();
    let gw = start(GatewayConfig::from_file(&file).unwrap())
        .await
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ck.cert.pem().as_bytes()).unwrap())
        .unwrap();
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = tokio::net::TcpStream::connect(gw.local_addr())
        .await
        .unwrap();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    (gw, tls, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_termination() {
    let (gw, tls, dir) = tls_gateway("tls", "", &[]).await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::builder()
        .uri("/api/echo")
        .header("host", "localhost")
        .header("origin", "https://app.example.com")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let got = read(sender.send_request(req).await.unwrap()).await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.h("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(
        got.body.contains("\"x-forwarded-proto\":\"https\""),
        "{}",
        got.body
    );
    assert!(got.body.contains("proto=https"), "{}", got.body);
    gw.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A client that chose h2 by ALPN, sent its preface and SETTINGS (as a
/// browser does at once) and waits before its first request (a preconnect)
/// is governed by `idle`, not by the header-read check. (One that sends no
/// preface at all is closed: tests/exhaustion.rs.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_h2_connection_is_not_taken_for_a_slow_http1_head() {
    let (gw, tls, dir) = tls_gateway("tls-h2", "header_read = \"200ms\"", &[b"h2"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(b"h2".as_slice()));
    // The handshake sends the preface and SETTINGS, then nothing for five
    // header-read windows.
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let req = http::Request::builder()
        .uri("https://localhost/api/echo")
        .header("origin", "https://app.example.com")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let got = read(sender.send_request(req).await.unwrap()).await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.h("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    gw.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
