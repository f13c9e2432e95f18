//! How to reach Graph: the endpoints, the TLS trust and the credential a
//! command's connection options resolve to, and the client built from them.
//!
//! TLS trust (`--ca-file`, `--insecure-loopback-tls`) is resolved here,
//! against the resolved endpoints, so one rule holds for every command.

use std::path::PathBuf;
use std::time::Duration;

use crate::graph::auth::{AuthConfig, AuthError, Credential};
use crate::graph::client::{ClientOptions, GraphClient};
use crate::graph::cloud::{Cloud, EndpointError, Endpoints};
use crate::graph::tls::{TlsError, TlsTrust};

/// A Graph connection as the operator described it (flags and the
/// environment); secrets are read only by [`ConnectOptions::connect`].
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub cloud: Cloud,
    pub graph_url: Option<String>,
    pub authority_url: Option<String>,
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    pub token_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub insecure_loopback_tls: bool,
    /// Per request.
    pub timeout: Duration,
}

/// Why a Graph client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

impl ConnectError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ConnectError::Endpoint(_) => Some("give a root such as `https://graph.microsoft.com`, or `http://127.0.0.1:PORT` for the emulator".into()),
            ConnectError::Auth(e) => e.hint(),
            ConnectError::Tls(e) => Some(e.hint()),
        }
    }
}

impl ConnectOptions {
    pub fn endpoints(&self) -> Result<Endpoints, EndpointError> {
        let authority = self.authority_url.clone().or_else(|| {
            std::env::var("AZURE_AUTHORITY_HOST")
                .ok()
                .filter(|v| !v.is_empty())
        });
        Endpoints::resolve(self.cloud, self.graph_url.as_deref(), authority.as_deref())
    }

    pub fn auth_config(&self) -> AuthConfig {
        AuthConfig {
            token_file: self.token_file.clone(),
            tenant: self.tenant.clone(),
            client_id: self.client_id.clone(),
        }
    }

    /// Which server certificates to trust when talking to `endpoints`.
    pub fn tls(&self, endpoints: &Endpoints) -> Result<TlsTrust, TlsError> {
        let mut trust = TlsTrust::system();
        if let Some(path) = &self.ca_file {
            trust = trust.with_ca_file(path)?;
        }
        if self.insecure_loopback_tls {
            trust = trust.insecure_loopback(endpoints)?;
        }
        Ok(trust)
    }

    /// Endpoints, credential and client, without any network call.
    pub fn connect(&self) -> Result<GraphClient, ConnectError> {
        let endpoints = self.endpoints()?;
        let tls = self.tls(&endpoints)?;
        let credential = Credential::resolve(&self.auth_config(), &|k| std::env::var(k).ok())?;
        Ok(GraphClient::build(
            &ClientOptions {
                timeout: self.timeout,
                tls,
            },
            endpoints,
            credential,
        )?)
    }
}
