//! What makes a user privileged in Entra ID, read from Graph for the
//! "protect admins" guard (`guards.protect.privileged_roles`): the
//! user's transitive memberships (groups, directory roles, administrative
//! units), the objects it owns, its role assignments and its PIM
//! eligibility, each a pure request builder and a parser of canned
//! answers, like `users.rs`, plus the built-in roles' names and the cache
//! of custom roles' names (one read per definition and run).
//!
//! Who counts: holders of any role, built-in or custom, tenant-wide or
//! scoped; members and owners of role-assignable groups; members of
//! restricted management administrative units; PIM-eligible role holders.
//! Types are told by `@odata.type` on the client (no OData casts). An
//! answer that cannot rule a cause out is recorded as unknown, which
//! protects: an item listed with limited information (only `@odata.type`
//! and `id`, as Graph does when the app may not read that type), an item
//! without `@odata.type`, a read Graph refused (4xx) or answered with
//! something unreadable, and PIM's licence error. Only a failure with no
//! definitive answer (throttling, 5xx, timeouts, broken connections, no
//! token) is an error, which the engine retries and then fails the user.
//!
//! Also the app's own directory roles (its role assignments, by the
//! token's `oid`) and the PIM licence probe the preflight and `remedy
//! doctor` make.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::directory::{Cause, Privileges, Scope, Unknown};
use crate::graph::client::{GraphClient, GraphRequest, GraphResponse};
use crate::graph::error::{ErrorKind, GraphError};
use crate::graph::permissions::Operation;
use crate::graph::users::{is_object_id, user_path};

/// The properties W1 selects (each type answers those it has).
pub const MEMBERSHIP_SELECT: &str =
    "id,displayName,isAssignableToRole,isManagementRestricted,roleTemplateId";
/// The properties the owned objects' list selects.
pub const OWNED_SELECT: &str = "id,displayName,isAssignableToRole";
/// Page size asked for (Graph's maximum for these lists).
pub const PAGE_SIZE: u32 = 999;
/// Pages of one list followed before giving up (then: cannot tell).
pub const MAX_PAGES: usize = 100;

/// Graph's code for a tenant without Entra ID P2 / ID Governance.
pub const LICENCE_CODE: &str = "AadPremiumLicenseRequired";

const ROLE: &str = "#microsoft.graph.directoryRole";
const GROUP: &str = "#microsoft.graph.group";
const UNIT: &str = "#microsoft.graph.administrativeUnit";

/// Template ids of the built-in roles whose names remedy knows without
/// asking (any other definition is read once per run).
pub mod role_ids {
    pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
    pub const PRIVILEGED_AUTHENTICATION_ADMINISTRATOR: &str =
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13";
    pub const USER_ADMINISTRATOR: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
}

/// Built-in role template ids and their names.
const BUILT_IN: &[(&str, &str)] = &[
    (role_ids::GLOBAL_ADMINISTRATOR, "Global Administrator"),
    (
        role_ids::PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
        "Privileged Authentication Administrator",
    ),
    (role_ids::USER_ADMINISTRATOR, "User Administrator"),
    (
        "966707d0-3269-4727-9be2-8c3a10f19b9d",
        "Password Administrator",
    ),
    (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Helpdesk Administrator",
    ),
    (
        "c4e39bd9-1100-46d3-8c65-fb160da0071f",
        "Authentication Administrator",
    ),
    (
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Administrator",
    ),
    (
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "Privileged Role Administrator",
    ),
    ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader"),
    ("88d8e3e3-8f55-4a1e-953a-9b9898b8876b", "Directory Readers"),
    (
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Application Administrator",
    ),
    (
        "158c047a-c907-4556-b7ef-446551a6b5f7",
        "Cloud Application Administrator",
    ),
    (
        "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
        "Conditional Access Administrator",
    ),
    (
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Exchange Administrator",
    ),
    (
        "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
        "SharePoint Administrator",
    ),
    (
        "fdd7a751-b60b-444a-984c-02652fe8fa1c",
        "Groups Administrator",
    ),
    (
        "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2",
        "Hybrid Identity Administrator",
    ),
    ("5d6b6bb7-de71-4623-b4af-96380a352509", "Security Reader"),
];

/// The name of a built-in role by its template id (which is also its
/// definition id), `None` for any other id.
pub fn built_in_role_name(id: &str) -> Option<&'static str> {
    BUILT_IN
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(id))
        .map(|(_, n)| *n)
}

/// `GET /users/{id}/transitiveMemberOf?$select=…&$top=999` (W1).
pub fn memberships(id: &str) -> GraphRequest {
    get(
        format!(
            "{}/transitiveMemberOf?$select={MEMBERSHIP_SELECT}&$top={PAGE_SIZE}",
            user_path(id)
        ),
        Operation::ListMemberships,
    )
}

/// `GET /users/{id}/ownedObjects?$select=…&$top=999` (W2).
pub fn owned_objects(id: &str) -> GraphRequest {
    get(
        format!(
            "{}/ownedObjects?$select={OWNED_SELECT}&$top={PAGE_SIZE}",
            user_path(id)
        ),
        Operation::ListOwnedObjects,
    )
}

/// `GET /roleManagement/directory/roleAssignments?$filter=principalId eq '{id}'` (W3).
pub fn role_assignments(principal: &str) -> GraphRequest {
    get(
        format!(
            "/roleManagement/directory/roleAssignments?$filter={}",
            principal_filter(principal)
        ),
        Operation::ListRoleAssignments,
    )
}

/// `GET /roleManagement/directory/roleEligibilityScheduleInstances?$filter=principalId eq '{id}'` (W4).
pub fn role_eligibility(principal: &str) -> GraphRequest {
    get(
        format!(
            "/roleManagement/directory/roleEligibilityScheduleInstances?$filter={}",
            principal_filter(principal)
        ),
        Operation::ListRoleEligibility,
    )
}

/// `GET /roleManagement/directory/roleDefinitions/{id}` (W5).
pub fn role_definition(id: &str) -> GraphRequest {
    get(
        format!("/roleManagement/directory/roleDefinitions/{id}"),
        Operation::ReadRoleDefinition,
    )
}

/// `principalId eq '{id}'`, its spaces percent-encoded (the id is a GUID,
/// checked before anything is built from it).
fn principal_filter(id: &str) -> String {
    format!("principalId%20eq%20'{id}'")
}

fn get(path: String, operation: Operation) -> GraphRequest {
    GraphRequest {
        method: Method::GET,
        path,
        body: None,
        operation,
        secrets: Vec::new(),
    }
}

/// A directory object as the membership and owned-object lists show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirObject {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub is_assignable_to_role: Option<bool>,
    pub is_management_restricted: Option<bool>,
    pub role_template_id: Option<String>,
}

impl DirObject {
    fn is(&self, odata_type: &str) -> bool {
        self.odata_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(odata_type))
    }

    fn id_or_unknown(&self) -> String {
        self.id.clone().unwrap_or_else(|| "(no id)".to_owned())
    }

    /// A flag of a group or unit: `Some` when it is set or, the object
    /// being fully listed, defaults to false (Graph answers `null` for a
    /// flag never set); `None` when the object came with limited
    /// information (every selected property null, the name included).
    fn flag(&self, flag: Option<bool>) -> Option<bool> {
        match (flag, &self.display_name) {
            (Some(f), _) => Some(f),
            (None, Some(_)) => Some(false),
            (None, None) => None,
        }
    }
}

/// A role assignment (W3) or a PIM eligibility (W4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleGrant {
    pub id: Option<String>,
    pub principal_id: Option<String>,
    pub role_definition_id: Option<String>,
    pub directory_scope_id: Option<String>,
}

#[derive(Deserialize)]
struct Page<T> {
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// Adds one page's items to `items`; returns the next page's path, which
/// must be on the same Graph (`prefix` = `<graph root>/v1.0`): the token
/// is never sent elsewhere.
pub fn parse_page<T: DeserializeOwned>(
    resp: &GraphResponse,
    prefix: &str,
    operation: Operation,
    items: &mut Vec<T>,
) -> Result<Option<String>, GraphError> {
    let invalid =
        |what: String| GraphError::invalid_response(what, resp.request_id.clone(), Some(operation));
    let page: Page<T> = serde_json::from_slice(&resp.body).map_err(|e| {
        invalid(format!(
            "the {} list could not be read ({e})",
            operation.as_str()
        ))
    })?;
    items.extend(page.value);
    match page.next_link {
        None => Ok(None),
        Some(next) => match next.strip_prefix(prefix) {
            Some(path) if path.starts_with('/') => Ok(Some(path.to_owned())),
            _ => Err(invalid(format!(
                "`@odata.nextLink` points outside {prefix}; not followed"
            ))),
        },
    }
}

/// Every item of the list `first` starts, following `@odata.nextLink` on
/// `prefix` for at most [`MAX_PAGES`] pages, each sent with `send`.
pub async fn follow<T, F, Fut>(
    first: GraphRequest,
    prefix: &str,
    send: &F,
) -> Result<Vec<T>, GraphError>
where
    T: DeserializeOwned,
    F: Fn(GraphRequest) -> Fut,
    Fut: std::future::Future<Output = Result<GraphResponse, GraphError>>,
{
    let operation = first.operation;
    let mut req = first;
    let mut items = Vec::new();
    for _ in 0..MAX_PAGES {
        let resp = send(req.clone()).await?;
        match parse_page(&resp, prefix, operation, &mut items)? {
            Some(next) => req.path = next,
            None => return Ok(items),
        }
    }
    Err(GraphError::invalid_response(
        format!(
            "more than {MAX_PAGES} pages of {}; stopped following `@odata.nextLink`",
            operation.as_str()
        ),
        None,
        Some(operation),
    ))
}

/// Whether an error is no definitive answer: worth retrying (throttling,
/// 5xx, timeouts, broken connections) or no token at all. Anything else
/// (a 4xx, an unreadable answer) is an answer that cannot rule a cause
/// out.
pub fn no_answer(e: &GraphError) -> bool {
    e.is_retryable() || e.kind == ErrorKind::Auth
}

/// PIM's answer for a tenant without its licence.
pub fn is_unlicensed(e: &GraphError) -> bool {
    e.status == Some(400) && e.code.as_deref() == Some(LICENCE_CODE)
}

/// The four reads' answers for one user.
#[derive(Debug, Clone)]
pub struct Answers {
    pub memberships: Result<Vec<DirObject>, GraphError>,
    pub owned: Result<Vec<DirObject>, GraphError>,
    pub assignments: Result<Vec<RoleGrant>, GraphError>,
    pub eligibility: Result<Vec<RoleGrant>, GraphError>,
}

impl Answers {
    /// The first read that got no definitive answer ([`no_answer`]).
    fn first_without_answer(&self) -> Option<&GraphError> {
        [
            self.memberships.as_ref().err(),
            self.owned.as_ref().err(),
            self.assignments.as_ref().err(),
            self.eligibility.as_ref().err(),
        ]
        .into_iter()
        .flatten()
        .find(|e| no_answer(e))
    }
}

/// A role found, its name still to be settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRole {
    /// The template or definition id, when the answer gave one.
    pub definition: Option<String>,
    /// The name the answer gave (W1's `displayName`).
    pub name: Option<String>,
    pub scope: Scope,
    pub eligible: bool,
    /// What names the role when nothing else does.
    pub fallback: String,
}

/// What the answers show before role names are settled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    pub roles: Vec<FoundRole>,
    /// Group and unit causes, in the order found.
    pub others: Vec<Cause>,
    pub unknown: Vec<Unknown>,
}

impl Findings {
    /// Reads the four answers. `Err` when one of them is no definitive
    /// answer (the engine retries the whole check, then fails the user).
    pub fn from_answers(a: Answers) -> Result<Findings, GraphError> {
        if let Some(e) = a.first_without_answer() {
            return Err(e.clone());
        }
        let mut f = Findings::default();
        let mut unit_names = HashMap::new();
        match a.memberships {
            Ok(items) => f.memberships(&items, &mut unit_names),
            Err(e) => f.refused(
                "the user's groups, roles and administrative units (transitiveMemberOf)",
                &e,
            ),
        }
        match a.owned {
            Ok(items) => f.owned(&items),
            Err(e) => f.refused("the objects the user owns (ownedObjects)", &e),
        }
        match a.assignments {
            Ok(grants) => f.grants(&grants, false, &unit_names),
            Err(e) => f.refused("the user's role assignments (roleAssignments)", &e),
        }
        match a.eligibility {
            Ok(grants) => f.grants(&grants, true, &unit_names),
            Err(e) if is_unlicensed(&e) => f.unknown.push(Unknown {
                what: ELIGIBILITY.to_owned(),
                why: format!(
                    "the tenant has no Microsoft Entra ID P2 or ID Governance licence ({LICENCE_CODE})"
                ),
                unlicensed: true,
            }),
            Err(e) => f.refused(ELIGIBILITY, &e),
        }
        f.dedup_roles();
        Ok(f)
    }

    fn refused(&mut self, what: &str, e: &GraphError) {
        let mut why = e.to_string();
        if let Some(h) = e.hint() {
            why.push_str(" (hint: ");
            why.push_str(&h);
            why.push(')');
        }
        self.unknown.push(Unknown {
            what: what.to_owned(),
            why,
            unlicensed: false,
        });
    }

    fn memberships(&mut self, items: &[DirObject], unit_names: &mut HashMap<String, String>) {
        let (mut untyped, mut limited_groups, mut limited_units) = (vec![], vec![], vec![]);
        for o in items {
            if o.odata_type.is_none() {
                untyped.push(o.id_or_unknown());
            } else if o.is(ROLE) {
                self.roles.push(FoundRole {
                    definition: o.role_template_id.clone(),
                    name: o.display_name.clone(),
                    scope: Scope::Directory,
                    eligible: false,
                    fallback: format!("a directory role (object id {})", o.id_or_unknown()),
                });
            } else if o.is(GROUP) {
                match o.flag(o.is_assignable_to_role) {
                    Some(true) => self
                        .others
                        .push(Cause::RoleGroupMember { group: name_of(o) }),
                    Some(false) => {}
                    None => limited_groups.push(o.id_or_unknown()),
                }
            } else if o.is(UNIT) {
                if let (Some(id), Some(name)) = (&o.id, &o.display_name) {
                    unit_names.insert(id.to_ascii_lowercase(), name.clone());
                }
                match o.flag(o.is_management_restricted) {
                    Some(true) => self.others.push(Cause::RestrictedUnit { unit: name_of(o) }),
                    Some(false) => {}
                    None => limited_units.push(o.id_or_unknown()),
                }
            }
            // Other types (none are listed today) confer nothing.
        }
        self.limited(
            &limited_groups,
            "whether the group(s) the user is in are role-assignable",
            "isAssignableToRole",
        );
        self.limited(
            &limited_units,
            "whether the administrative unit(s) the user is in are restricted management units",
            "isManagementRestricted",
        );
        self.untyped(&untyped, "transitiveMemberOf");
    }

    fn owned(&mut self, items: &[DirObject]) {
        let (mut untyped, mut limited) = (vec![], vec![]);
        for o in items {
            if o.odata_type.is_none() {
                untyped.push(o.id_or_unknown());
            } else if o.is(GROUP) {
                match o.flag(o.is_assignable_to_role) {
                    Some(true) => self
                        .others
                        .push(Cause::RoleGroupOwner { group: name_of(o) }),
                    Some(false) => {}
                    None => limited.push(o.id_or_unknown()),
                }
            }
            // Applications, service principals, devices… confer nothing.
        }
        self.limited(
            &limited,
            "whether the group(s) the user owns are role-assignable",
            "isAssignableToRole",
        );
        self.untyped(&untyped, "ownedObjects");
    }

    /// Every assignment (or eligibility) listed counts, whatever
    /// `principalId` it names: a filter the service ignored would protect
    /// too many accounts, never too few.
    fn grants(&mut self, grants: &[RoleGrant], eligible: bool, units: &HashMap<String, String>) {
        for g in grants {
            let scope = match g.directory_scope_id.as_deref() {
                None | Some("" | "/") => Scope::Directory,
                Some(s) => match s.strip_prefix("/administrativeUnits/") {
                    Some(unit) => Scope::Unit(
                        units
                            .get(&unit.to_ascii_lowercase())
                            .cloned()
                            .unwrap_or_else(|| unit.to_owned()),
                    ),
                    None => Scope::Object(s.trim_start_matches('/').to_owned()),
                },
            };
            let what = if eligible {
                "eligibility"
            } else {
                "assignment"
            };
            self.roles.push(FoundRole {
                definition: g.role_definition_id.clone(),
                name: None,
                scope,
                eligible,
                fallback: format!(
                    "a role (role {what} {})",
                    g.id.as_deref().unwrap_or("without an id")
                ),
            });
        }
    }

    fn limited(&mut self, ids: &[String], what: &str, property: &str) {
        if ids.is_empty() {
            return;
        }
        self.unknown.push(Unknown {
            what: format!("{what} ({})", some_ids(ids)),
            why: format!(
                "Graph listed them with limited information (no displayName or {property}), as it does when the app may not read that type: grant Directory.Read.All"
            ),
            unlicensed: false,
        });
    }

    fn untyped(&mut self, ids: &[String], list: &str) {
        if ids.is_empty() {
            return;
        }
        self.unknown.push(Unknown {
            what: format!("what the objects {} of {list} are", some_ids(ids)),
            why: "Graph listed them without `@odata.type`".to_owned(),
            unlicensed: false,
        });
    }

    /// The same role at the same scope, found twice (a directoryRole
    /// membership and its assignment), is listed once.
    fn dedup_roles(&mut self) {
        let mut seen = HashSet::new();
        self.roles.retain(|r| {
            let key = (
                r.definition
                    .as_deref()
                    .map(str::to_ascii_lowercase)
                    .unwrap_or_else(|| r.fallback.clone()),
                r.scope.clone(),
                r.eligible,
            );
            seen.insert(key)
        });
    }

    /// The role definitions whose names neither the answers nor the
    /// built-in table give.
    pub fn names_to_read(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .roles
            .iter()
            .filter(|r| r.name.is_none())
            .filter_map(|r| r.definition.clone())
            .filter(|d| built_in_role_name(d).is_none() && is_object_id(d))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// The neutral result, role names settled by `names` (definition id →
    /// name), else the built-in table, else the id.
    pub fn finish(self, names: &HashMap<String, String>) -> Privileges {
        let mut causes: Vec<Cause> = self
            .roles
            .into_iter()
            .map(|r| {
                let name = r
                    .name
                    .or_else(|| {
                        r.definition
                            .as_deref()
                            .and_then(built_in_role_name)
                            .map(str::to_owned)
                    })
                    .or_else(|| r.definition.as_ref().and_then(|d| names.get(d).cloned()))
                    .or(r.definition)
                    .unwrap_or(r.fallback);
                if r.eligible {
                    Cause::EligibleRole {
                        name,
                        scope: r.scope,
                    }
                } else {
                    Cause::Role {
                        name,
                        scope: r.scope,
                    }
                }
            })
            .collect();
        causes.extend(self.others);
        Privileges {
            causes,
            unknown: self.unknown,
        }
    }
}

const ELIGIBILITY: &str = "the user's PIM eligibility (roleEligibilityScheduleInstances)";

fn name_of(o: &DirObject) -> String {
    o.display_name.clone().unwrap_or_else(|| o.id_or_unknown())
}

fn some_ids(ids: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut s = ids
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        s.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    s
}

/// The names of custom (and unlisted built-in) role definitions, read
/// once per definition and run. A name that cannot be read is shown as
/// its id; a read that got no answer is tried again for the next user.
#[derive(Debug, Default)]
pub struct RoleNames {
    known: Mutex<HashMap<String, Option<String>>>,
}

impl RoleNames {
    /// The names of `ids`, reading those not yet known with `send`.
    pub async fn names<F, Fut>(&self, ids: &[String], send: &F) -> HashMap<String, String>
    where
        F: Fn(GraphRequest) -> Fut,
        Fut: std::future::Future<Output = Result<GraphResponse, GraphError>>,
    {
        let mut out = HashMap::new();
        let mut missing = Vec::new();
        {
            let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
            for id in ids {
                match known.get(&id.to_ascii_lowercase()) {
                    Some(Some(name)) => {
                        out.insert(id.clone(), name.clone());
                    }
                    Some(None) => {}
                    None => missing.push(id.clone()),
                }
            }
        }
        let reads = missing.iter().map(|id| async move {
            let got = send(role_definition(id)).await;
            (id, got)
        });
        for (id, got) in futures::future::join_all(reads).await {
            let name = match got {
                Ok(resp) => parse_role_definition(&resp),
                // Tried again for the next user.
                Err(e) if no_answer(&e) => continue,
                Err(e) => {
                    tracing::debug!(role_definition = %id, error = %e, "role name not readable; shown as its id");
                    None
                }
            };
            if let Some(n) = &name {
                out.insert(id.clone(), n.clone());
            }
            self.known
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.to_ascii_lowercase(), name);
        }
        out
    }
}

/// A role definition's `displayName`, `None` when the answer has none.
pub fn parse_role_definition(resp: &GraphResponse) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Definition {
        display_name: Option<String>,
    }
    serde_json::from_slice::<Definition>(&resp.body)
        .ok()?
        .display_name
        .filter(|n| !n.trim().is_empty())
}

/// The lists an earlier attempt of the same check got answers for: a
/// retry sends only the lists that had none, so one failed request in four
/// does not throw away the other three answers (under a 10% fault rate,
/// re-reading all four would leave every second attempt without a full
/// answer).
#[derive(Debug, Default)]
pub struct Kept {
    memberships: Option<Vec<DirObject>>,
    owned: Option<Vec<DirObject>>,
    assignments: Option<Vec<RoleGrant>>,
    eligibility: Option<Vec<RoleGrant>>,
}

impl Kept {
    /// How many of the four lists are kept.
    pub fn len(&self) -> usize {
        usize::from(self.memberships.is_some())
            + usize::from(self.owned.is_some())
            + usize::from(self.assignments.is_some())
            + usize::from(self.eligibility.is_some())
    }

    /// Whether no list is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The kept list, or the list read now.
async fn kept_or_follow<T, F, Fut>(
    kept: Option<Vec<T>>,
    first: GraphRequest,
    prefix: &str,
    send: &F,
) -> Result<Vec<T>, GraphError>
where
    T: DeserializeOwned,
    F: Fn(GraphRequest) -> Fut,
    Fut: std::future::Future<Output = Result<GraphResponse, GraphError>>,
{
    match kept {
        Some(items) => Ok(items),
        None => follow(first, prefix, send).await,
    }
}

/// Reads what makes user `id` privileged: the four lists concurrently
/// (each following its pages), then the names of roles neither Graph's
/// answer nor the built-in table names. Each request goes through `send`
/// (the dispatcher, so they batch and share the limiter).
///
/// # Errors
///
/// A read that got no definitive answer ([`no_answer`]); everything else
/// Graph says is in the result.
pub async fn read<F, Fut>(
    id: &str,
    prefix: &str,
    send: &F,
    names: &RoleNames,
) -> Result<Privileges, GraphError>
where
    F: Fn(GraphRequest) -> Fut,
    Fut: std::future::Future<Output = Result<GraphResponse, GraphError>>,
{
    read_keeping(id, prefix, send, names, &mut Kept::default()).await
}

/// [`read`], reading only the lists `kept` lacks. When a list gets no
/// definitive answer, the lists that did are left in `kept` for the next
/// attempt; on success `kept` is emptied.
///
/// # Errors
///
/// As [`read`].
pub async fn read_keeping<F, Fut>(
    id: &str,
    prefix: &str,
    send: &F,
    names: &RoleNames,
    kept: &mut Kept,
) -> Result<Privileges, GraphError>
where
    F: Fn(GraphRequest) -> Fut,
    Fut: std::future::Future<Output = Result<GraphResponse, GraphError>>,
{
    let (memberships, owned, assignments, eligibility) = futures::join!(
        kept_or_follow(kept.memberships.take(), memberships(id), prefix, send),
        kept_or_follow(kept.owned.take(), owned_objects(id), prefix, send),
        kept_or_follow(kept.assignments.take(), role_assignments(id), prefix, send),
        kept_or_follow(kept.eligibility.take(), role_eligibility(id), prefix, send),
    );
    let answers = Answers {
        memberships,
        owned,
        assignments,
        eligibility,
    };
    if let Some(e) = answers.first_without_answer() {
        let e = e.clone();
        kept.memberships = answers.memberships.ok();
        kept.owned = answers.owned.ok();
        kept.assignments = answers.assignments.ok();
        kept.eligibility = answers.eligibility.ok();
        return Err(e);
    }
    let findings = Findings::from_answers(answers)?;
    let to_read = findings.names_to_read();
    let named = if to_read.is_empty() {
        HashMap::new()
    } else {
        names.names(&to_read, send).await
    };
    Ok(findings.finish(&named))
}

impl GraphClient {
    /// What makes user `id` (an object id) privileged, sent directly (for
    /// `remedy doctor`; a run sends through its dispatcher).
    pub async fn privileges(&self, id: &str) -> Result<Privileges, GraphError> {
        let send = |req: GraphRequest| async move { self.send(&req).await };
        read(id, &self.graph_url(""), &send, &RoleNames::default()).await
    }
}

/// What the PIM probe found.
#[derive(Debug, Clone)]
pub enum Licence {
    /// Eligibility can be read.
    Licensed,
    /// The tenant has no Entra ID P2 / ID Governance.
    Missing(GraphError),
    /// The probe failed otherwise (its error).
    Unknown(GraphError),
}

/// Probes PIM once: lists the eligibility of `principal` (any GUID).
pub async fn probe_licence<F, Fut>(principal: &str, send: &F) -> Licence
where
    F: Fn(GraphRequest) -> Fut,
    Fut: std::future::Future<Output = Result<GraphResponse, GraphError>>,
{
    match send(role_eligibility(principal)).await {
        Ok(_) => Licence::Licensed,
        Err(e) if is_unlicensed(&e) => Licence::Missing(e),
        Err(e) => Licence::Unknown(e),
    }
}

/// The role assignments of `principal` (the app's service principal, by
/// the token's `oid`), only those naming it as their principal.
pub async fn assignments_of<F, Fut>(
    principal: &str,
    prefix: &str,
    send: &F,
) -> Result<Vec<RoleGrant>, GraphError>
where
    F: Fn(GraphRequest) -> Fut,
    Fut: std::future::Future<Output = Result<GraphResponse, GraphError>>,
{
    let grants: Vec<RoleGrant> = follow(role_assignments(principal), prefix, send).await?;
    Ok(grants
        .into_iter()
        .filter(|g| {
            g.principal_id
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case(principal))
        })
        .collect())
}

#[cfg(test)]
mod tests;
