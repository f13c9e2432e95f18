//! The token endpoint, `POST /{tenant}/oauth2/v2.0/token`: the client
//! credentials grant with a client secret (form field or HTTP Basic) or a
//! certificate's client assertion, answered and refused as Entra does.
//!
//! A client assertion is checked for shape only: a three-part JWT whose
//! header names `PS256` or `RS256` with an `x5t#S256` or `x5t` thumbprint,
//! and whose claims have `aud` = this token URL, `iss` = `sub` = the client
//! id and an `exp` in the future. Its signature is **not** verified: the
//! emulator has no registered certificate to verify it with.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hyper::StatusCode;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use super::clock;
use super::paths::percent_decode;
use super::response::{Ids, Reply, oauth_error};
use super::state::State;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Login hosts whose token URL an assertion's `aud` may name (the global,
/// US government and China clouds, with China's older alias).
const LOGIN_HOSTS: &[&str] = &[
    "https://login.microsoftonline.com",
    "https://login.microsoftonline.us",
    "https://login.partner.microsoftonline.cn",
    "https://login.chinacloudapi.cn",
];
/// Graph's own application id, also accepted as a scope resource.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// The form fields the grant reads (first occurrence of each).
#[derive(Debug, Default)]
struct Form {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    assertion_type: Option<String>,
    assertion: Option<String>,
}

impl Form {
    fn parse(body: &[u8]) -> Self {
        let mut form = Form::default();
        for (key, value) in url::form_urlencoded::parse(body) {
            let slot = match &*key {
                "grant_type" => &mut form.grant_type,
                "client_id" => &mut form.client_id,
                "client_secret" => &mut form.client_secret,
                "scope" => &mut form.scope,
                "client_assertion_type" => &mut form.assertion_type,
                "client_assertion" => &mut form.assertion,
                _ => continue,
            };
            if slot.is_none() && !value.trim().is_empty() {
                *slot = Some(value.into_owned());
            }
        }
        form
    }
}

/// `client_id:client_secret` from an HTTP Basic header (each part
/// form-URL-encoded, RFC 6749 §2.3.1).
fn basic_credentials(authorization: Option<&[u8]>) -> Option<(String, String)> {
    let value = std::str::from_utf8(authorization?).ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let plus = |s: &str| percent_decode(&s.replace('+', " "));
    Some((plus(id)?, plus(secret)?))
}

/// Whether `tenant` (a path segment) names this tenant, by id or domain.
fn is_ours(state: &State, tenant: &str) -> bool {
    tenant.eq_ignore_ascii_case(&state.config.tenant_id)
        || tenant.eq_ignore_ascii_case(&state.config.tenant_domain)
}

fn unknown_tenant(status_error: &str, tenant: &str, ids: &Ids) -> Reply {
    let message = format!(
        "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
    );
    oauth_error(StatusCode::BAD_REQUEST, status_error, 90002, &message, ids)
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`: the discovery
/// document, whose `issuer` names the tenant id (how a tenant domain is
/// resolved to its id).
pub(crate) fn openid_configuration(state: &State, tenant: &str, ids: &Ids) -> Reply {
    if !is_ours(state, tenant) {
        return unknown_tenant("invalid_tenant", tenant, ids);
    }
    let (base, tid) = (state.base_url(), &state.config.tenant_id);
    Reply::json(
        StatusCode::OK,
        json!({
            "issuer": format!("https://login.microsoftonline.com/{tid}/v2.0"),
            "token_endpoint": format!("{base}/{tid}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "msgraph_host": "graph.microsoft.com",
        }),
    )
}

/// Answer one token request for `{tenant}` = `tenant`.
pub(crate) fn handle(
    state: &State,
    tenant: &str,
    authorization: Option<&[u8]>,
    body: &[u8],
    ids: &Ids,
) -> Reply {
    if !is_ours(state, tenant) {
        return unknown_tenant("invalid_request", tenant, ids);
    }
    let form = Form::parse(body);
    let missing = |name: &str| {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900_144,
            &format!("The request body must contain the following parameter: '{name}'."),
            ids,
        )
    };
    let Some(grant_type) = form.grant_type.as_deref() else {
        return missing("grant_type");
    };
    if grant_type != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{grant_type}'."),
            ids,
        );
    }
    let basic = basic_credentials(authorization);
    let Some(client_id) = form
        .client_id
        .clone()
        .or_else(|| basic.as_ref().map(|(id, _)| id.clone()))
    else {
        return missing("client_id");
    };
    let Some(scope) = form.scope.as_deref() else {
        return missing("scope");
    };
    if !scope_ok(scope, state.base_url()) {
        let message = format!(
            "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
        );
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            &message,
            ids,
        );
    }
    let secret = form
        .client_secret
        .clone()
        .or_else(|| basic.map(|(_, secret)| secret).filter(|s| !s.is_empty()));
    let now = clock::now();
    if let Some(secret) = secret {
        if !secret_ok(state, &secret) {
            let message = format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            );
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7_000_215,
                &message,
                ids,
            );
        }
    } else if let Some(assertion) = form.assertion.as_deref() {
        let checked = if form.assertion_type.as_deref() == Some(JWT_BEARER) {
            check_assertion(assertion, &client_id, state, now)
        } else {
            Err(format!("client_assertion_type must be '{JWT_BEARER}'"))
        };
        if let Err(reason) = checked {
            let message = format!("Client assertion failed signature validation. ({reason})");
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                700_027,
                &message,
                ids,
            );
        }
    } else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7_000_218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ids,
        );
    }
    match state.tokens.issue(&client_id, now, &ids.request_id) {
        Some(token) => Reply::json(
            StatusCode::OK,
            json!({
                "token_type": "Bearer",
                "expires_in": state.tokens.ttl(),
                "ext_expires_in": state.tokens.ttl(),
                "access_token": token,
            }),
        )
        .with_header("Cache-Control", "no-store, no-cache")
        .with_header("Pragma", "no-cache"),
        None => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            50000,
            "There was an error issuing a token.",
            ids,
        ),
    }
}

/// Exactly one `<resource>/.default` scope naming Graph or this emulator.
fn scope_ok(scope: &str, base_url: &str) -> bool {
    let mut scopes = scope.split_whitespace();
    let (Some(only), None) = (scopes.next(), scopes.next()) else {
        return false;
    };
    let Some(resource) = only.strip_suffix("/.default") else {
        return false;
    };
    let resource = resource.trim_end_matches('/');
    ["https://graph.microsoft.com", GRAPH_APP_ID, base_url]
        .iter()
        .any(|r| resource.eq_ignore_ascii_case(r))
}

/// Compare in constant time, so the emulator does not teach timing attacks.
fn secret_ok(state: &State, given: &str) -> bool {
    use secrecy::ExposeSecret;
    match &state.config.client_secret {
        None => true,
        Some(expected) => {
            let (a, b) = (expected.expose_secret().as_bytes(), given.as_bytes());
            a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
        }
    }
}

/// The shape checks described in the module doc; `Err` says what failed.
fn check_assertion(
    assertion: &str,
    client_id: &str,
    state: &State,
    now: i64,
) -> Result<(), String> {
    let parts: Vec<&str> = assertion.trim().split('.').collect();
    let [_, payload, signature] = parts[..] else {
        return Err("the assertion is not a JWT (three dot-separated parts)".to_owned());
    };
    if signature.is_empty()
        || URL_SAFE_NO_PAD
            .decode(signature.trim_end_matches('='))
            .is_err()
    {
        return Err("the assertion has no signature".to_owned());
    }
    let header = jsonwebtoken::decode_header(assertion.trim())
        .map_err(|e| format!("the assertion header cannot be read: {e}"))?;
    if !matches!(header.alg, Algorithm::PS256 | Algorithm::RS256) {
        return Err(format!("alg {:?} is not PS256 or RS256", header.alg));
    }
    if header.x5t_s256.as_deref().is_none_or(str::is_empty)
        && header.x5t.as_deref().is_none_or(str::is_empty)
    {
        return Err("the header has neither x5t#S256 nor x5t".to_owned());
    }
    let claims: Value = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| "the assertion claims cannot be read".to_owned())?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.iter().any(|a| audience_ok(a, state)) {
        return Err("aud is not this token endpoint's URL".to_owned());
    }
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
        return Err("iss and sub must both be the client id".to_owned());
    }
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp > now => {}
        Some(_) => return Err("the assertion has expired".to_owned()),
        None => return Err("the assertion has no exp".to_owned()),
    }
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf > now + 300)
    {
        return Err("the assertion is not valid yet".to_owned());
    }
    Ok(())
}

/// `<login host or emulator>/<tenant id or domain>/oauth2/v2.0/token`.
fn audience_ok(aud: &str, state: &State) -> bool {
    let aud = aud.trim_end_matches('/').to_ascii_lowercase();
    let Some(rest) = aud.strip_suffix("/oauth2/v2.0/token") else {
        return false;
    };
    let Some((host, tenant)) = rest.rsplit_once('/') else {
        return false;
    };
    let tenant_ok = tenant.eq_ignore_ascii_case(&state.config.tenant_id)
        || tenant.eq_ignore_ascii_case(&state.config.tenant_domain);
    let host_ok = LOGIN_HOSTS
        .iter()
        .chain(std::iter::once(&state.base_url()))
        .any(|h| host.eq_ignore_ascii_case(h));
    tenant_ok && host_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::config::{EmulatorConfig, UserSource};

    fn state() -> State {
        State::new(EmulatorConfig {
            users: UserSource::Generate(1),
            ..EmulatorConfig::default()
        })
        .unwrap()
    }

    fn jwt(header: &Value, claims: &Value) -> String {
        let enc = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        format!("{}.{}.c2ln", enc(header), enc(claims))
    }

    #[test]
    fn scopes() {
        assert!(scope_ok(
            "https://graph.microsoft.com/.default",
            "http://127.0.0.1:1"
        ));
        assert!(scope_ok(
            " http://127.0.0.1:1/.default ",
            "http://127.0.0.1:1"
        ));
        assert!(!scope_ok(
            "https://graph.microsoft.com/User.Read",
            "http://x"
        ));
        assert!(!scope_ok(
            "https://graph.microsoft.com/.default openid",
            "http://x"
        ));
        assert!(!scope_ok("", "http://x"));
    }

    #[test]
    fn assertions() {
        let s = state();
        let aud = format!(
            "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
            s.tenant_id()
        );
        let header = json!({"alg": "PS256", "typ": "JWT", "x5t#S256": "abc"});
        let claims = json!({"aud": aud, "iss": "app", "sub": "app", "exp": 2000, "nbf": 1000});
        assert_eq!(
            check_assertion(&jwt(&header, &claims), "app", &s, 1500),
            Ok(())
        );
        assert!(check_assertion(&jwt(&header, &claims), "app", &s, 2000).is_err());
        assert!(check_assertion(&jwt(&header, &claims), "other", &s, 1500).is_err());
        let rs256 = json!({"alg": "RS256", "x5t": "hOBcHZi846VCHSJbFAs26Go9VTQ"});
        assert_eq!(
            check_assertion(&jwt(&rs256, &claims), "app", &s, 1500),
            Ok(())
        );
        let no_thumb = json!({"alg": "PS256"});
        assert!(check_assertion(&jwt(&no_thumb, &claims), "app", &s, 1500).is_err());
        let hs = json!({"alg": "HS256", "x5t": "a"});
        assert!(check_assertion(&jwt(&hs, &claims), "app", &s, 1500).is_err());
        let wrong_aud = json!({"aud": "https://login.microsoftonline.com/other/oauth2/v2.0/token", "iss": "app", "sub": "app", "exp": 2000});
        assert!(check_assertion(&jwt(&header, &wrong_aud), "app", &s, 1500).is_err());
        let domain_aud = json!({"aud": ["https://LOGIN.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token/"], "iss": "app", "sub": "app", "exp": 2000});
        assert_eq!(
            check_assertion(&jwt(&header, &domain_aud), "app", &s, 1500),
            Ok(())
        );
        for garbage in ["", "a.b", "a.b.c.d", "!!.!!.!!", "e30.e30."] {
            assert!(
                check_assertion(garbage, "app", &s, 1500).is_err(),
                "{garbage}"
            );
        }
    }

    #[test]
    fn basic_auth() {
        let header = format!("Basic {}", STANDARD.encode("my%20app:s%3Acret+x"));
        assert_eq!(
            basic_credentials(Some(header.as_bytes())),
            Some(("my app".to_owned(), "s:cret x".to_owned()))
        );
        assert_eq!(basic_credentials(Some(b"Basic !!")), None);
        assert_eq!(basic_credentials(Some(b"Bearer x")), None);
    }
}
