//! The browsers' console messages, compared with the engine's refusals.
//!
//! Chromium's console (read through chromedriver's log) and Firefox's console
//! service (read in Marionette's chrome context) say, for a blocked request,
//! which check failed first and which request header or method they refused.
//! Each message names a case URL (`/c/<run>/<id>/<api>/<hop>`), so it is
//! attributed to its case; the class it names (Chromium's `CorsError`,
//! Firefox's console category) and the header or method it quotes are
//! compared with the engine's refusal for the same case under the
//! browser's profile. [`fixture_lines`] writes the distinct messages, with
//! the class each proves, for `corsgate explain`'s tests.

use std::collections::BTreeMap;
use std::fmt;

use corsgate_core::{Profile, Refusal};

use crate::case::{route, Api, Case, Site};
use crate::judge::{Engine, Observation, Outcome};

/// Which browser a message comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Chromium's DevTools console.
    Chromium,
    /// Firefox's console service.
    Firefox,
}

/// What a message (or a refusal) names: the failure class and, when the
/// message names one, the request header or method refused.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Class {
    /// Chromium's `CorsError` (`PreflightMissingAllowOriginHeader`…) or
    /// Firefox's console category (`CORSMissingAllowOrigin`…).
    pub name: String,
    /// The header (lower case) or method the message names, if any.
    pub named: Option<String>,
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(n) = &self.named {
            write!(f, " {n}")?;
        }
        Ok(())
    }
}

/// One console message attributed to a case.
#[derive(Debug, Clone)]
pub struct Message {
    /// The case.
    pub id: u32,
    /// The API.
    pub api: Api,
    /// The class it names.
    pub class: Class,
    /// The message as the console prints it.
    pub text: String,
}

/// The case a message is about: the first URL in it that is a case URL.
pub fn case_of(text: &str, run: &str) -> Option<(u32, Api)> {
    let mut rest = text;
    while let Some(i) = rest.find("http") {
        let candidate = &rest[i..];
        let end = candidate
            .find(|c: char| c.is_whitespace() || "'\"‘’()".contains(c))
            .unwrap_or(candidate.len());
        let url = candidate[..end].trim_end_matches('.');
        if let Some(r) = route(url, run) {
            return Some((r.id, r.api));
        }
        rest = &candidate[end.max(4)..];
    }
    None
}

/// The text between `start` and the next `end`.
fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    let rest = &s[i..];
    Some(&rest[..rest.find(end)?])
}

/// The class a Chromium console message names, with the named header or
/// method; `None` for messages that are not CORS errors.
pub fn chromium_class(text: &str) -> Option<Class> {
    // `fetch()` with mode "same-origin": logged by Blink, not the CORS check;
    // after a redirect to another origin, the frame's "Unsafe attempt".
    if (text.starts_with("Fetch API cannot load ")
        && text.contains("Request mode is \"same-origin\""))
        || (text.starts_with("Unsafe attempt to load URL ")
            && text.contains("Domains, protocols and ports must match"))
    {
        return Some(Class {
            name: "DisallowedByMode".into(),
            named: None,
        });
    }
    let marker = "has been blocked by CORS policy: ";
    let body = &text[text.find(marker)? + marker.len()..];
    let (pre, body) = match body
        .strip_prefix("Response to preflight request doesn't pass access control check: ")
    {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let pick = |actual: &str, preflight: &str| if pre { preflight } else { actual }.to_owned();
    let mut named = None;
    let name = if body.starts_with("No 'Access-Control-Allow-Origin' header") {
        pick(
            "MissingAllowOriginHeader",
            "PreflightMissingAllowOriginHeader",
        )
    } else if body.contains("must not be the wildcard '*'") {
        pick(
            "WildcardOriginNotAllowed",
            "PreflightWildcardOriginNotAllowed",
        )
    } else if body.contains("header contains multiple values") {
        pick(
            "MultipleAllowOriginValues",
            "PreflightMultipleAllowOriginValues",
        )
    } else if body.contains("header contains the invalid value") {
        pick(
            "InvalidAllowOriginValue",
            "PreflightInvalidAllowOriginValue",
        )
    } else if body.contains("that is not equal to the supplied origin") {
        pick("AllowOriginMismatch", "PreflightAllowOriginMismatch")
    } else if body.contains("'Access-Control-Allow-Credentials' header in the response is") {
        pick(
            "InvalidAllowCredentials",
            "PreflightInvalidAllowCredentials",
        )
    } else if body.starts_with("It does not have HTTP ok status") {
        "PreflightInvalidStatus".into()
    } else if body.starts_with("Redirect is not allowed for a preflight request") {
        "PreflightDisallowedRedirect".into()
    } else if body.starts_with("Cannot parse Access-Control-Allow-Methods") {
        "InvalidAllowMethodsPreflightResponse".into()
    } else if body.starts_with("Cannot parse Access-Control-Allow-Headers") {
        "InvalidAllowHeadersPreflightResponse".into()
    } else if let Some(m) = between(body, "Method ", " is not allowed by") {
        named = Some(m.to_owned());
        "MethodDisallowedByPreflightResponse".into()
    } else if let Some(h) = between(body, "Request header field ", " is not allowed by") {
        named = Some(h.to_ascii_lowercase());
        "HeaderDisallowedByPreflightResponse".into()
    } else if body.starts_with("Redirect location '") {
        "RedirectContainsCredentials".into()
    } else if body.starts_with("Cross origin requests are not allowed by request mode") {
        "DisallowedByMode".into()
    } else if body.starts_with("Cross origin requests are only supported for protocol schemes") {
        "CorsDisabledScheme".into()
    } else {
        format!("unknown: {body}")
    };
    Some(Class { name, named })
}

/// A Firefox console line as [`crate::webdriver::Driver::console`] gives it
/// (`<category>\t<e|w>\t<text>`): its class, whether it is a warning, and
/// the text.
pub fn firefox_class(line: &str) -> Option<(Class, bool, &str)> {
    let mut parts = line.splitn(3, '\t');
    let (category, level, text) = (parts.next()?, parts.next()?, parts.next()?);
    let quoted = |after: &str| between(text, after, "’").map(str::to_owned);
    let named = match category {
        // "header ‘x-b’ is not allowed according to header
        // ‘Access-Control-Allow-Headers’ from CORS preflight response"
        c if c.starts_with("CORSMissingAllowHeaderFromPreflight") => {
            quoted("header ‘").map(|h| h.to_ascii_lowercase())
        }
        _ => None,
    };
    // Firefox numbers revised message texts (`…Preflight2`); the reason is the same.
    let name = category.trim_end_matches(|c: char| c.is_ascii_digit());
    Some((
        Class {
            name: name.to_owned(),
            named,
        },
        level == "w",
        text,
    ))
}

/// What the engine names for a refusal, in `family`'s terms.
pub fn expected(refusal: &Refusal, family: Family) -> Option<Class> {
    let name = match family {
        Family::Chromium => refusal.chromium_error()?,
        Family::Firefox => refusal.firefox_error()?,
    };
    let named = match refusal {
        Refusal::HeaderNotAllowed { header, .. } => Some(header.to_ascii_lowercase()),
        // Firefox's message does not name the method.
        Refusal::MethodNotAllowed { method, .. } if family == Family::Chromium => {
            Some(method.clone())
        }
        _ => None,
    };
    Some(Class {
        name: name.to_owned(),
        named,
    })
}

/// The console messages of a run attributed to their cases: for each case
/// and API, the first error (not warning) message of its last run. Chromium
/// logs one message per blocked request, so that is its last message.
/// Firefox logs every check that failed, in order (a redirected preflight:
/// "external redirect not allowed", then the check of the 3xx answer), and
/// closes each failed request with "CORS request did not succeed": the
/// first message after the previous close is the first failure, and the
/// closing one counts only for a request that logged nothing else.
pub fn attribute(family: Family, console: &[String], run: &str) -> BTreeMap<(u32, Api), Message> {
    // Per request: the finished runs' message and the open run's first one.
    let mut runs: BTreeMap<(u32, Api), (Option<Message>, Option<Message>)> = BTreeMap::new();
    for line in console {
        let (class, text) = match family {
            Family::Chromium => {
                // chromedriver prefixes the page URL (or `javascript`) and a position.
                let Some(i) = [
                    "Access to ",
                    "Fetch API cannot load ",
                    "Unsafe attempt to load URL ",
                ]
                .iter()
                .filter_map(|m| line.find(m))
                .min() else {
                    continue;
                };
                let text = &line[i..];
                let Some(class) = chromium_class(text) else {
                    continue;
                };
                (class, text.trim_end().trim_end_matches('"').to_owned())
            }
            Family::Firefox => match firefox_class(line) {
                Some((class, false, text)) => (class, text.trim_end().to_owned()),
                _ => continue,
            },
        };
        let Some((id, api)) = case_of(&text, run) else {
            continue;
        };
        let message = Message {
            id,
            api,
            class,
            text,
        };
        let (done, open) = runs.entry((id, api)).or_default();
        match family {
            Family::Chromium => *done = Some(message),
            // A redirected preflight closes twice (the preflight, then the
            // request): a closing message stands only for a request that
            // logged nothing else.
            Family::Firefox if message.class.name == "CORSDidNotSucceed" => match open.take() {
                Some(first) => *done = Some(first),
                None if done.is_none() => *done = Some(message),
                None => {}
            },
            Family::Firefox => {
                if open.is_none() {
                    *open = Some(message);
                }
            }
        }
    }
    runs.into_iter()
        .filter_map(|(k, (done, open))| open.or(done).map(|m| (k, m)))
        .collect()
}

/// One blocked request where the console and the engine name different things.
#[derive(Debug, Clone)]
pub struct Miss {
    /// The case.
    pub id: u32,
    /// The API.
    pub api: Api,
    /// What the engine names (`None`: not a CORS refusal it names).
    pub engine: Option<Class>,
    /// What the console names (`None`: no CORS message).
    pub console: Option<Class>,
    /// The console's text.
    pub text: String,
    /// What reached the servers (the browser's observation).
    pub trace: Vec<String>,
}

/// How the console and the engine compare over a run.
#[derive(Debug, Clone, Default)]
pub struct ConsoleComparison {
    /// Blocked requests (the browser's outcome).
    pub blocked: usize,
    /// Of those, requests both name a class for.
    pub compared: usize,
    /// Of those, the same class.
    pub same_class: usize,
    /// Requests where the console names a header or method.
    pub named: usize,
    /// Of those, the same one named by the engine.
    pub same_named: usize,
    /// Requests where the console names a request header while the last
    /// preflight announced several the answer did not allow.
    pub several_disallowed: usize,
    /// Of those, the ones where the console's header is the first of the
    /// disallowed in alphabetical order (what the engine named before it
    /// modelled Blink's header-map order).
    pub first_sorted_named: usize,
    /// Blocked requests neither names a CORS class for (network errors).
    pub neither: usize,
    /// Requests where the console names another request header than the
    /// engine, one the preflight announced and the answer did not allow
    /// (several were disallowed: see [`another_disallowed_header`]).
    pub other_header: Vec<Miss>,
    /// `no-cors` requests the engine refuses (a redirect to `user:pass@`)
    /// for which the console logs nothing: Chromium writes no message when
    /// it refuses a `no-cors` fetch's redirect.
    pub silent_no_cors: Vec<Miss>,
    /// Every difference.
    pub misses: Vec<Miss>,
}

impl fmt::Display for ConsoleComparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = |a: usize, b: usize| {
            if b == 0 {
                100.0
            } else {
                a as f64 * 100.0 / b as f64
            }
        };
        write!(
            f,
            "{} blocked requests; class: {} / {} ({:.2} %); header/method named: {} / {} ({:.2} %) ({} with several disallowed headers, of which the first sorted is the one named in {}), of the others {} name another disallowed header; no CORS message and no CORS refusal: {}; no message for a refused no-cors request: {}; differences: {}",
            self.blocked,
            self.same_class,
            self.compared,
            pct(self.same_class, self.compared),
            self.same_named,
            self.named,
            pct(self.same_named, self.named),
            self.several_disallowed,
            self.first_sorted_named,
            self.other_header.len(),
            self.neither,
            self.silent_no_cors.len(),
            self.misses.len()
        )
    }
}

/// Whether the console names a request header that the last preflight
/// announced (`Access-Control-Request-Headers`) and the refusal's allowed
/// list does not hold: a header the engine also finds disallowed, though it
/// names another. When several headers are disallowed, Chromium names the
/// first in its request's header map, whose order is Blink's string-hash
/// order (and differs between `fetch()` and `XMLHttpRequest`: one request
/// with `Accept-Language`, `If-Range` and others names `accept-language`
/// from `fetch()`, `if-range` from XHR); the engine names the first in
/// alphabetical order.
pub fn another_disallowed_header(refusal: Option<&Refusal>, got: &Class, o: &Observation) -> bool {
    let (Some(Refusal::HeaderNotAllowed { allowed, .. }), Some(named)) = (refusal, &got.named)
    else {
        return false;
    };
    let announced = o
        .trace
        .iter()
        .rev()
        .find(|l| l.starts_with('P'))
        .and_then(|l| l.split(" acrh=").nth(1))
        .unwrap_or_default();
    announced.split(',').any(|h| h == named)
        && !allowed.iter().any(|a| a.eq_ignore_ascii_case(named))
}

/// The request headers the last preflight announced
/// (`Access-Control-Request-Headers`, sorted) that the refusal's allowed
/// list does not hold.
fn announced_disallowed(refusal: Option<&Refusal>, o: &Observation) -> Vec<String> {
    let Some(Refusal::HeaderNotAllowed { allowed, .. }) = refusal else {
        return Vec::new();
    };
    let announced = o
        .trace
        .iter()
        .rev()
        .find(|l| l.starts_with('P'))
        .and_then(|l| l.split(" acrh=").nth(1))
        .unwrap_or_default();
    announced
        .split(',')
        .filter(|h| !h.is_empty() && *h != "-")
        .filter(|h| !allowed.iter().any(|a| a.eq_ignore_ascii_case(h)))
        .map(str::to_owned)
        .collect()
}

/// Compares, for every request the browser blocked, the console's class
/// with the engine's (under `profile`).
pub fn compare(
    family: Family,
    profile: Profile,
    site: &Site,
    cases: &[Case],
    observed: &BTreeMap<(u32, Api), Observation>,
    messages: &BTreeMap<(u32, Api), Message>,
) -> ConsoleComparison {
    let mut c = ConsoleComparison::default();
    let engine = Engine(profile);
    for (&(id, api), o) in observed {
        if o.outcome != Outcome::Blocked {
            continue;
        }
        let Some(case) = cases.get(id as usize) else {
            continue;
        };
        c.blocked += 1;
        let refusal = engine
            .run(site, case, api)
            .ok()
            .and_then(|(_, v)| v)
            .and_then(|v| v.reason)
            .map(|r| r.details);
        let want = refusal.as_ref().and_then(|r| expected(r, family));
        let got = messages.get(&(id, api));
        let got_class = got.map(|m| m.class.clone());
        match (&want, &got_class) {
            (None, None) => c.neither += 1,
            (Some(w), Some(g)) => {
                c.compared += 1;
                let class_ok = w.name == g.name;
                if class_ok {
                    c.same_class += 1;
                }
                let named_ok = g.named.is_none() || w.named == g.named;
                if g.named.is_some() {
                    c.named += 1;
                    if named_ok {
                        c.same_named += 1;
                    }
                    let disallowed = announced_disallowed(refusal.as_ref(), o);
                    if disallowed.len() > 1 {
                        c.several_disallowed += 1;
                        if disallowed.first() == g.named.as_ref() {
                            c.first_sorted_named += 1;
                        }
                    }
                }
                let miss = |got: Option<&Message>| Miss {
                    id,
                    api,
                    engine: want.clone(),
                    console: got_class.clone(),
                    text: got.map(|m| m.text.clone()).unwrap_or_default(),
                    trace: o.trace.clone(),
                };
                // Only where the profile says the browser names a header the
                // engine does not model.
                let unmodelled = profile.disallowed_header_named()
                    == corsgate_core::DisallowedHeaderNamed::WebKitHeaderMap;
                if class_ok
                    && !named_ok
                    && unmodelled
                    && another_disallowed_header(refusal.as_ref(), g, o)
                {
                    c.other_header.push(miss(got));
                } else if !class_ok || !named_ok {
                    c.misses.push(miss(got));
                }
            }
            (Some(_), None)
                if family == Family::Chromium
                    && case.request.mode == corsgate_core::Mode::NoCors =>
            {
                c.silent_no_cors.push(Miss {
                    id,
                    api,
                    engine: want.clone(),
                    console: None,
                    text: String::new(),
                    trace: o.trace.clone(),
                });
            }
            _ => {
                c.compared += 1;
                c.misses.push(Miss {
                    id,
                    api,
                    engine: want.clone(),
                    console: got_class.clone(),
                    text: got.map(|m| m.text.clone()).unwrap_or_default(),
                    trace: o.trace.clone(),
                })
            }
        }
    }
    c
}

/// `text` with the run's origins and case paths made the same for every
/// run: the page `http://localhost:3000`, the target `http://localhost:8080`,
/// the other origin `http://127.0.0.1:9090`, and `/c/<run>/<id>/<api>/<hop>`
/// as `/api/<api>/<hop>`.
pub fn normalise(text: &str, site: &Site) -> String {
    // Markers first, so no replacement is replaced again: origins (the
    // longest first), then their ports where a value spells the origin
    // otherwise (`HTTP://LOCALHOST:P`), a port followed by no digit.
    let mut origins = [
        (&site.page, "http://localhost:3000"),
        (&site.target, "http://localhost:8080"),
        (&site.other, "http://127.0.0.1:9090"),
    ];
    origins.sort_by_key(|(o, _)| std::cmp::Reverse(o.len()));
    let mut t = text.to_owned();
    for (i, (o, _)) in origins.iter().enumerate() {
        t = t.replace(o.as_str(), &format!("\u{1}O{i}\u{1}"));
    }
    for (i, (o, _)) in origins.iter().enumerate() {
        let Some(port) = o.rsplit(':').next() else {
            continue;
        };
        let needle = format!(":{port}");
        let mut out = String::with_capacity(t.len());
        let mut rest = t.as_str();
        while let Some(j) = rest.find(&needle) {
            let after = &rest[j + needle.len()..];
            out.push_str(&rest[..j]);
            if after.starts_with(|c: char| c.is_ascii_digit()) {
                out.push_str(&needle);
            } else {
                out.push_str(&format!("\u{1}P{i}\u{1}"));
            }
            rest = after;
        }
        out.push_str(rest);
        t = out;
    }
    for (i, (_, placeholder)) in origins.iter().enumerate() {
        let port = placeholder.rsplit(':').next().unwrap_or_default();
        t = t
            .replace(&format!("\u{1}O{i}\u{1}"), placeholder)
            .replace(&format!("\u{1}P{i}\u{1}"), &format!(":{port}"));
    }
    let tag = format!("/c/{}/", site.run);
    let mut out = String::with_capacity(t.len());
    let mut rest = t.as_str();
    while let Some(i) = rest.find(&tag) {
        out.push_str(&rest[..i]);
        out.push_str("/api/");
        let after = &rest[i + tag.len()..];
        // Skip the case id and its slash.
        let skip = after.find('/').map(|j| j + 1).unwrap_or(0);
        rest = &after[skip..];
    }
    out.push_str(rest);
    out
}

/// The distinct messages of a run, each with the class the engine (in
/// agreement with the browser) names: `<class>[ <named>]\t<message>`, sorted.
/// Only messages whose class agrees are listed.
pub fn fixture_lines(
    family: Family,
    profile: Profile,
    site: &Site,
    cases: &[Case],
    messages: &BTreeMap<(u32, Api), Message>,
) -> Vec<String> {
    let engine = Engine(profile);
    let mut lines: BTreeMap<String, String> = BTreeMap::new();
    for m in messages.values() {
        let Some(case) = cases.get(m.id as usize) else {
            continue;
        };
        let want = engine
            .run(site, case, m.api)
            .ok()
            .and_then(|(_, v)| v)
            .and_then(|v| v.reason)
            .and_then(|r| expected(&r.details, family));
        if want.as_ref().map(|w| &w.name) != Some(&m.class.name) {
            continue;
        }
        let text = normalise(&m.text, site);
        lines.entry(text).or_insert_with(|| m.class.to_string());
    }
    lines
        .into_iter()
        .map(|(text, class)| format!("{class}\t{text}"))
        .collect()
}

/// The console check of a conformance test: attributes `console` to the
/// cases, compares it with the engine under `profile`, prints the figures,
/// adds the run's distinct messages to `fixture` (under
/// `crates/corsgate/tests/fixtures/`) when `CORSGATE_WRITE_CONSOLE` is set (and every raw message to the file
/// `CORSGATE_CONSOLE_RAW` names), and returns the comparison with a
/// report of its first `shown` differences.
#[allow(clippy::too_many_arguments)]
pub fn check_run(
    family: Family,
    profile: Profile,
    site: &Site,
    cases: &[Case],
    observed: &BTreeMap<(u32, Api), Observation>,
    console: &[String],
    fixture: &str,
    shown: usize,
) -> (ConsoleComparison, String) {
    let messages = attribute(family, console, &site.run);
    let cmp = compare(family, profile, site, cases, observed, &messages);
    let lines = fixture_lines(family, profile, site, cases, &messages);
    eprintln!(
        "console ({} messages, {} attributed, {} distinct): {cmp}",
        console.len(),
        messages.len(),
        lines.len()
    );
    if std::env::var_os("CORSGATE_WRITE_CONSOLE").is_some() {
        let path = format!(
            "{}/../corsgate/tests/fixtures/{fixture}",
            env!("CARGO_MANIFEST_DIR")
        );
        // Added to what earlier runs (other seeds) wrote.
        let mut all: std::collections::BTreeSet<String> = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect();
        all.extend(lines.iter().cloned());
        let mut text = all.into_iter().collect::<Vec<_>>().join("\n");
        text.push('\n');
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("cannot write {path}: {e}");
        }
    }
    if let Some(path) = std::env::var_os("CORSGATE_CONSOLE_RAW") {
        let _ = std::fs::write(path, console.join("\n"));
    }
    let mut report = String::new();
    let mut kinds: BTreeMap<(String, String), usize> = BTreeMap::new();
    for m in &cmp.misses {
        let name = |c: &Option<Class>| {
            c.as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_else(|| "-".into())
        };
        *kinds
            .entry((name(&m.console), name(&m.engine)))
            .or_default() += 1;
    }
    for ((console, engine), n) in &kinds {
        report.push_str(&format!("\n{n} x console {console} / engine {engine}"));
    }
    let shown = std::env::var("CORSGATE_SHOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(shown);
    for m in cmp
        .misses
        .iter()
        .filter(|m| m.console.is_some())
        .chain(cmp.misses.iter().filter(|m| m.console.is_none()))
        .take(shown)
    {
        let case = cases
            .get(m.id as usize)
            .map(|c| c.to_string())
            .unwrap_or_default();
        report.push_str(&format!(
            "\n{case}\n  {}: console: {} / engine: {}\n  {}\n  trace: {}\n",
            m.api.name(),
            m.console
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "no CORS message".into()),
            m.engine
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "no CORS refusal".into()),
            m.text,
            m.trace.join("; ")
        ));
    }
    (cmp, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_cases() {
        let t = "Access to fetch at 'http://127.0.0.1:5/c/r1/7/f/1' (redirected from 'http://localhost:4/c/r1/7/f/0') from origin 'http://localhost:3' has been blocked by CORS policy: Response to preflight request doesn't pass access control check: Request header field X-B is not allowed by Access-Control-Allow-Headers in preflight response.";
        assert_eq!(case_of(t, "r1"), Some((7, Api::Fetch)));
        assert_eq!(
            chromium_class(t),
            Some(Class {
                name: "HeaderDisallowedByPreflightResponse".into(),
                named: Some("x-b".into())
            })
        );
        let f = "CORSMissingAllowHeaderFromPreflight2\te\tCross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at http://localhost:4/c/r1/9/x/0. (Reason: header ‘x-a’ is not allowed according to header ‘Access-Control-Allow-Headers’ from CORS preflight response).";
        let (class, warning, text) = firefox_class(f).expect("parses");
        assert!(!warning);
        assert_eq!(class.name, "CORSMissingAllowHeaderFromPreflight");
        assert_eq!(class.named.as_deref(), Some("x-a"));
        assert_eq!(case_of(text, "r1"), Some((9, Api::Xhr)));
        let site = Site {
            page: "http://localhost:3".into(),
            target: "http://localhost:4".into(),
            other: "http://127.0.0.1:5".into(),
            run: "r1".into(),
        };
        assert_eq!(
            normalise(t, &site),
            "Access to fetch at 'http://127.0.0.1:9090/api/f/1' (redirected from 'http://localhost:8080/api/f/0') from origin 'http://localhost:3000' has been blocked by CORS policy: Response to preflight request doesn't pass access control check: Request header field X-B is not allowed by Access-Control-Allow-Headers in preflight response."
        );
        // A value spelling the page's origin in upper case keeps its spelling,
        // with the port made the same for every run.
        assert_eq!(
            normalise(
                "has a value 'HTTP://LOCALHOST:3' at http://localhost:4/c/r1/2/f/0",
                &site
            ),
            "has a value 'HTTP://LOCALHOST:3000' at http://localhost:8080/api/f/0"
        );
    }
}
