//! The WebKit section of `docs/conformance.md`: what the run measured and
//! every WebKit departure the `safari` profile models, each with a case of
//! the committed matrix ([`DEPARTURES`], checked by `tests/webkit.rs`: on
//! each listed case the `safari` profile and the profile it is set against
//! predict different things, and WebKit agrees with `safari`).

use std::fmt::Write as _;
use std::time::Duration;

use corsgate_core::Profile;

use crate::case::Api;
use crate::gecko::BrowserRun;

/// The section's first line in the document.
pub const BEGIN: &str = "<!-- webkit:begin (tests/webkit.rs writes this section) -->";
/// Its last line.
pub const END: &str = "<!-- webkit:end -->";

/// What differs on a departure's case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Differs {
    /// The outcome, the readable headers or the requests sent.
    Observation,
    /// Only the refusal reason named.
    Reason,
}

/// One WebKit behaviour the `safari` profile models, with its case.
#[derive(Debug, Clone, Copy)]
pub struct Departure {
    /// What WebKit does.
    pub behaviour: &'static str,
    /// The `Profile` method.
    pub method: &'static str,
    /// A case of the committed matrix that shows it.
    pub case: u32,
    /// Through which API.
    pub api: Api,
    /// The profile it departs from on that case.
    pub versus: Profile,
    /// What differs.
    pub differs: Differs,
}

const fn d(
    behaviour: &'static str,
    method: &'static str,
    case: u32,
    api: Api,
    versus: Profile,
    differs: Differs,
) -> Departure {
    Departure {
        behaviour,
        method,
        case,
        api,
        versus,
        differs,
    }
}

/// Every WebKit departure found by the harness, each with a case.
pub const DEPARTURES: &[Departure] = &[
    d("a request header given twice as pairs is judged by its combined value (`Range: bytes=2-3` and `Range: bytes=200-` are preflighted); a `Headers` object reaches every browser combined", "combines_request_headers", 139, Api::Fetch, Profile::Standard, Differs::Observation),
    d("once a request has been preflighted, every later hop of a redirect is preflighted again, with `Origin: null` after a cross-origin hop", "keeps_preflighting_after_redirect", 14, Api::Fetch, Profile::Standard, Differs::Observation),
    d("the preflight after a redirect announces the request's original unsafe headers, even those the redirect removed (`Authorization` after a cross-origin 307)", "preflight_lists_headers_a_redirect_removed", 269, Api::Fetch, Profile::Standard, Differs::Observation),
    d("a `GET` from the page with `Authorization`, redirected to another origin, is preflighted for it", "preflight_lists_original_headers", 602, Api::Fetch, Profile::Standard, Differs::Observation),
    d("`Access-Control-Max-Age: -1` caches nothing (the standard: unparsable, 5 s)", "max_age_takes_a_sign", 563, Api::Fetch, Profile::Standard, Differs::Observation),
    d("a preflight made with the redirect-tainted `null` origin is never reused", "caches_tainted_origin_preflights", 3210, Api::Fetch, Profile::Standard, Differs::Observation),
    d("a redirect within one origin keeps the previous hop's `Origin` header (a `PUT` answered 303 sends its same-origin `GET` with `Origin`)", "keeps_origin_header_on_redirect", 73, Api::Fetch, Profile::Standard, Differs::Observation),
    d("a same-origin request redirected to another origin's `user:pass@` URL is preflighted there before the redirect is refused", "preflights_before_refusing_userinfo_redirect", 808, Api::Fetch, Profile::Standard, Differs::Observation),
    d("a redirect from another origin is CORS-checked as credentialed when a `same-origin`-credentials request started on the page (`*` refused), after the next hop's preflight (WebKit's web process checks it last)", "same_origin_start_keeps_credentials", 1913, Api::Xhr, Profile::Standard, Differs::Observation),
    d("client hints (`Downlink`, `DPR`, `Save-Data`…) are not safelisted: they need a preflight", "safelists_client_hints", 808, Api::Fetch, Profile::Chromium, Differs::Observation),
    d("a preflight's non-2xx status is reported before its CORS headers (\"Preflight response is not successful. Status code: N\")", "preflight_status_first", 61, Api::Fetch, Profile::Standard, Differs::Reason),
    d("a preflight answered with a redirect is reported as an unsuccessful status", "reports_preflight_redirect_as_status", 161, Api::Fetch, Profile::Standard, Differs::Reason),
    d("an `Access-Control-Allow-Origin` that is no URL at all gets the same message as a mismatch (\"Origin … is not allowed by Access-Control-Allow-Origin\")", "reports_invalid_allow_origin", 9, Api::Fetch, Profile::Chromium, Differs::Reason),
];

/// Everything the section needs.
#[derive(Debug)]
pub struct WebkitReport<'a> {
    /// What WebKit did.
    pub webkit: &'a BrowserRun,
    /// Requests compared.
    pub total: usize,
    /// Requests tolerated (libsoup's `DELETE` to `GET`): (case, API).
    pub tolerated: &'a [(u32, Api)],
    /// Requests where the standard profile departs from WebKit.
    pub standard: usize,
    /// `corsgate check --browser safari`: (compared, exact, tolerated).
    pub check: (usize, usize, usize),
    /// Blocked requests with a reason line, and distinct messages.
    pub reasons: (usize, usize),
    /// Wall time of the whole test.
    pub elapsed: Duration,
}

/// The section's text (without the markers).
pub fn render(r: &WebkitReport) -> String {
    let mut s = String::new();
    let exact = r.total - r.tolerated.len();
    let _ = writeln!(s, "# Conformance against real WebKit\n");
    let _ = writeln!(
        s,
        "The judge is **{}** — WebKitGTK's MiniBrowser on libsoup, under Xvfb, driven by Debian's \
         WebKitWebDriver (`webkit2gtk-driver`) — not Safari on CFNetwork. WebCore's CORS code \
         (`CrossOriginAccessControl`, the preflight cache, `NetworkLoadChecker`) is shared by every \
         WebKit port; the HTTP stack is not, and where libsoup shows through the harness says so.\n",
        r.webkit.version
    );
    let _ = writeln!(
        s,
        "The same matrix as above, through `fetch()` and `XMLHttpRequest`: the engine's `safari` \
         profile agrees with WebKit on **{exact} of {} requests exactly**; {} are tolerated (below); \
         the `standard` profile departs from WebKit on {} requests. `corsgate check --browser safari` \
         agrees on {} of {} (`fetch()`, not repeated), {} tolerated. The blocked requests run once more \
         in a plain MiniBrowser that writes its console to stdout: on all {} of them with a reason line \
         the engine's refusal is the one WebKit names; the {} distinct messages are in \
         `crates/corsgate-conformance/tests/fixtures/webkit_messages.txt`. Browser part {:.1} s, \
         {} sessions; the whole test {:.0} s.\n",
        r.total,
        r.tolerated.len(),
        r.standard,
        r.check.1,
        r.check.0,
        r.check.2,
        r.reasons.0,
        r.reasons.1,
        r.webkit.elapsed.as_secs_f64(),
        r.webkit.sessions,
        r.elapsed.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "## WebKit behaviour the engine's `safari` profile models\n"
    );
    let _ = writeln!(s, "| WebKit | `Profile` method | case | differs from |");
    let _ = writeln!(s, "|---|---|---|---|");
    for d in DEPARTURES {
        let _ = writeln!(
            s,
            "| {} | `{}` | #{} ({}) | {} ({}) |",
            d.behaviour,
            d.method,
            d.case,
            d.api.name(),
            d.versus,
            match d.differs {
                Differs::Observation => "requests or outcome",
                Differs::Reason => "reason only",
            }
        );
    }
    let _ = writeln!(
        s,
        "\nThe preflight cache across different requests (`tests/preflight_cache.rs`, all three \
         browsers): WebKit replaces what it cached for a URL on a new preflight, caches URLs of \
         1,024 bytes and more, lets a cached `*` serve `Authorization`, and reuses a cached preflight \
         for a conditional request (`If-None-Match`); Chromium does none of the last three. The \
         600 s cap on `Access-Control-Max-Age` is from WebKit's source: no test waits that long.\n"
    );
    let _ = writeln!(s, "## Tolerated: libsoup's `DELETE` to `GET`\n");
    let list: Vec<String> = r
        .tolerated
        .iter()
        .map(|(id, api)| format!("#{id} ({})", api.name()))
        .collect();
    let _ = writeln!(
        s,
        "WebKitGTK's soup backend (`NetworkDataTaskSoup::shouldRedirectAsGET`) follows a redirect of a \
         `DELETE` to another origin with a `GET`, whatever the status, and keeps `GET` on later hops \
         (the standard and the profile keep the method; what Safari on CFNetwork does is not measured here). \
         The harness reads each such case as libsoup sends it (that redirect as a 303, which under the \
         standard turns the request into a `GET`; `corsgate_conformance::soup`) and holds WebKit to the \
         `safari` profile on that reading, requests and console reason alike. Where the reading changes \
         the engine's answer the request is tolerated, and listed: {}.",
        if list.is_empty() {
            "none".to_owned()
        } else {
            list.join(", ")
        }
    );
    s
}

/// `doc` with `section` between the markers (appended when they are missing).
pub fn splice(doc: &str, section: &str) -> String {
    let section = section.trim_end();
    match (doc.find(BEGIN), doc.find(END)) {
        (Some(b), Some(e)) if b < e => format!(
            "{}{BEGIN}\n{section}\n{END}{}",
            &doc[..b],
            &doc[e + END.len()..]
        ),
        _ => format!("{}\n\n{BEGIN}\n{section}\n{END}\n", doc.trim_end()),
    }
}

/// `new` with the WebKit section that `old` had, if any.
pub fn keep_section(old: &str, new: &str) -> String {
    match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if b < e => splice(new, &old[b + BEGIN.len()..e]),
        _ => new.to_owned(),
    }
}
