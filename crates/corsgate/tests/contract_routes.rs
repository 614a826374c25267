//! `corsgate test --config` picks the route the way `corsgate serve` does:
//! the URL's path normalised by the gateway's `target::normalise`, a path
//! that the gateway refuses (encoded slash, or a spelling a lenient
//! application reads as another route's) refused here too, the host
//! canonical. Before, the raw `url.path()` was matched: `/API/me` was tested
//! against the catch-all's policy while `serve` refuses it.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::corsgate;

const CONFIG: &str = r#"
listen = "127.0.0.1:0"
upstream = "http://127.0.0.1:1"

[[routes]]
path = "/"
[routes.policy]
origins = ["*"]

[[routes]]
path = "/api/"
[routes.policy]
origins = ["https://app.example.com"]
credentials = true

[[routes]]
path = "/api/"
host = "admin.example.com"
[routes.policy]
origins = ["https://admin.example.com"]
credentials = true
"#;

/// A server that answers every request with an empty 204, on its own
/// thread: `corsgate test` reaches it and reports which policy it used.
fn answering_server() -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
            });
        }
    });
    port
}

#[test]
fn the_route_of_a_url_is_the_one_serve_would_choose() {
    let port = answering_server();
    let dir = std::env::temp_dir().join(format!("corsgate-contract-routes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("gateway.toml");
    std::fs::write(&file, CONFIG).unwrap();
    let config = file.to_str().unwrap();
    // (URL, route chosen or None: refused as `serve` refuses it)
    for (url, want) in [
        ("http://127.0.0.1:1/api/me", Some("/api/")),
        ("http://127.0.0.1:1/%61pi/me", Some("/api/")),
        ("http://127.0.0.1:1/x/%2e%2e/api/me", Some("/api/")),
        ("http://127.0.0.1:1//api//me", Some("/api/")),
        ("http://127.0.0.1:1/other", Some("/")),
        ("http://127.0.0.1:1/API/me", None),
        ("http://127.0.0.1:1/api./me", None),
        ("http://127.0.0.1:1/api;x/me", None),
        ("http://127.0.0.1:1/x/..%2fapi/me", None),
        ("http://127.0.0.1:1/x/..;/api/me", None),
    ] {
        let url = url.replace(":1/", &format!(":{port}/"));
        let url = url.as_str();
        let r = corsgate(&["test", url, "--config", config, "--json", "--timeout", "2"]);
        let all = format!("{}{}", r.stdout, r.stderr);
        match want {
            None => {
                assert_eq!(r.code, 2, "{url}: {all}");
                assert!(all.contains(" with 400: "), "{url}: {all}");
            }
            Some(route) => {
                assert!(!all.contains(" with 400: "), "{url}: {all}");
                assert!(!all.contains("no route of"), "{url}: {all}");
                let path = route;
                let v: serde_json::Value = serde_json::from_str(&r.stdout)
                    .unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {all}"));
                let policy = v["policy"].as_str().unwrap_or_default();
                assert!(
                    policy.ends_with(&format!("(route {path})")),
                    "{url}: {policy}"
                );
            }
        }
    }
}
