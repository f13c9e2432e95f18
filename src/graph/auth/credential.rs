//! Where the token comes from: [`AuthConfig`] (flags) and the environment
//! resolved into a [`Credential`], with the Azure SDK's precedence: a
//! pre-issued token (`--token-file`, `AZURE_ACCESS_TOKEN`), else a client
//! secret, else a PEM or PFX/PKCS#12 certificate, loaded here.
//!
//! Credentials come only from the environment or files, never from the
//! command line (where `ps` and shell history would show them). Secrets are
//! held in [`SecretString`]; `Debug` and [`Credential::describe`] show none.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretString};
use sha2::Digest;

use super::error::AuthError;

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
        /// SHA-1 thumbprint, base64url: the `x5t` header some token
        /// endpoints still require beside `x5t#S256`.
        x5t: String,
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
        // The tenant becomes part of the token endpoint's path: anything but
        // a GUID or a domain could send the credentials elsewhere.
        if !(crate::input::is_guid(&tenant) || crate::input::is_domain_name(&tenant)) {
            return Err(AuthError::Config {
                message: format!(
                    "the tenant `{}` (AZURE_TENANT_ID or --tenant) is neither a GUID nor a domain",
                    crate::report::one_line(&tenant)
                ),
                hint: "set it to the tenant id (GUID) or a verified domain such as contoso.onmicrosoft.com".into(),
            });
        }
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
            x5t: URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&loaded.cert_der)),
            x5t_s256: URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&loaded.cert_der)),
            x5c: chain.then(|| loaded.chain.iter().map(|c| STANDARD.encode(c)).collect()),
            key: Box::new(loaded.key),
            path,
        })
    }

    pub(super) fn tenant(&self) -> Option<&str> {
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::graph::auth::assertion::client_assertion;
    use std::collections::HashMap;

    pub(in crate::graph::auth) fn env_of(
        pairs: &[(&str, &str)],
    ) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    pub(in crate::graph::auth) fn fixture(name: &str) -> String {
        format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn secret_credential_never_prints_the_secret() {
        let env = env_of(&[
            ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
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
            ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
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
    fn the_tenant_must_be_a_guid_or_a_domain() {
        for bad in [
            "t",
            "evil.com/../x",
            "contoso.com?x=1",
            "a b.com",
            "contoso.com#",
        ] {
            let e = env_of(&[
                ("AZURE_TENANT_ID", bad),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", "s"),
            ]);
            let err = Credential::resolve(&AuthConfig::default(), &e).unwrap_err();
            assert!(
                err.to_string().contains("neither a GUID nor a domain"),
                "{bad}: {err}"
            );
        }
        for good in [
            "contoso.onmicrosoft.com",
            "5c8e2f1a-7d4b-4e9c-a3f6-0b2d9e7c4a18",
        ] {
            let e = env_of(&[
                ("AZURE_TENANT_ID", good),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", "s"),
            ]);
            assert!(
                Credential::resolve(&AuthConfig::default(), &e).is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn loads_pem_and_pfx_certificates_with_the_same_thumbprint() {
        let pem_env = env_of(&[
            ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_CERTIFICATE_PATH", &fixture("test-app.pem")),
        ]);
        let pfx_path = fixture("test-app.pfx");
        let pfx_env = env_of(&[
            ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_CERTIFICATE_PATH", &pfx_path),
            ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "test-only"),
        ]);
        let a = Credential::resolve(&AuthConfig::default(), &pem_env).unwrap();
        let b = Credential::resolve(&AuthConfig::default(), &pfx_env).unwrap();
        let (
            Credential::Certificate {
                x5t_s256: ta,
                x5t: sha1_a,
                key,
                ..
            },
            Credential::Certificate { x5t_s256: tb, .. },
        ) = (&a, &b)
        else {
            panic!("both are certificates");
        };
        assert_eq!(ta, tb);
        let jwt = client_assertion(
            "https://login/t/oauth2/v2.0/token",
            "c",
            key,
            (sha1_a, ta),
            None,
        )
        .unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::PS256);
        assert_eq!(header.x5t_s256.as_deref(), Some(ta.as_str()));
        // Both thumbprints: SHA-256 (43 base64url characters) and SHA-1 (27).
        assert_eq!(header.x5t.as_deref(), Some(sha1_a.as_str()));
        assert_eq!((ta.len(), sha1_a.len()), (43, 27));
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
            ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_CERTIFICATE_PATH", &pfx_path),
            ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "wrong"),
        ]);
        let e = Credential::resolve(&AuthConfig::default(), &wrong).unwrap_err();
        assert!(!e.to_string().contains("wrong"), "{e}");
    }
}
