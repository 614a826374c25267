//! The preflight: the `OPTIONS` request a browser sends before a request that
//! is not "simple", and the validation of its response.

use serde::Serialize;
use url::Url;

use crate::browser::cors_check::cors_check;
pub use crate::browser::max_age::{parse_max_age, MaxAge};
use crate::browser::profile::Profile;
use crate::browser::refusal::{Refusal, Stage};
use crate::browser::request::Request;
use crate::browser::response::Response;
use crate::browser::safelist::{self, UnsafeHeader};
use crate::headers::HeaderList;
use crate::lists::{parse_token_list, TokenList};
use crate::method;

/// The preflight request a browser sends.
///
/// ```
/// use corsgate_core::{Request, Profile, preflight::PreflightRequest};
/// let req = Request::builder("https://app.example", "https://api.example/v1")
///     .method("PUT")
///     .header("X-Trace", "1")
///     .header("Authorization", "Bearer t")
///     .build().unwrap();
/// let pf = PreflightRequest::for_request(&req, "https://app.example", req.url(), Profile::Chromium);
/// assert_eq!(pf.method, "PUT");
/// assert_eq!(pf.request_headers.as_deref(), Some("authorization,x-trace"));
/// let h = pf.headers();
/// assert_eq!(h.get_str("access-control-request-method").unwrap(), "PUT");
/// assert_eq!(h.get_str("accept").unwrap(), "*/*");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreflightRequest {
    /// The URL (the same as the request's).
    pub url: String,
    /// The `Origin` header value.
    pub origin: String,
    /// `Access-Control-Request-Method`.
    pub method: String,
    /// `Access-Control-Request-Headers`, when there are unsafe headers.
    pub request_headers: Option<String>,
}

impl PreflightRequest {
    /// The preflight for `request` at `url`, with `origin` the serialized request origin.
    pub fn for_request(request: &Request, origin: &str, url: &Url, profile: Profile) -> Self {
        let unsafe_names = safelist::unsafe_request_header_names_in(
            request.headers(),
            profile,
            request.headers_form(),
        );
        PreflightRequest {
            url: url.to_string(),
            origin: origin.to_owned(),
            method: request.method().to_owned(),
            request_headers: (!unsafe_names.is_empty())
                .then(|| safelist::request_headers_value(&unsafe_names)),
        }
    }

    /// The header lines: `Accept: */*`, `Access-Control-Request-Method`,
    /// `Access-Control-Request-Headers` (when non-empty) and `Origin`.
    pub fn headers(&self) -> HeaderList {
        let mut h = HeaderList::new()
            .with("Accept", "*/*")
            .with("Access-Control-Request-Method", &self.method);
        if let Some(v) = &self.request_headers {
            h.append("Access-Control-Request-Headers", v);
        }
        h.append("Origin", &self.origin);
        h
    }
}

/// What a successful preflight allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreflightAllowance {
    /// The methods listed in `Access-Control-Allow-Methods` (plus the request's
    /// method when the preflight was forced and the header absent).
    pub methods: Vec<String>,
    /// The header names listed in `Access-Control-Allow-Headers`, lower case.
    pub headers: Vec<String>,
    /// How long the result may be cached.
    pub max_age: MaxAge,
    /// `Authorization` passed only because of `*` (Firefox warns about this).
    pub authorization_via_wildcard: bool,
}

/// Validates a preflight response for `request` (sent with serialized `origin`).
///
/// ```
/// use corsgate_core::{Request, Response, Profile, preflight::check_preflight_response};
/// let req = Request::builder("https://app.example", "https://api.example/v1")
///     .method("DELETE").build().unwrap();
/// let ok = Response::new(204)
///     .header("Access-Control-Allow-Origin", "https://app.example")
///     .header("Access-Control-Allow-Methods", "GET, DELETE");
/// assert!(check_preflight_response(&req, "https://app.example", &ok, Profile::Chromium).is_ok());
/// let lower = Response::new(204)
///     .header("Access-Control-Allow-Origin", "https://app.example")
///     .header("Access-Control-Allow-Methods", "delete");
/// let err = check_preflight_response(&req, "https://app.example", &lower, Profile::Chromium).unwrap_err();
/// assert_eq!(err.code(), "method_not_allowed");
/// ```
pub fn check_preflight_response(
    request: &Request,
    origin: &str,
    response: &Response,
    profile: Profile,
) -> Result<PreflightAllowance, Refusal> {
    check_preflight(request, Some(origin), response, profile)
}

/// Validates a preflight response sent to a URL that is same-origin with the
/// request's origin, for a profile whose
/// [`Profile::same_origin_preflight_skips_cors_check`]: the status, methods
/// and headers are checked, `Access-Control-Allow-Origin` and
/// `-Credentials` are not.
pub(crate) fn check_same_origin_preflight_response(
    request: &Request,
    response: &Response,
    profile: Profile,
) -> Result<PreflightAllowance, Refusal> {
    check_preflight(request, None, response, profile)
}

/// The preflight checks; the CORS check runs only with an `origin`.
fn check_preflight(
    request: &Request,
    origin: Option<&str>,
    response: &Response,
    profile: Profile,
) -> Result<PreflightAllowance, Refusal> {
    // A 3xx without a `Location` is no redirect: an ordinary non-ok status.
    let location = profile.redirect_location(response);
    if location.is_some()
        && profile.reports_preflight_redirect()
        && !profile.cors_checks_a_redirected_preflight()
    {
        return Err(Refusal::PreflightRedirect {
            status: response.status,
            location,
        });
    }
    let status_error = || {
        if location.is_some() && !profile.reports_preflight_redirect_as_status() {
            Refusal::PreflightRedirect {
                status: response.status,
                location: location.clone(),
            }
        } else {
            Refusal::PreflightStatus {
                status: response.status,
            }
        }
    };
    // WebKit looks at the status first; the standard, Chromium and Firefox
    // run the CORS check first.
    if profile.preflight_status_first() && !response.is_ok_status() {
        return Err(status_error());
    }
    if let Some(origin) = origin {
        cors_check(
            origin,
            request.credentials(),
            response,
            Stage::Preflight,
            profile,
        )?;
    }
    if !response.is_ok_status() {
        return Err(status_error());
    }
    let include = request.credentials().is_include();
    let mut methods = match parse_token_list(&response.headers, "access-control-allow-methods") {
        TokenList::Invalid { value, element } => {
            return Err(Refusal::InvalidAllowMethods { value, element })
        }
        TokenList::Absent => None,
        TokenList::Tokens { items } => Some(items),
    };
    let parse_headers = || match parse_token_list(&response.headers, "access-control-allow-headers")
    {
        TokenList::Invalid { value, element } => {
            Err(Refusal::InvalidAllowHeaders { value, element })
        }
        TokenList::Absent => Ok(Vec::new()),
        TokenList::Tokens { items } => Ok(items),
    };
    // Firefox reads the header list only once the method passed.
    let late = profile.checks_method_before_parsing_allow_headers();
    let early = if late { None } else { Some(parse_headers()?) };
    if methods.is_none() && request.forces_preflight() {
        methods = Some(vec![request.method().to_owned()]);
    }
    let methods = methods.unwrap_or_default();
    let m = request.method();
    let method_wildcard = methods.iter().any(|x| x == "*");
    if !methods.iter().any(|x| x == m)
        && !method::is_cors_safelisted(m)
        && (include || !method_wildcard)
    {
        return Err(Refusal::MethodNotAllowed {
            method: m.to_owned(),
            allowed: methods,
            wildcard_ignored: include && method_wildcard,
        });
    }
    let header_names = match early {
        Some(names) => names,
        None => parse_headers()?,
    };
    let header_wildcard = header_names.iter().any(|x| x == "*");
    let listed = |name: &str| header_names.iter().any(|h| h.eq_ignore_ascii_case(name));
    let mut unsafe_names: Vec<UnsafeHeader> = safelist::unsafe_request_header_names_in(
        request.headers(),
        profile,
        request.headers_form(),
    );
    // The browser names the first disallowed one in the order it walks them
    // (those unsafe only through the 1024-byte total come last).
    if let Some(order) = profile.unsafe_header_order(request) {
        unsafe_names.sort_by_key(|u| {
            (
                matches!(u.reason, safelist::UnsafeReason::TotalTooLarge { .. }),
                order
                    .iter()
                    .position(|n| *n == u.name)
                    .unwrap_or(usize::MAX),
            )
        });
    }
    let has_authorization = request.headers().contains("authorization");
    if has_authorization && !listed("authorization") && !profile.wildcard_covers_authorization() {
        return Err(Refusal::HeaderNotAllowed {
            header: "authorization".into(),
            allowed: header_names.clone(),
            wildcard_ignored: include && header_wildcard,
            authorization_not_covered: header_wildcard && !include,
        });
    }
    for u in &unsafe_names {
        if !listed(&u.name) && (include || !header_wildcard) {
            return Err(Refusal::HeaderNotAllowed {
                header: u.name.clone(),
                allowed: header_names.clone(),
                wildcard_ignored: include && header_wildcard,
                authorization_not_covered: false,
            });
        }
    }
    Ok(PreflightAllowance {
        methods,
        headers: header_names
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        max_age: parse_max_age(&response.headers, profile),
        authorization_via_wildcard: has_authorization && !listed("authorization"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::browser::request::Credentials;

    const ORIGIN: &str = "https://app.example";

    /// web-platform-tests `fetch/api/cors/cors-preflight-star.any.js`, plus the
    /// two Authorization cases of `cors-preflight.any.js`.
    #[test]
    fn wpt_preflight_star() {
        // (succeeds, credentials, ACAM, ACAH, method, header)
        type Row = (
            bool,
            bool,
            &'static str,
            &'static str,
            &'static str,
            Option<&'static str>,
        );
        let table: [Row; 10] = [
            (true, false, "get", "x-test", "GET", Some("X-Test")),
            (true, false, "*", "x-test", "SUPER", Some("X-Test")),
            (true, false, "*", "*", "OK", Some("X-Test")),
            (false, true, "*", "*", "OK", Some("X-Test")),
            (false, true, "*", "", "PUT", None),
            (true, true, "PUT", "*", "PUT", None),
            (false, true, "get", "*", "GET", Some("X-Test")),
            (false, true, "*", "*", "GET", Some("X-Test")),
            (true, true, "*", "*", "*", Some("*")),
            (false, true, "put", "*", "PUT", None),
        ];
        for (i, (ok, cred, acam, acah, m, h)) in table.into_iter().enumerate() {
            let mut b = Request::builder(ORIGIN, "https://api.example/p").method(m);
            if let Some(h) = h {
                b = b.header(h, "1");
            }
            if cred {
                b = b.credentials(Credentials::Include);
            }
            let req = b.build().unwrap();
            let mut resp = Response::new(200)
                .header("Access-Control-Allow-Origin", ORIGIN)
                .header("Access-Control-Allow-Methods", acam)
                .header("Access-Control-Allow-Headers", acah);
            if cred {
                resp = resp.header("Access-Control-Allow-Credentials", "true");
            }
            for p in Profile::ALL {
                let got = check_preflight_response(&req, ORIGIN, &resp, p);
                assert_eq!(got.is_ok(), ok, "row {i} profile {p}: {got:?}");
            }
        }
        let auth = Request::builder(ORIGIN, "https://api.example/p")
            .header("Authorization", "foobar")
            .build()
            .unwrap();
        let star = Response::new(200)
            .header("Access-Control-Allow-Origin", ORIGIN)
            .header("Access-Control-Allow-Headers", "*");
        let err = check_preflight_response(&auth, ORIGIN, &star, Profile::Standard).unwrap_err();
        assert!(matches!(
            err,
            Refusal::HeaderNotAllowed {
                authorization_not_covered: true,
                ..
            }
        ));
        assert!(err.browser_specific_note().is_some());
        let lenient = check_preflight_response(&auth, ORIGIN, &star, Profile::Chromium).unwrap();
        assert!(lenient.authorization_via_wildcard);
        let named = Response::new(200)
            .header("Access-Control-Allow-Origin", ORIGIN)
            .header("Access-Control-Allow-Headers", "authorization");
        assert!(check_preflight_response(&auth, ORIGIN, &named, Profile::Standard).is_ok());
    }

    /// web-platform-tests `cors-preflight-status.any.js`: 200–206 pass, the rest fail.
    #[test]
    fn wpt_preflight_status() {
        let req = Request::builder(ORIGIN, "https://api.example/p")
            .method("PUT")
            .build()
            .unwrap();
        for status in (200..=206)
            .chain(300..=308)
            .chain(400..=405)
            .chain(501..=505)
        {
            let resp = Response::new(status)
                .header("Access-Control-Allow-Origin", ORIGIN)
                .header("Access-Control-Allow-Methods", "PUT");
            for p in Profile::ALL {
                let got = check_preflight_response(&req, ORIGIN, &resp, p);
                assert_eq!(got.is_ok(), (200..=206).contains(&status), "{status} {p}");
            }
        }
    }

    #[test]
    fn invalid_lists_fail_the_preflight() {
        let req = Request::builder(ORIGIN, "https://api.example/p")
            .method("PUT")
            .build()
            .unwrap();
        let base = || Response::new(204).header("Access-Control-Allow-Origin", ORIGIN);
        let err = check_preflight_response(
            &req,
            ORIGIN,
            &base().header("Access-Control-Allow-Methods", "PUT, no no"),
            Profile::Chromium,
        )
        .unwrap_err();
        assert_eq!(err.code(), "invalid_allow_methods");
        let err = check_preflight_response(
            &req,
            ORIGIN,
            &base()
                .header("Access-Control-Allow-Methods", "PUT")
                .header("Access-Control-Allow-Headers", "x-a;"),
            Profile::Chromium,
        )
        .unwrap_err();
        assert_eq!(err.code(), "invalid_allow_headers");
        let redirect = Response::new(301).header("Location", "https://api.example/p/");
        assert_eq!(
            check_preflight_response(&req, ORIGIN, &redirect, Profile::Chromium)
                .unwrap_err()
                .code(),
            "preflight_redirect"
        );
    }

    /// A 3xx preflight answer is a redirect only with a `Location`
    /// (Chromium: a non-empty one). Without it, Chromium checks the CORS
    /// headers first, then reports "It does not have HTTP ok status";
    /// Firefox looks at the status first either way.
    #[test]
    fn a_3xx_preflight_without_location_is_an_ordinary_bad_status() {
        let req = Request::builder(ORIGIN, "https://api.example/x")
            .method("PUT")
            .build()
            .unwrap();
        let cors = |r: Response| {
            r.header("Access-Control-Allow-Origin", ORIGIN)
                .header("Access-Control-Allow-Methods", "PUT")
        };
        // (status, Location, CORS headers) → (Chromium, Firefox, Standard)
        let cases: &[(u16, Option<&str>, bool, [&str; 3])] = &[
            (302, None, true, ["preflight_status"; 3]),
            // Firefox 153 too runs the CORS check before the status (its console).
            (302, None, false, ["missing_allow_origin"; 3]),
            (
                301,
                Some(""),
                true,
                [
                    "preflight_status",
                    "preflight_redirect",
                    "preflight_redirect",
                ],
            ),
            // Firefox CORS-checks a redirected preflight first (its console).
            (301, Some("  "), false, ["missing_allow_origin"; 3]),
            (307, Some("/y"), true, ["preflight_redirect"; 3]),
            (
                308,
                Some("/y"),
                false,
                [
                    "preflight_redirect",
                    "missing_allow_origin",
                    "missing_allow_origin",
                ],
            ),
            (
                303,
                Some("https://other.example/"),
                true,
                ["preflight_redirect"; 3],
            ),
            (304, Some("/y"), true, ["preflight_status"; 3]),
            (300, None, false, ["missing_allow_origin"; 3]),
        ];
        for (status, location, with_cors, expected) in cases {
            let mut resp = Response::new(*status);
            if let Some(l) = location {
                resp = resp.header("Location", *l);
            }
            if *with_cors {
                resp = cors(resp);
            }
            for (profile, want) in [Profile::Chromium, Profile::Firefox, Profile::Standard]
                .into_iter()
                .zip(expected)
            {
                let err = check_preflight_response(&req, ORIGIN, &resp, profile).unwrap_err();
                assert_eq!(
                    err.code(),
                    *want,
                    "{status} {location:?} cors={with_cors} {profile}"
                );
                if let Refusal::PreflightRedirect { location: l, .. } = &err {
                    assert!(l.is_some());
                }
                // No fix of an ordinary bad status talks about a `Location`.
                if err.code() == "preflight_status" {
                    assert!(!err.to_string().contains("redirect to"), "{err}");
                    assert!(!err.fix().contains("Location"), "{}", err.fix());
                }
            }
        }
    }

    /// Firefox's console (Firefox 153 ESR, the conformance harness): a
    /// redirected preflight is CORS-checked before the redirect is refused.
    #[test]
    fn firefox_checks_a_redirected_preflight_before_refusing_the_redirect() {
        let req = Request::builder(ORIGIN, "https://api.example/x")
            .method("PUT")
            .build()
            .unwrap();
        let bad = Response::new(307)
            .header("Location", "/y")
            .header("Access-Control-Allow-Origin", "https://other.example");
        let code = |r: &Response, p| {
            check_preflight_response(&req, ORIGIN, r, p)
                .unwrap_err()
                .code()
        };
        assert_eq!(code(&bad, Profile::Firefox), "allow_origin_mismatch");
        assert_eq!(code(&bad, Profile::Chromium), "preflight_redirect");
        let good = Response::new(307)
            .header("Location", "/y")
            .header("Access-Control-Allow-Origin", ORIGIN);
        assert_eq!(code(&good, Profile::Firefox), "preflight_redirect");
    }

    /// Firefox's console (Firefox 153 ESR, the conformance harness): the
    /// method is looked for before `Access-Control-Allow-Headers` is parsed;
    /// Chromium parses both lists first.
    #[test]
    fn firefox_checks_the_method_before_parsing_the_header_list() {
        let req = Request::builder(ORIGIN, "https://api.example/x")
            .method("PUT")
            .header("X-A", "1")
            .build()
            .unwrap();
        let resp = Response::new(204)
            .header("Access-Control-Allow-Origin", ORIGIN)
            .header("Access-Control-Allow-Methods", "GET")
            .header("Access-Control-Allow-Headers", "x-a;");
        let code = |resp: &Response, p| {
            check_preflight_response(&req, ORIGIN, resp, p)
                .unwrap_err()
                .code()
        };
        assert_eq!(code(&resp, Profile::Firefox), "method_not_allowed");
        assert_eq!(code(&resp, Profile::Chromium), "invalid_allow_headers");
        assert_eq!(code(&resp, Profile::Standard), "invalid_allow_headers");
        // With the method allowed, Firefox finds the unparsable list too.
        let resp = resp.header("Access-Control-Allow-Methods", "PUT");
        assert_eq!(code(&resp, Profile::Firefox), "invalid_allow_headers");
    }
}
