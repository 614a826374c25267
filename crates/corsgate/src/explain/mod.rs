//! `corsgate explain`: reads a Chrome, Firefox or Safari console CORS message
//! (pasted as is: with console noise around it, line breaks in it, or cut
//! short), finds which message of which family it is in [`table`], and says
//! what the message proves, what it only suggests (guesses, each with the
//! check that settles it, usually a `corsgate check` line), and the fix,
//! through the engine's refusal enum.
//!
//! * [`table`] — one table per message family (Chromium, Firefox, WebKit).
//! * `parse` — reading a pasted message into a row, its value, URLs, origin
//!   and status, for each family.
//!
//! Redirect-aware: after a redirect across origins from a cross-origin URL,
//! Chromium sent `Origin: null` although its message quotes the page's
//! origin; the explanation says so, and the fix is the client's. Status-aware:
//! a status in the message (Firefox's "Status code: N", Safari's, a pasted
//! `net::ERR_FAILED 404` line) picks the guess it points to.

mod parse;
pub mod table;

use std::fmt::Write as _;
use std::io::Read;

use corsgate_core::remedy::RemedyContext;
use corsgate_core::{Refusal, Stage};
use serde::Serialize;

use crate::cli::ExplainArgs;
use crate::render::Style;
use crate::report::{Fix, ServerKind};

use parse::{Kind, Parsed};
use table::Settle;

/// A guess: what the message suggests without proving it, and what settles it.
#[derive(Debug, Clone, Serialize)]
pub struct Guess {
    /// The guess, worded as one ("perhaps …").
    pub guess: String,
    /// The check that settles it (a `corsgate check` line, or where to look).
    pub settle: String,
}

/// What a console message says.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// `chrome`, `firefox`, `safari`, or `chrome_or_safari` for a message
    /// both print alike.
    pub browser: &'static str,
    /// Stable code: the refusal's code, or one of `network_error`,
    /// `cors_disabled`, `origin_header_not_added`, `local_network_access`,
    /// `access_control_checks` (Safari's line that names no reason),
    /// `load_failed` (Safari's `fetch()` failure without a reason),
    /// `forbidden_request_header` (script set a header only the browser may set).
    pub code: &'static str,
    /// The message's row in its family's table (Chromium's `CorsError`,
    /// Firefox's console category, a name for WebKit's message).
    pub message_key: &'static str,
    /// Chromium's `CorsError` name.
    pub chromium: Option<&'static str>,
    /// Firefox's console key.
    pub firefox: Option<&'static str>,
    /// Whether it is about CORS headers at all (false: a network failure the
    /// browser reports in the same place).
    pub is_cors: bool,
    /// Whether the preflight failed (null when the message does not say).
    pub preflight: Option<bool>,
    /// The URL requested (the last one, after redirects).
    pub url: Option<String>,
    /// The first URL, when the request was redirected.
    pub redirected_from: Option<String>,
    /// The page's origin.
    pub origin: Option<String>,
    /// The origin the browser sent, when the message proves it differs from
    /// the page's (`null` after a cross-origin redirect).
    pub sent_origin: Option<String>,
    /// The status the message gives.
    pub status: Option<u16>,
    /// The value the message quotes (a header value, method or header name).
    pub value: Option<String>,
    /// What the message proves.
    pub proves: String,
    /// What it suggests without proving: guesses, each with its check.
    pub suggests: Vec<Guess>,
    /// The `corsgate check` line that reproduces the request.
    pub check: Option<String>,
    /// What it means (the same as `proves`, for older consumers).
    pub meaning: String,
    /// The guesses' texts (the same as `suggests`, for older consumers).
    pub causes: Vec<String>,
    /// The fix.
    pub fix: Option<Fix>,
    /// The refusal, structured.
    pub details: Option<Refusal>,
}

/// Reads the message (or stdin for `-`) and explains it.
pub fn run(args: &ExplainArgs) -> Result<Explanation, String> {
    let text = if args.message == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read the message from standard input: {e}"))?;
        s
    } else {
        args.message.clone()
    };
    explain(&text, args.origin.as_deref()).ok_or_else(|| {
        "this does not look like a Chrome, Firefox or Safari CORS console message; paste the whole line, e.g. \"Access to fetch at '…' from origin '…' has been blocked by CORS policy: …\" or \"Cross-Origin Request Blocked: …\"".to_owned()
    })
}

/// Stands for the page's origin when the message does not name it.
pub(crate) const UNKNOWN_ORIGIN: &str = "<page origin>";

/// Explains one message, or `None` when it is not a CORS console message.
/// `origin` is the page's origin when the caller knows it (Firefox and
/// Safari messages do not always name it).
pub fn explain(raw: &str, origin: Option<&str>) -> Option<Explanation> {
    // Typographic quotes (Firefox), and whitespace from copying: line breaks
    // between words; failing that, breaks a terminal put inside a word.
    let quotes = raw.replace(['\u{2018}', '\u{2019}'], "'");
    let spaced: String = quotes.split_whitespace().collect::<Vec<_>>().join(" ");
    let joined: String = quotes
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .collect::<Vec<_>>()
        .join("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let page = origin.unwrap_or(UNKNOWN_ORIGIN);
    let mut parsed = parse::any(&spaced, page).or_else(|| parse::any(&joined, page))?;
    if parsed.origin.is_none() {
        parsed.origin = origin.map(str::to_owned);
    }
    Some(build(parsed))
}

/// The `corsgate check` line that reproduces the request, as far as the
/// message tells it.
fn check_line(p: &Parsed, r: Option<&Refusal>) -> String {
    let url = p
        .redirected_from
        .as_deref()
        .or(p.url.as_deref())
        .unwrap_or("<url>");
    let origin = p.origin.as_deref().unwrap_or(UNKNOWN_ORIGIN);
    let mut line = format!("corsgate check '{url}' --origin '{origin}'");
    match r {
        Some(Refusal::MethodNotAllowed { method, .. }) if !method.starts_with('<') => {
            let _ = write!(line, " --method {method}");
        }
        Some(Refusal::HeaderNotAllowed { header, .. }) => {
            let _ = write!(line, " --header '{header}: <value>'");
        }
        _ if p.preflight == Some(true) || p.row.is_some_and(|r| r.key.contains("Method")) => {
            line.push_str(" --method <METHOD> --header '<Name: value>'");
        }
        _ => {}
    }
    let credentialed = matches!(
        r,
        Some(
            Refusal::WildcardOriginWithCredentials { .. } | Refusal::InvalidAllowCredentials { .. }
        )
    );
    if credentialed {
        line.push_str(" --credentials include");
    }
    line
}

fn settle_text(s: Settle, check: &str) -> String {
    match s {
        Settle::Check => format!("run `{check}`"),
        Settle::Network => format!(
            "look at the request in the browser's Network panel (status, and whether an OPTIONS preflight went first), or run `{check}`"
        ),
        Settle::Code => "look at the page's code that makes the request".to_owned(),
        Settle::Elsewhere => {
            "try the request in a fresh browser profile without extensions, or from another network"
                .to_owned()
        }
    }
}

/// The guess a status points to, when the message gives one.
fn status_guess(status: u16, preflight: bool) -> Option<&'static str> {
    Some(match status {
        401 | 403 if preflight => "the status (401/403) suggests authentication or authorization runs before CORS and refuses the preflight, which never carries cookies or tokens",
        401 | 403 => "the status (401/403) suggests the answer came from an authentication layer outside the CORS setup",
        404 | 405 if preflight => "the status (404/405) suggests no route answers OPTIONS for this path, and no CORS layer in front of the router does",
        404 | 405 => "the status (404/405) suggests the answer came from the router's fallback, outside the CORS setup",
        300..=399 => "the status (3xx) suggests a redirect: a trailing slash, http to https, or a login page",
        500..=599 => "the status (5xx) suggests the server failed, and its error answer skips the CORS layer",
        _ => return None,
    })
}

fn fill(template: &str, p: &Parsed, response: &str) -> String {
    let status = match p.status {
        Some(s) if s > 0 => format!(" with status {s}"),
        _ => String::new(),
    };
    template
        .replace("{response}", response)
        .replace("{value}", p.value.as_deref().unwrap_or("…"))
        .replace("{status}", &status)
        .replace("{origin}", p.origin.as_deref().unwrap_or(UNKNOWN_ORIGIN))
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn build(p: Parsed) -> Explanation {
    let refusal = match &p.kind {
        Kind::Refusal(r) => Some(r.clone()),
        Kind::Other { .. } => None,
    };
    let check = check_line(&p, refusal.as_ref());
    let response = match p.preflight {
        Some(true) => "the preflight (OPTIONS) response",
        Some(false) => "the response",
        None => "a response",
    };
    let mut proves = p
        .row
        .map(|row| fill(row.proves, &p, response))
        .unwrap_or_default();
    let mut suggests: Vec<Guess> = p
        .row
        .map(|row| {
            row.guesses
                .iter()
                .map(|(g, s)| Guess {
                    guess: (*g).to_owned(),
                    settle: settle_text(*s, &check),
                })
                .collect()
        })
        .unwrap_or_default();
    let tainted = p.sent_origin.as_deref() == Some("null");
    if tainted {
        proves.push_str(&format!(
            ". The request was redirected from {} to another origin, so Chromium sent `Origin: null` (the message quotes the page's origin): the answer was judged against `null`, and no safe answer can allow `null`",
            p.redirected_from.as_deref().unwrap_or("its first URL")
        ));
        suggests.insert(
            0,
            Guess {
                guess: format!(
                    "perhaps the page can request {} directly, or the server can keep its redirect on its own origin",
                    p.url.as_deref().unwrap_or("the final URL")
                ),
                settle: format!(
                    "run `corsgate check '{}' --origin '{}'`",
                    p.url.as_deref().unwrap_or("<final url>"),
                    p.origin.as_deref().unwrap_or(UNKNOWN_ORIGIN)
                ),
            },
        );
    } else if let Some(
        Refusal::AllowOriginMismatch { value, origin, .. }
        | Refusal::InvalidAllowOrigin { value, origin, .. },
    ) = &refusal
    {
        // What the two strings prove by themselves.
        if origin != UNKNOWN_ORIGIN && !value.is_empty() {
            let why = crate::hints::mixup(value, origin).or_else(|| {
                (value.len() > 1 && value.ends_with('/'))
                    .then(|| "the allowed value ends with a slash; an origin never has one".into())
            });
            if let Some(why) = why {
                proves.push_str(&format!(" (here: '{value}' against '{origin}': {why})"));
            }
        }
    }
    if let Some(s) = p.status.filter(|s| *s > 0) {
        let preflight = p.preflight == Some(true)
            || matches!(
                refusal,
                Some(Refusal::PreflightStatus { .. } | Refusal::PreflightRedirect { .. })
            );
        if let Some(g) = status_guess(s, preflight) {
            // The status settles the guesses about other statuses.
            suggests.retain(|g| {
                !["401", "404", "5xx", "3xx"]
                    .iter()
                    .any(|code| g.guess.contains(code))
            });
            suggests.insert(
                0,
                Guess {
                    guess: g.to_owned(),
                    settle: settle_text(Settle::Check, &check),
                },
            );
        }
    }
    let key = p.row.map(|r| r.key).unwrap_or("unknown");
    let proves = upper_first(&proves);
    let causes = suggests
        .iter()
        .map(|g| format!("{} (to settle it: {})", g.guess, g.settle))
        .collect();
    let ctx = refusal.as_ref().map(|r| context(r, &p));
    match p.kind {
        Kind::Refusal(r) => {
            let fix = Some(Fix::new(
                r.remedy(&ctx.unwrap_or_default()),
                ServerKind::Unknown,
                false,
            ));
            let preflight = p
                .preflight
                .or(Some(r.stage() == Stage::Preflight))
                .filter(|_| p.browser == "chrome" || r.stage() == Stage::Preflight);
            Explanation {
                browser: p.browser,
                code: r.code(),
                message_key: key,
                chromium: r.chromium_error(),
                firefox: r.firefox_error(),
                is_cors: r.is_cors(),
                preflight,
                url: p.url,
                redirected_from: p.redirected_from,
                origin: p.origin,
                sent_origin: p.sent_origin,
                status: p.status.filter(|s| *s > 0),
                value: p.value,
                meaning: proves.clone(),
                proves,
                suggests,
                check: Some(check),
                causes,
                fix,
                details: Some(r),
            }
        }
        Kind::Other {
            code,
            chromium,
            firefox,
            is_cors,
        } => Explanation {
            browser: p.browser,
            code,
            message_key: key,
            chromium,
            firefox,
            is_cors,
            preflight: p.preflight,
            url: p.url,
            redirected_from: p.redirected_from,
            origin: p.origin,
            sent_origin: p.sent_origin,
            status: p.status.filter(|s| *s > 0),
            value: None,
            meaning: proves.clone(),
            proves,
            suggests,
            check: Some(check),
            causes,
            fix: None,
            details: None,
        },
    }
}

/// What the message tells about the request, for the structured fix.
fn context(r: &Refusal, p: &Parsed) -> RemedyContext {
    let mut ctx = RemedyContext {
        url: p.url.clone().unwrap_or_default(),
        origin: p
            .origin
            .clone()
            .unwrap_or_else(|| UNKNOWN_ORIGIN.to_owned()),
        ..Default::default()
    };
    match r {
        Refusal::MethodNotAllowed { method, .. } => ctx.method = method.clone(),
        Refusal::HeaderNotAllowed { header, .. } => ctx.unsafe_headers = vec![header.clone()],
        // The message does not say what the request sends: a placeholder,
        // never an empty value.
        Refusal::InvalidAllowMethods { .. } => ctx.method = "<METHOD>".into(),
        Refusal::InvalidAllowHeaders { .. } => {
            ctx.unsafe_headers = vec!["<the header names the page sends>".into()]
        }
        _ => {}
    }
    // The origin the browser really sent (`null` after a cross-origin redirect).
    if let Some(o) = &p.sent_origin {
        ctx.origin = o.clone();
    }
    ctx
}

/// The human report.
pub fn render(e: &Explanation, st: &Style) -> String {
    let mut out = String::new();
    let browser = match e.browser {
        "chrome" => "Chrome",
        "firefox" => "Firefox",
        "chrome_or_safari" => "Chrome or Safari",
        _ => "Safari",
    };
    let mut names = Vec::new();
    if let Some(c) = e.chromium {
        names.push(format!("Chromium {c}"));
    }
    if let Some(f) = e.firefox {
        names.push(format!("Firefox {f}"));
    }
    let _ = writeln!(
        out,
        "{} {} ({})",
        st.bold(&format!("{browser} says:")),
        e.code,
        if names.is_empty() {
            e.message_key.to_owned()
        } else {
            names.join(", ")
        }
    );
    if let Some(u) = &e.url {
        let _ = writeln!(out, "  url:    {u}");
    }
    if let Some(u) = &e.redirected_from {
        let _ = writeln!(out, "  redirected from: {u}");
    }
    if let Some(o) = &e.origin {
        let _ = writeln!(out, "  origin: {o}");
    }
    if let Some(o) = &e.sent_origin {
        let _ = writeln!(out, "  origin the browser sent: {o}");
    }
    if let Some(s) = e.status {
        let _ = writeln!(out, "  status: {s}");
    }
    match e.preflight {
        Some(true) => {
            let _ = writeln!(out, "  failed: the preflight (OPTIONS) response");
        }
        Some(false) => {
            let _ = writeln!(out, "  failed: the response to the request itself");
        }
        None => {}
    }
    if !e.is_cors {
        let _ = writeln!(
            out,
            "  {}",
            st.warn("this is a network error, not a CORS header problem")
        );
    }
    let _ = writeln!(
        out,
        "\n{}\n  {}",
        st.bold("What the message proves:"),
        e.proves
    );
    if !e.suggests.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            st.bold("What it suggests (guesses, each with the check that settles it):")
        );
        for g in &e.suggests {
            let _ = writeln!(
                out,
                "  {} {}\n      to settle it: {}",
                st.warn("•"),
                g.guess,
                g.settle
            );
        }
    }
    if let Some(f) = &e.fix {
        let _ = writeln!(out, "\n{}\n  {}", st.bold("Fix:"), f.sentence);
        crate::render::remedy_lines(&mut out, f, "    ", None);
    }
    if let Some(c) = &e.check {
        let _ = writeln!(
            out,
            "\n{} {c}",
            st.dim("To see every problem at once, with a snippet for your server:")
        );
    }
    out
}
