//! A loopback HTTP server with canned CORS answers, and a runner for the built binary.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// A request the server received.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A canned answer: status and header lines (duplicates allowed).
pub(crate) struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

pub(crate) fn answer(status: u16, headers: &[(&str, &str)]) -> Answer {
    Answer {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

type Handler = dyn Fn(&Seen) -> Answer + Send + Sync;

/// A running server; it stops when the test process ends.
pub(crate) struct Server {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    /// `http://127.0.0.1:PORT` + path.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Starts a server answering with `handler`.
pub(crate) fn serve(handler: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Server {
    serve_with(None, handler)
}

/// The test CA's certificate (PEM), which signed `localhost.pem`.
pub(crate) const CA_PEM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ca.pem");

/// Starts an HTTPS server for `localhost` / 127.0.0.1, its certificate signed by [`CA_PEM`].
pub(crate) fn serve_tls(handler: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Server {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(format!("{dir}localhost.pem"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(format!("{dir}localhost.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    serve_with(
        Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
        handler,
    )
}

fn serve_with(
    tls: Option<tokio_rustls::TlsAcceptor>,
    handler: impl Fn(&Seen) -> Answer + Send + Sync + 'static,
) -> Server {
    let handler: Arc<Handler> = Arc::new(handler);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let handler = handler.clone();
                let seen = seen2.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let s = Seen {
                            method: req.method().to_string(),
                            path: req
                                .uri()
                                .path_and_query()
                                .map(|p| p.to_string())
                                .unwrap_or_default(),
                            headers: req
                                .headers()
                                .iter()
                                .map(|(n, v)| {
                                    (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into())
                                })
                                .collect(),
                        };
                        let a = handler(&s);
                        seen.lock().unwrap().push(s);
                        let mut resp = hyper::Response::builder().status(a.status);
                        for (n, v) in &a.headers {
                            resp = resp.header(n.as_str(), v.as_str());
                        }
                        let resp = resp.body(Full::new(Bytes::from_static(b"{}"))).unwrap();
                        async move { Ok::<_, Infallible>(resp) }
                    });
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ = http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), svc)
                                    .await;
                            }
                        }
                        None => {
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), svc)
                                .await;
                        }
                    }
                });
            }
        });
    });
    Server { addr, seen }
}

/// The result of running the binary.
pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr: {}", self.stdout, self.stderr))
    }
}

/// Runs `corsgate ARGS`.
pub(crate) fn corsgate(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_corsgate"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run corsgate");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The value a fix sets for `name`.
pub(crate) fn set_value(fix: &serde_json::Value, name: &str) -> Option<String> {
    fix["set_headers"]
        .as_array()?
        .iter()
        .find(|p| p[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .and_then(|p| p[1].as_str().map(str::to_owned))
}

/// A server that answers every connection with these raw bytes (for header
/// lines no HTTP library would write).
pub(crate) fn serve_raw(response: &'static [u8]) -> SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(response);
        }
    });
    addr
}

/// A server whose every answer is what corsgate's own policy (`toml`) decides,
/// plus `extra` header lines on the requests it passes on (what an API adds).
pub(crate) fn policy_server(toml: &str, extra: &[(&str, &str)]) -> Server {
    let policy = corsgate_core::Policy::from_toml(toml).unwrap();
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    serve(move |req: &Seen| {
        let mut map = http::HeaderMap::new();
        for (n, v) in &req.headers {
            map.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                http::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
            );
        }
        let method = http::Method::from_bytes(req.method.as_bytes()).unwrap();
        let decision = policy.decide(&method, &map);
        let (status, mut pairs) = match decision.action() {
            corsgate_core::decision::Action::Respond(s) => (s.as_u16(), Vec::new()),
            corsgate_core::decision::Action::PassOn => (200, extra.clone()),
        };
        let headers = decision.headers().to_header_map();
        pairs.extend(
            headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned())),
        );
        Answer {
            status,
            headers: pairs,
        }
    })
}
