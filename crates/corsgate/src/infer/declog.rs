//! The gateway's decision log (`corsgate-decisions/1`, written by
//! `corsgate serve` with `[decision_log]`) as `corsgate infer` input: one
//! JSON object per line, each an [`Observed`] request whose source is
//! `file:line`.
//!
//! What a line contributes: an allowed preflight, its origin, the method it
//! asks for and the header names it announces; an allowed actual request,
//! its origin, method, announced header names, credentials when it carried
//! a cookie or `Authorization`, and the response header names its answer
//! exposed and carried. Not proposed, each counted in a note:
//! * a refused line (anyone on the internet can make the gateway refuse a
//!   request: a log is not a recording of one's own front-end), unless
//!   `--include-refused`;
//! * a same-origin line (its origin's host and port are the request's
//!   `Host`: a page posting to its own site sends an `Origin` too);
//! * a line whose values the gateway clipped or whose names it omitted
//!   (not the request as sent).
//!
//! A malformed line (not JSON, a key missing or of the wrong type, an
//! unknown `kind` or `decision`, longer than [`MAX_LINE`]) is reported with
//! its `file:line` and what is wrong, counted, and the run goes on (a log
//! cut mid-line by a crash or a rotation is ordinary); the proposal's notes
//! list them. A line of another format version stops the run (exit 2): its
//! meaning is unknown.

use std::io::BufRead;

use corsgate_core::infer::Observed;
use corsgate_core::Origin;
use serde::Deserialize;

/// The format this reader knows.
pub const FORMAT: &str = "corsgate-decisions/1";

/// What every version's `format` value starts with.
const FAMILY: &str = "corsgate-decisions/";

/// The longest line read; a longer one is malformed (the gateway's lines
/// are bounded far below: values clipped at 256 bytes, 64 names a list).
pub const MAX_LINE: usize = 1 << 20;

/// Whether a file's first bytes are a decision log: its first non-blank
/// line (within `head`) is a JSON object whose `format` is
/// `corsgate-decisions/…`. A HAR's first line is `{` or a whole `{"log":…}`
/// object; a first line longer than `head` is not a log's.
pub fn looks_like(head: &[u8]) -> bool {
    let head = head.trim_ascii_start();
    let first = memchr::memchr(b'\n', head).map_or(head, |i| &head[..i]);
    #[derive(Deserialize)]
    struct Probe {
        format: Option<serde_json::Value>,
    }
    serde_json::from_slice::<Probe>(first.trim_ascii()).is_ok_and(|p| {
        p.format
            .as_ref()
            .and_then(|f| f.as_str())
            .is_some_and(|f| f.starts_with(FAMILY))
    })
}

/// The most bytes [`head`] reads to find a first line.
pub const HEAD: usize = 64 * 1024;

/// Reads the start of an input, up to the end of its first non-blank line
/// (or [`HEAD`] bytes, or the end), for [`looks_like`]; the caller reads on
/// from these bytes (a pipe gives a line in pieces).
pub fn head(input: &mut impl std::io::Read) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 8192];
    while head.len() < HEAD {
        let n = match input.read(&mut chunk[..(HEAD - head.len()).min(8192)]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        head.extend_from_slice(&chunk[..n]);
        let start = head.len() - head.trim_ascii_start().len();
        if memchr::memchr(b'\n', &head[start..]).is_some() {
            break;
        }
    }
    Ok(head)
}

/// One line, as read (unknown keys are ignored: a later gateway of the same
/// format version may add some).
#[derive(Debug, Deserialize)]
struct Line {
    format: String,
    kind: String,
    origin: String,
    method: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    request_headers: Vec<String>,
    #[serde(default)]
    request_headers_omitted: usize,
    credentials: bool,
    #[serde(default)]
    exposed: Vec<String>,
    #[serde(default)]
    exposed_any: bool,
    decision: String,
}

/// Lines of one sort left out: how many, and the first [`Listed::KEPT`] of
/// them (anyone can make a gateway log refused lines by the million: the
/// tally must not grow with them).
#[derive(Debug, Default)]
pub struct Listed {
    /// How many.
    pub count: usize,
    /// The first ones, each located.
    pub first: Vec<String>,
}

impl Listed {
    /// The most kept to be named.
    pub const KEPT: usize = 20;

    /// Counts one, keeping its description while fewer than [`Self::KEPT`]
    /// are (`describe` is not called for the others).
    pub fn push(&mut self, describe: impl FnOnce() -> String) {
        self.count += 1;
        if self.first.len() < Self::KEPT {
            self.first.push(describe());
        }
    }
}

/// What the lines of every log showed, beside the observed requests.
#[derive(Debug, Default)]
pub struct Tally {
    /// Lines read (blank ones left out).
    pub lines: usize,
    /// Malformed lines: `file:line: what is wrong`.
    pub malformed: Listed,
    /// Refused requests left out: `file:line origin method`.
    pub refused: Listed,
    /// Same-origin lines left out.
    pub same_origin: usize,
    /// Lines with a clipped value or omitted names: `file:line`.
    pub clipped: Listed,
    /// Answers that exposed every header (`*`).
    pub exposed_any: usize,
    /// Answers that exposed a header by name (proposed, a guess: the log
    /// does not show whether script read it).
    pub exposed_named: usize,
}

/// Why reading stops.
#[derive(Debug)]
pub enum Fatal {
    /// The input could not be read.
    Io(String),
    /// A line of a format version this reader does not know.
    Version(String),
}

/// Reads one decision log into `observed`, counting in `tally`.
pub fn read(
    file: &str,
    mut input: impl BufRead,
    include_refused: bool,
    observed: &mut Vec<Observed>,
    tally: &mut Tally,
) -> Result<(), Fatal> {
    let mut buf = Vec::new();
    let mut number = 0usize;
    loop {
        buf.clear();
        number += 1;
        let (len, complete) = read_line(&mut input, &mut buf)
            .map_err(|e| Fatal::Io(format!("{file}:{number}: cannot read: {e}")))?;
        if len == 0 {
            return Ok(());
        }
        let at = format!("{file}:{number}");
        if len > MAX_LINE {
            tally.lines += 1;
            tally
                .malformed
                .push(|| format!("{at}: a line of {len} bytes (over {MAX_LINE})"));
            continue;
        }
        let text = buf.trim_ascii();
        if text.is_empty() {
            continue;
        }
        tally.lines += 1;
        if !complete && serde_json::from_slice::<serde_json::Value>(text).is_err() {
            tally
                .malformed
                .push(|| format!("{at}: the last line is cut short (no newline)"));
            continue;
        }
        let line: Line = match serde_json::from_slice(text) {
            Ok(l) => l,
            Err(e) => {
                tally
                    .malformed
                    .push(|| format!("{at}: {}", describe(text, &e)));
                continue;
            }
        };
        if line.format != FORMAT {
            if line.format.starts_with(FAMILY) {
                return Err(Fatal::Version(format!(
                    "{at}: format {:?} is not one this corsgate reads (it reads {FORMAT:?}); use the corsgate that matches the gateway",
                    line.format
                )));
            }
            tally.malformed.push(|| {
                format!(
                    "{at}: format {:?} is not a decision log format ({FORMAT:?})",
                    line.format
                )
            });
            continue;
        }
        let preflight = match line.kind.as_str() {
            "preflight" => true,
            "actual" => false,
            k => {
                tally
                    .malformed
                    .push(|| format!("{at}: kind {k:?} (preflight or actual)"));
                continue;
            }
        };
        match line.decision.as_str() {
            "allowed" => {}
            "refused" if include_refused => {}
            "refused" => {
                tally
                    .refused
                    .push(|| format!("{at} {} {}", line.origin, line.method));
                continue;
            }
            d => {
                tally
                    .malformed
                    .push(|| format!("{at}: decision {d:?} (allowed or refused)"));
                continue;
            }
        }
        if line.request_headers_omitted > 0
            || [&line.origin, &line.method]
                .into_iter()
                .chain(&line.request_headers)
                .chain(&line.exposed)
                .any(|v| clipped(v))
        {
            tally.clipped.push(|| at);
            continue;
        }
        if same_origin(&line.origin, &line.host) {
            tally.same_origin += 1;
            continue;
        }
        let mut source = format!("{at} {} {}", line.method, line.path);
        source.truncate(source.trim_end().len());
        if preflight {
            source.push_str(" (preflight)");
        }
        let mut o = Observed::new(line.origin, line.method).source(source);
        if !line.request_headers.is_empty() {
            o = o.announced(line.request_headers.join(","));
        }
        if !preflight {
            o = o.credentials(line.credentials);
            if !line.exposed.is_empty() {
                tally.exposed_named += 1;
            }
            for n in line.exposed {
                o = o.expose(n);
            }
            if line.exposed_any {
                tally.exposed_any += 1;
            }
        }
        observed.push(o);
    }
}

/// Reads up to and including the next `\n` into `buf`, keeping at most
/// [`MAX_LINE`] + 1 bytes of it: (the line's full length, whether it ended
/// with a newline).
fn read_line(input: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<(usize, bool)> {
    let mut len = 0;
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok((len, false));
        }
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = (MAX_LINE + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..take.min(room)]);
        len += take;
        input.consume(take);
        if done {
            return Ok((len, true));
        }
    }
}

/// What is wrong with a line serde refused, in words, with the column (the
/// line is the file's, given by the caller).
fn describe(text: &[u8], e: &serde_json::Error) -> String {
    let message = e.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m);
    match e.classify() {
        serde_json::error::Category::Data => format!("{message} (column {})", e.column()),
        _ if text.first() != Some(&b'{') => "not a JSON object".to_owned(),
        _ => format!("not JSON: {message} (column {})", e.column()),
    }
}

/// Whether a value carries the gateway's clip marker (`…(N bytes)`).
fn clipped(v: &str) -> bool {
    v.rsplit_once("…(")
        .and_then(|(_, tail)| tail.strip_suffix(" bytes)"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether an origin names the same host and port as the request's `Host`
/// (the default port of the origin's scheme implied on either side), by
/// the engine's own origin comparison (the one HAR reading uses).
fn same_origin(origin: &str, host: &str) -> bool {
    if host.is_empty() || host.contains(['/', '\\', '?', '#', '@']) {
        return false;
    }
    let Ok(o) = Origin::parse_header(origin) else {
        return false;
    };
    // Only http(s): the gateway serves nothing else, and another scheme is
    // the proposal's to refuse with its note.
    o.tuple()
        .filter(|t| matches!(t.scheme(), "http" | "https"))
        .is_some_and(|t| {
            Origin::from_url_str(&format!("{}://{host}/", t.scheme()))
                .is_ok_and(|h| o.same_origin(&h))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_told_by_its_first_bytes() {
        for (head, yes) in [
            (
                &br#"{"format":"corsgate-decisions/1","time":"x"}"#[..],
                true,
            ),
            (b"  \n{ \"format\" : \"corsgate-decisions/7\" }\nmore", true),
            (br#"{"log":{"version":"1.2"}}"#, false),
            (br#"{"time":"x","format":"corsgate-decisions/1"}"#, true),
            (b"{\n  \"format\": \"corsgate-decisions/1\"\n}", false),
            (
                br#"{"format":"corsgate-decisions/1","origin":"https://a"#,
                false,
            ),
            (b"", false),
            (b"\x1f\x8b", false),
        ] {
            assert_eq!(looks_like(head), yes, "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn clip_markers_and_same_origins() {
        assert!(clipped("https://aaa…(15000 bytes)"));
        assert!(!clipped("https://a.example"));
        assert!(!clipped("x…( bytes)"));
        for (origin, host, same) in [
            ("https://api.example", "api.example", true),
            ("https://api.example", "api.example:443", true),
            // Not an origin a browser sends (it serializes lower case): the
            // proposal refuses it, as it does a HAR's.
            ("https://API.example", "api.example", false),
            ("https://api.example", "API.example", true),
            ("http://api.example:8080", "api.example:8080", true),
            ("https://app.example", "api.example", false),
            ("https://api.example", "api.example:8443", false),
            ("null", "api.example", false),
            ("https://api.example", "", false),
            // A trailing dot is another host to a browser.
            ("https://api.example.", "api.example", false),
            ("https://api.example", "api.example.", false),
            ("https://[::1]", "[::1]:443", true),
            ("http://127.0.0.1:8080", "127.0.0.1:8080", true),
            ("https://api.example", "evil.example@api.example", false),
            ("https://api.example", "api.example/x", false),
            ("https://api.example/x", "api.example", false),
            ("ftp://api.example", "api.example", false),
        ] {
            assert_eq!(same_origin(origin, host), same, "{origin} {host}");
        }
    }

    #[test]
    fn left_out_lines_are_counted_and_only_the_first_kept() {
        let refused = r#"{"format":"corsgate-decisions/1","kind":"actual","origin":"https://evil.example","method":"GET","credentials":false,"decision":"refused"}"#;
        for (n, kept) in [
            (0, 0),
            (1, 1),
            (Listed::KEPT, Listed::KEPT),
            (5_000, Listed::KEPT),
        ] {
            let text = format!("{refused}\nnot json\n").repeat(n);
            let (mut observed, mut tally) = (Vec::new(), Tally::default());
            read("f", text.as_bytes(), false, &mut observed, &mut tally).unwrap();
            assert!(observed.is_empty());
            for l in [&tally.refused, &tally.malformed] {
                assert_eq!((l.count, l.first.len()), (n, kept));
            }
            if n > 0 {
                assert!(
                    tally.refused.first[0].starts_with("f:1 "),
                    "{:?}",
                    tally.refused.first
                );
                assert!(
                    tally.malformed.first[0].starts_with("f:2: "),
                    "{:?}",
                    tally.malformed.first
                );
            }
        }
    }
}
