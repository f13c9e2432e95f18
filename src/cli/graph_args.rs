//! The Graph connection flags shared by every command that talks to Graph
//! (`doctor`, `run`), and their resolution into a client.
//!
//! Credentials never come from flags: only identifiers (tenant, client id)
//! and file paths do; secrets come from the environment or files. TLS trust
//! (`--ca-file`, `--insecure-loopback-tls`) is resolved here too, against
//! the resolved endpoints, so one rule holds for every command.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::graph::auth::{AuthConfig, AuthError, Credential, TokenProvider};
use crate::graph::client::{ClientOptions, GraphClient, http_client};
use crate::graph::cloud::{Cloud, EndpointError, Endpoints};
use crate::graph::tls::{TlsError, TlsTrust};

#[derive(Debug, Clone, Args)]
pub struct GraphArgs {
    /// Microsoft cloud: sets both the login and the Graph host.
    #[arg(long, value_enum, default_value_t = Cloud::Global, help_heading = "Graph connection")]
    pub cloud: Cloud,

    /// Graph root overriding the cloud's, e.g. `https://graph.microsoft.com`
    /// (no path; plain http only for loopback).
    #[arg(
        long,
        env = "REMEDY_GRAPH_URL",
        value_name = "URL",
        help_heading = "Graph connection"
    )]
    pub graph_url: Option<String>,

    /// Login (authority) root overriding the cloud's, e.g.
    /// `https://login.microsoftonline.com`. Also read from AZURE_AUTHORITY_HOST.
    #[arg(
        long,
        env = "REMEDY_AUTHORITY_URL",
        value_name = "URL",
        help_heading = "Graph connection"
    )]
    pub authority_url: Option<String>,

    /// Tenant id (GUID) or verified domain.
    #[arg(
        long,
        env = "AZURE_TENANT_ID",
        hide_env_values = true,
        help_heading = "Graph connection"
    )]
    pub tenant: Option<String>,

    /// Application (client) id of the app registration.
    #[arg(
        long,
        env = "AZURE_CLIENT_ID",
        hide_env_values = true,
        help_heading = "Graph connection"
    )]
    pub client_id: Option<String>,

    /// File holding a pre-issued access token (instead of AZURE_CLIENT_SECRET
    /// or AZURE_CLIENT_CERTIFICATE_PATH).
    #[arg(long, value_name = "FILE", help_heading = "Graph connection")]
    pub token_file: Option<PathBuf>,

    /// PEM file of CA certificates trusted besides the system's, for Graph
    /// and the authority (a TLS-inspecting proxy, a private CA, a test CA).
    #[arg(
        long,
        env = "REMEDY_CA_FILE",
        value_name = "PEM",
        help_heading = "Graph connection"
    )]
    pub ca_file: Option<PathBuf>,

    /// Do not verify TLS certificates. Accepted only when both the Graph and
    /// the authority root are loopback addresses (an emulator with a
    /// self-signed certificate); refused for any other host.
    #[arg(long, help_heading = "Graph connection")]
    pub insecure_loopback_tls: bool,

    /// Seconds before a Graph request is given up.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 30,
        help_heading = "Graph connection"
    )]
    pub timeout: u64,
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

impl GraphArgs {
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
        let http = http_client(&ClientOptions {
            timeout: Duration::from_secs(self.timeout.max(1)),
            tls,
        })?;
        let tokens = Arc::new(TokenProvider::new(
            http.clone(),
            endpoints.clone(),
            credential,
        ));
        Ok(GraphClient::new(http, endpoints, tokens))
    }
}
