//! `corsgate infer`: reads traffic (DevTools HAR files, plain or
//! gzip-compressed, or standard input) and proposes the tightest policy that
//! allows every cross-origin request seen ([`corsgate_core::infer`] does the
//! proposing; this module reads the files and prints).
//!
//! What each entry contributes:
//! * a preflight: its `Origin`, the method it asks for and the headers it
//!   announces (exactly what the policy must allow);
//! * a cross-origin request: its `Origin`, method and the headers script set
//!   (browser-added ones left out), credentials when it carried a `Cookie`,
//!   and the response headers it could read: those its answer exposed by
//!   name and carried (a HAR does not show what script read; an answer that
//!   exposes `*` contributes none, said in a note).
//!
//! Same-origin requests, navigations and `no-cors` loads are not CORS and
//! are skipped; every entry is counted.
//!
//! The gateway's decision log (`corsgate-decisions/1`) is read beside HARs
//! ([`declog`]): a file is one when its first line says so, or when given
//! with `--decision-log`; its requests join the HARs' in one proposal.

use std::path::PathBuf;

use corsgate_core::infer::{infer, InferOptions, Inference, Observed};
use corsgate_core::policy::PolicyConfig;

use crate::har::{self, browser_added, Entry, EntrySink, HarError};

pub mod declog;

/// What `corsgate infer` was asked.
#[derive(Debug, Clone, clap::Args)]
pub struct InferArgs {
    /// HAR files (several front-ends' recordings may be given) or gateway
    /// decision logs (told by their first line), plain or gzip-compressed;
    /// `-` for standard input.
    #[arg(required_unless_present = "decision_logs")]
    pub files: Vec<PathBuf>,
    /// A gateway decision log (`corsgate-decisions/1`, `[decision_log]` of
    /// `corsgate serve`), read as one whatever its first line.
    #[arg(long = "decision-log", value_name = "FILE")]
    pub decision_logs: Vec<PathBuf>,
    /// Also propose the requests a decision log shows refused (left out by
    /// default: anyone can make the gateway refuse a request).
    #[arg(long)]
    pub include_refused: bool,
    /// The policy in force today (TOML): also print what it allows that the
    /// proposal refuses.
    #[arg(long, value_name = "POLICY.toml")]
    pub against: Option<PathBuf>,
    /// An origin pattern to use for the origins it matches
    /// (`https://*.preview.example.com`); never over a public suffix.
    #[arg(long = "pattern", value_name = "PATTERN")]
    pub patterns: Vec<String>,
    /// The preflight cache lifetime to propose, in seconds.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u32).range(0..=86_400))]
    pub max_age: u32,
}

/// Why inference could not run.
#[derive(Debug)]
pub enum InferCmdError {
    /// A HAR file could not be read.
    Har(HarError),
    /// A decision log could not be read, or is of an unknown format version.
    DecisionLog(String),
    /// The current policy could not be read.
    Against(String),
    /// A pattern is refused, or the proposal did not validate.
    Infer(corsgate_core::infer::InferError),
}

impl std::fmt::Display for InferCmdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InferCmdError::Har(e) => e.fmt(f),
            InferCmdError::DecisionLog(e) => f.write_str(e),
            InferCmdError::Against(e) => f.write_str(e),
            InferCmdError::Infer(e) => e.fmt(f),
        }
    }
}

/// What the HAR files showed, before proposing.
#[derive(Debug, Default)]
pub struct Traffic {
    /// The requests, in file order.
    pub observed: Vec<Observed>,
    /// Entries read, in all files.
    pub entries: usize,
    /// Notes on what the files cannot show.
    pub notes: Vec<String>,
}

struct Sink<'a> {
    file: String,
    traffic: &'a mut Traffic,
    index: usize,
    tally: Tally,
}

/// What the files leave unknown, counted for the notes.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    /// Answers that exposed every header (`*`).
    exposes_any: usize,
    /// Requests without a cookie answered with `Allow-Credentials: true`:
    /// the page may fetch them with `credentials: 'include'`, which a HAR
    /// does not record.
    credentials_unknown: usize,
    /// Answers that exposed a header by name and carried it: whether
    /// script read it is not in a HAR.
    exposed_unknown: usize,
}

impl EntrySink for Sink<'_> {
    fn next_index(&self) -> usize {
        self.index
    }
    fn creator(&mut self, _name: Option<String>) {}
    fn entry(&mut self, index: usize, e: Entry<'_>) {
        self.index = index + 1;
        self.traffic.entries += 1;
        if let Some(o) = observe(&self.file, index, &e, &mut self.tally) {
            self.traffic.observed.push(o);
        }
    }
}

/// The request an entry shows, if it is a cross-origin CORS request or a
/// preflight.
fn observe(file: &str, index: usize, e: &Entry<'_>, tally: &mut Tally) -> Option<Observed> {
    let headers = har::list(&e.request.headers);
    let origin = headers.get_str("origin")?;
    if har::cors_request(e, &headers, &origin)? {
        return None;
    }
    let source = format!("{file} #{index} {} {}", e.request.method, e.request.url);
    if e.request.method == "OPTIONS" {
        if let Some(method) = headers.get_str("access-control-request-method") {
            let mut o =
                Observed::new(origin, method.trim()).source(format!("{source} (preflight)"));
            if let Some(names) = headers.get_str("access-control-request-headers") {
                o = o.announced(names);
            }
            return Some(o);
        }
    }
    let mut o = Observed::new(origin, e.request.method.as_str()).source(source);
    for (name, value) in headers.iter() {
        let lower = name.to_ascii_lowercase();
        if lower == "cookie" {
            o = o.credentials(true);
        } else if !browser_added(name)
            && !matches!(
                lower.as_str(),
                "origin" | "referer" | "host" | "connection" | "content-length"
            )
        {
            o = o.header(name, value);
        }
    }
    let response = har::list(&e.response.headers);
    let grants_credentials = response
        .get_str("access-control-allow-credentials")
        .is_some_and(|v| v.trim() == "true");
    if grants_credentials && !o.credentials && e.response.status != 0 {
        tally.credentials_unknown += 1;
    }
    if let Some(exposed) = response.get_str("access-control-expose-headers") {
        for name in exposed.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "*" {
                tally.exposes_any += 1;
            } else if response.contains(name) {
                o = o.expose(name.to_ascii_lowercase());
            }
        }
        if !o.expose.is_empty() {
            tally.exposed_unknown += 1;
        }
    }
    Some(o)
}

/// Reads every file's requests (HARs, decision logs told by their first
/// line, and `decision_logs` read as logs whatever they start with).
pub fn read(
    files: &[PathBuf],
    decision_logs: &[PathBuf],
    include_refused: bool,
) -> Result<Traffic, InferCmdError> {
    let mut traffic = Traffic::default();
    let (mut exposes_any, mut credentials_unknown, mut exposed_unknown) = (0, 0, 0);
    let mut logs = declog::Tally::default();
    let inputs = files
        .iter()
        .map(|f| (f, false))
        .chain(decision_logs.iter().map(|f| (f, true)));
    for (f, is_log) in inputs {
        let mut raw = har::open(f).map_err(InferCmdError::Har)?;
        let head =
            declog::head(&mut raw).map_err(|e| InferCmdError::Har(HarError::Io(f.clone(), e)))?;
        let is_log = is_log || declog::looks_like(&head);
        let input = std::io::BufReader::new(std::io::Read::chain(std::io::Cursor::new(head), raw));
        let file = f.display().to_string();
        if is_log {
            declog::read(
                &file,
                input,
                include_refused,
                &mut traffic.observed,
                &mut logs,
            )
            .map_err(|e| match e {
                declog::Fatal::Io(m) | declog::Fatal::Version(m) => InferCmdError::DecisionLog(m),
            })?;
            continue;
        }
        let mut sink = Sink {
            file,
            traffic: &mut traffic,
            index: 0,
            tally: Tally::default(),
        };
        har::read_entries(input, &mut sink).map_err(InferCmdError::Har)?;
        exposes_any += sink.tally.exposes_any;
        credentials_unknown += sink.tally.credentials_unknown;
        exposed_unknown += sink.tally.exposed_unknown;
    }
    traffic.entries += logs.lines;
    exposes_any += logs.exposed_any;
    exposed_unknown += logs.exposed_named;
    if credentials_unknown > 0 {
        traffic.notes.push(format!(
            "{credentials_unknown} request(s) carried no cookie but were answered with Access-Control-Allow-Credentials: true; a HAR does not record whether the page fetched them with credentials: 'include' (which needs credentials = true even without cookies). Only a carried cookie counts here. A shadow run cannot settle it (the gateway does not see the credentials mode: a candidate without credentials counts headers_differ on every such request, whatever the page does); the page can: look for credentials: 'include' or withCredentials in its code, or run it against a gateway enforcing this proposal, where Chromium refuses such a fetch because Access-Control-Allow-Credentials is not 'true' while the request's credentials mode is 'include'"
        ));
    }
    if exposed_unknown > 0 {
        traffic.notes.push(format!(
            "expose_headers holds the headers {exposed_unknown} answer(s) exposed by name and carried; neither a HAR nor a decision log shows whether script read them, so each is a guess that the page reads it. To settle it, remove one and run the front-end's own tests against a gateway enforcing the result: a header no test misses is not needed"
        ));
    }
    if exposes_any > 0 {
        traffic.notes.push(format!(
            "{exposes_any} answer(s) exposed every header (`*`): which of them script read is not in a HAR, so none was added; list the ones the page reads in expose_headers"
        ));
    }
    traffic.notes.extend(decision_log_notes(&logs));
    Ok(traffic)
}

/// The notes on what decision logs showed and the proposal leaves out.
fn decision_log_notes(logs: &declog::Tally) -> Vec<String> {
    let list = |v: &declog::Listed| {
        let mut s: Vec<&str> = v.first.iter().map(String::as_str).collect();
        let more = v.count - v.first.len();
        let more = (more > 0).then(|| format!("and {more} more"));
        s.extend(more.as_deref());
        s.join("; ")
    };
    let mut notes = Vec::new();
    if logs.malformed.count > 0 {
        notes.push(format!(
            "{} malformed decision log line(s) were not read, so the requests they record are not in this proposal: {}",
            logs.malformed.count,
            list(&logs.malformed)
        ));
    }
    if logs.refused.count > 0 {
        notes.push(format!(
            "{} request(s) the gateway refused are not proposed (anyone can send one; --include-refused proposes them): {}",
            logs.refused.count,
            list(&logs.refused)
        ));
    }
    if logs.clipped.count > 0 {
        notes.push(format!(
            "{} decision log line(s) hold a value the gateway clipped or names it omitted (over its bounds), so they are not the request as sent and are not proposed: {}",
            logs.clipped.count,
            list(&logs.clipped)
        ));
    }
    if logs.same_origin > 0 {
        notes.push(format!(
            "{} decision log line(s) came from the site's own origin (the Origin's host and port are the request's Host) and need no CORS",
            logs.same_origin
        ));
    }
    notes
}

/// Runs `corsgate infer`: the proposal and, with `--against`, what the
/// current policy allows that it refuses.
pub fn run(args: &InferArgs) -> Result<(Inference, Traffic, Option<PolicyConfig>), InferCmdError> {
    let traffic = read(&args.files, &args.decision_logs, args.include_refused)?;
    for p in &args.patterns {
        if let Some(why) = pattern_over_public_suffix(p) {
            return Err(InferCmdError::Infer(
                corsgate_core::infer::InferError::Pattern {
                    pattern: p.clone(),
                    why,
                },
            ));
        }
    }
    let options = InferOptions {
        patterns: args.patterns.clone(),
        max_age: args.max_age,
    };
    let inference = infer(&traffic.observed, &options).map_err(InferCmdError::Infer)?;
    let current = match &args.against {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                InferCmdError::Against(format!("cannot read {}: {e}", path.display()))
            })?;
            let policy = corsgate_core::policy::Policy::from_toml(&text).map_err(|e| {
                InferCmdError::Against(format!("{}: not a valid policy: {e}", path.display()))
            })?;
            Some(policy.config().clone())
        }
    };
    Ok((inference, traffic, current))
}

/// Why a pattern would cover a public suffix (`https://*.github.io`,
/// `https://*.co.uk`), if it would: every site under it belongs to someone
/// else.
fn pattern_over_public_suffix(pattern: &str) -> Option<String> {
    let rest = pattern.split_once("://").map_or(pattern, |(_, r)| r);
    let host = rest.strip_prefix("*.")?;
    let host = host.split(':').next().unwrap_or(host).trim_end_matches('.');
    // Only listed suffixes: the list's implicit rule would make any unknown
    // name (`localhost`, an internal TLD) a suffix too.
    let suffix = psl::suffix(host.as_bytes()).filter(|s| s.is_known())?;
    (suffix.as_bytes().eq_ignore_ascii_case(host.as_bytes())).then(|| {
        format!(
            "`{host}` is a public suffix: `*.{host}` would allow every site registered under it"
        )
    })
}

/// The human report: the TOML, then notes and narrowings as comments.
pub fn render(inference: &Inference, traffic: &Traffic, current: Option<&PolicyConfig>) -> String {
    let mut out = inference.to_toml();
    for n in &traffic.notes {
        // A note may quote a log line's values (a refused origin): a
        // control character in one must not end the comment.
        out.push_str("# note: ");
        for c in n.chars() {
            if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        out.push('\n');
    }
    if let Some(current) = current {
        let narrowings = inference.narrowings(current);
        if narrowings.is_empty() {
            out.push_str("# against the current policy: it allows nothing this proposal refuses\n");
        } else {
            out.push_str("# against the current policy, this proposal no longer allows:\n");
            for n in narrowings {
                out.push_str(&format!("#   {} = {}\n", n.setting, n.value));
            }
        }
    }
    if inference.policy().is_none() {
        out.push_str("# no request a safe policy can allow was seen: no policy to propose\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_over_public_suffixes_are_refused() {
        for (p, refused) in [
            ("https://*.github.io", true),
            ("https://*.co.uk", true),
            ("https://*.com", true),
            ("https://*.example.com", false),
            ("https://*.preview.example.co.uk", false),
            ("http://*.localhost:*", false),
            ("https://*.internal", false),
            ("https://*.s3.amazonaws.com", true),
        ] {
            assert_eq!(pattern_over_public_suffix(p).is_some(), refused, "{p}");
        }
    }
}
