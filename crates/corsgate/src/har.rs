//! `corsgate har`: reads a HAR export from Chrome or Firefox DevTools as a
//! stream (bounded memory, whatever the size: response bodies are skipped
//! unread), finds every cross-origin request by its `Origin` header, pairs each
//! preflight with its actual request, and judges them with the engine.
//!
//! A HAR does not record why a request was blocked (Chrome gives status 0 and
//! `net::ERR_FAILED`), nor the credentials mode, and sanitized exports drop
//! `Cookie` and `Authorization`: the reason is worked out from the headers that
//! are there, and what cannot be known is said in each result's notes.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::BufReader;

use corsgate_core::{
    safelist, Browser, Classification, Credentials, HeaderList, Origin, Profile, Request, Response,
    Stage, Verdict,
};
use serde::{Deserialize, Serialize};

use crate::cli::HarArgs;
use crate::hints;
use crate::render::Style;
use crate::report::{Asked, Exchange, Fix, Hint};

/// How many pending (not yet paired) preflights are kept at most.
const MAX_PENDING: usize = 10_000;

/// How many entries later a request's preflight may still come. Chromium
/// starts a request before its preflight, so DevTools (and tools that record
/// its events) list the request first, the preflight a few entries later;
/// a request that needs a preflight waits this long for it (bounded memory:
/// at most this many wait).
const PREFLIGHT_AFTER: usize = 1_000;

/// Why a HAR file could not be read.
#[derive(Debug)]
pub enum HarError {
    /// The file cannot be opened.
    Io(std::path::PathBuf, std::io::Error),
    /// It is not JSON, or not a HAR.
    Malformed(String),
}

impl fmt::Display for HarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HarError::Io(p, e) => write!(f, "cannot read {}: {e}", p.display()),
            HarError::Malformed(m) => write!(f, "not a valid HAR file: {m}"),
        }
    }
}

/// A header line, borrowed from the entry's bytes where it has no escapes
/// (most: a HAR of half a million entries then allocates no header).
#[derive(Debug, Deserialize)]
pub(crate) struct NameValue<'a> {
    #[serde(borrow)]
    pub(crate) name: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    pub(crate) value: std::borrow::Cow<'a, str>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct HarRequest<'a> {
    pub(crate) method: String,
    pub(crate) url: String,
    #[serde(default, borrow)]
    pub(crate) headers: Vec<NameValue<'a>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct HarResponse<'a> {
    #[serde(default)]
    pub(crate) status: i64,
    #[serde(default, borrow)]
    pub(crate) headers: Vec<NameValue<'a>>,
    #[serde(default, rename = "_error")]
    pub(crate) error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Entry<'a> {
    #[serde(default, rename = "startedDateTime")]
    pub(crate) started: String,
    /// Chrome's `_resourceType` (`fetch`, `xhr`, `preflight`, `document`...).
    #[serde(default, rename = "_resourceType")]
    pub(crate) resource_type: Option<String>,
    #[serde(borrow)]
    pub(crate) request: HarRequest<'a>,
    #[serde(borrow)]
    pub(crate) response: HarResponse<'a>,
}

/// The header lines of an entry, pseudo-headers left out. Some recording
/// tools write every line twice: when each distinct line of a list (at least
/// two of them) occurs an even number of times, the list is taken as doubled
/// and halved (`Sec-Fetch-Mode: cors, cors` would read as a non-CORS request;
/// two `Access-Control-Allow-Origin` lines as a refusal). A lone line sent
/// twice, among other single lines, is kept: servers really do that.
pub(crate) fn list(h: &[NameValue<'_>]) -> HeaderList {
    let lines: Vec<&NameValue<'_>> = h.iter().filter(|nv| !nv.name.starts_with(':')).collect();
    let same = |a: &NameValue<'_>, b: &NameValue<'_>| {
        a.value == b.value && a.name.eq_ignore_ascii_case(&b.name)
    };
    // How many times each line occurs (pairwise: header lists are short, and
    // nothing is allocated); an odd number of lines cannot be doubled.
    let doubled = lines.len() >= 4
        && lines.len().is_multiple_of(2)
        && lines.iter().any(|b| !same(lines[0], b))
        && lines.iter().all(|a| {
            lines
                .iter()
                .filter(|b| same(a, b))
                .count()
                .is_multiple_of(2)
        });
    if !doubled {
        return lines
            .into_iter()
            .map(|nv| (&*nv.name, nv.value.as_bytes()))
            .collect();
    }
    // Keep the first half of each line's occurrences, in order.
    lines
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            let before = lines[..*i].iter().filter(|b| same(a, b)).count();
            let total = lines.iter().filter(|b| same(a, b)).count();
            before < total / 2
        })
        .map(|(_, nv)| (&*nv.name, nv.value.as_bytes()))
        .collect()
}

/// One judged cross-origin request.
#[derive(Debug, Clone, Serialize)]
pub struct HarResult {
    /// The entry's index in the file (0-based).
    pub entry: usize,
    /// When it started.
    pub started: String,
    /// The method.
    pub method: String,
    /// The URL.
    pub url: String,
    /// The page's origin (the `Origin` header).
    pub origin: String,
    /// The status recorded (0 when the browser blocked or failed it).
    pub status: i64,
    /// Whether a preflight for it is in the file.
    pub preflight: bool,
    /// `allowed`, `refused` or `unknown` (cannot be told from the file).
    pub outcome: &'static str,
    /// The refusal's stable code.
    pub code: Option<&'static str>,
    /// The explanation.
    pub message: Option<String>,
    /// The fix (the shape of [`Fix`]; no snippet: `corsgate check` on the
    /// request gives one for the server it detects).
    pub fix: Option<Fix>,
    /// What the file cannot tell, and other remarks.
    pub notes: Vec<String>,
    /// Root causes beyond the first failed check (as `check` gives them).
    pub hints: Vec<Hint>,
}

/// The report of `corsgate har`.
#[derive(Debug, Clone, Serialize)]
pub struct HarReport {
    /// The tool that wrote the HAR (`log.creator.name`).
    pub creator: Option<String>,
    /// How many entries the file has.
    pub entries: usize,
    /// How many are cross-origin requests (preflights not counted).
    pub cross_origin: usize,
    /// How many preflights.
    pub preflights: usize,
    /// How many were or would be refused.
    pub failed: usize,
    /// How many cannot be judged from the file.
    pub unknown: usize,
    /// The judged requests (failures and unknowns; all with `--all`);
    /// empty for the human report, which keeps `groups` instead.
    pub results: Vec<HarResult>,
    /// Refusals and unknowns grouped, with one example each (the human
    /// report without `--all`, which keeps nothing else per request).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<HarGroup>,
}

struct Preflight {
    entry: usize,
    started: String,
    method: String,
    headers: Vec<String>,
    response: Response,
}

/// A cross-origin request as the file recorded it.
struct Recorded {
    entry: usize,
    started: String,
    method: String,
    url: String,
    origin: String,
    headers: HeaderList,
}

/// The answer the file recorded for it.
struct Actual {
    response: Response,
    /// Status 0 or an `_error`: the browser blocked or failed it.
    blocked: bool,
    /// False when it never reached the network (recorded with provisional
    /// headers: refused at its preflight).
    sent: bool,
}

/// A request waiting for a preflight recorded after it.
struct Waiting {
    rec: Recorded,
    actual: Actual,
    /// False for a failed request recorded with provisional headers only
    /// (no `Origin`: the request never reached the network because its
    /// preflight failed): it is a CORS request only if a preflight pairs it.
    has_origin: bool,
    /// Whether the model says it needs a preflight (else it only might):
    /// a preflight pairs with such a request first.
    sure: bool,
}

/// What the judge keeps of each result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every cross-origin request (`--all`).
    All,
    /// Refusals and unknowns (`--json`): memory grows with them.
    Failures,
    /// Counts per refusal and one example each (the human report): memory
    /// bounded whatever the file's size.
    Groups,
}

/// A refusal (or why a request cannot be judged), counted, with one example.
#[derive(Debug, Clone, Serialize)]
pub struct HarGroup {
    /// The refusal's code, or `cannot be judged: <why>`.
    pub key: String,
    /// How many requests.
    pub count: usize,
    /// Distinct URLs and origins among them (counted up to
    /// [`MAX_DISTINCT`] each).
    pub urls: usize,
    /// Distinct origins.
    pub origins: usize,
    /// The first one.
    pub example: HarResult,
    #[serde(skip)]
    url_set: std::collections::HashSet<u64>,
    #[serde(skip)]
    origin_set: std::collections::HashSet<u64>,
}

/// How many distinct URLs (and origins) a group counts.
pub const MAX_DISTINCT: usize = 100_000;

/// The group a result is counted in.
fn group_key(r: &HarResult) -> String {
    match (r.outcome, r.code) {
        ("refused", Some(code)) => code.to_owned(),
        ("refused", None) => "refused".to_owned(),
        _ => format!(
            "cannot be judged: {}",
            r.notes.first().map_or("(no note)", String::as_str)
        ),
    }
}

struct Judge {
    profile: Profile,
    keep: Keep,
    groups: Vec<HarGroup>,
    hasher: std::collections::hash_map::RandomState,
    entries: usize,
    creator: Option<String>,
    pending: HashMap<(String, String), Vec<Preflight>>,
    pending_count: usize,
    /// Pending preflights in file order, to judge the oldest alone when
    /// [`MAX_PENDING`] are waiting (bounded memory, nothing dropped).
    order: std::collections::VecDeque<((String, String), usize)>,
    /// Requests recorded before their preflight, oldest first.
    waiting: std::collections::VecDeque<Waiting>,
    cross_origin: usize,
    preflights: usize,
    failed: usize,
    unknown: usize,
    results: Vec<HarResult>,
}

/// Whether an entry with `Origin` is a request CORS can apply to: `None` for
/// navigations (a form POST), `no-cors` loads and WebSockets (they carry an
/// `Origin` too) and unparsable URLs; else whether it is same-origin (which
/// CORS leaves alone, but for where it redirects).
pub(crate) fn cors_request(e: &Entry<'_>, headers: &HeaderList, origin: &str) -> Option<bool> {
    if headers
        .get_str("sec-fetch-mode")
        .is_some_and(|m| !m.eq_ignore_ascii_case("cors"))
        || e.resource_type.as_deref() == Some("document")
    {
        return None;
    }
    let url = url::Url::parse(&e.request.url).ok()?;
    Some(
        origin != "null"
            && Origin::parse_header(origin).is_ok_and(|o| o.same_origin(&Origin::from_url(&url))),
    )
}

/// Whether a redirect's target is one a browser refuses to follow for a CORS
/// request, whatever it would answer: credentials in the URL, or a scheme
/// other than `http`/`https`.
fn refused_target(from: &str, r: &Response) -> bool {
    let target = r
        .headers
        .get_str("location")
        .and_then(|l| url::Url::parse(from).ok()?.join(&l).ok());
    target.is_some_and(|u| {
        !u.username().is_empty()
            || u.password().is_some()
            || !matches!(u.scheme(), "http" | "https")
    })
}

/// Headers the browser adds by itself (not script), ignoring the safelisted ones.
pub(crate) fn browser_added(name: &str) -> bool {
    corsgate_core::safelist::is_browser_added_request_header(name)
}

fn is_safelisted_name(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "accept" | "accept-language" | "content-language" | "content-type" | "range"
    )
}

impl Judge {
    fn entry(&mut self, index: usize, e: Entry<'_>) {
        self.entries += 1;
        self.expire_waiting(index);
        let req_headers = list(&e.request.headers);
        let Some(origin) = req_headers.get_str("origin") else {
            self.provisional(index, e, req_headers);
            return;
        };
        let Some(same_origin) = cors_request(&e, &req_headers, &origin) else {
            return;
        };
        let response = Response::with_headers(
            u16::try_from(e.response.status).unwrap_or(0),
            list(&e.response.headers),
        );
        // Same origin: CORS does not apply, unless the answer redirects where
        // a browser refuses to go (credentials in the URL): that is a refusal.
        let leaves =
            matches!(response.status, 0 | 300..=399) && refused_target(&e.request.url, &response);
        if same_origin && !leaves {
            return;
        }
        if e.request.method == "OPTIONS" {
            if let Some(m) = req_headers.get_str("access-control-request-method") {
                self.preflights += 1;
                let headers = req_headers
                    .get_str("access-control-request-headers")
                    .map(|v| {
                        v.split(',')
                            .map(|s| s.trim().to_ascii_lowercase())
                            .filter(|s| !s.is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
                let preflight = Preflight {
                    entry: index,
                    started: e.started,
                    method: m,
                    headers,
                    response,
                };
                // Its request, recorded before it?
                if let Some(w) = self.take_waiting(&origin, &e.request.url, &preflight) {
                    self.judge_waiting(w, Some(&preflight), origin);
                    return;
                }
                while self.pending_count >= MAX_PENDING {
                    self.evict_oldest();
                }
                let key = (origin, e.request.url.clone());
                self.pending_count += 1;
                if self.order.len() >= 2 * MAX_PENDING {
                    // Preflights paired since are still listed: keep only
                    // those pending, so the order stays bounded too.
                    let mut live: Vec<((String, String), usize)> = self
                        .pending
                        .iter()
                        .flat_map(|(k, v)| v.iter().map(move |p| (k.clone(), p.entry)))
                        .collect();
                    live.sort_by_key(|(_, entry)| *entry);
                    self.order = live.into();
                }
                self.order.push_back((key.clone(), index));
                self.pending.entry(key).or_default().push(preflight);
                return;
            }
        }
        let key = (origin.clone(), e.request.url.clone());
        let mut emptied = false;
        let preflight = self.pending.get_mut(&key).and_then(|v| {
            let i = v.iter().position(|p| p.method == e.request.method)?;
            let p = v.remove(i);
            emptied = v.is_empty();
            Some(p)
        });
        if preflight.is_some() {
            self.pending_count -= 1;
        }
        if emptied {
            // A paired URL keeps nothing: memory follows what is pending,
            // not how many URLs the file has.
            self.pending.remove(&key);
        }
        let actual = Actual {
            response,
            blocked: e.response.status == 0 || e.response.error.is_some(),
            sent: true,
        };
        let rec = Recorded {
            entry: index,
            started: e.started,
            method: e.request.method,
            url: e.request.url,
            origin,
            headers: req_headers,
        };
        if preflight.is_none() {
            if let Some(sure) = self.needs_preflight(&rec) {
                // Its preflight may be recorded after it.
                self.waiting.push_back(Waiting {
                    rec,
                    actual,
                    has_origin: true,
                    sure,
                });
                return;
            }
        }
        self.cross_origin += 1;
        let result = self.judge(&rec, preflight.as_ref(), Some(&actual));
        self.record(result);
    }

    /// Whether the request, as recorded, needs a preflight (`Some(true)`),
    /// might (`Some(false)`: it carries a header script may have set that
    /// the model or the recording can disagree on, such as `Cache-Control`,
    /// which DevTools also adds itself), or cannot (`None`).
    fn needs_preflight(&self, rec: &Recorded) -> Option<bool> {
        // The headers script may have set, judged as the browser judges them.
        let mut b =
            Request::builder(rec.origin.as_str(), rec.url.as_str()).method(rec.method.as_str());
        for (n, v) in rec.headers.iter() {
            if !browser_added(n)
                && !n
                    .to_ascii_lowercase()
                    .starts_with("access-control-request-")
            {
                b = b.header(n, v);
            }
        }
        let sure = b
            .build()
            .is_ok_and(|r| matches!(r.classify(self.profile), Classification::Preflight(_)));
        if sure {
            return Some(true);
        }
        let maybe = rec.headers.iter().any(|(n, _)| {
            let n = n.to_ascii_lowercase();
            !n.starts_with("sec-")
                && !n.starts_with(':')
                && !matches!(
                    n.as_str(),
                    "origin"
                        | "referer"
                        | "host"
                        | "connection"
                        | "cookie"
                        | "user-agent"
                        | "accept"
                        | "accept-encoding"
                        | "accept-language"
                        | "priority"
                        | "dnt"
                        | "upgrade-insecure-requests"
                        | "x-client-data"
                        | "content-length"
                )
        });
        maybe.then_some(false)
    }

    /// An entry without `Origin`: a request that failed before reaching
    /// the network is recorded with its provisional headers only (Chromium
    /// adds `Origin` in the network stack). If a preflight for the same URL
    /// and method follows, it was a CORS request refused at its preflight.
    fn provisional(&mut self, index: usize, e: Entry<'_>, headers: HeaderList) {
        let failed = e.response.status == 0 || e.response.error.is_some();
        let script = matches!(e.resource_type.as_deref(), None | Some("fetch" | "xhr"));
        if !failed || !script || headers.contains("access-control-request-method") {
            return;
        }
        let response = Response::with_headers(0, list(&e.response.headers));
        self.waiting.push_back(Waiting {
            rec: Recorded {
                entry: index,
                started: e.started,
                method: e.request.method,
                url: e.request.url,
                origin: String::new(),
                headers,
            },
            actual: Actual {
                response,
                blocked: true,
                sent: false,
            },
            has_origin: false,
            sure: true,
        });
    }

    /// The oldest request waiting for `origin`'s preflight `p` to its URL:
    /// the same method, and every header the preflight announces among the
    /// request's (or sanitized away: `Authorization`, `Cookie`).
    fn take_waiting(&mut self, origin: &str, url: &str, p: &Preflight) -> Option<Waiting> {
        let fits = |w: &Waiting| {
            w.rec.url == url
                && w.rec.method == p.method
                && (!w.has_origin || w.rec.origin == origin)
                // Provisional headers (a hop after a redirect) may lack
                // the script's own.
                && (!w.has_origin
                    || p.headers.iter().all(|h| {
                        w.rec.headers.contains(h) || matches!(h.as_str(), "authorization" | "cookie")
                    }))
        };
        let i = self
            .waiting
            .iter()
            .position(|w| w.sure && fits(w))
            .or_else(|| self.waiting.iter().position(fits))?;
        self.waiting.remove(i)
    }

    fn judge_waiting(&mut self, mut w: Waiting, preflight: Option<&Preflight>, origin: String) {
        if !w.has_origin {
            w.rec.origin = origin;
        }
        self.cross_origin += 1;
        let result = self.judge(&w.rec, preflight, Some(&w.actual));
        self.record(result);
    }

    /// Requests whose preflight did not come within [`PREFLIGHT_AFTER`]
    /// entries (or by the end of the file, `index` = `usize::MAX`): judged
    /// without it; a provisional one was not shown to be a CORS request.
    fn expire_waiting(&mut self, index: usize) {
        while self
            .waiting
            .front()
            .is_some_and(|w| w.rec.entry.saturating_add(PREFLIGHT_AFTER) <= index)
        {
            let Some(w) = self.waiting.pop_front() else {
                break;
            };
            if w.has_origin {
                let origin = w.rec.origin.clone();
                self.judge_waiting(w, None, origin);
            }
        }
    }

    fn record(&mut self, r: HarResult) {
        match r.outcome {
            "refused" => self.failed += 1,
            "unknown" => self.unknown += 1,
            _ => {}
        }
        match self.keep {
            Keep::All => self.results.push(r),
            Keep::Failures if r.outcome != "allowed" => self.results.push(r),
            Keep::Groups if r.outcome != "allowed" => self.group(r),
            _ => {}
        }
    }

    /// Counts `r` in its group (the human report), keeping only the first
    /// of each as the example.
    fn group(&mut self, r: HarResult) {
        use std::hash::BuildHasher;
        let key = group_key(&r);
        let (url, origin) = (
            self.hasher.hash_one(r.url.as_str()),
            self.hasher.hash_one(r.origin.as_str()),
        );
        let g = match self.groups.iter().position(|g| g.key == key) {
            Some(i) => &mut self.groups[i],
            None => {
                self.groups.push(HarGroup {
                    key,
                    count: 0,
                    urls: 0,
                    origins: 0,
                    example: r,
                    url_set: Default::default(),
                    origin_set: Default::default(),
                });
                let last = self.groups.len() - 1;
                &mut self.groups[last]
            }
        };
        g.count += 1;
        if g.url_set.len() < MAX_DISTINCT {
            g.url_set.insert(url);
        }
        if g.origin_set.len() < MAX_DISTINCT {
            g.origin_set.insert(origin);
        }
        g.urls = g.url_set.len();
        g.origins = g.origin_set.len();
    }

    /// Builds the script's request from what the file recorded.
    fn request(
        &self,
        rec: &Recorded,
        preflight: Option<&Preflight>,
        credentials: Credentials,
        notes: &mut Vec<String>,
    ) -> Option<Request> {
        let headers = &rec.headers;
        // `null` (after a cross-origin redirect) parses as an opaque origin.
        let mut b = Request::builder(rec.origin.as_str(), rec.url.as_str())
            .method(rec.method.as_str())
            .credentials(credentials);
        let mut custom = Vec::new();
        for (n, v) in headers.iter() {
            let lower = n.to_ascii_lowercase();
            let asked = preflight.is_some_and(|p| p.headers.contains(&lower));
            if is_safelisted_name(n) || asked {
                b = b.header(n, v);
            } else if !browser_added(n)
                && !safelist::is_forbidden_request_header(n, v)
                && !lower.starts_with("access-control-request-")
            {
                custom.push(lower);
            }
        }
        if let Some(p) = preflight {
            for h in &p.headers {
                if !headers.contains(h) {
                    // Sanitized away (e.g. Authorization): a value that keeps it unsafe.
                    b = b.header(h.clone(), "\"");
                }
            }
        }
        if !custom.is_empty() && preflight.is_none() {
            notes.push(format!(
                "the request carries {} but no preflight for it is in the file (answered from the preflight cache, or not recorded): only the response itself was judged",
                custom.join(", ")
            ));
        }
        b.build().ok()
    }

    fn judge(
        &self,
        rec: &Recorded,
        preflight: Option<&Preflight>,
        actual: Option<&Actual>,
    ) -> HarResult {
        let mut notes = Vec::new();
        let mut result = HarResult {
            entry: rec.entry,
            started: rec.started.clone(),
            method: rec.method.clone(),
            url: rec.url.clone(),
            origin: rec.origin.clone(),
            status: actual.map_or(0, |a| i64::from(a.response.status)),
            preflight: preflight.is_some(),
            outcome: "unknown",
            code: None,
            message: None,
            fix: None,
            notes: Vec::new(),
            hints: Vec::new(),
        };
        let has_cookie = rec.headers.contains("cookie");
        let creds = if has_cookie {
            notes.push("a Cookie header was sent: judged with credentials included".into());
            Credentials::Include
        } else {
            Credentials::SameOrigin
        };
        // A request that never reached the network has no answer of its own.
        let answer = actual.filter(|a| a.sent);
        let run = |creds: Credentials, notes: &mut Vec<String>| -> Option<Verdict> {
            let request = self.request(rec, preflight, creds, notes)?;
            let mut browser = Browser::new(self.profile);
            browser
                .run(request, |out| match out.stage {
                    Stage::Preflight => match preflight {
                        Some(p) => Ok(p.response.clone()),
                        None => Err(()),
                    },
                    _ => match answer {
                        Some(a) => {
                            let mut r = a.response.clone();
                            // A redirect the browser refused to follow is
                            // recorded with status 0 and its `Location`.
                            if r.status == 0 && r.headers.contains("location") {
                                r.status = 302;
                            }
                            // Redirect hops are separate entries: judge this
                            // hop alone, unless the browser refuses to follow
                            // it whatever comes next (credentials in the URL,
                            // a scheme other than HTTP(S)).
                            if r.is_redirect_status() && !refused_target(&rec.url, &r) {
                                r.headers.remove("location");
                            }
                            Ok(r)
                        }
                        None => Err(()),
                    },
                })
                .ok()
        };
        let mut scratch = Vec::new();
        let mut used = creds;
        let verdict = run(creds, &mut notes);
        let Some(mut verdict) = verdict else {
            if actual.is_some_and(|a| !a.sent) && preflight.is_some() {
                // Refused at its preflight, which passes as judged: the
                // page's credentials mode is the one thing a HAR hides.
                if !has_cookie {
                    if let Some(v) = run(Credentials::Include, &mut scratch) {
                        if !v.allowed {
                            notes.push("the browser refused it at its preflight, which fails only with credentials: the page probably sends cookies (`credentials: 'include'`); a HAR does not record the credentials mode".into());
                            result.hints =
                                self.hints(rec, preflight, None, Credentials::Include, &v);
                            return self.finish(result, Some(v), notes, false);
                        }
                    }
                }
                notes.push("the browser refused it before sending it, yet the recorded preflight passes: run `corsgate check` on it to see why".into());
                result.outcome = "unknown";
                result.notes = notes;
                return result;
            }
            // The model needs a response the file does not have.
            if let (None, Some(actual)) = (preflight, actual) {
                notes.push("it needs a preflight that is not in the file: only the response itself can be judged, assuming the preflight passed".into());
                let judged = self.judge_without_preflight(rec, creds, actual);
                return self.finish(result, judged, notes, actual.response.headers.is_empty());
            }
            notes.push("the browser passed the preflight, so it sent the request itself, which is not in the file".into());
            result.outcome = "unknown";
            result.notes = notes;
            return result;
        };
        if verdict.allowed
            && !has_cookie
            && actual.is_some_and(|a| a.blocked && !a.response.headers.is_empty())
        {
            // The browser failed it, our model passes it without credentials: try with.
            if let Some(v) = run(Credentials::Include, &mut scratch) {
                if !v.allowed {
                    notes.push("the browser blocked it and it fails only with credentials: the page probably sends cookies (`credentials: 'include'`); a HAR does not record the credentials mode".into());
                    verdict = v;
                    used = Credentials::Include;
                }
            }
        }
        if !verdict.allowed {
            result.hints = self.hints(rec, preflight, actual, used, &verdict);
        }
        // Whether the answer the refusal is about has nothing recorded.
        let unrecorded = match verdict.reason.as_ref().map(|r| r.stage) {
            Some(Stage::Preflight) => preflight.is_none_or(|p| p.response.headers.is_empty()),
            _ => answer.is_none_or(|a| a.response.headers.is_empty()),
        };
        self.finish(result, Some(verdict), notes, unrecorded)
    }

    /// The root-cause hints `check` would give, from the recorded answers.
    fn hints(
        &self,
        rec: &Recorded,
        preflight: Option<&Preflight>,
        actual: Option<&Actual>,
        credentials: Credentials,
        verdict: &Verdict,
    ) -> Vec<Hint> {
        let mut scratch = Vec::new();
        let Some(request) = self.request(rec, preflight, credentials, &mut scratch) else {
            return Vec::new();
        };
        let exchange = |stage: Stage, method: &str, response: &Response| Exchange {
            stage,
            method: method.to_owned(),
            url: rec.url.clone(),
            request_headers: Vec::new(),
            status: response.status,
            response_headers: Vec::new(),
            response: response.clone(),
        };
        let mut exchanges = Vec::new();
        if let Some(p) = preflight {
            exchanges.push(exchange(Stage::Preflight, "OPTIONS", &p.response));
        }
        if let Some(a) = actual {
            exchanges.push(exchange(Stage::Actual, &rec.method, &a.response));
        }
        let asked = Asked {
            origin: request.origin().as_str().to_owned(),
            url: rec.url.clone(),
            method: rec.method.clone(),
            headers: Vec::new(),
            credentials: credentials.name(),
            browser: self.profile.name(),
            origin_argument: None,
        };
        hints::find(&request, &asked, verdict, &exchanges, None)
            .into_iter()
            .filter(|h| h.code != "headers_not_exposed")
            .collect()
    }

    fn judge_without_preflight(
        &self,
        rec: &Recorded,
        creds: Credentials,
        actual: &Actual,
    ) -> Option<Verdict> {
        let mut scratch = Vec::new();
        let request = self.request(rec, None, creds, &mut scratch)?;
        let page = request.origin().as_str().to_owned();
        let assumed = Response::new(204)
            .header("Access-Control-Allow-Origin", &page)
            .header("Access-Control-Allow-Credentials", "true")
            .header("Access-Control-Allow-Methods", &rec.method)
            .header(
                "Access-Control-Allow-Headers",
                request
                    .preflight_reasons(self.profile)
                    .request_headers_value(),
            );
        let mut r = actual.response.clone();
        if r.is_redirect_status() {
            r.headers.remove("location");
        }
        Browser::new(self.profile)
            .run(request, |out| {
                Ok::<_, ()>(if out.stage == Stage::Preflight {
                    assumed.clone()
                } else {
                    r.clone()
                })
            })
            .ok()
    }

    fn finish(
        &self,
        mut result: HarResult,
        verdict: Option<Verdict>,
        mut notes: Vec<String>,
        unrecorded: bool,
    ) -> HarResult {
        match verdict {
            Some(v) if v.allowed => {
                result.outcome = "allowed";
            }
            Some(v) => {
                let reason = v.reason.as_ref();
                // A status-0 answer with no headers: the file has nothing to judge.
                let nothing = v.refusal().is_some_and(|r| {
                    matches!(
                        r,
                        corsgate_core::Refusal::MissingAllowOrigin { status: 0, .. }
                    )
                }) && unrecorded;
                if nothing {
                    result.outcome = "unknown";
                    notes.push("the file has no response for it (status 0: blocked or failed before an answer was recorded); run `corsgate check` on it to see why".into());
                } else {
                    result.outcome = "refused";
                    result.code = reason.map(|r| r.code);
                    result.message = reason.map(|r| r.message.clone());
                    result.fix = reason.map(|r| Fix::from(r.remedy.clone()));
                }
            }
            None => {
                result.outcome = "unknown";
            }
        }
        result.notes = notes;
        result
    }

    /// The oldest preflight still waiting for its request is judged alone
    /// (as at the end of the file); a request that comes after it is judged
    /// without it, with a note.
    fn evict_oldest(&mut self) {
        while let Some((key, entry)) = self.order.pop_front() {
            let Some(list) = self.pending.get_mut(&key) else {
                continue;
            };
            let Some(i) = list.iter().position(|p| p.entry == entry) else {
                continue;
            };
            let p = list.remove(i);
            if list.is_empty() {
                self.pending.remove(&key);
            }
            self.pending_count -= 1;
            self.judge_leftover(key, p);
            return;
        }
        // Nothing in the order: the count cannot be trusted, start over.
        self.pending_count = self.pending.values().map(Vec::len).sum();
    }

    /// Preflights whose request never came: judge the preflight alone.
    fn leftovers(&mut self) {
        self.expire_waiting(usize::MAX);
        let pending = std::mem::take(&mut self.pending);
        self.order.clear();
        self.pending_count = 0;
        let mut all: Vec<((String, String), Preflight)> = pending
            .into_iter()
            .flat_map(|(k, v)| v.into_iter().map(move |p| (k.clone(), p)))
            .collect();
        all.sort_by_key(|(_, p)| p.entry);
        for (key, p) in all {
            self.judge_leftover(key, p);
        }
        self.results.sort_by_key(|r| r.entry);
    }

    fn judge_leftover(&mut self, (origin, url): (String, String), p: Preflight) {
        {
            self.cross_origin += 1;
            let mut headers = HeaderList::new();
            for h in &p.headers {
                headers.append(h.clone(), "\"");
            }
            let rec = Recorded {
                entry: p.entry,
                started: p.started.clone(),
                method: p.method.clone(),
                url,
                origin,
                headers,
            };
            let rec_method = rec.method.clone();
            let mut r = self.judge(&rec, Some(&p), None);
            r.status = i64::from(p.response.status);
            match r.outcome {
                "unknown" => {
                    r.notes = vec![
                        "the preflight passed, but the request itself is not in the file".into(),
                    ]
                }
                "refused" => r.notes.push(format!(
                    "the status is the preflight's: it failed, so the browser never sent the {} itself",
                    rec_method
                )),
                _ => {}
            }
            self.record(r);
        }
    }
}

#[derive(Deserialize)]
struct Creator {
    #[serde(default)]
    name: Option<String>,
}

mod split;

pub use split::SplitError;
use split::Splitter;

impl From<SplitError> for HarError {
    fn from(e: SplitError) -> HarError {
        HarError::Malformed(match e {
            SplitError::Io(e) => format!("reading failed: {e}"),
            SplitError::Syntax(m) => m,
        })
    }
}

/// A JSON string key as text (HAR keys carry no escapes worth keeping).
fn key_of(raw: &[u8]) -> Result<String, String> {
    serde_json::from_slice::<String>(raw).map_err(|e| format!("a key that is not a string ({e})"))
}

/// Walks `{"log": {"creator": …, "entries": [ … ]}}`, handing each entry to
/// the judge as soon as it is read; true when `log.entries` was found.
/// What reads a HAR's entries one by one as [`walk`] finds them.
pub(crate) trait EntrySink {
    /// The index the next entry gets.
    fn next_index(&self) -> usize;
    /// One entry.
    fn entry(&mut self, index: usize, e: Entry<'_>);
    /// `log.creator.name`.
    fn creator(&mut self, name: Option<String>);
}

impl EntrySink for Judge {
    fn next_index(&self) -> usize {
        self.entries
    }
    fn entry(&mut self, index: usize, e: Entry<'_>) {
        Judge::entry(self, index, e);
    }
    fn creator(&mut self, name: Option<String>) {
        self.creator = name;
    }
}

/// Reads a whole HAR from `reader` into `sink`, entry by entry (bounded
/// memory); an error names what is malformed and where.
pub(crate) fn read_entries(
    reader: impl std::io::Read,
    sink: &mut impl EntrySink,
) -> Result<(), HarError> {
    let mut sp = Splitter::new(reader);
    let found = walk(&mut sp, sink)?;
    if !sp.at_end()? {
        return Err(sp.here("more after the HAR object").into());
    }
    if !found {
        return Err(HarError::Malformed(
            "no \"log\" object with \"entries\" (is this a HAR export?)".into(),
        ));
    }
    Ok(())
}

/// Walks the members of a JSON object, handing each key to `member`, which
/// must read its value; true when `member` returned true for any of them.
fn members<R: std::io::Read>(
    sp: &mut Splitter<R>,
    mut member: impl FnMut(&mut Splitter<R>, &str) -> Result<bool, HarError>,
) -> Result<bool, HarError> {
    sp.expect(b'{', "a JSON object")?;
    let mut found = false;
    if sp.peek()? == Some(b'}') {
        sp.expect(b'}', "`}`")?;
        return Ok(false);
    }
    loop {
        let key = key_of(sp.value()?).map_err(|m| sp.here(&m))?;
        sp.expect(b':', "`:`")?;
        found |= member(sp, &key)?;
        if sp.comma_or(b'}')? {
            return Ok(found);
        }
    }
}

/// `{"log": {…}}`: true when `log.entries` was found.
fn walk<R: std::io::Read>(
    sp: &mut Splitter<R>,
    judge: &mut impl EntrySink,
) -> Result<bool, HarError> {
    members(sp, |sp, key| {
        if key == "log" && sp.peek()? == Some(b'{') {
            walk_log(sp, judge)
        } else {
            sp.value()?;
            Ok(false)
        }
    })
}

/// `log`: its creator and its entries, each handed to `judge` when read.
fn walk_log<R: std::io::Read>(
    sp: &mut Splitter<R>,
    judge: &mut impl EntrySink,
) -> Result<bool, HarError> {
    members(sp, |sp, key| match key {
        "entries" => {
            sp.expect(b'[', "the list of entries")?;
            let mut index = judge.next_index();
            if sp.peek()? == Some(b']') {
                sp.expect(b']', "`]`")?;
                return Ok(true);
            }
            loop {
                let raw = sp.value()?;
                let e: Entry<'_> = serde_json::from_slice(raw)
                    .map_err(|e| HarError::Malformed(format!("entry {index}: {e}")))?;
                judge.entry(index, e);
                index += 1;
                if sp.comma_or(b']')? {
                    return Ok(true);
                }
            }
        }
        "creator" => {
            let c: Creator = serde_json::from_slice(sp.value()?)
                .map_err(|e| HarError::Malformed(format!("log.creator: {e}")))?;
            judge.creator(c.name);
            Ok(false)
        }
        _ => {
            sp.value()?;
            Ok(false)
        }
    })
}

/// Reads and judges a HAR from any reader.
pub fn judge_reader(
    reader: impl std::io::Read,
    profile: Profile,
    keep: Keep,
) -> Result<HarReport, HarError> {
    let mut judge = Judge {
        profile,
        keep,
        groups: Vec::new(),
        hasher: Default::default(),
        entries: 0,
        creator: None,
        pending: HashMap::new(),
        pending_count: 0,
        order: std::collections::VecDeque::new(),
        waiting: std::collections::VecDeque::new(),
        cross_origin: 0,
        preflights: 0,
        failed: 0,
        unknown: 0,
        results: Vec::new(),
    };
    read_entries(reader, &mut judge)?;
    judge.leftovers();
    Ok(HarReport {
        creator: judge.creator,
        entries: judge.entries,
        cross_origin: judge.cross_origin,
        preflights: judge.preflights,
        failed: judge.failed,
        unknown: judge.unknown,
        results: judge.results,
        groups: {
            let mut g = judge.groups;
            // Refusals first, then unknowns; the larger groups first in each.
            g.sort_by_key(|g| {
                (
                    g.key.starts_with("cannot be judged"),
                    std::cmp::Reverse(g.count),
                )
            });
            g
        },
    })
}

/// Runs `corsgate har`: the file, or standard input for `-`; gzip-compressed
/// (`.har.gz`, told by its first bytes, not its name) or not.
pub fn run(args: &HarArgs) -> Result<HarReport, HarError> {
    let profile = args.browser.into();
    let keep = match (args.all, args.json) {
        (true, _) => Keep::All,
        (false, true) => Keep::Failures,
        (false, false) => Keep::Groups,
    };
    judge_reader(open(&args.file)?, profile, keep)
}

/// Opens a HAR for reading: the file, or standard input for `-`; inflated
/// when gzip-compressed (told by its first bytes, not its name); with a
/// progress line when standard error is a terminal.
pub(crate) fn open(file: &std::path::Path) -> Result<Box<dyn std::io::Read>, HarError> {
    let io = |e| HarError::Io(file.to_path_buf(), e);
    let (input, total): (Box<dyn std::io::Read>, Option<u64>) = if file.as_os_str() == "-" {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let f = File::open(file).map_err(io)?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(f), len)
    };
    let input: Box<dyn std::io::Read> = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        Box::new(Progress::new(input, total))
    } else {
        input
    };
    let mut reader = BufReader::with_capacity(256 * 1024, input);
    let gzip = {
        use std::io::BufRead;
        reader.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b])
    };
    Ok(if gzip {
        let inflated = flate2::bufread::MultiGzDecoder::new(reader);
        Box::new(BufReader::with_capacity(256 * 1024, inflated))
    } else {
        Box::new(reader)
    })
}

/// A reader that shows on standard error (a terminal) how much of the file
/// was read, at most ten times a second, and clears the line at the end.
struct Progress<R> {
    inner: R,
    read: u64,
    total: Option<u64>,
    shown: std::time::Instant,
    started: std::time::Instant,
}

impl<R> Progress<R> {
    fn new(inner: R, total: Option<u64>) -> Self {
        let now = std::time::Instant::now();
        Progress {
            inner,
            read: 0,
            total,
            shown: now,
            started: now,
        }
    }

    fn show(&self) {
        let mb = |b: u64| b as f64 / 1e6;
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let line = match self.total {
            Some(t) if t > 0 => format!(
                "\rcorsgate har: {:.0} of {:.0} MB ({:.0}%), {:.0} MB/s ",
                mb(self.read),
                mb(t),
                100.0 * self.read as f64 / t as f64,
                mb(self.read) / secs
            ),
            _ => format!(
                "\rcorsgate har: {:.0} MB, {:.0} MB/s ",
                mb(self.read),
                mb(self.read) / secs
            ),
        };
        let mut err = std::io::stderr().lock();
        let _ = std::io::Write::write_all(&mut err, line.as_bytes());
    }
}

impl<R: std::io::Read> std::io::Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if n == 0 {
            // The end: clear the line.
            let mut err = std::io::stderr().lock();
            let _ = std::io::Write::write_all(&mut err, b"\r\x1b[2K");
        } else if self.shown.elapsed() >= std::time::Duration::from_millis(100) {
            self.shown = std::time::Instant::now();
            self.show();
        }
        Ok(n)
    }
}

fn short(url: &str, max: usize) -> String {
    if url.chars().count() <= max {
        url.to_owned()
    } else {
        let s: String = url.chars().take(max.saturating_sub(1)).collect();
        format!("{s}…")
    }
}

/// The human report.
pub fn render(report: &HarReport, st: &Style, all: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} entries{}: {} cross-origin requests, {} preflights; {} refused, {} cannot be judged from the file",
        st.bold("corsgate har:"),
        report.entries,
        report
            .creator
            .as_deref()
            .map(|c| format!(" (from {c})"))
            .unwrap_or_default(),
        report.cross_origin,
        report.preflights,
        report.failed,
        report.unknown
    );
    if report.results.is_empty() && report.groups.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            st.ok(if report.cross_origin == 0 {
                "no cross-origin requests in this file"
            } else {
                "every cross-origin request passes"
            })
        );
        return out;
    }
    out.push('\n');
    if all {
        for r in &report.results {
            result_lines(&mut out, st, r);
        }
    } else {
        grouped(&mut out, st, report);
    }
    if !all {
        let _ = writeln!(
            out,
            "\n{}",
            st.dim(
                "(grouped by refusal, one example each; --all lists every cross-origin request)"
            )
        );
    }
    out
}

/// One request: its line, the refusal, causes and notes.
fn result_lines(out: &mut String, st: &Style, r: &HarResult) {
    let mark = match r.outcome {
        "allowed" => st.ok("ALLOWED"),
        "refused" => st.bad("REFUSED"),
        _ => st.warn("UNKNOWN"),
    };
    let _ = writeln!(
        out,
        "#{:<4} {mark} {} {} from {} (status {}{})",
        r.entry,
        r.method,
        short(&r.url, 80),
        r.origin,
        r.status,
        if r.preflight { ", preflighted" } else { "" }
    );
    if let (Some(code), Some(m)) = (r.code, &r.message) {
        let _ = writeln!(out, "      {}: {m}", st.bold(code));
    }
    for h in &r.hints {
        let _ = writeln!(out, "      {} {}", st.warn("cause:"), h.message);
    }
    for n in &r.notes {
        let _ = writeln!(out, "      {}", st.dim(&format!("note: {n}")));
    }
}

/// The failures grouped by refusal code and the unknowns by why they cannot
/// be judged, most frequent first, each with its count and one example.
fn grouped(out: &mut String, st: &Style, report: &HarReport) {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let at_most = |n: usize| {
        if n >= MAX_DISTINCT {
            format!("at least {n}")
        } else {
            n.to_string()
        }
    };
    for g in &report.groups {
        let _ = writeln!(
            out,
            "{} — {} request{} ({} URL{}, {} origin{})",
            st.bold(&g.key),
            g.count,
            plural(g.count),
            at_most(g.urls),
            plural(g.urls),
            at_most(g.origins),
            plural(g.origins),
        );
        result_lines(out, st, &g.example);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Read;

    #[test]
    fn browser_added_and_safelisted_names() {
        for n in [
            "Sec-Fetch-Mode",
            "sec-ch-ua",
            ":authority",
            "User-Agent",
            "DNT",
            "X-Client-Data",
            "If-None-Match",
        ] {
            assert!(browser_added(n), "{n}");
            assert!(!is_safelisted_name(n), "{n}");
        }
        for n in [
            "Accept",
            "accept-language",
            "Content-Language",
            "CONTENT-TYPE",
            "Range",
        ] {
            assert!(is_safelisted_name(n), "{n}");
            assert!(!browser_added(n), "{n}");
        }
        for n in ["Authorization", "X-Token", "Cookie", "Origin", "secret"] {
            assert!(!browser_added(n) && !is_safelisted_name(n), "{n}");
        }
    }

    #[test]
    fn short_urls_keep_their_length_in_characters() {
        let cases = [
            ("https://a.example/", 40, "https://a.example/"),
            ("https://a.example/", 18, "https://a.example/"),
            ("https://a.example/x", 18, "https://a.example…"),
            ("https://ä.example/ü", 10, "https://ä…"),
            ("abc", 1, "…"),
            ("abc", 0, "…"),
        ];
        for (url, max, want) in cases {
            let got = short(url, max);
            assert_eq!(got, want, "{url} {max}");
            assert!(got.chars().count() <= max.max(1));
        }
    }

    /// One generated HAR entry: a GET from `origin` to `url` and its answer.
    #[derive(Debug, Clone)]
    struct Gen {
        origin: &'static str,
        url: &'static str,
        status: i64,
        acao: Option<&'static str>,
        cookie: bool,
    }

    fn har_of(entries: &[Gen]) -> String {
        let entries: Vec<serde_json::Value> = entries
            .iter()
            .map(|g| {
                let mut req = vec![
                    serde_json::json!({"name": "Origin", "value": g.origin}),
                    serde_json::json!({"name": "Sec-Fetch-Mode", "value": "cors"}),
                ];
                if g.cookie {
                    req.push(serde_json::json!({"name": "Cookie", "value": "s=1"}));
                }
                let resp: Vec<serde_json::Value> = g
                    .acao
                    .map(|v| serde_json::json!({"name": "Access-Control-Allow-Origin", "value": v}))
                    .into_iter()
                    .collect();
                serde_json::json!({
                    "startedDateTime": "2026-01-01T00:00:00Z",
                    "request": {"method": "GET", "url": g.url, "headers": req},
                    "response": {"status": g.status, "headers": resp},
                })
            })
            .collect();
        serde_json::json!({"log": {"creator": {"name": "gen"}, "entries": entries}}).to_string()
    }

    fn gen() -> impl Strategy<Value = Gen> {
        (
            prop::sample::select(vec!["https://app.example", "https://api.example", "null"]),
            prop::sample::select(vec!["https://api.example/items", "https://app.example/me"]),
            prop::sample::select(vec![200i64, 0, 404, 500]),
            prop::option::of(prop::sample::select(vec![
                "https://app.example",
                "https://api.example",
                "*",
                "null",
            ])),
            any::<bool>(),
        )
            .prop_map(|(origin, url, status, acao, cookie)| Gen {
                origin,
                url,
                status,
                acao,
                cookie,
            })
    }

    proptest! {
        /// The counts agree with the results, same-origin requests are not
        /// counted, every refusal carries its code and a fix, and the three
        /// ways of keeping results see the same requests.
        #[test]
        fn counts_results_and_fixes_agree(entries in prop::collection::vec(gen(), 0..24)) {
            let text = har_of(&entries);
            let all = judge_reader(text.as_bytes(), Profile::Chromium, Keep::All).expect("a valid HAR");
            let same_origin = entries
                .iter()
                .filter(|g| g.url.starts_with(g.origin))
                .count();
            prop_assert_eq!(all.entries, entries.len());
            prop_assert_eq!(all.cross_origin, entries.len() - same_origin);
            prop_assert_eq!(all.results.len(), all.cross_origin);
            let count = |o: &str| all.results.iter().filter(|r| r.outcome == o).count();
            prop_assert_eq!(all.failed, count("refused"));
            prop_assert_eq!(all.unknown, count("unknown"));
            for r in &all.results {
                let g = &entries[r.entry];
                match r.outcome {
                    "refused" => {
                        prop_assert!(r.code.is_some());
                        let fix = r.fix.as_ref().expect("a refusal has a fix");
                        prop_assert!(!fix.sentence.is_empty());
                        prop_assert!(fix.stage.is_some() && fix.url.is_some());
                        // Never advice corsgate forbids.
                        for (n, v) in &fix.set_headers {
                            if n.eq_ignore_ascii_case("access-control-allow-origin") {
                                prop_assert!(v != "null" && v != "*", "{:?}", fix);
                            }
                        }
                    }
                    _ => prop_assert!(r.fix.is_none() && r.code.is_none()),
                }
                if g.status == 200 && g.acao == Some(g.origin) && g.origin != "null" && !g.cookie {
                    prop_assert_eq!(r.outcome, "allowed", "{:?}", g);
                }
                if g.status == 200 && g.acao.is_none() {
                    prop_assert_eq!(r.outcome, "refused", "{:?}", g);
                }
            }
            let failures = judge_reader(text.as_bytes(), Profile::Chromium, Keep::Failures).expect("valid");
            let not_allowed: Vec<usize> = all.results.iter().filter(|r| r.outcome != "allowed").map(|r| r.entry).collect();
            let kept: Vec<usize> = failures.results.iter().map(|r| r.entry).collect();
            prop_assert_eq!(kept, not_allowed);
            let groups = judge_reader(text.as_bytes(), Profile::Chromium, Keep::Groups).expect("valid");
            prop_assert!(groups.results.is_empty());
            prop_assert_eq!(groups.groups.iter().map(|g| g.count).sum::<usize>(), all.failed + all.unknown);
        }

        /// Any bytes: an error or a report, never a panic.
        #[test]
        fn any_input_is_a_report_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = judge_reader(&bytes[..], Profile::Chromium, Keep::All);
        }

        /// A valid HAR cut anywhere: an error or a report, never a panic.
        #[test]
        fn a_truncated_har_is_an_error_not_a_panic(entries in prop::collection::vec(gen(), 1..6), cut in 0usize..2000) {
            let text = har_of(&entries);
            let cut = cut.min(text.len());
            let _ = judge_reader(&text.as_bytes()[..cut], Profile::Chromium, Keep::All);
        }
    }

    #[test]
    fn progress_passes_every_byte_through() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut p = Progress::new(&data[..], Some(data.len() as u64));
        let mut out = Vec::new();
        let mut chunk = [0u8; 777];
        loop {
            let n = p.read(&mut chunk).expect("reads");
            if n == 0 {
                break;
            }
            out.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(out, data);
        assert_eq!(p.read, data.len() as u64);
    }
}
