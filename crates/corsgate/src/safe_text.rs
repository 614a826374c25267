//! The one rule over every output format of the command: no text `check`
//! (human and `--json`), `har`, `explain` or the playground prints advises
//! allowing `null`, `*` with credentials, or reflecting an origin
//! (`corsgate_core::advice`). Two sources of cases: generated values of every
//! `Refusal` variant put straight into a report, and generated servers
//! (preflight and response answers, redirects) run through the browser model
//! as `check` runs them, recorded as a HAR too. `scan` (human, `--json`,
//! SARIF) and `corsgate test` outputs are held to it in [`endpoints`].

mod endpoints;
#[path = "../../corsgate-core/tests/support/refusals.rs"]
mod refusals;

use std::collections::BTreeSet;

use corsgate_core::advice::{unsafe_advice, unsafe_headers};
use corsgate_core::verdict::RefusalReport;
use corsgate_core::{
    Browser, Credentials, Mode, Outgoing, Profile, Request, Response, Stage, Verdict,
};

use crate::check;
use crate::cli::ColorChoice;
use crate::render::{self, Style};
use crate::report::Fix;
use crate::report::ServerKind;
use crate::report::{Asked, CheckReport, Exchange};

/// Fails with the place and the text when `text` gives unsafe advice.
fn assert_safe(format: &str, case: &str, text: &str) {
    if let Some(f) = unsafe_advice(text) {
        panic!("{format} for {case}: {f}\n--- full text ---\n{text}");
    }
}

/// Every string of a JSON document, and every `set_headers` list as header lines.
fn assert_safe_json(format: &str, case: &str, v: &serde_json::Value) {
    match v {
        serde_json::Value::String(s) => assert_safe(format, case, s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| assert_safe_json(format, case, x)),
        serde_json::Value::Object(o) => {
            if let Some(serde_json::Value::Array(lines)) = o.get("set_headers") {
                let pairs: Vec<(&str, &str)> = lines
                    .iter()
                    .filter_map(|p| Some((p.get(0)?.as_str()?, p.get(1)?.as_str()?)))
                    .collect();
                if let Some(k) = unsafe_headers(pairs.iter().copied()) {
                    panic!("{format} for {case}: a fix's headers {k}: {pairs:?}");
                }
            }
            o.values().for_each(|x| assert_safe_json(format, case, x));
        }
        _ => {}
    }
}

fn style() -> Style {
    Style::new(ColorChoice::Never)
}

fn asked(request: &Request) -> Asked {
    Asked {
        origin: request.origin().as_str().to_owned(),
        url: request.url().to_string(),
        method: request.method().to_owned(),
        headers: Vec::new(),
        credentials: request.credentials().name(),
        browser: "chromium",
        origin_argument: None,
    }
}

/// The human and `--json` output of `check` for one report.
fn assert_check_outputs(case: &str, report: &CheckReport) -> usize {
    assert_safe("check (human)", case, &render::check(report, &style()));
    let json = serde_json::to_value(report).expect("a report serializes");
    assert_safe_json("check --json", case, &json);
    2
}

#[test]
fn every_refusal_variant_in_check_outputs_and_fixes() {
    let all = refusals::all();
    let covered: BTreeSet<usize> = all.iter().map(refusals::variant).collect();
    assert_eq!(covered.len(), refusals::VARIANTS);
    // Per variant, the values with a `null` in them first, then others:
    // the engine's own test goes through every value; here every format.
    let mut picked: Vec<&corsgate_core::Refusal> = Vec::new();
    for v in 0..refusals::VARIANTS {
        let of: Vec<&corsgate_core::Refusal> =
            all.iter().filter(|r| refusals::variant(r) == v).collect();
        let (null, other): (Vec<_>, Vec<_>) = of
            .into_iter()
            .partition(|r| format!("{r:?}").contains("null"));
        picked.extend(null.iter().take(20));
        picked.extend(other.iter().step_by(3).take(20));
    }
    let mut outputs = 0;
    for r in picked {
        let case = format!("{r:?}");
        // The contexts a report is made in: the request's origin as the
        // refusal names it, `null`, and a real one.
        let own = format!("{r:?}");
        for ctx in refusals::contexts().into_iter().filter(|c| {
            c.method == "PUT"
                && (c.origin == "null"
                    || c.origin == "https://app.example"
                    || own.contains(&format!("origin: \"{}\"", c.origin)))
        }) {
            let report = RefusalReport::with_context(r, &ctx);
            for server in [
                ServerKind::Nginx,
                ServerKind::Apache,
                ServerKind::Express,
                ServerKind::Unknown,
            ] {
                {
                    let fix = Fix::new(report.remedy.clone(), server, false);
                    let mut lines = String::new();
                    render::remedy_lines(&mut lines, &fix, "  ", None);
                    assert_safe("fix lines", &case, &lines);
                    if let Some(s) = &fix.snippet {
                        assert_safe("fix snippet", &case, &s.text);
                    }
                    assert_safe_json(
                        "fix (json)",
                        &case,
                        &serde_json::to_value(&fix).expect("serializes"),
                    );
                    outputs += 3;
                }
            }
        }
        // A whole `check` report around the refusal, with its own fix plan.
        for (origin, credentials) in [
            ("https://app.example", Credentials::Include),
            ("null", Credentials::Include),
            ("https://app.example", Credentials::Omit),
        ] {
            {
                let Ok(request) = Request::builder(origin, "https://api.example/x")
                    .method("PUT")
                    .header("X-Token", "1")
                    .credentials(credentials)
                    .build()
                else {
                    continue;
                };
                let ctx = corsgate_core::remedy::RemedyContext {
                    url: "https://api.example/x".into(),
                    method: "PUT".into(),
                    unsafe_headers: vec!["x-token".into()],
                    origin: origin.into(),
                };
                let verdict = Verdict {
                    profile: Profile::Chromium,
                    allowed: false,
                    preflight: r.stage() == Stage::Preflight,
                    preflights: usize::from(r.stage() == Stage::Preflight),
                    redirects: 0,
                    final_url: "https://api.example/x".into(),
                    status: None,
                    exposed_headers: Vec::new(),
                    reason: Some(RefusalReport::with_context(r, &ctx)),
                    steps: Vec::new(),
                };
                let report = check::report(
                    &request,
                    asked(&request),
                    Profile::Chromium,
                    verdict,
                    Vec::new(),
                    None,
                );
                outputs += assert_check_outputs(&case, &report);
            }
        }
    }
    eprintln!("every refusal variant: {outputs} texts checked");
    assert!(outputs > 2_000, "{outputs}");
}

/// A generated server: the answers to the preflight and to the request.
#[derive(Debug, Clone)]
struct Server {
    preflight_status: u16,
    preflight_location: Option<&'static str>,
    preflight_acao: &'static [&'static str],
    preflight_acac: Option<&'static str>,
    acam: Option<&'static str>,
    acah: Option<&'static str>,
    status: u16,
    location: Option<&'static str>,
    acao: &'static [&'static str],
    acac: Option<&'static str>,
}

const ORIGIN: &str = "https://app.example";

const ACAO: &[&[&str]] = &[
    &[],
    &["*"],
    &["null"],
    &[ORIGIN],
    &["https://app.example/"],
    &["HTTPS://APP.EXAMPLE"],
    &["https://app.example:8443"],
    &["https://app.example?"],
    &["ftp://app.example"],
    &["https://a.example, https://b.example"],
    &[ORIGIN, ORIGIN],
    &["*", "null"],
    &["app.example"],
];

const LOCATIONS: &[Option<&str>] = &[
    None,
    Some("https://other.example/next"),
    Some("/x/"),
    Some("https://u:p@api.example/next"),
    Some("data:text/plain,x"),
    Some("http://[bad"),
    Some("loop"),
];

impl Server {
    fn answer(&self, out: &Outgoing) -> Response {
        let with = |mut r: Response, acao: &[&str], acac: Option<&str>| {
            for v in acao {
                r = r.header("Access-Control-Allow-Origin", *v);
            }
            if let Some(v) = acac {
                r = r.header("Access-Control-Allow-Credentials", v);
            }
            r
        };
        if out.stage == Stage::Preflight {
            let mut r = with(
                Response::new(self.preflight_status),
                self.preflight_acao,
                self.preflight_acac,
            );
            if let Some(l) = self.preflight_location {
                r = r.header("Location", l);
            }
            if let Some(v) = self.acam {
                r = r.header("Access-Control-Allow-Methods", v);
            }
            if let Some(v) = self.acah {
                r = r.header("Access-Control-Allow-Headers", v);
            }
            return r;
        }
        if out.url.starts_with("https://api.example/") && (300..400).contains(&self.status) {
            let mut r = with(Response::new(self.status), self.acao, self.acac);
            if let Some(l) = self.location {
                let l = if l == "loop" { out.url.as_str() } else { l };
                r = r.header("Location", l);
            }
            return r;
        }
        let status = if (300..400).contains(&self.status) {
            200
        } else {
            self.status
        };
        with(Response::new(status), self.acao, self.acac)
    }
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn index(&mut self, len: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % len as u64) as usize
    }

    fn pick<'a, T>(&mut self, from: &'a [T]) -> &'a T {
        &from[self.index(from.len())]
    }
}

struct Scenario {
    request: Request,
    server: Server,
}

fn scenarios(n: usize) -> Vec<Scenario> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::new();
    while out.len() < n {
        let i = out.len();
        let origin = *rng.pick(&[ORIGIN, ORIGIN, "null"]);
        let credentials = *rng.pick(&[Credentials::Omit, Credentials::Include]);
        let (method, header) =
            *rng.pick(&[("GET", None), ("PUT", Some("X-Token")), ("patch", None)]);
        let mode = *rng.pick(&[Mode::Cors, Mode::Cors, Mode::Cors, Mode::SameOrigin]);
        let url = format!("https://api.example/s{i}");
        let mut b = Request::builder(origin, url)
            .method(method)
            .credentials(credentials)
            .mode(mode);
        if let Some(h) = header {
            b = b.header(h, "1");
        }
        let Ok(request) = b.build() else { continue };
        let status = *rng.pick(&[200, 200, 500, 302, 307]);
        let server = Server {
            preflight_status: *rng.pick(&[204, 204, 200, 403, 302, 301, 304]),
            preflight_location: *rng.pick(LOCATIONS),
            preflight_acao: ACAO[rng.index(ACAO.len())],
            preflight_acac: *rng.pick(&[None, Some("true"), Some("TRUE")]),
            acam: *rng.pick(&[
                None,
                Some("PUT"),
                Some("PATCH"),
                Some("GET; POST"),
                Some("*"),
            ]),
            acah: *rng.pick(&[
                None,
                Some("x-token"),
                Some("*"),
                Some("a b"),
                Some("content-type"),
            ]),
            status,
            location: *rng.pick(LOCATIONS),
            acao: ACAO[rng.index(ACAO.len())],
            acac: *rng.pick(&[None, Some("true")]),
        };
        out.push(Scenario { request, server });
    }
    out
}

/// Runs a scenario as `check` does, without the network.
fn run(s: &Scenario) -> (Verdict, Vec<Exchange>) {
    let mut exchanges = Vec::new();
    let origin = s.request.origin().as_str().to_owned();
    let verdict = Browser::new(Profile::Chromium)
        .run(s.request.clone(), |out| {
            let wire = check::wire_request(out, &origin, None);
            let response = s.server.answer(out);
            exchanges.push(Exchange {
                stage: out.stage,
                method: out.method.clone(),
                url: out.url.clone(),
                request_headers: wire
                    .headers
                    .iter()
                    .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
                    .collect(),
                status: response.status,
                response_headers: response
                    .headers
                    .iter()
                    .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
                    .collect(),
                response: response.clone(),
            });
            Ok::<_, std::convert::Infallible>(response)
        })
        .unwrap_or_else(|never| match never {});
    (verdict, exchanges)
}

/// One HAR entry for an exchange, as a browser records it.
fn har_entry(e: &Exchange, blocked: bool) -> serde_json::Value {
    let nv = |h: &[(String, String)]| {
        h.iter()
            .map(|(n, v)| serde_json::json!({"name": n, "value": v}))
            .collect::<Vec<_>>()
    };
    serde_json::json!({
        "startedDateTime": "2026-12-03T00:00:00.000Z",
        "_resourceType": if e.stage == Stage::Preflight { "preflight" } else { "fetch" },
        "request": {"method": e.method, "url": e.url, "headers": nv(&e.request_headers)},
        "response": {
            "status": if blocked { 0 } else { e.status },
            "headers": nv(&e.response_headers),
        },
    })
}

#[test]
fn generated_servers_in_check_and_har_outputs() {
    let mut codes = BTreeSet::new();
    let mut entries = Vec::new();
    let mut outputs = 0;
    for s in scenarios(1500) {
        let (verdict, exchanges) = run(&s);
        let case = format!(
            "{:?} {} from {}: {:?}",
            s.request.method(),
            s.request.url(),
            s.request.origin().as_str(),
            s.server
        );
        if let Some(r) = verdict.refusal() {
            codes.insert(r.code());
        }
        for (i, e) in exchanges.iter().enumerate() {
            let last = i + 1 == exchanges.len();
            entries.push(har_entry(e, last && !verdict.allowed));
        }
        let report = check::report(
            &s.request,
            asked(&s.request),
            Profile::Chromium,
            verdict,
            exchanges,
            None,
        );
        outputs += assert_check_outputs(&case, &report);
    }
    for code in [
        "missing_allow_origin",
        "wildcard_origin_with_credentials",
        "multiple_allow_origin",
        "invalid_allow_origin",
        "allow_origin_mismatch",
        "invalid_allow_credentials",
        "preflight_status",
        "preflight_redirect",
        "invalid_allow_methods",
        "invalid_allow_headers",
        "method_not_allowed",
        "header_not_allowed",
        "redirect_contains_credentials",
        "redirect_not_http",
        "invalid_redirect_location",
        "too_many_redirects",
        "disallowed_by_mode",
    ] {
        assert!(
            codes.contains(code),
            "no generated server gave {code}: {codes:?}"
        );
    }
    let har = serde_json::json!({"log": {"creator": {"name": "test"}, "entries": entries}});
    let text = serde_json::to_vec(&har).expect("serializes");
    for profile in [Profile::Chromium, Profile::Firefox] {
        let report = crate::har::judge_reader(&text[..], profile, crate::har::Keep::All)
            .expect("a valid HAR");
        assert!(report.failed > 500, "{}", report.failed);
        assert_safe(
            "har (human)",
            "generated HAR",
            &crate::har::render(&report, &style(), true),
        );
        let grouped = crate::har::judge_reader(&text[..], profile, crate::har::Keep::Groups)
            .expect("a valid HAR");
        assert_eq!(grouped.failed, report.failed);
        assert_safe(
            "har (human, grouped)",
            "generated HAR",
            &crate::har::render(&grouped, &style(), false),
        );
        assert_safe_json(
            "har --json",
            "generated HAR",
            &serde_json::to_value(&report).expect("serializes"),
        );
        outputs += 2;
    }
    eprintln!("generated servers: {outputs} outputs checked, refusal codes {codes:?}");
    assert!(outputs > 2_500, "{outputs}");
}

/// Console messages of every family `explain` reads, with `{o}` the page's
/// origin, `{v}` a quoted value, `{m}` a method, `{h}` a header name.
const MESSAGES: &[&str] = &[
    // Chrome (cors_error_string.cc).
    "Access to fetch at 'https://api.example/x' from origin '{o}' has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present on the requested resource.",
    "Access to fetch at 'https://api.example/x' from origin '{o}' has been blocked by CORS policy: Response to preflight request doesn't pass access control check: No 'Access-Control-Allow-Origin' header is present on the requested resource.",
    "Access to fetch at 'https://other.example/y' (redirected from 'https://api.example/x') from origin '{o}' has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present on the requested resource.",
    "Access to fetch at 'https://other.example/y' (redirected from 'https://api.example/x') from origin '{o}' has been blocked by CORS policy: The 'Access-Control-Allow-Origin' header has a value '{v}' that is not equal to the supplied origin.",
    "Access to XMLHttpRequest at 'https://api.example/x' from origin '{o}' has been blocked by CORS policy: The value of the 'Access-Control-Allow-Origin' header in the response must not be the wildcard '*' when the request's credentials mode is 'include'.",
    "Access to XMLHttpRequest at 'https://api.example/x' from origin '{o}' has been blocked by CORS policy: Response to preflight request doesn't pass access control check: The value of the 'Access-Control-Allow-Origin' header in the response must not be the wildcard '*' when the request's credentials mode is 'include'. The credentials mode of requests initiated by the XMLHttpRequest is controlled by the withCredentials attribute.",
    "Access to fetch at 'https://api.example/x' from origin '{o}' has been blocked by CORS policy: The 'Access-Control-Allow-Origin' header contains multiple values '{v}, {v}', but only one is allowed.",
    "Access to fetch at 'https://api.example/x' from origin '{o}' has been blocked by CORS policy: The 'Access-Control-Allow-Origin' header contains the invalid value '{v}'.",
    "Access to fetch at 'https://api.example/x' from origin '{o}' has been blocked by CORS policy: The 'Access-Control-Allow-Origin' header has a value '{v}' that is not equal to the supplied origin.",
    "Access to fetch at 'https://api.example/x' from origin '{o}' has been blocked by CORS policy: The value of the 'Access-Control-Allow-Credentials' header in the response is '{v}' which must be 'true' when the request's credentials mode is 'include'.",
    "Access to fetch at 'https://api.example/x' from origin '{o}' has been blocked by CORS policy: Response to preflight request doesn't pass access control check: It does not have HTTP ok status.",
    "Access to fetch at 'https://api.example/x' from origin '{o}' has been blocked by CORS policy: Response to preflight request doesn't pass access control check: Redirect is not allowed for a preflight request.",
    "Access to fetch at 'https://api.example/x' from origin '{o}' has been blocked by CORS policy: Cannot parse Access-Control-Allow-Methods response header field in preflight response.",
    "Access to fetch at 'https://api.example/x' from origin '{o}' has been blocked by CORS policy: Cannot parse Access-Control-Allow-Headers response header field in preflight response.",
    "Access to fetch at 'https://api.example/x' from origin '{o}' has been blocked by CORS policy: Method {m} is not allowed by Access-Control-Allow-Methods in preflight response.",
    "Access to fetch at 'https://api.example/x' from origin '{o}' has been blocked by CORS policy: Request header field {h} is not allowed by Access-Control-Allow-Headers in preflight response.",
    "Access to fetch at 'https://api.example/x' from origin '{o}' has been blocked by CORS policy: Redirect location 'https://u:p@api.example/y' contains a username and password, which is disallowed for cross-origin requests.",
    "Access to fetch at 'file:///x' from origin '{o}' has been blocked by CORS policy: Cross origin requests are only supported for protocol schemes: http, data, isolated-app, chrome-extension, chrome, https, chrome-untrusted.",
    "Access to fetch at 'https://api.example/x' from origin '{o}' has been blocked by CORS policy: Cross origin requests are not allowed by request mode.",
    "Access to fetch at 'http://192.168.0.1/x' from origin '{o}' has been blocked by CORS policy: Permission was denied for this request to access the `local` address space.",
    // Firefox (security.properties).
    "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example/x. (Reason: CORS header 'Access-Control-Allow-Origin' missing). Status code: 403.",
    "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example/x. (Reason: CORS header 'Access-Control-Allow-Origin' does not match '{v}').",
    "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example/x. (Reason: Multiple CORS header 'Access-Control-Allow-Origin' not allowed).",
    "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example/x. (Reason: Credential is not supported if the CORS header 'Access-Control-Allow-Origin' is '*').",
    "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example/x. (Reason: expected 'true' in CORS header 'Access-Control-Allow-Credentials').",
    "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example/x. (Reason: Did not find method in CORS header 'Access-Control-Allow-Methods').",
    "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example/x. (Reason: header '{h}' is not allowed according to header 'Access-Control-Allow-Headers' from CORS preflight response).",
    "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example/x. (Reason: missing token '{h}' in CORS header 'Access-Control-Allow-Headers' from CORS preflight channel).",
    "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example/x. (Reason: invalid token '{v}' in CORS header 'Access-Control-Allow-Methods').",
    "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example/x. (Reason: invalid token '{v}' in CORS header 'Access-Control-Allow-Headers').",
    "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example/x. (Reason: CORS preflight response did not succeed). Status code: 401.",
    "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example/x. (Reason: CORS request external redirect not allowed).",
    "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at file:///x. (Reason: CORS request not HTTP).",
    "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example/x. (Reason: CORS request did not succeed). Status code: (null).",
    "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example/x. (Reason: CORS disabled).",
    "Cross-Origin Request Warning: The Same Origin Policy will disallow reading the remote resource at https://api.example/x soon. (Reason: When the `Access-Control-Allow-Headers` is `*`, the `Authorization` header is not covered. To include the `Authorization` header, it must be explicitly listed in CORS header `Access-Control-Allow-Headers`).",
    // Safari.
    "Origin {o} is not allowed by Access-Control-Allow-Origin. Status code: 200",
    "Fetch API cannot load https://api.example/x due to access control checks.",
    "Preflight response is not successful. Status code: 403",
    "Cannot use wildcard in Access-Control-Allow-Origin when credentials flag is true.",
    "Access-Control-Allow-Origin cannot contain more than one origin.",
    "Credentials flag is true, but Access-Control-Allow-Credentials is not \"true\".",
    "Method {m} is not allowed by Access-Control-Allow-Methods.",
    "Request header field {h} is not allowed by Access-Control-Allow-Headers.",
    "Header Access-Control-Allow-Methods has an invalid value: {v}",
    "Header Access-Control-Allow-Headers has an invalid value: {v}",
    "Cross-origin redirection to https://other.example/y denied by Cross-Origin Resource Sharing policy: Origin {o} is not allowed by Access-Control-Allow-Origin. Status code: 302",
    "Cross-origin redirection to https://u:p@other.example/y denied by Cross-Origin Resource Sharing policy: redirection URL https://u:p@other.example/y has credentials",
    "Fetch API cannot load https://api.example/x.",
    "Unsafe attempt to load URL https://api.example/x from origin {o}. Domains, protocols and ports must match.",
    // Chrome and Safari alike.
    "Refused to set unsafe header \"{h}\"",
    "Fetch API cannot load https://api.example/x. Request mode is \"same-origin\" but the URL's origin is not same as the request origin {o}.",
];

#[test]
fn every_explain_message_family() {
    let mut explained = 0;
    for template in MESSAGES {
        for o in [ORIGIN, "null", "http://localhost:3000"] {
            for v in ["*", "null", "https://app.example/", "", "GET; POST"] {
                for (m, h) in [("PATCH", "x-token"), ("patch", "authorization")] {
                    let msg = template
                        .replace("{o}", o)
                        .replace("{v}", v)
                        .replace("{m}", m)
                        .replace("{h}", h);
                    for given in [None, Some(o)] {
                        let Some(e) = crate::explain::explain(&msg, given) else {
                            continue;
                        };
                        assert_safe(
                            "explain (human)",
                            &msg,
                            &crate::explain::render(&e, &style()),
                        );
                        assert_safe_json(
                            "explain --json",
                            &msg,
                            &serde_json::to_value(&e).expect("serializes"),
                        );
                        explained += 1;
                    }
                }
            }
        }
    }
    // Every family is read (the Firefox network error and others have no fix, but a text).
    eprintln!(
        "explain: {explained} explanations of {} message families",
        MESSAGES.len()
    );
    assert!(explained >= MESSAGES.len() * 30, "{explained}");
}

#[test]
fn playground_evaluations() {
    use corsgate_playground::evaluate::{evaluate, EvalRequest};
    let policies = [
        "origins = [\"http://127.0.0.1:8080\"]\nmethods = [\"PUT\"]\nrequest_headers = [\"content-type\"]\ncredentials = true\n",
        "origins = [\"*\"]\n",
        "origins = [\"https://*.example\"]\nrequest_headers = [\"*\"]\n",
        "origins = [\"null\"]\ncredentials = true\n",
        "origins = [\"*\"]\ncredentials = true\n",
    ];
    let mut n = 0;
    for policy in policies {
        for origin in [
            "http://127.0.0.1:8080",
            "null",
            "https://evil.example",
            "https://a.example",
        ] {
            for (method, headers) in [
                ("GET", vec![]),
                (
                    "PUT",
                    vec![("Content-Type".to_owned(), "application/json".to_owned())],
                ),
                ("patch", vec![("X-Token".to_owned(), "1".to_owned())]),
            ] {
                for credentials in ["omit", "include"] {
                    let req = EvalRequest {
                        policy: policy.into(),
                        origin: origin.into(),
                        method: method.into(),
                        path: "/api/items".into(),
                        headers: headers.clone(),
                        credentials: credentials.into(),
                        browser: None,
                    };
                    let out = evaluate(&req, "http://127.0.0.1:9090");
                    let case = format!("{policy} / {origin} {method} {credentials}");
                    assert_safe_json(
                        "playground",
                        &case,
                        &serde_json::to_value(&out).expect("serializes"),
                    );
                    n += 1;
                }
            }
        }
    }
    assert_eq!(n, 5 * 4 * 3 * 2);
}
