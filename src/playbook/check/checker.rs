//! The checker's state, shared by every rule group: the file being checked,
//! the expression environment, the diagnostics found so far, and the helpers
//! a rule uses to report one at a value's position.

use std::sync::Arc;

use minijinja::Environment;

use crate::diag::{Diagnostic, Location, Source};
use crate::input::InputSpec;
use crate::playbook::model::{Spanned, StepDoc};
use crate::playbook::span::locate_spanned;

pub(crate) struct Checker<'a> {
    pub(super) name: &'a str,
    pub(super) source: &'a Arc<Source>,
    pub(super) env: Environment<'static>,
    pub(super) diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    pub(super) fn text(&self) -> &str {
        &self.source.text
    }

    pub(super) fn loc<T>(&self, v: &Spanned<T>) -> Option<Location> {
        locate_spanned(self.text(), v)
    }

    pub(crate) fn error<T>(
        &mut self,
        code: &'static str,
        at: &Spanned<T>,
        message: String,
    ) -> &mut Diagnostic {
        let mut d = Diagnostic::error(code, self.name, message).with_source(self.source.clone());
        d.location = self.loc(at);
        self.diags.push(d);
        self.diags.last_mut().expect("just pushed")
    }

    pub(crate) fn warning<T>(
        &mut self,
        code: &'static str,
        at: &Spanned<T>,
        message: String,
    ) -> &mut Diagnostic {
        let d = self.error(code, at, message);
        d.severity = crate::diag::Severity::Warning;
        d
    }
}

/// What a step kind's parameter rules see: the checker (to report at a
/// value's position and to compile templates), the step as written and
/// the declared input.
pub(crate) struct Params<'c, 'a> {
    pub(crate) cx: &'c mut Checker<'a>,
    pub(crate) step: &'c StepDoc,
    pub(crate) input: &'c InputSpec,
    /// The provider of the step's target, when it resolved.
    pub(crate) provider: Option<crate::playbook::model::Provider>,
}

impl Params<'_, '_> {
    /// `with:` is an error for kinds that take no parameters.
    pub(crate) fn no_parameters(&mut self, kind: &str) {
        if let Some(w) = &self.step.with {
            self.cx
                .error(
                    "playbook::unexpected-with",
                    w,
                    format!("`{kind}` takes no parameters"),
                )
                .hint = Some("remove `with:`".into());
        }
    }
}
