//! Semantic rules over a parsed [`PlaybookDoc`]: each rule has a stable
//! diagnostic code, points at the offending value and, where it can, says
//! what was probably meant. All problems are collected, not just the first.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use minijinja::Environment;

use crate::diag::suggest::did_you_mean;
use crate::diag::{Diagnostic, Location, Source};
use crate::input::{InputSpec, is_guid, is_upn};
use crate::playbook::checked::{
    DEFAULT_KEY, FailureLimit, Guards, PasswordSource, Playbook, ResetPassword, Settings, Step,
    StepKind,
};
use crate::playbook::expr::{self, ExprError, References};
use crate::playbook::model::{
    ActionKind, ApiVersion, EnsureKind, PlaybookDoc, Provider, Spanned, StepDoc, Threshold,
};
use crate::playbook::span::{locate, locate_spanned};

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

struct Checker<'a> {
    name: &'a str,
    source: &'a Arc<Source>,
    env: Environment<'static>,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn text(&self) -> &str {
        &self.source.text
    }

    fn loc<T>(&self, v: &Spanned<T>) -> Option<Location> {
        locate_spanned(self.text(), v)
    }

    fn error<T>(
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

    fn warning<T>(
        &mut self,
        code: &'static str,
        at: &Spanned<T>,
        message: String,
    ) -> &mut Diagnostic {
        let d = self.error(code, at, message);
        d.severity = crate::diag::Severity::Warning;
        d
    }

    fn playbook(&mut self, doc: PlaybookDoc) -> Option<Playbook> {
        let api_version = self.closed_set(
            "playbook::unknown-api-version",
            "api_version",
            &doc.api_version,
            ApiVersion::ALL,
        );
        if doc.name.value.trim().is_empty() {
            self.error("playbook::empty-name", &doc.name, "`name` is empty".into())
                .hint = Some("give the playbook a short name such as `unlock-account`".into());
        }
        let provider = self.closed_set(
            "playbook::unknown-provider",
            "provider",
            &doc.target.provider,
            Provider::ALL,
        );
        let tenant = doc.target.tenant.as_ref().and_then(|t| self.tenant(t));
        let input = self.input(doc.input.as_ref());
        let guards = self.guards(doc.guards.as_ref());
        let settings = self.settings(doc.settings.as_ref());
        let steps = self.steps(&doc.steps, &input);
        Some(Playbook {
            file: self.name.to_owned(),
            api_version: api_version?,
            name: doc.name.value.clone(),
            description: doc.description.clone(),
            provider: provider?,
            tenant,
            input,
            guards,
            settings,
            steps: steps?,
        })
    }

    /// Resolves a name from a closed set, with a did-you-mean on failure.
    fn closed_set<T: Copy>(
        &mut self,
        code: &'static str,
        field: &str,
        value: &Spanned<String>,
        all: &[(&str, T)],
    ) -> Option<T> {
        if let Some((_, v)) = all.iter().find(|(n, _)| *n == value.value) {
            return Some(*v);
        }
        let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
        let hint = match did_you_mean(&value.value, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("expected one of: {}", names.join(", ")),
        };
        let msg = if field == "api_version" {
            format!(
                "unknown api_version `{}`; this remedy understands {}",
                value.value,
                names.join(", ")
            )
        } else {
            format!("unknown {field} `{}`", value.value)
        };
        self.error(code, value, msg).hint = Some(hint);
        None
    }

    fn tenant(&mut self, t: &Spanned<String>) -> Option<String> {
        let v = t.value.trim();
        if is_guid(v) || is_domain(v) {
            return Some(v.to_ascii_lowercase());
        }
        self.error(
            "playbook::invalid-tenant",
            t,
            format!("tenant `{}` is neither a domain nor a GUID", t.value),
        )
        .hint = Some(
            "use the tenant's verified domain (e.g. `contoso.onmicrosoft.com`) or its tenant id GUID"
                .into(),
        );
        None
    }

    fn input(&mut self, doc: Option<&crate::playbook::model::InputDoc>) -> InputSpec {
        let key = doc
            .and_then(|d| d.key.as_ref())
            .map_or_else(|| DEFAULT_KEY.to_owned(), |k| k.value.trim().to_owned());
        if let Some(k) = doc.and_then(|d| d.key.as_ref())
            && k.value.trim().is_empty()
        {
            self.error("playbook::empty-key", k, "`input.key` is empty".into())
                .hint = Some(format!(
                "name the column that identifies the user, usually `{DEFAULT_KEY}`"
            ));
        }
        let mut columns = vec![key.clone()];
        let mut seen: HashMap<String, Location> = HashMap::new();
        for c in doc.and_then(|d| d.columns.as_ref()).into_iter().flatten() {
            let name = c.value.trim().to_owned();
            if name.is_empty() {
                self.error("playbook::empty-column", c, "column name is empty".into());
                continue;
            }
            if let Some(first) = seen.get(&name).copied() {
                self.warning(
                    "playbook::duplicate-column",
                    c,
                    format!("column `{name}` is declared twice"),
                )
                .hint = Some(format!("first declared at line {}", first.line));
                continue;
            }
            if let Some(l) = self.loc(c) {
                seen.insert(name.clone(), l);
            }
            if name != key {
                columns.push(name);
            }
        }
        InputSpec { key, columns }
    }

    fn guards(&mut self, doc: Option<&crate::playbook::model::GuardsDoc>) -> Guards {
        let mut g = Guards {
            max_users: None,
            max_failures: None,
            protect_privileged: true,
            protected_users: Vec::new(),
        };
        let Some(doc) = doc else { return g };
        if let Some(m) = &doc.max_users {
            if m.value == 0 {
                self.error(
                    "playbook::invalid-guard",
                    m,
                    "`max_users` must be at least 1".into(),
                );
            }
            g.max_users = Some(m.value);
        }
        if let Some(m) = &doc.max_failures {
            g.max_failures = self.failure_limit(m);
        }
        if let Some(p) = &doc.protect {
            g.protect_privileged = p.privileged_roles.unwrap_or(true);
            for u in &p.users {
                let v = u.value.trim();
                if is_upn(v) || is_guid(v) {
                    g.protected_users.push(v.to_ascii_lowercase());
                } else {
                    self.error(
                        "playbook::invalid-protected-user",
                        u,
                        format!("protected user `{}` is neither a user principal name nor an object id", u.value),
                    )
                    .hint = Some("write e.g. `breakglass@contoso.onmicrosoft.com` or the user's object id GUID".into());
                }
            }
        }
        g
    }

    fn failure_limit(&mut self, m: &Spanned<Threshold>) -> Option<FailureLimit> {
        let parsed = match &m.value {
            Threshold::Count(n) => Some(FailureLimit::Count(*n)),
            Threshold::Text(t) => {
                let t = t.trim();
                if let Some(p) = t.strip_suffix('%') {
                    p.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|p| *p > 0.0 && *p <= 100.0)
                        .map(FailureLimit::Percent)
                } else {
                    t.parse::<u64>().ok().map(FailureLimit::Count)
                }
            }
        };
        if parsed.is_none() {
            let shown = match &m.value {
                Threshold::Count(n) => n.to_string(),
                Threshold::Text(t) => t.clone(),
            };
            self.error(
                "playbook::invalid-max-failures",
                m,
                format!("`max_failures` must be a count or a percentage, not `{shown}`"),
            )
            .hint = Some("write a whole number such as `25`, or a percentage above 0 and at most 100 such as `5%`".into());
        }
        parsed
    }

    fn settings(&mut self, doc: Option<&crate::playbook::model::SettingsDoc>) -> Settings {
        let Some(doc) = doc else {
            return Settings::default();
        };
        if let Some(c) = &doc.concurrency
            && !(1..=512).contains(&c.value)
        {
            self.error(
                "playbook::invalid-setting",
                c,
                format!("`concurrency` must be between 1 and 512, not {}", c.value),
            );
        }
        if let Some(r) = &doc.max_rate
            && !(r.value.is_finite() && r.value >= 0.1)
        {
            self.error(
                "playbook::invalid-setting",
                r,
                format!(
                    "`max_rate` must be at least 0.1 requests per second, not {}",
                    r.value
                ),
            );
        }
        Settings {
            concurrency: doc.concurrency.as_ref().map(|c| c.value),
            max_rate: doc.max_rate.as_ref().map(|r| r.value),
            batch: doc.batch,
        }
    }

    fn steps(&mut self, steps: &Spanned<Vec<StepDoc>>, input: &InputSpec) -> Option<Vec<Step>> {
        if steps.value.is_empty() {
            self.error("playbook::no-steps", steps, "`steps` is empty".into())
                .hint = Some(
                "add at least one step, e.g. `- id: allow-sign-in` with `ensure: sign_in_allowed`"
                    .into(),
            );
            return None;
        }
        let mut ids: HashMap<&str, Location> = HashMap::new();
        let mut ensures: HashMap<EnsureKind, &Spanned<String>> = HashMap::new();
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
                let opposite = match k {
                    EnsureKind::SignInAllowed => EnsureKind::SignInBlocked,
                    EnsureKind::SignInBlocked => EnsureKind::SignInAllowed,
                };
                if let Some(prev) = ensures.get(&opposite) {
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
                ensures.insert(k, e);
            }
            match self.step(step, input) {
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

    fn step(&mut self, step: &StepDoc, input: &InputSpec) -> Option<Step> {
        let kind = match (&step.action, &step.ensure) {
            (Some(a), None) => self.action(step, a, input),
            (None, Some(e)) => {
                if let Some(w) = &step.with {
                    self.error(
                        "playbook::unexpected-with",
                        w,
                        format!("`ensure: {}` takes no parameters", e.value),
                    )
                    .hint = Some("remove `with:`".into());
                }
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
        if let Some(w) = &step.when {
            self.expression(w, input, true);
        }
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
        Some(Step {
            id: step.id.value.clone(),
            name: step.name.as_ref().map(|n| n.value.clone()),
            kind: kind?,
            when: step.when.as_ref().map(|w| w.value.clone()),
            retries: step.retries.as_ref().map(|r| r.value),
            continue_on_error: step.continue_on_error.unwrap_or(false),
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
    ) -> Option<StepKind> {
        let kind = self.closed_set_kind(a, ActionKind::ALL, EnsureKind::ALL, "action", "ensure")?;
        match kind {
            ActionKind::RevokeSessions => {
                if let Some(w) = &step.with {
                    self.error(
                        "playbook::unexpected-with",
                        w,
                        "`action: revoke_sessions` takes no parameters".into(),
                    )
                    .hint = Some("remove `with:`".into());
                }
                Some(StepKind::RevokeSessions(crate::steps::RevokeSessions))
            }
            ActionKind::ResetPassword => {
                let with = step.with.as_ref().map(|w| &w.value);
                let password = match with.and_then(|w| w.password.as_ref()) {
                    None => PasswordSource::Generate,
                    Some(p) if p.value.trim() == "generate" => PasswordSource::Generate,
                    Some(p) if p.value.contains("{{") => {
                        self.expression(p, input, false)?;
                        PasswordSource::Template(p.value.clone())
                    }
                    Some(p) => {
                        // Never echo the value: it may be a real password.
                        self.error(
                            "playbook::literal-password",
                            p,
                            "`password` must be `generate` or a template; a literal password is refused".into(),
                        )
                        .hint = Some("a password written in a playbook ends up in version control and is shared by every user; use `generate`, or `\"{{ row.<column> }}\"` to read it from the CSV".into());
                        return None;
                    }
                };
                let force = with
                    .and_then(|w| w.force_change_at_next_sign_in)
                    .unwrap_or(true);
                if !force && let Some(w) = &step.with {
                    self.warning(
                        "playbook::no-forced-change",
                        w,
                        "`force_change_at_next_sign_in: false` leaves the user with a password someone else knows".into(),
                    )
                    .hint = Some("Microsoft advises forcing a change after an admin reset".into());
                }
                Some(StepKind::ResetPassword(ResetPassword {
                    password,
                    force_change_at_next_sign_in: force,
                    force_change_with_mfa: with
                        .and_then(|w| w.force_change_with_mfa)
                        .unwrap_or(false),
                }))
            }
        }
    }

    /// Compiles a `when` (condition) or a templated value and checks the
    /// columns it reads. Returns `None` when it has an error.
    fn expression(
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
        let (code, what) = if condition {
            ("playbook::invalid-when", "`when` condition")
        } else {
            ("playbook::invalid-template", "template")
        };
        let at = e
            .range
            .as_ref()
            .and_then(|r| self.inner_location(v, r.start, r.len().max(1)))
            .or_else(|| self.loc(v));
        let hint = if condition {
            "a condition is a minijinja expression such as `row.compromised == \"yes\"`"
        } else {
            "a template inserts columns with `{{ row.<column> }}`"
        };
        let mut d = Diagnostic::error(code, self.name, format!("invalid {what}: {}", e.message))
            .with_hint(hint)
            .with_source(self.source.clone());
        d.location = at;
        self.diags.push(d);
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

/// A DNS name with at least two labels, as tenants' verified domains are.
fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2
        && s.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::is_domain;

    #[test]
    fn domains() {
        assert!(is_domain("contoso.onmicrosoft.com"));
        assert!(is_domain("example.no"));
        assert!(!is_domain("contoso"));
        assert!(!is_domain("contoso..com"));
        assert!(!is_domain("-a.com"));
        assert!(!is_domain("a.b.123"));
        assert!(!is_domain("con toso.com"));
    }
}
