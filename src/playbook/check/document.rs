//! The top level of a playbook: `api_version`, `name`, the tenant pin's
//! form, and the assembly of the checked [`Playbook`] from every rule group
//! in the order they report.

use crate::diag::suggest::did_you_mean;
use crate::input::is_guid;
use crate::playbook::checked::Playbook;
use crate::playbook::model::{ApiVersion, PlaybookDoc, Spanned};

use super::checker::Checker;

impl Checker<'_> {
    pub(super) fn playbook(&mut self, doc: PlaybookDoc) -> Option<Playbook> {
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
        let targets = self.targets(&doc);
        let input = self.input(doc.input.as_ref());
        let guards = self.guards(doc.guards.as_ref());
        let settings = self.settings(doc.settings.as_ref());
        let steps = self.steps(&doc.steps, &input, targets.as_deref().unwrap_or(&[]));
        let (targets, steps) = self.targets_in_use(&doc, targets?, steps?);
        let mut input = input;
        input.key_kind = self.key_kind(&doc, &targets)?;
        let first = &targets[0];
        Some(Playbook {
            file: self.name.to_owned(),
            api_version: api_version?,
            name: doc.name.value.clone(),
            description: doc.description.clone(),
            provider: first.provider,
            tenant: first.tenant.clone(),
            targets,
            input,
            guards,
            settings,
            steps,
        })
    }

    /// Resolves a name from a closed set, with a did-you-mean on failure.
    pub(super) fn closed_set<T: Copy>(
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

    pub(super) fn tenant(&mut self, t: &Spanned<String>) -> Option<String> {
        let v = t.value.trim();
        if is_guid(v) || crate::input::is_domain_name(v) {
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
}
