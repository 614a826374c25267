//! FxHash, the hasher of the policy's lookup tables: fast, and
//! non-cryptographic. The tables are built once from the configuration, so
//! request-controlled keys cannot lengthen a probe sequence beyond what the
//! configuration itself produces.

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

impl BuildHasher for FxBuild {
    type Hasher = Fx;
    fn build_hasher(&self) -> Fx {
        Fx(0)
    }
}
