//! The TLS client configuration of LDAP connections: the system's roots
//! (the platform store, through rustls-native-certs) plus the CA
//! certificates of `--ca-file`, with aws-lc-rs, TLS 1.2 and 1.3. There is
//! no way to turn verification off and no plain LDAP: `ldap://` URLs
//! always start TLS before binding.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

use crate::ldap::LdapError;

/// The client configuration for `url`, trusting the system's roots and
/// the certificates in `ca_file`.
///
/// # Errors
///
/// The CA file cannot be used, or no root at all could be loaded.
pub fn client_config(
    url: &str,
    ca_file: Option<&Path>,
) -> Result<Arc<rustls::ClientConfig>, LdapError> {
    let tls = |reason: String| LdapError::Tls {
        url: url.to_owned(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (_added, _ignored) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let ders =
            crate::graph::tls::read_ca_pem(path).map_err(|e| LdapError::CaFile(e.to_string()))?;
        for der in ders {
            roots.add(CertificateDer::from(der)).map_err(|e| {
                LdapError::CaFile(format!("cannot use --ca-file {}: {e}", path.display()))
            })?;
        }
    }
    if roots.is_empty() {
        return Err(tls(
            "no trusted root certificates: install the system's CA certificates or pass --ca-file"
                .into(),
        ));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("key.pem");
        std::fs::write(
            &f,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let e = client_config("ldaps://dc", Some(&f)).unwrap_err();
        assert!(matches!(e, LdapError::CaFile(_)), "{e}");
        assert!(e.to_string().contains("key.pem"), "{e}");
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-app.pem");
        assert!(client_config("ldaps://dc", Some(&fixture)).is_ok());
    }
}
