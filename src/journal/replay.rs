//! Reading a journal back for `--resume`.
//!
//! Finished users are kept as 8-byte key hashes (a million-user journal
//! replays into a few megabytes); users with partial progress, which are
//! at most the ones in flight when the run stopped, keep their per-step
//! outcomes and pending intents. A torn or unparseable **last** line (power
//! loss mid-write) is cut off; damage anywhere else is an error, because
//! guessing there could repeat a password reset.

use std::collections::{HashMap, HashSet};
use std::fs::OpenOptions;
use std::io::{self, BufRead, BufReader, Seek};
use std::path::Path;

use crate::journal::{Before, Header, Record, StepStatus, key_hash};

/// Progress of a user that started but did not finish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserProgress {
    /// Steps with an outcome.
    pub outcomes: HashMap<String, StepStatus>,
    /// Steps whose request may have been sent: step id → (user id, state
    /// before).
    pub pending: HashMap<String, (String, Before)>,
}

/// What a journal says about a run.
#[derive(Debug, Default)]
pub struct Replay {
    pub header: Option<Header>,
    /// Hashes of users whose every step has an outcome.
    pub done: HashSet<u64>,
    /// Users with partial progress, by lower-cased key.
    pub partial: HashMap<String, UserProgress>,
    pub records: u64,
    /// The accounts the journaled run acted on: the 64-bit hash of each
    /// intent's object id → the CSV row it was acted on for. A resumed run
    /// keeps processing every account once, whichever row names it.
    pub accounts: HashMap<u64, u64>,
    /// Bytes cut from a torn last line, if any.
    pub truncated_bytes: u64,
}

/// Why a journal cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read the journal: {0}")]
    Io(#[from] io::Error),
    #[error("journal line {line} is damaged ({message}); refusing to guess what was done")]
    Corrupt { line: u64, message: String },
}

impl Replay {
    /// Whether `user` finished in the journaled run.
    pub fn is_done(&self, user: &str) -> bool {
        self.done.contains(&key_hash(user))
    }

    /// Reads `path`, truncating a torn last line in place.
    pub fn read(path: &Path) -> Result<Self, ReplayError> {
        let mut file = OpenOptions::new().read(true).write(true).open(path)?;
        let len = file.metadata()?.len();
        let mut reader = BufReader::new(&mut file);
        let mut replay = Replay::default();
        let mut line = Vec::new();
        let mut offset: u64 = 0;
        let mut line_no: u64 = 0;
        let mut bad: Option<(u64, u64, String)> = None;
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)?;
            if n == 0 {
                break;
            }
            line_no += 1;
            if let Some((at_line, _, message)) = bad.take() {
                // A damaged line followed by more lines is not a torn tail.
                return Err(ReplayError::Corrupt {
                    line: at_line,
                    message,
                });
            }
            let complete = line.ends_with(b"\n");
            match serde_json::from_slice::<Record>(&line) {
                Ok(record) if complete => {
                    replay.apply(record);
                    replay.records += 1;
                }
                Ok(_) => bad = Some((line_no, offset, "no newline at the end".into())),
                Err(e) => bad = Some((line_no, offset, e.to_string())),
            }
            offset += n as u64;
        }
        drop(reader);
        if let Some((_, at, _)) = bad {
            file.set_len(at)?;
            file.seek(io::SeekFrom::End(0))?;
            file.sync_all()?;
            replay.truncated_bytes = len - at;
        }
        Ok(replay)
    }

    fn apply(&mut self, record: Record) {
        match record {
            Record::Header(h) => self.header = Some(h),
            Record::Intent {
                row,
                user,
                step,
                user_id,
                before,
                ..
            } => {
                self.accounts.entry(key_hash(&user_id)).or_insert(row);
                self.partial
                    .entry(user.to_ascii_lowercase())
                    .or_default()
                    .pending
                    .insert(step, (user_id, before));
            }
            Record::Outcome {
                user, step, status, ..
            } => {
                let p = self.partial.entry(user.to_ascii_lowercase()).or_default();
                p.pending.remove(&step);
                p.outcomes.insert(step, status);
            }
            Record::UserDone { user, .. } => {
                self.partial.remove(&user.to_ascii_lowercase());
                self.done.insert(key_hash(&user));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::UserStatus;
    use std::io::Write;

    fn lines(records: &[Record]) -> Vec<u8> {
        records.iter().flat_map(Record::to_line).collect()
    }

    fn sample() -> Vec<Record> {
        vec![
            Record::Intent {
                row: 2,
                user: "A@x.com".into(),
                step: "reset".into(),
                user_id: "ida".into(),
                before: Before::default(),
                at: None,
            },
            Record::Outcome {
                row: 2,
                user: "a@x.com".into(),
                step: "reset".into(),
                status: StepStatus::Changed,
                reason: None,
                code: None,
                request_id: None,
                attempts: 1,
            },
            Record::UserDone {
                row: 2,
                user: "a@x.com".into(),
                status: UserStatus::Done,
            },
            Record::Intent {
                row: 3,
                user: "b@x.com".into(),
                step: "reset".into(),
                user_id: "idb".into(),
                before: Before {
                    last_password_change: Some("t0".into()),
                    ..Before::default()
                },
                at: None,
            },
        ]
    }

    #[test]
    fn finished_and_partial_users() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, lines(&sample())).unwrap();
        let r = Replay::read(&path).unwrap();
        assert!(r.is_done("a@X.com"));
        assert!(!r.is_done("b@x.com"));
        let b = &r.partial["b@x.com"];
        assert_eq!(b.pending["reset"].0, "idb");
        assert_eq!(
            b.pending["reset"].1.last_password_change.as_deref(),
            Some("t0")
        );
        assert_eq!(r.records, 4);
        assert_eq!(r.truncated_bytes, 0);
        // Both accounts acted on, finished or not, with the row that did.
        assert_eq!(r.accounts[&key_hash("ida")], 2);
        assert_eq!(r.accounts[&key_hash("idb")], 3);
        assert_eq!(r.accounts.len(), 2);
    }

    #[test]
    fn torn_last_line_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut data = lines(&sample());
        let whole = data.len() as u64;
        data.extend_from_slice(br#"{"type":"outcome","row":3,"user":"b@"#);
        std::fs::write(&path, &data).unwrap();
        let r = Replay::read(&path).unwrap();
        assert_eq!(r.records, 4);
        assert!(r.truncated_bytes > 0);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
        // Appending after the cut yields a clean journal again.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&sample()[2].to_line()).unwrap();
        assert_eq!(Replay::read(&path).unwrap().records, 5);
    }

    #[test]
    fn damage_in_the_middle_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut data = lines(&sample()[..2]);
        data.extend_from_slice(b"garbage\n");
        data.extend_from_slice(&lines(&sample()[2..]));
        std::fs::write(&path, &data).unwrap();
        assert!(matches!(
            Replay::read(&path),
            Err(ReplayError::Corrupt { line: 3, .. })
        ));
    }
}
