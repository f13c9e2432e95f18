//! Shards (`--shard i/N`): a stable split of a CSV's users into N disjoint
//! parts, so that N processes (a CI matrix, a Kubernetes Indexed Job) can
//! share one huge input. Only the choice of rows lives here; the run applies
//! it when it streams rows.
//!
//! A row belongs to shard `i` of `N` when
//! `u64::from_be_bytes(SHA-256(lowercase(key))[..8]) % N == i - 1`. The key
//! is case-folded because UPNs compare case-insensitively, so `Adele@…` and
//! `adele@…` land in the same shard. SHA-256 (not std's randomly seeded
//! hasher) makes the split the same on every machine, in every remedy
//! version, and reproducible with any tool:
//! `printf %s adele@contoso.com | sha256sum`.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::input::UserReader;

/// The most shards a CSV may be split into.
pub const MAX_SHARDS: u32 = 10_000;

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// Why a `--shard` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid shard `{value}`: {reason}")]
pub struct ShardError {
    value: String,
    reason: &'static str,
}

impl Shard {
    /// Shard `index` of `count`; `index` is 1-based.
    ///
    /// # Errors
    ///
    /// When `count` is 0 or above [`MAX_SHARDS`], or `index` is outside
    /// `1..=count`.
    pub fn new(index: u32, count: u32) -> Result<Self, ShardError> {
        let err = |reason| ShardError {
            value: format!("{index}/{count}"),
            reason,
        };
        if count == 0 || count > MAX_SHARDS {
            return Err(err("the shard count must be between 1 and 10000"));
        }
        if index == 0 || index > count {
            return Err(err("the shard number must be between 1 and the count"));
        }
        Ok(Shard { index, count })
    }

    /// The 1-based shard number.
    #[must_use]
    pub fn index(self) -> u32 {
        self.index
    }

    /// How many shards there are.
    #[must_use]
    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether the user `key` belongs to this shard.
    #[must_use]
    pub fn contains(self, key: &str) -> bool {
        bucket(key, self.count) == self.index
    }

    /// Rows of the CSV at `path` that belong to this shard; `key` is the
    /// key column's name. The CSV has been validated already, so a row that
    /// cannot be read is an error here.
    ///
    /// # Errors
    ///
    /// When the file cannot be read, or changed since it was validated.
    pub fn count_rows(self, path: &Path, display_name: &str, key: &str) -> Result<u64, String> {
        let mut reader = UserReader::open(path, display_name).map_err(|d| d.to_string())?;
        let k = reader
            .header()
            .index_of(key)
            .ok_or_else(|| format!("{display_name}: the key column `{key}` disappeared"))?;
        let mut n = 0;
        while let Some(row) = reader.next_row() {
            let row = row.map_err(|d| format!("the CSV changed after validation: {d}"))?;
            if self.contains(row.fields.get(k).map_or("", String::as_str)) {
                n += 1;
            }
        }
        Ok(n)
    }
}

/// The 1-based shard of `count` that `key` falls in.
#[must_use]
pub fn bucket(key: &str, count: u32) -> u32 {
    let mut hasher = Sha256::new();
    let mut buf = [0u8; 4];
    for c in key.chars().flat_map(char::to_lowercase) {
        hasher.update(c.encode_utf8(&mut buf).as_bytes());
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let bucket = u64::from_be_bytes(first) % u64::from(count.max(1));
    // The remainder is below `count`, a `u32`.
    u32::try_from(bucket).unwrap_or(0) + 1
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| ShardError {
            value: s.to_owned(),
            reason,
        };
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| err("expected INDEX/COUNT, e.g. 1/3 (1-based)"))?;
        let number = |t: &str| {
            t.trim()
                .parse::<u32>()
                .map_err(|_| err("expected INDEX/COUNT, e.g. 1/3 (1-based)"))
        };
        Shard::new(number(i)?, number(n)?).map_err(|e| err(e.reason))
    }
}

impl Serialize for Shard {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Shard {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_one_based_shards() {
        let s: Shard = "2/3".parse().unwrap();
        assert_eq!((s.index(), s.count()), (2, 3));
        assert_eq!(s.to_string(), "2/3");
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", "1/10001", "-1/3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            "\"2/3\"",
            "manifests store the shard as text"
        );
        assert_eq!(serde_json::from_str::<Shard>("\"2/3\"").unwrap(), s);
    }

    /// The split is part of the interface: CI matrices in flight during an
    /// upgrade must agree, so these values may never change.
    #[test]
    fn buckets_are_pinned_sha256_values() {
        // `printf %s adele@contoso.com | sha256sum` starts 6305db4b21f770b2.
        let first = 0x6305_db4b_21f7_70b2_u64;
        for n in [1, 2, 3, 7, 1000] {
            assert_eq!(
                u64::from(bucket("adele@contoso.com", n)),
                first % u64::from(n) + 1
            );
        }
        assert_eq!(bucket("adele@contoso.com", 1), 1);
        assert_eq!(
            bucket("Adele@Contoso.COM", 7),
            bucket("adele@contoso.com", 7)
        );
        assert_eq!(PINNED.map(|(k, n, _)| bucket(k, n)), PINNED.map(|p| p.2));
    }

    /// (key, N, shard), computed outside remedy (Python's `hashlib`).
    const PINNED: [(&str, u32, u32); 4] = [
        ("adele@contoso.com", 3, 3),
        ("USER00001@contoso.onmicrosoft.com", 3, 1),
        ("8a1c0c2e-0000-4000-8000-000000000001", 5, 2),
        ("breakglass@contoso.onmicrosoft.com", 10, 1),
    ];

    #[test]
    fn every_key_is_in_exactly_one_shard() {
        for n in [1u32, 2, 3, 8] {
            let mut sizes = vec![0u32; n as usize];
            for i in 0..3000 {
                let key = format!("user{i}@contoso.com");
                let owners: Vec<u32> = (1..=n)
                    .filter(|&i| Shard::new(i, n).unwrap().contains(&key))
                    .collect();
                assert_eq!(owners.len(), 1, "{key} in {owners:?}");
                sizes[owners[0] as usize - 1] += 1;
            }
            let fair = 3000 / n;
            assert!(
                sizes
                    .iter()
                    .all(|&s| s > fair * 8 / 10 && s < fair * 12 / 10),
                "{n}: {sizes:?}"
            );
        }
    }
}
