//! The boxed error the gateway's bodies and upstream exchanges carry (hyper's,
//! the in-task client's, a timed-out or cut body's), so that a body can
//! wrap another whatever its source.

/// The error type of response bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
