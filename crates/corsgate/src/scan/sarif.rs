//! SARIF 2.1.0 output of `corsgate scan`: one run, one rule per finding
//! class, one result per finding (suppressed ones carry a `suppressions`
//! entry), target errors as tool execution notifications.
//!
//! The document is written as the targets finish ([`SarifWriter`]), so its
//! size in memory does not grow with the number of targets: `results` come
//! first, `tool` (with the rules seen) and `invocations` are written at the end
//! (JSON objects are unordered; SARIF readers parse the whole file).
//!
//! Everything this module reads from a finding goes through the small adapter
//! at the top ([`rule_id`], [`stable_origin`], [`fingerprint`]), so a change of
//! the finding types touches only these functions.

use std::io::{self, Write};

use serde_json::{json, Value};

use super::{Finding, ScanReport, Severity};

// ---------------------------------------------------------------------------
// Adapter: the only place that reads the finding types.
// ---------------------------------------------------------------------------

/// The class name of a finding (`reflected_origin`, as in JSON).
pub(super) fn class_name(f: &Finding) -> &'static str {
    f.class.name()
}

/// The stable rule id (SARIF `ruleId`) of a finding: today its class name.
pub(super) fn rule_id(f: &Finding) -> &'static str {
    f.class.name()
}

/// The rule id of the class named `class` (one of [`RULES`]); the same
/// mapping as [`rule_id`].
fn rule_id_of(class: &'static str) -> &'static str {
    class
}

/// The finding's probe origin with this run's random label replaced by a fixed
/// placeholder (`https://attacker{L}.com`), so that the same flaw gives the same
/// value on every run.
pub(super) fn stable_origin(report: &ScanReport, f: &Finding) -> Option<String> {
    let origin = f.origin.as_deref()?;
    // The attacker domain is `attacker<label>.com`.
    let label = report
        .attacker_domain
        .strip_prefix("attacker")
        .and_then(|d| d.strip_suffix(".com"))
        .filter(|l| !l.is_empty());
    Some(match label {
        Some(l) => origin.replace(&format!("attacker{l}"), "attacker{L}"),
        None => origin.to_owned(),
    })
}

/// A stable fingerprint of a finding: FNV-1a (64 bits, hex) of the rule id,
/// the target URL and the stable origin. Used as SARIF `partialFingerprints`
/// and in baseline files.
pub(super) fn fingerprint(rule: &str, url: &str, origin: Option<&str>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [rule, url, origin.unwrap_or("")] {
        for b in part.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The SARIF level of a severity: high → error, medium and low → warning, info → note.
pub(super) fn level(s: Severity) -> &'static str {
    match s {
        Severity::High => "error",
        Severity::Medium | Severity::Low => "warning",
        Severity::Info => "note",
    }
}

/// GitHub's `security-severity` (CVSS-like score) of a severity.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::High => "8.1",
        Severity::Medium => "5.3",
        Severity::Low => "3.1",
        Severity::Info => "0.0",
    }
}

/// The text of a rule: short description, full description, help (the fix),
/// and the class's highest severity.
pub(super) struct RuleText {
    /// The finding class it describes (its JSON name; the rule id comes from [`rule_id_of`]).
    pub class: &'static str,
    /// One line.
    pub short: &'static str,
    /// What the server does.
    pub full: &'static str,
    /// How to fix it.
    pub help: &'static str,
    /// The severity of its worst case (SARIF `defaultConfiguration.level`).
    pub severity: Severity,
}

const EXACT: &str = "Compare the Origin header with an exact list of your origins (scheme://host[:port], a set lookup, never a prefix, suffix, substring or regex test); send it back in Access-Control-Allow-Origin only on a match, with Vary: Origin. `corsgate scan` prints a corsgate policy that does this.";

/// The rule of every finding class (`FindingClass::ALL`, in its order; a test
/// holds every class to an entry of its own). Should a class still be missing,
/// its rule is described from its first finding.
pub(super) const RULES: &[RuleText] = &[
    RuleText {
        class: "reflected_origin",
        short: "Any origin is allowed: the server echoes the Origin header",
        full: "The server copies whatever Origin it receives into Access-Control-Allow-Origin, so every website a user visits can read the endpoint's responses (with the user's cookies when credentials are allowed).",
        help: EXACT,
        severity: Severity::High,
    },
    RuleText {
        class: "null_origin",
        short: "The `null` origin is allowed",
        full: "Any website can send `Origin: null` from a sandboxed iframe, so allowing null lets every site read the responses.",
        help: "Never allow `null`: remove it from the allowed origins (it is what sandboxed iframes, data: and file: pages send, which any site can produce). Compare the Origin header with an exact list of your origins.",
        severity: Severity::High,
    },
    RuleText {
        class: "prefix_match",
        short: "Origins that merely start with a trusted origin are allowed",
        full: "The origin check only looks at the start of the name, so whoever registers a domain such as app.example.com.attacker.com passes it.",
        help: "Anchor the comparison at the end of the origin, or better: compare the Origin header with an exact list of your origins.",
        severity: Severity::High,
    },
    RuleText {
        class: "suffix_match",
        short: "Origins that merely end with the trusted domain are allowed",
        full: "The origin check only looks at the end of the name, without a dot boundary, so whoever registers a domain such as attackerexample.com passes it.",
        help: "Match whole labels: a subdomain pattern must require the dot (`.example.com`), and only if every subdomain is yours; better: compare the Origin header with an exact list of your origins.",
        severity: Severity::High,
    },
    RuleText {
        class: "unescaped_dot",
        short: "A dot in the allowed origin pattern matches any character",
        full: "A regex dot that is not escaped matches any character, so whoever registers a domain such as appxexample.com passes the check.",
        help: "Escape every dot in origin regexes (`app\\.example\\.com`), or better: compare the Origin header with an exact list of your origins.",
        severity: Severity::High,
    },
    RuleText {
        class: "special_character",
        short: "An origin with a special character after a trusted host is allowed",
        full: "The origin check stops at an unusual character (`_`, `$`, `+`, a backtick), so an origin such as app.example.com_.attacker.com, which browsers send, passes as yours.",
        help: "Compare the whole origin string, not a parsed prefix of it: compare the Origin header with an exact list of your origins.",
        severity: Severity::High,
    },
    RuleText {
        class: "subdomain_trusted",
        short: "Every subdomain is allowed",
        full: "Every subdomain is trusted, so one subdomain with an XSS flaw or a dangling DNS record (subdomain takeover) is enough to read the responses.",
        help: "List the subdomains that need access; if you do mean every subdomain, make sure none can be taken over or runs untrusted content.",
        severity: Severity::Medium,
    },
    RuleText {
        class: "http_origin_trusted",
        short: "A plain-http origin is allowed",
        full: "Anyone on the user's network path (public Wi-Fi, a rogue router) can inject script into an http page and so read the responses.",
        help: "Allow only https:// origins (http:// only for localhost during development).",
        severity: Severity::Medium,
    },
    RuleText {
        class: "missing_vary",
        short: "Access-Control-Allow-Origin depends on Origin without Vary: Origin",
        full: "The answer changes with the Origin header but does not say so, so a shared cache can hand one origin's answer to another (breaking your own pages or, with other flaws, leaking).",
        help: "Send Vary: Origin on every answer whose CORS headers depend on the Origin header.",
        severity: Severity::Low,
    },
    RuleText {
        class: "wildcard_with_credentials",
        short: "Access-Control-Allow-Origin: * is sent with Access-Control-Allow-Credentials: true",
        full: "Browsers refuse this pair, so it does not do what was meant; the usual 'fix', echoing the Origin instead of *, would let every website read your users' data.",
        help: "Public data: drop Access-Control-Allow-Credentials (the wildcard then works, for reads without cookies). Per-user data: list the exact origins that need cookies.",
        severity: Severity::Low,
    },
    RuleText {
        class: "wildcard_origin",
        short: "Any website can read the response without credentials (Access-Control-Allow-Origin: *)",
        full: "Fine for public data; a leak if the endpoint relies on where the request comes from (an intranet, a VPN, an IP allowlist), since a visitor's browser can be used to read it.",
        help: "The wildcard suits public data only; for anything else list the exact origins.",
        severity: Severity::Info,
    },
    RuleText {
        class: "multiple_allow_origin",
        short: "Several origins in Access-Control-Allow-Origin",
        full: "Browsers accept exactly one origin there; a list, or two header lines (often one from the app and one from a proxy), makes them refuse every cross-origin read.",
        help: "Send one value: the request's Origin when it is on your list; set CORS headers in one place only.",
        severity: Severity::Info,
    },
    RuleText {
        class: "preflight_not_ok",
        short: "A preflight is answered with a non-2xx status",
        full: "Browsers require a 2xx status on the answer to a preflight, so the request fails even from your own pages (often an auth layer or router that answers OPTIONS before CORS does).",
        help: "Answer preflights (OPTIONS with Origin and Access-Control-Request-Method) before authentication and routing, with 204 and the CORS headers.",
        severity: Severity::Info,
    },
    RuleText {
        class: "preflight_reflects_request",
        short: "The preflight answer allows any method or header that is asked for",
        full: "Harmless while the origin check is right, but it makes every origin mistake worse: an allowed origin can send any method and header.",
        help: "List the methods and request headers the endpoint really accepts.",
        severity: Severity::Info,
    },
    RuleText {
        class: "trusted_origin_refused",
        short: "A trusted origin cannot read the response",
        full: "A page on an origin you trust cannot read this endpoint, with or without credentials: not a security problem, but your own front end is blocked.",
        help: "Allow this origin exactly, or check that the endpoint is the one your pages call (`corsgate check` explains the refusal).",
        severity: Severity::Info,
    },
    RuleText {
        class: "redirected",
        short: "The endpoint answers with a redirect, which the scanner does not follow",
        full: "The scanner judges the redirect answer itself and does not follow it, so what the final resource allows is not covered.",
        help: "Scan the URL the redirect leads to as well.",
        severity: Severity::Info,
    },
    RuleText {
        class: "tld_swap",
        short: "The trusted name under another top-level domain is allowed",
        full: "The origin check ignores the top-level domain, so whoever registers the same name under another one (app.example.net for app.example.com) passes it.",
        help: "Compare the whole host, top-level domain included, or better: compare the Origin header with an exact list of your origins.",
        severity: Severity::High,
    },
    RuleText {
        class: "substring_match",
        short: "Origins that merely contain (or are contained in) a trusted origin are allowed",
        full: "The origin check tests a substring (contains, indexOf), so whoever registers a domain that contains the trusted name, or is part of it, passes it.",
        help: "Never test with contains, indexOf or startsWith on the trusted string: compare the Origin header with an exact list of your origins.",
        severity: Severity::High,
    },
    RuleText {
        class: "other_port",
        short: "The trusted host on another port is allowed",
        full: "The origin check ignores the port, so any other service on that host (a debug console, a user-content server) can read the responses.",
        help: "Compare scheme, host and port together: compare the Origin header with an exact list of your origins.",
        severity: Severity::Medium,
    },
    RuleText {
        class: "third_party_trusted",
        short: "A code-hosting, sandbox or CDN origin is allowed",
        full: "Anyone can publish script on a code-hosting, sandbox or CDN domain, so any account there can read the responses (with the user's cookies when credentials are allowed).",
        help: "Remove code-hosting, sandbox and CDN origins from the allowed origins; compare the Origin header with an exact list of your own origins.",
        severity: Severity::High,
    },
    RuleText {
        class: "localhost_trusted",
        short: "A localhost or loopback origin is allowed",
        full: "Whatever runs on the user's machine (any dev server, a local app, a malicious package's server) can read the responses; a check that only looks for `localhost` at the start also lets hosts such as localhost.attacker.com through.",
        help: "Allow localhost only in development configurations, never in production; compare the Origin header with an exact list of your origins.",
        severity: Severity::High,
    },
    RuleText {
        class: "case_insensitive",
        short: "An upper-case form of a trusted origin is accepted",
        full: "No browser sends an upper-case origin, but a server that compares origins without regard to case often has a looser check elsewhere.",
        help: "Compare the Origin header byte for byte with lower-case entries of an exact list of your origins.",
        severity: Severity::Low,
    },
    RuleText {
        class: "trailing_dot",
        short: "The trusted host with a trailing dot is allowed",
        full: "A host with a final dot is a separate origin with its own cookies and storage; allowing it shows a check that normalises instead of comparing.",
        help: "Compare the Origin header exactly with a list of your origins, without normalising it.",
        severity: Severity::Low,
    },
    RuleText {
        class: "excessive_max_age",
        short: "Access-Control-Max-Age is longer than browsers keep a preflight",
        full: "Browsers keep a preflight at most 2 hours (Chromium) or 24 hours (Firefox); a longer value only shows that a permissive answer, or a mistake, is meant to stick.",
        help: "Send Access-Control-Max-Age of a few minutes to 2 hours (600 to 7200).",
        severity: Severity::Low,
    },
    RuleText {
        class: "sensitive_header_exposed",
        short: "Access-Control-Expose-Headers names a credential-like header",
        full: "Headers that carry credentials or session state (tokens, session ids, CSRF tokens) become readable by every allowed origin's script; any origin mistake then hands them over.",
        help: "Expose only the headers pages need to read (a request id, pagination).",
        severity: Severity::Low,
    },
];

// ---------------------------------------------------------------------------
// The document.
// ---------------------------------------------------------------------------

/// The `$schema` of the document.
pub(super) const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The rules of the run: every rule of [`RULES`], then any other rule id met
/// (described from its first finding), so every `ruleIndex` is known when its
/// result is written.
struct Rules {
    extra: Vec<Value>,
    extra_classes: Vec<&'static str>,
}

impl Rules {
    fn index(&mut self, f: &Finding) -> usize {
        let class = class_name(f);
        if let Some(i) = RULES.iter().position(|r| r.class == class) {
            return i;
        }
        if let Some(i) = self.extra_classes.iter().position(|x| *x == class) {
            return RULES.len() + i;
        }
        self.extra_classes.push(class);
        self.extra.push(rule_json(
            rule_id(f),
            class,
            (&f.title, &f.why, &f.fix.sentence),
            f.severity.max(Severity::Low),
        ));
        RULES.len() + self.extra_classes.len() - 1
    }

    fn all(&self) -> Vec<Value> {
        RULES
            .iter()
            .map(|r| {
                rule_json(
                    rule_id_of(r.class),
                    r.class,
                    (r.short, r.full, r.help),
                    r.severity,
                )
            })
            .chain(self.extra.iter().cloned())
            .collect()
    }
}

/// Where corsgate is documented: the package's repository (absent when not set).
fn information_uri() -> Option<&'static str> {
    Some(env!("CARGO_PKG_REPOSITORY")).filter(|u| u.contains("://"))
}

fn rule_json(id: &str, class: &str, text: (&str, &str, &str), severity: Severity) -> Value {
    let (short, full, help) = text;
    let mut tags = vec!["security", "cors"];
    if severity == Severity::Info {
        tags = vec!["cors"];
    }
    let mut rule = json!({
        "id": id,
        "name": class,
        "shortDescription": { "text": short },
        "fullDescription": { "text": full },
        "help": { "text": help },
        "defaultConfiguration": { "level": level(severity) },
        "properties": {
            "tags": tags,
            "precision": "very-high",
            "security-severity": security_severity(severity),
        },
    });
    if let Some(uri) = information_uri() {
        rule["helpUri"] = json!(format!(
            "{uri}/blob/main/docs/scan.md#finding-classes-and-severities"
        ));
    }
    rule
}

fn location(url: &str, origin: Option<&str>) -> Value {
    let mut loc = json!({
        "physicalLocation": { "artifactLocation": { "uri": url } },
    });
    if let Some(o) = origin {
        loc["logicalLocations"] = json!([{
            "name": o,
            "fullyQualifiedName": format!("Origin: {o}"),
            "kind": "origin",
        }]);
    }
    loc
}

/// One SARIF result.
fn result_json(
    report: &ScanReport,
    f: &Finding,
    rule_index: usize,
    suppressed: Option<Option<&str>>,
) -> Value {
    let url = report.target.url.as_str();
    let rule = rule_id(f);
    let stable = stable_origin(report, f);
    let origin_text = f
        .origin
        .as_deref()
        .map(|o| format!(" (Origin: {o})"))
        .unwrap_or_default();
    let mut r = json!({
        "ruleId": rule,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": { "text": format!("{}{origin_text}. {}", f.title, f.why) },
        "locations": [location(url, f.origin.as_deref())],
        "partialFingerprints": {
            "corsgateFinding/v1": fingerprint(rule, url, stable.as_deref()),
        },
        "properties": {
            "severity": f.severity,
            "credentials": f.credentials,
            "origin": f.origin,
            "stableOrigin": stable,
            "attackerDomain": f.attacker_domain,
            "browsers": f.browsers,
            "evidence": f.evidence,
            "fix": f.fix,
            "alsoAllowed": f.also_allowed,
        },
    });
    if let Some(reason) = suppressed {
        let mut s = json!({ "kind": "external", "status": "accepted" });
        if let Some(reason) = reason {
            s["justification"] = json!(reason);
        }
        r["suppressions"] = json!([s]);
    }
    r
}

/// Writes a SARIF log as targets finish.
pub(crate) struct SarifWriter<W: Write> {
    out: W,
    rules: Rules,
    first: bool,
    notifications: Vec<Value>,
    failed_targets: usize,
}

impl<W: Write> SarifWriter<W> {
    /// Starts the document.
    pub(crate) fn new(mut out: W) -> io::Result<Self> {
        write!(
            out,
            "{{\n  \"$schema\": \"{SCHEMA_URI}\",\n  \"version\": \"2.1.0\",\n  \"runs\": [\n    {{\n      \"results\": ["
        )?;
        Ok(SarifWriter {
            out,
            rules: Rules {
                extra: Vec::new(),
                extra_classes: Vec::new(),
            },
            first: true,
            notifications: Vec::new(),
            failed_targets: 0,
        })
    }

    fn item(&mut self, v: &Value) -> io::Result<()> {
        let sep = if self.first { "\n" } else { ",\n" };
        self.first = false;
        write!(self.out, "{sep}        ")?;
        serde_json::to_writer(&mut self.out, v).map_err(io::Error::from)
    }

    /// The results of one scanned target.
    pub(crate) fn report(&mut self, report: &ScanReport) -> io::Result<()> {
        for f in &report.findings {
            let i = self.rules.index(f);
            let v = result_json(report, f, i, None);
            self.item(&v)?;
        }
        for s in &report.suppressed {
            let i = self.rules.index(&s.finding);
            let v = result_json(report, &s.finding, i, Some(s.reason.as_deref()));
            self.item(&v)?;
        }
        if report.incomplete() {
            let failed = report.summary.failed;
            let first = report
                .probes
                .iter()
                .find_map(|p| p.error.as_ref())
                .map(|e| format!(" (first: {})", e.message))
                .unwrap_or_default();
            self.notifications.push(json!({
                "level": "warning",
                "message": { "text": format!("{}: {failed} of {} requests failed, so the scan is incomplete{first}", report.target.url, report.summary.probes) },
                "locations": [location(&report.target.url, None)],
                "descriptor": { "id": "incomplete" },
            }));
        }
        Ok(())
    }

    /// A target that could not be scanned.
    pub(super) fn error(&mut self, url: &str, code: &str, message: &str) -> io::Result<()> {
        self.failed_targets += 1;
        self.notifications.push(json!({
            "level": "error",
            "message": { "text": format!("{url}: could not scan: {message}") },
            "locations": [location(url, None)],
            "descriptor": { "id": code },
        }));
        Ok(())
    }

    /// Ends the document: the tool with its rules, and the invocation.
    pub(crate) fn finish(mut self, exit_code: u8, command_line: &str) -> io::Result<W> {
        let mut tool = json!({
            "driver": {
                "name": "corsgate",
                "fullName": "corsgate scan",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": self.rules.all(),
            }
        });
        if let Some(uri) = information_uri() {
            tool["driver"]["informationUri"] = json!(uri);
        }
        let invocation = json!({
            "commandLine": command_line,
            "executionSuccessful": self.failed_targets == 0,
            "exitCode": exit_code,
            "toolExecutionNotifications": self.notifications,
        });
        let end = if self.first { "" } else { "\n      " };
        write!(self.out, "{end}],\n      \"tool\": ")?;
        serde_json::to_writer(&mut self.out, &tool).map_err(io::Error::from)?;
        write!(self.out, ",\n      \"invocations\": [")?;
        serde_json::to_writer(&mut self.out, &invocation).map_err(io::Error::from)?;
        writeln!(
            self.out,
            "],\n      \"columnKind\": \"unicodeCodePoints\"\n    }}\n  ]\n}}"
        )?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn fingerprints_are_stable_and_distinct() {
        let a = fingerprint("null_origin", "https://a.example/x", Some("null"));
        assert_eq!(
            a,
            fingerprint("null_origin", "https://a.example/x", Some("null"))
        );
        assert_eq!(a.len(), 16);
        // Each part counts, and parts do not run into each other.
        for other in [
            fingerprint("null_origi", "nhttps://a.example/x", Some("null")),
            fingerprint("null_origin", "https://a.example/y", Some("null")),
            fingerprint("null_origin", "https://a.example/x", None),
            fingerprint("reflected_origin", "https://a.example/x", Some("null")),
        ] {
            assert_ne!(a, other);
        }
        // The value is part of the baseline format: it must never change.
        assert_eq!(fingerprint("", "", None), "d94d12186c0f2fb7");
    }

    #[test]
    fn every_finding_class_has_its_own_rule_text() {
        use super::super::findings::FindingClass;
        let classes: Vec<&str> = FindingClass::ALL.iter().map(|c| c.name()).collect();
        let described: Vec<&str> = RULES.iter().map(|r| r.class).collect();
        // Same classes, same order, each once: a new class needs its text here.
        assert_eq!(described, classes);
        for r in RULES {
            assert!(r.short.len() > 20 && r.full.len() > 40 && r.help.len() > 20);
            assert!(r.short.lines().count() == 1, "{}", r.class);
        }
        // No two classes share a text.
        for (i, a) in RULES.iter().enumerate() {
            for b in &RULES[i + 1..] {
                assert_ne!(a.short, b.short, "{} / {}", a.class, b.class);
                assert_ne!(a.full, b.full, "{} / {}", a.class, b.class);
            }
        }
    }

    #[test]
    fn every_rule_is_distinct_and_described() {
        let ids: BTreeSet<&str> = RULES.iter().map(|r| rule_id_of(r.class)).collect();
        assert_eq!(ids.len(), RULES.len());
        for r in RULES {
            assert!(!r.short.is_empty() && !r.full.is_empty() && !r.help.is_empty());
        }
    }
}
