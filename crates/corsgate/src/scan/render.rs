//! The human report of `corsgate scan`: findings grouped by severity, then
//! the probes that failed, then the suggested policy.

use std::fmt::Write as _;

use crate::render::Style;

use super::{ScanReport, Severity};

fn paint(st: &Style, severity: Severity, s: &str) -> String {
    match severity {
        Severity::High | Severity::Medium => st.bad(&st.bold(s)),
        Severity::Low => st.warn(&st.bold(s)),
        Severity::Info => st.dim(s),
    }
}

/// Renders the report.
pub fn render(report: &ScanReport, st: &Style) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", st.bold("corsgate scan"), report.target.url);
    let trusted = if report.trusted_origins.is_empty() {
        "none given (--origin)".to_owned()
    } else {
        report.trusted_origins.join(", ")
    };
    let _ = writeln!(
        out,
        "  {}",
        st.dim(&format!(
            "browser model: {} · trusted origins: {trusted} · attacker domain: {}",
            report.browser, report.attacker_domain
        ))
    );
    let s = &report.summary;
    let _ = writeln!(
        out,
        "  {}",
        st.dim(&format!(
            "{} requests (GET and OPTIONS only; preflights ask for {}): {} answered, {} failed",
            s.probes,
            report.methods.join(", "),
            s.probes - s.failed,
            s.failed
        ))
    );
    out.push('\n');
    if report.findings.is_empty() && s.judged > 0 {
        let _ = writeln!(
            out,
            "{}",
            st.ok(&st.bold("No CORS misconfiguration found."))
        );
    }
    for severity in [
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        let group: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.severity == severity)
            .collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "{}",
            paint(
                st,
                severity,
                &format!("{} ({})", severity.label(), group.len())
            )
        );
        for f in group {
            let mark = if severity == Severity::Info {
                st.dim("•")
            } else {
                st.bad("✗")
            };
            let _ = writeln!(out, "  {mark} {}: {}", st.bold(f.class.name()), f.title);
            let e = &f.evidence;
            let origin = e
                .origin
                .as_deref()
                .map(|o| format!(" with Origin: {o}"))
                .unwrap_or_else(|| " without Origin".into());
            let creds = if f.credentials {
                " — readable with credentials"
            } else {
                ""
            };
            let _ = writeln!(out, "      probe: {}{origin}{creds}", e.request);
            if let Some(b) = f.browsers {
                let _ = writeln!(out, "      browsers: {b}");
            }
            match e.status {
                Some(status) => {
                    let _ = writeln!(out, "      seen:  {status}");
                    if e.headers.is_empty() {
                        let _ = writeln!(out, "             {}", st.dim("(no CORS headers)"));
                    }
                    for (n, v) in &e.headers {
                        let _ = writeln!(out, "             {}", st.dim(&format!("{n}: {v}")));
                    }
                }
                None => {
                    let _ = writeln!(out, "      seen:  (no answer)");
                }
            }
            let _ = writeln!(out, "      why:   {}", f.why);
            let _ = writeln!(out, "      fix:   {}", f.fix.sentence);
            if !f.also_allowed.is_empty() {
                let _ = writeln!(out, "      also allowed: {}", f.also_allowed.join(", "));
            }
        }
        out.push('\n');
    }
    if !report.suppressed.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            st.dim(&format!(
                "SUPPRESSED by the baseline ({})",
                report.suppressed.len()
            ))
        );
        for x in &report.suppressed {
            let reason = x
                .reason
                .as_deref()
                .map(|r| format!(" — {r}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} {} ({}): {}{reason}",
                st.dim("•"),
                x.finding.class.name(),
                x.finding.severity.label().to_ascii_lowercase(),
                x.finding.title
            );
        }
        out.push('\n');
    }
    let failed: Vec<_> = report.probes.iter().filter(|p| p.error.is_some()).collect();
    if !failed.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            st.warn(&st.bold(&format!(
                "Could not probe ({}) — network errors, not CORS:",
                failed.len()
            )))
        );
        for p in failed {
            let origin = p.origin.as_deref().unwrap_or("(none)");
            let msg = p.error.as_ref().map(|e| e.message.as_str()).unwrap_or("");
            let _ = writeln!(
                out,
                "  [{}] {} Origin: {origin}: {msg}",
                p.kind.name(),
                p.label()
            );
        }
        out.push('\n');
    }
    let p = &report.policy;
    let _ = writeln!(
        out,
        "{}",
        st.bold(if p.valid {
            "A corsgate policy allowing exactly your origins (validated; format in docs/server-role.md):"
        } else {
            "A corsgate policy for your origins (NOT valid as is, see the notes):"
        })
    );
    for l in p.toml.lines() {
        let _ = writeln!(out, "    {l}");
    }
    for n in &p.notes {
        let _ = writeln!(out, "  {}", st.dim(&format!("note: {n}")));
    }
    out.push('\n');
    let suppressed = if s.suppressed > 0 {
        format!(", {} suppressed", s.suppressed)
    } else {
        String::new()
    };
    let verdict = format!(
        "{} high, {} medium, {} low, {} info{suppressed}",
        s.high, s.medium, s.low, s.info
    );
    let code = report.exit_code();
    let clean = if report.fail_on == Severity::Low {
        "nothing above info".to_owned()
    } else {
        format!(
            "nothing at or above {} (--fail-on)",
            report.fail_on.label().to_ascii_lowercase()
        )
    };
    let line = match code {
        0 => st.ok(&format!("Result: {verdict} — {clean}")),
        1 => st.bad(&format!("Result: {verdict}")),
        _ if s.judged == 0 => st.warn(&format!(
            "Result: {verdict} — nothing judged: no answer said anything about CORS (every one a redirect, a 404/410 or a 5xx, or none came)"
        )),
        _ => st.warn(&format!(
            "Result: {verdict} — incomplete: {} request(s) failed",
            s.failed
        )),
    };
    let _ = writeln!(out, "{line}");
    out
}
