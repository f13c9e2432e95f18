//! Raw bytes behind parsed records: a short tape of recent input, so a
//! diagnostic can quote the exact line(s) of one record, and byte-level
//! field positions inside a record. Parsing itself belongs to `reader`.
//!
//! The `csv` crate reports where a record starts but not its raw text. The
//! [`TapeReader`] sits under the `csv` reader and remembers what it read;
//! the reader discards everything before the record being parsed, so the
//! tape holds roughly one record plus the `csv` crate's 8 KiB read-ahead,
//! however long the file.

use std::io::{self, Read};
use std::sync::Arc;

use crate::diag::{Location, Source};

/// Only compact the tape once this many dead bytes have piled up, so each
/// compaction moves little live data compared with what it frees.
const COMPACT_AT: usize = 64 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The largest record read. A user CSV has short rows; a record this big is
/// a wrong file or a quote left open, and holding it (the `csv` crate's
/// copy, the tape's and the decoded cells) would cost several times its
/// size, so reading stops instead. Ten-megabyte cells still fit.
pub(crate) const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// The error [`TapeReader`] returns once one record exceeds
/// [`MAX_RECORD_BYTES`].
#[derive(Debug)]
pub(crate) struct RecordTooLarge;

impl std::fmt::Display for RecordTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a record is larger than {MAX_RECORD_BYTES} bytes")
    }
}

impl std::error::Error for RecordTooLarge {}

/// An [`io::Read`] adapter that records every byte it passes on.
#[derive(Debug)]
pub(crate) struct TapeReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    base: u64,
}

impl<R> TapeReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        TapeReader {
            inner,
            buf: Vec::new(),
            base: 0,
        }
    }

    /// Forget bytes before file offset `offset` (lazily).
    pub(crate) fn discard_before(&mut self, offset: u64) {
        let dead = usize::try_from(offset.saturating_sub(self.base))
            .unwrap_or(usize::MAX)
            .min(self.buf.len());
        if dead >= COMPACT_AT {
            self.buf.drain(..dead);
            self.base += dead as u64;
        }
    }

    /// The recorded bytes in file range `start..end` (clamped to what the
    /// tape still holds).
    pub(crate) fn slice(&self, start: u64, end: u64) -> &[u8] {
        let clamp = |o: u64| {
            usize::try_from(o.saturating_sub(self.base))
                .map_or(self.buf.len(), |o| o.min(self.buf.len()))
        };
        let (s, e) = (clamp(start), clamp(end));
        &self.buf[s..e.max(s)]
    }

    /// Where the record the `csv` crate placed at `start..end` (whose
    /// position says it begins on `line`) really begins and ends: the crate
    /// counts the previous record's line terminator, any blank lines and a
    /// leading BOM as part of the next record, and includes a trailing `\r`.
    /// Returns `(start, end, line)`.
    pub(crate) fn trim_record(&self, start: u64, end: u64, line: u64) -> (u64, u64, u64) {
        let bytes = self.slice(start, end);
        let mut lead = if start == 0 && bytes.starts_with(BOM) {
            BOM.len()
        } else {
            0
        };
        let mut line = line;
        while let Some(&b) = bytes.get(lead).filter(|b| matches!(b, b'\r' | b'\n')) {
            line += u64::from(b == b'\n');
            lead += 1;
        }
        let mut len = bytes.len();
        while len > lead && matches!(bytes[len - 1], b'\r' | b'\n') {
            len -= 1;
        }
        (start + lead as u64, start + len as u64, line)
    }
}

impl<R: Read> Read for TapeReader<R> {
    /// Fails with [`RecordTooLarge`] once the tape, which holds the record
    /// being parsed plus less than [`COMPACT_AT`] of dead bytes and one
    /// read-ahead, outgrows [`MAX_RECORD_BYTES`].
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.buf.len() > MAX_RECORD_BYTES + COMPACT_AT + out.len() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, RecordTooLarge));
        }
        let n = self.inner.read(out)?;
        self.buf.extend_from_slice(&out[..n]);
        Ok(n)
    }
}

/// One record's raw bytes and where they sit in the file.
#[derive(Clone, Debug)]
pub(crate) struct RawRecord {
    /// 1-based physical line of the first byte.
    pub line: u64,
    /// File offset of the first byte.
    pub offset: u64,
    /// The record without its line terminator.
    pub bytes: Vec<u8>,
}

impl RawRecord {
    /// The record's text for quoting. Each byte that is not UTF-8 becomes
    /// one `?` (not U+FFFD, which takes three bytes), so byte offsets into
    /// the text still match the file.
    pub(crate) fn source(&self, name: &str) -> Arc<Source> {
        let mut text = String::with_capacity(self.bytes.len());
        for chunk in self.bytes.utf8_chunks() {
            text.push_str(chunk.valid());
            text.extend(chunk.invalid().iter().map(|_| '?'));
        }
        Arc::new(Source {
            name: name.to_owned(),
            text,
            first_line: self.line,
            base_offset: self.offset,
        })
    }

    /// The whole record.
    pub(crate) fn whole(&self) -> Location {
        self.span(0, self.bytes.len())
    }

    /// Field `index` (0-based) including its quotes, or the whole record if
    /// the record has no such field.
    pub(crate) fn field(&self, index: usize) -> Location {
        match scan_fields(&self.bytes).spans.get(index) {
            Some(&(s, e)) => self.span(s, e),
            None => self.whole(),
        }
    }

    /// Bytes `start..end` of the record. Columns count characters; a byte
    /// that is not valid UTF-8 counts as one character.
    pub(crate) fn span(&self, start: usize, end: usize) -> Location {
        let (line, column) = self.line_col(start);
        let last = if end > start {
            let mut i = end - 1;
            while i > start && is_continuation(self.bytes[i]) {
                i -= 1;
            }
            i
        } else {
            start
        };
        let (end_line, end_column) = self.line_col(last);
        Location {
            line,
            column,
            end_line,
            end_column,
            offset: self.offset + start as u64,
            len: (end - start) as u64,
        }
    }

    fn line_col(&self, index: usize) -> (u64, u64) {
        let (mut line, mut column) = (self.line, 1);
        for &b in &self.bytes[..index.min(self.bytes.len())] {
            if b == b'\n' {
                (line, column) = (line + 1, 1);
            } else if !is_continuation(b) {
                column += 1;
            }
        }
        (line, column)
    }
}

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// Field boundaries found by re-scanning a record's raw bytes.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldScan {
    /// Byte range of each field, quotes included.
    pub spans: Vec<(usize, usize)>,
    /// Byte index of the opening quote of a quoted field that never closes.
    pub open_quote: Option<usize>,
}

/// Split a raw record into fields the way `csv-core` does with its default
/// settings (comma delimiter, `"` quotes doubled to escape).
pub(crate) fn scan_fields(bytes: &[u8]) -> FieldScan {
    #[derive(PartialEq)]
    enum State {
        Start,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut scan = FieldScan::default();
    let mut state = State::Start;
    let mut field_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        state = match (state, b) {
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) | (State::QuoteInQuoted | State::Start, b'"') => State::Quoted,
            (_, b',') => {
                scan.spans.push((field_start, i));
                field_start = i + 1;
                State::Start
            }
            _ => State::Unquoted,
        };
    }
    if state == State::Quoted {
        scan.open_quote = Some(field_start);
    }
    scan.spans.push((field_start, bytes.len()));
    scan
}

#[cfg(test)]
mod tests {
    use super::{FieldScan, RawRecord, TapeReader, scan_fields};
    use std::io::Read;

    #[test]
    fn scans_fields_like_csv_core() {
        let scan = scan_fields(br#"a,"b,""c""",,d"e"#);
        assert_eq!(
            scan,
            FieldScan {
                spans: vec![(0, 1), (2, 11), (12, 12), (13, 16)],
                open_quote: None
            }
        );
        assert_eq!(scan_fields(b"a,\"b\nc,d").open_quote, Some(2));
        assert_eq!(scan_fields(b"").spans, vec![(0, 0)]);
    }

    #[test]
    fn locations_count_characters_and_lines() {
        let rec = RawRecord {
            line: 10,
            offset: 100,
            bytes: "é,\"x\ny\",z".as_bytes().to_vec(),
        };
        let f1 = rec.field(1);
        assert_eq!(
            (f1.line, f1.column, f1.end_line, f1.end_column),
            (10, 3, 11, 2)
        );
        assert_eq!((f1.offset, f1.len), (103, 5));
        let f2 = rec.field(2);
        assert_eq!((f2.line, f2.column, f2.offset, f2.len), (11, 4, 109, 1));
        let empty = RawRecord {
            bytes: b"a,".to_vec(),
            ..rec.clone()
        };
        let f = empty.field(1);
        assert_eq!((f.column, f.end_column, f.len), (3, 3, 0));
        assert_eq!(rec.field(9), rec.whole());
        let latin1 = RawRecord {
            bytes: b"a,Ren\xe9!".to_vec(),
            ..rec.clone()
        };
        let src = latin1.source("t.csv");
        assert_eq!(
            (src.text.as_str(), src.first_line, src.base_offset),
            ("a,Ren?!", 10, 100)
        );
    }

    #[test]
    fn tape_trims_terminators_blank_lines_and_bom() {
        let data = b"\xEF\xBB\xBFa\r\n\r\nb\n";
        let mut tape = TapeReader::new(&data[..]);
        let mut sink = Vec::new();
        tape.read_to_end(&mut sink).unwrap();
        assert_eq!(tape.trim_record(0, 5, 1), (3, 4, 1));
        assert_eq!(tape.trim_record(5, 10, 1), (8, 9, 3));
        tape.discard_before(8);
        assert_eq!(tape.slice(8, 9), b"b");
    }
}
