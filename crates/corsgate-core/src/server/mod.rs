//! The server role: what a server should answer. A validated `Policy`
//! (`policy`, its errors in `policy_error`), its origin matcher
//! (`origin_set`), and the decision for one request (`decision`), with the
//! explanation of a refusal a server may send (`policy_reason`) and the
//! catalogue of hostile origins a policy is checked against (`hostile`).
//!
//! What makes a decision cheap is fenced in `fast` (private): the policy's
//! shared header values, its prebuilt answers, the pattern matches it
//! remembers, the hasher of its tables. All of it is plain data owned by the
//! `Policy`: built with it, dropped with it, nothing process-wide.

pub(crate) mod decision;
pub(crate) mod fast;
pub(crate) mod hostile;
pub(crate) mod origin_set;
pub(crate) mod policy;
pub(crate) mod policy_error;
pub(crate) mod policy_reason;
