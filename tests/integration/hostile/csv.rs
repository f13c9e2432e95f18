//! Hostile user CSVs: formula cells, control characters, a 10 MB field,
//! invalid UTF-8. `validate --users` names the row, `run --emulate` refuses
//! invalid input (exit 2) and writes formula cells inert in `results.csv`.

use std::path::Path;

use super::{Measured, measure, remedy_cmd};
use crate::support::root;

const UNLOCK: &str = "workflows/unlock-account.yaml";

fn playbook() -> String {
    root().join(UNLOCK).to_str().unwrap().to_owned()
}

fn validate(dir: &Path, csv: &[u8]) -> Measured {
    std::fs::write(dir.join("users.csv"), csv).unwrap();
    measure(&mut remedy_cmd(
        dir,
        &["validate", &playbook(), "--users", "users.csv"],
    ))
}

fn run_emulated(dir: &Path, csv: &[u8]) -> Measured {
    std::fs::write(dir.join("users.csv"), csv).unwrap();
    measure(&mut remedy_cmd(
        dir,
        &[
            "run",
            &playbook(),
            "--users",
            "users.csv",
            "--emulate",
            "--yes",
            "--progress",
            "none",
            "--state-dir",
            "state",
            "--report-dir",
            "report",
        ],
    ))
}

/// `validate` fails with `code` naming `row`, and `run --emulate` refuses
/// with exit 2 before creating any run.
fn assert_refused(csv: &[u8], code: &str, row: u64) {
    let dir = tempfile::tempdir().unwrap();
    let v = validate(dir.path(), csv);
    v.assert_bounded(1, 30, 256);
    assert!(v.stderr.contains(code), "{}", v.stderr);
    assert!(v.stderr.contains(&format!("row {row}")), "{}", v.stderr);
    let r = run_emulated(dir.path(), csv);
    r.assert_bounded(2, 30, 256);
    assert!(r.stderr.contains(code), "{}", r.stderr);
    assert!(!dir.path().join("report").exists(), "nothing ran");
}

#[test]
fn formula_cells_are_data_and_inert_in_results_csv() {
    let csv = "userPrincipalName,displayName\n\
               =1+2@contoso.com,\"=cmd|' /C calc'!A0\"\n\
               +cmd@contoso.com,@SUM(A1)\n\
               -2+3@contoso.com,+1\n\
               =HYPERLINK@contoso.com,-1\n";
    let dir = tempfile::tempdir().unwrap();
    let v = validate(dir.path(), csv.as_bytes());
    v.assert_bounded(0, 30, 256);
    let r = run_emulated(dir.path(), csv.as_bytes());
    r.assert_bounded(0, 60, 256);
    let text = std::fs::read_to_string(dir.path().join("report/results.csv")).unwrap();
    let mut reader = ::csv::Reader::from_reader(text.as_bytes());
    let mut users = Vec::new();
    for record in reader.records() {
        let record = record.unwrap();
        for cell in &record {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "live formula `{cell}` in:\n{text}"
            );
        }
        users.push(record[1].to_owned());
    }
    // Two steps per user, each under its escaped key.
    assert_eq!(users.len(), 8, "{text}");
    for key in ["=1+2@", "+cmd@", "-2+3@", "=HYPERLINK@"] {
        let escaped = format!("'{key}contoso.com");
        assert_eq!(users.iter().filter(|u| **u == escaped).count(), 2, "{text}");
    }
}

#[test]
fn control_characters_in_a_key_name_the_row() {
    // An OSC sequence (sets the terminal title), a bell and a colour: the
    // diagnostic quotes the row without letting any of them through.
    let csv = b"userPrincipalName,displayName\nok@contoso.com,A\nbad\x1b]0;pwned\x07\x1b[31m@contoso.com,B\n";
    assert_refused(csv, "csv::invalid-key", 3);
    let dir = tempfile::tempdir().unwrap();
    let v = validate(dir.path(), csv);
    assert!(
        !v.stderr.contains(['\x1b', '\x07']),
        "control characters reached the terminal: {:?}",
        v.stderr
    );
    assert_refused(
        b"userPrincipalName,displayName\nnul\x00@contoso.com,A\n",
        "csv::invalid-key",
        2,
    );
}

#[test]
fn control_characters_in_other_cells_are_data() {
    let csv =
        b"userPrincipalName,displayName\na@contoso.com,\"bell\x07 esc\x1b[2J nul\x00 \r\n\"\n";
    let dir = tempfile::tempdir().unwrap();
    validate(dir.path(), csv).assert_bounded(0, 30, 256);
    run_emulated(dir.path(), csv).assert_bounded(0, 60, 256);
}

#[test]
fn a_10_mb_field() {
    let big = "x".repeat(10 * 1024 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let csv = format!("userPrincipalName,displayName\na@contoso.com,{big}\nb@contoso.com,B\n");
    validate(dir.path(), csv.as_bytes()).assert_bounded(0, 30, 256);
    let csv = format!("userPrincipalName,displayName\na@contoso.com,A\n{big}@contoso.com,B\n");
    assert_refused(csv.as_bytes(), "csv::invalid-key", 3);
    let dir = tempfile::tempdir().unwrap();
    let v = validate(dir.path(), csv.as_bytes());
    assert!(
        v.stderr.len() < 256 * 1024,
        "the diagnostic quotes {} bytes",
        v.stderr.len()
    );
}

#[test]
fn invalid_utf8_names_row_and_column() {
    assert_refused(
        b"userPrincipalName,displayName\na@contoso.com,A\nb@contoso.com,Ren\xe9e\n",
        "csv::invalid-utf8",
        3,
    );
    let dir = tempfile::tempdir().unwrap();
    let v = validate(
        dir.path(),
        b"userPrincipalName,displayName\nb@contoso.com,Ren\xe9e\n",
    );
    assert!(
        v.stderr
            .contains("column `displayName` (field 2) is not valid UTF-8"),
        "{}",
        v.stderr
    );
}

#[test]
fn utf16_file_is_named_as_such() {
    let text = "userPrincipalName,displayName\na@contoso.com,A\n";
    let mut csv = vec![0xff, 0xfe];
    for unit in text.encode_utf16() {
        csv.extend_from_slice(&unit.to_le_bytes());
    }
    let dir = tempfile::tempdir().unwrap();
    let v = validate(dir.path(), &csv);
    v.assert_bounded(1, 30, 256);
    assert!(v.stderr.contains("UTF-16"), "{}", v.stderr);
}

#[test]
fn a_100_mb_line_stops_reading_with_the_row_named() {
    let dir = tempfile::tempdir().unwrap();
    // One header line of 100 MB, then a file that is one open quote.
    let mut line = b"userPrincipalName,".to_vec();
    line.resize(100 * 1024 * 1024, b'a');
    line.push(b'\n');
    let v = validate(dir.path(), &line);
    v.assert_bounded(1, 30, 160);
    assert!(
        v.stderr
            .contains("row 1 is larger than 16 MiB; the rest of the file was not read"),
        "{}",
        v.stderr
    );
    let mut quote = b"userPrincipalName,displayName\na@contoso.com,\"".to_vec();
    quote.resize(100 * 1024 * 1024, b'a');
    let r = run_emulated(dir.path(), &quote);
    r.assert_bounded(2, 30, 160);
    assert!(r.stderr.contains("csv::record-too-large"), "{}", r.stderr);
    assert!(r.stderr.contains("row 2 is larger"), "{}", r.stderr);
}
