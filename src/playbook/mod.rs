//! The `remedy/v1` playbook language, loaded in passes:
//! file bytes → YAML with positions (`load`) → document model (`model`) →
//! semantic rules (`check`, with expressions compiled by `expr`) → a checked
//! [`Playbook`] (`checked`).

pub(crate) mod check;
pub mod checked;
pub mod expr;
pub mod load;
pub mod model;
pub mod span;

use std::path::Path;

pub use checked::{
    FailureLimit, Guards, PasswordSource, PimEligibility, Playbook, ResetPassword, Settings, Step,
    StepKind,
};

use crate::diag::Diagnostic;

/// The result of loading one playbook file.
#[derive(Debug)]
pub struct Loaded {
    /// Present when the file has no errors (warnings allowed).
    pub playbook: Option<Playbook>,
    /// Everything found, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads, parses and checks the playbook at `path` (`name` is how the user
/// wrote the path, used in diagnostics).
pub fn load(path: &Path, name: &str) -> Loaded {
    match load::read(path, name) {
        Ok(src) => load_source(&src),
        Err(d) => Loaded {
            playbook: None,
            diagnostics: vec![d],
        },
    }
}

/// Parses and checks already-read text.
pub fn load_str(name: &str, text: &str) -> Loaded {
    load_bytes(name, text.as_bytes().to_vec())
}

/// Parses and checks already-read bytes, which need not be UTF-8 (the
/// fuzz targets and standard input go through here; files through
/// [`load`], which also applies the size limit).
pub fn load_bytes(name: &str, bytes: Vec<u8>) -> Loaded {
    match load::from_bytes(name, bytes) {
        Ok(src) => load_source(&src),
        Err(d) => Loaded {
            playbook: None,
            diagnostics: vec![d],
        },
    }
}

fn load_source(src: &load::PlaybookSource) -> Loaded {
    match load::parse(src) {
        Ok(doc) => {
            let (playbook, diagnostics) = check::check(&src.name, &src.text, doc);
            Loaded {
                playbook,
                diagnostics,
            }
        }
        Err(d) => Loaded {
            playbook: None,
            diagnostics: vec![d],
        },
    }
}

#[cfg(test)]
mod tests;
