//! WebKit's console reasons. MiniBrowser under automation keeps console
//! messages to itself (WebKitWebDriver has no log endpoint, and
//! `--enable-write-console-messages-to-stdout` has no effect on the
//! automation session's views), but run *without* automation with that
//! setting it writes every message to stdout. So this pass loads a runner
//! page from the page origin in a plain MiniBrowser (fresh data and cache
//! directories, under the run's Xvfb), runs the given jobs one at a time with the same page
//! script ([`page::RUNNER`]), prints a marker before each, and attributes the
//! messages between two markers to the job.
//!
//! [`normalize`] turns a message into its run-independent form (the case
//! URLs and origins replaced by `<url>` and `<origin>`), and `reason_code`
//! maps the reason lines to corsgate's refusal codes.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::case::{Api, Case, Site};
use crate::page;
use crate::server::Servers;
use crate::webkit::WebkitOptions;

/// How long one console pass may take.
pub const CONSOLE_TIMEOUT: Duration = Duration::from_secs(240);

/// The marker the runner page logs before each job.
const MARK: &str = "corsgate-job ";
/// The marker it logs at the end.
const DONE: &str = "corsgate-done";

/// One console message: its source and level as MiniBrowser prints them
/// (`SECURITY ERROR`, `JS ERROR`, `LOG`…) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `SECURITY ERROR`, `JS ERROR`, `NETWORK ERROR`, `LOG`…
    pub level: String,
    /// The message itself.
    pub text: String,
}

/// Parses one line of MiniBrowser's stdout: `[<url>:<line>:<col>: ]CONSOLE
/// [<SOURCE> ]<LEVEL> <text>`. `None` for anything else.
pub fn parse_line(line: &str) -> Option<Message> {
    let at = line.find("CONSOLE ")?;
    let rest = &line[at + "CONSOLE ".len()..];
    const LEVELS: [&str; 5] = ["LOG", "INFO", "WARN", "ERROR", "DEBUG"];
    let mut words = rest.splitn(3, ' ');
    let first = words.next()?;
    if LEVELS.contains(&first) {
        let text = rest[first.len()..].trim_start();
        return Some(Message {
            level: first.to_owned(),
            text: text.to_owned(),
        });
    }
    let second = words.next()?;
    if !LEVELS.contains(&second) {
        return None;
    }
    let text = words.next().unwrap_or_default();
    Some(Message {
        level: format!("{first} {second}"),
        text: text.to_owned(),
    })
}

/// The runner page: the jobs, one at a time, each after a marker.
fn runner_page(jobs: &[Value]) -> String {
    let json = Value::Array(jobs.to_vec())
        .to_string()
        .replace('<', "\\u003c");
    format!(
        "<!doctype html><meta charset=utf-8><title>corsgate console</title><script>\n\
         const RUN = function() {{ {} }};\n\
         const jobs = {json};\n\
         (async () => {{\n\
           for (const j of jobs) {{\n\
             console.log('{MARK}' + j.key);\n\
             await new Promise(done => RUN([j], 1, done));\n\
           }}\n\
           console.log('{DONE}');\n\
         }})();\n\
         </script>",
        page::RUNNER
    )
}

/// Runs `pairs` in a plain MiniBrowser on `display` and returns the console
/// messages each job caused (markers left out). The single jobs go in one
/// browser, the repeated ones in another, as in the WebDriver run.
pub fn console_messages(
    servers: &Servers,
    cases: &[Case],
    pairs: &[(u32, Api)],
    opts: &WebkitOptions,
    display: &str,
) -> Result<BTreeMap<(u32, Api), Vec<Message>>, String> {
    let site = servers.site();
    let (repeated, single): (Vec<_>, Vec<_>) =
        pairs.iter().partition(|(id, _)| cases[*id as usize].repeat);
    let mut out = BTreeMap::new();
    for (n, group) in [single, repeated].into_iter().enumerate() {
        if group.is_empty() {
            continue;
        }
        let jobs: Vec<Value> = group
            .iter()
            .map(|&&(id, api)| page::job(site, &cases[id as usize], api))
            .collect();
        let path = format!("/console/{}/{n}", site.run);
        servers.add_page(&path, runner_page(&jobs));
        let keys: BTreeMap<String, (u32, Api)> = group
            .iter()
            .map(|&&(id, api)| (page::key(&cases[id as usize], api), (id, api)))
            .collect();
        for (key, messages) in run_page(opts, display, &format!("{}{path}", site.page))? {
            if let Some(k) = keys.get(&key) {
                out.insert(*k, messages);
            }
        }
    }
    Ok(out)
}

/// Loads `url` in MiniBrowser and collects the messages after each marker.
fn run_page(
    opts: &WebkitOptions,
    display: &str,
    url: &str,
) -> Result<Vec<(String, Vec<Message>)>, String> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let home = std::env::temp_dir().join(format!(
        "corsgate-webkit-console-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    let dir = |d: &str| home.join(d).display().to_string();
    // MiniBrowser writes nothing to a pipe until it exits (its console
    // lines sit in a buffer), so it runs on a pseudo-terminal: `script`
    // (util-linux) gives it one and copies what it writes to our pipe.
    let command = format!(
        "exec '{}' --enable-write-console-messages-to-stdout=true '{url}'",
        opts.minibrowser
    );
    let mut child = Command::new("script")
        .args(["-q", "-f", "-e", "-c", &command, "/dev/null"])
        .env("DISPLAY", display)
        .env("NO_AT_BRIDGE", "1")
        .env("XDG_DATA_HOME", dir("data"))
        .env("XDG_CACHE_HOME", dir("cache"))
        .env("XDG_CONFIG_HOME", dir("config"))
        .env("XDG_RUNTIME_DIR", dir("run"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start script(1) for {}: {e}", opts.minibrowser))?;
    let stdout = child.stdout.take().ok_or("MiniBrowser: no stdout")?;
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + CONSOLE_TIMEOUT;
    let mut out: Vec<(String, Vec<Message>)> = Vec::new();
    let mut finished = false;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = rx.recv_timeout(left) else {
            break;
        };
        let line = line.trim_end_matches('\r');
        if std::env::var_os("CORSGATE_CONSOLE_DEBUG").is_some() {
            eprintln!("minibrowser: {line}");
        }
        let Some(m) = parse_line(line) else { continue };
        if m.level == "LOG" {
            if let Some(key) = m.text.strip_prefix(MARK) {
                out.push((key.to_owned(), Vec::new()));
                continue;
            }
            if m.text == DONE {
                finished = true;
                break;
            }
        }
        if let Some((_, list)) = out.last_mut() {
            list.push(m);
        }
    }
    let exited = child.try_wait().ok().flatten();
    // `script` and MiniBrowser (with its web and network processes) are the
    // process group this pass started: end that group by its id.
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&home);
    if !finished {
        return Err(format!(
            "the WebKit console pass did not finish ({} jobs started; MiniBrowser {})",
            out.len(),
            exited.map_or_else(|| "still running".to_owned(), |s| format!("exited: {s}"))
        ));
    }
    Ok(out)
}

/// A message with the run's URLs and origins replaced: a case URL (with or
/// without `user:pass@`, query and all) by `<url>`, a bare origin by
/// `<origin>`.
pub fn normalize(text: &str, site: &Site) -> String {
    let mut origins: Vec<String> = Vec::new();
    for o in [&site.page, &site.target, &site.other] {
        origins.push(o.replacen("://", "://user:pass@", 1));
        origins.push(o.clone());
    }
    let mut out = String::new();
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for o in &origins {
            if let Some(tail) = rest.strip_prefix(o.as_str()) {
                let next = tail.chars().next();
                if next == Some('/') {
                    let end = tail
                        .find(|c: char| c.is_whitespace() || c == '\'' || c == '"')
                        .unwrap_or(tail.len());
                    let mut url_end = end;
                    // A sentence's full stop is not part of the URL.
                    if tail[..end].ends_with('.') {
                        url_end -= 1;
                    }
                    out.push_str("<url>");
                    rest = &tail[url_end..];
                } else {
                    out.push_str("<origin>");
                    rest = tail;
                }
                continue 'scan;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Whether a message is WebKit's generic last line ("Fetch API cannot load
/// … due to access control checks.", "XMLHttpRequest cannot load …"),
/// which names no reason.
pub fn is_generic(text: &str) -> bool {
    text.contains(" due to access control checks")
}

/// The refusal codes of corsgate's engine a WebKit reason message stands
/// for (several where WebKit has one message for what corsgate tells
/// apart), or `None` for a message this table does not know.
pub fn reason_codes(text: &str) -> Option<&'static [&'static str]> {
    const TABLE: &[(&str, &[&str])] = &[
        (
            "Preflight response is not successful",
            &["preflight_status"],
        ),
        // WebKit has one message for a missing, a mismatched and an
        // unparsable Access-Control-Allow-Origin.
        (
            "is not allowed by Access-Control-Allow-Origin",
            &["allow_origin_mismatch", "missing_allow_origin"],
        ),
        (
            "Cannot use wildcard in Access-Control-Allow-Origin when credentials flag is true",
            &["wildcard_origin_with_credentials"],
        ),
        (
            "Access-Control-Allow-Origin cannot contain more than one origin",
            &["multiple_allow_origin"],
        ),
        (
            "Credentials flag is true, but Access-Control-Allow-Credentials is not",
            &["invalid_allow_credentials"],
        ),
        (
            "is not allowed by Access-Control-Allow-Methods",
            &["method_not_allowed"],
        ),
        (
            "is not allowed by Access-Control-Allow-Headers",
            &["header_not_allowed"],
        ),
        (
            "Header Access-Control-Allow-Methods has an invalid value",
            &["invalid_allow_methods"],
        ),
        (
            "Header Access-Control-Allow-Headers has an invalid value",
            &["invalid_allow_headers"],
        ),
        ("has credentials", &["redirect_contains_credentials"]),
        // `mode: "same-origin"` to another origin: fetch's own message, and
        // the loader's after a redirect.
        (
            "Domains, protocols and ports must match",
            &["disallowed_by_mode"],
        ),
    ];
    if let Some((_, codes)) = TABLE.iter().find(|(needle, _)| text.contains(needle)) {
        return Some(codes);
    }
    // "Fetch API cannot load <url>." (no reason): fetch's refusal of a
    // cross-origin URL in `same-origin` mode.
    if text.starts_with("Fetch API cannot load ") && !is_generic(text) {
        return Some(&["disallowed_by_mode"]);
    }
    None
}

/// Whether a console message is a reason line (not the generic last line,
/// not a `console.log`, not a refusal to set a forbidden header).
pub fn is_reason(m: &Message) -> bool {
    m.level != "LOG" && !is_generic(&m.text) && !m.text.starts_with("Refused to set unsafe header")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_minibrowser_lines() {
        let m = parse_line(
            "CONSOLE SECURITY ERROR Preflight response is not successful. Status code: 501",
        )
        .expect("a message");
        assert_eq!(m.level, "SECURITY ERROR");
        assert_eq!(
            m.text,
            "Preflight response is not successful. Status code: 501"
        );
        let m = parse_line("http://localhost:1/t.html:2:12: CONSOLE LOG corsgate-job 3:f")
            .expect("a message");
        assert_eq!(
            (m.level.as_str(), m.text.as_str()),
            ("LOG", "corsgate-job 3:f")
        );
        assert!(parse_line("Gtk-WARNING **: cannot open display").is_none());
    }

    #[test]
    fn normalizes_urls_and_origins() {
        let site = Site {
            page: "http://localhost:1".into(),
            target: "http://localhost:2".into(),
            other: "http://127.0.0.1:3".into(),
            run: "r1".into(),
        };
        assert_eq!(
            normalize(
                "Fetch API cannot load http://user:pass@localhost:2/c/r1/4/f/1?x due to access control checks.",
                &site
            ),
            "Fetch API cannot load <url> due to access control checks."
        );
        assert_eq!(
            normalize(
                "Origin http://localhost:1 is not allowed by Access-Control-Allow-Origin.",
                &site
            ),
            "Origin <origin> is not allowed by Access-Control-Allow-Origin."
        );
        assert_eq!(
            normalize("Cannot load http://127.0.0.1:3/c/r1/4/x/0.", &site),
            "Cannot load <url>."
        );
    }
}
