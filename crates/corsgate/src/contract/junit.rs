//! The results of `corsgate test` as JUnit XML, which CI systems (GitLab,
//! Jenkins, GitHub actions with a reporter) show per case.

use std::fmt::Write as _;

use super::TestReport;

/// XML text with the five special characters escaped and control bytes
/// (not allowed in XML 1.0) dropped.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\t' | '\n' | '\r' => o.push(ch),
            c if (c as u32) < 0x20 => {}
            c => o.push(c),
        }
    }
    o
}

/// The report as a JUnit XML document: one `testcase` per case, a `failure`
/// per case that departs from the policy.
pub fn junit(report: &TestReport) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let s = &report.summary;
    let suite = esc(&format!("corsgate test {}", report.url));
    let _ = writeln!(
        x,
        "<testsuites tests=\"{}\" failures=\"{}\">\n  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{}\">",
        s.cases, s.failed, s.cases, s.failed
    );
    for c in &report.cases {
        let group = if c.expected.readable {
            "allowed"
        } else {
            "refused"
        };
        let _ = write!(
            x,
            "    <testcase classname=\"corsgate.{group}\" name=\"{}\"",
            esc(&c.case.name)
        );
        if c.pass {
            x.push_str("/>\n");
            continue;
        }
        x.push_str(">\n");
        let first = c.problems.first().map(|p| p.code).unwrap_or("failed");
        let body: Vec<String> = c
            .problems
            .iter()
            .map(|p| format!("{}: {}\nfix: {}", p.code, p.message, p.fix.sentence))
            .collect();
        let _ = writeln!(
            x,
            "      <failure type=\"{first}\" message=\"{}\">{}</failure>\n    </testcase>",
            esc(first),
            esc(&body.join("\n\n"))
        );
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_markup_and_drops_control_bytes() {
        assert_eq!(esc("a<b>&\"'\u{1}c\n"), "a&lt;b&gt;&amp;&quot;&apos;c\n");
    }
}
