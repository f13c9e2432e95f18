//! The permission preflight: which Graph application permissions a
//! playbook's run needs (reading users, the privileged-account guard, each
//! step) and which of them the access token's `roles` claim lacks, found
//! before the first change so that a run never fails halfway on a 403.
//! Also the two reads made then (and by `remedy doctor`): whether PIM
//! eligibility can be read at all (the tenant's licence), and whether the
//! app's service principal holds a directory role that lets it change
//! users (its role assignments, by the token's `oid`).

use crate::directory::OpKind;
use crate::graph::GraphClient;
use crate::graph::permissions::Operation;
use crate::graph::privilege::{self, Licence, RoleGrant, role_ids};
use crate::playbook::Playbook;

/// One use of Graph that the token does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The step id, or what else needs the operation.
    pub needed_by: String,
    pub operation: Operation,
    /// Permissions of the least privileged sufficient set that the token
    /// lacks.
    pub permissions: Vec<&'static str>,
}

impl Missing {
    /// `step `x` (reset_password): missing P (or: A; B)`.
    pub fn describe(&self) -> String {
        let others: Vec<String> = self
            .operation
            .sufficient()
            .iter()
            .skip(1)
            .map(|set| set.join(" + "))
            .collect();
        let mut s = format!(
            "{} ({}): missing {}",
            self.needed_by,
            self.operation.as_str(),
            self.permissions.join(" + ")
        );
        if !others.is_empty() {
            s.push_str(&format!(" (or instead: {})", others.join(", ")));
        }
        s
    }
}

/// The Graph operations that perform a neutral one. Finding what makes
/// an account privileged takes five: its memberships, owned objects, role
/// assignments and PIM eligibility, and the names of custom roles.
pub fn operations_of(op: OpKind) -> &'static [Operation] {
    match op {
        OpKind::ReadAccount => &[Operation::ReadUser],
        OpKind::ReadPrivileges => &[
            Operation::ListMemberships,
            Operation::ListOwnedObjects,
            Operation::ListRoleAssignments,
            Operation::ListRoleEligibility,
            Operation::ReadRoleDefinition,
        ],
        OpKind::ReadSignInAuthority => &[Operation::ReadDomain],
        OpKind::ResetPassword => &[Operation::ResetPassword],
        OpKind::SetEnabled => &[Operation::SetAccountEnabled],
        OpKind::RevokeSessions => &[Operation::RevokeSessions],
        // Never on a Graph target (`validate` refuses it): nothing to grant.
        OpKind::Unlock => &[],
    }
}

/// Every Graph operation a run of `playbook` performs, with what needs it.
/// A dry run (or a plan) only reads.
pub fn operations(playbook: &Playbook, writes: bool) -> Vec<(String, Operation)> {
    let mut ops = vec![("reading each user".to_owned(), OpKind::ReadAccount)];
    if playbook.guards.protect_privileged {
        ops.push((
            "guards.protect.privileged_roles".to_owned(),
            OpKind::ReadPrivileges,
        ));
    }
    if writes {
        ops.extend(crate::steps::operations(
            playbook.steps.iter().map(|s| (s.id.as_str(), &s.kind)),
        ));
    }
    ops.into_iter()
        .flat_map(|(by, op)| operations_of(op).iter().map(move |o| (by.clone(), *o)))
        .collect()
}

/// What the granted `roles` do not cover, in playbook order.
pub fn missing<S: AsRef<str>>(playbook: &Playbook, writes: bool, roles: &[S]) -> Vec<Missing> {
    operations(playbook, writes)
        .into_iter()
        .filter(|(_, op)| !op.granted_by(roles))
        .map(|(needed_by, operation)| Missing {
            needed_by,
            operation,
            permissions: operation
                .least_privileged()
                .iter()
                .copied()
                .filter(|p| !roles.iter().any(|r| r.as_ref() == *p))
                .collect(),
        })
        .collect()
}

/// The directory roles, by template id, that let the app change users
/// (resets, sign-in changes, revocations): any one, tenant-wide.
pub const WRITE_ROLES: [(&str, &str); 3] = [
    (role_ids::USER_ADMINISTRATOR, "User Administrator"),
    (
        role_ids::PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
        "Privileged Authentication Administrator",
    ),
    (role_ids::GLOBAL_ADMINISTRATOR, "Global Administrator"),
];

/// What to do about the app's own directory role.
pub const ASSIGN_ROLE: &str = "assign the User Administrator role to the app's service principal; Privileged Authentication Administrator to change admins";

/// What the app's own role assignments show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppRole {
    /// It holds these of [`WRITE_ROLES`] tenant-wide.
    Holds(Vec<&'static str>),
    /// None of them (tenant-wide); it has this many other assignments.
    Lacks { others: usize },
    /// The roles could not be read (why).
    Unchecked(String),
}

impl AppRole {
    /// From the app's role assignments (those naming it as principal).
    pub fn of(grants: &[RoleGrant]) -> AppRole {
        let held: Vec<&'static str> = WRITE_ROLES
            .iter()
            .filter(|(id, _)| {
                grants.iter().any(|g| {
                    g.role_definition_id
                        .as_deref()
                        .is_some_and(|d| d.eq_ignore_ascii_case(id))
                        && matches!(g.directory_scope_id.as_deref(), None | Some("/"))
                })
            })
            .map(|(_, name)| *name)
            .collect();
        if held.is_empty() {
            AppRole::Lacks {
                others: grants.len(),
            }
        } else {
            AppRole::Holds(held)
        }
    }

    /// The warning a run that changes users gives, `None` when the app
    /// holds a role that lets it. Documents disagree on whether app-only
    /// changes still need the role: a warning, never a refusal.
    pub fn warning(&self) -> Option<String> {
        match self {
            AppRole::Holds(_) => None,
            AppRole::Lacks { others } => Some(format!(
                "the app's service principal holds none of the directory roles that resets, sign-in changes and revocations need (User Administrator, Privileged Authentication Administrator or Global Administrator, tenant-wide){}: {ASSIGN_ROLE}; changes Graph refuses for it fail with Authorization_RequestDenied",
                if *others > 0 {
                    format!("; it has {others} other role assignment(s)")
                } else {
                    String::new()
                }
            )),
            AppRole::Unchecked(why) => Some(format!(
                "the app's own directory role could not be checked ({why}); if changes fail with Authorization_RequestDenied, {ASSIGN_ROLE}"
            )),
        }
    }
}

/// Reads the app's role assignments: `oid` is the token's `oid` claim
/// (the service principal's object id).
pub async fn app_role(client: &GraphClient, oid: Option<&str>) -> AppRole {
    let Some(oid) = oid.filter(|o| crate::graph::users::is_object_id(o)) else {
        return AppRole::Unchecked(
            "the access token has no `oid` claim naming the app's service principal".into(),
        );
    };
    let send = |req: crate::graph::GraphRequest| async move { client.send(&req).await };
    match privilege::assignments_of(oid, &client.graph_url(""), &send).await {
        Ok(grants) => AppRole::of(&grants),
        Err(e) => AppRole::Unchecked(format!("reading its role assignments failed: {e}")),
    }
}

/// Probes PIM once, listing the eligibility of `principal` (the app's
/// `oid`, or any GUID).
pub async fn pim_licence(client: &GraphClient, principal: Option<&str>) -> Licence {
    let principal = principal
        .filter(|o| crate::graph::users::is_object_id(o))
        .unwrap_or("00000000-0000-0000-0000-000000000000");
    let send = |req: crate::graph::GraphRequest| async move { client.send(&req).await };
    privilege::probe_licence(principal, &send).await
}

/// Why a run with `pim_eligibility: required` is refused.
pub const UNLICENSED: &str = "the tenant has no Microsoft Entra ID P2 or ID Governance licence (Graph answers AadPremiumLicenseRequired), so PIM eligibility cannot be read and `guards.protect.pim_eligibility: required` would protect every user";

/// What to do about it.
pub const UNLICENSED_HINT: &str = "if the tenant has no Entra ID P2, set `guards.protect.pim_eligibility: if_licensed` in the playbook (no one is then PIM-eligible); otherwise check its licences";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::permissions::REMEDY_PERMISSIONS;

    fn playbook() -> Playbook {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("workflows/incident-response.yaml"),
        )
        .unwrap();
        crate::playbook::load_str("incident-response.yaml", &text)
            .playbook
            .unwrap()
    }

    #[test]
    fn names_each_step_and_the_exact_permissions_it_lacks() {
        let p = playbook();
        assert!(missing(&p, true, REMEDY_PERMISSIONS).is_empty());
        let roles = [
            "User.Read.All",
            "User.EnableDisableAccount.All",
            "Directory.Read.All",
            "RoleEligibilitySchedule.Read.Directory",
        ];
        let m = missing(&p, true, &roles);
        let ops: Vec<Operation> = m.iter().map(|m| m.operation).collect();
        assert_eq!(ops, [Operation::ResetPassword, Operation::RevokeSessions]);
        assert_eq!(m[0].permissions, ["User-PasswordProfile.ReadWrite.All"]);
        assert!(m[0].describe().starts_with("step `reset-password` (reset_password): missing User-PasswordProfile.ReadWrite.All (or instead: User.ReadWrite.All, Directory.ReadWrite.All)"), "{}", m[0].describe());
        // A dry run needs only reads.
        assert!(missing(&p, false, &roles).is_empty());
        let m = missing(&p, true, &["User.EnableDisableAccount.All"]);
        assert_eq!(m[0].operation, Operation::ReadUser);
        let enable = m
            .iter()
            .find(|m| m.operation == Operation::SetAccountEnabled)
            .unwrap();
        assert_eq!(enable.permissions, ["User.Read.All"]);
    }

    #[test]
    fn the_guard_needs_its_five_reads_even_in_a_dry_run() {
        let p = playbook();
        let guard: Vec<Operation> = operations(&p, false)
            .into_iter()
            .filter(|(by, _)| by == "guards.protect.privileged_roles")
            .map(|(_, op)| op)
            .collect();
        assert_eq!(
            guard,
            [
                Operation::ListMemberships,
                Operation::ListOwnedObjects,
                Operation::ListRoleAssignments,
                Operation::ListRoleEligibility,
                Operation::ReadRoleDefinition
            ]
        );
        // Directory.Read.All covers all but PIM's schedules.
        let roles = ["User.Read.All", "Directory.Read.All"];
        let m = missing(&p, false, &roles);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].operation, Operation::ListRoleEligibility);
        assert_eq!(m[0].permissions, ["RoleEligibilitySchedule.Read.Directory"]);
        assert!(
            m[0].describe().starts_with("guards.protect.privileged_roles (list_role_eligibility): missing RoleEligibilitySchedule.Read.Directory"),
            "{}",
            m[0].describe()
        );
        let m = missing(
            &p,
            false,
            &["User.Read.All", "RoleEligibilitySchedule.Read.Directory"],
        );
        let ops: Vec<Operation> = m.iter().map(|m| m.operation).collect();
        assert_eq!(
            ops,
            [
                Operation::ListMemberships,
                Operation::ListOwnedObjects,
                Operation::ListRoleAssignments,
                Operation::ReadRoleDefinition
            ]
        );
        // Without the guard, none of them.
        let mut p = p;
        p.guards.protect_privileged = false;
        assert!(missing(&p, false, &["User.Read.All"]).is_empty());
    }

    fn grant(definition: &str, scope: &str) -> RoleGrant {
        RoleGrant {
            id: Some("a".into()),
            principal_id: Some("p".into()),
            role_definition_id: Some(definition.into()),
            directory_scope_id: Some(scope.into()),
        }
    }

    #[test]
    fn the_apps_role_is_one_of_three_held_tenant_wide() {
        assert_eq!(AppRole::of(&[]), AppRole::Lacks { others: 0 });
        assert_eq!(
            AppRole::of(&[grant(role_ids::USER_ADMINISTRATOR, "/")]),
            AppRole::Holds(vec!["User Administrator"])
        );
        assert_eq!(
            AppRole::of(&[
                grant(&role_ids::GLOBAL_ADMINISTRATOR.to_uppercase(), "/"),
                grant(role_ids::PRIVILEGED_AUTHENTICATION_ADMINISTRATOR, "/"),
            ]),
            AppRole::Holds(vec![
                "Privileged Authentication Administrator",
                "Global Administrator"
            ])
        );
        // Scoped to a unit, or another role: not enough.
        assert_eq!(
            AppRole::of(&[
                grant(role_ids::USER_ADMINISTRATOR, "/administrativeUnits/u1"),
                grant("966707d0-3269-4727-9be2-8c3a10f19b9d", "/"),
            ]),
            AppRole::Lacks { others: 2 }
        );
        assert_eq!(AppRole::Holds(vec!["User Administrator"]).warning(), None);
        let w = AppRole::Lacks { others: 0 }.warning().unwrap();
        assert!(w.contains("holds none of the directory roles"), "{w}");
        assert!(w.contains("assign the User Administrator role to the app's service principal; Privileged Authentication Administrator to change admins"), "{w}");
        let w = AppRole::Unchecked("no oid".into()).warning().unwrap();
        assert!(
            w.starts_with("the app's own directory role could not be checked (no oid)"),
            "{w}"
        );
    }

    const OID: &str = "5e3ce6c0-2b1f-4285-8d4b-75ee78787346";

    fn assignments(items: serde_json::Value) -> (String, (u16, serde_json::Value)) {
        (
            crate::graph::fake::key(&privilege::role_assignments(OID)),
            (200, serde_json::json!({ "value": items })),
        )
    }

    #[tokio::test]
    async fn the_apps_role_is_read_by_its_oid() {
        use crate::graph::fake;
        use serde_json::json;
        let fake = fake::with([assignments(json!([
            {"id": "a1", "principalId": OID, "roleDefinitionId": role_ids::USER_ADMINISTRATOR, "directoryScopeId": "/"},
        ]))]);
        let client = fake::client(&fake::serve(fake.clone()).await, Some(OID));
        assert_eq!(
            app_role(&client, Some(OID)).await,
            AppRole::Holds(vec!["User Administrator"])
        );
        // No oid: nothing is asked.
        let before = fake
            .counts
            .direct
            .load(std::sync::atomic::Ordering::Relaxed);
        let r = app_role(&client, None).await;
        assert!(
            matches!(&r, AppRole::Unchecked(w) if w.contains("no `oid` claim")),
            "{r:?}"
        );
        assert!(matches!(
            app_role(&client, Some("not-a-guid")).await,
            AppRole::Unchecked(_)
        ));
        assert_eq!(
            fake.counts
                .direct
                .load(std::sync::atomic::Ordering::Relaxed),
            before
        );

        let fake = fake::with([assignments(json!([]))]);
        let client = fake::client(&fake::serve(fake).await, Some(OID));
        let r = app_role(&client, Some(OID)).await;
        assert_eq!(r, AppRole::Lacks { others: 0 });
        assert!(r.warning().unwrap().contains("holds none"));

        // Refused: could not be checked, with Graph's error.
        let fake = fake::with([(
            crate::graph::fake::key(&privilege::role_assignments(OID)),
            (
                403,
                json!({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges to complete the operation."}}),
            ),
        )]);
        let client = fake::client(&fake::serve(fake).await, Some(OID));
        let w = app_role(&client, Some(OID)).await.warning().unwrap();
        assert!(w.starts_with("the app's own directory role could not be checked (reading its role assignments failed: Authorization_RequestDenied (HTTP 403)"), "{w}");
    }

    #[tokio::test]
    async fn the_licence_probe_asks_pim_once() {
        use crate::graph::fake;
        use serde_json::json;
        let probe = |status: u16, body: serde_json::Value| async move {
            let fake = fake::with([(fake::key(&privilege::role_eligibility(OID)), (status, body))]);
            let client = fake::client(&fake::serve(fake.clone()).await, Some(OID));
            let got = pim_licence(&client, Some(OID)).await;
            assert_eq!(
                fake.counts
                    .direct
                    .load(std::sync::atomic::Ordering::Relaxed),
                1
            );
            got
        };
        assert!(matches!(
            probe(200, json!({"value": []})).await,
            Licence::Licensed
        ));
        assert!(matches!(
            probe(400, json!({"error": {"code": "AadPremiumLicenseRequired", "message": "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license."}})).await,
            Licence::Missing(_)
        ));
        assert!(matches!(
            probe(
                503,
                json!({"error": {"code": "ServiceUnavailable", "message": "busy"}})
            )
            .await,
            Licence::Unknown(_)
        ));
        // Without an oid, any GUID will do.
        let fake = fake::with([(
            fake::key(&privilege::role_eligibility(
                "00000000-0000-0000-0000-000000000000",
            )),
            (200, json!({"value": []})),
        )]);
        let client = fake::client(&fake::serve(fake).await, None);
        assert!(matches!(
            pim_licence(&client, None).await,
            Licence::Licensed
        ));
    }
}
