//! Duplicate-key detection over a streamed CSV without keeping the keys.
//!
//! The first pass (in `check`) records a 64-bit hash of each case-folded
//! key and its row: 16 bytes a row, 16 MB for a million rows. [`find`]
//! sorts that and keeps only the duplicates that can be shown (the earliest
//! [`MAX_DIAGNOSTICS`]), counting the rest. [`describe`] then streams the
//! file a second time, reading only those rows and the rows they repeat, to
//! quote the key text and to confirm each match, so a hash collision is
//! never reported as a duplicate. (A collision could in principle hide a
//! real duplicate; at about 2^-64 per pair that is not worth an index.)

use std::collections::{BinaryHeap, HashMap};
use std::hash::{DefaultHasher, Hasher};
use std::io::Read;

use super::key::shown;
use super::raw::RawRecord;
use super::reader::UserReader;
use super::spec::MAX_DIAGNOSTICS;
use crate::diag::Diagnostic;

/// A hash of the case-folded key; UPNs compare case-insensitively.
pub(crate) fn key_hash(key: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    for c in key.chars().flat_map(char::to_lowercase) {
        hasher.write_u32(u32::from(c));
    }
    hasher.finish()
}

/// From `(hash, row)` pairs, the earliest [`MAX_DIAGNOSTICS`]
/// `(row, first_row)` pairs, sorted, where `row` repeats the key of the
/// earlier `first_row`; and how many more such rows there are.
pub(crate) fn find(mut keys: Vec<(u64, u64)>) -> (Vec<(u64, u64)>, u64) {
    keys.sort_unstable();
    let mut earliest = BinaryHeap::with_capacity(MAX_DIAGNOSTICS + 1);
    let mut more = 0;
    for group in keys.chunk_by(|a, b| a.0 == b.0) {
        let first = group[0].1;
        for &(_, row) in &group[1..] {
            earliest.push((row, first));
            if earliest.len() > MAX_DIAGNOSTICS {
                earliest.pop();
                more += 1;
            }
        }
    }
    (earliest.into_sorted_vec(), more)
}

/// Re-read the rows named in `pairs` (from [`find`]) through `open` and
/// build one `csv::duplicate-key` diagnostic per confirmed pair. `k` is the
/// key column. If the file cannot be re-read, the diagnostics still name
/// both rows but cannot quote the key.
pub(crate) fn describe<R: Read>(
    open: impl FnOnce() -> Result<UserReader<R>, Diagnostic>,
    file: &str,
    k: usize,
    pairs: &[(u64, u64)],
) -> Vec<Diagnostic> {
    let mut wanted: Vec<u64> = pairs
        .iter()
        .flat_map(|&(row, first)| [row, first])
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let last = wanted.last().copied().unwrap_or(0);
    let mut found: HashMap<u64, (String, Option<RawRecord>)> = HashMap::new();
    if let Ok(mut reader) = open() {
        while let Some(result) = reader.next_row() {
            let Ok(mut row) = result else { continue };
            if row.row > last {
                break;
            }
            if wanted.binary_search(&row.row).is_ok() && k < row.fields.len() {
                let quoted = pairs.binary_search_by_key(&row.row, |p| p.0).is_ok();
                let raw = if quoted { reader.last_raw() } else { None };
                found.insert(row.row, (row.fields.swap_remove(k), raw));
            }
        }
    }
    let mut out = Vec::with_capacity(pairs.len());
    for &(row, first) in pairs {
        let this = found.get(&row);
        let message = match (this, found.get(&first)) {
            (Some((a, _)), Some((b, _))) if a.to_lowercase() != b.to_lowercase() => continue,
            (Some((a, _)), Some((b, _))) if a != b => {
                format!(
                    "duplicate key `{}`: row {row} repeats row {first} (`{}`)",
                    shown(a),
                    shown(b)
                )
            }
            (Some((a, _)), _) => format!(
                "duplicate key `{}`: row {row} repeats row {first}",
                shown(a)
            ),
            (None, _) => format!("duplicate key: row {row} repeats row {first}"),
        };
        let mut d = Diagnostic::error("csv::duplicate-key", file, message)
            .with_label(format!("first seen in row {first}"))
            .with_hint("keys are compared case-insensitively; delete one of the rows so each user is processed once");
        if let Some((_, Some(raw))) = this {
            d = d.at(raw.field(k)).with_source(raw.source(file));
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{describe, find, key_hash};
    use crate::input::UserReader;

    #[test]
    fn hash_folds_case() {
        assert_eq!(key_hash("Alice@Contoso.COM"), key_hash("alice@contoso.com"));
        assert_eq!(key_hash("ÉVE@x.fr"), key_hash("éve@x.fr"));
        assert_ne!(key_hash("alice@contoso.com"), key_hash("alice@contoso.co"));
    }

    #[test]
    fn finds_repeats_against_the_first_occurrence() {
        let keys = vec![(7, 9), (1, 2), (7, 4), (3, 5), (7, 12), (1, 3)];
        assert_eq!(find(keys), (vec![(3, 2), (9, 4), (12, 4)], 0));
    }

    #[test]
    fn keeps_only_the_earliest_and_counts_the_rest() {
        let keys: Vec<(u64, u64)> = (2..=1000).map(|row| (42, row)).collect();
        let (pairs, more) = find(keys);
        assert_eq!(pairs.len(), super::MAX_DIAGNOSTICS);
        assert_eq!(pairs.first(), Some(&(3, 2)));
        assert_eq!(pairs.last(), Some(&(202, 2)));
        assert_eq!(more, 998 - 200);
    }

    #[test]
    fn describes_and_drops_hash_collisions() {
        let data = "userPrincipalName\na@b.com\nc@d.com\nA@B.com\n";
        let open = || UserReader::new(data.as_bytes(), "t.csv");
        // Rows 2 and 4 really match; rows 3 and 2 are a pretend collision.
        let out = describe(open, "t.csv", 0, &[(3, 2), (4, 2)]);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].message,
            "duplicate key `A@B.com`: row 4 repeats row 2 (`a@b.com`)"
        );
        let loc = out[0].location.unwrap();
        assert_eq!((loc.line, loc.column, loc.len), (4, 1, 7));
        let unreadable = describe(|| UserReader::new(&b""[..], "t.csv"), "t.csv", 0, &[(4, 2)]);
        assert_eq!(unreadable[0].message, "duplicate key: row 4 repeats row 2");
        assert!(unreadable[0].location.is_none());
    }
}
