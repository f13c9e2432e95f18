//! Authentication for app-only Graph access, following the Azure SDK
//! conventions: a client secret or a certificate from the environment, or a
//! pre-issued access token from a file or `AZURE_ACCESS_TOKEN`.
//!
//! Credentials come only from the environment or files, never from the
//! command line (where `ps` and shell history would show them). Secrets are
//! held in [`SecretString`], whose `Debug` prints `[REDACTED]`; no error or
//! log line here ever contains one. One token is cached for all workers and
//! refreshed before it expires, and once more when Graph answers 401.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Digest;

use crate::graph::cloud::Endpoints;
use crate::graph::transport::{ReadError, is_tls_failure, read_bounded, transport_message};

/// How remedy authenticates, resolved from flags and environment.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// `--token-file`: a pre-issued access token.
    pub token_file: Option<PathBuf>,
    /// `--tenant` or `AZURE_TENANT_ID`.
    pub tenant: Option<String>,
    /// `--client-id` or `AZURE_CLIENT_ID`.
    pub client_id: Option<String>,
}

/// Where the token comes from. `Debug` shows no secret.
pub enum Credential {
    ClientSecret {
        tenant: String,
        client_id: String,
        secret: SecretString,
    },
    Certificate {
        tenant: String,
        client_id: String,
        key: Box<jsonwebtoken::EncodingKey>,
        /// base64url SHA-256 of the certificate's DER.
        x5t_s256: String,
        /// The chain, when `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN` asks for it.
        x5c: Option<Vec<String>>,
        path: PathBuf,
    },
    Token {
        token: SecretString,
        source: String,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Credential {
    /// A one-line description without any secret, for `doctor` and logs.
    pub fn describe(&self) -> String {
        match self {
            Credential::ClientSecret {
                tenant, client_id, ..
            } => {
                format!(
                    "client secret (AZURE_CLIENT_SECRET) for app {client_id} in tenant {tenant}"
                )
            }
            Credential::Certificate {
                tenant,
                client_id,
                path,
                ..
            } => format!(
                "certificate {} for app {client_id} in tenant {tenant}",
                path.display()
            ),
            Credential::Token { source, .. } => format!("pre-issued access token from {source}"),
        }
    }

    /// Resolves the credential from `config` and the environment, with the
    /// Azure SDK's precedence: a token file or `AZURE_ACCESS_TOKEN` first,
    /// then a client secret (which wins over a certificate when both are
    /// set), then a certificate.
    pub fn resolve(
        config: &AuthConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, AuthError> {
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        if let Some(path) = &config.token_file {
            let text = std::fs::read_to_string(path).map_err(|e| AuthError::Config {
                message: format!("cannot read --token-file {}: {}", path.display(), e.kind()),
                hint: "write the access token alone into the file".into(),
            })?;
            return token_credential(text.trim(), format!("--token-file {}", path.display()));
        }
        if let Some(token) = var("AZURE_ACCESS_TOKEN") {
            return token_credential(token.trim(), "AZURE_ACCESS_TOKEN".into());
        }
        let secret = var("AZURE_CLIENT_SECRET");
        let cert = var("AZURE_CLIENT_CERTIFICATE_PATH");
        if secret.is_none() && cert.is_none() {
            return Err(AuthError::Config {
                message: "no credentials: set AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH (with AZURE_TENANT_ID and AZURE_CLIENT_ID), or give an access token with --token-file or AZURE_ACCESS_TOKEN".into(),
                hint: "to try remedy without a tenant, use the built-in emulator (`--emulate`)".into(),
            });
        }
        let tenant = config
            .tenant
            .clone()
            .or_else(|| var("AZURE_TENANT_ID"))
            .ok_or_else(|| AuthError::Config {
                message: "AZURE_TENANT_ID is not set".into(),
                hint: "set it to the tenant id (GUID) or a verified domain, or pass --tenant"
                    .into(),
            })?;
        let client_id = config.client_id.clone().or_else(|| var("AZURE_CLIENT_ID")).ok_or_else(|| AuthError::Config {
            message: "AZURE_CLIENT_ID is not set".into(),
            hint: "set it to the application (client) id of the app registration, or pass --client-id".into(),
        })?;
        if let Some(secret) = secret {
            return Ok(Credential::ClientSecret {
                tenant,
                client_id,
                secret: SecretString::from(secret),
            });
        }
        let path = PathBuf::from(cert.unwrap_or_default());
        let password = env("AZURE_CLIENT_CERTIFICATE_PASSWORD").map(SecretString::from);
        let chain = var("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN")
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        let loaded = load_certificate(&path, password.as_ref())?;
        Ok(Credential::Certificate {
            tenant,
            client_id,
            x5t_s256: URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&loaded.cert_der)),
            x5c: chain.then(|| loaded.chain.iter().map(|c| STANDARD.encode(c)).collect()),
            key: Box::new(loaded.key),
            path,
        })
    }

    fn tenant(&self) -> Option<&str> {
        match self {
            Credential::ClientSecret { tenant, .. } | Credential::Certificate { tenant, .. } => {
                Some(tenant)
            }
            Credential::Token { .. } => None,
        }
    }
}

fn token_credential(token: &str, source: String) -> Result<Credential, AuthError> {
    if token.is_empty() {
        return Err(AuthError::Config {
            message: format!("the access token from {source} is empty"),
            hint: "put the bearer token (without `Bearer `) in it".into(),
        });
    }
    Ok(Credential::Token {
        token: SecretString::from(token.trim_start_matches("Bearer ").to_owned()),
        source,
    })
}

struct LoadedCert {
    key: jsonwebtoken::EncodingKey,
    cert_der: Vec<u8>,
    chain: Vec<Vec<u8>>,
}

/// Reads a PEM (certificate + private key) or PFX/PKCS#12 file.
fn load_certificate(path: &Path, password: Option<&SecretString>) -> Result<LoadedCert, AuthError> {
    let bad = |why: String| {
        AuthError::Config {
        message: format!("cannot use AZURE_CLIENT_CERTIFICATE_PATH {}: {why}", path.display()),
        hint: "give a PEM file holding the certificate and its unencrypted private key, or a PFX with AZURE_CLIENT_CERTIFICATE_PASSWORD".into(),
    }
    };
    let data = std::fs::read(path).map_err(|e| bad(e.kind().to_string()))?;
    if let Ok(blocks) = pem::parse_many(&data)
        && !blocks.is_empty()
    {
        let certs: Vec<Vec<u8>> = blocks
            .iter()
            .filter(|b| b.tag() == "CERTIFICATE")
            .map(|b| b.contents().to_vec())
            .collect();
        let key = blocks
            .iter()
            .find(|b| matches!(b.tag(), "PRIVATE KEY" | "RSA PRIVATE KEY"))
            .ok_or_else(|| {
                if blocks.iter().any(|b| b.tag() == "ENCRYPTED PRIVATE KEY") {
                    bad("the private key is encrypted; remedy needs it unencrypted in PEM (or use a PFX with a password)".into())
                } else {
                    bad("no private key in the file".into())
                }
            })?;
        let cert_der = certs
            .first()
            .cloned()
            .ok_or_else(|| bad("no certificate in the file".into()))?;
        let key =
            jsonwebtoken::EncodingKey::from_rsa_pem(pem::encode(key).as_bytes()).map_err(|e| {
                bad(format!(
                    "the private key is not an RSA key remedy can sign with ({e})"
                ))
            })?;
        return Ok(LoadedCert {
            key,
            cert_der,
            chain: certs,
        });
    }
    let pass = password.map_or("", |p| p.expose_secret());
    let store =
        p12_keystore::KeyStore::from_pkcs12(&data, pass, p12_keystore::Pkcs12ImportPolicy::Relaxed)
            .map_err(|e| bad(format!("not PEM, and not a PFX this password opens ({e})")))?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or_else(|| bad("the PFX holds no private key".into()))?;
    let certs: Vec<Vec<u8>> = chain.certs().iter().map(|c| c.as_der().to_vec()).collect();
    let cert_der = certs
        .first()
        .cloned()
        .ok_or_else(|| bad("the PFX holds no certificate for its key".into()))?;
    let key_pem = pem::encode(&pem::Pem::new("PRIVATE KEY", chain.key().as_der().to_vec()));
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).map_err(|e| {
        bad(format!(
            "the private key is not an RSA key remedy can sign with ({e})"
        ))
    })?;
    Ok(LoadedCert {
        key,
        cert_der,
        chain: certs,
    })
}

/// Claims remedy reads from an access token (decoded, not verified: Graph
/// verifies; remedy only reports and preflights).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenClaims {
    pub tid: Option<String>,
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

    fn fresh(&self) -> bool {
        Instant::now() < self.refresh_at
    }
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Missing or unusable configuration.
    #[error("{message}")]
    Config { message: String, hint: String },
    /// The authority refused the request (AADSTS error).
    #[error("the token request was refused: {error} (HTTP {status}){}: {description}", codes.first().map(|c| format!(" AADSTS{c}")).unwrap_or_default())]
    Rejected {
        status: u16,
        error: String,
        description: String,
        codes: Vec<u64>,
        trace_id: Option<String>,
    },
    /// The authority could not be reached.
    #[error("cannot reach the token endpoint {url}: {message}")]
    Transport { url: String, message: String },
    /// The authority answered something that is not a token.
    #[error("the token endpoint {url} answered HTTP {status} without a usable token")]
    InvalidResponse { url: String, status: u16 },
    /// The authority's answer is larger than any token response.
    #[error("the token endpoint {url} answered more than {limit} bytes", limit = crate::graph::transport::MAX_RESPONSE_BYTES)]
    TooLarge { url: String },
    /// A pre-issued token expired or was refused; it cannot be refreshed.
    #[error("the pre-issued access token {0}")]
    TokenUnusable(String),
}

impl AuthError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            AuthError::Config { hint, .. } => Some(hint.clone()),
            AuthError::Rejected { codes, .. } => Some(
                match codes.first().copied().unwrap_or(0) {
                    7_000_215 => "the client secret is wrong: use the secret's Value, not its Secret ID",
                    7_000_222 => "the client secret has expired: create a new one in the app registration",
                    700_016 => "no such application in this tenant: check AZURE_CLIENT_ID and AZURE_TENANT_ID",
                    90_002 => "no such tenant: check AZURE_TENANT_ID (a GUID or a verified domain) and --cloud",
                    70_011 => "the scope was refused: check --cloud/--graph-url match the tenant's cloud",
                    700_027 | 700_024 => "the certificate assertion was refused: upload the certificate to the app registration and check the machine clock",
                    _ => "check the app registration, the tenant and the credentials",
                }
                .to_owned(),
            ),
            AuthError::Transport { message, .. } if is_tls_failure(message) => {
                Some(crate::graph::tls::UNTRUSTED_HINT.into())
            }
            AuthError::Transport { .. } => Some("check the network, a proxy (HTTPS_PROXY) and --cloud/--authority-url".into()),
            AuthError::InvalidResponse { .. } | AuthError::TooLarge { .. } => Some("check --authority-url points at a Microsoft identity platform endpoint".into()),
            AuthError::TokenUnusable(_) => Some("get a new token, or let remedy get its own with AZURE_CLIENT_SECRET or a certificate".into()),
        }
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

/// Gets, caches and refreshes the access token for every worker.
pub struct TokenProvider {
    http: reqwest::Client,
    endpoints: Endpoints,
    credential: Credential,
    cached: RwLock<Option<Arc<AccessToken>>>,
    refresh_gate: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("credential", &self.credential)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    pub fn new(http: reqwest::Client, endpoints: Endpoints, credential: Credential) -> Self {
        TokenProvider {
            http,
            endpoints,
            credential,
            cached: RwLock::new(None),
            refresh_gate: tokio::sync::Mutex::new(()),
        }
    }

    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// The tenant the credential names (`None` for a pre-issued token: read
    /// its `tid` claim instead).
    pub fn configured_tenant(&self) -> Option<&str> {
        self.credential.tenant()
    }

    /// A token valid for a few more minutes, from the cache when it can.
    pub async fn token(&self) -> Result<Arc<AccessToken>, AuthError> {
        if let Some(t) = self.cached_fresh() {
            return Ok(t);
        }
        let _gate = self.refresh_gate.lock().await;
        // Another worker may have refreshed while this one waited.
        if let Some(t) = self.cached_fresh() {
            return Ok(t);
        }
        let t = Arc::new(self.acquire().await?);
        tracing::debug!("access token acquired");
        *self
            .cached
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(t.clone());
        Ok(t)
    }

    /// After a 401 with `rejected`: a new token, unless another worker has
    /// already replaced it.
    pub async fn refresh(
        &self,
        rejected: &Arc<AccessToken>,
    ) -> Result<Arc<AccessToken>, AuthError> {
        let _gate = self.refresh_gate.lock().await;
        let current = self
            .cached
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(c) = current
            && !Arc::ptr_eq(&c, rejected)
        {
            return Ok(c);
        }
        if matches!(self.credential, Credential::Token { .. }) {
            return Err(AuthError::TokenUnusable(
                "was refused by Graph (expired or for another audience)".into(),
            ));
        }
        let t = Arc::new(self.acquire().await?);
        tracing::debug!("access token acquired");
        *self
            .cached
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(t.clone());
        Ok(t)
    }

    fn cached_fresh(&self) -> Option<Arc<AccessToken>> {
        self.cached
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .filter(|t| t.fresh())
            .cloned()
    }

    async fn acquire(&self) -> Result<AccessToken, AuthError> {
        let (tenant, client_id, mut form) = match &self.credential {
            Credential::Token { token, .. } => return AccessToken::pre_issued(token.clone()),
            Credential::ClientSecret {
                tenant,
                client_id,
                secret,
            } => (
                tenant,
                client_id,
                vec![("client_secret", secret.expose_secret().to_owned())],
            ),
            Credential::Certificate {
                tenant,
                client_id,
                key,
                x5t_s256,
                x5c,
                ..
            } => {
                let assertion = client_assertion(
                    &self.endpoints.token_url(tenant),
                    client_id,
                    key,
                    x5t_s256,
                    x5c.as_ref(),
                )?;
                (
                    tenant,
                    client_id,
                    vec![
                        (
                            "client_assertion_type",
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
                        ),
                        ("client_assertion", assertion),
                    ],
                )
            }
        };
        form.push(("grant_type", "client_credentials".to_owned()));
        form.push(("client_id", client_id.clone()));
        form.push(("scope", self.endpoints.scope()));
        let url = self.endpoints.token_url(tenant);
        let resp =
            self.http
                .post(&url)
                .form(&form)
                .send()
                .await
                .map_err(|e| AuthError::Transport {
                    url: url.clone(),
                    message: transport_message(&e),
                })?;
        // The form held the secret (or the assertion): zero it now.
        for (_, value) in &mut form {
            zeroize::Zeroize::zeroize(value);
        }
        drop(form);
        let status = resp.status().as_u16();
        let body = read_bounded(resp).await.map_err(|e| match e {
            ReadError::Transport(e) => AuthError::Transport {
                url: url.clone(),
                message: transport_message(&e),
            },
            ReadError::TooLarge => AuthError::TooLarge { url: url.clone() },
        })?;
        // The answer holds the access token: zero it once parsed.
        let body = zeroize::Zeroizing::new(body);
        parse_token_response(&url, status, &body)
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

/// The signed JWT that proves possession of the certificate's key (PS256,
/// `x5t#S256` header), as the Microsoft identity platform expects.
fn client_assertion(
    audience: &str,
    client_id: &str,
    key: &jsonwebtoken::EncodingKey,
    x5t_s256: &str,
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

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn fixture(name: &str) -> String {
        format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn secret_credential_never_prints_the_secret() {
        let env = env_of(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s3cr3t-value"),
        ]);
        let c = Credential::resolve(&AuthConfig::default(), &env).unwrap();
        assert!(matches!(c, Credential::ClientSecret { .. }));
        assert!(!format!("{c:?} {}", c.describe()).contains("s3cr3t"));
    }

    #[test]
    fn secret_wins_over_certificate_and_token_wins_over_both() {
        let env = env_of(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
            ("AZURE_CLIENT_CERTIFICATE_PATH", "/nonexistent"),
        ]);
        assert!(matches!(
            Credential::resolve(&AuthConfig::default(), &env).unwrap(),
            Credential::ClientSecret { .. }
        ));
        let env = env_of(&[("AZURE_ACCESS_TOKEN", "abc"), ("AZURE_CLIENT_SECRET", "s")]);
        assert!(matches!(
            Credential::resolve(&AuthConfig::default(), &env).unwrap(),
            Credential::Token { .. }
        ));
    }

    #[test]
    fn missing_pieces_are_named() {
        let e = Credential::resolve(&AuthConfig::default(), &env_of(&[])).unwrap_err();
        assert!(e.to_string().contains("AZURE_CLIENT_SECRET"));
        let e = Credential::resolve(
            &AuthConfig::default(),
            &env_of(&[("AZURE_CLIENT_SECRET", "s")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("AZURE_TENANT_ID"));
    }

    #[test]
    fn loads_pem_and_pfx_certificates_with_the_same_thumbprint() {
        let pem_env = env_of(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_CERTIFICATE_PATH", &fixture("test-app.pem")),
        ]);
        let pfx_path = fixture("test-app.pfx");
        let pfx_env = env_of(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_CERTIFICATE_PATH", &pfx_path),
            ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "test-only"),
        ]);
        let a = Credential::resolve(&AuthConfig::default(), &pem_env).unwrap();
        let b = Credential::resolve(&AuthConfig::default(), &pfx_env).unwrap();
        let (
            Credential::Certificate {
                x5t_s256: ta, key, ..
            },
            Credential::Certificate { x5t_s256: tb, .. },
        ) = (&a, &b)
        else {
            panic!("both are certificates");
        };
        assert_eq!(ta, tb);
        let jwt =
            client_assertion("https://login/t/oauth2/v2.0/token", "c", key, ta, None).unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::PS256);
        assert_eq!(header.x5t_s256.as_deref(), Some(ta.as_str()));
        let claims: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(jwt.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["iss"], "c");
        assert_eq!(claims["sub"], "c");
        assert_eq!(claims["aud"], "https://login/t/oauth2/v2.0/token");
        let wrong = env_of(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_CERTIFICATE_PATH", &pfx_path),
            ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "wrong"),
        ]);
        let e = Credential::resolve(&AuthConfig::default(), &wrong).unwrap_err();
        assert!(!e.to_string().contains("wrong"), "{e}");
    }

    #[test]
    fn claims_decode_from_a_jwt() {
        let payload = URL_SAFE_NO_PAD
            .encode(br#"{"tid":"abc","appid":"app","roles":["User.Read.All"],"exp":1}"#);
        let c = TokenClaims::decode(&format!("e30.{payload}.sig")).unwrap();
        assert_eq!(c.tid.as_deref(), Some("abc"));
        assert_eq!(c.app_id(), Some("app"));
        assert_eq!(c.roles, ["User.Read.All"]);
        assert!(TokenClaims::decode("opaque-token").is_none());
    }

    #[test]
    fn every_credential_and_the_provider_debug_without_secrets() {
        let token = Credential::resolve(
            &AuthConfig::default(),
            &env_of(&[("AZURE_ACCESS_TOKEN", "eyJ0.pre-issued-secret.sig")]),
        )
        .unwrap();
        let cert = Credential::resolve(
            &AuthConfig::default(),
            &env_of(&[
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_CERTIFICATE_PATH", &fixture("test-app.pfx")),
                ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "test-only"),
            ]),
        )
        .unwrap();
        assert!(matches!(token, Credential::Token { .. }));
        assert!(matches!(cert, Credential::Certificate { .. }));
        let secret = Credential::resolve(
            &AuthConfig::default(),
            &env_of(&[
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", "s3cr3t-value"),
            ]),
        )
        .unwrap();
        let provider = TokenProvider::new(
            reqwest::Client::new(),
            Endpoints::resolve(crate::graph::cloud::Cloud::Global, None, None).unwrap(),
            secret,
        );
        let all = format!("{token:?} {cert:?} {provider:?}");
        for leaked in ["pre-issued-secret", "test-only", "PRIVATE", "s3cr3t"] {
            assert!(!all.contains(leaked), "`{leaked}` in {all}");
        }
        assert!(all.contains("client secret (AZURE_CLIENT_SECRET)"), "{all}");
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
