//! # corsgate-core
//!
//! The CORS engine of corsgate: the Fetch standard's CORS algorithms, in both
//! roles, with no I/O.
//!
//! * **Browser role** — what a browser does with a cross-origin request and
//!   what it receives: [`Origin`] parsing and comparison, request
//!   classification ([`Request::classify`]), the preflight
//!   ([`preflight`]), the `cors_check`, exposed headers ([`exposure`]), the
//!   [`PreflightCache`], redirects, all driven by the sans-I/O [`Browser`].
//!   Where browsers depart from the standard, a [`Profile`] says how.
//! * **Server role** — what a server should answer: a validated [`Policy`]
//!   (built in code or read from TOML, every problem reported at once as
//!   [`PolicyErrors`]), its origin matcher ([`origin_set`]), and
//!   [`Policy::decide`], which returns a [`Decision`] (answer a preflight
//!   here, or pass the request on with the headers to add) and its
//!   [`Reason`]. The `corsgate-tower` crate wraps it as tower middleware.
//! * Every refusal is a [`Refusal`]: it names the header, the value seen, the
//!   value needed, and the fix, and maps to Chromium's and Firefox's own error
//!   names.
//!
//! ```
//! use corsgate_core::{Browser, Profile, Request, Response, Stage, Credentials};
//!
//! let request = Request::builder("https://app.example", "https://api.example/me")
//!     .credentials(Credentials::Include)
//!     .build()?;
//! let mut browser = Browser::new(Profile::Chromium);
//! let verdict = browser.run(request, |_out| {
//!     Ok::<_, std::convert::Infallible>(
//!         Response::new(200).header("Access-Control-Allow-Origin", "https://app.example"),
//!     )
//! })?;
//! assert!(!verdict.allowed);
//! let reason = verdict.reason.unwrap();
//! assert_eq!(reason.code, "invalid_allow_credentials");
//! assert!(reason.fix.contains("Access-Control-Allow-Credentials: true"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The shared primitives of both roles.
pub mod advice;
pub mod blink_header_map;
pub mod headers;
pub mod infer;
pub mod lists;
pub mod method;
pub mod origin;
pub mod shadow;

// The two roles.
pub mod browser;
pub mod server;

// The facade: the paths users name, whichever role the item lives in.
/// The preflight cache a browser keeps between fetches.
pub mod cache {
    pub use crate::browser::cache::{CacheEntry, CacheItem, PreflightCache};
}
/// The CORS check: does a response allow the request's origin (and credentials)?
pub mod cors_check {
    pub use crate::browser::cors_check::cors_check;
}
/// Which response headers script may read.
pub mod exposure {
    pub use crate::browser::exposure::{exposed_headers, Exposure};
}
/// The preflight: when a browser sends one, what it sends, and how it judges the answer.
pub mod preflight {
    pub use crate::browser::preflight::{
        check_preflight_response, parse_max_age, MaxAge, PreflightAllowance, PreflightRequest,
    };
}
/// Where browsers depart from the standard: one `Profile` method per quirk.
pub mod profile {
    pub use crate::browser::profile::{
        DisallowedHeaderNamed, InvalidMaxAge, MultipleOriginDetection, Profile,
    };
}
/// Every reason a browser blocks a response, each with its explanation and fix.
pub mod refusal {
    pub use crate::browser::refusal::{near_miss, Refusal, Stage};
}
/// The request a page's script makes, and whether it needs a preflight.
pub mod request {
    pub use crate::browser::request::{
        Classification, Credentials, HeadersForm, Initiator, Mode, PreflightReasons, Request,
        RequestBuilder, RequestError,
    };
}
/// A response as the browser model sees it.
pub mod response {
    pub use crate::browser::response::Response;
}
/// CORS-safelisted and forbidden methods and headers.
pub mod safelist {
    pub use crate::browser::safelist::{
        check_request_header, is_browser_added_request_header, is_forbidden_request_header,
        is_forbidden_response_header, is_safelisted_response_header, mime_essence,
        parse_single_range, request_headers_value, unsafe_request_header_names,
        unsafe_request_header_names_in, ByteRange, UnsafeHeader, UnsafeReason,
    };
}
/// The outcome of a fetch: allowed or refused, with the steps taken.
pub mod verdict {
    pub use crate::browser::verdict::{RefusalReport, Step, StepKind, Verdict};
}
/// The server role's decision for one request, and why.
pub mod decision {
    pub use crate::server::decision::{
        is_cors_response_header, Action, Decision, Iter, ParsedRequest, Reason, RequestKind,
        ResponseHeaders, ShortName,
    };
}
/// Hostile origins a policy is checked against.
pub mod hostile {
    pub use crate::server::hostile::{
        is_third_party_host, registrable_domain, representative, Catalogue, HostileClass,
        HostileOrigin, Reach, Variant, LABEL_LETTERS,
    };
}
/// The allowed origins of a policy and their matcher.
pub mod origin_set {
    pub use crate::server::origin_set::{
        AllowedOrigin, OriginMatch, OriginSet, PortSpec, REMEMBERED,
    };
}
/// The server role's configuration: a validated CORS `Policy`.
pub mod policy {
    pub use crate::server::policy::{
        Policy, PolicyBuilder, PolicyConfig, PolicyError, PolicyErrors, Setting, SpannedPolicy,
    };
}
/// The explanation a server may send with a refusal (`corsgate-reason`).
pub mod policy_reason {
    pub use crate::server::policy_reason::{PolicyReason, REASON};
}
/// Remedies: the smallest safe change that fixes a refusal, as data
/// ([`Remedy`](remedy::Remedy)), and the [`repair`](remedy::repair) loop that
/// applies them one at a time until a request would pass.
pub mod remedy {
    pub use crate::browser::remedy::{Remedy, RemedyContext, Side};
    pub use crate::browser::repair::{repair, Repair};
}

// The browser role's main types.
pub use browser::{evaluate, Action, Browser, Fetch, Outgoing};
pub use cache::PreflightCache;
pub use cors_check::cors_check;
pub use headers::HeaderList;
pub use origin::{Origin, OriginError};
pub use profile::{DisallowedHeaderNamed, Profile};
pub use refusal::{Refusal, Stage};
pub use request::{
    Classification, Credentials, HeadersForm, Initiator, Mode, Request, RequestError,
};
pub use response::Response;
pub use verdict::{RefusalReport, Step, StepKind, Verdict};

// The server role's main types.
pub use decision::{is_cors_response_header, Decision, Reason, RequestKind};
pub use policy::{Policy, PolicyBuilder, PolicyConfig, PolicyError, PolicyErrors};

// Role-qualified names for the names both roles use (the short names above
// stay, for the code that already uses them).
/// The browser machine's next step (send a request, or the verdict).
pub use browser::Action as BrowserAction;
/// The server's decision: pass the request on, or answer it here.
pub use decision::Action as ServerAction;
/// Why the server decided as it did (for logs).
pub use decision::Reason as DecisionReason;
/// A browser's verdict on a fetch.
pub use verdict::Verdict as BrowserVerdict;
