//! TLS termination with rustls: HTTPS in, plain HTTP to the upstream,
//! `X-Forwarded-Proto: https`.

mod common;

use std::sync::Arc;

use common::*;
use corsgate_gateway::{start, GatewayConfig};
use hyper_util::rt::TokioIo;
use rustls_pki_types::{pem::PemObject, CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_termination() {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("corsgate-gw-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), ck.key_pair.serialize_pem()).unwrap();
    let (up, _) = start_upstream().await;
    let text = config_text(up).replace(
        "[timeouts]",
        "[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n\n[timeouts]",
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
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(gw.local_addr())
        .await
        .unwrap();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
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
}
