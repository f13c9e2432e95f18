//! A real Samba Active Directory domain controller on 127.0.0.1 for tests
//! and benchmarks: provisioning, start, readiness, and an oracle over the
//! `ldapsearch` / `ldapmodify` / `samba-tool` command-line tools, which
//! share no code with remedy.
//!
//! [`Samba::shared`] starts one DC per process on first use and hands out
//! the same one to every thread. It returns `None` when Samba is not
//! installed and `CI` is unset (after one line on stderr); with `CI` set a
//! missing Samba panics with "samba-ad-dc is not installed; .ci/run
//! installs it".
//!
//! The DC listens on the fixed ports 636 (LDAPS) and 389 (LDAP, StartTLS),
//! so only one can run per machine: a process holds an exclusive lock on
//! [`LOCK_FILE`] for its lifetime, and a DC left behind by a killed earlier
//! run (its process group is in `samba.pgid`) is stopped first. Each
//! process provisions a fresh domain `EXAMPLE.TEST` in [`DC_DIR`] (short,
//! because of unix socket path limits); nothing is read from or written to
//! `/etc/samba` or `/var/lib/samba`. Samba runs in the foreground (`-i`)
//! with a pipe on its stdin that this process holds: Samba exits when that
//! pipe reaches end of file, so the DC dies with the process however the
//! process ends.
//!
//! The server certificate comes from a throwaway CA made here with rcgen,
//! with subject alternative names `IP:127.0.0.1` and `DNS:localhost` (the
//! certificate Samba makes for itself has none, which rustls refuses).
//! The domain locks an account after 3 bad passwords (for 30 minutes),
//! keeps the default password complexity, and writes its database without
//! fsync (`ldb:nosync`): it is a test DC.
//!
//! The admin and user passwords are test secrets, but they are treated as
//! secrets anyway: they reach the tools through 0600 files (`-y`), never
//! through arguments, and panics carry a command's output only after every
//! known password in it is replaced by `***`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, RandomState};
use std::io::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// Where the DC lives (provisioned afresh by each process).
pub const DC_DIR: &str = "/tmp/remedy-samba-dc";
/// The machine-wide lock: one DC at a time on ports 636 and 389.
pub const LOCK_FILE: &str = "/tmp/remedy-samba-dc.lock";
/// Account lockout threshold the domain is provisioned with.
pub const LOCKOUT_THRESHOLD: u32 = 3;
/// `userAccountControl` of a normal, enabled account.
pub const UAC_NORMAL: u32 = 0x200;
/// `userAccountControl` bit: the account is disabled.
pub const UAC_DISABLED: u32 = 0x2;
/// `msDS-User-Account-Control-Computed` bit: the account is locked out.
pub const UF_LOCKOUT: u32 = 0x10;

const REALM: &str = "EXAMPLE.TEST";
const DNS_DOMAIN: &str = "example.test";
const NETBIOS: &str = "EXAMPLE";
const BASE_DN: &str = "DC=example,DC=test";
const ADMIN_DN: &str = "CN=Administrator,CN=Users,DC=example,DC=test";
/// Every wait for the DC is bounded by this.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Every command run against the DC is bounded by this.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);
/// How long to wait for another process to release [`LOCK_FILE`].
const LOCK_TIMEOUT: Duration = Duration::from_secs(900);
const TOOLS: [&str; 5] = ["samba", "samba-tool", "ldapsearch", "ldapmodify", "ldapadd"];

/// A user account the harness created, with its password.
#[derive(Clone)]
pub struct User {
    /// `sAMAccountName` (also the CN).
    pub sam: String,
    /// `userPrincipalName`: `<sam>@example.test`.
    pub upn: String,
    /// The distinguished name, under `CN=Users`.
    pub dn: String,
    /// The password the account was created with (test secret).
    pub password: String,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("sam", &self.sam)
            .field("upn", &self.upn)
            .field("dn", &self.dn)
            .field("password", &"***")
            .finish()
    }
}

/// One entry of a search result: its DN and its attributes (names as the
/// server spells them; values as bytes, base64 already decoded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    pub attrs: BTreeMap<String, Vec<Vec<u8>>>,
}

impl Entry {
    /// The values of `attr` (matched case-insensitively).
    pub fn values(&self, attr: &str) -> Vec<&[u8]> {
        self.attrs
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(attr))
            .flat_map(|(_, values)| values.iter().map(Vec::as_slice))
            .collect()
    }

    /// The first value of `attr` as text (lossy UTF-8).
    pub fn text(&self, attr: &str) -> Option<String> {
        self.values(attr)
            .first()
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// All values of `attr` as text (lossy UTF-8).
    pub fn texts(&self, attr: &str) -> Vec<String> {
        self.values(attr)
            .iter()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    /// The first value of `attr` as an integer; `None` when absent.
    pub fn int(&self, attr: &str) -> Option<i64> {
        self.text(attr).map(|t| {
            t.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{attr} of {} is not an integer: {t:?}", self.dn))
        })
    }
}

/// The running DC and the oracle over it.
pub struct Samba {
    dir: PathBuf,
    admin_password: String,
    admin_password_file: PathBuf,
    ca_file: PathBuf,
    ca_der: Vec<u8>,
    domain_sid: String,
    ldap_conf: PathBuf,
    /// How long `samba-tool domain provision` took.
    pub provision_time: Duration,
    /// From spawning `samba` to the first successful LDAPS bind.
    pub ready_time: Duration,
    counter: AtomicU64,
    child: Mutex<Child>,
    // Held for the life of the process: Samba exits on its end of file.
    _stdin: Mutex<ChildStdin>,
    // Held for the life of the process: the machine-wide lock.
    _lock: File,
}

static SHARED: OnceLock<Result<Option<Samba>, String>> = OnceLock::new();
/// Names are unique per process; each process provisions a fresh domain.
static NAMES: AtomicU64 = AtomicU64::new(0);

impl Samba {
    /// The DC of this process, started on first use; `None` when Samba is
    /// not installed and `CI` is unset. Panics (every call, with the same
    /// message) when the DC could not be started.
    pub fn shared() -> Option<&'static Samba> {
        let started = SHARED.get_or_init(|| {
            let missing: Vec<&str> = TOOLS
                .iter()
                .copied()
                .filter(|tool| find_tool(tool).is_none())
                .collect();
            if !missing.is_empty() {
                if std::env::var_os("CI").is_some() {
                    return Err(format!(
                        "samba-ad-dc is not installed; .ci/run installs it (missing: {})",
                        missing.join(", ")
                    ));
                }
                eprintln!(
                    "samba: skipping the Samba AD DC tests: {} not installed (apt-get install samba-ad-dc samba-ad-provision winbind ldap-utils)",
                    missing.join(", ")
                );
                return Ok(None);
            }
            let samba = Samba::start()?;
            eprintln!(
                "samba: DC on 127.0.0.1 (realm {REALM}): provisioned in {:.1} s, ready {:.1} s after start",
                samba.provision_time.as_secs_f64(),
                samba.ready_time.as_secs_f64()
            );
            Ok(Some(samba))
        });
        match started {
            Ok(samba) => samba.as_ref(),
            Err(message) => panic!("samba: {message}"),
        }
    }

    /// `ldaps://127.0.0.1:636`.
    pub fn ldaps_url(&self) -> &'static str {
        "ldaps://127.0.0.1:636"
    }

    /// `ldap://127.0.0.1:389` (StartTLS; simple binds need it or LDAPS).
    pub fn starttls_url(&self) -> &'static str {
        "ldap://127.0.0.1:389"
    }

    /// `DC=example,DC=test`.
    pub fn base_dn(&self) -> &'static str {
        BASE_DN
    }

    /// `EXAMPLE.TEST`.
    pub fn realm(&self) -> &'static str {
        REALM
    }

    /// `example.test`.
    pub fn dns_domain(&self) -> &'static str {
        DNS_DOMAIN
    }

    /// `EXAMPLE`.
    pub fn netbios_domain(&self) -> &'static str {
        NETBIOS
    }

    /// The domain SID (`S-1-5-21-…`), as provisioning reported it.
    pub fn domain_sid(&self) -> &str {
        &self.domain_sid
    }

    /// `CN=Administrator,CN=Users,DC=example,DC=test`.
    pub fn admin_dn(&self) -> &'static str {
        ADMIN_DN
    }

    /// `administrator@example.test`.
    pub fn admin_upn(&self) -> &'static str {
        "administrator@example.test"
    }

    /// The Administrator's password (test secret).
    pub fn admin_password(&self) -> &str {
        &self.admin_password
    }

    /// A 0600 file holding the Administrator's password (no newline).
    pub fn admin_password_file(&self) -> &Path {
        &self.admin_password_file
    }

    /// The test CA (PEM) that signed the DC's certificate.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The test CA certificate (DER).
    pub fn ca_der(&self) -> &[u8] {
        &self.ca_der
    }

    /// The DC's directory (smb.conf in `etc/`, Samba's output in `samba.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The DN of a group in `CN=Users` by its CN (`"Domain Admins"`), or
    /// `group` itself when it is already a DN.
    pub fn group_dn(&self, group: &str) -> String {
        if group.contains('=') {
            group.to_owned()
        } else {
            format!("CN={group},CN=Users,{BASE_DN}")
        }
    }

    /// A unique account name starting with `prefix` (at most 20 chars).
    fn unique_sam(&self, prefix: &str) -> String {
        let n = NAMES.fetch_add(1, Ordering::Relaxed);
        sam_name(prefix, n)
    }

    /// A fresh password that meets the default complexity rules.
    pub fn fresh_password(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        fresh_password(n)
    }

    /// Creates one enabled user (password set, `userAccountControl` 512).
    pub fn create_user(&self, prefix: &str) -> User {
        self.create_users(prefix, 1)
            .pop()
            .expect("create_users(1) made one user")
    }

    /// Creates `n` enabled users in one `ldapmodify` of an LDIF file
    /// (about 25 ms a user: Samba derives every password hash).
    pub fn create_users(&self, prefix: &str, n: usize) -> Vec<User> {
        let users: Vec<User> = (0..n)
            .map(|_| {
                let sam = self.unique_sam(prefix);
                User {
                    upn: format!("{sam}@{DNS_DOMAIN}"),
                    dn: format!("CN={sam},CN=Users,{BASE_DN}"),
                    password: self.fresh_password(),
                    sam,
                }
            })
            .collect();
        let mut ldif = String::new();
        for user in &users {
            let _ = write!(
                ldif,
                "dn: {}\nchangetype: add\nobjectClass: user\nsAMAccountName: {}\nuserPrincipalName: {}\nunicodePwd:: {}\nuserAccountControl: {UAC_NORMAL}\n\n",
                user.dn,
                user.sam,
                user.upn,
                unicode_pwd(&user.password)
            );
        }
        let secrets: Vec<&str> = users.iter().map(|u| u.password.as_str()).collect();
        self.modify_scrubbing(&ldif, &secrets)
            .unwrap_or_else(|e| panic!("creating {n} users ({prefix}…): {e}"));
        users
    }

    /// Creates a global security group in `CN=Users`; returns its DN.
    pub fn create_group(&self, prefix: &str) -> String {
        let cn = self.unique_sam(prefix);
        let dn = format!("CN={cn},CN=Users,{BASE_DN}");
        self.modify(&format!(
            "dn: {dn}\nchangetype: add\nobjectClass: group\nsAMAccountName: {cn}\n\n"
        ));
        dn
    }

    /// Adds `member_dn` (a user or a group) to `group` (a CN in `CN=Users`
    /// or a DN).
    pub fn add_member(&self, group: &str, member_dn: &str) {
        let group = self.group_dn(group);
        self.modify(&format!(
            "dn: {group}\nchangetype: modify\nadd: member\nmember: {member_dn}\n-\n\n"
        ));
    }

    /// Adds `user` to `group` (`"Domain Admins"`, or a DN).
    pub fn add_to_group(&self, user: &User, group: &str) {
        self.add_member(group, &user.dn);
    }

    /// Sets or clears the disabled bit, keeping the other bits.
    pub fn set_disabled(&self, user: &User, disabled: bool) {
        let uac = self.user_account_control(user);
        let new = if disabled {
            uac | UAC_DISABLED
        } else {
            uac & !UAC_DISABLED
        };
        self.modify(&format!(
            "dn: {}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: {new}\n-\n\n",
            user.dn
        ));
    }

    /// Unlocks `user` the way an administrator does: `lockoutTime: 0`.
    pub fn unlock(&self, user: &User) {
        self.modify(&format!(
            "dn: {}\nchangetype: modify\nreplace: lockoutTime\nlockoutTime: 0\n-\n\n",
            user.dn
        ));
    }

    /// Binds with wrong passwords until the DC answers `data 775` (locked),
    /// then asserts the computed lockout bit is set.
    pub fn lock_out(&self, user: &User) {
        let wrong = format!("{}-wrong", user.password);
        let mut answers = Vec::new();
        for _ in 0..=LOCKOUT_THRESHOLD + 2 {
            match self.try_bind(&user.upn, &wrong) {
                Ok(()) => panic!("a wrong password bound as {}", user.upn),
                Err(code) if code == "775" => {
                    assert!(
                        self.is_locked(user),
                        "{} refused with 775 but msDS-User-Account-Control-Computed has no lockout bit",
                        user.upn
                    );
                    return;
                }
                Err(code) => answers.push(code),
            }
        }
        panic!(
            "{} never locked out after {} wrong passwords (answers: {answers:?})",
            user.upn,
            answers.len()
        );
    }

    /// Whether `msDS-User-Account-Control-Computed` has the lockout bit.
    pub fn is_locked(&self, user: &User) -> bool {
        let computed = self
            .int_attr(&user.dn, "msDS-User-Account-Control-Computed")
            .unwrap_or_else(|| panic!("{} has no msDS-User-Account-Control-Computed", user.dn));
        computed & i64::from(UF_LOCKOUT) != 0
    }

    /// `userAccountControl`.
    pub fn user_account_control(&self, user: &User) -> u32 {
        let uac = self
            .int_attr(&user.dn, "userAccountControl")
            .unwrap_or_else(|| panic!("{} has no userAccountControl", user.dn));
        u32::try_from(uac).unwrap_or_else(|_| panic!("userAccountControl {uac} out of range"))
    }

    /// `pwdLastSet` (0: must change at next logon).
    pub fn pwd_last_set(&self, user: &User) -> i64 {
        self.int_attr(&user.dn, "pwdLastSet")
            .unwrap_or_else(|| panic!("{} has no pwdLastSet", user.dn))
    }

    /// `lockoutTime`; 0 when the attribute is absent.
    pub fn lockout_time(&self, user: &User) -> i64 {
        self.int_attr(&user.dn, "lockoutTime").unwrap_or(0)
    }

    /// `badPwdCount`; 0 when the attribute is absent.
    pub fn bad_pwd_count(&self, user: &User) -> i64 {
        self.int_attr(&user.dn, "badPwdCount").unwrap_or(0)
    }

    /// One attribute of one entry, read with a base-scope search (AD
    /// returns constructed attributes only there).
    fn int_attr(&self, dn: &str, attr: &str) -> Option<i64> {
        self.read_entry(dn, &[attr])
            .unwrap_or_else(|| panic!("no entry {dn}"))
            .int(attr)
    }

    /// Whether a simple bind as `who` (UPN or DN) with `password` works.
    pub fn can_bind(&self, who: &str, password: &str) -> bool {
        self.try_bind(who, password).is_ok()
    }

    /// A simple bind over LDAPS as `who`: `Err` holds AD's `data` code
    /// (`52e` bad password, `775` locked, `533` disabled, …), or the
    /// result code when there is none.
    pub fn try_bind(&self, who: &str, password: &str) -> Result<(), String> {
        let file = self.secret_file(password);
        let out = self.run_tool(
            "ldapsearch",
            &[
                "-LLL",
                "-H",
                self.ldaps_url(),
                "-x",
                "-D",
                who,
                "-y",
                path_str(&file),
                "-b",
                "",
                "-s",
                "base",
                "dn",
            ],
            &[password],
        );
        let _ = std::fs::remove_file(&file);
        match out {
            Ok(_) => Ok(()),
            Err(failure) if failure.code == Some(49) => {
                Err(ad_data_code(&failure.stderr)
                    .unwrap_or_else(|| "invalidCredentials".to_owned()))
            }
            Err(failure) => panic!("bind as {who}: {failure}"),
        }
    }

    /// A subtree search under the base DN as Administrator.
    pub fn search(&self, filter: &str, attrs: &[&str]) -> Vec<Entry> {
        self.search_in(BASE_DN, "sub", filter, attrs)
    }

    /// One entry by DN (base scope), or `None` when it does not exist.
    pub fn read_entry(&self, dn: &str, attrs: &[&str]) -> Option<Entry> {
        match self.try_search(dn, "base", "(objectClass=*)", attrs) {
            Ok(mut entries) => entries.pop(),
            Err(failure) if failure.code == Some(32) => None,
            Err(failure) => panic!("reading {dn}: {failure}"),
        }
    }

    /// A search as Administrator: `scope` is `base`, `one` or `sub`.
    pub fn search_in(&self, base: &str, scope: &str, filter: &str, attrs: &[&str]) -> Vec<Entry> {
        self.try_search(base, scope, filter, attrs)
            .unwrap_or_else(|failure| panic!("search {filter} under {base}: {failure}"))
    }

    fn try_search(
        &self,
        base: &str,
        scope: &str,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<Entry>, Failure> {
        let mut args = vec![
            "-LLL",
            "-o",
            "ldif-wrap=no",
            "-E",
            "pr=1000/noprompt",
            "-H",
            self.ldaps_url(),
            "-x",
            "-D",
            ADMIN_DN,
            "-y",
            path_str(&self.admin_password_file),
            "-b",
            base,
            "-s",
            scope,
            filter,
        ];
        args.extend_from_slice(attrs);
        let stdout = self.run_tool("ldapsearch", &args, &[])?;
        Ok(parse_ldif(&stdout))
    }

    /// Applies an LDIF of changes (`changetype:` records) as
    /// Administrator with `ldapmodify -f`; panics on any error.
    pub fn modify(&self, ldif: &str) {
        if let Err(e) = self.try_modify(ldif) {
            panic!("ldapmodify: {e}");
        }
    }

    /// Like [`Samba::modify`], returning the tool's (scrubbed) error
    /// output, which carries AD's text (`0000052D: Constraint violation…`).
    pub fn try_modify(&self, ldif: &str) -> Result<(), String> {
        self.modify_scrubbing(ldif, &[])
    }

    fn modify_scrubbing(&self, ldif: &str, secrets: &[&str]) -> Result<(), String> {
        self.ldapmodify(ADMIN_DN, &self.admin_password_file, ldif, secrets)
    }

    /// Like [`Samba::try_modify`], bound as `who` (UPN or DN) with
    /// `password` instead of Administrator: a plain user gets
    /// `Insufficient access (50)` for another user's `lockoutTime`,
    /// `unicodePwd` or `userAccountControl`.
    pub fn try_modify_as(&self, who: &str, password: &str, ldif: &str) -> Result<(), String> {
        let password_file = self.secret_file(password);
        let out = self.ldapmodify(who, &password_file, ldif, &[password]);
        let _ = std::fs::remove_file(&password_file);
        out
    }

    /// A user to bind as that is not an administrator: it reads the
    /// directory but may not unlock, reset or enable other accounts.
    pub fn create_bind_user(&self, prefix: &str) -> User {
        self.create_user(prefix)
    }

    fn ldapmodify(
        &self,
        bind_dn: &str,
        password_file: &Path,
        ldif: &str,
        secrets: &[&str],
    ) -> Result<(), String> {
        let file = self.secret_file(ldif);
        let out = self.run_tool(
            "ldapmodify",
            &[
                "-H",
                self.ldaps_url(),
                "-x",
                "-D",
                bind_dn,
                "-y",
                path_str(password_file),
                "-f",
                path_str(&file),
            ],
            secrets,
        );
        let _ = std::fs::remove_file(&file);
        out.map(|_| ()).map_err(|failure| failure.to_string())
    }

    /// The benchmark baseline: for each user, in ONE `ldapmodify -f` over
    /// LDAPS and with no reads, replace `lockoutTime` with 0, `unicodePwd`
    /// with a fresh complex password, and `userAccountControl` with 512.
    /// Returns the time that one command took. The users' passwords are
    /// no longer those in [`User::password`] afterwards.
    pub fn ldapmodify_batch(&self, users: &[User]) -> Duration {
        let mut ldif = String::new();
        let mut passwords = Vec::with_capacity(users.len());
        for user in users {
            let password = self.fresh_password();
            let _ = write!(
                ldif,
                "dn: {}\nchangetype: modify\nreplace: lockoutTime\nlockoutTime: 0\n-\nreplace: unicodePwd\nunicodePwd:: {}\n-\nreplace: userAccountControl\nuserAccountControl: {UAC_NORMAL}\n-\n\n",
                user.dn,
                unicode_pwd(&password)
            );
            passwords.push(password);
        }
        let file = self.secret_file(&ldif);
        let secrets: Vec<&str> = passwords.iter().map(String::as_str).collect();
        let started = Instant::now();
        let out = self.run_tool(
            "ldapmodify",
            &[
                "-H",
                self.ldaps_url(),
                "-x",
                "-D",
                ADMIN_DN,
                "-y",
                path_str(&self.admin_password_file),
                "-f",
                path_str(&file),
            ],
            &secrets,
        );
        let elapsed = started.elapsed();
        let _ = std::fs::remove_file(&file);
        if let Err(failure) = out {
            panic!("ldapmodify batch of {} users: {failure}", users.len());
        }
        elapsed
    }

    /// Writes `text` to a new 0600 file in the DC's `tmp/` directory.
    fn secret_file(&self, text: &str) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join("tmp").join(format!("in-{n}"));
        write_private(&path, text.as_bytes())
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    /// Runs an ldap-utils tool against the DC (trusting only the test CA,
    /// certificate checks on), bounded by [`COMMAND_TIMEOUT`].
    fn run_tool(&self, tool: &str, args: &[&str], secrets: &[&str]) -> Result<String, Failure> {
        let mut command = Command::new(tool_path(tool));
        command
            .args(args)
            .env("LDAPCONF", &self.ldap_conf)
            .env("LDAPTLS_CACERT", &self.ca_file)
            .env("LDAPTLS_REQCERT", "demand")
            .env_remove("LDAPRC")
            .env_remove("LDAPURI")
            .env_remove("LDAPBINDDN")
            .env_remove("LDAPBASE");
        let mut all_secrets = secrets.to_vec();
        all_secrets.push(&self.admin_password);
        run_bounded(command, COMMAND_TIMEOUT, &all_secrets)
    }

    /// Provisions and starts the DC, waiting until LDAPS answers.
    fn start() -> Result<Samba, String> {
        let lock = take_lock()?;
        let dir = PathBuf::from(DC_DIR);
        stop_stale(&dir)?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| format!("removing the old {}: {e}", dir.display()))?;
        }
        for sub in ["", "etc", "tmp", "run", "log"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| format!("creating {}: {e}", dir.join(sub).display()))?;
        }
        let admin_password = format!("Adm-{}", fresh_password(u64::MAX));
        let admin_password_file = dir.join("admin.pw");
        write_private(&admin_password_file, admin_password.as_bytes())
            .map_err(|e| format!("writing the admin password file: {e}"))?;
        let pki = make_pki(&dir)?;
        let empty = dir.join("empty.conf");
        write_private(&empty, b"").map_err(|e| format!("writing {}: {e}", empty.display()))?;
        let ldap_conf = dir.join("ldap.conf");
        write_private(
            &ldap_conf,
            format!("TLS_CACERT {}\nTLS_REQCERT demand\n", pki.ca.display()).as_bytes(),
        )
        .map_err(|e| format!("writing {}: {e}", ldap_conf.display()))?;

        let d = dir.display();
        let options = [
            "interfaces = 127.0.0.1".to_owned(),
            "bind interfaces only = yes".to_owned(),
            // Simple binds only need the LDAP server; no smbd, no kdc.
            "server services = ldap".to_owned(),
            "tls enabled = yes".to_owned(),
            format!("tls certfile = {}", pki.cert.display()),
            format!("tls keyfile = {}", pki.key.display()),
            format!("tls cafile = {}", pki.ca.display()),
            "ldb:nosync = true".to_owned(),
            format!("pid directory = {d}/run"),
            format!("ncalrpc dir = {d}/run/ncalrpc"),
            format!("winbindd socket directory = {d}/run/winbindd"),
            format!("ntp signd socket directory = {d}/run/ntp_signd"),
            format!("usershare path = {d}/usershares"),
            format!("log file = {d}/log/samba.log"),
        ];
        let mut provision = Command::new(tool_path("samba-tool"));
        provision
            .args(["domain", "provision", "-s"])
            .arg(&empty)
            .args([
                "--server-role=dc",
                "--dns-backend=NONE",
                "--realm",
                REALM,
                "--domain",
                NETBIOS,
                "--host-name=dc1",
                "--host-ip=127.0.0.1",
                "--adminpass",
                &admin_password,
            ])
            .arg(format!("--targetdir={d}"));
        for option in &options {
            provision.arg(format!("--option={option}"));
        }
        let started = Instant::now();
        run_bounded(provision, COMMAND_TIMEOUT, &[&admin_password])
            .map_err(|f| format!("provisioning the domain: {f}"))?;
        let provision_time = started.elapsed();
        let conf = dir.join("etc").join("smb.conf");
        // Samba's default (60 minutes) lets the previous password still
        // bind after a reset; 0 makes a reset's effect visible at once.
        // Provisioning does not keep this option, so it is added here.
        let text = std::fs::read_to_string(&conf)
            .map_err(|e| format!("reading {}: {e}", conf.display()))?;
        let text = text.replacen(
            "[global]\n",
            "[global]\n\told password allowed period = 0\n",
            1,
        );
        if !text.contains("old password allowed period = 0") {
            return Err(format!("{} has no [global] section", conf.display()));
        }
        std::fs::write(&conf, text).map_err(|e| format!("writing {}: {e}", conf.display()))?;

        let mut policy = Command::new(tool_path("samba-tool"));
        policy
            .args(["domain", "passwordsettings", "set", "-s"])
            .arg(&conf)
            .arg("-H")
            .arg(dir.join("private").join("sam.ldb"))
            .arg(format!("--account-lockout-threshold={LOCKOUT_THRESHOLD}"))
            .args([
                "--account-lockout-duration=30",
                "--reset-account-lockout-after=30",
            ]);
        run_bounded(policy, COMMAND_TIMEOUT, &[&admin_password])
            .map_err(|f| format!("setting the lockout policy: {f}"))?;

        wait_for_ports_free()?;
        let log_path = dir.join("samba.log");
        let log = File::create(&log_path).map_err(|e| format!("creating samba.log: {e}"))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("cloning samba.log: {e}"))?;
        let spawned_at = Instant::now();
        let mut child = Command::new(tool_path("samba"))
            .arg("-i")
            .arg("-s")
            .arg(&conf)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("starting samba: {e}"))?;
        let _ = std::fs::write(dir.join("samba.pgid"), child.id().to_string());
        let stdin = child.stdin.take().ok_or("samba's stdin was not piped")?;

        let samba = Samba {
            admin_password_file,
            admin_password,
            ca_file: pki.ca,
            ca_der: pki.ca_der,
            domain_sid: String::new(),
            ldap_conf,
            provision_time,
            ready_time: Duration::ZERO,
            counter: AtomicU64::new(0),
            child: Mutex::new(child),
            _stdin: Mutex::new(stdin),
            _lock: lock,
            dir,
        };
        let ready_time = samba.wait_ready(spawned_at)?;
        let head = samba
            .try_search(BASE_DN, "base", "(objectClass=*)", &["objectSid"])
            .map_err(|f| format!("reading the domain SID: {f}"))?;
        let domain_sid = head
            .first()
            .and_then(|e| e.values("objectSid").first().and_then(|b| sid_text(b)))
            .ok_or("the domain head has no objectSid")?;
        Ok(Samba {
            ready_time,
            domain_sid,
            ..samba
        })
    }

    /// Waits (bounded) for an LDAPS bind as Administrator to work.
    fn wait_ready(&self, spawned_at: Instant) -> Result<Duration, String> {
        let mut last = String::new();
        while spawned_at.elapsed() < READY_TIMEOUT {
            if let Ok(Some(status)) = self.child.lock().expect("child lock").try_wait() {
                return Err(format!(
                    "samba exited ({status}) before it answered; last lines of its log:\n{}",
                    self.log_tail(30)
                ));
            }
            match self.try_search("", "base", "(objectClass=*)", &["dn"]) {
                Ok(_) => return Ok(spawned_at.elapsed()),
                Err(failure) => last = failure.to_string(),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.stop();
        Err(format!(
            "samba did not answer on {} within {} s (last: {last}); last lines of its log:\n{}",
            self.ldaps_url(),
            READY_TIMEOUT.as_secs(),
            self.log_tail(30)
        ))
    }

    /// Stops the DC's process group (SIGTERM).
    fn stop(&self) -> Result<(), String> {
        let pid = self.child.lock().expect("child lock").id();
        kill_group(pid, "TERM")
    }

    /// The last `n` lines of Samba's output, passwords scrubbed.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(self.dir.join("samba.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(n)..].join("\n");
        scrub(&tail, &[&self.admin_password])
    }
}

/// A command that failed: its exit code and (scrubbed) output.
#[derive(Debug)]
struct Failure {
    what: String,
    code: Option<i32>,
    stderr: String,
    stdout: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "{} exited with {code}", self.what)?,
            None => write!(f, "{} did not finish", self.what)?,
        }
        let stderr = self.stderr.trim();
        if !stderr.is_empty() {
            write!(f, "; stderr: {}", last_lines(stderr, 20))?;
        }
        let stdout = self.stdout.trim();
        if !stdout.is_empty() {
            write!(f, "; stdout: {}", last_lines(stdout, 10))?;
        }
        Ok(())
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs `command` to completion within `timeout` (killed after it), and
/// returns its stdout; output in a failure has `secrets` scrubbed.
fn run_bounded(
    mut command: Command,
    timeout: Duration,
    secrets: &[&str],
) -> Result<String, Failure> {
    let what = describe(&command, secrets);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().map_err(|e| Failure {
        what: what.clone(),
        code: None,
        stderr: format!("could not start: {e}"),
        stdout: String::new(),
    })?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(timeout) {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => {
            return Err(Failure {
                what,
                code: None,
                stderr: format!("waiting for it: {e}"),
                stdout: String::new(),
            });
        }
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            return Err(Failure {
                what,
                code: None,
                stderr: format!("killed after {} s", timeout.as_secs()),
                stdout: String::new(),
            });
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(Failure {
            what,
            code: output.status.code(),
            stderr: scrub(&String::from_utf8_lossy(&output.stderr), secrets),
            stdout: scrub(&stdout, secrets),
        })
    }
}

/// The program and arguments of `command`, secrets scrubbed.
fn describe(command: &Command, secrets: &[&str]) -> String {
    let mut text = Path::new(command.get_program())
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    scrub(&text, secrets)
}

/// `text` with every non-empty secret replaced by `***`.
fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret, "***");
        let b64 = unicode_pwd(secret);
        text = text.replace(&b64, "***");
    }
    text
}

/// AD's `data <hex>` code in a bind error (`… AcceptSecurityContext error,
/// data 775, v1db1`).
fn ad_data_code(stderr: &str) -> Option<String> {
    let rest = stderr.split("data ").nth(1)?;
    let code: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
    (!code.is_empty()).then_some(code)
}

/// A binary SID (`objectSid`) as `S-1-5-21-…` text.
pub fn sid_text(bytes: &[u8]) -> Option<String> {
    let (&revision, rest) = bytes.split_first()?;
    let (&count, rest) = rest.split_first()?;
    let authority = rest.get(..6)?;
    let subs = rest.get(6..)?;
    if subs.len() != usize::from(count) * 4 {
        return None;
    }
    let authority = authority
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let mut text = format!("S-{revision}-{authority}");
    for sub in subs.chunks_exact(4) {
        let value = u32::from_le_bytes([sub[0], sub[1], sub[2], sub[3]]);
        let _ = write!(text, "-{value}");
    }
    Some(text)
}

/// `unicodePwd` as LDIF wants it: base64 of UTF-16LE `"password"`.
pub fn unicode_pwd(password: &str) -> String {
    let quoted = format!("\"{password}\"");
    let bytes: Vec<u8> = quoted.encode_utf16().flat_map(u16::to_le_bytes).collect();
    BASE64.encode(bytes)
}

/// `prefix` cut to what fits a 20-character `sAMAccountName` with a
/// 5-digit number, keeping only `[a-z0-9-]`.
fn sam_name(prefix: &str, n: u64) -> String {
    let clean: String = prefix
        .chars()
        .filter_map(|c| {
            let c = c.to_ascii_lowercase();
            (c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-').then_some(c)
        })
        .take(14)
        .collect();
    let clean = if clean.is_empty() {
        "u".to_owned()
    } else {
        clean
    };
    format!("{clean}{n:05}")
}

/// A password meeting AD's complexity rules (upper, lower, digit, symbol;
/// no account name in it), unique per `n` and per process.
fn fresh_password(n: u64) -> String {
    let random = RandomState::new().hash_one(n);
    format!("Rp-{random:016x}-{n}Z9")
}

/// Parses `ldapsearch -LLL -o ldif-wrap=no` output. Comment lines
/// (search references) are skipped; `attr:: base64` values are decoded.
fn parse_ldif(text: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    for line in text.lines() {
        if line.is_empty() {
            entries.extend(current.take());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let value = if let Some(b64) = rest.strip_prefix(':') {
            BASE64
                .decode(b64.trim())
                .unwrap_or_else(|e| panic!("bad base64 for {name}: {e}"))
        } else {
            rest.strip_prefix(' ').unwrap_or(rest).as_bytes().to_vec()
        };
        if name.eq_ignore_ascii_case("dn") {
            entries.extend(current.take());
            current = Some(Entry {
                dn: String::from_utf8_lossy(&value).into_owned(),
                attrs: BTreeMap::new(),
            });
        } else if let Some(entry) = current.as_mut() {
            entry.attrs.entry(name.to_owned()).or_default().push(value);
        }
    }
    entries.extend(current);
    entries.retain(|e| !e.dn.is_empty() || !e.attrs.is_empty());
    entries
}

/// Where `tool` is: on `PATH`, or in the sbin directories a non-root
/// `PATH` lacks.
fn find_tool(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

fn tool_path(tool: &str) -> PathBuf {
    find_tool(tool).unwrap_or_else(|| PathBuf::from(tool))
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("harness paths are UTF-8")
}

/// Creates (or truncates) `path` with mode 0600 and writes `bytes`.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

/// The machine-wide exclusive lock, waited for (bounded).
fn take_lock() -> Result<File, String> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(LOCK_FILE)
        .map_err(|e| format!("opening {LOCK_FILE}: {e}"))?;
    let started = Instant::now();
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                if !said {
                    eprintln!("samba: waiting for another process's DC to finish ({LOCK_FILE})");
                    said = true;
                }
                if started.elapsed() > LOCK_TIMEOUT {
                    return Err(format!(
                        "another process held {LOCK_FILE} for {} s",
                        LOCK_TIMEOUT.as_secs()
                    ));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("locking {LOCK_FILE}: {e}"));
            }
        }
    }
}

/// Stops a DC an earlier, killed run left in `dir`: the process group in
/// `samba.pgid`, if its leader is still a Samba running in `dir`.
fn stop_stale(dir: &Path) -> Result<(), String> {
    let Ok(text) = std::fs::read_to_string(dir.join("samba.pgid")) else {
        return Ok(());
    };
    let Ok(pid) = text.trim().parse::<u32>() else {
        return Ok(());
    };
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let cwd = std::fs::read_link(proc_dir.join("cwd")).ok();
    let cmdline = std::fs::read(proc_dir.join("cmdline")).unwrap_or_default();
    if cwd.as_deref() != Some(dir) || !cmdline.starts_with(b"samba") {
        return Ok(());
    }
    eprintln!("samba: stopping the DC an earlier run left (process group {pid})");
    kill_group(pid, "TERM")?;
    let started = Instant::now();
    while proc_dir.exists() {
        if started.elapsed() > Duration::from_secs(15) {
            kill_group(pid, "KILL")?;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// `kill -<signal> -- -<pgid>`.
fn kill_group(pgid: u32, signal: &str) -> Result<(), String> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("running kill: {e}"))?;
    let _ = status;
    Ok(())
}

/// Waits (bounded) until nothing listens on 127.0.0.1:636 and :389: a
/// server there that is not ours (another DC, started by hand) would
/// answer instead of ours.
fn wait_for_ports_free() -> Result<(), String> {
    let started = Instant::now();
    loop {
        let busy: Vec<u16> = [636u16, 389]
            .into_iter()
            .filter(|port| {
                let addr = SocketAddr::from(([127, 0, 0, 1], *port));
                TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
            })
            .collect();
        if busy.is_empty() {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!(
                "127.0.0.1 port(s) {busy:?} are in use by another process (a DC this harness did not start? see `ss -ltnp`)"
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The test PKI written into the DC's directory.
struct Pki {
    ca: PathBuf,
    ca_der: Vec<u8>,
    cert: PathBuf,
    key: PathBuf,
}

/// A throwaway CA and a server certificate for `127.0.0.1` and
/// `localhost`, written 0600 into `dir/tls/`.
fn make_pki(dir: &Path) -> Result<Pki, String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let err = |e: rcgen::Error| format!("making the test certificates: {e}");
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "remedy test AD CA (throwaway)");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    let issuer = Issuer::new(ca, ca_key);
    let server_key = KeyPair::generate().map_err(err)?;
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .map_err(err)?;
    server
        .distinguished_name
        .push(DnType::CommonName, "dc1.example.test");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&server_key, &issuer).map_err(err)?;
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).map_err(|e| format!("creating {}: {e}", tls.display()))?;
    let write = |name: &str, text: String| -> Result<PathBuf, String> {
        let path = tls.join(name);
        write_private(&path, text.as_bytes())
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok(path)
    };
    Ok(Pki {
        ca: write("ca.pem", ca_cert.pem())?,
        ca_der: ca_cert.der().to_vec(),
        cert: write("server.pem", server_cert.pem())?,
        key: write("server.key", server_key.serialize_pem())?,
    })
}

#[cfg(test)]
mod tests {
    // `cargo bench` compiles benches/ad.rs, which includes this module,
    // with cfg(test) but without the #[test] functions.
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn unicode_pwd_is_base64_of_quoted_utf16le() {
        // "ab" quoted is `"ab"` = 22 00 61 00 62 00 22 00.
        assert_eq!(unicode_pwd("ab"), BASE64.encode(b"\"\0a\0b\0\"\0"));
        assert_eq!(
            BASE64.decode(unicode_pwd("é")).unwrap(),
            vec![0x22, 0, 0xe9, 0, 0x22, 0]
        );
    }

    #[test]
    fn ldif_parses_entries_values_and_base64_and_skips_references() {
        let text = "dn: CN=a,DC=x\nuserAccountControl: 512\nmember: CN=m1\nmember: CN=m2\nobjectGUID:: AAEC\n\n# refldaps://example.test/CN=Configuration,DC=x\n\ndn:: Q049w6k=\ncn: z\n";
        let entries = parse_ldif(text);
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(entries[0].dn, "CN=a,DC=x");
        assert_eq!(entries[0].int("useraccountcontrol"), Some(512));
        assert_eq!(entries[0].texts("member"), ["CN=m1", "CN=m2"]);
        assert_eq!(entries[0].values("objectGUID"), [&[0u8, 1, 2][..]]);
        assert_eq!(entries[1].dn, "CN=é");
        assert_eq!(entries[1].text("missing"), None);
    }

    #[test]
    fn sam_names_fit_twenty_characters_and_keep_safe_characters() {
        assert_eq!(sam_name("Lock Out!", 7), "lockout00007");
        let long = sam_name("a-very-long-prefix-indeed", 123_456);
        assert!(long.len() <= 20, "{long}");
        assert!(long.starts_with("a-very-long-pr"), "{long}");
        assert_eq!(sam_name("***", 1), "u00001");
    }

    #[test]
    fn fresh_passwords_differ_and_have_four_character_classes() {
        let a = fresh_password(1);
        let b = fresh_password(2);
        assert_ne!(a, b);
        for p in [&a, &b] {
            assert!(p.chars().any(|c| c.is_ascii_uppercase()), "{p}");
            assert!(p.chars().any(|c| c.is_ascii_lowercase()), "{p}");
            assert!(p.chars().any(|c| c.is_ascii_digit()), "{p}");
            assert!(p.chars().any(|c| !c.is_ascii_alphanumeric()), "{p}");
        }
    }

    #[test]
    fn sids_read_as_text() {
        // S-1-5-21-1-2-3: revision 1, 4 sub-authorities, authority 5.
        let mut bytes = vec![1, 4, 0, 0, 0, 0, 0, 5];
        for sub in [21u32, 1, 2, 3] {
            bytes.extend_from_slice(&sub.to_le_bytes());
        }
        assert_eq!(sid_text(&bytes).as_deref(), Some("S-1-5-21-1-2-3"));
        assert_eq!(sid_text(&bytes[..bytes.len() - 1]), None);
        assert_eq!(sid_text(&[1]), None);
    }

    #[test]
    fn scrub_hides_passwords_plain_and_as_unicode_pwd() {
        let text = format!("bad: Secret-1 and {}", unicode_pwd("Secret-1"));
        let scrubbed = scrub(&text, &["Secret-1", ""]);
        assert_eq!(scrubbed, "bad: *** and ***");
    }

    #[test]
    fn ad_data_codes_are_read_from_bind_errors() {
        let stderr = "ldap_bind: Invalid credentials (49)\n\tadditional info: 80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 775, v1db1\n";
        assert_eq!(ad_data_code(stderr).as_deref(), Some("775"));
        assert_eq!(ad_data_code("ldap_bind: Invalid credentials (49)"), None);
    }

    #[test]
    fn user_debug_hides_the_password() {
        let user = User {
            sam: "s".into(),
            upn: "s@x".into(),
            dn: "CN=s".into(),
            password: "Hidden-Pw-1".into(),
        };
        let debug = format!("{user:?}");
        assert!(!debug.contains("Hidden-Pw-1"), "{debug}");
        assert!(debug.contains("s@x"), "{debug}");
    }
}
