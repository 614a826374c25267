//! The browser model: a cross-origin fetch from start to verdict, as a state
//! machine that does no I/O.
//!
//! [`Browser::fetch`] returns a [`Fetch`]. Its [`start`](Fetch::start) and
//! [`respond`](Fetch::respond) hand back an [`Action`]: either a request to
//! send (a preflight or the request itself, with exactly the headers a browser
//! would put on it) or the final [`Verdict`]. The caller does the sending: a
//! real HTTP client in `corsgate check`, canned responses in tests, a policy in
//! the property tests. The `Browser` keeps the preflight cache between fetches
//! and a clock the caller moves.

use serde::Serialize;
use url::Url;

use crate::browser::cors_check::cors_check;
use crate::browser::exposure::exposed_headers;
use crate::browser::preflight::{
    check_preflight_response, check_same_origin_preflight_response, PreflightRequest,
};
use crate::browser::profile::Profile;
use crate::browser::refusal::{Refusal, Stage};
use crate::browser::remedy::RemedyContext;
use crate::browser::request::{Credentials, Initiator, Mode, Request};
use crate::browser::response::Response;
use crate::browser::safelist;
use crate::browser::verdict::{RefusalReport, Step, StepKind, Verdict};
use crate::headers::HeaderList;
use crate::origin::Origin;
use crate::PreflightCache;

/// Conditional request headers: with one of them the fetch's cache mode is
/// `no-store` (Fetch standard, HTTP-network-or-cache fetch).
const CONDITIONAL_HEADERS: [&str; 5] = [
    "if-modified-since",
    "if-none-match",
    "if-unmodified-since",
    "if-match",
    "if-range",
];

/// A browser: a profile, a preflight cache and a clock.
#[derive(Debug, Clone)]
pub struct Browser {
    profile: Profile,
    cache: PreflightCache,
    now_ms: u64,
}

/// A request the browser sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outgoing {
    /// `Preflight` or `Actual`.
    pub stage: Stage,
    /// The method on the wire.
    pub method: String,
    /// The URL.
    pub url: String,
    /// The header lines the browser adds or keeps (not the ones every request carries).
    #[serde(skip)]
    pub headers: HeaderList,
}

/// What the caller should do next.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send this request and pass its response to [`Fetch::respond`].
    Send(Outgoing),
    /// The fetch is over.
    Done(Box<Verdict>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    AwaitPreflight,
    AwaitActual,
    Done,
}

/// One fetch in progress; see the module docs.
#[derive(Debug)]
pub struct Fetch<'b> {
    browser: &'b mut Browser,
    request: Request,
    url_list: Vec<Url>,
    cors_tainting: bool,
    state: State,
    steps: Vec<Step>,
    preflights: usize,
    verdict: Option<Box<Verdict>>,
    /// The request awaiting its response, handed out again if `start` is repeated.
    pending: Option<Outgoing>,
    /// The request has needed a preflight (see
    /// [`Profile::keeps_preflighting_after_redirect`]).
    preflight_required: bool,
    /// The headers script set, for a profile whose
    /// [`Profile::preflight_lists_original_headers`].
    original_headers: Option<HeaderList>,
    /// The header names the latest redirect removed.
    last_stripped: Vec<&'static str>,
    /// The `Origin` the previous hop carried, for a profile whose
    /// [`Profile::keeps_origin_header_on_redirect`].
    sent_origin: Option<String>,
    /// A refusal that waits for the current hop's preflight (see
    /// [`Profile::preflights_before_refusing_userinfo_redirect`]).
    refuse_after_preflight: Option<Refusal>,
}

impl Browser {
    /// A browser with an empty cache at time zero.
    pub fn new(profile: Profile) -> Self {
        Browser {
            profile,
            cache: PreflightCache::new(profile),
            now_ms: 0,
        }
    }
    /// The profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }
    /// The preflight cache.
    pub fn cache(&self) -> &PreflightCache {
        &self.cache
    }
    /// Moves the clock forward.
    pub fn advance_ms(&mut self, ms: u64) {
        self.now_ms = self.now_ms.saturating_add(ms);
    }
    /// Starts a fetch.
    pub fn fetch(&mut self, request: Request) -> Fetch<'_> {
        let url_list = vec![request.url().clone()];
        Fetch {
            browser: self,
            request,
            url_list,
            cors_tainting: false,
            state: State::New,
            steps: Vec::new(),
            preflights: 0,
            verdict: None,
            sent_origin: None,
            refuse_after_preflight: None,
            pending: None,
            preflight_required: false,
            original_headers: None,
            last_stripped: Vec::new(),
        }
    }

    /// Runs a whole fetch with `send` doing the I/O. An error from `send`
    /// (a network failure) is returned as is: it is not a CORS verdict.
    ///
    /// ```
    /// use corsgate_core::{Browser, Profile, Request, Response, Stage};
    /// let mut browser = Browser::new(Profile::Chromium);
    /// let req = Request::builder("https://app.example", "https://api.example/items")
    ///     .method("PUT").header("Content-Type", "application/json").build().unwrap();
    /// let verdict = browser.run(req, |out| {
    ///     Ok::<_, ()>(match out.stage {
    ///         Stage::Preflight => Response::new(204)
    ///             .header("Access-Control-Allow-Origin", "https://app.example")
    ///             .header("Access-Control-Allow-Methods", "PUT")
    ///             .header("Access-Control-Allow-Headers", "content-type"),
    ///         _ => Response::new(200)
    ///             .header("Access-Control-Allow-Origin", "https://app.example")
    ///             .header("Content-Type", "application/json"),
    ///     })
    /// }).unwrap();
    /// assert!(verdict.allowed && verdict.preflight);
    /// assert_eq!(verdict.exposed_headers, ["content-type"]);
    /// ```
    pub fn run<E>(
        &mut self,
        request: Request,
        mut send: impl FnMut(&Outgoing) -> Result<Response, E>,
    ) -> Result<Verdict, E> {
        let mut fetch = self.fetch(request);
        let mut action = fetch.start();
        loop {
            match action {
                Action::Done(v) => return Ok(*v),
                Action::Send(out) => {
                    let response = send(&out)?;
                    action = fetch.respond(response);
                }
            }
        }
    }
}

impl Fetch<'_> {
    fn step(&mut self, kind: StepKind, ok: bool, message: impl Into<String>) {
        self.steps.push(Step {
            kind,
            ok,
            message: message.into(),
        });
    }

    fn current_url(&self) -> &Url {
        self.url_list.last().unwrap_or(self.request.url())
    }

    /// The request's serialized origin: `null` once a redirect tainted it.
    pub fn serialized_origin(&self) -> String {
        if self.redirect_tainted() {
            "null".into()
        } else {
            self.request.origin().as_str().to_owned()
        }
    }

    /// The origin a preflight carries and the preflight cache is keyed by:
    /// the serialized origin, or the request's own origin for a profile whose
    /// [`Profile::preflight_uses_request_origin`].
    fn preflight_origin(&self) -> String {
        if self.browser.profile.preflight_uses_request_origin() {
            self.request.origin().as_str().to_owned()
        } else {
            self.serialized_origin()
        }
    }

    /// Whether a `no-cors` request has been to another origin: its response
    /// tainting is then `opaque`, and stays so even back on the page's origin.
    fn opaque_tainting(&self) -> bool {
        self.request.mode() == Mode::NoCors
            && self
                .url_list
                .iter()
                .any(|u| !self.request.origin().same_origin(&Origin::from_url(u)))
    }

    /// The request as its preflight sees it: the request itself, or, for a
    /// profile whose [`Profile::preflight_lists_original_headers`], with the
    /// headers script set less those the latest redirect removed.
    fn preflight_view(&self) -> Request {
        let mut view = self.request.clone();
        if let Some(original) = &self.original_headers {
            let mut headers = original.clone();
            if !self
                .browser
                .profile
                .preflight_lists_headers_a_redirect_removed()
            {
                for name in &self.last_stripped {
                    headers.remove(name);
                }
            }
            view.headers = headers;
        }
        view
    }

    /// The credentials mode a redirect's CORS check assumes: the request's,
    /// or `include` for a `same-origin` request that started on the page's
    /// origin under a profile whose
    /// [`Profile::same_origin_start_keeps_credentials`].
    fn redirect_credentials(&self) -> Credentials {
        let c = self.request.credentials();
        if c == Credentials::SameOrigin
            && self.browser.profile.same_origin_start_keeps_credentials()
            && self
                .request
                .origin()
                .same_origin(&Origin::from_url(self.request.url()))
        {
            Credentials::Include
        } else {
            c
        }
    }

    /// The standard's redirect-taint, reduced to "is it still same-origin?".
    fn redirect_tainted(&self) -> bool {
        let origin = self.request.origin();
        self.url_list.windows(2).any(|w| {
            let last = Origin::from_url(&w[0]);
            let next = Origin::from_url(&w[1]);
            !next.same_origin(&last) && !origin.same_origin(&last)
        })
    }

    /// Starts the fetch.
    pub fn start(&mut self) -> Action {
        if self.state != State::New {
            return match (&self.verdict, &self.pending) {
                (Some(v), _) => Action::Done(v.clone()),
                // Still waiting: the same request again.
                (None, Some(out)) => Action::Send(out.clone()),
                (None, None) => self.main_fetch(),
            };
        }
        for name in self.request.dropped_headers().to_vec() {
            self.step(
                StepKind::Note,
                false,
                format!("script cannot set the forbidden header '{name}'; the browser dropped it"),
            );
        }
        let profile = self.browser.profile;
        if profile.keeps_preflighting_after_redirect()
            && !self.request.preflight_reasons(profile).headers.is_empty()
        {
            self.preflight_required = true;
        }
        if profile.preflight_lists_original_headers() {
            self.original_headers = Some(self.request.headers.clone());
        }
        self.main_fetch()
    }

    /// `respond` when nothing is awaited: before `start`, start; after the
    /// end, the same verdict.
    fn finish_again(&mut self) -> Action {
        match &self.verdict {
            Some(v) => Action::Done(v.clone()),
            None => self.start(),
        }
    }

    fn main_fetch(&mut self) -> Action {
        let profile = self.browser.profile;
        let url = self.current_url().clone();
        let origin = self.serialized_origin();
        let same_origin = self.request.origin().same_origin(&Origin::from_url(&url));
        if same_origin && !self.cors_tainting && !self.opaque_tainting() {
            self.step(
                StepKind::Classify,
                true,
                format!("{url} is same-origin: CORS does not apply"),
            );
            return self.send_actual(&url, None);
        }
        match self.request.mode() {
            Mode::SameOrigin => {
                return self.refuse(Refusal::DisallowedByMode {
                    url: url.to_string(),
                });
            }
            Mode::NoCors => {
                self.step(
                    StepKind::Classify,
                    true,
                    "mode 'no-cors': the request is sent but script gets an opaque response",
                );
                // Origin goes only on methods other than GET and HEAD.
                return self.send_actual(&url, None);
            }
            Mode::Cors => {}
        }
        if !matches!(url.scheme(), "http" | "https") {
            return self.refuse(Refusal::UnsupportedScheme {
                url: url.to_string(),
                scheme: url.scheme().to_owned(),
            });
        }
        self.cors_tainting = true;
        // Judge the request as it is now, at the current URL: after a
        // same-origin hop redirects cross-origin, `classify` (which looks at
        // the first URL) would call it same-origin and skip the preflight.
        let view = self.preflight_view();
        let reasons = view.preflight_reasons(profile);
        let sticky = profile.keeps_preflighting_after_redirect() && self.preflight_required;
        let needs_preflight =
            reasons.method.is_some() || !reasons.headers.is_empty() || reasons.forced || sticky;
        if needs_preflight && profile.keeps_preflighting_after_redirect() {
            self.preflight_required = true;
        }
        if !needs_preflight {
            self.step(
                StepKind::Classify,
                true,
                format!(
                    "cross-origin {} with only safelisted headers: sent without a preflight, with Origin: {origin}",
                    self.request.method()
                ),
            );
            return self.send_actual(&url, Some(origin));
        }
        let mut why = Vec::new();
        if let Some(m) = &reasons.method {
            why.push(format!("method {m} is not GET, HEAD or POST"));
        }
        for h in &reasons.headers {
            why.push(format!(
                "header '{}' is not safelisted: {}",
                h.name, h.reason
            ));
        }
        if reasons.forced {
            why.push("a preflight is forced (upload listeners or a streamed body)".into());
        }
        if why.is_empty() && sticky {
            why.push(format!(
                "{profile} keeps preflighting a request that needed a preflight before the redirect"
            ));
        }
        self.step(
            StepKind::Classify,
            true,
            format!("a preflight is needed: {}", why.join("; ")),
        );
        // Is everything already in the preflight cache?
        let include = self.request.credentials().is_include();
        let now = self.browser.now_ms;
        let url_s = url.as_str();
        let origin = self.preflight_origin();
        let cache = &self.browser.cache;
        let method_cached = (profile.cache_skips_method_check(self.request.method())
            && !reasons.forced)
            || cache.method_match(&origin, url_s, include, self.request.method(), now);
        let headers_cached = reasons
            .headers
            .iter()
            .all(|h| cache.header_match(&origin, url_s, include, &h.name, now))
            && (!profile.keeps_preflighting_after_redirect()
                || cache.has_entry(&origin, url_s, include, now));
        let bypass = profile.conditional_headers_bypass_preflight_cache(self.request.initiator())
            && CONDITIONAL_HEADERS
                .iter()
                .any(|h| self.request.headers.contains(h));
        if method_cached && headers_cached && bypass {
            self.step(
                StepKind::Note,
                true,
                format!(
                    "{profile} skips the preflight cache for a conditional request (If-* header)"
                ),
            );
        }
        if method_cached && headers_cached && !bypass {
            self.step(
                StepKind::CacheHit,
                true,
                "the preflight cache already allows this request: no preflight sent",
            );
            return self.send_actual(&url, Some(self.serialized_origin()));
        }
        let pf = PreflightRequest::for_request(&view, &origin, &url, profile);
        self.preflights += 1;
        self.state = State::AwaitPreflight;
        self.step(
            StepKind::PreflightSent,
            true,
            format!(
                "preflight sent: OPTIONS {url} with Origin: {origin}, Access-Control-Request-Method: {}{}",
                pf.method,
                pf.request_headers
                    .as_deref()
                    .map(|h| format!(", Access-Control-Request-Headers: {h}"))
                    .unwrap_or_default()
            ),
        );
        self.send(Outgoing {
            stage: Stage::Preflight,
            method: "OPTIONS".into(),
            url: url.to_string(),
            headers: pf.headers(),
        })
    }

    fn send(&mut self, out: Outgoing) -> Action {
        self.pending = Some(out.clone());
        Action::Send(out)
    }

    fn send_actual(&mut self, url: &Url, origin: Option<String>) -> Action {
        if let Some(refusal) = self.refuse_after_preflight.take() {
            return self.refuse(refusal);
        }
        let mut headers = self.request.headers().clone();
        if self.browser.profile.sends_last_content_type_line()
            && headers.get_all("content-type").count() > 1
        {
            if let Some(last) = headers.get_all("content-type").last().map(<[u8]>::to_vec) {
                headers.set("Content-Type", last);
            }
        }
        let needs_origin = origin.is_some() || !matches!(self.request.method(), "GET" | "HEAD");
        let origin = if needs_origin {
            Some(origin.unwrap_or_else(|| {
                let crossed = self
                    .url_list
                    .windows(2)
                    .any(|w| !Origin::from_url(&w[0]).same_origin(&Origin::from_url(&w[1])));
                if crossed && self.browser.profile.redirect_nulls_no_cors_origin() {
                    "null".to_owned()
                } else {
                    self.serialized_origin()
                }
            }))
        } else if self.browser.profile.keeps_origin_header_on_redirect()
            && self
                .url_list
                .windows(2)
                .last()
                .is_some_and(|w| Origin::from_url(&w[0]).same_origin(&Origin::from_url(&w[1])))
        {
            // A redirect within one origin leaves the headers as they were.
            self.sent_origin.clone()
        } else {
            None
        };
        if let Some(o) = &origin {
            headers.append("Origin", o.clone());
        }
        self.sent_origin = origin;
        self.state = State::AwaitActual;
        self.step(
            StepKind::RequestSent,
            true,
            format!("request sent: {} {url}", self.request.method()),
        );
        self.send(Outgoing {
            stage: Stage::Actual,
            method: self.request.method().to_owned(),
            url: url.to_string(),
            headers,
        })
    }

    /// Feeds the response to the last [`Action::Send`].
    pub fn respond(&mut self, response: Response) -> Action {
        match self.state {
            State::AwaitPreflight => self.on_preflight(response),
            State::AwaitActual => self.on_actual(response),
            State::New | State::Done => self.finish_again(),
        }
    }

    fn on_preflight(&mut self, response: Response) -> Action {
        let profile = self.browser.profile;
        let origin = self.serialized_origin();
        let cache_origin = self.preflight_origin();
        let url = self.current_url().clone();
        let checked = if profile.same_origin_preflight_skips_cors_check()
            && self.request.origin().same_origin(&Origin::from_url(&url))
        {
            self.step(
                StepKind::Note,
                true,
                format!("{profile} does not CORS-check a preflight to the page's own origin"),
            );
            check_same_origin_preflight_response(&self.preflight_view(), &response, profile)
        } else {
            check_preflight_response(&self.preflight_view(), &cache_origin, &response, profile)
        };
        match checked {
            Ok(allowance) => {
                self.step(
                    StepKind::PreflightChecked,
                    true,
                    format!(
                        "preflight answered {}: origin, method and headers allowed (cacheable for {} s)",
                        response.status, allowance.max_age.seconds
                    ),
                );
                if allowance.authorization_via_wildcard
                    && profile.warns_authorization_via_wildcard()
                {
                    self.step(
                        StepKind::Note,
                        true,
                        "Authorization was allowed only by `*` in Access-Control-Allow-Headers; Firefox warns this will stop working: list authorization by name",
                    );
                }
                let include = self.request.credentials().is_include();
                let now = self.browser.now_ms;
                let ip_host = matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)));
                if ip_host && !include && !profile.caches_preflights_for_ip_hosts() {
                    return self.send_actual(&url, Some(origin));
                }
                if self.redirect_tainted() && !profile.caches_tainted_origin_preflights() {
                    // Chromium's tainted origin is a fresh opaque origin:
                    // nothing stored for it can ever match again.
                    return self.send_actual(&url, Some(origin));
                }
                self.browser.cache.store(
                    &cache_origin,
                    url.as_str(),
                    include,
                    &allowance.methods,
                    &allowance.headers,
                    allowance.max_age.seconds,
                    now,
                );
                self.send_actual(&url, Some(origin))
            }
            Err(refusal) => {
                self.browser.cache.clear(&cache_origin, url.as_str());
                self.step(
                    StepKind::PreflightChecked,
                    false,
                    format!("preflight answered {}: refused", response.status),
                );
                self.refuse(refusal)
            }
        }
    }

    fn on_actual(&mut self, response: Response) -> Action {
        let profile = self.browser.profile;
        let origin = self.serialized_origin();
        let url = self.current_url().clone();
        let location = profile.redirect_location(&response);
        if self.cors_tainting {
            let stage = if location.is_some() {
                Stage::Redirect
            } else {
                Stage::Actual
            };
            let credentials = if stage == Stage::Redirect {
                self.redirect_credentials()
            } else {
                self.request.credentials()
            };
            let own = self.request.credentials();
            if credentials != own && cors_check(&origin, own, &response, stage, profile).is_ok() {
                // WebKit's network process passes the redirect as the request's
                // own credentials mode; its web process checks it again as
                // credentialed, once the network process has refused a
                // `user:pass@` location and preflighted the next hop.
                if let Err(r) = cors_check(&origin, credentials, &response, stage, profile) {
                    self.step(
                        StepKind::CorsCheck,
                        false,
                        format!(
                            "response {} passes the CORS check as sent, but {profile} checks a redirect again as credentialed (the load started on the page's origin), after the next hop's preflight: refused then",
                            response.status
                        ),
                    );
                    if let Some(location) = &location {
                        self.refuse_after_preflight = Some(r);
                        return self.redirect(&url, location, response.status);
                    }
                }
            }
            if let Err(r) = cors_check(&origin, credentials, &response, stage, profile) {
                self.step(
                    StepKind::CorsCheck,
                    false,
                    format!("response {} fails the CORS check", response.status),
                );
                return self.refuse(r);
            }
            self.step(
                StepKind::CorsCheck,
                true,
                format!(
                    "response {} passes the CORS check for Origin: {origin}",
                    response.status
                ),
            );
        }
        if let Some(location) = location {
            return self.redirect(&url, &location, response.status);
        }
        let readable = if self.cors_tainting {
            let e = exposed_headers(&response.headers, self.request.credentials());
            if let Some(bad) = &e.invalid_element {
                self.step(
                    StepKind::Exposure,
                    false,
                    format!("Access-Control-Expose-Headers does not parse ('{bad}' is not a header name): only safelisted headers are readable"),
                );
            } else if e.wildcard_ignored {
                self.step(
                    StepKind::Exposure,
                    false,
                    "Access-Control-Expose-Headers: * exposes nothing for a request with credentials: list the names",
                );
            }
            e.readable
        } else {
            response
                .headers
                .unique_names()
                .into_iter()
                .filter(|n| !safelist::is_forbidden_response_header(n))
                .collect()
        };
        if self.opaque_tainting() {
            let verdict = self.verdict(false, None, None, Vec::new());
            return self.finish(verdict);
        }
        self.step(
            StepKind::Exposure,
            true,
            format!(
                "script can read the response; readable headers: {}",
                if readable.is_empty() {
                    "(none)".into()
                } else {
                    readable.join(", ")
                }
            ),
        );
        let verdict = self.verdict(true, Some(response.status), None, readable);
        self.finish(verdict)
    }

    fn redirect(&mut self, from: &Url, location: &str, status: u16) -> Action {
        let Ok(next) = from.join(location) else {
            return self.refuse(Refusal::InvalidRedirectLocation {
                location: location.to_owned(),
            });
        };
        if self.url_list.len() > 20 {
            return self.refuse(Refusal::TooManyRedirects);
        }
        if !matches!(next.scheme(), "http" | "https") {
            return self.refuse(Refusal::RedirectNotHttp {
                location: next.to_string(),
            });
        }
        let has_credentials = !next.username().is_empty() || next.password().is_some();
        let next_origin = Origin::from_url(&next);
        if has_credentials
            && self.browser.profile.fetch_refuses_redirect_with_userinfo()
            && self.request.initiator() == Initiator::Fetch
        {
            return self.refuse(Refusal::RedirectContainsCredentials {
                location: next.to_string(),
            });
        }
        if has_credentials
            && ((self.request.mode() == Mode::Cors
                && !self.request.origin().same_origin(&next_origin))
                || self.cors_tainting)
        {
            let refusal = Refusal::RedirectContainsCredentials {
                location: next.to_string(),
            };
            if self.cors_tainting
                || !self
                    .browser
                    .profile
                    .preflights_before_refusing_userinfo_redirect()
            {
                return self.refuse(refusal);
            }
            // Preflight the hop first (if it needs one), then refuse.
            self.refuse_after_preflight = Some(refusal);
        }
        let m = self.request.method.clone();
        self.last_stripped.clear();
        if ((status == 301 || status == 302) && m == "POST")
            || (status == 303 && m != "GET" && m != "HEAD")
        {
            self.request.method = "GET".into();
            for h in [
                "content-encoding",
                "content-language",
                "content-location",
                "content-type",
            ] {
                self.request.headers.remove(h);
                self.last_stripped.push(h);
            }
        }
        if !Origin::from_url(from).same_origin(&next_origin) {
            self.request.headers.remove("authorization");
            self.last_stripped.push("authorization");
        }
        if !self.request.origin().same_origin(&next_origin) {
            for name in self.browser.profile.request_headers_removed_on_redirect() {
                self.request.headers.remove(name);
            }
        }
        self.url_list.push(next.clone());
        self.step(
            StepKind::Redirect,
            true,
            format!(
                "redirect {status} to {next}{}",
                if self.redirect_tainted() {
                    "; the origin is now `null` (cross-origin redirect)"
                } else {
                    ""
                }
            ),
        );
        self.main_fetch()
    }

    fn refuse(&mut self, refusal: Refusal) -> Action {
        if self.browser.profile.clears_preflight_cache_on_failure() {
            let origin = self.preflight_origin();
            let url = self.current_url().to_string();
            self.browser.cache.clear(&origin, &url);
        }
        let verdict = self.verdict(false, None, Some(&refusal), Vec::new());
        self.finish(verdict)
    }

    /// Ends the fetch: later calls to `respond` return the same verdict.
    fn finish(&mut self, verdict: Verdict) -> Action {
        self.state = State::Done;
        let verdict = Box::new(verdict);
        self.verdict = Some(verdict.clone());
        Action::Done(verdict)
    }

    fn verdict(
        &self,
        allowed: bool,
        status: Option<u16>,
        refusal: Option<&Refusal>,
        exposed: Vec<String>,
    ) -> Verdict {
        Verdict {
            profile: self.browser.profile,
            allowed,
            preflight: self.preflights > 0,
            preflights: self.preflights,
            redirects: self.url_list.len() - 1,
            final_url: self.current_url().to_string(),
            status,
            exposed_headers: exposed,
            reason: refusal.map(|r| {
                let ctx = RemedyContext {
                    url: self.current_url().to_string(),
                    method: self.request.method().to_owned(),
                    unsafe_headers: safelist::unsafe_request_header_names_in(
                        self.request.headers(),
                        self.browser.profile,
                        self.request.headers_form(),
                    )
                    .into_iter()
                    .map(|u| u.name)
                    .collect(),
                    origin: self.serialized_origin(),
                };
                RefusalReport::with_context(r, &ctx)
            }),
            steps: self.steps.clone(),
        }
    }
}

/// Judges one request against canned responses: the preflight response (used
/// only if a preflight is needed) and the actual response. Redirects are not
/// followed here (use [`Browser::run`]). Returns `None` when a preflight is
/// needed and no preflight response was given.
///
/// ```
/// use corsgate_core::{evaluate, Profile, Request, Response};
/// let req = Request::builder("https://app.example", "https://api.example/me")
///     .credentials(corsgate_core::Credentials::Include).build().unwrap();
/// let resp = Response::new(200).header("Access-Control-Allow-Origin", "*");
/// let v = evaluate(&req, None, &resp, Profile::Chromium).unwrap();
/// assert!(!v.allowed);
/// assert_eq!(v.reason.unwrap().chromium, Some("WildcardOriginNotAllowed"));
/// ```
pub fn evaluate(
    request: &Request,
    preflight: Option<&Response>,
    actual: &Response,
    profile: Profile,
) -> Option<Verdict> {
    let mut browser = Browser::new(profile);
    let mut actual = actual.clone();
    // Without redirect following, a redirect status is judged as a final response.
    if actual.is_redirect_status() {
        actual.headers.remove("location");
    }
    browser
        .run(request.clone(), |out| match out.stage {
            Stage::Preflight => preflight.cloned().ok_or(()),
            _ => Ok(actual.clone()),
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::browser::request::{Credentials, HeadersForm};

    /// Checked against Chromium 156: a same-origin URL that redirects to a
    /// cross-origin one gets a preflight there when the request is not simple
    /// (the classification looks at the current URL, not the first).
    #[test]
    fn same_origin_redirect_to_cross_origin_is_preflighted() {
        let req = Request::builder("http://app.example", "http://app.example/start")
            .method("PUT")
            .build()
            .unwrap();
        let mut browser = Browser::new(Profile::Chromium);
        let mut sent = Vec::new();
        let verdict = browser
            .run(req, |out| {
                sent.push((out.stage, out.url.clone()));
                Ok::<_, ()>(match (out.stage, out.url.as_str()) {
                    (Stage::Actual, "http://app.example/start") => {
                        Response::new(307).header("Location", "http://api.example/next")
                    }
                    _ => Response::new(204).header("Access-Control-Allow-Origin", "*"),
                })
            })
            .unwrap();
        assert_eq!(
            sent,
            [
                (Stage::Actual, "http://app.example/start".to_owned()),
                (Stage::Preflight, "http://api.example/next".to_owned()),
            ]
        );
        assert!(!verdict.allowed, "the preflight lacks Allow-Methods: PUT");
        assert_eq!(verdict.preflights, 1);
    }

    fn preflight_headers(profile: Profile, req: Request) -> Vec<Option<String>> {
        let mut browser = Browser::new(profile);
        let mut seen = Vec::new();
        browser
            .run(req, |out| {
                if out.stage == Stage::Preflight {
                    seen.push(out.headers.get_str("access-control-request-headers"));
                }
                let hop0 = out.url.ends_with("/0");
                Ok::<_, ()>(match out.stage {
                    Stage::Actual if hop0 => Response::new(302)
                        .header("Location", "http://api.example/1")
                        .header("Access-Control-Allow-Origin", "*"),
                    _ => Response::new(204)
                        .header("Access-Control-Allow-Origin", "*")
                        .header("Access-Control-Allow-Headers", "*"),
                })
            })
            .unwrap();
        seen
    }

    /// Checked against Chromium 156: the client hints script set (here an
    /// unsafelisted `RTT`) are gone after a redirect, so the second hop needs
    /// no preflight; the standard keeps them.
    #[test]
    fn chromium_drops_client_hints_on_redirect() {
        let req = || {
            Request::builder("http://app.example", "http://api.example/0")
                .header("RTT", "abc")
                .build()
                .unwrap()
        };
        assert_eq!(
            preflight_headers(Profile::Chromium, req()),
            [Some("rtt".to_owned())]
        );
        assert_eq!(
            preflight_headers(Profile::Standard, req()),
            [Some("rtt".to_owned()), Some("rtt".to_owned())]
        );
        // Redirected back to the page's own origin, they are kept.
        let mut browser = Browser::new(Profile::Chromium);
        let mut seen = Vec::new();
        let req = Request::builder("http://app.example", "http://api.example/0")
            .header("RTT", "abc")
            .build()
            .unwrap();
        browser
            .run(req, |out| {
                seen.push(out.headers.contains("rtt"));
                Ok::<_, ()>(match out.stage {
                    Stage::Actual if out.url.ends_with("/0") => Response::new(302)
                        .header("Location", "http://app.example/1")
                        .header("Access-Control-Allow-Origin", "*"),
                    _ => Response::new(204)
                        .header("Access-Control-Allow-Origin", "*")
                        .header("Access-Control-Allow-Headers", "*"),
                })
            })
            .unwrap();
        assert_eq!(
            seen,
            [false, true, false, true],
            "preflight, request, at each hop"
        );
    }

    /// Checked against Firefox 153 ESR: a preflighted request whose actual
    /// response fails the CORS check (no `Access-Control-Allow-Origin`), or
    /// whose redirect is refused, is preflighted again next time; Chromium
    /// and the standard reuse the cached preflight.
    #[test]
    fn firefox_forgets_the_preflight_when_the_response_fails() {
        let req = Request::builder("http://app.example", "http://api.example/x")
            .method("PUT")
            .build()
            .unwrap();
        let counts = |profile| {
            preflights_twice(profile, &req, |out| match out.stage {
                Stage::Preflight => Response::new(204)
                    .header("Access-Control-Allow-Origin", "http://app.example")
                    .header("Access-Control-Allow-Methods", "PUT")
                    .header("Access-Control-Max-Age", "600"),
                _ => Response::new(200),
            })
        };
        assert_eq!(counts(Profile::Firefox), [1, 1]);
        assert_eq!(counts(Profile::Chromium), [1, 0]);
        assert_eq!(counts(Profile::Standard), [1, 0]);
        // A redirect to `user:pass@` (refused) forgets it too.
        let counts: Vec<usize> = preflights_twice(Profile::Firefox, &req, |out| match out.stage {
            Stage::Preflight => Response::new(204)
                .header("Access-Control-Allow-Origin", "*")
                .header("Access-Control-Allow-Methods", "PUT")
                .header("Access-Control-Max-Age", "600"),
            _ => Response::new(307)
                .header("Location", "http://u:p@other.example/1")
                .header("Access-Control-Allow-Origin", "*"),
        });
        assert_eq!(counts, [1, 1]);
    }

    /// Checked against Firefox 153 ESR: a `PUT` that a 303 turns into a
    /// `GET` on another origin is still preflighted there (and that
    /// preflight's `Access-Control-Allow-Methods` must still parse); the
    /// standard sends the `GET` as a simple request.
    #[test]
    fn firefox_keeps_preflighting_after_a_redirect() {
        let req = Request::builder("http://app.example", "http://api.example/0")
            .method("PUT")
            .build()
            .unwrap();
        let run = |profile| {
            let mut browser = Browser::new(profile);
            let mut wire = Vec::new();
            let v = browser
                .run(req.clone(), |out| {
                    wire.push(format!("{:?} {} {}", out.stage, out.method, out.url));
                    Ok::<_, ()>(match out.stage {
                        Stage::Actual if out.url.ends_with("/0") => Response::new(303)
                            .header("Location", "http://other.example/1")
                            .header("Access-Control-Allow-Origin", "*"),
                        _ => Response::new(200)
                            .header("Access-Control-Allow-Origin", "*")
                            .header("Access-Control-Allow-Methods", "PUT"),
                    })
                })
                .unwrap();
            (v.allowed, wire)
        };
        let (ok, wire) = run(Profile::Firefox);
        assert!(ok);
        assert_eq!(
            wire,
            [
                "Preflight OPTIONS http://api.example/0",
                "Actual PUT http://api.example/0",
                "Preflight OPTIONS http://other.example/1",
                "Actual GET http://other.example/1"
            ]
        );
        let (ok, wire) = run(Profile::Standard);
        assert!(ok);
        assert_eq!(wire.len(), 3, "no second preflight: {wire:?}");
    }

    /// Checked against Firefox 153 ESR: after api.example redirects to
    /// other.example, Firefox preflights with the page's origin (checked
    /// against it) and sends the request with `Origin: null`; the standard
    /// preflights with `null`. A preflight back at the page's own origin is
    /// not CORS-checked at all.
    #[test]
    fn firefox_preflights_with_the_page_origin_after_a_redirect() {
        let run = |profile, hop1: &'static str| {
            let req = Request::builder("http://app.example", "http://api.example/0")
                .method("PUT")
                .build()
                .unwrap();
            let mut browser = Browser::new(profile);
            let mut wire = Vec::new();
            let v = browser
                .run(req, |out| {
                    let origin = out.headers.get_str("origin").unwrap_or_default();
                    wire.push(format!("{:?} {origin}", out.stage));
                    Ok::<_, ()>(match out.stage {
                        Stage::Actual if out.url.ends_with("/0") => Response::new(307)
                            .header("Location", hop1)
                            .header("Access-Control-Allow-Origin", "*"),
                        // Echo the Origin, with a trailing slash at the page's origin.
                        Stage::Preflight if out.url.starts_with("http://app.") => {
                            Response::new(204)
                                .header("Access-Control-Allow-Origin", "http://app.example/")
                                .header("Access-Control-Allow-Methods", "PUT")
                        }
                        _ => Response::new(200)
                            .header("Access-Control-Allow-Origin", origin)
                            .header("Access-Control-Allow-Methods", "PUT"),
                    })
                })
                .unwrap();
            (v.allowed, wire)
        };
        let other = "http://other.example/1";
        let (ok, wire) = run(Profile::Firefox, other);
        assert!(ok);
        assert_eq!(
            wire[2..],
            ["Preflight http://app.example", "Actual null"],
            "{wire:?}"
        );
        let (ok, wire) = run(Profile::Standard, other);
        assert!(ok);
        assert_eq!(wire[2..], ["Preflight null", "Actual null"], "{wire:?}");
        let page = "http://app.example/1";
        assert!(run(Profile::Firefox, page).0);
        assert!(!run(Profile::Standard, page).0);
    }

    /// Checked against Firefox 153 ESR: a `HEAD` with a custom header,
    /// allowed by `Access-Control-Allow-Methods: GET, POST`, is preflighted
    /// on every run (its cache skips the method check for GET and POST only);
    /// the standard reuses the cached preflight.
    #[test]
    fn firefox_cache_checks_head() {
        let req = Request::builder("http://app.example", "http://api.example/x")
            .method("HEAD")
            .header("X-A", "1")
            .build()
            .unwrap();
        let counts = |profile| {
            preflights_twice(profile, &req, |_| {
                Response::new(200)
                    .header("Access-Control-Allow-Origin", "*")
                    .header("Access-Control-Allow-Methods", "GET, POST")
                    .header("Access-Control-Allow-Headers", "x-a")
                    .header("Access-Control-Max-Age", "600")
            })
        };
        assert_eq!(counts(Profile::Firefox), [1, 1]);
        assert_eq!(counts(Profile::Standard), [1, 0]);
    }

    /// Checked against Firefox 153 ESR: a preflight to `127.0.0.1` made
    /// without credentials is not reused (one to `localhost` is, and so is a
    /// credentialed one).
    #[test]
    fn firefox_does_not_reuse_uncredentialed_preflights_for_ip_hosts() {
        let run = |profile, url: &str, credentials| {
            let req = Request::builder("http://app.example", url)
                .method("PUT")
                .credentials(credentials)
                .build()
                .unwrap();
            preflights_twice(profile, &req, |_| {
                Response::new(200)
                    .header("Access-Control-Allow-Origin", "http://app.example")
                    .header("Access-Control-Allow-Credentials", "true")
                    .header("Access-Control-Allow-Methods", "PUT")
            })
        };
        let (ip, name) = ("http://127.0.0.1:8/x", "http://localhost:8/x");
        assert_eq!(run(Profile::Firefox, ip, Credentials::Omit), [1, 1]);
        assert_eq!(run(Profile::Firefox, ip, Credentials::Include), [1, 0]);
        assert_eq!(run(Profile::Firefox, name, Credentials::Omit), [1, 0]);
        assert_eq!(run(Profile::Standard, ip, Credentials::Omit), [1, 0]);
    }

    /// Checked against Firefox 153 ESR: a `POST` with `Content-Type:
    /// application/json` redirected 302 (now a `GET`, the header gone) and
    /// 302 again announces `content-type` in the third preflight; the
    /// standard announces nothing there.
    #[test]
    fn firefox_preflight_lists_the_original_headers() {
        let req = Request::builder("http://app.example", "http://api.example/0")
            .method("POST")
            .header("Content-Type", "application/json")
            .build()
            .unwrap();
        let acrh = |profile| {
            let mut seen = Vec::new();
            Browser::new(profile)
                .run(req.clone(), |out| {
                    if out.stage == Stage::Preflight {
                        seen.push(out.headers.get_str("access-control-request-headers"));
                    }
                    let next = match out.url.rsplit('/').next() {
                        Some("0") => Some("http://api.example/1"),
                        Some("1") => Some("http://api.example/2"),
                        _ => None,
                    };
                    Ok::<_, ()>(match (out.stage, next) {
                        (Stage::Actual, Some(n)) => Response::new(302)
                            .header("Location", n)
                            .header("Access-Control-Allow-Origin", "*"),
                        _ => Response::new(200)
                            .header("Access-Control-Allow-Origin", "*")
                            .header("Access-Control-Allow-Headers", "content-type"),
                    })
                })
                .unwrap();
            seen
        };
        let ct = Some("content-type".to_owned());
        assert_eq!(acrh(Profile::Firefox), [ct.clone(), None, ct.clone()]);
        assert_eq!(acrh(Profile::Standard), [ct]);
    }

    /// Checked against WebKitGTK 2.50.6 (case #269 of the conformance
    /// matrix): after a cross-origin 307, WebKit preflights the next hop with
    /// `Origin: null` and announces `authorization` although the redirect
    /// removed it; the standard announces only what is left. After a 303
    /// turns a `custom` request into a `GET` with no unsafe header left,
    /// WebKit still preflights (case #14); the standard does not.
    #[test]
    fn safari_preflights_again_after_a_redirect_with_the_original_headers() {
        let run = |profile, method: &str, status: u16| {
            let req = Request::builder("http://app.example", "http://api.example/0")
                .method(method)
                .header("Authorization", "Bearer t")
                .build()
                .unwrap();
            let mut seen = Vec::new();
            Browser::new(profile)
                .run(req, |out| {
                    if out.stage == Stage::Preflight {
                        seen.push((
                            out.headers.get_str("origin"),
                            out.headers.get_str("access-control-request-headers"),
                        ));
                    }
                    let first = out.url.ends_with("/0");
                    Ok::<_, ()>(match out.stage {
                        Stage::Actual if first => Response::new(status)
                            .header("Location", "http://other.example/1")
                            .header("Access-Control-Allow-Origin", "*"),
                        _ => Response::new(204)
                            .header("Access-Control-Allow-Origin", "*")
                            .header("Access-Control-Allow-Methods", "PUT, custom")
                            .header("Access-Control-Allow-Headers", "authorization"),
                    })
                })
                .unwrap();
            seen
        };
        let page = Some("http://app.example".to_owned());
        let null = Some("null".to_owned());
        let auth = Some("authorization".to_owned());
        assert_eq!(
            run(Profile::Safari, "PUT", 307),
            [(page.clone(), auth.clone()), (null.clone(), auth.clone())]
        );
        assert_eq!(
            run(Profile::Standard, "PUT", 307),
            [(page.clone(), auth.clone()), (null.clone(), None)]
        );
        assert_eq!(
            run(Profile::Safari, "custom", 303),
            [(page.clone(), auth.clone()), (null, auth.clone())]
        );
        assert_eq!(run(Profile::Standard, "custom", 303), [(page, auth)]);
    }

    /// Checked against WebKitGTK 2.50.6 (the conformance matrix): an
    /// `XMLHttpRequest` without credentials from the page to its own origin,
    /// redirected 308 to another origin that redirects again with `*`, is
    /// refused there as credentialed, preflighted or not; a request that
    /// needs a preflight sends the next hop's preflight first. The standard
    /// lets both through.
    #[test]
    fn safari_same_origin_start_keeps_credentials_after_the_next_preflight() {
        let run = |profile, header: (&str, &str)| {
            let req = Request::builder("http://app.example", "http://app.example/0")
                .header(header.0, header.1)
                .initiator(Initiator::Xhr)
                .headers_form(HeadersForm::SetRequestHeader)
                .build()
                .unwrap();
            Browser::new(profile)
                .run(req, |out| {
                    let hop = out.url.rsplit('/').next().unwrap_or_default().to_owned();
                    Ok::<_, ()>(match (out.stage, hop.as_str()) {
                        (Stage::Preflight, _) => Response::new(204)
                            .header("Access-Control-Allow-Origin", "*")
                            .header("Access-Control-Allow-Headers", "x-a"),
                        (_, "0") => Response::new(308).header("Location", "http://api.example/1"),
                        (_, "1") => Response::new(302)
                            .header("Location", "http://api.example/2")
                            .header("Access-Control-Allow-Origin", "*"),
                        _ => Response::new(200).header("Access-Control-Allow-Origin", "*"),
                    })
                })
                .unwrap()
        };
        let safe = run(Profile::Safari, ("Accept", "*/*"));
        assert!(!safe.allowed);
        assert_eq!(safe.preflights, 0);
        let unsafe_header = run(Profile::Safari, ("X-A", "1"));
        assert!(!unsafe_header.allowed);
        assert_eq!(unsafe_header.preflights, 2, "hop 1 and hop 2 preflighted");
        assert_eq!(
            unsafe_header.reason.map(|r| r.code),
            Some("wildcard_origin_with_credentials")
        );
        assert!(run(Profile::Standard, ("Accept", "*/*")).allowed);
        assert!(run(Profile::Standard, ("X-A", "1")).allowed);
    }

    /// Checked against WebKitGTK 2.50.6 (the conformance matrix, seed
    /// `f0c85b93b6414`, case #2151): a `Patch` without credentials from the
    /// page to its own origin, redirected 301 to another origin, then 307
    /// with `*`: the first run preflights both cross-origin hops before the
    /// 307 is refused as credentialed; the second, served from the preflight
    /// cache, is refused the same way.
    #[test]
    fn safari_checks_the_redirect_after_the_next_preflight_on_every_run() {
        let req = Request::builder("http://app.example", "http://app.example/0")
            .method("Patch")
            .initiator(Initiator::Xhr)
            .headers_form(HeadersForm::SetRequestHeader)
            .build()
            .unwrap();
        let mut browser = Browser::new(Profile::Safari);
        let runs: Vec<(bool, usize, Option<&str>)> = (0..2)
            .map(|_| {
                let v = browser
                    .run(req.clone(), |out| {
                        let hop = out.url.rsplit('/').next().unwrap_or_default().to_owned();
                        Ok::<_, ()>(match (out.stage, hop.as_str()) {
                            (Stage::Preflight, _) => Response::new(200)
                                .header("Access-Control-Allow-Origin", "*")
                                .header("Access-Control-Allow-Methods", "Patch")
                                .header("Access-Control-Max-Age", "600"),
                            (_, "0") => {
                                Response::new(301).header("Location", "http://api.example/1")
                            }
                            (_, "1") => Response::new(307)
                                .header("Location", "http://api.example/2")
                                .header("Access-Control-Allow-Origin", "*"),
                            _ => Response::new(200).header("Access-Control-Allow-Origin", "*"),
                        })
                    })
                    .unwrap();
                (v.allowed, v.preflights, v.reason.map(|r| r.code))
            })
            .collect();
        let refused = Some("wildcard_origin_with_credentials");
        assert_eq!(runs[0], (false, 2, refused), "{runs:?}");
        assert_eq!(runs[1], (false, 0, refused), "from the cache: {runs:?}");
    }

    /// Checked against WebKitGTK 2.50.6 (the conformance matrix, seed
    /// `ab1929204b446`, case #1611): a request from the page redirected to
    /// another origin, whose redirect to a `user:pass@` URL carries
    /// `Access-Control-Allow-Credentials: false`, is refused for the
    /// credentials in the URL (WebKit's network process) before the
    /// credentialed check of the redirect (its web process) runs.
    #[test]
    fn safari_refuses_a_userinfo_location_before_the_credentialed_redirect_check() {
        let req = Request::builder("http://app.example", "http://app.example/0")
            .initiator(Initiator::Xhr)
            .headers_form(HeadersForm::SetRequestHeader)
            .build()
            .unwrap();
        let code = Browser::new(Profile::Safari)
            .run(req, |out| {
                let hop = out.url.rsplit('/').next().unwrap_or_default().to_owned();
                Ok::<_, ()>(match hop.as_str() {
                    "0" => Response::new(307).header("Location", "http://api.example/1"),
                    "1" => Response::new(308)
                        .header("Location", "http://u:p@api.example/2")
                        .header("Access-Control-Allow-Origin", "http://app.example")
                        .header("Access-Control-Allow-Credentials", "false"),
                    _ => Response::new(200).header("Access-Control-Allow-Origin", "*"),
                })
            })
            .unwrap()
            .reason
            .map(|r| r.code);
        assert_eq!(code, Some("redirect_contains_credentials"));
    }

    /// Runs `req` twice through one browser of `profile`, answering with
    /// `respond`; how many preflights each run sent.
    fn preflights_twice(
        profile: Profile,
        req: &Request,
        respond: impl Fn(&Outgoing) -> Response,
    ) -> Vec<usize> {
        let mut browser = Browser::new(profile);
        (0..2)
            .map(|_| {
                browser
                    .run(req.clone(), |out| Ok::<_, ()>(respond(out)))
                    .unwrap()
                    .preflights
            })
            .collect()
    }

    /// Runs `req` twice through one browser, the first hop redirecting to
    /// `hop1`; how many preflights each run sent.
    fn preflights_per_run(profile: Profile, req: Request, hop1: &str) -> Vec<usize> {
        preflights_twice(profile, &req, |out| match out.stage {
            Stage::Actual if out.url.ends_with("/0") => Response::new(307)
                .header("Location", hop1)
                .header("Access-Control-Allow-Origin", "*"),
            _ => Response::new(204)
                .header("Access-Control-Allow-Origin", "*")
                .header("Access-Control-Allow-Methods", "PUT")
                .header("Access-Control-Allow-Headers", "*"),
        })
    }

    /// Checked against Chromium 156 and Firefox 153 ESR: a request with
    /// `If-None-Match` (or any conditional header) is preflighted every time
    /// (in Firefox only from `fetch()`).
    #[test]
    fn chromium_conditional_requests_skip_the_preflight_cache() {
        let req = Request::builder("http://app.example", "http://api.example/x")
            .method("PUT")
            .header("If-None-Match", "\"x\"")
            .build()
            .unwrap();
        let none = "http://api.example/none";
        assert_eq!(
            preflights_per_run(Profile::Chromium, req.clone(), none),
            [1, 1]
        );
        assert_eq!(
            preflights_per_run(Profile::Firefox, req.clone(), none),
            [1, 1],
            "Firefox 153 ESR's fetch() too"
        );
        let xhr = Request::builder("http://app.example", "http://api.example/x")
            .method("PUT")
            .header("If-None-Match", "\"x\"")
            .initiator(Initiator::Xhr)
            .build()
            .unwrap();
        // (Firefox's cache ignores the helper's `*`: list the name.)
        let counts: Vec<usize> = preflights_twice(Profile::Firefox, &xhr, |_| {
            Response::new(204)
                .header("Access-Control-Allow-Origin", "http://app.example")
                .header("Access-Control-Allow-Methods", "PUT")
                .header("Access-Control-Allow-Headers", "if-none-match")
        });
        assert_eq!(counts, [1, 0], "but not its XHR");
        assert_eq!(preflights_per_run(Profile::Standard, req, none), [1, 0]);
    }

    /// Checked against Chromium 156 and Firefox 153 ESR: after api.example
    /// redirects to other.example the origin is `null`, and Chromium
    /// preflights that hop again on every run; the standard reuses the `null`
    /// cache entry, Firefox the entry it made with the page's origin.
    #[test]
    fn chromium_never_reuses_tainted_origin_preflights() {
        let req = Request::builder("http://app.example", "http://api.example/0")
            .method("PUT")
            .build()
            .unwrap();
        let other = "http://other.example/1";
        assert_eq!(
            preflights_per_run(Profile::Chromium, req.clone(), other),
            [2, 1]
        );
        assert_eq!(
            preflights_per_run(Profile::Firefox, req.clone(), other),
            [2, 0],
            "Firefox 153 ESR preflighted with the page's origin, and reuses that"
        );
        assert_eq!(preflights_per_run(Profile::Standard, req, other), [2, 0]);
    }

    /// Checked against Chromium 156: `fetch()` refuses a same-origin redirect
    /// to `http://user:pass@app.example/…`; XHR and the standard follow it.
    #[test]
    fn chromium_fetch_refuses_same_origin_redirect_with_userinfo() {
        let run = |profile, initiator| {
            let req = Request::builder("http://app.example", "http://app.example/0")
                .initiator(initiator)
                .build()
                .unwrap();
            Browser::new(profile)
                .run(req, |out| {
                    Ok::<_, ()>(if out.url.ends_with("/0") {
                        Response::new(302).header("Location", "http://u:p@app.example/1")
                    } else {
                        Response::new(200)
                    })
                })
                .unwrap()
        };
        let v = run(Profile::Chromium, Initiator::Fetch);
        assert!(!v.allowed);
        assert_eq!(v.reason.unwrap().code, "redirect_contains_credentials");
        assert!(run(Profile::Chromium, Initiator::Xhr).allowed);
        assert!(run(Profile::Standard, Initiator::Fetch).allowed);
    }

    /// Checked against Chromium 156: `no-cors` sends `Origin` only on methods
    /// other than GET and HEAD, stays opaque after a redirect back to the
    /// page's origin, is readable on the page's own origin, and refuses any
    /// method but GET, HEAD and POST when the request is built.
    #[test]
    fn no_cors_like_chromium() {
        let run = |method: &str, url: &str| {
            let req = Request::builder("http://app.example", url)
                .method(method)
                .mode(Mode::NoCors)
                .build()
                .unwrap();
            let mut origins = Vec::new();
            let v = Browser::new(Profile::Chromium)
                .run(req, |out| {
                    origins.push(out.headers.get_str("origin"));
                    Ok::<_, ()>(if out.url.ends_with("/0") {
                        Response::new(302).header("Location", "http://app.example/1")
                    } else {
                        Response::new(200).header("X-B", "1")
                    })
                })
                .unwrap();
            (v, origins)
        };
        let (v, origins) = run("GET", "http://api.example/0");
        assert!(!v.allowed && v.reason.is_none(), "opaque: {v:?}");
        assert_eq!(origins, [None, None]);
        let (_, origins) = run("POST", "http://api.example/0");
        assert_eq!(origins[0].as_deref(), Some("http://app.example"));
        let (v, _) = run("GET", "http://app.example/1");
        assert!(v.allowed);
        assert_eq!(v.exposed_headers, ["x-b"]);
        let put = Request::builder("http://app.example", "http://api.example/0")
            .method("PUT")
            .mode(Mode::NoCors)
            .build();
        assert!(matches!(put, Err(crate::RequestError::NoCorsMethod { .. })));
    }

    /// Checked against Chromium 156: a `no-cors` `POST` 308-redirected from
    /// the page's own origin to another carries `Origin: null` there (the
    /// network stack nulls it on any cross-origin redirect); the standard
    /// keeps the page's origin, since the redirect left a same-origin URL.
    #[test]
    fn chromium_nulls_a_no_cors_origin_after_a_cross_origin_redirect() {
        let origins = |profile| {
            let req = Request::builder("http://app.example", "http://app.example/0")
                .method("POST")
                .mode(Mode::NoCors)
                .build()
                .unwrap();
            let mut origins = Vec::new();
            Browser::new(profile)
                .run(req, |out| {
                    origins.push(out.headers.get_str("origin"));
                    Ok::<_, ()>(if out.url.ends_with("/0") {
                        Response::new(308).header("Location", "http://api.example/1")
                    } else {
                        Response::new(200)
                    })
                })
                .unwrap();
            origins
        };
        let page = Some("http://app.example".to_owned());
        assert_eq!(
            origins(Profile::Chromium),
            [page.clone(), Some("null".into())]
        );
        assert_eq!(origins(Profile::Standard), [page.clone(), page]);
    }

    /// Checked against Chromium 156, Firefox 153 ESR and WebKitGTK 2.50.6
    /// (`tests/headers_form.rs`): X-HTTP-Method-Override `PATCH` then `TRACE`
    /// in a `Headers` object reaches the request as one line `PATCH, TRACE`,
    /// which is forbidden, so no such header is sent; as pairs only the
    /// `TRACE` line is dropped and `PATCH` is preflighted and sent; in a
    /// plain object the last value (`TRACE`) wins and nothing is sent.
    #[test]
    fn a_forbidden_override_line_drops_what_its_form_joined_it_with() {
        let req = |form| {
            Request::builder("http://app.example", "http://api.example/x")
                .header("X-HTTP-Method-Override", "PATCH")
                .header("X-HTTP-Method-Override", "TRACE")
                .headers_form(form)
                .build()
                .unwrap()
        };
        for p in Profile::ALL {
            assert!(preflight_headers(p, req(HeadersForm::Headers)).is_empty());
            assert!(preflight_headers(p, req(HeadersForm::Record)).is_empty());
            assert_eq!(
                preflight_headers(p, req(HeadersForm::Pairs)),
                [Some("x-http-method-override".to_owned())]
            );
            assert_eq!(
                preflight_headers(p, req(HeadersForm::SetRequestHeader)),
                [Some("x-http-method-override".to_owned())]
            );
        }
    }
}
