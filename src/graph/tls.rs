//! Which TLS servers remedy trusts when it talks to Graph and the authority:
//! the system's roots (rustls with the platform verifier), plus the CA
//! certificates of `--ca-file`, or, for loopback endpoints only and only on
//! request, no verification at all.
//!
//! Verification cannot be switched off for any other host: [`TlsTrust`] is
//! built from the resolved [`Endpoints`], and the escape hatch is refused
//! unless both roots are loopback addresses. The client it configures also
//! ignores proxies in that case, so an unverified connection cannot leave
//! the machine through `HTTPS_PROXY`, and never follows redirects.

use std::path::{Path, PathBuf};

use crate::graph::cloud::Endpoints;

/// The hint for a certificate the client does not trust.
pub const UNTRUSTED_HINT: &str = "the server's certificate is not trusted (or not issued for this host name): if a TLS-inspecting proxy or a private CA signs it, pass that CA's certificate with --ca-file PEM (or REMEDY_CA_FILE); for the emulator serving a self-signed certificate on 127.0.0.1, --ca-file with its CA or --insecure-loopback-tls";

/// How server certificates are checked.
#[derive(Debug, Clone, Default)]
pub struct TlsTrust {
    /// Extra roots from `--ca-file`, trusted besides the system's.
    ca_file: Option<CaFile>,
    /// Accept any certificate; only ever set for loopback endpoints.
    insecure_loopback: bool,
}

#[derive(Debug, Clone)]
struct CaFile {
    path: PathBuf,
    certificates: Vec<reqwest::Certificate>,
}

/// Why the TLS settings were refused.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot use --ca-file {}: {reason}", path.display())]
    CaFile { path: PathBuf, reason: String },
    #[error(
        "--insecure-loopback-tls is refused for `{url}`: certificate checks can only be skipped when both the Graph and the authority root are loopback addresses (127.0.0.1, ::1, localhost)"
    )]
    NotLoopback { url: String },
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

impl TlsError {
    pub fn hint(&self) -> String {
        match self {
            TlsError::CaFile { .. } => {
                "give a PEM file holding one or more `BEGIN CERTIFICATE` blocks (the CA that signs the server's certificate)".into()
            }
            TlsError::NotLoopback { .. } => {
                "for a TLS-inspecting proxy or a private CA, trust its CA with --ca-file PEM instead".into()
            }
            TlsError::Setup(_) => {
                "install the system's CA certificates (e.g. the ca-certificates package), set SSL_CERT_FILE, or pass --ca-file PEM".into()
            }
        }
    }
}

/// The DER bytes of every `BEGIN CERTIFICATE` block in the PEM file at
/// `path` (the Graph client and the Active Directory provider read
/// `--ca-file` through this one function).
///
/// # Errors
///
/// The file cannot be read, is not PEM, or holds no certificate.
pub(crate) fn read_ca_pem(path: &Path) -> Result<Vec<Vec<u8>>, TlsError> {
    let bad = |reason: String| TlsError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.kind().to_string()))?;
    let blocks = pem::parse_many(&bytes).map_err(|e| bad(format!("not PEM ({e})")))?;
    let certificates: Vec<Vec<u8>> = blocks
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(pem::Pem::into_contents)
        .collect();
    if certificates.is_empty() {
        return Err(bad("it holds no `BEGIN CERTIFICATE` block".into()));
    }
    Ok(certificates)
}

impl TlsTrust {
    /// The system's roots only.
    #[must_use]
    pub fn system() -> Self {
        TlsTrust::default()
    }

    /// The system's roots plus every certificate in the PEM file at `path`.
    ///
    /// # Errors
    ///
    /// The file cannot be read, is not PEM, or holds no certificate.
    pub fn with_ca_file(mut self, path: &Path) -> Result<Self, TlsError> {
        let certificates: Vec<reqwest::Certificate> = read_ca_pem(path)?
            .iter()
            .map(|der| reqwest::Certificate::from_der(der))
            .collect::<Result<_, _>>()
            .map_err(|e| TlsError::CaFile {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        self.ca_file = Some(CaFile {
            path: path.to_owned(),
            certificates,
        });
        Ok(self)
    }

    /// Skip certificate checks, which is allowed only when both of
    /// `endpoints` are loopback addresses.
    ///
    /// # Errors
    ///
    /// [`TlsError::NotLoopback`] naming the first non-loopback root.
    pub fn insecure_loopback(mut self, endpoints: &Endpoints) -> Result<Self, TlsError> {
        if let Some(url) = endpoints.first_non_loopback() {
            return Err(TlsError::NotLoopback {
                url: url.to_owned(),
            });
        }
        self.insecure_loopback = true;
        Ok(self)
    }

    /// Whether certificate checks are skipped (loopback only).
    #[must_use]
    pub fn is_insecure_loopback(&self) -> bool {
        self.insecure_loopback
    }

    /// The `--ca-file` in use, if any.
    #[must_use]
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_ref().map(|c| c.path.as_path())
    }

    /// One line for `doctor`.
    #[must_use]
    pub fn describe(&self) -> String {
        match (&self.ca_file, self.insecure_loopback) {
            (_, true) => {
                "certificates NOT verified (--insecure-loopback-tls, loopback only)".into()
            }
            (Some(ca), false) => format!(
                "system roots + {} certificate{} from {}",
                ca.certificates.len(),
                if ca.certificates.len() == 1 { "" } else { "s" },
                ca.path.display()
            ),
            (None, false) => "system roots".into(),
        }
    }

    /// Applies these settings to a client builder.
    pub(crate) fn apply(&self, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        let builder = match &self.ca_file {
            Some(ca) => builder.tls_certs_merge(ca.certificates.iter().cloned()),
            None => builder,
        };
        if self.insecure_loopback {
            builder.tls_danger_accept_invalid_certs(true).no_proxy()
        } else {
            builder
        }
    }

    /// The error of a client that could not be built with these settings.
    pub(crate) fn build_error(&self, e: &reqwest::Error) -> TlsError {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        match &self.ca_file {
            Some(ca) => TlsError::CaFile {
                path: ca.path.clone(),
                reason: text,
            },
            None => TlsError::Setup(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::cloud::Cloud;

    fn endpoints(graph: &str, authority: &str) -> Endpoints {
        Endpoints::resolve(Cloud::Global, Some(graph), Some(authority)).unwrap()
    }

    #[test]
    fn insecure_is_only_for_loopback() {
        let local = endpoints("https://127.0.0.1:8443", "https://localhost:8443");
        assert!(
            TlsTrust::system()
                .insecure_loopback(&local)
                .unwrap()
                .is_insecure_loopback()
        );
        for (graph, authority, refused) in [
            (
                "https://graph.microsoft.com",
                "https://127.0.0.1:1",
                "https://graph.microsoft.com",
            ),
            (
                "https://[::1]:1",
                "https://login.microsoftonline.com",
                "https://login.microsoftonline.com",
            ),
            (
                "https://127.0.0.1.nip.io",
                "https://127.0.0.1:1",
                "https://127.0.0.1.nip.io",
            ),
        ] {
            let err = TlsTrust::system()
                .insecure_loopback(&endpoints(graph, authority))
                .unwrap_err();
            assert!(
                matches!(&err, TlsError::NotLoopback { url } if url == refused),
                "{err}"
            );
        }
    }

    #[test]
    fn ca_file_needs_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let missing = TlsTrust::system()
            .with_ca_file(&dir.path().join("none.pem"))
            .unwrap_err();
        assert!(missing.to_string().contains("none.pem"), "{missing}");
        let key_only = dir.path().join("key.pem");
        std::fs::write(
            &key_only,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let err = TlsTrust::system().with_ca_file(&key_only).unwrap_err();
        assert!(err.to_string().contains("no `BEGIN CERTIFICATE`"), "{err}");
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-app.pem");
        let trust = TlsTrust::system().with_ca_file(&fixture).unwrap();
        assert_eq!(trust.ca_file(), Some(fixture.as_path()));
        assert!(trust.describe().contains("1 certificate from"));
    }
}
