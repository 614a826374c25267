//! The probe plan: which `Origin` values to send, built from the target and
//! from the origins the user trusts.
//!
//! Every look-alike origin comes in its *exploitable* form: its registrable
//! domain (eTLD+1, from the public-suffix list) is one an attacker could buy,
//! never a subdomain of the user's own domain (except the subdomain probe,
//! which is about exactly that).

use corsgate_core::origin::Host;
use corsgate_core::Origin;
use serde::Serialize;

/// What a probe origin stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// No `Origin` at all: what any non-browser client gets.
    Baseline,
    /// The target's own origin.
    SameOrigin,
    /// An origin the user trusts (a control: it should be allowed).
    Trusted,
    /// An unrelated origin on a domain an attacker could own (random label per run).
    Arbitrary,
    /// `null`: sandboxed iframes, `data:` and `file:` pages.
    Null,
    /// A subdomain of the target or of a trusted origin.
    Subdomain,
    /// A trusted host followed by an attacker's domain: `https://app.example.com.attacker.com`.
    Prefix,
    /// An attacker's domain ending with the trusted registrable domain: `https://attackerexample.com`.
    Suffix,
    /// A trusted host with a dot replaced by a letter: `https://appxexample.com`.
    UnescapedDot,
    /// A trusted host followed by a special character and an attacker's domain.
    SpecialCharacter,
    /// The `http://` variant of an `https://` origin.
    HttpDowngrade,
}

impl ProbeKind {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Baseline => "baseline",
            ProbeKind::SameOrigin => "same_origin",
            ProbeKind::Trusted => "trusted",
            ProbeKind::Arbitrary => "arbitrary",
            ProbeKind::Null => "null",
            ProbeKind::Subdomain => "subdomain",
            ProbeKind::Prefix => "prefix",
            ProbeKind::Suffix => "suffix",
            ProbeKind::UnescapedDot => "unescaped_dot",
            ProbeKind::SpecialCharacter => "special_character",
            ProbeKind::HttpDowngrade => "http_downgrade",
        }
    }
}

/// One origin to probe with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedOrigin {
    /// What it stands for.
    pub kind: ProbeKind,
    /// The `Origin` value; `None` for the baseline.
    pub origin: Option<String>,
    /// The origin it was derived from (the target's or a trusted one).
    pub based_on: Option<String>,
    /// The registrable domain an attacker would register (or control) to use it.
    pub attacker_domain: Option<String>,
    /// Which browsers send such an origin, when not all of them.
    pub browsers: Option<&'static str>,
}

/// A label random per run, so that no cache can answer a probe with an answer
/// made for an earlier one: 6 lower-case letters and digits.
pub fn random_label() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    let mut n = h.finish();
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..6)
        .map(|_| {
            let c = ALPHABET[(n % 36) as usize] as char;
            n /= 36;
            c
        })
        .collect()
}

/// The registrable domain (eTLD+1) of a host whose public suffix is on the
/// list; `None` for IP addresses, `localhost`, unknown TLDs and suffixes themselves.
pub fn registrable_domain(host: &str) -> Option<String> {
    let suffix = psl::suffix(host.as_bytes())?;
    if !suffix.is_known() {
        return None;
    }
    let domain = psl::domain_str(host)?;
    Some(domain.to_owned())
}

fn domain_host(origin: &Origin) -> Option<String> {
    match &origin.tuple()?.host() {
        Host::Domain(d) => Some(d.clone()),
        _ => None,
    }
}

fn port_suffix(origin: &Origin) -> String {
    origin
        .tuple()
        .and_then(|t| t.port())
        .map(|p| format!(":{p}"))
        .unwrap_or_default()
}

/// `host` with one dot replaced by `x` so that the result is a domain someone
/// else can register (`api.example.com` → `apixexample.com`): what a regex
/// with an unescaped `.` also accepts.
pub fn unescaped_dot_variant(host: &str, registrable: &str) -> Option<String> {
    host.match_indices('.').find_map(|(i, _)| {
        let candidate = format!("{}x{}", &host[..i], &host[i + 1..]);
        let domain = registrable_domain(&candidate)?;
        let own = domain == registrable || candidate.ends_with(&format!(".{registrable}"));
        (!own).then_some(candidate)
    })
}

/// The plan: controls first (baseline, same origin, trusted), then the generic
/// attacker origins, then the look-alikes of every base that has a registrable domain.
pub fn plan(target: &Origin, trusted: &[Origin], label: &str) -> Vec<PlannedOrigin> {
    let attacker_domain = format!("attacker{label}.com");
    let target_scheme = target.tuple().map_or("https", |t| t.scheme());
    let mut out: Vec<PlannedOrigin> = Vec::new();
    let mut push = |p: PlannedOrigin| {
        if !out.iter().any(|q| q.origin == p.origin) {
            out.push(p);
        }
    };
    let simple = |kind, origin: Option<String>| PlannedOrigin {
        kind,
        origin,
        based_on: None,
        attacker_domain: None,
        browsers: None,
    };
    push(simple(ProbeKind::Baseline, None));
    push(simple(
        ProbeKind::SameOrigin,
        Some(target.as_str().to_owned()),
    ));
    for t in trusted {
        push(simple(ProbeKind::Trusted, Some(t.as_str().to_owned())));
    }
    push(PlannedOrigin {
        attacker_domain: Some(attacker_domain.clone()),
        ..simple(
            ProbeKind::Arbitrary,
            Some(format!("{target_scheme}://{attacker_domain}")),
        )
    });
    push(simple(ProbeKind::Null, Some("null".into())));
    let mut bases = vec![target.clone()];
    bases.extend(trusted.iter().cloned());
    for base in &bases {
        let Some(tuple) = base.tuple() else { continue };
        let scheme = tuple.scheme();
        let port = port_suffix(base);
        let base_str = base.as_str().to_owned();
        let derived = |kind, origin: String, attacker: Option<String>| PlannedOrigin {
            kind,
            origin: Some(origin),
            based_on: Some(base_str.clone()),
            attacker_domain: attacker,
            browsers: None,
        };
        if scheme == "https" {
            // The same host and port over plain http.
            if let Some(t) = base.tuple() {
                let host = match t.host() {
                    Host::Domain(d) => d.clone(),
                    Host::Ipv4(a) => a.to_string(),
                    Host::Ipv6(a) => format!("[{a}]"),
                };
                push(derived(
                    ProbeKind::HttpDowngrade,
                    format!("http://{host}{port}"),
                    None,
                ));
            }
        }
        let Some(host) = domain_host(base) else {
            continue;
        };
        let Some(registrable) = registrable_domain(&host) else {
            continue;
        };
        push(derived(
            ProbeKind::Subdomain,
            format!("{scheme}://attacker{label}.{host}"),
            Some(registrable.clone()),
        ));
        if host != registrable {
            push(derived(
                ProbeKind::Subdomain,
                format!("{scheme}://attacker{label}.{registrable}"),
                Some(registrable.clone()),
            ));
        }
        push(derived(
            ProbeKind::Prefix,
            format!("{scheme}://{host}.{attacker_domain}"),
            Some(attacker_domain.clone()),
        ));
        let suffix_host = format!("attacker{label}{registrable}");
        push(derived(
            ProbeKind::Suffix,
            format!("{scheme}://{suffix_host}"),
            registrable_domain(&suffix_host),
        ));
        if let Some(variant) = unescaped_dot_variant(&host, &registrable) {
            let domain = registrable_domain(&variant);
            push(derived(
                ProbeKind::UnescapedDot,
                format!("{scheme}://{variant}"),
                domain,
            ));
        }
        push(PlannedOrigin {
            browsers: Some("Chromium, Firefox and Safari"),
            ..derived(
                ProbeKind::SpecialCharacter,
                format!("{scheme}://{host}_.{attacker_domain}"),
                Some(attacker_domain.clone()),
            )
        });
        for c in ['$', '+'] {
            push(PlannedOrigin {
                browsers: Some("Firefox and Safari"),
                ..derived(
                    ProbeKind::SpecialCharacter,
                    format!("{scheme}://{host}{c}.{attacker_domain}"),
                    Some(attacker_domain.clone()),
                )
            });
        }
        push(PlannedOrigin {
            browsers: Some("Safari only"),
            ..derived(
                ProbeKind::SpecialCharacter,
                format!("{scheme}://{host}`.{attacker_domain}"),
                Some(attacker_domain.clone()),
            )
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(plan: &[PlannedOrigin], kind: ProbeKind) -> Vec<String> {
        plan.iter()
            .filter(|p| p.kind == kind)
            .filter_map(|p| p.origin.clone())
            .collect()
    }

    #[test]
    fn registrable_domains() {
        assert_eq!(
            registrable_domain("api.example.com").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            registrable_domain("a.b.example.co.uk").as_deref(),
            Some("example.co.uk")
        );
        assert_eq!(registrable_domain("localhost"), None);
        assert_eq!(registrable_domain("127.0.0.1"), None);
        assert_eq!(registrable_domain("com"), None);
        assert_eq!(registrable_domain("foo.notatld"), None);
    }

    #[test]
    fn unescaped_dots_are_buyable() {
        assert_eq!(
            unescaped_dot_variant("api.example.com", "example.com").as_deref(),
            Some("apixexample.com")
        );
        assert_eq!(
            unescaped_dot_variant("a.b.example.com", "example.com").as_deref(),
            Some("a.bxexample.com")
        );
        assert_eq!(
            unescaped_dot_variant("example.co.uk", "example.co.uk").as_deref(),
            Some("examplexco.uk")
        );
        assert_eq!(unescaped_dot_variant("example.com", "example.com"), None);
    }

    #[test]
    fn plan_for_a_domain_target() {
        let target = Origin::parse_header("https://api.example.com").unwrap();
        let trusted = [Origin::parse_header("https://app.example.com").unwrap()];
        let p = plan(&target, &trusted, "abc123");
        assert_eq!(p[0].kind, ProbeKind::Baseline);
        assert_eq!(
            origins(&p, ProbeKind::Arbitrary),
            ["https://attackerabc123.com"]
        );
        assert_eq!(origins(&p, ProbeKind::Null), ["null"]);
        let prefix = origins(&p, ProbeKind::Prefix);
        assert!(prefix.contains(&"https://api.example.com.attackerabc123.com".to_owned()));
        assert!(prefix.contains(&"https://app.example.com.attackerabc123.com".to_owned()));
        // The suffix probe is the same for both bases: planned once.
        assert_eq!(
            origins(&p, ProbeKind::Suffix),
            ["https://attackerabc123example.com"]
        );
        let dots = origins(&p, ProbeKind::UnescapedDot);
        assert_eq!(dots, ["https://apixexample.com", "https://appxexample.com"]);
        let http = origins(&p, ProbeKind::HttpDowngrade);
        assert_eq!(http, ["http://api.example.com", "http://app.example.com"]);
        let subs = origins(&p, ProbeKind::Subdomain);
        assert!(subs.contains(&"https://attackerabc123.example.com".to_owned()));
        assert!(subs.contains(&"https://attackerabc123.app.example.com".to_owned()));
        // Every origin is distinct, and every one parses as a browser's Origin.
        for o in p.iter().filter_map(|p| p.origin.as_deref()) {
            assert!(Origin::parse_header(o).is_ok(), "{o}");
        }
    }

    #[test]
    fn plan_for_a_loopback_target_without_trusted_origins() {
        let target = Origin::parse_header("http://127.0.0.1:8080").unwrap();
        let p = plan(&target, &[], "abc123");
        let kinds: Vec<ProbeKind> = p.iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            [
                ProbeKind::Baseline,
                ProbeKind::SameOrigin,
                ProbeKind::Arbitrary,
                ProbeKind::Null
            ]
        );
        assert_eq!(
            origins(&p, ProbeKind::Arbitrary),
            ["http://attackerabc123.com"]
        );
    }
}
