//! The arguments of the subcommands (clap derive) and their parsers: a leaf
//! module (it names no other module of the crate), so every command can
//! take its arguments without depending on the top-level parser
//! ([`crate::Cli`], in `commands`).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use corsgate_core::{Credentials, HeadersForm, Profile};

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When standard output is a terminal (and NO_COLOR is unset).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Arguments of `corsgate playground`.
#[derive(Debug, Args)]
pub struct PlaygroundArgs {
    /// Where the page listens.
    #[arg(long, default_value = "127.0.0.1:8088")]
    pub page: std::net::SocketAddr,
    /// Where the playground's demo gateway listens (another origin).
    #[arg(long, default_value = "127.0.0.1:8089")]
    pub gateway: std::net::SocketAddr,
}

/// The browser to model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BrowserArg {
    /// Chromium, Chrome, Edge.
    Chromium,
    /// Firefox.
    Firefox,
    /// Safari (WebKit).
    Safari,
    /// The Fetch standard to the letter.
    Standard,
}

impl From<BrowserArg> for Profile {
    fn from(b: BrowserArg) -> Profile {
        match b {
            BrowserArg::Chromium => Profile::Chromium,
            BrowserArg::Firefox => Profile::Firefox,
            BrowserArg::Safari => Profile::Safari,
            BrowserArg::Standard => Profile::Standard,
        }
    }
}

/// `fetch`'s credentials mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CredentialsArg {
    /// Never send cookies.
    Omit,
    /// Cookies only to the page's own origin (fetch's default).
    SameOrigin,
    /// Cookies cross-origin too (`credentials: 'include'`, `withCredentials = true`).
    Include,
}

impl From<CredentialsArg> for Credentials {
    fn from(c: CredentialsArg) -> Credentials {
        match c {
            CredentialsArg::Omit => Credentials::Omit,
            CredentialsArg::SameOrigin => Credentials::SameOrigin,
            CredentialsArg::Include => Credentials::Include,
        }
    }
}

/// What `check` and `scan` share: whose behaviour judges the answers, and how
/// the server is reached.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The browser whose behaviour to model (it judges every answer).
    #[arg(long, value_enum, default_value_t = BrowserArg::Chromium)]
    pub browser: BrowserArg,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 10.0, value_parser = parse_timeout)]
    pub timeout: f64,
    /// Also trust the CA certificates in this PEM file (e.g. mkcert's rootCA.pem, a company CA).
    #[arg(long, value_name = "PEM")]
    pub cacert: Option<PathBuf>,
}

fn parse_headers_form(s: &str) -> Result<HeadersForm, String> {
    s.parse()
}

/// `corsgate check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The URL the page's script requests.
    pub url: String,
    /// The page's origin (e.g. https://app.example.com); a page URL works too.
    #[allow(rustdoc::bare_urls)] // the text is also `--help`'s
    #[arg(long, short = 'o')]
    pub origin: String,
    /// The request method, as passed to fetch().
    #[arg(long, short = 'X', default_value = "GET")]
    pub method: String,
    /// A request header script sets, 'Name: value' (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// How script passes the headers to fetch(), which matters when a name is repeated:
    /// 'headers' (a Headers object: the values combined into one line), 'pairs'
    /// ([[name, value], …]: one line each), 'object' (a plain object: a key once, its last
    /// value) or 'set-request-header' (XMLHttpRequest: combined, a forbidden call ignored).
    #[arg(long, value_name = "FORM", default_value = "headers", value_parser = parse_headers_form)]
    pub headers_form: HeadersForm,
    /// The credentials mode.
    #[arg(long, value_enum, default_value_t = CredentialsArg::SameOrigin)]
    pub credentials: CredentialsArg,
    /// A cookie the browser holds for the URL's site, 'name=value' (repeatable), for an
    /// endpoint that answers only signed-in users. Sent as a browser sends cookies: with the
    /// actual request only (never with a preflight), and only when the credentials mode lets
    /// them go there (`--credentials include`, or `same-origin` to the page's own origin).
    #[arg(long = "cookie", value_name = "NAME=VALUE")]
    pub cookies: Vec<String>,
    /// The request body, a string as passed to fetch() (sent with the actual request only;
    /// labelled `Content-Type: text/plain;charset=UTF-8` unless a Content-Type is given).
    #[arg(long, short = 'd')]
    pub body: Option<String>,
    /// The browser modelled, the timeout and extra CA certificates.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Send only what the browser sends. Without it corsgate also sends (a) the probe: when an
    /// answer names the page's origin, that request (the preflight, or a GET/HEAD) once more
    /// with another origin, to spot answers that depend on the origin without `Vary: Origin`
    /// and servers that echo any origin; (b) the requests a failed preflight kept the browser
    /// from sending, when their method is safe (GET, HEAD, OPTIONS), so the fixes can cover
    /// what follows (a redirect, say) instead of stopping at the first answer never received.
    #[arg(long)]
    pub no_probe: bool,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
}

/// `corsgate scan`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  corsgate scan https://api.example.com/me --origin https://app.example.com -H 'Cookie: session=…'\n  corsgate scan --targets urls.txt --origin https://app.example.com --sarif cors.sarif --baseline cors-baseline.toml\n  corsgate scan --openapi openapi.yaml --origin https://app.example.com --fail-on high\n\nExit codes: 0 no finding at or above --fail-on (default low) on any target, 1 findings at or above it (on any target), 2 could not scan (bad arguments or input files, or a target not fully judged — unreachable, probes failed, or nothing judged: every answer a redirect, a 404/410 or a 5xx — and no finding at or above --fail-on). 1 wins over 2; the summary names the targets that were not judged."
)]
pub struct ScanArgs {
    /// The endpoints to scan (http or https). One URL gives the full report; more (or
    /// --targets / --openapi) give one block per target and a summary.
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,
    /// A file of URLs to scan (`-`: standard input): one per line; blank lines and lines
    /// starting with `#` are skipped. A line that is not an http(s) URL is an error (exit 2)
    /// naming FILE:LINE.
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// An OpenAPI 3 document (JSON or YAML): every path under its first server URL is scanned,
    /// with `{parameters}` filled from their examples (or `1`). See docs/scan.md.
    #[arg(long, value_name = "FILE")]
    pub openapi: Option<PathBuf>,
    /// The base URL for --openapi paths instead of the document's `servers` (e.g. a staging host,
    /// or when its server URL is relative).
    #[arg(long, value_name = "URL", requires = "openapi")]
    pub openapi_server: Option<String>,
    /// An origin you trust (repeatable), exact or a pattern (`https://*.example.com`,
    /// `http://localhost:*`): a control that should be allowed, and the base of the hostile
    /// origins the scanner tries (corsgate_core::hostile; what a pattern allows is never hostile).
    #[arg(long = "origin", short = 'o', value_name = "ORIGIN")]
    pub origins: Vec<String>,
    /// A header sent with every GET probe, 'Name: value' (repeatable), e.g. a Cookie or an
    /// Authorization header so the endpoint answers as to a signed-in user. Never sent with
    /// preflights (browsers never do).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// A method the preflight probes ask for (repeatable; default PUT and DELETE).
    #[arg(long = "method", short = 'X', value_name = "METHOD")]
    pub methods: Vec<String>,
    /// The browser modelled, the timeout and extra CA certificates.
    #[command(flatten)]
    pub client: ClientArgs,
    /// At most this many requests in flight at once, over all targets (each target's probes
    /// go up to 4 at a time, so N/4 targets are scanned at once).
    #[arg(long, default_value_t = 16, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=512))]
    pub concurrency: u16,
    /// Exit 1 only for findings of this severity or higher (findings below it are still reported).
    #[arg(long, value_enum, default_value_t = FailOnArg::Low, value_name = "SEVERITY")]
    pub fail_on: FailOnArg,
    /// Findings accepted on purpose (TOML or JSON, format in docs/scan.md): reported as
    /// suppressed, they do not fail the run.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write every finding of this run to FILE as a baseline (TOML, or JSON when FILE ends in
    /// .json); the run then exits 0 unless a target could not be judged (2).
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Also write the results as SARIF 2.1.0 to FILE (for code-scanning dashboards).
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,
    /// What to print on standard output: the human report, one JSON document (schema in
    /// docs/scan.md), or SARIF 2.1.0.
    #[arg(long, value_enum, conflicts_with = "json", value_name = "FORMAT")]
    pub format: Option<FormatArg>,
    /// Print one JSON object (schema in docs/scan.md) instead of the human report (= --format json).
    #[arg(long)]
    pub json: bool,
    /// No progress line on standard error (it is only drawn when standard error is a terminal).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl ScanArgs {
    /// The output format chosen (`--json` is `--format json`).
    pub fn output_format(&self) -> FormatArg {
        match self.format {
            Some(f) => f,
            None if self.json => FormatArg::Json,
            None => FormatArg::Human,
        }
    }
}

/// `corsgate scan --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// The human report.
    Human,
    /// One JSON document.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

/// `corsgate scan --fail-on`: the lowest severity that fails the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    /// Any finding, informational ones included.
    Info,
    /// Low, medium or high (the default).
    Low,
    /// Medium or high.
    Medium,
    /// High only.
    High,
}

/// `corsgate explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The console message, pasted as is (quote it). `-` reads it from standard input.
    pub message: String,
    /// The page's origin, for messages that do not name it (Firefox, Safari).
    #[arg(long, short = 'o')]
    pub origin: Option<String>,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
}

/// `corsgate har`.
#[derive(Debug, Args)]
pub struct HarArgs {
    /// The HAR file, plain or gzip-compressed, or `-` for standard input (Chrome: Network panel → "Save all as HAR"; Firefox: "Save All As HAR").
    pub file: PathBuf,
    /// The browser whose behaviour to model.
    #[arg(long, value_enum, default_value_t = BrowserArg::Chromium)]
    pub browser: BrowserArg,
    /// List the cross-origin requests that pass too, not only those that fail.
    #[arg(long)]
    pub all: bool,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !(v > 0.0 && v <= 3600.0) {
        return Err("the timeout must be more than 0 and at most 3600 seconds".into());
    }
    Ok(v)
}

/// Splits a `Name: value` header argument.
pub fn parse_header(arg: &str) -> Result<(String, String), String> {
    let Some((name, value)) = arg.split_once(':') else {
        return Err(format!(
            "--header '{arg}' has no ':'; write it as 'Name: value'"
        ));
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("--header '{arg}' has an empty name"));
    }
    // Like fetch(), only spaces and tabs around the value are removed: other
    // control bytes (0x0B, 0x0C) stay and count for CORS.
    Ok((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse() {
        assert_eq!(
            parse_header("X-Api-Key:  abc:d ").unwrap(),
            ("X-Api-Key".into(), "abc:d".into())
        );
        assert!(parse_header("nocolon").is_err());
        assert!(parse_header(": v").is_err());
    }

    #[test]
    fn timeout_bounds() {
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("abc").is_err());
        assert_eq!(parse_timeout("2.5").unwrap(), 2.5);
    }
}
