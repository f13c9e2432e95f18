//! The streaming user-CSV reader: detects the format (plain, Entra
//! "Download users" export, Entra bulk-operation template), normalises the
//! header, and yields one row at a time. Problems that make a row unusable
//! on its own (not UTF-8, wrong field count, an unclosed quote) come back as
//! [`Diagnostic`]s; checks that need the playbook's input spec or the whole
//! file live in `check`.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use csv::{ByteRecord, ReaderBuilder};

use super::header::{self, CsvFormat, Header};
use super::raw::{MAX_RECORD_BYTES, RawRecord, RecordTooLarge, TapeReader, scan_fields};
use crate::diag::{Diagnostic, Location};

/// Diagnostics quote at most this much of one record, so a runaway record
/// (a 10 MB cell, an unclosed quote swallowing the file) is not copied
/// into every diagnostic about it.
const MAX_QUOTED: usize = 64 * 1024;

/// One data row. `fields` has exactly one entry per header column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    /// 1-based spreadsheet row (records, not physical lines, are counted;
    /// blank lines are skipped and not counted).
    pub row: u64,
    /// 1-based physical line where the record starts.
    pub line: u64,
    /// Byte offset in the file where the record starts.
    pub byte_offset: u64,
    pub fields: Vec<String>,
}

impl UserRow {
    /// The cell under column `name` (see [`Header::index_of`]).
    pub fn get<'a>(&'a self, header: &Header, name: &str) -> Option<&'a str> {
        header
            .index_of(name)
            .and_then(|i| self.fields.get(i))
            .map(String::as_str)
    }
}

/// Where the most recently read record sits.
#[derive(Clone, Copy, Debug)]
struct Span {
    row: u64,
    line: u64,
    start: u64,
    end: u64,
}

/// Reads a user CSV one row at a time, holding only the current record.
pub struct UserReader<R: Read> {
    csv: csv::Reader<TapeReader<R>>,
    name: String,
    header: Header,
    header_raw: RawRecord,
    record: ByteRecord,
    last: Option<Span>,
    /// The next data record of a bulk template may be its example row.
    expect_example: bool,
    skipped_examples: Vec<u64>,
    warnings: Vec<Diagnostic>,
    done: bool,
}

impl UserReader<File> {
    /// Open `path`; `display_name` is how diagnostics name the file.
    ///
    /// # Errors
    ///
    /// `csv::unreadable` if the file cannot be opened, and whatever
    /// [`UserReader::new`] reports about its header.
    pub fn open(path: &Path, display_name: &str) -> Result<Self, Diagnostic> {
        let file = File::open(path).map_err(|e| unreadable(display_name, &e))?;
        Self::new(file, display_name)
    }
}

impl<R: Read> UserReader<R> {
    /// Read and detect the header immediately.
    ///
    /// # Errors
    ///
    /// `csv::empty` without a header row, `csv::unreadable` on an I/O
    /// error, `csv::invalid-utf8` or `csv::syntax` for a header that cannot
    /// be read.
    pub fn new(reader: R, display_name: &str) -> Result<Self, Diagnostic> {
        let csv = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(TapeReader::new(reader));
        let mut this = UserReader {
            csv,
            name: display_name.to_owned(),
            header: Header {
                format: CsvFormat::Plain,
                columns: Vec::new(),
                header_row: 1,
            },
            header_raw: RawRecord {
                line: 1,
                offset: 0,
                bytes: Vec::new(),
            },
            record: ByteRecord::new(),
            last: None,
            expect_example: false,
            skipped_examples: Vec::new(),
            warnings: Vec::new(),
            done: false,
        };
        let empty = |what: &str| {
            Diagnostic::error(
                "csv::empty",
                display_name,
                format!("`{display_name}` {what}"),
            )
            .with_hint("the first line must be a header such as `userPrincipalName,displayName`")
        };
        let (mut span, mut cells) = this.read_cells()?.ok_or_else(|| empty("is empty"))?;
        let mut format = CsvFormat::Plain;
        if header::is_version_line(&cells) {
            (span, cells) = this
                .read_cells()?
                .ok_or_else(|| empty("has a `version:` line but no header row"))?;
            format = CsvFormat::BulkTemplate;
            this.expect_example = true;
        }
        this.header_raw = this.raw(span);
        let columns = header::columns(&cells);
        if format == CsvFormat::Plain && header::is_entra_export(&columns) {
            format = CsvFormat::EntraExport;
        }
        this.header = Header {
            format,
            columns,
            header_row: span.row,
        };
        Ok(this)
    }

    /// The detected format and normalised column names.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// How diagnostics name this file.
    pub fn display_name(&self) -> &str {
        &self.name
    }

    /// Spreadsheet rows skipped as a bulk template's `Example:` row.
    pub fn skipped_example_rows(&self) -> &[u64] {
        &self.skipped_examples
    }

    /// Warnings about rows the reader skipped rather than returned
    /// (`csv::example-row-skipped`), for callers that report them.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Next data row; malformed rows come back as `Err(Diagnostic)` and
    /// reading continues with the next row. `None` at end of file (or after
    /// an I/O error, which is returned once).
    pub fn next_row(&mut self) -> Option<Result<UserRow, Diagnostic>> {
        loop {
            let span = match self.read_record()? {
                Ok(span) => span,
                Err(d) => return Some(Err(d)),
            };
            let maybe_example = std::mem::take(&mut self.expect_example);
            let mut fields = match self.decode_fields(span) {
                Ok(fields) => fields,
                Err(d) => return Some(Err(d)),
            };
            if maybe_example && let Some(i) = fields.iter().position(|f| header::is_example(f)) {
                self.skip_example(span, i);
                continue;
            }
            let expected = self.header.columns.len();
            if fields.len() > expected && fields[expected..].iter().all(|f| f.trim().is_empty()) {
                fields.truncate(expected);
            }
            if fields.len() != expected {
                return Some(Err(self.field_count(span, &fields)));
            }
            return Some(Ok(UserRow {
                row: span.row,
                line: span.line,
                byte_offset: span.start,
                fields,
            }));
        }
    }

    /// The header record's raw text and position.
    pub(crate) fn header_raw(&self) -> &RawRecord {
        &self.header_raw
    }

    /// The raw text and position of the record `next_row` last read.
    pub(crate) fn last_raw(&self) -> Option<RawRecord> {
        self.last.map(|span| self.raw(span))
    }

    fn raw(&self, span: Span) -> RawRecord {
        let bytes = self.csv.get_ref().slice(span.start, span.end);
        RawRecord {
            line: span.line,
            offset: span.start,
            bytes: bytes[..bytes.len().min(MAX_QUOTED)].to_vec(),
        }
    }

    /// Read one record, noting where it really starts and ends.
    fn read_record(&mut self) -> Option<Result<Span, Diagnostic>> {
        if self.done {
            return None;
        }
        let before = self.csv.position().clone();
        self.csv.get_mut().discard_before(before.byte());
        match self.csv.read_byte_record(&mut self.record) {
            Ok(true) => {}
            Ok(false) => {
                self.done = true;
                return None;
            }
            Err(err) => {
                self.done = true;
                return Some(Err(self.csv_error(&err, before.record() + 1)));
            }
        }
        let tape = self.csv.get_ref();
        let (start, end, line) =
            tape.trim_record(before.byte(), self.csv.position().byte(), before.line());
        let span = Span {
            row: before.record() + 1,
            line,
            start,
            end,
        };
        self.last = Some(span);
        if let Some(quote) = scan_fields(tape.slice(start, end)).open_quote {
            let raw = self.raw(span);
            return Some(Err(Diagnostic::error(
                "csv::syntax",
                &self.name,
                format!("row {}: a quoted field is never closed, so the rest of the file was read into it", span.row),
            )
            .at(raw.span(quote, quote + 1))
            .with_label("this quote is never closed")
            .with_hint("close the quote; a `\"` inside a quoted field is written `\"\"`")
            .with_source(raw.source(&self.name))));
        }
        Some(Ok(span))
    }

    /// The next record and its cells, or `None` at end of file.
    fn read_cells(&mut self) -> Result<Option<(Span, Vec<String>)>, Diagnostic> {
        let Some(span) = self.read_record().transpose()? else {
            return Ok(None);
        };
        let mut cells = self.decode_fields(span)?;
        if let Some(first) = cells.first_mut()
            && let Some(rest) = first.strip_prefix('\u{feff}')
        {
            *first = rest.to_owned();
        }
        Ok(Some((span, cells)))
    }

    fn decode_fields(&self, span: Span) -> Result<Vec<String>, Diagnostic> {
        let mut fields = Vec::with_capacity(self.record.len());
        for (i, field) in self.record.iter().enumerate() {
            let Ok(text) = std::str::from_utf8(field) else {
                let raw = self.raw(span);
                let utf16 = span.start == 0
                    && matches!(raw.bytes.get(..2), Some(b"\xFF\xFE" | b"\xFE\xFF"));
                let message = if utf16 {
                    "row 1: the file is UTF-16 text (Excel's \"Unicode Text\"), not UTF-8"
                        .to_owned()
                } else {
                    format!(
                        "row {}: {} is not valid UTF-8",
                        span.row,
                        self.describe_field(i)
                    )
                };
                return Err(Diagnostic::error("csv::invalid-utf8", &self.name, message)
                .at(raw.field(i))
                .with_label("not UTF-8")
                .with_hint(
                    "save the file as UTF-8 (in Excel: Save As, \"CSV UTF-8 (Comma delimited)\")",
                )
                .with_source(raw.source(&self.name)));
            };
            fields.push(text.to_owned());
        }
        Ok(fields)
    }

    fn describe_field(&self, index: usize) -> String {
        match self.header.columns.get(index) {
            Some(name) if !name.is_empty() => format!("column `{name}` (field {})", index + 1),
            _ => format!("field {}", index + 1),
        }
    }

    fn field_count(&self, span: Span, fields: &[String]) -> Diagnostic {
        let expected = self.header.columns.len();
        let raw = self.raw(span);
        let (location, hint) = match fields
            .iter()
            .skip(expected)
            .rposition(|f| !f.trim().is_empty())
        {
            Some(extra) => (
                raw.field(expected + extra),
                "remove the extra cells, or quote a cell that contains a comma",
            ),
            None => (
                raw.whole(),
                "every row needs one cell per header column; leave a cell empty with an extra comma",
            ),
        };
        Diagnostic::error(
            "csv::field-count",
            &self.name,
            format!(
                "row {}: expected {expected} field{}, found {}",
                span.row,
                plural(expected),
                fields.len()
            ),
        )
        .at(location)
        .with_label(format!("{} field{}", fields.len(), plural(fields.len())))
        .with_hint(hint)
        .with_source(raw.source(&self.name))
    }

    fn skip_example(&mut self, span: Span, field: usize) {
        let raw = self.raw(span);
        self.skipped_examples.push(span.row);
        self.warnings.push(
            Diagnostic::warning(
                "csv::example-row-skipped",
                &self.name,
                format!(
                    "row {}: skipped the bulk template's `Example:` row",
                    span.row
                ),
            )
            .at(raw.field(field))
            .with_label("example row")
            .with_hint("delete the example row from the template to silence this warning")
            .with_source(raw.source(&self.name)),
        );
    }

    fn csv_error(&self, err: &csv::Error, row: u64) -> Diagnostic {
        let line = err.position().map_or(0, csv::Position::line);
        let d = match err.kind() {
            csv::ErrorKind::Io(e) if e.get_ref().is_some_and(|e| e.is::<RecordTooLarge>()) => {
                return Diagnostic::error(
                    "csv::record-too-large",
                    &self.name,
                    format!(
                        "row {row} is larger than {} MiB; the rest of the file was not read",
                        MAX_RECORD_BYTES >> 20
                    ),
                )
                .with_hint(
                    "check that this is the user CSV and that no quote is left open (a `\"` inside a quoted field is written `\"\"`)",
                );
            }
            csv::ErrorKind::Io(e) => {
                return unreadable(&self.name, &format!("{e} (near line {line})"));
            }
            _ => Diagnostic::error("csv::syntax", &self.name, format!("line {line}: {err}")),
        };
        match err.position() {
            Some(p) => d.at(Location::on_line(p.line(), 1, p.byte(), 0, 0)),
            None => d,
        }
    }
}

fn unreadable(name: &str, err: &dyn std::fmt::Display) -> Diagnostic {
    Diagnostic::error(
        "csv::unreadable",
        name,
        format!("cannot read `{name}`: {err}"),
    )
    .with_hint("check that the path is right and the file is readable")
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::{CsvFormat, UserReader, UserRow};

    fn read(data: &str) -> (UserReader<&[u8]>, Vec<Result<UserRow, String>>) {
        let mut reader = UserReader::new(data.as_bytes(), "t.csv").expect("header");
        let mut rows = Vec::new();
        while let Some(r) = reader.next_row() {
            rows.push(r.map_err(|d| format!("{}:{}", d.code, d.message)));
        }
        (reader, rows)
    }

    fn row_numbers(rows: &[Result<UserRow, String>]) -> Vec<(u64, u64)> {
        rows.iter().flatten().map(|r| (r.row, r.line)).collect()
    }

    /// A runaway record (a wrong file, a quote left open) stops reading
    /// with its row named, instead of being held whole; 10 MB cells fit.
    #[test]
    fn records_over_the_limit_stop_reading() {
        let mut data = b"userPrincipalName,displayName\na@b.com,".to_vec();
        data.resize(data.len() + 10 * 1024 * 1024, b'x');
        data.extend_from_slice(b"\nb@b.com,\"");
        data.resize(data.len() + 20 * 1024 * 1024, b'y');
        data.extend_from_slice(b"\"\nc@b.com,C\n");
        let mut reader = UserReader::new(&data[..], "t.csv").unwrap();
        assert_eq!(
            reader.next_row().unwrap().unwrap().fields[1].len(),
            10 << 20
        );
        let d = reader.next_row().unwrap().unwrap_err();
        assert_eq!(d.code, "csv::record-too-large");
        assert_eq!(
            d.message,
            "row 3 is larger than 16 MiB; the rest of the file was not read"
        );
        assert!(reader.next_row().is_none());
        let header = vec![b'h'; 20 * 1024 * 1024];
        let d = UserReader::new(&header[..], "t.csv").err().unwrap();
        assert_eq!(
            d.message,
            "row 1 is larger than 16 MiB; the rest of the file was not read"
        );
    }

    #[test]
    fn detects_plain() {
        let (r, rows) = read("userPrincipalName,displayName\na@b.com,A\n");
        assert_eq!(r.header().format, CsvFormat::Plain);
        assert_eq!(r.header().columns, ["userPrincipalName", "displayName"]);
        assert_eq!(r.header().header_row, 1);
        assert_eq!(
            rows[0].as_ref().unwrap().get(r.header(), "DISPLAYNAME"),
            Some("A")
        );
    }

    #[test]
    fn detects_entra_export() {
        let data = "userPrincipalName,displayName,id,accountEnabled,directorySynced\n\
                    a@b.com,A,0f8fad5b-d9cb-469f-a165-70867728950e,True,False\n";
        let (r, rows) = read(data);
        assert_eq!(r.header().format, CsvFormat::EntraExport);
        assert_eq!(row_numbers(&rows), [(2, 2)]);
        let (r, _) = read("userPrincipalName,objectId,userType\n");
        assert_eq!(r.header().format, CsvFormat::EntraExport);
        let (r, _) = read("userPrincipalName,id\n");
        assert_eq!(r.header().format, CsvFormat::Plain);
    }

    #[test]
    fn detects_bulk_template_and_skips_example_row() {
        let data = "version:v1.0,,\r\n\
                    Name [displayName] Required,User name [userPrincipalName] Required,Block sign in (Yes/No) [accountEnabled] Required\r\n\
                    Example: Chris Green,Example: chris@contoso.com,Example: No\r\n\
                    Alice,alice@contoso.com,No\r\n";
        let (r, rows) = read(data);
        assert_eq!(r.header().format, CsvFormat::BulkTemplate);
        assert_eq!(
            r.header().columns,
            ["displayName", "userPrincipalName", "accountEnabled"]
        );
        assert_eq!(r.header().header_row, 2);
        assert_eq!(r.skipped_example_rows(), [3]);
        assert_eq!(r.warnings()[0].code, "csv::example-row-skipped");
        assert_eq!(
            r.warnings()[0].location.map(|l| (l.line, l.column)),
            Some((3, 1))
        );
        assert_eq!(row_numbers(&rows), [(4, 4)]);
        let first = rows[0].as_ref().unwrap();
        assert_eq!(
            first.get(r.header(), "userPrincipalName"),
            Some("alice@contoso.com")
        );
        assert_eq!(
            Ok(first.byte_offset),
            u64::try_from(data.find("Alice").unwrap())
        );
    }

    #[test]
    fn example_row_only_skipped_right_after_the_header() {
        let (r, rows) = read(
            "version:v1.0\nUser name [userPrincipalName] Required\na@b.com\nExample: x@y.com\n",
        );
        assert!(r.skipped_example_rows().is_empty());
        assert_eq!(rows.len(), 2);
        let (r, rows) = read("userPrincipalName\nExample: x@y.com\n");
        assert!(r.skipped_example_rows().is_empty());
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn strips_bom_and_trailing_empty_header_cells() {
        let (r, rows) = read("\u{feff}userPrincipalName,displayName,,\r\na@b.com,A,,\r\n");
        assert_eq!(r.header().columns, ["userPrincipalName", "displayName"]);
        assert_eq!(rows[0].as_ref().unwrap().fields, ["a@b.com", "A"]);
        assert_eq!(r.header_raw().offset, 3);
    }

    #[test]
    fn numbers_rows_across_quoted_newlines_and_blank_lines() {
        let data = "userPrincipalName,displayName\n\
                    a@b.com,\"two\nlines\"\n\
                    \n\
                    c@d.com,\"three\r\nline\r\nname\"\r\n\
                    e@f.com,E\n";
        let (_, rows) = read(data);
        assert_eq!(row_numbers(&rows), [(2, 2), (3, 5), (4, 8)]);
        assert_eq!(rows[0].as_ref().unwrap().fields[1], "two\nlines");
    }

    #[test]
    fn malformed_rows_do_not_stop_reading() {
        let mut data =
            b"userPrincipalName,displayName\na@b.com\nb@b.com,\xff\xfe\nc@b.com,C,x\nd@b.com,D\n"
                .to_vec();
        data.extend_from_slice(b"e@b.com,\"unclosed\nf@b.com,F\n");
        let mut reader = UserReader::new(&data[..], "t.csv").unwrap();
        let mut got = Vec::new();
        while let Some(r) = reader.next_row() {
            got.push(match r {
                Ok(row) => format!("ok {}", row.row),
                Err(d) => {
                    let l = d.location.unwrap();
                    format!("{} {}:{} {}", d.code, l.line, l.column, d.message)
                }
            });
        }
        assert_eq!(
            got,
            [
                "csv::field-count 2:1 row 2: expected 2 fields, found 1",
                "csv::invalid-utf8 3:9 row 3: column `displayName` (field 2) is not valid UTF-8",
                "csv::field-count 4:11 row 4: expected 2 fields, found 3",
                "ok 5",
                "csv::syntax 6:9 row 6: a quoted field is never closed, so the rest of the file was read into it",
            ]
        );
    }

    #[test]
    fn utf16_is_named() {
        let data = b"\xFF\xFEu\x00p\x00n\x00\r\x00\n\x00";
        let err = UserReader::new(&data[..], "t.csv").err().unwrap();
        assert_eq!(err.code, "csv::invalid-utf8");
        assert_eq!(
            err.message,
            "row 1: the file is UTF-16 text (Excel's \"Unicode Text\"), not UTF-8"
        );
    }

    #[test]
    fn empty_inputs() {
        for data in ["", "\n\n", "\u{feff}", "version:v1.0,,\n"] {
            let err = UserReader::new(data.as_bytes(), "t.csv").err().expect(data);
            assert_eq!(err.code, "csv::empty", "{data:?}");
        }
    }
}
