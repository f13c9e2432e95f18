//! Crash points for the kill campaign: `REMEDY_CRASH_AT=POINT:N` makes the
//! process die, mid-write, the N-th time it reaches POINT.
//!
//! A SIGKILL at a random instant rarely lands inside a write, yet the
//! writes are where durability can break: a torn `secrets.csv` line, a
//! journal group commit cut in half. The campaign (`scripts/campaign.py
//! kills`) names those instants instead of hoping to hit them. The process
//! writes part of its buffer and aborts: no destructor, flush or fsync runs
//! after that, as with a power cut. Without the variable (always, outside
//! the campaign) a crash point is one relaxed atomic load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The places a crash can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// Half-way through appending a password line to `secrets.csv`.
    SecretsWrite,
    /// Half-way through writing a journal group commit (before its fsync).
    JournalCommit,
}

impl Point {
    fn name(self) -> &'static str {
        match self {
            Point::SecretsWrite => "secrets-write",
            Point::JournalCommit => "journal-commit",
        }
    }
}

/// The environment variable naming the crash point.
pub const VAR: &str = "REMEDY_CRASH_AT";

struct Plan {
    point: Point,
    nth: u64,
    seen: AtomicU64,
}

fn plan() -> Option<&'static Plan> {
    static PLAN: OnceLock<Option<Plan>> = OnceLock::new();
    PLAN.get_or_init(|| parse(&std::env::var(VAR).ok()?))
        .as_ref()
}

fn parse(value: &str) -> Option<Plan> {
    let (name, nth) = value.split_once(':')?;
    let point = [Point::SecretsWrite, Point::JournalCommit]
        .into_iter()
        .find(|p| p.name() == name)?;
    let nth = nth.parse().ok().filter(|n| *n > 0)?;
    Some(Plan {
        point,
        nth,
        seen: AtomicU64::new(0),
    })
}

/// Writes `bytes` with `write`; if this is the planned crash, writes only
/// the first half and aborts the process.
pub fn write_or_crash(
    point: Point,
    bytes: &[u8],
    mut write: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if let Some(p) = plan()
        && p.point == point
        && p.seen.fetch_add(1, Ordering::Relaxed) + 1 == p.nth
    {
        let _ = write(&bytes[..bytes.len() / 2]);
        std::process::abort();
    }
    write(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_known_points_and_positive_counts() {
        let p = parse("journal-commit:3").unwrap();
        assert_eq!((p.point, p.nth), (Point::JournalCommit, 3));
        assert_eq!(parse("secrets-write:1").unwrap().point, Point::SecretsWrite);
        assert!(parse("journal-commit:0").is_none());
        assert!(parse("elsewhere:2").is_none());
        assert!(parse("secrets-write").is_none());
    }

    #[test]
    fn without_a_plan_every_byte_is_written() {
        let mut out = Vec::new();
        write_or_crash(Point::SecretsWrite, b"abcd", |b| {
            out.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        assert_eq!(out, b"abcd");
    }
}
