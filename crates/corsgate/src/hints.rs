//! Root-cause hints: what a browser does not say. It reports only the first
//! failed check; these name the usual causes behind it (an auth layer or a
//! router before CORS, a redirect on the preflight, a header added twice, an
//! answer that depends on the origin without `Vary: Origin`, a mixed-up
//! scheme, port or host) and the warnings worth knowing even when allowed.

use corsgate_core::{Origin, Refusal, Request, Response, Stage, Verdict};
use url::Url;

use crate::report::{Asked, Exchange, Hint};

/// The answer to the same request with another origin.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    /// Which request was repeated.
    pub stage: Stage,
    /// Its URL.
    pub url: String,
    /// The other origin.
    pub origin: String,
    /// The answer to the original origin.
    pub original: Response,
    /// The answer to the other origin.
    pub response: Response,
}

fn hint(code: &'static str, message: impl Into<String>) -> Hint {
    Hint {
        code,
        message: message.into(),
    }
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Preflight => "preflight response",
        Stage::Actual => "response",
        Stage::Redirect => "redirect response",
    }
}

/// Headers browsers handle themselves; not worth telling script cannot read them.
const UNINTERESTING: &[&str] = &[
    "date",
    "server",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-encoding",
    "vary",
    "set-cookie",
    "x-powered-by",
    "alt-svc",
    "strict-transport-security",
    "etag",
    "accept-ranges",
    "age",
];

/// Finds the hints for one check.
pub(crate) fn find(
    request: &Request,
    asked: &Asked,
    verdict: &Verdict,
    exchanges: &[Exchange],
    probe: Option<&Probe>,
) -> Vec<Hint> {
    let mut out = Vec::new();
    let origin = asked.origin.as_str();
    if let Some(arg) = &asked.origin_argument {
        out.push(hint(
            "origin_argument_normalized",
            format!("--origin '{arg}' was read as the origin '{origin}': a browser's Origin header never has a path or a trailing slash"),
        ));
    }
    preflight_hints(&mut out, exchanges);
    duplicate_hints(&mut out, exchanges);
    if let Some(r) = verdict.refusal() {
        refusal_hints(&mut out, r, exchanges);
    }
    redirect_hints(&mut out, request, exchanges);
    vary_hints(&mut out, origin, exchanges, probe);
    if verdict.allowed {
        if let Some(last) = exchanges.last() {
            let hidden: Vec<String> = last
                .response
                .headers
                .unique_names()
                .into_iter()
                .filter(|n| {
                    !verdict.exposed_headers.contains(n)
                        && !n.starts_with("access-control-")
                        && !UNINTERESTING.contains(&n.as_str())
                })
                .collect();
            if !hidden.is_empty() && request.is_cross_origin() {
                out.push(hint(
                    "headers_not_exposed",
                    format!(
                        "script cannot read these response headers: {}; if the page needs them, list them in `Access-Control-Expose-Headers`",
                        hidden.join(", ")
                    ),
                ));
            }
        }
    }
    out
}

fn preflight_hints(out: &mut Vec<Hint>, exchanges: &[Exchange]) {
    for e in exchanges.iter().filter(|e| e.stage == Stage::Preflight) {
        let has_acao = e.response.headers.contains("access-control-allow-origin");
        match e.status {
            401 | 403 => out.push(hint(
                "preflight_auth_before_cors",
                format!(
                    "the preflight was answered {}: an authentication or authorization layer runs before CORS. A preflight never carries cookies or an Authorization header, so it cannot pass an auth check: answer OPTIONS in the CORS layer before authentication{}",
                    e.status,
                    if has_acao { "" } else { " (the answer has no CORS headers at all, so CORS never ran)" }
                ),
            )),
            405 | 501 => out.push(hint(
                "preflight_method_not_routed",
                format!(
                    "the preflight was answered {}: the router or framework rejects OPTIONS for this path, so the CORS layer never sees it. Put the CORS layer in front of the router (or add an OPTIONS route)",
                    e.status
                ),
            )),
            404 => out.push(hint(
                "preflight_not_found",
                "the preflight was answered 404: no route matches OPTIONS for this path. Put the CORS layer in front of the router so it answers every OPTIONS preflight",
            )),
            300..=399
                if !e.response.is_redirect_status()
                    || e
                        .response
                        .headers
                        .get_str("location")
                        .is_none_or(|l| l.trim().is_empty()) =>
            {
                out.push(hint(
                "preflight_status_without_location",
                format!(
                    "the preflight was answered {} without a `Location`: that is no redirect, browsers take it as an ordinary answer whose status is not 2xx. Answer OPTIONS with 204 in the CORS layer, before whatever produced the {}",
                    e.status, e.status
                ),
            ))
            }
            300..=399 => {
                let location = e.response.headers.get_str("location");
                let why = location
                    .as_deref()
                    .map(|l| redirect_reason(&e.url, l))
                    .unwrap_or_default();
                out.push(hint(
                    "preflight_redirect",
                    format!(
                        "the preflight was answered with a redirect ({}{}): browsers never follow it{}. Make the page request the final URL directly",
                        e.status,
                        location.as_deref().map(|l| format!(" to {l}")).unwrap_or_default(),
                        why
                    ),
                ));
            }
            s if s >= 500 => out.push(hint(
                "preflight_server_error",
                format!("the preflight was answered {s}: the server failed on the OPTIONS request itself; look at its logs"),
            )),
            _ => {}
        }
    }
}

/// Why a redirect happened, when it is one of the usual ones.
fn redirect_reason(from: &str, location: &str) -> String {
    let (Ok(a), Ok(b)) = (
        Url::parse(from),
        Url::parse(from).and_then(|u| u.join(location)),
    ) else {
        return String::new();
    };
    if a.scheme() == "http" && b.scheme() == "https" && a.host_str() == b.host_str() {
        return " (http to https: request the https URL)".into();
    }
    if a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default() {
        let (pa, pb) = (a.path(), b.path());
        if pb == format!("{pa}/") {
            return " (a trailing slash was added: request the URL with the slash)".into();
        }
        if pa == format!("{pb}/") {
            return " (the trailing slash was removed: request the URL without the slash)".into();
        }
    }
    if let (Some(ha), Some(hb)) = (a.host_str(), b.host_str()) {
        if hb == format!("www.{ha}") || ha == format!("www.{hb}") {
            return format!(" (from {ha} to {hb}: request {hb} directly)");
        }
    }
    String::new()
}

fn duplicate_hints(out: &mut Vec<Hint>, exchanges: &[Exchange]) {
    for e in exchanges {
        for name in [
            "access-control-allow-origin",
            "access-control-allow-credentials",
        ] {
            let values: Vec<String> = e
                .response
                .headers
                .get_all(name)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect();
            if values.len() > 1 {
                let code = if name == "access-control-allow-origin" {
                    "allow_origin_twice"
                } else {
                    "duplicate_cors_header"
                };
                out.push(hint(
                    code,
                    format!(
                        "the {} to {} {} carries `{name}` {} times ({}): usually a reverse proxy (e.g. nginx `add_header`) and the application both add it. Keep it in exactly one place",
                        stage_name(e.stage),
                        e.method,
                        e.url,
                        values.len(),
                        values.iter().map(|v| format!("'{v}'")).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
    }
}

fn refusal_hints(out: &mut Vec<Hint>, refusal: &Refusal, exchanges: &[Exchange]) {
    match refusal {
        Refusal::AllowOriginMismatch { value, origin, .. }
        | Refusal::InvalidAllowOrigin { value, origin, .. } => {
            if let Some(why) = mixup(value, origin) {
                out.push(hint(
                    "origin_mixup",
                    format!(
                        "the server allows '{value}' but the page's origin is '{origin}': {why}"
                    ),
                ));
            }
        }
        Refusal::MissingAllowOrigin {
            stage: Stage::Actual,
            status,
            ..
        } => {
            let preflight_ok = exchanges.iter().any(|e| {
                e.stage == Stage::Preflight
                    && e.response.headers.contains("access-control-allow-origin")
            });
            if *status >= 400 {
                out.push(hint(
                    "error_response_without_cors",
                    format!(
                        "the response is an error ({status}) without CORS headers: the error path does not add them, so the browser hides the real error from the page. Fix what causes the {status}, and add the CORS headers to error responses too"
                    ),
                ));
            } else if preflight_ok {
                out.push(hint(
                    "cors_only_on_preflight",
                    "the preflight carried CORS headers but the response itself does not: CORS is configured for OPTIONS only; add `Access-Control-Allow-Origin` to the actual responses too",
                ));
            }
        }
        _ => {}
    }
}

fn redirect_hints(out: &mut Vec<Hint>, request: &Request, exchanges: &[Exchange]) {
    let page = request.origin();
    for pair in exchanges.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.stage != Stage::Actual || !(300..400).contains(&a.status) {
            continue;
        }
        let from = Url::parse(&a.url).ok().map(|u| Origin::from_url(&u));
        let to = Url::parse(&b.url).ok().map(|u| Origin::from_url(&u));
        if let (Some(from), Some(to)) = (from, to) {
            if !from.same_origin(&to) && !page.same_origin(&from) {
                out.push(hint(
                    "cross_origin_redirect",
                    format!(
                        "{} redirected to another origin ({}): from there on the browser sends `Origin: null`, which a server should not allow. Have the page request {} directly",
                        a.url, to.as_str(), b.url
                    ),
                ));
            }
        }
    }
}

fn acao(r: &Response) -> Option<String> {
    r.headers.get_str("access-control-allow-origin")
}

fn has_vary_origin(r: &Response) -> bool {
    r.headers.get_all("vary").any(|v| {
        String::from_utf8_lossy(v)
            .split(',')
            .any(|i| i.trim().eq_ignore_ascii_case("origin") || i.trim() == "*")
    })
}

fn vary_hints(out: &mut Vec<Hint>, origin: &str, exchanges: &[Exchange], probe: Option<&Probe>) {
    if let Some(p) = probe {
        let (a, b) = (acao(&p.original), acao(&p.response));
        if b.as_deref() == Some(p.origin.as_str()) {
            let creds = p
                .response
                .headers
                .get_str("access-control-allow-credentials")
                .is_some_and(|v| v == "true");
            out.push(hint(
                "reflects_any_origin",
                if creds {
                    format!(
                        "the server also allowed the unrelated origin {} with credentials: it echoes any Origin back, so any web site can read this user's data. Allow a fixed list of origins instead",
                        p.origin
                    )
                } else {
                    format!(
                        "the server also allowed the unrelated origin {}: it echoes any Origin back, which is like `*` (fine for public data, but never combine it with credentials)",
                        p.origin
                    )
                },
            ));
        }
        if a != b && !(has_vary_origin(&p.original) && has_vary_origin(&p.response)) {
            out.push(hint(
                "vary_origin_missing",
                format!(
                    "the {} for {} depends on the Origin (for {origin}: {}; for {}: {}) but does not say `Vary: Origin`: a shared cache or the browser's cache can serve one origin's answer to another, which fails at random. Add `Vary: Origin` to every response whose CORS headers depend on the origin",
                    stage_name(p.stage),
                    p.url,
                    a.as_deref().map_or("no Access-Control-Allow-Origin".into(), |v| format!("'{v}'")),
                    p.origin,
                    b.as_deref().map_or("no Access-Control-Allow-Origin".into(), |v| format!("'{v}'")),
                ),
            ));
        }
        return;
    }
    // No probe: only say it when the answer names the origin and has no Vary.
    if let Some(e) = exchanges
        .iter()
        .find(|e| acao(&e.response).as_deref() == Some(origin) && !has_vary_origin(&e.response))
    {
        out.push(hint(
            "vary_origin_maybe_missing",
            format!(
                "the {} names the origin in `Access-Control-Allow-Origin` without `Vary: Origin`; if the server chooses that value per request, add `Vary: Origin` so caches do not serve it to other origins",
                stage_name(e.stage)
            ),
        ));
    }
}

/// Says how an allowed origin and the page's origin were probably mixed up
/// (the engine's [`corsgate_core::refusal::near_miss`]).
pub(crate) fn mixup(value: &str, origin: &str) -> Option<String> {
    corsgate_core::refusal::near_miss(value, origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_origin_is_found_in_any_line_and_list() {
        let cases: &[(&[&str], bool)] = &[
            (&[], false),
            (&["Origin"], true),
            (&["origin"], true),
            (&["Accept-Encoding, Origin"], true),
            (&["Accept-Encoding", " ORIGIN "], true),
            (&["*"], true),
            (&["Origins"], false),
            (&["Accept-Encoding"], false),
            (&["X-Origin"], false),
        ];
        for (lines, want) in cases {
            let mut r = Response::new(200);
            for l in *lines {
                r = r.header("Vary", *l);
            }
            assert_eq!(has_vary_origin(&r), *want, "{lines:?}");
        }
    }

    #[test]
    fn every_stage_has_a_name_for_people() {
        let names = [Stage::Preflight, Stage::Actual, Stage::Redirect].map(stage_name);
        assert_eq!(
            names,
            ["preflight response", "response", "redirect response"]
        );
    }

    #[test]
    fn mixups() {
        let o = "http://localhost:3000";
        assert!(mixup("http://localhost:3000/", o)
            .unwrap()
            .contains("trailing slash"));
        assert!(mixup("http://127.0.0.1:3000", o)
            .unwrap()
            .contains("different origins"));
        assert!(mixup("http://localhost:8080", o).unwrap().contains("port"));
        assert!(mixup("https://localhost:3000", o)
            .unwrap()
            .contains("scheme"));
        assert!(mixup("https://www.app.example", "https://app.example")
            .unwrap()
            .contains("www.app.example"));
        assert_eq!(mixup("https://other.example", o), None);
    }

    /// What a near-miss hint must say, and the words only that class may use.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Class {
        Slash,
        Case,
        Query,
        Fragment,
        Path,
        WebScheme,
        OtherScheme,
        Port,
        Loopback,
        Www,
        Unrelated,
    }

    const CLAIMS: &[(Class, &str)] = &[
        (Class::Slash, "trailing slash"),
        (Class::Case, "only in case"),
        (Class::Query, "a query"),
        (Class::Fragment, "a fragment"),
        (Class::Path, "a path"),
        (Class::WebScheme, "http and https"),
        (Class::OtherScheme, "the scheme is part of the origin"),
        (Class::Port, "the port differs"),
        (Class::Loopback, "reach this machine"),
        (Class::Www, "www."),
    ];

    /// Values derived from an origin, with the class each belongs to.
    fn variants(origin: &str) -> Vec<(String, Class)> {
        let u = Url::parse(origin).unwrap();
        let host = u.host_str().unwrap().to_owned();
        let port = u.port();
        let scheme = u.scheme().to_owned();
        let with = |scheme: &str, host: &str, port: Option<u16>| match port {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        };
        let mut out = vec![
            (format!("{origin}/"), Class::Slash),
            (format!("{origin}//"), Class::Slash),
            (format!("{origin}?"), Class::Query),
            (format!("{origin}?x=1"), Class::Query),
            (format!("{origin}#"), Class::Fragment),
            (format!("{origin}#top"), Class::Fragment),
            (format!("{origin}/w"), Class::Path),
            (format!("{origin}/api/"), Class::Path),
            (origin.to_ascii_uppercase(), Class::Case),
            (with(&scheme, "unrelated.example", port), Class::Unrelated),
        ];
        for other in ["http", "https"] {
            if other != scheme {
                out.push((with(other, &host, port), Class::WebScheme));
            }
        }
        for other in ["ftp", "ws", "wss", "file"] {
            out.push((with(other, &host, port), Class::OtherScheme));
        }
        for p in [1u16, 8080, 8443, 3001] {
            if Some(p) != u.port_or_known_default() {
                out.push((with(&scheme, &host, Some(p)), Class::Port));
            }
        }
        let loopback = ["localhost", "127.0.0.1", "[::1]"];
        if loopback.contains(&host.as_str()) {
            for l in loopback.iter().filter(|l| **l != host) {
                out.push((with(&scheme, l, port), Class::Loopback));
            }
        } else {
            out.push((with(&scheme, &format!("www.{host}"), port), Class::Www));
        }
        out
    }

    #[test]
    fn near_miss_hints_name_only_what_differs() {
        let origins = [
            "https://app.example",
            "http://localhost:3000",
            "https://app.example:8443",
            "http://127.0.0.1:8080",
            "http://[::1]:5173",
            "https://www.app.example",
        ];
        let mut n = 0;
        for origin in origins {
            for (value, class) in variants(origin) {
                let hint = mixup(&value, origin);
                let refusal = corsgate_core::Refusal::AllowOriginMismatch {
                    stage: Stage::Actual,
                    value: value.clone(),
                    origin: origin.to_owned(),
                };
                let message = refusal.to_string();
                if class == Class::Unrelated {
                    assert_eq!(hint, None, "{value} vs {origin}");
                    continue;
                }
                let hint = hint.unwrap_or_else(|| panic!("no hint for {value} vs {origin}"));
                assert!(message.contains(&hint), "{message}");
                for (c, words) in CLAIMS {
                    let says = hint.contains(words);
                    if *c == class {
                        assert!(says, "{value} vs {origin} ({class:?}): '{hint}'");
                    } else {
                        assert!(
                            !says,
                            "{value} vs {origin} ({class:?}) claims {c:?}: '{hint}'"
                        );
                    }
                }
                n += 1;
            }
        }
        assert!(n > 90, "{n}");
    }

    #[test]
    fn redirect_reasons() {
        assert!(redirect_reason("http://a.example/x", "https://a.example/x").contains("https"));
        assert!(redirect_reason("http://a.example/x", "/x/").contains("trailing slash"));
        assert!(redirect_reason("https://a.example/x", "https://www.a.example/x").contains("www"));
    }
}
