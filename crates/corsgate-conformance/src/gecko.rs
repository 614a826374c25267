//! The second judge: headless Firefox (ESR), driven by geckodriver over the
//! same W3C WebDriver protocol as Chromium ([`Driver::launch`]), running the
//! same page script ([`run_pages`]). Only the launch differs: the
//! `moz:firefoxOptions` capabilities, a fresh `-profile`, and preferences
//! that keep Firefox off the network (updates, telemetry, captive-portal and
//! connectivity checks, safe browsing, remote settings, normandy…).

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::case::{Case, Dest};
use crate::judge::Observation;
use crate::run::{run_pages, ChromiumRun};
use crate::server::Servers;
use crate::webdriver::{ConsoleSource, Driver, Error};

/// What a browser did with every case (the same record for either browser).
pub type BrowserRun = ChromiumRun;

/// Where remote services would be: a loopback port nothing listens on.
const DEAD: &str = "http://127.0.0.1:9/";

/// A preference value.
#[derive(Debug, Clone, Copy)]
pub enum Pref {
    /// A boolean preference.
    Bool(bool),
    /// An integer preference.
    Int(i64),
    /// A string preference.
    Str(&'static str),
}

/// Preferences for every Firefox launch: no background traffic, no first-run
/// pages, no HTTP/3, no disk cache (each run starts from nothing).
pub const FIREFOX_PREFS: &[(&str, Pref)] = &[
    ("app.normandy.enabled", Pref::Bool(false)),
    ("app.normandy.api_url", Pref::Str("")),
    ("app.shield.optoutstudies.enabled", Pref::Bool(false)),
    ("app.update.auto", Pref::Bool(false)),
    ("app.update.checkInstallTime", Pref::Bool(false)),
    ("app.update.disabledForTesting", Pref::Bool(true)),
    ("app.update.enabled", Pref::Bool(false)),
    ("browser.aboutwelcome.enabled", Pref::Bool(false)),
    ("browser.cache.disk.enable", Pref::Bool(false)),
    ("browser.newtabpage.enabled", Pref::Bool(false)),
    ("browser.ping-centre.telemetry", Pref::Bool(false)),
    ("browser.region.network.url", Pref::Str("")),
    ("browser.region.update.enabled", Pref::Bool(false)),
    (
        "browser.safebrowsing.blockedURIs.enabled",
        Pref::Bool(false),
    ),
    ("browser.safebrowsing.downloads.enabled", Pref::Bool(false)),
    ("browser.safebrowsing.malware.enabled", Pref::Bool(false)),
    ("browser.safebrowsing.phishing.enabled", Pref::Bool(false)),
    (
        "browser.safebrowsing.provider.google.updateURL",
        Pref::Str(""),
    ),
    (
        "browser.safebrowsing.provider.google4.updateURL",
        Pref::Str(""),
    ),
    (
        "browser.safebrowsing.provider.mozilla.updateURL",
        Pref::Str(""),
    ),
    ("browser.search.update", Pref::Bool(false)),
    ("browser.shell.checkDefaultBrowser", Pref::Bool(false)),
    (
        "browser.startup.homepage_override.mstone",
        Pref::Str("ignore"),
    ),
    ("browser.startup.page", Pref::Int(0)),
    ("browser.tabs.warnOnClose", Pref::Bool(false)),
    ("browser.topsites.contile.enabled", Pref::Bool(false)),
    (
        "datareporting.healthreport.uploadEnabled",
        Pref::Bool(false),
    ),
    (
        "datareporting.policy.dataSubmissionEnabled",
        Pref::Bool(false),
    ),
    ("extensions.blocklist.enabled", Pref::Bool(false)),
    ("extensions.getAddons.cache.enabled", Pref::Bool(false)),
    ("extensions.update.enabled", Pref::Bool(false)),
    ("media.gmp-manager.url", Pref::Str(DEAD)),
    ("network.captive-portal-service.enabled", Pref::Bool(false)),
    ("network.connectivity-service.enabled", Pref::Bool(false)),
    ("network.dns.disablePrefetch", Pref::Bool(true)),
    ("network.dnsCacheExpiration", Pref::Int(3600)),
    ("network.dnsCacheExpirationGracePeriod", Pref::Int(3600)),
    ("network.http.http3.enable", Pref::Bool(false)),
    ("network.http.speculative-parallel-limit", Pref::Int(0)),
    ("network.predictor.enabled", Pref::Bool(false)),
    ("network.prefetch-next", Pref::Bool(false)),
    ("network.proxy.type", Pref::Int(0)),
    ("network.trr.mode", Pref::Int(5)),
    ("services.settings.server", Pref::Str(DEAD)),
    ("toolkit.telemetry.enabled", Pref::Bool(false)),
    ("toolkit.telemetry.server", Pref::Str(DEAD)),
    ("toolkit.telemetry.unified", Pref::Bool(false)),
];

/// [`FIREFOX_PREFS`] as the `prefs` object of `moz:firefoxOptions`.
pub fn firefox_prefs() -> Map<String, Value> {
    FIREFOX_PREFS
        .iter()
        .map(|(k, v)| {
            let v = match *v {
                Pref::Bool(b) => Value::from(b),
                Pref::Int(i) => Value::from(i),
                Pref::Str(s) => Value::from(s),
            };
            ((*k).to_owned(), v)
        })
        .collect()
}

/// Options of a Firefox run.
#[derive(Debug, Clone)]
pub struct FirefoxOptions {
    /// Path of geckodriver.
    pub geckodriver: String,
    /// Path of the Firefox binary.
    pub firefox: String,
    /// Jobs per executeAsyncScript call.
    pub batch: usize,
    /// Requests in flight in the page.
    pub width: usize,
    /// Repeated jobs per fresh browser. Firefox's preflight cache holds 100
    /// entries and evicts the least recently used, far more than the few
    /// dozen a batch of `width` jobs creates between a job's two runs.
    pub repeat_session: usize,
}

impl Default for FirefoxOptions {
    fn default() -> Self {
        let home = std::env::var("HOME").unwrap_or_default();
        let cargo_bin = std::env::var("CARGO_HOME")
            .map(|h| format!("{h}/bin"))
            .unwrap_or_else(|_| format!("{home}/.cargo/bin"));
        // `cargo install geckodriver` puts it in $CARGO_HOME/bin; otherwise
        // look it up on PATH.
        let installed = format!("{cargo_bin}/geckodriver");
        let geckodriver = if std::path::Path::new(&installed).is_file() {
            installed
        } else {
            "geckodriver".to_owned()
        };
        FirefoxOptions {
            geckodriver,
            firefox: "/usr/bin/firefox-esr".into(),
            batch: 400,
            width: 12,
            repeat_session: 2000,
        }
    }
}

/// `firefox-esr --version`, trimmed (e.g. `Mozilla Firefox 153.0esr`).
pub fn firefox_version(firefox: &str) -> Result<String, String> {
    let out = std::process::Command::new(firefox)
        .arg("--version")
        .output()
        .map_err(|e| {
            format!("cannot run {firefox} --version: {e} (install Debian's firefox-esr)")
        })?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if v.is_empty() {
        return Err(format!("{firefox} --version printed nothing"));
    }
    Ok(v)
}

/// `geckodriver --version`, first line (e.g. `geckodriver 0.37.1`).
pub fn geckodriver_version(geckodriver: &str) -> Result<String, String> {
    let out = std::process::Command::new(geckodriver)
        .arg("--version")
        .output()
        .map_err(|e| {
            format!("cannot run {geckodriver} --version: {e} (cargo install geckodriver --locked)")
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default().trim();
    let v = first.split(" (").next().unwrap_or(first).to_owned();
    if v.is_empty() {
        return Err(format!("{geckodriver} --version printed nothing"));
    }
    Ok(v)
}

/// Starts geckodriver and a headless Firefox session with a fresh profile.
pub fn start_firefox(opts: &FirefoxOptions) -> Result<Driver, Error> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let profile_dir =
        std::env::temp_dir().join(format!("corsgate-firefox-{}-{nanos}", std::process::id()));
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "firefox",
        "moz:firefoxOptions": {
            "binary": opts.firefox,
            "args": ["-headless", "-profile", profile_dir.display().to_string()],
            "prefs": firefox_prefs(),
        },
        "timeouts": {"script": 300_000, "pageLoad": 60_000}
    }}});
    Driver::launch(
        &opts.geckodriver,
        // System access lets `Driver::console` read the console service in
        // Marionette's chrome context.
        |port| {
            vec![
                "--port".into(),
                port.to_string(),
                "--allow-system-access".into(),
            ]
        },
        &caps,
        profile_dir,
    )
    .map(|mut d| {
        d.console_source = ConsoleSource::GeckoChrome;
        d
    })
    .map_err(|e| {
        if e.starts_with("cannot start ") {
            format!("{e} (install it with `cargo install geckodriver --locked`, or set CORSGATE_GECKODRIVER)")
        } else {
            e
        }
    })
}

/// Runs every case through `fetch()` and XHR in headless Firefox.
pub fn run_firefox(
    servers: &Servers,
    cases: &Arc<Vec<Case>>,
    opts: &FirefoxOptions,
) -> Result<BrowserRun, String> {
    let start = Instant::now();
    let version = firefox_version(&opts.firefox)?;
    let pages = run_pages(
        &|| start_firefox(opts),
        servers,
        cases,
        opts.batch,
        opts.width,
        opts.repeat_session,
    )?;
    Ok(pages.into_run(version, start.elapsed()))
}

/// Whether Firefox and the engine differ on `case` only in whether a repeated
/// request reused an earlier preflight for a hop on the IP-address origin
/// (`http://127.0.0.1:…`, [`Dest::Other`]). Firefox checks its DNS cache
/// before reusing a cached preflight and drops the entry when the host's
/// record is newer than the entry (`CORSCacheEntry::CheckDNSCache`); for an
/// IP-literal host that depends on which connections Firefox happened to
/// open in between, so no engine can predict it from the request and the
/// responses. Such differences are counted and listed, not failed.
pub fn dns_dependent(case: &Case, firefox: &Observation, engine: &Observation) -> bool {
    if !case.repeat || firefox.outcome != engine.outcome || firefox.first != engine.first {
        return false;
    }
    let other_hops: Vec<usize> = (0..case.hops.len())
        .filter(|&i| {
            let dest = if i == 0 {
                case.start
            } else {
                match case.hops[i - 1].actual.redirect {
                    Some(r) => r.to,
                    None => return false,
                }
            };
            dest == Dest::Other
        })
        .collect();
    if other_hops.is_empty() {
        return false;
    }
    let keep = |line: &&String| {
        !other_hops
            .iter()
            .any(|h| line.starts_with(&format!("P{h} ")))
    };
    let strip = |o: &Observation| o.trace.iter().filter(keep).cloned().collect::<Vec<_>>();
    firefox.trace != engine.trace
        && firefox.requests == engine.requests
        && strip(firefox) == strip(engine)
}
