//! Step outcomes counted by [`StepStatus`]: one counter for the progress
//! display (overall and per step) and for every report's per-step line.

use crate::journal::StepStatus;

/// Step outcomes by status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub ok: u64,
    pub changed: u64,
    pub would_change: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl StatusCounts {
    /// Counts one outcome of `status`.
    pub fn add(&mut self, status: StepStatus) {
        let n = match status {
            StepStatus::Ok => &mut self.ok,
            StepStatus::Changed => &mut self.changed,
            StepStatus::WouldChange => &mut self.would_change,
            StepStatus::Failed => &mut self.failed,
            StepStatus::Skipped => &mut self.skipped,
        };
        *n = n.saturating_add(1);
    }

    /// Outcomes counted, whatever their status.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.ok + self.changed + self.would_change + self.failed + self.skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_has_its_own_count() {
        let mut c = StatusCounts::default();
        for status in [
            StepStatus::Ok,
            StepStatus::Changed,
            StepStatus::Changed,
            StepStatus::WouldChange,
            StepStatus::Failed,
            StepStatus::Skipped,
        ] {
            c.add(status);
        }
        let expected = StatusCounts {
            ok: 1,
            changed: 2,
            would_change: 1,
            failed: 1,
            skipped: 1,
        };
        assert_eq!(c, expected);
        assert_eq!(c.total(), 6);
    }
}
