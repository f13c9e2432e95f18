//! Expressions: a step's `when` condition and templated `with:` values
//! are compiled, and the `row.*` columns they read must be declared in
//! `input.columns`. Errors point inside the scalar where they can.

use std::collections::BTreeSet;

use crate::diag::suggest::did_you_mean;
use crate::diag::{Diagnostic, Location};
use crate::input::InputSpec;
use crate::playbook::expr::{self, Condition, ExprError, ExprErrorKind, References};
use crate::playbook::model::Spanned;
use crate::playbook::span::locate;

use super::checker::Checker;

impl Checker<'_> {
    /// Compiles a `when` condition, once for the whole run, and checks the
    /// columns it reads. Returns `None` when it has an error.
    pub(crate) fn condition(
        &mut self,
        v: &Spanned<String>,
        input: &InputSpec,
    ) -> Option<Condition> {
        match expr::condition(&v.value) {
            Ok((refs, compiled)) => self.references(v, &refs, input).map(|()| compiled),
            Err(e) => {
                self.expr_error(v, &e, true);
                None
            }
        }
    }

    /// Compiles a `when` (condition) or a templated value and checks the
    /// columns it reads. Returns `None` when it has an error.
    pub(crate) fn expression(
        &mut self,
        v: &Spanned<String>,
        input: &InputSpec,
        condition: bool,
    ) -> Option<()> {
        let result = if condition {
            expr::check_condition(&self.env, &v.value)
        } else {
            expr::check_template(&self.env, &v.value)
        };
        match result {
            Ok(refs) => self.references(v, &refs, input),
            Err(e) => {
                self.expr_error(v, &e, condition);
                None
            }
        }
    }

    fn references(
        &mut self,
        v: &Spanned<String>,
        refs: &References,
        input: &InputSpec,
    ) -> Option<()> {
        let mut ok = true;
        let declared: BTreeSet<&str> = input.columns.iter().map(String::as_str).collect();
        for col in &refs.columns {
            if declared.contains(col.as_str()) {
                continue;
            }
            ok = false;
            let at = self.sub_location(v, &format!("row.{col}"));
            let hint = match did_you_mean(col, declared.iter().copied()) {
                Some(s) => {
                    format!("did you mean `row.{s}`? Otherwise add `{col}` to `input.columns`")
                }
                None => format!(
                    "add `{col}` to `input.columns` (declared: {})",
                    input.columns.join(", ")
                ),
            };
            let mut d = Diagnostic::error(
                "playbook::undeclared-column",
                self.name,
                format!("`row.{col}` reads a column that is not declared in `input.columns`"),
            )
            .with_hint(hint)
            .with_source(self.source.clone());
            d.location = at;
            self.diags.push(d);
        }
        for var in &refs.unknown_variables {
            ok = false;
            let at = self.sub_location(v, var);
            let mut d = Diagnostic::error(
                "playbook::unknown-variable",
                self.name,
                format!("unknown variable `{var}`"),
            )
            .with_hint("the only variable is `row`, the user's CSV row: write `row.<column>`")
            .with_source(self.source.clone());
            d.location = at;
            self.diags.push(d);
        }
        if refs.dynamic_row {
            self.warning(
                "playbook::dynamic-column",
                v,
                "columns read with `row[...]` cannot be checked before a run".into(),
            )
            .hint =
                Some("prefer `row.<column>` with the column declared in `input.columns`".into());
        }
        ok.then_some(())
    }

    fn expr_error(&mut self, v: &Spanned<String>, e: &ExprError, condition: bool) {
        let what = if condition {
            "`when` condition"
        } else {
            "template"
        };
        let (code, message, hint) = match e.kind {
            ExprErrorKind::Syntax if condition => (
                "playbook::invalid-when",
                format!("invalid {what}: {}", e.message),
                "a condition is a minijinja expression such as `row.compromised == \"yes\"`",
            ),
            ExprErrorKind::Syntax => (
                "playbook::invalid-template",
                format!("invalid {what}: {}", e.message),
                "a template inserts columns with `{{ row.<column> }}`",
            ),
            ExprErrorKind::Statement => (
                "playbook::template-statement",
                e.message.clone(),
                "insert a column with `{{ row.<column> }}`; decide per user with the step's `when:`",
            ),
            ExprErrorKind::OverBudget => (
                "playbook::over-budget",
                format!("a run would refuse this {what}: {}", e.message),
                "a condition or template compares and inserts columns; it does not build large values",
            ),
        };
        self.error_in(code, v, e.range.clone(), message).hint = Some(hint.into());
    }

    /// Reports a diagnostic at `range` inside a scalar's value (the whole
    /// scalar when there is no range or it cannot be mapped).
    pub(crate) fn error_in(
        &mut self,
        code: &'static str,
        v: &Spanned<String>,
        range: Option<std::ops::Range<usize>>,
        message: String,
    ) -> &mut Diagnostic {
        let at = range
            .and_then(|r| self.inner_location(v, r.start, r.len().max(1)))
            .or_else(|| self.loc(v));
        let mut d = Diagnostic::error(code, self.name, message).with_source(self.source.clone());
        d.location = at;
        self.diags.push(d);
        self.diags.last_mut().expect("just pushed")
    }

    /// The location of `needle` inside a scalar, falling back to the scalar.
    fn sub_location(&self, v: &Spanned<String>, needle: &str) -> Option<Location> {
        v.value
            .find(needle)
            .and_then(|i| self.inner_location(v, i, needle.len()))
            .or_else(|| self.loc(v))
    }

    /// Maps a byte range inside a scalar's value to the file. Exact when the
    /// scalar is written verbatim (plain, or quoted without escapes);
    /// otherwise `None` and callers point at the whole scalar.
    fn inner_location(&self, v: &Spanned<String>, start: usize, len: usize) -> Option<Location> {
        let span = v.referenced.span();
        let (off, slen) = (span.byte_offset()? as usize, span.byte_len()? as usize);
        let raw = self.text().get(off..off + slen)?;
        let inner = if raw == v.value {
            off
        } else if raw.len() == v.value.len() + 2
            && (raw.starts_with('"') || raw.starts_with('\''))
            && raw[1..raw.len() - 1] == v.value
        {
            off + 1
        } else {
            return None;
        };
        Some(locate(self.text(), inner + start, len))
    }
}
