//! The Graph connection flags shared by every command that talks to Graph
//! (`doctor`, `run`, `plan`, `apply`, `verify`), turned into
//! [`ConnectOptions`].
//!
//! Credentials never come from flags: only identifiers (tenant, client id)
//! and file paths do; secrets come from the environment or files.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::graph::GraphClient;
use crate::graph::cloud::Cloud;
pub use crate::graph::connect::{ConnectError, ConnectOptions};

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

    /// PEM file of CA certificates trusted besides the system's, for Graph,
    /// the authority and Active Directory domain controllers (a
    /// TLS-inspecting proxy, a private CA, a test CA).
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

    /// Seconds before a Graph request (or an LDAP operation) is given up.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 30,
        help_heading = "Graph connection"
    )]
    pub timeout: u64,
}

impl GraphArgs {
    /// The connection these flags describe (plain data; nothing is read
    /// or sent until [`ConnectOptions::connect`]).
    pub fn options(&self) -> ConnectOptions {
        ConnectOptions {
            cloud: self.cloud,
            graph_url: self.graph_url.clone(),
            authority_url: self.authority_url.clone(),
            tenant: self.tenant.clone(),
            client_id: self.client_id.clone(),
            token_file: self.token_file.clone(),
            ca_file: self.ca_file.clone(),
            insecure_loopback_tls: self.insecure_loopback_tls,
            timeout: Duration::from_secs(self.timeout.max(1)),
        }
    }

    /// How Active Directory targets are reached: the same CA file and
    /// timeout.
    pub fn ldap_options(&self) -> crate::session::LdapOptions {
        crate::session::LdapOptions {
            ca_file: self.ca_file.clone(),
            timeout: Some(Duration::from_secs(self.timeout.max(1))),
        }
    }

    /// Endpoints, credential and client, without any network call.
    pub fn connect(&self) -> Result<GraphClient, ConnectError> {
        self.options().connect()
    }
}
