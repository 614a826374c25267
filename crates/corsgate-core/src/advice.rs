//! The one rule every text corsgate prints obeys: it never advises allowing
//! `null`, sending `*` together with credentials, or reflecting (echoing) an
//! origin. [`unsafe_advice`] finds such advice in a text, and
//! [`unsafe_headers`] in a set of header lines a fix would send; tests hold
//! every message, fix, hint and snippet to them.
//!
//! The text check reads advice, not mentions: a clause is advice when a verb
//! of instruction (`send`, `add`, `set`, `allow`, `use`, `needs`, `must`…)
//! comes before the unsafe target, and nothing negates it before the target
//! (`never`, `not`, `cannot`…). So "the browser sends `Origin: null`, which a
//! server should not allow" and "it echoes any Origin back" pass, while
//! "Fix: send `Access-Control-Allow-Origin: null`" and "echo the Origin
//! header back" do not. Words a fix takes away ("replace `*` by …",
//! "instead of `*`", "remove …") are not counted as advised.

use std::fmt;

/// Which unsafe advice a text gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnsafeAdvice {
    /// Sending `Access-Control-Allow-Origin: null` or allowing the `null` origin.
    AllowNull,
    /// `*` (or any origin) together with credentials.
    WildcardWithCredentials,
    /// Echoing the request's `Origin` back, whatever it is.
    ReflectOrigin,
}

impl fmt::Display for UnsafeAdvice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnsafeAdvice::AllowNull => "advises allowing the `null` origin",
            UnsafeAdvice::WildcardWithCredentials => "advises `*` together with credentials",
            UnsafeAdvice::ReflectOrigin => "advises reflecting the request's origin",
        })
    }
}

/// Unsafe advice found in a text: which, and the clause that gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Which rule it breaks.
    pub kind: UnsafeAdvice,
    /// The clause, normalized (lower case, quotes removed).
    pub clause: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: '{}'", self.kind, self.clause)
    }
}

/// Verbs (base form) that make a clause an instruction.
const ADVICE_VERBS: &[&str] = &[
    "send",
    "add",
    "add_header",
    "set",
    "include",
    "return",
    "use",
    "allow",
    "answer",
    "respond",
    "reply",
    "make",
    "change",
    "list",
    "trust",
    "whitelist",
    "permit",
    "accept",
    "echo",
    "reflect",
    "mirror",
    "copy",
    "keep",
    "configure",
    "emit",
    "need",
    "needs",
    "require",
    "requires",
    "must",
    "should",
    "replace",
    "name",
    "choose",
];

/// Words that negate what follows them in a clause.
const NEGATIONS: &[&str] = &[
    "never", "not", "no", "cannot", "nor", "neither", "avoid", "without",
];

/// Verbs whose object is taken away, not advised: their object runs to the
/// next `by`/`with`/`,` (or the clause's end) and is skipped.
const REMOVERS: &[&[&str]] = &[
    &["replace"],
    &["instead", "of"],
    &["rather", "than"],
    &["remove"],
    &["drop"],
    &["unset"],
    &["proxy_hide_header"],
];

/// Verbs that reflect what they are given.
const REFLECT_VERBS: &[&str] = &["echo", "reflect", "mirror", "copy", "repeat"];

/// Code that copies the request's `Origin` into the answer.
const REFLECT_CODE: &[&str] = &[
    "$http_origin",
    "%{http:origin}",
    "req.headers.origin",
    "req.header(origin)",
    "req.get(origin)",
    "request.headers.origin",
    "request.headers[origin]",
    "req.headers[origin]",
    "origin: true",
];

/// Finds advice to allow `null`, to send `*` with credentials, or to reflect
/// an origin, in any text corsgate prints.
///
/// ```
/// use corsgate_core::advice::{unsafe_advice, UnsafeAdvice};
/// let bad = unsafe_advice("Fix: send `Access-Control-Allow-Origin: null`.");
/// assert_eq!(bad.map(|f| f.kind), Some(UnsafeAdvice::AllowNull));
/// assert_eq!(unsafe_advice("the browser sends `Origin: null`, which a server should never allow"), None);
/// ```
pub fn unsafe_advice(text: &str) -> Option<Finding> {
    if !may_advise(text) {
        return None;
    }
    let norm = normalize(text);
    // `*` and credentials may be advised in different sentences (two lines
    // of a configuration): the whole text counts.
    let mut star: Option<String> = None;
    let mut creds = false;
    for sentence in split_sentences(&norm) {
        for clause in split_clauses(sentence) {
            let raw = clause.trim();
            if raw.is_empty() {
                continue;
            }
            let words = words(raw);
            let kept = without_removed(&words);
            let found = |kind| {
                Some(Finding {
                    kind,
                    clause: raw.to_owned(),
                })
            };
            // A configuration line (`origins = [\"null\"]`) is advice by itself.
            let verb = (0..kept.len()).find(|&i| is_verb(&kept, i)).or_else(|| {
                config_key(&kept).filter(|_| !kept.iter().any(|w| NEGATIONS.contains(w)))
            });
            let Some(verb) = verb else {
                continue;
            };
            let advised = |at: usize| at > verb && !negated(&kept, at);
            if null_targets(&kept).into_iter().any(advised) {
                return found(UnsafeAdvice::AllowNull);
            }
            if reflect_targets(&kept, raw).into_iter().any(advised) {
                return found(UnsafeAdvice::ReflectOrigin);
            }
            let star_here = star_targets(&kept).into_iter().any(advised);
            let creds_here = credential_targets(&kept).into_iter().any(advised);
            if star_here && creds_here {
                return found(UnsafeAdvice::WildcardWithCredentials);
            }
            if star_here && star.is_none() {
                star = Some(raw.to_owned());
            }
            creds |= creds_here;
        }
    }
    match star {
        Some(clause) if creds => Some(Finding {
            kind: UnsafeAdvice::WildcardWithCredentials,
            clause,
        }),
        _ => None,
    }
}

/// Keys of configuration formats that list allowed origins.
const CONFIG_KEYS: &[&str] = &[
    "origins",
    "allowed_origins",
    "allow_origins",
    "allow_origin",
    "cors_allowed_origins",
    "allowedorigins",
    "credentials",
    "allow_credentials",
];

/// The position of a configuration key followed by `=` or `:`.
fn config_key(words: &[&str]) -> Option<usize> {
    words.iter().enumerate().position(|(i, w)| {
        CONFIG_KEYS.contains(w) && matches!(words.get(i + 1), Some(&"=") | Some(&":"))
    })
}

/// Words without which no rule can match: most texts have none of them and
/// are passed at once.
const TARGET_WORDS: &[&str] = &["null", "*", "wildcard", "any", "all", "every"];

fn may_advise(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    TARGET_WORDS.iter().any(|t| lower.contains(t))
        || REFLECT_VERBS.iter().any(|t| lower.contains(t))
        || REFLECT_CODE.iter().any(|c| lower.contains(c))
        || lower.contains("allow-origin")
}

/// Finds an unsafe set of header lines: `Access-Control-Allow-Origin: null`,
/// or `*` (or several values) with `Access-Control-Allow-Credentials: true`.
pub fn unsafe_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<UnsafeAdvice> {
    let mut star = false;
    let mut creds = false;
    for (name, value) in headers {
        let value = value.trim();
        if name.eq_ignore_ascii_case("access-control-allow-origin") {
            if value.eq_ignore_ascii_case("null") {
                return Some(UnsafeAdvice::AllowNull);
            }
            star |= value == "*";
        }
        if name.eq_ignore_ascii_case("access-control-allow-credentials") {
            creds |= value.eq_ignore_ascii_case("true");
        }
    }
    (star && creds).then_some(UnsafeAdvice::WildcardWithCredentials)
}

/// Lower case, quotes and brackets as spaces, `n't` as ` not`, one space.
fn normalize(text: &str) -> String {
    let lower = text
        .to_lowercase()
        .replace("n't", " not")
        .replace("n\u{2019}t", " not");
    let mapped: String = lower
        .chars()
        .map(|c| match c {
            '`' | '"' | '\'' | '\u{2018}' | '\u{2019}' | '\u{201c}' | '\u{201d}' | '[' | ']'
            | '<' | '>' => ' ',
            '\t' | '\r' => ' ',
            c => c,
        })
        .collect();
    mapped
        .split('\n')
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn split_sentences(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = s.as_bytes();
    for i in 0..b.len() {
        let end = match b[i] {
            b'\n' => true,
            b'.' | b'!' | b'?' => b.get(i + 1).is_none_or(|n| *n == b' ' || *n == b'\n'),
            _ => false,
        };
        if end {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

fn split_clauses(sentence: &str) -> Vec<&str> {
    // A parenthesis after a space opens an aside (its own clause); one after
    // a name is a call (`res.set(…)`) and stays in its clause.
    let mut parts = Vec::new();
    let mut start = 0;
    let b = sentence.as_bytes();
    for i in 0..b.len() {
        let aside = match b[i] {
            b'(' => i == 0 || b[i - 1] == b' ',
            b')' => !sentence[start..i].contains('('),
            _ => false,
        };
        if aside {
            parts.push(&sentence[start..i]);
            start = i + 1;
        }
    }
    parts.push(&sentence[start..]);
    let mut parts: Vec<&str> = parts;
    for sep in [";", " or ", " but ", "\u{2014}", " - "] {
        parts = parts.into_iter().flat_map(|p| p.split(sep)).collect();
    }
    parts
}

/// The clause's words: `:`, `=` and `,` apart, a trailing `.` dropped.
fn words(clause: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let pieces = clause.split(' ').flat_map(|w| {
        if w.starts_with('%') || w.starts_with('$') {
            vec![w]
        } else {
            w.split(['(', ')', '{', '}']).collect()
        }
    });
    for w in pieces {
        let mut rest = w;
        while !rest.is_empty() {
            match rest.find([':', '=', ',']) {
                // `%{http:origin}` and URLs keep their colon.
                Some(i) if !is_code(rest) && !rest[i + 1..].starts_with("//") => {
                    if i > 0 {
                        out.push(rest[..i].trim_end_matches('.'));
                    }
                    out.push(&rest[i..i + 1]);
                    rest = &rest[i + 1..];
                }
                _ => {
                    out.push(rest.trim_end_matches('.'));
                    break;
                }
            }
        }
    }
    out.retain(|w| !w.is_empty());
    // `res.set`, `res.header`: the last part is the verb.
    out.into_iter()
        .map(|w| match w.rsplit_once('.') {
            Some((_, last)) if !is_code(w) && ADVICE_VERBS.contains(&last) => last,
            _ => w,
        })
        .collect()
}

/// Whether the word at `i` is an instruction verb (not a noun: "a list",
/// "the answer", "its name").
fn is_verb(words: &[&str], i: usize) -> bool {
    ADVICE_VERBS.contains(&words[i])
        && !(i >= 1
            && matches!(
                words[i - 1],
                "a" | "an" | "the" | "its" | "this" | "that" | "of" | "whose"
            ))
}

fn is_code(w: &str) -> bool {
    w.starts_with('$') || w.starts_with('%') || w.starts_with("req") && w.contains("origin")
}

/// The words with what a remover takes away left out (as empty words, so
/// that positions stay comparable).
fn without_removed<'a>(words: &[&'a str]) -> Vec<&'a str> {
    let mut out = words.to_vec();
    let mut i = 0;
    while i < out.len() {
        let hit = REMOVERS
            .iter()
            .find(|r| out[i..].starts_with(r))
            .map(|r| r.len());
        if let Some(len) = hit {
            let mut j = i + len;
            while j < out.len() && !matches!(out[j], "by" | "with" | "," | "to" | "and") {
                out[j] = "";
                j += 1;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// Whether a negation comes before `at` in its part of the clause (a comma
/// ends what a negation covers: "`*` is not allowed, the header must be …").
fn negated(words: &[&str], at: usize) -> bool {
    let from = words[..at]
        .iter()
        .rposition(|w| *w == ",")
        .map_or(0, |i| i + 1);
    words[from..at].iter().any(|w| NEGATIONS.contains(w))
}

fn is_acao(w: &str) -> bool {
    w == "access-control-allow-origin"
}

/// The value after a header name (`name: v`, `name v`, `name = v`, `name to v`).
fn value_after(words: &[&str], i: usize) -> Option<(usize, &'static str)> {
    let mut j = i + 1;
    while j < words.len() && matches!(words[j], ":" | "=" | "to" | "") {
        j += 1;
    }
    let w = *words.get(j)?;
    let v = match w {
        "null" => "null",
        "*" => "*",
        _ => "",
    };
    Some((j, v))
}

fn null_targets(words: &[&str]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if is_acao(w) {
            if let Some((j, "null")) = value_after(words, i) {
                out.push(j);
            }
        }
        if CONFIG_KEYS[..6].contains(w) && matches!(words.get(i + 1), Some(&"=") | Some(&":")) {
            if let Some(k) = words[i + 2..].iter().position(|v| *v == "null") {
                out.push(i + 2 + k);
            }
        }
        if *w == "null" {
            // `Origin: null` is the request header, not something allowed.
            let before = if i >= 2 && words[i - 1] == ":" {
                words[i - 2]
            } else if i >= 1 {
                words[i - 1]
            } else {
                ""
            };
            // (but "name the origin: `null`" is a value advised).
            let the = i >= 3 && words[i - 1] == ":" && words[i - 3] == "the";
            if before == "origin" && !the {
                continue;
            }
            // A bare `null` is advised only close to its verb (`must be
            // null`, `allow the null origin`, `add null to the origins`).
            let near = words[i.saturating_sub(5)..i]
                .iter()
                .any(|w| ADVICE_VERBS.contains(w));
            if near {
                out.push(i);
            }
        }
    }
    out
}

fn star_targets(words: &[&str]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if is_acao(w) || *w == "origins" || *w == "origin" {
            if let Some((j, "*")) = value_after(words, i) {
                out.push(j);
            }
        }
        if *w == "*" && i >= 1 && ADVICE_VERBS.contains(&words[i - 1]) {
            out.push(i);
        }
        if matches!(*w, "any" | "all" | "every")
            && i >= 1
            && ADVICE_VERBS.contains(&words[i - 1])
            && words
                .get(i + 1)
                .is_some_and(|n| matches!(*n, "origin" | "origins"))
        {
            out.push(i);
        }
        if *w == "wildcard" && i >= 2 && ADVICE_VERBS.contains(&words[i - 2]) {
            out.push(i);
        }
    }
    out
}

fn credential_targets(words: &[&str]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let header = matches!(
            *w,
            "access-control-allow-credentials" | "credentials" | "allow_credentials"
        );
        if header {
            let mut j = i + 1;
            while j < words.len() && matches!(words[j], ":" | "=" | "to" | "") {
                j += 1;
            }
            if words.get(j) == Some(&"true") {
                out.push(j);
            }
        }
        if *w == "credentials" && i >= 1 && matches!(words[i - 1], "with" | "and" | "plus") {
            out.push(i);
        }
        if matches!(*w, "cookies" | "credentials") && i >= 1 && words[i - 1] == "allow" {
            out.push(i);
        }
    }
    out
}

fn reflect_targets(words: &[&str], raw: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if REFLECT_VERBS.contains(w) {
            // `echo the Origin header back`, `reflect the request's origin`.
            if let Some(k) = words[i + 1..]
                .iter()
                .take(6)
                .position(|n| *n == "origin" || *n == "origins")
            {
                out.push(i + 1 + k);
            }
        }
        if is_acao(w) {
            // `set Access-Control-Allow-Origin to the request's Origin`.
            let rest: Vec<&str> = words[i + 1..]
                .iter()
                .copied()
                .filter(|w| !w.is_empty())
                .take(8)
                .collect();
            let joined = rest.join(" ");
            if joined.starts_with("to the")
                && (joined.contains("origin header")
                    || joined.contains("request s origin")
                    || joined.contains("incoming origin")
                    || joined.contains("requesting origin")
                    || joined.contains("origin of the request")
                    || joined.contains("value of origin"))
            {
                out.push(i + 1);
            }
        }
        if REFLECT_CODE.iter().any(|c| w.contains(c)) {
            out.push(i);
        }
    }
    if REFLECT_CODE.iter().any(|c| raw.contains(c)) && out.is_empty() {
        // Code split over several words (`origin: true`): its position is
        // the word `origin`.
        if let Some(i) = words.iter().position(|w| *w == "origin") {
            if words.get(i + 1) == Some(&":") && words.get(i + 2) == Some(&"true") {
                out.push(i);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Option<UnsafeAdvice> {
        unsafe_advice(text).map(|f| f.kind)
    }

    #[test]
    fn advice_to_allow_null_is_found() {
        for text in [
            "Fix: send `Access-Control-Allow-Origin: null`.",
            "the request was sent with `Origin: null`, but the response has none; the browser needs `Access-Control-Allow-Origin: null` (or `*` without credentials) to let the page read it",
            "make the response include `Access-Control-Allow-Origin: null` (on error responses too)",
            "send `Access-Control-Allow-Origin: null` exactly (same scheme, host and port, no trailing slash), with `Vary: Origin`",
            "in the response, replace `Access-Control-Allow-Origin: *` by `Access-Control-Allow-Origin: null`",
            "add `null` to the allowed origins",
            "Allow the `null` origin.",
            "set    Access-Control-Allow-Origin: null",
            "add_header Access-Control-Allow-Origin \"null\" always;",
            "Header always set Access-Control-Allow-Origin \"null\"",
            "res.set('Access-Control-Allow-Origin', 'null');",
            "origins = [\"null\"] — list it",
            "you should answer with ACCESS-CONTROL-ALLOW-ORIGIN:NULL",
            "with credentials the wildcard is not allowed, the header must name the origin: `null`",
            "exactly one value is allowed, and it must be `null`",
            "Fix: send `Access-Control-Allow-Origin: null`, not `*`.",
        ] {
            assert_eq!(kind(text), Some(UnsafeAdvice::AllowNull), "{text}");
        }
    }

    #[test]
    fn advice_to_send_a_wildcard_with_credentials_is_found() {
        for text in [
            "send `Access-Control-Allow-Origin: *` and `Access-Control-Allow-Credentials: true`",
            "add `Access-Control-Allow-Credentials: true`; keep `Access-Control-Allow-Origin: *`.",
            "use `*` with credentials",
            "set origins = [\"*\"] and credentials = true",
            "allow any origin with credentials",
            "add_header Access-Control-Allow-Origin \"*\" always;\tadd_header Access-Control-Allow-Credentials \"true\" always;",
            "Fix: keep the wildcard and add `Access-Control-Allow-Credentials: true`.",
        ] {
            assert_eq!(
                kind(text),
                Some(UnsafeAdvice::WildcardWithCredentials),
                "{text}"
            );
        }
    }

    #[test]
    fn advice_to_reflect_an_origin_is_found() {
        for text in [
            "echo the Origin header back in `Access-Control-Allow-Origin`",
            "Fix: reflect the request's origin.",
            "just mirror the origin",
            "copy the Origin into the response",
            "set `Access-Control-Allow-Origin` to the value of the Origin header",
            "set Access-Control-Allow-Origin to the request's Origin",
            "add_header Access-Control-Allow-Origin $http_origin always;",
            "Header always set Access-Control-Allow-Origin \"%{HTTP:Origin}e\"",
            "res.set('Access-Control-Allow-Origin', req.headers.origin)",
            "use app.use(cors({ origin: true }))",
        ] {
            assert_eq!(kind(text), Some(UnsafeAdvice::ReflectOrigin), "{text}");
        }
    }

    #[test]
    fn mentions_warnings_and_safe_fixes_pass() {
        for text in [
            // Mentions of what was sent or received.
            "the request was sent with `Origin: null`, but the response has no `Access-Control-Allow-Origin` header",
            "the response allows `null`; the two must match byte for byte (`null` only matches sandboxed pages; never allow it)",
            "from there on the browser sends `Origin: null`, which a server should not allow. Have the page request the final URL directly",
            "`null` is what sandboxed pages and cross-origin redirects send; never allow it",
            "allowing `null` would let any sandboxed page read the response: request the final URL directly instead of through the redirect",
            "Access-Control-Allow-Origin: null",
            "Access-Control-Allow-Origin: *\nAccess-Control-Allow-Credentials: true",
            "the response says `Access-Control-Allow-Origin: *`; with credentials the wildcard is not allowed",
            "'null' cannot be allowed: sandboxed iframes send `Origin: null`, so allowing it allows anyone",
            // Warnings.
            "the server also allowed the unrelated origin https://x.example with credentials: it echoes any Origin back, so any web site can read this user's data. Allow a fixed list of origins instead",
            "it echoes any Origin back, which is like `*` (fine for public data, but never combine it with credentials)",
            "never echo the Origin unchecked",
            "credentials = true cannot be combined with origins = [\"*\"]: browsers refuse `Access-Control-Allow-Origin: *` on requests with cookies, and reflecting every origin would let any site act as your users",
            "`*` is only a wildcard for requests without credentials",
            "Don't reflect the Origin header.",
            // Safe fixes.
            "send `Access-Control-Allow-Origin: https://app.example` (or `*` without credentials)",
            "in the response, replace `Access-Control-Allow-Origin: *` by `Access-Control-Allow-Origin: https://app.example`, keep `Access-Control-Allow-Credentials: true` and add `Vary: Origin`",
            "send `Access-Control-Allow-Origin: https://app.example` instead of `*` and keep `Access-Control-Allow-Credentials: true`",
            "add `Access-Control-Allow-Credentials: true` (exactly, lower case) to the response",
            "set    Access-Control-Allow-Origin: https://app.example\n       set    Access-Control-Allow-Credentials: true",
            "request headers: any (the requested names are echoed)",
            "echo what the preflight asks for in Access-Control-Allow-Headers",
            "remove `Access-Control-Allow-Origin: null` from the proxy",
        ] {
            assert_eq!(unsafe_advice(text), None, "{text}");
        }
    }

    #[test]
    fn header_sets() {
        let h = |v: &[(&'static str, &'static str)]| unsafe_headers(v.iter().copied());
        assert_eq!(
            h(&[("Access-Control-Allow-Origin", "null")]),
            Some(UnsafeAdvice::AllowNull)
        );
        assert_eq!(
            h(&[
                ("access-control-allow-origin", "*"),
                ("Access-Control-Allow-Credentials", "true")
            ]),
            Some(UnsafeAdvice::WildcardWithCredentials)
        );
        assert_eq!(h(&[("Access-Control-Allow-Origin", "*")]), None);
        assert_eq!(
            h(&[
                ("Access-Control-Allow-Origin", "https://a.example"),
                ("Access-Control-Allow-Credentials", "true")
            ]),
            None
        );
    }
}
