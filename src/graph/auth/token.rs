//! Access tokens: [`AccessToken`] (the bearer value, kept secret, and when
//! to renew it), the [`TokenClaims`] remedy reads from a JWT, and the token
//! endpoint's answer read into one or the other ([`parse_token_response`]).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::error::AuthError;

/// Claims remedy reads from an access token (decoded, not verified: Graph
/// verifies; remedy only reports and preflights).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenClaims {
    pub tid: Option<String>,
    /// The object id of the app's service principal in the tenant (its
    /// own directory roles are read by it).
    pub oid: Option<String>,
    pub appid: Option<String>,
    pub azp: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    pub exp: Option<i64>,
    pub aud: Option<serde_json::Value>,
}

impl TokenClaims {
    /// Decodes a JWT's payload; `None` when the token is not a JWT.
    pub fn decode(token: &str) -> Option<Self> {
        let payload = token.split('.').nth(1)?;
        let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The application id (`appid` in v1 tokens, `azp` in v2).
    pub fn app_id(&self) -> Option<&str> {
        self.appid.as_deref().or(self.azp.as_deref())
    }
}

/// A bearer token. `Debug` shows when it expires, never the token.
pub struct AccessToken {
    value: SecretString,
    /// When to get a new one (a few minutes before it expires).
    refresh_at: Instant,
    expires_at: Instant,
    pub claims: Option<TokenClaims>,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"[REDACTED]")
            .field(
                "expires_in",
                &self.expires_at.saturating_duration_since(Instant::now()),
            )
            .finish()
    }
}

/// No token is trusted for longer than this, whatever its `exp` or
/// `expires_in` says: a far-future value would overflow the clock
/// arithmetic, and no real token lives this long.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(366 * 86_400);

impl AccessToken {
    fn new(value: SecretString, lifetime: Duration) -> Self {
        let lifetime = lifetime.min(MAX_TOKEN_LIFETIME);
        let now = Instant::now();
        // Refresh five minutes early, or halfway through short lifetimes.
        let margin = Duration::from_secs(300).min(lifetime / 2);
        AccessToken {
            claims: TokenClaims::decode(value.expose_secret()),
            value,
            refresh_at: now + lifetime - margin,
            expires_at: now + lifetime,
        }
    }

    /// A token given to remedy (`AZURE_ACCESS_TOKEN`, `--token-file`),
    /// valid until its `exp` claim, or for an hour when it is not a JWT.
    ///
    /// # Errors
    ///
    /// [`AuthError::TokenUnusable`] when `exp` has passed.
    pub fn pre_issued(token: SecretString) -> Result<Self, AuthError> {
        let claims = TokenClaims::decode(token.expose_secret());
        let lifetime = match claims.as_ref().and_then(|c| c.exp) {
            Some(exp) => {
                let left = exp.saturating_sub(unix_now());
                if left <= 0 {
                    return Err(AuthError::TokenUnusable("has expired".into()));
                }
                Duration::from_secs(left.unsigned_abs())
            }
            // Not a JWT: its lifetime is unknown; Graph will say.
            None => Duration::from_secs(3600),
        };
        let mut t = AccessToken::new(token, lifetime);
        // A pre-issued token cannot be renewed early: use it to the end.
        t.refresh_at = t.expires_at;
        Ok(t)
    }

    /// The token itself, for the Authorization header only.
    pub fn secret(&self) -> &SecretString {
        &self.value
    }

    pub fn expires_in(&self) -> Duration {
        self.expires_at.saturating_duration_since(Instant::now())
    }

    pub(super) fn fresh(&self) -> bool {
        Instant::now() < self.refresh_at
    }
}

/// Reads the token endpoint's answer: a token on 2xx, else the OAuth error
/// it describes. `url` names the endpoint in errors.
///
/// # Errors
///
/// [`AuthError::Rejected`] for an OAuth error body,
/// [`AuthError::InvalidResponse`] for anything else that is not a token.
pub fn parse_token_response(url: &str, status: u16, body: &[u8]) -> Result<AccessToken, AuthError> {
    let invalid = || AuthError::InvalidResponse {
        url: url.to_owned(),
        status,
    };
    if (200..300).contains(&status) {
        let t: TokenResponse = serde_json::from_slice(body).map_err(|_| invalid())?;
        if t.access_token.is_empty() {
            return Err(invalid());
        }
        return Ok(AccessToken::new(
            SecretString::from(t.access_token),
            Duration::from_secs(t.expires_in.clamp(60, 86_400)),
        ));
    }
    match serde_json::from_slice::<OAuthError>(body) {
        Ok(e) if e.error.is_some() => Err(AuthError::Rejected {
            status,
            error: e.error.unwrap_or_default(),
            // Keep the first line: the rest repeats trace and time.
            description: e
                .error_description
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
            codes: e.error_codes,
            trace_id: e.trace_id,
        }),
        _ => Err(invalid()),
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(deserialize_with = "number_or_string")]
    expires_in: u64,
}

#[derive(Deserialize)]
struct OAuthError {
    error: Option<String>,
    error_description: Option<String>,
    #[serde(default)]
    error_codes: Vec<u64>,
    trace_id: Option<String>,
}

fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        N(u64),
        S(String),
    }
    match N::deserialize(d)? {
        N::N(n) => Ok(n),
        N::S(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

pub(super) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_decode_from_a_jwt() {
        let payload = URL_SAFE_NO_PAD.encode(
            br#"{"tid":"abc","oid":"sp-1","appid":"app","roles":["User.Read.All"],"exp":1}"#,
        );
        let c = TokenClaims::decode(&format!("e30.{payload}.sig")).unwrap();
        assert_eq!(c.tid.as_deref(), Some("abc"));
        assert_eq!(c.oid.as_deref(), Some("sp-1"));
        assert_eq!(c.app_id(), Some("app"));
        assert_eq!(c.roles, ["User.Read.All"]);
        assert!(TokenClaims::decode("opaque-token").is_none());
    }

    #[test]
    fn token_debug_is_redacted() {
        let t = AccessToken::new(
            SecretString::from("eyJ.secret.token".to_owned()),
            Duration::from_secs(3600),
        );
        let d = format!("{t:?}");
        assert!(!d.contains("secret.token"), "{d}");
        assert!(t.fresh());
        let short = AccessToken::new(SecretString::from("x".to_owned()), Duration::from_secs(60));
        assert!(short.refresh_at < short.expires_at);
    }

    fn jwt_with(payload: &str) -> SecretString {
        SecretString::from(format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(payload)))
    }

    /// An `exp` far in the future or the past once overflowed the clock
    /// arithmetic and panicked; a pre-issued token is only as hostile as
    /// whoever handed it over, but it must still get an answer.
    #[test]
    fn pre_issued_token_with_extreme_exp() {
        let far = AccessToken::pre_issued(jwt_with(r#"{"exp":9223372036854775807}"#)).unwrap();
        assert_eq!(far.expires_in().as_secs() / 86_400, 365);
        let past = AccessToken::pre_issued(jwt_with(r#"{"exp":-9223372036854775808}"#));
        assert!(matches!(past, Err(AuthError::TokenUnusable(_))));
        let opaque = AccessToken::pre_issued(SecretString::from("opaque".to_owned())).unwrap();
        assert!(opaque.expires_in() <= Duration::from_secs(3600));
    }

    #[test]
    fn token_responses_of_every_shape() {
        let url = "https://login/t/oauth2/v2.0/token";
        let ok = parse_token_response(
            url,
            200,
            br#"{"token_type":"Bearer","expires_in":"99999999999","access_token":"a.b.c"}"#,
        )
        .unwrap();
        assert!(ok.expires_in() <= Duration::from_secs(86_400));
        for (status, body) in [
            (200, &b""[..]),
            (200, b"<html>proxy login</html>"),
            (200, br#"{"access_token":"","expires_in":1}"#),
            (200, br#"{"access_token":7,"expires_in":1}"#),
            (200, br#"{"access_token":"x","expires_in":-1}"#),
            (200, br#"{"access_token":"x","expires_in":"soon"}"#),
            (200, br#"{"access_token":"x","expires_in":1"#),
            (500, b"\xff\xfe"),
            (400, br#"{"error":null}"#),
        ] {
            let e = parse_token_response(url, status, body).unwrap_err();
            assert!(
                matches!(e, AuthError::InvalidResponse { status: s, .. } if s == status),
                "{e}"
            );
        }
        let refused = parse_token_response(
            url,
            401,
            br#"{"error":"invalid_client","error_description":"AADSTS7000215: bad secret.\r\nTrace ID: x","error_codes":[7000215]}"#,
        )
        .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "the token request was refused: invalid_client (HTTP 401) AADSTS7000215: AADSTS7000215: bad secret."
        );
        assert!(refused.hint().unwrap().contains("Secret ID"));
    }
}
