//! The human report of `corsgate test`: one line per case, the problems of
//! the failing ones with their fix, then the counts.

use std::fmt::Write as _;

use crate::render::Style;

use super::{Outcome, TestReport};

fn short(o: &Outcome) -> String {
    if o.readable {
        match o.status {
            Some(s) => format!("readable ({s})"),
            None => "readable".to_owned(),
        }
    } else {
        match o.refusal {
            Some(code) => format!("refused ({code})"),
            None => "refused".to_owned(),
        }
    }
}

/// Renders the report.
pub fn render(report: &TestReport, st: &Style) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", st.bold("corsgate test"), report.url);
    let _ = writeln!(
        out,
        "  {}",
        st.dim(&format!(
            "policy: {} · browser model: {} · each case is judged against the policy (as corsgate would answer) and against the endpoint",
            report.policy, report.browser
        ))
    );
    let _ = writeln!(out);
    for c in &report.cases {
        let mark = if c.pass { st.ok("✓") } else { st.bad("✗") };
        let expected = short(&c.expected);
        let got = match &c.actual {
            Some(_) if c.pass => st.dim(&format!("{expected}, as the policy says")),
            Some(a) => format!("policy: {expected} · endpoint: {}", short(a)),
            None => format!("policy: {expected} · endpoint: not reached"),
        };
        let _ = writeln!(out, "{mark} {}  {got}", c.case.name);
        if !c.pass && !c.expected.readable {
            if let Some(why) = &c.expected.message {
                let _ = writeln!(out, "    {} {why}", st.dim("policy:"));
            }
        }
        for p in &c.problems {
            let _ = writeln!(out, "    {} {}", st.bad(p.code), p.message);
            if !p.fix.sentence.is_empty() {
                let _ = writeln!(out, "    {} {}", st.bold("fix:"), p.fix.sentence);
            }
        }
    }
    let s = &report.summary;
    let _ = writeln!(out);
    let counts = format!(
        "{} cases: {} as the policy says, {} not",
        s.cases, s.passed, s.failed
    );
    let _ = writeln!(
        out,
        "{}",
        if s.failed == 0 {
            st.ok(&counts)
        } else {
            st.bad(&st.bold(&counts))
        }
    );
    out
}
