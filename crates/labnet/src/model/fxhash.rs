//! A small, fast hasher for maps keyed by segment names.
//!
//! Validation looks up every name a rule lists (hundreds of thousands in a
//! large lab); std's SipHash guards against hash flooding by untrusted keys,
//! which costs several times more per short key. The keys here are the lab's
//! own segment names, at most 32 bytes, and a flood would only slow down
//! reading one's own lab file, so FNV-1a (a multiply and an xor per byte, no
//! copying of partial words) is the right trade.

use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a, 64 bits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Default for FxHasher {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` with [`FxHasher`].
pub(crate) type FxMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;
