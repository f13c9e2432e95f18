//! User CSVs: a streaming reader that detects the format (plain, Entra
//! "Download users" export, Entra bulk-operation template) and a checker
//! that validates a whole file against a playbook's input spec.
//!
//! Nothing here holds a whole file: the reader keeps one record (plus the
//! `csv` crate's read-ahead), and the checker keeps a 16-byte hash per row
//! for duplicate detection and at most [`MAX_DIAGNOSTICS`] diagnostics.
//! Every problem is a [`crate::diag::Diagnostic`] with a `csv::` code.
//!
//! Rows are numbered as a spreadsheet shows them: the header is row 1 (row
//! 2 in a bulk template, whose `version:` line is row 1) and each record
//! after it is one row, however many physical lines its quoted cells span.
//! Blank lines are skipped and not counted.

mod check;
mod duplicates;
mod header;
mod key;
#[cfg(test)]
mod proptests;
mod raw;
mod reader;
mod rules;
mod spec;

pub use check::{CsvCheck, check_bytes, check_csv};
pub use header::{CsvFormat, Header};
pub use key::{is_domain_name, is_guid, is_upn};
pub use reader::{UserReader, UserRow};
pub use spec::{InputSpec, KeyKind, MAX_DIAGNOSTICS, is_sam_account_name};
