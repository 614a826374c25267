//! One table per browser message family: each row is one console message
//! (its fixed text, and where a quoted value sits in it), what the message
//! proves, and what it only suggests — guesses worded as guesses, each with
//! the check that settles it.
//!
//! Texts come from Chromium's `cors_error_string.cc` (as the console prints
//! them, checked against every message of the conformance harness), Gecko's
//! `netwerk/locales/en-US/necko.properties` (`CORS…` keys, likewise) and
//! WebKit's `CrossOriginAccessControl.cpp`, `CrossOriginPreflightResultCache.cpp`
//! and `NetworkLoadChecker.cpp`.
//!
//! Placeholders in `proves`: `{response}` (the preflight response or the
//! response), `{value}` (the quoted value), `{status}` (", with status N",
//! or nothing when the message does not give it), `{origin}`.

/// How a guess is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Run `corsgate check` with the request (the line is built from the message).
    Check,
    /// Look at the request in the browser's Network panel.
    Network,
    /// Look at the page's code.
    Code,
    /// Run the request from another network or without extensions.
    Elsewhere,
}

/// One console message.
#[derive(Debug)]
pub struct Row {
    /// Chromium's `CorsError` (without the `Preflight` prefix, which the
    /// message's preflight sentence adds), Firefox's console category, or a
    /// name for WebKit's message.
    pub key: &'static str,
    /// The fixed text that tells this message (its head).
    pub head: &'static str,
    /// When the message quotes a value right after `head`: the text that
    /// ends it.
    pub tail: Option<&'static str>,
    /// What the message proves, stated as fact.
    pub proves: &'static str,
    /// What it suggests without proving it: guesses, most likely first.
    pub guesses: &'static [(&'static str, Settle)],
}

const CHECK_FIRST: (&str, Settle) = (
    "run `corsgate check` with the same request: it shows every header of the answer, and every other problem at once",
    Settle::Check,
);

/// Chromium (Chrome, Edge, Opera): the text after "has been blocked by CORS
/// policy: " (and after "Response to preflight request doesn't pass access
/// control check: " when the preflight failed).
pub const CHROMIUM: &[Row] = &[
    Row {
        key: "MissingAllowOriginHeader",
        head: "No 'Access-Control-Allow-Origin' header is present on the requested resource.",
        tail: None,
        proves: "{response} reached the browser{status} and carried no `Access-Control-Allow-Origin` header",
        guesses: &[
            ("perhaps the server has no CORS setup for this path, or its CORS layer runs after the handler that answered", Settle::Check),
            ("perhaps the answer is an error (4xx/5xx) made before or outside the CORS layer", Settle::Network),
            ("perhaps a proxy, CDN or cache in front of the server strips the header or serves an answer stored without it", Settle::Check),
        ],
    },
    Row {
        key: "DisallowedByMode",
        head: "Cross origin requests are not allowed by request mode.",
        tail: None,
        proves: "the page's script asked for mode 'same-origin' and the URL (or a redirect) is on another origin; no response was read",
        guesses: &[("perhaps the code passes `mode: 'same-origin'` on purpose, or a wrapper sets it", Settle::Code)],
    },
    Row {
        key: "CorsDisabledScheme",
        head: "Cross origin requests are only supported for protocol schemes:",
        tail: None,
        proves: "the URL's scheme is not one browsers make CORS requests to (http, https); nothing was sent",
        guesses: &[
            ("perhaps the page was opened from a file: URL; serve it over http(s), e.g. with a local dev server", Settle::Code),
            ("perhaps a typo in the URL's scheme", Settle::Code),
        ],
    },
    Row {
        key: "PreflightInvalidStatus",
        head: "It does not have HTTP ok status.",
        tail: None,
        proves: "the browser sent an OPTIONS preflight and its answer had a status outside 200–299 (the message does not say which; its CORS headers passed)",
        guesses: &[
            ("perhaps authentication runs before CORS and refuses the preflight (401/403): a preflight never carries cookies or tokens", Settle::Check),
            ("perhaps the router has no OPTIONS route for this path (404/405)", Settle::Check),
            ("perhaps the server failed on OPTIONS (5xx), or answered 3xx without a Location", Settle::Network),
        ],
    },
    Row {
        key: "PreflightDisallowedRedirect",
        head: "Redirect is not allowed for a preflight request.",
        tail: None,
        proves: "the browser sent an OPTIONS preflight and it was answered with a redirect (a 3xx with a Location), which browsers never follow",
        guesses: &[
            ("perhaps the URL lacks (or has an extra) trailing slash and the framework redirects", Settle::Check),
            ("perhaps http is redirected to https, or the bare domain to www: request the final URL directly", Settle::Check),
            ("perhaps an authentication layer redirects to a login page", Settle::Check),
        ],
    },
    Row {
        key: "InvalidAllowMethodsPreflightResponse",
        head: "Cannot parse Access-Control-Allow-Methods response header field in preflight response.",
        tail: None,
        proves: "the preflight response's `Access-Control-Allow-Methods` is not a comma-separated list of method names (the message does not quote it)",
        guesses: &[
            ("perhaps a stray character (a semicolon, quotes, a space inside a name) in the list", Settle::Check),
        ],
    },
    Row {
        key: "InvalidAllowHeadersPreflightResponse",
        head: "Cannot parse Access-Control-Allow-Headers response header field in preflight response.",
        tail: None,
        proves: "the preflight response's `Access-Control-Allow-Headers` is not a comma-separated list of header names (the message does not quote it)",
        guesses: &[
            ("perhaps a stray character (a semicolon, quotes, a space inside a name) in the list", Settle::Check),
        ],
    },
    Row {
        key: "WildcardOriginNotAllowed",
        head: "The value of the 'Access-Control-Allow-Origin' header in the response must not be the wildcard '*' when the request's credentials mode is 'include'.",
        tail: None,
        proves: "the request was sent with credentials (`credentials: 'include'` or `withCredentials`) and {response} answered `Access-Control-Allow-Origin: *`, which never allows credentials",
        guesses: &[
            ("perhaps the server uses a CORS library's allow-any-origin option while the page sends cookies", Settle::Check),
            ("perhaps the page sends credentials without needing them", Settle::Code),
        ],
    },
    Row {
        key: "AllowOriginMismatch",
        head: "The 'Access-Control-Allow-Origin' header has a value '",
        tail: Some("' that is not equal to the supplied origin."),
        proves: "{response} answered `Access-Control-Allow-Origin: {value}`, which is not the origin the browser sent",
        guesses: &[
            ("perhaps the server allows one fixed origin (production) and the page runs on another (a dev server, a preview deploy)", Settle::Check),
            ("perhaps a cache served an answer made for another origin (no `Vary: Origin`)", Settle::Check),
        ],
    },
    Row {
        key: "MultipleAllowOriginValues",
        head: "The 'Access-Control-Allow-Origin' header contains multiple values '",
        tail: Some("', but only one is allowed."),
        proves: "{response} carried `Access-Control-Allow-Origin` with several values (`{value}`): either several header lines or a list",
        guesses: &[
            ("perhaps both a proxy (nginx `add_header`, a CDN, an API gateway) and the application add the header", Settle::Check),
            ("perhaps the server sends its list of allowed origins instead of choosing the one that matches", Settle::Check),
        ],
    },
    Row {
        key: "InvalidAllowOriginValue",
        head: "The 'Access-Control-Allow-Origin' header contains the invalid value '",
        tail: Some("'."),
        proves: "{response} answered `Access-Control-Allow-Origin: {value}`, which is not an origin, `*` or `null` at all",
        guesses: &[
            ("perhaps a bare host name, a pattern like `*.example.com`, or a URL with a path where an origin belongs", Settle::Check),
        ],
    },
    Row {
        key: "InvalidAllowCredentials",
        head: "The value of the 'Access-Control-Allow-Credentials' header in the response is '",
        tail: Some("' which must be 'true' when the request's credentials mode is 'include'."),
        proves: "the request was sent with credentials and {response} answered `Access-Control-Allow-Credentials: {value}` (empty when absent), not exactly `true`",
        guesses: &[
            ("perhaps the server sends the header only on some answers, or in another case (`True`)", Settle::Check),
            ("perhaps the page sends credentials without needing them", Settle::Code),
        ],
    },
    Row {
        key: "MethodDisallowedByPreflightResponse",
        head: "Method ",
        tail: Some(" is not allowed by Access-Control-Allow-Methods in preflight response."),
        proves: "the request uses method {value} and the preflight response's `Access-Control-Allow-Methods` does not list it (the message does not say what it lists)",
        guesses: &[
            ("perhaps the header is absent, or lists other methods", Settle::Check),
            ("perhaps it lists the method in another case (`patch` vs `PATCH`): methods are case-sensitive, and only DELETE, GET, HEAD, OPTIONS, POST and PUT are upper-cased by the browser", Settle::Check),
            ("perhaps it holds `*` and the request has credentials, where `*` is no wildcard", Settle::Check),
        ],
    },
    Row {
        key: "HeaderDisallowedByPreflightResponse",
        head: "Request header field ",
        tail: Some(" is not allowed by Access-Control-Allow-Headers in preflight response."),
        proves: "the request sends the header `{value}` and the preflight response's `Access-Control-Allow-Headers` does not list it (the message does not say what it lists; when several headers are missing, Chromium names one)",
        guesses: &[
            ("perhaps the header is absent, or lists other names", Settle::Check),
            ("perhaps it holds `*` and the request has credentials, where `*` is no wildcard", Settle::Check),
            ("perhaps the page sets the header without needing it (a library's default `X-Requested-With`, `Content-Type: application/json` on a GET)", Settle::Code),
        ],
    },
    Row {
        key: "RedirectContainsCredentials",
        head: "Redirect location '",
        tail: Some("' contains a username and password, which is disallowed for cross-origin requests."),
        proves: "a redirect on the way pointed to `{value}`, a URL with a user name or password, which browsers refuse to follow for CORS requests",
        guesses: &[("perhaps a server or proxy builds its redirect URL from the request's own URL with credentials in it", Settle::Check)],
    },
];

/// Firefox: the text inside "(Reason: …)".
pub const FIREFOX: &[Row] = &[
    Row {
        key: "CORSMissingAllowOrigin",
        head: "CORS header 'Access-Control-Allow-Origin' missing",
        tail: None,
        proves: "a response (Firefox does not say whether the preflight or the request's own){status} carried no `Access-Control-Allow-Origin` header",
        guesses: &[
            ("perhaps the failing response is the OPTIONS preflight", Settle::Network),
            ("perhaps the server has no CORS setup for this path, or the answer is an error made outside the CORS layer", Settle::Check),
        ],
    },
    Row {
        key: "CORSAllowOriginNotMatchingOrigin",
        head: "CORS header 'Access-Control-Allow-Origin' does not match '",
        tail: Some("'"),
        proves: "a response answered `Access-Control-Allow-Origin: {value}`, which does not match the origin Firefox sent (Firefox says this also for a list of origins on one line, and for values that are no origin at all)",
        guesses: &[
            ("perhaps the failing response is the OPTIONS preflight", Settle::Network),
            ("perhaps the server allows one fixed origin and the page runs on another", Settle::Check),
        ],
    },
    Row {
        key: "CORSMultipleAllowOriginNotAllowed",
        head: "Multiple CORS header 'Access-Control-Allow-Origin' not allowed",
        tail: None,
        proves: "a response carried several `Access-Control-Allow-Origin` header lines",
        guesses: &[("perhaps both a proxy and the application add the header", Settle::Check)],
    },
    Row {
        key: "CORSNotSupportingCredentials",
        head: "Credential is not supported if the CORS header 'Access-Control-Allow-Origin' is '*'",
        tail: None,
        proves: "the request was sent with credentials and a response answered `Access-Control-Allow-Origin: *`, which never allows credentials",
        guesses: &[
            ("perhaps the page sends credentials without needing them", Settle::Code),
            ("perhaps the failing response is the OPTIONS preflight", Settle::Network),
        ],
    },
    Row {
        key: "CORSMethodNotFound",
        head: "Did not find method in CORS header 'Access-Control-Allow-Methods'",
        tail: None,
        proves: "the preflight response's `Access-Control-Allow-Methods` does not list the request's method (Firefox names neither the method nor the list)",
        guesses: &[
            ("perhaps the header is absent, or lists the method in another case (methods are case-sensitive)", Settle::Check),
            ("perhaps it holds `*` and the request has credentials", Settle::Check),
        ],
    },
    Row {
        key: "CORSMissingAllowCredentials",
        head: "expected 'true' in CORS header 'Access-Control-Allow-Credentials'",
        tail: None,
        proves: "the request was sent with credentials and a response's `Access-Control-Allow-Credentials` is not exactly `true`",
        guesses: &[
            ("perhaps the header is absent, or sent only on some answers", Settle::Check),
            ("perhaps the page sends credentials without needing them", Settle::Code),
        ],
    },
    Row {
        key: "CORSPreflightDidNotSucceed",
        head: "CORS preflight response did not succeed",
        tail: None,
        proves: "the OPTIONS preflight was answered{status}, outside 200–299 (its CORS headers passed)",
        guesses: &[
            ("perhaps authentication runs before CORS and refuses the preflight (401/403)", Settle::Check),
            ("perhaps the router has no OPTIONS route (404/405), or the server failed (5xx)", Settle::Check),
        ],
    },
    Row {
        key: "CORSExternalRedirectNotAllowed",
        head: "CORS request external redirect not allowed",
        tail: None,
        proves: "the OPTIONS preflight was answered with a redirect (its CORS headers passed), which Firefox does not follow",
        guesses: &[
            ("perhaps a trailing-slash, http-to-https or login redirect", Settle::Check),
        ],
    },
    Row {
        key: "CORSDidNotSucceed",
        head: "CORS request did not succeed",
        tail: None,
        proves: "the request failed without a usable HTTP answer; Firefox reports the network failure here, not a CORS header problem (when it follows another CORS message for the same URL, that one is the cause)",
        guesses: &[
            ("perhaps the server is down or not listening on that port (connection refused), or the name does not resolve", Settle::Check),
            ("perhaps a TLS certificate error, or an extension (ad blocker) blocked the request", Settle::Elsewhere),
            ("perhaps a redirect pointed to a URL with a user name or password", Settle::Check),
        ],
    },
    Row {
        key: "CORSDisabled",
        head: "CORS disabled",
        tail: None,
        proves: "CORS is switched off in this browser (`content.cors.disable`), so every cross-origin request fails",
        guesses: &[("perhaps a test profile set the preference; reset it in about:config", Settle::Elsewhere)],
    },
    Row {
        key: "CORSRequestNotHttp",
        head: "CORS request not HTTP",
        tail: None,
        proves: "the URL's scheme is not http or https; nothing was sent",
        guesses: &[("perhaps the page was opened from a file: URL", Settle::Code)],
    },
    Row {
        key: "CORSOriginHeaderNotAdded",
        head: "CORS header 'Origin' cannot be added",
        tail: None,
        proves: "Firefox could not add the `Origin` header to the request",
        guesses: &[("perhaps the request comes from an extension's content script", Settle::Elsewhere)],
    },
    Row {
        key: "CORSInvalidAllowMethod",
        head: "invalid token '",
        tail: Some("' in CORS header 'Access-Control-Allow-Methods'"),
        proves: "the preflight response's `Access-Control-Allow-Methods` holds `{value}`, which is not a method name",
        guesses: &[("perhaps a stray semicolon, quote or space in the list", Settle::Check)],
    },
    Row {
        key: "CORSInvalidAllowHeader",
        head: "invalid token '",
        tail: Some("' in CORS header 'Access-Control-Allow-Headers'"),
        proves: "the preflight response's `Access-Control-Allow-Headers` holds `{value}`, which is not a header name",
        guesses: &[("perhaps a stray semicolon, quote or space in the list", Settle::Check)],
    },
    Row {
        key: "CORSMissingAllowHeaderFromPreflight",
        head: "header '",
        tail: Some("' is not allowed according to header 'Access-Control-Allow-Headers' from CORS preflight response"),
        proves: "the request sends the header `{value}` and the preflight response's `Access-Control-Allow-Headers` does not list it (Firefox names the first missing one in alphabetical order)",
        guesses: &[
            ("perhaps the header is absent, or lists other names", Settle::Check),
            ("perhaps it holds `*` and the request has credentials", Settle::Check),
        ],
    },
    Row {
        key: "CORSMissingAllowHeaderFromPreflight",
        head: "missing token '",
        tail: Some("' in CORS header 'Access-Control-Allow-Headers' from CORS preflight channel"),
        proves: "the request sends the header `{value}` and the preflight response's `Access-Control-Allow-Headers` does not list it",
        guesses: &[("perhaps the header is absent, or lists other names", Settle::Check)],
    },
];

/// Printed by Chromium and Safari alike when script sets a forbidden request
/// header (`setRequestHeader`, `Headers`): not a CORS failure.
pub const UNSAFE_HEADER: Row = Row {
    key: "RefusedUnsafeHeader",
    head: "Refused to set unsafe header \"",
    tail: Some("\""),
    proves: "the page's script tried to set `{value}`, a header only the browser may set (a forbidden request header); the browser left it out and sent the request without it",
    guesses: &[
        ("perhaps the code (or a library) sets it by habit; remove the call", Settle::Code),
        ("perhaps the request then fails for another reason: that one has its own console message", Settle::Check),
    ],
};

/// Safari (WebKit): its messages, found anywhere in the pasted text.
pub const WEBKIT: &[Row] = &[
    Row {
        key: "OriginNotAllowed",
        head: "Origin ",
        tail: Some(" is not allowed by Access-Control-Allow-Origin."),
        proves: "a response{status} did not allow the origin `{value}`: WebKit says this both when `Access-Control-Allow-Origin` is missing and when it names another origin (the message does not tell which)",
        guesses: &[
            ("perhaps the header is missing (no CORS setup, or an error answer made outside the CORS layer)", Settle::Check),
            ("perhaps it names another origin (a trailing slash, another port or scheme)", Settle::Check),
        ],
    },
    Row {
        key: "WildcardWithCredentials",
        head: "Cannot use wildcard in Access-Control-Allow-Origin when credentials flag is true.",
        tail: None,
        proves: "the request was sent with credentials and a response answered `Access-Control-Allow-Origin: *`",
        guesses: &[("perhaps the page sends credentials without needing them", Settle::Code)],
    },
    Row {
        key: "MultipleOrigins",
        head: "Access-Control-Allow-Origin cannot contain more than one origin.",
        tail: None,
        proves: "a response's `Access-Control-Allow-Origin` holds a comma: several origins, or the header sent twice",
        guesses: &[("perhaps both a proxy and the application add the header", Settle::Check)],
    },
    Row {
        key: "CredentialsNotTrue",
        head: "Credentials flag is true, but Access-Control-Allow-Credentials is not \"true\".",
        tail: None,
        proves: "the request was sent with credentials and a response's `Access-Control-Allow-Credentials` is not exactly `true`",
        guesses: &[("perhaps the header is absent, or sent only on some answers", Settle::Check)],
    },
    Row {
        key: "PreflightNotSuccessful",
        head: "Preflight response is not successful.",
        tail: None,
        proves: "the OPTIONS preflight was answered{status}, outside 200–299 (WebKit checks the status before any CORS header)",
        guesses: &[
            ("perhaps authentication runs before CORS and refuses the preflight (401/403)", Settle::Check),
            ("perhaps the router has no OPTIONS route (404/405), or a redirect (3xx)", Settle::Check),
        ],
    },
    Row {
        key: "InvalidAllowMethods",
        head: "Header Access-Control-Allow-Methods has an invalid value: ",
        tail: None,
        proves: "the preflight response's `Access-Control-Allow-Methods` (`{value}`) is not a comma-separated list of method names",
        guesses: &[("perhaps a stray semicolon, quote or space in the list", Settle::Check)],
    },
    Row {
        key: "InvalidAllowHeaders",
        head: "Header Access-Control-Allow-Headers has an invalid value: ",
        tail: None,
        proves: "the preflight response's `Access-Control-Allow-Headers` (`{value}`) is not a comma-separated list of header names",
        guesses: &[("perhaps a stray semicolon, quote or space in the list", Settle::Check)],
    },
    Row {
        key: "MethodNotAllowed",
        head: "Method ",
        tail: Some(" is not allowed by Access-Control-Allow-Methods."),
        proves: "the request uses method {value} and the preflight response's `Access-Control-Allow-Methods` does not list it",
        guesses: &[
            ("perhaps the header is absent, or lists the method in another case (methods are case-sensitive)", Settle::Check),
        ],
    },
    Row {
        key: "HeaderNotAllowed",
        head: "Request header field ",
        tail: Some(" is not allowed by Access-Control-Allow-Headers."),
        proves: "the request sends the header `{value}` and the preflight response's `Access-Control-Allow-Headers` does not list it",
        guesses: &[("perhaps the header is absent, or lists other names", Settle::Check)],
    },
    Row {
        key: "RedirectCredentials",
        head: "has credentials",
        tail: None,
        proves: "a redirect pointed to a URL with a user name or password, which WebKit refuses to follow across origins",
        guesses: &[("perhaps a server or proxy builds its redirect URL with credentials in it", Settle::Check)],
    },
    Row {
        key: "AccessControlChecks",
        head: "due to access control checks.",
        tail: None,
        proves: "Safari refused the response for CORS; this line does not say why: the console line just before it (\"Origin … is not allowed…\", \"Preflight response is not successful…\") does",
        guesses: &[
            CHECK_FIRST,
            ("perhaps the server is unreachable: Safari reports some network failures with this line too", Settle::Network),
        ],
    },
    Row {
        key: "FetchCannotLoad",
        head: "Fetch API cannot load ",
        tail: None,
        proves: "Safari's `fetch()` failed for this URL; this line gives no reason (not even that CORS refused it)",
        guesses: &[
            ("perhaps a CORS refusal whose reason Safari printed on the line before", Settle::Network),
            ("perhaps the request's mode is 'same-origin' and the URL, or a redirect, is on another origin", Settle::Code),
            ("perhaps a network failure (connection refused, TLS, a content blocker)", Settle::Check),
        ],
    },
];
