//! What makes a user privileged, as a real tenant counts it (only a
//! Privileged Authentication Administrator or Global Administrator may
//! reset or disable such a user), and the roles a user holds through
//! role-assignable groups.

use super::directory::{Directory, User};

/// A user's privilege facts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    /// Holds a role (built-in or custom, tenant-wide or scoped, directly or
    /// through a group), is PIM-eligible for one, is a member or owner of a
    /// role-assignable group, or is in a restricted management unit.
    pub privileged: bool,
    /// In a restricted management administrative unit: only a role scoped
    /// to that unit may change the user, not even a Global Administrator.
    pub restricted: bool,
}

impl Directory {
    pub(crate) fn facts(&self, user: &User) -> Facts {
        let e = user.extras();
        let assignable = |g: &u32| self.objects.group_at(*g).is_some_and(|g| g.assignable);
        let restricted = e
            .units
            .iter()
            .any(|u| self.objects.unit_at(*u).is_some_and(|u| u.restricted));
        let privileged = !e.roles.is_empty()
            || !e.custom_roles.is_empty()
            || !e.scoped_roles.is_empty()
            || !e.eligible_roles.is_empty()
            || e.groups.iter().any(assignable)
            || e.owned_groups.iter().any(assignable)
            || restricted;
        Facts {
            privileged,
            restricted,
        }
    }

    /// Built-in roles `user` holds through the role-assignable groups it is
    /// a member of, in group order, without repeats.
    pub(crate) fn roles_through_groups(&self, user: &User) -> Vec<u16> {
        let mut out = Vec::new();
        for group in &user.extras().groups {
            let Some(g) = self.objects.group_at(*group) else {
                continue;
            };
            for role in &g.roles {
                if !out.contains(role) {
                    out.push(*role);
                }
            }
        }
        out
    }

    /// The directory roles `user` holds directly or through groups, without
    /// repeats: what `transitiveMemberOf` lists.
    pub(crate) fn transitive_roles(&self, user: &User) -> Vec<u16> {
        let mut out = user.roles().to_vec();
        for role in self.roles_through_groups(user) {
            if !out.contains(&role) {
                out.push(role);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::emulator::directory::{Extras, NewUser, Seeded};

    fn push(d: &mut Directory, upn: &str, extras: Extras) {
        d.push(NewUser {
            upn,
            id: Uuid::new_v4(),
            display_name: upn,
            given_name: "",
            surname: "",
            extras,
            synced: false,
            guest: false,
            seeded: Seeded {
                enabled: true,
                locked: false,
                last_password_change: 0,
                sessions_valid_from: 0,
            },
        })
        .unwrap();
    }

    #[test]
    fn every_kind_counts_and_ordinary_memberships_do_not() {
        let mut d = Directory::default();
        let ga = d.roles.intern("Global Administrator", "t").unwrap();
        let ua = d.roles.intern("User Administrator", "t").unwrap();
        let tier0 = d.objects.group("Tier0", "t", true).unwrap();
        d.objects.grant(tier0, ga);
        let sales = d.objects.group("Sales", "t", false).unwrap();
        let exec = d.objects.unit("Exec", "t", Some(true)).unwrap();
        let west = d.objects.unit("West", "t", Some(false)).unwrap();
        let app = d.objects.app("Payroll", "t").unwrap();
        let cases = [
            ("plain", Extras::default(), false),
            (
                "ordinary",
                Extras {
                    groups: vec![sales],
                    units: vec![west],
                    owned_apps: vec![app],
                    ..Extras::default()
                },
                false,
            ),
            (
                "direct",
                Extras {
                    roles: vec![ua],
                    ..Extras::default()
                },
                true,
            ),
            (
                "custom",
                Extras {
                    custom_roles: vec![ua],
                    ..Extras::default()
                },
                true,
            ),
            (
                "scoped",
                Extras {
                    scoped_roles: vec![(ua, west)],
                    ..Extras::default()
                },
                true,
            ),
            (
                "eligible",
                Extras {
                    eligible_roles: vec![ga],
                    ..Extras::default()
                },
                true,
            ),
            (
                "member",
                Extras {
                    groups: vec![sales, tier0],
                    ..Extras::default()
                },
                true,
            ),
            (
                "owner",
                Extras {
                    owned_groups: vec![tier0],
                    ..Extras::default()
                },
                true,
            ),
            (
                "restricted",
                Extras {
                    units: vec![west, exec],
                    ..Extras::default()
                },
                true,
            ),
        ];
        for (upn, extras, _) in &cases {
            push(&mut d, &format!("{upn}@c.com"), extras.clone());
        }
        for (upn, _, privileged) in &cases {
            let u = d.find(&format!("{upn}@c.com")).unwrap();
            let f = d.facts(u);
            assert_eq!(f.privileged, *privileged, "{upn}");
            assert_eq!(f.restricted, *upn == "restricted", "{upn}");
        }
        let member = d.find("member@c.com").unwrap();
        assert_eq!(d.roles_through_groups(member), [ga]);
        let direct = d.find("direct@c.com").unwrap();
        assert_eq!(d.transitive_roles(direct), [ua]);
        assert!(d.roles_through_groups(direct).is_empty());
    }
}
