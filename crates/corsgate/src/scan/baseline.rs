//! Baseline files: findings accepted on purpose (`--baseline`), and writing
//! one from a run (`--write-baseline`).
//!
//! A baseline is TOML (or JSON, for a `.json` file or one that starts with
//! `{`): `version = 1` and `[[ignore]]` entries with `rule` and `url`, and
//! optionally `origin`, `fingerprint` and `reason`. An entry matches a finding
//! when every field it gives matches ([`Baseline::apply`]); `url = "*"` matches
//! every target. Matched findings move to the report's `suppressed` list and no
//! longer count for the exit code. Entries that matched nothing are listed at
//! the end of the run (stale), never dropped silently.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::sarif::{class_name, fingerprint, rule_id, stable_origin};
use super::{ScanReport, Suppressed};

/// The one version of the format.
const VERSION: u32 = 1;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    version: Option<u32>,
    #[serde(default)]
    ignore: Vec<Entry>,
}

/// One accepted finding.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(super) struct Entry {
    /// The rule id (SARIF `ruleId`) or the finding class (`subdomain_trusted`).
    pub rule: String,
    /// The target URL, or `*` for every target.
    pub url: String,
    /// The probe origin (the run's random label written `{L}`); any when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The finding's fingerprint (as in SARIF `partialFingerprints`); any when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Why it is accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A loaded baseline.
#[derive(Debug)]
pub(super) struct Baseline {
    path: PathBuf,
    entries: Vec<Entry>,
    used: Vec<bool>,
}

fn is_json(path: &Path, text: &str) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || text.trim_start().starts_with('{')
}

impl Baseline {
    /// Reads and checks a baseline file; errors name the file and the entry.
    pub(super) fn load(path: &Path) -> Result<Baseline, String> {
        let shown = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| format!("--baseline {shown}: {e}"))?;
        Baseline::parse(path, &text)
    }

    /// Parses a baseline's text (`path` names it in errors and picks the format).
    pub(super) fn parse(path: &Path, text: &str) -> Result<Baseline, String> {
        let shown = path.display();
        let file: FileFormat = if is_json(path, text) {
            serde_json::from_str(text).map_err(|e| format!("{shown}: not a valid baseline: {e}"))?
        } else {
            toml::from_str(text).map_err(|e| {
                format!(
                    "{shown}: not a valid baseline: {}",
                    e.to_string().trim_end()
                )
            })?
        };
        match file.version {
            Some(VERSION) => {}
            Some(v) => {
                return Err(format!(
                    "{shown}: baseline version {v} is not supported (this corsgate reads version {VERSION})"
                ))
            }
            None => return Err(format!("{shown}: the baseline has no `version = {VERSION}`")),
        }
        let mut entries = Vec::with_capacity(file.ignore.len());
        for (i, mut e) in file.ignore.into_iter().enumerate() {
            let at = format!("{shown}: ignore entry {} (rule '{}')", i + 1, e.rule);
            if e.rule.trim().is_empty() {
                return Err(format!("{at}: `rule` is empty"));
            }
            if e.url != "*" {
                e.url = super::check_target(&e.url).map_err(|err| format!("{at}: url: {err}"))?;
            }
            if let Some(fp) = &e.fingerprint {
                if fp.len() != 16 || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!(
                        "{at}: fingerprint '{fp}' is not 16 hexadecimal digits (copy it from a written baseline or from SARIF partialFingerprints)"
                    ));
                }
                e.fingerprint = Some(fp.to_ascii_lowercase());
            }
            entries.push(e);
        }
        let used = vec![false; entries.len()];
        Ok(Baseline {
            path: path.to_owned(),
            entries,
            used,
        })
    }

    /// Moves the findings the baseline accepts from `findings` to `suppressed`
    /// and recounts the summary.
    pub(super) fn apply(&mut self, report: &mut ScanReport) {
        let url = report.target.url.clone();
        let findings = std::mem::take(&mut report.findings);
        for f in findings {
            let rule = rule_id(&f);
            let stable = stable_origin(report, &f);
            let fp = fingerprint(rule, &url, stable.as_deref());
            let class = class_name(&f);
            let hit = self.entries.iter().position(|e| {
                (e.rule == rule || e.rule == class)
                    && (e.url == "*" || e.url == url)
                    && e.origin.as_ref().is_none_or(|o| Some(o) == stable.as_ref())
                    && e.fingerprint.as_ref().is_none_or(|x| *x == fp)
            });
            match hit {
                Some(i) => {
                    self.used[i] = true;
                    report.suppressed.push(Suppressed {
                        finding: f,
                        reason: self.entries[i].reason.clone(),
                    });
                }
                None => report.findings.push(f),
            }
        }
        report.recount();
    }

    /// The entries that matched no finding of the run, described.
    pub(super) fn stale(&self) -> Vec<String> {
        self.entries
            .iter()
            .zip(&self.used)
            .enumerate()
            .filter(|(_, (_, used))| !**used)
            .map(|(i, (e, _))| {
                format!(
                    "{}: ignore entry {} (rule {}, url {}{}) matched no finding",
                    self.path.display(),
                    i + 1,
                    e.rule,
                    e.url,
                    e.origin
                        .as_deref()
                        .map(|o| format!(", origin {o}"))
                        .unwrap_or_default()
                )
            })
            .collect()
    }
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One line of comment text (no control characters).
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Writes a baseline from the findings of a run, as targets finish, to a
/// temporary file renamed over `path` at the end.
pub(super) struct BaselineWriter {
    path: PathBuf,
    tmp: PathBuf,
    out: BufWriter<File>,
    json: bool,
    first: bool,
}

impl BaselineWriter {
    /// Starts the file (JSON when `path` ends in `.json`, TOML otherwise).
    pub(super) fn create(path: &Path) -> io::Result<BaselineWriter> {
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let mut name = path.file_name().unwrap_or_default().to_owned();
        name.push(format!(".tmp{}", std::process::id()));
        let tmp = path.with_file_name(name);
        let mut out = BufWriter::new(File::create(&tmp)?);
        if json {
            write!(out, "{{\n  \"version\": {VERSION},\n  \"ignore\": [")?;
        } else {
            writeln!(
                out,
                "# corsgate scan baseline (format: docs/scan.md): findings accepted on purpose.\n# Written by `corsgate scan --write-baseline`; say in each `reason` why the finding is acceptable.\nversion = {VERSION}"
            )?;
        }
        Ok(BaselineWriter {
            path: path.to_owned(),
            tmp,
            out,
            json,
            first: true,
        })
    }

    fn entry(&mut self, e: &Entry, about: &str) -> io::Result<()> {
        if self.json {
            let sep = if self.first { "\n    " } else { ",\n    " };
            self.first = false;
            write!(self.out, "{sep}")?;
            serde_json::to_writer(&mut self.out, e).map_err(io::Error::from)?;
        } else {
            writeln!(self.out, "\n# {}", comment(about))?;
            writeln!(self.out, "[[ignore]]")?;
            writeln!(self.out, "rule = {}", toml_str(&e.rule))?;
            writeln!(self.out, "url = {}", toml_str(&e.url))?;
            if let Some(o) = &e.origin {
                writeln!(self.out, "origin = {}", toml_str(o))?;
            }
            if let Some(f) = &e.fingerprint {
                writeln!(self.out, "fingerprint = {}", toml_str(f))?;
            }
            if let Some(r) = &e.reason {
                writeln!(self.out, "reason = {}", toml_str(r))?;
            }
        }
        Ok(())
    }

    /// Every finding of a scanned target, suppressed ones included (keeping their reason).
    pub(super) fn report(&mut self, report: &ScanReport) -> io::Result<()> {
        let url = report.target.url.as_str();
        let all = report.findings.iter().map(|f| (f, None)).chain(
            report
                .suppressed
                .iter()
                .map(|s| (&s.finding, s.reason.clone())),
        );
        for (f, reason) in all {
            let rule = rule_id(f);
            let origin = stable_origin(report, f);
            let e = Entry {
                rule: rule.to_owned(),
                url: url.to_owned(),
                fingerprint: Some(fingerprint(rule, url, origin.as_deref())),
                origin,
                reason,
            };
            let about = format!("{}: {}", f.severity.label().to_ascii_lowercase(), f.title);
            self.entry(&e, &about)?;
        }
        Ok(())
    }

    /// Ends the file and puts it in place.
    pub(super) fn finish(mut self) -> io::Result<()> {
        if self.json {
            let end = if self.first { "" } else { "\n  " };
            writeln!(self.out, "{end}]\n}}")?;
        }
        self.out.flush()?;
        drop(self.out);
        std::fs::rename(&self.tmp, &self.path)
    }

    /// Removes the temporary file (the run failed before the end).
    pub(super) fn abandon(self) {
        drop(self.out);
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, text: &str) -> Result<Baseline, String> {
        Baseline::parse(Path::new(name), text)
    }

    #[test]
    fn both_formats_read_the_same_entries() {
        let toml = r#"
version = 1
[[ignore]]
rule = "subdomain_trusted"
url = "HTTPS://API.example.com"
origin = "https://attacker{L}.example.com"
reason = "ours"
[[ignore]]
rule = "wildcard_origin"
url = "*"
fingerprint = "00112233445566AA"
"#;
        let json = r#"{"version": 1, "ignore": [
  {"rule": "subdomain_trusted", "url": "https://api.example.com/", "origin": "https://attacker{L}.example.com", "reason": "ours"},
  {"rule": "wildcard_origin", "url": "*", "fingerprint": "00112233445566aa"}]}"#;
        let a = parse("b.toml", toml).unwrap();
        let b = parse("b.json", json).unwrap();
        let c = parse("b.txt", json).unwrap();
        assert_eq!(a.entries, b.entries);
        assert_eq!(b.entries, c.entries);
        // URLs are normalized as scan normalizes targets.
        assert_eq!(a.entries[0].url, "https://api.example.com/");
        assert_eq!(a.stale().len(), 2);
    }

    #[test]
    fn bad_baselines_are_errors_that_say_where() {
        for (name, text, needle) in [
            ("b.toml", "[[ignore]]\nrule = \"x\"\nurl = \"*\"\n", "no `version"),
            ("b.toml", "version = 2\n", "version 2"),
            ("b.toml", "version = 1\n[[ignore]]\nrule = \"x\"\n", "url"),
            (
                "b.toml",
                "version = 1\n[[ignore]]\nrule = \"x\"\nurl = \"*\"\norign = \"null\"\n",
                "orign",
            ),
            (
                "b.toml",
                "version = 1\n[[ignore]]\nrule = \"x\"\nurl = \"ftp://a\"\n",
                "ignore entry 1",
            ),
            (
                "b.toml",
                "version = 1\n[[ignore]]\nrule = \"\"\nurl = \"*\"\n",
                "empty",
            ),
            (
                "b.json",
                "{\"version\": 1, \"ignore\": [{\"rule\": \"x\", \"url\": \"*\", \"fingerprint\": \"xyz\"}]}",
                "16 hexadecimal",
            ),
            ("b.json", "{\"version\": 1,", "not a valid baseline"),
            ("b.toml", "version = ", "line 1"),
        ] {
            let e = parse(name, text).expect_err(text);
            assert!(e.contains(name), "{e}");
            assert!(e.contains(needle), "{needle:?} not in {e}");
        }
    }

    #[test]
    fn toml_strings_round_trip() {
        for s in [
            "plain",
            "quo\"te",
            "back\\slash",
            "tab\tnew\nline\u{7f}",
            "ünï{L}",
        ] {
            let doc = format!("v = {}", toml_str(s));
            let v: toml::Table = toml::from_str(&doc).unwrap();
            assert_eq!(v["v"].as_str(), Some(s), "{doc}");
        }
    }
}
