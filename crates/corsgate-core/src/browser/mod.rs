//! The browser role: what a browser does with a cross-origin request and
//! with what it receives, step by step as the Fetch standard says, and where
//! a browser departs from it, one [`Profile`](profile::Profile) method.
//!
//! Below the machine: the request as script builds it (`init`, `request`),
//! its classification (`safelist`), the preflight (`preflight`), the CORS
//! check (`cors_check`), exposed headers (`exposure`), the preflight cache
//! (`cache`), the response model (`response`). The machine itself is
//! `machine` ([`Browser`]); its outcome is a `verdict` made of `refusal`s,
//! each with its `remedy`; `repair` (above the machine) applies remedies one
//! at a time. Nothing here depends on the server role.

pub(crate) mod cache;
pub(crate) mod cors_check;
pub(crate) mod exposure;
pub(crate) mod init;
pub(crate) mod machine;
pub(crate) mod max_age;
pub(crate) mod preflight;
pub(crate) mod profile;
pub(crate) mod refusal;
pub(crate) mod remedy;
pub(crate) mod repair;
pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod safelist;
pub(crate) mod verdict;

pub use machine::{evaluate, Action, Browser, Fetch, Outgoing};
