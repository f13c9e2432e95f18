//! The user operations remedy performs, as typed requests and parsed
//! answers: read a user, reset the password, allow or block sign-in, revoke
//! sessions, and list the directory roles a user holds directly (`memberOf`;
//! the privileged-account guard reads more, see `privilege.rs`).
//!
//! Each operation is a pure request builder plus a parser, so `$batch`
//! sends exactly the same requests as direct calls.

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::graph::client::{GraphClient, GraphRequest, GraphResponse};
use crate::graph::error::GraphError;
use crate::graph::permissions::Operation;

/// Exactly the properties remedy's steps read.
pub const USER_SELECT: &str = "id,userPrincipalName,accountEnabled,onPremisesSyncEnabled,lastPasswordChangeDateTime,signInSessionsValidFromDateTime,userType";

/// A user as remedy sees it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserState {
    pub id: String,
    pub user_principal_name: Option<String>,
    /// Absent only when not selected; remedy always selects it.
    pub account_enabled: Option<bool>,
    /// Anything but `true` means cloud-only.
    #[serde(default, deserialize_with = "true_only")]
    pub on_premises_sync_enabled: bool,
    pub last_password_change_date_time: Option<String>,
    pub sign_in_sessions_valid_from_date_time: Option<String>,
    pub user_type: Option<String>,
}

fn true_only<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<serde_json::Value>::deserialize(d)? == Some(serde_json::Value::Bool(true)))
}

/// A directory role the user holds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryRole {
    pub id: String,
    pub display_name: Option<String>,
    pub role_template_id: Option<String>,
}

#[derive(Deserialize)]
struct Page<T> {
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// The path of a user addressed by object id or UPN. UPNs that start with
/// `$` need the `('…')` form; `#` (guests' `#EXT#`) and other reserved
/// characters are percent-encoded.
pub fn user_path(key: &str) -> String {
    if key.starts_with('$') {
        format!("/users('{}')", encode(&key.replace('\'', "''")))
    } else {
        format!("/users/{}", encode(key))
    }
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@!$&'()*+,;=:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /users/{key}?$select=…`
pub fn get_user(key: &str) -> GraphRequest {
    GraphRequest {
        method: Method::GET,
        path: format!("{}?$select={USER_SELECT}", user_path(key)),
        body: None,
        operation: Operation::ReadUser,
        secrets: Vec::new(),
    }
}

/// `PATCH /users/{id}` with exactly the three `passwordProfile` properties.
pub fn reset_password(
    id: &str,
    password: &SecretString,
    force_change: bool,
    with_mfa: bool,
) -> GraphRequest {
    reset_patch(id, password, force_change, with_mfa, None)
}

/// The reset's `PATCH`, with `accountEnabled` beside it when given.
fn reset_patch(
    id: &str,
    password: &SecretString,
    force_change: bool,
    with_mfa: bool,
    enabled: Option<bool>,
) -> GraphRequest {
    let mut body = serde_json::json!({
        "passwordProfile": {
            "password": password.expose_secret(),
            "forceChangePasswordNextSignIn": force_change,
            "forceChangePasswordNextSignInWithMfa": with_mfa,
        }
    });
    if let Some(enabled) = enabled {
        body["accountEnabled"] = serde_json::Value::Bool(enabled);
    }
    let bytes = Zeroizing::new(serde_json::to_vec(&body).unwrap_or_default());
    // The Value held the password too; zero its string before dropping it.
    zero_value(body);
    GraphRequest {
        method: Method::PATCH,
        path: user_path(id),
        body: Some(bytes),
        operation: Operation::ResetPassword,
        secrets: vec![password.clone()],
    }
}

fn zero_value(v: serde_json::Value) {
    use zeroize::Zeroize;
    match v {
        serde_json::Value::String(mut s) => s.zeroize(),
        serde_json::Value::Object(map) => map.into_iter().for_each(|(_, v)| zero_value(v)),
        serde_json::Value::Array(a) => a.into_iter().for_each(zero_value),
        _ => {}
    }
}

/// One `PATCH /users/{id}` carrying a password reset and `accountEnabled`
/// at once: Graph updates the user's properties in one write, so two
/// steps cost one request of the write quota. Errors are told as the
/// reset's (the stricter permission).
pub fn reset_password_and_enable(
    id: &str,
    password: &SecretString,
    force_change: bool,
    with_mfa: bool,
    enabled: bool,
) -> GraphRequest {
    reset_patch(id, password, force_change, with_mfa, Some(enabled))
}

/// `PATCH /users/{id}` with `accountEnabled`.
pub fn set_account_enabled(id: &str, enabled: bool) -> GraphRequest {
    GraphRequest {
        method: Method::PATCH,
        path: user_path(id),
        body: Some(Zeroizing::new(
            format!("{{\"accountEnabled\":{enabled}}}").into_bytes(),
        )),
        operation: Operation::SetAccountEnabled,
        secrets: Vec::new(),
    }
}

/// `POST /users/{id}/revokeSignInSessions` (no body).
pub fn revoke_sessions(id: &str) -> GraphRequest {
    GraphRequest {
        method: Method::POST,
        path: format!("{}/revokeSignInSessions", user_path(id)),
        body: None,
        operation: Operation::RevokeSessions,
        secrets: Vec::new(),
    }
}

/// `GET /users/{id}/memberOf/microsoft.graph.directoryRole?$select=…`
pub fn list_directory_roles(id: &str) -> GraphRequest {
    GraphRequest {
        method: Method::GET,
        path: format!(
            "{}/memberOf/microsoft.graph.directoryRole?$select=id,displayName,roleTemplateId",
            user_path(id)
        ),
        body: None,
        operation: Operation::ListDirectoryRoles,
        secrets: Vec::new(),
    }
}

/// Whether `id` is an object id as Graph writes it: a GUID in its
/// hyphenated form (36 characters). Only such an id is ever put in a path:
/// an empty or odd one would address `/users/` or another resource.
pub fn is_object_id(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::try_parse(id).is_ok()
}

/// Parses a `get_user` answer. A user whose `id` is not a GUID is an
/// invalid answer, not a user.
pub fn parse_user(resp: &GraphResponse) -> Result<UserState, GraphError> {
    let invalid = |what: String| {
        GraphError::invalid_response(what, resp.request_id.clone(), Some(Operation::ReadUser))
    };
    let user: UserState = serde_json::from_slice(&resp.body).map_err(|e| {
        invalid(format!(
            "the user could not be read from Graph's answer ({e})"
        ))
    })?;
    if !is_object_id(&user.id) {
        return Err(invalid(format!(
            "the user's id {:?} in Graph's answer is not a GUID",
            user.id.chars().take(64).collect::<String>()
        )));
    }
    Ok(user)
}

/// Parses a `get_user` answer for `key` (a UPN or an object id) and checks
/// that it is that user: the same object id for an id (GUIDs compared as
/// values), the same UPN for a UPN (case-insensitively, Unicode-aware).
/// An answer for another user is an error: acting on it would change the
/// wrong account (or hand one user's new password to another).
pub fn parse_user_for(key: &str, resp: &GraphResponse) -> Result<UserState, GraphError> {
    let user = parse_user(resp)?;
    let same = match uuid::Uuid::try_parse(key) {
        Ok(asked) if is_object_id(key) => uuid::Uuid::try_parse(&user.id).ok() == Some(asked),
        _ => user
            .user_principal_name
            .as_deref()
            .is_some_and(|upn| same_name(upn, key)),
    };
    if same {
        return Ok(user);
    }
    let got = user
        .user_principal_name
        .as_deref()
        .unwrap_or(user.id.as_str());
    Err(GraphError::invalid_response(
        format!(
            "Graph answered for another user: asked for {key:?}, got {:?} (id {})",
            got.chars().take(256).collect::<String>(),
            user.id
        ),
        resp.request_id.clone(),
        Some(Operation::ReadUser),
    ))
}

/// UPNs compare case-insensitively, beyond ASCII.
fn same_name(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

impl GraphClient {
    /// Reads a user by object id or UPN; an answer for another user is an
    /// error.
    pub async fn get_user(&self, key: &str) -> Result<UserState, GraphError> {
        parse_user_for(key, &self.send(&get_user(key)).await?)
    }

    /// Sets a new password.
    pub async fn reset_password(
        &self,
        id: &str,
        password: &SecretString,
        force_change: bool,
        with_mfa: bool,
    ) -> Result<(), GraphError> {
        self.send(&reset_password(id, password, force_change, with_mfa))
            .await
            .map(drop)
    }

    /// Allows (`true`) or blocks (`false`) sign-in.
    pub async fn set_account_enabled(&self, id: &str, enabled: bool) -> Result<(), GraphError> {
        self.send(&set_account_enabled(id, enabled)).await.map(drop)
    }

    /// Invalidates refresh tokens and session cookies. Any 2xx is success
    /// (Graph documents 204 and answers 200 with `{"value": true}`).
    pub async fn revoke_sessions(&self, id: &str) -> Result<(), GraphError> {
        self.send(&revoke_sessions(id)).await.map(drop)
    }

    /// The directory roles the user holds directly, following
    /// `@odata.nextLink` (only on this Graph host: the token never goes
    /// elsewhere).
    pub async fn directory_roles(&self, id: &str) -> Result<Vec<DirectoryRole>, GraphError> {
        let prefix = self.graph_url("");
        follow_role_pages(id, &prefix, |req| async move { self.send(&req).await }).await
    }
}

/// Lists the directory roles of user `id`, sending each page's request
/// with `send` (directly or through the dispatcher) and following
/// `@odata.nextLink` on `prefix` only, for at most [`MAX_ROLE_PAGES`].
pub async fn follow_role_pages<F, Fut>(
    id: &str,
    prefix: &str,
    mut send: F,
) -> Result<Vec<DirectoryRole>, GraphError>
where
    F: FnMut(GraphRequest) -> Fut,
    Fut: std::future::Future<Output = Result<GraphResponse, GraphError>>,
{
    let mut req = list_directory_roles(id);
    let mut roles = Vec::new();
    for _ in 0..MAX_ROLE_PAGES {
        let resp = send(req.clone()).await?;
        match parse_roles_page(&resp, prefix, &mut roles)? {
            Some(next) => req.path = next,
            None => return Ok(roles),
        }
    }
    Err(too_many_pages())
}

/// Pages of directory roles remedy follows before giving up.
pub const MAX_ROLE_PAGES: usize = 100;

/// The error after [`MAX_ROLE_PAGES`] pages.
pub fn too_many_pages() -> GraphError {
    GraphError::invalid_response(
        format!(
            "more than {MAX_ROLE_PAGES} pages of directory roles; stopped following `@odata.nextLink`"
        ),
        None,
        Some(Operation::ListDirectoryRoles),
    )
}

/// Adds one page's roles to `roles`; returns the next page's path, which
/// must be on the same Graph (`prefix` = `<graph root>/v1.0`): the token is
/// never sent elsewhere.
pub fn parse_roles_page(
    resp: &GraphResponse,
    prefix: &str,
    roles: &mut Vec<DirectoryRole>,
) -> Result<Option<String>, GraphError> {
    let page: Page<DirectoryRole> = serde_json::from_slice(&resp.body).map_err(|e| {
        GraphError::invalid_response(
            format!("the role list could not be read ({e})"),
            resp.request_id.clone(),
            Some(Operation::ListDirectoryRoles),
        )
    })?;
    roles.extend(page.value);
    match page.next_link {
        None => Ok(None),
        Some(next) => match next.strip_prefix(prefix) {
            Some(path) if path.starts_with('/') => Ok(Some(path.to_owned())),
            _ => Err(GraphError::invalid_response(
                format!("`@odata.nextLink` points outside {prefix}; not followed"),
                resp.request_id.clone(),
                Some(Operation::ListDirectoryRoles),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_encode_keys() {
        assert_eq!(user_path("adele@contoso.com"), "/users/adele@contoso.com");
        assert_eq!(
            user_path("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com"),
            "/users/bob_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"
        );
        assert_eq!(user_path("$x@y.com"), "/users('$x@y.com')");
        assert_eq!(user_path("a b/c?d"), "/users/a%20b%2Fc%3Fd");
    }

    #[test]
    fn reset_body_has_exactly_the_three_properties() {
        let req = reset_password(
            "id1",
            &SecretString::from("Pw-1234567890ab!".to_owned()),
            true,
            false,
        );
        let v: serde_json::Value = serde_json::from_slice(req.body.as_ref().unwrap()).unwrap();
        let profile = v["passwordProfile"].as_object().unwrap();
        assert_eq!(profile.len(), 3);
        assert_eq!(profile["forceChangePasswordNextSignIn"], true);
        assert_eq!(v.as_object().unwrap().len(), 1);
        assert_eq!(req.method, Method::PATCH);
        // Neither the text nor the bytes (`[80, 119, 45, …]`) of the password
        // reach `Debug`, alone or inside a `$batch` item.
        for d in [
            format!("{req:?}"),
            format!(
                "{:?}",
                crate::graph::batch::BatchItem {
                    id: "1".into(),
                    request: req.clone(),
                    depends_on: None,
                }
            ),
        ] {
            assert!(d.contains("bytes, not shown"), "{d}");
            assert!(!d.contains("Pw-") && !d.contains("80, 119, 45"), "{d}");
        }
    }

    #[test]
    fn parses_users_with_missing_and_null_fields() {
        let resp = GraphResponse {
            status: 200,
            request_id: None,
            throttle_level: None,
            resource_units: None,
            body: br#"{"@odata.context":"x","id":"0f8fad5b-d9cb-469f-a165-70867728950e","userPrincipalName":"a@b.c","accountEnabled":false,"onPremisesSyncEnabled":null}"#.to_vec(),
        };
        let u = parse_user(&resp).unwrap();
        assert_eq!(u.account_enabled, Some(false));
        assert!(!u.on_premises_sync_enabled);
        let bad = GraphResponse {
            status: 200,
            request_id: Some("r".into()),
            throttle_level: None,
            resource_units: None,
            body: b"[1,2]".to_vec(),
        };
        assert!(parse_user(&bad).is_err());
    }

    fn answer(body: &str) -> GraphResponse {
        GraphResponse {
            status: 200,
            request_id: Some("rid".into()),
            throttle_level: None,
            resource_units: None,
            body: body.as_bytes().to_vec(),
        }
    }

    const ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

    #[test]
    fn a_user_whose_id_is_not_a_guid_is_an_invalid_answer() {
        for id in [
            "\"\"",
            "\" \"",
            "\"1\"",
            "\"../me\"",
            "\"0f8fad5bd9cb469fa16570867728950e\"",
            "\"{0f8fad5b-d9cb-469f-a165-70867728950e}\"",
        ] {
            let r = parse_user(&answer(&format!(
                r#"{{"id":{id},"userPrincipalName":"a@b.c"}}"#
            )));
            let e = r.unwrap_err();
            assert_eq!(e.kind, crate::graph::ErrorKind::InvalidResponse, "{id}");
            assert!(e.message.contains("is not a GUID"), "{}", e.message);
            assert!(!e.fate_unknown, "a read changes nothing");
        }
        assert!(is_object_id(ID) && is_object_id(&ID.to_uppercase()));
    }

    #[test]
    fn the_answer_must_be_for_the_user_asked_for() {
        let user = |upn: &str, id: &str| {
            answer(&format!(r#"{{"id":"{id}","userPrincipalName":"{upn}"}}"#))
        };
        // A UPN key: the UPN must match, case-insensitively beyond ASCII.
        let ok = user("Ådele.Ünal@Contoso.com", ID);
        assert!(parse_user_for("ådele.ünal@contoso.COM", &ok).is_ok());
        assert!(parse_user_for("Ådele.Ünal@Contoso.com", &ok).is_ok());
        for other in [
            "adele.unal@contoso.com",
            "bob@contoso.com",
            "ådele.ünal@contoso.co",
        ] {
            let e = parse_user_for(other, &ok).unwrap_err();
            assert!(
                e.message.starts_with("Graph answered for another user"),
                "{other}: {}",
                e.message
            );
        }
        // A GUID key: the id must match (GUIDs compare as values).
        assert!(parse_user_for(&ID.to_uppercase(), &ok).is_ok());
        let e = parse_user_for("9a1b2c3d-0000-4000-8000-000000000001", &ok).unwrap_err();
        assert!(e.message.contains("another user"), "{}", e.message);
        // No UPN in the answer: nothing shows it is the user asked for.
        let bare = answer(&format!(r#"{{"id":"{ID}"}}"#));
        assert!(parse_user_for("a@b.c", &bare).is_err());
        assert!(parse_user_for(ID, &bare).is_ok());
    }
}
