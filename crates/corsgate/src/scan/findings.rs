//! From judged answers to findings: which origins a browser would let read
//! (with or without credentials), what the server does that the browser does
//! not block on, and the fix.

use corsgate_core::hostile::{self, HostileClass, Reach};
use corsgate_core::Policy;
use serde::Serialize;

use crate::report::Fix;

use super::probes::{PlannedOrigin, ProbeKind};
use super::{ProbeRecord, ProbeRequest};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; not a misconfiguration by itself.
    Info,
    /// A misconfiguration that needs another flaw or a network attacker, or breaks caching.
    Low,
    /// A read by an attacker origin without the user's credentials, or a
    /// credentialed read that needs a network attacker or a subdomain.
    Medium,
    /// A credentialed read (or credentialed preflighted request) by an origin an attacker can own.
    High,
}

impl Severity {
    /// Upper-case name for the human report.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
        }
    }
}

/// The kinds of findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingClass {
    /// Any origin is echoed back and allowed.
    ReflectedOrigin,
    /// `Origin: null` is allowed.
    NullOrigin,
    /// An origin that starts with a trusted host is allowed (`app.example.com.attacker.com`).
    PrefixMatch,
    /// An origin that ends with the trusted domain is allowed (`evilexample.com`).
    SuffixMatch,
    /// A dot of the trusted host matches any character (`appxexample.com`).
    UnescapedDot,
    /// A trusted host followed by `_` or a backtick and an attacker's domain is allowed.
    SpecialCharacter,
    /// Subdomains are allowed.
    SubdomainTrusted,
    /// The `http://` variant of an `https://` origin is allowed.
    HttpOriginTrusted,
    /// `Access-Control-Allow-Origin` depends on `Origin` without `Vary: Origin`.
    MissingVary,
    /// `Access-Control-Allow-Origin: *` with `Access-Control-Allow-Credentials: true`.
    WildcardWithCredentials,
    /// `Access-Control-Allow-Origin: *`: any site can read without credentials.
    WildcardOrigin,
    /// Several origins in `Access-Control-Allow-Origin` (or several lines).
    MultipleAllowOrigin,
    /// A preflight answered with a non-2xx status although meant to pass.
    PreflightNotOk,
    /// A preflight answer allows whatever method or header is asked for.
    PreflightReflectsRequest,
    /// An origin the user trusts cannot read the answer.
    TrustedOriginRefused,
    /// The endpoint answers with a redirect, which the scanner does not follow.
    Redirected,
    /// The trusted name under another top-level domain is allowed (`app.example.net`).
    TldSwap,
    /// An origin that contains the trusted name, or is contained in it, is allowed.
    SubstringMatch,
    /// The trusted host on another port is allowed.
    OtherPort,
    /// A code-hosting, sandbox or CDN origin is allowed (probed, or named in a fixed
    /// `Access-Control-Allow-Origin`).
    ThirdPartyTrusted,
    /// Localhost, loopback or `0.0.0.0` origins are allowed.
    LocalhostTrusted,
    /// An upper-case form of a trusted origin is echoed (no browser sends one).
    CaseInsensitive,
    /// The trusted host with a trailing dot is allowed.
    TrailingDot,
    /// `Access-Control-Max-Age` longer than browsers keep a preflight (over 2 hours).
    ExcessiveMaxAge,
    /// `Access-Control-Expose-Headers` names a credential-like header.
    SensitiveHeaderExposed,
}

impl FindingClass {
    /// Every class (for a SARIF rule list, say; the tests check names and ids over it).
    #[allow(dead_code)]
    pub const ALL: [FindingClass; 25] = [
        FindingClass::ReflectedOrigin,
        FindingClass::NullOrigin,
        FindingClass::PrefixMatch,
        FindingClass::SuffixMatch,
        FindingClass::UnescapedDot,
        FindingClass::SpecialCharacter,
        FindingClass::SubdomainTrusted,
        FindingClass::HttpOriginTrusted,
        FindingClass::MissingVary,
        FindingClass::WildcardWithCredentials,
        FindingClass::WildcardOrigin,
        FindingClass::MultipleAllowOrigin,
        FindingClass::PreflightNotOk,
        FindingClass::PreflightReflectsRequest,
        FindingClass::TrustedOriginRefused,
        FindingClass::Redirected,
        FindingClass::TldSwap,
        FindingClass::SubstringMatch,
        FindingClass::OtherPort,
        FindingClass::ThirdPartyTrusted,
        FindingClass::LocalhostTrusted,
        FindingClass::CaseInsensitive,
        FindingClass::TrailingDot,
        FindingClass::ExcessiveMaxAge,
        FindingClass::SensitiveHeaderExposed,
    ];

    /// The stable name (as in JSON).
    pub fn name(self) -> &'static str {
        match self {
            FindingClass::ReflectedOrigin => "reflected_origin",
            FindingClass::NullOrigin => "null_origin",
            FindingClass::PrefixMatch => "prefix_match",
            FindingClass::SuffixMatch => "suffix_match",
            FindingClass::UnescapedDot => "unescaped_dot",
            FindingClass::SpecialCharacter => "special_character",
            FindingClass::SubdomainTrusted => "subdomain_trusted",
            FindingClass::HttpOriginTrusted => "http_origin_trusted",
            FindingClass::MissingVary => "missing_vary",
            FindingClass::WildcardWithCredentials => "wildcard_with_credentials",
            FindingClass::WildcardOrigin => "wildcard_origin",
            FindingClass::MultipleAllowOrigin => "multiple_allow_origin",
            FindingClass::PreflightNotOk => "preflight_not_ok",
            FindingClass::PreflightReflectsRequest => "preflight_reflects_request",
            FindingClass::TrustedOriginRefused => "trusted_origin_refused",
            FindingClass::Redirected => "redirected",
            FindingClass::TldSwap => "tld_swap",
            FindingClass::SubstringMatch => "substring_match",
            FindingClass::OtherPort => "other_port",
            FindingClass::ThirdPartyTrusted => "third_party_trusted",
            FindingClass::LocalhostTrusted => "localhost_trusted",
            FindingClass::CaseInsensitive => "case_insensitive",
            FindingClass::TrailingDot => "trailing_dot",
            FindingClass::ExcessiveMaxAge => "excessive_max_age",
            FindingClass::SensitiveHeaderExposed => "sensitive_header_exposed",
        }
    }

    /// The stable rule id (SARIF `ruleId`): the hostile class's for the
    /// origin-trust findings ([`HostileClass::rule_id`]), `CORS-…` for the others.
    pub fn rule_id(self) -> &'static str {
        if let Some(c) = self.hostile_class() {
            return c.rule_id();
        }
        match self {
            FindingClass::MissingVary => "CORS-VARY",
            FindingClass::WildcardWithCredentials => "CORS-WILDCARD-CREDENTIALS",
            FindingClass::WildcardOrigin => "CORS-WILDCARD",
            FindingClass::MultipleAllowOrigin => "CORS-MULTIPLE-ORIGINS",
            FindingClass::PreflightNotOk => "CORS-PREFLIGHT-STATUS",
            FindingClass::PreflightReflectsRequest => "CORS-PREFLIGHT-REFLECT",
            FindingClass::TrustedOriginRefused => "CORS-TRUSTED-REFUSED",
            FindingClass::Redirected => "CORS-REDIRECT",
            FindingClass::ExcessiveMaxAge => "CORS-MAX-AGE",
            FindingClass::SensitiveHeaderExposed => "CORS-EXPOSE-SENSITIVE",
            // The origin-trust classes, answered above.
            _ => "CORS-ORIGIN",
        }
    }

    /// The finding class of a hostile origin being allowed.
    pub fn of_hostile(c: HostileClass) -> FindingClass {
        match c {
            HostileClass::Reflection => FindingClass::ReflectedOrigin,
            HostileClass::Null => FindingClass::NullOrigin,
            HostileClass::Prefix => FindingClass::PrefixMatch,
            HostileClass::Suffix => FindingClass::SuffixMatch,
            HostileClass::UnescapedDot => FindingClass::UnescapedDot,
            HostileClass::SpecialCharacter => FindingClass::SpecialCharacter,
            HostileClass::TldSwap => FindingClass::TldSwap,
            HostileClass::Substring => FindingClass::SubstringMatch,
            HostileClass::Subdomain => FindingClass::SubdomainTrusted,
            HostileClass::SchemeDowngrade => FindingClass::HttpOriginTrusted,
            HostileClass::OtherPort => FindingClass::OtherPort,
            HostileClass::ThirdParty => FindingClass::ThirdPartyTrusted,
            HostileClass::Localhost => FindingClass::LocalhostTrusted,
            HostileClass::CaseVariant => FindingClass::CaseInsensitive,
            HostileClass::TrailingDot => FindingClass::TrailingDot,
        }
    }

    /// The hostile class whose origins being allowed this finding reports.
    pub fn hostile_class(self) -> Option<HostileClass> {
        HostileClass::ALL
            .into_iter()
            .find(|c| FindingClass::of_hostile(*c) == self)
    }
}

/// The answer that shows a finding.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// The probe's index in `probes`.
    pub probe: usize,
    /// `GET` or `OPTIONS (preflight for PUT)`.
    pub request: String,
    /// The `Origin` sent.
    pub origin: Option<String>,
    /// The status.
    pub status: Option<u16>,
    /// The CORS response headers seen.
    pub headers: Vec<(String, String)>,
}

impl Evidence {
    fn of(r: &ProbeRecord) -> Evidence {
        Evidence {
            probe: r.id,
            request: r.label(),
            origin: r.origin.clone(),
            status: r.status,
            headers: r.headers.clone(),
        }
    }
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What kind.
    pub class: FindingClass,
    /// The class's stable rule id (`FindingClass::rule_id`), for SARIF and CI.
    pub rule_id: &'static str,
    /// How bad.
    pub severity: Severity,
    /// One line.
    pub title: String,
    /// The exact probe origin that showed it.
    pub origin: Option<String>,
    /// The domain an attacker would register or control to exploit it.
    pub attacker_domain: Option<String>,
    /// Whether it works with the user's cookies (`credentials: 'include'`).
    pub credentials: bool,
    /// Which browsers send such an origin, when not all.
    pub browsers: Option<&'static str>,
    /// The answer that shows it.
    pub evidence: Evidence,
    /// Why it matters, in one sentence.
    pub why: String,
    /// How to fix it ([`Fix`]: a sentence, `stage` null).
    pub fix: Fix,
    /// Other probe origins allowed for the same reason (or explained by this finding).
    pub also_allowed: Vec<String>,
}

/// A corsgate policy that allows exactly the trusted origins.
#[derive(Debug, Clone, Serialize)]
pub struct PolicySuggestion {
    /// The policy, in corsgate's TOML (docs/server-role.md).
    pub toml: String,
    /// Whether the origins are a placeholder (no `--origin` was given).
    pub placeholder: bool,
    /// Whether `corsgate_core::Policy::from_toml` accepts it.
    pub valid: bool,
    /// What was adjusted, or why it is not valid.
    pub notes: Vec<String>,
}

/// The longest preflight cache any browser keeps (Chromium: 2 hours).
const MAX_AGE_CAP: i64 = 7200;

/// Whether a response header name looks like it carries a credential or session state.
fn sensitive_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization" | "set-cookie" | "cookie" | "proxy-authorization"
    ) || [
        "token", "secret", "session", "csrf", "xsrf", "api-key", "apikey", "password",
    ]
    .iter()
    .any(|w| n.contains(w))
}

const EXACT_FIX: &str = "Compare the Origin header with an exact list of your origins (scheme://host[:port], a set lookup — never a prefix, suffix, substring or regex test), send it back in Access-Control-Allow-Origin only on a match, with Vary: Origin; the corsgate policy below does exactly that";

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

fn acao(r: &ProbeRecord) -> Option<String> {
    r.header("access-control-allow-origin")
}

fn acao_lines(r: &ProbeRecord) -> usize {
    r.response.as_ref().map_or(0, |resp| {
        resp.headers.get_all("access-control-allow-origin").count()
    })
}

fn list_tokens(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
}

fn varies_on_origin(r: &ProbeRecord) -> bool {
    r.response.as_ref().is_some_and(|resp| {
        resp.headers
            .get_all("vary")
            .any(|v| list_tokens(&String::from_utf8_lossy(v)).any(|t| t == "origin" || t == "*"))
    })
}

/// How bad a hostile origin being allowed is: who can present it, and
/// whether the user's cookies go along.
fn trust_severity(reach: Option<Reach>, credentials: bool) -> Severity {
    let (with, without) = match reach {
        Some(Reach::AnySite | Reach::RegisterDomain | Reach::HostingAccount) | None => {
            (Severity::High, Severity::Medium)
        }
        Some(
            Reach::SomeBrowsers | Reach::OwnDomain | Reach::NetworkAttacker | Reach::LocalMachine,
        ) => (Severity::Medium, Severity::Low),
        Some(Reach::Nobody) => (Severity::Low, Severity::Low),
    };
    if credentials {
        with
    } else {
        without
    }
}

/// The registrable domain of an origin's host (or the host).
fn base_domain(origin: &str) -> String {
    let Ok(parsed) = corsgate_core::Origin::parse_header(origin) else {
        return origin.to_owned();
    };
    match parsed.tuple() {
        Some(t) => {
            let host = t.host().to_string();
            super::probes::registrable_domain(&host).unwrap_or(host)
        }
        None => origin.to_owned(),
    }
}

fn trust_text(
    class: FindingClass,
    p: &PlannedOrigin,
    credentials: bool,
    evidence: &ProbeRecord,
) -> (String, String, String) {
    let origin = p.origin.clone().unwrap_or_default();
    let domain = p.attacker_domain.clone().unwrap_or_default();
    let base = p.based_on.clone().unwrap_or_default();
    // A GET that is read, or only a preflight that lets a request through.
    let reads = match (evidence.request, &evidence.requested_method, credentials) {
        (ProbeRequest::Get, _, true) => {
            "read this endpoint's responses with the user's cookies".to_owned()
        }
        (ProbeRequest::Get, _, false) => {
            "read this endpoint's responses (without cookies)".to_owned()
        }
        (_, Some(m), true) => format!("send {m} requests here with the user's cookies"),
        (_, m, false) => format!(
            "send {} requests here (without cookies)",
            m.as_deref().unwrap_or("preflighted")
        ),
        (_, None, true) => "send preflighted requests here with the user's cookies".to_owned(),
    };
    match class {
        FindingClass::ReflectedOrigin => (
            format!("any origin is allowed: the server echoes the Origin header (can {reads})"),
            format!("The server copies whatever Origin it receives into Access-Control-Allow-Origin, so every website a user visits can {reads}."),
            EXACT_FIX.to_owned(),
        ),
        FindingClass::NullOrigin => (
            format!("the `null` origin is allowed (can {reads})"),
            format!("Any website can send `Origin: null` from a sandboxed iframe, so allowing null lets every site {reads}."),
            "Never allow `null`: remove it from the allowed origins (it is what sandboxed iframes, data: and file: pages send, which any site can produce). ".to_owned() + EXACT_FIX,
        ),
        FindingClass::PrefixMatch => (
            format!("origins that merely start with {base} are allowed"),
            format!("The origin check only looks at the start of the name, so whoever registers {domain} can put a page on {origin} and {reads}."),
            format!("Anchor the comparison at the end of the origin (a regex like `^https://app\\.example\\.com$`), or better: {}", lower_first(EXACT_FIX)),
        ),
        FindingClass::SuffixMatch => (
            format!("origins that merely end with {} are allowed", base_domain(&base)),
            format!("The origin check only looks at the end of the name, without a dot boundary, so whoever registers {domain} can {reads}."),
            format!("Match whole labels: a subdomain pattern must require the dot (`.example.com`), and only if every subdomain is yours; better: {}", lower_first(EXACT_FIX)),
        ),
        FindingClass::UnescapedDot => (
            format!("a dot in the allowed pattern for {base} matches any character"),
            format!("A regex dot that is not escaped matches any character, so whoever registers {domain} passes the check and can {reads}."),
            format!("Escape every dot in origin regexes (`app\\.example\\.com`), or better: {}", lower_first(EXACT_FIX)),
        ),
        FindingClass::SpecialCharacter => (
            format!("an origin with a special character after {base} is allowed"),
            format!("The origin check stops at an unusual character, so {origin} (a page on {domain}, which {} send) passes as yours and can {reads}.", p.browsers.unwrap_or("some browsers")),
            format!("Compare the whole origin string, not a parsed prefix of it: {}", lower_first(EXACT_FIX)),
        ),
        FindingClass::SubdomainTrusted => (
            format!("any subdomain of {domain} is allowed"),
            format!("Every subdomain is trusted, so one subdomain with an XSS flaw or a dangling DNS record (subdomain takeover) is enough to {reads}."),
            format!("List the subdomains that need access; if you do mean every subdomain, make sure none can be taken over or runs untrusted content. {EXACT_FIX}"),
        ),
        FindingClass::HttpOriginTrusted => (
            format!("the plain-http origin {origin} is allowed"),
            format!("Anyone on the user's network path (public Wi-Fi, a rogue router) can inject script into an http page and so {reads}."),
            format!("Allow only https:// origins (http:// only for localhost during development). {EXACT_FIX}"),
        ),
        FindingClass::TldSwap => (
            format!("the name of {base} under another top-level domain is allowed ({origin})"),
            format!("The origin check ignores the top-level domain, so whoever registers {domain} can {reads}."),
            format!("Compare the whole host, top-level domain included: {}", lower_first(EXACT_FIX)),
        ),
        FindingClass::SubstringMatch => (
            format!("an origin that merely contains (or is contained in) {base} is allowed ({origin})"),
            format!("The origin check tests a substring, so whoever registers {domain} can {reads}."),
            format!("Never test with contains/indexOf/startsWith on the trusted string: {}", lower_first(EXACT_FIX)),
        ),
        FindingClass::OtherPort => (
            format!("{origin}, the trusted host on another port, is allowed"),
            format!("The origin check ignores the port, so any other service on that host (a debug console, a user-content server) can {reads}."),
            format!("Compare scheme, host and port together. {EXACT_FIX}"),
        ),
        FindingClass::ThirdPartyTrusted => (
            format!("a third-party hosting origin is allowed ({origin})"),
            format!("Anyone can publish script on {domain}, so any account there can {reads}."),
            format!("Remove code-hosting, sandbox and CDN domains from the allowed origins. {EXACT_FIX}"),
        ),
        FindingClass::LocalhostTrusted => (
            format!("a local development origin is allowed ({origin})"),
            format!("Whatever runs on the user's machine (any dev server, a local app, a malicious package's server) can {reads}."),
            format!("Allow localhost only in development configurations, never in production. {EXACT_FIX}"),
        ),
        FindingClass::CaseInsensitive => (
            format!("the upper-case origin {origin} is echoed"),
            "No browser sends it, but a server that compares origins without regard to case often has a looser check elsewhere.".to_owned(),
            format!("Compare the Origin header byte for byte with lower-case entries. {EXACT_FIX}"),
        ),
        FindingClass::TrailingDot => (
            format!("{origin}, the trusted host with a trailing dot, is allowed"),
            "A host with a final dot is a separate origin with its own cookies and storage; allowing it shows a check that normalises instead of comparing.".to_owned(),
            format!("Compare the Origin header exactly. {EXACT_FIX}"),
        ),
        _ => (String::new(), String::new(), String::new()),
    }
}

/// The probes of one origin: which were allowed by echo (not by `*`), and with credentials?
struct Trust<'a> {
    plan: &'a PlannedOrigin,
    class: FindingClass,
    credentials: bool,
    evidence: &'a ProbeRecord,
}

fn trust_hits<'a>(records: &'a [ProbeRecord], plan: &'a [PlannedOrigin]) -> Vec<Trust<'a>> {
    let mut out = Vec::new();
    for p in plan {
        let Some(class) = p.kind.class().map(FindingClass::of_hostile) else {
            continue;
        };
        let mine: Vec<&ProbeRecord> = records
            .iter()
            .filter(|r| r.origin.is_some() && r.origin == p.origin)
            .collect();
        let echoed = |r: &&&ProbeRecord| {
            r.allowed(true) || (r.allowed(false) && acao(r).as_deref() != Some("*"))
        };
        let allowed: Vec<&&ProbeRecord> = mine.iter().filter(echoed).collect();
        if allowed.is_empty() {
            continue;
        }
        let credentials = allowed.iter().any(|r| r.allowed(true));
        let evidence = allowed
            .iter()
            .find(|r| r.request == ProbeRequest::Get && r.allowed(true))
            .or_else(|| allowed.iter().find(|r| r.allowed(true)))
            .or_else(|| allowed.iter().find(|r| r.request == ProbeRequest::Get))
            .or_else(|| allowed.first())
            .map(|r| **r);
        if let Some(evidence) = evidence {
            out.push(Trust {
                plan: p,
                class,
                credentials,
                evidence,
            });
        }
    }
    // A suffix or substring hit on a host of the trusted registrable domain
    // (`evilapp.example.com`, `pp.example.com`) is a subdomain finding when
    // the registrable domain's own subdomains are allowed too.
    let parent_allowed: Vec<String> = out
        .iter()
        .filter(|t| t.class == FindingClass::SubdomainTrusted)
        .filter_map(|t| t.plan.origin.as_deref())
        .filter_map(|o| o.split_once("://").map(|(_, h)| h.to_owned()))
        .filter_map(|h| h.split_once('.').map(|(_, rest)| rest.to_owned()))
        .collect();
    for t in &mut out {
        if matches!(
            t.class,
            FindingClass::SuffixMatch | FindingClass::SubstringMatch
        ) && t.plan.reach == Some(Reach::OwnDomain)
        {
            if let Some(d) = &t.plan.attacker_domain {
                if parent_allowed.iter().any(|p| p == d) {
                    t.class = FindingClass::SubdomainTrusted;
                }
            }
        }
    }
    out
}

/// Which findings a broader one explains.
fn subsumed_by(class: FindingClass) -> &'static [FindingClass] {
    match class {
        FindingClass::ReflectedOrigin => &[
            FindingClass::NullOrigin,
            FindingClass::PrefixMatch,
            FindingClass::SuffixMatch,
            FindingClass::UnescapedDot,
            FindingClass::SpecialCharacter,
            FindingClass::SubdomainTrusted,
            FindingClass::HttpOriginTrusted,
            FindingClass::TldSwap,
            FindingClass::SubstringMatch,
            FindingClass::OtherPort,
            FindingClass::ThirdPartyTrusted,
            FindingClass::LocalhostTrusted,
            FindingClass::CaseInsensitive,
            FindingClass::TrailingDot,
        ],
        FindingClass::SubstringMatch => &[
            FindingClass::PrefixMatch,
            FindingClass::SuffixMatch,
            FindingClass::UnescapedDot,
            FindingClass::SpecialCharacter,
            FindingClass::SubdomainTrusted,
            FindingClass::HttpOriginTrusted,
            FindingClass::OtherPort,
            FindingClass::TrailingDot,
        ],
        FindingClass::SuffixMatch => &[FindingClass::UnescapedDot, FindingClass::SubdomainTrusted],
        FindingClass::PrefixMatch => &[
            FindingClass::SpecialCharacter,
            FindingClass::OtherPort,
            FindingClass::TrailingDot,
        ],
        _ => &[],
    }
}

fn trust_findings(records: &[ProbeRecord], plan: &[PlannedOrigin]) -> Vec<Finding> {
    let hits = trust_hits(records, plan);
    let mut out: Vec<Finding> = Vec::new();
    for h in &hits {
        let origin = h.plan.origin.clone().unwrap_or_default();
        // One finding per class; later hits of the class join it.
        if let Some(f) = out.iter_mut().find(|f| f.class == h.class) {
            f.also_allowed.push(origin.clone());
            let s = trust_severity(h.plan.reach, h.credentials);
            if s > f.severity {
                let (title, why, fix) = trust_text(h.class, h.plan, h.credentials, h.evidence);
                f.severity = s;
                f.title = title;
                f.why = why;
                f.fix = Fix::advice(fix);
                f.credentials = h.credentials;
                f.browsers = h.plan.browsers;
                f.also_allowed.retain(|o| Some(o) != h.plan.origin.as_ref());
                if let Some(old) = f.origin.replace(origin) {
                    f.also_allowed.insert(0, old);
                }
                f.attacker_domain = h.plan.attacker_domain.clone();
                f.evidence = Evidence::of(h.evidence);
            }
            continue;
        }
        let (title, why, fix) = trust_text(h.class, h.plan, h.credentials, h.evidence);
        out.push(Finding {
            class: h.class,
            rule_id: h.class.rule_id(),
            severity: trust_severity(h.plan.reach, h.credentials),
            title,
            origin: Some(origin),
            attacker_domain: h.plan.attacker_domain.clone(),
            credentials: h.credentials,
            browsers: h.plan.browsers,
            evidence: Evidence::of(h.evidence),
            why,
            fix: Fix::advice(fix),
            also_allowed: Vec::new(),
        });
    }
    // Drop what a broader finding explains, listing it there.
    let present: Vec<FindingClass> = out.iter().map(|f| f.class).collect();
    let mut absorbed: Vec<(FindingClass, Vec<String>)> = Vec::new();
    out.retain(|f| {
        let broader = present.iter().find(|c| subsumed_by(**c).contains(&f.class));
        match broader {
            Some(b) => {
                let mut origins: Vec<String> = f.origin.iter().cloned().collect();
                origins.extend(f.also_allowed.iter().cloned());
                absorbed.push((*b, origins));
                false
            }
            None => true,
        }
    });
    for (class, origins) in absorbed {
        if let Some(f) = out.iter_mut().find(|f| f.class == class) {
            f.also_allowed.extend(origins);
        }
    }
    out
}

fn server_finding(
    class: FindingClass,
    severity: Severity,
    r: &ProbeRecord,
    title: String,
    why: &str,
    fix: &str,
) -> Finding {
    Finding {
        class,
        rule_id: class.rule_id(),
        severity,
        title,
        origin: r.origin.clone(),
        attacker_domain: None,
        credentials: false,
        browsers: None,
        evidence: Evidence::of(r),
        why: why.to_owned(),
        fix: Fix::advice(fix),
        also_allowed: Vec::new(),
    }
}

fn server_findings(
    records: &[ProbeRecord],
    label: &str,
    trusted: &[String],
    fixed_third_party: bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let answered = || records.iter().filter(|r| r.response.is_some());
    let gets = || answered().filter(|r| r.request == ProbeRequest::Get);

    // Access-Control-Allow-Origin that depends on Origin, without Vary: Origin.
    let mut values: Vec<Option<String>> = gets().map(acao).collect();
    values.sort();
    values.dedup();
    let dynamic = values.len() > 1;
    if dynamic {
        let lacking = || gets().filter(|r| !varies_on_origin(r));
        let pick = lacking()
            .find(|r| r.origin.is_some() && acao(r) == r.origin)
            .or_else(|| lacking().next());
        if let Some(r) = pick {
            out.push(server_finding(
                FindingClass::MissingVary,
                Severity::Low,
                r,
                "Access-Control-Allow-Origin depends on the Origin header, but the response lacks Vary: Origin".into(),
                "A cache (CDN, proxy or the browser's own) may serve the answer made for one origin to another, which breaks your own pages and can hand one site's access to another.",
                "Add `Vary: Origin` to every response of this endpoint whose CORS headers depend on the Origin header (those without an Origin too); corsgate policies do this.",
            ));
        }
    }

    if let Some(r) = answered().find(|r| {
        acao(r).as_deref() == Some("*")
            && r.header("access-control-allow-credentials").as_deref() == Some("true")
    }) {
        out.push(server_finding(
            FindingClass::WildcardWithCredentials,
            Severity::Low,
            r,
            "Access-Control-Allow-Origin: * is sent with Access-Control-Allow-Credentials: true".into(),
            "Browsers refuse this pair, so it does not do what was meant; the usual 'fix', echoing the Origin instead of *, would let every website read your users' data.",
            "Decide: public data → drop Access-Control-Allow-Credentials (the wildcard then works, for reads without cookies); per-user data → list the exact origins that need cookies (the policy below).",
        ));
    }

    if let Some(r) = answered().find(|r| {
        // (An echo of the probe's own origin, commas and all, is not a list.)
        acao_lines(r) > 1
            || acao(r).is_some_and(|v| {
                (v.contains(',') || v.trim().contains(' ')) && Some(&v) != r.origin.as_ref()
            })
    }) {
        out.push(server_finding(
            FindingClass::MultipleAllowOrigin,
            Severity::Info,
            r,
            "several origins in Access-Control-Allow-Origin".into(),
            "Browsers accept exactly one origin there; a list, or two header lines (often one from the app and one from a proxy), makes them refuse every cross-origin read.",
            "Send one value: the request's Origin when it is on your list; set CORS headers in one place only (the app or the proxy, not both).",
        ));
    }

    if let Some(r) = answered().find(|r| {
        matches!(
            r.request,
            ProbeRequest::Preflight | ProbeRequest::PreflightReflection
        ) && r.status.is_some_and(|s| !(200..300).contains(&s))
            && (acao(r).is_some() || (r.kind == ProbeKind::Trusted && r.status != Some(403)))
    }) {
        let status = r.status.unwrap_or_default();
        out.push(server_finding(
            FindingClass::PreflightNotOk,
            Severity::Info,
            r,
            format!("a preflight is answered with status {status}"),
            "Browsers require a 2xx status on the answer to a preflight, so this request fails even from your own pages (often an auth layer or router that answers OPTIONS before CORS does).",
            "Answer preflights (OPTIONS with Origin and Access-Control-Request-Method) before authentication and routing, with 204 and the CORS headers.",
        ));
    }

    let method = format!("corsgate{label}");
    let header = format!("x-corsgate-{label}");
    let reflects = |r: &ProbeRecord, star: bool| {
        r.request == ProbeRequest::PreflightReflection
            && (r
                .header("access-control-allow-methods")
                .is_some_and(|v| list_tokens(&v).any(|t| t == method || (star && t == "*")))
                || r.header("access-control-allow-headers")
                    .is_some_and(|v| list_tokens(&v).any(|t| t == header || (star && t == "*"))))
    };
    if let Some(r) = answered().find(|r| reflects(r, true)) {
        // Echoing what is asked, with credentials: every state-changing method
        // and header is open to the allowed origins with the user's cookies
        // (a `*` is literal for credentialed requests, so it does not count).
        let credentials = reflects(r, false)
            && r.header("access-control-allow-credentials").as_deref() == Some("true");
        out.push(server_finding(
            FindingClass::PreflightReflectsRequest,
            if credentials { Severity::Low } else { Severity::Info },
            r,
            "the preflight answer allows any method or header that is asked for".into(),
            "An allowed origin can send any method and header (with the user's cookies when credentials are allowed), more than the endpoint needs; every origin mistake becomes worse.",
            "List the methods and request headers the endpoint really accepts (`methods` and `request_headers` in the policy below).",
        ));
    }

    for r in
        gets().filter(|r| r.kind == ProbeKind::Trusted && !r.allowed(false) && !r.allowed(true))
    {
        let refusal = r
            .without_credentials
            .as_ref()
            .and_then(|a| a.refusal)
            .unwrap_or("refused");
        out.push(server_finding(
            FindingClass::TrustedOriginRefused,
            Severity::Info,
            r,
            format!(
                "{} (a trusted origin) cannot read the response ({refusal})",
                r.origin.as_deref().unwrap_or_default()
            ),
            "A page on an origin you trust cannot read this endpoint, with or without credentials: not a security problem, but your own front end is blocked (`corsgate check` explains why in detail).",
            "Allow this origin exactly (the policy below), or check that the endpoint is the one your pages call.",
        ));
    }

    if let Some(r) = gets().find(|r| r.status.is_some_and(|s| (300..400).contains(&s))) {
        let to = r
            .header("location")
            .map(|l| format!(" to {l}"))
            .unwrap_or_default();
        out.push(server_finding(
            FindingClass::Redirected,
            Severity::Info,
            r,
            format!(
                "the endpoint redirects{to} (status {})",
                r.status.unwrap_or_default()
            ),
            "The scanner judges the redirect answer itself and does not follow it, so what the final resource allows is not covered.",
            "Scan the URL the redirect leads to as well.",
        ));
    }

    if let Some(r) = gets().find(|r| {
        r.kind == ProbeKind::Hostile(HostileClass::Reflection)
            && r.allowed(false)
            && acao(r).as_deref() == Some("*")
    }) {
        out.push(server_finding(
            FindingClass::WildcardOrigin,
            Severity::Info,
            r,
            "any website can read the response without credentials (Access-Control-Allow-Origin: *)".into(),
            "Fine for public data; a leak if this endpoint relies on where the request comes from (an intranet, a VPN, an IP allowlist), since a visitor's browser can be used to read it.",
            "The wildcard suits public data only; for anything else list the exact origins (the policy below).",
        ));
    }
    // A fixed Access-Control-Allow-Origin naming a third-party hosting origin.
    if fixed_third_party {
        if let Some((r, value)) = answered().find_map(|r| {
            let v = acao(r)?;
            let host = v.split_once("://")?.1.split(':').next()?.to_owned();
            (hostile::is_third_party_host(&host) && !trusted.contains(&v)).then_some((r, v))
        }) {
            let credentials =
                r.header("access-control-allow-credentials").as_deref() == Some("true");
            out.push(server_finding(
                FindingClass::ThirdPartyTrusted,
                if credentials { Severity::High } else { Severity::Medium },
                r,
                format!("Access-Control-Allow-Origin names the third-party origin {value}{}", if credentials { " with credentials" } else { "" }),
                "Anyone can publish script on that hosting or sandbox domain, and a page there can read this endpoint's responses (with the user's cookies when credentials are allowed).",
                "Remove code-hosting, sandbox and CDN origins from your CORS configuration; send Access-Control-Allow-Origin only for your own origins (the policy below).",
            ));
        }
    }

    if let Some((r, age)) = answered().find_map(|r| {
        let age: i64 = r.header("access-control-max-age")?.trim().parse().ok()?;
        (age > MAX_AGE_CAP && (acao(r).is_some())).then_some((r, age))
    }) {
        out.push(server_finding(
            FindingClass::ExcessiveMaxAge,
            Severity::Low,
            r,
            format!("preflight answers may be cached for {age} s (Access-Control-Max-Age)"),
            "Browsers keep a preflight at most 2 hours (Chromium) or 24 hours (Firefox); a longer value only shows that a permissive answer, or a mistake, is meant to stick: a fix to the CORS rules would not reach users for that long.",
            "Send Access-Control-Max-Age of a few minutes to 2 hours (600 to 7200), as the policy's max_age.",
        ));
    }

    if let Some((r, names)) = answered().find_map(|r| {
        let v = r.header("access-control-expose-headers")?;
        let names: Vec<String> = list_tokens(&v).filter(|n| sensitive_header(n)).collect();
        (!names.is_empty() && acao(r).is_some()).then_some((r, names))
    }) {
        out.push(server_finding(
            FindingClass::SensitiveHeaderExposed,
            Severity::Low,
            r,
            format!("Access-Control-Expose-Headers lets script read {}", names.join(", ")),
            "Headers that carry credentials or session state (tokens, session ids, CSRF tokens) become readable by every allowed origin's script; any origin mistake then hands them over.",
            "Expose only the headers pages need to read (a request id, pagination); list them in the policy's expose_headers.",
        ));
    }
    out
}

fn toml_string(s: &str) -> String {
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

fn policy_toml(origins: &[String], methods: &[String], credentials: bool) -> String {
    let list = |v: &[String]| {
        v.iter()
            .map(|s| toml_string(s))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut t = format!("origins = [{}]\n", list(origins));
    if !methods.is_empty() {
        t.push_str(&format!("methods = [{}]\n", list(methods)));
        t.push_str("request_headers = [\"content-type\"]\n");
    }
    if credentials {
        t.push_str("credentials = true\n");
    }
    t
}

/// The policy allowing exactly the trusted origins, with the methods their
/// preflights were allowed and credentials if the endpoint uses them;
/// validated with `Policy::from_toml`.
fn suggest_policy(
    records: &[ProbeRecord],
    trusted: &[String],
    scanned_methods: &[String],
) -> PolicySuggestion {
    let placeholder = trusted.is_empty();
    let origins: Vec<String> = if placeholder {
        vec!["https://app.example.com".to_owned()]
    } else {
        trusted.to_vec()
    };
    let mut methods: Vec<String> = Vec::new();
    if placeholder {
        methods = scanned_methods.to_vec();
    } else {
        for r in records.iter().filter(|r| {
            r.kind == ProbeKind::Trusted
                && r.request == ProbeRequest::Preflight
                && (r.allowed(false) || r.allowed(true))
        }) {
            if let Some(m) = &r.requested_method {
                if !methods.contains(m) {
                    methods.push(m.clone());
                }
            }
        }
    }
    let credentials = records.iter().any(|r| {
        r.header("access-control-allow-credentials").as_deref() == Some("true")
            || (r.kind == ProbeKind::Trusted && r.allowed(true))
    });
    let mut notes = Vec::new();
    if placeholder {
        notes.push(
            "no --origin given: replace https://app.example.com with the origins of your own pages"
                .to_owned(),
        );
    }
    let mut toml = policy_toml(&origins, &methods, credentials);
    let mut result = Policy::from_toml(&toml);
    if credentials && result.is_err() {
        let errors = result
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default();
        let without = policy_toml(&origins, &methods, false);
        if Policy::from_toml(&without).is_ok() {
            notes.push(format!(
                "credentials = true left out: {}",
                errors.replace('\n', " ")
            ));
            toml = without;
            result = Policy::from_toml(&toml);
        }
    }
    if let Err(e) = &result {
        notes.push(e.to_string().replace('\n', " "));
    }
    PolicySuggestion {
        toml,
        placeholder,
        valid: result.is_ok(),
        notes,
    }
}

/// Every finding, highest severity first, and the suggested policy.
pub(super) fn find(
    records: &[ProbeRecord],
    plan: &[PlannedOrigin],
    trusted: &[String],
    methods: &[String],
    label: &str,
) -> (Vec<Finding>, PolicySuggestion) {
    let mut all = trust_findings(records, plan);
    let probed_third_party = all.iter().any(|f| {
        matches!(
            f.class,
            FindingClass::ThirdPartyTrusted | FindingClass::ReflectedOrigin
        )
    });
    all.extend(server_findings(
        records,
        label,
        trusted,
        !probed_third_party,
    ));
    // Stable: within a severity, the order above (trust first).
    all.sort_by_key(|f| std::cmp::Reverse(f.severity));
    (all, suggest_policy(records, trusted, methods))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_its_own_rule_id_and_name() {
        let mut ids = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for c in FindingClass::ALL {
            assert!(c.rule_id().starts_with("CORS-"), "{c:?}");
            assert_ne!(c.rule_id(), "CORS-ORIGIN", "{c:?}");
            assert!(ids.insert(c.rule_id()), "{c:?} shares its rule id");
            assert!(names.insert(c.name()), "{c:?} shares its name");
            // The JSON name is the serde name.
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::Value::from(c.name())
            );
        }
        // Every hostile class maps to its own finding class and back.
        for h in HostileClass::ALL {
            let f = FindingClass::of_hostile(h);
            assert_eq!(f.hostile_class(), Some(h));
            assert_eq!(f.rule_id(), h.rule_id());
        }
    }
}
