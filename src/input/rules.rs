//! The per-file rules: header checks and key checks, each producing a
//! diagnostic with a stable `csv::` code and a hint. The reader reports
//! what it finds on its own (encoding, field counts, quoting); `check`
//! runs these rules and the duplicate search over the whole file.

use std::io::Read;

use super::key::{is_invisible, shown};
use super::raw::RawRecord;
use super::reader::{UserReader, UserRow};
use super::spec::{InputSpec, KeyKind};
use crate::diag::Diagnostic;
use crate::diag::suggest::did_you_mean;

const GUID_EXAMPLE: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

/// `empty-header`, `duplicate-header`, `missing-key-column` and
/// `missing-column` diagnostics for the header, in column order.
pub(crate) fn check_header<R: Read>(reader: &UserReader<R>, spec: &InputSpec) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let header = reader.header();
    let raw = reader.header_raw();
    let name = reader.display_name();
    let source = raw.source(name);
    let columns = &header.columns;
    for (i, column) in columns.iter().enumerate() {
        let d = if column.is_empty() {
            Diagnostic::error(
                "csv::empty-header",
                name,
                format!("header cell {} is empty, but columns follow it", i + 1),
            )
            .with_label("empty column name")
            .with_hint("name the column, or delete it")
        } else if let Some(j) = columns[..i]
            .iter()
            .position(|c| c.eq_ignore_ascii_case(column))
        {
            Diagnostic::error(
                "csv::duplicate-header",
                name,
                format!(
                    "column `{column}` appears twice in the header (fields {} and {})",
                    j + 1,
                    i + 1
                ),
            )
            .with_label(format!("repeats field {}", j + 1))
            .with_hint("rename or delete one of the two columns")
        } else {
            continue;
        };
        out.push(d.at(raw.field(i)).with_source(source.clone()));
    }
    let delimiter = wrong_delimiter(columns, raw);
    let missing = |code: &'static str, column: &str, role: &str| {
        let hint = delimiter
            .clone()
            .unwrap_or_else(|| missing_hint(column, columns));
        // Point at a likely misspelling of the column, else the whole header.
        let location = did_you_mean(column, columns.iter().map(String::as_str))
            .and_then(|close| columns.iter().position(|c| c == close))
            .filter(|_| delimiter.is_none())
            .map_or_else(|| raw.whole(), |i| raw.field(i));
        Diagnostic::error(
            code,
            name,
            format!("the header has no `{column}` column, which the playbook uses {role}"),
        )
        .at(location)
        .with_label(format!("no `{column}` here"))
        .with_hint(hint)
        .with_source(source.clone())
    };
    if header.index_of(&spec.key).is_none() {
        out.push(missing("csv::missing-key-column", &spec.key, "as its key"));
    }
    if delimiter.is_some() {
        // Every other column is missing for the same reason; one
        // diagnostic says it.
        return out;
    }
    for (i, column) in spec.columns.iter().enumerate() {
        let repeated = spec.columns[..i].contains(column);
        if !repeated && !column.eq_ignore_ascii_case(&spec.key) && header.index_of(column).is_none()
        {
            out.push(missing("csv::missing-column", column, "in its steps"));
        }
    }
    out
}

/// A hint when the header is one cell that a different delimiter would
/// have split: Excel in many European locales saves CSVs with `;`.
fn wrong_delimiter(columns: &[String], raw: &RawRecord) -> Option<String> {
    if columns.len() != 1 {
        return None;
    }
    [(b'\t', "tab"), (b';', "semicolon")]
        .into_iter()
        .find(|(sep, _)| raw.bytes.contains(sep))
        .map(|(_, what)| {
            format!(
                "the header looks {what}-separated; save the file as comma-separated \
                 (in Excel: \"CSV UTF-8 (Comma delimited)\")"
            )
        })
}

/// Which columns the header has, and the likely misspelling if any.
fn missing_hint(column: &str, columns: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut found = columns
        .iter()
        .filter(|c| !c.is_empty())
        .take(SHOWN)
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if columns.len() > SHOWN {
        found.push_str(", …");
    }
    if found.is_empty() {
        found.push_str("none");
    }
    match did_you_mean(column, columns.iter().map(String::as_str)) {
        Some(close) => {
            format!("is `{close}` meant to be `{column}`? rename it; columns found: {found}")
        }
        None => format!("add a `{column}` column; columns found: {found}"),
    }
}

/// An `empty-key` or `invalid-key` diagnostic for `row`, if its key is bad.
pub(crate) fn check_key<R: Read>(
    reader: &UserReader<R>,
    row: &UserRow,
    k: usize,
    column: &str,
    kind: KeyKind,
) -> Option<Diagnostic> {
    let key = row.fields[k].as_str();
    let (code, message, label, hint) = if key.trim().is_empty() {
        (
            "csv::empty-key",
            format!("row {}: key cell (`{column}`) is empty", row.row),
            "empty key".to_owned(),
            "every row needs a key: fill it in or delete the row".to_owned(),
        )
    } else if kind.accepts(key) {
        return None;
    } else {
        let why = if key != key.trim() {
            "remove the spaces around the value; ".to_owned()
        } else if key.chars().any(is_invisible) {
            "the cell contains an invisible character; retype the key; ".to_owned()
        } else {
            String::new()
        };
        (
            "csv::invalid-key",
            match kind {
                KeyKind::UpnOrId => format!(
                    "row {}: `{}` is neither {}",
                    row.row,
                    shown(key),
                    kind.expected().0
                ),
                _ => format!(
                    "row {}: `{}` is not {}",
                    row.row,
                    shown(key),
                    kind.expected().0
                ),
            },
            match kind {
                KeyKind::UpnOrId => "not a UPN or object id".to_owned(),
                KeyKind::Guid => "not a GUID".to_owned(),
                KeyKind::SamAccountName => "not a sAMAccountName".to_owned(),
            },
            match kind {
                KeyKind::SamAccountName => format!("{why}{}", kind.expected().1),
                KeyKind::UpnOrId | KeyKind::Guid => {
                    format!("{why}{} `{GUID_EXAMPLE}`", kind.expected().1)
                }
            },
        )
    };
    let name = reader.display_name();
    let d = Diagnostic::error(code, name, message)
        .with_label(label)
        .with_hint(hint);
    Some(match reader.last_raw() {
        Some(raw) => d.at(raw.field(k)).with_source(raw.source(name)),
        None => d,
    })
}

#[cfg(test)]
mod tests {
    use crate::diag::Severity;
    use crate::input::CsvFormat;
    use crate::input::check::tests::{check, found};

    macro_rules! check_cases {
        ($($name:ident: $data:expr => [$($want:literal),* $(,)?];)*) => {$(
            #[test]
            fn $name() {
                let data: &[u8] = $data;
                let want: Vec<&str> = vec![$($want),*];
                assert_eq!(found(&check(data)), want);
            }
        )*};
    }

    check_cases! {
        clean: b"userPrincipalName,displayName\na@b.com,A\n0f8fad5b-d9cb-469f-a165-70867728950e,B\n" => [];
        empty: b"" => ["csv::empty"];
        blank_lines_only: b"\r\n\n" => ["csv::empty"];
        missing_key_column: b"upn,displayName\na@b.com,A\n" => ["csv::missing-key-column@1:1"];
        missing_column: b"userPrincipalName,name\na@b.com,A\n" => ["csv::missing-column@1:1"];
        misspelt_column: b"userPrincipalName,displayNme\na@b.com,A\n" => ["csv::missing-column@1:19"];
        duplicate_header: b"userPrincipalName,displayName,UserPrincipalName\na@b.com,A,x\n"
            => ["csv::duplicate-header@1:31"];
        empty_header: b"userPrincipalName,,displayName\na@b.com,,A\n" => ["csv::empty-header@1:19"];
        field_count_short: b"userPrincipalName,displayName\na@b.com,A\nc@d.com\n" => ["csv::field-count@3:1"];
        field_count_long: b"userPrincipalName,displayName\na@b.com,A,extra,\n" => ["csv::field-count@2:11"];
        trailing_empty_fields: b"userPrincipalName,displayName\na@b.com,A,, \n" => [];
        empty_key: b"userPrincipalName,displayName\na@b.com,A\n,B\n  ,C\n"
            => ["csv::empty-key@3:1", "csv::empty-key@4:1"];
        invalid_key: b"displayName,userPrincipalName\nAlice,Alice Smith\n" => ["csv::invalid-key@2:7"];
        duplicate_key: b"userPrincipalName,displayName\na@b.com,A\nc@d.com,C\n\"A@B.COM\",A2\n"
            => ["csv::duplicate-key@4:1"];
        invalid_utf8: b"userPrincipalName,displayName\na@b.com,Ren\xe9\n" => ["csv::invalid-utf8@2:9"];
        unterminated_quote: b"userPrincipalName,displayName\na@b.com,\"A\nc@d.com,C\n" => ["csv::syntax@2:9"];
        example_row: b"version:v1.0\nUser name [userPrincipalName] Required,Name [displayName]\n\
            Example: chris@contoso.com,Example: Chris\na@b.com,A\n" => ["csv::example-row-skipped@3:1"];
        no_rows: b"userPrincipalName,displayName\n" => ["csv::no-rows@1:1"];
        formula_like_cells_are_data: b"userPrincipalName,displayName\n=x@b.com,=SUM(A1)\nc@d.com,+1\n\
            e@f.com,-x\ng@h.com,@y\n" => [];
        bad_row_after_quoted_newline: b"\xef\xbb\xbfuserPrincipalName,displayName\r\na@b.com,\"x\r\ny\"\r\n,B\r\n"
            => ["csv::empty-key@4:1"];
        sorted_by_position: b"mail,displayName\nx,\n,B,C\n" => ["csv::missing-key-column@1:1", "csv::field-count@3:4"];
    }

    fn messages(data: &[u8]) -> Vec<String> {
        check(data)
            .diagnostics
            .iter()
            .map(|d| d.message.clone())
            .collect()
    }

    #[test]
    fn row_level_messages_name_the_row() {
        let data = b"userPrincipalName,displayName\na@b.com,\"two\nlines\"\n,B\nc@d.com\nbob,X\nA@B.com,Y\n";
        assert_eq!(
            messages(data),
            [
                "row 3: key cell (`userPrincipalName`) is empty",
                "row 4: expected 2 fields, found 1",
                "row 5: `bob` is neither a user principal name nor an object id",
                "duplicate key `A@B.com`: row 6 repeats row 2 (`a@b.com`)",
            ]
        );
        let bad = b"userPrincipalName,displayName\na\x07b@c.com,A\n";
        assert_eq!(
            messages(bad),
            ["row 2: `a\\u{7}b@c.com` is neither a user principal name nor an object id"]
        );
    }

    #[test]
    fn diagnostics_quote_their_record() {
        let check = check(b"userPrincipalName,displayName\r\na@b.com,A\r\n,B\r\n");
        let d = &check.diagnostics[0];
        let source = d.source.as_ref().unwrap();
        assert_eq!(
            (source.text.as_str(), source.first_line, source.base_offset),
            (",B", 3, 42)
        );
        assert_eq!(
            (
                d.file.as_str(),
                d.location.unwrap().offset,
                d.location.unwrap().len
            ),
            ("t.csv", 42, 0)
        );
        assert_eq!(d.severity, Severity::Error);
        assert_eq!(check.rows, 2);
        assert_eq!(check.format, Some(CsvFormat::Plain));
    }

    #[test]
    fn missing_key_column_hints() {
        let hint = |data: &[u8]| check(data).diagnostics[0].hint.clone().unwrap();
        assert_eq!(
            hint(b"userPrincipleName,displayName\na@b.com,A\n"),
            "is `userPrincipleName` meant to be `userPrincipalName`? rename it; \
             columns found: `userPrincipleName`, `displayName`"
        );
        assert!(
            hint(b"mail\n").starts_with("add a `userPrincipalName` column; columns found: `mail`")
        );
        assert!(
            hint(b"userPrincipalName\tdisplayName\n").starts_with("the header looks tab-separated")
        );
        assert!(
            hint(b"userPrincipalName;displayName\n")
                .starts_with("the header looks semicolon-separated")
        );
    }
}
