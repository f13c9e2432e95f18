//! `target:` and `targets:`: which directories a playbook acts on, each
//! with the settings of its provider (a Graph tenant pin; an Active
//! Directory URL, base DN, domain pin and how the CSV key finds the
//! account), and the name each step's `target:` refers to.

use std::collections::BTreeMap;

use crate::diag::suggest::did_you_mean;
use crate::input::KeyKind;
use crate::playbook::checked::{LdapSpec, TargetSpec};
use crate::playbook::model::{FindBy, PlaybookDoc, Provider, Spanned, StepDoc, TargetDoc};

use super::checker::Checker;

/// The name a single `target:` gets.
pub const SINGLE: &str = "target";

impl Checker<'_> {
    /// The playbook's targets, in a fixed order (a single `target:`, or
    /// `targets:` by name); `None` after an error.
    pub(super) fn targets(&mut self, doc: &PlaybookDoc) -> Option<Vec<TargetSpec>> {
        match (&doc.target, &doc.targets) {
            (Some(t), None) => Some(vec![self.target(SINGLE, t)?]),
            (None, Some(map)) => self.target_map(map),
            (Some(t), Some(_)) => {
                self.error(
                    "playbook::ambiguous-target",
                    &t.provider,
                    "the playbook has both `target` and `targets`".into(),
                )
                .hint = Some(
                    "keep `target:` for one directory, or move it under `targets:` with a name"
                        .into(),
                );
                None
            }
            (None, None) => {
                self.error(
                    "playbook::missing-target",
                    &doc.name,
                    "the playbook names no directory: `target` is missing".into(),
                )
                .hint = Some(
                    "add `target: { provider: graph }`, or `targets:` with a name per directory"
                        .into(),
                );
                None
            }
        }
    }

    fn target_map(
        &mut self,
        map: &Spanned<BTreeMap<String, TargetDoc>>,
    ) -> Option<Vec<TargetSpec>> {
        if map.value.is_empty() {
            self.error("playbook::missing-target", map, "`targets` is empty".into())
                .hint =
                Some("name at least one directory, e.g. `cloud: { provider: graph }`".into());
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (name, doc) in &map.value {
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                self.error(
                    "playbook::invalid-target-name",
                    &doc.provider,
                    format!("target name `{name}` is not letters, digits, `-` and `_`"),
                )
                .hint = Some("name it e.g. `onprem` or `cloud`".into());
                ok = false;
            }
            match self.target(name, doc) {
                Some(t) => out.push(t),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn target(&mut self, name: &str, doc: &TargetDoc) -> Option<TargetSpec> {
        let provider = self.closed_set(
            "playbook::unknown-provider",
            "provider",
            &doc.provider,
            Provider::ALL,
        );
        let Some(provider) = provider else {
            // Still say what else is wrong with the target.
            if let Some(t) = &doc.tenant {
                self.tenant(t);
            }
            return None;
        };
        fn only<'d>(
            field: &'static str,
            v: &'d Option<Spanned<String>>,
            p: Provider,
        ) -> Option<(&'static str, &'d Spanned<String>, Provider)> {
            v.as_ref().map(|s| (field, s, p))
        }
        // Settings that belong to the other provider.
        let misplaced: Vec<_> = match provider {
            Provider::Graph => [
                only("url", &doc.url, Provider::ActiveDirectory),
                only("base_dn", &doc.base_dn, Provider::ActiveDirectory),
                only("domain", &doc.domain, Provider::ActiveDirectory),
                only("find_by", &doc.find_by, Provider::ActiveDirectory),
            ]
            .into_iter()
            .flatten()
            .collect(),
            Provider::ActiveDirectory => [only("tenant", &doc.tenant, Provider::Graph)]
                .into_iter()
                .flatten()
                .collect(),
        };
        let mut ok = true;
        for (field, at, belongs) in misplaced {
            self.error(
                "playbook::misplaced-target-setting",
                at,
                format!(
                    "`{field}` is a setting of `{}` targets, not of `{}`",
                    belongs.as_str(),
                    provider.as_str()
                ),
            )
            .hint = Some(match provider {
                Provider::Graph => "remove it, or set `provider: active_directory`".into(),
                Provider::ActiveDirectory => {
                    "remove it; an Active Directory target is pinned with `domain:`".into()
                }
            });
            ok = false;
        }
        let spec = match provider {
            Provider::Graph => {
                let tenant = match &doc.tenant {
                    Some(t) => Some(self.tenant(t)?),
                    None => None,
                };
                TargetSpec {
                    name: name.to_owned(),
                    provider,
                    tenant,
                    ldap: None,
                }
            }
            Provider::ActiveDirectory => TargetSpec {
                name: name.to_owned(),
                provider,
                tenant: None,
                ldap: Some(self.ldap(doc)?),
            },
        };
        ok.then_some(spec)
    }

    fn ldap(&mut self, doc: &TargetDoc) -> Option<LdapSpec> {
        let url = match &doc.url {
            Some(u) => self.ldap_url(u),
            None => {
                self.error(
                    "playbook::missing-field",
                    &doc.provider,
                    "an `active_directory` target needs `url`".into(),
                )
                .hint = Some("e.g. `url: ldaps://dc1.corp.example`".into());
                None
            }
        };
        let base_dn = match &doc.base_dn {
            Some(b) if looks_like_dn(&b.value) => Some(b.value.trim().to_owned()),
            Some(b) => {
                self.error(
                    "playbook::invalid-base-dn",
                    b,
                    format!("`base_dn` `{}` is not a distinguished name", b.value),
                )
                .hint = Some("e.g. `DC=corp,DC=example`".into());
                None
            }
            None => {
                self.error(
                    "playbook::missing-field",
                    &doc.provider,
                    "an `active_directory` target needs `base_dn`".into(),
                )
                .hint = Some("e.g. `base_dn: DC=corp,DC=example`".into());
                None
            }
        };
        let domain = match &doc.domain {
            Some(d) => {
                let v = d.value.trim();
                if crate::input::is_domain_name(v) {
                    Some(v.to_ascii_lowercase())
                } else if is_sid(v) {
                    Some(v.to_ascii_uppercase())
                } else {
                    self.error(
                        "playbook::invalid-domain",
                        d,
                        format!("`domain` `{}` is neither a DNS name nor a SID", d.value),
                    )
                    .hint = Some(
                        "use the domain's DNS name (`corp.example`) or its SID (`S-1-5-21-…`)"
                            .into(),
                    );
                    return None;
                }
            }
            None => None,
        };
        let find_by = match &doc.find_by {
            Some(f) => self.closed_set("playbook::unknown-find-by", "find_by", f, FindBy::ALL)?,
            None => FindBy::UserPrincipalName,
        };
        Some(LdapSpec {
            url: url?,
            base_dn: base_dn?,
            domain,
            find_by,
        })
    }

    fn ldap_url(&mut self, u: &Spanned<String>) -> Option<String> {
        let v = u.value.trim();
        let parsed = url::Url::parse(v).ok();
        let scheme = parsed.as_ref().map(url::Url::scheme);
        let host = parsed.as_ref().and_then(url::Url::host_str);
        let path_ok = parsed
            .as_ref()
            .is_some_and(|p| matches!(p.path(), "" | "/") && p.query().is_none());
        match (scheme, host) {
            (Some("ldaps" | "ldap"), Some(h)) if !h.is_empty() && path_ok => Some(v.to_owned()),
            _ => {
                self.error(
                    "playbook::invalid-url",
                    u,
                    format!("`url` `{}` is not an LDAP address", u.value),
                )
                .hint = Some(
                    "use `ldaps://host[:port]` (TLS), or `ldap://host[:port]` (remedy then starts TLS before binding)"
                        .into(),
                );
                None
            }
        }
    }

    /// The targets in the order steps first use them (the first step's is
    /// the run's first target), steps renumbered to match; a target no
    /// step uses is dropped with a warning, and a provider named twice is
    /// an error (one set of credentials per provider).
    pub(super) fn targets_in_use(
        &mut self,
        doc: &PlaybookDoc,
        targets: Vec<TargetSpec>,
        mut steps: Vec<crate::playbook::checked::Step>,
    ) -> (Vec<TargetSpec>, Vec<crate::playbook::checked::Step>) {
        let mut order: Vec<usize> = Vec::new();
        for s in &steps {
            if !order.contains(&s.target) {
                order.push(s.target);
            }
        }
        if let Some(map) = &doc.targets {
            for (i, t) in targets.iter().enumerate() {
                if !order.contains(&i) {
                    let at = map.value.get(&t.name).map_or(&doc.name, |d| &d.provider);
                    self.warning(
                        "playbook::unused-target",
                        at,
                        format!("no step acts on target `{}`", t.name),
                    )
                    .hint = Some(format!("add `target: {}` to a step, or remove it", t.name));
                }
            }
            let mut seen: Vec<Provider> = Vec::new();
            for &i in &order {
                let t = &targets[i];
                if seen.contains(&t.provider) {
                    let at = map.value.get(&t.name).map_or(&doc.name, |d| &d.provider);
                    self.error(
                        "playbook::duplicate-provider",
                        at,
                        format!(
                            "target `{}` is a second `{}` target; a playbook acts on one directory per provider",
                            t.name,
                            t.provider.as_str()
                        ),
                    )
                    .hint = Some("split the playbook, one per directory".into());
                }
                seen.push(t.provider);
            }
        }
        for s in &mut steps {
            s.target = order.iter().position(|&i| i == s.target).unwrap_or(0);
        }
        let mut slots: Vec<Option<TargetSpec>> = targets.into_iter().map(Some).collect();
        let targets = order.iter().filter_map(|&i| slots[i].take()).collect();
        (targets, steps)
    }

    /// The form the CSV's keys must have: what every target can find an
    /// account by. A Graph target finds people by UPN or object id, so a
    /// hybrid playbook's Active Directory target must find them by UPN
    /// too (an `objectGUID` is not an Entra object id).
    pub(super) fn key_kind(
        &mut self,
        doc: &PlaybookDoc,
        targets: &[TargetSpec],
    ) -> Option<KeyKind> {
        let graph = targets.iter().any(|t| t.provider == Provider::Graph);
        let mut kind = KeyKind::UpnOrId;
        for t in targets {
            let Some(ldap) = &t.ldap else { continue };
            let wanted = match ldap.find_by {
                FindBy::UserPrincipalName => continue,
                FindBy::SamAccountName => KeyKind::SamAccountName,
                FindBy::ObjectGuid => KeyKind::Guid,
            };
            if graph {
                let at = doc
                    .targets
                    .as_ref()
                    .and_then(|m| m.value.get(&t.name))
                    .or(doc.target.as_ref())
                    .and_then(|d| d.find_by.as_ref());
                if let Some(at) = at {
                    self.error(
                        "playbook::incompatible-find-by",
                        at,
                        format!(
                            "target `{}` finds accounts by `{}`, which the Graph target cannot: each CSV row names the person once, for every target",
                            t.name, at.value
                        ),
                    )
                    .hint = Some(
                        "use `find_by: user_principal_name` (the UPN Entra Connect syncs), or split the playbook".into(),
                    );
                }
                return None;
            }
            kind = wanted;
        }
        Some(kind)
    }

    /// The index of the target a step names; a playbook with one target
    /// needs no `target:` on its steps.
    pub(super) fn step_target(&mut self, step: &StepDoc, targets: &[TargetSpec]) -> Option<usize> {
        match &step.target {
            None if targets.len() <= 1 => Some(0),
            None => {
                let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
                self.error(
                    "playbook::missing-step-target",
                    &step.id,
                    format!(
                        "step `{}` does not say which target it acts on",
                        step.id.value
                    ),
                )
                .hint = Some(format!("add `target:` with one of: {}", names.join(", ")));
                None
            }
            Some(t) => {
                if let Some(i) = targets.iter().position(|x| x.name == t.value) {
                    return Some(i);
                }
                let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
                let hint = if targets.len() == 1 && targets[0].name == SINGLE {
                    "a playbook with a single `target:` takes no `target:` on its steps; remove it, or name the directories under `targets:`".to_owned()
                } else {
                    match did_you_mean(&t.value, names.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("expected one of: {}", names.join(", ")),
                    }
                };
                self.error(
                    "playbook::unknown-target",
                    t,
                    format!(
                        "step `{}` names unknown target `{}`",
                        step.id.value, t.value
                    ),
                )
                .hint = Some(hint);
                None
            }
        }
    }
}

/// `X=…` parts separated by commas: enough to catch a URL or a bare name
/// written where a DN belongs; the server judges the rest.
fn looks_like_dn(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty()
        && s.split(',').all(|rdn| {
            rdn.split_once('=')
                .is_some_and(|(a, v)| !a.trim().is_empty() && !v.trim().is_empty())
        })
}

/// A Windows SID as text: `S-1-` then numbers.
fn is_sid(s: &str) -> bool {
    let mut parts = s.split('-');
    matches!(parts.next(), Some("S" | "s")) && parts.next() == Some("1") && {
        let rest: Vec<&str> = parts.collect();
        rest.len() >= 2
            && rest
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguished_names_and_sids() {
        assert!(looks_like_dn("DC=corp,DC=example"));
        assert!(looks_like_dn("OU=Staff, DC=corp,DC=example"));
        assert!(!looks_like_dn("ldaps://dc1"));
        assert!(!looks_like_dn("corp.example"));
        assert!(!looks_like_dn("DC=corp,"));
        assert!(is_sid("S-1-5-21-3623811015-3361044348-30300820"));
        assert!(!is_sid("S-1-5"));
        assert!(!is_sid("S-2-5-21-1"));
        assert!(!is_sid("S-1-5-21-x"));
    }
}
