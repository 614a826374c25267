//! What WebKitGTK's network stack does to a redirected `DELETE`, read into
//! a case so the engine can judge it.
//!
//! WebKitGTK's soup backend (`NetworkDataTaskSoup::continueHTTPRedirection`,
//! and its curl twin) follows a redirect of a `DELETE` to another origin with
//! a `GET` — whatever the redirect status — drops the body and
//! `Content-Type`, and keeps `GET` on every later hop. The standard, Safari's
//! CFNetwork and the `safari` profile keep the method. WebCore's CORS code
//! then runs on that `GET`: the next hop's preflight asks for `GET`, and the
//! refusal WebKit's console names is the one for a `GET` (the origin, a
//! header), not the `DELETE` the page asked for.
//!
//! The harness does not teach the `safari` profile a libsoup detail. It
//! reads the case as libsoup does instead ([`soup_reading`]: the first
//! cross-origin redirect of a `DELETE` becomes a 303, which under the
//! standard turns the request into a `GET` for good) and asks the engine's
//! `safari` profile about that ([`Soup`]); where this changes the engine's
//! answer the request is counted and listed as tolerated, never hidden.
//! A 303 also removes `Content-Language`, `Content-Encoding` and
//! `Content-Location`, which libsoup keeps; the engine's preflight after a
//! redirect announces the request's original headers anyway, and the matrix
//! runs show no difference.

use crate::case::{Api, Case, Site};
use crate::judge::{Engine, Judge, Observation};
use corsgate_core::{Profile, Verdict};

/// The case as WebKitGTK's soup backend sends it, when that differs from the
/// case: a `DELETE` whose chain redirects to another origin (before any 303)
/// gets that redirect as a 303. `None` when libsoup changes nothing.
pub fn soup_reading(case: &Case) -> Option<Case> {
    // fetch() and XHR normalize `delete` to `DELETE` before the network
    // stack sees it.
    if !case.request.method.eq_ignore_ascii_case("DELETE") {
        return None;
    }
    let mut here = case.start;
    for (i, hop) in case.hops.iter().enumerate() {
        let redirect = hop.actual.redirect?;
        if redirect.status == 303 {
            // The standard turns it into a GET here already.
            return None;
        }
        if redirect.to != here {
            let mut out = case.clone();
            if let Some(r) = out.hops[i].actual.redirect.as_mut() {
                r.status = 303;
            }
            return Some(out);
        }
        here = redirect.to;
    }
    None
}

/// The engine under a profile, on [`soup_reading`] of each case (the case
/// itself when libsoup changes nothing): the judge WebKitGTK is held to.
#[derive(Debug, Clone, Copy)]
pub struct Soup(pub Profile);

impl Soup {
    /// [`Engine::run`] on the case as libsoup sends it.
    pub fn run(
        &self,
        site: &Site,
        case: &Case,
        api: Api,
    ) -> Result<(Observation, Option<Verdict>), String> {
        let read = soup_reading(case);
        Engine(self.0).run(site, read.as_ref().unwrap_or(case), api)
    }

    /// Whether libsoup's reading changes what the engine predicts for this
    /// request (the request is then tolerated, and listed).
    pub fn changes(&self, site: &Site, case: &Case, api: Api) -> bool {
        soup_reading(case).is_some_and(|read| {
            let observe = |c: &Case| Engine(self.0).run(site, c, api).ok().map(|(o, _)| o);
            observe(&read) != observe(case)
        })
    }
}

impl Judge for Soup {
    fn name(&self) -> String {
        format!("engine:{} (libsoup's DELETE-to-GET read in)", self.0)
    }

    fn judge(&mut self, site: &Site, case: &Case, api: Api) -> Result<Observation, String> {
        self.run(site, case, api).map(|(o, _)| o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::generate;

    /// Only `DELETE` chains that cross origins are read differently, and the
    /// reading turns exactly that redirect into a 303.
    #[test]
    fn reads_only_cross_origin_delete_redirects() {
        let cases = generate(0x50_0b, 3000);
        let mut read = 0;
        for case in &cases {
            let Some(out) = soup_reading(case) else {
                continue;
            };
            read += 1;
            assert!(case.request.method.eq_ignore_ascii_case("DELETE"));
            let changed: Vec<usize> = (0..case.hops.len())
                .filter(|&i| case.hops[i] != out.hops[i])
                .collect();
            assert_eq!(changed.len(), 1, "#{}", case.id);
            let i = changed[0];
            let from = if i == 0 {
                case.start
            } else {
                case.hops[i - 1].actual.redirect.expect("a hop before").to
            };
            let r = case.hops[i].actual.redirect.expect("a redirect");
            assert_ne!(r.to, from, "#{}: not a cross-origin hop", case.id);
            assert_ne!(r.status, 303);
            assert_eq!(out.hops[i].actual.redirect.map(|r| r.status), Some(303));
        }
        assert!(read > 0, "the matrix has no cross-origin DELETE redirect");
    }
}
