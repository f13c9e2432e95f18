//! Semantic rules over a parsed [`PlaybookDoc`]: each rule has a stable
//! diagnostic code, points at the offending value and, where it can, says
//! what was probably meant. All problems are collected, not just the first.
//!
//! One file per rule group: `document` (the top level, and the assembly of
//! the checked playbook), `input`, `guards`, `settings`, `targets`, `steps`, `with` (the
//! parameters of each step kind) and `expressions` (`when` and templates);
//! `checker` holds the state they share.

mod checker;
pub(crate) use checker::{Checker, Params};
mod document;
mod expressions;
mod guards;
mod input;
mod settings;
mod steps;
mod targets;

use std::sync::Arc;

use crate::diag::{Diagnostic, Source};
use crate::playbook::checked::Playbook;
use crate::playbook::expr;
use crate::playbook::model::PlaybookDoc;

/// Runs every rule. Returns the checked playbook when no rule found an error.
pub fn check(
    name: &str,
    source: &Arc<Source>,
    doc: PlaybookDoc,
) -> (Option<Playbook>, Vec<Diagnostic>) {
    let mut cx = Checker {
        name,
        source,
        env: expr::environment(),
        diags: Vec::new(),
    };
    let playbook = cx.playbook(doc);
    let has_errors = cx
        .diags
        .iter()
        .any(|d| d.severity == crate::diag::Severity::Error);
    let mut diags = cx.diags;
    diags.sort_by_key(Diagnostic::sort_key);
    (if has_errors { None } else { playbook }, diags)
}

#[cfg(test)]
mod tests;
