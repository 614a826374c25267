//! The third judge: the `corsgate check --json` command, run as a subprocess
//! against the live loopback servers (on the case's `Check` URLs), compared
//! with what Chromium's `fetch()` did.
//!
//! The command models `fetch()` one request at a time, so it judges only the
//! `fetch` half of each case, and not the repeated cases (a second run would
//! need the first run's preflight cache). The trace comes from the servers'
//! own logs, so what the command really sent is what is compared.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::case::{Api, Case, Site};
use crate::judge::{trace_line, Judge, Observation, Outcome};
use crate::server::Servers;

/// `corsgate check` as a judge.
#[derive(Debug)]
pub struct CheckCli<'s> {
    /// The `corsgate` binary.
    pub binary: PathBuf,
    /// The servers, for their logs.
    pub servers: &'s Servers,
    /// The `--browser` profile `check` models (`chromium`, its default;
    /// `firefox`; `safari`), judged against that browser's runs.
    pub browser: &'static str,
}

/// [`find_binary`] for a test, which cannot run without it: panics with what
/// to do when there is no built `corsgate` binary.
pub fn built_binary() -> PathBuf {
    find_binary().expect(
        "the workspace has `corsgate check` but no built `corsgate` binary next to this test: \
         run `cargo build -p corsgate` (cargo test --workspace builds it) or set CORSGATE_BIN",
    )
}

/// Where `cargo` puts the workspace's `corsgate` binary, seen from a test
/// executable (`target/<profile>/deps/<test>`); `CORSGATE_BIN` overrides.
pub fn find_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CORSGATE_BIN") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?;
    let bin = dir.join(format!("corsgate{}", std::env::consts::EXE_SUFFIX));
    bin.is_file().then_some(bin)
}

impl Judge for CheckCli<'_> {
    fn name(&self) -> String {
        match self.browser {
            "chromium" => "corsgate check".into(),
            other => format!("corsgate check --browser {other}"),
        }
    }

    fn apis(&self) -> &'static [Api] {
        &[Api::Fetch]
    }

    fn covers(&self, case: &Case) -> bool {
        // A repeated case needs a preflight cache across two commands, and a
        // NUL byte cannot go into a command-line argument.
        // `corsgate check` models `cors` mode only.
        !case.repeat
            && case.request.mode == corsgate_core::Mode::Cors
            && !case.request.headers.iter().any(|(_, v)| v.contains('\0'))
    }

    fn judge(&mut self, site: &Site, case: &Case, _api: Api) -> Result<Observation, String> {
        self.check(site, case, self.browser)
    }
}

impl CheckCli<'_> {
    /// Runs `corsgate check --browser <browser> --json` for the case.
    pub fn check(&self, site: &Site, case: &Case, browser: &str) -> Result<Observation, String> {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("check")
            .arg(case.start_url(site, Api::Check))
            .arg("--origin")
            .arg(&site.page)
            .arg("--method")
            .arg(&case.request.method)
            .arg("--credentials")
            .arg(case.request.credentials.name())
            .arg("--browser")
            .arg(browser)
            .arg("--no-probe")
            .arg("--json")
            .arg("--headers-form")
            .arg(case.request.form.name());
        for (n, v) in &case.request.headers {
            // One argument, so a name starting with `-` is not read as an option.
            cmd.arg(format!("--header={n}: {v}"));
        }
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.binary.display()))?;
        let json: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
            format!(
                "corsgate check printed no JSON ({e}); exit {:?}; stderr: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        let log = self.servers.requests(case.id, Api::Check);
        let trace: Vec<String> = log
            .iter()
            .map(|l| {
                trace_line(
                    l.hop,
                    l.preflight,
                    &l.method,
                    l.origin.as_deref(),
                    l.request_headers.as_deref(),
                )
            })
            .collect();
        let preflights = log.iter().filter(|l| l.preflight).count();
        let requests = log.len() - preflights;
        if let Some(err) = json.get("error") {
            if err["code"] == "bad_arguments" && log.is_empty() {
                return Ok(Observation {
                    outcome: Outcome::Threw,
                    first: None,
                    preflights,
                    requests,
                    trace,
                });
            }
            return Err(format!("corsgate check could not check: {err}"));
        }
        if json["preflight"].as_bool() != Some(preflights > 0) {
            return Err(format!(
                "corsgate check says preflight={} but {preflights} reached the server",
                json["preflight"]
            ));
        }
        let outcome = if json["allowed"].as_bool() == Some(true) {
            let mut readable: Vec<String> = json["exposed_headers"]
                .as_array()
                .ok_or("no exposed_headers in the JSON")?
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            readable.sort();
            readable.dedup();
            Outcome::Allowed {
                status: json["status"]
                    .as_u64()
                    .and_then(|s| u16::try_from(s).ok())
                    .ok_or("no status in the JSON of an allowed request")?,
                readable,
            }
        } else {
            Outcome::Blocked
        };
        Ok(Observation {
            outcome,
            first: None,
            preflights,
            requests,
            trace,
        })
    }
}
