//! Authentication for app-only Graph access, following the Azure SDK
//! conventions: a client secret or a certificate from the environment, or a
//! pre-issued access token from a file or `AZURE_ACCESS_TOKEN`.
//!
//! Credentials come only from the environment or files, never from the
//! command line (where `ps` and shell history would show them). Secrets are
//! held in [`secrecy::SecretString`], whose `Debug` prints `[REDACTED]`; no
//! error or log line here ever contains one. One token is cached for all
//! workers and refreshed before it expires, and once more when Graph
//! answers 401.
//!
//! - `credential`: [`AuthConfig`] and the environment resolved into a
//!   [`Credential`]; certificate files (PEM, PFX) loaded.
//! - `assertion`: the signed JWT a certificate credential sends.
//! - `token`: [`AccessToken`], [`TokenClaims`], the token endpoint's answer.
//! - `provider`: [`TokenProvider`], the shared cache and its refresh gate.
//! - `error`: [`AuthError`] and its hints.

mod assertion;
mod credential;
mod error;
mod provider;
mod token;

pub use credential::{AuthConfig, Credential};
pub use error::AuthError;
pub use provider::TokenProvider;
pub use token::{AccessToken, TokenClaims, parse_token_response};
