//! The user endpoints: read (`GET /users/{id}`, `GET /users`), update
//! (`PATCH`: password reset, `accountEnabled`, `displayName`) and revoke
//! sessions, with Graph's permission, directory-role, privileged-target,
//! sync and password rules.

use hyper::StatusCode;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::clock;
use super::config::SyncedReset;
use super::ctx::{Ctx, Page};
use super::directory::User;
use super::password::{self, COMPLEXITY_MESSAGE};
use super::query::Query;
use super::response::Reply;
use super::select;
use super::state::State;
use super::stats::bump;
use crate::graph::permissions::Operation;

/// Graph's text when a synced user's `accountEnabled` (or, with
/// `--synced-reset refuse`, its password) is written.
pub(crate) const SYNC_MESSAGE: &str = "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.";
const INVALID_JSON: &str = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.";
/// The "Update user" permissions for properties outside remedy's table.
const UPDATE_PERMISSIONS: &[&str] = &[
    "User.ReadUpdate.All",
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
];
const PROFILE_KEYS: &[&str] = &[
    "password",
    "forceChangePasswordNextSignIn",
    "forceChangePasswordNextSignInWithMfa",
];

/// `GET /users/{key}`.
pub(crate) fn read(ctx: &Ctx<'_>, key: &str, query: &Query) -> Reply {
    if !ctx.granted(Operation::ReadUser) {
        return ctx.forbidden();
    }
    let selection = match select::parse_user(query.select.as_deref()) {
        Ok(s) => s,
        Err(message) => return ctx.bad_request(&message),
    };
    let user = match ctx.find(key) {
        Ok(u) => u,
        Err(reply) => return reply,
    };
    let mut body = Map::new();
    body.insert(
        "@odata.context".to_owned(),
        json!(format!(
            "{}/v1.0/$metadata#{}/$entity",
            ctx.base(),
            selection.context_set("users")
        )),
    );
    body.extend(select::render_user(user, &selection));
    Reply::json(StatusCode::OK, Value::Object(body))
}

/// `GET /users`: every user, paged.
pub(crate) fn list(ctx: &Ctx<'_>, query: &Query) -> Reply {
    if !ctx.granted(Operation::ReadUser) {
        return ctx.forbidden();
    }
    let selection = match select::parse_user(query.select.as_deref()) {
        Ok(s) => s,
        Err(message) => return ctx.bad_request(&message),
    };
    let users = ctx.state.directory.users();
    let page = match Page::new(ctx, query, users.len()) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let items = users[page.start..page.end]
        .iter()
        .map(|u| Value::Object(select::render_user(u, &selection)))
        .collect();
    let context = format!(
        "{}/v1.0/$metadata#{}",
        ctx.base(),
        selection.context_set("users")
    );
    page.reply(context, items, &format!("{}/v1.0/users", ctx.base()), query)
}

/// `POST /users/{key}/revokeSignInSessions`.
pub(crate) fn revoke(ctx: &Ctx<'_>, key: &str) -> Reply {
    if !ctx.granted(Operation::RevokeSessions) {
        return ctx.forbidden();
    }
    let user = match ctx.find(key) {
        Ok(u) => u,
        Err(reply) => return reply,
    };
    let now = clock::now();
    let revokes = {
        let mut s = user.state();
        s.sessions_valid_from = now;
        s.revoke_count = s.revoke_count.saturating_add(1);
        s.revoke_count
    };
    let counters = &ctx.state.counters;
    bump(&counters.revokes);
    if revokes == 2 {
        bump(&counters.users_revoked_more_than_once);
    }
    Reply::json(
        StatusCode::OK,
        json!({
            "@odata.context": format!("{}/v1.0/$metadata#Edm.Boolean", ctx.base()),
            "value": true,
        }),
    )
}

/// A validated PATCH body.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Patch {
    pub account_enabled: Option<bool>,
    /// `Some` when `passwordProfile` is present.
    pub profile: Option<Profile>,
    pub display_name: Option<String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Profile {
    pub password: Option<String>,
    pub force_change: Option<bool>,
    pub force_change_mfa: Option<bool>,
}

impl Patch {
    /// The operations in remedy's permission table this PATCH performs.
    pub(crate) fn operations(&self) -> impl Iterator<Item = Operation> {
        [
            self.profile.as_ref().map(|_| Operation::ResetPassword),
            self.account_enabled.map(|_| Operation::SetAccountEnabled),
        ]
        .into_iter()
        .flatten()
    }
}

/// Check a PATCH body against the writable-property allow-list; `Err` is
/// Graph's (code, message).
pub(crate) fn parse_patch(
    body: Option<&Result<Value, ()>>,
) -> Result<Patch, (&'static str, String)> {
    let object = match body {
        None => {
            return Err((
                "BadRequest",
                "Empty Payload. JSON content expected.".to_owned(),
            ));
        }
        Some(Ok(Value::Object(map))) => map,
        Some(_) => return Err(("BadRequest", INVALID_JSON.to_owned())),
    };
    let invalid_value = |name: &str| {
        (
            "Request_BadRequest",
            format!("Invalid value specified for property '{name}' of resource 'User'."),
        )
    };
    let mut patch = Patch::default();
    for (name, value) in object {
        match name.as_str() {
            n if n.starts_with("@odata.") => {}
            "accountEnabled" => {
                patch.account_enabled = Some(value.as_bool().ok_or_else(|| invalid_value(name))?);
            }
            "displayName" => {
                let text = value
                    .as_str()
                    .filter(|t| !t.trim().is_empty() && t.chars().count() <= 256)
                    .ok_or_else(|| invalid_value(name))?;
                patch.display_name = Some(text.to_owned());
            }
            "passwordProfile" => {
                let Value::Object(fields) = value else {
                    return Err(invalid_value(name));
                };
                let mut profile = Profile::default();
                for (key, v) in fields {
                    match (key.as_str(), v) {
                        ("password", Value::String(p)) => profile.password = Some(p.clone()),
                        ("forceChangePasswordNextSignIn", Value::Bool(b)) => {
                            profile.force_change = Some(*b)
                        }
                        ("forceChangePasswordNextSignInWithMfa", Value::Bool(b)) => {
                            profile.force_change_mfa = Some(*b);
                        }
                        (_, Value::Null) if PROFILE_KEYS.contains(&key.as_str()) => {}
                        (k, _) if PROFILE_KEYS.contains(&k) => return Err(invalid_value(name)),
                        (k, _) => {
                            return Err(("Request_BadRequest", format!("Invalid property '{k}'.")));
                        }
                    }
                }
                patch.profile = Some(profile);
            }
            other => return Err(("Request_BadRequest", format!("Invalid property '{other}'."))),
        }
    }
    Ok(patch)
}

/// `PATCH /users/{key}` with an already validated body.
pub(crate) fn update(ctx: &Ctx<'_>, key: &str, patch: &Patch) -> Reply {
    let permitted = patch.operations().all(|op| ctx.granted(op))
        && (patch.display_name.is_none()
            || UPDATE_PERMISSIONS
                .iter()
                .any(|p| ctx.principal.roles.iter().any(|r| r == p)));
    if !permitted {
        return ctx.forbidden();
    }
    let user = match ctx.find(key) {
        Ok(u) => u,
        Err(reply) => return reply,
    };
    let guarded = patch.profile.is_some() || patch.account_enabled.is_some();
    if guarded && !role_permits(ctx, user) {
        return ctx.forbidden();
    }
    let refuse_reset = ctx.state.config.synced_reset == SyncedReset::Refuse;
    if user.synced && (patch.account_enabled.is_some() || (patch.profile.is_some() && refuse_reset))
    {
        return ctx.bad_request(SYNC_MESSAGE);
    }
    let new_password = patch.profile.as_ref().and_then(|p| p.password.as_deref());
    let hash: Option<[u8; 32]> = match new_password {
        Some(pw) => {
            let tenant = ctx
                .state
                .config
                .tenant_domain
                .split('.')
                .next()
                .unwrap_or_default();
            let personal = [
                user.given_name(),
                user.surname(),
                user.mail_nickname(),
                tenant,
            ];
            if password::check(pw, &personal).is_err() {
                return ctx.bad_request(COMPLEXITY_MESSAGE);
            }
            Some(Sha256::digest(pw.as_bytes()).into())
        }
        None => None,
    };
    apply(ctx.state, user, patch, hash);
    Reply::empty(StatusCode::NO_CONTENT)
}

/// Whether the directory roles of the app's service principal let it reset
/// or enable/disable `user`: some user-changing role for anyone, Privileged
/// Authentication Administrator or Global Administrator for a privileged
/// user, and nothing for a member of a restricted management unit (only a
/// role scoped to that unit would do, and the emulator grants none).
fn role_permits(ctx: &Ctx<'_>, user: &User) -> bool {
    let dir = &ctx.state.directory;
    let held = &dir.app_roles;
    let facts = dir.facts(user);
    dir.roles.may_change_users(held)
        && !facts.restricted
        && (!facts.privileged || dir.roles.may_change_privileged(held))
}

/// Make the change, all under the user's lock, then count it.
fn apply(state: &State, user: &User, patch: &Patch, hash: Option<[u8; 32]>) {
    let now = clock::now();
    let (reset_count, enable_changed) = {
        let mut s = user.state();
        let mut reset_count = None;
        if let Some(profile) = &patch.profile {
            if let Some(hash) = hash {
                s.password_sha256 = Some(Box::new(hash));
                s.last_password_change = now;
                // An admin reset is Entra's documented way to end a lockout.
                s.locked = false;
                s.reset_count = s.reset_count.saturating_add(1);
                reset_count = Some(s.reset_count);
            }
            if let Some(force) = profile.force_change {
                s.force_change = force;
            }
            if let Some(force) = profile.force_change_mfa {
                s.force_change_mfa = force;
            }
        }
        let mut enable_changed = false;
        if let Some(enabled) = patch.account_enabled
            && s.enabled != enabled
        {
            s.enabled = enabled;
            s.enable_changes = s.enable_changes.saturating_add(1);
            enable_changed = true;
        }
        if let Some(name) = &patch.display_name {
            s.display_name = Some(name.as_str().into());
        }
        (reset_count, enable_changed)
    };
    let counters = &state.counters;
    if let Some(count) = reset_count {
        bump(&counters.resets);
        if count == 2 {
            bump(&counters.users_reset_more_than_once);
        }
    }
    if enable_changed {
        bump(&counters.enable_changes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::config::EmulatorConfig;
    use crate::emulator::testing::{FIXTURE, Harness};

    const STRONG: &str = "Xk9#mPq2$vL7wRt4";
    const PRIVILEGED: &[&str] = &[
        "admin",
        "custom",
        "scoped",
        "eligible",
        "member",
        "owner",
        "restricted",
    ];

    fn reset() -> Value {
        json!({"passwordProfile": {"password": STRONG, "forceChangePasswordNextSignIn": true}})
    }

    /// The status of a reset and of a sign-in change of `upn`.
    async fn writes(h: &Harness, upn: &str) -> (StatusCode, StatusCode) {
        let path = format!("/users/{upn}@contoso.com");
        let r = h.call("PATCH", &path, Some(reset())).await;
        let e = h
            .call("PATCH", &path, Some(json!({"accountEnabled": true})))
            .await;
        for a in [&r, &e] {
            if a.status == StatusCode::FORBIDDEN {
                assert_eq!(a.code(), "Authorization_RequestDenied", "{}", a.body);
            }
        }
        (r.status, e.status)
    }

    fn harness(config: EmulatorConfig) -> Harness {
        Harness::new(FIXTURE, config)
    }

    const OK: (StatusCode, StatusCode) = (StatusCode::NO_CONTENT, StatusCode::NO_CONTENT);
    const DENIED: (StatusCode, StatusCode) = (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN);

    #[tokio::test]
    async fn a_user_administrator_app_may_not_change_privileged_users() {
        let h = harness(EmulatorConfig::default());
        assert_eq!(writes(&h, "plain").await, OK);
        for upn in PRIVILEGED {
            assert_eq!(writes(&h, upn).await, DENIED, "{upn}");
            let view = &h.state.users_matching(Some(&format!("{upn}@contoso.com")))[0];
            assert!(view.privileged, "{upn}");
            assert_eq!((view.reset_count, view.enable_changes), (0, 0), "{upn}");
            // Two PATCHes received, whatever they were answered.
            assert_eq!(view.write_attempts, 2, "{upn}");
        }
        // Revoking sessions takes no directory role.
        let a = h
            .call(
                "POST",
                "/users/admin@contoso.com/revokeSignInSessions",
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK);
        let view = &h.state.users_matching(Some("admin@contoso.com"))[0];
        assert_eq!((view.write_attempts, view.revoke_count), (3, 1));
        // A display name is not a sensitive property.
        let a = h
            .call_as(
                &["User.ReadWrite.All"],
                "PATCH",
                "/users/admin@contoso.com",
                Some(json!({"displayName": "Renamed"})),
            )
            .await;
        assert_eq!(a.status, StatusCode::NO_CONTENT);
        // Reads are not write attempts.
        h.call("GET", "/users/plain@contoso.com", None).await;
        let plain = &h.state.users_matching(Some("plain@contoso.com"))[0];
        assert_eq!((plain.write_attempts, plain.reset_count), (2, 1));
    }

    #[tokio::test]
    async fn privileged_authentication_administrators_and_global_admins_may_but_not_in_restricted_units()
     {
        for config in [
            EmulatorConfig {
                privileged_admin: true,
                ..EmulatorConfig::default()
            },
            EmulatorConfig {
                app_roles: vec!["Global Administrator".to_owned()],
                ..EmulatorConfig::default()
            },
        ] {
            let h = harness(config);
            for upn in PRIVILEGED {
                let want = if *upn == "restricted" { DENIED } else { OK };
                assert_eq!(writes(&h, upn).await, want, "{upn}");
            }
            assert_eq!(writes(&h, "plain").await, OK);
        }
    }

    #[tokio::test]
    async fn an_app_without_a_role_may_change_nobody() {
        let h = harness(EmulatorConfig {
            app_roles: Vec::new(),
            ..EmulatorConfig::default()
        });
        assert_eq!(writes(&h, "plain").await, DENIED);
        let a = h
            .call(
                "POST",
                "/users/plain@contoso.com/revokeSignInSessions",
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK);
        // A role that changes no users is no better.
        let h = harness(EmulatorConfig {
            app_roles: vec!["Security Administrator".to_owned()],
            ..EmulatorConfig::default()
        });
        assert_eq!(writes(&h, "plain").await, DENIED);
        let h = harness(EmulatorConfig {
            app_roles: vec!["Helpdesk Administrator".to_owned()],
            ..EmulatorConfig::default()
        });
        assert_eq!(writes(&h, "plain").await, OK);
        assert_eq!(writes(&h, "admin").await, DENIED);
    }

    #[tokio::test]
    async fn synced_resets_are_accepted_or_refused_and_sign_in_always_refused() {
        for (how, want) in [
            (SyncedReset::Accept, StatusCode::NO_CONTENT),
            (SyncedReset::Refuse, StatusCode::BAD_REQUEST),
        ] {
            let h = harness(EmulatorConfig {
                synced_reset: how,
                ..EmulatorConfig::default()
            });
            let a = h
                .call("PATCH", "/users/synced@contoso.com", Some(reset()))
                .await;
            assert_eq!(a.status, want, "{how:?}: {}", a.body);
            if want == StatusCode::BAD_REQUEST {
                assert_eq!(a.code(), "Request_BadRequest");
                assert_eq!(a.body["error"]["message"], SYNC_MESSAGE);
            }
            let a = h
                .call(
                    "PATCH",
                    "/users/synced@contoso.com",
                    Some(json!({"accountEnabled": false})),
                )
                .await;
            assert_eq!(
                (a.status, a.body["error"]["message"].as_str()),
                (StatusCode::BAD_REQUEST, Some(SYNC_MESSAGE))
            );
            let resets = h.state.users_matching(Some("synced@contoso.com"))[0].reset_count;
            assert_eq!(resets, u32::from(how == SyncedReset::Accept));
        }
    }

    #[tokio::test]
    async fn federated_users_can_be_reset() {
        let h = harness(EmulatorConfig {
            federated_domains: vec!["fabrikam.com".to_owned()],
            ..EmulatorConfig::default()
        });
        let a = h
            .call("PATCH", "/users/fed@fabrikam.com", Some(reset()))
            .await;
        assert_eq!(a.status, StatusCode::NO_CONTENT);
        let view = &h.state.users_matching(Some("fed@fabrikam.com"))[0];
        assert!(view.federated && !view.privileged);
        assert_eq!(view.reset_count, 1);
    }

    fn patch(v: Value) -> Result<Patch, (&'static str, String)> {
        parse_patch(Some(&Ok(v)))
    }

    #[test]
    fn allow_list() {
        let p = patch(json!({"accountEnabled": true, "passwordProfile": {"password": "x", "forceChangePasswordNextSignIn": true}})).unwrap();
        assert_eq!(p.account_enabled, Some(true));
        assert_eq!(p.operations().count(), 2);
        assert_eq!(
            patch(json!({"jobTitle": "CEO"})).unwrap_err(),
            (
                "Request_BadRequest",
                "Invalid property 'jobTitle'.".to_owned()
            )
        );
        assert!(patch(json!({"accountEnabled": "yes"})).is_err());
        assert!(patch(json!({"passwordProfile": {"pasword": "x"}})).is_err());
        assert!(patch(json!({"passwordProfile": "x"})).is_err());
        assert!(patch(json!({"@odata.type": "#microsoft.graph.user"})).is_ok());
        assert_eq!(parse_patch(None).unwrap_err().0, "BadRequest");
        assert_eq!(parse_patch(Some(&Err(()))).unwrap_err().1, INVALID_JSON);
        assert!(patch(json!([1])).is_err());
    }
}
