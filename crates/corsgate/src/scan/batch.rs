//! Runs `corsgate scan` over its targets: bounded concurrency, results
//! streamed in input order to every output (standard output, `--sarif`,
//! `--write-baseline`), a progress line on a terminal, and one exit code.
//!
//! Concurrency: `--concurrency N` bounds the requests in flight. Each target's
//! probes go up to [`WORKERS`] at a time, so `N / WORKERS` targets are scanned
//! at once, each by a worker thread that keeps its HTTP clients for the whole
//! run.
//!
//! Memory: a finished target is written out and dropped as soon as every
//! target before it is done. A worker does not start a target more than
//! `window` places ahead of the first unwritten one, so at most `window`
//! reports are held, whatever the number of targets.
//!
//! Exit code: per target, 1 for findings at or above `--fail-on`, 2 when it
//! could not be scanned or some probes failed (and nothing at or above
//! `--fail-on` was found), else 0. The run's code is 1 if any target's is 1,
//! else 2 if any is 2, else 0. With `--write-baseline` findings do not count
//! (they are now accepted): 2 if a target was not judged, else 0.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::json;

use crate::cli::{FormatArg, ScanArgs};
use crate::render::Style;

use super::baseline::{Baseline, BaselineWriter};
use super::sarif::{class_name, SarifWriter};
use super::targets::{self, Target};
use super::{render, scan_target, Observer, ScanError, ScanReport, Settings, Severity, WORKERS};

/// Could not scan.
const EXIT_ERROR: u8 = 2;

/// The outcome of one target.
type Outcome = Result<ScanReport, ScanError>;

/// The progress line: targets (or, for one target, its requests) done.
struct Progress {
    bar: ProgressBar,
    per_request: bool,
    requests: AtomicUsize,
}

impl Observer for Progress {
    fn planned(&self, n: usize) {
        if self.per_request {
            self.bar.set_length(n as u64);
        }
    }
    fn sent(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if self.per_request {
            self.bar.inc(1);
        }
    }
}

impl Progress {
    fn new(visible: bool, targets: usize, per_request: bool) -> Progress {
        let bar = if visible {
            ProgressBar::with_draw_target(Some(targets as u64), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        // One terminal line: `wide_msg` is cut to the width left.
        let template = if per_request {
            "{spinner} scanning [{bar:25}] {pos}/{len} requests ({elapsed})"
        } else {
            "{spinner} scanning [{bar:25}] {pos}/{len} targets ({elapsed}, ETA {eta}) {wide_msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress {
            bar,
            per_request,
            requests: AtomicUsize::new(0),
        }
    }
}

/// The counts of the whole run.
#[derive(Debug, Serialize)]
struct Totals {
    /// Targets given (after duplicates).
    targets: usize,
    /// Targets with findings at or above `--fail-on` (exit 1).
    failing: usize,
    /// Targets judged with nothing at or above `--fail-on`.
    clean: usize,
    /// Targets that could not be scanned, or only in part (exit 2).
    not_judged: usize,
    high: usize,
    medium: usize,
    low: usize,
    info: usize,
    /// Findings suppressed by the baseline.
    suppressed: usize,
    /// Requests sent.
    requests: usize,
    /// Requests that got no answer.
    failed_requests: usize,
    fail_on: Severity,
    exit_code: u8,
    /// Targets given twice, scanned once.
    duplicates: Vec<String>,
    /// Baseline entries that matched no finding.
    stale_baseline_entries: Vec<String>,
}

/// What goes to standard output.
enum Stdout {
    /// The full report of one target.
    Full,
    /// One block per target and a summary.
    Compact,
    /// The `corsgate-scan/2` document of one target.
    JsonOne,
    /// A `corsgate-scan-set/1` document, streamed.
    JsonSet { first: bool },
    /// SARIF, streamed.
    Sarif(Box<SarifWriter<io::Stdout>>),
}

/// A file written through a temporary name, renamed at the end.
struct SarifFile {
    path: PathBuf,
    tmp: PathBuf,
    writer: SarifWriter<BufWriter<File>>,
}

/// Every output, and the counts.
struct Sinks<'a> {
    style: &'a Style,
    stdout: Stdout,
    sarif: Option<SarifFile>,
    baseline_out: Option<BaselineWriter>,
    baseline: Option<Baseline>,
    totals: Totals,
    any_failing: bool,
    any_not_judged: bool,
    /// The first write error of a file output: the run stops.
    failure: Option<String>,
    progress: &'a Progress,
}

fn out(text: &str) {
    let mut o = io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth stopping the scan for.
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
}

/// The command line for SARIF, with `-H` values left out (they often hold secrets).
fn command_line() -> String {
    let mut out = Vec::new();
    let mut redact_next = false;
    for a in std::env::args() {
        if redact_next {
            let name = a.split_once(':').map_or("", |(n, _)| n);
            out.push(format!("'{name}: (redacted)'"));
            redact_next = false;
            continue;
        }
        if a == "-H" || a == "--header" {
            redact_next = true;
            out.push(a);
        } else if let Some(v) = a.strip_prefix("--header=").or_else(|| {
            a.strip_prefix("-H")
                .filter(|v| !v.is_empty() && !a.starts_with("--"))
        }) {
            let name = v.split_once(':').map_or("", |(n, _)| n);
            out.push(format!("'--header={name}: (redacted)'"));
        } else if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
            out.push(format!("'{}'", a.replace('\'', "'\\''")));
        } else {
            out.push(a);
        }
    }
    out.join(" ")
}

fn error_json(e: &ScanError) -> serde_json::Value {
    json!({ "code": e.code(), "message": e.to_string() })
}

/// The compact human block of one target.
fn compact(target: &Target, outcome: &Outcome, code: u8, st: &Style) -> String {
    let mut s = String::new();
    let report = match outcome {
        Err(e) => {
            let _ = writeln!(
                s,
                "{} {}  {}",
                st.warn("!"),
                target.url,
                st.warn(&format!("could not scan: {e}"))
            );
            return s;
        }
        Ok(r) => r,
    };
    let sm = &report.summary;
    let counts = format!(
        "{} high, {} medium, {} low, {} info{}",
        sm.high,
        sm.medium,
        sm.low,
        sm.info,
        if sm.suppressed > 0 {
            format!(", {} suppressed", sm.suppressed)
        } else {
            String::new()
        }
    );
    let mark = match code {
        1 => st.bad("✗"),
        2 => st.warn("!"),
        _ => st.ok("✓"),
    };
    let _ = writeln!(s, "{mark} {}  {}", target.url, st.dim(&counts));
    for f in report
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
    {
        let origin = f
            .origin
            .as_deref()
            .map(|o| format!(" (Origin: {o})"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "    {:<6} {}: {}{origin}",
            f.severity.label(),
            st.bold(class_name(f)),
            f.title
        );
    }
    for x in &report.suppressed {
        let why = x
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "    {}",
            st.dim(&format!(
                "suppressed {} ({}){why}",
                class_name(&x.finding),
                x.finding.severity.label().to_ascii_lowercase()
            ))
        );
    }
    if report.incomplete() {
        let first = report
            .probes
            .iter()
            .find_map(|p| p.error.as_ref())
            .map(|e| format!("; first: {}", e.message))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "    {}",
            st.warn(&format!(
                "incomplete: {} of {} requests failed{first}",
                sm.failed, sm.probes
            ))
        );
    }
    s
}

impl Sinks<'_> {
    fn fail(&mut self, what: &str, e: io::Error) {
        if self.failure.is_none() {
            self.failure = Some(format!("cannot write {what}: {e}"));
        }
    }

    /// One finished target, in input order.
    fn emit(&mut self, target: &Target, mut outcome: Outcome) {
        if let (Ok(report), Some(b)) = (&mut outcome, &mut self.baseline) {
            b.apply(report);
        }
        let code = match &outcome {
            Ok(r) => r.exit_code(),
            Err(_) => EXIT_ERROR,
        };
        let t = &mut self.totals;
        match &outcome {
            Ok(r) => {
                let s = &r.summary;
                t.high += s.high;
                t.medium += s.medium;
                t.low += s.low;
                t.info += s.info;
                t.suppressed += s.suppressed;
                t.requests += s.probes;
                t.failed_requests += s.failed;
                if r.incomplete() {
                    self.any_not_judged = true;
                }
            }
            Err(_) => self.any_not_judged = true,
        }
        match code {
            1 => {
                t.failing += 1;
                self.any_failing = true;
            }
            0 => t.clean += 1,
            _ => t.not_judged += 1,
        }
        let st = self.style;
        let bar = &self.progress.bar;
        match &mut self.stdout {
            Stdout::Full => match &outcome {
                Ok(r) => {
                    bar.finish_and_clear();
                    out(&render(r, st));
                }
                Err(e) => {
                    bar.finish_and_clear();
                    eprintln!("corsgate: could not scan: {e}");
                }
            },
            Stdout::Compact => {
                let text = compact(target, &outcome, code, st);
                bar.suspend(|| out(&text));
            }
            Stdout::JsonOne => match &outcome {
                Ok(r) => out(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(r).unwrap_or_default()
                )),
                Err(e) => {
                    out(&format!("{:#}\n", json!({ "error": error_json(e) })));
                    bar.suspend(|| eprintln!("corsgate: could not scan: {e}"));
                }
            },
            Stdout::JsonSet { first } => {
                let v = json!({
                    "url": target.url,
                    "source": target.source,
                    "exit_code": code,
                    "report": outcome.as_ref().ok(),
                    "error": outcome.as_ref().err().map(error_json),
                });
                let sep = if *first { "\n    " } else { ",\n    " };
                *first = false;
                out(&format!("{sep}{v}"));
            }
            Stdout::Sarif(w) => {
                let _ = match &outcome {
                    Ok(r) => w.report(r),
                    Err(e) => w.error(&target.url, e.code(), &e.to_string()),
                };
            }
        }
        if !matches!(self.stdout, Stdout::Full | Stdout::JsonOne) {
            if let Err(e) = &outcome {
                if !matches!(self.stdout, Stdout::Compact) {
                    bar.suspend(|| eprintln!("corsgate: {}: could not scan: {e}", target.url));
                }
            }
        }
        if let Some(f) = &mut self.sarif {
            let r = match &outcome {
                Ok(r) => f.writer.report(r),
                Err(e) => f.writer.error(&target.url, e.code(), &e.to_string()),
            };
            if let Err(e) = r {
                let what = format!("--sarif {}", f.path.display());
                self.fail(&what, e);
            }
        }
        if let (Some(w), Ok(r)) = (&mut self.baseline_out, &outcome) {
            if let Err(e) = w.report(r) {
                self.fail("--write-baseline", e);
            }
        }
        let t = &self.totals;
        if !self.progress.per_request {
            self.progress.bar.set_message(format!(
                "{} failing, {} not judged, {} requests",
                t.failing,
                t.not_judged,
                self.progress.requests.load(Ordering::Relaxed)
            ));
            self.progress.bar.inc(1);
        }
    }
}

/// The order in which finished targets are written.
struct Order<'a> {
    next: usize,
    written: usize,
    ready: BTreeMap<usize, Outcome>,
    sinks: Sinks<'a>,
}

/// Scans every target, at most `at_once` at a time with `per_target` request workers each.
#[allow(clippy::too_many_arguments)]
fn run_pool(
    list: &[Target],
    settings: &Settings,
    timeout: Duration,
    roots: &[rustls::pki_types::CertificateDer<'static>],
    per_target: usize,
    at_once: usize,
    window: usize,
    progress: &Progress,
    order: &Mutex<Order<'_>>,
) {
    let turn = Condvar::new();
    let lock = || order.lock().unwrap_or_else(|p| p.into_inner());
    std::thread::scope(|s| {
        for _ in 0..at_once.min(list.len()).max(1) {
            s.spawn(|| {
                let clients = super::clients(per_target, timeout, roots);
                loop {
                    let i = {
                        let mut o = lock();
                        while o.next < list.len()
                            && o.next >= o.written + window
                            && o.sinks.failure.is_none()
                        {
                            o = turn.wait(o).unwrap_or_else(|p| p.into_inner());
                        }
                        if o.next >= list.len() || o.sinks.failure.is_some() {
                            break;
                        }
                        o.next += 1;
                        o.next - 1
                    };
                    let target = &list[i];
                    // A bug on one target must not stop (or hang) the others: it is
                    // that target's error.
                    let outcome = match &clients {
                        Ok(c) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            scan_target(settings, &target.url, c, progress)
                        }))
                        .unwrap_or_else(|_| {
                            Err(ScanError::Usage(
                                "internal error while scanning this target (please report it)"
                                    .into(),
                            ))
                        }),
                        Err(e) => Err(ScanError::Usage(e.to_string())),
                    };
                    let mut o = lock();
                    o.ready.insert(i, outcome);
                    loop {
                        let w = o.written;
                        let Some(done) = o.ready.remove(&w) else {
                            break;
                        };
                        o.sinks.emit(&list[w], done);
                        o.written += 1;
                    }
                    drop(o);
                    turn.notify_all();
                }
            });
        }
    });
}

/// Where the run stops before scanning: the message on standard error (and
/// as JSON for `--json`), exit 2.
fn stop(args: &ScanArgs, code: &str, message: &str) -> ExitCode {
    if args.output_format() == FormatArg::Json {
        out(&format!(
            "{:#}\n",
            json!({ "error": { "code": code, "message": message } })
        ));
    }
    eprintln!("corsgate: could not scan: {message}");
    ExitCode::from(EXIT_ERROR)
}

/// `corsgate scan`: validates everything, scans, writes every output, and
/// returns the exit code.
pub fn main(args: &ScanArgs, style: &Style) -> ExitCode {
    let settings = match Settings::from_args(args) {
        Ok(s) => s,
        Err(e) => return stop(args, e.code(), &e.to_string()),
    };
    let targets = match targets::collect(
        &args.urls,
        args.targets.as_deref(),
        args.openapi.as_deref(),
        args.openapi_server.as_deref(),
    ) {
        Ok(t) => t,
        Err(e) => return stop(args, "bad_arguments", &e),
    };
    let baseline = match args.baseline.as_deref().map(Baseline::load).transpose() {
        Ok(b) => b,
        Err(e) => return stop(args, "bad_arguments", &e),
    };
    let roots = match args.client.roots() {
        Ok(r) => r,
        Err(e) => return stop(args, "bad_arguments", &e.to_string()),
    };
    let timeout = args.client.timeout();
    // A client that cannot start (a bad --cacert) is an argument error, said once.
    if let Err(e) = super::clients(1, timeout, &roots) {
        return stop(args, e.code(), &e.to_string());
    }
    let single = args.urls.len() == 1 && args.targets.is_none() && args.openapi.is_none();
    let format = args.output_format();
    let stdout = match (format, single) {
        (FormatArg::Human, true) => Stdout::Full,
        (FormatArg::Human, false) => Stdout::Compact,
        (FormatArg::Json, true) => Stdout::JsonOne,
        (FormatArg::Json, false) => Stdout::JsonSet { first: true },
        (FormatArg::Sarif, _) => match SarifWriter::new(io::stdout()) {
            Ok(w) => Stdout::Sarif(Box::new(w)),
            Err(e) => return stop(args, "io", &format!("cannot write standard output: {e}")),
        },
    };
    let sarif = match &args.sarif {
        None => None,
        Some(path) => {
            let tmp = tmp_path(path);
            match File::create(&tmp).and_then(|f| SarifWriter::new(BufWriter::new(f))) {
                Ok(writer) => Some(SarifFile {
                    path: path.clone(),
                    tmp,
                    writer,
                }),
                Err(e) => return stop(args, "io", &format!("--sarif {}: {e}", path.display())),
            }
        }
    };
    let baseline_out = match &args.write_baseline {
        None => None,
        Some(path) => match BaselineWriter::create(path) {
            Ok(w) => Some(w),
            Err(e) => {
                if let Some(f) = sarif {
                    drop(f.writer);
                    let _ = std::fs::remove_file(&f.tmp);
                }
                return stop(
                    args,
                    "io",
                    &format!("--write-baseline {}: {e}", path.display()),
                );
            }
        },
    };
    let list = targets.list;
    let concurrency = usize::from(args.concurrency).max(1);
    let per_target = WORKERS.min(concurrency);
    let at_once = (concurrency / per_target).max(1);
    let window = (at_once * 8).max(32);
    let visible = !args.quiet && io::stderr().is_terminal();
    let progress = Progress::new(visible, list.len(), single);
    if let Stdout::Compact = stdout {
        let trusted = if args.origins.is_empty() {
            "none given (--origin)".to_owned()
        } else {
            args.origins.join(", ")
        };
        progress.bar.suspend(|| {
            out(&format!(
                "{} {} targets\n  {}\n\n",
                style.bold("corsgate scan"),
                list.len(),
                style.dim(&format!(
                    "browser model: {} · trusted origins: {trusted} · up to {} requests at once · fail on: {} and above",
                    args.client.profile().name(),
                    per_target * at_once,
                    Severity::from(args.fail_on).label().to_ascii_lowercase()
                ))
            ))
        });
    }
    if let Stdout::JsonSet { .. } = stdout {
        out("{\n  \"schema\": \"corsgate-scan-set/1\",\n  \"targets\": [");
    }
    for d in &targets.duplicates {
        progress
            .bar
            .suspend(|| eprintln!("corsgate: note: {d}; scanned once"));
    }
    let sinks = Sinks {
        style,
        stdout,
        sarif,
        baseline_out,
        baseline,
        totals: Totals {
            targets: list.len(),
            failing: 0,
            clean: 0,
            not_judged: 0,
            high: 0,
            medium: 0,
            low: 0,
            info: 0,
            suppressed: 0,
            requests: 0,
            failed_requests: 0,
            fail_on: args.fail_on.into(),
            exit_code: 0,
            duplicates: targets.duplicates,
            stale_baseline_entries: Vec::new(),
        },
        any_failing: false,
        any_not_judged: false,
        failure: None,
        progress: &progress,
    };
    let order = Mutex::new(Order {
        next: 0,
        written: 0,
        ready: BTreeMap::new(),
        sinks,
    });
    run_pool(
        &list, &settings, timeout, &roots, per_target, at_once, window, &progress, &order,
    );
    progress.bar.finish_and_clear();
    let o = order.into_inner().unwrap_or_else(|p| p.into_inner());
    let written = o.written;
    let mut sinks = o.sinks;
    let mut code = if sinks.baseline_out.is_some() {
        if sinks.any_not_judged {
            EXIT_ERROR
        } else {
            0
        }
    } else if sinks.any_failing {
        1
    } else if sinks.any_not_judged {
        EXIT_ERROR
    } else {
        0
    };
    if written < list.len() {
        code = EXIT_ERROR;
    }
    if let Some(b) = &sinks.baseline {
        sinks.totals.stale_baseline_entries = b.stale();
    }
    sinks.totals.exit_code = code;
    let stale = &sinks.totals.stale_baseline_entries;
    for s in stale.iter().take(20) {
        eprintln!("corsgate: note: {s}");
    }
    if stale.len() > 20 {
        eprintln!(
            "corsgate: note: … and {} more stale baseline entries",
            stale.len() - 20
        );
    }
    let command = command_line();
    match std::mem::replace(&mut sinks.stdout, Stdout::Full) {
        Stdout::Compact => out(&summary_line(&sinks.totals, style)),
        Stdout::JsonSet { first } => {
            let end = if first { "" } else { "\n  " };
            out(&format!(
                "{end}],\n  \"summary\": {}\n}}\n",
                serde_json::to_string(&sinks.totals).unwrap_or_default()
            ));
        }
        Stdout::Sarif(w) => {
            if let Err(e) = w.finish(code, &command) {
                sinks.fail("standard output", e);
            }
        }
        Stdout::Full | Stdout::JsonOne => {}
    }
    if let Some(f) = sinks.sarif.take() {
        let done = f
            .writer
            .finish(code, &command)
            .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
            .and_then(|file| file.sync_all())
            .and_then(|()| std::fs::rename(&f.tmp, &f.path));
        if let Err(e) = done {
            let _ = std::fs::remove_file(&f.tmp);
            sinks.fail(&format!("--sarif {}", f.path.display()), e);
        }
    }
    if let Some(w) = sinks.baseline_out.take() {
        if sinks.failure.is_some() {
            w.abandon();
        } else if let Err(e) = w.finish() {
            sinks.fail("--write-baseline", e);
        }
    }
    if let Some(f) = &sinks.failure {
        eprintln!(
            "corsgate: {f} (scanned {written} of {} targets)",
            list.len()
        );
        return ExitCode::from(EXIT_ERROR);
    }
    ExitCode::from(code)
}

/// The last line of the compact report.
fn summary_line(t: &Totals, st: &Style) -> String {
    let counts = format!(
        "{} high, {} medium, {} low, {} info{}",
        t.high,
        t.medium,
        t.low,
        t.info,
        if t.suppressed > 0 {
            format!(", {} suppressed", t.suppressed)
        } else {
            String::new()
        }
    );
    let line = format!(
        "Result: {} targets: {} failing (findings at or above {}), {} clean, {} not judged · {counts} · {} requests, {} failed",
        t.targets,
        t.failing,
        t.fail_on.label().to_ascii_lowercase(),
        t.clean,
        t.not_judged,
        t.requests,
        t.failed_requests
    );
    let line = match t.exit_code {
        0 => st.ok(&line),
        1 => st.bad(&line),
        _ => st.warn(&line),
    };
    format!("\n{line}\n")
}
