//! Who started a run and where, for the manifest's incident record: the
//! operating-system account and the host name, found without a system
//! library (environment first, then the files Linux keeps them in).
//!
//! These are facts for people reading the record later, not identities
//! remedy checks: the environment can say anything.

use serde::{Deserialize, Serialize};

/// The account and machine a run was started from; `None` when unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    pub os_user: Option<String>,
    pub host: Option<String>,
}

impl Operator {
    /// The current process's account and host.
    #[must_use]
    pub fn current() -> Self {
        Operator {
            os_user: os_user(),
            host: host_name(),
        }
    }
}

fn non_empty(s: impl Into<String>) -> Option<String> {
    let s: String = s.into();
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().and_then(non_empty)
}

/// `USER`/`LOGNAME` (Unix), `USERNAME` (Windows), else the `/etc/passwd`
/// entry of the process's uid (containers often set no `USER`).
fn os_user() -> Option<String> {
    env("USER")
        .or_else(|| env("LOGNAME"))
        .or_else(|| env("USERNAME"))
        .or_else(user_from_passwd)
}

/// The real uid from the kernel (never from `/proc/self`, which belongs
/// to root once the process is non-dumpable: see `hardening.rs`).
#[cfg(unix)]
fn user_from_passwd() -> Option<String> {
    let uid = rustix::process::getuid().as_raw();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    name_of_uid(&passwd, uid).or_else(|| Some(format!("uid {uid}")))
}

#[cfg(not(unix))]
fn user_from_passwd() -> Option<String> {
    None
}

/// The name of `uid` in `/etc/passwd` text (`name:x:uid:gid:…`).
fn name_of_uid(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?.parse::<u32>().ok()?;
        (id == uid).then(|| name.to_owned()).and_then(non_empty)
    })
}

/// The kernel's host name (Linux), else `HOSTNAME`/`COMPUTERNAME`, else
/// `/etc/hostname`.
fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .and_then(non_empty)
        .or_else(|| env("HOSTNAME"))
        .or_else(|| env("COMPUTERNAME"))
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .and_then(non_empty)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines_name_their_uid() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      broken\n\
                      ops:x:1000:1000::/home/ops:/bin/sh\n";
        assert_eq!(name_of_uid(passwd, 0).as_deref(), Some("root"));
        assert_eq!(name_of_uid(passwd, 1000).as_deref(), Some("ops"));
        assert_eq!(name_of_uid(passwd, 7), None);
    }

    #[test]
    fn the_current_process_has_a_host() {
        // Every supported platform names its host one of these ways.
        assert!(Operator::current().host.is_some());
    }
}
