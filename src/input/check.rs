//! Whole-file validation of a user CSV against a playbook's input spec:
//! one streaming pass runs the `rules` on the header and every row and
//! collects the reader's own findings, then `duplicates` finds repeated
//! keys; the result is capped at [`MAX_DIAGNOSTICS`] and sorted by
//! position.

use std::io::Read;
use std::path::Path;

use super::header::CsvFormat;
use super::reader::UserReader;
use super::spec::{InputSpec, MAX_DIAGNOSTICS};
use super::{duplicates, rules};
use crate::diag::{Diagnostic, Severity};

/// The outcome of [`check_csv`].
#[derive(Debug, Default)]
pub struct CsvCheck {
    /// Sorted by position; at most [`MAX_DIAGNOSTICS`] plus one
    /// `csv::too-many-problems`.
    pub diagnostics: Vec<Diagnostic>,
    /// Data records read, malformed ones included; the header and skipped
    /// example rows are not counted.
    pub rows: u64,
    /// `None` when no header could be read.
    pub format: Option<CsvFormat>,
}

/// Validate the CSV at `path` against `spec`, streaming (the file is read
/// twice when it has duplicate keys).
#[must_use]
pub fn check_csv(path: &Path, display_name: &str, spec: &InputSpec) -> CsvCheck {
    check_with(|| UserReader::open(path, display_name), display_name, spec)
}

/// [`check_csv`] for a CSV already in memory (standard input, tests).
#[must_use]
pub fn check_bytes(data: &[u8], display_name: &str, spec: &InputSpec) -> CsvCheck {
    check_with(|| UserReader::new(data, display_name), display_name, spec)
}

fn check_with<R: Read>(
    mut open: impl FnMut() -> Result<UserReader<R>, Diagnostic>,
    display_name: &str,
    spec: &InputSpec,
) -> CsvCheck {
    let mut reader = match open() {
        Ok(reader) => reader,
        Err(d) => {
            return CsvCheck {
                diagnostics: vec![d],
                ..CsvCheck::default()
            };
        }
    };
    let format = reader.header().format;
    let mut sink = Sink::default();
    for d in rules::check_header(&reader, spec) {
        sink.push(d);
    }
    let key_index = reader.header().index_of(&spec.key);
    let mut keys: Vec<(u64, u64)> = Vec::new();
    let mut rows = 0;
    while let Some(result) = reader.next_row() {
        let row = match result {
            Ok(row) => row,
            Err(d) => {
                rows += u64::from(d.code != "csv::unreadable");
                sink.push(d);
                continue;
            }
        };
        rows += 1;
        let Some(k) = key_index else { continue };
        match rules::check_key(&reader, &row, k, &spec.key, spec.key_kind) {
            Some(d) => sink.push(d),
            None => keys.push((duplicates::key_hash(&row.fields[k]), row.row)),
        }
    }
    let mut late: Vec<Diagnostic> = reader.warnings().to_vec();
    if rows == 0 {
        let header = reader.header_raw();
        late.push(
            Diagnostic::warning(
                "csv::no-rows",
                reader.display_name(),
                "the file has a header but no data rows",
            )
            .at(header.whole())
            .with_hint("add one row per user below the header")
            .with_source(header.source(reader.display_name())),
        );
    }
    drop(reader);
    let (pairs, more) = duplicates::find(keys);
    sink.suppressed_errors += more;
    if let (Some(k), false) = (key_index, pairs.is_empty()) {
        late.extend(duplicates::describe(open, display_name, k, &pairs));
    }
    CsvCheck {
        diagnostics: sink.finish(display_name, late),
        rows,
        format: Some(format),
    }
}

/// Keeps the first [`MAX_DIAGNOSTICS`] diagnostics that arrive (the first
/// pass produces them in file order) and counts the rest.
#[derive(Default)]
struct Sink {
    kept: Vec<Diagnostic>,
    suppressed_errors: u64,
    suppressed_warnings: u64,
}

impl Sink {
    fn push(&mut self, d: Diagnostic) {
        if self.kept.len() < MAX_DIAGNOSTICS {
            self.kept.push(d);
        } else {
            self.count(&d);
        }
    }

    fn count(&mut self, d: &Diagnostic) {
        match d.severity {
            Severity::Error => self.suppressed_errors += 1,
            Severity::Warning => self.suppressed_warnings += 1,
        }
    }

    /// Merge in `late` diagnostics, sort, cap, and summarise what was cut.
    fn finish(mut self, file: &str, late: Vec<Diagnostic>) -> Vec<Diagnostic> {
        let mut all = std::mem::take(&mut self.kept);
        all.extend(late);
        // A stable sort by position only: at one position, arrival order
        // (the key column before other columns) reads better than code order.
        all.sort_by_key(|d| d.location.map(|l| (l.line, l.column)));
        if all.len() > MAX_DIAGNOSTICS {
            for d in all.drain(MAX_DIAGNOSTICS..) {
                self.count(&d);
            }
        }
        let (errors, warnings) = (self.suppressed_errors, self.suppressed_warnings);
        if errors + warnings > 0 {
            let message = format!(
                "{} more problem{} not shown ({errors} error{}, {warnings} warning{})",
                errors + warnings,
                if errors + warnings == 1 { "" } else { "s" },
                if errors == 1 { "" } else { "s" },
                if warnings == 1 { "" } else { "s" },
            );
            let hint = "fix the problems above and check again; so many usually means a wrong delimiter or encoding";
            let d = if errors > 0 {
                Diagnostic::error("csv::too-many-problems", file, message)
            } else {
                Diagnostic::warning("csv::too-many-problems", file, message)
            };
            all.push(d.with_hint(hint));
        }
        all
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{CsvCheck, InputSpec, MAX_DIAGNOSTICS, check_bytes, check_csv};
    use crate::diag::Severity;
    use crate::input::CsvFormat;
    use std::fmt::Write as _;
    use std::path::Path;

    pub(crate) fn spec() -> InputSpec {
        InputSpec {
            key: "userPrincipalName".into(),
            columns: vec!["userPrincipalName".into(), "displayName".into()],
            key_kind: crate::input::KeyKind::UpnOrId,
        }
    }

    pub(crate) fn check(data: &[u8]) -> CsvCheck {
        check_bytes(data, "t.csv", &spec())
    }

    /// `code@line:column` of each diagnostic (`code` alone without a location).
    pub(crate) fn found(check: &CsvCheck) -> Vec<String> {
        check
            .diagnostics
            .iter()
            .map(|d| match d.location {
                Some(l) => format!("{}@{}:{}", d.code, l.line, l.column),
                None => d.code.to_owned(),
            })
            .collect()
    }

    #[test]
    fn caps_diagnostics_and_counts_the_rest() {
        let mut data = String::from("userPrincipalName,displayName\n");
        for _ in 0..100 {
            data.push_str(",empty\n");
        }
        for _ in 0..150 {
            data.push_str("x@y.com,dup\n");
        }
        let check = check(data.as_bytes());
        assert_eq!(check.diagnostics.len(), MAX_DIAGNOSTICS + 1);
        assert_eq!(check.diagnostics[99].code, "csv::empty-key");
        assert_eq!(
            check.diagnostics[100].message,
            "duplicate key `x@y.com`: row 103 repeats row 102"
        );
        assert_eq!(check.diagnostics[199].location.unwrap().line, 202);
        let last = check.diagnostics.last().unwrap();
        assert_eq!(last.code, "csv::too-many-problems");
        assert_eq!(
            last.message,
            "49 more problems not shown (49 errors, 0 warnings)"
        );
        assert_eq!(last.severity, Severity::Error);
        assert_eq!(check.rows, 250);
    }

    #[test]
    fn unreadable_file() {
        let check = check_csv(Path::new("/no/such/dir/users.csv"), "users.csv", &spec());
        assert_eq!(found(&check), ["csv::unreadable"]);
        assert!(
            check.diagnostics[0]
                .message
                .starts_with("cannot read `users.csv`: ")
        );
        assert_eq!((check.rows, check.format), (0, None));
    }

    #[test]
    fn streams_a_large_file_and_finds_a_distant_duplicate() {
        let mut data = String::with_capacity(200_000 * 40);
        data.push_str("userPrincipalName,displayName\n");
        for i in 0..200_000 {
            let _ = writeln!(data, "user{i}@contoso.onmicrosoft.com,User {i}");
        }
        data.push_str("USER7@contoso.onmicrosoft.com,again\n");
        let check = check(data.as_bytes());
        assert_eq!(check.rows, 200_001);
        assert_eq!(found(&check), ["csv::duplicate-key@200002:1"]);
        assert_eq!(
            check.diagnostics[0].message,
            "duplicate key `USER7@contoso.onmicrosoft.com`: row 200002 repeats row 9 (`user7@contoso.onmicrosoft.com`)"
        );
    }

    #[test]
    fn huge_field_is_handled_and_quoted_briefly() {
        let mut data = String::from("userPrincipalName,displayName\na@b.com,");
        data.push_str(&"x".repeat(10 * 1024 * 1024));
        data.push_str("\nnot a key,");
        data.push_str(&"y".repeat(10 * 1024 * 1024));
        data.push('\n');
        let check = check(data.as_bytes());
        assert_eq!(found(&check), ["csv::invalid-key@3:1"]);
        assert!(check.diagnostics[0].source.as_ref().unwrap().text.len() <= 64 * 1024);
    }

    #[test]
    fn shipped_examples_validate() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        for (file, format, rows) in [
            ("users.csv", CsvFormat::Plain, 6),
            ("entra-export.csv", CsvFormat::EntraExport, 5),
            ("bulk-template.csv", CsvFormat::BulkTemplate, 4),
        ] {
            let check = check_csv(&root.join(file), file, &spec());
            let want: &[&str] = match format {
                CsvFormat::BulkTemplate => &["csv::example-row-skipped@3:1"],
                _ => &[],
            };
            assert_eq!(found(&check), want, "{file}");
            assert_eq!((check.format, check.rows), (Some(format), rows), "{file}");
        }
    }

    /// The corpus README lists, for each file, the diagnostics it must
    /// produce; `ok/` files may only warn.
    #[test]
    fn corpus_matches_its_readme() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/csv");
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        let mut listed: usize = 0;
        for line in readme.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let file = cells[1].trim_matches('`');
            let want: Vec<&str> = cells[3]
                .split_whitespace()
                .map(|c| c.trim_matches('`'))
                .collect();
            let check = check_csv(&dir.join(file), file, &spec());
            let errors = check
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            assert_eq!(
                file.starts_with("err/"),
                errors > 0,
                "{file}: {:?}",
                found(&check)
            );
            assert_eq!(found(&check), want, "{file}");
            listed += 1;
        }
        let on_disk: usize = ["ok", "err"]
            .iter()
            .map(|d| std::fs::read_dir(dir.join(d)).unwrap().count())
            .sum();
        assert_eq!(
            listed, on_disk,
            "every corpus file is listed in README.md once"
        );
    }
}
