//! A loopback TCP proxy in front of the Samba DC whose connections can
//! all be cut at once: what a dropped connection mid-run looks like to
//! remedy's LDAP pool.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A loopback TCP proxy to the DC's LDAPS port whose connections can all
/// be cut at once.
pub struct Proxy {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let (cut, rx) = tokio::sync::watch::channel(0u64);
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let mut rx = rx.clone();
                rx.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = rx.changed() => {}
                    }
                    // Dropping both streams closes them.
                });
            }
        });
        Proxy {
            addr,
            accepted,
            cut,
        }
    }

    pub fn cut_all(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}
