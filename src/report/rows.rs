//! `results.csv` and `results.jsonl`: one line per journal outcome, in
//! journal order. Owns the CSV formula-injection defence; every text field
//! (user keys from the CSV, Graph's reasons, codes and request ids) is put
//! on one line with control and bidi characters escaped
//! ([`crate::report::text::one_line`]) first, so a reader that prints a
//! cell or a `jq -r` value cannot be steered by it.

use crate::atomic_file::AtomicFile;
use std::borrow::Cow;
use std::io::{self, BufWriter, Write as _};
use std::path::Path;

use serde::Serialize;

use crate::journal::StepStatus;
use crate::report::outcome::OutcomeRef;
use crate::report::text::one_line;

/// The `results.csv` header.
pub const CSV_HEADER: [&str; 8] = [
    "row",
    "user",
    "step",
    "status",
    "reason",
    "code",
    "request_id",
    "attempts",
];

/// `cell` made inert for spreadsheets: a cell that starts with `=`, `+`,
/// `-`, `@`, tab or carriage return would be read as a formula (a user key
/// or a Graph message is attacker-influenced), so it gets a leading `'`, as
/// OWASP advises. See: <https://owasp.org/www-community/attacks/CSV_Injection>
pub fn defuse(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The `results.csv` writer.
pub struct CsvOut {
    writer: csv::Writer<AtomicFile>,
}

impl CsvOut {
    /// Starts `path` (it replaces the file on [`CsvOut::finish`]) and
    /// writes the header.
    pub fn create(path: &Path) -> io::Result<Self> {
        let mut writer = csv::Writer::from_writer(AtomicFile::create(path)?);
        writer.write_record(CSV_HEADER)?;
        Ok(CsvOut { writer })
    }

    pub fn write(&mut self, o: &OutcomeRef<'_>) -> io::Result<()> {
        let row = o.row.to_string();
        let attempts = o.attempts.to_string();
        let cell = |text: &str| defuse(&one_line(text)).into_owned();
        self.writer.write_record([
            row.as_str(),
            &cell(o.user),
            &cell(o.step),
            o.status.as_str(),
            &cell(o.reason.unwrap_or_default()),
            &cell(o.code.unwrap_or_default()),
            &cell(o.request_id.unwrap_or_default()),
            attempts.as_str(),
        ])?;
        Ok(())
    }

    /// Flushes and renames the file into place.
    pub fn finish(self) -> io::Result<()> {
        self.writer
            .into_inner()
            .map_err(csv::IntoInnerError::into_error)
            .and_then(AtomicFile::commit)
    }
}

/// One `results.jsonl` line: an [`OutcomeRef`] with its text on one line.
#[derive(Serialize)]
struct JsonlLine<'a> {
    row: u64,
    user: Cow<'a, str>,
    step: Cow<'a, str>,
    status: StepStatus,
    reason: Option<Cow<'a, str>>,
    code: Option<Cow<'a, str>>,
    request_id: Option<Cow<'a, str>>,
    attempts: u32,
}

/// The `results.jsonl` writer.
pub struct JsonlOut {
    writer: BufWriter<AtomicFile>,
}

impl JsonlOut {
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(JsonlOut {
            writer: BufWriter::with_capacity(1 << 16, AtomicFile::create(path)?),
        })
    }

    /// Writes `{row,user,step,status,reason,code,request_id,attempts}`;
    /// absent values are `null`.
    pub fn write(&mut self, o: &OutcomeRef<'_>) -> io::Result<()> {
        let line = JsonlLine {
            row: o.row,
            user: one_line(o.user),
            step: one_line(o.step),
            status: o.status,
            reason: o.reason.map(one_line),
            code: o.code.map(one_line),
            request_id: o.request_id.map(one_line),
            attempts: o.attempts,
        };
        serde_json::to_writer(&mut self.writer, &line)?;
        self.writer.write_all(b"\n")
    }

    pub fn finish(self) -> io::Result<()> {
        self.writer
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
            .and_then(AtomicFile::commit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostile() -> OutcomeRef<'static> {
        OutcomeRef {
            row: 7,
            user: "=HYPERLINK(\"http://evil\",\"x\")",
            step: "+reset",
            status: StepStatus::Failed,
            reason: Some("-2+3, said \"Graph\"\nsecond line"),
            code: Some("@SUM(A1)"),
            request_id: Some("\tTAB"),
            attempts: 3,
        }
    }

    #[test]
    fn defuse_prefixes_formula_starters_only() {
        for cell in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(defuse(cell), format!("'{cell}"), "{cell:?}");
        }
        for cell in ["alice@contoso.com", "1-2", "", "'quoted", " =x"] {
            assert_eq!(defuse(cell), cell, "{cell:?}");
        }
    }

    #[test]
    fn csv_cells_cannot_start_a_formula() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        let mut out = CsvOut::create(&path).unwrap();
        out.write(&hostile()).unwrap();
        out.finish().unwrap();

        let mut reader = csv::Reader::from_path(&path).unwrap();
        assert_eq!(reader.headers().unwrap(), CSV_HEADER.as_slice());
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(&r[0], "7");
        assert_eq!(&r[1], "'=HYPERLINK(\"http://evil\",\"x\")");
        assert_eq!(&r[2], "'+reset");
        assert_eq!(&r[3], "failed");
        assert_eq!(&r[4], "'-2+3, said \"Graph\" second line");
        assert_eq!(&r[5], "'@SUM(A1)");
        assert_eq!(&r[6], " TAB");
        assert_eq!(&r[7], "3");
        for cell in r {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?}"
            );
        }
    }

    /// Text from Graph or the CSV with an ANSI escape, line breaks, a DEL,
    /// a C1 control and a right-to-left override.
    fn smuggler() -> OutcomeRef<'static> {
        OutcomeRef {
            row: 9,
            user: "evil\u{202E}moc.osotnoc@a",
            step: "reset",
            status: StepStatus::Failed,
            reason: Some("denied\u{1b}[2J\u{1b}[31m\r\nok: user fixed\u{7f}\u{9b}1m"),
            code: Some("Code\rX"),
            request_id: Some("id\u{2066}x"),
            attempts: 1,
        }
    }

    fn assert_inert(text: &str) {
        for c in text.chars() {
            assert!(
                !c.is_control() && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'),
                "{c:?} in {text:?}"
            );
        }
    }

    #[test]
    fn control_and_bidi_characters_never_reach_a_cell_or_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let csv_path = dir.path().join("results.csv");
        let mut out = CsvOut::create(&csv_path).unwrap();
        out.write(&smuggler()).unwrap();
        out.finish().unwrap();
        let text = std::fs::read_to_string(&csv_path).unwrap();
        assert_eq!(text.lines().count(), 2, "one line per outcome: {text:?}");
        let mut reader = csv::Reader::from_path(&csv_path).unwrap();
        let r = reader.records().next().unwrap().unwrap();
        for cell in &r {
            assert_inert(cell);
        }
        assert_eq!(&r[1], "evil\\u{202e}moc.osotnoc@a");
        assert_eq!(
            &r[4],
            "denied\\u{1b}[2J\\u{1b}[31m ok: user fixed\\u{7f}\\u{9b}1m"
        );
        assert_eq!(&r[5], "Code X");

        let jsonl_path = dir.path().join("results.jsonl");
        let mut out = JsonlOut::create(&jsonl_path).unwrap();
        out.write(&smuggler()).unwrap();
        out.finish().unwrap();
        let text = std::fs::read_to_string(&jsonl_path).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        for field in ["user", "reason", "code", "request_id"] {
            assert_inert(line[field].as_str().unwrap());
        }
        assert_eq!(line["reason"], r[4].to_owned());
    }

    #[test]
    fn jsonl_lines_hold_every_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        let mut out = JsonlOut::create(&path).unwrap();
        out.write(&hostile()).unwrap();
        out.write(&OutcomeRef {
            row: 8,
            user: "b@x",
            step: "enable",
            status: StepStatus::WouldChange,
            reason: None,
            code: None,
            request_id: None,
            attempts: 0,
        })
        .unwrap();
        out.finish().unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["user"], "=HYPERLINK(\"http://evil\",\"x\")");
        assert_eq!(lines[0]["status"], "failed");
        assert_eq!(lines[0]["attempts"], 3);
        assert_eq!(
            lines[1],
            serde_json::json!({
                "row": 8, "user": "b@x", "step": "enable", "status": "would_change",
                "reason": null, "code": null, "request_id": null, "attempts": 0
            })
        );
    }
}
