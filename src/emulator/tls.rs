//! Serving https: the emulator's certificate chain and private key (the
//! PEM files [`TlsFiles`] names) turned into a rustls acceptor, and the
//! handshake of one connection, bounded in time.
//!
//! The handshake runs inside the connection's task, not the accept loop,
//! so a client that connects and never speaks cannot stall other clients.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

use super::config::{EmulatorError, TlsFiles};

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A loaded certificate and key, ready to accept connections.
#[derive(Clone)]
pub(crate) struct ServerTls {
    acceptor: TlsAcceptor,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerTls")
    }
}

impl ServerTls {
    /// Reads `files` and builds the rustls server configuration (TLS 1.2
    /// and 1.3, ALPN `h2` and `http/1.1`, as Graph offers).
    pub(crate) fn load(files: &TlsFiles) -> Result<Self, EmulatorError> {
        let chain = read_chain(&files.cert)?;
        let key = read_key(&files.key)?;
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| tls_error(&files.cert, &e.to_string()))?
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .map_err(|e| {
                    tls_error(
                        &files.key,
                        &format!("does not match the certificate or cannot be used ({e})"),
                    )
                })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(ServerTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// The server side of the handshake; `None` if it fails or times out
    /// (the client sees the alert or a closed connection).
    pub(crate) async fn accept(&self, stream: TcpStream) -> Option<TlsStream<TcpStream>> {
        tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream))
            .await
            .ok()?
            .ok()
    }
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, EmulatorError> {
    let bytes = read(path)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(path, &format!("is not a PEM certificate chain ({e})")))?;
    if chain.is_empty() {
        return Err(tls_error(path, "holds no `BEGIN CERTIFICATE` block"));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, EmulatorError> {
    let bytes = zeroize::Zeroizing::new(read(path)?);
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|e| tls_error(path, &format!("holds no unencrypted PEM private key ({e})")))
}

fn read(path: &Path) -> Result<Vec<u8>, EmulatorError> {
    std::fs::read(path).map_err(|e| tls_error(path, &format!("cannot be read ({})", e.kind())))
}

fn tls_error(path: &Path, message: &str) -> EmulatorError {
    EmulatorError::Tls {
        file: path.to_owned(),
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    #[test]
    fn loads_a_pem_pair_and_names_the_bad_file() {
        // test-app.pem holds a certificate and its key in one file.
        let pem = fixture("test-app.pem");
        ServerTls::load(&TlsFiles {
            cert: pem.clone(),
            key: pem.clone(),
        })
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        for (files, bad) in [
            (
                TlsFiles {
                    cert: empty.clone(),
                    key: pem.clone(),
                },
                &empty,
            ),
            (
                TlsFiles {
                    cert: pem.clone(),
                    key: empty.clone(),
                },
                &empty,
            ),
            (
                TlsFiles {
                    cert: dir.path().join("missing.pem"),
                    key: pem.clone(),
                },
                &dir.path().join("missing.pem"),
            ),
        ] {
            let err = ServerTls::load(&files).unwrap_err();
            assert!(
                matches!(&err, EmulatorError::Tls { file, .. } if file == bad),
                "{err}"
            );
        }
    }
}
