//! The user endpoints: read (`GET /users/{id}`, `GET /users`), update
//! (`PATCH`: password reset, `accountEnabled`, `displayName`), revoke
//! sessions, and the user's directory roles, with Graph's permission,
//! privileged-target, sync and password rules.

use std::fmt::Write as _;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::StatusCode;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::clock;
use super::directory::User;
use super::jwt::Principal;
use super::password::{self, COMPLEXITY_MESSAGE};
use super::query::Query;
use super::response::{Ids, Reply, graph_error};
use super::select;
use super::state::State;
use super::stats::bump;
use crate::graph::permissions::Operation;

/// Graph's text when a synced user's `accountEnabled` is written.
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

/// What every handler needs.
pub(crate) struct Ctx<'a> {
    pub state: &'a State,
    pub principal: &'a Principal,
    pub ids: &'a Ids,
}

impl Ctx<'_> {
    fn granted(&self, op: Operation) -> bool {
        op.granted_by(&self.principal.roles)
    }

    fn forbidden(&self) -> Reply {
        graph_error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
            self.ids,
        )
    }

    fn bad_request(&self, message: &str) -> Reply {
        graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            message,
            self.ids,
        )
    }

    fn not_found(&self, key: &str) -> Reply {
        graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
            ),
            self.ids,
        )
    }

    fn find(&self, key: &str) -> Result<&User, Reply> {
        self.state
            .directory
            .find(key)
            .ok_or_else(|| self.not_found(key))
    }

    fn base(&self) -> &str {
        self.state.base_url()
    }
}

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

/// `GET /users/{key}/memberOf[/microsoft.graph.directoryRole]`. The
/// emulator models no groups, so both list the user's directory roles.
pub(crate) fn member_of(ctx: &Ctx<'_>, key: &str, roles_only: bool, query: &Query) -> Reply {
    if !ctx.granted(Operation::ListDirectoryRoles) {
        return ctx.forbidden();
    }
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
    let set = if roles_only {
        "directoryRoles"
    } else {
        "directoryObjects"
    };
    let context = format!(
        "{}/v1.0/$metadata#{}",
        ctx.base(),
        selection.context_set(set)
    );
    let cast = if roles_only {
        "/microsoft.graph.directoryRole"
    } else {
        ""
    };
    let next = format!("{}/v1.0/users/{}/memberOf{cast}", ctx.base(), user.id);
    page.reply(context, items, &next, query)
}

/// One page of a collection: `$top` and an opaque `$skiptoken`.
struct Page {
    start: usize,
    end: usize,
    top: usize,
    total: usize,
}

impl Page {
    fn new(ctx: &Ctx<'_>, query: &Query, total: usize) -> Result<Self, Reply> {
        let top = match query.top.as_deref() {
            None => ctx.state.config.page_size as usize,
            Some(text) => match text.trim().parse::<usize>() {
                Ok(n @ 1..=999) => n,
                _ => {
                    return Err(graph_error(
                        StatusCode::BAD_REQUEST,
                        "Request_BadRequest",
                        &format!(
                            "Invalid page size specified: '{text}'. Must be between 1 and 999 inclusive."
                        ),
                        ctx.ids,
                    ));
                }
            },
        };
        let start = match query.skiptoken.as_deref() {
            None => 0,
            Some(token) => decode_skiptoken(token).filter(|s| *s <= total).ok_or_else(|| {
                graph_error(
                    StatusCode::BAD_REQUEST,
                    "Directory_ExpiredPageToken",
                    "The specified page token value has expired and can no longer be included in your request.",
                    ctx.ids,
                )
            })?,
        };
        Ok(Page {
            start,
            end: start.saturating_add(top).min(total),
            top,
            total,
        })
    }

    fn reply(self, context: String, items: Vec<Value>, next: &str, query: &Query) -> Reply {
        let mut body = Map::new();
        body.insert("@odata.context".to_owned(), json!(context));
        body.insert("value".to_owned(), Value::Array(items));
        if self.end < self.total {
            let mut link = format!("{next}?");
            if let Some(select) = query.select.as_deref() {
                link.push_str("$select=");
                link.extend(url::form_urlencoded::byte_serialize(select.as_bytes()));
                link.push('&');
            }
            let _ = write!(
                link,
                "$top={}&$skiptoken={}",
                self.top,
                encode_skiptoken(self.end)
            );
            body.insert("@odata.nextLink".to_owned(), json!(link));
        }
        Reply::json(StatusCode::OK, Value::Object(body))
    }
}

const SKIPTOKEN_PREFIX: &str = "remedy-emulator:";

fn encode_skiptoken(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{SKIPTOKEN_PREFIX}{offset}"))
}

fn decode_skiptoken(token: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim().trim_end_matches('='))
        .ok()?;
    std::str::from_utf8(&bytes)
        .ok()?
        .strip_prefix(SKIPTOKEN_PREFIX)?
        .parse()
        .ok()
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
    if guarded && !user.roles.is_empty() && !ctx.state.config.privileged_admin {
        return ctx.forbidden();
    }
    if user.synced && patch.account_enabled.is_some() {
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

    #[test]
    fn skiptokens() {
        assert_eq!(decode_skiptoken(&encode_skiptoken(42)), Some(42));
        assert_eq!(decode_skiptoken("garbage!"), None);
        assert_eq!(decode_skiptoken(""), None);
    }
}
