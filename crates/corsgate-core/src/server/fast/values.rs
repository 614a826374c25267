//! The policy's header values: built once with the policy, owned by it, and
//! dropped with it.
//!
//! A `HeaderValue` is a `bytes::Bytes`. The values a policy hands out are
//! made *shared* when the policy is built, so that putting one into a
//! response is a reference-count increment and dropping the response a
//! decrement: no copy, no allocation, and nothing kept once the policy (and
//! the responses that borrowed its values) are gone. There is no
//! process-wide table: a reloaded policy costs what the first one did.

use bytes::Bytes;
use http::HeaderValue;

/// A copy of `bytes` as a shared value: its reference count exists from the
/// start (a `Bytes` made from a `Vec` whose length equals its capacity would
/// allocate it on its first clone, on the request path).
pub(crate) fn shared_copy(bytes: &[u8]) -> Option<HeaderValue> {
    let mut v = Vec::with_capacity(bytes.len() + 1);
    v.extend_from_slice(bytes);
    HeaderValue::from_maybe_shared(Bytes::from(v)).ok()
}

/// `value` as a shared value owned by the policy (see [`shared_copy`]).
pub(crate) fn shared(value: HeaderValue) -> HeaderValue {
    shared_copy(value.as_bytes()).unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_value_is_equal_and_its_clones_share_the_bytes() {
        let v = shared(HeaderValue::from_static("https://a.example"));
        assert_eq!(v, "https://a.example");
        let c = v.clone();
        assert_eq!(c.as_bytes().as_ptr(), v.as_bytes().as_ptr(), "no copy");
        assert!(shared_copy(b"a\nb").is_none(), "invalid bytes stay invalid");
    }
}
