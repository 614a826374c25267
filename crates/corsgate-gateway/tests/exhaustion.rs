//! Slow and flooding peers: a client that stops reading, an HTTP/2 preface
//! or frame trickled byte by byte (cleartext and TLS), slow and stalled
//! uploads, durations that would overflow the clock, descriptor
//! exhaustion, and a flood of denied requests with huge origins. Each test
//! drives a real gateway over real sockets; what nginx does with the same
//! script is in docs/gateway.md ("Slow and flooding peers").
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use corsgate_gateway::{start, GatewayConfig, RunningGateway};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The test configuration with `[timeouts]` lines added.
async fn gateway_with(up: SocketAddr, timeouts: &str) -> RunningGateway {
    let text = config_text(up).replace("[timeouts]\n", &format!("[timeouts]\n{timeouts}\n"));
    start(GatewayConfig::from_toml(&text).unwrap())
        .await
        .unwrap()
}

/// The value of an unlabelled or labelled metric line.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// An upstream that answers every request with `size` bytes as fast as the
/// gateway takes them, and counts its connections still open.
async fn big_upstream(size: u64) -> (SocketAddr, Arc<AtomicI64>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let open = Arc::new(AtomicI64::new(0));
    let o = open.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let open = o.clone();
            open.fetch_add(1, Relaxed);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut b).await {
                        Ok(0) | Err(_) => {
                            open.fetch_sub(1, Relaxed);
                            return;
                        }
                        Ok(n) => head.extend_from_slice(&b[..n]),
                    }
                }
                let h = format!("HTTP/1.1 200 OK\r\ncontent-length: {size}\r\n\r\n");
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = size;
                let mut ok = s.write_all(h.as_bytes()).await.is_ok();
                while ok && left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    ok = s.write_all(&chunk[..n]).await.is_ok();
                    left -= n as u64;
                }
                if ok {
                    // Sent in full: wait for the gateway to close.
                    let _ = s.read(&mut b).await;
                }
                open.fetch_sub(1, Relaxed);
            });
        }
    });
    (addr, open)
}

async fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return Some(t0.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

const BIG: u64 = 64 << 20;

/// A client that reads nothing of a 64 MiB response is closed within
/// `client_send` (plus one check period and slack), and the upstream
/// connection serving it is closed too; a client reading slowly but
/// steadily is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_and_its_upstream_released() {
    let (up, open) = big_upstream(BIG).await;
    let gw = gateway_with(up, "client_send = \"1s\"").await;
    let mut c = TcpStream::connect(gw.local_addr()).await.unwrap();
    c.write_all(b"GET /raw/big HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    wait_until(Duration::from_secs(5), || open.load(Relaxed) == 1)
        .await
        .expect("the upstream never saw the request");
    let released = wait_until(Duration::from_secs(10), || open.load(Relaxed) == 0).await;
    let released = released.expect("the upstream connection was kept for 10 s");
    assert!(
        released >= Duration::from_millis(900),
        "closed before client_send: {released:?}"
    );
    // The client's side is closed too: what it reads ends, short.
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the client connection was not closed");
    assert!((got.len() as u64) < BIG, "{}", got.len());
    let m = metrics(&gw).await;
    assert_eq!(
        metric(&m, "corsgate_client_timeouts_total{kind=\"send\"}"),
        1
    );
    assert_eq!(metric(&m, "corsgate_connections_open"), 0, "{m}");

    // A reader taking 256 KiB every 100 ms keeps its connection for 3 s.
    // (Progress is the gateway's writes: the kernel lets it write again
    // once a third of its send buffer is free, so a reader far slower than
    // that buffer per `client_send` is cut, as with nginx's send_timeout.)
    let mut c = TcpStream::connect(gw.local_addr()).await.unwrap();
    c.write_all(b"GET /raw/big HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    let t0 = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    while t0.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut taken = 0;
        while taken < 256 * 1024 {
            let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
                .await
                .expect("the slow reader got nothing")
                .unwrap();
            assert!(n > 0, "a slow but steady reader was closed");
            taken += n;
        }
    }
    let m = metrics(&gw).await;
    assert_eq!(
        metric(&m, "corsgate_client_timeouts_total{kind=\"send\"}"),
        1
    );
    drop(c);

    // Connections that owe nothing are not taken for stalled readers: a
    // HEAD of a large body and a small GET, both read, then 3 s of quiet
    // (an upstream that knows HEAD: the common one).
    gw.shutdown().await;
    let (up, _) = start_upstream().await;
    let gw = gateway_with(up, "client_send = \"1s\"").await;
    let mut c = TcpStream::connect(gw.local_addr()).await.unwrap();
    c.write_all(
        b"HEAD /raw/download/10000000 HTTP/1.1\r\nhost: a\r\n\r\nGET /public/echo HTTP/1.1\r\nhost: a\r\n\r\n",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut got = Vec::new();
    let mut b = [0u8; 65536];
    while !String::from_utf8_lossy(&got).contains("\"method\"") {
        let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&b[..n]);
    }
    let m = metrics(&gw).await;
    assert_eq!(
        metric(&m, "corsgate_client_timeouts_total{kind=\"send\"}"),
        0
    );
    gw.shutdown().await;
}

/// Over h2c, a stream whose flow-control window the client never opens
/// again (it reads the socket but not the body) closes the connection
/// within `client_send`, and its upstream connection with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2_stream_left_with_a_closed_window_closes_the_connection() {
    let (up, open) = big_upstream(BIG).await;
    let gw = gateway_with(up, "client_send = \"1s\"").await;
    let tcp = TcpStream::connect(gw.local_addr()).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let req = http::Request::builder()
        .uri(format!("http://{}/raw/big", gw.local_addr()))
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    // The body is never read: the stream's window (hyper's client default,
    // 2 MiB) closes and stays closed.
    let t0 = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(10), conn).await;
    assert!(ended.is_ok(), "the h2 connection was kept for 10 s");
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t0.elapsed()
    );
    wait_until(Duration::from_secs(5), || open.load(Relaxed) == 0)
        .await
        .expect("the upstream connection was kept");
    drop(resp);
    let m = metrics(&gw).await;
    assert_eq!(
        metric(&m, "corsgate_client_timeouts_total{kind=\"send\"}"),
        1
    );
    gw.shutdown().await;
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];

/// How long until the gateway closes `s` (EOF or reset), reading and
/// discarding what it sends, while `trickle` bytes go out one per `every`.
async fn time_to_close<S>(
    s: S,
    trickle: &[u8],
    every: Duration,
    limit: Duration,
) -> Option<Duration>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut r, mut w) = tokio::io::split(s);
    let t0 = Instant::now();
    let reader = async {
        let mut b = [0u8; 4096];
        loop {
            match r.read(&mut b).await {
                Ok(0) | Err(_) => return t0.elapsed(),
                Ok(_) => {}
            }
        }
    };
    let writer = async {
        for byte in trickle {
            tokio::time::sleep(every).await;
            if w.write_all(&[*byte]).await.is_err() {
                break;
            }
        }
        std::future::pending::<()>().await;
    };
    tokio::time::timeout(limit, async {
        tokio::select! {
            t = reader => t,
            _ = writer => unreachable!(),
        }
    })
    .await
    .ok()
}

/// The trickles an attacker would try on an HTTP/2 connection: the preface
/// one byte at a time, nothing at all, the preface and SETTINGS then a
/// HEADERS frame one byte at a time, and a frame header cut short.
fn trickles() -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    let mut headers = vec![0, 0, 100, 1, 4, 0, 0, 0, 1];
    headers.extend(std::iter::repeat_n(0x82u8, 100));
    let mut ready = PREFACE.to_vec();
    ready.extend_from_slice(SETTINGS);
    vec![
        ("preface one byte at a time", Vec::new(), PREFACE.to_vec()),
        ("nothing", Vec::new(), Vec::new()),
        (
            "preface cut short",
            PREFACE[..10].to_vec(),
            PREFACE[10..].to_vec(),
        ),
        ("headers one byte at a time", ready.clone(), headers),
        ("frame header cut short", ready, vec![0, 0, 100, 1, 4]),
    ]
}

/// Over h2c (prior knowledge): each trickle is closed within `header_read`
/// (checked every `header_read`: between one and two), whatever the pace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_trickles_are_closed_within_header_read() {
    let (up, _) = start_upstream().await;
    let gw = gateway_with(up, "header_read = \"500ms\"\nidle = \"30s\"").await;
    for (name, first, trickle) in trickles() {
        let mut s = TcpStream::connect(gw.local_addr()).await.unwrap();
        s.write_all(&first).await.unwrap();
        let t = time_to_close(
            s,
            &trickle,
            Duration::from_millis(100),
            Duration::from_secs(10),
        )
        .await;
        let t = t.unwrap_or_else(|| panic!("{name}: kept for 10 s"));
        assert!(t >= Duration::from_millis(400), "{name}: {t:?}");
        assert!(t < Duration::from_secs(3), "{name}: {t:?}");
    }
    // A preconnect that sent its preface and SETTINGS is governed by idle:
    // still open after four header_read windows, then served.
    let tcp = TcpStream::connect(gw.local_addr()).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert!(!conn.is_finished(), "an idle preconnect was closed");
    let req = http::Request::builder()
        .uri(format!("http://{}/api/echo", gw.local_addr()))
        .header("origin", "https://app.example.com")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let got = read(sender.send_request(req).await.unwrap()).await;
    assert_eq!(got.status, 200);
    let m = metrics(&gw).await;
    assert_eq!(
        metric(&m, "corsgate_client_timeouts_total{kind=\"header_read\"}"),
        trickles().len() as u64
    );
    gw.shutdown().await;
}

fn tls_files(
    tag: &str,
) -> (
    std::path::PathBuf,
    rustls_pki_types::CertificateDer<'static>,
) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("corsgate-gw-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), ck.key_pair.serialize_pem()).unwrap();
    (dir, ck.cert.der().clone())
}

/// Over TLS with ALPN h2: the same trickles are closed within
/// `header_read` too (an h2 connection is no longer exempt).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_h2_trickles_are_closed_within_header_read() {
    use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
    let (dir, cert) = tls_files("exhaust-tls");
    let (up, _) = start_upstream().await;
    let text = config_text(up).replace(
        "[timeouts]\n",
        "[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n\n[timeouts]\nheader_read = \"500ms\"\nidle = \"30s\"\n",
    );
    let file = dir.join("corsgate.toml");
    std::fs::write(&file, text).unwrap();
    let gw = start(GatewayConfig::from_file(&file).unwrap())
        .await
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    for (name, first, trickle) in trickles() {
        let tcp = TcpStream::connect(gw.local_addr()).await.unwrap();
        let mut tls = connector
            .connect("localhost".try_into().unwrap(), tcp)
            .await
            .unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(b"h2".as_slice()));
        tls.write_all(&first).await.unwrap();
        tls.flush().await.unwrap();
        let t = time_to_close(
            tls,
            &trickle,
            Duration::from_millis(100),
            Duration::from_secs(10),
        )
        .await;
        let t = t.unwrap_or_else(|| panic!("{name}: kept for 10 s"));
        assert!(t >= Duration::from_millis(400), "{name}: {t:?}");
        assert!(t < Duration::from_secs(3), "{name}: {t:?}");
    }
    gw.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends `head` then `body` in `pieces` pieces `every` apart, and returns
/// the status line of the answer (or what ended the connection).
async fn upload(addr: SocketAddr, total: usize, pieces: &[usize], every: Duration) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!("POST /raw/upload HTTP/1.1\r\nhost: a\r\ncontent-length: {total}\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    let (mut r, mut w) = s.into_split();
    let pieces = pieces.to_vec();
    let writer = tokio::spawn(async move {
        for n in pieces {
            tokio::time::sleep(every).await;
            if w.write_all(&vec![b'u'; n]).await.is_err() {
                return;
            }
        }
        // Keep the connection open (a stalled uploader).
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    let mut got = Vec::new();
    let mut b = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match r.read(&mut b).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&b[..n]),
            }
            if got.windows(4).any(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&got);
                let len = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                let start = text.find("\r\n\r\n").unwrap() + 4;
                if got.len() >= start + len {
                    break;
                }
            }
        }
    })
    .await;
    writer.abort();
    String::from_utf8_lossy(&got).into_owned()
}

/// An upload slower than `upstream_response` but always moving is passed
/// in full; one that stops is answered 408 (not 504) after `client_body`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_uploads_pass_and_stalled_ones_get_408() {
    let (up, _) = start_upstream().await;
    let gw = gateway_with(up, "client_body = \"1s\"\nheader_read = \"10s\"").await;
    // upstream_response is 1 s: ten pieces 300 ms apart take 3 s.
    let t0 = Instant::now();
    let got = upload(
        gw.local_addr(),
        10_000,
        &[1000; 10],
        Duration::from_millis(300),
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(got.ends_with("10000"), "{got}");
    assert!(t0.elapsed() >= Duration::from_millis(2500));
    // Stalled after a first piece, or before any.
    for pieces in [&[100][..], &[][..]] {
        let t0 = Instant::now();
        let got = upload(gw.local_addr(), 10_000, pieces, Duration::from_millis(100)).await;
        assert!(got.starts_with("HTTP/1.1 408"), "{pieces:?}: {got}");
        assert!(
            got.to_ascii_lowercase().contains("connection: close"),
            "{got}"
        );
        let t = t0.elapsed();
        assert!(
            t >= Duration::from_millis(900) && t < Duration::from_secs(5),
            "{t:?}"
        );
    }
    let m = metrics(&gw).await;
    assert_eq!(
        metric(&m, "corsgate_client_timeouts_total{kind=\"body\"}"),
        2
    );
    assert_eq!(
        metric(&m, "corsgate_upstream_errors_total{kind=\"timeout\"}"),
        0
    );
    gw.shutdown().await;
}

/// The upstream still has `upstream_response` from the end of the body:
/// an upstream that never answers a completed upload gets 504.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_response_deadline_runs_from_the_end_of_the_body() {
    let (up, _, _) = scripted_upstream(b"", false).await;
    let gw = gateway_with(up, "client_body = \"5s\"").await;
    let t0 = Instant::now();
    let got = upload(
        gw.local_addr(),
        3000,
        &[1000; 3],
        Duration::from_millis(400),
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 504"), "{got}");
    // 1.2 s of upload, then upstream_response (1 s).
    let t = t0.elapsed();
    assert!(
        t >= Duration::from_millis(2000) && t < Duration::from_secs(6),
        "{t:?}"
    );
    gw.shutdown().await;
}

/// Durations past 24 h, including ones that overflow the clock, are
/// located errors for `--check`, refused by reload (the old configuration
/// stays and serves), and never reach a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflowing_durations_are_refused_by_check_and_reload() {
    let keys = [
        "header_read",
        "idle",
        "upstream_connect",
        "upstream_response",
        "client_send",
        "client_body",
        "drain",
    ];
    let values = [
        "10000000000000000000s",
        "18446744073709551615ms",
        "18446744073709551616s",
        "99999999999999999999999h",
        "5124095576030431m",
        "25h",
        "86401s",
    ];
    let (up, _) = start_upstream().await;
    let dir = std::env::temp_dir().join(format!("corsgate-gw-overflow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("corsgate.toml");
    // The test configuration without its own timeouts (each is set below).
    let good: String = config_text(up)
        .lines()
        .filter(|l| !l.starts_with("upstream_") && !l.starts_with("drain"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        // Reloads come from this test only.
        .replace("reload_poll = \"100ms\"", "reload_poll = \"0s\"");
    std::fs::write(&file, &good).unwrap();
    let gw = start(GatewayConfig::from_file(&file).unwrap())
        .await
        .unwrap();
    let mut refused = 0;
    for key in keys {
        for value in values {
            let text = good.replace(
                "[timeouts]\n",
                &format!("[timeouts]\n{key} = \"{value}\"\n"),
            );
            let e = GatewayConfig::from_toml(&text).unwrap_err();
            assert_eq!(e[0].line, Some(8), "{key} = {value}: {e:?}");
            assert!(e[0].message().contains("24h"), "{e:?}");
            std::fs::write(&file, &text).unwrap();
            assert!(gw.reloader().reload_file().is_err(), "{key} = {value}");
            refused += 1;
        }
    }
    assert_eq!(gw.metrics().reloads_failed(), refused);
    // 24h itself is accepted, and a request still gets its answer.
    let text = good.replace("[timeouts]\n", "[timeouts]\nupstream_response = \"24h\"\n");
    std::fs::write(&file, &text).unwrap();
    gw.reloader().reload_file().unwrap();
    let got = send(gw.local_addr(), "GET", "/api/echo", &[APP]).await;
    assert_eq!(got.status, 200);
    // The binary's --check says so with the line, and fails.
    let bad = good.replace(
        "[timeouts]\n",
        "[timeouts]\nupstream_response = \"10000000000000000000s\"\n",
    );
    std::fs::write(&file, &bad).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_corsgate-gateway"))
        .args(["serve", "--check", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 8") && err.contains("24h"), "{err}");
    gw.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// CPU time (user + system) of a process so far, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which ends with ')'): utime is the
    // 12th and stime the 13th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

async fn healthz(admin: SocketAddr) -> Option<String> {
    let fut = async {
        let mut s = TcpStream::connect(admin).await.ok()?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.ok()?;
        Some(String::from_utf8_lossy(&got).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .ok()
        .flatten()
}

/// The gateway binary under an open-file limit of 256 with
/// `max_connections = 10000`: it clamps the limit (and says so), and with
/// the public side saturated (idle HTTP/1.1 connections past the budget,
/// and HTTP/2 connections whose streams each need an upstream connection,
/// which run the process out of descriptors) the admin port answers
/// `/healthz` and the process uses under 5% of a core.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_descriptors_the_admin_port_answers_and_nothing_spins() {
    // This process holds both ends of hundreds of connections.
    corsgate_gateway::raise_nofile();
    let (up, _) = start_upstream().await;
    let admin_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("corsgate-gw-emfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("corsgate.toml");
    let text = config_text(up)
        .replace("listen = \"127.0.0.1:0\"", &format!("listen = \"127.0.0.1:{port}\""))
        .replace("admin = \"127.0.0.1:0\"", &format!("admin = \"127.0.0.1:{admin_port}\""))
        .replace("[timeouts]\n", "[limits]\nmax_connections = 10000\n\n[timeouts]\nheader_read = \"60s\"\nidle = \"60s\"\n")
        .replace("upstream_response = \"1s\"", "upstream_response = \"30s\"");
    std::fs::write(&file, text).unwrap();
    let log = dir.join("stderr.log");
    // The limit is lowered in the child before it runs the gateway (a
    // soft and hard limit: the gateway cannot raise it back).
    let mut child = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -n 256 && exec {} serve --config {}",
            env!("CARGO_BIN_EXE_corsgate-gateway"),
            file.display()
        ))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let admin: SocketAddr = format!("127.0.0.1:{admin_port}").parse().unwrap();
    wait_until_connects(addr).await;
    let pid = child.id();

    // First 8 h2c connections with 40 slow requests each: every stream
    // needs an upstream connection, 320 more descriptors than the process
    // has (the streams past it get 502).
    let mut streams = Vec::new();
    for _ in 0..8 {
        let Ok(Ok(tcp)) =
            tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await
        else {
            continue;
        };
        let Ok(Ok((sender, conn))) = tokio::time::timeout(
            Duration::from_secs(2),
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp)),
        )
        .await
        else {
            continue;
        };
        tokio::spawn(conn);
        for _ in 0..40 {
            let mut sender = sender.clone();
            let req = http::Request::builder()
                .uri(format!("http://{addr}/raw/slow/20000"))
                .body(http_body_util::Empty::<Bytes>::new())
                .unwrap();
            streams.push(tokio::spawn(async move {
                let _ = sender.send_request(req).await;
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Then 300 idle HTTP/1.1 connections: the process has no descriptor
    // left to accept them (and past the budget of 96 they would wait in
    // the accept queue anyway).
    // (Once the accept queue is full, a connect waits: given up then.)
    let mut idle = Vec::new();
    for _ in 0..300 {
        match tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => idle.push(s),
            Ok(Err(_)) => {}
            Err(_) => break,
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Saturated: the admin port answers, and the process is quiet.
    for i in 0..5 {
        let Some(h) = healthz(admin).await else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "/healthz did not answer ({i})\n{}",
                std::fs::read_to_string(&log).unwrap()
            );
        };
        assert!(h.starts_with("HTTP/1.1 200") && h.ends_with("ok\n"), "{h}");
    }
    let ticks_per_s = 100.0; // USER_HZ on Linux
    let before = cpu_ticks(pid);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let used = (cpu_ticks(pid) - before) as f64 / ticks_per_s / t0.elapsed().as_secs_f64();
    let after = healthz(admin).await;
    let _ = child.kill();
    let _ = child.wait();
    let stderr = std::fs::read_to_string(&log).unwrap();
    let h = after.unwrap_or_else(|| panic!("/healthz did not answer\n{stderr}"));
    assert!(h.starts_with("HTTP/1.1 200"), "{h}");
    eprintln!(
        "saturated: {} idle connections open, {:.2}% of a core",
        idle.len(),
        used * 100.0
    );
    assert!(
        used < 0.05,
        "the gateway used {:.1}% of a core\n{stderr}",
        used * 100.0
    );
    assert!(stderr.contains("clamped_to=96"), "{stderr}");
    for s in streams {
        s.abort();
    }
    drop(idle);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn wait_until_connects(addr: SocketAddr) {
    let t0 = Instant::now();
    while TcpStream::connect(addr).await.is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "gateway did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// 1,000 denied requests with a 15 KiB Origin write a bounded log: values
/// clipped to 256 bytes and lines rate limited, while the metrics count
/// every denial and every line held back. Then 1,000 allowed requests with a
/// 15 KiB path that the route's shadow candidate refuses: the shadow's log
/// lines are bounded and clipped the same way, and every disagreement counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_denied_requests_writes_a_bounded_log() {
    let (up, _) = start_upstream().await;
    let dir = std::env::temp_dir().join(format!("corsgate-gw-denylog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("stderr.log");
    let (mut child, addr, cfg_dir) = gateway_process(
        "denylog",
        up,
        |t| {
            t.replacen(
                "max_age = 600\n",
                "max_age = 600\n\n[routes.shadow]\norigins = [\"https://other.example.com\"]\n",
                1,
            )
        },
        std::process::Stdio::null(),
        std::fs::File::create(&log).unwrap().into(),
    )
    .await;
    let origin = format!("https://{}.example", "a".repeat(15 * 1024));
    let client = client();
    let mut sent = 0;
    for _ in 0..1000 {
        let req = http::Request::builder()
            .uri(format!("http://{addr}/api/echo"))
            .header("origin", &origin)
            .body(http_body_util::Full::new(Bytes::new()).boxed())
            .unwrap();
        let resp = client.request(req).await.unwrap();
        let _ = resp.into_body().collect().await;
        sent += 1;
    }
    assert_eq!(sent, 1000);
    let long_path = format!("/api/{}", "p".repeat(15 * 1024));
    for _ in 0..1000 {
        let req = http::Request::builder()
            .uri(format!("http://{addr}{long_path}"))
            .header("origin", "https://app.example.com")
            .body(http_body_util::Full::new(Bytes::new()).boxed())
            .unwrap();
        let resp = client.request(req).await.unwrap();
        assert_eq!(
            resp.headers()["access-control-allow-origin"],
            "https://app.example.com",
            "the shadow never changes an answer"
        );
        let _ = resp.into_body().collect().await;
    }
    // The metrics, on the admin port named in the log's start line.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = std::fs::read_to_string(&log).unwrap();
    let admin = text
        .split("admin=Some(")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .expect("no admin address in the log")
        .parse::<SocketAddr>()
        .unwrap();
    let m = send(admin, "GET", "/metrics", &[]).await.body;
    let _ = child.kill();
    let _ = child.wait();
    let bytes = std::fs::metadata(&log).unwrap().len();
    let lines = text
        .lines()
        .filter(|l| l.contains("CORS request denied"))
        .count();
    assert_eq!(
        metric(
            &m,
            "corsgate_requests_total{kind=\"actual\",decision=\"denied\"}"
        ),
        1000
    );
    let suppressed = metric(&m, "corsgate_log_lines_suppressed_total");
    assert_eq!(lines as u64 + suppressed, 1000, "{lines} + {suppressed}");
    // A burst of 100, then 20 a second: unbounded, this was 15+ MB.
    assert!(lines <= 400, "{lines} lines");
    assert!(bytes < 400 * 1024, "{bytes} bytes of log");
    assert!(text.lines().all(|l| l.len() < 2048), "a line over 2 KiB");
    let marker = format!("…({} bytes)", origin.len());
    assert!(text.contains(&marker), "no clip marker {marker}");
    // The shadow's lines: as bounded, as clipped; every disagreement counted.
    let shadow: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("shadow policy disagrees"))
        .collect();
    assert_eq!(
        metric(
            &m,
            "corsgate_shadow_disagreements_total{kind=\"candidate_refuses\",reason=\"origin_not_allowed\"}"
        ),
        1000,
        "{m}"
    );
    assert!(
        !shadow.is_empty() && shadow.len() <= 400,
        "{} shadow lines",
        shadow.len()
    );
    let path_marker = format!("…({} bytes)", long_path.len());
    assert!(shadow
        .iter()
        .all(|l| l.len() < 2048 && l.contains(&path_marker)));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&cfg_dir);
}
