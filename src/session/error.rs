//! Why a session stopped before (or instead of) running: one typed error
//! per cause, each with the hint an operator needs and the exit code it
//! maps to. Nothing was changed when any of these is returned.

use crate::exit_code;
use crate::graph::auth::AuthError;
use crate::graph::connect::ConnectError;
use crate::graph::preflight::Missing;
use crate::plan::PlanError;
use crate::rundir::StateError;

/// A session that could not run.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The playbook does not load (its diagnostics were shown).
    #[error("the playbook has errors; nothing was changed")]
    Playbook,
    /// The playbook or the CSV has problems (their diagnostics were shown).
    #[error("{problems} problem{} in the input; nothing was changed", if *problems == 1 { "" } else { "s" })]
    Input { problems: usize },
    #[error("{users} users exceed the playbook's `guards.max_users` ({max}); nothing was changed")]
    TooManyUsers { users: u64, max: u64 },
    /// An input, a run directory or a file the session writes.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// `--report-dir` is not a directory remedy can write to.
    #[error("cannot write the reports to {}: {source}; nothing was changed", dir.display())]
    ReportDir {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    /// The shard's rows could not be counted.
    #[error("{0}")]
    Shard(String),
    #[error("cannot start the emulator: {0}")]
    Emulator(String),
    /// `--emulate` for a playbook with no Graph target.
    #[error(
        "--emulate starts a Microsoft Graph emulator, but this playbook has no `graph` target; nothing was changed"
    )]
    EmulateWithoutGraph,
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("cannot get an access token: {0}")]
    Token(AuthError),
    /// The Active Directory target could not be reached, bound or pinned.
    #[error("{0}; nothing was changed")]
    Ldap(#[from] crate::ldap::LdapError),
    #[error("{message}; nothing was changed")]
    TenantPin { message: String, pin: String },
    /// A saved plan that no longer applies, or cannot be read.
    #[error("{0}; nothing was changed")]
    Plan(PlanError),
    #[error("{0}")]
    PlanFile(PlanError),
    #[error("the access token lacks Graph permissions this run needs; nothing was changed")]
    Permissions(Vec<Missing>),
    /// PIM eligibility cannot be read (no licence) while the playbook
    /// requires it: every user would be protected.
    #[error("{}; nothing was changed", crate::graph::preflight::UNLICENSED)]
    PimUnlicensed,
    #[error(transparent)]
    State(#[from] StateError),
    /// An earlier run that cannot be resumed as asked.
    #[error("{message}")]
    Resume { message: String, hint: &'static str },
    /// `--resume` with a connection to another tenant or service root
    /// than the run's.
    #[error("{message}; nothing was changed")]
    ResumeTarget { message: String },
    #[error("stdin is not a terminal, so remedy cannot ask for confirmation; nothing was changed")]
    NoTerminal,
    /// The operator answered no.
    #[error("aborted; nothing was changed")]
    Declined,
    /// `remedy verify` of a run that cannot be verified.
    #[error("{message}")]
    Verify { message: String, hint: &'static str },
    #[error("run {run} changed {realm} {ran}, but the credentials are for {realm} {now}")]
    VerifyTenant {
        run: String,
        /// `tenant` (Graph) or `domain` (Active Directory).
        realm: &'static str,
        ran: String,
        now: String,
    },
}

impl SessionError {
    /// Wraps an I/O error with what was being done (`cannot write …`).
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        SessionError::Io {
            what: what.into(),
            source,
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            SessionError::Playbook => Some("check it with `remedy validate`".into()),
            SessionError::Input { .. } => Some(
                "fix them (`remedy validate PLAYBOOK --users CSV` shows the same list)".into(),
            ),
            SessionError::TooManyUsers { .. } => Some(
                "split the CSV, or raise `max_users` if this many users is intended".into(),
            ),
            SessionError::Connect(e) => e.hint(),
            SessionError::Token(e) => e.hint(),
            SessionError::Ldap(e) => Some(e.hint()),
            SessionError::TenantPin { pin, .. } => Some(format!(
                "the playbook pins `target.tenant: {pin}`; check AZURE_TENANT_ID and the credentials"
            )),
            SessionError::Plan(e) | SessionError::PlanFile(e) => Some(e.hint().into()),
            SessionError::Permissions(_) => Some(
                "grant these application permissions to the app (with admin consent), then run again; `remedy doctor` shows what the token carries".into(),
            ),
            SessionError::PimUnlicensed => Some(crate::graph::preflight::UNLICENSED_HINT.into()),
            SessionError::State(e) => Some(e.hint().into()),
            SessionError::Resume { hint, .. } | SessionError::Verify { hint, .. } => {
                Some((*hint).into())
            }
            SessionError::ResumeTarget { .. } => Some(
                "resume with the credentials and --graph-url the run started with (`manifest.json` records its `target`), or start a new run".into(),
            ),
            SessionError::NoTerminal => {
                Some("pass --yes to confirm non-interactively (after a --dry-run)".into())
            }
            SessionError::VerifyTenant { .. } => {
                Some("use the credentials of the run's tenant".into())
            }
            SessionError::ReportDir { .. } => Some(
                "pass a --report-dir that is a directory you can write to (it is created if missing)".into(),
            ),
            SessionError::EmulateWithoutGraph => Some(
                "run it without --emulate, against the directory its targets name".into(),
            ),
            SessionError::Io { .. }
            | SessionError::Shard(_)
            | SessionError::Emulator(_)
            | SessionError::Declined => None,
        }
    }

    /// The documented exit code: 3 when a guard refused (too many users,
    /// another tenant, a stale plan), else 2 (usage or input; nothing
    /// was changed).
    pub fn exit_code(&self) -> u8 {
        match self {
            SessionError::TooManyUsers { .. }
            | SessionError::TenantPin { .. }
            | SessionError::ResumeTarget { .. }
            | SessionError::VerifyTenant { .. } => exit_code::GUARD,
            SessionError::Plan(e) if e.is_stale() => exit_code::GUARD,
            SessionError::Ldap(crate::ldap::LdapError::DomainPin { .. }) => exit_code::GUARD,
            _ => exit_code::USAGE,
        }
    }
}

/// `cannot write to DIR: …` and friends, for a path.
pub fn cannot(verb: &str, path: &std::path::Path, source: std::io::Error) -> SessionError {
    SessionError::io(format!("cannot {verb} {}", path.display()), source)
}
