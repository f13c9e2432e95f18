//! `remedy doctor`: check credentials, permissions and connectivity before
//! an incident run, and say plainly what is wrong. What the token and Graph
//! said is printed on one line with control and bidi characters escaped.

use std::fmt::Write as _;

use clap::Args;

use crate::exit_code;
use crate::graph::GraphClient;
use crate::graph::auth::TokenClaims;
use crate::graph::permissions::Operation;
use crate::report::one_line;

use super::graph_args::GraphArgs;

/// Check the Graph credentials, the app's permissions and one user.
///
/// Acquires a token with the configured credentials and cloud, prints the
/// tenant, the app id, the Graph endpoint and the permissions the token
/// carries (never the token), and reads one user with the fields remedy
/// uses. Credentials come from the environment: AZURE_TENANT_ID,
/// AZURE_CLIENT_ID and AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH
/// (PEM or PFX, AZURE_CLIENT_CERTIFICATE_PASSWORD), or a token from
/// --token-file or AZURE_ACCESS_TOKEN.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  export AZURE_TENANT_ID=contoso.onmicrosoft.com AZURE_CLIENT_ID=<app id>
  read -rs AZURE_CLIENT_SECRET && export AZURE_CLIENT_SECRET
  remedy doctor --user adele@contoso.onmicrosoft.com
  remedy doctor --cloud usgov --user adele@contoso.us
  remedy doctor --graph-url http://127.0.0.1:8080 --authority-url http://127.0.0.1:8080   # the emulator
  remedy doctor --ca-file corp-proxy-ca.pem --user adele@contoso.onmicrosoft.com           # TLS-inspecting proxy

Exit codes: 0 everything remedy needs works, 2 something does not (the output says what).")]
pub struct DoctorArgs {
    /// A user (UPN or object id) to read, proving the read permission.
    #[arg(long, value_name = "UPN")]
    pub user: Option<String>,

    #[command(flatten)]
    pub graph: GraphArgs,
}

pub fn run(args: &DoctorArgs) -> u8 {
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let (report, ok) = runtime.block_on(check(args));
    print!("{report}");
    if ok { exit_code::OK } else { exit_code::USAGE }
}

const OK: &str = "ok  ";
const BAD: &str = "FAIL";

/// Runs every check; returns the printed report and whether all passed.
async fn check(args: &DoctorArgs) -> (String, bool) {
    let mut out = String::new();
    let mut ok = true;
    let _ = writeln!(out, "remedy doctor {}", env!("CARGO_PKG_VERSION"));
    let endpoints = match args.graph.options().endpoints() {
        Ok(e) => e,
        Err(e) => {
            let _ = writeln!(out, "{BAD} endpoints: {e}");
            return (out, false);
        }
    };
    let _ = writeln!(out, "     cloud       {:?}", args.graph.cloud);
    let _ = writeln!(out, "     graph       {}", endpoints.graph);
    let _ = writeln!(out, "     authority   {}", endpoints.authority);
    match args.graph.options().tls(&endpoints) {
        Ok(trust) => {
            let _ = writeln!(out, "     tls         {}", trust.describe());
        }
        Err(e) => {
            let _ = writeln!(out, "{BAD} tls: {e}");
            let _ = writeln!(out, "     hint: {}", e.hint());
            return (out, false);
        }
    }
    let client: GraphClient = match args.graph.connect() {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(out, "{BAD} credentials: {e}");
            if let Some(h) = e.hint() {
                let _ = writeln!(out, "     hint: {h}");
            }
            return (out, false);
        }
    };
    let _ = writeln!(
        out,
        "     credential  {}",
        client.tokens().credential().describe()
    );
    let token = match client.tokens().token().await {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(out, "{BAD} token: {}", one_line(&e.to_string()));
            if let Some(h) = e.hint() {
                let _ = writeln!(out, "     hint: {h}");
            }
            return (out, false);
        }
    };
    let _ = writeln!(
        out,
        "{OK} token acquired (valid for {} more minutes)",
        token.expires_in().as_secs() / 60
    );
    match &token.claims {
        Some(claims) => ok &= permissions(&mut out, claims, client.tokens().configured_tenant()),
        None => {
            let _ = writeln!(
                out,
                "     the token is not a JWT: its tenant and permissions cannot be shown (permission preflight skipped)"
            );
        }
    }
    match &args.user {
        Some(user) => ok &= read_user(&mut out, &client, user).await,
        None => {
            let _ = writeln!(out, "     pass --user UPN to check that a user can be read");
        }
    }
    let _ = writeln!(
        out,
        "{}",
        if ok {
            "result: everything remedy needs works"
        } else {
            "result: problems found (see FAIL lines)"
        }
    );
    (out, ok)
}

fn permissions(out: &mut String, claims: &TokenClaims, configured_tenant: Option<&str>) -> bool {
    let mut ok = true;
    let _ = writeln!(
        out,
        "     tenant      {}",
        one_line(claims.tid.as_deref().unwrap_or("(not in the token)"))
    );
    if let (Some(configured), Some(tid)) = (configured_tenant, claims.tid.as_deref())
        && crate::input::is_guid(configured)
        && !configured.eq_ignore_ascii_case(tid)
    {
        let _ = writeln!(
            out,
            "{BAD} the token is for tenant {}, not the configured {configured}",
            one_line(tid)
        );
        ok = false;
    }
    let _ = writeln!(
        out,
        "     app id      {}",
        one_line(claims.app_id().unwrap_or("(not in the token)"))
    );
    let roles = if claims.roles.is_empty() {
        "(none)".to_owned()
    } else {
        claims.roles.join(", ")
    };
    let _ = writeln!(out, "     permissions {}", one_line(&roles));
    for op in Operation::ALL {
        if op.granted_by(&claims.roles) {
            let _ = writeln!(out, "{OK} {:<22} granted", op.as_str());
        } else {
            ok = false;
            let mut need = format!(
                "missing application permission {}",
                op.least_privileged().join(" + ")
            );
            if let Some(role) = op.directory_role() {
                let _ = write!(need, " (and directory role {role})");
            }
            let _ = writeln!(out, "{BAD} {:<22} {need}", op.as_str());
        }
    }
    ok
}

async fn read_user(out: &mut String, client: &GraphClient, user: &str) -> bool {
    match client.get_user(user).await {
        Ok(u) => {
            let _ = writeln!(out, "{OK} read user {user}");
            let _ = writeln!(out, "     id                          {}", one_line(&u.id));
            let _ = writeln!(
                out,
                "     accountEnabled              {}",
                u.account_enabled
                    .map_or("(absent)".into(), |b| b.to_string())
            );
            let _ = writeln!(
                out,
                "     onPremisesSyncEnabled       {}",
                u.on_premises_sync_enabled
            );
            let _ = writeln!(
                out,
                "     lastPasswordChangeDateTime  {}",
                one_line(
                    u.last_password_change_date_time
                        .as_deref()
                        .unwrap_or("(none)")
                )
            );
            let _ = writeln!(
                out,
                "     signInSessionsValidFrom     {}",
                one_line(
                    u.sign_in_sessions_valid_from_date_time
                        .as_deref()
                        .unwrap_or("(none)")
                )
            );
            match client.directory_roles(&u.id).await {
                Ok(roles) => {
                    let names: Vec<&str> = roles
                        .iter()
                        .filter_map(|r| r.display_name.as_deref())
                        .collect();
                    let _ = writeln!(
                        out,
                        "{OK} directory roles: {}",
                        if names.is_empty() {
                            "none".to_owned()
                        } else {
                            one_line(&names.join(", ")).into_owned()
                        }
                    );
                    true
                }
                Err(e) => {
                    let _ = writeln!(
                        out,
                        "{BAD} directory roles of {user}: {}",
                        one_line(&e.to_string())
                    );
                    if let Some(h) = e.hint() {
                        let _ = writeln!(out, "     hint: {h}");
                    }
                    false
                }
            }
        }
        Err(e) => {
            let _ = writeln!(out, "{BAD} read user {user}: {}", one_line(&e.to_string()));
            if let Some(h) = e.hint() {
                let _ = writeln!(out, "     hint: {h}");
            }
            false
        }
    }
}
