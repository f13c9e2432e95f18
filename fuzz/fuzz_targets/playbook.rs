//! Fuzz target: the playbook loader and checker (`remedy::playbook`) on
//! arbitrary bytes, and every renderer of the diagnostics they produce.
//!
//! Beyond "no panic": a file either yields a playbook or at least one error,
//! and every diagnostic position lies inside the text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use remedy::diag::{self, Severity};

fuzz_target!(|data: &[u8]| {
    let loaded = remedy::playbook::load_bytes("fuzz.yaml", data.to_vec());
    let errors = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    assert_eq!(
        loaded.playbook.is_none(),
        errors > 0,
        "a playbook comes back exactly when there is no error"
    );
    let lines = data.split(|&b| b == b'\n').count() as u64;
    for d in &loaded.diagnostics {
        if let Some(l) = d.location {
            assert!(l.line >= 1 && l.line <= lines, "line {} of {lines}", l.line);
            assert!(l.column >= 1, "columns are 1-based");
        }
    }
    let _ = diag::render_human(&loaded.diagnostics, false, 100);
    let _ = diag::render_json(&loaded.diagnostics);
    let _ = diag::render_github(&loaded.diagnostics);
    let _ = diag::render_sarif(&loaded.diagnostics);
});
