//! `corsgate test`: contract tests of a deployed endpoint against a policy
//! file, for allowed and refused requests alike.
//!
//! The cases come from the policy (see `cases`). Each one runs twice through
//! the engine's browser model: once against the policy itself, the server
//! role answering as corsgate would (`Policy::decide`), which gives the
//! expected verdict; once against the live endpoint over HTTP. A case passes
//! when
//!
//! * the browser reaches the same verdict both times (readable or refused);
//! * where it is readable, every response header the policy exposes and the
//!   endpoint sent is readable by script;
//! * an answer that depends on the request's origin says so with
//!   `Vary: Origin`, so that a shared cache never hands one origin's answer
//!   to another;
//! * the endpoint allows no more than the policy: every origin of the
//!   hostile catalogue is refused, and no answer lists a method, a request
//!   header or an exposed header the policy does not, allows credentials the
//!   policy does not, or lets a preflight be cached longer than the policy
//!   does (each difference is named: "the endpoint allows DELETE, the policy
//!   does not").
//!
//! Only the requests a browser would send go out: preflights and the actual
//! request, with the method of the case (GET for most). A state-changing
//! method (anything but GET, HEAD and OPTIONS) is checked by its preflight
//! alone, never sent, unless `--send-unsafe` is given. An origin no browser
//! sends (upper case, `%0b`) goes out in a plain GET, judged by whether the
//! answer echoes it.

mod cases;
mod junit;
mod render;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use clap::Args;
use corsgate_core::hostile::Catalogue;
use corsgate_core::origin_set::AllowedOrigin;
use corsgate_core::{
    Browser, Credentials, HeaderList, Outgoing, Policy, Profile, Request, Response, Stage, Verdict,
};
use serde::Serialize;

use crate::check::{send, wire_request};
use crate::cli::{parse_header, ClientArgs};
use crate::http::Client;
use crate::report::{Exchange, Fix};

pub use cases::{CaseKind, CaseSpec};
pub use junit::junit;
pub use render::render;

/// `corsgate test`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  corsgate test https://api.example.com/items --policy corsgate.toml\n\nExit codes: 0 every case as the policy says, 1 some case differs (or could not be sent), 2 could not test (bad arguments or policy file, endpoint unreachable)."
)]
pub struct TestArgs {
    /// The endpoint to test (http or https).
    pub url: String,
    /// The policy file the endpoint should implement (TOML; see docs/server-role.md).
    #[arg(
        long,
        short = 'p',
        value_name = "FILE",
        required_unless_present = "config",
        conflicts_with = "config"
    )]
    pub policy: Option<PathBuf>,
    /// Or a `corsgate serve` configuration: the policy of the route that serves the URL
    /// (matched on its host and path, as the gateway does).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A header sent with every actual request, 'Name: value' (repeatable), e.g. a Cookie or
    /// an Authorization header for an endpoint that wants a signed-in user. Never sent with
    /// preflights (browsers never do).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// The browser modelled, the timeout and extra CA certificates.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Print one JSON object (schema `corsgate-test/2`) instead of the human report.
    #[arg(long)]
    pub json: bool,
    /// Also write the results as JUnit XML to this file, for CI.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also send the state-changing requests (PUT, DELETE, PATCH, ... with the
    /// -H headers) when their preflight passes. Without it they are checked by
    /// their preflight alone and never reach the endpoint.
    #[arg(long)]
    pub send_unsafe: bool,
}

/// Why `corsgate test` could not run.
#[derive(Debug)]
pub enum TestError {
    /// Bad arguments, an unreadable or invalid policy file.
    Usage(String),
    /// Not a single case reached the endpoint.
    Unreachable(String),
}

impl TestError {
    /// The code in JSON output.
    pub fn code(&self) -> &'static str {
        match self {
            TestError::Usage(_) => "usage",
            TestError::Unreachable(_) => "unreachable",
        }
    }
}

impl std::fmt::Display for TestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TestError::Usage(m) | TestError::Unreachable(m) => f.write_str(m),
        }
    }
}

/// A verdict, in short.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Whether script can read the answer.
    pub readable: bool,
    /// Preflights sent.
    pub preflights: usize,
    /// The final status, when readable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The refusal's code (`corsgate explain` and docs/refusals name them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<&'static str>,
    /// The refusal, for a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Outcome {
    fn of(v: &Verdict) -> Outcome {
        Outcome {
            readable: v.allowed,
            preflights: v.preflights,
            status: v.status,
            refusal: v.reason.as_ref().map(|r| r.code),
            message: v.reason.as_ref().map(|r| r.message.clone()),
        }
    }
}

/// A way the endpoint departs from the policy.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// `readable_but_refused`, `refused_but_allowed`, `looser_than_policy`,
    /// `not_exposed`, `no_vary_origin`, `not_sent`.
    pub code: &'static str,
    /// What happened.
    pub message: String,
    /// What to change ([`Fix`]: the browser's structured fix when the
    /// endpoint refused what the policy allows, else a sentence).
    pub fix: Fix,
}

/// One case and how it went.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The request.
    #[serde(flatten)]
    pub case: CaseSpec,
    /// What the policy says.
    pub expected: Outcome,
    /// What the endpoint made of it (none when nothing could be sent).
    pub actual: Option<Outcome>,
    /// Whether the endpoint behaved as the policy says.
    pub pass: bool,
    /// How it did not.
    pub problems: Vec<Problem>,
    /// Every request sent and its answer.
    pub exchanges: Vec<Exchange>,
}

/// Counts.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Cases run.
    pub cases: usize,
    /// Cases as the policy says.
    pub passed: usize,
    /// Cases that differ (or could not be sent).
    pub failed: usize,
}

/// The report of `corsgate test`.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    /// `corsgate-test/2`.
    pub schema: &'static str,
    /// The endpoint.
    pub url: String,
    /// The policy file.
    pub policy: String,
    /// The browser modelled.
    pub browser: &'static str,
    /// The cases, in the order they ran.
    pub cases: Vec<CaseResult>,
    /// Counts.
    pub summary: Summary,
}

impl TestReport {
    /// 0 when every case passed, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.summary.failed > 0)
    }
}

/// Reads and validates the policy: the policy file, or the policy of the
/// gateway route that serves `url`. Also says where it came from.
fn load_policy(
    args: &TestArgs,
    url: &url::Url,
) -> Result<(Policy, Vec<AllowedOrigin>, String), TestError> {
    let (policy, source) = match (&args.policy, &args.config) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| TestError::Usage(format!("cannot read {}: {e}", path.display())))?;
            let policy = Policy::from_toml(&text)
                .map_err(|e| TestError::Usage(format!("{}: {e}", path.display())))?;
            (policy, path.display().to_string())
        }
        (None, Some(path)) => route_policy(path, url)?,
        (None, None) => {
            return Err(TestError::Usage(
                "say which policy the endpoint should follow: --policy FILE or --config FILE"
                    .into(),
            ))
        }
    };
    let entries = policy
        .config()
        .origins
        .iter()
        .map(|o| AllowedOrigin::parse(o))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TestError::Usage(format!("{source}: {e}")))?;
    Ok((policy, entries, source))
}

/// The policy of the route of a gateway configuration that serves `url`.
fn route_policy(path: &std::path::Path, url: &url::Url) -> Result<(Policy, String), TestError> {
    let config = corsgate_gateway::GatewayConfig::from_file(path).map_err(|errors| {
        let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
        TestError::Usage(all.join("\n"))
    })?;
    // As `corsgate serve` routes: the host checked and canonical (lower
    // case, no trailing dot), the path normalised, and a path that a lenient
    // application would read as another route's refused.
    let host = corsgate_gateway::routing::host_name(url.host_str().unwrap_or_default());
    let refused = |why: &dyn std::fmt::Display| {
        TestError::Usage(format!(
            "the gateway of {} refuses {url} with 400: {why}",
            path.display()
        ))
    };
    let normal = corsgate_gateway::routing::normalise(url.path()).map_err(|why| refused(&why))?;
    let route = corsgate_gateway::routing::find_unambiguous(config.routes(), &host, &normal)
        .map_err(|why| refused(&why))?
        .ok_or_else(|| {
            TestError::Usage(format!(
                "no route of {} serves {url} (host {host}, path {normal})",
                path.display(),
            ))
        })?;
    let policy = route.policy().ok_or_else(|| {
        TestError::Usage(format!(
            "the route {} of {} has `cors = false`: there is no policy to test",
            route.path(),
            path.display()
        ))
    })?;
    Ok((
        policy.clone(),
        format!("{} (route {})", path.display(), route.path()),
    ))
}

/// The engine request of a case.
fn request(case: &CaseSpec, url: &str) -> Result<Request, String> {
    let mut b = Request::builder(case.origin.as_str(), url)
        .method(case.method.as_str())
        .credentials(if case.credentials {
            Credentials::Include
        } else {
            Credentials::Omit
        });
    for (n, v) in &case.headers {
        b = b.header(n.as_str(), v.as_bytes());
    }
    b.build().map_err(|e| e.to_string())
}

/// What corsgate answers, under `policy`, to what the browser sends, and
/// why when it refuses.
fn policy_answer(policy: &Policy, out: &Outgoing) -> (Response, Option<(&'static str, String)>) {
    let method = http::Method::from_bytes(out.method.as_bytes()).unwrap_or(http::Method::GET);
    let decision = policy.decide(&method, &out.headers.to_http().0);
    let status = match decision.action() {
        corsgate_core::decision::Action::Respond(s) => s.as_u16(),
        corsgate_core::decision::Action::PassOn => 200,
    };
    let answer = HeaderList::from_http(&decision.headers().to_header_map());
    let r = Response::with_headers(status, answer);
    let reason =
        (!decision.allowed()).then(|| (decision.reason().code(), decision.reason().to_string()));
    (r, reason)
}

/// What the policy says of a case: the browser model's verdict against the
/// policy itself, and that verdict in short. When the policy refused a step,
/// the short form carries the policy's own reason (`Reason`'s code and text:
/// what the policy does not allow), not the browser's (which would only
/// describe the missing header).
struct Expected {
    verdict: Verdict,
    outcome: Outcome,
}

fn expect(policy: &Policy, profile: Profile, req: &Request, withhold: bool) -> Expected {
    let mut browser = Browser::new(profile);
    let mut refused = None;
    let mut preflights = 0;
    let verdict = match browser.run(req.clone(), |out| {
        if withhold && out.stage == Stage::Actual {
            return Err(());
        }
        preflights += usize::from(out.stage == Stage::Preflight);
        let (response, reason) = policy_answer(policy, out);
        if reason.is_some() {
            refused = reason;
        }
        Ok(response)
    }) {
        Ok(v) => v,
        Err(()) => preflight_passed(profile, req, preflights),
    };
    let mut outcome = Outcome::of(&verdict);
    if let Some((code, why)) = refused.filter(|_| !verdict.allowed) {
        outcome.refusal = Some(code);
        outcome.message = Some(why);
    }
    Expected { verdict, outcome }
}

/// Runs `corsgate test`.
pub fn run(args: &TestArgs) -> Result<TestReport, TestError> {
    let url = url::Url::parse(&args.url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            TestError::Usage(format!(
                "'{}' is not an http(s) URL (write it as https://api.example.com/path)",
                args.url
            ))
        })?;
    let (policy, entries, source) = load_policy(args, &url)?;
    let extra = args
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(TestError::Usage)?;
    let profile = args.client.profile();
    let roots = args
        .client
        .roots()
        .map_err(|e| TestError::Usage(e.to_string()))?;
    let timeout = args.client.timeout();
    // Fail early on a client that cannot start (bad CA file contents...).
    Client::new(timeout, roots.clone())
        .map_err(|e| TestError::Usage(format!("cannot start the HTTP client: {e}")))?;

    let target = corsgate_core::Origin::from_url(&url);
    let mut catalogue = Catalogue::for_policy(&policy);
    catalogue.retain(|h| h.origin != target.as_str());
    let plan = cases::plan(policy.config(), &entries, &catalogue);
    // The cases are independent: WORKERS at a time, each worker with its own
    // client; the results keep the plan's order.
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<CaseResult>>> = Mutex::new(vec![None; plan.len()]);
    std::thread::scope(|scope| {
        for _ in 0..WORKERS.min(plan.len()) {
            scope.spawn(|| {
                let Ok(client) = Client::new(timeout, roots.clone()) else {
                    return;
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = plan.get(i) else { break };
                    let result = one_case(&client, args, &policy, profile, case, &url, &extra);
                    if let (Some(result), Ok(mut slots)) = (result, slots.lock()) {
                        slots[i] = Some(result);
                    }
                }
            });
        }
    });
    let mut results: Vec<CaseResult> = slots
        .into_inner()
        .map_err(|_| TestError::Usage("a test thread failed".into()))?
        .into_iter()
        .flatten()
        .collect();
    vary_pass(&mut results);
    looser_pass(&policy, &mut results);
    if !results.is_empty() && results.iter().all(|r| r.actual.is_none()) {
        let why = results
            .iter()
            .flat_map(|r| r.problems.first())
            .map(|p| p.message.clone())
            .next()
            .unwrap_or_default();
        return Err(TestError::Unreachable(format!(
            "no request reached {url}: {why}"
        )));
    }
    let passed = results.iter().filter(|r| r.pass).count();
    Ok(TestReport {
        schema: "corsgate-test/2",
        url: url.to_string(),
        policy: source,
        browser: profile.name(),
        summary: Summary {
            cases: results.len(),
            passed,
            failed: results.len() - passed,
        },
        cases: results,
    })
}

/// How many cases are in flight at once.
const WORKERS: usize = 4;

/// Runs one case of the plan; `None` for a case the engine cannot build
/// (script would throw): not a contract, rather than a failure nobody can fix.
fn one_case(
    client: &Client,
    args: &TestArgs,
    policy: &Policy,
    profile: Profile,
    case: &CaseSpec,
    url: &url::Url,
    extra: &[(String, String)],
) -> Option<CaseResult> {
    if matches!(case.kind, CaseKind::Hostile { raw: true, .. }) {
        return Some(run_raw(client, case.clone(), url.as_str(), extra));
    }
    let req = request(case, url.as_str()).ok()?;
    let withhold = !args.send_unsafe && state_changing(&case.method);
    let expected = expect(policy, profile, &req, withhold);
    Some(run_case(
        client,
        profile,
        policy,
        case.clone(),
        &req,
        expected,
        extra,
        withhold,
    ))
}

/// Whether a method changes state (anything but GET, HEAD and OPTIONS):
/// checked by preflight only unless `--send-unsafe`.
fn state_changing(method: &str) -> bool {
    !matches!(
        method.to_ascii_uppercase().as_str(),
        "GET" | "HEAD" | "OPTIONS"
    )
}

/// The verdict when the browser got past the preflight and the request
/// itself was withheld: the preflight let it through.
fn preflight_passed(profile: Profile, req: &Request, preflights: usize) -> Verdict {
    Verdict {
        profile,
        allowed: true,
        preflight: preflights > 0,
        preflights,
        redirects: 0,
        final_url: req.url().to_string(),
        status: None,
        exposed_headers: Vec::new(),
        reason: None,
        steps: Vec::new(),
    }
}

/// Why a request of a case was not answered.
enum Unsent {
    /// The network failed.
    Net(crate::http::NetError),
    /// A state-changing request withheld after its preflight passed.
    Withheld,
}

/// A hostile origin no browser sends: one plain GET with it, failed when
/// the answer echoes it (with `Access-Control-Allow-Credentials: true` too,
/// for a case with credentials).
fn run_raw(client: &Client, case: CaseSpec, url: &str, extra: &[(String, String)]) -> CaseResult {
    let mut headers = HeaderList::new();
    headers.append("Origin", case.origin.as_bytes());
    headers.append("Accept", "*/*");
    headers.append("User-Agent", crate::check::USER_AGENT);
    if case.credentials {
        for (n, v) in extra {
            headers.append(n.as_str(), v.as_bytes());
        }
    }
    let wire = crate::http::WireRequest {
        method: "GET".into(),
        url: url.to_owned(),
        headers,
        body: None,
    };
    let expected = Outcome {
        readable: false,
        preflights: 0,
        status: None,
        refusal: Some("origin_not_allowed"),
        message: Some("no browser sends this origin, and the policy allows no such origin".into()),
    };
    let lines = |h: &HeaderList| -> Vec<(String, String)> {
        h.iter()
            .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    };
    match client.send(&wire) {
        Err(e) => CaseResult {
            case,
            expected,
            actual: None,
            pass: false,
            problems: vec![Problem {
                code: "not_sent",
                message: format!("the request could not be completed: {e}"),
                fix: Fix::advice("check that the URL is right and the endpoint is up"),
            }],
            exchanges: Vec::new(),
        },
        Ok(response) => {
            let acao = response.headers.get_str("access-control-allow-origin");
            let acac = response.headers.get_str("access-control-allow-credentials");
            let echoed = acao.as_deref() == Some(case.origin.as_str())
                && (!case.credentials || acac.as_deref() == Some("true"));
            let exchange = Exchange {
                stage: Stage::Actual,
                method: "GET".into(),
                url: url.to_owned(),
                request_headers: lines(&wire.headers),
                status: response.status,
                response_headers: lines(&response.headers),
                response: response.clone(),
            };
            let mut problems = Vec::new();
            if echoed {
                let why = match &case.kind {
                    CaseKind::Hostile { class, why, .. } => format!(" ({class}: {why})"),
                    _ => String::new(),
                };
                problems.push(Problem {
                    code: "refused_but_allowed",
                    message: format!(
                        "the endpoint echoes the origin {} in Access-Control-Allow-Origin{}{why}; no browser sends it, but a check that lets it in is looser than the policy",
                        case.origin,
                        if case.credentials { " with credentials" } else { "" }
                    ),
                    fix: Fix::advice("compare the Origin header byte for byte with the policy's origins (exact entries, or a parsed scheme, host and port for patterns)"),
                });
            }
            CaseResult {
                case,
                expected,
                actual: Some(Outcome {
                    readable: echoed,
                    preflights: 0,
                    status: Some(response.status),
                    refusal: None,
                    message: None,
                }),
                pass: problems.is_empty(),
                problems,
                exchanges: vec![exchange],
            }
        }
    }
}

/// Sends one case to the endpoint and compares.
#[allow(clippy::too_many_arguments)]
fn run_case(
    client: &Client,
    profile: Profile,
    policy: &Policy,
    case: CaseSpec,
    req: &Request,
    expected: Expected,
    extra: &[(String, String)],
    withhold: bool,
) -> CaseResult {
    let mut exchanges = Vec::new();
    let mut browser = Browser::new(profile);
    let mut preflights = 0;
    let actual = browser.run(req.clone(), |out| {
        if withhold && out.stage == Stage::Actual {
            return Err(Unsent::Withheld);
        }
        preflights += usize::from(out.stage == Stage::Preflight);
        let origin = out
            .headers
            .get_str("origin")
            .unwrap_or_else(|| case.origin.clone());
        let mut wire = wire_request(out, &origin, None);
        if out.stage == Stage::Actual {
            for (n, v) in extra {
                wire.headers.append(n.as_str(), v.as_bytes());
            }
        }
        let (response, exchange) = send(client, out, wire).map_err(Unsent::Net)?;
        exchanges.push(exchange);
        Ok(response)
    });
    let actual = match actual {
        Ok(v) => v,
        Err(Unsent::Withheld) => preflight_passed(profile, req, preflights),
        Err(Unsent::Net(e)) => {
            return CaseResult {
                case,
                expected: expected.outcome,
                actual: None,
                pass: false,
                problems: vec![Problem {
                    code: "not_sent",
                    message: format!("the request could not be completed: {e}"),
                    fix: Fix::advice("check that the URL is right and the endpoint is up (a timeout can be raised with --timeout)"),
                }],
                exchanges,
            };
        }
    };
    let problems = compare(policy, &case, &expected.verdict, &actual, &exchanges);
    CaseResult {
        expected: expected.outcome,
        actual: Some(Outcome::of(&actual)),
        pass: problems.is_empty(),
        problems,
        exchanges,
        case,
    }
}

/// Whether an answer says it varies on `Origin` (or on everything).
fn varies_on_origin(ex: &Exchange) -> bool {
    ex.response_headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("vary"))
        .any(|(_, v)| {
            v.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.eq_ignore_ascii_case("origin"))
        })
}

/// The `Vary` check, across cases: once any answer names an origin in
/// `Access-Control-Allow-Origin`, the endpoint's answers depend on `Origin`,
/// and every actual answer (refusals included: a cached refusal would break
/// the allowed origin) must say `Vary: Origin`. An endpoint that never names
/// an origin (no CORS, or always `*`) needs no `Vary`.
fn vary_pass(results: &mut [CaseResult]) {
    let names_origin = |e: &Exchange| {
        e.response
            .headers
            .get_str("access-control-allow-origin")
            .is_some_and(|v| !v.trim().is_empty() && v.trim() != "*")
    };
    let depends = results.iter().flat_map(|r| &r.exchanges).any(names_origin);
    if !depends {
        return;
    }
    let lacking = |r: &CaseResult| {
        r.exchanges
            .iter()
            .rev()
            .find(|e| e.stage == Stage::Actual)
            .is_some_and(|e| !varies_on_origin(e))
    };
    let hostile = |r: &CaseResult| matches!(r.case.kind, CaseKind::Hostile { .. });
    // The hostile origins' refusals lacking Vary are one problem, reported
    // on the first of them (not a hundred times).
    let hostile_lacking = results.iter().filter(|r| hostile(r) && lacking(r)).count();
    let mut hostile_reported = false;
    for r in results {
        if !lacking(r) {
            continue;
        }
        let mut message = "the endpoint's answers depend on the request's Origin, but this one has no `Vary: Origin`: a shared cache (CDN, proxy) can hand it to a page on another origin".to_owned();
        if hostile(r) {
            if hostile_reported {
                continue;
            }
            hostile_reported = true;
            if hostile_lacking > 1 {
                message.push_str(&format!(
                    " (and so do the answers to the {} other hostile origins)",
                    hostile_lacking - 1
                ));
            }
        }
        r.problems.push(Problem {
            code: "no_vary_origin",
            message,
            fix: Fix::advice("add `Vary: Origin` to every answer whose CORS headers depend on Origin, refusals included"),
        });
        r.pass = false;
    }
}

/// Response headers script can always read (the CORS-safelisted ones).
const SAFELISTED_RESPONSE: [&str; 7] = [
    "cache-control",
    "content-language",
    "content-length",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
];

/// Request headers that need no listing (always safelisted by name).
const SAFELISTED_REQUEST: [&str; 3] = ["accept", "accept-language", "content-language"];

fn tokens(v: &str) -> impl Iterator<Item = String> + '_ {
    v.split(',')
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The "no looser than the policy" check, across cases: every answer to a
/// request from an origin the policy allows is read for what it grants
/// beyond the policy (methods, request headers, exposed headers,
/// credentials, preflight cache time). Each difference is reported once, on
/// the first case whose answer shows it.
fn looser_pass(policy: &Policy, results: &mut [CaseResult]) {
    let config = policy.config();
    let listed = |list: &[String], name: &str| {
        list.iter()
            .any(|m| m == "*" || m.eq_ignore_ascii_case(name))
    };
    let policy_age = i64::from(policy.max_age().unwrap_or(5));
    let mut seen: Vec<String> = Vec::new();
    for r in results.iter_mut() {
        if matches!(r.case.kind, CaseKind::Hostile { .. }) {
            continue;
        }
        let mut found: Vec<(String, String)> = Vec::new();
        for e in &r.exchanges {
            let get = |name: &str| e.response.headers.get_str(name);
            let Some(acao) = get("access-control-allow-origin") else {
                continue;
            };
            let stage = stage_name(e.stage);
            if e.stage == Stage::Preflight {
                if let Some(v) = get("access-control-allow-methods") {
                    for m in tokens(&v) {
                        let simple =
                            matches!(m.to_ascii_uppercase().as_str(), "GET" | "HEAD" | "POST");
                        if !simple && !listed(&config.methods, &m) {
                            let what = if m == "*" {
                                "any method".to_owned()
                            } else {
                                m.to_ascii_uppercase()
                            };
                            found.push((
                                format!("methods:{m}"),
                                format!("the endpoint allows {what}, the policy does not (Access-Control-Allow-Methods: {v} on the {stage} answer)"),
                            ));
                        }
                    }
                }
                if let Some(v) = get("access-control-allow-headers") {
                    for h in tokens(&v) {
                        let lower = h.to_ascii_lowercase();
                        if !SAFELISTED_REQUEST.contains(&lower.as_str())
                            && !listed(&config.request_headers, &h)
                        {
                            let what = if h == "*" {
                                "any request header".to_owned()
                            } else {
                                format!("the request header {lower}")
                            };
                            found.push((
                                format!("headers:{lower}"),
                                format!("the endpoint allows {what}, the policy does not (Access-Control-Allow-Headers: {v})"),
                            ));
                        }
                    }
                }
                if let Some(age) =
                    get("access-control-max-age").and_then(|v| v.trim().parse::<i64>().ok())
                {
                    if age > policy_age {
                        found.push((
                            "max_age".to_owned(),
                            format!("the endpoint lets browsers cache its preflight answers for {age} s, the policy for {policy_age} s (Access-Control-Max-Age: {age})"),
                        ));
                    }
                }
            } else if let Some(v) = get("access-control-expose-headers") {
                for h in tokens(&v) {
                    let lower = h.to_ascii_lowercase();
                    if !SAFELISTED_RESPONSE.contains(&lower.as_str())
                        && !listed(&config.expose_headers, &h)
                    {
                        let what = if h == "*" {
                            "every response header".to_owned()
                        } else {
                            lower.clone()
                        };
                        found.push((
                            format!("expose:{lower}"),
                            format!("the endpoint exposes {what} to script, the policy does not (Access-Control-Expose-Headers: {v})"),
                        ));
                    }
                }
            }
            if !config.credentials
                && acao.trim() != "*"
                && get("access-control-allow-credentials").as_deref() == Some("true")
            {
                found.push((
                    "credentials".to_owned(),
                    format!("the endpoint allows credentials, the policy does not (Access-Control-Allow-Credentials: true on the {stage} answer)"),
                ));
            }
        }
        for (key, message) in found {
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            r.problems.push(Problem {
                code: "looser_than_policy",
                message,
                fix: Fix::advice("make the endpoint answer exactly what the policy allows (`corsgate export --to nginx|apache|envoy` prints such configuration, or put `corsgate serve` in front)"),
            });
            r.pass = false;
        }
    }
}

fn stage_name(s: Stage) -> &'static str {
    match s {
        Stage::Preflight => "preflight",
        Stage::Actual => "actual",
        Stage::Redirect => "redirect",
    }
}

/// The CORS lines of an answer, for a message: `Name: value; Name: value`.
fn cors_lines(ex: &Exchange) -> String {
    let l: Vec<String> = ex
        .response_headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("access-control-"))
        .map(|(n, v)| format!("{n}: {v}"))
        .collect();
    if l.is_empty() {
        "no Access-Control-* header".to_owned()
    } else {
        l.join("; ")
    }
}

/// How the live verdict departs from the policy's.
fn compare(
    policy: &Policy,
    case: &CaseSpec,
    expected: &Verdict,
    actual: &Verdict,
    exchanges: &[Exchange],
) -> Vec<Problem> {
    let mut problems = Vec::new();
    match (expected.allowed, actual.allowed) {
        (true, false) => {
            let (message, fix) = match &actual.reason {
                // The message ends with its own "Fix: …", printed apart here.
                Some(r) => (
                    r.message
                        .split(" Fix: ")
                        .next()
                        .unwrap_or(&r.message)
                        .to_owned(),
                    Fix::from(r.remedy.clone()),
                ),
                None => (
                    "the browser refused the answer".to_owned(),
                    Fix::advice(String::new()),
                ),
            };
            problems.push(Problem {
                code: "readable_but_refused",
                message: format!("the policy allows this request, but the browser refuses the endpoint's answer: {message}"),
                fix,
            });
        }
        (false, true) => {
            let seen = exchanges
                .iter()
                .map(|e| format!("{} response: {}", stage_name(e.stage), cors_lines(e)))
                .collect::<Vec<_>>()
                .join(" / ");
            let creds = if case.credentials {
                " with the user's cookies"
            } else {
                ""
            };
            let reads = if actual.status.is_none() && actual.preflights > 0 {
                format!(
                    "send {}{creds} (its preflight passes; the request itself was not sent)",
                    case.method
                )
            } else {
                format!("read the response{creds}")
            };
            let what = match &case.kind {
                CaseKind::Hostile { class, why, .. } => format!(
                    "the endpoint lets a page on {} {reads}, the policy does not ({class}: {why})",
                    case.origin
                ),
                CaseKind::UnlistedMethod => format!(
                    "the endpoint allows {}{creds}, the policy does not",
                    case.method
                ),
                CaseKind::UnlistedHeader => format!(
                    "the endpoint allows the request header {}, the policy does not",
                    case.headers
                        .first()
                        .map(|(n, _)| n.as_str())
                        .unwrap_or_default()
                ),
                CaseKind::UnallowedCredentials => {
                    "the endpoint allows credentials, the policy does not".to_owned()
                }
                CaseKind::Policy => format!(
                    "the policy refuses this request, but the endpoint's answers let a page on {} {reads}",
                    case.origin
                ),
            };
            problems.push(Problem {
                code: "refused_but_allowed",
                message: format!("{what} ({seen})"),
                fix: Fix::advice("answer only what the policy allows: compare the parsed Origin with the listed origins and patterns, never echo it unchecked, and list only the allowed methods and headers (`corsgate export --to nginx|apache|envoy` prints configuration that does this, or put `corsgate serve` in front)"),
            });
        }
        _ => {}
    }
    let last = exchanges.iter().rev().find(|e| e.stage == Stage::Actual);
    if let (true, true, Some(last)) = (expected.allowed, actual.allowed, last) {
        let exposed = &policy.config().expose_headers;
        for name in exposed.iter().filter(|n| n.as_str() != "*") {
            let sent = last
                .response_headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name));
            if sent
                && !actual
                    .exposed_headers
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(name))
            {
                problems.push(Problem {
                    code: "not_exposed",
                    message: format!("the endpoint sends {name}, which the policy exposes, but script cannot read it"),
                    fix: Fix::advice(format!("add {name} to Access-Control-Expose-Headers on actual responses")),
                });
            }
        }
    }
    problems
}
