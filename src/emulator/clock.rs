//! Wall-clock time as whole Unix seconds and the three ways Graph and the
//! token service print it.

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

/// Graph's `...DateTime` properties: `2026-11-25T10:00:00Z`.
const ISO: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
/// `innerError.date`: the same without the zone designator.
const INNER: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
/// The token service's `timestamp`: `2026-11-25 10:00:00Z`.
const AAD: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn format(secs: i64, items: &[BorrowedFormatItem<'static>]) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(items)
        .unwrap_or_default()
}

/// `2026-11-25T10:00:00Z`.
pub(crate) fn iso(secs: i64) -> String {
    format(secs, ISO)
}

/// `2026-11-25T10:00:00`.
pub(crate) fn inner_date(secs: i64) -> String {
    format(secs, INNER)
}

/// `2026-11-25 10:00:00Z`.
pub(crate) fn aad(secs: i64) -> String {
    format(secs, AAD)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        let t = 1_795_600_800; // 2026-11-25T10:00:00Z
        assert_eq!(super::iso(t), "2026-11-25T10:00:00Z");
        assert_eq!(super::inner_date(t), "2026-11-25T10:00:00");
        assert_eq!(super::aad(t), "2026-11-25 10:00:00Z");
        assert_eq!(super::iso(i64::MAX), "1970-01-01T00:00:00Z");
    }
}
