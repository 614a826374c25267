use std::sync::Arc;
use corsgate_conformance::case::*;
use corsgate_conformance::judge::{Engine, Judge};
use corsgate_conformance::run::{run_chromium, Options};
use corsgate_conformance::server::Servers;
use corsgate_core::{Credentials, Profile};

fn hop(redirect: Option<(u16, Dest, bool)>, max_age: Option<&str>) -> Hop {
    Hop {
        preflight: PreflightSpec { status: 204, acao: Acao::Echo, acac: Acac::True, acam: vec!["GET, PUT, PATCH, M-SEARCH, OPTIONS".into()], acah: vec!["x-a, if-none-match, if-modified-since, if-match, if-range, if-unmodified-since, cache-control, pragma".into()], max_age: max_age.map(Into::into) },
        actual: ActualSpec { status: 200, acao: Acao::Echo, acac: Acac::True, aceh: vec![], extra: vec![], redirect: redirect.map(|(status, to, userinfo)| Redirect { status, to, userinfo }) },
    }
}

#[test]
#[ignore]
fn probe() {
    type R = (&'static str, Vec<(&'static str, &'static str)>, Credentials, Dest, Vec<Hop>, bool);
    let inc = Credentials::Include;
    let so = Credentials::SameOrigin;
    let reqs: Vec<R> = vec![
        ("M-SEARCH", vec![("X-A", "1")], so, Dest::Target, vec![hop(Some((307, Dest::Target, false)), None), hop(None, None)], true),
        ("M-SEARCH", vec![("X-A", "1")], so, Dest::Target, vec![hop(Some((307, Dest::Page, false)), None), hop(None, None)], true),
        ("M-SEARCH", vec![("X-A", "1")], so, Dest::Page, vec![hop(Some((307, Dest::Target, false)), None), hop(None, None)], true),
        ("M-SEARCH", vec![("X-A", "1")], so, Dest::Target, vec![hop(Some((307, Dest::Other, false)), None), hop(None, None)], true),
        ("GET", vec![], so, Dest::Target, vec![hop(Some((302, Dest::Target, true)), None), hop(None, None)], false),
        ("GET", vec![], so, Dest::Target, vec![hop(Some((302, Dest::Page, true)), None), hop(None, None)], false),
        ("GET", vec![], so, Dest::Page, vec![hop(Some((302, Dest::Target, true)), None), hop(None, None)], false),
        ("GET", vec![], so, Dest::Page, vec![hop(Some((302, Dest::Page, false)), None), hop(Some((302, Dest::Page, true)), None), hop(None, None)], false),
    ];
    let cases: Vec<Case> = reqs.into_iter().enumerate().map(|(i, (m, h, c, start, hops, repeat))| Case {
        id: i as u32,
        request: RequestSpec { method: m.into(), headers: h.into_iter().map(|(a, b)| (a.into(), b.into())).collect(), credentials: c },
        start, hops, repeat,
    }).collect();
    let cases = Arc::new(cases);
    let servers = Servers::start(cases.clone()).unwrap();
    let run = run_chromium(&servers, &cases, &Options::default()).unwrap();
    for c in cases.iter() {
        for api in [Api::Fetch, Api::Xhr] {
            let e = Engine(Profile::Chromium).judge(servers.site(), c, api).unwrap();
            let o = &run.observed[&(c.id, api)];
            println!("{c}\n  {}: chromium {}{}\n  {}: engine   {}", api.name(), o, run.errors.get(&(c.id, api)).map(|e| format!(" ({e})")).unwrap_or_default(), api.name(), e);
        }
    }
}
