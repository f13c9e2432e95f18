//! Generated documentation stays in sync with the code it is generated from.

use crate::support::root;

#[test]
fn diagnostics_doc_matches_the_code_catalogue() {
    let path = root().join("docs/diagnostics.md");
    let expected = remedy::diag::codes::markdown();
    if std::env::var_os("REMEDY_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/diagnostics.md is out of date; regenerate it with\n    REMEDY_BLESS=1 cargo test --test integration docs\nand commit it"
    );
}

/// Every `"playbook::…"`, `"csv::…"`, `"cli::…"` or `"emulator::…"` literal in `src/` is a
/// catalogued code, so SARIF rules and the docs describe every diagnostic.
#[test]
fn every_emitted_code_is_catalogued() {
    let mut missing = Vec::new();
    let mut stack = vec![root().join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests use made-up codes; only shipped code counts.
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (i, _) in text.match_indices('"') {
                let rest = &text[i + 1..];
                let Some(end) = rest.find('"') else { continue };
                let lit = &rest[..end];
                let is_code = ["playbook::", "csv::", "cli::", "emulator::"]
                    .iter()
                    .any(|p| {
                        lit.strip_prefix(p).is_some_and(|name| {
                            !name.is_empty()
                                && name.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                        })
                    });
                if is_code && remedy::diag::codes::describe(lit).is_none() {
                    missing.push(format!("{}: {lit}", path.display()));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "codes missing from src/diag/codes.rs: {missing:#?}"
    );
}
