//! [`LdapConfig`]: where the Active Directory provider connects and as
//! whom. The target comes from the playbook; the bind identity and its
//! password from the environment (`REMEDY_LDAP_BIND_DN`, and
//! `REMEDY_LDAP_PASSWORD` or `REMEDY_LDAP_PASSWORD_FILE`), never from the
//! playbook. A password file readable by group or others is refused, like
//! an ssh key. `Debug` shows no password.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use crate::ldap::LdapError;
use crate::playbook::checked::LdapSpec;

/// How long one LDAP operation may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything needed to connect and bind.
#[derive(Clone)]
pub struct LdapConfig {
    pub spec: LdapSpec,
    pub bind_dn: String,
    pub password: SecretString,
    pub ca_file: Option<PathBuf>,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// The limit of one operation (and of connecting).
    pub timeout: Duration,
}

impl std::fmt::Debug for LdapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapConfig")
            .field("spec", &self.spec)
            .field("bind_dn", &self.bind_dn)
            .field("password", &"[redacted]")
            .field("ca_file", &self.ca_file)
            .field("concurrency", &self.concurrency)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl LdapConfig {
    /// The configuration for `spec` with the bind identity from `env`
    /// (a lookup, so tests need not touch the process environment).
    ///
    /// # Errors
    ///
    /// A variable is missing, both password variables are set, or the
    /// password file cannot be read or is readable by group or others.
    pub fn from_env(
        spec: LdapSpec,
        env: impl Fn(&str) -> Option<String>,
        ca_file: Option<PathBuf>,
        concurrency: usize,
    ) -> Result<Self, LdapError> {
        let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let bind_dn = set("REMEDY_LDAP_BIND_DN")
            .map(|v| v.trim().to_owned())
            .ok_or(LdapError::MissingEnv {
                name: "REMEDY_LDAP_BIND_DN",
            })?;
        let password = match (
            set("REMEDY_LDAP_PASSWORD"),
            set("REMEDY_LDAP_PASSWORD_FILE"),
        ) {
            (Some(_), Some(_)) => return Err(LdapError::TwoPasswords),
            (Some(p), None) => SecretString::from(p),
            (None, Some(file)) => read_password_file(Path::new(&file))?,
            (None, None) => {
                return Err(LdapError::MissingEnv {
                    name: "REMEDY_LDAP_PASSWORD or REMEDY_LDAP_PASSWORD_FILE",
                });
            }
        };
        Ok(LdapConfig {
            spec,
            bind_dn,
            password,
            ca_file,
            concurrency: concurrency.max(1),
            timeout: DEFAULT_TIMEOUT,
        })
    }
}

/// The password on the first line of `path` (its trailing newline
/// trimmed). Refused when group or others may read it.
fn read_password_file(path: &Path) -> Result<SecretString, LdapError> {
    let bad = |reason: String| LdapError::PasswordFile {
        path: path.to_owned(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(e.kind().to_string()))?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(bad(format!(
                "it is readable by group or others (mode {mode:04o}); run chmod 600 on it"
            )));
        }
    }
    let bytes =
        zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| bad(e.kind().to_string()))?);
    let text = std::str::from_utf8(&bytes).map_err(|_| bad("it is not UTF-8 text".into()))?;
    let line = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text);
    if line.is_empty() {
        return Err(bad("it is empty".into()));
    }
    if line.contains('\n') {
        return Err(bad("it holds more than one line".into()));
    }
    Ok(SecretString::from(line.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::model::FindBy;
    use secrecy::ExposeSecret as _;

    fn spec() -> LdapSpec {
        LdapSpec {
            url: "ldaps://dc1.corp.example".into(),
            base_dn: "DC=corp,DC=example".into(),
            domain: None,
            find_by: FindBy::UserPrincipalName,
        }
    }

    fn env(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> + use<> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn the_password_comes_from_the_environment_and_debug_hides_it() {
        let c = LdapConfig::from_env(
            spec(),
            env(&[
                ("REMEDY_LDAP_BIND_DN", "CN=svc,DC=corp,DC=example".into()),
                ("REMEDY_LDAP_PASSWORD", "Hunter2-Secret!".into()),
            ]),
            None,
            8,
        )
        .unwrap();
        assert_eq!(c.password.expose_secret(), "Hunter2-Secret!");
        let shown = format!("{c:?}");
        assert!(!shown.contains("Hunter2"), "{shown}");
        assert!(shown.contains("CN=svc"), "{shown}");
        let e = LdapConfig::from_env(spec(), env(&[]), None, 1).unwrap_err();
        assert!(e.to_string().contains("REMEDY_LDAP_BIND_DN"), "{e}");
        let e = LdapConfig::from_env(
            spec(),
            env(&[("REMEDY_LDAP_BIND_DN", "CN=svc".into())]),
            None,
            1,
        )
        .unwrap_err();
        assert!(e.to_string().contains("REMEDY_LDAP_PASSWORD"), "{e}");
        assert!(e.hint().contains("0600"), "{}", e.hint());
    }

    #[cfg(unix)]
    #[test]
    fn a_password_file_must_be_private_and_loses_its_newline() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "Hunter2-Secret!\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let vars = |f: &Path| {
            env(&[
                ("REMEDY_LDAP_BIND_DN", "CN=svc".into()),
                ("REMEDY_LDAP_PASSWORD_FILE", f.display().to_string()),
            ])
        };
        let c = LdapConfig::from_env(spec(), vars(&file), None, 1).unwrap();
        assert_eq!(c.password.expose_secret(), "Hunter2-Secret!");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = LdapConfig::from_env(spec(), vars(&file), None, 1).unwrap_err();
        assert!(e.to_string().contains("group or others"), "{e}");
        assert!(!e.to_string().contains("Hunter2"), "{e}");
        assert!(e.hint().contains("chmod 600"));
        let e = LdapConfig::from_env(spec(), vars(&dir.path().join("none")), None, 1).unwrap_err();
        assert!(matches!(e, LdapError::PasswordFile { .. }), "{e}");
        let both = env(&[
            ("REMEDY_LDAP_BIND_DN", "CN=svc".into()),
            ("REMEDY_LDAP_PASSWORD", "x".into()),
            ("REMEDY_LDAP_PASSWORD_FILE", file.display().to_string()),
        ]);
        assert!(matches!(
            LdapConfig::from_env(spec(), both, None, 1).unwrap_err(),
            LdapError::TwoPasswords
        ));
    }
}
