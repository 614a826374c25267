//! `corsgate check`: drives the engine's browser model over real HTTP, records
//! every exchange, then adds what a browser does not say (root-cause hints, a
//! structured fix, a snippet for the likely server).

use std::time::Duration;

use corsgate_core::{Browser, Credentials, HeaderList, Outgoing, Profile, Request, Stage, Verdict};

use crate::cli::{parse_header, CheckArgs, ClientArgs};
use crate::fix;
use crate::hints::{self, Probe};
pub use crate::http::NetError;
use crate::http::{Client, WireRequest};
use crate::report::{Asked, CheckReport, Exchange, Fix, Reason, ServerKind};
use crate::snippets;
use corsgate_core::policy_reason::PolicyReason;
use corsgate_core::remedy::Remedy;

/// The `User-Agent` corsgate sends.
pub const USER_AGENT: &str = concat!("corsgate/", env!("CARGO_PKG_VERSION"), " (CORS check)");

/// The origin used by the probe request that spots origin-dependent answers.
pub const PROBE_ORIGIN: &str = "https://corsgate-probe.example";

/// Why a check could not be made: exit code 2.
#[derive(Debug)]
pub enum CheckError {
    /// Bad arguments.
    Usage(String),
    /// A network failure (not CORS).
    Net(NetError),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckError::Usage(m) => f.write_str(m),
            CheckError::Net(e) => write!(f, "{e} (a network error, not a CORS refusal)"),
        }
    }
}

impl CheckError {
    /// A stable code for `--json`.
    pub fn code(&self) -> &'static str {
        match self {
            CheckError::Usage(_) => "bad_arguments",
            CheckError::Net(e) => e.code(),
        }
    }
}

/// Builds the engine's request from the arguments.
pub fn build_request(args: &CheckArgs) -> Result<(Request, Asked), CheckError> {
    let mut builder = Request::builder(args.origin.clone(), args.url.clone())
        .method(args.method.clone())
        .credentials(args.credentials.into())
        .headers_form(args.headers_form);
    let mut shown = Vec::new();
    let mut content_type = false;
    for h in &args.headers {
        let (name, value) = parse_header(h).map_err(CheckError::Usage)?;
        content_type |= name.eq_ignore_ascii_case("content-type");
        shown.push(format!("{name}: {value}"));
        builder = builder.header(name, value);
    }
    if args.body.is_some() {
        let method = args.method.to_ascii_uppercase();
        if method == "GET" || method == "HEAD" {
            return Err(CheckError::Usage(format!(
                "fetch() refuses a body with {method} (TypeError): drop --body or use another --method"
            )));
        }
        if !content_type {
            // fetch() labels a string body itself.
            let value = "text/plain;charset=UTF-8";
            shown.push(format!("Content-Type: {value}"));
            builder = builder.header("Content-Type", value);
        }
    }
    let request = builder
        .build()
        .map_err(|e| CheckError::Usage(e.to_string()))?;
    match request.url().scheme() {
        "http" | "https" => {}
        other => {
            return Err(CheckError::Usage(format!(
                "'{}' is a {other}: URL; corsgate check requests http and https URLs",
                args.url
            )))
        }
    }
    let profile = args.client.profile();
    let credentials: Credentials = args.credentials.into();
    let origin = request.origin().as_str().to_owned();
    let origin_argument = (args.origin != origin).then(|| args.origin.clone());
    let asked = Asked {
        origin,
        url: request.url().to_string(),
        method: request.method().to_owned(),
        headers: shown,
        credentials: credentials.name(),
        browser: profile.name(),
        origin_argument,
    };
    Ok((request, asked))
}

/// What goes on the wire for an engine request: the engine's header lines plus
/// those every browser request carries.
pub(crate) fn wire_request(
    out: &Outgoing,
    origin_for_referer: &str,
    body: Option<&[u8]>,
) -> WireRequest {
    let mut headers = out.headers.clone();
    if !headers.contains("accept") {
        headers.append("Accept", "*/*");
    }
    headers.append("User-Agent", USER_AGENT);
    headers.append("Sec-Fetch-Mode", "cors");
    headers.append("Sec-Fetch-Dest", "empty");
    if origin_for_referer != "null" {
        headers.append("Referer", format!("{origin_for_referer}/"));
    }
    let body = match (out.stage, out.method.as_str()) {
        (Stage::Preflight, _) | (_, "GET") | (_, "HEAD") => None,
        _ => body.map(<[u8]>::to_vec),
    };
    if let Some(b) = &body {
        headers.append("Content-Length", b.len().to_string());
    }
    WireRequest {
        method: out.method.clone(),
        url: out.url.clone(),
        headers,
        body,
    }
}

/// Sends what the browser model wants sent and records the exchange.
pub(crate) fn send(
    client: &Client,
    out: &Outgoing,
    wire: WireRequest,
) -> Result<(corsgate_core::Response, Exchange), NetError> {
    let response = client.send(&wire)?;
    let exchange = Exchange {
        stage: out.stage,
        method: out.method.clone(),
        url: out.url.clone(),
        request_headers: lines(&wire.headers),
        status: response.status,
        response_headers: lines(&response.headers),
        response: response.clone(),
    };
    Ok((response, exchange))
}

fn lines(h: &HeaderList) -> Vec<(String, String)> {
    h.iter()
        .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
        .collect()
}

impl ClientArgs {
    /// The browser modelled.
    pub fn profile(&self) -> Profile {
        self.browser.into()
    }

    /// How long to wait for each answer.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout)
    }

    /// The extra CA certificates of `--cacert` (none without it).
    pub fn roots(&self) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, CheckError> {
        match &self.cacert {
            Some(path) => load_pem(path),
            None => Ok(Vec::new()),
        }
    }
}

/// Reads the certificates of a PEM file.
fn load_pem(
    path: &std::path::Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, CheckError> {
    use rustls::pki_types::pem::PemObject;
    let bad =
        |e: &dyn std::fmt::Display| CheckError::Usage(format!("--cacert {}: {e}", path.display()));
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    if certs.is_empty() {
        return Err(bad(&"no certificate in the file"));
    }
    Ok(certs)
}

/// The `Cookie` line of `--cookie` arguments (`None` without any), refused
/// when a value could break the request head.
fn cookie_line(cookies: &[String]) -> Result<Option<String>, CheckError> {
    for c in cookies {
        if !c.contains('=') || c.bytes().any(|b| b.is_ascii_control() || b == b';') {
            return Err(CheckError::Usage(format!(
                "--cookie '{c}' must be one name=value pair, without ';' or control characters (repeat --cookie for several)"
            )));
        }
    }
    Ok((!cookies.is_empty()).then(|| cookies.join("; ")))
}

/// Whether a browser sends cookies with a request to `url`: with
/// `credentials: "include"` always, with `same-origin` only to the page's own
/// origin, with `omit` never.
fn sends_cookies(credentials: Credentials, page_origin: &str, url: &str) -> bool {
    match credentials {
        Credentials::Include => true,
        Credentials::Omit => false,
        Credentials::SameOrigin => {
            url::Url::parse(url).is_ok_and(|u| u.origin().ascii_serialization() == page_origin)
        }
    }
}

/// Runs `corsgate check`.
pub fn run(args: &CheckArgs) -> Result<CheckReport, CheckError> {
    let (request, asked) = build_request(args)?;
    let cookie = cookie_line(&args.cookies)?;
    let profile = args.client.profile();
    let client = Client::new(args.client.timeout(), args.client.roots()?)
        .map_err(|e| CheckError::Usage(format!("cannot start the HTTP client: {e}")))?;
    let body = args.body.as_deref().map(str::as_bytes);
    let mut exchanges = Vec::new();
    let mut browser = Browser::new(profile);
    let verdict = browser
        .run(request.clone(), |out| {
            let origin = out
                .headers
                .get_str("origin")
                .unwrap_or_else(|| asked.origin.clone());
            let mut wire = wire_request(out, &origin, body);
            if let Some(c) = &cookie {
                if out.stage == Stage::Actual
                    && sends_cookies(request.credentials(), &asked.origin, &out.url)
                {
                    wire.headers.append("Cookie", c.as_bytes());
                }
            }
            let (response, exchange) = send(&client, out, wire)?;
            exchanges.push(exchange);
            Ok(response)
        })
        .map_err(CheckError::Net)?;
    let probe = if args.no_probe {
        None
    } else {
        probe(&client, &exchanges, &asked.origin)
    };
    let page_origin = asked.origin.clone();
    let mut learn = |out: &Outgoing| -> Option<Exchange> {
        let origin = out
            .headers
            .get_str("origin")
            .unwrap_or_else(|| page_origin.clone());
        let mut wire = wire_request(out, &origin, body);
        if let Some(c) = &cookie {
            if out.stage == Stage::Actual
                && sends_cookies(request.credentials(), &page_origin, &out.url)
            {
                wire.headers.append("Cookie", c.as_bytes());
            }
        }
        if args.no_probe {
            // Nothing beyond what the browser sends.
            return None;
        }
        send(&client, out, wire).ok().map(|(_, e)| e)
    };
    Ok(report_learning(
        &request, asked, profile, verdict, exchanges, probe, &mut learn,
    ))
}

/// Re-sends the last safe request (the preflight, or a GET/HEAD) whose answer
/// names the page's origin, with another origin: does the answer depend on the
/// origin (then it needs `Vary: Origin`), does it echo any origin?
fn probe(client: &Client, exchanges: &[Exchange], origin: &str) -> Option<Probe> {
    let ex = exchanges.iter().rev().find(|e| {
        matches!(e.method.as_str(), "OPTIONS" | "GET" | "HEAD")
            && e.response
                .headers
                .get_str("access-control-allow-origin")
                .is_some_and(|v| v == origin)
    })?;
    let mut headers = HeaderList::new();
    for (n, v) in &ex.request_headers {
        if n.eq_ignore_ascii_case("origin") {
            headers.append(n.clone(), PROBE_ORIGIN);
        } else if n.eq_ignore_ascii_case("referer") {
            headers.append(n.clone(), format!("{PROBE_ORIGIN}/"));
        } else {
            headers.append(n.clone(), v.as_bytes());
        }
    }
    if !headers.contains("origin") {
        return None;
    }
    let wire = WireRequest {
        method: ex.method.clone(),
        url: ex.url.clone(),
        headers,
        body: None,
    };
    let response = client.send(&wire).ok()?;
    Some(Probe {
        stage: ex.stage,
        url: ex.url.clone(),
        origin: PROBE_ORIGIN.to_owned(),
        original: ex.response.clone(),
        response,
    })
}

/// Assembles the report from the verdict and the exchanges, learning no
/// answer beyond them (the in-memory tests' entry).
#[cfg(test)]
pub(crate) fn report(
    request: &Request,
    asked: Asked,
    profile: Profile,
    verdict: Verdict,
    exchanges: Vec<Exchange>,
    probe: Option<Probe>,
) -> CheckReport {
    report_learning(
        request,
        asked,
        profile,
        verdict,
        exchanges,
        probe,
        &mut |_| None,
    )
}

/// `report`, asking `learn` for the answers the fix plan needs beyond the
/// exchanges (see `fix::plan`).
pub(crate) fn report_learning(
    request: &Request,
    asked: Asked,
    profile: Profile,
    verdict: Verdict,
    exchanges: Vec<Exchange>,
    probe: Option<Probe>,
    learn: &mut dyn FnMut(&Outgoing) -> Option<Exchange>,
) -> CheckReport {
    let server = snippets::detect(exchanges.iter().map(|e| &e.response.headers));
    let mut hints = hints::find(request, &asked, &verdict, &exchanges, probe.as_ref());
    // The answer that refused, when corsgate's policy says why.
    let policy_reason = if verdict.allowed {
        None
    } else {
        exchanges
            .iter()
            .rev()
            .find_map(|e| PolicyReason::from_headers(&e.response.headers))
    };
    if policy_reason.is_some() {
        // The policy refused: no authentication layer ran before CORS.
        hints.retain(|h| h.code != "preflight_auth_before_cors");
    }
    let planned = if verdict.allowed {
        fix::Planned {
            fixes: Vec::new(),
            complete: true,
            unobserved: Vec::new(),
            learned: Vec::new(),
            alternatives: Vec::new(),
        }
    } else {
        fix::plan(request, profile, &exchanges, server, learn)
    };
    let fixes = planned.fixes;
    let fixes_complete = planned.complete;
    let fixes_partial = !planned.unobserved.is_empty();
    let reason = verdict
        .reason
        .as_ref()
        .map(|r| Reason::new(r, first_fix(&fixes, &r.remedy, server)));
    // A configuration for the `null` origin would allow every sandboxed page;
    // a policy that says its own edit needs no new one (which would drop the
    // origins, methods and headers it already allows).
    let snippet = match &reason {
        Some(_) if policy_reason.is_some() => None,
        Some(r) if r.is_cors && !r.fix.client_side() && asked_origin_is_real(request) => {
            Some(snippets::config(server, request, profile, &exchanges))
        }
        _ => None,
    };
    CheckReport {
        allowed: verdict.allowed,
        preflight: verdict.preflight,
        preflights: verdict.preflights,
        exposed_headers: verdict.exposed_headers.clone(),
        reason,
        policy_reason,
        steps: verdict.steps.clone(),
        hints,
        fixes,
        fixes_partial,
        fixes_complete,
        unobserved: planned.unobserved,
        learned: planned.learned,
        fix_alternatives: planned.alternatives,
        server,
        snippet,
        redirects: verdict.redirects,
        final_url: verdict.final_url.clone(),
        status: verdict.status,
        request: asked,
        exchanges,
    }
}

fn asked_origin_is_real(request: &Request) -> bool {
    !request.origin().as_str().eq_ignore_ascii_case("null")
}

/// The fix for the first refusal: the plan's first step (same remedy), or the
/// engine's own remedy when the plan is empty.
fn first_fix(fixes: &[Fix], remedy: &Remedy, server: ServerKind) -> Fix {
    match fixes.first() {
        Some(f) if f.remedy().as_ref() == Some(remedy) => f.clone(),
        _ => Fix::new(remedy.clone(), server, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(argv: &[&str]) -> CheckArgs {
        let mut full = vec!["corsgate", "check"];
        full.extend_from_slice(argv);
        match crate::Cli::try_parse_from(full).expect("parses").command {
            crate::Command::Check(a) => a,
            other => panic!("not check: {other:?}"),
        }
    }

    #[test]
    fn cookie_lines_join_pairs_and_refuse_what_would_break_the_head() {
        /// (the `--cookie` arguments, the line or a refusal)
        type Case<'a> = (&'a [&'a str], Result<Option<&'a str>, ()>);
        let cases: &[Case] = &[
            (&[], Ok(None)),
            (&["a=1"], Ok(Some("a=1"))),
            (&["a=1", "b=2"], Ok(Some("a=1; b=2"))),
            (&["empty="], Ok(Some("empty="))),
            (&["noequals"], Err(())),
            (&["a=1;b=2"], Err(())),
            (&["a=1\r\nX-Injected: 1"], Err(())),
            (&["a=\t1"], Err(())),
            (&["a=1", "bad"], Err(())),
        ];
        for (input, want) in cases {
            let input: Vec<String> = input.iter().map(|s| s.to_string()).collect();
            let got = cookie_line(&input);
            match want {
                Ok(line) => assert_eq!(got.unwrap().as_deref(), *line, "{input:?}"),
                Err(()) => {
                    let e = got.expect_err(&format!("{input:?} accepted"));
                    assert_eq!(e.code(), "bad_arguments");
                }
            }
        }
    }

    #[test]
    fn cookies_go_where_the_credentials_mode_lets_them() {
        let page = "https://app.example";
        let cases = [
            (Credentials::Include, "https://api.example/x", true),
            (Credentials::Include, "not a url", true),
            (Credentials::Omit, "https://app.example/x", false),
            (Credentials::SameOrigin, "https://app.example/x?y", true),
            (Credentials::SameOrigin, "https://APP.example:443/", true),
            (Credentials::SameOrigin, "https://app.example:8443/", false),
            (Credentials::SameOrigin, "http://app.example/", false),
            (Credentials::SameOrigin, "https://api.example/", false),
            (Credentials::SameOrigin, "not a url", false),
        ];
        for (mode, url, want) in cases {
            assert_eq!(sends_cookies(mode, page, url), want, "{mode:?} {url}");
        }
    }

    fn outgoing(stage: Stage, method: &str, headers: &[(&str, &str)]) -> Outgoing {
        let mut h = HeaderList::new();
        for (n, v) in headers {
            h.append(*n, *v);
        }
        Outgoing {
            stage,
            method: method.into(),
            url: "https://api.example/items".into(),
            headers: h,
        }
    }

    #[test]
    fn the_wire_request_adds_what_every_browser_request_carries() {
        struct Case {
            stage: Stage,
            method: &'static str,
            headers: &'static [(&'static str, &'static str)],
            origin: &'static str,
            body: Option<&'static [u8]>,
            // (Accept, Referer, Content-Length, body sent)
            want: (
                &'static str,
                Option<&'static str>,
                Option<&'static str>,
                bool,
            ),
        }
        let cases = [
            Case {
                stage: Stage::Preflight,
                method: "OPTIONS",
                headers: &[("Origin", "https://app.example")],
                origin: "https://app.example",
                body: Some(b"x"),
                want: ("*/*", Some("https://app.example/"), None, false),
            },
            Case {
                stage: Stage::Actual,
                method: "PUT",
                headers: &[("Accept", "application/json")],
                origin: "https://app.example",
                body: Some(b"hello"),
                want: (
                    "application/json",
                    Some("https://app.example/"),
                    Some("5"),
                    true,
                ),
            },
            Case {
                stage: Stage::Actual,
                method: "GET",
                headers: &[],
                origin: "https://app.example",
                body: Some(b"ignored"),
                want: ("*/*", Some("https://app.example/"), None, false),
            },
            Case {
                stage: Stage::Actual,
                method: "POST",
                headers: &[],
                origin: "null",
                body: None,
                want: ("*/*", None, None, false),
            },
        ];
        for c in cases {
            let w = wire_request(&outgoing(c.stage, c.method, c.headers), c.origin, c.body);
            let (accept, referer, length, sent) = c.want;
            let what = format!("{} {}", c.method, c.origin);
            assert_eq!(
                w.headers.get_str("accept").as_deref(),
                Some(accept),
                "{what}"
            );
            assert_eq!(w.headers.get_all("accept").count(), 1, "{what}");
            assert_eq!(w.headers.get_str("referer").as_deref(), referer, "{what}");
            assert_eq!(
                w.headers.get_str("content-length").as_deref(),
                length,
                "{what}"
            );
            assert_eq!(w.body.is_some(), sent, "{what}");
            assert_eq!(w.headers.get_str("user-agent").as_deref(), Some(USER_AGENT));
            assert_eq!(w.headers.get_str("sec-fetch-mode").as_deref(), Some("cors"));
            assert_eq!(
                (w.method.as_str(), w.url.as_str()),
                (c.method, "https://api.example/items")
            );
        }
    }

    #[test]
    fn requests_are_built_as_fetch_builds_them_or_refused_with_the_reason() {
        /// (argv, origin, headers shown, origin_argument)
        type Built<'a> = (&'a [&'a str], &'a str, &'a [&'a str], Option<&'a str>);
        let ok: &[Built] = &[
            // (argv, origin, headers shown, origin_argument)
            (
                &["https://api.example/x", "-o", "https://app.example"],
                "https://app.example",
                &[],
                None,
            ),
            (
                &["https://api.example/x", "-o", "https://app.example/page?q"],
                "https://app.example",
                &[],
                Some("https://app.example/page?q"),
            ),
            (
                &[
                    "https://api.example/x",
                    "-o",
                    "https://app.example",
                    "-X",
                    "POST",
                    "-d",
                    "hi",
                ],
                "https://app.example",
                &["Content-Type: text/plain;charset=UTF-8"],
                None,
            ),
            (
                &[
                    "https://api.example/x",
                    "-o",
                    "https://app.example",
                    "-X",
                    "POST",
                    "-d",
                    "{}",
                    "-H",
                    "content-type:  application/json ",
                ],
                "https://app.example",
                &["content-type: application/json"],
                None,
            ),
        ];
        for (argv, origin, shown, origin_argument) in ok {
            let (_, asked) = build_request(&args(argv)).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            assert_eq!(asked.origin, *origin, "{argv:?}");
            assert_eq!(asked.headers, *shown, "{argv:?}");
            assert_eq!(
                asked.origin_argument.as_deref(),
                *origin_argument,
                "{argv:?}"
            );
            assert_eq!(
                (asked.browser, asked.credentials),
                ("chromium", "same-origin")
            );
        }
        let refused: &[(&[&str], &str)] = &[
            (
                &[
                    "https://api.example/x",
                    "-o",
                    "https://app.example",
                    "-d",
                    "x",
                ],
                "refuses a body with GET",
            ),
            (
                &[
                    "https://api.example/x",
                    "-o",
                    "https://app.example",
                    "-X",
                    "head",
                    "-d",
                    "x",
                ],
                "HEAD",
            ),
            (
                &["ftp://api.example/x", "-o", "https://app.example"],
                "http and https",
            ),
            (
                &[
                    "https://api.example/x",
                    "-o",
                    "https://app.example",
                    "-H",
                    "nocolon",
                ],
                "no ':'",
            ),
            (&["not a url", "-o", "https://app.example"], ""),
        ];
        for (argv, says) in refused {
            let e = build_request(&args(argv)).expect_err(&format!("{argv:?} accepted"));
            assert_eq!(e.code(), "bad_arguments", "{argv:?}");
            assert!(e.to_string().contains(says), "{argv:?}: {e}");
        }
    }

    #[test]
    fn the_first_fix_is_the_plans_when_it_is_the_same_remedy() {
        let remedy = |sentence: &str| Remedy {
            side: corsgate_core::remedy::Side::Server,
            stage: Stage::Actual,
            url: "https://api.example/".into(),
            set_headers: vec![(
                "Access-Control-Allow-Origin".into(),
                "https://app.example".into(),
            )],
            vary: vec!["Origin".into()],
            remove_headers: Vec::new(),
            status: None,
            sentence: sentence.into(),
        };
        let planned = Fix::new(remedy("a"), ServerKind::Nginx, false);
        // The same remedy: the plan's fix (with its snippet).
        assert_eq!(
            first_fix(
                std::slice::from_ref(&planned),
                &remedy("a"),
                ServerKind::Nginx
            ),
            planned
        );
        // Another remedy, or no plan: the engine's own, for the same server.
        for plan in [vec![planned], Vec::new()] {
            let f = first_fix(&plan, &remedy("b"), ServerKind::Apache);
            assert_eq!(f.sentence, "b");
            assert_eq!(f.snippet.map(|s| s.server), Some(ServerKind::Apache));
        }
    }
}
