//! `remedy emulator`: run the built-in Microsoft Graph emulator on a
//! loopback port until Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use secrecy::SecretString;

use crate::diag;
use crate::emulator::{
    self, Costs, DEFAULT_TENANT_DOMAIN, DEFAULT_TENANT_ID, EmulatorConfig, EmulatorError,
    LevelHeader, LevelHeaderOn, SyncedReset, TlsFiles, UserSource,
};
use crate::exit_code;

/// The environment variable that may hold the only accepted client secret.
const SECRET_ENV: &str = "REMEDY_EMULATOR_CLIENT_SECRET";

/// Run a Microsoft Graph emulator on 127.0.0.1, for tests, benchmarks and
/// trying remedy without a tenant.
///
/// It serves the token endpoint (`/{tenant}/oauth2/v2.0/token`), the user
/// endpoints remedy uses under `/v1.0`, and `$batch`, with Graph's bodies,
/// status codes and errors. Throttling and faults (500/503, slow answers,
/// dropped connections, 504 Gateway Timeouts) can be switched on and are
/// reproducible with `--seed`. Throttling can model Graph's identity
/// limits: resource-unit costs (`--costs graph`), a separate write quota
/// (`--write-rate`), fixed windows (`--window-s`), and which answers carry
/// `x-ms-throttle-limit-percentage` (`--level-header`). Test hooks:
/// `GET /_stats`, `GET /_users[?upn=]`, `POST /_reset`.
///
/// Prints `listening on http://127.0.0.1:PORT` on stdout when ready
/// (`https://` with --tls-cert and --tls-key). Only loopback addresses can
/// be bound. The client secret is never taken from
/// the command line: use `--client-secret-file` or
/// REMEDY_EMULATOR_CLIENT_SECRET; without either, any non-empty secret (or
/// any well-formed client assertion) gets a token.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  remedy emulator                                   # 100 generated users on a free port
  remedy emulator --listen 127.0.0.1:8080 --users examples/entra-export.csv
  remedy emulator --generate 1000000 --seed 7       # user0000001@contoso.onmicrosoft.com ...
  remedy emulator --rate 20 --burst 40              # 429s past 20 requests/s per app
  remedy emulator --rate 350 --burst 3500 --costs graph --write-rate 20
                                                    # Graph's identity limits, tenant < 50 users:
                                                    # 3,500 RU per 10 s, 3,000 writes per 150 s
  remedy emulator --rate 2 --window-s 10 --level-header always --level-header-on envelope
                                                    # 20 units per 10 s window
  remedy emulator --fail-rate 0.05 --reset-rate 0.01 --latency-ms 50
  remedy emulator --gateway-timeout-rate 0.02 --seed 7  # 504s, half of them after applying
  REMEDY_EMULATOR_CLIENT_SECRET=s3cret remedy emulator --roles User.Read.All
  remedy emulator --app-role none --federated-domain fabrikam.com --no-pim-licence

  remedy doctor --graph-url http://127.0.0.1:8080 --authority-url http://127.0.0.1:8080

  remedy emulator --listen 127.0.0.1:8443 --tls-cert server.pem --tls-key server.key
  remedy doctor --graph-url https://127.0.0.1:8443 --authority-url https://127.0.0.1:8443 --ca-file ca.pem

Seed CSV columns (any format `remedy validate` accepts; all but the key are optional):
userPrincipalName (or id/objectId), id, displayName, givenName, surname, accountEnabled,
onPremisesSyncEnabled or directorySynced, userType (Member/Guest), lockedOut, and lists
separated by `;` whose names are created on first use:
  roles               built-in roles held directly, tenant-wide
  customRoles         custom roles held directly
  scopedRoles         `Role Name@Unit Name`: a role scoped to an administrative unit
  eligibleRoles       roles the user is PIM-eligible for
  roleGroups          role-assignable groups the user is in; `Group=Role Name` if the group
                      holds that built-in role (its members then hold it too)
  ownedRoleGroups     role-assignable groups the user owns (same syntax)
  groups              ordinary groups the user is in
  units               administrative units the user is in
  restrictedUnits     restricted management administrative units the user is in
  ownedApplications   applications the user owns
The app may reset or enable/disable privileged users (any of the above but ordinary groups,
units and applications) only with --privileged-admin or --app-role Global Administrator, and
users in restricted units never.

Exit codes: 0 stopped by Ctrl-C/SIGTERM, 2 bad option, bad seed CSV or cannot listen.")]
pub struct EmulatorArgs {
    /// Address to listen on; must be loopback. Port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// Serve https with this PEM certificate chain (needs --tls-key); its
    /// names should include 127.0.0.1 or localhost.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The unencrypted PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Seed users from this CSV (plain, Entra export or bulk template).
    #[arg(long, value_name = "CSV", conflicts_with = "generate")]
    pub users: Option<PathBuf>,

    /// Generate N users `user0000001@<domain>` ... (default 100).
    #[arg(long, value_name = "N")]
    pub generate: Option<u32>,

    /// Delay every Graph request (a whole `$batch` once) by N ms.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        help_heading = "Behaviour"
    )]
    pub latency_ms: u64,

    /// Throttle each app to OPS_PER_S resource units per second: one per
    /// Graph request or batch item, or Graph's costs with --costs graph.
    /// Refused requests get 429 with Retry-After and x-ms-throttle-scope
    /// .../Read/... (a read) or .../ReadWrite/... (a write).
    #[arg(long, value_name = "OPS_PER_S", help_heading = "Behaviour")]
    pub rate: Option<f64>,

    /// Token-bucket size for --rate (default: one second's worth).
    #[arg(long, value_name = "N", requires = "rate", help_heading = "Behaviour")]
    pub burst: Option<u32>,

    /// What a request costs the --rate limit (and says in
    /// x-ms-resource-unit): `flat` 1; `graph` Graph's resource units: a
    /// users list or list-style relation (memberOf, transitiveMemberOf,
    /// ownedObjects, role assignment and eligibility lists) 2, any other
    /// request 1, then $select -1, $expand +1, $top under 20 -1, at least 1.
    #[arg(
        long,
        value_enum,
        value_name = "TABLE",
        default_value_t = CostsArg::Flat,
        help_heading = "Behaviour"
    )]
    pub costs: CostsArg,

    /// A write quota besides --rate: WRITES_PER_S writes (POST, PATCH, PUT,
    /// DELETE; batch items included) per second per app. A write must fit
    /// both limits and is charged to both even when refused; one refused by
    /// this quota gets x-ms-throttle-scope .../Write/... and
    /// WriteLimitExceeded, while reads still pass.
    #[arg(long, value_name = "WRITES_PER_S", help_heading = "Behaviour")]
    pub write_rate: Option<f64>,

    /// Bucket size for --write-rate (default 150 seconds' worth, so
    /// --write-rate 20 is Graph's 3,000 writes per 150 s).
    #[arg(
        long,
        value_name = "N",
        requires = "write_rate",
        help_heading = "Behaviour"
    )]
    pub write_burst: Option<u32>,

    /// Fixed windows of N seconds instead of token buckets: at most
    /// --rate × N units (and --write-rate × N writes) per window, windows
    /// aligned to the emulator's start; a refused request's Retry-After is
    /// the whole seconds left in the window.
    #[arg(long, value_name = "N", help_heading = "Behaviour")]
    pub window_s: Option<u32>,

    /// When x-ms-throttle-limit-percentage (the higher share in use of
    /// --rate and --write-rate) is sent: `above-80` past 80% of a limit,
    /// as Graph documents; `always` whenever a limit is on; `never`.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value_t = LevelHeaderArg::Above80,
        help_heading = "Behaviour"
    )]
    pub level_header: LevelHeaderArg,

    /// Where a $batch carries x-ms-throttle-limit-percentage: on the
    /// `items`, on the `envelope` (the highest level its items reached), or
    /// `both`.
    #[arg(
        long,
        value_enum,
        value_name = "WHERE",
        default_value_t = LevelHeaderOnArg::Both,
        help_heading = "Behaviour"
    )]
    pub level_header_on: LevelHeaderOnArg,

    /// Fraction of Graph requests answered 500 or 503, nothing applied.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability, help_heading = "Faults")]
    pub fail_rate: f64,

    /// Fraction of Graph requests answered only after --slow-ms.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability, help_heading = "Faults")]
    pub slow_rate: f64,

    /// How late a slow answer comes.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 30_000,
        help_heading = "Faults"
    )]
    pub slow_ms: u64,

    /// Fraction of Graph requests whose connection is closed without an
    /// answer, half before and half after the change is applied.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability, help_heading = "Faults")]
    pub reset_rate: f64,

    /// Fraction of Graph requests answered 504 Gateway Timeout, half after
    /// the change is applied and half before (a client must read back to
    /// know which).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability, help_heading = "Faults")]
    pub gateway_timeout_rate: f64,

    /// Seed for the users' state and every fault decision.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,

    /// File holding the only accepted client secret (else REMEDY_EMULATOR_CLIENT_SECRET).
    #[arg(long, value_name = "F", help_heading = "Tenant")]
    pub client_secret_file: Option<PathBuf>,

    /// Application permissions in issued tokens (default: all that remedy uses).
    #[arg(
        long,
        value_name = "A,B",
        value_delimiter = ',',
        help_heading = "Tenant"
    )]
    pub roles: Option<Vec<String>>,

    /// Lifetime of issued access tokens, in seconds.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 3599,
        help_heading = "Tenant"
    )]
    pub token_ttl: u32,

    #[arg(long, value_name = "GUID", default_value = DEFAULT_TENANT_ID, help_heading = "Tenant")]
    pub tenant_id: String,

    #[arg(long, value_name = "D", default_value = DEFAULT_TENANT_DOMAIN, help_heading = "Tenant")]
    pub tenant_domain: String,

    /// A directory role the app's service principal holds (repeatable;
    /// default User Administrator; `none` for no role). Without one, resets
    /// and sign-in changes get 403; privileged users need Privileged
    /// Authentication Administrator or Global Administrator.
    #[arg(long = "app-role", value_name = "NAME", help_heading = "Tenant")]
    pub app_roles: Vec<String>,

    /// Also give the app Privileged Authentication Administrator, so it may
    /// reset and enable/disable privileged users (not those in restricted
    /// management units).
    #[arg(long, help_heading = "Tenant")]
    pub privileged_admin: bool,

    /// What a synced user's password reset gets: `accept` sets a cloud-only
    /// password (204), `refuse` answers Graph's on-premises-mastered 400.
    #[arg(
        long,
        value_enum,
        value_name = "HOW",
        default_value_t = SyncedResetArg::Accept,
        help_heading = "Tenant"
    )]
    pub synced_reset: SyncedResetArg,

    /// A domain whose authenticationType is Federated (repeatable); the
    /// tenant domain and the users' other domains are Managed.
    #[arg(
        long = "federated-domain",
        value_name = "DOMAIN",
        help_heading = "Tenant"
    )]
    pub federated_domains: Vec<String>,

    /// The tenant has no Entra ID P2: PIM eligibility reads answer 400
    /// AadPremiumLicenseRequired.
    #[arg(long, help_heading = "Tenant")]
    pub no_pim_licence: bool,

    /// Default page size of collections (`$top`, at most 999).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub page_size: u32,

    /// Share of seeded users without explicit state that are locked out.
    #[arg(long, value_name = "P", default_value_t = 0.3, value_parser = probability)]
    pub locked_rate: f64,

    /// Share of seeded users without explicit state that are disabled.
    #[arg(long, value_name = "P", default_value_t = 0.1, value_parser = probability)]
    pub disabled_rate: f64,
}

/// `--synced-reset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SyncedResetArg {
    Accept,
    Refuse,
}

/// `--costs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CostsArg {
    Flat,
    Graph,
}

/// `--level-header`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LevelHeaderArg {
    Always,
    #[value(name = "above-80")]
    Above80,
    Never,
}

/// `--level-header-on`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LevelHeaderOnArg {
    Items,
    Envelope,
    Both,
}

fn probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("`{text}` is not a number between 0 and 1")),
    }
}

impl EmulatorArgs {
    /// Resolve the arguments (and the secret's file or variable) into a config.
    fn config(&self) -> Result<EmulatorConfig, String> {
        let defaults = EmulatorConfig::default();
        let users = match (&self.users, self.generate) {
            (Some(path), _) => UserSource::Csv(path.clone()),
            (None, Some(n)) => UserSource::Generate(n),
            (None, None) => defaults.users.clone(),
        };
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        };
        Ok(EmulatorConfig {
            listen: self.listen,
            tls,
            users,
            latency: Duration::from_millis(self.latency_ms),
            rate: self.rate,
            burst: self.burst,
            costs: match self.costs {
                CostsArg::Flat => Costs::Flat,
                CostsArg::Graph => Costs::Graph,
            },
            write_rate: self.write_rate,
            write_burst: self.write_burst,
            window_secs: self.window_s,
            level_header: match self.level_header {
                LevelHeaderArg::Always => LevelHeader::Always,
                LevelHeaderArg::Above80 => LevelHeader::Above80,
                LevelHeaderArg::Never => LevelHeader::Never,
            },
            level_header_on: match self.level_header_on {
                LevelHeaderOnArg::Items => LevelHeaderOn::Items,
                LevelHeaderOnArg::Envelope => LevelHeaderOn::Envelope,
                LevelHeaderOnArg::Both => LevelHeaderOn::Both,
            },
            fail_rate: self.fail_rate,
            slow_rate: self.slow_rate,
            slow: Duration::from_millis(self.slow_ms),
            reset_rate: self.reset_rate,
            gateway_timeout_rate: self.gateway_timeout_rate,
            seed: self.seed,
            client_secret: self.client_secret()?,
            roles: match &self.roles {
                Some(roles) => roles
                    .iter()
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty())
                    .collect(),
                None => defaults.roles,
            },
            token_ttl_secs: self.token_ttl,
            tenant_id: self.tenant_id.clone(),
            tenant_domain: self.tenant_domain.clone(),
            page_size: self.page_size,
            locked_rate: self.locked_rate,
            disabled_rate: self.disabled_rate,
            app_roles: self.app_roles(defaults.app_roles)?,
            privileged_admin: self.privileged_admin,
            synced_reset: match self.synced_reset {
                SyncedResetArg::Accept => SyncedReset::Accept,
                SyncedResetArg::Refuse => SyncedReset::Refuse,
            },
            federated_domains: self
                .federated_domains
                .iter()
                .map(|d| d.trim().to_owned())
                .collect(),
            pim_licence: !self.no_pim_licence,
        })
    }

    /// `--app-role` as given, the default without one, none for `none`.
    fn app_roles(&self, default: Vec<String>) -> Result<Vec<String>, String> {
        let roles: Vec<String> = self.app_roles.iter().map(|r| r.trim().to_owned()).collect();
        let none = roles.iter().any(|r| r.eq_ignore_ascii_case("none"));
        match (roles.is_empty(), none) {
            (true, _) => Ok(default),
            (false, true) if roles.len() == 1 => Ok(Vec::new()),
            (false, true) => {
                Err("`--app-role none` cannot be combined with other roles".to_owned())
            }
            (false, false) => Ok(roles),
        }
    }

    fn client_secret(&self) -> Result<Option<SecretString>, String> {
        let text = match &self.client_secret_file {
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "cannot read --client-secret-file {}: {}",
                    path.display(),
                    e.kind()
                )
            })?,
            None => match std::env::var(SECRET_ENV) {
                Ok(text) => text,
                Err(std::env::VarError::NotPresent) => return Ok(None),
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(format!("{SECRET_ENV} is not valid UTF-8"));
                }
            },
        };
        // Files usually end with a newline that is not part of the secret.
        let secret = text.trim_end_matches(['\r', '\n']);
        if secret.is_empty() {
            return match &self.client_secret_file {
                Some(path) => Err(format!("--client-secret-file {} is empty", path.display())),
                None => Ok(None),
            };
        }
        Ok(Some(SecretString::from(secret.to_owned())))
    }
}

pub fn run(args: &EmulatorArgs, color: super::ColorChoice) -> u8 {
    let config = match args.config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("error: {message}");
            return exit_code::USAGE;
        }
    };
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(serve(config, color))
}

async fn serve(config: EmulatorConfig, color: super::ColorChoice) -> u8 {
    let summary = Summary::of(&config);
    let emulator = match emulator::start(config).await {
        Ok(emulator) => emulator,
        Err(e) => {
            report(&e, color);
            return exit_code::USAGE;
        }
    };
    // Tests and scripts wait for this exact line.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", emulator.url());
    let _ = out.flush();
    drop(out);
    let users = emulator.state().user_count();
    eprintln!(
        "tenant {} ({}), {users} user{}",
        emulator.tenant_id(),
        emulator.tenant_domain(),
        if users == 1 { "" } else { "s" }
    );
    for line in summary.lines {
        eprintln!("{line}");
    }
    eprintln!("this is an emulator: no real tenant is touched; Ctrl-C stops it");
    wait_for_signal().await;
    emulator.shutdown().await;
    exit_code::OK
}

/// The human lines about throttling, faults and credentials.
struct Summary {
    lines: Vec<String>,
}

impl Summary {
    fn of(c: &EmulatorConfig) -> Self {
        let mut lines = Vec::new();
        if let Some(tls) = &c.tls {
            lines.push(format!(
                "https with certificate {} (clients need its CA: --ca-file)",
                tls.cert.display()
            ));
        }
        lines.extend(throttling_lines(c));
        let mut faults = Vec::new();
        for (name, p) in [
            ("fail", c.fail_rate),
            ("slow", c.slow_rate),
            ("reset", c.reset_rate),
            ("gateway timeout", c.gateway_timeout_rate),
        ] {
            if p > 0.0 {
                faults.push(format!("{name} {p}"));
            }
        }
        if !c.latency.is_zero() {
            faults.push(format!("latency {} ms", c.latency.as_millis()));
        }
        if !faults.is_empty() {
            lines.push(format!(
                "faults on (seed {}): {}",
                c.seed,
                faults.join(", ")
            ));
        }
        lines.push(match c.client_secret {
            Some(_) => "client secret: only the configured one is accepted".to_owned(),
            None => "client secret: any non-empty secret is accepted".to_owned(),
        });
        let mut roles: Vec<&str> = c.app_roles.iter().map(String::as_str).collect();
        if c.privileged_admin {
            roles.push("Privileged Authentication Administrator");
        }
        lines.push(if roles.is_empty() {
            "the app's service principal holds no directory role: resets and sign-in changes get 403".to_owned()
        } else {
            format!("the app's service principal holds: {}", roles.join(", "))
        });
        if c.synced_reset == SyncedReset::Refuse {
            lines.push("synced users' password resets are refused (400)".to_owned());
        }
        if !c.federated_domains.is_empty() {
            lines.push(format!(
                "federated domains: {}",
                c.federated_domains.join(", ")
            ));
        }
        if !c.pim_licence {
            lines.push("no Entra ID P2: PIM reads answer AadPremiumLicenseRequired".to_owned());
        }
        Summary { lines }
    }
}

/// The human lines about the throttling limits.
fn throttling_lines(c: &EmulatorConfig) -> Vec<String> {
    let mut lines = Vec::new();
    let per = |rate: f64, what: &str, burst: String| match c.window_secs {
        Some(n) => format!("{} {what} per {n} s window per app", rate * f64::from(n)),
        None => format!("{rate} {what}/s per app, burst {burst}"),
    };
    if let Some(rate) = c.rate {
        let burst = c
            .burst
            .map_or_else(|| "one second's worth".to_owned(), |b| b.to_string());
        lines.push(match c.costs {
            Costs::Flat => format!("throttling: {}", per(rate, "requests", burst)),
            Costs::Graph => format!(
                "throttling: {} (Graph's costs)",
                per(rate, "resource units", burst)
            ),
        });
    } else if c.costs == Costs::Graph {
        lines.push("resource units: Graph's costs (no --rate: nothing is throttled)".to_owned());
    }
    if let Some((rate, burst)) = c.effective_write_burst() {
        lines.push(format!(
            "write quota: {}",
            per(rate, "writes", burst.to_string())
        ));
    }
    if c.rate.is_some() || c.write_rate.is_some() {
        let place = match c.level_header_on {
            LevelHeaderOn::Items => "on batch items only",
            LevelHeaderOn::Envelope => "on batch envelopes only",
            LevelHeaderOn::Both => "on batch items and envelopes",
        };
        match (c.level_header, c.level_header_on) {
            (LevelHeader::Above80, LevelHeaderOn::Both) => {}
            (LevelHeader::Never, _) => {
                lines.push("x-ms-throttle-limit-percentage: never sent".to_owned());
            }
            (LevelHeader::Always, _) => {
                lines.push(format!("x-ms-throttle-limit-percentage: always, {place}"))
            }
            (LevelHeader::Above80, _) => {
                lines.push(format!("x-ms-throttle-limit-percentage: past 80%, {place}"))
            }
        }
    }
    lines
}

fn report(error: &EmulatorError, color: super::ColorChoice) {
    eprintln!("error: {error}");
    if let EmulatorError::Seed { diagnostics, .. } = error {
        eprint!(
            "{}",
            diag::render_human(diagnostics, color.stderr_enabled(), 100)
        );
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    fn parse(argv: &[&str]) -> Result<EmulatorArgs, clap::Error> {
        Wrap::try_parse_from(std::iter::once("emulator").chain(argv.iter().copied()))
            .map(|w| w.args)
    }

    #[test]
    fn defaults_match_the_library() {
        let c = parse(&[]).unwrap().config().unwrap();
        let d = EmulatorConfig::default();
        assert_eq!(
            (c.listen, &c.users, c.slow, c.token_ttl_secs, &c.tls),
            (d.listen, &d.users, d.slow, d.token_ttl_secs, &d.tls)
        );
        assert_eq!(
            (c.page_size, &c.roles, &c.tenant_id),
            (d.page_size, &d.roles, &d.tenant_id)
        );
        assert_eq!(
            (c.locked_rate, c.disabled_rate),
            (d.locked_rate, d.disabled_rate)
        );
        assert_eq!(
            (c.costs, c.write_rate, c.write_burst, c.window_secs),
            (d.costs, d.write_rate, d.write_burst, d.window_secs)
        );
        assert_eq!(
            (c.level_header, c.level_header_on, c.gateway_timeout_rate),
            (d.level_header, d.level_header_on, d.gateway_timeout_rate)
        );
    }

    #[test]
    fn throttling_flags() {
        let c = parse(&[
            "--rate",
            "350",
            "--burst",
            "3500",
            "--costs",
            "graph",
            "--write-rate",
            "20",
            "--level-header",
            "always",
            "--level-header-on",
            "envelope",
            "--gateway-timeout-rate",
            "0.1",
        ])
        .unwrap()
        .config()
        .unwrap();
        c.validate().unwrap();
        assert_eq!(
            (c.costs, c.write_rate, c.level_header, c.level_header_on),
            (
                Costs::Graph,
                Some(20.0),
                LevelHeader::Always,
                LevelHeaderOn::Envelope
            )
        );
        assert_eq!(c.gateway_timeout_rate, 0.1);
        let lines = Summary::of(&c).lines.join("\n");
        assert!(
            lines.contains("350 resource units/s per app, burst 3500 (Graph's costs)")
                && lines.contains("write quota: 20 writes/s per app, burst 3000")
                && lines.contains("always, on batch envelopes only")
                && lines.contains("gateway timeout 0.1"),
            "{lines}"
        );
        let w = parse(&["--rate", "2", "--window-s", "10", "--write-rate", "1"])
            .unwrap()
            .config()
            .unwrap();
        assert_eq!(w.window_secs, Some(10));
        let lines = Summary::of(&w).lines.join("\n");
        assert!(
            lines.contains("20 requests per 10 s window")
                && lines.contains("10 writes per 10 s window"),
            "{lines}"
        );
        assert!(parse(&["--level-header", "above-80"]).is_ok());
        assert!(parse(&["--level-header", "sometimes"]).is_err());
        assert!(parse(&["--write-burst", "5"]).is_err());
        assert!(parse(&["--costs", "heavy"]).is_err());
        assert!(parse(&["--gateway-timeout-rate", "2"]).is_err());
    }

    #[test]
    fn options() {
        assert!(parse(&["--fail-rate", "1.5"]).is_err());
        assert!(parse(&["--burst", "3"]).is_err());
        assert!(parse(&["--users", "a.csv", "--generate", "3"]).is_err());
        assert!(parse(&["--tls-cert", "c.pem"]).is_err());
        assert!(parse(&["--tls-key", "k.pem"]).is_err());
        let tls = parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"])
            .unwrap()
            .config()
            .unwrap()
            .tls
            .unwrap();
        assert_eq!(
            (tls.cert.to_str(), tls.key.to_str()),
            (Some("c.pem"), Some("k.pem"))
        );
        let c = parse(&[
            "--roles",
            "User.Read.All, Directory.Read.All",
            "--generate",
            "5",
        ])
        .unwrap()
        .config()
        .unwrap();
        assert_eq!(c.roles, ["User.Read.All", "Directory.Read.All"]);
        assert_eq!(c.users, UserSource::Generate(5));
    }

    #[test]
    fn tenant_behaviour_flags() {
        let d = parse(&[]).unwrap().config().unwrap();
        assert_eq!(d.app_roles, ["User Administrator"]);
        assert_eq!(
            (d.synced_reset, d.pim_licence, d.privileged_admin),
            (SyncedReset::Accept, true, false)
        );
        assert!(d.federated_domains.is_empty());
        let c = parse(&[
            "--app-role",
            "Global Administrator",
            "--app-role",
            "Helpdesk Administrator",
            "--synced-reset",
            "refuse",
            "--federated-domain",
            "fabrikam.com",
            "--federated-domain",
            "tailspin.com",
            "--no-pim-licence",
            "--privileged-admin",
        ])
        .unwrap()
        .config()
        .unwrap();
        assert_eq!(
            c.app_roles,
            ["Global Administrator", "Helpdesk Administrator"]
        );
        assert_eq!(c.federated_domains, ["fabrikam.com", "tailspin.com"]);
        assert_eq!(
            (c.synced_reset, c.pim_licence, c.privileged_admin),
            (SyncedReset::Refuse, false, true)
        );
        let lines = Summary::of(&c).lines.join("\n");
        assert!(
            lines.contains(
                "holds: Global Administrator, Helpdesk Administrator, Privileged Authentication Administrator"
            ) && lines.contains("refused")
                && lines.contains("federated domains: fabrikam.com, tailspin.com")
                && lines.contains("AadPremiumLicenseRequired"),
            "{lines}"
        );
        let none = parse(&["--app-role", "None"]).unwrap().config().unwrap();
        assert!(none.app_roles.is_empty());
        assert!(
            Summary::of(&none)
                .lines
                .join("\n")
                .contains("holds no directory role")
        );
        let both = parse(&["--app-role", "none", "--app-role", "User Administrator"]).unwrap();
        assert!(both.config().unwrap_err().contains("cannot be combined"));
        assert!(parse(&["--synced-reset", "maybe"]).is_err());
    }
}
