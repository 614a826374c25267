//! The catalogue of hostile origins: every `Origin` value a page an attacker
//! controls (or a lax server check) could present, derived from the origins
//! a policy trusts. `corsgate scan`, `corsgate test` and the gateway's tests
//! all probe with it, so one list decides what "refuses look-alikes" means.
//!
//! The catalogue is a pure function of the trusted entries: no random label,
//! no clock, no I/O. The same entries give the same origins in the same
//! order, so one run is the verdict. Each [`HostileClass`] that uses a made-up
//! label comes in two [`Variant`]s: letters only (`evil`, `evil.net`, which a
//! `[a-z.]+` regex matches) and mixed (`evil-1`, with a digit and `-`, which
//! only `[\w.-]+`-style regexes match), so both kinds of sloppy regex are
//! caught.
//!
//! The classes are those of the reference scanners (Corsy, CORScanner,
//! PortSwigger's research, nuclei's template) plus TLD swaps, substrings both
//! ways, third-party hosting and CDN domains, localhost and loopback origins,
//! other ports, case and trailing-dot variants. Origins the trusted entries
//! themselves allow are left out (a `*.example.com` pattern does allow
//! `https://evil.example.com`).
//!
//! ```
//! use corsgate_core::hostile::{Catalogue, HostileClass, Variant};
//! use corsgate_core::origin_set::AllowedOrigin;
//!
//! let trusted = [AllowedOrigin::parse("https://app.example.com").unwrap()];
//! let catalogue = Catalogue::new(&trusted);
//! let origins: Vec<&str> = catalogue.iter().map(|h| h.origin.as_str()).collect();
//! for o in [
//!     "null",
//!     "https://app.example.com.evil.net",    // prefix
//!     "https://evilexample.com",             // suffix
//!     "https://appxexample.com",             // unescaped dot
//!     "https://app.example.com_.evil.net",   // special character
//!     "https://app.example.net",             // TLD swap
//!     "https://app.example.co",              // substring, reversed
//!     "https://evil.app.example.com",        // subdomain
//!     "http://app.example.com",              // scheme downgrade
//!     "https://codepen.io",                  // third-party hosting
//!     "http://localhost:3000",               // local development
//! ] {
//!     assert!(origins.contains(&o), "{o}");
//! }
//! // Never the trusted origin itself.
//! assert!(!origins.contains(&"https://app.example.com"));
//! // Letters-only and mixed labels, for both kinds of regex.
//! let prefix: Vec<_> = catalogue.iter().filter(|h| h.class == HostileClass::Prefix).collect();
//! assert!(prefix.iter().any(|h| h.variant == Variant::Letters));
//! assert!(prefix.iter().any(|h| h.variant == Variant::Mixed));
//! // Every entry says why it is hostile and which rule a finding gets.
//! assert!(catalogue.iter().all(|h| !h.why.is_empty()));
//! assert_eq!(HostileClass::Prefix.rule_id(), "CORS-PREFIX");
//! ```

use crate::origin::Host;
use crate::server::origin_set::{AllowedOrigin, OriginMatch, PortSpec};
use crate::server::policy::Policy;
use crate::Origin;

/// The letters-only label of made-up names (a `[a-z]+` regex matches it).
pub const LABEL_LETTERS: &str = "evil";
/// The mixed label: a digit and `-` (only `[\w-]+`-style regexes match it).
pub(crate) const LABEL_MIXED: &str = "evil-1";
/// The attacker's top-level domain.
const ATTACKER_TLD: &str = "net";

/// The kinds of hostile origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostileClass {
    /// An unrelated origin: allowed only by a server that echoes any `Origin`.
    Reflection,
    /// `null`: sandboxed iframes, `data:` and `file:` pages, which any site can produce.
    Null,
    /// The trusted host followed by more: `https://app.example.com.evil.net` (a prefix test).
    Prefix,
    /// Something in front of the trusted name: `https://evilexample.com` (a suffix test).
    Suffix,
    /// A dot of the trusted host replaced: `https://appxexample.com` (an unescaped regex dot).
    UnescapedDot,
    /// A character that lax URL parsers stop at: `https://app.example.com_.evil.net`.
    SpecialCharacter,
    /// The trusted name under another top-level domain: `https://app.example.net`.
    TldSwap,
    /// A substring either way: `https://evilexample.com.evil.net`, `https://app.example.co`.
    Substring,
    /// A subdomain of a trusted host or of its registrable domain: `https://evil.app.example.com`.
    Subdomain,
    /// The `http://` form of an `https://` origin.
    SchemeDowngrade,
    /// The trusted host on another port.
    OtherPort,
    /// Code-hosting, sandbox and CDN domains where anyone can publish script.
    ThirdParty,
    /// Localhost, loopback and unspecified addresses on development ports.
    Localhost,
    /// The trusted origin in upper or mixed case (no browser sends it).
    CaseVariant,
    /// The trusted host with a final dot: `https://app.example.com.`.
    TrailingDot,
}

impl HostileClass {
    /// Every class, in catalogue order.
    pub const ALL: [HostileClass; 15] = [
        HostileClass::Reflection,
        HostileClass::Null,
        HostileClass::Prefix,
        HostileClass::Suffix,
        HostileClass::UnescapedDot,
        HostileClass::SpecialCharacter,
        HostileClass::TldSwap,
        HostileClass::Substring,
        HostileClass::Subdomain,
        HostileClass::SchemeDowngrade,
        HostileClass::OtherPort,
        HostileClass::ThirdParty,
        HostileClass::Localhost,
        HostileClass::CaseVariant,
        HostileClass::TrailingDot,
    ];

    /// The stable snake_case name (as in JSON).
    pub fn name(self) -> &'static str {
        match self {
            HostileClass::Reflection => "reflection",
            HostileClass::Null => "null",
            HostileClass::Prefix => "prefix",
            HostileClass::Suffix => "suffix",
            HostileClass::UnescapedDot => "unescaped_dot",
            HostileClass::SpecialCharacter => "special_character",
            HostileClass::TldSwap => "tld_swap",
            HostileClass::Substring => "substring",
            HostileClass::Subdomain => "subdomain",
            HostileClass::SchemeDowngrade => "scheme_downgrade",
            HostileClass::OtherPort => "other_port",
            HostileClass::ThirdParty => "third_party",
            HostileClass::Localhost => "localhost",
            HostileClass::CaseVariant => "case_variant",
            HostileClass::TrailingDot => "trailing_dot",
        }
    }

    /// The stable rule id of findings of this class (SARIF `ruleId`).
    pub fn rule_id(self) -> &'static str {
        match self {
            HostileClass::Reflection => "CORS-REFLECT",
            HostileClass::Null => "CORS-NULL",
            HostileClass::Prefix => "CORS-PREFIX",
            HostileClass::Suffix => "CORS-SUFFIX",
            HostileClass::UnescapedDot => "CORS-UNESCAPED-DOT",
            HostileClass::SpecialCharacter => "CORS-SPECIAL-CHAR",
            HostileClass::TldSwap => "CORS-TLD-SWAP",
            HostileClass::Substring => "CORS-SUBSTRING",
            HostileClass::Subdomain => "CORS-SUBDOMAIN",
            HostileClass::SchemeDowngrade => "CORS-HTTP-ORIGIN",
            HostileClass::OtherPort => "CORS-OTHER-PORT",
            HostileClass::ThirdParty => "CORS-THIRD-PARTY",
            HostileClass::Localhost => "CORS-LOCALHOST",
            HostileClass::CaseVariant => "CORS-CASE",
            HostileClass::TrailingDot => "CORS-TRAILING-DOT",
        }
    }

    /// What a server that lets this class in does wrong, in a few words.
    pub fn flaw(self) -> &'static str {
        match self {
            HostileClass::Reflection => "echoes any Origin",
            HostileClass::Null => "trusts the `null` origin",
            HostileClass::Prefix => "checks only the start of the origin",
            HostileClass::Suffix => "checks only the end of the origin, without a dot boundary",
            HostileClass::UnescapedDot => "uses a regex whose dots are not escaped",
            HostileClass::SpecialCharacter => {
                "parses the origin laxly and stops at an unusual character"
            }
            HostileClass::TldSwap => "ignores the top-level domain",
            HostileClass::Substring => "tests a substring instead of the whole origin",
            HostileClass::Subdomain => "trusts every subdomain",
            HostileClass::SchemeDowngrade => "trusts plain-http origins",
            HostileClass::OtherPort => "ignores the port",
            HostileClass::ThirdParty => "trusts a domain where anyone can publish script",
            HostileClass::Localhost => "trusts localhost or loopback origins",
            HostileClass::CaseVariant => "compares origins without regard to case",
            HostileClass::TrailingDot => "accepts the host with a trailing dot",
        }
    }
}

impl std::fmt::Display for HostileClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which label a made-up name uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// Letters and dots only ([`LABEL_LETTERS`]).
    Letters,
    /// With a digit and `-` (`LABEL_MIXED`).
    Mixed,
    /// No made-up label (`null`, `http://app.example.com`, `https://codepen.io`).
    Fixed,
}

/// Who can put a page on the origin (what it takes to exploit a server that allows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reach {
    /// Any website (an unrelated domain, `null` from a sandboxed iframe).
    AnySite,
    /// Whoever registers a domain that is for sale.
    RegisterDomain,
    /// Whoever opens an account on a hosting, sandbox or CDN service.
    HostingAccount,
    /// Whoever controls a subdomain of yours (an XSS, a takeover) or another service on your host.
    OwnDomain,
    /// A network attacker (plain http).
    NetworkAttacker,
    /// Software on the user's own machine (a dev server, a local app).
    LocalMachine,
    /// Only some browsers send such an origin (see `HostileOrigin::browsers`).
    SomeBrowsers,
    /// No browser sends it, or no one can register it: it only shows a sloppy check.
    Nobody,
}

/// One hostile origin and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostileOrigin {
    /// The `Origin` value.
    pub origin: String,
    /// Its class.
    pub class: HostileClass,
    /// Letters-only or mixed label.
    pub variant: Variant,
    /// Who can present it.
    pub reach: Reach,
    /// Which browsers send it, when not every one.
    pub browsers: Option<&'static str>,
    /// The trusted entry it was derived from (none for the generic ones).
    pub based_on: Option<String>,
    /// The domain an attacker would register or control to use it.
    pub attacker_domain: Option<String>,
    /// Why a server must refuse it, in one sentence.
    pub why: String,
}

impl HostileOrigin {
    /// Whether a browser can send it as is (it parses as a canonical `Origin`);
    /// the others (upper case, percent signs) are sent raw, as detectors.
    pub fn sendable(&self) -> bool {
        Origin::parse_header(&self.origin).is_ok()
    }
}

/// The characters of the special-character class and which browsers put them
/// in a host (Corben Leo 2018, nuclei's template; browser-dependent).
const SPECIAL: [(&str, Option<&str>); 19] = [
    ("_", None),
    ("-", None),
    ("$", Some("Firefox and Safari")),
    ("+", Some("Firefox and Safari")),
    ("`", Some("Safari")),
    ("}", Some("Safari")),
    ("{", Some("Safari")),
    ("!", Some("Safari")),
    ("~", Some("Safari")),
    ("&", Some("Safari")),
    ("'", Some("Safari")),
    ("(", Some("Safari")),
    (")", Some("Safari")),
    ("*", Some("Safari")),
    (",", Some("Safari")),
    (";", Some("Safari")),
    ("=", Some("Safari")),
    ("%60", Some("no browser")),
    ("%0b", Some("no browser")),
];

/// Hosting suffixes where anyone gets a subdomain.
const HOSTING_SUFFIXES: [&str; 14] = [
    "github.io",
    "herokuapp.com",
    "vercel.app",
    "netlify.app",
    "cloudfront.net",
    "s3.amazonaws.com",
    "azurewebsites.net",
    "web.app",
    "firebaseapp.com",
    "pages.dev",
    "workers.dev",
    "glitch.me",
    "onrender.com",
    "ngrok-free.app",
];

/// Sandboxes and CDNs that serve anyone's code on one origin.
const HOSTING_ORIGINS: [&str; 13] = [
    "https://codepen.io",
    "https://cdpn.io",
    "https://jsfiddle.net",
    "https://fiddle.jshell.net",
    "https://jsbin.com",
    "https://output.jsbin.com",
    "https://codesandbox.io",
    "https://replit.com",
    "https://stackblitz.com",
    "https://cdn.jsdelivr.net",
    "https://unpkg.com",
    "https://raw.githack.com",
    "http://www.webdevout.net",
];

/// Local development origins.
const LOCAL_ORIGINS: [(&str, Variant); 12] = [
    ("http://localhost", Variant::Letters),
    ("http://localhost:3000", Variant::Mixed),
    ("http://localhost:5173", Variant::Mixed),
    ("http://localhost:8080", Variant::Mixed),
    ("https://localhost:8443", Variant::Mixed),
    ("http://127.0.0.1", Variant::Mixed),
    ("http://127.0.0.1:8080", Variant::Mixed),
    ("http://127.0.0.1:3000", Variant::Mixed),
    ("http://[::1]", Variant::Fixed),
    ("http://[::1]:3000", Variant::Fixed),
    ("http://0.0.0.0", Variant::Mixed),
    ("http://0.0.0.0:8000", Variant::Mixed),
];

/// The registrable domain (eTLD+1) of a host whose public suffix is a known
/// one; `None` for IP addresses, `localhost`, unknown TLDs and suffixes themselves.
pub fn registrable_domain(host: &str) -> Option<String> {
    let suffix = psl::suffix(host.as_bytes())?;
    if !suffix.is_known() {
        return None;
    }
    psl::domain_str(host).map(str::to_owned)
}

/// The public suffix of a host, when known (`com`, `co.uk`).
fn public_suffix(host: &str) -> Option<String> {
    let s = psl::suffix(host.as_bytes())?;
    if !s.is_known() {
        return None;
    }
    std::str::from_utf8(s.as_bytes()).ok().map(str::to_owned)
}

/// Whether `host` belongs to a code-hosting, sandbox or CDN service where
/// anyone can publish script (`x.github.io`, `codepen.io`, ...).
pub fn is_third_party_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    HOSTING_SUFFIXES
        .iter()
        .any(|s| host.len() > s.len() + 1 && host.ends_with(&format!(".{s}")))
        || HOSTING_ORIGINS
            .iter()
            .filter_map(|o| o.split_once("://").map(|(_, h)| h))
            .any(|h| h == host)
}

/// An origin a trusted entry allows: the entry itself when exact, a
/// representative one for a pattern (`https://*.example.com` →
/// `https://www.example.com`); none for `*`.
pub fn representative(entry: &AllowedOrigin) -> Option<String> {
    let b = base_of(entry)?;
    Some(format!("{}://{}{}", b.scheme, b.host, b.port))
}

/// Whether one of `trusted` allows `origin` (exact entries compared as
/// strings, patterns as the policy builder reads them).
pub(crate) fn allowed_by(trusted: &[AllowedOrigin], origin: &str) -> bool {
    let parsed = Origin::parse_header(origin).ok();
    let tuple = parsed.as_ref().and_then(Origin::tuple);
    trusted.iter().any(|e| match e {
        AllowedOrigin::Any => true,
        AllowedOrigin::Exact(o) => o == origin,
        AllowedOrigin::Pattern {
            scheme,
            host,
            subdomains,
            port,
        } => tuple.is_some_and(|t| {
            let h = t.host().to_string();
            let host_ok = if *subdomains {
                h.len() > host.len() + 1 && h.ends_with(&format!(".{host}"))
            } else {
                &h == host
            };
            let port_ok = match port {
                PortSpec::Any => true,
                PortSpec::Default => t.port().is_none(),
                PortSpec::Exact(p) => t.port() == Some(*p),
            };
            t.scheme() == *scheme && host_ok && port_ok
        }),
    })
}

/// The catalogue: hostile origins in a fixed order, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalogue {
    entries: Vec<HostileOrigin>,
}

/// A base the look-alikes are derived from: one origin a trusted entry allows.
struct Base {
    entry: String,
    scheme: String,
    host: String,
    /// `:port` or empty.
    port: String,
    port_number: Option<u16>,
    /// Whether the host is a domain name (not an IP address).
    domain: bool,
}

fn base_of(entry: &AllowedOrigin) -> Option<Base> {
    let (origin, text) = match entry {
        AllowedOrigin::Any => return None,
        AllowedOrigin::Exact(o) => (Origin::parse_header(o).ok()?, o.clone()),
        AllowedOrigin::Pattern {
            scheme,
            host,
            subdomains,
            port,
        } => {
            // A representative origin the pattern allows.
            let h = if *subdomains {
                format!("www.{host}")
            } else {
                host.clone()
            };
            let p = match port {
                PortSpec::Exact(p) => format!(":{p}"),
                _ => String::new(),
            };
            let star = if *subdomains { "*." } else { "" };
            let pspec = match port {
                PortSpec::Any => ":*".to_owned(),
                _ => p.clone(),
            };
            (
                Origin::parse_header(format!("{scheme}://{h}{p}")).ok()?,
                format!("{scheme}://{star}{host}{pspec}"),
            )
        }
    };
    let t = origin.tuple()?;
    let domain = matches!(t.host(), Host::Domain(_));
    Some(Base {
        entry: text,
        scheme: t.scheme().to_owned(),
        host: t.host().to_string(),
        port: t.port().map(|p| format!(":{p}")).unwrap_or_default(),
        port_number: t.port(),
        domain,
    })
}

impl Catalogue {
    /// The catalogue for these trusted entries, without what they allow.
    pub fn new(trusted: &[AllowedOrigin]) -> Catalogue {
        let mut c = Catalogue::derive(trusted);
        c.entries.retain(|h| !allowed_by(trusted, &h.origin));
        c
    }

    /// The catalogue for a policy: derived from its origins, without every
    /// origin the policy's own origin set allows.
    pub fn for_policy(policy: &Policy) -> Catalogue {
        let entries: Vec<AllowedOrigin> = policy
            .config()
            .origins
            .iter()
            .filter_map(|o| AllowedOrigin::parse(o).ok())
            .collect();
        let mut c = Catalogue::new(&entries);
        let set = policy.origins();
        c.entries.retain(|h| {
            http::HeaderValue::from_str(&h.origin).map_or(true, |v| {
                matches!(
                    set.matches(&v),
                    OriginMatch::NotAllowed | OriginMatch::Malformed
                )
            })
        });
        c
    }

    /// Every hostile origin derived from `trusted`, the allowed ones included.
    fn derive(trusted: &[AllowedOrigin]) -> Catalogue {
        let mut c = Catalogue::default();
        let bases: Vec<Base> = trusted.iter().filter_map(base_of).collect();
        let scheme = bases.first().map_or("https", |b| b.scheme.as_str());
        let scheme = if scheme == "http" { "http" } else { "https" };
        for (label, variant) in labels() {
            c.push(HostileOrigin {
                origin: format!("{scheme}://{label}.{ATTACKER_TLD}"),
                class: HostileClass::Reflection,
                variant,
                reach: Reach::AnySite,
                browsers: None,
                based_on: None,
                attacker_domain: Some(format!("{label}.{ATTACKER_TLD}")),
                why: "an unrelated site: only a server that echoes any Origin allows it".into(),
            });
        }
        c.push(HostileOrigin {
            origin: "null".into(),
            class: HostileClass::Null,
            variant: Variant::Fixed,
            reach: Reach::AnySite,
            browsers: None,
            based_on: None,
            attacker_domain: None,
            why: "any site can send `Origin: null` from a sandboxed iframe".into(),
        });
        for b in &bases {
            c.derive_from(b);
        }
        c.third_parties();
        c.localhost();
        c
    }

    fn push(&mut self, h: HostileOrigin) {
        if !self.entries.iter().any(|e| e.origin == h.origin) {
            self.entries.push(h);
        }
    }

    fn derive_from(&mut self, b: &Base) {
        let Base {
            scheme, host, port, ..
        } = b;
        let entry = || Some(b.entry.clone());
        let add = |c: &mut Catalogue,
                   class,
                   variant,
                   reach,
                   origin: String,
                   attacker: Option<String>,
                   why: String| {
            c.push(HostileOrigin {
                origin,
                class,
                variant,
                reach,
                browsers: None,
                based_on: entry(),
                attacker_domain: attacker,
                why,
            });
        };
        let buyable = |h: &str| {
            let d = registrable_domain(h);
            let reach = if d.is_some() {
                Reach::RegisterDomain
            } else {
                Reach::Nobody
            };
            (d, reach)
        };
        // Scheme downgrade, other port, case, trailing dot: for IPs too.
        if scheme == "https" {
            add(
                self,
                HostileClass::SchemeDowngrade,
                Variant::Fixed,
                Reach::NetworkAttacker,
                format!("http://{host}{port}"),
                None,
                format!(
                    "the plain-http form of {}: a network attacker can inject a page there",
                    b.entry
                ),
            );
        }
        let other_port = match b.port_number {
            Some(p) if p != 8443 => ":8443".to_owned(),
            Some(_) => ":9443".to_owned(),
            None => ":8443".to_owned(),
        };
        add(
            self,
            HostileClass::OtherPort,
            Variant::Fixed,
            Reach::OwnDomain,
            format!("{scheme}://{host}{other_port}"),
            None,
            format!("{host} on another port: another service on that host, not the trusted page"),
        );
        add(
            self,
            HostileClass::CaseVariant,
            Variant::Fixed,
            Reach::Nobody,
            format!("{scheme}://{}{port}", host.to_ascii_uppercase()),
            None,
            "browsers send origins in lower case: a server that allows this compares without regard to case".into(),
        );
        if !b.domain {
            return;
        }
        add(
            self,
            HostileClass::TrailingDot,
            Variant::Fixed,
            Reach::Nobody,
            format!("{scheme}://{host}.{port}"),
            None,
            format!("{host}. is another origin than {host} (its own cookies and storage)"),
        );
        let registrable = registrable_domain(host);
        let suffix = public_suffix(host);
        // Prefix: the trusted host, then an attacker's domain.
        for (label, variant) in labels() {
            let attacker = format!("{label}.{ATTACKER_TLD}");
            add(
                self,
                HostileClass::Prefix,
                variant,
                Reach::RegisterDomain,
                format!("{scheme}://{host}.{attacker}{port}"),
                Some(attacker.clone()),
                format!("starts with {host} but is a subdomain of {attacker}, which anyone can register"),
            );
        }
        for (glue, variant) in [("", Variant::Letters), ("-", Variant::Mixed)] {
            let label = if variant == Variant::Letters {
                LABEL_LETTERS
            } else {
                "evil1"
            };
            let h = format!("{host}{glue}{label}.{ATTACKER_TLD}");
            let (d, reach) = buyable(&h);
            add(
                self,
                HostileClass::Prefix,
                variant,
                reach,
                format!("{scheme}://{h}{port}"),
                d,
                format!("starts with the text of {host} but is another domain"),
            );
        }
        // Suffix: something in front of the registrable domain and of the host.
        if let Some(r) = &registrable {
            for (label, variant) in [
                (LABEL_LETTERS, Variant::Letters),
                ("evil1-", Variant::Mixed),
            ] {
                let h = format!("{label}{r}");
                let (d, reach) = buyable(&h);
                add(
                    self,
                    HostileClass::Suffix,
                    variant,
                    reach,
                    format!("{scheme}://{h}{port}"),
                    d,
                    format!("ends with {r} but is another registrable domain"),
                );
            }
            if host != r {
                for (label, variant) in [
                    (LABEL_LETTERS, Variant::Letters),
                    ("evil1-", Variant::Mixed),
                ] {
                    add(
                        self,
                        HostileClass::Suffix,
                        variant,
                        Reach::OwnDomain,
                        format!("{scheme}://{label}{host}{port}"),
                        Some(r.clone()),
                        format!("ends with {host} without the dot before it: another host of {r}"),
                    );
                }
            }
        }
        // Unescaped dots: each dot replaced, keeping the variants someone can register.
        let mut dots = 0;
        for (i, _) in host.match_indices('.') {
            for (with, variant) in [("x", Variant::Letters), ("-", Variant::Mixed)] {
                let h = format!("{}{with}{}", &host[..i], &host[i + 1..]);
                let (d, reach) = buyable(&h);
                let own = d.is_some() && d == registrable;
                if own {
                    continue;
                }
                // The last dot (before the TLD) only makes a detector; keep one.
                if d.is_none() && dots > 0 {
                    continue;
                }
                if d.is_none() {
                    dots += 1;
                }
                add(
                    self,
                    HostileClass::UnescapedDot,
                    variant,
                    reach,
                    format!("{scheme}://{h}{port}"),
                    d.clone(),
                    match d {
                        Some(d) => format!("{host} with a dot replaced: {d} is for sale, and a regex with an unescaped dot matches it"),
                        None => format!("{host} with a dot replaced: a regex with an unescaped dot matches it"),
                    },
                );
            }
        }
        // Special characters after the host.
        for (c, browsers) in SPECIAL {
            let variants: &[(&str, Variant)] = if c == "_" {
                &[
                    (LABEL_LETTERS, Variant::Letters),
                    (LABEL_MIXED, Variant::Mixed),
                ]
            } else {
                &[(LABEL_LETTERS, Variant::Letters)]
            };
            for (label, variant) in variants {
                let attacker = format!("{label}.{ATTACKER_TLD}");
                let reach = match browsers {
                    None => Reach::RegisterDomain,
                    Some("no browser") => Reach::Nobody,
                    Some(_) => Reach::SomeBrowsers,
                };
                self.push(HostileOrigin {
                    origin: format!("{scheme}://{host}{c}.{attacker}{port}"),
                    class: HostileClass::SpecialCharacter,
                    variant: *variant,
                    reach,
                    browsers,
                    based_on: entry(),
                    attacker_domain: Some(attacker.clone()),
                    why: format!(
                        "a host on {attacker}; a parser that stops at `{c}` reads it as {host}"
                    ),
                });
            }
        }
        // TLD swap.
        if let (Some(r), Some(s)) = (&registrable, &suffix) {
            let stem = &host[..host.len() - s.len()];
            let swaps: [(&str, Variant); 3] = [
                (if s == "net" { "com" } else { "net" }, Variant::Letters),
                (if s == "org" { "io" } else { "org" }, Variant::Letters),
                ("xn--p1ai", Variant::Mixed),
            ];
            for (tld, variant) in swaps {
                let h = format!("{stem}{tld}");
                let (d, reach) = buyable(&h);
                add(
                    self,
                    HostileClass::TldSwap,
                    variant,
                    reach,
                    format!("{scheme}://{h}{port}"),
                    d,
                    format!("{host} under .{tld}: someone else's domain, not {r}"),
                );
            }
        }
        // Substrings, both ways.
        if let Some(r) = &registrable {
            for (label, variant) in [
                (LABEL_LETTERS, Variant::Letters),
                ("evil1-", Variant::Mixed),
            ] {
                let tail = if variant == Variant::Letters {
                    format!("{LABEL_LETTERS}.{ATTACKER_TLD}")
                } else {
                    format!("{LABEL_MIXED}.{ATTACKER_TLD}")
                };
                for inner in if host == r {
                    vec![r.clone()]
                } else {
                    vec![host.clone(), r.clone()]
                } {
                    add(
                        self,
                        HostileClass::Substring,
                        variant,
                        Reach::RegisterDomain,
                        format!("{scheme}://{label}{inner}.{tail}{port}"),
                        Some(tail.clone()),
                        format!("contains {inner} in the middle of a host on {tail}"),
                    );
                }
            }
            // Reversed: the origin is a substring of the trusted one.
            let shorter = [
                host[..host.len() - 1].to_owned(),
                host[1..].to_owned(),
                r[1..].to_owned(),
            ];
            for h in shorter {
                if h.is_empty() || h.starts_with('.') || h.ends_with('.') {
                    continue;
                }
                let (d, reach) = buyable(&h);
                let reach = if d.as_ref() == Some(r) {
                    Reach::OwnDomain
                } else {
                    reach
                };
                add(
                    self,
                    HostileClass::Substring,
                    Variant::Fixed,
                    reach,
                    format!("{scheme}://{h}{port}"),
                    d,
                    format!("{h} is part of {host}: a check that the trusted origin contains the request's accepts it"),
                );
            }
        }
        // Subdomains of the host and of its registrable domain.
        let mut parents = vec![host.clone()];
        if let Some(r) = registrable.as_ref().filter(|r| *r != host) {
            parents.push(r.clone());
        }
        for parent in parents {
            for (label, variant) in labels() {
                add(
                    self,
                    HostileClass::Subdomain,
                    variant,
                    Reach::OwnDomain,
                    format!("{scheme}://{label}.{parent}{port}"),
                    registrable.clone(),
                    format!("a subdomain of {parent}: one XSS or taken-over subdomain is enough to use it"),
                );
            }
        }
    }

    fn third_parties(&mut self) {
        for s in HOSTING_SUFFIXES {
            for (label, variant) in labels() {
                self.push(HostileOrigin {
                    origin: format!("https://{label}.{s}"),
                    class: HostileClass::ThirdParty,
                    variant,
                    reach: Reach::HostingAccount,
                    browsers: None,
                    based_on: None,
                    attacker_domain: Some(s.to_owned()),
                    why: format!("anyone can publish a page on a subdomain of {s}"),
                });
            }
        }
        for o in HOSTING_ORIGINS {
            self.push(HostileOrigin {
                origin: o.to_owned(),
                class: HostileClass::ThirdParty,
                variant: Variant::Fixed,
                reach: Reach::HostingAccount,
                browsers: None,
                based_on: None,
                attacker_domain: o.split_once("://").map(|(_, h)| h.to_owned()),
                why: format!("{o} runs script anyone publishes there"),
            });
        }
    }

    fn localhost(&mut self) {
        for (o, variant) in LOCAL_ORIGINS {
            self.push(HostileOrigin {
                origin: o.to_owned(),
                class: HostileClass::Localhost,
                variant,
                reach: Reach::LocalMachine,
                browsers: None,
                based_on: None,
                attacker_domain: None,
                why: format!("{o} is whatever runs on the user's machine (any dev server, any local app), not your site"),
            });
        }
        for (label, variant) in labels() {
            let attacker = format!("{label}.{ATTACKER_TLD}");
            self.push(HostileOrigin {
                origin: format!("http://localhost.{attacker}"),
                class: HostileClass::Localhost,
                variant,
                reach: Reach::RegisterDomain,
                browsers: None,
                based_on: None,
                attacker_domain: Some(attacker.clone()),
                why: format!("starts with localhost but is a host on {attacker}"),
            });
        }
    }

    /// The entries, in order.
    pub fn entries(&self) -> &[HostileOrigin] {
        &self.entries
    }

    /// The entries, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, HostileOrigin> {
        self.entries.iter()
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is none (a policy that allows any origin).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keeps the entries `keep` says yes to (to drop the target's own origin, say).
    pub fn retain(&mut self, keep: impl FnMut(&HostileOrigin) -> bool) {
        self.entries.retain(keep);
    }

    /// The entry for an origin.
    pub fn get(&self, origin: &str) -> Option<&HostileOrigin> {
        self.entries.iter().find(|h| h.origin == origin)
    }
}

impl<'a> IntoIterator for &'a Catalogue {
    type Item = &'a HostileOrigin;
    type IntoIter = std::slice::Iter<'a, HostileOrigin>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

fn labels() -> [(&'static str, Variant); 2] {
    [
        (LABEL_LETTERS, Variant::Letters),
        (LABEL_MIXED, Variant::Mixed),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(entries: &[&str]) -> Catalogue {
        let e: Vec<AllowedOrigin> = entries
            .iter()
            .map(|o| AllowedOrigin::parse(o).unwrap())
            .collect();
        Catalogue::new(&e)
    }

    fn of(c: &Catalogue, class: HostileClass) -> Vec<&str> {
        c.iter()
            .filter(|h| h.class == class)
            .map(|h| h.origin.as_str())
            .collect()
    }

    #[test]
    fn every_class_is_present_with_both_variants_where_labelled() {
        let c = cat(&["https://app.example.com"]);
        for class in HostileClass::ALL {
            let entries: Vec<_> = c.iter().filter(|h| h.class == class).collect();
            assert!(!entries.is_empty(), "{class} missing");
        }
        for class in [
            HostileClass::Reflection,
            HostileClass::Prefix,
            HostileClass::Suffix,
            HostileClass::UnescapedDot,
            HostileClass::SpecialCharacter,
            HostileClass::TldSwap,
            HostileClass::Substring,
            HostileClass::Subdomain,
            HostileClass::ThirdParty,
            HostileClass::Localhost,
        ] {
            for v in [Variant::Letters, Variant::Mixed] {
                assert!(
                    c.iter().any(|h| h.class == class && h.variant == v),
                    "{class} has no {v:?} variant"
                );
            }
        }
        // The letters-only entries really are letters and dots in the host; the mixed
        // ones have a digit or `-` somewhere a letters regex would look.
        for h in c.iter().filter(|h| h.variant == Variant::Letters) {
            let host = h.origin.split_once("://").unwrap().1;
            let host = host.split(':').next().unwrap();
            let specials = matches!(
                h.class,
                HostileClass::SpecialCharacter | HostileClass::ThirdParty
            );
            assert!(
                specials || host.bytes().all(|b| b.is_ascii_lowercase() || b == b'.'),
                "{} is not letters-only",
                h.origin
            );
        }
        for h in c.iter().filter(|h| h.variant == Variant::Mixed) {
            assert!(
                h.origin
                    .split_once("://")
                    .unwrap()
                    .1
                    .bytes()
                    .any(|b| b.is_ascii_digit() || b == b'-'),
                "{} is not mixed",
                h.origin
            );
        }
    }

    #[test]
    fn the_issue_examples_are_in_the_catalogue() {
        let c = cat(&["https://app.example.com"]);
        let all: Vec<&str> = c.iter().map(|h| h.origin.as_str()).collect();
        for o in [
            "https://evil.net",
            "null",
            "https://app.example.com.evil.net",
            "https://evilapp.example.com",
            "https://evil1-app.example.com",
            "https://evilexample.com",
            "https://appxexample.com",
            "https://app-example.com",
            "https://app.example.com_.evil.net",
            "https://app.example.com`.evil.net",
            "https://app.example.com}.evil.net",
            "https://app.example.com!.evil.net",
            "https://app.example.com~.evil.net",
            "https://app.example.com%0b.evil.net",
            "https://app.example.net",
            "https://app.example.co",
            "https://pp.example.com",
            "https://evilexample.com.evil.net",
            "https://evil.app.example.com",
            "https://evil.example.com",
            "http://app.example.com",
            "https://app.example.com:8443",
            "https://evil.github.io",
            "https://codepen.io",
            "https://jsfiddle.net",
            "https://evil.herokuapp.com",
            "https://evil.vercel.app",
            "https://evil.s3.amazonaws.com",
            "http://localhost",
            "http://localhost:3000",
            "http://127.0.0.1:8080",
            "http://[::1]",
            "http://0.0.0.0",
            "https://APP.EXAMPLE.COM",
            "https://app.example.com.",
        ] {
            assert!(all.contains(&o), "{o} missing");
        }
    }

    #[test]
    fn deterministic_and_without_duplicates() {
        let a = cat(&["https://app.example.com", "https://*.tenants.example.org"]);
        let b = cat(&["https://app.example.com", "https://*.tenants.example.org"]);
        assert_eq!(a, b);
        let mut seen = std::collections::HashSet::new();
        for h in &a {
            assert!(seen.insert(&h.origin), "{} twice", h.origin);
            assert!(!h.why.is_empty());
        }
    }

    #[test]
    fn what_the_trusted_entries_allow_is_left_out() {
        let c = cat(&["https://*.example.com", "http://localhost:*"]);
        let all: Vec<&str> = c.iter().map(|h| h.origin.as_str()).collect();
        assert!(!all.contains(&"https://evil.example.com"));
        assert!(!all.contains(&"http://localhost:3000"));
        assert!(!all.contains(&"http://localhost"));
        // Still the look-alikes of the pattern.
        assert!(all.contains(&"https://www.example.com.evil.net"));
        assert!(all.contains(&"https://evilexample.com"));
        assert!(all.contains(&"http://127.0.0.1:8080"));
        // A policy with the same entries gives the same catalogue.
        let p = Policy::builder()
            .origin("https://*.example.com")
            .origin("http://localhost:*")
            .build()
            .unwrap();
        assert_eq!(Catalogue::for_policy(&p), c);
    }

    #[test]
    fn a_policy_never_allows_its_catalogue() {
        for origins in [
            vec!["https://app.example.com"],
            vec![
                "https://app.example.co.uk:8443",
                "https://*.api.example.org",
            ],
            vec!["http://localhost:3000", "https://example.com"],
            vec!["https://*.example.com:*"],
        ] {
            let p = Policy::builder().origins(origins.clone()).build().unwrap();
            let c = Catalogue::for_policy(&p);
            assert!(c.len() > 40, "{origins:?}: {}", c.len());
            for h in &c {
                if let Ok(v) = http::HeaderValue::from_str(&h.origin) {
                    assert!(
                        matches!(
                            p.origins().matches(&v),
                            OriginMatch::NotAllowed | OriginMatch::Malformed
                        ),
                        "{origins:?} allows {}",
                        h.origin
                    );
                }
            }
        }
    }

    #[test]
    fn sendable_origins_are_canonical() {
        let c = cat(&["https://app.example.com"]);
        let sendable = |o: &str| c.get(o).unwrap().sendable();
        assert!(sendable("https://app.example.com_.evil.net"));
        assert!(sendable("https://app.example.com.evil-1.net"));
        assert!(!sendable("https://APP.EXAMPLE.COM"));
        assert!(!sendable("https://app.example.com%0b.evil.net"));
        // Every entry a browser can send is sent by at least Chromium unless it says otherwise.
        for h in &c {
            if h.browsers.is_none() && h.class != HostileClass::CaseVariant {
                assert!(h.sendable(), "{}", h.origin);
            }
        }
    }

    #[test]
    fn buyable_look_alikes_are_not_on_the_trusted_domain() {
        let c = cat(&["https://api.shop.example.co.uk"]);
        for h in c.iter().filter(|h| h.reach == Reach::RegisterDomain) {
            let d = h.attacker_domain.as_deref().unwrap_or_default();
            assert_ne!(d, "example.co.uk", "{}", h.origin);
        }
        assert!(of(&c, HostileClass::UnescapedDot).contains(&"https://api.shopxexample.co.uk"));
        assert!(of(&c, HostileClass::TldSwap).contains(&"https://api.shop.example.net"));
    }
}
