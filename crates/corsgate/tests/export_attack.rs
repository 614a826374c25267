//! An attacker's tables against the exported nginx and Apache
//! configurations, run in the real servers, each with a catch-all proxy
//! beside the exported block (nginx `location /`, Apache `ProxyPass /`), in
//! front of a careless upstream that reflects any `Origin` with credentials
//! and misbehaves on some paths: its CORS headers in upper case, twice,
//! with a space before the colon, folded into another line, in a 103 Early
//! Hints before the answer, on a 500, and no answer at all (the server's own
//! 502).
//!
//! Every row says what a page on a disallowed origin gets. Found and fixed
//! here: the location's name *alone* (`/API`, `/api.`, `/api;x`,
//! `/api%20`, and on Apache `/api` itself) went through the catch-all to an
//! upstream that reads it as `/api/` (case-insensitive, trailing slash
//! optional: Express' defaults), its reflected headers untouched. Found and
//! documented (no nginx directive can fix it): nginx before 1.29 takes an
//! upstream's 103 for the final response and relays the real one after it
//! unfiltered; the export warns about it.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

#[path = "common/edge.rs"]
mod edge;
#[path = "common/nginx_apache.rs"]
mod nginx_apache;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use nginx_apache::Server;

use edge::{fetch_each, free_port, serve_page, Running, TempDir, EVIL};

/// The upstream's answer for a request line's path, reflecting `origin`.
fn answer(path: &str, origin: &str) -> Option<Vec<u8>> {
    let reflect = format!(
        "Access-Control-Allow-Origin: {origin}\r\nAccess-Control-Allow-Credentials: true\r\n"
    );
    let reflect = reflect.as_str();
    let last = path
        .split('?')
        .next()
        .unwrap_or("")
        .rsplit('/')
        .next()
        .unwrap_or("");
    let x_path = format!("X-Path: {path}\r\n");
    let ok = |status: &str, cors: &str| {
        format!("HTTP/1.1 {status}\r\n{cors}{x_path}Content-Length: 6\r\nConnection: close\r\n\r\nsecret")
    };
    let text = match last {
        "upper" => ok(
            "200 OK",
            "ACCESS-CONTROL-ALLOW-ORIGIN: https://evil.example\r\naccess-control-allow-credentials: TRUE\r\n",
        ),
        "dup" => ok("200 OK", &format!("{reflect}{reflect}")),
        "space" => ok(
            "200 OK",
            "Access-Control-Allow-Origin : https://evil.example\r\nAccess-Control-Allow-Credentials : true\r\n",
        ),
        "fold" => ok(
            "200 OK",
            "X-A: 1\r\n Access-Control-Allow-Origin: https://evil.example\r\n",
        ),
        "early" => format!(
            "HTTP/1.1 103 Early Hints\r\n{reflect}\r\n{}",
            ok("200 OK", reflect)
        ),
        "error" => ok("500 Internal Server Error", reflect),
        "vary" => ok("200 OK", &format!("{reflect}Vary: Accept-Encoding\r\n")),
        "drop" => return None,
        _ => ok("200 OK", reflect),
    };
    Some(text.into_bytes())
}

fn start_upstream() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                let origin = head
                    .split("\r\n")
                    .find_map(|l| {
                        let (n, v) = l.split_once(':')?;
                        n.eq_ignore_ascii_case("origin")
                            .then(|| v.trim().to_owned())
                    })
                    .unwrap_or_default();
                if let Some(a) = answer(&path, &origin) {
                    let _ = s.write_all(&a);
                }
            });
        }
    });
    port
}

/// The exported `to` configuration of the attack's policy (written to `dir`).
fn export(to: &str, dir: &Path, upstream: u16) -> String {
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        "origins = [\"https://app.example.com\"]\ncredentials = true\n",
    )
    .unwrap();
    edge::export(to, &policy, upstream)
}

fn start(server: Server, exported: &str, dir: &Path, port: u16, upstream: u16) -> Running {
    let catch_all = match server {
        Server::Nginx => format!("location / {{ proxy_pass http://127.0.0.1:{upstream}; }}"),
        Server::Apache => format!("ProxyPass / http://127.0.0.1:{upstream}/"),
    };
    server.start_with(exported, dir, port, &catch_all)
}

/// The response a browser acts on: interim (1xx) responses skipped, as
/// Chromium and Firefox skip them. Returns (status, head lines, body).
fn final_response(raw: &str) -> (u16, Vec<(String, String)>, String) {
    let mut rest = raw;
    loop {
        let Some((head, body)) = rest.split_once("\r\n\r\n") else {
            return (0, Vec::new(), String::new());
        };
        let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let fields = head
            .split("\r\n")
            .skip(1)
            .filter_map(|l| {
                let (n, v) = l.split_once(':')?;
                // Browsers trim the name as they parse it.
                Some((n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            })
            .collect();
        if (100..200).contains(&status) && status != 101 {
            rest = body;
            continue;
        }
        return (status, fields, body.to_owned());
    }
}

fn exchange(port: u16, target: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: gw.example\r\nOrigin: {EVIL}\r\nCookie: s=1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the page on `EVIL` may read the body: one ACAO naming it (or
/// `*`), credentials allowed for a credentialed fetch.
fn readable(fields: &[(String, String)]) -> bool {
    let acao: Vec<&str> = fields
        .iter()
        .filter(|(n, _)| n == "access-control-allow-origin")
        .map(|(_, v)| v.as_str())
        .collect();
    let acac: Vec<&str> = fields
        .iter()
        .filter(|(n, _)| n == "access-control-allow-credentials")
        .map(|(_, v)| v.as_str())
        .collect();
    acao == [EVIL] && acac == ["true"]
}

/// nginx's version, as `(major, minor)`.
fn nginx_version() -> (u32, u32) {
    let out = Command::new("/usr/sbin/nginx").arg("-v").output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = text.split("nginx/").nth(1).unwrap_or("0.0");
    let mut parts = v.trim().split('.').map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[derive(Clone, Copy, Debug)]
enum Want {
    /// Refused by the server (4xx), nothing readable.
    Refused,
    /// nginx's own redirect to the location (301).
    Redirect,
    /// Answered under the policy: the upstream's CORS headers gone,
    /// `Vary` naming `Origin`, nothing readable by the disallowed origin.
    Covered,
    /// Outside the location: the catch-all passes the upstream's headers,
    /// which is the operator's business — but the path must not be one an
    /// upstream reads as the location.
    Outside,
}

/// (target, nginx, Apache).
const TABLE: &[(&str, Want, Want)] = &[
    ("/api/x", Want::Covered, Want::Covered),
    ("/api/upper", Want::Covered, Want::Covered),
    ("/api/dup", Want::Covered, Want::Covered),
    ("/api/fold", Want::Covered, Want::Covered),
    ("/api/vary", Want::Covered, Want::Covered),
    ("/api/error", Want::Covered, Want::Covered),
    ("/api/drop", Want::Covered, Want::Covered),
    // nginx 502s an upstream header with a space before the colon, Apache
    // 500s it: either way the server's own error page, under the policy.
    ("/api/space", Want::Covered, Want::Covered),
    // The name alone: `/api/` to a lenient upstream.
    ("/api", Want::Redirect, Want::Refused),
    ("/API", Want::Refused, Want::Refused),
    ("/Api", Want::Refused, Want::Refused),
    ("/api.", Want::Refused, Want::Refused),
    ("/api..", Want::Refused, Want::Refused),
    ("/api%20", Want::Refused, Want::Refused),
    ("/api;x", Want::Refused, Want::Refused),
    ("/api;", Want::Refused, Want::Refused),
    ("/%61pi", Want::Redirect, Want::Refused),
    ("/%41PI", Want::Refused, Want::Refused),
    ("/x/../api", Want::Redirect, Want::Refused),
    ("/api?x=/../api/", Want::Redirect, Want::Refused),
    ("/API/x", Want::Refused, Want::Refused),
    ("/api./x", Want::Refused, Want::Refused),
    // Really elsewhere.
    ("/apix", Want::Outside, Want::Outside),
    ("/api.x", Want::Outside, Want::Outside),
    ("/other/api", Want::Outside, Want::Outside),
];

/// An exported server, running beside its catch-all.
struct Site {
    port: u16,
    exported: String,
    _running: Running,
    _dir: TempDir,
}

fn site(server: Server, upstream: u16) -> Site {
    let dir = std::env::temp_dir().join(format!(
        "corsgate-export-attack-{server:?}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let dir = TempDir(dir);
    let exported = export(
        if server == Server::Nginx {
            "nginx"
        } else {
            "apache"
        },
        &dir.0,
        upstream,
    );
    let port = free_port();
    let running = start(server, &exported, &dir.0, port, upstream);
    Site {
        port,
        exported,
        _running: running,
        _dir: dir,
    }
}

fn run(server: Server) -> Vec<String> {
    let upstream = start_upstream();
    let site = site(server, upstream);
    let (port, exported) = (site.port, &site.exported);
    let mut problems = Vec::new();
    for (target, nginx, apache) in TABLE {
        let want = if server == Server::Nginx {
            nginx
        } else {
            apache
        };
        let raw = exchange(port, target);
        let (status, fields, body) = final_response(&raw);
        let ctx = format!("{server:?} {target}: {status}");
        let ok = match want {
            Want::Refused => (400..500).contains(&status) && !readable(&fields),
            Want::Redirect => status == 301 && !readable(&fields),
            Want::Covered => {
                let vary: Vec<String> = fields
                    .iter()
                    .filter(|(n, _)| n == "vary")
                    .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
                    .collect();
                status != 0
                    && !readable(&fields)
                    && !fields
                        .iter()
                        .any(|(n, v)| n.starts_with("access-control-") && v.contains("evil"))
                    && vary.iter().any(|v| v == "origin")
            }
            Want::Outside => status == 200 && body == "secret",
        };
        if !ok {
            problems.push(format!("{ctx}: want {want:?}, got:\n{raw}"));
        }
    }
    // A 103 Early Hints before the answer.
    let raw = exchange(port, "/api/early");
    let (status, fields, _) = final_response(&raw);
    let leaks = readable(&fields);
    match server {
        Server::Apache => {
            if status != 200 || leaks {
                problems.push(format!("Apache /api/early: {raw}"));
            }
        }
        Server::Nginx => {
            if nginx_version() >= (1, 29) {
                if leaks {
                    problems.push(format!("nginx >= 1.29 /api/early leaks: {raw}"));
                }
            } else if leaks && !exported.contains("103 Early Hints") {
                problems.push(format!(
                    "nginx < 1.29 relays the upstream's answer after its 103 unfiltered, and the export does not warn: {raw}"
                ));
            }
        }
    }
    problems
}

#[test]
fn nginx_export_under_attack() {
    let problems = run(Server::Nginx);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn apache_export_under_attack() {
    let problems = run(Server::Apache);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// Serves one page (any path) on loopback: its origin is a refused one.
fn start_page() -> u16 {
    serve_page("<!doctype html><title>refused origin</title>")
}

/// The same in headless Chromium, with `credentials: 'include'`, from a page
/// whose origin the policy refuses: the upstream itself is readable (the
/// control), nothing is through either export — except, on nginx < 1.29,
/// an answer after a 103, which the export warns about.
#[test]
fn chromium_reads_nothing_through_either_export() {
    use corsgate_conformance::webdriver::Driver;
    let upstream = start_upstream();
    let nginx = site(Server::Nginx, upstream);
    let apache = site(Server::Apache, upstream);
    let page = start_page();
    let driver = Driver::start("/usr/bin/chromedriver", "/usr/bin/chromium")
        .expect("chromium and chromedriver are installed (scripts/test installs them)");
    driver
        .navigate(&format!("http://127.0.0.1:{page}/"))
        .expect("the page loads");
    let paths = ["/api/x", "/API", "/api.", "/api/upper", "/api/early"];
    let mut urls = vec![("upstream", "/api/x", upstream)];
    for p in paths {
        urls.push(("nginx", p, nginx.port));
        urls.push(("apache", p, apache.port));
    }
    let list: Vec<String> = urls
        .iter()
        .map(|(_, p, port)| format!("http://127.0.0.1:{port}{p}"))
        .collect();
    let seen = fetch_each(&driver, &list);
    for ((name, path, _), got) in urls.iter().zip(&seen) {
        println!("chromium {}: {name} {path}: {got}", driver.browser_version);
    }
    assert!(
        seen[0] == "read 200: secret",
        "the control must be readable, or the test proves nothing: {seen:?}"
    );
    let old_nginx = nginx_version() < (1, 29);
    for ((name, path, _), got) in urls.iter().zip(&seen).skip(1) {
        if *name == "nginx" && *path == "/api/early" && old_nginx {
            assert!(nginx.exported.contains("103 Early Hints"));
            continue;
        }
        assert!(
            got.starts_with("blocked: TypeError"),
            "{name} {path}: the page read the answer: {got}"
        );
    }
    drop(driver);
}
