//! The third judge: WebKit. Debian's `webkit2gtk-driver` (WebKitWebDriver)
//! drives WebKitGTK's MiniBrowser over the same W3C WebDriver protocol as
//! Chromium and Firefox ([`Driver::launch_env`]), running the same page script
//! ([`run_pages`]). MiniBrowser has no headless mode, so every run gets its
//! own X server: `Xvfb` on a display it picks itself (`-displayfd`), no TCP.
//!
//! This is WebKitGTK on libsoup, not Safari on CFNetwork: WebCore's CORS code
//! (`CrossOriginAccessControl`, the preflight cache, `NetworkLoadChecker`) is
//! shared by every WebKit port, the HTTP stack is not.
//!
//! Each session is a fresh MiniBrowser process in automation mode, whose
//! website data (HTTP cache, preflight cache, cookies) is ephemeral: nothing
//! survives the session.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use crate::case::Case;
use crate::gecko::BrowserRun;
use crate::run::run_pages;
use crate::server::Servers;
use crate::webdriver::{Driver, Error};

/// Where Debian's `libwebkit2gtk-4.1-0` puts MiniBrowser.
pub const MINIBROWSER: &str = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

/// Options of a WebKit run.
#[derive(Debug, Clone)]
pub struct WebkitOptions {
    /// Path of WebKitWebDriver.
    pub driver: String,
    /// Path of MiniBrowser.
    pub minibrowser: String,
    /// Path of Xvfb.
    pub xvfb: String,
    /// Jobs per executeAsyncScript call.
    pub batch: usize,
    /// Requests in flight in the page.
    pub width: usize,
    /// Repeated jobs per fresh browser. WebKit's preflight cache
    /// (`CrossOriginPreflightResultCache`) has no size limit.
    pub repeat_session: usize,
}

impl Default for WebkitOptions {
    fn default() -> Self {
        WebkitOptions {
            driver: "/usr/bin/WebKitWebDriver".into(),
            minibrowser: MINIBROWSER.into(),
            xvfb: "/usr/bin/Xvfb".into(),
            batch: 400,
            width: 12,
            repeat_session: 2000,
        }
    }
}

impl WebkitOptions {
    /// The defaults, with `CORSGATE_WEBKITWEBDRIVER`, `CORSGATE_MINIBROWSER`,
    /// `CORSGATE_XVFB` and `CORSGATE_WIDTH` applied.
    pub fn from_env() -> Self {
        let mut o = WebkitOptions::default();
        if let Ok(p) = std::env::var("CORSGATE_WEBKITWEBDRIVER") {
            o.driver = p;
        }
        if let Ok(p) = std::env::var("CORSGATE_MINIBROWSER") {
            o.minibrowser = p;
        }
        if let Ok(p) = std::env::var("CORSGATE_XVFB") {
            o.xvfb = p;
        }
        if let Some(w) = std::env::var("CORSGATE_WIDTH")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            o.width = w;
        }
        o
    }
}

/// An `Xvfb` server on a display of its own choosing, stopped (by its own
/// process handle) when dropped.
#[derive(Debug)]
pub struct Xvfb {
    child: Child,
    /// The `DISPLAY` value, e.g. `:3`.
    pub display: String,
}

impl Xvfb {
    /// Starts `Xvfb -displayfd 1` and waits for the display number.
    pub fn start(xvfb: &str) -> Result<Xvfb, Error> {
        let mut child = Command::new(xvfb)
            .args([
                "-displayfd",
                "1",
                "-nolisten",
                "tcp",
                "-screen",
                "0",
                "1024x768x24",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {xvfb}: {e} (install Debian's xvfb)"))?;
        let Some(out) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("Xvfb: no stdout".into());
        };
        let mut line = String::new();
        let read = BufReader::new(out).read_line(&mut line);
        let n = line.trim();
        if read.is_err() || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("Xvfb did not report a display (got {line:?})"));
        }
        Ok(Xvfb {
            display: format!(":{n}"),
            child,
        })
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory name for one session.
fn session_dir(what: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("corsgate-{what}-{}-{nanos}", std::process::id()))
}

/// Starts WebKitWebDriver on a free port and a MiniBrowser session on `display`.
pub fn start_webkit(opts: &WebkitOptions, display: &str) -> Result<Driver, Error> {
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "MiniBrowser",
        "webkitgtk:browserOptions": {
            "binary": opts.minibrowser,
            "args": ["--automation"],
        },
        "timeouts": {"script": 300_000, "pageLoad": 60_000}
    }}});
    let dir = session_dir("webkit");
    Driver::launch_env(
        &opts.driver,
        |port| vec![format!("--port={port}")],
        &[
            ("DISPLAY", display),
            // No accessibility bus, no GPU process surprises under Xvfb.
            ("NO_AT_BRIDGE", "1"),
            ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
            ("XDG_RUNTIME_DIR", &dir.display().to_string()),
        ],
        &caps,
        dir.clone(),
    )
    .map_err(|e| {
        if e.starts_with("cannot start ") {
            format!("{e} (install Debian's webkit2gtk-driver, or set CORSGATE_WEBKITWEBDRIVER)")
        } else {
            e
        }
    })
}

/// WebKitGTK's version as a started session reports it, e.g. `WebKitGTK 2.50.6`.
pub fn webkit_version(opts: &WebkitOptions, display: &str) -> Result<String, String> {
    let out = Command::new(&opts.minibrowser)
        .arg("--version")
        .env("DISPLAY", display)
        .output()
        .map_err(|e| {
            format!(
                "cannot run {} --version: {e} (install Debian's webkit2gtk-driver)",
                opts.minibrowser
            )
        })?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if v.is_empty() {
        return Err(format!("{} --version printed nothing", opts.minibrowser));
    }
    Ok(v)
}

/// Runs every case through `fetch()` and XHR in MiniBrowser, under its own Xvfb.
pub fn run_webkit(
    servers: &Servers,
    cases: &Arc<Vec<Case>>,
    opts: &WebkitOptions,
) -> Result<BrowserRun, String> {
    let x = Xvfb::start(&opts.xvfb)?;
    run_webkit_on(&x, servers, cases, opts)
}

/// [`run_webkit`] on a running X server (which the console pass can reuse).
pub fn run_webkit_on(
    x: &Xvfb,
    servers: &Servers,
    cases: &Arc<Vec<Case>>,
    opts: &WebkitOptions,
) -> Result<BrowserRun, String> {
    let start = Instant::now();
    let version = webkit_version(opts, &x.display)?;
    let pages = run_pages(
        &|| start_webkit(opts, &x.display),
        servers,
        cases,
        opts.batch,
        opts.width,
        opts.repeat_session,
    )?;
    // WebKit's console is read apart, from a plain MiniBrowser
    // (`webkit_console`): automation writes none, so `console` stays empty.
    Ok(pages.into_run(version, start.elapsed()))
}
