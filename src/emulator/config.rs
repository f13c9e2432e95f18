//! The emulator's options ([`EmulatorConfig`], whose `Default` is the CLI's
//! defaults, and the https files it may name, [`TlsFiles`]), their
//! validation, and the emulator's error type.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::diag::Diagnostic;
use crate::graph::permissions::REMEDY_PERMISSIONS;

/// The tenant id the emulator answers for unless told otherwise. Fixed so
/// that test fixtures and playbooks can name it.
pub const DEFAULT_TENANT_ID: &str = "5c8e2f1a-7d4b-4e9c-a3f6-0b2d9e7c4a18";
/// The tenant's initial domain unless told otherwise.
pub const DEFAULT_TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
/// Users generated when neither a CSV nor a count is given.
pub const DEFAULT_GENERATED_USERS: u32 = 100;
/// Graph's largest `$top` for directory collections.
pub const MAX_PAGE_SIZE: u32 = 999;

/// Where the emulated directory's users come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserSource {
    /// Any CSV that [`crate::input::UserReader`] accepts.
    Csv(PathBuf),
    /// `user0000001@<domain>` … `user{N:07}@<domain>` (numbered from 1).
    Generate(u32),
}

/// The PEM files of an https emulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server certificate, then any intermediates.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1), unencrypted.
    pub key: PathBuf,
}

/// What a `passwordProfile` PATCH of a synced user gets (real tenants show both).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyncedReset {
    /// 204: a cloud-only password is set (it is not written back on-premises).
    #[default]
    Accept,
    /// 400 `Request_BadRequest`: the user is mastered on-premises.
    Refuse,
}

/// What a Graph request costs the `--rate` bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Costs {
    /// One unit per request or `$batch` item.
    #[default]
    Flat,
    /// Graph's identity resource units: a users list (and list-style
    /// relations and role lists) 2, any other request 1; `$select` -1,
    /// `$expand` +1, `$top` under 20 -1; at least 1.
    Graph,
}

/// When `x-ms-throttle-limit-percentage` is sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LevelHeader {
    /// On every admitted request while a limit is on.
    Always,
    /// Only past 80% of a limit (Graph's documented behaviour).
    #[default]
    Above80,
    Never,
}

/// Where a `$batch` carries `x-ms-throttle-limit-percentage`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LevelHeaderOn {
    /// On the item responses only.
    Items,
    /// On the envelope only: the highest level its items reached.
    Envelope,
    #[default]
    Both,
}

impl LevelHeaderOn {
    pub(crate) fn items(self) -> bool {
        matches!(self, LevelHeaderOn::Items | LevelHeaderOn::Both)
    }

    pub(crate) fn envelope(self) -> bool {
        matches!(self, LevelHeaderOn::Envelope | LevelHeaderOn::Both)
    }
}

/// A write quota's bucket size per unit of `--write-rate` unless told
/// otherwise: Graph's 3,000 writes per 150 s is `--write-rate 20`.
pub const WRITE_BURST_SECONDS: f64 = 150.0;

/// The directory role the app's service principal holds unless told otherwise.
pub const DEFAULT_APP_ROLE: &str = "User Administrator";

/// Everything `remedy emulator` can be told; `Default` matches the CLI.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Must be a loopback address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Serve https with this certificate and key instead of plain http.
    pub tls: Option<TlsFiles>,
    pub users: UserSource,
    /// Added to every Graph request (and once to a whole `$batch`).
    pub latency: Duration,
    /// Sustained Graph requests (or batch items) per second per app; `None`
    /// turns throttling off.
    pub rate: Option<f64>,
    /// Bucket size; `None` means one second's worth of `rate` (at least 1).
    pub burst: Option<u32>,
    /// What each request costs the `rate` bucket (and says in
    /// `x-ms-resource-unit`).
    pub costs: Costs,
    /// Sustained writes (POST, PATCH, PUT, DELETE, items included) per
    /// second per app: a second bucket, charged one per write only. `None`:
    /// no write quota.
    pub write_rate: Option<f64>,
    /// The write bucket's size; `None` means [`WRITE_BURST_SECONDS`] of
    /// `write_rate` (at least 1).
    pub write_burst: Option<u32>,
    /// Fixed windows of this many seconds (aligned to the emulator's
    /// start) instead of token buckets: at most `rate * window` units (and
    /// `write_rate * window` writes) per window.
    pub window_secs: Option<u32>,
    /// When `x-ms-throttle-limit-percentage` is sent.
    pub level_header: LevelHeader,
    /// Where a `$batch` carries it.
    pub level_header_on: LevelHeaderOn,
    /// Fraction of Graph requests answered 500 or 503 before anything is applied.
    pub fail_rate: f64,
    /// Fraction of Graph requests answered only after [`Self::slow`].
    pub slow_rate: f64,
    pub slow: Duration,
    /// Fraction of Graph requests whose connection is closed with no answer.
    pub reset_rate: f64,
    /// Fraction of Graph requests answered 504 Gateway Timeout, half of
    /// them after the change was applied.
    pub gateway_timeout_rate: f64,
    /// Seeds the user state and every fault decision.
    pub seed: u64,
    /// The only client secret accepted; `None` accepts any non-empty one.
    pub client_secret: Option<SecretString>,
    /// Application permissions put in every token's `roles` claim.
    pub roles: Vec<String>,
    pub token_ttl_secs: u32,
    pub tenant_id: String,
    pub tenant_domain: String,
    /// Default `$top` of collections.
    pub page_size: u32,
    /// Share of users without explicit state that start locked out.
    pub locked_rate: f64,
    /// Share of users without explicit state that start disabled.
    pub disabled_rate: f64,
    /// Directory roles (built-in names) the app's service principal holds:
    /// the token's `oid` lists them as role assignments, and they decide
    /// whom the app may reset or enable/disable. Empty: no role.
    pub app_roles: Vec<String>,
    /// Adds Privileged Authentication Administrator to [`Self::app_roles`],
    /// so the app may also reset and enable/disable privileged users.
    pub privileged_admin: bool,
    /// What a synced user's password reset gets.
    pub synced_reset: SyncedReset,
    /// Domains whose `authenticationType` is `Federated` (the tenant's own
    /// and the seeded users' other domains are `Managed`).
    pub federated_domains: Vec<String>,
    /// The tenant has Entra ID P2 (PIM); without it, PIM reads answer 400
    /// `AadPremiumLicenseRequired`.
    pub pim_licence: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls: None,
            users: UserSource::Generate(DEFAULT_GENERATED_USERS),
            latency: Duration::ZERO,
            rate: None,
            burst: None,
            costs: Costs::Flat,
            write_rate: None,
            write_burst: None,
            window_secs: None,
            level_header: LevelHeader::Above80,
            level_header_on: LevelHeaderOn::Both,
            fail_rate: 0.0,
            slow_rate: 0.0,
            slow: Duration::from_secs(30),
            reset_rate: 0.0,
            gateway_timeout_rate: 0.0,
            seed: 0,
            client_secret: None,
            roles: REMEDY_PERMISSIONS.iter().map(|r| (*r).to_owned()).collect(),
            token_ttl_secs: 3599,
            tenant_id: DEFAULT_TENANT_ID.to_owned(),
            tenant_domain: DEFAULT_TENANT_DOMAIN.to_owned(),
            page_size: 100,
            locked_rate: 0.3,
            disabled_rate: 0.1,
            app_roles: vec![DEFAULT_APP_ROLE.to_owned()],
            privileged_admin: false,
            synced_reset: SyncedReset::Accept,
            federated_domains: Vec::new(),
            pim_licence: true,
        }
    }
}

impl EmulatorConfig {
    /// Check every option, so that a bad value fails before binding.
    ///
    /// # Errors
    ///
    /// [`EmulatorError::NotLoopback`] or [`EmulatorError::InvalidOption`].
    pub fn validate(&self) -> Result<(), EmulatorError> {
        if !self.listen.ip().is_loopback() {
            return Err(EmulatorError::NotLoopback { addr: self.listen });
        }
        for (option, value) in [
            ("--fail-rate", self.fail_rate),
            ("--slow-rate", self.slow_rate),
            ("--reset-rate", self.reset_rate),
            ("--gateway-timeout-rate", self.gateway_timeout_rate),
            ("--locked-rate", self.locked_rate),
            ("--disabled-rate", self.disabled_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(invalid(
                    option,
                    format!("must be between 0 and 1, not {value}"),
                ));
            }
        }
        // One uniform draw decides a request's fault, so the rates are
        // slices of [0, 1) and cannot overlap.
        let faults = self.fail_rate + self.slow_rate + self.reset_rate + self.gateway_timeout_rate;
        if faults > 1.0 + 1e-9 {
            return Err(invalid(
                "--fail-rate",
                format!(
                    "--fail-rate, --slow-rate, --reset-rate and --gateway-timeout-rate add up to {faults}, more than 1"
                ),
            ));
        }
        if let Some(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0 && rate <= 1e9)
        {
            return Err(invalid(
                "--rate",
                format!("must be a positive number, not {rate}"),
            ));
        }
        if self.burst == Some(0) {
            return Err(invalid("--burst", "must be at least 1".to_owned()));
        }
        if self.burst.is_some() && self.rate.is_none() {
            return Err(invalid("--burst", "needs --rate".to_owned()));
        }
        self.validate_write_quota()?;
        self.validate_window()?;
        if self.token_ttl_secs == 0 {
            return Err(invalid(
                "--token-ttl",
                "must be at least 1 second".to_owned(),
            ));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(invalid(
                "--page-size",
                format!(
                    "must be between 1 and {MAX_PAGE_SIZE}, not {}",
                    self.page_size
                ),
            ));
        }
        if uuid::Uuid::try_parse(&self.tenant_id).is_err() {
            return Err(invalid(
                "--tenant-id",
                format!("`{}` is not a GUID", self.tenant_id),
            ));
        }
        if !crate::input::is_domain_name(&self.tenant_domain) {
            return Err(invalid(
                "--tenant-domain",
                format!("`{}` is not a domain name", self.tenant_domain),
            ));
        }
        if self
            .roles
            .iter()
            .any(|r| r.trim().is_empty() || r.contains(char::is_whitespace))
        {
            return Err(invalid(
                "--roles",
                "permission names cannot be empty or contain spaces".to_owned(),
            ));
        }
        if let Some(role) = self
            .app_roles
            .iter()
            .find(|r| super::roles::built_in_name(r).is_none())
        {
            let known: Vec<&str> = super::roles::built_in_names().collect();
            return Err(invalid(
                "--app-role",
                format!(
                    "`{role}` is not a built-in role the emulator knows ({}, or none)",
                    known.join(", ")
                ),
            ));
        }
        for domain in &self.federated_domains {
            if !crate::input::is_domain_name(domain.trim()) {
                return Err(invalid(
                    "--federated-domain",
                    format!("`{domain}` is not a domain name"),
                ));
            }
            if domain.trim().eq_ignore_ascii_case(&self.tenant_domain) {
                return Err(invalid(
                    "--federated-domain",
                    format!("`{domain}` is the tenant's initial domain, which is always managed"),
                ));
            }
        }
        Ok(())
    }

    fn validate_write_quota(&self) -> Result<(), EmulatorError> {
        if let Some(rate) = self.write_rate
            && !(rate.is_finite() && rate > 0.0 && rate <= 1e9)
        {
            return Err(invalid(
                "--write-rate",
                format!("must be a positive number of writes per second, not {rate}"),
            ));
        }
        if self.write_burst == Some(0) {
            return Err(invalid("--write-burst", "must be at least 1".to_owned()));
        }
        if self.write_burst.is_some() && self.write_rate.is_none() {
            return Err(invalid("--write-burst", "needs --write-rate".to_owned()));
        }
        Ok(())
    }

    fn validate_window(&self) -> Result<(), EmulatorError> {
        let Some(window) = self.window_secs else {
            return Ok(());
        };
        if window == 0 {
            return Err(invalid(
                "--window-s",
                "must be at least 1 second".to_owned(),
            ));
        }
        if self.rate.is_none() && self.write_rate.is_none() {
            return Err(invalid(
                "--window-s",
                "needs --rate or --write-rate (the limit it counts per window)".to_owned(),
            ));
        }
        if self.burst.is_some() {
            return Err(invalid(
                "--burst",
                "has no meaning with --window-s: a window allows --rate times its length"
                    .to_owned(),
            ));
        }
        if self.write_burst.is_some() {
            return Err(invalid(
                "--write-burst",
                "has no meaning with --window-s: a window allows --write-rate times its length"
                    .to_owned(),
            ));
        }
        for (option, rate) in [("--rate", self.rate), ("--write-rate", self.write_rate)] {
            if let Some(rate) = rate
                && rate * f64::from(window) < 1.0
            {
                return Err(invalid(
                    option,
                    format!(
                        "{rate} per second over --window-s {window} allows less than one request per window; raise it or lengthen the window"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The bucket size in effect when throttling is on.
    pub(crate) fn effective_burst(&self) -> Option<(f64, f64)> {
        self.rate.map(|rate| {
            let burst = self.burst.map_or_else(|| rate.ceil().max(1.0), f64::from);
            (rate, burst)
        })
    }

    /// The write bucket's rate and size when the write quota is on.
    pub(crate) fn effective_write_burst(&self) -> Option<(f64, f64)> {
        self.write_rate.map(|rate| {
            let burst = self
                .write_burst
                .map_or_else(|| (rate * WRITE_BURST_SECONDS).ceil().max(1.0), f64::from);
            (rate, burst)
        })
    }
}

fn invalid(option: &'static str, message: String) -> EmulatorError {
    EmulatorError::InvalidOption { option, message }
}

/// Why the emulator could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error(
        "refusing to listen on `{addr}`: the emulator only binds loopback addresses (127.0.0.1 or ::1)"
    )]
    NotLoopback { addr: SocketAddr },
    #[error("cannot listen on `{addr}`: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot serve https: `{}` {message}", file.display())]
    Tls { file: PathBuf, message: String },
    #[error("`{option}` {message}")]
    InvalidOption {
        option: &'static str,
        message: String,
    },
    #[error("`{file}` cannot seed the emulator: {} problem{}", diagnostics.len(), if diagnostics.len() == 1 { "" } else { "s" })]
    Seed {
        file: String,
        diagnostics: Vec<Diagnostic>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        EmulatorConfig::default().validate().unwrap();
    }

    #[test]
    fn debug_hides_the_client_secret() {
        let c = EmulatorConfig {
            client_secret: Some(SecretString::from("emu-s3cret-value".to_owned())),
            ..EmulatorConfig::default()
        };
        let d = format!("{c:?}");
        assert!(d.contains("client_secret"), "{d}");
        assert!(!d.contains("emu-s3cret-value"), "{d}");
    }

    #[test]
    fn refuses_non_loopback_and_bad_rates() {
        let mut c = EmulatorConfig {
            listen: "0.0.0.0:0".parse().unwrap(),
            ..EmulatorConfig::default()
        };
        assert!(matches!(
            c.validate(),
            Err(EmulatorError::NotLoopback { .. })
        ));
        c.listen = "[::1]:0".parse().unwrap();
        c.validate().unwrap();
        c.fail_rate = 0.6;
        c.reset_rate = 0.6;
        assert!(matches!(
            c.validate(),
            Err(EmulatorError::InvalidOption { .. })
        ));
        c.reset_rate = 0.0;
        c.rate = Some(0.0);
        assert!(c.validate().is_err());
        c.rate = Some(2.5);
        assert_eq!(c.effective_burst(), Some((2.5, 3.0)));
    }

    #[test]
    fn throttling_options_are_checked() {
        let err = |c: EmulatorConfig| c.validate().unwrap_err().to_string();
        let base = EmulatorConfig::default();
        let write = EmulatorConfig {
            write_rate: Some(20.0),
            ..base.clone()
        };
        write.validate().unwrap();
        assert_eq!(write.effective_write_burst(), Some((20.0, 3000.0)));
        assert_eq!(write.effective_burst(), None);
        let e = err(EmulatorConfig {
            write_rate: Some(-1.0),
            ..base.clone()
        });
        assert!(e.contains("--write-rate") && e.contains("positive"), "{e}");
        let e = err(EmulatorConfig {
            write_burst: Some(5),
            ..base.clone()
        });
        assert!(
            e.contains("--write-burst") && e.contains("needs --write-rate"),
            "{e}"
        );
        let e = err(EmulatorConfig {
            write_burst: Some(0),
            ..write.clone()
        });
        assert!(e.contains("at least 1"), "{e}");
        let e = err(EmulatorConfig {
            window_secs: Some(10),
            ..base.clone()
        });
        assert!(
            e.contains("--window-s") && e.contains("needs --rate"),
            "{e}"
        );
        let windowed = EmulatorConfig {
            rate: Some(2.0),
            window_secs: Some(10),
            ..write.clone()
        };
        windowed.validate().unwrap();
        let e = err(EmulatorConfig {
            burst: Some(5),
            ..windowed.clone()
        });
        assert!(e.contains("--burst") && e.contains("--window-s"), "{e}");
        let e = err(EmulatorConfig {
            write_burst: Some(5),
            ..windowed.clone()
        });
        assert!(e.contains("--write-burst"), "{e}");
        let e = err(EmulatorConfig {
            window_secs: Some(0),
            ..windowed.clone()
        });
        assert!(e.contains("at least 1 second"), "{e}");
        let e = err(EmulatorConfig {
            rate: Some(0.05),
            ..windowed
        });
        assert!(e.contains("less than one request per window"), "{e}");
        let e = err(EmulatorConfig {
            fail_rate: 0.5,
            gateway_timeout_rate: 0.6,
            ..base.clone()
        });
        assert!(e.contains("--gateway-timeout-rate"), "{e}");
        assert!(
            EmulatorConfig {
                gateway_timeout_rate: 1.5,
                ..base
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn app_roles_and_federated_domains_are_checked() {
        let mut c = EmulatorConfig {
            app_roles: vec!["global administrator".to_owned()],
            federated_domains: vec!["fabrikam.com".to_owned()],
            ..EmulatorConfig::default()
        };
        c.validate().unwrap();
        c.app_roles.push("Global Admin".to_owned());
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("--app-role") && err.contains("`Global Admin`"),
            "{err}"
        );
        c.app_roles.clear();
        c.validate().unwrap();
        c.federated_domains = vec!["not a domain".to_owned()];
        assert!(c.validate().is_err());
        c.federated_domains = vec!["CONTOSO.onmicrosoft.com".to_owned()];
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("always managed"), "{err}");
    }

    #[test]
    fn domains() {
        let is_domain = crate::input::is_domain_name;
        assert!(is_domain("contoso.onmicrosoft.com"));
        assert!(!is_domain("contoso"));
        assert!(!is_domain("-a.com"));
        assert!(!is_domain("a..com"));
    }
}
