//! One conformance case: the request a page's script makes and, hop by hop,
//! what the target server answers to its preflight and to the request itself.
//!
//! A case is symbolic (it says "echo the Origin", "the page origin with a
//! trailing slash"), so the same matrix runs on any ports. [`Case::respond`]
//! turns it into exact response bytes; the loopback server and every judge
//! call that one function, so the browser and the engine see the very same
//! responses.

use std::fmt;

use corsgate_core::{Credentials, HeadersForm, Initiator, Mode, Request, RequestError};

/// Which script API (or tool) makes the request. Each has its own URLs, so
/// preflight caches and server logs never mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Api {
    /// `fetch()`.
    Fetch,
    /// `XMLHttpRequest`.
    Xhr,
    /// `corsgate check` (reserved for the CLI judge).
    Check,
}

/// The APIs the page exercises.
pub const BROWSER_APIS: [Api; 2] = [Api::Fetch, Api::Xhr];

impl Api {
    /// The URL path segment.
    pub fn segment(self) -> &'static str {
        match self {
            Api::Fetch => "f",
            Api::Xhr => "x",
            Api::Check => "c",
        }
    }
    /// Parses a path segment.
    pub fn from_segment(s: &str) -> Option<Api> {
        match s {
            "f" => Some(Api::Fetch),
            "x" => Some(Api::Xhr),
            "c" => Some(Api::Check),
            _ => None,
        }
    }
    /// A name for people.
    pub fn name(self) -> &'static str {
        match self {
            Api::Fetch => "fetch",
            Api::Xhr => "xhr",
            Api::Check => "check",
        }
    }
}

/// Which loopback origin a URL is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// The target server (`http://localhost:P2`).
    Target,
    /// A second cross-origin server (`http://127.0.0.1:P3`).
    Other,
    /// The page's own origin (`http://localhost:P1`).
    Page,
}

impl Dest {
    fn short(self) -> &'static str {
        match self {
            Dest::Target => "target",
            Dest::Other => "other",
            Dest::Page => "page",
        }
    }
}

/// The three origins of a run and the run's tag (part of every URL).
#[derive(Debug, Clone)]
pub struct Site {
    /// The page origin, e.g. `http://localhost:41000`.
    pub page: String,
    /// The target origin.
    pub target: String,
    /// Another cross-origin origin.
    pub other: String,
    /// A tag unique to the run.
    pub run: String,
}

impl Site {
    /// The origin of a destination.
    pub fn origin(&self, d: Dest) -> &str {
        match d {
            Dest::Target => &self.target,
            Dest::Other => &self.other,
            Dest::Page => &self.page,
        }
    }
}

/// What `Access-Control-Allow-Origin` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acao {
    /// No header.
    Missing,
    /// The `Origin` request header echoed (absent when the request had none).
    Echo,
    /// The page origin, literally.
    Page,
    /// `*`.
    Star,
    /// `null`.
    Null,
    /// The page origin with a trailing slash.
    PageSlash,
    /// The page origin with an upper-case scheme.
    SchemeUpper,
    /// The page origin with an upper-case host.
    HostUpper,
    /// Another origin.
    Wrong,
    /// The page origin surrounded by spaces.
    Spaced,
    /// Two lines, both the page origin.
    DupPage,
    /// Two lines: `*` and the page origin.
    DupStarPage,
    /// One line `<page>, *`.
    ListPageStar,
    /// An empty value.
    Empty,
    /// `'*'`.
    QuotedStar,
}

/// What `Access-Control-Allow-Credentials` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acac {
    /// No header.
    Missing,
    /// `true`.
    True,
    /// `True`.
    TrueUpper,
    /// `false`.
    False,
    /// Two lines `true`.
    Dup,
    /// An empty value.
    Empty,
    /// ` true ` (spaces are trimmed by the HTTP parser).
    Spaced,
}

/// The answer to a preflight at one hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightSpec {
    /// Status.
    pub status: u16,
    /// Whether a redirect status comes with a `Location` (without one,
    /// browsers take the 3xx as an ordinary non-ok answer).
    pub location: bool,
    /// `Access-Control-Allow-Origin`.
    pub acao: Acao,
    /// `Access-Control-Allow-Credentials`.
    pub acac: Acac,
    /// `Access-Control-Allow-Methods` lines (none: absent).
    pub acam: Vec<String>,
    /// `Access-Control-Allow-Headers` lines.
    pub acah: Vec<String>,
    /// `Access-Control-Max-Age`.
    pub max_age: Option<String>,
}

/// A redirect answer to the request itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redirect {
    /// 301, 302, 303, 307 or 308.
    pub status: u16,
    /// Where the next hop is.
    pub to: Dest,
    /// Whether the `Location` carries `user:pass@`.
    pub userinfo: bool,
}

/// The answer to the request itself at one hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActualSpec {
    /// Status (ignored when redirecting).
    pub status: u16,
    /// `Access-Control-Allow-Origin`.
    pub acao: Acao,
    /// `Access-Control-Allow-Credentials`.
    pub acac: Acac,
    /// `Access-Control-Expose-Headers` lines.
    pub aceh: Vec<String>,
    /// Other response headers.
    pub extra: Vec<(String, String)>,
    /// A redirect to the next hop, instead of a final response.
    pub redirect: Option<Redirect>,
}

/// One URL of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The preflight answer.
    pub preflight: PreflightSpec,
    /// The request's answer.
    pub actual: ActualSpec,
}

/// What script asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpec {
    /// The method as script passes it (`patch`, `put`, `M-SEARCH`…).
    pub method: String,
    /// Headers as script appends them, in order.
    pub headers: Vec<(String, String)>,
    /// fetch's credentials mode (XHR: `include` is `withCredentials = true`,
    /// anything else is `false`).
    pub credentials: Credentials,
    /// fetch's mode (XHR is always `cors`).
    pub mode: Mode,
    /// How the page hands `fetch()` the headers (a `Headers` object, pairs,
    /// a plain object); XHR always calls `setRequestHeader`.
    pub form: HeadersForm,
}

/// A conformance case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Its number in the matrix.
    pub id: u32,
    /// The request.
    pub request: RequestSpec,
    /// Where the first URL is.
    pub start: Dest,
    /// The chain of URLs; every hop but the last redirects.
    pub hops: Vec<Hop>,
    /// Run the request twice in a row, so the second meets the preflight cache.
    pub repeat: bool,
}

/// A response as bytes: status, header lines and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    /// Status code.
    pub status: u16,
    /// Header lines, value bytes exactly as sent.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Where a case URL points: the case, the API and the hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Case id.
    pub id: u32,
    /// API.
    pub api: Api,
    /// Hop index.
    pub hop: usize,
}

/// Parses the path of a case URL (`/c/<run>/<id>/<api>/<hop>`), given either
/// a path or a full URL. `None` for any other path or another run's tag.
pub fn route(url_or_path: &str, run: &str) -> Option<Route> {
    let path = match url_or_path.find("://") {
        Some(i) => {
            let rest = &url_or_path[i + 3..];
            &rest[rest.find('/')?..]
        }
        None => url_or_path,
    };
    let path = path.split(['?', '#']).next()?;
    let mut parts = path.split('/');
    if !parts.next()?.is_empty() || parts.next()? != "c" || parts.next()? != run {
        return None;
    }
    let id = parts.next()?.parse().ok()?;
    let api = Api::from_segment(parts.next()?)?;
    let hop = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some(Route { id, api, hop })
}

impl Acao {
    fn lines(self, site: &Site, origin: Option<&[u8]>) -> Vec<Vec<u8>> {
        let page = site.page.as_bytes().to_vec();
        let text = |s: String| vec![s.into_bytes()];
        match self {
            Acao::Missing => vec![],
            Acao::Echo => origin.map(|o| vec![o.to_vec()]).unwrap_or_default(),
            Acao::Page => vec![page],
            Acao::Star => text("*".into()),
            Acao::Null => text("null".into()),
            Acao::PageSlash => text(format!("{}/", site.page)),
            Acao::SchemeUpper => text(site.page.replacen("http://", "HTTP://", 1)),
            Acao::HostUpper => text(site.page.replacen("localhost", "LOCALHOST", 1)),
            Acao::Wrong => text(site.other.clone()),
            Acao::Spaced => text(format!("  {} ", site.page)),
            Acao::DupPage => vec![page.clone(), page],
            Acao::DupStarPage => vec![b"*".to_vec(), page],
            Acao::ListPageStar => text(format!("{}, *", site.page)),
            Acao::Empty => vec![Vec::new()],
            Acao::QuotedStar => text("'*'".into()),
        }
    }
}

impl Acac {
    fn lines(self) -> Vec<&'static str> {
        match self {
            Acac::Missing => vec![],
            Acac::True => vec!["true"],
            Acac::TrueUpper => vec!["True"],
            Acac::False => vec!["false"],
            Acac::Dup => vec!["true", "true"],
            Acac::Empty => vec![""],
            Acac::Spaced => vec![" true "],
        }
    }
}

fn push_lines(out: &mut Vec<(String, Vec<u8>)>, name: &str, lines: Vec<Vec<u8>>) {
    for l in lines {
        out.push((name.to_owned(), l));
    }
}

impl Case {
    /// The URL of `hop` for `api`, on `dest`'s origin, optionally with userinfo.
    pub fn url(&self, site: &Site, api: Api, hop: usize, dest: Dest, userinfo: bool) -> String {
        let origin = site.origin(dest);
        let origin = if userinfo {
            origin.replacen("://", "://user:pass@", 1)
        } else {
            origin.to_owned()
        };
        format!(
            "{origin}/c/{}/{}/{}/{hop}",
            site.run,
            self.id,
            api.segment()
        )
    }

    /// The first URL the script requests.
    pub fn start_url(&self, site: &Site, api: Api) -> String {
        self.url(site, api, 0, self.start, false)
    }

    /// The exact response to a request at `hop`: a preflight or the request
    /// itself, given the `Origin` header it carried.
    pub fn respond(
        &self,
        site: &Site,
        api: Api,
        hop: usize,
        preflight: bool,
        origin: Option<&[u8]>,
    ) -> Wire {
        let Some(h) = self.hops.get(hop) else {
            return Wire {
                status: 500,
                headers: vec![("Content-Length".into(), b"0".to_vec())],
                body: Vec::new(),
            };
        };
        let mut headers = Vec::new();
        if preflight {
            let p = &h.preflight;
            if p.location && matches!(p.status, 301 | 302 | 303 | 307 | 308) {
                let loc = format!(
                    "{}?preflight-redirect",
                    self.url(site, api, hop, Dest::Target, false)
                );
                headers.push(("Location".into(), loc.into_bytes()));
            }
            push_lines(
                &mut headers,
                "Access-Control-Allow-Origin",
                p.acao.lines(site, origin),
            );
            push_lines(
                &mut headers,
                "Access-Control-Allow-Credentials",
                p.acac
                    .lines()
                    .into_iter()
                    .map(|s| s.as_bytes().to_vec())
                    .collect(),
            );
            for l in &p.acam {
                headers.push(("Access-Control-Allow-Methods".into(), l.as_bytes().to_vec()));
            }
            for l in &p.acah {
                headers.push(("Access-Control-Allow-Headers".into(), l.as_bytes().to_vec()));
            }
            if let Some(m) = &p.max_age {
                headers.push(("Access-Control-Max-Age".into(), m.as_bytes().to_vec()));
            }
            headers.push(("Content-Length".into(), b"0".to_vec()));
            return Wire {
                status: p.status,
                headers,
                body: Vec::new(),
            };
        }
        let a = &h.actual;
        let status = a.redirect.map_or(a.status, |r| r.status);
        if let Some(r) = a.redirect {
            let loc = self.url(site, api, hop + 1, r.to, r.userinfo);
            headers.push(("Location".into(), loc.into_bytes()));
            // Keep permanent redirects out of the HTTP cache, so a repeated
            // request reaches the server again (the engine has no HTTP cache).
            headers.push(("Cache-Control".into(), b"no-store".to_vec()));
        }
        push_lines(
            &mut headers,
            "Access-Control-Allow-Origin",
            a.acao.lines(site, origin),
        );
        push_lines(
            &mut headers,
            "Access-Control-Allow-Credentials",
            a.acac
                .lines()
                .into_iter()
                .map(|s| s.as_bytes().to_vec())
                .collect(),
        );
        let body: Vec<u8> = if a.redirect.is_some() || status == 204 {
            Vec::new()
        } else {
            for l in &a.aceh {
                headers.push((
                    "Access-Control-Expose-Headers".into(),
                    l.as_bytes().to_vec(),
                ));
            }
            for (n, v) in &a.extra {
                headers.push((n.clone(), v.as_bytes().to_vec()));
            }
            b"ok".to_vec()
        };
        headers.push(("Content-Length".into(), body.len().to_string().into_bytes()));
        Wire {
            status,
            headers,
            body,
        }
    }

    /// The headers script sets, as the API holds them: `fetch` keeps every
    /// `append`ed line; XHR's `setRequestHeader` *combines* a repeated name
    /// into one value joined by `", "` (XHR standard, setRequestHeader step 6).
    pub fn script_headers(&self, api: Api) -> Vec<(String, String)> {
        if api != Api::Xhr {
            return self.request.headers.clone();
        }
        let mut out: Vec<(String, String)> = Vec::new();
        for (n, v) in &self.request.headers {
            if corsgate_core::safelist::is_forbidden_request_header(n, v.as_bytes()) {
                continue;
            }
            let v = v.trim_matches([' ', '\t', '\r', '\n']);
            match out.iter_mut().find(|(m, _)| m.eq_ignore_ascii_case(n)) {
                Some((_, old)) => {
                    old.push_str(", ");
                    old.push_str(v);
                }
                None => out.push((n.clone(), v.to_owned())),
            }
        }
        out
    }

    /// The credentials mode `api` ends up with.
    pub fn credentials(&self, api: Api) -> Credentials {
        match (api, self.request.credentials) {
            (Api::Xhr, Credentials::Include) => Credentials::Include,
            (Api::Xhr, _) => Credentials::SameOrigin,
            (_, c) => c,
        }
    }

    /// The form in which `api` gets the headers.
    pub fn headers_form(&self, api: Api) -> HeadersForm {
        match api {
            Api::Xhr => HeadersForm::SetRequestHeader,
            _ => self.request.form,
        }
    }

    /// The mode `api` ends up with.
    pub fn mode(&self, api: Api) -> Mode {
        match api {
            Api::Xhr => Mode::Cors,
            _ => self.request.mode,
        }
    }

    /// The name `fetch()` gives a mode.
    pub fn mode_name(mode: Mode) -> &'static str {
        match mode {
            Mode::Cors => "cors",
            Mode::NoCors => "no-cors",
            Mode::SameOrigin => "same-origin",
        }
    }

    /// The engine's model of the request `api` makes.
    pub fn engine_request(&self, site: &Site, api: Api) -> Result<Request, RequestError> {
        let mut b = Request::builder(site.page.as_str(), self.start_url(site, api))
            .method(self.request.method.as_str())
            .credentials(self.credentials(api))
            .mode(self.mode(api))
            .headers_form(self.headers_form(api))
            .initiator(if api == Api::Xhr {
                Initiator::Xhr
            } else {
                Initiator::Fetch
            });
        for (n, v) in self.script_headers(api) {
            b = b.header(n, v);
        }
        b.build()
    }
}

fn show_value(v: &str) -> String {
    let mut s = String::new();
    for c in v.chars() {
        match c {
            '\x20'..='\x7e' => s.push(c),
            _ => s.push_str(&format!("\\x{:02x}", c as u32)),
        }
    }
    s
}

fn show_lines(name: &str, lines: &[String]) -> String {
    match lines {
        [] => String::new(),
        [one] => format!(" {name}=\"{}\"", show_value(one)),
        many => format!(
            " {name}=[{}]",
            many.iter()
                .map(|l| format!("\"{}\"", show_value(l)))
                .collect::<Vec<_>>()
                .join(" + ")
        ),
    }
}

impl fmt::Display for Acao {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Acao::Missing => "-",
            Acao::Echo => "echo",
            Acao::Page => "page",
            Acao::Star => "*",
            Acao::Null => "null",
            Acao::PageSlash => "page/",
            Acao::SchemeUpper => "HTTP://page",
            Acao::HostUpper => "PAGE-HOST",
            Acao::Wrong => "other",
            Acao::Spaced => "' page '",
            Acao::DupPage => "page+page",
            Acao::DupStarPage => "*+page",
            Acao::ListPageStar => "'page, *'",
            Acao::Empty => "''",
            Acao::QuotedStar => "'*'(quoted)",
        };
        f.write_str(s)
    }
}

impl fmt::Display for Acac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Acac::Missing => "-",
            Acac::True => "true",
            Acac::TrueUpper => "True",
            Acac::False => "false",
            Acac::Dup => "true+true",
            Acac::Empty => "''",
            Acac::Spaced => "' true '",
        };
        f.write_str(s)
    }
}

impl fmt::Display for Case {
    /// One line per part: the request, then each hop.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.request;
        write!(
            f,
            "#{} {} credentials={} to={}",
            self.id,
            r.method,
            r.credentials.name(),
            self.start.short()
        )?;
        if self.request.mode != Mode::Cors {
            write!(f, " mode={}", Case::mode_name(self.request.mode))?;
        }
        if self.repeat {
            f.write_str(" (twice)")?;
        }
        if self.request.form != HeadersForm::Headers {
            write!(f, " headers={}", self.request.form.name())?;
        }
        for (n, v) in &r.headers {
            write!(f, " [{n}: {}]", show_value(v))?;
        }
        for (i, h) in self.hops.iter().enumerate() {
            let p = &h.preflight;
            write!(
                f,
                "\n  hop {i}: preflight {}{} ACAO={} ACAC={}{}{}{}",
                p.status,
                if (300..400).contains(&p.status) && !p.location {
                    " (no Location)"
                } else {
                    ""
                },
                p.acao,
                p.acac,
                show_lines("ACAM", &p.acam),
                show_lines("ACAH", &p.acah),
                p.max_age
                    .as_deref()
                    .map(|m| format!(" Max-Age={m}"))
                    .unwrap_or_default()
            )?;
            let a = &h.actual;
            match a.redirect {
                Some(rd) => write!(
                    f,
                    "; actual {} -> {}{} ACAO={} ACAC={}",
                    rd.status,
                    rd.to.short(),
                    if rd.userinfo {
                        " (with user:pass@)"
                    } else {
                        ""
                    },
                    a.acao,
                    a.acac
                )?,
                None => {
                    write!(
                        f,
                        "; actual {} ACAO={} ACAC={}{}",
                        a.status,
                        a.acao,
                        a.acac,
                        show_lines("ACEH", &a.aceh)
                    )?;
                    for (n, v) in &a.extra {
                        write!(f, " [{n}: {}]", show_value(v))?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = route("http://u:p@127.0.0.1:9/c/run1/42/x/1", "run1").expect("route");
        assert_eq!((r.id, r.api, r.hop), (42, Api::Xhr, 1));
        assert!(route("/c/run2/42/x/1", "run1").is_none());
        assert!(route("/c/run1/42/x/1/2", "run1").is_none());
        assert_eq!(route("/c/run1/7/f/0?q", "run1").map(|r| r.id), Some(7));
    }
}
