//! Properties of the hostile catalogue over generated policies: whatever the
//! trusted origins (exact or patterns, any TLD, ports), the catalogue is the
//! same on every call, has no duplicate, and holds no origin the policy's own
//! origin set allows; every origin a browser can send parses as one; and the
//! look-alikes said to be for sale are not on the trusted registrable domain.

use corsgate_core::hostile::{registrable_domain, Catalogue, HostileClass, Reach, Variant};
use corsgate_core::origin_set::OriginMatch;
use corsgate_core::{Origin, Policy};
use proptest::prelude::*;

fn label() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,8}[a-z0-9]"
}

fn host() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(label(), 1..4),
        prop::sample::select(vec![
            "com", "net", "org", "co.uk", "io", "dev", "com.au", "de",
        ]),
    )
        .prop_map(|(labels, tld)| format!("{}.{tld}", labels.join(".")))
}

/// One `origins` entry: exact, a subdomain pattern, a port pattern, or localhost.
fn entry() -> impl Strategy<Value = String> {
    prop_oneof![
        (host(), prop::option::of(1024u16..65535)).prop_map(|(h, p)| match p {
            Some(p) => format!("https://{h}:{p}"),
            None => format!("https://{h}"),
        }),
        host().prop_map(|h| format!("https://*.{h}")),
        host().prop_map(|h| format!("https://{h}:*")),
        (1024u16..65535).prop_map(|p| format!("http://localhost:{p}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a_policy_refuses_its_whole_catalogue(
        origins in prop::collection::vec(entry(), 1..4),
        credentials in any::<bool>(),
    ) {
        let Ok(policy) = Policy::builder()
            .origins(origins.clone())
            .credentials(credentials)
            .build()
        else {
            // Not every generated list is a valid policy (say, a duplicate).
            return Ok(());
        };
        let c = Catalogue::for_policy(&policy);
        prop_assert_eq!(&c, &Catalogue::for_policy(&policy));
        prop_assert!(c.len() >= 40, "{} entries for {:?}", c.len(), origins);
        let mut seen = std::collections::HashSet::new();
        for h in &c {
            prop_assert!(seen.insert(h.origin.clone()), "{} twice", h.origin);
            prop_assert!(!h.why.is_empty());
            if let Ok(v) = http::HeaderValue::from_str(&h.origin) {
                let m = policy.origins().matches(&v);
                prop_assert!(
                    matches!(m, OriginMatch::NotAllowed | OriginMatch::Malformed),
                    "{:?} allows {} ({})", origins, h.origin, h.class
                );
            }
            if h.sendable() {
                prop_assert!(Origin::parse_header(&h.origin).is_ok());
            }
            if h.reach == Reach::RegisterDomain {
                let d = h.attacker_domain.clone().unwrap_or_default();
                for o in &origins {
                    let trusted_host = o.split_once("://").map(|(_, r)| r).unwrap_or(o)
                        .trim_start_matches("*.")
                        .split(':').next().unwrap_or_default().to_owned();
                    if let Some(r) = registrable_domain(&trusted_host) {
                        prop_assert_ne!(&d, &r, "{} is on the trusted domain", h.origin);
                    }
                }
            }
        }
        // The generic classes are always there, in both variants.
        for class in [HostileClass::Reflection, HostileClass::ThirdParty] {
            for v in [Variant::Letters, Variant::Mixed] {
                prop_assert!(c.iter().any(|h| h.class == class && h.variant == v));
            }
        }
        prop_assert!(c.iter().any(|h| h.class == HostileClass::Null));
    }
}
