//! The policy's own reason for a refusal, as opt-in debug response headers.
//!
//! When corsgate itself refuses a request (the gateway, the tower layer, the
//! playground), the browser only learns that CORS failed; the console cannot
//! say that the *policy* lists `PUT, DELETE` and the page asked for `PATCH`.
//! With `reason_header = true` (TOML) or
//! [`PolicyBuilder::reason_header`](crate::server::policy::PolicyBuilder::reason_header),
//! every refused request's answer carries:
//!
//! - `corsgate-reason: <code>; <sentence>` — what the policy lists and what
//!   the request asked for, e.g. ``method_not_allowed; the policy lists `PUT,
//!   DELETE`; `PATCH` is not listed (methods are case-sensitive)``;
//! - `corsgate-policy-edit: <TOML line>`, once per line to change, e.g.
//!   `methods = ["PUT", "DELETE", "PATCH"]` — offered only when the policy
//!   edited so is valid and allows this very request (checked here by building
//!   it and deciding again), and never for what no policy should allow (the
//!   `null` origin, a malformed request).
//!
//! `corsgate check` prints them before the browser's own reason.
//!
//! (A module of its own above `policy` and `decision`, which it reads: neither
//! depends on it.)
//!
//! **Off by default**, because the answer is sent to whoever asks: a refused
//! origin — an attacker probing the API — would read which origins, methods
//! and request headers the policy allows (the origin list in an edit names
//! every trusted origin, and patterns show which subdomains are trusted). Turn
//! it on for development, staging, the demo and the playground, not on a
//! public production API.

use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method};

use crate::headers::HeaderList;
use crate::server::decision::Reason;
use crate::server::policy::{Policy, PolicyConfig};

/// The reason header's name.
pub const REASON: &str = "corsgate-reason";
/// The policy edit header's name (one line per TOML key to change).
pub(crate) const EDIT: &str = "corsgate-policy-edit";

/// The longest header value written (the request's values are clipped).
const MAX_VALUE: usize = 2048;
/// How many refusals in a row an edit may cover (origin, then method, then
/// request headers).
const MAX_EDITS: usize = 3;

/// The policy's reason for one refusal, and the edit that allows the request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyReason {
    /// The decision's reason code (`method_not_allowed`, ...).
    pub code: String,
    /// The sentence: what the policy lists, what was asked.
    pub text: String,
    /// TOML lines that allow the request when they replace the policy's own
    /// (empty when no safe edit exists; `why_no_edit` then says why).
    pub edits: Vec<String>,
    /// Why there is no edit, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_no_edit: Option<String>,
}

impl PolicyReason {
    /// The policy's reason for a refused request (`None` when `decision`
    /// allowed it). Cold path: called only for refusals, and only when the
    /// operator turned the header on.
    pub fn of(policy: &Policy, method: &Method, headers: &HeaderMap) -> Option<PolicyReason> {
        let first = policy.decide_with(method, headers, false);
        if first.allowed() {
            return None;
        }
        let reason = first.reason();
        let text = sentence(policy.config(), method, headers, reason);
        let mut config = policy.config().clone();
        let mut edits: Vec<String> = Vec::new();
        let mut why_no_edit = None;
        let mut now = reason;
        for _ in 0..MAX_EDITS {
            let line = match edit(&mut config, headers, now) {
                Ok(line) => line,
                Err(why) => {
                    why_no_edit = Some(why);
                    edits.clear();
                    break;
                }
            };
            let key = line.split(' ').next().unwrap_or_default().to_owned();
            edits.retain(|e| !e.starts_with(&format!("{key} ")));
            edits.push(line);
            let edited = match config.build() {
                Ok(p) => p,
                Err(errors) => {
                    let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                    why_no_edit = Some(format!(
                        "no edit offered: the policy so edited would be refused ({})",
                        all.join("; ")
                    ));
                    edits.clear();
                    break;
                }
            };
            let d = edited.decide_with(method, headers, false);
            if d.allowed() {
                break;
            }
            now = d.reason();
        }
        if why_no_edit.is_none() {
            let edited = config.build().ok();
            let passes = edited.is_some_and(|p| p.decide_with(method, headers, false).allowed());
            if !passes {
                why_no_edit = Some("no edit offered: none found that allows this request".into());
                edits.clear();
            }
        }
        Some(PolicyReason {
            code: reason.code().to_owned(),
            text,
            edits,
            why_no_edit,
        })
    }

    /// Writes the headers into a response (replacing any the inner service
    /// or upstream set, so a response cannot pose as the policy's reason).
    pub fn apply_to(&self, map: &mut HeaderMap) {
        let reason = HeaderName::from_static(REASON);
        let edit = HeaderName::from_static(EDIT);
        map.remove(&edit);
        map.insert(reason, value(&format!("{}; {}", self.code, self.text)));
        for e in &self.edits {
            map.append(edit.clone(), value(e));
        }
        if let Some(why) = &self.why_no_edit {
            map.append(edit, value(&format!("# {why}")));
        }
    }

    /// Reads the headers back from a response (what `corsgate check` does).
    pub fn from_headers(headers: &HeaderList) -> Option<PolicyReason> {
        let raw = headers.get_str(REASON)?;
        let (code, text) = match raw.split_once("; ") {
            Some((c, t))
                if !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
            {
                (c.to_owned(), t.to_owned())
            }
            _ => (String::from("policy"), raw.clone()),
        };
        let mut edits = Vec::new();
        let mut why_no_edit = None;
        let mut refused = false;
        for (n, v) in headers.iter() {
            if n.eq_ignore_ascii_case(EDIT) {
                let v = String::from_utf8_lossy(v).trim().to_owned();
                match v.strip_prefix("# ") {
                    Some(why) => why_no_edit = Some(why.to_owned()),
                    None if v.is_empty() => {}
                    None if repeatable_edit(&v) => edits.push(v),
                    None => refused = true,
                }
            }
        }
        // Any server can send these headers: what it says is repeated only
        // when it advises nothing no policy should allow.
        let unsafe_text = |t: &str| crate::advice::unsafe_advice(t).is_some();
        let text = if unsafe_text(&text) {
            String::from(
                "(the server's reason is not repeated: it advises allowing what no policy should)",
            )
        } else {
            text
        };
        if refused || why_no_edit.as_deref().is_some_and(unsafe_text) {
            edits.clear();
            why_no_edit = Some(String::from(
                "the server suggested a policy edit that corsgate does not repeat: it names a key no \
                 policy has or would allow the `null` origin or any origin (`*`); edit the policy by hand",
            ));
        }
        Some(PolicyReason {
            code,
            text,
            edits,
            why_no_edit,
        })
    }
}

/// Whether an edit line a server sent may be printed as a fix: `key = value`
/// for a key a policy has, and for `origins` no `null` and no bare `*` entry
/// (nor a TOML escape that could spell one).
fn repeatable_edit(line: &str) -> bool {
    const KEYS: [&str; 3] = ["origins", "methods", "request_headers"];
    let Some((key, value)) = line.split_once('=') else {
        return false;
    };
    let key = key.trim();
    if !KEYS.contains(&key) {
        return false;
    }
    if key != "origins" {
        return true;
    }
    if value.contains('\\') {
        return false;
    }
    value
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|e| e.trim().trim_matches(|c| c == '"' || c == '\'').trim())
        .all(|e| e != "*" && !e.eq_ignore_ascii_case("null"))
}

/// A header value from text: visible ASCII kept, anything else `?`, clipped.
fn value(text: &str) -> HeaderValue {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect();
    if out.len() > MAX_VALUE {
        out.truncate(MAX_VALUE - 3);
        out.push_str("...");
    }
    HeaderValue::from_str(&out).unwrap_or_else(|_| HeaderValue::from_static("policy"))
}

/// A request value quoted for the sentence: clipped, non-visible bytes as `?`.
fn quoted(v: &[u8]) -> String {
    let mut s: String = v
        .iter()
        .take(200)
        .map(|b| {
            if b.is_ascii_graphic() || *b == b' ' {
                *b as char
            } else {
                '?'
            }
        })
        .collect();
    if v.len() > 200 {
        s.push_str("...");
    }
    format!("`{s}`")
}

fn listed(values: &[String], none: &str) -> String {
    if values.is_empty() {
        none.to_owned()
    } else {
        format!("`{}`", values.join(", "))
    }
}

/// A TOML array of strings.
fn toml_list(values: &[String]) -> String {
    let items: Vec<String> = values
        .iter()
        .map(|v| {
            let mut s = String::from("\"");
            for c in v.chars() {
                match c {
                    '"' => s.push_str("\\\""),
                    '\\' => s.push_str("\\\\"),
                    c => s.push(c),
                }
            }
            s.push('"');
            s
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn requested_method(headers: &HeaderMap) -> Option<&[u8]> {
    headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .map(HeaderValue::as_bytes)
}

/// The names of `Access-Control-Request-Headers`, lower case, in order.
fn requested_headers(headers: &HeaderMap) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in headers.get_all(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        for name in v.as_bytes().split(|b| *b == b',') {
            let name = crate::headers::trim_ows(name);
            if name.is_empty() {
                continue;
            }
            let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
            if !out.contains(&lower) {
                out.push(lower);
            }
        }
    }
    out
}

/// The sentence for `reason` under `config`.
fn sentence(config: &PolicyConfig, method: &Method, headers: &HeaderMap, reason: Reason) -> String {
    let origin = headers.get(header::ORIGIN).map(|o| o.as_bytes());
    match reason {
        Reason::OriginNotAllowed => format!(
            "the policy's origins ({} {}) do not include {}; origins are compared whole: scheme, host and port",
            config.origins.len(),
            if config.origins.len() == 1 { "entry" } else { "entries" },
            quoted(origin.unwrap_or_default()),
        ),
        Reason::OriginMalformed if origin.is_some_and(|o| o == b"null") => String::from(
            "`Origin: null` (a sandboxed page, a file: URL, or a request after a cross-origin redirect) is never allowed by a corsgate policy: any page can send it; fix it on the client (serve the page from a real origin, or keep redirects on one origin)",
        ),
        Reason::OriginMalformed => format!(
            "{} is not an origin a browser sends (scheme://host[:port], nothing after it): refused",
            quoted(origin.unwrap_or_default())
        ),
        Reason::MultipleOrigins => {
            String::from("the request has several Origin header lines, which no browser sends: refused")
        }
        Reason::MethodNotAllowed => {
            let asked = requested_method(headers).unwrap_or_default();
            let asked_text = String::from_utf8_lossy(asked);
            let case = config
                .methods
                .iter()
                .find(|m| m.eq_ignore_ascii_case(&asked_text) && **m != *asked_text);
            let note = match case {
                Some(m) => format!(
                    "methods are case-sensitive: the policy lists `{m}`, the page asked for {}; fetch() upper-cases only DELETE, GET, HEAD, OPTIONS, POST and PUT",
                    quoted(asked)
                ),
                None => String::from("methods are case-sensitive"),
            };
            format!(
                "the policy lists {}; {} is not listed ({note})",
                listed(&config.methods, "no methods beyond GET, HEAD and POST"),
                quoted(asked),
            )
        }
        Reason::MethodMalformed => format!(
            "Access-Control-Request-Method {} is missing, repeated or not a method name: refused",
            quoted(requested_method(headers).unwrap_or_default())
        ),
        Reason::HeaderNotAllowed(_) => {
            let missing: Vec<String> = requested_headers(headers)
                .into_iter()
                .filter(|n| !config.request_headers.contains(n))
                .collect();
            format!(
                "the policy's request_headers are {}; {} {} not listed (header names are compared without case)",
                listed(&config.request_headers, "empty"),
                listed(&missing, "a requested name"),
                if missing.len() == 1 { "is" } else { "are" },
            )
        }
        Reason::HeadersMalformed | Reason::HeadersTooLarge => format!("{reason}"),
        // Allowed reasons never reach here (`of` returns early); say what
        // the decision said rather than nothing.
        _ => format!("{reason}; the request was refused (method {method})"),
    }
}

/// Edits `config` so that the refusal `reason` goes away; the TOML line.
fn edit(config: &mut PolicyConfig, headers: &HeaderMap, reason: Reason) -> Result<String, String> {
    match reason {
        Reason::OriginNotAllowed => {
            let origin = headers
                .get(header::ORIGIN)
                .and_then(|o| o.to_str().ok())
                .ok_or("no edit offered: the Origin is not text")?;
            config.origins.push(origin.to_owned());
            Ok(format!("origins = {}", toml_list(&config.origins)))
        }
        Reason::MethodNotAllowed => {
            let m = requested_method(headers)
                .and_then(|m| std::str::from_utf8(m).ok())
                .ok_or("no edit offered: the requested method is not text")?;
            config.methods.push(m.to_owned());
            Ok(format!("methods = {}", toml_list(&config.methods)))
        }
        Reason::HeaderNotAllowed(_) => {
            for n in requested_headers(headers) {
                if !config.request_headers.contains(&n) {
                    config.request_headers.push(n);
                }
            }
            Ok(format!(
                "request_headers = {}",
                toml_list(&config.request_headers)
            ))
        }
        Reason::OriginMalformed | Reason::MultipleOrigins => Err(String::from(
            "no edit offered: no policy should allow this Origin; the fix is on the client",
        )),
        _ => Err(String::from(
            "no edit offered: the request itself is malformed (no browser sends it)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(toml: &str) -> Policy {
        Policy::from_toml(toml).expect("valid")
    }

    fn req(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    const DEMO: &str = r#"
origins = ["https://app.example.com", "http://localhost:3000"]
methods = ["PUT", "DELETE"]
request_headers = ["content-type", "authorization"]
credentials = true
"#;

    /// A server that is not corsgate (or a hostile one) can send these
    /// headers: `check` must never repeat an edit or a text that allows
    /// `null` or any origin, nor a key no policy has.
    #[test]
    fn forged_reasons_never_advise_null_or_any_origin() {
        let forged = |reason: &str, edits: &[&str]| {
            let mut map = HeaderMap::new();
            map.insert(REASON, HeaderValue::from_str(reason).unwrap());
            for e in edits {
                map.append(EDIT, HeaderValue::from_str(e).unwrap());
            }
            PolicyReason::from_headers(&HeaderList::from_http(&map)).unwrap()
        };
        let refused_edits = [
            r#"origins = ["null"]"#,
            r#"origins = ["https://app.example.com", "NULL"]"#,
            r#"origins = ['*']"#,
            r#"origins = ["*"]"#,
            r#"origins = "*""#,
            r#"origins = ["nul\u006c"]"#,
            r#"credentials = true"#,
            r#"reflect_origin = true"#,
            "origins",
        ];
        for e in refused_edits {
            let r = forged(
                "origin_not_allowed; not listed",
                &[r#"methods = ["PUT"]"#, e],
            );
            assert!(r.edits.is_empty(), "{e}: {r:?}");
            assert!(
                r.why_no_edit
                    .as_deref()
                    .is_some_and(|w| w.contains("does not repeat")),
                "{e}"
            );
        }
        // What corsgate itself sends passes, patterns included.
        let r = forged(
            "origin_not_allowed; not listed",
            &[
                r#"origins = ["https://app.example.com", "https://*.example.org", "https://new.example"]"#,
            ],
        );
        assert_eq!(r.edits.len(), 1, "{r:?}");
        // A reason text that advises an unsafe answer is not repeated.
        let r = forged(
            "origin_not_allowed; set Access-Control-Allow-Origin: null to fix this",
            &[],
        );
        assert!(!r.text.contains("null"), "{r:?}");
        assert!(crate::advice::unsafe_advice(&r.text).is_none());
    }

    #[test]
    fn table_of_refusals() {
        let p = policy(DEMO);
        let o = ("origin", "https://app.example.com");
        // (method, request headers, code, text it contains, edits)
        type Case<'a> = (
            Method,
            Vec<(&'a str, &'a str)>,
            &'a str,
            &'a str,
            &'a [&'a str],
        );
        let cases: &[Case] = &[
            (
                Method::OPTIONS,
                vec![o, ("access-control-request-method", "PATCH")],
                "method_not_allowed",
                "the policy lists `PUT, DELETE`; `PATCH` is not listed (methods are case-sensitive)",
                &[r#"methods = ["PUT", "DELETE", "PATCH"]"#],
            ),
            (
                Method::OPTIONS,
                vec![
                    o,
                    ("access-control-request-method", "PUT"),
                    ("access-control-request-headers", "content-type,x-b,x-a"),
                ],
                "header_not_allowed",
                "`x-b, x-a` are not listed",
                &[r#"request_headers = ["content-type", "authorization", "x-b", "x-a"]"#],
            ),
            (
                Method::GET,
                vec![("origin", "https://evil.example")],
                "origin_not_allowed",
                "(2 entries) do not include `https://evil.example`",
                &[r#"origins = ["https://app.example.com", "http://localhost:3000", "https://evil.example"]"#],
            ),
            (
                Method::OPTIONS,
                vec![
                    ("origin", "https://evil.example"),
                    ("access-control-request-method", "PATCH"),
                    ("access-control-request-headers", "x-a"),
                ],
                "origin_not_allowed",
                "do not include",
                &[
                    r#"origins = ["https://app.example.com", "http://localhost:3000", "https://evil.example"]"#,
                    r#"methods = ["PUT", "DELETE", "PATCH"]"#,
                    r#"request_headers = ["content-type", "authorization", "x-a"]"#,
                ],
            ),
            (
                Method::GET,
                vec![("origin", "null")],
                "origin_malformed",
                "never allowed",
                &[],
            ),
            (
                // An http origin with credentials: the builder refuses the edit.
                Method::GET,
                vec![("origin", "http://app.example.com")],
                "origin_not_allowed",
                "do not include",
                &[],
            ),
        ];
        for (method, pairs, code, text, edits) in cases {
            let r = PolicyReason::of(&p, method, &req(pairs)).expect("refused");
            assert_eq!(r.code, *code, "{pairs:?}");
            assert!(r.text.contains(text), "{pairs:?}: {}", r.text);
            assert_eq!(r.edits, *edits, "{pairs:?}");
            assert_eq!(r.why_no_edit.is_some(), edits.is_empty(), "{r:?}");
            // Through the headers and back.
            let mut map = HeaderMap::new();
            map.insert(REASON, HeaderValue::from_static("forged"));
            r.apply_to(&mut map);
            let back = PolicyReason::from_headers(&HeaderList::from_http(&map)).unwrap();
            assert_eq!(back, r);
            // No text advises what must never be allowed.
            for t in std::iter::once(&r.text).chain(&r.edits) {
                assert!(crate::advice::unsafe_advice(t).is_none(), "{t}");
                assert!(!t.contains("\"null\""), "{t}");
            }
        }
        let allowed = req(&[o, ("access-control-request-method", "PUT")]);
        assert!(PolicyReason::of(&p, &Method::OPTIONS, &allowed).is_none());
    }

    #[test]
    fn method_case_is_named() {
        let p = policy("origins = [\"https://app.example.com\"]\nmethods = [\"PATCH\"]\n");
        let h = req(&[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "patch"),
        ]);
        let r = PolicyReason::of(&p, &Method::OPTIONS, &h).unwrap();
        assert!(
            r.text
                .contains("the policy lists `PATCH`, the page asked for `patch`"),
            "{}",
            r.text
        );
        assert_eq!(r.edits, [r#"methods = ["PATCH", "patch"]"#]);
        // `delete` is upper-cased by the builder: listing it cannot help.
        let p = policy("origins = [\"https://app.example.com\"]\nmethods = [\"DELETE\"]\n");
        let h = req(&[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "delete"),
        ]);
        let r = PolicyReason::of(&p, &Method::OPTIONS, &h).unwrap();
        assert!(r.edits.is_empty() && r.why_no_edit.is_some(), "{r:?}");
    }

    #[test]
    fn hostile_values_stay_one_clipped_line() {
        let p = policy(DEMO);
        let long = format!("https://{}.example", "a".repeat(5000));
        let r = PolicyReason::of(&p, &Method::GET, &req(&[("origin", &long)])).unwrap();
        let mut map = HeaderMap::new();
        r.apply_to(&mut map);
        for v in map.values() {
            assert!(v.len() <= MAX_VALUE, "{}", v.len());
        }
    }

    /// Every refusal of a table of policies, origins (hostile ones among
    /// them), methods and request headers: no sentence or edit advises what
    /// must never be allowed, every edit allows exactly the request it was
    /// made for and keeps everything the policy allowed.
    #[test]
    fn no_reason_advises_the_unsafe_and_every_edit_keeps_the_policy() {
        let policies = [
            DEMO,
            "origins = [\"*\"]\nmethods = [\"PUT\"]\n",
            "origins = [\"https://*.example.com\", \"http://localhost:*\"]\nrequest_headers = [\"*\"]\ncredentials = true\n",
            "origins = [\"https://app.example.com\"]\nmethods = [\"*\"]\n",
        ];
        let origins = [
            "https://app.example.com",
            "https://evil.example",
            "null",
            "http://app.example.com",
            "https://app.example.com.evil.net",
            "https://a.example.com",
            "http://localhost:3000",
            "file://",
            "https://app.example.com/",
        ];
        let methods = ["PUT", "PATCH", "patch", "DELETE", "GE T", ""];
        let headers = [
            "",
            "content-type",
            "x-token, authorization",
            "x-a,,x-b",
            "bad header",
        ];
        let mut checked = 0;
        for text in policies {
            let p = policy(text);
            for origin in origins {
                for method in methods {
                    for acrh in headers {
                        let mut pairs = vec![("origin", origin)];
                        if !method.is_empty() {
                            pairs.push(("access-control-request-method", method));
                        }
                        if !acrh.is_empty() {
                            pairs.push(("access-control-request-headers", acrh));
                        }
                        let h = req(&pairs);
                        for m in [Method::OPTIONS, Method::GET] {
                            let Some(r) = PolicyReason::of(&p, &m, &h) else {
                                continue;
                            };
                            checked += 1;
                            for t in std::iter::once(&r.text).chain(&r.edits) {
                                assert!(crate::advice::unsafe_advice(t).is_none(), "{t}");
                            }
                            if r.edits.is_empty() {
                                continue;
                            }
                            let mut edited = String::from(text);
                            for e in &r.edits {
                                let key = e.split(' ').next().unwrap();
                                let kept: Vec<&str> = edited
                                    .lines()
                                    .filter(|l| !l.starts_with(&format!("{key} ")))
                                    .collect();
                                edited = format!("{}\n{e}\n", kept.join("\n"));
                            }
                            let after = Policy::from_toml(&edited).expect("the edit builds");
                            assert!(after.decide_with(&m, &h, false).allowed(), "{edited}");
                            assert!(!edited.contains("\"null\""), "{edited}");
                            // Nothing allowed before is refused after.
                            for o in origins {
                                for mm in ["PUT", "DELETE", "PATCH"] {
                                    let probe = req(&[
                                        ("origin", o),
                                        ("access-control-request-method", mm),
                                    ]);
                                    if p.decide_with(&Method::OPTIONS, &probe, false).allowed() {
                                        assert!(
                                            after
                                                .decide_with(&Method::OPTIONS, &probe, false)
                                                .allowed(),
                                            "{edited} lost {o} {mm}"
                                        );
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 300, "{checked}");
    }
}
