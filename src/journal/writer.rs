//! The journal's single writer: a dedicated thread that appends records in
//! batches and makes each batch durable with one `fsync` (group commit).
//!
//! Workers that need durability (an intent, before its request is sent)
//! await an acknowledgement that arrives only after the fsync covering their
//! record; everyone else's records ride along in the next batch. A
//! generated password travels with its intent and is written and synced to
//! `secrets.csv` first, in the same batch, so the password is on disk before
//! the intent and long before the reset is sent.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use secrecy::SecretString;
use tokio::sync::oneshot;

use crate::journal::Record;
use crate::secrets::SecretsFile;

/// Largest number of records written between two fsyncs.
const MAX_BATCH: usize = 4096;

enum Cmd {
    Write {
        line: Vec<u8>,
        secret: Option<(String, SecretString)>,
        ack: Option<oneshot::Sender<io::Result<()>>>,
    },
    Flush(oneshot::Sender<io::Result<()>>),
}

/// Counters for the benchmark and the closing report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalStats {
    pub records: u64,
    pub fsyncs: u64,
}

/// Handle to the writer thread. Cloneable senders are cheap; dropping the
/// last handle (or [`Journal::close`]) flushes and stops the thread.
pub struct Journal {
    tx: Option<mpsc::Sender<Cmd>>,
    thread: Option<JoinHandle<io::Result<JournalStats>>>,
}

impl Journal {
    /// Opens `path` for appending (creating it), with the secrets file that
    /// generated passwords go to, if the run has one.
    pub fn open(path: &Path, secrets: Option<SecretsFile>) -> io::Result<Self> {
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let file = opts.open(path)?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("remedy-journal".into())
            .spawn(move || write_loop(&rx, file, secrets))?;
        Ok(Journal {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    fn send(&self, cmd: Cmd) -> io::Result<()> {
        self.tx
            .as_ref()
            .ok_or_else(|| io::Error::other("journal closed"))?
            .send(cmd)
            .map_err(|_| io::Error::other("the journal writer stopped"))
    }

    /// Appends `record` and waits until it (and `secret`, written to
    /// `secrets.csv` first) is on disk.
    pub async fn write_durable(
        &self,
        record: &Record,
        secret: Option<(&str, &SecretString)>,
    ) -> io::Result<()> {
        let (ack, done) = oneshot::channel();
        self.send(Cmd::Write {
            line: record.to_line(),
            secret: secret.map(|(u, p)| (u.to_owned(), p.clone())),
            ack: Some(ack),
        })?;
        done.await
            .map_err(|_| io::Error::other("the journal writer stopped"))?
    }

    /// Appends `record`; durable at the next group commit.
    pub fn write(&self, record: &Record) -> io::Result<()> {
        self.send(Cmd::Write {
            line: record.to_line(),
            secret: None,
            ack: None,
        })
    }

    /// Waits until everything sent so far is on disk.
    pub async fn flush(&self) -> io::Result<()> {
        let (ack, done) = oneshot::channel();
        self.send(Cmd::Flush(ack))?;
        done.await
            .map_err(|_| io::Error::other("the journal writer stopped"))?
    }

    /// Flushes, stops the writer and returns its counters.
    pub fn close(mut self) -> io::Result<JournalStats> {
        self.tx.take();
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("the journal writer panicked"))?,
            None => Ok(JournalStats::default()),
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn write_loop(
    rx: &mpsc::Receiver<Cmd>,
    mut file: File,
    mut secrets: Option<SecretsFile>,
) -> io::Result<JournalStats> {
    let mut stats = JournalStats::default();
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut acks = Vec::new();
    // A failed write poisons the journal: every later ack reports it, so no
    // request is sent on the strength of a record that is not on disk.
    let mut poisoned: Option<io::ErrorKind> = None;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(cmd) => batch.push(cmd),
                Err(_) => break,
            }
        }
        buf.clear();
        let mut wrote_secret = false;
        let mut secret_result = Ok(());
        for cmd in batch {
            match cmd {
                Cmd::Write { line, secret, ack } => {
                    if let Some((user, password)) = secret {
                        secret_result = secret_result.and_then(|()| match secrets.as_mut() {
                            Some(s) => s.append(&user, &password),
                            None => {
                                Err(io::Error::other("no secrets file for a generated password"))
                            }
                        });
                        wrote_secret = true;
                    }
                    buf.extend_from_slice(&line);
                    stats.records += 1;
                    if let Some(a) = ack {
                        acks.push(a);
                    }
                }
                Cmd::Flush(a) => acks.push(a),
            }
        }
        let result = poisoned
            .map_or(Ok(()), |k| Err(io::Error::from(k)))
            .and_then(|()| {
                if wrote_secret {
                    secret_result?;
                    if let Some(s) = secrets.as_mut() {
                        s.sync()?;
                    }
                }
                if !buf.is_empty() {
                    crate::crashpoint::write_or_crash(
                        crate::crashpoint::Point::JournalCommit,
                        &buf,
                        |b| file.write_all(b),
                    )?;
                    file.sync_data()?;
                    stats.fsyncs += 1;
                }
                Ok(())
            });
        if let Err(e) = &result {
            poisoned.get_or_insert(e.kind());
        }
        for a in acks.drain(..) {
            let _ = a.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            });
        }
    }
    match poisoned {
        Some(k) => Err(io::Error::from(k)),
        None => Ok(stats),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{StepStatus, UserStatus};
    use secrecy::ExposeSecret;

    fn outcome(i: u64) -> Record {
        Record::Outcome {
            row: i,
            user: format!("u{i}@x.com"),
            step: "s".into(),
            status: StepStatus::Ok,
            reason: None,
            code: None,
            request_id: None,
            attempts: 1,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn group_commit_batches_fsyncs_and_keeps_every_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let journal = std::sync::Arc::new(Journal::open(&path, None).unwrap());
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let j = journal.clone();
                tokio::spawn(async move { j.write_durable(&outcome(i), None).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        journal
            .write(&Record::UserDone {
                row: 1,
                user: "x".into(),
                status: UserStatus::Done,
            })
            .unwrap();
        let stats = std::sync::Arc::into_inner(journal)
            .unwrap()
            .close()
            .unwrap();
        assert_eq!(stats.records, 201);
        assert!(stats.fsyncs < stats.records, "{stats:?}: fsyncs are shared");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 201);
    }

    #[tokio::test]
    async fn secret_is_synced_with_its_intent() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = SecretsFile::create(&dir.path().join("secrets.csv")).unwrap();
        let journal = Journal::open(&dir.path().join("journal.jsonl"), Some(secrets)).unwrap();
        let pw = SecretString::from("Sup3r-S3cret!pw".to_owned());
        let intent = Record::Intent {
            row: 2,
            user: "a@b.com".into(),
            step: "reset".into(),
            user_id: "id".into(),
            before: Default::default(),
            at: None,
        };
        journal
            .write_durable(&intent, Some(("a@b.com", &pw)))
            .await
            .unwrap();
        let saved = SecretsFile::read_all(&dir.path().join("secrets.csv")).unwrap();
        assert_eq!(saved["a@b.com"].expose_secret(), "Sup3r-S3cret!pw");
        journal.close().unwrap();
        let text = std::fs::read_to_string(dir.path().join("journal.jsonl")).unwrap();
        assert!(
            !text.contains("Sup3r"),
            "the journal never holds a password"
        );
    }
}
