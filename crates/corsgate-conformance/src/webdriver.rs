//! A tiny WebDriver client: it starts `chromedriver` (or, through
//! [`Driver::launch`], any W3C WebDriver server such as geckodriver), opens a
//! headless session with a fresh profile, navigates, and runs async scripts.
//! Plain HTTP/1.1 over a `TcpStream` with `serde_json`; nothing else.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The flags every Chromium launch gets (no network here: keep it quiet).
pub const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// A WebDriver error, as text for the test output.
pub type Error = String;

/// Where a session's console messages are read from ([`Driver::console`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsoleSource {
    /// Not read.
    #[default]
    None,
    /// chromedriver's legacy log endpoint (`goog:loggingPrefs` `browser`):
    /// every console message of the page, CORS errors included, as the
    /// DevTools console prints them.
    ChromeLog,
    /// Firefox's console service, read in Marionette's chrome context (the
    /// session needs `-remote-allow-system-access`): each `nsIScriptError`
    /// whose category starts with `CORS`, as `<category>\t<e|w>\t<text>`.
    /// (Firefox prints `console.log` calls to standard output with
    /// `devtools.console.stdout.content`, but not the network errors the
    /// CORS checks log: checked with Firefox 153 ESR.)
    GeckoChrome,
}

/// Reads the CORS messages of Firefox's console service logged since the
/// last call. The first call registers a listener that keeps them (the
/// service itself keeps only its last few hundred messages).
const GECKO_CONSOLE: &str = r#"
const w = window;
if (!w.__corsgateConsole) {
  w.__corsgateConsole = [];
  Services.console.registerListener({
    QueryInterface: ChromeUtils.generateQI(['nsIConsoleListener']),
    observe(m) {
      if (m instanceof Ci.nsIScriptError && /^CORS/.test(m.category)) {
        w.__corsgateConsole.push(m.category + '\t' + ((m.flags & Ci.nsIScriptError.warningFlag) ? 'w' : 'e') + '\t' + m.errorMessage);
      }
    },
  });
}
return w.__corsgateConsole.splice(0);
"#;

/// A WebDriver server process with one browser session. Dropping it ends the
/// session, then the driver process (by its own handle), then removes the profile.
#[derive(Debug)]
pub struct Driver {
    child: Child,
    port: u16,
    session: String,
    profile_dir: PathBuf,
    /// `browserVersion` as the session reported it.
    pub browser_version: String,
    /// Where [`Driver::console`] reads the console from.
    pub console_source: ConsoleSource,
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Error> {
    let io = |e: io::Error| format!("webdriver {method} {path}: {e}");
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(io)?;
    s.set_read_timeout(Some(Duration::from_secs(600)))
        .map_err(io)?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(io)?;
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).map_err(io)?;
    let mut len: Option<usize> = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).map_err(io)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            if n.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok();
            }
        }
    }
    let mut buf = Vec::new();
    match len {
        Some(n) => {
            buf.resize(n, 0);
            r.read_exact(&mut buf).map_err(io)?;
        }
        None => {
            r.read_to_end(&mut buf).map_err(io)?;
        }
    }
    let v: Value = serde_json::from_slice(&buf).map_err(|e| {
        format!(
            "webdriver {method} {path}: bad JSON ({e}): {}",
            String::from_utf8_lossy(&buf)
        )
    })?;
    if !status.contains(" 200 ") {
        return Err(format!(
            "webdriver {method} {path}: {} {}",
            status.trim(),
            v
        ));
    }
    Ok(v.get("value").cloned().unwrap_or(Value::Null))
}

impl Driver {
    /// Starts `chromedriver` and a headless `chromium` session. Fails (with a
    /// message saying what to install) when either is missing.
    pub fn start(chromedriver: &str, chromium: &str) -> Result<Driver, Error> {
        Driver::start_chromium(chromedriver, chromium, false)
    }

    /// [`Driver::start`] with the performance log on: every `Network.*`
    /// DevTools event of the session, read with [`Driver::performance_log`]
    /// (what DevTools-recording tools build a HAR from; see
    /// [`har_record`](crate::har_record)).
    pub fn start_recording(chromedriver: &str, chromium: &str) -> Result<Driver, Error> {
        Driver::start_chromium(chromedriver, chromium, true)
    }

    fn start_chromium(chromedriver: &str, chromium: &str, record: bool) -> Result<Driver, Error> {
        let profile_dir = std::env::temp_dir().join(format!(
            "corsgate-chromium-{}-{}",
            std::process::id(),
            free_port().map_err(|e| e.to_string())?
        ));
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile_dir.display()));
        let mut caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
            "timeouts": {"script": 300_000, "pageLoad": 60_000}
        }}});
        if record {
            let m = &mut caps["capabilities"]["alwaysMatch"];
            m["goog:loggingPrefs"]["performance"] = json!("ALL");
            m["goog:chromeOptions"]["perfLoggingPrefs"] =
                json!({"enableNetwork": true, "enablePage": false});
        }
        Driver::launch(
            chromedriver,
            |port| vec![format!("--port={port}")],
            &caps,
            profile_dir,
        )
        .map(|mut d| {
            d.console_source = ConsoleSource::ChromeLog;
            d
        })
        .map_err(|e| {
            if e.starts_with("cannot start ") {
                format!("{e} (install Debian's chromium-driver)")
            } else {
                e
            }
        })
    }

    /// Starts a WebDriver server (`program` with `args(port)`), makes a fresh
    /// `profile_dir` and opens one session with `caps` (the whole
    /// `{"capabilities": …}` body). The same W3C protocol serves chromedriver
    /// and geckodriver; only the capabilities differ.
    pub fn launch(
        program: &str,
        args: impl Fn(u16) -> Vec<String>,
        caps: &Value,
        profile_dir: PathBuf,
    ) -> Result<Driver, Error> {
        Driver::launch_env(program, args, &[], caps, profile_dir)
    }

    /// [`Driver::launch`] with extra environment variables for the driver
    /// (and the browser it starts): WebKitWebDriver needs `DISPLAY`.
    pub fn launch_env(
        program: &str,
        args: impl Fn(u16) -> Vec<String>,
        envs: &[(&str, &str)],
        caps: &Value,
        profile_dir: PathBuf,
    ) -> Result<Driver, Error> {
        let port = free_port().map_err(|e| e.to_string())?;
        let child = Command::new(program)
            .args(args(port))
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let mut driver = Driver {
            child,
            port,
            session: String::new(),
            profile_dir,
            browser_version: String::new(),
            console_source: ConsoleSource::None,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while http(port, "GET", "/status", None).is_err() {
            if Instant::now() > deadline {
                return Err(format!("{program} did not come up within 20 s"));
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_dir_all(&driver.profile_dir);
        std::fs::create_dir_all(&driver.profile_dir).map_err(|e| e.to_string())?;
        let v = http(port, "POST", "/session", Some(caps))
            .map_err(|e| format!("cannot start a session through {program}: {e}"))?;
        driver.session = v["sessionId"].as_str().unwrap_or_default().to_owned();
        driver.browser_version = v["capabilities"]["browserVersion"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if driver.session.is_empty() {
            return Err(format!("{program} gave no session id: {v}"));
        }
        Ok(driver)
    }

    /// Loads a URL.
    pub fn navigate(&self, url: &str) -> Result<(), Error> {
        http(
            self.port,
            "POST",
            &format!("/session/{}/url", self.session),
            Some(&json!({ "url": url })),
        )
        .map(|_| ())
    }

    /// A screenshot of the viewport: a PNG, base64-encoded as WebDriver sends it.
    pub fn screenshot_base64(&self) -> Result<String, Error> {
        let v = http(
            self.port,
            "GET",
            &format!("/session/{}/screenshot", self.session),
            None,
        )?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("chromedriver screenshot: not a string: {v}"))
    }

    /// Sets the window size (CSS pixels).
    pub fn set_window_size(&self, width: u32, height: u32) -> Result<(), Error> {
        http(
            self.port,
            "POST",
            &format!("/session/{}/window/rect", self.session),
            Some(&json!({ "width": width, "height": height })),
        )
        .map(|_| ())
    }

    /// The console messages logged since the last call, oldest first (none
    /// when the session's [`ConsoleSource`] is `None`).
    pub fn console(&self) -> Result<Vec<String>, Error> {
        let texts = |v: Value, field: Option<&str>| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|e| match field {
                            Some(f) => e[f].as_str(),
                            None => e.as_str(),
                        })
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        match self.console_source {
            ConsoleSource::None => Ok(Vec::new()),
            ConsoleSource::ChromeLog => {
                let v = http(
                    self.port,
                    "POST",
                    &format!("/session/{}/se/log", self.session),
                    Some(&json!({ "type": "browser" })),
                )?;
                Ok(texts(v, Some("message")))
            }
            ConsoleSource::GeckoChrome => {
                let context = |c: &str| {
                    http(
                        self.port,
                        "POST",
                        &format!("/session/{}/moz/context", self.session),
                        Some(&json!({ "context": c })),
                    )
                };
                context("chrome")?;
                let v = http(
                    self.port,
                    "POST",
                    &format!("/session/{}/execute/sync", self.session),
                    Some(&json!({ "script": GECKO_CONSOLE, "args": [] })),
                );
                context("content")?;
                Ok(texts(v?, None))
            }
        }
    }

    /// The performance log entries since the last call (a session started
    /// with [`Driver::start_recording`]; empty otherwise).
    pub fn performance_log(&self) -> Result<Vec<Value>, Error> {
        let v = http(
            self.port,
            "POST",
            &format!("/session/{}/se/log", self.session),
            Some(&json!({ "type": "performance" })),
        )?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// Runs `script` as WebDriver's executeAsyncScript with `args`.
    pub fn execute_async(&self, script: &str, args: Vec<Value>) -> Result<Value, Error> {
        http(
            self.port,
            "POST",
            &format!("/session/{}/execute/async", self.session),
            Some(&json!({ "script": script, "args": args })),
        )
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(
                self.port,
                "DELETE",
                &format!("/session/{}", self.session),
                None,
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile_dir);
    }
}
