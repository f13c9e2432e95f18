//! Streaming a journal: one record at a time, in file order, in bounded
//! memory, for the reports, `verify` and `apply`'s drift list.
//!
//! Like `--resume`, a torn or unparseable **last** line (the process was
//! killed mid-write) is ignored; a damaged line with more lines after it is
//! an error, since a report that silently drops outcomes would lie.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use crate::journal::Record;

/// Longest journal line read; a longer one is damage, not a record.
const MAX_LINE: usize = 1 << 20;

/// Calls `f` with every record of the journal at `path`, in order.
pub fn for_each_record(path: &Path, mut f: impl FnMut(Record) -> io::Result<()>) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(1 << 16, File::open(path)?);
    let mut line = Vec::new();
    let mut line_no: u64 = 0;
    let mut damaged: Option<(u64, String)> = None;
    loop {
        line.clear();
        let n = read_line(&mut reader, &mut line)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if let Some((at, message)) = damaged.take() {
            return Err(corrupt(path, at, &message));
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Record>(&line) {
            Ok(record) => f(record)?,
            Err(e) => damaged = Some((line_no, e.to_string())),
        }
    }
    Ok(())
}

/// Reads one line (newline included) into `buf`, giving up past
/// [`MAX_LINE`] bytes, whose remainder is skipped so one huge line cannot
/// exhaust memory.
fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut total = 0;
    loop {
        let (done, used) = {
            let available = reader.fill_buf()?;
            if available.is_empty() {
                return Ok(total);
            }
            let end = available.iter().position(|&b| b == b'\n');
            let used = end.map_or(available.len(), |i| i + 1);
            if buf.len() < MAX_LINE {
                let room = MAX_LINE - buf.len();
                buf.extend_from_slice(&available[..used.min(room)]);
            }
            (end.is_some(), used)
        };
        reader.consume(used);
        total += used;
        if done {
            return Ok(total);
        }
    }
}

fn corrupt(path: &Path, line: u64, message: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "journal `{}` line {line} is damaged ({message})",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(text: &str) -> io::Result<Vec<Record>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("journal.jsonl");
        std::fs::write(&path, text)?;
        let mut out = Vec::new();
        for_each_record(&path, |r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }

    const DONE: &str = r#"{"type":"user_done","row":2,"user":"a@b.com","status":"done"}"#;

    #[test]
    fn reads_every_record_and_skips_blank_lines() {
        let records = collect(&format!("{DONE}\n\n{DONE}\n")).unwrap();
        assert_eq!(records.len(), 2);
    }

    #[test]
    fn a_torn_last_line_is_ignored() {
        let records = collect(&format!("{DONE}\n{{\"type\":\"outc")).unwrap();
        assert_eq!(records.len(), 1);
    }

    #[test]
    fn damage_before_the_end_is_an_error() {
        let err = collect(&format!("{DONE}\nnot json\n{DONE}\n")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn an_overlong_line_is_cut_and_reported_as_damage() {
        let long = "x".repeat(MAX_LINE + 10);
        let err = collect(&format!("{long}\n{DONE}\n")).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn a_missing_journal_is_not_found() {
        let err = for_each_record(Path::new("/nonexistent/journal.jsonl"), |_| Ok(())).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
