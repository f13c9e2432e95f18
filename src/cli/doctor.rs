//! `remedy doctor`: check credentials, permissions and connectivity before
//! an incident run, and say plainly what is wrong. What the token and Graph
//! said is printed on one line with control and bidi characters escaped.

use std::fmt::Write as _;

use clap::Args;

use crate::exit_code;
use crate::graph::GraphClient;
use crate::graph::auth::TokenClaims;
use crate::graph::permissions::Operation;
use crate::graph::preflight::{self, AppRole};
use crate::graph::privilege::Licence;
use crate::playbook::checked::{LdapSpec, Provider};
use crate::report::one_line;

use super::graph_args::GraphArgs;

/// Check the Graph credentials, the app's permissions and one user.
///
/// Acquires a token with the configured credentials and cloud, prints the
/// tenant, the app id, the Graph endpoint and the permissions the token
/// carries (never the token), the app's own directory roles and whether
/// PIM eligibility can be read (the tenant's licence), and reads one user
/// with the fields remedy uses and what would make it privileged. Credentials come from the environment: AZURE_TENANT_ID,
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

    /// Check every directory this playbook names: Graph as below, and an
    /// Active Directory target's bind (REMEDY_LDAP_BIND_DN and
    /// REMEDY_LDAP_PASSWORD_FILE or REMEDY_LDAP_PASSWORD), domain, one
    /// user (--user, else the first found) and the bind identity's
    /// rights on it.
    #[arg(long, value_name = "FILE")]
    pub playbook: Option<std::path::PathBuf>,

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
/// Worth knowing, but whether it matters depends on the playbook.
const WARN: &str = "warn";

/// Runs every check; returns the printed report and whether all passed.
async fn check(args: &DoctorArgs) -> (String, bool) {
    let mut out = String::new();
    let _ = writeln!(out, "remedy doctor {}", env!("CARGO_PKG_VERSION"));
    let playbook = match &args.playbook {
        Some(path) => {
            let name = path.display().to_string();
            match crate::playbook::load(path, &name).playbook {
                Some(p) => Some(p),
                None => {
                    let _ = writeln!(out, "{BAD} playbook {name} does not load");
                    let _ = writeln!(out, "     hint: check it with `remedy validate {name}`");
                    return (out, false);
                }
            }
        }
        None => None,
    };
    let targets = playbook.as_ref().map(|p| p.targets.as_slice());
    let graph = targets.is_none_or(|t| t.iter().any(|t| t.provider == Provider::Graph));
    let mut ok = true;
    if graph {
        if targets.is_some_and(|t| t.len() > 1) {
            let _ = writeln!(out, "== graph");
        }
        ok &= graph_checks(args, &mut out).await;
    }
    for spec in targets
        .unwrap_or(&[])
        .iter()
        .filter_map(|t| t.ldap.as_ref())
    {
        let _ = writeln!(out, "== active_directory {}", one_line(&spec.url));
        ok &= ldap_checks(args, spec, &mut out).await;
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

/// The Active Directory target's checks: the bind (identity from the
/// environment), the domain, one user and the bind identity's rights on
/// it (`allowedAttributesEffective`).
async fn ldap_checks(args: &DoctorArgs, spec: &LdapSpec, out: &mut String) -> bool {
    let options = args.graph.ldap_options();
    let dir = match crate::session::connect_ldap(spec, &options, 4).await {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(out, "{BAD} bind: {}", one_line(&e.to_string()));
            if let Some(h) = e.hint() {
                let _ = writeln!(out, "     hint: {h}");
            }
            return false;
        }
    };
    let mut ok = true;
    for c in dir.doctor(args.user.as_deref()).await {
        let mark = if c.ok { OK } else { BAD };
        ok &= c.ok;
        let _ = writeln!(out, "{mark} {:<22} {}", c.what, one_line(&c.detail));
    }
    ok
}

/// The Graph checks.
async fn graph_checks(args: &DoctorArgs, out: &mut String) -> bool {
    let mut ok = true;
    let endpoints = match args.graph.options().endpoints() {
        Ok(e) => e,
        Err(e) => {
            let _ = writeln!(out, "{BAD} endpoints: {e}");
            return false;
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
            return false;
        }
    }
    let client: GraphClient = match args.graph.connect() {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(out, "{BAD} credentials: {e}");
            if let Some(h) = e.hint() {
                let _ = writeln!(out, "     hint: {h}");
            }
            return false;
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
            return false;
        }
    };
    let _ = writeln!(
        out,
        "{OK} token acquired (valid for {} more minutes)",
        token.expires_in().as_secs() / 60
    );
    match &token.claims {
        Some(claims) => ok &= permissions(out, claims, client.tokens().configured_tenant()),
        None => {
            let _ = writeln!(
                out,
                "     the token is not a JWT: its tenant and permissions cannot be shown (permission preflight skipped)"
            );
        }
    }
    let oid = token.claims.as_ref().and_then(|c| c.oid.as_deref());
    app_role(out, &client, oid).await;
    pim_licence(out, &client, oid).await;
    match &args.user {
        Some(user) => ok &= read_user(out, &client, user).await,
        None => {
            let _ = writeln!(out, "     pass --user UPN to check that a user can be read");
        }
    }
    ok
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
    // The direct role list is no longer what remedy reads.
    for op in Operation::ALL
        .into_iter()
        .filter(|op| *op != Operation::ListDirectoryRoles)
    {
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
            privileged(out, client, user, &u.id).await
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

/// What would make the user privileged, as the guard reads it. A read the
/// guard cannot use protects every user: that fails the check.
async fn privileged(out: &mut String, client: &GraphClient, user: &str, id: &str) -> bool {
    match client.privileges(id).await {
        Ok(p) if p.unknown.iter().any(|u| !u.unlicensed) => {
            let reason = p.protection(user, true).unwrap_or_default();
            let _ = writeln!(out, "{BAD} privileged-account guard: {}", one_line(&reason));
            let _ = writeln!(
                out,
                "     hint: the guard protects every user it cannot tell about; grant Directory.Read.All and RoleEligibilitySchedule.Read.Directory"
            );
            false
        }
        Ok(p) => {
            match p.protection(user, false) {
                Some(reason) => {
                    let _ = writeln!(
                        out,
                        "{OK} privileged-account guard: {user} is {}",
                        one_line(&reason)
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "{OK} privileged-account guard: {user} is not privileged (no role, eligibility, role-assignable group or restricted unit)"
                    );
                }
            }
            true
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "{BAD} privileged-account guard for {user}: {}",
                one_line(&e.to_string())
            );
            if let Some(h) = e.hint() {
                let _ = writeln!(out, "     hint: {h}");
            }
            false
        }
    }
}

/// The app's own directory role: a warning, never a failure (documents
/// disagree on whether app-only changes need it).
async fn app_role(out: &mut String, client: &GraphClient, oid: Option<&str>) {
    match preflight::app_role(client, oid).await {
        AppRole::Holds(roles) => {
            let _ = writeln!(
                out,
                "{OK} app's directory roles: {}",
                one_line(&roles.join(", "))
            );
        }
        other => {
            let _ = writeln!(
                out,
                "{WARN} app's directory roles: {}",
                one_line(&other.warning().unwrap_or_default())
            );
        }
    }
}

/// Whether PIM eligibility can be read: without the licence a playbook
/// with `pim_eligibility: required` (the default) is refused.
async fn pim_licence(out: &mut String, client: &GraphClient, oid: Option<&str>) {
    match preflight::pim_licence(client, oid).await {
        Licence::Licensed => {
            let _ = writeln!(out, "{OK} PIM eligibility can be read");
        }
        Licence::Missing(_) => {
            let _ = writeln!(
                out,
                "{WARN} PIM eligibility: {}; runs of such a playbook are refused",
                preflight::UNLICENSED
            );
            let _ = writeln!(out, "     hint: {}", preflight::UNLICENSED_HINT);
        }
        Licence::Unknown(e) => {
            let _ = writeln!(
                out,
                "{WARN} PIM eligibility could not be probed: {}",
                one_line(&e.to_string())
            );
            if let Some(h) = e.hint() {
                let _ = writeln!(out, "     hint: {h}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::graph::fake;
    use crate::graph::privilege;

    const OID: &str = "5e3ce6c0-2b1f-4285-8d4b-75ee78787346";
    const USER: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

    fn list(items: serde_json::Value) -> (u16, serde_json::Value) {
        (200, json!({ "value": items }))
    }

    #[tokio::test]
    async fn doctor_says_whether_the_app_holds_a_role_and_pim_is_licensed() {
        let fake = fake::with([
            (
                fake::key(&privilege::role_assignments(OID)),
                list(
                    json!([{"id": "a", "principalId": OID, "roleDefinitionId": privilege::role_ids::PRIVILEGED_AUTHENTICATION_ADMINISTRATOR, "directoryScopeId": "/"}]),
                ),
            ),
            (
                fake::key(&privilege::role_eligibility(OID)),
                list(json!([])),
            ),
        ]);
        let client = fake::client(&fake::serve(fake).await, Some(OID));
        let mut out = String::new();
        app_role(&mut out, &client, Some(OID)).await;
        pim_licence(&mut out, &client, Some(OID)).await;
        assert_eq!(
            out,
            "ok   app's directory roles: Privileged Authentication Administrator\nok   PIM eligibility can be read\n"
        );

        let fake = fake::with([
            (
                fake::key(&privilege::role_assignments(OID)),
                list(json!([])),
            ),
            (
                fake::key(&privilege::role_eligibility(OID)),
                (
                    400,
                    json!({"error": {"code": "AadPremiumLicenseRequired", "message": "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license."}}),
                ),
            ),
        ]);
        let client = fake::client(&fake::serve(fake).await, Some(OID));
        let mut out = String::new();
        app_role(&mut out, &client, Some(OID)).await;
        pim_licence(&mut out, &client, Some(OID)).await;
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0]
                .starts_with("warn app's directory roles: the app's service principal holds none"),
            "{out}"
        );
        assert!(lines[0].contains("assign the User Administrator role to the app's service principal; Privileged Authentication Administrator to change admins"), "{out}");
        assert!(
            lines[1].starts_with("warn PIM eligibility: the tenant has no Microsoft Entra ID P2"),
            "{out}"
        );
        assert!(lines[2].contains("pim_eligibility: if_licensed"), "{out}");

        // No oid in the token.
        let mut out = String::new();
        app_role(&mut out, &client, None).await;
        assert!(
            out.starts_with(
                "warn app's directory roles: the app's own directory role could not be checked"
            ),
            "{out}"
        );
    }

    #[tokio::test]
    async fn doctor_shows_what_makes_the_user_privileged() {
        let routes = |groups: serde_json::Value| {
            [
                (fake::key(&privilege::memberships(USER)), list(groups)),
                (fake::key(&privilege::owned_objects(USER)), list(json!([]))),
                (
                    fake::key(&privilege::role_assignments(USER)),
                    list(json!([])),
                ),
                (
                    fake::key(&privilege::role_eligibility(USER)),
                    list(json!([])),
                ),
            ]
        };
        let check = |groups: serde_json::Value| async move {
            let fake = fake::with(routes(groups));
            let client = fake::client(&fake::serve(fake).await, None);
            let mut out = String::new();
            let ok = privileged(&mut out, &client, "a@b.c", USER).await;
            (ok, out)
        };
        let (ok, out) = check(json!([])).await;
        assert!(ok);
        assert!(
            out.starts_with("ok   privileged-account guard: a@b.c is not privileged"),
            "{out}"
        );
        let (ok, out) = check(json!([{"@odata.type": "#microsoft.graph.group", "id": "g", "displayName": "Tier0", "isAssignableToRole": true}])).await;
        assert!(ok);
        assert!(out.starts_with("ok   privileged-account guard: a@b.c is protected: member of the role-assignable group Tier0"), "{out}");
        // Limited information: the guard would protect everyone in a group.
        let (ok, out) = check(json!([{"@odata.type": "#microsoft.graph.group", "id": "g", "displayName": null, "isAssignableToRole": null}])).await;
        assert!(!ok);
        assert!(
            out.starts_with(
                "FAIL privileged-account guard: protected: cannot tell whether a@b.c is privileged"
            ),
            "{out}"
        );
        assert!(out.contains("grant Directory.Read.All"), "{out}");
    }
}
