//! The directory objects other than users and roles that seeding creates
//! by name on first use: groups (role-assignable or not, with the built-in
//! roles a role-assignable group holds), administrative units (restricted
//! management or not) and applications; and the tenant's domains. Users
//! refer to them by `u32` index.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::ids::derived_uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group {
    pub name: Box<str>,
    pub id: Uuid,
    /// `isAssignableToRole`.
    pub assignable: bool,
    /// Built-in roles the group holds, tenant-wide (role-assignable only).
    pub roles: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unit {
    pub name: Box<str>,
    pub id: Uuid,
    /// `isManagementRestricted`.
    pub restricted: bool,
    /// Whether a `units` or `restrictedUnits` use fixed `restricted`; a
    /// unit named only as a role's scope is not restricted.
    fixed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct App {
    pub name: Box<str>,
    pub id: Uuid,
}

/// Why an object name could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ObjectError {
    TooMany,
    /// A group named as role-assignable and as ordinary.
    GroupKind(Box<str>),
    /// A unit named as restricted and as not restricted.
    UnitKind(Box<str>),
}

impl ObjectError {
    /// The message and hint of a seeding diagnostic.
    pub(crate) fn describe(&self) -> (String, &'static str) {
        match self {
            ObjectError::TooMany => (
                "too many distinct groups, units or applications".to_owned(),
                "use at most 4,294,967,295 names of each",
            ),
            ObjectError::GroupKind(name) => (
                format!(
                    "the group `{name}` is named both as role-assignable and as an ordinary group"
                ),
                "a group is role-assignable (`roleGroups`, `ownedRoleGroups`) or not (`groups`), never both",
            ),
            ObjectError::UnitKind(name) => (
                format!(
                    "the administrative unit `{name}` is named both as restricted and as not restricted"
                ),
                "a unit is a restricted management unit (`restrictedUnits`) or not (`units`), never both",
            ),
        }
    }
}

fn key(name: &str) -> String {
    name.trim().to_lowercase()
}

fn index(n: usize) -> Result<u32, ObjectError> {
    u32::try_from(n).map_err(|_| ObjectError::TooMany)
}

/// Groups, units, applications and domains, each found by name
/// (case-insensitive) while seeding and by index afterwards.
#[derive(Debug, Default)]
pub(crate) struct Objects {
    pub groups: Vec<Group>,
    pub units: Vec<Unit>,
    pub apps: Vec<App>,
    group_names: HashMap<String, u32>,
    unit_names: HashMap<String, u32>,
    app_names: HashMap<String, u32>,
    /// Lower-cased UPN domains of the seeded users.
    domains: HashSet<Box<str>>,
    /// Lower-cased domains whose `authenticationType` is `Federated`.
    federated: HashSet<Box<str>>,
}

impl Objects {
    /// The group `name` with `isAssignableToRole` `assignable`, created if new.
    pub(crate) fn group(
        &mut self,
        name: &str,
        tenant_id: &str,
        assignable: bool,
    ) -> Result<u32, ObjectError> {
        let k = key(name);
        if let Some(&i) = self.group_names.get(&k) {
            let group = &self.groups[i as usize];
            if group.assignable != assignable {
                return Err(ObjectError::GroupKind(group.name.clone()));
            }
            return Ok(i);
        }
        let i = index(self.groups.len())?;
        self.groups.push(Group {
            name: name.trim().into(),
            id: derived_uuid(&[b"group", tenant_id.as_bytes(), k.as_bytes()]),
            assignable,
            roles: Vec::new(),
        });
        self.group_names.insert(k, i);
        Ok(i)
    }

    /// Record that role-assignable group `group` holds built-in role `role`.
    pub(crate) fn grant(&mut self, group: u32, role: u16) {
        if let Some(g) = self.groups.get_mut(group as usize)
            && !g.roles.contains(&role)
        {
            g.roles.push(role);
        }
    }

    /// The administrative unit `name`, created if new; `restricted` is
    /// `None` where the use says nothing about it (a role's scope).
    pub(crate) fn unit(
        &mut self,
        name: &str,
        tenant_id: &str,
        restricted: Option<bool>,
    ) -> Result<u32, ObjectError> {
        let k = key(name);
        if let Some(&i) = self.unit_names.get(&k) {
            let unit = &mut self.units[i as usize];
            match restricted {
                Some(r) if unit.fixed && unit.restricted != r => {
                    return Err(ObjectError::UnitKind(unit.name.clone()));
                }
                Some(r) => {
                    unit.restricted = r;
                    unit.fixed = true;
                }
                None => {}
            }
            return Ok(i);
        }
        let i = index(self.units.len())?;
        self.units.push(Unit {
            name: name.trim().into(),
            id: derived_uuid(&[b"administrative-unit", tenant_id.as_bytes(), k.as_bytes()]),
            restricted: restricted.unwrap_or(false),
            fixed: restricted.is_some(),
        });
        self.unit_names.insert(k, i);
        Ok(i)
    }

    /// The application `name`, created if new.
    pub(crate) fn app(&mut self, name: &str, tenant_id: &str) -> Result<u32, ObjectError> {
        let k = key(name);
        if let Some(&i) = self.app_names.get(&k) {
            return Ok(i);
        }
        let i = index(self.apps.len())?;
        self.apps.push(App {
            name: name.trim().into(),
            id: derived_uuid(&[b"application", tenant_id.as_bytes(), k.as_bytes()]),
        });
        self.app_names.insert(k, i);
        Ok(i)
    }

    pub(crate) fn group_at(&self, i: u32) -> Option<&Group> {
        self.groups.get(i as usize)
    }

    pub(crate) fn unit_at(&self, i: u32) -> Option<&Unit> {
        self.units.get(i as usize)
    }

    pub(crate) fn app_at(&self, i: u32) -> Option<&App> {
        self.apps.get(i as usize)
    }

    /// The group whose object id is `id`.
    pub(crate) fn group_by_id(&self, id: Uuid) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// Note the domain of a seeded user's UPN (the part after the last `@`).
    pub(crate) fn note_upn(&mut self, upn: &str) {
        let Some((_, domain)) = upn.rsplit_once('@') else {
            return;
        };
        // Generated and most seeded UPNs are lower case already: look them
        // up without allocating.
        if domain.bytes().any(|b| b.is_ascii_uppercase()) || !domain.is_ascii() {
            let lower = domain.to_lowercase();
            if !self.domains.contains(lower.as_str()) {
                self.domains.insert(lower.into());
            }
        } else if !self.domains.contains(domain) {
            self.domains.insert(domain.into());
        }
    }

    /// Whether some seeded user's UPN is in `domain` (case-insensitive).
    pub(crate) fn has_domain(&self, domain: &str) -> bool {
        self.domains.contains(domain.to_lowercase().as_str())
    }

    /// Mark `domains` as federated.
    pub(crate) fn set_federated<S: AsRef<str>>(&mut self, domains: &[S]) {
        self.federated = domains
            .iter()
            .map(|d| d.as_ref().trim().to_lowercase().into())
            .collect();
    }

    /// Whether `domain` is federated (case-insensitive).
    pub(crate) fn is_federated(&self, domain: &str) -> bool {
        !self.federated.is_empty() && self.federated.contains(domain.to_lowercase().as_str())
    }

    /// Whether `upn`'s domain is federated.
    pub(crate) fn upn_is_federated(&self, upn: &str) -> bool {
        upn.rsplit_once('@')
            .is_some_and(|(_, domain)| self.is_federated(domain))
    }

    /// The seeded users' domains, sorted.
    pub(crate) fn domains(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.domains.iter().map(|d| &**d).collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_created_once_and_kinds_do_not_mix() {
        let mut o = Objects::default();
        let tier0 = o.group("Tier0 Admins", "t", true).unwrap();
        assert_eq!(o.group(" tier0 admins ", "t", true), Ok(tier0));
        assert_eq!(
            o.group("TIER0 ADMINS", "t", false),
            Err(ObjectError::GroupKind("Tier0 Admins".into()))
        );
        o.grant(tier0, 3);
        o.grant(tier0, 3);
        let g = o.group_at(tier0).unwrap();
        assert_eq!((g.roles.as_slice(), g.assignable), (&[3][..], true));
        assert_eq!(o.group_by_id(g.id).map(|g| &*g.name), Some("Tier0 Admins"));

        let exec = o.unit("Executives", "t", None).unwrap();
        assert!(!o.unit_at(exec).unwrap().restricted);
        assert_eq!(o.unit("executives", "t", Some(true)), Ok(exec));
        assert!(o.unit_at(exec).unwrap().restricted);
        assert_eq!(o.unit("Executives", "t", None), Ok(exec));
        assert!(matches!(
            o.unit("Executives", "t", Some(false)),
            Err(ObjectError::UnitKind(_))
        ));
        let app = o.app("Payroll", "t").unwrap();
        assert_eq!(o.app("payroll", "t"), Ok(app));
        assert_ne!(o.app_at(app).unwrap().id, o.group_at(tier0).unwrap().id);
    }

    #[test]
    fn domains_are_case_insensitive() {
        let mut o = Objects::default();
        o.note_upn("a@Contoso.com");
        o.note_upn("b@contoso.com");
        o.note_upn("c_f.com#EXT#@contoso.onmicrosoft.com");
        o.note_upn("no-at-sign");
        assert!(o.has_domain("CONTOSO.COM"));
        assert!(!o.has_domain("f.com"));
        assert_eq!(o.domains(), ["contoso.com", "contoso.onmicrosoft.com"]);
        assert!(!o.upn_is_federated("a@contoso.com"));
        o.set_federated(&["Contoso.COM"]);
        assert!(o.upn_is_federated("a@CONTOSO.com"));
        assert!(!o.upn_is_federated("c_f.com#EXT#@contoso.onmicrosoft.com"));
    }
}
