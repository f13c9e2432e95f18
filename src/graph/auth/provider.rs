//! [`TokenProvider`]: one token for all workers, cached, renewed before it
//! expires and once more when Graph answers 401, behind a gate so that
//! concurrent workers wait for a single request to the token endpoint.

use std::sync::{Arc, RwLock};

use secrecy::ExposeSecret;

use super::assertion::client_assertion;
use super::credential::Credential;
use super::error::AuthError;
use super::token::{AccessToken, parse_token_response};
use crate::graph::cloud::Endpoints;
use crate::graph::redact::Redactor;
use crate::graph::transport::{ReadError, read_bounded, transport_message};

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

    /// The HTTP client for the authority (the token endpoint's pool, TLS
    /// and proxy settings), for other calls there such as OpenID discovery.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// What no text from a server may quote: the client secret or the
    /// pre-issued token, and the access token in use.
    pub fn redactor(&self) -> Redactor {
        let mut r = Redactor::new();
        match &self.credential {
            Credential::ClientSecret { secret, .. } => r.add(secret.expose_secret()),
            Credential::Token { token, .. } => r.add(token.expose_secret()),
            Credential::Certificate { .. } => {}
        }
        if let Some(t) = self
            .cached
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            r.add(t.secret().expose_secret());
        }
        r
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
                x5t,
                x5t_s256,
                x5c,
                ..
            } => {
                let assertion = client_assertion(
                    &self.endpoints.token_url(tenant),
                    client_id,
                    key,
                    (x5t, x5t_s256),
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
        // The secret (or the assertion) must not come back in the
        // authority's error description either.
        let mut redactor = Redactor::new();
        for (name, value) in &form {
            if matches!(*name, "client_secret" | "client_assertion") {
                redactor.add(value);
            }
        }
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
        parse_token_response(&url, status, &body).map_err(|e| e.redacted(&redactor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::auth::AuthConfig;
    use crate::graph::auth::credential::tests::{env_of, fixture};

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
                ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
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
                ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
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
}
