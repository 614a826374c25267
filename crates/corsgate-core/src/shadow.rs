//! Shadow evaluation (server role): a candidate policy judged beside the
//! enforced one on the same request, never changing the answer, and the two
//! decisions compared. Only the enforced decision is ever sent; the
//! comparison says whether the candidate would refuse what is allowed today,
//! allow what is refused today, or allow it with other headers.
//!
//! Comparing allocates nothing: reasons are `Copy`, and the headers of the
//! two decisions are compared line by line in place.
//!
//! ```
//! use corsgate_core::policy::Policy;
//! use corsgate_core::shadow::{compare, DisagreementKind};
//! use http::{HeaderMap, HeaderValue, Method};
//!
//! let enforced = Policy::builder().origins(["https://app.example", "https://old.example"]).build()?;
//! let candidate = Policy::builder().origin("https://app.example").build()?;
//! let mut h = HeaderMap::new();
//! h.insert("origin", HeaderValue::from_static("https://old.example"));
//! let today = enforced.decide(&Method::GET, &h);
//! let d = compare(&today, &candidate.decide(&Method::GET, &h)).unwrap();
//! assert_eq!(d.kind, DisagreementKind::CandidateRefuses);
//! assert_eq!(d.candidate.code(), "origin_not_allowed");
//!
//! h.insert("origin", HeaderValue::from_static("https://app.example"));
//! assert!(compare(&enforced.decide(&Method::GET, &h), &candidate.decide(&Method::GET, &h)).is_none());
//! # Ok::<(), corsgate_core::policy::PolicyErrors>(())
//! ```

use std::fmt;

use crate::decision::{Decision, Reason};

/// How the candidate's decision differs from the enforced one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisagreementKind {
    /// Allowed today, refused by the candidate: promoting it would break
    /// this request.
    CandidateRefuses,
    /// Refused today, allowed by the candidate: promoting it would widen
    /// access.
    CandidateAllows,
    /// Both allow it, with other CORS headers (another exposed list,
    /// credentials, max-age…).
    HeadersDiffer,
}

impl DisagreementKind {
    /// Every kind, for metrics that list each.
    pub const ALL: [DisagreementKind; 3] = [
        DisagreementKind::CandidateRefuses,
        DisagreementKind::CandidateAllows,
        DisagreementKind::HeadersDiffer,
    ];

    /// A stable code for logs and metrics.
    pub fn code(self) -> &'static str {
        match self {
            DisagreementKind::CandidateRefuses => "candidate_refuses",
            DisagreementKind::CandidateAllows => "candidate_allows",
            DisagreementKind::HeadersDiffer => "headers_differ",
        }
    }
}

impl fmt::Display for DisagreementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One request on which the two policies disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disagreement {
    /// How they differ.
    pub kind: DisagreementKind,
    /// Why the enforced policy decided as it did.
    pub enforced: Reason,
    /// Why the candidate would decide as it does.
    pub candidate: Reason,
}

// `ShadowDecision` is defined beside `Policy::decide_shadow` (decision.rs),
// so that decision does not name this module (no import cycle).
pub use crate::server::decision::ShadowDecision;

impl ShadowDecision {
    /// Compares with the enforced decision for the same request. A preflight
    /// both allow is not compared line by line (the page's outcome is the
    /// same; the actual request that follows is compared whole).
    pub fn compare(&self, enforced: &Decision) -> Option<Disagreement> {
        match self {
            ShadowDecision::Decided(d) => compare(enforced, d),
            ShadowDecision::Preflight { allowed, reason } => {
                let kind = match (enforced.allowed(), *allowed) {
                    (true, false) => DisagreementKind::CandidateRefuses,
                    (false, true) => DisagreementKind::CandidateAllows,
                    _ => return None,
                };
                Some(Disagreement {
                    kind,
                    enforced: enforced.reason(),
                    candidate: *reason,
                })
            }
        }
    }
}

/// Compares the enforced decision with the candidate's for the same request;
/// `None` when they agree (same verdict, same CORS headers).
pub fn compare(enforced: &Decision, candidate: &Decision) -> Option<Disagreement> {
    let kind = match (enforced.allowed(), candidate.allowed()) {
        (true, false) => DisagreementKind::CandidateRefuses,
        (false, true) => DisagreementKind::CandidateAllows,
        (false, false) => return None,
        (true, true) => {
            if same_headers(enforced, candidate) {
                return None;
            }
            DisagreementKind::HeadersDiffer
        }
    };
    Some(Disagreement {
        kind,
        enforced: enforced.reason(),
        candidate: candidate.reason(),
    })
}

/// Whether the two decisions add the same header lines (in the same order:
/// both are built in one fixed order).
fn same_headers(a: &Decision, b: &Decision) -> bool {
    a.headers().same_lines(b.headers())
}

/// Every [`Reason`] code, in a fixed order (the rows of [`ShadowCounts`]).
pub const REASON_CODES: [&str; 12] = [
    "not_cors",
    "any_origin",
    "origin_allowed",
    "origin_not_allowed",
    "origin_malformed",
    "multiple_origins",
    "preflight_allowed",
    "method_not_allowed",
    "method_malformed",
    "header_not_allowed",
    "headers_malformed",
    "headers_too_large",
];

fn reason_index(reason: Reason) -> usize {
    match reason {
        Reason::NotCors => 0,
        Reason::AnyOrigin => 1,
        Reason::OriginAllowed => 2,
        Reason::OriginNotAllowed => 3,
        Reason::OriginMalformed => 4,
        Reason::MultipleOrigins => 5,
        Reason::PreflightAllowed => 6,
        Reason::MethodNotAllowed => 7,
        Reason::MethodMalformed => 8,
        Reason::HeaderNotAllowed(_) => 9,
        Reason::HeadersMalformed => 10,
        Reason::HeadersTooLarge => 11,
    }
}

impl Disagreement {
    /// The reason that explains the difference: the candidate's when it
    /// refuses or answers differently, the enforced policy's when the
    /// candidate allows what it refuses.
    pub fn reason(&self) -> Reason {
        match self.kind {
            DisagreementKind::CandidateAllows => self.enforced,
            _ => self.candidate,
        }
    }
}

/// Disagreements counted by kind and [`Disagreement::reason`]: fixed
/// storage, updated with relaxed atomic adds (no lock, no allocation), read
/// for metrics.
#[derive(Debug, Default)]
pub struct ShadowCounts {
    counts: [[std::sync::atomic::AtomicU64; REASON_CODES.len()]; 3],
}

impl ShadowCounts {
    /// Counts one disagreement.
    pub fn record(&self, d: &Disagreement) {
        let kind = DisagreementKind::ALL
            .iter()
            .position(|k| *k == d.kind)
            .unwrap_or(0);
        self.counts[kind][reason_index(d.reason())]
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Every (kind, reason code, count) with a count above zero.
    pub fn nonzero(&self) -> impl Iterator<Item = (DisagreementKind, &'static str, u64)> + '_ {
        DisagreementKind::ALL
            .iter()
            .zip(&self.counts)
            .flat_map(|(kind, row)| {
                REASON_CODES.iter().zip(row).filter_map(move |(code, n)| {
                    let n = n.load(std::sync::atomic::Ordering::Relaxed);
                    (n > 0).then_some((*kind, *code, n))
                })
            })
    }

    /// How many disagreements in all.
    pub fn total(&self) -> u64 {
        self.nonzero().map(|(_, _, n)| n).sum()
    }
}
