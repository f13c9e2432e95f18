//! A user's memberships and ownerships: `transitiveMemberOf` (groups,
//! directory roles held directly or through role-assignable groups,
//! administrative units), `memberOf` (direct only; with the
//! `microsoft.graph.directoryRole` cast, roles only) and `ownedObjects`,
//! paged, with Graph's "limited information" for the types the token may
//! not read.

use serde_json::Value;

use super::ctx::{Ctx, Page};
use super::directory::{Directory, User};
use super::query::Query;
use super::response::Reply;
use super::select::{self, Object};
use crate::graph::permissions::Operation;

/// Permissions that let an app see a group's properties in these lists.
const GROUP_READERS: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
];
/// ... an administrative unit's.
const UNIT_READERS: &[&str] = &[
    "AdministrativeUnit.Read.All",
    "Directory.Read.All",
    "AdministrativeUnit.ReadWrite.All",
    "Directory.ReadWrite.All",
];
/// ... a directory role's.
const ROLE_READERS: &[&str] = &[
    "RoleManagement.Read.Directory",
    "Directory.Read.All",
    "RoleManagement.Read.All",
    "RoleManagement.ReadWrite.Directory",
    "Directory.ReadWrite.All",
];
/// ... an application's.
const APP_READERS: &[&str] = &[
    "Application.Read.All",
    "Directory.Read.All",
    "Application.ReadWrite.All",
    "Directory.ReadWrite.All",
];

/// Which list of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum List {
    /// `memberOf`: direct roles, groups and units.
    MemberOf,
    /// `memberOf/microsoft.graph.directoryRole`: direct roles only.
    DirectoryRoles,
    /// `transitiveMemberOf`.
    Transitive,
    /// `ownedObjects`.
    Owned,
}

impl List {
    fn path(self) -> &'static str {
        match self {
            List::MemberOf => "memberOf",
            List::DirectoryRoles => "memberOf/microsoft.graph.directoryRole",
            List::Transitive => "transitiveMemberOf",
            List::Owned => "ownedObjects",
        }
    }
}

/// The objects of `list` for `user`, in a stable order: roles, groups,
/// units, applications.
fn objects<'a>(dir: &'a Directory, user: &User, list: List) -> Vec<Object<'a>> {
    let e = user.extras();
    let o = &dir.objects;
    let roles: Vec<u16> = match list {
        List::MemberOf | List::DirectoryRoles => user.roles().to_vec(),
        List::Transitive => dir.transitive_roles(user),
        List::Owned => Vec::new(),
    };
    let mut out: Vec<Object<'a>> = roles
        .iter()
        .filter_map(|r| dir.roles.get(*r))
        .map(Object::Role)
        .collect();
    let (groups, units, apps): (&[u32], &[u32], &[u32]) = match list {
        List::DirectoryRoles => (&[], &[], &[]),
        List::MemberOf | List::Transitive => (&e.groups, &e.units, &[]),
        List::Owned => (&e.owned_groups, &[], &e.owned_apps),
    };
    out.extend(
        groups
            .iter()
            .filter_map(|g| o.group_at(*g))
            .map(Object::Group),
    );
    out.extend(units.iter().filter_map(|u| o.unit_at(*u)).map(Object::Unit));
    out.extend(apps.iter().filter_map(|a| o.app_at(*a)).map(Object::App));
    out
}

/// Whether the token lacks the permission to see `object`'s properties.
fn limited(ctx: &Ctx<'_>, object: &Object<'_>) -> bool {
    let readers = match object {
        Object::Role(_) => ROLE_READERS,
        Object::Group(_) => GROUP_READERS,
        Object::Unit(_) => UNIT_READERS,
        Object::App(_) => APP_READERS,
    };
    !ctx.holds_any(readers)
}

/// `GET /users/{key}/<list>`. `memberOf` (both forms) keeps remedy's
/// older rule, Directory.Read.All; the others need only a user read
/// permission and show limited information for what the token may not
/// read (as Graph documents).
pub(crate) fn list(ctx: &Ctx<'_>, key: &str, list: List, query: &Query) -> Reply {
    let op = match list {
        List::MemberOf | List::DirectoryRoles => Operation::ListDirectoryRoles,
        List::Transitive | List::Owned => Operation::ReadUser,
    };
    if !ctx.granted(op) {
        return ctx.forbidden();
    }
    if list == List::DirectoryRoles {
        return directory_roles(ctx, key, query);
    }
    let selection = match select::parse_object(query.select.as_deref()) {
        Ok(s) => s,
        Err(message) => return ctx.bad_request(&message),
    };
    let user = match ctx.find(key) {
        Ok(u) => u,
        Err(reply) => return reply,
    };
    let all = objects(&ctx.state.directory, user, list);
    let page = match Page::new(ctx, query, all.len()) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let items: Vec<Value> = all[page.start..page.end]
        .iter()
        .map(|o| select::render_object(o, &selection, limited(ctx, o)))
        .collect();
    let context = format!(
        "{}/v1.0/$metadata#{}",
        ctx.base(),
        selection.context_set("directoryObjects")
    );
    let next = format!("{}/v1.0/users/{}/{}", ctx.base(), user.id, list.path());
    page.reply(context, items, &next, query)
}

/// `GET /users/{key}/memberOf/microsoft.graph.directoryRole`.
fn directory_roles(ctx: &Ctx<'_>, key: &str, query: &Query) -> Reply {
    let selection = match select::parse_role(query.select.as_deref()) {
        Ok(s) => s,
        Err(message) => return ctx.bad_request(&message),
    };
    let user = match ctx.find(key) {
        Ok(u) => u,
        Err(reply) => return reply,
    };
    let roles = select::roles_of(&ctx.state.directory, user);
    let page = match Page::new(ctx, query, roles.len()) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let items = roles[page.start..page.end]
        .iter()
        .map(|r| select::render_role(r, &selection))
        .collect();
    let context = format!(
        "{}/v1.0/$metadata#{}",
        ctx.base(),
        selection.context_set("directoryRoles")
    );
    let next = format!(
        "{}/v1.0/users/{}/{}",
        ctx.base(),
        user.id,
        List::DirectoryRoles.path()
    );
    page.reply(context, items, &next, query)
}

#[cfg(test)]
mod tests {
    use hyper::StatusCode;
    use serde_json::json;

    use super::*;
    use crate::emulator::config::EmulatorConfig;
    use crate::emulator::testing::{FIXTURE, Harness};

    const SELECT: &str =
        "$select=id,displayName,isAssignableToRole,isManagementRestricted,roleTemplateId";

    fn names(values: &[Value]) -> Vec<(String, String)> {
        values
            .iter()
            .map(|v| {
                (
                    v["@odata.type"].as_str().unwrap().to_owned(),
                    v["displayName"].as_str().unwrap_or("<null>").to_owned(),
                )
            })
            .collect()
    }

    fn pair(t: &str, n: &str) -> (String, String) {
        (format!("#microsoft.graph.{t}"), n.to_owned())
    }

    #[tokio::test]
    async fn transitive_lists_roles_through_groups_groups_and_units() {
        let h = Harness::new(FIXTURE, EmulatorConfig::default());
        let a = h
            .call(
                "GET",
                &format!("/users/member@contoso.com/transitiveMemberOf?{SELECT}&$top=999"),
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(
            names(a.values()),
            [
                pair("directoryRole", "User Administrator"),
                pair("directoryRole", "Global Administrator"),
                pair("group", "Tier0 Admins"),
                pair("group", "Identity Operators"),
                pair("group", "Sales"),
                pair("administrativeUnit", "Region West"),
            ]
        );
        let v = a.values();
        assert_eq!(
            v[1]["roleTemplateId"],
            "62e90394-69f5-4237-9190-012177145e10"
        );
        assert_eq!(v[2]["isAssignableToRole"], true);
        assert_eq!(v[4]["isAssignableToRole"], false);
        assert_eq!(v[5]["isManagementRestricted"], false);
        assert!(v[2].get("roleTemplateId").is_none(), "{}", v[2]);
        assert!(v[0].get("isAssignableToRole").is_none(), "{}", v[0]);
        assert!(
            a.body["@odata.context"]
                .as_str()
                .unwrap()
                .ends_with("$metadata#directoryObjects(id,displayName,isAssignableToRole,isManagementRestricted,roleTemplateId)")
        );

        // Direct memberOf sees neither the group's role nor anything of W3/W4.
        let a = h
            .call("GET", "/users/member@contoso.com/memberOf", None)
            .await;
        assert_eq!(
            names(a.values()),
            [
                pair("directoryRole", "User Administrator"),
                pair("group", "Tier0 Admins"),
                pair("group", "Identity Operators"),
                pair("group", "Sales"),
                pair("administrativeUnit", "Region West"),
            ]
        );
        let a = h
            .call(
                "GET",
                "/users/member@contoso.com/memberOf/microsoft.graph.directoryRole",
                None,
            )
            .await;
        assert_eq!(
            names(a.values()),
            [pair("directoryRole", "User Administrator")]
        );

        for upn in ["custom", "scoped", "eligible"] {
            let a = h
                .call(
                    "GET",
                    &format!("/users/{upn}@contoso.com/transitiveMemberOf"),
                    None,
                )
                .await;
            assert_eq!(a.values(), [] as [Value; 0], "{upn}: {}", a.body);
        }
        let a = h
            .call(
                "GET",
                &format!("/users/restricted@contoso.com/transitiveMemberOf?{SELECT}"),
                None,
            )
            .await;
        assert_eq!(
            a.values()[1],
            json!({"@odata.type": "#microsoft.graph.administrativeUnit",
                   "id": h.state.directory.objects.units.iter().find(|u| &*u.name == "Executives").unwrap().id.to_string(),
                   "displayName": "Executives", "isManagementRestricted": true})
        );
    }

    #[tokio::test]
    async fn owned_objects_list_groups_and_other_types() {
        let h = Harness::new(FIXTURE, EmulatorConfig::default());
        let a = h
            .call(
                "GET",
                "/users/owner@contoso.com/ownedObjects?$select=id,displayName,isAssignableToRole&$top=999",
                None,
            )
            .await;
        assert_eq!(
            names(a.values()),
            [
                pair("group", "Tier0 Admins"),
                pair("application", "Payroll")
            ]
        );
        assert_eq!(a.values()[0]["isAssignableToRole"], true);
        assert_eq!(a.values()[1].as_object().unwrap().len(), 3, "{}", a.body);
        let a = h
            .call("GET", "/users/plain@contoso.com/ownedObjects", None)
            .await;
        assert_eq!((a.status, a.values().len()), (StatusCode::OK, 0));
    }

    #[tokio::test]
    async fn types_the_token_may_not_read_come_back_limited() {
        let h = Harness::new(FIXTURE, EmulatorConfig::default());
        let url = format!("/users/member@contoso.com/transitiveMemberOf?{SELECT}");
        let a = h.call_as(&["User.Read.All"], "GET", &url, None).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        for v in a.values() {
            let object = v.as_object().unwrap();
            assert!(v["id"].is_string(), "{v}");
            for (key, value) in object {
                if key != "id" && key != "@odata.type" {
                    assert!(value.is_null(), "{key} in {v}");
                }
            }
        }
        assert_eq!(a.values().len(), 6);
        // Groups readable, units and roles not.
        let a = h
            .call_as(
                &["User.Read.All", "GroupMember.Read.All"],
                "GET",
                &url,
                None,
            )
            .await;
        let v = a.values();
        assert_eq!(v[2]["displayName"], "Tier0 Admins");
        assert_eq!(v[2]["isAssignableToRole"], true);
        assert!(v[0]["displayName"].is_null() && v[0]["roleTemplateId"].is_null());
        assert!(v[5]["isManagementRestricted"].is_null());
        let a = h
            .call_as(
                &[
                    "User.Read.All",
                    "AdministrativeUnit.Read.All",
                    "RoleManagement.Read.Directory",
                ],
                "GET",
                &url,
                None,
            )
            .await;
        let v = a.values();
        assert_eq!(
            v[0]["roleTemplateId"],
            "fe930be7-5e62-47db-91af-98c3a49a38b1"
        );
        assert_eq!(v[5]["isManagementRestricted"], false);
        assert!(v[2]["isAssignableToRole"].is_null());
        let a = h
            .call_as(
                &["User.Read.All"],
                "GET",
                "/users/owner@contoso.com/ownedObjects",
                None,
            )
            .await;
        assert!(
            a.values().iter().all(|v| v["displayName"].is_null()),
            "{}",
            a.body
        );

        // Without a user read permission the call itself is refused.
        for path in ["transitiveMemberOf", "ownedObjects"] {
            let url = format!("/users/member@contoso.com/{path}");
            let a = h.call_as(&["Group.Read.All"], "GET", &url, None).await;
            assert_eq!(
                (a.status, a.code()),
                (StatusCode::FORBIDDEN, "Authorization_RequestDenied")
            );
        }
        let a = h
            .call("GET", "/users/nobody@contoso.com/transitiveMemberOf", None)
            .await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::NOT_FOUND, "Request_ResourceNotFound")
        );
        let a = h
            .call(
                "GET",
                "/users/member@contoso.com/transitiveMemberOf?$select=jobTitle",
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn long_lists_page_with_next_links() {
        let h = Harness::new(FIXTURE, EmulatorConfig::default());
        let mut url = format!("/users/member@contoso.com/transitiveMemberOf?{SELECT}&$top=4");
        let mut seen = Vec::new();
        for _ in 0..5 {
            let a = h.call("GET", &url, None).await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.body);
            seen.extend(names(a.values()));
            let Some(next) = a.body["@odata.nextLink"].as_str() else {
                break;
            };
            assert!(next.contains("$select=id%2CdisplayName"), "{next}");
            url = next
                .strip_prefix("http://127.0.0.1/v1.0")
                .unwrap()
                .to_owned();
        }
        assert_eq!(seen.len(), 6);
        assert_eq!(seen[5], pair("administrativeUnit", "Region West"));
    }
}
