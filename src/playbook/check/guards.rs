//! The `guards:` block: `max_users`, `max_failures` and `protect` (its
//! `privileged_roles`, `pim_eligibility` and `users`).

use crate::input::{is_guid, is_upn};
use crate::playbook::checked::{FailureLimit, Guards, PimEligibility};
use crate::playbook::model::{Spanned, Threshold};

use super::checker::Checker;

impl Checker<'_> {
    pub(super) fn guards(&mut self, doc: Option<&crate::playbook::model::GuardsDoc>) -> Guards {
        let mut g = Guards {
            max_users: None,
            max_failures: None,
            protect_privileged: true,
            pim_eligibility: PimEligibility::Required,
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
            if let Some(v) = &p.pim_eligibility {
                if let Some(e) = self.closed_set(
                    "playbook::invalid-guard",
                    "pim_eligibility",
                    v,
                    PimEligibility::ALL,
                ) {
                    g.pim_eligibility = e;
                }
                if !g.protect_privileged {
                    self.warning(
                        "playbook::invalid-guard",
                        v,
                        "`pim_eligibility` has no effect with `privileged_roles: false`".into(),
                    )
                    .hint = Some("remove it, or turn `privileged_roles` on".into());
                }
            }
            for u in &p.users {
                let v = u.value.trim();
                if is_upn(v) || is_guid(v) {
                    g.protected_users.push(v.to_lowercase());
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
}
