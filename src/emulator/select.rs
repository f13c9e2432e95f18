//! `$select`: the properties a user, a directory role and the other
//! directory objects of membership lists expose, the default set Graph
//! returns without `$select`, and rendering an object with the chosen
//! properties (or with limited information).

use serde_json::{Map, Value, json};

use super::clock;
use super::directory::{Directory, User};
use super::objects::{App, Group, Unit};
use super::roles::Role;

/// User properties the emulator knows. The ones it does not model
/// (`jobTitle`, phones, ...) are `null` (or `[]`), as on a sparse real user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserProp {
    Id,
    UserPrincipalName,
    DisplayName,
    AccountEnabled,
    OnPremisesSyncEnabled,
    LastPasswordChangeDateTime,
    SignInSessionsValidFromDateTime,
    UserType,
    PasswordPolicies,
    PasswordProfile,
    Mail,
    MailNickname,
    GivenName,
    Surname,
    BusinessPhones,
    JobTitle,
    MobilePhone,
    OfficeLocation,
    PreferredLanguage,
}

const USER_PROPS: &[(UserProp, &str)] = &[
    (UserProp::Id, "id"),
    (UserProp::UserPrincipalName, "userPrincipalName"),
    (UserProp::DisplayName, "displayName"),
    (UserProp::AccountEnabled, "accountEnabled"),
    (UserProp::OnPremisesSyncEnabled, "onPremisesSyncEnabled"),
    (
        UserProp::LastPasswordChangeDateTime,
        "lastPasswordChangeDateTime",
    ),
    (
        UserProp::SignInSessionsValidFromDateTime,
        "signInSessionsValidFromDateTime",
    ),
    (UserProp::UserType, "userType"),
    (UserProp::PasswordPolicies, "passwordPolicies"),
    (UserProp::PasswordProfile, "passwordProfile"),
    (UserProp::Mail, "mail"),
    (UserProp::MailNickname, "mailNickname"),
    (UserProp::GivenName, "givenName"),
    (UserProp::Surname, "surname"),
    (UserProp::BusinessPhones, "businessPhones"),
    (UserProp::JobTitle, "jobTitle"),
    (UserProp::MobilePhone, "mobilePhone"),
    (UserProp::OfficeLocation, "officeLocation"),
    (UserProp::PreferredLanguage, "preferredLanguage"),
];

/// What Graph returns for a user without `$select` (no `accountEnabled`).
const USER_DEFAULT: &[UserProp] = &[
    UserProp::BusinessPhones,
    UserProp::DisplayName,
    UserProp::GivenName,
    UserProp::JobTitle,
    UserProp::Mail,
    UserProp::MobilePhone,
    UserProp::OfficeLocation,
    UserProp::PreferredLanguage,
    UserProp::Surname,
    UserProp::UserPrincipalName,
    UserProp::Id,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RoleProp {
    Id,
    DisplayName,
    RoleTemplateId,
    Description,
    DeletedDateTime,
}

const ROLE_PROPS: &[(RoleProp, &str)] = &[
    (RoleProp::Id, "id"),
    (RoleProp::DeletedDateTime, "deletedDateTime"),
    (RoleProp::Description, "description"),
    (RoleProp::DisplayName, "displayName"),
    (RoleProp::RoleTemplateId, "roleTemplateId"),
];

/// Properties chosen by `$select` (or the defaults), in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selection<P: 'static> {
    props: Vec<P>,
    /// The `$select` list as the `@odata.context` shows it; `None` when
    /// there was no `$select`.
    listed: Option<String>,
}

/// Parse a `$select` value against `table`; `Err` carries Graph's message
/// for the first unknown property.
fn parse<P: Copy + PartialEq>(
    select: Option<&str>,
    table: &[(P, &'static str)],
    defaults: &[P],
    type_name: &str,
) -> Result<Selection<P>, String> {
    let Some(select) = select.filter(|s| !s.trim().is_empty()) else {
        return Ok(Selection {
            props: defaults.to_vec(),
            listed: None,
        });
    };
    let mut props = Vec::new();
    let mut names = Vec::new();
    for name in select.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let Some((prop, canonical)) = table.iter().find(|(_, n)| n.eq_ignore_ascii_case(name))
        else {
            return Err(format!(
                "Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'."
            ));
        };
        if !props.contains(prop) {
            props.push(*prop);
            names.push(*canonical);
        }
    }
    Ok(Selection {
        props,
        listed: Some(names.join(",")),
    })
}

pub(crate) fn parse_user(select: Option<&str>) -> Result<Selection<UserProp>, String> {
    parse(select, USER_PROPS, USER_DEFAULT, "user")
}

pub(crate) fn parse_role(select: Option<&str>) -> Result<Selection<RoleProp>, String> {
    let all: Vec<RoleProp> = ROLE_PROPS.iter().map(|(p, _)| *p).collect();
    parse(select, ROLE_PROPS, &all, "directoryRole")
}

impl<P> Selection<P> {
    /// `users(id,accountEnabled)` or `users` for an `@odata.context`.
    pub(crate) fn context_set(&self, set: &str) -> String {
        match &self.listed {
            Some(list) => format!("{set}({list})"),
            None => set.to_owned(),
        }
    }
}

fn name_of<P: PartialEq>(table: &[(P, &'static str)], prop: &P) -> &'static str {
    table.iter().find(|(p, _)| p == prop).map_or("", |(_, n)| n)
}

/// A user's selected properties (no `@odata.context`; the caller adds it
/// to an entity, not to collection items).
pub(crate) fn render_user(user: &User, selection: &Selection<UserProp>) -> Map<String, Value> {
    let mut out = Map::new();
    let state = user.state();
    for prop in &selection.props {
        let value = match prop {
            UserProp::Id => json!(user.id.to_string()),
            UserProp::UserPrincipalName => json!(user.upn()),
            UserProp::DisplayName => json!(
                state
                    .display_name
                    .as_deref()
                    .unwrap_or(user.seeded_display_name())
            ),
            UserProp::AccountEnabled => json!(state.enabled),
            UserProp::OnPremisesSyncEnabled => {
                if user.synced {
                    json!(true)
                } else {
                    Value::Null
                }
            }
            UserProp::LastPasswordChangeDateTime => json!(clock::iso(state.last_password_change)),
            UserProp::SignInSessionsValidFromDateTime => {
                json!(clock::iso(state.sessions_valid_from))
            }
            UserProp::UserType => json!(if user.guest { "Guest" } else { "Member" }),
            UserProp::Mail => json!(user.mail()),
            UserProp::MailNickname => json!(user.mail_nickname()),
            UserProp::GivenName => non_empty(user.given_name()),
            UserProp::Surname => non_empty(user.surname()),
            UserProp::BusinessPhones => json!([]),
            UserProp::PasswordPolicies
            | UserProp::PasswordProfile
            | UserProp::JobTitle
            | UserProp::MobilePhone
            | UserProp::OfficeLocation
            | UserProp::PreferredLanguage => Value::Null,
        };
        out.insert(name_of(USER_PROPS, prop).to_owned(), value);
    }
    out
}

fn non_empty(s: &str) -> Value {
    if s.is_empty() { Value::Null } else { json!(s) }
}

/// One item of a `memberOf/microsoft.graph.directoryRole` page.
pub(crate) fn render_role(role: &Role, selection: &Selection<RoleProp>) -> Value {
    let mut out = Map::new();
    out.insert(
        "@odata.type".to_owned(),
        json!("#microsoft.graph.directoryRole"),
    );
    for prop in &selection.props {
        let value = match prop {
            RoleProp::Id => json!(role.object_id.to_string()),
            RoleProp::DisplayName => json!(&*role.name),
            RoleProp::RoleTemplateId => json!(role.template_id.to_string()),
            RoleProp::Description => json!(role_description(role)),
            RoleProp::DeletedDateTime => Value::Null,
        };
        out.insert(name_of(ROLE_PROPS, prop).to_owned(), value);
    }
    Value::Object(out)
}

/// Roles of `user` in a stable order (as seeded).
pub(crate) fn roles_of<'a>(dir: &'a Directory, user: &User) -> Vec<&'a Role> {
    user.roles()
        .iter()
        .filter_map(|r| dir.roles.get(*r))
        .collect()
}

/// Properties of the directory objects in membership and ownership lists
/// (`transitiveMemberOf`, `memberOf`, `ownedObjects`), across their types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectProp {
    Id,
    DeletedDateTime,
    DisplayName,
    Description,
    RoleTemplateId,
    IsAssignableToRole,
    SecurityEnabled,
    MailEnabled,
    GroupTypes,
    IsManagementRestricted,
    Visibility,
}

const OBJECT_PROPS: &[(ObjectProp, &str)] = &[
    (ObjectProp::Id, "id"),
    (ObjectProp::DeletedDateTime, "deletedDateTime"),
    (ObjectProp::DisplayName, "displayName"),
    (ObjectProp::Description, "description"),
    (ObjectProp::RoleTemplateId, "roleTemplateId"),
    (ObjectProp::IsAssignableToRole, "isAssignableToRole"),
    (ObjectProp::SecurityEnabled, "securityEnabled"),
    (ObjectProp::MailEnabled, "mailEnabled"),
    (ObjectProp::GroupTypes, "groupTypes"),
    (ObjectProp::IsManagementRestricted, "isManagementRestricted"),
    (ObjectProp::Visibility, "visibility"),
];

/// `$select` over a collection of directory objects of several types: a
/// name any of them has is accepted.
pub(crate) fn parse_object(select: Option<&str>) -> Result<Selection<ObjectProp>, String> {
    let all: Vec<ObjectProp> = OBJECT_PROPS.iter().map(|(p, _)| *p).collect();
    parse(select, OBJECT_PROPS, &all, "directoryObject")
}

/// One item of a membership or ownership list.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Object<'a> {
    Role(&'a Role),
    Group(&'a Group),
    Unit(&'a Unit),
    App(&'a App),
}

impl Object<'_> {
    pub(crate) fn odata_type(&self) -> &'static str {
        match self {
            Object::Role(_) => "#microsoft.graph.directoryRole",
            Object::Group(_) => "#microsoft.graph.group",
            Object::Unit(_) => "#microsoft.graph.administrativeUnit",
            Object::App(_) => "#microsoft.graph.application",
        }
    }

    /// The value of `prop`, or `None` when this type has no such property.
    fn value(&self, prop: ObjectProp) -> Option<Value> {
        use ObjectProp as P;
        let common = |id: &uuid::Uuid, name: &str| match prop {
            P::Id => Some(json!(id.to_string())),
            P::DisplayName => Some(json!(name)),
            P::DeletedDateTime => Some(Value::Null),
            _ => None,
        };
        match self {
            Object::Role(r) => match prop {
                P::Id => Some(json!(r.object_id.to_string())),
                P::RoleTemplateId => Some(json!(r.template_id.to_string())),
                P::Description => Some(json!(role_description(r))),
                _ => common(&r.object_id, &r.name),
            },
            Object::Group(g) => match prop {
                P::Description | P::Visibility => Some(Value::Null),
                P::IsAssignableToRole => Some(json!(g.assignable)),
                P::SecurityEnabled => Some(json!(true)),
                P::MailEnabled => Some(json!(false)),
                P::GroupTypes => Some(json!([])),
                _ => common(&g.id, &g.name),
            },
            Object::Unit(u) => match prop {
                P::Description | P::Visibility => Some(Value::Null),
                P::IsManagementRestricted => Some(json!(u.restricted)),
                _ => common(&u.id, &u.name),
            },
            Object::App(a) => common(&a.id, &a.name),
        }
    }
}

fn role_description(role: &Role) -> String {
    format!("Members of this role hold {}.", role.name)
}

/// One directory object with the selected properties its type has. With
/// `limited` (the token may not read this type), every property but `id`
/// is `null`, as Graph's "limited information".
pub(crate) fn render_object(
    object: &Object<'_>,
    selection: &Selection<ObjectProp>,
    limited: bool,
) -> Value {
    let mut out = Map::new();
    out.insert("@odata.type".to_owned(), json!(object.odata_type()));
    for prop in &selection.props {
        let Some(value) = object.value(*prop) else {
            continue;
        };
        let value = if limited && *prop != ObjectProp::Id {
            Value::Null
        } else {
            value
        };
        out.insert(name_of(OBJECT_PROPS, prop).to_owned(), value);
    }
    Value::Object(out)
}

/// Keep only the `$select`ed keys of `items` (objects whose keys are
/// `keys`); `Err` is Graph's message for a name `type_name` lacks.
pub(crate) fn pick(
    items: &mut [Map<String, Value>],
    select: Option<&str>,
    keys: &[&str],
    type_name: &str,
) -> Result<(), String> {
    let Some(select) = select.filter(|s| !s.trim().is_empty()) else {
        return Ok(());
    };
    let mut wanted = Vec::new();
    for name in select.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let Some(key) = keys.iter().find(|k| k.eq_ignore_ascii_case(name)) else {
            return Err(format!(
                "Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'."
            ));
        };
        wanted.push(*key);
    }
    for item in items {
        item.retain(|k, _| k.starts_with("@odata.") || wanted.contains(&k.as_str()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_parsing() {
        let s = parse_user(Some("id, AccountEnabled,id")).unwrap();
        assert_eq!(s.props, [UserProp::Id, UserProp::AccountEnabled]);
        assert_eq!(s.context_set("users"), "users(id,accountEnabled)");
        let d = parse_user(None).unwrap();
        assert!(!d.props.contains(&UserProp::AccountEnabled));
        assert_eq!(d.context_set("users"), "users");
        assert_eq!(parse_user(Some(" ")).unwrap(), d);
        assert_eq!(
            parse_user(Some("id,shoeSize")).unwrap_err(),
            "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'."
        );
        assert!(parse_role(Some("id,displayName,roleTemplateId")).is_ok());
        assert!(parse_role(Some("accountEnabled")).is_err());
        assert!(
            parse_object(Some(
                "id,displayName,isAssignableToRole,isManagementRestricted,roleTemplateId"
            ))
            .is_ok()
        );
        assert_eq!(
            parse_object(Some("id,accountEnabled")).unwrap_err(),
            "Could not find a property named 'accountEnabled' on type 'microsoft.graph.directoryObject'."
        );
    }

    #[test]
    fn objects_carry_only_their_types_properties() {
        let mut roles = crate::emulator::roles::RoleTable::default();
        let ga = roles.intern("Global Administrator", "t").unwrap();
        let mut objects = crate::emulator::objects::Objects::default();
        let g = objects.group("Tier0 Admins", "t", true).unwrap();
        let u = objects.unit("Executives", "t", Some(true)).unwrap();
        let a = objects.app("Payroll", "t").unwrap();
        let sel = parse_object(Some(
            "id,displayName,isAssignableToRole,isManagementRestricted,roleTemplateId",
        ))
        .unwrap();
        let role = roles.get(ga).unwrap();
        let group = objects.group_at(g).unwrap();
        let unit = objects.unit_at(u).unwrap();
        let app = objects.app_at(a).unwrap();
        assert_eq!(
            render_object(&Object::Role(role), &sel, false),
            json!({"@odata.type": "#microsoft.graph.directoryRole", "id": role.object_id.to_string(),
                   "displayName": "Global Administrator", "roleTemplateId": "62e90394-69f5-4237-9190-012177145e10"})
        );
        assert_eq!(
            render_object(&Object::Group(group), &sel, false),
            json!({"@odata.type": "#microsoft.graph.group", "id": group.id.to_string(),
                   "displayName": "Tier0 Admins", "isAssignableToRole": true})
        );
        assert_eq!(
            render_object(&Object::Unit(unit), &sel, true),
            json!({"@odata.type": "#microsoft.graph.administrativeUnit", "id": unit.id.to_string(),
                   "displayName": null, "isManagementRestricted": null})
        );
        assert_eq!(
            render_object(&Object::App(app), &sel, false),
            json!({"@odata.type": "#microsoft.graph.application", "id": app.id.to_string(), "displayName": "Payroll"})
        );
        let all = render_object(&Object::Group(group), &parse_object(None).unwrap(), false);
        assert_eq!(all["groupTypes"], json!([]));
        assert!(all.get("roleTemplateId").is_none());
    }

    #[test]
    fn pick_keeps_the_selected_keys() {
        let mut items = vec![
            json!({"@odata.type": "x", "id": "1", "principalId": "p", "appScopeId": null})
                .as_object()
                .unwrap()
                .clone(),
        ];
        let keys = ["id", "principalId", "appScopeId"];
        pick(
            &mut items,
            Some("PrincipalId"),
            &keys,
            "unifiedRoleAssignment",
        )
        .unwrap();
        assert_eq!(
            Value::Object(items[0].clone()),
            json!({"@odata.type": "x", "principalId": "p"})
        );
        assert!(pick(&mut items, Some("nope"), &keys, "unifiedRoleAssignment").is_err());
        pick(&mut items, None, &keys, "unifiedRoleAssignment").unwrap();
    }
}
