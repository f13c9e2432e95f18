//! [`AuthError`]: why no token could be had, and the hint that says what
//! to do about it (AADSTS codes named, TLS and network failures told apart).
//! No variant ever holds a secret: what the authority said is scrubbed
//! ([`AuthError::redacted`]) before it becomes one.

use crate::graph::transport::is_tls_failure;

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
    /// `self` with every secret `r` knows scrubbed out of the text the
    /// authority chose (error, description, trace id).
    #[must_use]
    pub fn redacted(mut self, r: &crate::graph::redact::Redactor) -> Self {
        if let AuthError::Rejected {
            error,
            description,
            trace_id,
            ..
        } = &mut self
        {
            r.scrub_in_place(error);
            r.scrub_in_place(description);
            if let Some(t) = trace_id {
                r.scrub_in_place(t);
            }
        }
        self
    }

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
