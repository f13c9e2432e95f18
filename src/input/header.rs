//! The header of a user CSV: the three formats, how each is recognised,
//! and how bulk-template headings are reduced to property names.

/// Columns that only the Entra admin center "Download users" export has;
/// one of them next to `userPrincipalName` and `id` marks the export.
const EXPORT_COLUMNS: &[&str] = &[
    "accountEnabled",
    "directorySynced",
    "userType",
    "creationType",
    "invitationState",
    "identityIssuer",
    "createdDateTime",
    "ageGroup",
];

/// Which kind of CSV a file is. All three are read the same way once the
/// header is found; the format is reported so users see what was detected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsvFormat {
    /// The first record is the header.
    Plain,
    /// The Entra admin center "Download users" export (a plain header).
    EntraExport,
    /// An Entra bulk-operation template: `version:v1.0`, then headings like
    /// `User name [userPrincipalName] Required`, then maybe an example row.
    BulkTemplate,
}

/// The detected format and the normalised column names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub format: CsvFormat,
    /// Normalised names (`userPrincipalName`, not `User name
    /// [userPrincipalName] Required`), trailing empty cells dropped.
    pub columns: Vec<String>,
    /// Spreadsheet row of the header: 1, or 2 for bulk templates.
    pub header_row: u64,
}

impl Header {
    /// The index of column `name`: an exact match first, then an ASCII
    /// case-insensitive one.
    #[must_use]
    pub fn index_of(&self, name: &str) -> Option<usize> {
        let columns = &self.columns;
        columns
            .iter()
            .position(|c| c == name)
            .or_else(|| columns.iter().position(|c| c.eq_ignore_ascii_case(name)))
    }
}

/// `version:v1.0` (any version), possibly followed by empty cells.
pub(crate) fn is_version_line(cells: &[String]) -> bool {
    cells.first().is_some_and(|c| {
        let c = c.trim_start_matches('\u{feff}').trim();
        c.get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("version:"))
    }) && cells[1..].iter().all(|c| c.trim().is_empty())
}

pub(crate) fn is_example(cell: &str) -> bool {
    cell.trim_start()
        .get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("example:"))
}

/// Trim a header cell and reduce a bulk-template heading such as
/// `Block sign in (Yes/No) [accountEnabled] Required` to its property name.
pub(crate) fn normalize_header(cell: &str) -> String {
    let cell = cell.trim_start_matches('\u{feff}').trim();
    if let Some((_, rest)) = cell.split_once('[')
        && let Some((inner, _)) = rest.split_once(']')
        && !inner.trim().is_empty()
    {
        return inner.trim().to_owned();
    }
    cell.to_owned()
}

pub(crate) fn is_entra_export(columns: &[String]) -> bool {
    let has = |name: &str| columns.iter().any(|c| c.eq_ignore_ascii_case(name));
    has("userPrincipalName")
        && (has("id") || has("objectId"))
        && EXPORT_COLUMNS.iter().any(|c| has(c))
}

/// Normalised column names for a header record's cells, trailing empty
/// cells (trailing commas) dropped.
pub(crate) fn columns(cells: &[String]) -> Vec<String> {
    let mut columns: Vec<String> = cells.iter().map(|c| normalize_header(c)).collect();
    while columns.last().is_some_and(String::is_empty) {
        columns.pop();
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::{columns, is_entra_export, is_example, is_version_line, normalize_header};

    fn cells(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn normalises_headings() {
        let cases = [
            (
                "Block sign in (Yes/No) [accountEnabled] Required",
                "accountEnabled",
            ),
            (
                "User name [userPrincipalName] Required",
                "userPrincipalName",
            ),
            ("ZIP or postal code [postalCode]", "postalCode"),
            ("  User name [ userPrincipalName ]  ", "userPrincipalName"),
            (" displayName\t", "displayName"),
            ("odd []", "odd []"),
            ("\u{feff}userPrincipalName", "userPrincipalName"),
        ];
        for (cell, expected) in cases {
            assert_eq!(normalize_header(cell), expected, "{cell:?}");
        }
        assert_eq!(columns(&cells(&["a", "", "b", " ", ""])), ["a", "", "b"]);
    }

    #[test]
    fn recognises_version_lines_and_example_cells() {
        assert!(is_version_line(&cells(&["version:v1.0"])));
        assert!(is_version_line(&cells(&["\u{feff}Version:v2.0", "", " "])));
        assert!(!is_version_line(&cells(&["version:v1.0", "x"])));
        assert!(!is_version_line(&cells(&["userPrincipalName"])));
        assert!(is_example("Example: chris@contoso.com"));
        assert!(is_example("  example:x"));
        assert!(!is_example("chris@contoso.com"));
    }

    #[test]
    fn recognises_the_download_users_export() {
        let export = cells(&["userPrincipalName", "displayName", "id", "accountEnabled"]);
        assert!(is_entra_export(&export));
        assert!(is_entra_export(&cells(&[
            "UserPrincipalName",
            "objectId",
            "directorySynced"
        ])));
        assert!(!is_entra_export(&cells(&["userPrincipalName", "id"])));
        assert!(!is_entra_export(&cells(&[
            "userPrincipalName",
            "accountEnabled"
        ])));
    }
}
