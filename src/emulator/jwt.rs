//! Access tokens: issuing them (claims shaped like Entra's app-only tokens)
//! and checking the `Authorization: Bearer` header of every Graph request.
//!
//! Tokens are HS256 JWTs signed with a key drawn at random when the
//! emulator starts, so a token from one emulator process is rejected by
//! the next, as a token from another tenant would be.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::ids::derived_uuid;

/// The `aud` of Graph tokens, whatever scope URL the client used.
pub(crate) const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";

#[derive(Debug, Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    tid: &'a str,
    appid: &'a str,
    azp: &'a str,
    appidacr: &'a str,
    idtyp: &'a str,
    oid: String,
    sub: String,
    roles: &'a [String],
    uti: &'a str,
    ver: &'a str,
}

/// The claims a Graph request needs.
#[derive(Debug, Deserialize)]
struct Checked {
    aud: String,
    tid: String,
    appid: String,
    #[serde(default)]
    roles: Vec<String>,
    exp: i64,
    nbf: i64,
    #[serde(default)]
    oid: String,
}

/// The app a valid token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principal {
    pub app_id: String,
    pub roles: Vec<String>,
    /// The object id of the app's service principal in the tenant.
    pub oid: String,
}

/// The object id of `client_id`'s service principal in `tenant_id`: the
/// token's `oid` and `sub`, and the principal of the app's role
/// assignments. Stable per tenant and client id.
pub(crate) fn service_principal_id(tenant_id: &str, client_id: &str) -> uuid::Uuid {
    derived_uuid(&[
        b"service-principal",
        tenant_id.as_bytes(),
        client_id.as_bytes(),
    ])
}

/// Why a bearer token was refused (all are 401 `InvalidAuthenticationToken`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    Empty,
    Invalid,
    Audience,
    Expired,
}

impl Rejection {
    /// Graph's message for each case.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Rejection::Empty => "Access token is empty.",
            Rejection::Invalid => "Access token validation failure.",
            Rejection::Audience => "Access token validation failure. Invalid audience.",
            Rejection::Expired => "Access token has expired or is not yet valid.",
        }
    }
}

/// Issues and checks the emulator's tokens.
pub(crate) struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    tenant_id: String,
    ttl: i64,
    roles: Vec<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("tenant_id", &self.tenant_id)
            .field("ttl", &self.ttl)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    pub(crate) fn new(tenant_id: &str, ttl_secs: u32, roles: Vec<String>) -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill(&mut key[..]);
        // Expiry, not-before and audience are checked by hand below, so that
        // each failure gets Graph's own message.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        Tokens {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
            tenant_id: tenant_id.to_owned(),
            ttl: i64::from(ttl_secs),
            roles,
        }
    }

    pub(crate) fn ttl(&self) -> i64 {
        self.ttl
    }

    /// A token for `client_id`, valid from `now` for the configured TTL.
    pub(crate) fn issue(&self, client_id: &str, now: i64, uti: &str) -> Option<String> {
        let oid = service_principal_id(&self.tenant_id, client_id).to_string();
        let claims = Claims {
            aud: GRAPH_AUDIENCE,
            iss: format!("https://sts.windows.net/{}/", self.tenant_id),
            iat: now,
            nbf: now,
            // `now` is rounded down to the second, so one more second keeps
            // every token valid for at least its `expires_in`, however
            // late in the second it was issued (as Entra's exp − iat of
            // 3600+ against expires_in 3599 does).
            exp: now.saturating_add(self.ttl).saturating_add(1),
            tid: &self.tenant_id,
            appid: client_id,
            azp: client_id,
            appidacr: "1",
            idtyp: "app",
            sub: oid.clone(),
            oid,
            roles: &self.roles,
            uti,
            ver: "1.0",
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).ok()
    }

    /// Check an `Authorization` header value at time `now`.
    pub(crate) fn verify(
        &self,
        authorization: Option<&[u8]>,
        now: i64,
    ) -> Result<Principal, Rejection> {
        let Some(raw) = authorization else {
            return Err(Rejection::Empty);
        };
        let value = std::str::from_utf8(raw)
            .map_err(|_| Rejection::Invalid)?
            .trim();
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            Some(_) => return Err(Rejection::Invalid),
            None if value.eq_ignore_ascii_case("bearer") || value.is_empty() => "",
            None => return Err(Rejection::Invalid),
        };
        if token.is_empty() {
            return Err(Rejection::Empty);
        }
        let claims = jsonwebtoken::decode::<Checked>(token, &self.decoding, &self.validation)
            .map_err(|_| Rejection::Invalid)?
            .claims;
        if claims.aud != GRAPH_AUDIENCE || claims.tid != self.tenant_id {
            return Err(Rejection::Audience);
        }
        if now >= claims.exp || now < claims.nbf {
            return Err(Rejection::Expired);
        }
        Ok(Principal {
            app_id: claims.appid,
            roles: claims.roles,
            oid: claims.oid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new("t-id", 60, vec!["User.Read.All".to_owned()])
    }

    #[test]
    fn round_trip() {
        let t = tokens();
        let token = t.issue("app", 1000, "u").unwrap();
        let header = format!("Bearer {token}");
        let p = t.verify(Some(header.as_bytes()), 1000).unwrap();
        assert_eq!(p.app_id, "app");
        assert_eq!(p.roles, ["User.Read.All"]);
        assert_eq!(p.oid, service_principal_id("t-id", "app").to_string());
        assert_ne!(p.oid, service_principal_id("t-id", "app2").to_string());
        assert_ne!(p.oid, service_principal_id("t2", "app").to_string());
        let lower = format!("bearer {token}");
        assert!(t.verify(Some(lower.as_bytes()), 1060).is_ok());
        assert_eq!(
            t.verify(Some(header.as_bytes()), 1061),
            Err(Rejection::Expired)
        );
        assert_eq!(
            t.verify(Some(header.as_bytes()), 999),
            Err(Rejection::Expired)
        );
    }

    #[test]
    fn rejections() {
        let t = tokens();
        assert_eq!(t.verify(None, 0), Err(Rejection::Empty));
        assert_eq!(t.verify(Some(b"Bearer "), 0), Err(Rejection::Empty));
        assert_eq!(t.verify(Some(b"Bearer x.y.z"), 0), Err(Rejection::Invalid));
        assert_eq!(t.verify(Some(b"Basic abc"), 0), Err(Rejection::Invalid));
        assert_eq!(t.verify(Some(b"\xff\xfe"), 0), Err(Rejection::Invalid));
        let other = tokens().issue("app", 1000, "u").unwrap();
        let header = format!("Bearer {other}");
        assert_eq!(
            t.verify(Some(header.as_bytes()), 1000),
            Err(Rejection::Invalid)
        );
        let shared = |tenant: &str| Tokens {
            tenant_id: tenant.to_owned(),
            encoding: EncodingKey::from_secret(b"k"),
            decoding: DecodingKey::from_secret(b"k"),
            ..tokens()
        };
        let token = shared("other").issue("app", 1000, "u").unwrap();
        let header = format!("Bearer {token}");
        assert_eq!(
            shared("t-id").verify(Some(header.as_bytes()), 1000),
            Err(Rejection::Audience)
        );
    }
}
