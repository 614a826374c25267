//! # corsgate-conformance
//!
//! Real Chromium judges the engine. Loopback servers (a page origin and two
//! cross-origin targets) answer every case of a seeded matrix exactly as the
//! case says; headless Chromium, driven over WebDriver, runs each case with
//! `fetch()` and `XMLHttpRequest`; the servers log what reached them. Every
//! other [`judge::Judge`] (the engine under a profile, later `corsgate check`)
//! answers the same cases from the same responses, and any difference from
//! Chromium is a failure.
//!
//! * [`case`] — one case and its exact responses; [`matrix`] — the seeded matrix.
//! * [`server`] — the loopback servers; [`webdriver`] and [`page`] — the browser side;
//!   [`gecko`] — the same cases in headless Firefox, through geckodriver;
//!   [`firefox_report`] — its section of `docs/conformance.md`;
//!   [`webkit`] — the same cases in WebKitGTK's MiniBrowser under Xvfb, through WebKitWebDriver;
//!   [`webkit_console`] — WebKit's console reasons for them; [`webkit_report`] — its section;
//!   [`soup`] — the cases as WebKitGTK's network stack sends a redirected `DELETE`;
//!   [`headers_form_report`] — the section of `tests/headers_form.rs` (a header given twice, in each form).
//! * [`fixes`] — the reported remedies, applied to the servers and re-run;
//!   [`har_record`] — a HAR recorded from Chromium's DevTools events.
//! * [`console`] — the browsers' console messages, attributed to cases and
//!   compared with the engine's refusals.
//! * [`judge`] — observations and judges ([`check_cli`]: `corsgate check`);
//!   [`run`] — running and comparing;
//!   [`report`] — `docs/conformance.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod case;
pub mod check_cli;
pub mod console;
pub mod firefox_report;
pub mod fixes;
pub mod gecko;
pub mod har_record;
pub mod headers_form_report;
pub mod judge;
pub mod matrix;
pub mod page;
pub mod report;
pub mod rng;
pub mod run;
pub mod server;
pub mod soup;
pub mod webdriver;
pub mod webkit;
pub mod webkit_console;
pub mod webkit_report;
