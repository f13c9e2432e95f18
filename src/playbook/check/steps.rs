//! The `steps:` list: step ids, the resolution of `action:` / `ensure:`
//! with its did-you-mean, contradictory steps, `when`, `retries` and `name`.
//! The parameters each kind takes (`with:`) are checked in [`super::with`].

use std::collections::HashMap;

use crate::diag::Location;
use crate::diag::suggest::did_you_mean;
use crate::input::InputSpec;
use crate::playbook::checked::{Step, StepKind, TargetSpec};
use crate::playbook::model::{ActionKind, EnsureKind, Spanned, StepDoc};

use super::checker::{Checker, Params};

impl Checker<'_> {
    pub(super) fn steps(
        &mut self,
        steps: &Spanned<Vec<StepDoc>>,
        input: &InputSpec,
        targets: &[TargetSpec],
    ) -> Option<Vec<Step>> {
        if steps.value.is_empty() {
            self.error("playbook::no-steps", steps, "`steps` is empty".into())
                .hint = Some(
                "add at least one step, e.g. `- id: allow-sign-in` with `ensure: sign_in_allowed`"
                    .into(),
            );
            return None;
        }
        let mut ids: HashMap<&str, Location> = HashMap::new();
        let mut ensures: HashMap<(EnsureKind, Option<&str>), &Spanned<String>> = HashMap::new();
        let mut out = Vec::new();
        let mut ok = true;
        for step in &steps.value {
            self.step_id(step, &mut ids);
            if let Some(e) = &step.ensure
                && let Some(k) = EnsureKind::ALL
                    .iter()
                    .find(|(n, _)| *n == e.value)
                    .map(|(_, k)| *k)
            {
                let on = step.target.as_ref().map(|t| t.value.as_str());
                if let Some(opposite) = StepKind::contradicting(k)
                    && let Some(prev) = ensures.get(&(opposite, on))
                {
                    let line = self.loc(prev).map_or(0, |l| l.line);
                    self.error(
                        "playbook::contradictory-steps",
                        e,
                        format!(
                            "`ensure: {}` contradicts `ensure: {}` on line {line}",
                            k.as_str(),
                            opposite.as_str()
                        ),
                    )
                    .hint = Some(
                        "a user can be either allowed or blocked; keep one of the two steps".into(),
                    );
                }
                ensures.insert((k, on), e);
            }
            match self.step(step, input, targets) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn step_id<'d>(&mut self, step: &'d StepDoc, ids: &mut HashMap<&'d str, Location>) {
        let id = &step.id;
        let valid = id
            .value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && id
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            self.error(
                "playbook::invalid-step-id",
                id,
                format!("step id `{}` must start with a letter or digit and contain only letters, digits, `-` and `_`", id.value),
            )
            .hint = Some("journals and reports name steps by id; use something like `reset-password`".into());
        }
        match ids.get(id.value.as_str()) {
            Some(first) => {
                let line = first.line;
                self.error(
                    "playbook::duplicate-step-id",
                    id,
                    format!("step id `{}` is used twice", id.value),
                )
                .hint = Some(format!(
                    "first used on line {line}; step ids must be unique"
                ));
            }
            None => {
                if let Some(l) = self.loc(id) {
                    ids.insert(&id.value, l);
                }
            }
        }
    }

    fn step(&mut self, step: &StepDoc, input: &InputSpec, targets: &[TargetSpec]) -> Option<Step> {
        let target = if targets.is_empty() {
            None
        } else {
            self.step_target(step, targets)
        };
        let provider = target.map(|t| targets[t].provider);
        let kind = match (&step.action, &step.ensure) {
            (Some(a), None) => self.action(step, a, input, provider),
            (None, Some(e)) => {
                let mut params = Params {
                    cx: self,
                    step,
                    input,
                    provider,
                };
                params.no_parameters(&format!("ensure: {}", e.value));
                self.closed_set_kind(e, EnsureKind::ALL, ActionKind::ALL, "ensure", "action")
                    .map(StepKind::ensure)
            }
            (None, None) => {
                self.error(
                    "playbook::missing-step-kind",
                    &step.id,
                    format!("step `{}` has neither `action` nor `ensure`", step.id.value),
                )
                .hint = Some(
                    "add `ensure:` for a desired state (sign_in_allowed, sign_in_blocked) or `action:` for a one-shot operation (reset_password, revoke_sessions)"
                        .into(),
                );
                None
            }
            (Some(_), Some(e)) => {
                self.error(
                    "playbook::ambiguous-step-kind",
                    e,
                    format!("step `{}` has both `action` and `ensure`", step.id.value),
                )
                .hint = Some("a step does one thing: split it into two steps".into());
                None
            }
        };
        if let (Some(k), Some(t)) = (&kind, target)
            && let Some(hint) = k.kind().unsupported_on(targets[t].provider)
        {
            let at = step
                .action
                .as_ref()
                .or(step.ensure.as_ref())
                .unwrap_or(&step.id);
            let on = if targets.len() > 1 {
                format!(
                    "target `{}` ({})",
                    targets[t].name,
                    targets[t].provider.as_str()
                )
            } else {
                format!("a `{}` target", targets[t].provider.as_str())
            };
            self.error(
                "playbook::unsupported-step",
                at,
                format!("`{}` cannot act on {on}", k.describe()),
            )
            .hint = Some(hint.to_owned());
            return None;
        }
        // `Some(None)`: the condition has an error (already reported).
        let when = step.when.as_ref().map(|w| self.condition(w, input));
        if let Some(r) = &step.retries
            && r.value > 20
        {
            self.error(
                "playbook::invalid-setting",
                r,
                format!("`retries` must be at most 20, not {}", r.value),
            );
        }
        if let Some(n) = &step.name
            && n.value.trim().is_empty()
        {
            self.warning("playbook::empty-name", n, "step `name` is empty".into());
        }
        let when = match when {
            Some(compiled) => Some(compiled?),
            None => None,
        };
        Some(Step {
            id: step.id.value.clone(),
            name: step.name.as_ref().map(|n| n.value.clone()),
            kind: kind?,
            when,
            retries: step.retries.as_ref().map(|r| r.value),
            continue_on_error: step.continue_on_error.unwrap_or(false),
            target: target?,
            location: self.loc(&step.id),
        })
    }

    /// Resolves an `ensure:`/`action:` value; a value of the other kind gets
    /// a hint to move it.
    fn closed_set_kind<T: Copy, U>(
        &mut self,
        value: &Spanned<String>,
        all: &[(&str, T)],
        other: &[(&str, U)],
        field: &str,
        other_field: &str,
    ) -> Option<T> {
        if let Some((_, v)) = all.iter().find(|(n, _)| *n == value.value) {
            return Some(*v);
        }
        let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
        let hint = if other.iter().any(|(n, _)| *n == value.value) {
            format!(
                "`{}` is written `{other_field}: {}`",
                value.value, value.value
            )
        } else {
            match did_you_mean(&value.value, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("expected one of: {}", names.join(", ")),
            }
        };
        let code = if field == "action" {
            "playbook::unknown-action"
        } else {
            "playbook::unknown-ensure"
        };
        self.error(code, value, format!("unknown {field} `{}`", value.value))
            .hint = Some(hint);
        None
    }

    fn action(
        &mut self,
        step: &StepDoc,
        a: &Spanned<String>,
        input: &InputSpec,
        provider: Option<crate::playbook::model::Provider>,
    ) -> Option<StepKind> {
        let kind = self.closed_set_kind(a, ActionKind::ALL, EnsureKind::ALL, "action", "ensure")?;
        StepKind::action(
            kind,
            Params {
                cx: self,
                step,
                input,
                provider,
            },
        )
    }
}
