//! The `settings:` block: `concurrency`, `max_rate` and `batch`.

use crate::playbook::checked::Settings;

use super::checker::Checker;

impl Checker<'_> {
    pub(super) fn settings(
        &mut self,
        doc: Option<&crate::playbook::model::SettingsDoc>,
    ) -> Settings {
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
}
