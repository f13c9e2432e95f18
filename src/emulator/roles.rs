//! Directory roles: the built-in roles' names and template ids, and the
//! table of roles the seeded users hold (users store small indexes into it).

use uuid::Uuid;

use super::ids::derived_uuid;

/// Built-in Entra roles remedy cares about, with their fixed template ids.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "Global Administrator",
        "62e90394-69f5-4237-9190-012177145e10",
    ),
    ("User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1"),
    (
        "Privileged Authentication Administrator",
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
    ),
    (
        "Password Administrator",
        "966707d0-3269-4727-9be2-8c3a10f19b9d",
    ),
    (
        "Helpdesk Administrator",
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    ),
    (
        "Security Administrator",
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
    ),
];

/// One activated directory role of the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Role {
    pub name: Box<str>,
    pub template_id: Uuid,
    /// The role object's id in this tenant (differs from the template id,
    /// as in a real tenant).
    pub object_id: Uuid,
}

/// Every role some user holds; users refer to roles by index.
#[derive(Debug, Default)]
pub(crate) struct RoleTable {
    roles: Vec<Role>,
}

impl RoleTable {
    /// The index of role `name` (case-insensitive; built-in roles get their
    /// canonical spelling), adding it if new. `None` past 65,535 roles.
    pub(crate) fn intern(&mut self, name: &str, tenant_id: &str) -> Option<u16> {
        let name = name.trim();
        if let Some(i) = self
            .roles
            .iter()
            .position(|r| r.name.eq_ignore_ascii_case(name))
        {
            return u16::try_from(i).ok();
        }
        let index = u16::try_from(self.roles.len()).ok()?;
        let (name, template_id) = match BUILT_IN.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some((n, id)) => ((*n).to_owned(), Uuid::try_parse(id).unwrap_or_default()),
            None => (
                name.to_owned(),
                derived_uuid(&[b"role-template", name.to_ascii_lowercase().as_bytes()]),
            ),
        };
        let object_id = derived_uuid(&[
            b"role-object",
            tenant_id.as_bytes(),
            name.to_ascii_lowercase().as_bytes(),
        ]);
        self.roles.push(Role {
            name: name.into(),
            template_id,
            object_id,
        });
        Some(index)
    }

    pub(crate) fn get(&self, index: u16) -> Option<&Role> {
        self.roles.get(usize::from(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_roles_keep_their_template_ids() {
        let mut t = RoleTable::default();
        let ga = t.intern("global administrator", "t").unwrap();
        assert_eq!(t.intern("Global Administrator", "t"), Some(ga));
        let role = t.get(ga).unwrap();
        assert_eq!(&*role.name, "Global Administrator");
        assert_eq!(
            role.template_id.to_string(),
            "62e90394-69f5-4237-9190-012177145e10"
        );
        assert_ne!(role.object_id, role.template_id);
        let custom = t.intern("Custom Role", "t").unwrap();
        let again = RoleTable::default().intern("Custom Role", "t").map(|_| ());
        assert_eq!(again, Some(()));
        assert_eq!(
            t.get(custom).unwrap().template_id,
            derived_uuid(&[b"role-template", b"custom role"])
        );
    }

    #[test]
    fn every_built_in_template_id_parses() {
        for (name, id) in BUILT_IN {
            assert!(Uuid::try_parse(id).is_ok(), "{name}");
        }
    }
}
