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
