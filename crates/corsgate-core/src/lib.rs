//! # corsgate-core
//!
//! The CORS engine of corsgate: the Fetch standard's CORS algorithms, in both
//! roles, with no I/O.
//!
//! * **Browser role** — what a browser does with a cross-origin request and
//!   what it receives: [`Origin`] parsing and comparison, request
//!   classification ([`Request::classify`]), the preflight
//!   ([`preflight`]), the [`cors_check`], exposed headers ([`exposure`]), the
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

pub mod advice;
pub mod blink_header_map;
pub mod browser;
pub mod cache;
pub mod cors_check;
pub mod exposure;
pub mod headers;
pub mod hostile;
mod interned;
mod learned;
pub mod lists;
pub mod method;
pub mod origin;
pub mod preflight;
pub mod profile;
pub mod refusal;
pub mod remedy;
pub mod request;
pub mod response;
pub mod safelist;
mod template;
pub mod verdict;

pub use browser::{evaluate, Action, Browser, Fetch, Outgoing};
pub use cache::PreflightCache;
pub use cors_check::cors_check;
pub use headers::HeaderList;
pub use origin::{Origin, OriginError};
pub use profile::{DisallowedHeaderNamed, Profile};
pub use refusal::{Refusal, Stage};
pub use request::{Classification, Credentials, Initiator, Mode, Request, RequestError};
pub use response::Response;
pub use verdict::{RefusalReport, Step, StepKind, Verdict};

pub mod decision;
pub mod origin_set;
pub mod policy;
pub mod policy_reason;

pub use decision::{is_cors_response_header, Decision, Reason, RequestKind};
pub use policy::{Policy, PolicyBuilder, PolicyConfig, PolicyError, PolicyErrors};
