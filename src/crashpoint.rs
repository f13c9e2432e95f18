//! Crash points for the kill campaign: `REMEDY_CRASH_AT=POINT:N` makes the
//! process die, mid-write, the N-th time it reaches POINT.
//!
//! A SIGKILL at a random instant rarely lands inside a write, yet the
//! writes are where durability can break: a torn `secrets.csv` line, a
//! journal group commit cut in half. The campaign (`scripts/campaign.py
//! kills`) names those instants instead of hoping to hit them. The process
//! writes part of its buffer and aborts: no destructor, flush or fsync runs
//! after that, as with a power cut.
//!
//! The hook exists only in a build with the `crash-points` feature (the
//! campaign builds one). The default build, which `cargo build --release`
//! and `cargo install` make, has none: there [`write_or_crash`] is a plain
//! write and `REMEDY_CRASH_AT` is ignored ([`warn_if_ignored`] says so).

/// The places a crash can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// Half-way through appending a password line to `secrets.csv`.
    SecretsWrite,
    /// Half-way through writing a journal group commit (before its fsync).
    JournalCommit,
}

/// The environment variable naming the crash point.
pub const VAR: &str = "REMEDY_CRASH_AT";

/// Whether this build has the crash points (the `crash-points` feature).
pub const ENABLED: bool = cfg!(feature = "crash-points");

/// Writes `bytes` with `write`; in a `crash-points` build, if this is the
/// planned crash, writes only the first half and aborts the process.
pub fn write_or_crash(
    point: Point,
    bytes: &[u8],
    mut write: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    #[cfg(feature = "crash-points")]
    if hook::due(point) {
        let _ = write(&bytes[..bytes.len() / 2]);
        std::process::abort();
    }
    #[cfg(not(feature = "crash-points"))]
    let _ = point;
    write(bytes)
}

/// Logs a warning when `REMEDY_CRASH_AT` is set in a build without crash
/// points, so a campaign run with the wrong binary is not mistaken for one
/// that never reached its crash point.
pub fn warn_if_ignored() {
    if !ENABLED && std::env::var_os(VAR).is_some() {
        tracing::warn!(
            "{VAR} is set, but this build has no crash points (they are in a `--features crash-points` build only); ignored"
        );
    }
}

/// The plan `REMEDY_CRASH_AT` describes. Compiled into a `crash-points`
/// build, and into unit tests so its parsing is tested in every build.
#[cfg(any(test, feature = "crash-points"))]
mod hook {
    use std::sync::atomic::AtomicU64;

    use super::Point;

    fn name(point: Point) -> &'static str {
        match point {
            Point::SecretsWrite => "secrets-write",
            Point::JournalCommit => "journal-commit",
        }
    }

    #[cfg_attr(not(feature = "crash-points"), allow(dead_code))]
    pub(super) struct Plan {
        pub(super) point: Point,
        pub(super) nth: u64,
        seen: AtomicU64,
    }

    #[cfg(feature = "crash-points")]
    fn plan() -> Option<&'static Plan> {
        use std::sync::OnceLock;
        static PLAN: OnceLock<Option<Plan>> = OnceLock::new();
        PLAN.get_or_init(|| parse(&std::env::var(super::VAR).ok()?))
            .as_ref()
    }

    #[cfg(feature = "crash-points")]
    /// Whether this arrival at `point` is the planned crash (one relaxed
    /// atomic add when a plan names it, one load otherwise).
    pub(super) fn due(point: Point) -> bool {
        use std::sync::atomic::Ordering;
        plan().is_some_and(|p| {
            p.point == point && p.seen.fetch_add(1, Ordering::Relaxed) + 1 == p.nth
        })
    }

    pub(super) fn parse(value: &str) -> Option<Plan> {
        let (wanted, nth) = value.split_once(':')?;
        let point = [Point::SecretsWrite, Point::JournalCommit]
            .into_iter()
            .find(|p| name(*p) == wanted)?;
        let nth = nth.parse().ok().filter(|n| *n > 0)?;
        Some(Plan {
            point,
            nth,
            seen: AtomicU64::new(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_known_points_and_positive_counts() {
        use super::hook::parse;
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
