//! Browser profiles: the places where shipping browsers depart from the Fetch
//! standard, each a documented switch.
//!
//! The engine implements the standard; a [`Profile`] says where a given browser
//! behaves otherwise. Every difference is one method here, so an explanation can
//! say when a behaviour is browser-specific. The `chromium` profile is the
//! default; the `chromium`, `firefox` and `safari` profiles are checked against
//! real Chromium, Firefox and WebKit (WebKitGTK) by the conformance tests.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::browser::init::{HeadersForm, Initiator};
use crate::browser::response::Response;

/// Which browser's behaviour to model.
///
/// ```
/// use corsgate_core::Profile;
/// assert_eq!(Profile::default(), Profile::Chromium);
/// assert_eq!(Profile::Chromium.max_age_cap(), 7200);
/// assert!(!Profile::Standard.wildcard_covers_authorization());
/// assert_eq!("firefox".parse::<Profile>().unwrap(), Profile::Firefox);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Chromium (and Chrome, Edge, Opera): the default.
    #[default]
    Chromium,
    /// Firefox.
    Firefox,
    /// Safari (WebKit): checked against WebKitGTK 2.50.6 (MiniBrowser on
    /// libsoup) by the conformance harness, not against Safari on CFNetwork.
    Safari,
    /// The Fetch standard to the letter.
    Standard,
}

/// How a browser tells that `Access-Control-Allow-Origin` carried several values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MultipleOriginDetection {
    /// The standard: lines are combined with `", "` and the result simply fails to match.
    CombinedMismatch,
    /// Chromium: the combined value contains a comma or a space.
    CommaOrSpace,
    /// Firefox: more than one header line; a single `a, b` line is a mismatch.
    HeaderLines,
    /// WebKit: the value contains a comma.
    Comma,
}

/// Which request header a browser names when a preflight answer allows
/// several of the request's headers not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisallowedHeaderNamed {
    /// The first in alphabetical order of the lower-cased names (the
    /// standard's sorted "CORS-unsafe request-header names"; Firefox, whose
    /// console says so on every such case of the conformance harness). The
    /// engine names this one.
    FirstSorted,
    /// The first in the order of Blink's request header map, a string-hash
    /// order that also depends on how script set them (`fetch()` and
    /// `XMLHttpRequest` differ): [`Profile::unsafe_header_order`].
    BlinkHeaderMap,
    /// WebKit's `validateCrossOriginHeaders` walks its `HTTPHeaderMap`:
    /// the headers with a known name first, then the others, each in the
    /// order script set them (WebKit's source; not checked against Safari).
    WebKitHeaderMap,
}

/// What a browser does with an `Access-Control-Max-Age` it cannot parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidMaxAge {
    /// Use the default of 5 seconds (the standard, Chromium, WebKit).
    Default,
    /// Do not cache the preflight at all (Firefox).
    NoCache,
}

impl Profile {
    /// All profiles.
    pub const ALL: [Profile; 4] = [
        Profile::Chromium,
        Profile::Firefox,
        Profile::Safari,
        Profile::Standard,
    ];

    /// The profile's name as used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Chromium => "chromium",
            Profile::Firefox => "firefox",
            Profile::Safari => "safari",
            Profile::Standard => "standard",
        }
    }

    /// Whether `*` in `Access-Control-Allow-Headers` also covers `Authorization`.
    /// The standard says no (Authorization is the one "CORS non-wildcard
    /// request-header name"); Chromium, Firefox and Safari all let it
    /// (whatwg/fetch#1919). Firefox logs a deprecation warning when it does.
    pub fn wildcard_covers_authorization(self) -> bool {
        !matches!(self, Profile::Standard)
    }

    /// Whether the *preflight cache* lets a cached `*` cover `Authorization`.
    /// Chromium's cache lookup is strict even though its preflight check is
    /// lenient, so a request with `Authorization` always gets a fresh preflight.
    /// (Firefox's cache never honours `*` at all: see
    /// [`Profile::cache_honours_wildcards`].)
    pub fn cache_wildcard_covers_authorization(self) -> bool {
        matches!(self, Profile::Safari)
    }

    /// Whether the preflight cache serves `method` without a cached entry
    /// for it. The standard skips the method check for every CORS-safelisted
    /// method (`GET`, `HEAD`, `POST`); Firefox's cache only for `GET` and
    /// `POST`, so a preflighted `HEAD` (with a custom header) is preflighted
    /// again unless `Access-Control-Allow-Methods` listed `HEAD`. Checked
    /// against Firefox 153 ESR.
    pub fn cache_skips_method_check(self, method: &str) -> bool {
        match self {
            Profile::Firefox => matches!(method, "GET" | "POST"),
            _ => crate::method::is_cors_safelisted(method),
        }
    }

    /// Whether a new preflight to a URL *replaces* what the cache held for
    /// that origin and URL, instead of adding to it. The standard (and
    /// Firefox) keep one entry per method and header name, so a second
    /// preflight for `DELETE` leaves a cached `PUT` in place. Chromium keeps
    /// one result per origin and URL and overwrites it
    /// (`PreflightCache::AppendEntry`), whatever the credentials mode, so
    /// `PUT`, then `DELETE`, then `PUT` again to one URL is preflighted three
    /// times. WebKit's cache does the same (`appendEntry` sets the map
    /// slot). Checked against Chromium 156 and Firefox 153 ESR
    /// (`tests/preflight_cache.rs` in the conformance crate).
    pub fn cache_replaces_entry(self) -> bool {
        matches!(self, Profile::Chromium | Profile::Safari)
    }

    /// The URL length from which a preflight is not cached at all, if any.
    /// Chromium keys its cache by the URL's serialization and skips any of
    /// 1024 bytes or more (`kMaxKeyLength` in `PreflightCache::AppendEntry`),
    /// so requests to such a URL are preflighted every time. Checked against
    /// Chromium 156 (`tests/preflight_cache.rs` in the conformance crate).
    pub fn preflight_cache_url_limit(self) -> Option<usize> {
        match self {
            Profile::Chromium => Some(1024),
            _ => None,
        }
    }

    /// Whether a `*` remembered from `Access-Control-Allow-Methods` or
    /// `-Headers` lets the *preflight cache* serve other methods and headers.
    /// The standard says yes (for requests without credentials); Firefox's
    /// cache (`nsPreflightCache::CacheEntry::CheckRequest`) compares methods
    /// and names literally, so a request allowed only through `*` is
    /// preflighted every time. Checked against Firefox 153 ESR.
    pub fn cache_honours_wildcards(self) -> bool {
        !matches!(self, Profile::Firefox)
    }

    /// The largest `Access-Control-Max-Age` honoured, in seconds. The standard
    /// leaves the cap to the browser; the `standard` profile uses a day.
    pub fn max_age_cap(self) -> u64 {
        match self {
            Profile::Chromium => 7200,
            Profile::Firefox => 86400,
            Profile::Safari => 600,
            Profile::Standard => 86400,
        }
    }

    /// The max-age used when the header is absent: 5 seconds everywhere.
    pub fn default_max_age(self) -> u64 {
        5
    }

    /// Whether `Access-Control-Max-Age` may carry a sign, a negative value
    /// meaning "do not cache" (rather than being unparsable, which means the
    /// default). Chromium's `StringToInt64` takes an optional sign; WebKit
    /// parses the value as a signed integer too, so `-1` caches nothing
    /// where the standard (digits only) falls back to 5 seconds. Checked
    /// against Chromium 156 and WebKitGTK 2.50.6 (`tests/webkit.rs`).
    pub fn max_age_takes_a_sign(self) -> bool {
        matches!(self, Profile::Chromium | Profile::Safari)
    }

    /// What an unparsable `Access-Control-Max-Age` does.
    pub fn invalid_max_age(self) -> InvalidMaxAge {
        match self {
            Profile::Firefox => InvalidMaxAge::NoCache,
            _ => InvalidMaxAge::Default,
        }
    }

    /// Whether a single `Range: bytes=N-` or `bytes=N-M` is CORS-safelisted.
    /// The standard says yes; Debian's Chromium 156 agrees (checked here).
    pub fn range_is_safelisted(self) -> bool {
        true
    }

    /// Whether the client-hint request headers `Save-Data`, `Device-Memory`,
    /// `DPR`, `Width`, `Viewport-Width`, `RTT`, `Downlink`, `ECT` and
    /// `Intervention` are CORS-safelisted (with values of the right shape; see
    /// [`crate::browser::safelist::check_request_header`]). Chromium's `cors.cc`
    /// safelists them; the standard does not. Checked against Chromium 156 by
    /// the conformance harness.
    pub fn safelists_client_hints(self) -> bool {
        matches!(self, Profile::Chromium)
    }

    /// Request headers the browser removes when it follows a redirect to a
    /// URL that is not same-origin with the page. Chromium drops the client
    /// hints `DPR`, `Device-Memory`, `Width`, `Viewport-Width`, `RTT`,
    /// `Downlink` and `ECT` (even those script set) there, also on a redirect
    /// within the target's origin, so the next hop's preflight no longer
    /// announces them; back on the page's own origin they are kept. Checked
    /// against Chromium 156.
    pub fn request_headers_removed_on_redirect(self) -> &'static [&'static str] {
        match self {
            Profile::Chromium => &[
                "device-memory",
                "downlink",
                "dpr",
                "ect",
                "rtt",
                "viewport-width",
                "width",
            ],
            _ => &[],
        }
    }

    /// Whether a request header set several times is judged by its combined
    /// value (`a, b`) rather than line by line. Only a request list that
    /// holds a name twice shows it: pairs (a `Headers` object and
    /// `setRequestHeader` make one line per name, see
    /// [`crate::HeadersForm`]); Firefox then judges line by line anyway
    /// ([`Profile::judges_header_lines`]). Chromium and Firefox keep one
    /// value per name, so `Content-Type: text/plain` twice is `text/plain,
    /// text/plain`, which is not safelisted; the standard checks each line.
    /// Checked against Chromium 156 and Firefox 153 ESR by the conformance
    /// harness. WebKit does the same (`HTTPHeaderMap::add` joins the lines
    /// before `isCrossOriginSafeRequestHeader` sees them): a doubled
    /// `Content-Type: text/plain` is preflighted. Checked against WebKitGTK
    /// 2.50.6 (`tests/webkit.rs`).
    pub fn combines_request_headers(self) -> bool {
        matches!(self, Profile::Chromium | Profile::Firefox | Profile::Safari)
    }

    /// Whether a request whose headers script passed in `form` is judged
    /// line by line, each unsafe line announced in
    /// `Access-Control-Request-Headers` (a name given twice is listed twice:
    /// `x-a,x-a`), even by a profile that
    /// [`Profile::combines_request_headers`]. Firefox judges the entries of
    /// `fetch()`'s own header list, which holds one line per pair (or per
    /// key of a plain object: `X-A` and `x-a`): `Range: bytes=0-1` and
    /// `Range: bytes=2-3` given as pairs need no preflight, and two
    /// `Accept-Language` pairs of 120 bytes each none either, where a
    /// `Headers` object (read back as one combined line) or
    /// `setRequestHeader` (which combines) makes one unsafe line. Chromium
    /// and WebKit judge the combined value whatever the form. Checked
    /// against Firefox 153 ESR, Chromium 156 and WebKitGTK 2.50.6
    /// (`tests/headers_form.rs` in the conformance crate).
    pub fn judges_header_lines(self, form: HeadersForm) -> bool {
        matches!(self, Profile::Firefox) && matches!(form, HeadersForm::Pairs | HeadersForm::Record)
    }

    /// Whether a request carrying several `Content-Type` lines sends only
    /// the last one (where the other names go out combined, `a, b`).
    /// Firefox sets `Content-Type` on its channel replacing the previous
    /// value: pairs `text/plain` then `application/json` send
    /// `Content-Type: application/json` (after a preflight for it). The
    /// standard, Chromium and WebKit send `text/plain, application/json`.
    /// Only a form that keeps two lines shows it (pairs, or a plain object
    /// with `Content-Type` and `content-type`). Checked against Firefox 153
    /// ESR (`tests/headers_form.rs` in the conformance crate).
    pub fn sends_last_content_type_line(self) -> bool {
        matches!(self, Profile::Firefox)
    }

    /// Whether a `Content-Type` request header holding a comma is never
    /// safelisted. Firefox parses the value strictly as a single media type
    /// (`net_ParseRequestContentType`), so `text/plain;charset=utf-8,
    /// application/json` (what `setRequestHeader` makes of two calls) needs a
    /// preflight; the standard's MIME parser reads it as `text/plain` with an
    /// odd parameter. Checked against Firefox 153 ESR.
    pub fn content_type_rejects_comma(self) -> bool {
        matches!(self, Profile::Firefox)
    }

    /// Whether the safelisted header `name` (lower case) takes part in the
    /// 1024-byte rule (safelisted values adding up to more than 1024 bytes
    /// all need a preflight). The standard counts and marks every safelisted
    /// header; Firefox has no such rule. With a `Headers` object or
    /// `setRequestHeader` each name is one line, and the five safelisted
    /// names of at most 128 bytes each cannot pass 1024 (three `Accept`,
    /// `Accept-Language` and `Content-Language` lines of 120 bytes make
    /// three unsafe lines of 360 bytes). Given as pairs, they stay nine safe
    /// lines (1,080 bytes in all), and Firefox sends them without a
    /// preflight. Checked against Firefox 153 ESR (`tests/headers_form.rs`
    /// in the conformance crate, and the matrix's pairs).
    pub fn total_limit_covers(self, _name: &str) -> bool {
        !matches!(self, Profile::Firefox)
    }

    /// Whether a request carrying a conditional header (`If-None-Match`,
    /// `If-Modified-Since`, `If-Unmodified-Since`, `If-Match`, `If-Range`)
    /// skips the preflight cache and is always preflighted. Such headers make
    /// the fetch's cache mode `no-store`, and Chromium then bypasses its
    /// preflight cache too. Firefox does the same for `fetch()` but not for
    /// `XMLHttpRequest`, whose cache mode the header does not change. Checked
    /// against Chromium 156 and Firefox 153 ESR.
    pub fn conditional_headers_bypass_preflight_cache(self, initiator: Initiator) -> bool {
        match self {
            Profile::Chromium => true,
            Profile::Firefox => initiator == Initiator::Fetch,
            Profile::Safari | Profile::Standard => false,
        }
    }

    /// Whether a preflight made with the `null` origin of a redirect-tainted
    /// request can be reused. The standard keys the cache by the serialized
    /// origin, so `null` entries match later `null` requests; Chromium gives
    /// each tainted request a fresh opaque origin, so they never match.
    /// Firefox sends such a preflight with the page's origin
    /// ([`Profile::preflight_uses_request_origin`]) and reuses it under that
    /// origin. WebKit never reuses a `null`-origin preflight either.
    /// Checked against Chromium 156, Firefox 153 ESR and WebKitGTK 2.50.6.
    pub fn caches_tainted_origin_preflights(self) -> bool {
        !matches!(self, Profile::Chromium | Profile::Safari)
    }

    /// Whether a preflight made without credentials for a URL whose host is
    /// an IP address (not a name) is reused. Firefox checks its DNS cache
    /// before using a cached preflight and drops the entry when it finds no
    /// record of the host older than the entry (`CORSCacheEntry::
    /// CheckDNSCache`); for `http://127.0.0.1:…` and requests without
    /// credentials that is (almost always) the case, so they are preflighted
    /// every time, while `http://localhost:…` entries, and credentialed ones,
    /// are reused. The standard and Chromium cache by URL alone. Checked
    /// against Firefox 153 ESR on loopback; a few such requests still hit the
    /// cache when an earlier request happened to leave a DNS record behind.
    pub fn caches_preflights_for_ip_hosts(self) -> bool {
        !matches!(self, Profile::Firefox)
    }

    /// Whether a request that ends in a network error after its preflight
    /// (a response or redirect failing the CORS check, a refused redirect
    /// such as one to `user:pass@`) also removes the preflight cache entries
    /// for the URL it failed at, so the next request is preflighted again.
    /// Firefox does (`nsCORSListenerProxy` calls `RemoveEntries` whenever
    /// `CheckRequestApproved` fails, and a cancelled channel fails it); the
    /// standard clears the cache only when the preflight itself fails, and
    /// Chromium keeps it. Checked against Firefox 153 ESR.
    pub fn clears_preflight_cache_on_failure(self) -> bool {
        matches!(self, Profile::Firefox)
    }

    /// Whether a request keeps being preflighted after a redirect once it has
    /// needed a preflight. Firefox marks the channel "requires a CORS
    /// preflight" when the request first needs one (or when script set a
    /// CORS-unsafe header, even on a same-origin first URL) and carries the
    /// mark across redirects: every later cross-origin hop gets a preflight
    /// (with the method and unsafe headers the request has by then, possibly
    /// none, e.g. after a 303 made it a `GET`) unless the preflight cache
    /// holds an entry for that URL. The standard judges each hop afresh.
    /// Checked against Firefox 153 ESR.
    ///
    /// WebKit does the same (`NetworkLoadChecker` clears `m_isSimpleRequest`
    /// once it preflights, and every later hop outside the page's origin is
    /// preflighted again unless the cache allows it), with the request's
    /// origin as it is by then: `Origin: null` after a cross-origin
    /// redirect. Checked against WebKitGTK 2.50.6 (a `custom` request
    /// redirected 303 to another origin preflights the `GET` there).
    pub fn keeps_preflighting_after_redirect(self) -> bool {
        matches!(self, Profile::Firefox | Profile::Safari)
    }

    /// Whether a preflight after a redirect announces (and has allowed) the
    /// CORS-unsafe headers of the request *as script made it*, less only the
    /// ones the latest redirect removed. Firefox rebuilds the list from the
    /// load's original unsafe headers at every hop (`CheckPreflightNeeded`),
    /// stripping request-body headers only when that very redirect turned the
    /// method into `GET`, and `Authorization` only when it crossed origins:
    /// a `POST` with `Content-Type: application/json` redirected 302 and then
    /// 302 again announces `content-type` at the third hop although the
    /// header is long gone from the request. The standard uses the request's
    /// current headers. Checked against Firefox 153 ESR.
    /// WebKit judges and announces the original headers too
    /// (`m_originalRequestHeaders`), all of them: see
    /// [`Profile::preflight_lists_headers_a_redirect_removed`].
    pub fn preflight_lists_original_headers(self) -> bool {
        matches!(self, Profile::Firefox | Profile::Safari)
    }

    /// Whether, with [`Profile::preflight_lists_original_headers`], the
    /// preflight after a redirect still announces (and needs allowed) the
    /// headers that very redirect removed: `Authorization` after a
    /// cross-origin hop, `Content-Type` and `Content-Language` after a 303.
    /// WebKit keeps the request's original header map for its CORS checks,
    /// so a `PUT` with `Authorization` redirected 307 to another origin
    /// preflights there with `Access-Control-Request-Headers:
    /// authorization`, and a `GET` from the page with `Authorization`
    /// redirected to another origin is preflighted for it. Firefox drops
    /// what the latest redirect removed. Checked against WebKitGTK 2.50.6.
    pub fn preflight_lists_headers_a_redirect_removed(self) -> bool {
        matches!(self, Profile::Safari)
    }

    /// Whether a request redirected within one origin keeps the `Origin`
    /// header the previous hop carried on a hop that would, by the standard,
    /// carry none (a same-origin `GET` after a `PUT` answered 303, a
    /// `no-cors` `POST` redirected 302 to a `GET` on the same host). WebKit
    /// leaves the headers of a same-origin redirect as they were; the
    /// standard adds `Origin` afresh at every hop. A redirect to another
    /// origin rebuilds the header in WebKit too (a `no-cors` `POST`
    /// redirected to a `GET` elsewhere carries none). Checked against
    /// WebKitGTK 2.50.6.
    pub fn keeps_origin_header_on_redirect(self) -> bool {
        matches!(self, Profile::Safari)
    }

    /// Whether a same-origin request redirected to another origin's URL with
    /// `user:pass@` is refused only after the browser has sent that hop's
    /// preflight (when the hop needs one) and the preflight passed. WebKit
    /// turns such a request into a CORS one and preflights it before it
    /// looks at the URL's credentials; the standard refuses the redirect at
    /// once. A request that is already CORS (it has been to another origin)
    /// is refused at once in WebKit too. Checked against WebKitGTK 2.50.6.
    pub fn preflights_before_refusing_userinfo_redirect(self) -> bool {
        matches!(self, Profile::Safari)
    }

    /// Whether a preflight carries the request's own origin even after a
    /// cross-origin redirect made the request's origin `null`. Firefox sends
    /// its preflights on behalf of the page (the loading principal): the
    /// preflight says `Origin: <page>`, its response is checked against the
    /// page's origin and cached under it, while the request itself goes out
    /// with `Origin: null` and its response must allow `null` (or `*`). The
    /// standard and Chromium preflight with `Origin: null`. Checked against
    /// Firefox 153 ESR.
    pub fn preflight_uses_request_origin(self) -> bool {
        matches!(self, Profile::Firefox)
    }

    /// Whether a preflight to a URL that is same-origin with the request's
    /// origin (a redirect back to the page's origin) skips the CORS check
    /// (`Access-Control-Allow-Origin` / `-Credentials`), keeping only the
    /// status, methods and headers checks. Firefox's preflight channel is a
    /// same-origin load there; the standard checks every preflight. Checked
    /// against Firefox 153 ESR.
    pub fn same_origin_preflight_skips_cors_check(self) -> bool {
        matches!(self, Profile::Firefox)
    }

    /// Whether a request that carries `Origin` outside CORS (a `no-cors`
    /// `POST`, or a same-origin one) sends `Origin: null` once any redirect
    /// on its way crossed origins, even a redirect from the page's own
    /// origin to another, which the standard's redirect-taint does not
    /// count (the current URL was same-origin with the request's origin).
    /// Chromium's network stack nulls the header on every cross-origin
    /// redirect (`RedirectUtil::UpdateHttpRequest`) and only CORS requests
    /// get it recomputed. Found by the conformance harness (seed
    /// `0x5eed20f1ce20`, a `no-cors` `POST` 308-redirected from the page's
    /// origin to another) in Chromium 156.
    pub fn redirect_nulls_no_cors_origin(self) -> bool {
        matches!(self, Profile::Chromium)
    }

    /// Whether `fetch()` refuses every redirect to a URL with `user:pass@`,
    /// even a same-origin one the standard allows. Chromium's `fetch()` does;
    /// its `XMLHttpRequest` follows the same-origin ones. Checked against
    /// Chromium 156.
    pub fn fetch_refuses_redirect_with_userinfo(self) -> bool {
        matches!(self, Profile::Chromium)
    }

    /// How several `Access-Control-Allow-Origin` values are detected.
    pub fn multiple_origin_detection(self) -> MultipleOriginDetection {
        match self {
            Profile::Chromium => MultipleOriginDetection::CommaOrSpace,
            Profile::Firefox => MultipleOriginDetection::HeaderLines,
            Profile::Safari => MultipleOriginDetection::Comma,
            Profile::Standard => MultipleOriginDetection::CombinedMismatch,
        }
    }

    /// Whether the preflight's status is judged before its CORS headers
    /// (WebKit's `validatePreflightResponse`: "Preflight response is not
    /// successful. Status code: N"), so a 401 without CORS headers is
    /// reported as a bad status; the standard, Chromium and Firefox run the
    /// CORS check first (Firefox 153 ESR's console, the conformance
    /// harness). The outcome is the same. WebKit's order checked against
    /// WebKitGTK 2.50.6's console.
    pub fn preflight_status_first(self) -> bool {
        matches!(self, Profile::Safari)
    }

    /// Which request header the console names when several are not
    /// allowed by the preflight answer. Checked by the conformance
    /// harness against Chromium 156's and Firefox 153 ESR's consoles (Chromium
    /// named another disallowed header than the first sorted on 32 of 774
    /// requests of a fresh seed).
    pub fn disallowed_header_named(self) -> DisallowedHeaderNamed {
        match self {
            Profile::Chromium => DisallowedHeaderNamed::BlinkHeaderMap,
            Profile::Safari => DisallowedHeaderNamed::WebKitHeaderMap,
            Profile::Firefox | Profile::Standard => DisallowedHeaderNamed::FirstSorted,
        }
    }

    /// The order in which the browser walks a request's CORS-unsafe header
    /// names when it looks for one the preflight answer did not allow, as
    /// lower-cased names; `None` for the alphabetical order (the standard's
    /// sorted list, and Firefox's). Chromium walks the network request's
    /// headers in the order Blink's `HTTPHeaderMap` (a hash table) handed
    /// them over, which depends on the names, their number and whether
    /// `fetch()` or `XMLHttpRequest` set them
    /// ([`crate::blink_header_map`]), and on the URL (the user-agent client
    /// hints Blink adds to potentially trustworthy ones). Checked against
    /// Chromium 156's console on 5,400 requests with 2 to 6 disallowed headers
    /// (`examples/blink_header_order.rs` in the conformance crate) and on
    /// the conformance matrix. Not modelled: after a redirect that removed
    /// headers (client hints, `Authorization`, `Content-Type` after a 303),
    /// the engine orders the remaining ones afresh, where Chromium keeps the
    /// first hop's order less the removed names (no case of the fresh seeds
    /// reached a difference); WebKit's order
    /// ([`DisallowedHeaderNamed::WebKitHeaderMap`]).
    pub fn unsafe_header_order(self, request: &crate::Request) -> Option<Vec<String>> {
        match self.disallowed_header_named() {
            DisallowedHeaderNamed::BlinkHeaderMap => Some(crate::blink_header_map::network_order(
                &request.headers().unique_names(),
                match request.initiator() {
                    Initiator::Fetch => crate::blink_header_map::Insertion::Sorted,
                    Initiator::Xhr => crate::blink_header_map::Insertion::ViaOwnMap,
                },
                crate::blink_header_map::sends_client_hints(request.url()),
            )),
            _ => None,
        }
    }

    /// Whether `Access-Control-Allow-Headers` is parsed only after the
    /// method was found in `Access-Control-Allow-Methods`, so a preflight
    /// answer that lacks the method *and* holds an unparsable header list is
    /// reported as "method not found". Firefox checks the methods (parse and
    /// match) before it reads the header list
    /// (`nsCORSPreflightListener::CheckPreflightRequestApproved`); the
    /// standard and Chromium parse both lists first. Found by comparing
    /// Firefox 153 ESR's console with the engine (the conformance harness).
    /// Firefox, like the standard and Chromium, runs the CORS check
    /// (`Access-Control-Allow-Origin`, `-Credentials`) on a preflight answer
    /// before its status: a 404 preflight with a mismatched origin is logged
    /// as the mismatch.
    pub fn checks_method_before_parsing_allow_headers(self) -> bool {
        matches!(self, Profile::Firefox)
    }

    /// Whether an `Access-Control-Allow-Origin` value that is not a URL at all is
    /// reported as invalid (Chromium `InvalidAllowOriginValue`) rather than as a
    /// mismatch (Firefox has one key for both; WebKit one message, "Origin …
    /// is not allowed by Access-Control-Allow-Origin", checked against
    /// WebKitGTK 2.50.6's console).
    pub fn reports_invalid_allow_origin(self) -> bool {
        !matches!(self, Profile::Firefox | Profile::Safari)
    }

    /// Whether the console warns when `Authorization` passed only because of `*`
    /// in `Access-Control-Allow-Headers` (Firefox's deprecation warning).
    pub fn warns_authorization_via_wildcard(self) -> bool {
        matches!(self, Profile::Firefox)
    }

    /// The `Location` a 3xx answer redirects to, or `None` when the browser
    /// takes the answer as an ordinary response (a status outside 2xx for a
    /// preflight: the CORS headers are checked first, then "does not have
    /// HTTP ok status"; a final answer for a request).
    ///
    /// Chromium follows only a redirect status with a non-empty `Location`
    /// line (`HttpResponseHeaders::IsRedirect` skips empty values); Firefox
    /// "carries on as though this were a normal response" when no `Location`
    /// header was given (`nsHttpChannel`), and so does the standard, whose
    /// location URL is null without the header. Found by the conformance
    /// harness: a 3xx preflight without `Location` was named a redirect.
    pub fn redirect_location(self, response: &Response) -> Option<String> {
        if !response.is_redirect_status() {
            return None;
        }
        match self {
            Profile::Chromium => response
                .headers
                .get_all("location")
                .map(|v| String::from_utf8_lossy(v).trim().to_owned())
                .find(|v| !v.is_empty()),
            _ => response.headers.get_str("location"),
        }
    }

    /// Whether a preflight answered with a redirect is CORS-checked
    /// (`Access-Control-Allow-Origin`, `-Credentials`) before the redirect
    /// is refused, so a 3xx with a bad `Access-Control-Allow-Origin` is
    /// reported as that, and "external redirect not allowed" only when the
    /// CORS check passed. Firefox's CORS listener checks the 3xx before its
    /// preflight listener refuses the redirect; Chromium refuses the
    /// redirect first. Found by comparing Firefox 153 ESR's console with the
    /// engine (the conformance harness). The outcome is the same: refused.
    pub fn cors_checks_a_redirected_preflight(self) -> bool {
        matches!(self, Profile::Firefox)
    }

    /// Whether a redirected preflight is reported apart from other non-ok
    /// statuses (Chromium: `kPreflightDisallowedRedirect`; Firefox:
    /// `CORSExternalRedirectNotAllowed`). The outcome is the same: refused.
    pub fn reports_preflight_redirect(self) -> bool {
        !matches!(self, Profile::Standard | Profile::Safari)
    }

    /// Whether a request in credentials mode `same-origin` whose first URL is
    /// on the page's origin has a *redirect* from another origin CORS-checked
    /// as credentialed (so `*` in `Access-Control-Allow-Origin` is refused
    /// there), while its final response is checked as uncredentialed. WebKit
    /// checks redirects against the stored-credentials policy it chose when
    /// the load started, and a load that starts same-origin uses stored
    /// credentials; the standard checks both as uncredentialed. Checked
    /// against WebKitGTK 2.50.6 (`XMLHttpRequest` without `withCredentials`,
    /// credentials mode `same-origin`, from the page to another origin that
    /// redirects with `*`: "Cross-origin redirection to … denied by
    /// Cross-Origin Resource Sharing policy: Cannot use wildcard in
    /// Access-Control-Allow-Origin when credentials flag is true"; the same
    /// `*` on the final response passes). The credentialed check is WebKit's
    /// web process (`SubresourceLoader::checkRedirectionCrossOriginAccessControl`,
    /// with the load's stored-credentials policy), which sees the redirect
    /// only after the network process has checked it as the request's own
    /// mode, refused a `user:pass@` location and preflighted the next hop: a
    /// failure there is reported after those, and a failing preflight of the
    /// next hop is what WebKit names. Whether the request was preflighted
    /// before does not matter (seed `f95b13455e481`, #1764: preflighted at
    /// the first cross-origin hop, whose 307 with `*` is refused after the
    /// next hop's preflight; seed `ab1929204b446`, #1611: the `user:pass@`
    /// location is named first; an earlier reading, "not once the request has
    /// been preflighted", came from a case where WebKit sent that next
    /// preflight). Pinned by unit tests.
    pub fn same_origin_start_keeps_credentials(self) -> bool {
        matches!(self, Profile::Safari)
    }

    /// Whether a redirected preflight is reported as any other non-ok
    /// status. WebKit says "Preflight response is not successful. Status
    /// code: 302" for a preflight answered with a redirect, the same as for
    /// a 404; the standard's network error names no reason, and corsgate
    /// then names the redirect. Checked against WebKitGTK 2.50.6's console.
    pub fn reports_preflight_redirect_as_status(self) -> bool {
        matches!(self, Profile::Safari)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "chromium" | "chrome" | "edge" => Ok(Profile::Chromium),
            "firefox" | "gecko" => Ok(Profile::Firefox),
            "safari" | "webkit" => Ok(Profile::Safari),
            "standard" | "spec" | "fetch" => Ok(Profile::Standard),
            other => Err(format!(
                "unknown browser profile '{other}': use chromium, firefox, safari or standard"
            )),
        }
    }
}
