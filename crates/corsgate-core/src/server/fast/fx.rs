//! FxHash, the hasher of the policy's lookup tables: fast, and
//! non-cryptographic. The tables are built once from the configuration, so
//! request-controlled keys cannot lengthen a probe sequence beyond what the
//! configuration itself produces.
//!
//! [`hash_bytes`] is the key of the byte-keyed tables (`table`, `learned`):
//! 16 bytes per wide multiply (wyhash's mix), the tail as the last 16 bytes,
//! so a key costs the same whatever its length modulo 16. It is computed
//! once per request value and used by every table that looks the value up
//! (an origin set's exact entries and learned slots, a shadow candidate's
//! too).

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

/// The hash of `bytes` for the policy's byte-keyed tables: 16 bytes at a
/// time folded by one wide multiply each (the last 16 bytes overlapping the
/// ones before when the length is not a multiple of 16), with the length
/// mixed in, so an origin of 17 to 32 bytes costs two multiplies. Equal
/// bytes give equal hashes; the tables compare the bytes too, so the hash
/// only decides where a key is looked for.
#[inline]
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    let mut h = (n as u64) ^ P0;
    match (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
        (Some(first), Some(last)) => {
            let mut rest = bytes;
            while rest.len() > 16 {
                let Some((a, tail)) = rest.split_first_chunk::<8>() else {
                    break;
                };
                let Some((b, tail)) = tail.split_first_chunk::<8>() else {
                    break;
                };
                h = mum(u64::from_le_bytes(*a) ^ P1, u64::from_le_bytes(*b) ^ h);
                rest = tail;
            }
            // The last 16 bytes, or the first and last 8 of 8 to 16 bytes.
            let a = match n.checked_sub(16).and_then(|i| bytes.get(i..)) {
                Some(w) => w.first_chunk::<8>().unwrap_or(first),
                None => first,
            };
            h = mum(u64::from_le_bytes(*a) ^ P1, u64::from_le_bytes(*last) ^ h);
        }
        // Shorter than a word: the bytes one by one.
        _ => {
            let w = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            h = mum(w ^ P1, h);
        }
    }
    mum(h ^ P2, P3)
}

const P0: u64 = 0xa076_1d64_78bd_642f;
const P1: u64 = 0xe703_7ed1_a0b4_28db;
const P2: u64 = 0x8ebc_6af0_9c88_c6e3;
const P3: u64 = 0x5899_65cc_7537_4cc3;

/// The 128-bit product of `a` and `b`, its halves xored (wyhash's mix).
#[inline(always)]
fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
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
        let copy = a.to_vec(); // other memory, same bytes
        assert_eq!(hash_bytes(a), hash_bytes(&copy));
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
