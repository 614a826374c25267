//! Shared machinery of the live export tests (tests/export.rs for nginx and
//! Apache, tests/export_caddy.rs and tests/export_haproxy.rs, and
//! tests/export_attack.rs use it): the
//! policies and the generated browser fetches, a loopback upstream with
//! misleading CORS headers, the judge (corsgate's browser role against the
//! real server and against `Policy::decide`), hostile origin classes, path
//! forms, and the server's own errors.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corsgate_core::decision::Action;
use corsgate_core::{
    Browser, Credentials, HeaderList, Outgoing, Policy, Profile, Request, Response, Verdict,
};
use http::{HeaderMap, Method};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_corsgate");
pub(crate) const API: &str = "https://api.example.net";

// ---------------------------------------------------------------------------
// The policies and the request matrix (as tests/export.rs).

pub(crate) struct Case {
    pub name: &'static str,
    pub toml: &'static str,
}

pub(crate) const POLICIES: &[Case] = &[
    Case {
        name: "exact origins with credentials",
        toml: r#"
origins = ["https://app.example.com", "https://admin.example.com"]
methods = ["PUT", "DELETE"]
request_headers = ["content-type", "authorization"]
expose_headers = ["x-request-id"]
credentials = true
max_age = 600
"#,
    },
    Case {
        name: "subdomain patterns and any port",
        toml: r#"
origins = ["https://*.example.com", "https://*.preview.example.net:*", "http://localhost:*", "https://app.example.org"]
methods = ["PATCH"]
request_headers = ["x-trace", "content-type"]
expose_headers = ["x-total", "x-request-id"]
credentials = true
"#,
    },
    Case {
        name: "any origin",
        toml: r#"
origins = ["*"]
methods = ["*"]
request_headers = ["x-trace"]
expose_headers = ["x-request-id"]
max_age = 60
"#,
    },
    Case {
        name: "mirrored request headers",
        toml: r#"
origins = ["https://app.example.com", "https://*.example.org", "http://localhost:3000"]
methods = ["PUT", "patch"]
request_headers = ["*"]
expose_headers = ["x-total"]
credentials = true
max_age = 0
"#,
    },
    Case {
        name: "private network access",
        toml: r#"
origins = ["https://app.example.com", "http://localhost:*"]
methods = ["PUT"]
request_headers = ["content-type"]
private_network = true
"#,
    },
];

/// The origins of the matrix. The hostile classes (never allowed by any
/// policy here) are listed in [`HOSTILE`] too.
pub(crate) const ORIGINS: &[&str] = &[
    "https://app.example.com",
    "https://admin.example.com",
    "https://a.example.com",
    "https://b.a.example.com",
    "https://example.com",
    "https://evil-example.com",
    "https://evilexample.com",
    "https://example.com.evil.net",
    "https://app.example.com.evil.net",
    "null",
    "http://app.example.com",
    "https://app.example.com:8443",
    "https://x.preview.example.net:8443",
    "https://preview.example.net",
    "http://localhost:5173",
    "http://localhost:3000",
    "http://localhost",
    "https://a.example.org",
    "https://app.example.org",
    "https://example.org",
    // Hostile classes beyond the look-alikes above.
    "https://evil.example",
    "https://appxexample.com",
    "https://x.app.example.com",
    "https://a.previewxexample.net",
];

/// Origins of the hostile classes: arbitrary, `null`, prefix and suffix
/// look-alikes, an unescaped dot, a subdomain of an exact origin, an http
/// downgrade, another port. No policy of [`POLICIES`] but the any-origin one
/// allows them, and that one only with `*` and without credentials.
pub(crate) const HOSTILE: &[&str] = &[
    "https://evil.example",
    "null",
    "https://evil-example.com",
    "https://evilexample.com",
    "https://example.com.evil.net",
    "https://app.example.com.evil.net",
    "https://appxexample.com",
    "https://a.previewxexample.net",
    "https://x.app.example.com",
    "http://app.example.com",
    "https://app.example.com:8443",
];

pub(crate) struct Spec {
    pub method: &'static str,
    pub headers: &'static [(&'static str, &'static str)],
    pub include: bool,
}

pub(crate) const SPECS: &[Spec] = &[
    Spec {
        method: "GET",
        headers: &[],
        include: false,
    },
    Spec {
        method: "GET",
        headers: &[],
        include: true,
    },
    Spec {
        method: "HEAD",
        headers: &[],
        include: false,
    },
    Spec {
        method: "POST",
        headers: &[("Content-Type", "text/plain")],
        include: true,
    },
    Spec {
        method: "POST",
        headers: &[("Content-Type", "application/json")],
        include: true,
    },
    Spec {
        method: "PUT",
        headers: &[("Content-Type", "application/json")],
        include: true,
    },
    Spec {
        method: "DELETE",
        headers: &[("Authorization", "Bearer t")],
        include: true,
    },
    Spec {
        method: "PATCH",
        headers: &[],
        include: false,
    },
    Spec {
        method: "patch",
        headers: &[],
        include: false,
    },
    Spec {
        method: "GET",
        headers: &[("X-Trace", "1")],
        include: false,
    },
    Spec {
        method: "PUT",
        headers: &[("X-Custom", "1"), ("Content-Type", "application/json")],
        include: false,
    },
    Spec {
        method: "OPTIONS",
        headers: &[],
        include: false,
    },
    Spec {
        method: "FOO",
        headers: &[("X-Trace", "1")],
        include: true,
    },
];

/// Paths the upstream answers 200, 404 and 500 on.
pub(crate) const PATHS: &[(&str, u16)] = &[
    ("/api/items", 200),
    ("/api/missing", 404),
    ("/api/broken", 500),
];

/// What the upstream sends besides its status: misleading CORS headers of
/// its own, readable and unreadable headers, and a Vary.
pub(crate) const UPSTREAM_HEADERS: &[(&str, &str)] = &[
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Credentials", "true"),
    ("Access-Control-Expose-Headers", "*"),
    ("Access-Control-Allow-Methods", "*"),
    ("Access-Control-Allow-Headers", "*"),
    ("Access-Control-Max-Age", "1"),
    ("Content-Type", "application/json"),
    ("X-Request-Id", "42"),
    ("X-Total", "7"),
    ("X-Secret", "s"),
    ("Vary", "Accept-Encoding"),
];

// The upstream: a loopback HTTP/1.1 server that counts what reaches it.

/// What the upstream sends besides its status: misleading CORS headers (it
/// reflects any Origin, with credentials, and allows everything), readable
/// and unreadable headers, and a Vary.
pub(crate) fn upstream_headers(origin: Option<&str>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = UPSTREAM_HEADERS
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    if let Some(o) = origin {
        v[0].1 = o.to_owned();
    }
    v
}

/// The value of header `name` in a request head (the first line of it, any case),
/// lower-cased heads included.
pub(crate) fn head_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

pub(crate) struct Upstream {
    pub port: u16,
    pub requests: Arc<AtomicUsize>,
    pub preflights: Arc<AtomicUsize>,
}

pub(crate) fn read_head(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    buf
}

pub(crate) fn start_upstream() -> Upstream {
    start_upstream_with(true)
}

/// `start_upstream`, reflecting the request's Origin in its
/// `Access-Control-Allow-Origin` or not (then always `*`).
pub(crate) fn start_upstream_with(reflect: bool) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let preflights = Arc::new(AtomicUsize::new(0));
    let (r, p) = (requests.clone(), preflights.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let (r, p) = (r.clone(), p.clone());
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let head = String::from_utf8_lossy(&read_head(&mut s)).to_ascii_lowercase();
                r.fetch_add(1, Ordering::SeqCst);
                if head.starts_with("options ")
                    && head.contains("\r\naccess-control-request-method:")
                {
                    p.fetch_add(1, Ordering::SeqCst);
                }
                let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                let status = PATHS
                    .iter()
                    .find(|(p, _)| path.starts_with(p))
                    .map_or(200, |(_, s)| *s);
                let body = "{\"upstream\":true}\n";
                let mut out = format!("HTTP/1.1 {status} X\r\n");
                let origin = if reflect {
                    head_value(&head, "origin")
                } else {
                    None
                };
                for (n, v) in upstream_headers(origin) {
                    out.push_str(&format!("{n}: {v}\r\n"));
                }
                let body = if head.starts_with("head ") { "" } else { body };
                out.push_str(&format!(
                    "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    if body.is_empty() { 18 } else { body.len() }
                ));
                let _ = s.write_all(out.as_bytes());
            });
        }
    });
    Upstream {
        port,
        requests,
        preflights,
    }
}

// ---------------------------------------------------------------------------
// The two ways of answering a browser's request.

/// What `Policy::decide` answers, in front of the same upstream answer.
pub(crate) fn reference(policy: &Policy, out: &Outgoing, status: u16) -> Response {
    reference_with(policy, out, status, true)
}

/// `reference` for an upstream started by `start_upstream_with(reflect)`.
pub(crate) fn reference_with(
    policy: &Policy,
    out: &Outgoing,
    status: u16,
    reflect: bool,
) -> Response {
    let method = Method::from_bytes(out.method.as_bytes()).unwrap();
    let headers: HeaderMap = out.headers.to_http().0;
    let d = policy.decide(&method, &headers);
    match d.action() {
        Action::Respond(s) => Response::with_headers(
            s.as_u16(),
            HeaderList::from_http(&d.headers().to_header_map()),
        ),
        Action::PassOn => {
            let mut map = HeaderMap::new();
            let origin = out
                .headers
                .get("origin")
                .filter(|_| reflect)
                .map(|v| String::from_utf8_lossy(&v).into_owned());
            for (n, v) in upstream_headers(origin.as_deref()) {
                map.append(
                    http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            d.into_headers().apply_to(&mut map);
            Response::with_headers(status, HeaderList::from_http(&map))
        }
    }
}

/// Connects to a loopback server, retrying a refused or reset connect a few
/// times: on a loaded machine a server's accept queue can overflow for a
/// moment, which says nothing about its CORS answers.
pub(crate) fn connect(port: u16) -> TcpStream {
    let mut last = None;
    for attempt in 0..8u64 {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => return s,
            Err(e) => last = Some(e),
        }
        std::thread::sleep(std::time::Duration::from_millis(25 << attempt));
    }
    panic!("cannot connect to 127.0.0.1:{port}: {last:?}");
}

/// Sends raw header lines to the server and reads its answer.
pub(crate) fn exchange(
    port: u16,
    method: &str,
    path: &str,
    lines: &[(String, Vec<u8>)],
) -> Response {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n").into_bytes();
    for (n, v) in lines {
        req.extend_from_slice(n.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(v);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"Connection: close\r\n\r\n");
    let mut s = connect(port);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&req).unwrap();
    let head = read_head(&mut s);
    let end = head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer head: {:?}", String::from_utf8_lossy(&head)));
    let text = String::from_utf8_lossy(&head[..end]).into_owned();
    let mut it = text.split("\r\n");
    let status: u16 = it
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {text:?}"));
    let mut list = HeaderList::new();
    for l in it {
        if let Some((n, v)) = l.split_once(':') {
            list.append(n.trim().to_ascii_lowercase(), v.trim());
        }
    }
    Response::with_headers(status, list)
}

pub(crate) fn real(port: u16, out: &Outgoing) -> Response {
    let url = url::Url::parse(&out.url).unwrap();
    let lines: Vec<(String, Vec<u8>)> = out
        .headers
        .iter()
        .map(|(n, v)| (n.to_owned(), v.to_vec()))
        .collect();
    exchange(port, &out.method, url.path(), &lines)
}

/// What a page sees: the parts of a verdict that must agree.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    pub allowed: bool,
    pub status: Option<u16>,
    pub exposed: Vec<String>,
    pub refusal: Option<&'static str>,
}

/// Headers the server adds for framing, whatever the policy: not compared.
pub(crate) const FRAMING: &[&str] = &[
    "content-length",
    "connection",
    "date",
    "server",
    "transfer-encoding",
    "keep-alive",
];

pub(crate) fn seen(v: &Verdict) -> Seen {
    let mut exposed = v.exposed_headers.clone();
    exposed.retain(|h| !FRAMING.contains(&h.as_str()));
    exposed.sort();
    Seen {
        allowed: v.allowed,
        status: v.status,
        exposed,
        refusal: v.reason.as_ref().map(|r| r.code),
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn wait_port(port: u16, child: &mut Child, log: &Path) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the server exited ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "port {port} not up: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A server we started; stopped (SIGTERM to its own pid, then waited for) on drop.
pub(crate) struct Running {
    pub child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory, removed on drop (after a panic too).
pub(crate) struct TempDir(pub PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn temp_dir(tag: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!(
        "corsgate-export-{tag}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

pub(crate) fn export(to: &str, policy: &Path, upstream: u16) -> String {
    let out = Command::new(BIN)
        .args(["export", "--to", to])
        .arg(policy)
        .args([
            "--upstream",
            &format!("http://127.0.0.1:{upstream}"),
            "--location",
            "/api/",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "export failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub(crate) fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from));
    for n in names {
        for d in &dirs {
            let p = d.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

pub(crate) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------
// The servers.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Server {
    Caddy,
    Haproxy,
}

impl Server {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Server::Caddy => "caddy",
            Server::Haproxy => "haproxy",
        }
    }

    /// Starts the server on `port` with `exported` in a site (Caddy) or a
    /// frontend (HAProxy) whose other paths all go to `rest` (the rest of the
    /// site: the same application, without the policy), as deployments do.
    pub(crate) fn start(self, exported: &str, dir: &Path, port: u16, rest: u16) -> Running {
        let d = dir.display();
        let stderr = std::fs::File::create(dir.join("stderr.log")).unwrap();
        let mut child = match self {
            Server::Caddy => {
                let bin = which(&["caddy"]).expect(
                    "Caddy is needed for this test (Debian: apt-get install caddy; scripts/test installs it)",
                );
                let conf = format!(
                    "{{\n\tadmin off\n\tauto_https off\n}}\nhttp://:{port} {{\n\tbind 127.0.0.1\n\tlog {{\n\t\toutput discard\n\t}}\n{exported}\n\treverse_proxy 127.0.0.1:{rest}\n}}\n"
                );
                std::fs::write(dir.join("Caddyfile"), conf).unwrap();
                Command::new(bin)
                    .args(["run", "--adapter", "caddyfile", "--config"])
                    .arg(dir.join("Caddyfile"))
                    .env("HOME", dir)
                    .env("XDG_DATA_HOME", dir)
                    .env("XDG_CONFIG_HOME", dir)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(stderr)
                    .spawn()
                    .unwrap()
            }
            Server::Haproxy => {
                let bin = which(&["haproxy"]).expect(
                    "HAProxy is needed for this test (Debian: apt-get install haproxy; scripts/test installs it)",
                );
                let (front, back) = exported
                    .split_once("# ---- backend")
                    .expect("the haproxy export has a backend part");
                let conf = format!(
                    "global\n    maxconn 512\n    pidfile {d}/haproxy.pid\n\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\n\
                     frontend corsgate_test\n    bind 127.0.0.1:{port}\n{front}\n    default_backend rest_of_site\n\n\
                     backend rest_of_site\n    server rest 127.0.0.1:{rest}\n\n# ---- backend{back}\n"
                );
                std::fs::write(dir.join("haproxy.cfg"), conf).unwrap();
                Command::new(bin)
                    .args(["-db", "-f"])
                    .arg(dir.join("haproxy.cfg"))
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(stderr)
                    .spawn()
                    .unwrap()
            }
        };
        wait_port(port, &mut child, &dir.join("stderr.log"));
        Running { child }
    }
}

// ---------------------------------------------------------------------------
// The equivalence run: every generated fetch judged twice by the browser role.

/// Figures of one server's run.
#[derive(Debug, Default)]
pub(crate) struct Figures {
    pub fetches: usize,
    pub allowed: usize,
    pub disagreements: Vec<String>,
    pub hostile_fetches: usize,
    pub hostile_allowed: Vec<String>,
    pub vary_missing: usize,
    pub preflights_upstream: usize,
    /// The raw probes' documented differences, as printed.
    pub documented: Vec<String>,
    pub contract_cases: u64,
    pub contract_failures: Vec<String>,
    /// Raw requests from corsgate_core::hostile's catalogue for each policy.
    pub catalogue_sent: usize,
    /// Those whose CORS headers differ from `Policy::decide`'s (an allowed
    /// hostile origin among them).
    pub catalogue_differs: Vec<String>,
}

pub(crate) fn equivalence(server: Server) -> Figures {
    let upstream = start_upstream();
    let rest = start_upstream();
    let mut f = Figures::default();
    for (i, case) in POLICIES.iter().enumerate() {
        let policy = Policy::from_toml(case.toml).unwrap();
        let any = policy.config().origins == ["*"];
        let dir = temp_dir(server.name());
        let file = dir.join("policy.toml");
        std::fs::write(&file, case.toml).unwrap();
        let exported = export(server.name(), &file, upstream.port);
        let port = free_port();
        let running = server.start(&exported, &dir, port, rest.port);
        let before = upstream.preflights.load(Ordering::SeqCst);
        for origin in ORIGINS {
            // A hostile class this policy does not list (`x.app.example.com`
            // is a listed subdomain under `https://*.example.com`).
            let listed = {
                let mut h = HeaderMap::new();
                h.insert("origin", http::HeaderValue::from_str(origin).unwrap());
                policy
                    .decide(&Method::GET, &h)
                    .headers()
                    .to_header_map()
                    .get("access-control-allow-origin")
                    .is_some_and(|v| v.as_bytes() == origin.as_bytes())
            };
            let hostile = HOSTILE.contains(origin) && !listed;
            for spec in SPECS {
                for (path, status) in PATHS {
                    for profile in Profile::ALL {
                        let build = || {
                            let mut b = Request::builder(*origin, format!("{API}{path}"))
                                .method(spec.method);
                            for (n, v) in spec.headers {
                                b = b.header(*n, *v);
                            }
                            if spec.include {
                                b = b.credentials(Credentials::Include);
                            }
                            b.build().unwrap()
                        };
                        let want = Browser::new(profile)
                            .run(build(), |out| Ok::<_, ()>(reference(&policy, out, *status)))
                            .unwrap();
                        let mut vary_ok = true;
                        let got = Browser::new(profile)
                            .run(build(), |out| {
                                let r = real(port, out);
                                let vary_origin = r
                                    .headers
                                    .get_all("vary")
                                    .flat_map(|v| v.split(|b| *b == b','))
                                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"origin"));
                                vary_ok &= any || vary_origin;
                                Ok::<_, ()>(r)
                            })
                            .unwrap();
                        f.vary_missing += usize::from(!vary_ok);
                        f.fetches += 1;
                        f.allowed += usize::from(want.allowed);
                        if hostile {
                            f.hostile_fetches += 1;
                            // Only the any-origin policy shares with them, and
                            // then never with credentials.
                            if got.allowed && (spec.include || !any) {
                                f.hostile_allowed.push(format!(
                                    "[{}] {origin} {} include={} {path}",
                                    case.name, spec.method, spec.include
                                ));
                            }
                        }
                        if seen(&want) != seen(&got) {
                            f.disagreements.push(format!(
                                "[{}] {origin} {} {:?} include={} {path} {profile:?}\n  Policy::decide: {:?}\n  {}: {:?}\n{got}",
                                case.name,
                                spec.method,
                                spec.headers,
                                spec.include,
                                seen(&want),
                                server.name(),
                                seen(&got),
                            ));
                        }
                    }
                }
            }
        }
        f.preflights_upstream += upstream.preflights.load(Ordering::SeqCst) - before;
        if i == 0 {
            f.documented = run_probes(server, port, &policy);
        }
        // Every origin of the engine's hostile catalogue for this policy (the
        // one `corsgate scan` and `corsgate test` probe with), sent raw, as a
        // credentialed GET and as a preflight: the CORS headers are exactly
        // `decide`'s, so none is ever allowed.
        for h in corsgate_core::hostile::Catalogue::for_policy(&policy).iter() {
            if h.origin.bytes().any(|b| b.is_ascii_control()) {
                continue;
            }
            let requests: [(&str, Vec<(&str, &str)>); 2] = [
                (
                    "GET",
                    vec![("Origin", h.origin.as_str()), ("Cookie", "session=1")],
                ),
                (
                    "OPTIONS",
                    vec![
                        ("Origin", h.origin.as_str()),
                        ("Access-Control-Request-Method", "PUT"),
                    ],
                ),
            ];
            for (method, lines) in &requests {
                let Some(r) = try_exchange(port, method, "/api/items", lines) else {
                    continue;
                };
                f.catalogue_sent += 1;
                let got = cors_lines(&r.headers);
                let want = decided_lines(&policy, method, lines);
                if got != want {
                    f.catalogue_differs.push(format!(
                        "[{}] {method} from {:?} ({}): {got:?}, Policy::decide: {want:?}",
                        case.name,
                        h.origin,
                        h.class.name()
                    ));
                }
            }
        }
        // The other tool on the same server: `corsgate test` finds every
        // case of the policy's contract kept.
        let out = Command::new(BIN)
            .args([
                "test",
                &format!("http://127.0.0.1:{port}/api/items"),
                "--json",
                "--policy",
            ])
            .arg(&file)
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        f.contract_cases += report["summary"]["cases"].as_u64().unwrap_or(0);
        if out.status.code() != Some(0) {
            f.contract_failures.push(format!(
                "[{}] corsgate test exit {:?}: {}{}",
                case.name,
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        drop(running);
    }
    println!(
        "{}: {} browser fetches ({} policies × {} origins × {} requests × {} statuses × {} browser profiles), {} allowed, {} disagreements with Policy::decide; {} fetches from hostile origins, {} allowed; {} answers without Vary: Origin; {} preflights reached the upstream",
        server.name(),
        f.fetches,
        POLICIES.len(),
        ORIGINS.len(),
        SPECS.len(),
        PATHS.len(),
        Profile::ALL.len(),
        f.allowed,
        f.disagreements.len(),
        f.hostile_fetches,
        f.hostile_allowed.len(),
        f.vary_missing,
        f.preflights_upstream,
    );
    println!(
        "{}: {} raw probes, {} documented differences:",
        server.name(),
        PROBES.len(),
        f.documented.len()
    );
    for d in &f.documented {
        println!("  {d}");
    }
    println!(
        "{}: {} raw requests from the engine's hostile catalogue, {} with CORS headers other than Policy::decide's",
        server.name(),
        f.catalogue_sent,
        f.catalogue_differs.len()
    );
    println!(
        "{}: corsgate test ran {} contract cases, {} policies failed",
        server.name(),
        f.contract_cases,
        f.contract_failures.len()
    );
    f
}

pub(crate) fn assert_figures(server: Server, f: &Figures) {
    assert!(
        f.catalogue_differs.is_empty(),
        "{}: {} hostile-catalogue answers differ from Policy::decide; the first ones:\n{}",
        server.name(),
        f.catalogue_differs.len(),
        f.catalogue_differs
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        f.contract_failures.is_empty(),
        "{}",
        f.contract_failures.join("\n")
    );
    assert!(
        f.disagreements.is_empty(),
        "{}: {} of {} fetches disagree; the first ones:\n{}",
        server.name(),
        f.disagreements.len(),
        f.fetches,
        f.disagreements
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    assert!(
        f.hostile_allowed.is_empty(),
        "{}: hostile origins allowed: {:?}",
        server.name(),
        f.hostile_allowed
    );
    assert_eq!(
        f.vary_missing,
        0,
        "{}: answers without Vary: Origin",
        server.name()
    );
    assert_eq!(
        f.preflights_upstream,
        0,
        "{}: preflights reached the upstream",
        server.name()
    );
    assert!(f.fetches > 10_000 && f.allowed > 1_000, "{f:?}");
}

// ---------------------------------------------------------------------------
// Raw requests no browser sends (as tests/export.rs).

pub(crate) struct Probe {
    pub what: &'static str,
    pub method: &'static str,
    pub headers: &'static [(&'static str, &'static str)],
}

/// Run against the first policy (exact origins, credentials).
pub(crate) const PROBES: &[Probe] = &[
    Probe {
        what: "an upper-case exact origin on a preflight",
        method: "OPTIONS",
        headers: &[
            ("Origin", "HTTPS://APP.EXAMPLE.COM"),
            ("Access-Control-Request-Method", "PUT"),
        ],
    },
    Probe {
        what: "an empty Access-Control-Request-Method",
        method: "OPTIONS",
        headers: &[
            ("Origin", "https://app.example.com"),
            ("Access-Control-Request-Method", ""),
        ],
    },
    Probe {
        what: "two Origin lines",
        method: "GET",
        headers: &[
            ("Origin", "https://app.example.com"),
            ("Origin", "https://admin.example.com"),
        ],
    },
    Probe {
        what: "Access-Control-Request-Headers in two lines",
        method: "OPTIONS",
        headers: &[
            ("Origin", "https://app.example.com"),
            ("Access-Control-Request-Method", "PUT"),
            ("Access-Control-Request-Headers", "content-type"),
            ("Access-Control-Request-Headers", "x-evil"),
        ],
    },
    Probe {
        what: "17 empty elements in Access-Control-Request-Headers",
        method: "OPTIONS",
        headers: &[
            ("Origin", "https://app.example.com"),
            ("Access-Control-Request-Method", "PUT"),
            (
                "Access-Control-Request-Headers",
                ",,,,,,,,,,,,,,,,,content-type",
            ),
        ],
    },
    Probe {
        what: "a lower-case options method",
        method: "options",
        headers: &[
            ("Origin", "https://app.example.com"),
            ("Access-Control-Request-Method", "PUT"),
        ],
    },
    Probe {
        what: "an explicit default port under an exact origin",
        method: "GET",
        headers: &[("Origin", "https://app.example.com:443")],
    },
    Probe {
        what: "mixed-case, spaced request header names",
        method: "OPTIONS",
        headers: &[
            ("Origin", "https://admin.example.com"),
            ("Access-Control-Request-Method", "DELETE"),
            (
                "Access-Control-Request-Headers",
                " Content-Type ,AUTHORIZATION,, ",
            ),
        ],
    },
    Probe {
        what: "two Origin lines on a preflight",
        method: "OPTIONS",
        headers: &[
            ("Origin", "https://app.example.com"),
            ("Origin", "https://admin.example.com"),
            ("Access-Control-Request-Method", "PUT"),
        ],
    },
    Probe {
        what: "two Access-Control-Request-Method lines",
        method: "OPTIONS",
        headers: &[
            ("Origin", "https://app.example.com"),
            ("Access-Control-Request-Method", "PUT"),
            ("Access-Control-Request-Method", "DELETE"),
        ],
    },
    Probe {
        what: "an empty Origin",
        method: "GET",
        headers: &[("Origin", "")],
    },
    Probe {
        what: "an Origin with a trailing dot",
        method: "GET",
        headers: &[("Origin", "https://app.example.com.")],
    },
];

/// The documented differences (docs/export.md), per server: which probe, and
/// the (status, Access-Control-Allow-Origin) the server gives instead of
/// `Policy::decide`'s.
pub(crate) fn documented(server: Server, what: &str) -> Option<(u16, Option<&'static str>)> {
    match (server, what) {
        // An empty header reads as absent: an ordinary request, proxied.
        // Caddy's placeholders read an empty header as an absent one.
        (Server::Caddy, "an empty Access-Control-Request-Method") => {
            Some((200, Some("https://app.example.com")))
        }
        // Neither counts empty elements.
        (
            Server::Caddy | Server::Haproxy,
            "17 empty elements in Access-Control-Request-Headers",
        ) => Some((204, Some("https://app.example.com"))),
        _ => None,
    }
}

pub(crate) fn run_probes(server: Server, port: u16, policy: &Policy) -> Vec<String> {
    probe_table(
        server.name(),
        PROBES,
        &move |what| documented(server, what),
        port,
        policy,
    )
}

/// A server's documented difference for a probe, by the probe's `what`.
pub(crate) type Documented = dyn Fn(&str) -> Option<(u16, Option<&'static str>)>;

/// Sends `probes` to the server `name` on `port`; a difference from
/// `Policy::decide` must be exactly the documented one.
pub(crate) fn probe_table(
    name: &str,
    probes: &[Probe],
    documented: &Documented,
    port: u16,
    policy: &Policy,
) -> Vec<String> {
    let mut report = Vec::new();
    let mut problems = Vec::new();
    for p in probes {
        let lines: Vec<(String, Vec<u8>)> = p
            .headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
            .collect();
        let got = exchange(port, p.method, "/api/items", &lines);
        let mut map = HeaderMap::new();
        for (n, v) in p.headers {
            map.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let d = policy.decide(&Method::from_bytes(p.method.as_bytes()).unwrap(), &map);
        let (want_status, want_acao) = match d.action() {
            Action::Respond(s) => (
                s.as_u16(),
                d.headers()
                    .to_header_map()
                    .get("access-control-allow-origin")
                    .map(|v| v.to_str().unwrap().to_owned()),
            ),
            Action::PassOn => (
                200,
                d.headers()
                    .to_header_map()
                    .get("access-control-allow-origin")
                    .map(|v| v.to_str().unwrap().to_owned()),
            ),
        };
        let acao: Vec<String> = got
            .headers
            .get_all("access-control-allow-origin")
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        assert!(
            acao.len() <= 1,
            "{}: {what}: duplicate ACAO {acao:?}",
            name,
            what = p.what
        );
        let got_pair = (got.status, acao.first().cloned());
        let want_pair = (want_status, want_acao);
        match documented(p.what) {
            None if got_pair != want_pair => problems.push(format!(
                "{}: {}: {got_pair:?} differs from Policy::decide's {want_pair:?} and is not a documented difference",
                name,
                p.what
            )),
            None => {}
            Some(_) if got_pair == want_pair => problems.push(format!(
                "{}: {}: no longer differs from Policy::decide ({got_pair:?}); update docs/export.md",
                name,
                p.what
            )),
            Some((s, a)) if got_pair != (s, a.map(str::to_owned)) => problems.push(format!(
                "{}: {}: {got_pair:?} is not the documented difference {:?} (Policy::decide: {want_pair:?})",
                name,
                p.what,
                (s, a)
            )),
            Some(_) => report.push(format!(
                "{}: {} → {} {:?} (Policy::decide: {} {:?})",
                name,
                p.what,
                got_pair.0,
                got_pair.1,
                want_pair.0,
                want_pair.1
            )),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    report
}

// ---------------------------------------------------------------------------
// Path forms: no request the upstream could read as inside the location
// reaches it without the policy, and none outside it gets the policy.
//
// The exported location (`/api/`) proxies to upstream A; every other path of
// the site goes to upstream B (the same application, as the rest of a site
// does), which reflects any Origin with credentials. A request that reaches B
// with a path some upstream reads as inside `/api/` skipped the policy.

/// The origin the first policy refuses, and the one it allows.
pub(crate) const EVIL: &str = "https://evil.example";
pub(crate) const GOOD: &str = "https://app.example.com";

/// A hostile upstream: reflects any Origin with credentials, answers every
/// method, and says which request target it received and which listener
/// (A or B) it is.
pub(crate) struct Hostile {
    pub port: u16,
    pub paths: Arc<Mutex<Vec<String>>>,
}

pub(crate) fn start_hostile(tag: &'static str) -> Hostile {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let paths = Arc::new(Mutex::new(Vec::new()));
    let seen = paths.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let head = String::from_utf8_lossy(&read_head(&mut s)).into_owned();
                let target = head.split(' ').nth(1).unwrap_or("").to_owned();
                if let Ok(mut p) = seen.lock() {
                    p.push(target.clone());
                }
                let origin = head_value(&head, "origin").unwrap_or("*");
                let acrm = head_value(&head, "access-control-request-method").unwrap_or("*");
                let acrh = head_value(&head, "access-control-request-headers").unwrap_or("*");
                let body = "{\"secret\":\"from the upstream\"}\n";
                let out = format!(
                    "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: {origin}\r\n\
                     Access-Control-Allow-Credentials: true\r\nAccess-Control-Allow-Methods: {acrm}\r\n\
                     Access-Control-Allow-Headers: {acrh}\r\nAccess-Control-Expose-Headers: *\r\n\
                     Access-Control-Allow-Private-Network: true\r\nAccess-Control-Max-Age: 86400\r\n\
                     X-Upstream: {tag}\r\nX-Upstream-Path: {}\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    target.replace(['\r', '\n'], ""),
                    body.len()
                );
                let _ = s.write_all(out.as_bytes());
            });
        }
    });
    Hostile { port, paths }
}

/// The request targets to try, each with its class. The location is `/api/`;
/// the upstream's `/secret` is outside it.
pub(crate) fn path_forms(port: u16) -> Vec<(&'static str, String)> {
    let mut segments: Vec<(&'static str, String)> = vec![("plain", "api".into())];
    let word = "api";
    for (i, c) in word.char_indices() {
        for hex in [format!("%{:02X}", c as u32), format!("%{:02x}", c as u32)] {
            segments.push((
                "percent-encoded letter",
                format!("{}{hex}{}", &word[..i], &word[i + 1..]),
            ));
        }
    }
    segments.push(("percent-encoded letter", "%61%70%69".into()));
    segments.push(("percent-encoded letter", "%41%50%49".into()));
    for case in ["API", "Api", "aPi", "apI"] {
        segments.push(("case variant", case.into()));
    }
    for (class, s) in [
        ("double encoding", "%2561pi"),
        ("overlong UTF-8", "%C1%A1pi"),
        ("full-width letter", "%EF%BD%81pi"),
        ("path parameter", "api;x"),
        ("path parameter", "api;"),
        ("path parameter", "api%3B"),
        ("path parameter", "api%3bx"),
        ("trailing junk", "api."),
        ("trailing junk", "api%20"),
        ("trailing junk", "api%00"),
        ("trailing junk", "api%09"),
    ] {
        segments.push((class, s.into()));
    }
    let prefixes: &[(&str, &str)] = &[
        ("plain", "/"),
        ("double slash", "//"),
        ("double slash", "///"),
        ("dot segment", "/./"),
        ("dot segment", "/x/../"),
        ("dot segment", "/x/y/../../"),
        ("encoded dot segment", "/%2e/"),
        ("encoded dot segment", "/x/%2e%2e/"),
        ("encoded dot segment", "/x/.%2E/"),
        ("encoded dot segment", "/x/%2E./"),
        ("..;", "/x/..;/"),
        ("..;", "/x/%2e%2e;/"),
        ("..;", "/x/..%3B/"),
        ("encoded slash", "/x%2F..%2F"),
        ("encoded slash", "/x/..%2f"),
        ("encoded slash", "%2F"),
        ("encoded slash", "/%2F"),
        ("backslash", "/x/..%5C"),
        ("backslash", "/x/..\\"),
    ];
    let suffixes: &[(&str, &str)] = &[
        ("plain", "/items"),
        ("double slash", "//items"),
        ("dot segment", "/./items"),
        ("dot segment", "/x/../items"),
        ("encoded slash", "%2Fitems"),
        ("escape", "/../secret"),
        ("escape", "/%2e%2e/secret"),
        ("escape", "/.%2e/secret"),
        ("escape", "/..%2Fsecret"),
        ("escape", "/..;/secret"),
        ("escape", "/%2e%2e;/secret"),
        ("escape", "/..%3Bsecret"),
        ("escape", "/..%5Csecret"),
        ("escape", "/..\\secret"),
        ("escape", "/items/..%2F..%2Fsecret"),
        ("escape", "/items%2F..%2F..%2Fsecret"),
    ];
    let mut out = Vec::new();
    for (sc, seg) in &segments {
        for (pc, prefix) in prefixes {
            let class = if *pc == "plain" { sc } else { pc };
            out.push((*class, format!("{prefix}{seg}/items")));
        }
    }
    for seg in ["api", "%61pi", "API"] {
        for (pc, prefix) in prefixes {
            for (xc, suffix) in suffixes {
                let class = if *xc != "plain" { xc } else { pc };
                out.push((*class, format!("{prefix}{seg}{suffix}")));
            }
        }
    }
    // Into the location from outside it.
    for p in [
        "/secret/../api/items",
        "/secret/..;/api/items",
        "/secret/..%2Fapi/items",
        "/secret/%2e%2e/api/items",
        "/secret/..%5Capi/items",
        "/secret%2F..%2Fapi/items",
        "/.;/api/items",
        "/x/.;/../api/items",
    ] {
        out.push(("into the location", p.into()));
    }
    for p in [
        "/api/items",
        "/%61pi/items",
        "/x/../api/items",
        "//api/items",
    ] {
        out.push(("absolute form", format!("http://127.0.0.1:{port}{p}")));
    }
    out.push(("query", "/api/items?/../secret".into()));
    out.push(("query", "/%61pi/items?x=/api/".into()));
    out.push(("query", "/secret?/api/items".into()));
    out.push(("fragment-like", "/secret%23/api/items".into()));
    out.sort();
    out.dedup();
    out
}

/// `exchange`, except that a connection closed without an answer is `None`.
pub(crate) fn try_exchange(
    port: u16,
    method: &str,
    target: &str,
    lines: &[(&str, &str)],
) -> Option<Response> {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for (n, v) in lines {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
    s.write_all(req.as_bytes()).ok()?;
    let head = read_head(&mut s);
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let text = String::from_utf8_lossy(&head[..end]).into_owned();
    let mut it = text.split("\r\n");
    let status: u16 = it.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut list = HeaderList::new();
    for l in it {
        if let Some((n, v)) = l.split_once(':') {
            list.append(n.trim().to_ascii_lowercase(), v.trim());
        }
    }
    Some(Response::with_headers(status, list))
}

/// The `Access-Control-*` lines of a header list, sorted.
pub(crate) fn cors_lines(h: &HeaderList) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = h
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("access-control-"))
        .map(|(n, v)| {
            (
                n.to_ascii_lowercase(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

/// `Policy::decide`'s `Access-Control-*` lines for a request.
pub(crate) fn decided_lines(
    policy: &Policy,
    method: &str,
    lines: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut map = HeaderMap::new();
    for (n, v) in lines {
        map.append(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let d = policy.decide(&Method::from_bytes(method.as_bytes()).unwrap(), &map);
    cors_lines(&HeaderList::from_http(&d.headers().to_header_map()))
}

/// Percent-decodes every escape (`%2F` too), once.
pub(crate) fn decode_all(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether some upstream may read `received` as inside `/api/`: decoded once,
/// `\` as `/`, `;parameters` dropped from segments (`..;` is `..`), trailing
/// dots and spaces dropped from segments, dot segments resolved, case ignored.
pub(crate) fn maybe_inside(received: &str) -> bool {
    let path = received.split('?').next().unwrap_or("");
    let path = path
        .strip_prefix("http://")
        .and_then(|r| r.find('/').map(|i| &r[i..]))
        .unwrap_or(path);
    let decoded = decode_all(path).replace('\\', "/");
    let mut stack: Vec<&str> = Vec::new();
    for seg in decoded.split('/').skip(1) {
        let name = seg.split(';').next().unwrap_or("");
        match name {
            "" | "." => {}
            ".." => {
                stack.pop();
            }
            // IIS drops a segment's trailing dots and spaces.
            _ => stack.push(name.trim_end_matches(['.', ' '])),
        }
    }
    stack.len() >= 2 && stack[0].eq_ignore_ascii_case("api")
        || stack.first().is_some_and(|s| s.eq_ignore_ascii_case("api")) && decoded.ends_with('/')
}

/// Figures of the path-form run.
#[derive(Debug, Default)]
pub(crate) struct PathFigures {
    pub forms: usize,
    pub requests: usize,
    pub through_policy: usize,
    pub rest_of_site: usize,
    pub refused: usize,
    /// Path forms that skipped the policy (or got it outside the location).
    pub problems: Vec<String>,
}

pub(crate) fn path_table(server: Server) -> PathFigures {
    let a = start_hostile("A");
    let b = start_hostile("B");
    let case = &POLICIES[0];
    let policy = Policy::from_toml(case.toml).unwrap();
    let dir = temp_dir(&format!("paths-{}", server.name()));
    let file = dir.join("policy.toml");
    std::fs::write(&file, case.toml).unwrap();
    let exported = export(server.name(), &file, a.port);
    let port = free_port();
    let running = server.start(&exported, &dir, port, b.port);
    let requests: [(&str, &[(&str, &str)]); 4] = [
        ("GET", &[("Origin", EVIL), ("Cookie", "session=1")]),
        (
            "OPTIONS",
            &[
                ("Origin", EVIL),
                ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
        ),
        ("GET", &[("Origin", GOOD), ("Cookie", "session=1")]),
        (
            "OPTIONS",
            &[
                ("Origin", GOOD),
                ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
        ),
    ];
    let forms = path_forms(port);
    let mut f = PathFigures {
        forms: forms.len(),
        ..PathFigures::default()
    };
    let mut covered_plain = false;
    let mut covered_encoded = false;
    for (class, target) in &forms {
        for (method, lines) in &requests {
            f.requests += 1;
            let what = format!(
                "{} [{class}] {method} {target} from {}",
                server.name(),
                lines[0].1
            );
            let Some(r) = try_exchange(port, method, target, lines) else {
                f.refused += 1;
                continue;
            };
            let got = cors_lines(&r.headers);
            let want = decided_lines(&policy, method, lines);
            let acao = got
                .iter()
                .filter(|(n, _)| n == "access-control-allow-origin")
                .count();
            if acao > 1 {
                f.problems.push(format!(
                    "{what}: {acao} Access-Control-Allow-Origin lines: {got:?}"
                ));
            }
            let header = |n: &str| {
                r.headers
                    .get_all(n)
                    .next()
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            };
            match (header("x-upstream").as_deref(), header("x-upstream-path")) {
                (Some("A"), Some(p)) => {
                    f.through_policy += 1;
                    if *method == "OPTIONS" {
                        f.problems
                            .push(format!("{what}: a preflight reached the upstream as {p}"));
                    }
                    if got != want {
                        f.problems.push(format!(
                            "{what}: {} through the location with {got:?}, not the policy's {want:?}",
                            r.status
                        ));
                    }
                    if !maybe_inside(&p) {
                        f.problems.push(format!(
                            "{what}: the policy's route sent {p:?}, outside /api/, to the upstream"
                        ));
                    }
                    if lines[0].1 == GOOD && *method == "GET" {
                        covered_plain |= target == "/api/items";
                        covered_encoded |= target == "/%61pi/items";
                    }
                }
                (Some(_), Some(p)) => {
                    f.rest_of_site += 1;
                    if maybe_inside(&p) {
                        f.problems.push(format!(
                            "{what}: skipped the policy: the rest of the site received {p:?}, which an upstream may read as /api/ ({got:?})"
                        ));
                    }
                }
                _ => {
                    if !got.is_empty() && got != want {
                        f.problems.push(format!(
                            "{what}: {} with {got:?}, neither no CORS headers nor the policy's {want:?}",
                            r.status
                        ));
                    }
                    f.refused += 1;
                }
            }
        }
    }
    if !covered_plain || !covered_encoded {
        f.problems.push(format!(
            "{}: /api/items through the policy: {covered_plain}; /%61pi/items: {covered_encoded} (both must, or the table proves nothing)",
            server.name()
        ));
    }
    for p in b.paths.lock().map(|p| p.clone()).unwrap_or_default() {
        if maybe_inside(&p) {
            f.problems.push(format!(
                "{}: the rest of the site's log holds {p:?}, which an upstream may read as /api/",
                server.name()
            ));
        }
    }
    drop(running);
    println!(
        "{}: {} path forms × {} requests = {}: {} through the policy, {} to the rest of the site (outside /api/), {} answered at the edge (preflights, refusals); {} path forms skipped the policy or got it outside the location",
        server.name(),
        f.forms,
        requests.len(),
        f.requests,
        f.through_policy,
        f.rest_of_site,
        f.refused,
        f.problems.len()
    );
    f
}

pub(crate) fn assert_paths(server: Server, f: &PathFigures) {
    assert!(
        f.problems.is_empty(),
        "{}: {} problems; the first ones:\n{}",
        server.name(),
        f.problems.len(),
        f.problems
            .iter()
            .take(12)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ---------------------------------------------------------------------------
// The server's own errors: the upstream is down.

/// With nothing listening upstream, an allowed origin still reads the
/// server's own error (ACAO, ACAC, Vary), and a refused one gets no ACAO.
pub(crate) fn own_errors(server: Server) {
    let case = &POLICIES[0];
    let dir = temp_dir(&format!("errors-{}", server.name()));
    let file = dir.join("policy.toml");
    std::fs::write(&file, case.toml).unwrap();
    let dead = free_port();
    let exported = export(server.name(), &file, dead);
    let port = free_port();
    let running = server.start(&exported, &dir, port, dead);
    let ok = try_exchange(port, "GET", "/api/items", &[("Origin", GOOD)]).expect("an answer");
    assert!(ok.status >= 500, "{}: {}", server.name(), ok.status);
    let lines = cors_lines(&ok.headers);
    assert!(
        lines.contains(&("access-control-allow-origin".into(), GOOD.into()))
            && lines.contains(&("access-control-allow-credentials".into(), "true".into())),
        "{}: the server's own {} lacks the policy's headers: {lines:?}",
        server.name(),
        ok.status
    );
    let vary = ok.headers.get_all("vary").any(|v| {
        String::from_utf8_lossy(v)
            .to_ascii_lowercase()
            .contains("origin")
    });
    assert!(
        vary,
        "{}: no Vary: Origin on the server's own error",
        server.name()
    );
    let evil = try_exchange(port, "GET", "/api/items", &[("Origin", EVIL)]).expect("an answer");
    assert!(cors_lines(&evil.headers).is_empty(), "{}", server.name());
    println!(
        "{}: upstream down: {} with the policy's headers for an allowed origin, none for a refused one",
        server.name(),
        ok.status
    );
    drop(running);
}

// ---------------------------------------------------------------------------
// Authentication at the marked line: it never sees a preflight, and its 401
// carries the policy's headers.

/// The export with an authentication rule put where its comment says.
fn with_auth(server: Server, exported: &str) -> String {
    let (marker, auth) = match server {
        Server::Caddy => (
            "\t\t# ---- your authentication",
            // bcrypt of "secret" (caddy hash-password).
            "\t\tbasicauth {\n\t\t\tu $2a$14$HAujMFyQTHcrvYWU7mYoWOqElUzgbVeyVyqan2lrLJ0xE6PBLTY7K\n\t\t}\n\t\t# ---- your authentication",
        ),
        Server::Haproxy => (
            "    # ---- your authentication",
            "    http-request auth realm corsgate unless { http_auth(corsgate_users) }\n    # ---- your authentication",
        ),
    };
    assert!(
        exported.contains(marker),
        "{}: no marked line",
        server.name()
    );
    let mut out = exported.replacen(marker, auth, 1);
    if server == Server::Haproxy {
        out.push_str("\nuserlist corsgate_users\n    user u insecure-password secret\n");
    }
    out
}

pub(crate) fn auth_at_the_marked_line(server: Server) {
    let upstream = start_upstream();
    let case = &POLICIES[0];
    let dir = temp_dir(&format!("auth-{}", server.name()));
    let file = dir.join("policy.toml");
    std::fs::write(&file, case.toml).unwrap();
    let exported = with_auth(server, &export(server.name(), &file, upstream.port));
    let port = free_port();
    let running = server.start(&exported, &dir, port, upstream.port);
    let pre = try_exchange(
        port,
        "OPTIONS",
        "/api/items",
        &[("Origin", GOOD), ("Access-Control-Request-Method", "PUT")],
    )
    .expect("an answer");
    assert_eq!(
        pre.status,
        204,
        "{}: the preflight met the authentication",
        server.name()
    );
    assert!(cors_lines(&pre.headers).contains(&("access-control-allow-origin".into(), GOOD.into())));
    let denied = try_exchange(port, "GET", "/api/items", &[("Origin", GOOD)]).expect("an answer");
    assert_eq!(denied.status, 401, "{}", server.name());
    let lines = cors_lines(&denied.headers);
    assert!(
        lines.contains(&("access-control-allow-origin".into(), GOOD.into()))
            && lines.contains(&("access-control-allow-credentials".into(), "true".into())),
        "{}: the 401 lacks the policy's headers: {lines:?}",
        server.name()
    );
    let evil = try_exchange(port, "GET", "/api/items", &[("Origin", EVIL)]).expect("an answer");
    assert_eq!(evil.status, 401);
    assert!(cors_lines(&evil.headers).is_empty(), "{}", server.name());
    let ok = try_exchange(
        port,
        "GET",
        "/api/items",
        &[("Origin", GOOD), ("Authorization", "Basic dTpzZWNyZXQ=")],
    )
    .expect("an answer");
    assert_eq!(ok.status, 200, "{}", server.name());
    assert_eq!(
        cors_lines(&ok.headers),
        decided_lines(
            &Policy::from_toml(case.toml).unwrap(),
            "GET",
            &[("Origin", GOOD)]
        ),
        "{}",
        server.name()
    );
    println!(
        "{}: authentication at the marked line: preflight 204 (never 401), 401 with the policy's headers for an allowed origin and none for a refused one, 200 with credentials",
        server.name()
    );
    drop(running);
}

// ---------------------------------------------------------------------------
// Two named exports in one server.

/// Two policies, each exported with its own `--name` and location, in one
/// Caddy site or one HAProxy frontend: the server starts, and `corsgate test`
/// finds each location keeping its own policy's contract and not the other's.
pub(crate) fn named_exports_share_one_server(server: Server) {
    let upstream = start_upstream();
    let a = "origins = [\"https://a.example.com\"]\nmethods = [\"PUT\"]\ncredentials = true\n";
    let b = "origins = [\"https://*.b.example.org\"]\nrequest_headers = [\"x-b\"]\n";
    let dir = temp_dir(&format!("named-{}", server.name()));
    let (pa, pb) = (dir.join("a.toml"), dir.join("b.toml"));
    std::fs::write(&pa, a).unwrap();
    std::fs::write(&pb, b).unwrap();
    let named = |policy: &Path, name: &str, location: &str| {
        let out = Command::new(BIN)
            .args([
                "export",
                "--to",
                server.name(),
                "--name",
                name,
                "--location",
                location,
            ])
            .args(["--upstream", &format!("http://127.0.0.1:{}", upstream.port)])
            .arg(policy)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let (ea, eb) = (named(&pa, "a", "/a/"), named(&pb, "b", "/b/"));
    let combined = match server {
        Server::Caddy => format!("{ea}\n{eb}"),
        Server::Haproxy => {
            let (fa, ba) = ea.split_once("# ---- backend").unwrap();
            let (fb, bb) = eb.split_once("# ---- backend").unwrap();
            // The rest of b's marker line goes with the marker.
            let bb = bb.split_once('\n').map_or("", |(_, rest)| rest);
            format!("{fa}\n{fb}\n# ---- backend{ba}\n{bb}")
        }
    };
    let port = free_port();
    let running = server.start(&combined, &dir, port, upstream.port);
    for (path, policy, other) in [("/a/items", &pa, &pb), ("/b/items", &pb, &pa)] {
        let url = format!("http://127.0.0.1:{port}{path}");
        let run = |p: &Path| {
            Command::new(BIN)
                .args(["test", &url, "--json", "--policy"])
                .arg(p)
                .output()
                .unwrap()
        };
        let own = run(policy);
        assert_eq!(
            own.status.code(),
            Some(0),
            "{} {path}: {}",
            server.name(),
            String::from_utf8_lossy(&own.stdout)
        );
        assert_eq!(
            run(other).status.code(),
            Some(1),
            "{} {path}",
            server.name()
        );
    }
    drop(running);
}

// ---------------------------------------------------------------------------
// One case in a real browser: headless Chromium, `credentials: 'include'`.

/// A page server: any path answers a blank HTML page (the page's origin).
/// Serves one HTML page with `body` (any path) on loopback; returns its port.
pub(crate) fn serve_page(body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = read_head(&mut s);
                let _ = s.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            });
        }
    });
    port
}

fn start_page() -> u16 {
    serve_page("<!doctype html><title>corsgate export</title><p>page")
}

/// A credentialed PUT with a JSON body (allowed: the page reads the status,
/// the body and the exposed `X-Request-Id`, never `X-Secret`) and a
/// credentialed DELETE (not allowed by the policy: the browser refuses it),
/// in headless Chromium, each verdict equal to the engine's on `Policy::decide`.
pub(crate) fn chromium(server: Server) {
    use corsgate_conformance::webdriver::Driver;
    let upstream = start_upstream();
    let page = start_page();
    let page_origin = format!("http://127.0.0.1:{page}");
    let toml = format!(
        "origins = [\"{page_origin}\"]\nmethods = [\"PUT\"]\nrequest_headers = [\"content-type\"]\nexpose_headers = [\"x-request-id\"]\ncredentials = true\n"
    );
    let policy = Policy::from_toml(&toml).unwrap();
    let dir = temp_dir(&format!("chromium-{}", server.name()));
    let file = dir.join("policy.toml");
    std::fs::write(&file, &toml).unwrap();
    let exported = export(server.name(), &file, upstream.port);
    let port = free_port();
    let running = server.start(&exported, &dir, port, upstream.port);
    let driver = Driver::start("/usr/bin/chromedriver", "/usr/bin/chromium")
        .expect("chromium and chromedriver are installed (scripts/test installs them)");
    driver
        .navigate(&format!("{page_origin}/"))
        .expect("page loads");
    let edge = format!("http://127.0.0.1:{port}/api/items");
    let script = format!(
        "const done = arguments[arguments.length - 1];
         const one = async (init) => {{
           try {{
             const r = await fetch({edge:?}, Object.assign({{credentials: 'include'}}, init));
             const body = await r.text();
             return {{ok: true, status: r.status, requestId: r.headers.get('x-request-id'), secret: r.headers.get('x-secret'), body}};
           }} catch (e) {{ return {{ok: false, error: String(e)}}; }}
         }};
         (async () => done([
           await one({{method: 'PUT', headers: {{'Content-Type': 'application/json'}}, body: '{{}}'}}),
           await one({{method: 'DELETE'}}),
         ]))();"
    );
    let got = driver.execute_async(&script, vec![]).expect("script runs");
    drop(driver);
    drop(running);
    let engine = |method: &str, json: bool| {
        let mut b = Request::builder(page_origin.as_str(), format!("{API}/api/items"))
            .method(method)
            .credentials(Credentials::Include);
        if json {
            b = b.header("Content-Type", "application/json");
        }
        Browser::new(Profile::Chromium)
            .run(b.build().unwrap(), |out| {
                Ok::<_, ()>(reference(&policy, out, 200))
            })
            .unwrap()
    };
    let (put, delete) = (engine("PUT", true), engine("DELETE", false));
    println!(
        "{}: headless Chromium, credentials 'include': PUT {} (engine: allowed {}), DELETE {} (engine: allowed {})",
        server.name(),
        got[0],
        put.allowed,
        got[1],
        delete.allowed
    );
    assert!(put.allowed && !delete.allowed);
    assert_eq!(got[0]["ok"], true, "{}: {got}", server.name());
    assert_eq!(got[0]["status"], 200, "{}: {got}", server.name());
    assert_eq!(got[0]["requestId"], "42", "{}: {got}", server.name());
    assert!(got[0]["secret"].is_null(), "{}: {got}", server.name());
    assert!(
        got[0]["body"]
            .as_str()
            .is_some_and(|b| b.contains("upstream")),
        "{}: {got}",
        server.name()
    );
    assert_eq!(got[1]["ok"], false, "{}: {got}", server.name());
}

/// Fetches each of `urls` in turn with `credentials: 'include'` from the page
/// `driver` is on; for each, `read STATUS: BODY` or `blocked: ERROR`.
pub(crate) fn fetch_each(
    driver: &corsgate_conformance::webdriver::Driver,
    urls: &[String],
) -> Vec<String> {
    let script = format!(
        "const done = arguments[arguments.length - 1];
         (async () => {{
           const out = [];
           for (const url of {}) {{
             try {{
               const r = await fetch(url, {{credentials: 'include'}});
               out.push('read ' + r.status + ': ' + (await r.text()));
             }} catch (e) {{
               out.push('blocked: ' + e);
             }}
           }}
           done(out);
         }})().catch(e => done('JS error: ' + e));",
        serde_json::to_string(urls).unwrap()
    );
    let result = driver
        .execute_async(&script, vec![])
        .expect("the script runs");
    result
        .as_array()
        .unwrap_or_else(|| panic!("{result}"))
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}
