//! How a session ended, and the one mapping from that to the documented
//! exit code (`Outcome::exit_code`, `VerifyOutcome::exit_code`).

use crate::exit_code;
use crate::plan::PlanEnd;

/// Why a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Every user was scheduled.
    Completed,
    /// Ctrl-C or SIGTERM (resume with `--resume`).
    Interrupted,
    /// `max_failures` was exceeded.
    StoppedByGuard(String),
}

/// Users an apply left alone because they drifted since the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drifted {
    pub users: u64,
    /// `user (step): reason`, for the first few.
    pub shown: Vec<String>,
}

/// How the verify pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyOutcome {
    /// Every check holds.
    Holds,
    /// Drift, or accounts that could not be read.
    Drift,
    /// The pass itself failed (it said why).
    Failed,
}

impl VerifyOutcome {
    pub fn exit_code(self) -> u8 {
        match self {
            VerifyOutcome::Holds => exit_code::OK,
            VerifyOutcome::Drift => exit_code::PROBLEMS,
            VerifyOutcome::Failed => exit_code::USAGE,
        }
    }
}

/// A session that ran (or found nothing to do).
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `--resume` of a run that had completed.
    AlreadyCompleted {
        failed: u64,
    },
    Ran(Ran),
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Ran {
    pub ended: Ended,
    pub is_plan: bool,
    /// Users that failed.
    pub failed: u64,
    /// The journal or the plan could not be completed.
    pub incomplete_record: bool,
    /// The CSV reader failed (the file changed under the run).
    pub reader_failed: bool,
    /// `remedy plan`: the saved plan's totals.
    pub plan: Option<PlanEnd>,
    pub drifted: u64,
    pub verify: Option<VerifyOutcome>,
}

impl Outcome {
    /// The documented exit code.
    pub fn exit_code(&self) -> u8 {
        let r = match self {
            Outcome::AlreadyCompleted { failed } if *failed > 0 => return exit_code::PROBLEMS,
            Outcome::AlreadyCompleted { .. } => return exit_code::OK,
            Outcome::Ran(r) => r,
        };
        if r.reader_failed {
            return exit_code::USAGE;
        }
        match &r.ended {
            Ended::Interrupted => exit_code::INTERRUPTED,
            Ended::StoppedByGuard(_) => exit_code::GUARD,
            Ended::Completed if r.incomplete_record => exit_code::PROBLEMS,
            // A plan records users that do not exist; only other failures
            // are errors of the plan.
            Ended::Completed if r.is_plan => {
                if r.plan.as_ref().is_some_and(|e| e.failed > 0) {
                    exit_code::PROBLEMS
                } else {
                    exit_code::OK
                }
            }
            Ended::Completed if r.failed > 0 || r.drifted > 0 => exit_code::PROBLEMS,
            Ended::Completed => r.verify.map_or(exit_code::OK, VerifyOutcome::exit_code),
        }
    }

    /// `remedy plan`: the saved plan's totals, when it was saved.
    pub fn plan(&self) -> Option<&PlanEnd> {
        match self {
            Outcome::Ran(r) => r.plan.as_ref(),
            Outcome::AlreadyCompleted { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(ended: Ended) -> Ran {
        Ran {
            ended,
            is_plan: false,
            failed: 0,
            incomplete_record: false,
            reader_failed: false,
            plan: None,
            drifted: 0,
            verify: None,
        }
    }

    #[test]
    fn one_mapping_to_exit_codes() {
        let code = |r: Ran| Outcome::Ran(r).exit_code();
        assert_eq!(code(ran(Ended::Completed)), 0);
        assert_eq!(code(ran(Ended::Interrupted)), 130);
        assert_eq!(code(ran(Ended::StoppedByGuard("x".into()))), 3);
        assert_eq!(
            code(Ran {
                failed: 1,
                ..ran(Ended::Completed)
            }),
            1
        );
        assert_eq!(
            code(Ran {
                drifted: 1,
                ..ran(Ended::Completed)
            }),
            1
        );
        assert_eq!(
            code(Ran {
                incomplete_record: true,
                ..ran(Ended::Completed)
            }),
            1
        );
        assert_eq!(
            code(Ran {
                reader_failed: true,
                ..ran(Ended::Interrupted)
            }),
            2
        );
        let verify = |v| {
            code(Ran {
                verify: Some(v),
                ..ran(Ended::Completed)
            })
        };
        assert_eq!(verify(VerifyOutcome::Holds), 0);
        assert_eq!(verify(VerifyOutcome::Drift), 1);
        assert_eq!(verify(VerifyOutcome::Failed), 2);
        // A plan's users that are not found are part of the plan.
        let plan = |failed| {
            code(Ran {
                is_plan: true,
                failed: 5,
                plan: Some(PlanEnd {
                    failed,
                    not_found: 5,
                    ..PlanEnd::default()
                }),
                ..ran(Ended::Completed)
            })
        };
        assert_eq!(plan(0), 0);
        assert_eq!(plan(1), 1);
        assert_eq!(Outcome::AlreadyCompleted { failed: 0 }.exit_code(), 0);
        assert_eq!(Outcome::AlreadyCompleted { failed: 2 }.exit_code(), 1);
    }
}
