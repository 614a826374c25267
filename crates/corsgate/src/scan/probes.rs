//! The probe plan: which `Origin` values to send, built from the target and
//! from the origins the user trusts.
//!
//! The hostile origins are the shared catalogue of
//! [`corsgate_core::hostile`]: deterministic (no random label, so one run is
//! the verdict), one entry per class and label variant, each saying who can
//! present it ([`Reach`]) and why it is hostile. The controls come first: no
//! `Origin` at all, the target's own origin, and one origin each trusted
//! entry allows.

use corsgate_core::hostile::{self, Catalogue, HostileClass, Reach};
use corsgate_core::origin_set::AllowedOrigin;
use corsgate_core::Origin;
use serde::{Serialize, Serializer};

/// What a probe origin stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// No `Origin` at all: what any non-browser client gets.
    Baseline,
    /// The target's own origin.
    SameOrigin,
    /// An origin the user trusts (a control: it should be allowed).
    Trusted,
    /// A hostile origin of the catalogue.
    Hostile(HostileClass),
}

impl ProbeKind {
    /// The name used in reports: `baseline`, `same_origin`, `trusted` or the hostile class.
    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Baseline => "baseline",
            ProbeKind::SameOrigin => "same_origin",
            ProbeKind::Trusted => "trusted",
            ProbeKind::Hostile(c) => c.name(),
        }
    }

    /// The hostile class, for a hostile probe.
    pub fn class(self) -> Option<HostileClass> {
        match self {
            ProbeKind::Hostile(c) => Some(c),
            _ => None,
        }
    }
}

impl Serialize for ProbeKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

fn reach_name<S: Serializer>(r: &Option<Reach>, s: S) -> Result<S::Ok, S::Error> {
    match r {
        None => s.serialize_none(),
        Some(r) => s.serialize_str(match r {
            Reach::AnySite => "any_site",
            Reach::RegisterDomain => "register_domain",
            Reach::HostingAccount => "hosting_account",
            Reach::OwnDomain => "own_domain",
            Reach::NetworkAttacker => "network_attacker",
            Reach::LocalMachine => "local_machine",
            Reach::SomeBrowsers => "some_browsers",
            Reach::Nobody => "nobody",
        }),
    }
}

/// One origin to probe with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedOrigin {
    /// What it stands for.
    pub kind: ProbeKind,
    /// The `Origin` value; `None` for the baseline.
    pub origin: Option<String>,
    /// The trusted entry it was derived from.
    pub based_on: Option<String>,
    /// The registrable domain an attacker would register (or control) to use it.
    pub attacker_domain: Option<String>,
    /// Which browsers send such an origin, when not all of them.
    pub browsers: Option<&'static str>,
    /// Who can present it (hostile origins only).
    #[serde(serialize_with = "reach_name")]
    pub reach: Option<Reach>,
    /// Whether a browser can send it as is; the others are sent raw and
    /// judged by whether the answer echoes them.
    pub sendable: bool,
    /// Why it is hostile (hostile origins only).
    pub why: Option<String>,
}

/// The registrable domain (eTLD+1) of a host whose public suffix is on the
/// list; `None` for IP addresses, `localhost`, unknown TLDs and suffixes themselves.
pub(super) fn registrable_domain(host: &str) -> Option<String> {
    hostile::registrable_domain(host)
}

/// The plan: controls first (baseline, same origin, one origin per trusted
/// entry), then the catalogue of hostile origins derived from the trusted
/// entries and the target's own origin, without the target's origin and
/// without what the trusted entries allow.
pub(super) fn plan(target: &Origin, trusted: &[AllowedOrigin]) -> Vec<PlannedOrigin> {
    let mut out: Vec<PlannedOrigin> = Vec::new();
    let mut push = |p: PlannedOrigin| {
        if !out.iter().any(|q| q.origin == p.origin) {
            out.push(p);
        }
    };
    let control = |kind, origin: Option<String>| PlannedOrigin {
        kind,
        origin,
        based_on: None,
        attacker_domain: None,
        browsers: None,
        reach: None,
        sendable: true,
        why: None,
    };
    push(control(ProbeKind::Baseline, None));
    push(control(
        ProbeKind::SameOrigin,
        Some(target.as_str().to_owned()),
    ));
    for t in trusted {
        if let Some(o) = hostile::representative(t) {
            if o != target.as_str() {
                push(control(ProbeKind::Trusted, Some(o)));
            }
        }
    }
    let mut entries = trusted.to_vec();
    entries.push(AllowedOrigin::Exact(target.as_str().to_owned()));
    let catalogue = Catalogue::new(&entries);
    for h in &catalogue {
        push(PlannedOrigin {
            kind: ProbeKind::Hostile(h.class),
            origin: Some(h.origin.clone()),
            based_on: h.based_on.clone(),
            attacker_domain: h.attacker_domain.clone(),
            browsers: h.browsers,
            reach: Some(h.reach),
            sendable: h.sendable(),
            why: Some(h.why.clone()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(plan: &[PlannedOrigin], class: HostileClass) -> Vec<String> {
        plan.iter()
            .filter(|p| p.kind == ProbeKind::Hostile(class))
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
    fn plan_for_a_domain_target() {
        let target = Origin::parse_header("https://api.example.com").unwrap();
        let trusted = [AllowedOrigin::parse("https://app.example.com").unwrap()];
        let p = plan(&target, &trusted);
        assert_eq!(p[0].kind, ProbeKind::Baseline);
        assert_eq!(p[1].kind, ProbeKind::SameOrigin);
        assert_eq!(p[2].origin.as_deref(), Some("https://app.example.com"));
        assert_eq!(
            origins(&p, HostileClass::Reflection),
            ["https://evil.net", "https://evil-1.net"]
        );
        assert_eq!(origins(&p, HostileClass::Null), ["null"]);
        let prefix = origins(&p, HostileClass::Prefix);
        assert!(prefix.contains(&"https://api.example.com.evil.net".to_owned()));
        assert!(prefix.contains(&"https://app.example.com.evil.net".to_owned()));
        let dots = origins(&p, HostileClass::UnescapedDot);
        assert!(dots.contains(&"https://apixexample.com".to_owned()));
        assert!(dots.contains(&"https://appxexample.com".to_owned()));
        let http = origins(&p, HostileClass::SchemeDowngrade);
        assert_eq!(http, ["http://app.example.com", "http://api.example.com"]);
        // Deterministic: the same plan every time.
        assert_eq!(p, plan(&target, &trusted));
        // Never the target or a trusted origin among the hostile ones.
        for h in p.iter().filter(|p| p.kind.class().is_some()) {
            let o = h.origin.as_deref().unwrap();
            assert!(o != "https://api.example.com" && o != "https://app.example.com");
        }
    }

    #[test]
    fn a_pattern_is_a_pattern() {
        let target = Origin::parse_header("https://api.example.com").unwrap();
        let trusted = [AllowedOrigin::parse("https://*.example.com").unwrap()];
        let p = plan(&target, &trusted);
        assert_eq!(p[2].origin.as_deref(), Some("https://www.example.com"));
        let all: Vec<&str> = p.iter().filter_map(|p| p.origin.as_deref()).collect();
        assert!(!all.contains(&"https://evil.example.com"));
        assert!(all.contains(&"https://www.example.com.evil.net"));
        assert!(all.contains(&"https://evilexample.com"));
    }
}
