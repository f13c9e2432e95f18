//! Property tests of the CSV reader and checker on arbitrary cells and
//! arbitrary bytes: never a panic, one result per record, row and line
//! numbers that match the file, invalid UTF-8 reported where it is.

use proptest::collection::vec;
use proptest::prelude::*;

use super::check::tests::spec;
use super::{MAX_DIAGNOSTICS, UserReader, check_bytes};

/// A cell: bytes drawn mostly from the characters that matter to CSV
/// (quotes, separators, line breaks, control characters, bytes that are
/// not UTF-8, a BOM, formula prefixes) plus ordinary text.
fn cell() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(b"ab@.-Z09 ".to_vec()),
        2 => prop::sample::select(b"\",\n\r\t;=+".to_vec()),
        1 => prop::sample::select(vec![0x00, 0x01, 0x1b, 0x7f, 0x80, 0xbf, 0xc3, 0xe2, 0xef, 0xfe, 0xff]),
        1 => any::<u8>(),
    ];
    vec(byte, 0..12)
}

/// `cell` quoted the way a spreadsheet writes it.
fn quoted(cell: &[u8]) -> Vec<u8> {
    let mut out = vec![b'"'];
    for &b in cell {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every record comes back once, numbered as a spreadsheet shows it,
    /// with its cells intact, or as an invalid-UTF-8 error naming its row.
    #[test]
    fn quoted_cells_round_trip_with_right_row_numbers(
        rows in vec((cell(), cell()), 0..20),
        crlf in any::<bool>(),
    ) {
        let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let mut data = b"userPrincipalName,displayName".to_vec();
        data.extend_from_slice(eol);
        let mut lines = Vec::new();
        let mut line = 2u64;
        for (a, b) in &rows {
            lines.push(line);
            let record = [quoted(a), b",".to_vec(), quoted(b)].concat();
            line += record.iter().filter(|&&c| c == b'\n').count() as u64 + 1;
            data.extend_from_slice(&record);
            data.extend_from_slice(eol);
        }
        let mut reader = UserReader::new(&data[..], "p.csv").expect("header");
        for (i, (a, b)) in rows.iter().enumerate() {
            let row = i as u64 + 2;
            match reader.next_row().expect("one result per record") {
                Ok(r) => {
                    prop_assert_eq!((r.row, r.line), (row, lines[i]));
                    prop_assert_eq!(r.fields[0].as_bytes(), &a[..]);
                    prop_assert_eq!(r.fields[1].as_bytes(), &b[..]);
                }
                Err(d) => {
                    prop_assert_eq!(d.code, "csv::invalid-utf8");
                    prop_assert!(std::str::from_utf8(a).is_err() || std::str::from_utf8(b).is_err());
                    prop_assert!(d.message.starts_with(&format!("row {row}: ")), "{}", d.message);
                    // The caret is on the bad field, which may start on a
                    // later line than its record.
                    let end = lines.get(i + 1).copied().unwrap_or(line);
                    let at = d.location.map_or(0, |l| l.line);
                    prop_assert!((lines[i]..end).contains(&at), "line {at} for a record on {}..{end}", lines[i]);
                }
            }
        }
        prop_assert!(reader.next_row().is_none());
    }

    /// Whatever the bytes, the checker answers (capped) and every
    /// diagnostic points inside the file.
    #[test]
    fn arbitrary_bytes_never_panic(
        body in vec(prop_oneof![
            3 => prop::sample::select(b"a@b.c,\"\n\r x".to_vec()),
            1 => any::<u8>(),
        ], 0..400),
        header in prop::sample::select(vec![
            &b"userPrincipalName,displayName\n"[..],
            b"version:v1.0\nUser name [userPrincipalName] Required,Name [displayName]\n",
            b"userPrincipalName,displayName,id,userType\n",
            b"",
        ]),
    ) {
        let data = [header, &body[..]].concat();
        let check = check_bytes(&data, "p.csv", &spec());
        prop_assert!(check.diagnostics.len() <= MAX_DIAGNOSTICS + 1);
        let lines = data.iter().filter(|&&c| c == b'\n').count() as u64 + 1;
        for d in &check.diagnostics {
            if let Some(l) = d.location {
                prop_assert!(l.line >= 1 && l.line <= lines, "{} on line {}", d.code, l.line);
            }
        }
        let _ = crate::diag::render_human(&check.diagnostics, false, 100);
    }
}
