//! The Active Directory provider: accounts in an on-premises domain over
//! LDAP (`ldaps://`, or `ldap://` with StartTLS; never plain), behind the
//! directory seam.
//!
//! # Layout
//!
//! - `config`: [`LdapConfig`], the target and the bind identity from the
//!   environment.
//! - `tls`: the rustls configuration (system roots plus `--ca-file`).
//! - `pool`: bound connections shared by the workers, the bound on
//!   requests in flight, time limits, reconnects, the measured pace.
//! - `directory`: [`LdapDirectory`]: find, read, change accounts.
//! - `privileges`: protected accounts and groups, by SID.
//! - `doctor`: the [`Check`]s `doctor` shows for an AD target.
//! - `error`: [`LdapError`] and the mapping of LDAP results to
//!   [`crate::directory::DirError`].
//! - `filter`: RFC 4515 escaping and the filters remedy sends.
//! - `ids`: `objectGUID` and `objectSid` as text.
//! - `entry`: search result entries, parsed without trusting their shape.
//! - `values`: `unicodePwd`, the disable bit, replication metadata.

mod config;
mod directory;
mod doctor;
mod entry;
mod error;
mod filter;
mod ids;
mod pool;
mod privileges;
mod tls;
mod values;

pub use config::{DEFAULT_TIMEOUT, LdapConfig};
pub use directory::{LdapDirectory, NO_REVOKE_HINT};
pub use doctor::Check;
pub use error::LdapError;
pub use ids::{Sid, guid_bytes, guid_text};

impl LdapDirectory {
    /// The checks `doctor` shows: the bind, the domain, one user read
    /// (`sample_key`, else the first user under `base_dn`), and the rights
    /// on that user.
    pub async fn doctor(&self, sample_key: Option<&str>) -> Vec<Check> {
        doctor::run(self, sample_key).await
    }
}
