//! The section of `docs/conformance.md` that `tests/headers_form.rs` writes:
//! what Chromium, Firefox and WebKit did with a header name given twice in
//! each form script can pass headers in.

use std::collections::BTreeMap;
use std::fmt::Write;

/// The section's first line.
pub const BEGIN: &str = "<!-- headers-form:begin (tests/headers_form.rs writes this section) -->";
/// Its last line.
pub const END: &str = "<!-- headers-form:end -->";

/// One row: the header set's label and lines, the form; then per browser
/// (in `browsers` order) what it did.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// The header set, e.g. `ct-same`.
    pub set: String,
    /// The lines script set, shown.
    pub lines: String,
    /// The form's name (`headers`, `pairs`, `object`, `set-request-header`).
    pub form: String,
    /// What each browser did, by browser name.
    pub seen: BTreeMap<String, String>,
}

/// The section's text.
pub fn render(browsers: &[(&str, String)], rows: &[Row]) -> String {
    let mut s = String::new();
    let versions: Vec<String> = browsers.iter().map(|(_, v)| v.clone()).collect();
    let _ = writeln!(
        s,
        "# A header given twice, in each form\n\n\
         `tests/headers_form.rs` sends requests that give one header name twice, in each form a page can pass headers in (`fetch()` with a `Headers` object, a sequence of pairs or a plain object; `XMLHttpRequest.setRequestHeader`), to {}, against a server that allows every method and header. For each it records whether a preflight was sent and what it announced, and the value of the name that reached the server (its lines joined; every browser sent one line). The engine (`HeadersForm` in `corsgate-core`, the `chromium`, `firefox` and `safari` profiles) must predict every cell, and does. The matrix runs the form as one more dimension (a `Headers` object, pairs or a plain object for `fetch()`; XHR always `setRequestHeader`), and gives a quarter of its cases with headers a name once more.\n",
        versions.join(", ")
    );
    let _ = writeln!(
        s,
        "What the forms make of the lines, in every browser (and the standard): a `Headers` object is read back combined (`a, b`, one line per name), so a forbidden `X-HTTP-Method-Override` value takes the whole name with it; pairs are appended one by one (only the forbidden line is dropped); a plain object keeps a key's last value (`X-A` and `x-a` are two keys); `setRequestHeader` combines and ignores a forbidden call. In `no-cors` mode the guard drops a line whose name's combined value is no longer safelisted.\n\n\
         Where the browsers part: Chromium and WebKit judge the combined value whatever the form; Firefox judges the lines of pairs (or of `X-A` and `x-a` in an object) one by one, names a header once per line in `Access-Control-Request-Headers` (`x-a,x-a`), has no 1024-byte rule, and sends only the last of several `Content-Type` lines (`Profile::judges_header_lines`, `total_limit_covers`, `sends_last_content_type_line`).\n"
    );
    let names: Vec<&str> = browsers.iter().map(|(n, _)| *n).collect();
    let _ = writeln!(s, "| Lines | Form | {} |", names.join(" | "));
    let _ = writeln!(s, "|---|---|{}", "---|".repeat(names.len()));
    for r in rows {
        let cells: Vec<String> = names
            .iter()
            .map(|n| r.seen.get(*n).cloned().unwrap_or_default())
            .collect();
        let _ = writeln!(s, "| {} | {} | {} |", r.lines, r.form, cells.join(" | "));
    }
    s
}

/// `doc` with the section replaced (or appended).
pub fn splice(doc: &str, section: &str) -> String {
    let section = section.trim_end();
    match (doc.find(BEGIN), doc.find(END)) {
        (Some(b), Some(e)) if b < e => format!(
            "{}{BEGIN}\n{section}\n{END}{}",
            &doc[..b],
            &doc[e + END.len()..]
        ),
        _ => format!("{}\n\n{BEGIN}\n{section}\n{END}\n", doc.trim_end()),
    }
}

/// `new` with the section that `old` had, if any.
pub fn keep_section(old: &str, new: &str) -> String {
    match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if b < e => splice(new, &old[b + BEGIN.len()..e]),
        _ => new.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_and_keep_keeps() {
        let doc = splice("# Doc\n", "one");
        assert!(doc.contains(BEGIN) && doc.contains("one"));
        let doc = splice(&doc, "two");
        assert!(doc.contains("two") && !doc.contains("one"));
        assert!(keep_section(&doc, "# New\n").contains("two"));
    }
}
