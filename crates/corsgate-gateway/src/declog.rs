//! The decision log (`[decision_log]`, off by default): one JSON line per
//! CORS request the gateway decided (a preflight or an actual request with
//! an `Origin`, allowed or refused), in the format `corsgate-decisions/1`
//! that `corsgate infer` reads (docs/gateway.md, "Decision log").
//!
//! A line carries names, never values: the origin, method, route and path;
//! the request header names a browser would announce; whether credentials
//! (`Cookie`, `Authorization`) were carried, not what they were; the
//! upstream's non-safelisted response header names and those the answer
//! exposed; the decision and its reason code. Every client-supplied string
//! is clipped ([`crate::logging::clip`]) and at most [`MAX_NAMES`] names are
//! listed per list (the rest counted); control characters, quotes and
//! backslashes are escaped as JSON.
//!
//! The proxy path never waits for the log: a line is queued for a writer
//! thread of its own, and when the queue holds `buffer` bytes already the
//! line is dropped and counted (`corsgate_decision_log_dropped_total`), so a
//! stalled disk or pipe never slows a request and a flood never grows
//! memory past the buffer. With the log off, a request pays one `Option`
//! test.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc};

use corsgate_core::safelist::{
    is_browser_added_request_header, is_forbidden_request_header, is_forbidden_response_header,
    is_safelisted_response_header, unsafe_request_header_names,
};
use corsgate_core::{HeaderList, Profile, RequestKind};
use http::header::{self, HeaderMap, HeaderName};

use crate::config::{DecisionLogConfig, Destination, FORMAT};
use crate::logging::clip;
use crate::metrics::Metrics;

/// The most names listed in one of a line's lists; the rest are counted in
/// the list's `…_omitted` key.
pub(crate) const MAX_NAMES: usize = 64;

/// The open log: the proxy side of the queue.
#[derive(Debug)]
pub(crate) struct DecisionLog {
    tx: mpsc::Sender<String>,
    queued: Arc<AtomicUsize>,
    buffer: usize,
    metrics: Arc<Metrics>,
}

impl DecisionLog {
    /// Opens the destination and starts the writer thread.
    pub(crate) fn open(config: &DecisionLogConfig, metrics: Arc<Metrics>) -> std::io::Result<Self> {
        let out: Box<dyn Write + Send> = match &config.destination {
            Destination::Stderr => Box::new(std::io::stderr()),
            Destination::Stdout => Box::new(std::io::stdout()),
            Destination::File(p) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
        };
        Self::with_writer(out, config.buffer, metrics)
    }

    /// The same over any writer.
    fn with_writer(
        out: Box<dyn Write + Send>,
        buffer: usize,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<String>();
        let queued = Arc::new(AtomicUsize::new(0));
        let (q, m) = (queued.clone(), metrics.clone());
        std::thread::Builder::new()
            .name("corsgate-declog".into())
            .spawn(move || write_lines(rx, out, &q, &m))?;
        metrics.decision_log_on();
        Ok(DecisionLog {
            tx,
            queued,
            buffer,
            metrics,
        })
    }

    /// Queues a line, or drops and counts it when the queue is full.
    fn push(&self, line: String) {
        let n = line.len() + 1;
        let before = self.queued.fetch_add(n, Relaxed);
        if before + n > self.buffer {
            self.queued.fetch_sub(n, Relaxed);
            self.metrics.decision_log_dropped(1);
            return;
        }
        if self.tx.send(line).is_err() {
            self.queued.fetch_sub(n, Relaxed);
            self.metrics.decision_log_dropped(1);
        }
    }
}

/// The writer thread: each line written as it comes, flushed whenever the
/// queue is empty; a line that fails to write is counted as dropped.
fn write_lines(
    rx: mpsc::Receiver<String>,
    out: Box<dyn Write + Send>,
    queued: &AtomicUsize,
    metrics: &Metrics,
) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    let mut pending = 0u64;
    while let Ok(line) = rx.recv() {
        let mut next = Some(line);
        while let Some(line) = next {
            let n = line.len() + 1;
            let ok = out.write_all(line.as_bytes()).is_ok() && out.write_all(b"\n").is_ok();
            drop(line);
            queued.fetch_sub(n, Relaxed);
            if ok {
                pending += 1;
            } else {
                metrics.decision_log_dropped(1);
            }
            next = rx.try_recv().ok();
        }
        if out.flush().is_ok() {
            metrics.decision_log_written(pending);
        } else {
            metrics.decision_log_dropped(pending);
        }
        pending = 0;
    }
    let _ = out.flush();
}

/// What a line needs from the request, taken before the request is
/// forwarded (then the response's side is added by [`Pending::finish`]).
#[derive(Debug)]
pub(crate) struct Pending {
    route: String,
    host: String,
    path: String,
    kind: RequestKind,
    origin: String,
    method: String,
    request_headers: Vec<String>,
    request_headers_omitted: usize,
    credentials: bool,
    decision: &'static str,
    reason: &'static str,
}

/// The facts of one decided request.
pub(crate) struct Request<'a> {
    /// The route's path prefix.
    pub route: &'a str,
    /// The canonical host as forwarded (may be empty).
    pub host: &'a [u8],
    /// The normalised path.
    pub path: &'a str,
    /// The request's method.
    pub method: &'a http::Method,
    /// The request's headers.
    pub headers: &'a HeaderMap,
    /// The kind the engine decided.
    pub kind: RequestKind,
    /// Whether the policy allowed it.
    pub allowed: bool,
    /// The decision's reason code.
    pub reason: &'static str,
}

impl Pending {
    /// The request's side of a line; `None` for a request that is not CORS.
    pub(crate) fn new(r: Request<'_>) -> Option<Pending> {
        if r.kind == RequestKind::NotCors {
            return None;
        }
        let origin = r.headers.get(header::ORIGIN)?;
        let text = |v: &[u8]| clip(v).into_owned();
        let (method, names) = if r.kind == RequestKind::Preflight {
            let method = r
                .headers
                .get(header::ACCESS_CONTROL_REQUEST_METHOD)
                .map(|m| text(m.as_bytes()))
                .unwrap_or_default();
            let mut names: Vec<String> = r
                .headers
                .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .iter()
                .flat_map(|v| v.as_bytes().split(|b| *b == b','))
                .map(|n| text(n.trim_ascii()).to_ascii_lowercase())
                .filter(|n| !n.is_empty())
                .collect();
            names.sort();
            names.dedup();
            (method, names)
        } else {
            (text(r.method.as_str().as_bytes()), announced(r.headers))
        };
        let omitted = names.len().saturating_sub(MAX_NAMES);
        let mut names = names;
        names.truncate(MAX_NAMES);
        Some(Pending {
            route: r.route.to_owned(),
            host: text(r.host),
            path: text(r.path.as_bytes()),
            kind: r.kind,
            origin: text(origin.as_bytes()),
            method,
            request_headers: names,
            request_headers_omitted: omitted,
            credentials: r.headers.contains_key(header::COOKIE)
                || r.headers.contains_key(header::AUTHORIZATION),
            decision: if r.allowed { "allowed" } else { "refused" },
            reason: r.reason,
        })
    }

    /// Completes the line with the answer (`None` for a preflight) and
    /// queues it.
    pub(crate) fn finish(self, log: &DecisionLog, status: u16, response: Option<&HeaderMap>) {
        let mut names: Vec<&HeaderName> = response
            .map(|h| h.keys().filter(|n| candidate(n)).collect())
            .unwrap_or_default();
        names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        let mut exposed = Vec::new();
        let mut exposed_any = false;
        if let Some(h) = response {
            for v in h.get_all(header::ACCESS_CONTROL_EXPOSE_HEADERS) {
                for n in v.as_bytes().split(|b| *b == b',') {
                    let n = n.trim_ascii();
                    if n == b"*" {
                        exposed_any = true;
                    } else if let Some(m) = names
                        .iter()
                        .find(|m| m.as_str().as_bytes().eq_ignore_ascii_case(n))
                    {
                        exposed.push(clip(m.as_str().as_bytes()));
                    }
                }
            }
        }
        exposed.sort();
        exposed.dedup();
        exposed.truncate(MAX_NAMES);
        let omitted = names.len().saturating_sub(MAX_NAMES);
        names.truncate(MAX_NAMES);
        // Written by hand into one string (a third of serde_json's cost per
        // line in the callgrind count): the keys in this order are the format
        // (docs/gateway.md, "Decision log").
        let mut out = String::with_capacity(
            320 + self.origin.len() + self.path.len() + self.host.len() + 24 * names.len(),
        );
        out.push_str("{\"format\":\"");
        out.push_str(FORMAT);
        out.push_str("\",\"time\":\"");
        let _ = write!(
            out,
            "{}",
            humantime::format_rfc3339_millis(std::time::SystemTime::now())
        );
        out.push_str("\",\"route\":");
        json_str(&mut out, &self.route);
        out.push_str(",\"host\":");
        json_str(&mut out, &self.host);
        out.push_str(",\"path\":");
        json_str(&mut out, &self.path);
        out.push_str(",\"kind\":\"");
        out.push_str(crate::cors::kind_label(self.kind));
        out.push_str("\",\"origin\":");
        json_str(&mut out, &self.origin);
        out.push_str(",\"method\":");
        json_str(&mut out, &self.method);
        out.push_str(",\"request_headers\":");
        json_list(&mut out, self.request_headers.iter().map(String::as_str));
        if self.request_headers_omitted > 0 {
            let _ = write!(
                out,
                ",\"request_headers_omitted\":{}",
                self.request_headers_omitted
            );
        }
        out.push_str(",\"credentials\":");
        out.push_str(if self.credentials { "true" } else { "false" });
        out.push_str(",\"response_headers\":");
        // The upstream's names are clipped as the client's are: they too
        // come from outside, and a line stays within what `infer` tells
        // from its first bytes.
        json_list(&mut out, names.iter().map(|n| clip(n.as_str().as_bytes())));
        if omitted > 0 {
            let _ = write!(out, ",\"response_headers_omitted\":{omitted}");
        }
        out.push_str(",\"exposed\":");
        json_list(&mut out, exposed.iter());
        if exposed_any {
            out.push_str(",\"exposed_any\":true");
        }
        let _ = write!(
            out,
            ",\"status\":{status},\"decision\":\"{}\",\"reason\":",
            self.decision
        );
        json_str(&mut out, self.reason);
        out.push('}');
        log.push(out);
    }
}

/// Appends `s` as a JSON string: `"`, `\\` and control characters escaped
/// (what serde_json escapes), everything else as it is.
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut rest = s;
    while let Some(i) = rest
        .bytes()
        .position(|b| b < 0x20 || b == b'"' || b == b'\\')
    {
        out.push_str(&rest[..i]);
        match rest.as_bytes()[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            c => {
                let _ = write!(out, "\\u{:04x}", c);
            }
        }
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

/// Appends a JSON array of strings.
fn json_list<S: AsRef<str>>(out: &mut String, items: impl Iterator<Item = S>) {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(out, item.as_ref());
    }
    out.push(']');
}

/// Whether a response header is a candidate for exposure: one script cannot
/// read without it (not safelisted, not `Set-Cookie`, not a CORS header).
fn candidate(name: &HeaderName) -> bool {
    let n = name.as_str();
    !is_safelisted_response_header(n)
        && !is_forbidden_response_header(n)
        && !crate::cors::is_cors_response_header(name)
}

/// The header names a browser would announce for an actual request with
/// these headers: the CORS-unsafe ones (Chromium's rules), leaving out what
/// script cannot set, what a browser adds by itself and what proxies add
/// (`X-Forwarded-*`, `Forwarded`, `X-Real-IP`…).
fn announced(headers: &HeaderMap) -> Vec<String> {
    let mut list = HeaderList::new();
    for (name, value) in headers {
        let n = name.as_str();
        if is_forbidden_request_header(n, value.as_bytes())
            || is_browser_added_request_header(n)
            || n.starts_with("x-forwarded-")
            || n == "forwarded"
            || crate::forward::FORWARDING_FACTS.contains(name)
        {
            continue;
        }
        list.append(n, value.as_bytes());
    }
    unsafe_request_header_names(&list, Profile::Chromium)
        .into_iter()
        .map(|u| clip(u.name.as_bytes()).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy as _;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    /// A writer that blocks until told to go on.
    struct Stalled(Arc<std::sync::Barrier>, Arc<AtomicUsize>);
    impl Write for Stalled {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.1.fetch_add(b.len(), Relaxed) == 0 {
                self.0.wait();
            }
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_writer_drops_and_counts_and_the_queue_stays_within_its_buffer() {
        let metrics = Arc::new(Metrics::default());
        let go = Arc::new(std::sync::Barrier::new(2));
        let bytes = Arc::new(AtomicUsize::new(0));
        let buffer = 64 * 1024;
        let log = DecisionLog::with_writer(
            Box::new(Stalled(go.clone(), bytes.clone())),
            buffer,
            metrics.clone(),
        )
        .unwrap();
        let line = "x".repeat(999);
        let mut most = 0;
        for _ in 0..100_000 {
            log.push(line.clone());
            most = most.max(log.queued.load(Relaxed));
        }
        assert!(most <= buffer, "{most} bytes queued");
        let dropped = metrics.decision_log_dropped_total();
        // Held: at most the queue's 64 KiB and the writer's 64 KiB buffer
        // (filled before its first write stalled), 1,000 bytes a line.
        assert!(dropped >= 100_000 - 2 * 66, "{dropped}");
        go.wait();
        drop(log);
        for _ in 0..500 {
            if metrics.decision_log_written_total() + dropped == 100_000 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(metrics.decision_log_written_total() + dropped, 100_000);
        assert_eq!(
            bytes.load(Relaxed),
            metrics.decision_log_written_total() as usize * 1000
        );
    }

    #[test]
    fn json_strings_read_back_as_written() {
        let mut cases: Vec<String> = [
            "",
            "https://a.example",
            "a\"b\\c",
            "tab\there\nnl\rcr",
            "\u{0}\u{1}\u{1f}\u{7f}",
            "é€😀…(300 bytes)",
            "\u{FFFD}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        cases.push((0u8..=0x7f).map(char::from).collect());
        for c in cases {
            let mut out = String::new();
            json_str(&mut out, &c);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), c, "{out}");
            assert_eq!(out, serde_json::to_string(&c).unwrap());
            assert!(!out.bytes().any(|b| b < 0x20), "{out:?}");
        }
    }

    proptest::proptest! {
        /// The hand-written escaping against serde_json's over any string,
        /// control characters, quotes and backslashes made common.
        #[test]
        fn json_strings_are_serde_jsons(chars in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::arbitrary::any::<char>(),
                (0u8..0x20).prop_map(char::from),
                proptest::strategy::Just('"'),
                proptest::strategy::Just('\\'),
                proptest::strategy::Just('\u{7f}'),
            ],
            0..48,
        )) {
            let s: String = chars.into_iter().collect();
            let mut out = String::new();
            json_str(&mut out, &s);
            proptest::prop_assert_eq!(out, serde_json::to_string(&s).unwrap());
        }
    }

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Shared(Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_upstreams_long_header_name_is_clipped_like_a_clients() {
        let metrics = Arc::new(Metrics::default());
        let out = Shared::default();
        let log =
            DecisionLog::with_writer(Box::new(out.clone()), 1 << 20, metrics.clone()).unwrap();
        let long = format!("x-{}", "a".repeat(2998));
        let request = map(&[("origin", "https://a.example")]);
        let response = map(&[(long.as_str(), "1"), ("x-total", "3")]);
        let p = Pending::new(Request {
            route: "/",
            host: b"api.example",
            path: "/",
            method: &http::Method::GET,
            headers: &request,
            kind: RequestKind::Actual,
            allowed: true,
            reason: "origin_allowed",
        })
        .unwrap();
        p.finish(&log, 200, Some(&response));
        drop(log);
        for _ in 0..500 {
            if metrics.decision_log_written_total() == 1 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        let names: Vec<&str> = line["response_headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{text}");
        assert!(
            names[0].ends_with("…(3000 bytes)") && names[0].len() < 300,
            "{text}"
        );
        assert_eq!(names[1], "x-total");
        assert!(text.len() < 1000, "{} bytes", text.len());
    }

    #[test]
    fn announced_names_leave_out_what_script_cannot_set() {
        let h = map(&[
            ("origin", "https://a.example"),
            ("user-agent", "x"),
            ("sec-fetch-mode", "cors"),
            ("accept", "*/*"),
            ("cookie", "a=b"),
            ("x-forwarded-for", "10.0.0.1"),
            ("x-real-ip", "10.0.0.1"),
            ("content-type", "application/json"),
            ("x-csrf", "1"),
            ("authorization", "Bearer t"),
        ]);
        assert_eq!(announced(&h), ["authorization", "content-type", "x-csrf"]);
    }
}
