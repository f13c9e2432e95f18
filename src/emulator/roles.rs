//! Directory roles: the built-in roles' names and template ids, the table
//! of roles the tenant uses (users, groups and the app's service principal
//! refer to them by small indexes), whether each is built-in or custom, and
//! which roles let the app change which users.

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
        "Authentication Administrator",
        "c4e39bd9-1100-46d3-8c65-fb160da0071f",
    ),
    (
        "Security Administrator",
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
    ),
];

/// Roles whose holder may reset the password of, and enable or disable, a
/// user who is not privileged.
const USER_WRITERS: &[&str] = &[
    "User Administrator",
    "Helpdesk Administrator",
    "Password Administrator",
    "Authentication Administrator",
    "Privileged Authentication Administrator",
    "Global Administrator",
];

/// Roles whose holder may also change privileged users (admins, members
/// and owners of role-assignable groups, PIM-eligible admins).
const PRIVILEGED_WRITERS: &[&str] = &[
    "Privileged Authentication Administrator",
    "Global Administrator",
];

/// The names of the built-in roles the emulator knows, for messages.
pub(crate) fn built_in_names() -> impl Iterator<Item = &'static str> {
    BUILT_IN.iter().map(|(name, _)| *name)
}

/// The canonical spelling of built-in role `name` (case-insensitive).
pub(crate) fn built_in_name(name: &str) -> Option<&'static str> {
    BUILT_IN
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
        .map(|(n, _)| *n)
}

/// One role of the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Role {
    pub name: Box<str>,
    /// A built-in role's template id; a custom role's definition id (Graph
    /// gives custom definitions `templateId == id`). Either way, the
    /// `roleDefinitionId` of its assignments.
    pub template_id: Uuid,
    /// The activated `directoryRole` object's id in this tenant (differs
    /// from the template id, as in a real tenant). Custom roles have no
    /// `directoryRole` object; theirs is never shown.
    pub object_id: Uuid,
    pub custom: bool,
    /// Whether some use fixed the kind (built-in or custom); a name seen
    /// only in scoped or eligible assignments may still turn out custom.
    fixed: bool,
}

/// How a use of a role name constrains its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A `directoryRole` (held tenant-wide, directly or through a group).
    BuiltIn,
    /// A custom role definition.
    Custom,
    /// Either (a scoped or eligible assignment).
    Any,
}

/// Why a role name could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RoleError {
    TooMany,
    /// A custom role was given a built-in role's name.
    BuiltInName(&'static str),
    /// The name was used as a custom role and as a built-in one.
    KindConflict(Box<str>),
}

impl RoleError {
    /// The message and hint of a seeding diagnostic.
    pub(crate) fn describe(&self) -> (String, &'static str) {
        match self {
            RoleError::TooMany => (
                "too many distinct roles".to_owned(),
                "use at most 65,535 role names",
            ),
            RoleError::BuiltInName(name) => (
                format!("`{name}` is a built-in role, not a custom one"),
                "list built-in roles in the `roles` column",
            ),
            RoleError::KindConflict(name) => (
                format!("`{name}` is used both as a custom role and as a built-in role"),
                "name custom roles only in `customRoles` (and scoped or eligible assignments)",
            ),
        }
    }
}

/// What `GET /roleManagement/directory/roleDefinitions/{id}` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Definition<'a> {
    pub name: &'a str,
    pub id: Uuid,
    pub built_in: bool,
}

/// Every role some user, group or the app holds; they refer to roles by index.
#[derive(Debug, Default)]
pub(crate) struct RoleTable {
    roles: Vec<Role>,
}

fn custom_id(tenant_id: &str, name: &str) -> Uuid {
    derived_uuid(&[
        b"role-definition",
        tenant_id.as_bytes(),
        name.to_ascii_lowercase().as_bytes(),
    ])
}

impl RoleTable {
    /// The index of role `name` (case-insensitive; built-in roles get their
    /// canonical spelling), adding it as a built-in role if new. `None`
    /// past 65,535 roles.
    #[cfg(test)]
    pub(crate) fn intern(&mut self, name: &str, tenant_id: &str) -> Option<u16> {
        self.intern_as(name, tenant_id, Kind::Any).ok()
    }

    /// The index of role `name` used as `kind`, adding it if new. A name
    /// neither built-in nor yet fixed is a built-in role unknown to
    /// [`BUILT_IN`] until a custom use makes it custom.
    pub(crate) fn intern_as(
        &mut self,
        name: &str,
        tenant_id: &str,
        kind: Kind,
    ) -> Result<u16, RoleError> {
        let name = name.trim();
        let known = built_in_name(name);
        if kind == Kind::Custom
            && let Some(n) = known
        {
            return Err(RoleError::BuiltInName(n));
        }
        if let Some(i) = self
            .roles
            .iter()
            .position(|r| r.name.eq_ignore_ascii_case(name))
        {
            let index = u16::try_from(i).map_err(|_| RoleError::TooMany)?;
            let role = &mut self.roles[i];
            match kind {
                Kind::Any => {}
                Kind::BuiltIn if role.custom => {
                    return Err(RoleError::KindConflict(role.name.clone()));
                }
                Kind::BuiltIn => role.fixed = true,
                Kind::Custom if role.custom => {}
                Kind::Custom if role.fixed => {
                    return Err(RoleError::KindConflict(role.name.clone()));
                }
                Kind::Custom => {
                    role.custom = true;
                    role.fixed = true;
                    role.template_id = custom_id(tenant_id, name);
                }
            }
            return Ok(index);
        }
        let index = u16::try_from(self.roles.len()).map_err(|_| RoleError::TooMany)?;
        let (name, template_id) = match known {
            Some(n) => {
                let id = BUILT_IN
                    .iter()
                    .find(|(b, _)| *b == n)
                    .and_then(|(_, id)| Uuid::try_parse(id).ok())
                    .unwrap_or_default();
                (n.to_owned(), id)
            }
            None if kind == Kind::Custom => (name.to_owned(), custom_id(tenant_id, name)),
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
            custom: kind == Kind::Custom,
            fixed: known.is_some() || kind != Kind::Any,
        });
        Ok(index)
    }

    pub(crate) fn get(&self, index: u16) -> Option<&Role> {
        self.roles.get(usize::from(index))
    }

    /// The role definition whose id is `id`: a role of this table, or any
    /// built-in role the emulator knows.
    pub(crate) fn definition(&self, id: Uuid) -> Option<Definition<'_>> {
        if let Some(r) = self.roles.iter().find(|r| r.template_id == id) {
            return Some(Definition {
                name: &r.name,
                id,
                built_in: !r.custom,
            });
        }
        BUILT_IN
            .iter()
            .find(|(_, t)| Uuid::try_parse(t).ok() == Some(id))
            .map(|(name, _)| Definition {
                name,
                id,
                built_in: true,
            })
    }

    /// The definition id of role `name`, if the table has it.
    #[cfg(test)]
    pub(crate) fn definition_named(&self, name: &str) -> Option<Uuid> {
        self.roles
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name))
            .map(|r| r.template_id)
    }

    fn named(&self, index: u16, names: &[&str]) -> bool {
        self.get(index)
            .is_some_and(|r| !r.custom && names.iter().any(|n| **n == *r.name))
    }

    /// Whether holding the roles `held` lets the app reset and enable or
    /// disable users who are not privileged.
    pub(crate) fn may_change_users(&self, held: &[u16]) -> bool {
        held.iter().any(|r| self.named(*r, USER_WRITERS))
    }

    /// Whether holding the roles `held` lets the app change privileged users.
    pub(crate) fn may_change_privileged(&self, held: &[u16]) -> bool {
        held.iter().any(|r| self.named(*r, PRIVILEGED_WRITERS))
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
        for name in USER_WRITERS.iter().chain(PRIVILEGED_WRITERS) {
            assert!(built_in_name(name).is_some(), "{name}");
        }
    }

    #[test]
    fn custom_roles_are_told_apart_from_built_in_ones() {
        let mut t = RoleTable::default();
        assert_eq!(
            t.intern_as("global administrator", "t", Kind::Custom),
            Err(RoleError::BuiltInName("Global Administrator"))
        );
        // Seen first in a scoped assignment, then declared custom.
        let tier2 = t.intern_as("Helpdesk Tier 2", "t", Kind::Any).unwrap();
        assert!(!t.get(tier2).unwrap().custom);
        assert_eq!(t.intern_as("helpdesk tier 2", "t", Kind::Custom), Ok(tier2));
        let role = t.get(tier2).unwrap().clone();
        assert!(role.custom);
        assert_eq!(role.template_id, custom_id("t", "Helpdesk Tier 2"));
        assert_eq!(
            t.intern_as("Helpdesk Tier 2", "t", Kind::BuiltIn),
            Err(RoleError::KindConflict("Helpdesk Tier 2".into()))
        );
        let exchange = t
            .intern_as("Exchange Administrator", "t", Kind::BuiltIn)
            .unwrap();
        assert!(matches!(
            t.intern_as("Exchange Administrator", "t", Kind::Custom),
            Err(RoleError::KindConflict(_))
        ));
        assert!(!t.get(exchange).unwrap().custom);

        let def = t.definition(role.template_id).unwrap();
        assert_eq!((def.name, def.built_in), ("Helpdesk Tier 2", false));
        // Built-in definitions resolve even when nobody holds them.
        let paa = Uuid::try_parse("7be44c8a-adaf-4e2a-84d6-ab2649e08a13").unwrap();
        let def = t.definition(paa).unwrap();
        assert_eq!(
            (def.name, def.built_in, def.id),
            ("Privileged Authentication Administrator", true, paa)
        );
        assert!(t.definition(Uuid::from_u128(7)).is_none());
    }

    #[test]
    fn which_roles_may_change_whom() {
        let mut t = RoleTable::default();
        let ua = t.intern("User Administrator", "t").unwrap();
        let paa = t
            .intern("Privileged Authentication Administrator", "t")
            .unwrap();
        let ga = t.intern("Global Administrator", "t").unwrap();
        let sec = t.intern("Security Administrator", "t").unwrap();
        assert!(t.may_change_users(&[ua]) && !t.may_change_privileged(&[ua]));
        assert!(t.may_change_users(&[paa]) && t.may_change_privileged(&[paa]));
        assert!(t.may_change_privileged(&[sec, ga]));
        assert!(!t.may_change_users(&[sec]) && !t.may_change_users(&[]));
    }
}
