//! The client assertion: the short-lived JWT, signed with the
//! certificate's key, that a certificate credential sends to the token
//! endpoint instead of a secret.

use super::error::AuthError;
use super::token::unix_now;

/// The signed JWT that proves possession of the certificate's key (PS256),
/// as the Microsoft identity platform expects. The header names the
/// certificate by both thumbprints: `x5t#S256` (SHA-256), which the
/// platform documents, and `x5t` (SHA-1), which some of its endpoints have
/// been seen to still require; sending both satisfies either.
pub(super) fn client_assertion(
    audience: &str,
    client_id: &str,
    key: &jsonwebtoken::EncodingKey,
    (x5t, x5t_s256): (&str, &str),
    x5c: Option<&Vec<String>>,
) -> Result<String, AuthError> {
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        aud: &'a str,
        iss: &'a str,
        sub: &'a str,
        jti: String,
        nbf: i64,
        iat: i64,
        exp: i64,
    }
    let now = unix_now();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.x5t = Some(x5t.to_owned());
    header.x5t_s256 = Some(x5t_s256.to_owned());
    header.x5c = x5c.cloned();
    let claims = Claims {
        aud: audience,
        iss: client_id,
        sub: client_id,
        jti: uuid::Uuid::new_v4().to_string(),
        nbf: now,
        iat: now,
        exp: now + 600,
    };
    jsonwebtoken::encode(&header, &claims, key).map_err(|e| AuthError::Config {
        message: format!("cannot sign the client assertion: {e}"),
        hint: "the certificate's key must be RSA, 2048 bits or more".into(),
    })
}
