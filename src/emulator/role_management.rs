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
