//! `$select`: the properties a user and a directory role expose, the
//! default set Graph returns without `$select`, and rendering an object
//! with the chosen properties.

use serde_json::{Map, Value, json};

use super::clock;
use super::directory::{Directory, User};
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
            RoleProp::Description => json!(format!("Members of this role hold {}.", role.name)),
            RoleProp::DeletedDateTime => Value::Null,
        };
        out.insert(name_of(ROLE_PROPS, prop).to_owned(), value);
    }
    Value::Object(out)
}

/// Roles of `user` in a stable order (as seeded).
pub(crate) fn roles_of<'a>(dir: &'a Directory, user: &User) -> Vec<&'a Role> {
    user.roles
        .iter()
        .filter_map(|r| dir.roles.get(*r))
        .collect()
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
    }
}
