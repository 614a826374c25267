//! Origins that a subdomain or any-port pattern allowed before, remembered so
//! that answering them again costs what an exact origin costs.
//!
//! A pattern's answer echoes the request's own `Origin`: parsing the origin
//! and looking up its parent domains. Yet a page sends the same `Origin` on
//! every request, so after the first match an allowed origin is as good as an
//! exact entry.
//!
//! So each [`Learned`] (one per origin set, hence per policy) has a fixed
//! array of write-once slots indexed by a hash of the origin's bytes. When a
//! pattern allows a value whose slot is empty, a copy of the value (shared,
//! see `values`) is put in the slot; a later request with byte-equal `Origin`
//! finds it there with one atomic load and one comparison (the hash is the
//! request's, computed once: `fx::hash_bytes`), and answers with the copy
//! (no parse).
//!
//! Bounds, because the values come from requests:
//! * a slot is written once and never evicted, so one set learns at most
//!   [`SLOTS`] origins, and colliding origins cannot make it churn;
//! * the copies belong to the set: they are freed with the policy, and a
//!   reloaded policy starts with empty slots of its own, whatever earlier
//!   policies learned (nothing is process-wide);
//! * a copy is of the value's bytes only, so a remembered origin never keeps
//!   a request's (or a connection's) buffer alive;
//! * only values a pattern of the set allowed are ever learned: a slot is
//!   consulted only with a byte-equal comparison, so it can only answer for
//!   the very value that was matched.

use std::fmt;
use std::sync::OnceLock;

use http::HeaderValue;

use crate::server::fast::table::same_bytes;
use crate::server::fast::values::shared_copy;

/// Slots per origin set (a power of two): the most pattern-allowed values one
/// set remembers.
pub const SLOTS: usize = 1024;

/// The learned origins of one origin set.
#[derive(Clone, Default)]
pub(crate) struct Learned {
    /// Empty until the set has a pattern; then [`SLOTS`] long.
    slots: Box<[OnceLock<HeaderValue>]>,
}

impl fmt::Debug for Learned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.slots.iter().filter(|s| s.get().is_some()).count();
        write!(f, "Learned({n} of {} slots)", self.slots.len())
    }
}

/// Where a value would be learned, found once per request.
pub(crate) struct Slot<'a>(&'a OnceLock<HeaderValue>);

impl Learned {
    /// Makes room to learn (called when the set gets its first pattern).
    pub(crate) fn enable(&mut self) {
        if self.slots.is_empty() {
            self.slots = (0..SLOTS).map(|_| OnceLock::new()).collect();
        }
    }

    /// The slot of a value whose `fx::hash_bytes` is `hash`, if learning is on.
    #[inline(always)]
    pub(crate) fn slot(&self, hash: u64) -> Option<Slot<'_>> {
        if self.slots.is_empty() {
            return None;
        }
        // The multiply leaves its best-mixed bits at the top.
        let i = (hash >> (64 - SLOTS.trailing_zeros())) as usize;
        self.slots.get(i).map(Slot)
    }
}

impl<'a> Slot<'a> {
    /// The remembered copy of `bytes`, if this value was learned.
    #[inline(always)]
    pub(crate) fn get(&self, bytes: &[u8]) -> Option<&'a HeaderValue> {
        self.0.get().filter(|v| same_bytes(v.as_bytes(), bytes))
    }

    /// Remembers `value` (which a pattern just allowed) if the slot is free.
    pub(crate) fn learn(&self, value: &HeaderValue) {
        if self.0.get().is_none() {
            if let Some(v) = shared_copy(value.as_bytes()) {
                // Lost a race: the slot holds another value; keep it.
                let _ = self.0.set(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::fast::fx::hash_bytes;

    #[test]
    fn a_slot_answers_only_for_the_value_it_holds_and_is_written_once() {
        let mut l = Learned::default();
        assert!(
            l.slot(hash_bytes(b"https://a.example")).is_none(),
            "off until enabled"
        );
        l.enable();
        let a = HeaderValue::from_static("https://a.example");
        let slot = l.slot(hash_bytes(a.as_bytes())).unwrap();
        assert!(slot.get(a.as_bytes()).is_none());
        slot.learn(&a);
        let got = l
            .slot(hash_bytes(a.as_bytes()))
            .unwrap()
            .get(a.as_bytes())
            .unwrap();
        assert_eq!(got, &a);
        assert_ne!(got.as_bytes().as_ptr(), a.as_bytes().as_ptr(), "a copy");
        // Same slot, other bytes: no answer, and the slot keeps its value.
        assert!(slot.get(b"https://b.example").is_none());
        slot.learn(&HeaderValue::from_static("https://b.example"));
        assert_eq!(slot.get(a.as_bytes()).unwrap(), &a);
        // A clone of the set keeps what was learned.
        let c = l.clone();
        assert!(c
            .slot(hash_bytes(a.as_bytes()))
            .unwrap()
            .get(a.as_bytes())
            .is_some());
    }
}
