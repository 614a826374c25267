//! The committed matrix reaches the places where browsers differ: on at
//! least 5 % of its cases the engine's `chromium`, `firefox` and `safari`
//! profiles do not all predict the same thing (outcome, readable headers or
//! the requests sent), through `fetch()` or XHR. No browser needed: this
//! only keeps the generator from drifting into cases every browser treats
//! alike; the browser tests check that each prediction is right.

use corsgate_conformance::case::Site;
use corsgate_conformance::judge::{Engine, Judge};
use corsgate_conformance::matrix::{generate, SEED};
use corsgate_conformance::run::BROWSER_APIS;
use corsgate_core::Profile;

#[test]
fn the_matrix_tells_the_three_browser_profiles_apart() {
    let cases = generate(SEED, 4000);
    let site = Site {
        page: "http://localhost:1".into(),
        target: "http://localhost:2".into(),
        other: "http://127.0.0.1:3".into(),
        run: "r".into(),
    };
    let profiles = [Profile::Chromium, Profile::Firefox, Profile::Safari];
    let apart = cases
        .iter()
        .filter(|c| {
            BROWSER_APIS.iter().any(|&api| {
                let seen: Vec<_> = profiles
                    .iter()
                    .map(|&p| Engine(p).judge(&site, c, api).expect("the engine runs"))
                    .collect();
                seen.windows(2).any(|w| w[0] != w[1])
            })
        })
        .count();
    eprintln!(
        "{apart} of {} cases tell chromium, firefox and safari apart",
        cases.len()
    );
    assert!(
        apart * 20 >= cases.len(),
        "only {apart} of {} cases tell the three browser profiles apart (at least 5 % should)",
        cases.len()
    );
}

/// The committed matrix holds requests where several request headers are
/// disallowed and Chromium names another than the first alphabetically
/// (Blink's header-map order, `Profile::unsafe_header_order`), so the
/// Chromium harness's console comparison always covers that order.
#[test]
fn the_matrix_reaches_chromiums_header_order() {
    let cases = generate(SEED, 4000);
    let site = Site {
        page: "http://localhost:1".into(),
        target: "http://localhost:2".into(),
        other: "http://127.0.0.1:3".into(),
        run: "r".into(),
    };
    let named = |p: Profile, c: &corsgate_conformance::case::Case, api| {
        Engine(p)
            .run(&site, c, api)
            .ok()
            .and_then(|(_, v)| v)
            .and_then(|v| v.reason)
            .and_then(|r| match r.details {
                corsgate_core::Refusal::HeaderNotAllowed { header, .. } => Some(header),
                _ => None,
            })
    };
    let mut reached = 0;
    for c in &cases {
        for api in BROWSER_APIS {
            // Firefox names the first sorted (checked by its harness).
            if let (Some(a), Some(b)) = (
                named(Profile::Chromium, c, api),
                named(Profile::Firefox, c, api),
            ) {
                if a != b {
                    reached += 1;
                }
            }
        }
    }
    eprintln!(
        "{reached} requests where Chromium names another disallowed header than the first sorted"
    );
    assert!(
        reached >= 20,
        "only {reached} requests reach Chromium's header order"
    );
}
