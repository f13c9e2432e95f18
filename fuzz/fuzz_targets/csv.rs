//! Fuzz target: the user-CSV reader and checker (`remedy::input`) in all
//! three formats.
//!
//! The first byte picks a prefix so every format is reached: none (plain or
//! whatever the bytes say), an Entra bulk-template `version:` line and
//! header, or an Entra "Download users" header. Beyond "no panic": row
//! numbers only grow, every row has one cell per column, reading ends, the
//! diagnostics stay capped, and each renderer accepts them.

#![no_main]

use libfuzzer_sys::fuzz_target;
use remedy::diag;
use remedy::input::{InputSpec, KeyKind, MAX_DIAGNOSTICS, UserReader, check_bytes};

const BULK: &[u8] =
    b"version:v1.0\nName [displayName] Required,User name [userPrincipalName] Required\n";
const EXPORT: &[u8] = b"userPrincipalName,displayName,id,userType,accountEnabled\n";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let prefix: &[u8] = match mode % 3 {
        0 => b"",
        1 => BULK,
        _ => EXPORT,
    };
    let input = [prefix, rest].concat();

    if let Ok(mut reader) = UserReader::new(&input[..], "fuzz.csv") {
        let columns = reader.header().columns.len();
        let mut last_row = reader.header().header_row;
        let mut results = 0usize;
        while let Some(result) = reader.next_row() {
            results += 1;
            assert!(results <= input.len() + 1, "the reader does not end");
            if let Ok(row) = result {
                assert!(row.row > last_row, "row {} after {last_row}", row.row);
                assert_eq!(row.fields.len(), columns);
                last_row = row.row;
            }
        }
    }

    let spec = InputSpec {
        key: "userPrincipalName".into(),
        columns: vec!["userPrincipalName".into(), "displayName".into()],
        // Every key form a playbook's targets can ask for.
        key_kind: match input.first().map_or(0, |b| b % 3) {
            0 => KeyKind::UpnOrId,
            1 => KeyKind::SamAccountName,
            _ => KeyKind::Guid,
        },
    };
    let check = check_bytes(&input, "fuzz.csv", &spec);
    assert!(check.diagnostics.len() <= MAX_DIAGNOSTICS + 1);
    // Rendering is slow next to parsing; the first diagnostics and the
    // last (the summary, when there is one) exercise every excerpt path
    // while keeping the executions per second up.
    let n = check.diagnostics.len();
    for sample in [
        &check.diagnostics[..n.min(3)],
        &check.diagnostics[n.saturating_sub(1)..],
    ] {
        let _ = diag::render_human(sample, false, 100);
        let _ = diag::render_json(sample);
    }
});
