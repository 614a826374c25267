//! A table keyed by bytes and looked up with a hash computed by the caller
//! (`fx::hash_bytes`): the policy's exact origins and listed methods.
//!
//! A request value is hashed once, and the same hash is used by every table
//! that looks it up: an origin set's exact entries and its learned slots,
//! and a shadow candidate's set for the same request. Open addressing with
//! linear probing over a slot array at most a quarter full (a probe ends at
//! an empty slot, after 1.1 slots on average for 10,000 origins); a slot is
//! 8 bytes, the entry's index and 32 bits of its hash, so the bytes are
//! compared only when those bits are equal. Built once with the policy,
//! never written afterwards.

use std::fmt;

use crate::server::fast::fx::hash_bytes;

/// An empty slot.
const EMPTY: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Slot {
    /// The low 32 bits of the entry's hash (the slot is chosen by the top
    /// ones).
    tag: u32,
    /// Index into `entries`, or [`EMPTY`].
    index: u32,
}

/// Byte keys and their values; see the [module docs](self).
#[derive(Clone)]
pub(crate) struct Table<V> {
    slots: Box<[Slot]>,
    entries: Vec<(Box<[u8]>, V)>,
    /// `64 - log2(slots.len())`: the index is the hash's top bits (the
    /// multiply leaves its best-mixed bits there).
    shift: u32,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table {
            slots: Box::new([]),
            entries: Vec::new(),
            shift: 64,
        }
    }
}

impl<V: fmt::Debug> fmt::Debug for Table<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.entries
                    .iter()
                    .map(|(k, v)| (String::from_utf8_lossy(k), v)),
            )
            .finish()
    }
}

impl<V> Table<V> {
    /// The value of `key`, whose [`hash_bytes`] is `hash`.
    #[inline(always)]
    pub(crate) fn get_hashed(&self, hash: u64, key: &[u8]) -> Option<&V> {
        if self.entries.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = (hash >> self.shift) as usize;
        let tag = hash as u32;
        // At most a quarter of the slots are used: the loop meets an empty one.
        for _ in 0..self.slots.len() {
            let slot = self.slots.get(i)?;
            if slot.index == EMPTY {
                return None;
            }
            if slot.tag == tag {
                if let Some((k, v)) = self.entries.get(slot.index as usize) {
                    if same_bytes(k, key) {
                        return Some(v);
                    }
                }
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// The value of `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&V> {
        self.get_hashed(hash_bytes(key), key)
    }

    /// Whether `key` is in the table.
    pub(crate) fn contains_key(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Adds `key` (if it is not there yet; `false` otherwise).
    pub(crate) fn insert(&mut self, key: &[u8], value: V) -> bool {
        if self.contains_key(key) || self.entries.len() >= (EMPTY as usize) / 2 {
            return false;
        }
        self.entries.push((key.into(), value));
        if self.entries.len() * 4 > self.slots.len() {
            self.rebuild();
        } else {
            self.place(self.entries.len() - 1);
        }
        true
    }

    /// Slots for four times the entries (a power of two), every entry placed.
    fn rebuild(&mut self) {
        let n = (self.entries.len() * 4).next_power_of_two().max(4);
        self.slots = vec![
            Slot {
                tag: 0,
                index: EMPTY
            };
            n
        ]
        .into_boxed_slice();
        self.shift = 64 - n.trailing_zeros();
        for i in 0..self.entries.len() {
            self.place(i);
        }
    }

    fn place(&mut self, index: usize) {
        let hash = hash_bytes(&self.entries[index].0);
        let mask = self.slots.len() - 1;
        let mut i = (hash >> self.shift) as usize;
        while self.slots[i].index != EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot {
            tag: hash as u32,
            index: index as u32,
        };
    }
}

/// Whether `a` and `b` are the same bytes: compared a word at a time in
/// line (a call to `memcmp` costs more than the comparison of an origin, and
/// makes the caller save its registers around it).
#[inline(always)]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y) = (a, b);
    while let (Some((p, xs)), Some((q, ys))) =
        (x.split_first_chunk::<8>(), y.split_first_chunk::<8>())
    {
        if u64::from_ne_bytes(*p) != u64::from_ne_bytes(*q) {
            return false;
        }
        (x, y) = (xs, ys);
    }
    match (a.last_chunk::<8>(), b.last_chunk::<8>()) {
        // The tail as the last word (overlapping the words compared).
        (Some(p), Some(q)) => u64::from_ne_bytes(*p) == u64::from_ne_bytes(*q),
        _ => x.iter().zip(y).all(|(p, q)| p == q),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_is_slice_equality() {
        let words: [&[u8]; 9] = [
            b"",
            b"a",
            b"b",
            b"PUT",
            b"PUTS",
            b"abcdefgh",
            b"abcdefgi",
            b"https://app0.example.com",
            b"https://app0.example.con",
        ];
        for a in words {
            for b in words {
                assert_eq!(same_bytes(a, b), a == b, "{a:?} {b:?}");
            }
        }
        let long = b"https://app9999.example.com";
        for i in 0..long.len() {
            let mut other = *long;
            other[i] ^= 1;
            assert!(!same_bytes(long, &other), "byte {i}");
        }
    }

    use proptest::prelude::*;

    /// Keys that share prefixes and lengths (origins differing in one byte,
    /// lengths around the 8- and 16-byte steps of the hash and the compare).
    fn key() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40),
            (0u32..64, 0usize..3).prop_map(|(i, tld)| {
                format!("https://a{i}.example.{}", ["com", "co", "c"][tld]).into_bytes()
            }),
        ]
    }

    proptest! {
        /// The table against the standard library's map: the same inserts
        /// accepted, the same answer for every key inserted and every other
        /// key asked, whatever the keys (the hand-written table is here for
        /// its instruction count, `bench/tower/instructions.sh`).
        #[test]
        fn agrees_with_a_hash_map(
            inserts in proptest::collection::vec(key(), 0..200),
            queries in proptest::collection::vec(key(), 0..50),
        ) {
            let mut table = Table::default();
            let mut map = std::collections::HashMap::new();
            for (i, k) in inserts.iter().enumerate() {
                let fresh = !map.contains_key(k);
                if fresh {
                    map.insert(k.clone(), i);
                }
                prop_assert_eq!(table.insert(k, i), fresh, "insert {:?}", k);
            }
            for k in inserts.iter().chain(&queries) {
                prop_assert_eq!(table.get(k), map.get(k), "get {:?}", k);
                prop_assert_eq!(table.get_hashed(hash_bytes(k), k), map.get(k));
            }
        }
    }

    proptest! {
        /// The word-at-a-time compare against slice equality, on keys and on
        /// copies of them with one byte changed (the hash's tag makes such
        /// pairs too rare in a table to test the compare through it).
        #[test]
        fn same_bytes_agrees_with_slice_equality(a in key(), b in key(), at in any::<usize>(), bit in 0u8..8) {
            prop_assert_eq!(same_bytes(&a, &b), a == b);
            let mut near = a.clone();
            if let Some(byte) = near.get_mut(at % a.len().max(1)) {
                *byte ^= 1 << bit;
            }
            prop_assert_eq!(same_bytes(&a, &near), a == near);
        }
    }

    #[test]
    fn finds_every_key_and_nothing_else() {
        let mut t = Table::default();
        assert_eq!(t.get(b"x"), None);
        for i in 0..10_000u32 {
            assert!(t.insert(format!("https://app{i}.example.com").as_bytes(), i));
        }
        assert!(!t.insert(b"https://app7.example.com", 0), "no duplicate");
        assert_eq!(t.entries.len(), 10_000);
        for i in 0..10_000u32 {
            let k = format!("https://app{i}.example.com");
            assert_eq!(t.get(k.as_bytes()), Some(&i));
            assert_eq!(
                t.get_hashed(hash_bytes(k.as_bytes()), k.as_bytes()),
                Some(&i)
            );
        }
        for miss in [
            &b""[..],
            b"https://app10000.example.com",
            b"https://app1.example.co",
        ] {
            assert_eq!(t.get(miss), None);
        }
        // A wrong hash never finds a key with other bytes.
        assert_eq!(
            t.get_hashed(
                hash_bytes(b"https://app1.example.com"),
                b"https://app2.example.com"
            ),
            None
        );
        let order: Vec<u32> = t.entries.iter().map(|(_, v)| *v).collect();
        assert_eq!(order, (0..10_000).collect::<Vec<_>>());
    }
}
