//! The `input:` block: the key column and the declared columns.

use std::collections::HashMap;

use crate::diag::Location;
use crate::input::InputSpec;
use crate::playbook::checked::DEFAULT_KEY;

use super::checker::Checker;

impl Checker<'_> {
    pub(super) fn input(&mut self, doc: Option<&crate::playbook::model::InputDoc>) -> InputSpec {
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
        InputSpec {
            key,
            columns,
            key_kind: crate::input::KeyKind::default(),
        }
    }
}
