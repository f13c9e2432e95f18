//! Deterministic randomness: GUIDs derived from names, the counter-based
//! generator behind fault decisions, and cheap unique request ids.
//!
//! Fault decisions and request ids come from `splitmix64(seed, n)` of an
//! atomic counter rather than from a shared `StdRng`: no lock on the hot
//! path, and the `n`-th Graph request gets the same decision in every run
//! with the same `--seed`.

use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// SplitMix64's output function: a bijective, well-mixed hash of `x`.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform number in `[0, 1)` from the top 53 bits of `x`.
pub(crate) fn unit(x: u64) -> f64 {
    // 53 bits fit an f64 mantissa exactly, so the conversion is lossless.
    #[expect(clippy::cast_precision_loss, reason = "53-bit value, exact in f64")]
    let v = (x >> 11) as f64;
    v / (1u64 << 53) as f64
}

/// A version-4-shaped GUID derived from `parts` (SHA-256 of their
/// concatenation, each prefixed with its length so parts cannot run into
/// each other).
pub(crate) fn derived_uuid(parts: &[&[u8]]) -> Uuid {
    let digest = digest(parts);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// SHA-256 of `parts`, length-prefixed.
pub(crate) fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// Unique ids for `request-id` and trace ids: cheap, no system call per id.
#[derive(Debug)]
pub(crate) struct IdGen {
    salt: u64,
    counter: AtomicU64,
}

impl IdGen {
    /// `salt` should differ between processes so ids do not repeat across runs.
    pub(crate) fn new(salt: u64) -> Self {
        IdGen {
            salt,
            counter: AtomicU64::new(0),
        }
    }

    pub(crate) fn next(&self) -> Uuid {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let hi = splitmix64(self.salt ^ n);
        let lo = splitmix64(hi ^ n.rotate_left(32));
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi.to_le_bytes());
        bytes[8..].copy_from_slice(&lo.to_le_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let a = derived_uuid(&[b"seed", b"a@b.com"]);
        assert_eq!(a, derived_uuid(&[b"seed", b"a@b.com"]));
        assert_ne!(a, derived_uuid(&[b"seeda", b"@b.com"]));
        assert_eq!(a.get_version_num(), 4);
    }

    #[test]
    fn unit_range() {
        assert_eq!(unit(0), 0.0);
        assert!(unit(u64::MAX) < 1.0);
    }

    #[test]
    fn request_ids_differ() {
        let g = IdGen::new(7);
        assert_ne!(g.next(), g.next());
    }
}
