//! `/roleManagement/directory`: role assignments and PIM eligibility
//! instances of one principal (`$filter=principalId eq '{id}'`, the only
//! filter served), and role definitions by id.
//!
//! A principal is a user (built-in, custom and unit-scoped roles; PIM
//! eligibility), a role-assignable group (the built-in roles it holds) or
//! the calling app's service principal (the token's `oid`: the roles
//! `--app-role` gives it). Assignments are not transitive: a user's list
//! does not show the roles it holds through a group.

use hyper::StatusCode;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::ctx::{Ctx, Page};
use super::ids::derived_uuid;
use super::query::Query;
use super::response::Reply;
use super::select;
use crate::graph::permissions::Operation;

/// Every PIM eligibility the emulator seeds starts here and never ends.
const ELIGIBLE_FROM: &str = "2026-01-01T00:00:00Z";

const ASSIGNMENT_KEYS: &[&str] = &[
    "id",
    "principalId",
    "roleDefinitionId",
    "directoryScopeId",
    "appScopeId",
];
const INSTANCE_KEYS: &[&str] = &[
    "id",
    "principalId",
    "roleDefinitionId",
    "directoryScopeId",
    "appScopeId",
    "startDateTime",
    "endDateTime",
    "memberType",
    "roleEligibilityScheduleId",
];
const DEFINITION_KEYS: &[&str] = &[
    "id",
    "displayName",
    "description",
    "isBuiltIn",
    "isEnabled",
    "templateId",
    "resourceScopes",
];

/// PIM's answer for a tenant without the licence.
const LICENCE_MESSAGE: &str =
    "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license.";

/// `principalId eq '{id}'` (case-insensitive keywords, any spacing) → the id.
pub(crate) fn principal_filter(filter: &str) -> Option<&str> {
    fn word<'a>(s: &'a str, word: &str) -> Option<&'a str> {
        let s = s.trim_start();
        let head = s.get(..word.len())?;
        let rest = &s[word.len()..];
        (head.eq_ignore_ascii_case(word) && rest.starts_with(char::is_whitespace)).then_some(rest)
    }
    let rest = word(filter, "principalId")?;
    let rest = word(rest, "eq")?;
    let value = rest.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    (!value.contains('\'')).then_some(value)
}

/// The principal a W3/W4 request names, or the error reply.
fn principal(ctx: &Ctx<'_>, query: &Query, what: &str) -> Result<Uuid, Reply> {
    let Some(filter) = query.filter.as_deref() else {
        return Err(ctx.error(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            &format!("The emulator lists {what} only with $filter=principalId eq '{{id}}'."),
        ));
    };
    principal_filter(filter)
        .and_then(|id| Uuid::try_parse(id).ok())
        .ok_or_else(|| {
            ctx.error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid filter clause",
            )
        })
}

/// A role assignment or eligibility: (role definition id, directory scope).
type Grant = (Uuid, String);

fn assignments(ctx: &Ctx<'_>, principal: Uuid) -> Vec<Grant> {
    let dir = &ctx.state.directory;
    let tenant_wide = |roles: &[u16]| -> Vec<Grant> {
        roles
            .iter()
            .filter_map(|r| dir.roles.get(*r))
            .map(|r| (r.template_id, "/".to_owned()))
            .collect()
    };
    if let Some(user) = dir.by_object_id(principal) {
        let e = user.extras();
        let mut out = tenant_wide(&e.roles);
        out.extend(tenant_wide(&e.custom_roles));
        out.extend(e.scoped_roles.iter().filter_map(|(r, u)| {
            let role = dir.roles.get(*r)?;
            let unit = dir.objects.unit_at(*u)?;
            Some((
                role.template_id,
                format!("/administrativeUnits/{}", unit.id),
            ))
        }));
        return out;
    }
    if let Some(group) = dir.objects.group_by_id(principal) {
        return tenant_wide(&group.roles);
    }
    if ctx.principal.oid == principal.to_string() {
        return tenant_wide(&dir.app_roles);
    }
    Vec::new()
}

fn eligibilities(ctx: &Ctx<'_>, principal: Uuid) -> Vec<Grant> {
    let dir = &ctx.state.directory;
    dir.by_object_id(principal)
        .map(|user| {
            user.extras()
                .eligible_roles
                .iter()
                .filter_map(|r| dir.roles.get(*r))
                .map(|r| (r.template_id, "/".to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn grant_id(kind: &[u8], principal: Uuid, (role, scope): &Grant) -> String {
    derived_uuid(&[
        kind,
        principal.as_bytes(),
        role.as_bytes(),
        scope.as_bytes(),
    ])
    .to_string()
}

/// One page of `items`, `$select`ed.
fn page(
    ctx: &Ctx<'_>,
    query: &Query,
    mut items: Vec<Map<String, Value>>,
    set: &str,
    keys: &[&str],
    type_name: &str,
) -> Reply {
    if let Err(message) = select::pick(&mut items, query.select.as_deref(), keys, type_name) {
        return ctx.bad_request(&message);
    }
    let page = match Page::new(ctx, query, items.len()) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let values = items
        .drain(page.start..page.end)
        .map(Value::Object)
        .collect();
    let base = ctx.base();
    let context = format!("{base}/v1.0/$metadata#roleManagement/directory/{set}");
    // A next page repeats the filter; `Page` adds `$select`, `$top` and
    // the skip token.
    let filter = query.filter.as_deref().unwrap_or_default();
    let mut next = format!("{base}/v1.0/roleManagement/directory/{set}?$filter=");
    next.extend(url::form_urlencoded::byte_serialize(filter.as_bytes()));
    page.reply(context, values, &next, query)
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `GET /roleManagement/directory/roleAssignments?$filter=principalId eq '{id}'`.
pub(crate) fn role_assignments(ctx: &Ctx<'_>, query: &Query) -> Reply {
    if !ctx.granted(Operation::ListRoleAssignments) {
        return ctx.forbidden();
    }
    let id = match principal(ctx, query, "role assignments") {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    let items = assignments(ctx, id)
        .iter()
        .map(|grant| {
            object(json!({
                "id": grant_id(b"role-assignment", id, grant),
                "principalId": id.to_string(),
                "roleDefinitionId": grant.0.to_string(),
                "directoryScopeId": grant.1,
                "appScopeId": null,
            }))
        })
        .collect();
    page(
        ctx,
        query,
        items,
        "roleAssignments",
        ASSIGNMENT_KEYS,
        "unifiedRoleAssignment",
    )
}

/// `GET /roleManagement/directory/roleEligibilityScheduleInstances?$filter=principalId eq '{id}'`.
pub(crate) fn role_eligibility(ctx: &Ctx<'_>, query: &Query) -> Reply {
    if !ctx.granted(Operation::ListRoleEligibility) {
        return ctx.forbidden();
    }
    if !ctx.state.config.pim_licence {
        return ctx.error(
            StatusCode::BAD_REQUEST,
            "AadPremiumLicenseRequired",
            LICENCE_MESSAGE,
        );
    }
    let id = match principal(ctx, query, "role eligibility schedule instances") {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    let items = eligibilities(ctx, id)
        .iter()
        .map(|grant| {
            object(json!({
                "id": grant_id(b"role-eligibility-instance", id, grant),
                "principalId": id.to_string(),
                "roleDefinitionId": grant.0.to_string(),
                "directoryScopeId": grant.1,
                "appScopeId": null,
                "startDateTime": ELIGIBLE_FROM,
                "endDateTime": null,
                "memberType": "Direct",
                "roleEligibilityScheduleId": grant_id(b"role-eligibility-schedule", id, grant),
            }))
        })
        .collect();
    page(
        ctx,
        query,
        items,
        "roleEligibilityScheduleInstances",
        INSTANCE_KEYS,
        "unifiedRoleEligibilityScheduleInstance",
    )
}

/// `GET /roleManagement/directory/roleDefinitions/{id}`.
pub(crate) fn role_definition(ctx: &Ctx<'_>, id: &str, query: &Query) -> Reply {
    if !ctx.granted(Operation::ReadRoleDefinition) {
        return ctx.forbidden();
    }
    let dir = &ctx.state.directory;
    let Some(def) = Uuid::try_parse(id)
        .ok()
        .and_then(|uuid| dir.roles.definition(uuid))
    else {
        return ctx.not_found(id);
    };
    let mut items = vec![object(json!({
        "@odata.context": format!(
            "{}/v1.0/$metadata#roleManagement/directory/roleDefinitions/$entity",
            ctx.base()
        ),
        "id": def.id.to_string(),
        "displayName": def.name,
        "description": format!("Members of this role hold {}.", def.name),
        "isBuiltIn": def.built_in,
        "isEnabled": true,
        "templateId": def.id.to_string(),
        "resourceScopes": ["/"],
    }))];
    if let Err(message) = select::pick(
        &mut items,
        query.select.as_deref(),
        DEFINITION_KEYS,
        "unifiedRoleDefinition",
    ) {
        return ctx.bad_request(&message);
    }
    Reply::json(StatusCode::OK, Value::Object(items.remove(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::config::EmulatorConfig;
    use crate::emulator::testing::{FIXTURE, Harness};

    const GA: &str = "62e90394-69f5-4237-9190-012177145e10";
    const UA: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
    const PAA: &str = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13";
    const HELPDESK: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";

    fn filter(id: &str) -> String {
        // Encoded as the client encodes queries.
        let f: String =
            url::form_urlencoded::byte_serialize(format!("principalId eq '{id}'").as_bytes())
                .collect();
        format!("$filter={f}")
    }

    /// (roleDefinitionId, directoryScopeId) of each item, checking the
    /// principal and the other fields on the way.
    fn grants(values: &[Value], principal: &str) -> Vec<(String, String)> {
        values
            .iter()
            .map(|v| {
                assert_eq!(v["principalId"], principal, "{v}");
                assert!(v["id"].is_string() && v["appScopeId"].is_null(), "{v}");
                (
                    v["roleDefinitionId"].as_str().unwrap().to_owned(),
                    v["directoryScopeId"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn g(role: &str, scope: &str) -> (String, String) {
        (role.to_owned(), scope.to_owned())
    }

    async fn assigned(h: &Harness, id: String) -> Vec<(String, String)> {
        let a = h
            .call(
                "GET",
                &format!("/roleManagement/directory/roleAssignments?{}", filter(&id)),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert!(
            a.body["@odata.context"]
                .as_str()
                .unwrap()
                .ends_with("$metadata#roleManagement/directory/roleAssignments")
        );
        grants(a.values(), &id)
    }

    #[tokio::test]
    async fn assignments_of_users_groups_and_the_app() {
        let h = Harness::new(FIXTURE, EmulatorConfig::default());
        let dir = &h.state.directory;
        assert_eq!(assigned(&h, h.id("admin@contoso.com")).await, [g(GA, "/")]);
        // Not transitive: the group's Global Administrator is the group's.
        assert_eq!(assigned(&h, h.id("member@contoso.com")).await, [g(UA, "/")]);
        let tier0 = dir
            .objects
            .groups
            .iter()
            .find(|g| &*g.name == "Tier0 Admins")
            .unwrap();
        assert_eq!(assigned(&h, tier0.id.to_string()).await, [g(GA, "/")]);
        let custom = dir
            .roles
            .definition_named("Helpdesk Tier 2")
            .unwrap()
            .to_string();
        assert_ne!(custom, GA);
        assert_eq!(
            assigned(&h, h.id("custom@contoso.com")).await,
            [g(&custom, "/")]
        );
        let west = dir
            .objects
            .units
            .iter()
            .find(|u| &*u.name == "Region West")
            .unwrap();
        assert_eq!(
            assigned(&h, h.id("scoped@contoso.com")).await,
            [g(HELPDESK, &format!("/administrativeUnits/{}", west.id))]
        );
        for upn in ["plain", "eligible", "owner", "restricted"] {
            assert_eq!(
                assigned(&h, h.id(&format!("{upn}@contoso.com"))).await,
                [],
                "{upn}"
            );
        }
        assert_eq!(assigned(&h, Uuid::from_u128(9).to_string()).await, []);
        // The token's oid is the app's service principal.
        assert_eq!(assigned(&h, h.oid()).await, [g(UA, "/")]);
        let none = Harness::new(
            FIXTURE,
            EmulatorConfig {
                app_roles: Vec::new(),
                ..EmulatorConfig::default()
            },
        );
        let a = none
            .call(
                "GET",
                &format!(
                    "/roleManagement/directory/roleAssignments?{}",
                    filter(&none.oid())
                ),
                None,
            )
            .await;
        assert_eq!(a.values(), [] as [Value; 0]);
        let paa = Harness::new(
            FIXTURE,
            EmulatorConfig {
                privileged_admin: true,
                ..EmulatorConfig::default()
            },
        );
        let a = paa
            .call(
                "GET",
                &format!(
                    "/roleManagement/directory/roleAssignments?{}&$select=roleDefinitionId",
                    filter(&paa.oid())
                ),
                None,
            )
            .await;
        assert_eq!(
            a.body["value"],
            serde_json::json!([{"roleDefinitionId": UA}, {"roleDefinitionId": PAA}])
        );
    }

    #[tokio::test]
    async fn only_the_principal_filter_is_served() {
        let h = Harness::new(FIXTURE, EmulatorConfig::default());
        let id = h.id("admin@contoso.com");
        for query in [
            format!("$filter=roleDefinitionId%20eq%20'{GA}'"),
            format!("$filter=principalId%20eq%20'{id}'%20and%20directoryScopeId%20eq%20'/'"),
            "$filter=principalId%20eq%20'admin@contoso.com'".to_owned(),
        ] {
            for set in ["roleAssignments", "roleEligibilityScheduleInstances"] {
                let a = h
                    .call(
                        "GET",
                        &format!("/roleManagement/directory/{set}?{query}"),
                        None,
                    )
                    .await;
                assert_eq!(
                    (a.status, a.code()),
                    (StatusCode::BAD_REQUEST, "BadRequest")
                );
                assert_eq!(a.body["error"]["message"], "Invalid filter clause");
            }
        }
        let a = h
            .call("GET", "/roleManagement/directory/roleAssignments", None)
            .await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::BAD_REQUEST, "Request_UnsupportedQuery")
        );
        let a = h
            .call(
                "GET",
                &format!("/users/{id}/transitiveMemberOf?{}", filter(&id)),
                None,
            )
            .await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::BAD_REQUEST, "Request_UnsupportedQuery")
        );
        let a = h
            .call_as(
                &["User.Read.All"],
                "GET",
                &format!("/roleManagement/directory/roleAssignments?{}", filter(&id)),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn eligibility_and_the_licence() {
        let h = Harness::new(FIXTURE, EmulatorConfig::default());
        let id = h.id("eligible@contoso.com");
        let url = format!(
            "/roleManagement/directory/roleEligibilityScheduleInstances?{}",
            filter(&id)
        );
        let a = h.call("GET", &url, None).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(grants(a.values(), &id), [g(PAA, "/")]);
        let v = &a.values()[0];
        assert_eq!(
            (&v["startDateTime"], &v["endDateTime"], &v["memberType"]),
            (
                &serde_json::json!(ELIGIBLE_FROM),
                &Value::Null,
                &serde_json::json!("Direct")
            )
        );
        assert!(v["roleEligibilityScheduleId"].is_string());
        // Eligibility is not an assignment, and assignments are not eligibility.
        let a = h
            .call(
                "GET",
                &format!("/roleManagement/directory/roleAssignments?{}", filter(&id)),
                None,
            )
            .await;
        assert_eq!(a.values(), [] as [Value; 0]);
        let admin = h.id("admin@contoso.com");
        let a = h
            .call(
                "GET",
                &format!(
                    "/roleManagement/directory/roleEligibilityScheduleInstances?{}",
                    filter(&admin)
                ),
                None,
            )
            .await;
        assert_eq!(a.values(), [] as [Value; 0]);
        // Directory.Read.All does not cover PIM.
        let a = h
            .call_as(&["User.Read.All", "Directory.Read.All"], "GET", &url, None)
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);

        let unlicensed = Harness::new(
            FIXTURE,
            EmulatorConfig {
                pim_licence: false,
                ..EmulatorConfig::default()
            },
        );
        let a = unlicensed.call("GET", &url, None).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::BAD_REQUEST, "AadPremiumLicenseRequired")
        );
        assert_eq!(a.body["error"]["message"], LICENCE_MESSAGE);
        assert!(a.body["error"]["innerError"]["request-id"].is_string());
        // Role assignments do not need the licence.
        let a = unlicensed
            .call(
                "GET",
                &format!(
                    "/roleManagement/directory/roleAssignments?{}",
                    filter(&admin)
                ),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn role_definitions_by_id() {
        let h = Harness::new(FIXTURE, EmulatorConfig::default());
        let custom = h
            .state
            .directory
            .roles
            .definition_named("Helpdesk Tier 2")
            .unwrap()
            .to_string();
        let a = h
            .call(
                "GET",
                &format!("/roleManagement/directory/roleDefinitions/{custom}"),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(
            (&a.body["id"], &a.body["templateId"], &a.body["displayName"]),
            (
                &serde_json::json!(custom),
                &serde_json::json!(custom),
                &serde_json::json!("Helpdesk Tier 2")
            )
        );
        assert_eq!(
            (&a.body["isBuiltIn"], &a.body["isEnabled"]),
            (&Value::Bool(false), &Value::Bool(true))
        );
        // Built-in definitions: id == templateId, whether or not anyone holds them.
        for (id, name) in [
            (GA, "Global Administrator"),
            (PAA, "Privileged Authentication Administrator"),
        ] {
            let a = h
                .call(
                    "GET",
                    &format!("/roleManagement/directory/roleDefinitions/{id}"),
                    None,
                )
                .await;
            assert_eq!(
                (&a.body["displayName"], &a.body["isBuiltIn"]),
                (&serde_json::json!(name), &Value::Bool(true))
            );
            assert_eq!(a.body["templateId"], id);
        }
        let a = h
            .call(
                "GET",
                &format!("/roleManagement/directory/roleDefinitions('{GA}')?$select=displayName"),
                None,
            )
            .await;
        assert_eq!(
            a.body.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["@odata.context", "displayName"]
        );
        for unknown in [Uuid::from_u128(5).to_string(), "not-a-guid".to_owned()] {
            let a = h
                .call(
                    "GET",
                    &format!("/roleManagement/directory/roleDefinitions/{unknown}"),
                    None,
                )
                .await;
            assert_eq!(
                (a.status, a.code()),
                (StatusCode::NOT_FOUND, "Request_ResourceNotFound")
            );
        }
        let a = h
            .call_as(
                &["User.Read.All"],
                "GET",
                &format!("/roleManagement/directory/roleDefinitions/{GA}"),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn the_one_filter() {
        let id = "8a1c0e2f-1b2c-4d3e-8f4a-5b6c7d8e9f01";
        assert_eq!(
            principal_filter(&format!("principalId eq '{id}'")),
            Some(id)
        );
        assert_eq!(
            principal_filter(&format!("  PrincipalID   EQ  '{id}' ")),
            Some(id)
        );
        for bad in [
            format!("principalId eq {id}"),
            format!("principalId ne '{id}'"),
            format!("principalIdeq '{id}'"),
            format!("roleDefinitionId eq '{id}'"),
            format!("principalId eq '{id}' and directoryScopeId eq '/'"),
            "principalId eq 'a'b'".to_owned(),
            "principalId".to_owned(),
            "é".to_owned(),
            String::new(),
        ] {
            assert_eq!(principal_filter(&bad), None, "{bad}");
        }
    }
}
