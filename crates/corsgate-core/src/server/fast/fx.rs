//! FxHash, the hasher of the policy's lookup tables: fast, and
//! non-cryptographic. The tables are built once from the configuration, so
//! request-controlled keys cannot lengthen a probe sequence beyond what the
//! configuration itself produces.
//!
//! [`hash_bytes`] is the key of the byte-keyed tables (`table`, `learned`):
//! one word per eight bytes and the tail as one more word, so a key costs
//! the same whatever its length modulo eight. It is computed once per
//! request value and used by every table that looks the value up (an origin
//! set's exact entries and learned slots, a shadow candidate's too).

use std::hash::{BuildHasher, Hasher};

/// Builds [`Fx`] hashers.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FxBuild;

/// The FxHash state.
#[derive(Default)]
pub(crate) struct Fx(u64);

const FX_K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        for b in chunks.remainder() {
            self.add(u64::from(*b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl Fx {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(FX_K);
    }
}

/// The hash of `bytes` for the policy's byte-keyed tables: the length, then
/// each 8-byte word before the last 8 bytes, then the last 8 bytes as one
/// word (overlapping the word before when the length is not a multiple of
/// 8; a value shorter than 8 bytes is one word). Equal bytes give equal
/// hashes; the tables compare the bytes too.
#[inline]
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = Fx(0);
    h.add(bytes.len() as u64);
    match bytes.last_chunk::<8>() {
        Some(last) => {
            // Every whole word but the last, then the last 8 bytes (the
            // tail, overlapping the word before it when the length is not
            // a multiple of 8).
            let mut rest = bytes;
            while rest.len() > 8 {
                let Some((w, tail)) = rest.split_first_chunk::<8>() else {
                    break;
                };
                h.add(u64::from_le_bytes(*w));
                rest = tail;
            }
            h.add(u64::from_le_bytes(*last));
        }
        // Shorter than a word: the bytes one by one.
        None => h.add(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))),
    }
    h.0
}

impl BuildHasher for FxBuild {
    type Hasher = Fx;
    fn build_hasher(&self) -> Fx {
        Fx(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_bytes_equal_hashes_and_the_tail_counts() {
        let a = b"https://app0.example.com";
        assert_eq!(hash_bytes(a), hash_bytes(&a.to_vec()));
        let mut seen = std::collections::HashSet::new();
        for s in [
            &b""[..],
            b"a",
            b"ab",
            b"abcdefgh",
            b"abcdefghi",
            b"abcdefghj",
            b"https://app9999.example.com",
            b"https://app9998.example.com",
            b"https://app999.example.com",
        ] {
            assert!(seen.insert(hash_bytes(s)), "{s:?}");
        }
    }
}
