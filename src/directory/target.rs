//! Which directory a run addresses, recorded in the run manifest and the
//! plan header in provider-neutral terms.

use serde::{Deserialize, Serialize};

/// The directory a run, a plan or a verify pass talked to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// `graph` (Microsoft Entra ID through Microsoft Graph).
    pub provider: String,
    /// The service root (Graph: `https://graph.microsoft.com`).
    pub endpoint: String,
    /// The tenant, domain or realm the credentials are for (Graph: the
    /// token's `tid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Who acts (Graph: the app id of the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}
