//! The policy's header values, made `'static` so that putting one into a
//! response costs no atomic operation.
//!
//! A `HeaderValue` is a `bytes::Bytes`. Cloning a shared `Bytes` is an atomic
//! reference-count increment, and dropping it a decrement: on the allowed
//! actual-request path that is two pairs per response (the allowed origin and
//! the exposed headers), a fifth of the middleware's whole cost. Cloning a
//! `Bytes` that points at static memory is a plain copy.
//!
//! So the values a policy hands out are interned once, process-wide, in
//! memory that is never freed. Rebuilding a policy (a reload) reuses the
//! values already interned, so the memory grows only with the number of
//! *distinct* values ever configured, and never past [`LIMIT`] bytes: beyond
//! it, values stay reference-counted (correct, a few nanoseconds slower).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use http::HeaderValue;

/// The most bytes the process-wide table holds (values plus bookkeeping).
pub const LIMIT: usize = 4 << 20;

/// Bookkeeping counted per entry besides its bytes: the `HeaderValue`, the
/// table's slot and the allocator's headers, roughly.
pub(crate) const ENTRY_OVERHEAD: usize = 96;

/// A process-wide set of static copies of header values, with a byte budget.
/// Used for the policy's own values (here) and for the values patterns
/// allowed (`learned`), each with its own table and budget.
#[derive(Default)]
pub(crate) struct Table {
    values: HashMap<&'static [u8], &'static HeaderValue>,
    bytes: usize,
}

impl Table {
    /// The static copy of `value`: the one already made, or a new one if it
    /// fits in `limit` bytes (values plus bookkeeping); `None` when full.
    pub(crate) fn copy(
        &mut self,
        value: &HeaderValue,
        limit: usize,
    ) -> Option<&'static HeaderValue> {
        if let Some(v) = self.values.get(value.as_bytes()) {
            return Some(v);
        }
        let cost = value.len() + ENTRY_OVERHEAD;
        if self.bytes + cost > limit {
            return None;
        }
        let bytes: &'static [u8] = Box::leak(value.as_bytes().to_vec().into_boxed_slice());
        // Cannot fail: the bytes came from a valid value.
        let v = HeaderValue::from_maybe_shared(Bytes::from_static(bytes)).ok()?;
        let v: &'static HeaderValue = Box::leak(Box::new(v));
        self.values.insert(v.as_bytes(), v);
        self.bytes += cost;
        Some(v)
    }
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

/// `value`, backed by static memory when the table has room; otherwise
/// `value` itself, made cheap to clone (see [`warm`]).
pub(crate) fn intern(value: HeaderValue) -> HeaderValue {
    let mut guard = TABLE.lock().unwrap_or_else(PoisonError::into_inner);
    intern_in(guard.get_or_insert_with(Table::default), value, LIMIT)
}

fn intern_in(table: &mut Table, value: HeaderValue, limit: usize) -> HeaderValue {
    match table.copy(&value, limit) {
        Some(v) => v.clone(),
        None => {
            warm(&value);
            value
        }
    }
}

/// Makes later clones of a header value reference-count bumps.
///
/// A `Bytes` made from a `Vec` allocates its shared header on the first
/// clone. Cloning once while the policy is built keeps that allocation off
/// the request path.
pub(crate) fn warm(v: &HeaderValue) {
    drop(v.clone());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interned_values_are_equal_and_shared() {
        let mut t = Table::default();
        let a = intern_in(
            &mut t,
            HeaderValue::from_str("https://a.example").unwrap(),
            1024,
        );
        let b = intern_in(
            &mut t,
            HeaderValue::from_str("https://a.example").unwrap(),
            1024,
        );
        assert_eq!(a, "https://a.example");
        assert_eq!(a.as_bytes().as_ptr(), b.as_bytes().as_ptr(), "one copy");
        assert_eq!(t.values.len(), 1);
        assert_eq!(t.bytes, "https://a.example".len() + ENTRY_OVERHEAD);
    }

    #[test]
    fn the_table_never_grows_past_its_limit() {
        let mut t = Table::default();
        let limit = 10 * (8 + ENTRY_OVERHEAD);
        let mut kept = Vec::new();
        for i in 0..100 {
            let v = HeaderValue::from_str(&format!("value{i:03}")).unwrap();
            let original = v.as_bytes().as_ptr();
            let out = intern_in(&mut t, v, limit);
            assert_eq!(out, format!("value{i:03}").as_str());
            kept.push((i, out.as_bytes().as_ptr() == original));
        }
        assert!(t.bytes <= limit);
        assert_eq!(t.values.len(), 10);
        // The first ten were copied into the table, the rest left as they were.
        assert!(kept.iter().all(|(i, same)| *same == (*i >= 10)));
        // A value already in the table is still found when the table is full.
        let again = intern_in(&mut t, HeaderValue::from_static("value003"), limit);
        let stored = t.values.get(b"value003".as_slice()).unwrap();
        assert_eq!(again.as_bytes().as_ptr(), stored.as_bytes().as_ptr());
    }
}
