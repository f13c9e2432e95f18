//! `remedy apply`'s drift list: the users it left alone because their
//! state moved since the plan (outcome code `drifted`), each counted once.

use std::path::Path;

use crate::journal::{self, Record};
use crate::session::outcome::Drifted;
use crate::session::ui::{Notice, Ui};

/// Drifted users listed; all of them are in the reports.
const DRIFT_SHOWN: usize = 20;

/// The users an apply left alone because they drifted since the plan
/// (told to the operator), and how many there were.
pub(super) fn drifted_users(journal: &Path, ui: &dyn Ui) -> u64 {
    let mut users = std::collections::HashSet::new();
    let mut shown = Vec::new();
    let scanned = journal::for_each_record(journal, |record| {
        if let Record::Outcome {
            user,
            step,
            code: Some(code),
            reason,
            ..
        } = record
            && code == "drifted"
            && users.insert(journal::key_hash(&user))
            && shown.len() < DRIFT_SHOWN
        {
            shown.push(format!("{user} ({step}): {}", reason.unwrap_or_default()));
        }
        Ok(())
    });
    if let Err(e) = scanned {
        ui.notice(Notice::Error(format!(
            "cannot read the journal to list drifted users: {e}"
        )));
        return 0;
    }
    let n = users.len() as u64;
    if n > 0 {
        ui.notice(Notice::Drifted(Drifted { users: n, shown }));
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::StepStatus;

    struct Collect(std::sync::Mutex<Vec<String>>);

    impl Ui for Collect {
        fn notice(&self, n: Notice) {
            self.0.lock().unwrap().push(format!("{n:?}"));
        }
        fn can_ask(&self) -> bool {
            false
        }
        fn confirm(&self, _: &crate::session::Confirmation) -> bool {
            false
        }
        fn abort(&self, _: &str) -> ! {
            panic!("no abort in tests")
        }
    }

    #[test]
    fn drifted_users_are_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let outcome = |user: &str, step: &str, code: Option<&str>| Record::Outcome {
            row: 2,
            user: user.into(),
            step: step.into(),
            status: StepStatus::Skipped,
            reason: Some("drifted since the plan".into()),
            code: code.map(Into::into),
            request_id: None,
            attempts: 0,
        };
        let records = [
            outcome("a@x.com", "s1", Some("drifted")),
            outcome("a@x.com", "s2", Some("drifted")),
            outcome("b@x.com", "s1", Some("not_planned")),
            outcome("c@x.com", "s1", None),
        ];
        std::fs::write(
            &path,
            records
                .iter()
                .flat_map(Record::to_line)
                .collect::<Vec<u8>>(),
        )
        .unwrap();
        let ui = Collect(std::sync::Mutex::default());
        assert_eq!(drifted_users(&path, &ui), 1);
        let told = ui.0.lock().unwrap();
        assert_eq!(told.len(), 1);
        assert!(
            told[0].contains("a@x.com (s1): drifted since the plan"),
            "{told:?}"
        );
    }
}
