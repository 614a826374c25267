//! Human output: colour (only when asked or when standard output is a
//! terminal) and the report of `corsgate check`.

use std::fmt::Write as _;
use std::io::IsTerminal;

use corsgate_core::{Stage, StepKind};

use crate::cli::ColorChoice;
use crate::report::{CheckReport, Exchange};

/// ANSI styling, or none.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    on: bool,
}

impl Style {
    /// Decides from the choice, `NO_COLOR` and whether stdout is a terminal.
    pub fn new(choice: ColorChoice) -> Style {
        let on = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        };
        Style { on }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    /// Green.
    pub fn ok(&self, s: &str) -> String {
        self.paint("32", s)
    }
    /// Red.
    pub fn bad(&self, s: &str) -> String {
        self.paint("31", s)
    }
    /// Yellow.
    pub fn warn(&self, s: &str) -> String {
        self.paint("33", s)
    }
    /// Bold.
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    /// Dim.
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

fn interesting_request_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "origin" || n.starts_with("access-control-request-")
}

fn interesting_response_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("access-control-") || n.starts_with("corsgate-") || n == "vary" || n == "location"
}

fn exchange(out: &mut String, st: &Style, e: &Exchange, author: &[String]) {
    let _ = writeln!(out, "    {} {} {}", st.dim("→"), e.method, e.url);
    for (n, v) in &e.request_headers {
        if interesting_request_header(n) {
            let _ = writeln!(out, "        {}", st.dim(&format!("{n}: {v}")));
        }
    }
    if e.stage == Stage::Actual {
        for h in author {
            let _ = writeln!(out, "        {}", st.dim(h));
        }
    }
    let status = if (200..300).contains(&e.status) {
        st.ok(&e.status.to_string())
    } else {
        st.warn(&e.status.to_string())
    };
    let _ = writeln!(out, "    {} {status}", st.dim("←"));
    let mut any = false;
    for (n, v) in &e.response_headers {
        if interesting_response_header(n) {
            any = true;
            let _ = writeln!(out, "        {}", st.dim(&format!("{n}: {v}")));
        }
    }
    if !any {
        let _ = writeln!(out, "        {}", st.dim("(no CORS headers)"));
    }
}

/// The lines of a fix: headers to set, `Vary` to merge, headers to remove,
/// status; when the response it concerns is known, what it already has is not repeated.
pub fn remedy_lines(
    out: &mut String,
    r: &crate::report::Fix,
    indent: &str,
    before: Option<&corsgate_core::Response>,
) {
    for (n, v) in &r.set_headers {
        let has = before.is_some_and(|b| {
            let lines: Vec<&[u8]> = b.headers.get_all(n).collect();
            lines.len() == 1 && lines[0] == v.as_bytes()
        });
        if !has {
            let _ = writeln!(out, "{indent}set    {n}: {v}");
        }
    }
    for v in &r.vary {
        let has = before.is_some_and(|b| {
            b.headers.get_all("vary").any(|line| {
                String::from_utf8_lossy(line)
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case(v))
            })
        });
        if !has {
            let _ = writeln!(out, "{indent}vary   add {v}");
        }
    }
    for h in &r.remove_headers {
        let _ = writeln!(out, "{indent}remove {h}");
    }
    if let Some(s) = r.status {
        let _ = writeln!(out, "{indent}status {s}");
    }
}

/// The human report of `corsgate check`.
pub fn check(report: &CheckReport, st: &Style) -> String {
    let mut out = String::new();
    let r = &report.request;
    let _ = writeln!(
        out,
        "{} {} {} from {} ({}, credentials {})",
        st.bold("corsgate check:"),
        r.method,
        r.url,
        r.origin,
        r.browser,
        r.credentials
    );
    let mut exchanges = report.exchanges.iter();
    for step in &report.steps {
        let mark = if step.ok { st.ok("✓") } else { st.bad("✗") };
        let _ = writeln!(out, "  {mark} {}", step.message);
        if matches!(step.kind, StepKind::PreflightSent | StepKind::RequestSent) {
            if let Some(e) = exchanges.next() {
                exchange(&mut out, st, e, &r.headers);
            }
        }
    }
    out.push('\n');
    if let Some(p) = &report.policy_reason {
        let _ = writeln!(
            out,
            "{}: {}",
            st.bad(&st.bold("REFUSED by the server's corsgate policy")),
            p.text
        );
        let _ = writeln!(
            out,
            "  {}",
            st.dim(&format!("(corsgate-reason: {})", p.code))
        );
        if p.edits.is_empty() {
            if let Some(why) = &p.why_no_edit {
                let _ = writeln!(out, "  {why}");
            }
        } else {
            let _ = writeln!(
                out,
                "  Fix: edit the policy (TOML; under [routes.policy] of the route for `corsgate serve`), replacing these keys:"
            );
            for e in &p.edits {
                let _ = writeln!(out, "    {}", st.ok(e));
            }
        }
        out.push('\n');
    }
    match &report.reason {
        None => {
            let _ = writeln!(
                out,
                "{} ({}): script can read the response{}",
                st.ok(&st.bold("ALLOWED")),
                r.browser,
                report
                    .status
                    .map(|s| format!(" (status {s})"))
                    .unwrap_or_default()
            );
            let _ = writeln!(
                out,
                "  readable headers: {}",
                if report.exposed_headers.is_empty() {
                    "(none)".into()
                } else {
                    report.exposed_headers.join(", ")
                }
            );
        }
        Some(reason) => {
            let head = if reason.is_cors {
                st.bad(&st.bold("BLOCKED by CORS"))
            } else {
                st.bad(&st.bold("FAILED (network error, not CORS)"))
            };
            let message = reason
                .message
                .split(". Fix: ")
                .next()
                .unwrap_or(&reason.message);
            let _ = writeln!(out, "{head} ({}): {message}", r.browser);
            let mut names = Vec::new();
            if let Some(c) = reason.chromium {
                names.push(format!("Chromium {c}"));
            }
            if let Some(f) = reason.firefox {
                names.push(format!("Firefox {f}"));
            }
            if !names.is_empty() {
                let _ = writeln!(
                    out,
                    "  {}",
                    st.dim(&format!("console names: {}", names.join(", ")))
                );
            }
            if let Some(n) = reason.browser_note {
                let _ = writeln!(out, "  note: {n}");
            }
        }
    }
    if !report.hints.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            st.bold(if report.allowed {
                "Worth knowing:"
            } else {
                "Likely root causes:"
            })
        );
        for h in &report.hints {
            let _ = writeln!(out, "  {} {}", st.warn("•"), h.message);
        }
    }
    // The policy's edit is the fix: its header-by-header view (written for
    // a server that is not corsgate: "before authentication"...) stays in
    // `--json`.
    let policy_edit = report
        .policy_reason
        .as_ref()
        .is_some_and(|p| !p.edits.is_empty());
    if policy_edit && !report.fixes.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            st.dim("(the same fix header by header, as the browser sees it: `fixes` in --json)")
        );
    }
    if !report.allowed && !report.fixes.is_empty() && !policy_edit {
        let title = if report.policy_reason.is_some() {
            "What the browser needs, header by header:"
        } else {
            "Fix, in order:"
        };
        let _ = writeln!(out, "\n{}", st.bold(title));
        for (i, f) in report.fixes.iter().enumerate() {
            let which = match f.stage {
                Some(Stage::Preflight) => "preflight response",
                Some(Stage::Redirect) => "redirect response",
                Some(Stage::Actual) | None => "response",
            };
            let who = if f.client_side() { "client" } else { which };
            let _ = writeln!(out, "  {}. [{who}] {}", i + 1, f.sentence);
            let before = report
                .exchanges
                .iter()
                .find(|e| {
                    (e.stage == Stage::Preflight) == (f.stage == Some(Stage::Preflight))
                        && f.url.as_ref() == Some(&e.url)
                })
                .map(|e| &e.response);
            remedy_lines(&mut out, f, "       ", before);
        }
    }
    if !report.allowed && !report.fix_alternatives.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            st.bold("Or, on the server, instead of the client-side step:")
        );
        for f in &report.fix_alternatives {
            let _ = writeln!(out, "  • [redirect response] {}", f.sentence);
            remedy_lines(&mut out, f, "       ", None);
        }
    }
    if !report.allowed && !report.learned.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            st.bold("Asked the server beyond what the browser sent (safe methods only), to see what comes next:")
        );
        for e in &report.learned {
            exchange(&mut out, st, e, &[]);
        }
    }
    if !report.allowed && report.fixes_partial {
        let missing: Vec<String> = report
            .unobserved
            .iter()
            .map(|u| format!("{} {}", u.method, u.url))
            .collect();
        let method = report
            .unobserved
            .first()
            .map(|u| u.method.as_str())
            .unwrap_or("request");
        let why = if matches!(method, "GET" | "HEAD" | "OPTIONS") {
            format!("and corsgate asks for a {method} itself only without --no-probe, at most {} times, and when the server answers", crate::fix::LEARN_BUDGET)
        } else {
            format!("and corsgate does not send a {method} itself")
        };
        let next = if report
            .policy_reason
            .as_ref()
            .is_some_and(|p| !p.edits.is_empty())
        {
            "once the policy is edited, run the same `corsgate check` again"
        } else {
            "so the fixes for it are not listed: apply the ones above, then run the same `corsgate check` again"
        };
        let _ = writeln!(
            out,
            "\n{} the answer to {} was never received (the browser stops before sending it, {why}); {next}",
            st.warn(&st.bold("This list is partial:")),
            missing.join(", "),
        );
    }
    if !report.allowed
        && !report.fixes.is_empty()
        && !report.fixes_complete
        && !report.fixes_partial
    {
        let _ = writeln!(
            out,
            "  {}",
            st.dim("(after these, the request still fails in corsgate's model: see the client-side step)")
        );
    }
    if let Some(snippet) = &report.snippet {
        let _ = writeln!(
            out,
            "\n{} {}:",
            st.bold("Configuration allowing exactly this request, for"),
            report.server.label()
        );
        for l in snippet.lines() {
            let _ = writeln!(out, "    {l}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Fix;
    use corsgate_core::Response;

    fn fix() -> Fix {
        Fix {
            set_headers: vec![
                (
                    "Access-Control-Allow-Origin".into(),
                    "https://app.example".into(),
                ),
                ("Access-Control-Allow-Credentials".into(), "true".into()),
            ],
            vary: vec!["Origin".into()],
            remove_headers: vec!["Location".into()],
            status: Some(204),
            ..Fix::advice("allow it")
        }
    }

    #[test]
    fn fix_lines_leave_out_what_the_answer_already_has() {
        let all = [
            "set    Access-Control-Allow-Origin: https://app.example",
            "set    Access-Control-Allow-Credentials: true",
            "vary   add Origin",
            "remove Location",
            "status 204",
        ];
        let cases: Vec<(Option<Response>, Vec<&str>)> = vec![
            (None, all.to_vec()),
            // One line with the exact value: not repeated.
            (
                Some(
                    Response::new(200).header("Access-Control-Allow-Origin", "https://app.example"),
                ),
                vec![all[1], all[2], all[3], all[4]],
            ),
            // Two lines of it (a duplicate is the problem): repeated.
            (
                Some(
                    Response::new(200)
                        .header("Access-Control-Allow-Origin", "https://app.example")
                        .header("Access-Control-Allow-Origin", "https://app.example"),
                ),
                all.to_vec(),
            ),
            // Another value: repeated.
            (
                Some(Response::new(200).header("Access-Control-Allow-Credentials", "TRUE")),
                all.to_vec(),
            ),
            // Vary already has Origin, in a list, any case.
            (
                Some(Response::new(200).header("Vary", "Accept-Encoding, ORIGIN")),
                vec![all[0], all[1], all[3], all[4]],
            ),
            (
                Some(Response::new(200).header("Vary", "Origins")),
                all.to_vec(),
            ),
        ];
        for (before, want) in cases {
            let mut out = String::new();
            remedy_lines(&mut out, &fix(), "  ", before.as_ref());
            let got: Vec<&str> = out.lines().map(|l| l.strip_prefix("  ").unwrap()).collect();
            assert_eq!(got, want, "{before:?}");
        }
        let mut out = String::new();
        remedy_lines(&mut out, &Fix::advice("only a sentence"), "  ", None);
        assert_eq!(out, "");
    }

    #[test]
    fn colour_only_when_asked() {
        let never = Style::new(ColorChoice::Never);
        let always = Style::new(ColorChoice::Always);
        for (paint, code) in [
            (Style::ok as fn(&Style, &str) -> String, "32"),
            (Style::bad, "31"),
            (Style::warn, "33"),
            (Style::bold, "1"),
            (Style::dim, "2"),
        ] {
            assert_eq!(paint(&never, "x"), "x");
            assert_eq!(paint(&always, "x"), format!("\x1b[{code}mx\x1b[0m"));
        }
    }
}
