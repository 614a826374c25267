//! From traffic to the tightest safe policy, end to end, with the real
//! `corsgate` binary and real headless Chromium (issue 19):
//!
//! 1. **Record.** Two front-end origins (loopback, distinct ports) call an
//!    API through `corsgate serve`, enforcing today's permissive but valid
//!    policy (any port of `127.0.0.1`, five methods, four request headers,
//!    credentials): a credentialed GET with the session cookie, a public GET
//!    whose page reads an exposed header (`X-Total-Count`), a credentialed
//!    PUT with JSON and a custom header (`X-CSRF-Token`), a credentialed
//!    DELETE with the custom header. The session's DevTools network events
//!    are recorded into one HAR per front-end
//!    (`corsgate_conformance::har_record`), the second gzip-compressed.
//! 2. **Infer.** `corsgate infer` on both HARs must propose exactly the two
//!    origins, the two methods, the two request headers and the one exposed
//!    header the session used, credentials (cookies were carried) and a
//!    max-age (preflights were needed); `--against` today's policy names what
//!    it no longer allows.
//! 3. **Shadow.** The proposal goes in as `[routes.shadow]` (a reload): a
//!    replay of the same session shows 0 disagreements in `/metrics`; a
//!    hostile origin (another port of `127.0.0.1`, allowed today) making the
//!    same calls is counted once per request it made, and the
//!    `corsgate::shadow` log names each (origin, method, path). What a
//!    shadow cannot tell is shown too: a candidate without credentials counts
//!    `headers_differ` on a call the page made without them.
//! 4. **Promote.** `corsgate serve --promote`: every legitimate call succeeds
//!    in Chromium (the exposed header readable), every call of the hostile
//!    origin fails in Chromium (a network error for the page, Chromium's own
//!    CORS error), its PUT and DELETE never reach the upstream, and
//!    `corsgate test` against the promoted gateway passes (against today's
//!    policy, before promotion, it fails: it is not vacuous).
//! 5. **Nothing unneeded.** For each value of the proposal (each origin,
//!    method, request header, exposed header, and credentials), the gateway
//!    is reloaded with the proposal less that value and the session run again
//!    in Chromium: exactly the calls that need the value fail, each with
//!    Chromium's own CORS error (and the engine, `Observed::allowed_by`, says
//!    the same). `max_age` is not an allowance
//!    (it only caches preflights): it is checked to be there because
//!    preflights were needed.
//!
//! Needs Debian's `chromium` and `chromium-driver` (or `CORSGATE_CHROMIUM` /
//! `CORSGATE_CHROMEDRIVER`) and the built `corsgate` binary (`cargo build -p
//! corsgate`, or `CORSGATE_BIN`); fails, never skips, without them.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use corsgate_conformance::check_cli::built_binary;
use corsgate_conformance::har_record::{record, Recording};
use corsgate_conformance::webdriver::Driver;
use corsgate_core::infer::Observed;
use corsgate_core::policy::{Policy, PolicyConfig};
use serde_json::{json, Value};

const COOKIE: &str = "session=s3cret";
const CSRF: &str = "t0k3n";

fn chromium_paths() -> (String, String) {
    (
        std::env::var("CORSGATE_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into()),
        std::env::var("CORSGATE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

// ---------------------------------------------------------------------------
// The servers: a tiny HTTP/1.1 server (one request per connection).

/// A request as a server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    origin: Option<String>,
    cookie: Option<String>,
}

struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// Serves `handler` on `listener` until the test ends; every request is
/// appended to `log`.
fn serve(listener: TcpListener, handler: Handler, log: Arc<Mutex<Vec<Seen>>>) {
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (handler, log) = (handler.clone(), log.clone());
            thread::spawn(move || {
                let _ = answer(stream, &*handler, &log);
            });
        }
    });
}

fn answer(
    stream: TcpStream,
    handler: &(dyn Fn(&Seen) -> Reply + Send + Sync),
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut r = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default().to_owned();
    let (mut origin, mut cookie, mut len) = (None, None, 0usize);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            let v = v.trim().to_owned();
            match n.trim().to_ascii_lowercase().as_str() {
                "origin" => origin = Some(v),
                "cookie" => cookie = Some(v),
                "content-length" => len = v.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    let seen = Seen {
        method,
        path,
        origin,
        cookie,
    };
    let reply = handler(&seen);
    log.lock().unwrap().push(seen);
    let mut out = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n",
        reply.status,
        reply.body.len()
    );
    for (n, v) in &reply.headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    let mut s = stream;
    s.write_all(out.as_bytes())?;
    s.flush()
}

/// The API behind the gateway. It knows nothing of CORS.
fn api(seen: &Seen) -> Reply {
    let signed_in = seen.cookie.as_deref().is_some_and(|c| c.contains(COOKIE));
    let json = |status, body: &str| Reply {
        status,
        headers: vec![
            ("Content-Type", "application/json".into()),
            // Sent but exposed by no policy here: a page cannot read it,
            // so no proposal may expose it.
            ("X-Upstream-Trace", "abc".into()),
        ],
        body: body.into(),
    };
    match (seen.method.as_str(), seen.path.as_str()) {
        ("GET", "/login") => Reply {
            status: 200,
            headers: vec![
                ("Content-Type", "text/html".into()),
                ("Set-Cookie", format!("{COOKIE}; Path=/; SameSite=Lax")),
            ],
            body: "<!doctype html><title>signed in</title>".into(),
        },
        ("GET", "/api/me") if signed_in => json(200, r#"{"user":"ada"}"#),
        ("GET", "/api/items") => {
            let mut r = json(200, r#"[{"id":1},{"id":2}]"#);
            r.headers.push(("X-Total-Count", "2".into()));
            r
        }
        ("PUT", "/api/items/1") | ("DELETE", "/api/items/2") if signed_in => {
            json(200, r#"{"ok":true}"#)
        }
        _ if !signed_in => json(401, r#"{"error":"sign in"}"#),
        _ => json(404, r#"{"error":"no such thing"}"#),
    }
}

fn page(_: &Seen) -> Reply {
    Reply {
        status: 200,
        headers: vec![("Content-Type", "text/html".into())],
        body: "<!doctype html><title>front-end</title>".into(),
    }
}

// ---------------------------------------------------------------------------
// The front-ends' calls.

/// One call a page makes, and what the page needs from it.
#[derive(Debug, Clone)]
struct Call {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    credentials: bool,
    headers: &'static [(&'static str, &'static str)],
    body: Option<&'static str>,
    /// A response header the page reads (it must not be null).
    reads: Option<&'static str>,
}

const ME: Call = Call {
    name: "me",
    method: "GET",
    path: "/api/me",
    credentials: true,
    headers: &[],
    body: None,
    reads: None,
};
const ITEMS: Call = Call {
    name: "items",
    method: "GET",
    path: "/api/items",
    credentials: false,
    headers: &[],
    body: None,
    reads: Some("x-total-count"),
};
const SAVE: Call = Call {
    name: "save",
    method: "PUT",
    path: "/api/items/1",
    credentials: true,
    headers: &[("Content-Type", "application/json"), ("X-CSRF-Token", CSRF)],
    body: Some(r#"{"name":"renamed"}"#),
    reads: None,
};
const REMOVE: Call = Call {
    name: "remove",
    method: "DELETE",
    path: "/api/items/2",
    credentials: true,
    headers: &[("X-CSRF-Token", CSRF)],
    body: None,
    reads: None,
};

/// The app's calls and the admin console's.
fn app_calls() -> Vec<Call> {
    vec![ME, ITEMS, SAVE]
}
fn admin_calls() -> Vec<Call> {
    vec![ITEMS, REMOVE]
}

/// Runs each call in turn with `fetch()` and reports what the page saw.
const RUNNER: &str = r#"
const [base, calls, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
(async () => {
  const out = [];
  for (const c of calls) {
    const init = {method: c.method, headers: c.headers, credentials: c.credentials ? 'include' : 'same-origin'};
    if (c.body !== null) init.body = c.body;
    try {
      const r = await fetch(base + c.path, init);
      const body = await r.text();
      out.push({ok: true, status: r.status, read: c.reads ? r.headers.get(c.reads) : null, body});
    } catch (e) {
      out.push({ok: false, error: String(e)});
    }
  }
  done(out);
})().catch(e => done([{script_error: String(e)}]));
"#;

/// What the page saw of one call.
#[derive(Debug, Clone)]
struct Outcome {
    call: &'static str,
    /// The page could read the answer (status 2xx) and the header it reads.
    succeeded: bool,
    detail: String,
}

struct Frontends {
    app: String,
    admin: String,
    hostile: String,
}

struct Session<'a> {
    driver: &'a Driver,
    /// The performance log since the last [`Session::take_log`].
    log: Vec<Value>,
}

impl Session<'_> {
    /// Runs `calls` from the page at `origin` against `base`, each URL with
    /// `?run=<tag>` (a fresh preflight-cache key for every run).
    fn run(&mut self, origin: &str, base: &str, calls: &[Call], tag: &str) -> Vec<Outcome> {
        self.driver
            .navigate(&format!("{origin}/"))
            .expect("front-end page loads");
        let jobs: Vec<Value> = calls
            .iter()
            .map(|c| {
                json!({
                    "method": c.method,
                    "path": format!("{}?run={tag}", c.path),
                    "credentials": c.credentials,
                    "headers": c.headers.iter().map(|(n, v)| (n.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                    "body": c.body,
                    "reads": c.reads,
                })
            })
            .collect();
        let v = self
            .driver
            .execute_async(RUNNER, vec![json!(base), Value::Array(jobs)])
            .expect("the page runs its calls");
        self.log
            .extend(self.driver.performance_log().expect("performance log"));
        let results = v.as_array().cloned().unwrap_or_default();
        assert_eq!(results.len(), calls.len(), "page script: {v}");
        calls
            .iter()
            .zip(results)
            .map(|(c, r)| {
                let ok = r["ok"].as_bool() == Some(true)
                    && r["status"]
                        .as_i64()
                        .is_some_and(|s| (200..300).contains(&s))
                    && c.reads.is_none_or(|_| r["read"].is_string());
                Outcome {
                    call: c.name,
                    succeeded: ok,
                    detail: r.to_string(),
                }
            })
            .collect()
    }

    /// The HAR of everything since the last call. DevTools events can trail
    /// the page's promise: the log is read until it has been quiet for two
    /// reads in a row (at most 5 s).
    fn take_log(&mut self) -> Recording {
        let until = Instant::now() + Duration::from_secs(5);
        let mut quiet = 0;
        while quiet < 2 && Instant::now() < until {
            thread::sleep(Duration::from_millis(100));
            let more = self.driver.performance_log().expect("performance log");
            quiet = if more.is_empty() { quiet + 1 } else { 0 };
            self.log.extend(more);
        }
        record(&std::mem::take(&mut self.log))
    }
}

// ---------------------------------------------------------------------------
// The gateway.

struct Gateway {
    child: Child,
    admin: u16,
    stderr: PathBuf,
}

impl Gateway {
    fn start(config: &Path, promote: bool, admin: u16, stderr: PathBuf) -> Gateway {
        let mut cmd = Command::new(built_binary());
        cmd.args(["serve", "--config"]).arg(config);
        if promote {
            cmd.arg("--promote");
        }
        let err = std::fs::File::create(&stderr).expect("gateway log file");
        let child = cmd
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("corsgate serve starts");
        let g = Gateway {
            child,
            admin,
            stderr,
        };
        let until = Instant::now() + Duration::from_secs(30);
        while get(admin, "/healthz").map(|(s, _)| s) != Some(200) {
            assert!(
                Instant::now() < until,
                "the gateway did not become healthy: {}",
                g.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
        g
    }

    fn metrics(&self) -> String {
        get(self.admin, "/metrics").expect("/metrics answers").1
    }

    /// `corsgate_shadow_disagreements_total` by (kind, reason).
    fn disagreements(&self) -> BTreeMap<(String, String), u64> {
        let mut out = BTreeMap::new();
        for line in self.metrics().lines() {
            let Some(rest) = line.strip_prefix("corsgate_shadow_disagreements_total{") else {
                continue;
            };
            let (labels, n) = rest
                .split_once("} ")
                .expect("a metric line: {labels} value");
            let label = |k: &str| {
                labels
                    .split(',')
                    .find_map(|l| l.strip_prefix(&format!("{k}=\"")))
                    .map(|v| v.trim_end_matches('"').to_owned())
                    .unwrap_or_default()
            };
            out.insert(
                (label("kind"), label("reason")),
                n.trim().parse().expect("a count"),
            );
        }
        out
    }

    fn applied_reloads(&self) -> u64 {
        self.metrics()
            .lines()
            .find_map(|l| l.strip_prefix("corsgate_config_reloads_total{result=\"applied\"} "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Re-reads the file (SIGHUP) and waits until the reload is applied.
    fn reload(&self) {
        let before = self.applied_reloads();
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .expect("kill -HUP runs");
        assert!(status.success());
        let until = Instant::now() + Duration::from_secs(10);
        while self.applied_reloads() == before {
            assert!(
                Instant::now() < until,
                "the reload was not applied: {}",
                self.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The `corsgate::shadow` lines: (origin, method, path) each.
    fn shadow_lines(&self) -> Vec<(String, String, String)> {
        self.log()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["target"] == "corsgate::shadow")
            .map(|v| {
                let f = if v["fields"].is_object() {
                    &v["fields"]
                } else {
                    &v
                };
                let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
                (s("origin"), s("method"), s("path"))
            })
            .collect()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GET on the loopback port: (status, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

// ---------------------------------------------------------------------------
// Policies as TOML.

fn toml_list(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", items.join(", "))
}

fn policy_toml(c: &PolicyConfig) -> String {
    let mut s = format!(
        "origins = {}\nmethods = {}\nrequest_headers = {}\nexpose_headers = {}\ncredentials = {}\n",
        toml_list(&c.origins),
        toml_list(&c.methods),
        toml_list(&c.request_headers),
        toml_list(&c.expose_headers),
        c.credentials
    );
    if let Some(age) = c.max_age {
        s.push_str(&format!("max_age = {age}\n"));
    }
    s
}

/// Today's policy: permissive, but valid (no `*` with credentials, no `null`,
/// no reflection).
const TODAY: &str = r#"origins = ["http://127.0.0.1:*"]
methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
request_headers = ["content-type", "x-csrf-token", "x-requested-with", "authorization"]
expose_headers = ["x-total-count"]
credentials = true
max_age = 7200
"#;

fn gateway_toml(
    listen: u16,
    admin: u16,
    upstream: u16,
    policy: &str,
    shadow: Option<&str>,
) -> String {
    let mut s = format!(
        "listen = \"127.0.0.1:{listen}\"\nadmin = \"127.0.0.1:{admin}\"\nupstream = \"http://127.0.0.1:{upstream}\"\nlog_format = \"json\"\nreload_poll = \"0s\"\n\n[[routes]]\npath = \"/\"\n\n[routes.policy]\n{policy}\n"
    );
    if let Some(shadow) = shadow {
        s.push_str(&format!("[routes.shadow]\n{shadow}\n"));
    }
    s
}

/// `corsgate test URL --policy POLICY --json` with the session cookie:
/// (exit code, summary, the problems' codes).
fn contract_test(url: &str, policy: &Path) -> (Option<i32>, Value, BTreeSet<String>) {
    let out = Command::new(built_binary())
        .args(["test", url, "--policy"])
        .arg(policy)
        .args(["-H", &format!("Cookie: {COOKIE}"), "--json"])
        .output()
        .expect("corsgate test runs");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "corsgate test --json: {e}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let codes = report["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["problems"].as_array().into_iter().flatten())
        .filter_map(|p| p["code"].as_str().map(str::to_owned))
        .collect();
    (out.status.code(), report["summary"].clone(), codes)
}

/// The cross-origin requests of a recording to `base`: (origin, method, path).
fn cross_origin(rec: &Recording, base: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for e in rec.har["log"]["entries"].as_array().into_iter().flatten() {
        let url = e["request"]["url"].as_str().unwrap_or_default();
        let origin = e["request"]["headers"].as_array().and_then(|h| {
            h.iter()
                .find(|h| {
                    h["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case("origin"))
                })
                .and_then(|h| h["value"].as_str())
        });
        if let (Some(origin), Some(rest)) = (origin, url.strip_prefix(base)) {
            out.push((
                origin.to_owned(),
                e["request"]["method"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                rest.split('?').next().unwrap_or_default().to_owned(),
            ));
        }
    }
    out.sort();
    out
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// The calls that failed, by name.
fn failed(outcomes: &[Outcome]) -> BTreeSet<&'static str> {
    outcomes
        .iter()
        .filter(|o| !o.succeeded)
        .map(|o| o.call)
        .collect()
}

fn describe(outcomes: &[Outcome]) -> String {
    outcomes
        .iter()
        .map(|o| {
            format!(
                "  {} {}: {}",
                o.call,
                if o.succeeded { "ok" } else { "FAILED" },
                o.detail
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The call as the engine's inference sees it (the ground truth of the page
/// script, not read back from the HAR).
fn observed(origin: &str, c: &Call) -> Observed {
    let mut o = Observed::new(origin, c.method).credentials(c.credentials);
    for (n, v) in c.headers {
        o = o.header(*n, v);
    }
    if let Some(h) = c.reads {
        o = o.expose(h);
    }
    o.source(format!("{origin} {}", c.name))
}

#[test]
fn inferred_policy_allows_the_session_refuses_a_hostile_origin_and_holds_nothing_unneeded() {
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("corsgate-infer-session-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // The upstream, and the three front-ends (two legitimate, one hostile).
    let upstream_log = Arc::new(Mutex::new(Vec::new()));
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let up_port = up.local_addr().unwrap().port();
    serve(up, Arc::new(api), upstream_log.clone());
    let origin_of = |_: &str| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let o = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
        serve(l, Arc::new(page), Arc::new(Mutex::new(Vec::new())));
        o
    };
    let fe = Frontends {
        app: origin_of("app"),
        admin: origin_of("admin"),
        hostile: origin_of("hostile"),
    };
    let (listen, admin) = (free_port(), free_port());
    let base = format!("http://127.0.0.1:{listen}");
    let config = dir.join("corsgate.toml");
    std::fs::write(&config, gateway_toml(listen, admin, up_port, TODAY, None)).unwrap();
    let gateway = Gateway::start(&config, false, admin, dir.join("gateway1.log"));

    let (driver_path, chromium) = chromium_paths();
    let driver = Driver::start_recording(&driver_path, &chromium)
        .unwrap_or_else(|e| panic!("cannot start Chromium: {e}"));
    let mut session = Session {
        driver: &driver,
        log: Vec::new(),
    };
    // Sign in: the API sets the session cookie (host 127.0.0.1, any port:
    // the front-ends are same-site, cross-origin).
    driver
        .navigate(&format!("{base}/login"))
        .expect("sign-in page");
    let session_run = |s: &mut Session, tag: &str| {
        let mut all = s.run(&fe.app, &base, &app_calls(), &format!("{tag}-app"));
        all.extend(s.run(&fe.admin, &base, &admin_calls(), &format!("{tag}-admin")));
        all
    };

    // 1. Record the session under today's policy: one HAR per front-end,
    // as two teams would export them (the admin console's gzip-compressed).
    let _ = session.take_log();
    let mut outcomes = session.run(&fe.app, &base, &app_calls(), "record-app");
    let app_rec = session.take_log();
    outcomes.extend(session.run(&fe.admin, &base, &admin_calls(), "record-admin"));
    let admin_rec = session.take_log();
    assert!(
        failed(&outcomes).is_empty(),
        "today's policy must let the session work:\n{}",
        describe(&outcomes)
    );
    for rec in [&app_rec, &admin_rec] {
        assert!(rec.cors_errors.is_empty(), "{:?}", rec.cors_errors);
    }
    let app_har = dir.join("app.har");
    std::fs::write(&app_har, serde_json::to_vec_pretty(&app_rec.har).unwrap()).unwrap();
    let admin_har = dir.join("admin.har");
    std::fs::write(
        &admin_har,
        serde_json::to_vec_pretty(&admin_rec.har).unwrap(),
    )
    .unwrap();
    let status = Command::new("gzip")
        .arg(&admin_har)
        .status()
        .expect("gzip runs");
    assert!(status.success());
    let admin_har = dir.join("admin.har.gz");
    let entries: usize = [&app_rec, &admin_rec]
        .iter()
        .map(|r| r.har["log"]["entries"].as_array().map_or(0, Vec::len))
        .sum();
    let mut recorded = cross_origin(&app_rec, &base);
    recorded.extend(cross_origin(&admin_rec, &base));
    recorded.sort();

    // 2. Infer.
    let today = dir.join("today.toml");
    std::fs::write(&today, TODAY).unwrap();
    let out = Command::new(built_binary())
        .arg("infer")
        .arg(&app_har)
        .arg(&admin_har)
        .arg("--against")
        .arg(&today)
        .output()
        .expect("corsgate infer runs");
    let proposal = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "corsgate infer: {}\n{proposal}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("corsgate infer on {entries} HAR entries:\n{proposal}");
    let inferred = Policy::from_toml(&proposal)
        .unwrap_or_else(|e| panic!("the proposal is not a valid policy: {e}\n{proposal}"))
        .config()
        .clone();
    assert_eq!(
        inferred.origins,
        sorted(&[&fe.app, &fe.admin]),
        "{proposal}"
    );
    assert_eq!(inferred.methods, sorted(&["DELETE", "PUT"]), "{proposal}");
    assert_eq!(
        inferred.request_headers,
        sorted(&["content-type", "x-csrf-token"]),
        "{proposal}"
    );
    assert_eq!(inferred.expose_headers, ["x-total-count"], "{proposal}");
    assert!(inferred.credentials, "{proposal}");
    assert_eq!(
        inferred.max_age,
        Some(600),
        "preflights were needed: {proposal}"
    );
    // `--against` today's policy: exactly what the proposal no longer allows
    // (GET and POST are always allowed: not narrowed).
    let narrowed: BTreeSet<&str> = proposal
        .lines()
        .filter_map(|l| l.strip_prefix("#   "))
        .collect();
    assert_eq!(
        narrowed,
        BTreeSet::from([
            "origins = http://127.0.0.1:*",
            "methods = PATCH",
            "request_headers = x-requested-with",
            "request_headers = authorization",
            "max_age = 7200",
        ]),
        "{proposal}"
    );
    // Which exposed header script read is not in a HAR: said as a guess.
    assert!(
        proposal.contains("# note: expose_headers holds the headers 2 answer(s) exposed"),
        "{proposal}"
    );
    // The engine agrees that the proposal allows the session.
    let policy = inferred.build().expect("the proposal builds");
    for (origin, calls) in [(&fe.app, app_calls()), (&fe.admin, admin_calls())] {
        for c in &calls {
            assert!(
                observed(origin, c).allowed_by(&policy),
                "{origin} {}",
                c.name
            );
        }
    }

    // 3. Shadow: the proposal beside today's policy, applied by a reload.
    std::fs::write(
        &config,
        gateway_toml(listen, admin, up_port, TODAY, Some(&proposal)),
    )
    .unwrap();
    gateway.reload();
    assert!(gateway.disagreements().values().all(|&n| n == 0));
    let _ = session.take_log();
    let outcomes = session_run(&mut session, "shadow");
    assert!(failed(&outcomes).is_empty(), "{}", describe(&outcomes));
    let replay = session.take_log();
    let replayed = cross_origin(&replay, &base);
    assert_eq!(
        replayed, recorded,
        "the replay makes the recorded session's cross-origin requests"
    );
    let counted = gateway.disagreements();
    assert!(
        counted.values().all(|&n| n == 0),
        "the replay of the recorded session must show no disagreement: {counted:?}"
    );
    // The hostile origin makes the same calls; today's policy allows it.
    let hostile_calls = vec![ME, ITEMS, SAVE, REMOVE];
    let outcomes = session.run(&fe.hostile, &base, &hostile_calls, "shadow-hostile");
    assert!(
        failed(&outcomes).is_empty(),
        "today's policy allows the hostile origin (shadow changes no answer):\n{}",
        describe(&outcomes)
    );
    let hostile_har = session.take_log();
    let mut hostile_requests: Vec<(String, String)> = cross_origin(&hostile_har, &base)
        .into_iter()
        .map(|(o, m, p)| {
            assert_eq!(o, fe.hostile, "only the hostile page ran");
            (m, p)
        })
        .collect();
    // 4 calls, 2 of them preflighted.
    assert_eq!(hostile_requests.len(), 6, "{hostile_requests:?}");
    let counted = gateway.disagreements();
    let total: u64 = counted.values().sum();
    assert_eq!(
        total,
        hostile_requests.len() as u64,
        "every hostile request, and only those, is a disagreement: {counted:?}"
    );
    assert_eq!(
        counted.get(&("candidate_refuses".into(), "origin_not_allowed".into())),
        Some(&total),
        "{counted:?}"
    );
    let lines = gateway.shadow_lines();
    let mut logged: Vec<(String, String)> = lines
        .iter()
        .map(|(o, m, p)| {
            assert_eq!(
                o, &fe.hostile,
                "only the hostile origin disagrees: {lines:?}"
            );
            (m.clone(), p.clone())
        })
        .collect();
    logged.sort();
    hostile_requests.sort();
    assert_eq!(
        logged, hostile_requests,
        "the shadow log names each hostile request"
    );
    // What a shadow cannot tell: the credentials mode. A candidate without
    // credentials counts a call the page made without them (the public GET)
    // as `headers_differ` all the same, so `corsgate infer` must not offer a
    // shadow run as the check that settles whether a page needs them.
    {
        let mut c = inferred.clone();
        c.credentials = false;
        let shadow = policy_toml(&c);
        std::fs::write(
            &config,
            gateway_toml(listen, admin, up_port, TODAY, Some(&shadow)),
        )
        .unwrap();
        gateway.reload();
        let before: u64 = gateway.disagreements().values().sum();
        let o = session.run(&fe.app, &base, &[ITEMS], "shadow-no-credentials");
        assert!(failed(&o).is_empty(), "{}", describe(&o));
        let after = gateway.disagreements();
        assert_eq!(after.values().sum::<u64>(), before + 1, "{after:?}");
        assert_eq!(
            after.get(&("headers_differ".into(), "origin_allowed".into())),
            Some(&1),
            "{after:?}"
        );
        assert!(!proposal.contains("headers_differ count on those requests means"));
        let _ = session.take_log();
        // The proposal back in the shadow, for the promotion below.
        std::fs::write(
            &config,
            gateway_toml(listen, admin, up_port, TODAY, Some(&proposal)),
        )
        .unwrap();
        gateway.reload();
    }
    // Before promotion, `corsgate test` holds the gateway (today's policy) to
    // the proposal, and must fail: the test below is not vacuous.
    let policy_file = dir.join("inferred.toml");
    std::fs::write(&policy_file, &proposal).unwrap();
    let (code, summary, problems) = contract_test(&format!("{base}/api/items"), &policy_file);
    assert_eq!(
        code,
        Some(1),
        "today's policy is looser than the proposal: {summary} {problems:?}"
    );
    assert!(problems.contains("looser_than_policy"), "{problems:?}");
    eprintln!("corsgate test before promotion: {summary}, problems {problems:?}");
    drop(gateway);

    // 4. Promote.
    let gateway = Gateway::start(&config, true, admin, dir.join("gateway2.log"));
    let up_before = upstream_log.lock().unwrap().len();
    let outcomes = session_run(&mut session, "promoted");
    assert!(
        failed(&outcomes).is_empty(),
        "the promoted proposal must let the session work:\n{}",
        describe(&outcomes)
    );
    let outcomes = session.run(&fe.hostile, &base, &hostile_calls, "promoted-hostile");
    assert_eq!(
        failed(&outcomes).len(),
        hostile_calls.len(),
        "every hostile call is refused:\n{}",
        describe(&outcomes)
    );
    for o in &outcomes {
        assert!(
            o.detail.contains("TypeError"),
            "a network error: {}",
            o.detail
        );
    }
    let refused = session.take_log();
    assert_eq!(
        refused.cors_errors.len(),
        hostile_calls.len(),
        "Chromium's own CORS errors: {:?}",
        refused.cors_errors
    );
    let reached: Vec<Seen> = upstream_log.lock().unwrap()[up_before..]
        .iter()
        .filter(|s| s.origin.as_deref() == Some(fe.hostile.as_str()))
        .cloned()
        .collect();
    assert!(
        reached.iter().all(|s| s.method == "GET"),
        "the hostile PUT and DELETE never reach the upstream: {reached:?}"
    );
    let (code, summary, problems) = contract_test(&format!("{base}/api/items"), &policy_file);
    assert_eq!(
        code,
        Some(0),
        "corsgate test against the promoted policy: {summary} {problems:?}"
    );

    // 5. Nothing unneeded: each value removed breaks exactly the calls that
    // need it, in Chromium and in the engine.
    let mut variants: Vec<(String, PolicyConfig, BTreeSet<&str>)> = Vec::new();
    let all: Vec<(&String, Call)> = app_calls()
        .into_iter()
        .map(|c| (&fe.app, c))
        .chain(admin_calls().into_iter().map(|c| (&fe.admin, c)))
        .collect();
    let needing = |f: &dyn Fn(&String, &Call) -> bool| -> BTreeSet<&str> {
        all.iter()
            .filter(|(o, c)| f(o, c))
            .map(|(o, c)| c_key(o, c, &fe))
            .collect()
    };
    for (i, o) in inferred.origins.iter().enumerate() {
        let mut c = inferred.clone();
        c.origins.remove(i);
        variants.push((format!("origin {o}"), c, needing(&|org, _| org == o)));
    }
    for (i, m) in inferred.methods.iter().enumerate() {
        let mut c = inferred.clone();
        c.methods.remove(i);
        variants.push((
            format!("method {m}"),
            c,
            needing(&|_, call| call.method == m),
        ));
    }
    for (i, h) in inferred.request_headers.iter().enumerate() {
        let mut c = inferred.clone();
        c.request_headers.remove(i);
        variants.push((
            format!("request header {h}"),
            c,
            needing(&|_, call| call.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(h))),
        ));
    }
    for (i, h) in inferred.expose_headers.iter().enumerate() {
        let mut c = inferred.clone();
        c.expose_headers.remove(i);
        variants.push((
            format!("exposed header {h}"),
            c,
            needing(&|_, call| call.reads == Some(h.as_str())),
        ));
    }
    {
        let mut c = inferred.clone();
        c.credentials = false;
        variants.push((
            "credentials".into(),
            c,
            needing(&|_, call| call.credentials),
        ));
    }
    for (n, (what, variant, expected)) in variants.iter().enumerate() {
        assert!(!expected.is_empty(), "{what}: some call needs it");
        // The engine.
        let p = variant.build().expect("the variant builds");
        let engine: BTreeSet<&str> = all
            .iter()
            .filter(|(o, c)| !observed(o, c).allowed_by(&p))
            .map(|(o, c)| c_key(o, c, &fe))
            .collect();
        assert_eq!(&engine, expected, "engine, without {what}");
        // Chromium, through the gateway reloaded with the variant.
        std::fs::write(
            &config,
            gateway_toml(listen, admin, up_port, &policy_toml(variant), None),
        )
        .unwrap();
        gateway.reload();
        let tag = format!("without-{n}");
        let app = session.run(&fe.app, &base, &app_calls(), &format!("{tag}-app"));
        let adm = session.run(&fe.admin, &base, &admin_calls(), &format!("{tag}-admin"));
        let mut browser: BTreeSet<&str> = BTreeSet::new();
        for (origin, outcomes) in [(&fe.app, &app), (&fe.admin, &adm)] {
            for o in outcomes.iter().filter(|o| !o.succeeded) {
                browser.insert(key(origin, o.call, &fe));
            }
        }
        assert_eq!(
            &browser,
            expected,
            "Chromium, without {what}:\n{}\n{}",
            describe(&app),
            describe(&adm)
        );
        // Chromium's own CORS errors: one per refused call; none when only
        // an exposed header is missing (the call succeeds, the header reads null).
        let errors = session.take_log().cors_errors;
        let expected_errors = if what.starts_with("exposed header") {
            0
        } else {
            expected.len()
        };
        assert_eq!(errors.len(), expected_errors, "without {what}: {errors:?}");
        eprintln!("without {what}: refused in Chromium {browser:?}");
    }
    let _ = session.take_log();
    drop(gateway);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "session: {entries} HAR entries recorded, {} cross-origin requests replayed in shadow with 0 disagreements; \
         {} hostile requests each counted and logged; promoted: 5 legitimate calls allowed, 4 hostile refused; \
         corsgate test: {summary}; {} values each needed; {:.1} s",
        replayed.len(),
        hostile_requests.len(),
        variants.len(),
        started.elapsed().as_secs_f64()
    );
}

fn key(origin: &str, call: &str, fe: &Frontends) -> &'static str {
    match (origin == fe.app, call) {
        (true, "me") => "app me",
        (true, "items") => "app items",
        (true, "save") => "app save",
        (false, "items") => "admin items",
        (false, "remove") => "admin remove",
        _ => "other",
    }
}

fn c_key(origin: &str, c: &Call, fe: &Frontends) -> &'static str {
    key(origin, c.name, fe)
}
