//! The `remedy/v1` document model: what a playbook file deserializes into.
//!
//! These types derive both `serde::Deserialize` (the loader) and
//! `schemars::JsonSchema` (`remedy schema`, `schemas/playbook.schema.json`),
//! so the schema and the loader are generated from one definition and cannot
//! disagree. Values the checker must point at are wrapped in
//! [`Spanned`], which keeps their line, column and byte span.
//!
//! Names that have a closed set of values (`api_version`, `provider`,
//! `action`, `ensure`) are read as strings and resolved by
//! `check/`, so that a typo gets a "did you mean" at its exact position
//! rather than serde's generic "unknown variant"; their schema still lists the
//! allowed values. Steps are a plain struct dispatched on which of `action:`
//! or `ensure:` is present: no internally tagged or untagged enums, which
//! would lose positions.

use schemars::JsonSchema;
use serde::Deserialize;
pub use serde_saphyr::Spanned;

/// A `remedy/v1` playbook: which accounts to touch, how, and the guard rails.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "remedy playbook", rename = "Playbook")]
#[schemars(extend("oneOf" = [{"required": ["target"]}, {"required": ["targets"]}]))]
pub struct PlaybookDoc {
    /// Language version of this file. Only `remedy/v1` exists.
    #[schemars(with = "ApiVersion")]
    pub api_version: Spanned<String>,
    /// Short machine-friendly name, shown in reports and the run manifest.
    #[schemars(with = "String", length(min = 1))]
    pub name: Spanned<String>,
    /// What the playbook is for and when to use it.
    #[serde(default)]
    pub description: Option<String>,
    /// The directory the playbook acts on. Exactly one of `target` and
    /// `targets` is present.
    #[serde(default)]
    pub target: Option<TargetDoc>,
    /// Several directories by name (a hybrid playbook: on-premises Active
    /// Directory and Entra ID); each step says which one it acts on with
    /// `target:`.
    #[serde(default)]
    #[schemars(with = "Option<std::collections::BTreeMap<String, TargetDoc>>")]
    pub targets: Option<Spanned<std::collections::BTreeMap<String, TargetDoc>>>,
    /// How the user CSV is read.
    #[serde(default)]
    pub input: Option<InputDoc>,
    /// Limits that stop or narrow a run before it does harm.
    #[serde(default)]
    pub guards: Option<GuardsDoc>,
    /// Tuning for the run.
    #[serde(default)]
    pub settings: Option<SettingsDoc>,
    /// The steps applied to every user, in order.
    #[schemars(with = "Vec<StepDoc>", length(min = 1))]
    pub steps: Spanned<Vec<StepDoc>>,
}

/// Versions of the playbook language this remedy understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum ApiVersion {
    #[serde(rename = "remedy/v1")]
    V1,
}

impl ApiVersion {
    pub const ALL: &[(&str, ApiVersion)] = &[("remedy/v1", ApiVersion::V1)];
}

/// Where the accounts live: one directory service, and how to reach it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetDoc {
    /// The directory service: `graph` (Microsoft Graph: Entra ID) or
    /// `active_directory` (on-premises Active Directory over LDAP).
    #[schemars(with = "Provider")]
    pub provider: Spanned<String>,
    /// Graph only. Pin the playbook to one tenant (a verified domain such
    /// as `contoso.onmicrosoft.com`, or the tenant GUID). A run against any
    /// other tenant is refused.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub tenant: Option<Spanned<String>>,
    /// Active Directory only. The domain controller: `ldaps://host[:port]`
    /// (TLS from the start) or `ldap://host[:port]` (StartTLS before the
    /// bind). Plain LDAP is never used: AD refuses password writes over it.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub url: Option<Spanned<String>>,
    /// Active Directory only. Where users are searched, e.g.
    /// `DC=corp,DC=example`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub base_dn: Option<Spanned<String>>,
    /// Active Directory only. Pin the playbook to one domain: its DNS name
    /// (`corp.example`) or its SID (`S-1-5-21-…`). A run against any other
    /// domain is refused.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub domain: Option<Spanned<String>>,
    /// Active Directory only. Which attribute the CSV key is matched
    /// against: `user_principal_name` (default), `sam_account_name` or
    /// `object_guid`.
    #[serde(default)]
    #[schemars(with = "Option<FindBy>")]
    pub find_by: Option<Spanned<String>>,
}

/// Directory services remedy can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Microsoft Graph: Microsoft Entra ID (Azure AD) and Microsoft 365.
    Graph,
    /// On-premises Active Directory, over LDAP with TLS.
    ActiveDirectory,
}

impl Provider {
    pub const ALL: &[(&str, Provider)] = &[
        ("graph", Provider::Graph),
        ("active_directory", Provider::ActiveDirectory),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Graph => "graph",
            Provider::ActiveDirectory => "active_directory",
        }
    }
}

/// How an Active Directory target finds the account a CSV key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindBy {
    /// `userPrincipalName` (`alice@corp.example`).
    UserPrincipalName,
    /// `sAMAccountName` (the pre-Windows 2000 logon name, `alice`).
    SamAccountName,
    /// `objectGUID`, written as a GUID.
    ObjectGuid,
}

impl FindBy {
    pub const ALL: &[(&str, FindBy)] = &[
        ("user_principal_name", FindBy::UserPrincipalName),
        ("sam_account_name", FindBy::SamAccountName),
        ("object_guid", FindBy::ObjectGuid),
    ];
}

/// How rows of the user CSV are read.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputDoc {
    /// The column that names the user: a user principal name or an object id.
    /// Defaults to `userPrincipalName`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub key: Option<Spanned<String>>,
    /// Columns the CSV must have and that `when` and templates may read as
    /// `row.<column>`. The key column is always included.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub columns: Option<Vec<Spanned<String>>>,
}

/// Guard rails checked before and during a run.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardsDoc {
    /// Refuse a CSV with more users than this.
    #[serde(default)]
    #[schemars(with = "Option<u64>", range(min = 1))]
    pub max_users: Option<Spanned<u64>>,
    /// Stop scheduling users after this many failures: a count (`25`) or a
    /// percentage of the users (`5%`).
    #[serde(default)]
    #[schemars(with = "Option<ThresholdSchema>")]
    pub max_failures: Option<Spanned<Threshold>>,
    /// Users that are never touched.
    #[serde(default)]
    pub protect: Option<ProtectDoc>,
}

/// Accounts the run must leave alone; they are reported as skipped.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProtectDoc {
    /// Skip every account that only a Privileged Authentication
    /// Administrator or Global Administrator may change: holders of any
    /// directory role (built-in or custom, tenant-wide or scoped to an
    /// administrative unit), members and owners of role-assignable groups,
    /// members of restricted management administrative units and
    /// PIM-eligible role holders; also any account for which that cannot
    /// be read. Default: true.
    #[serde(default)]
    pub privileged_roles: Option<bool>,
    /// How `privileged_roles` treats PIM eligibility in a tenant without
    /// Microsoft Entra ID P2 or ID Governance (where it cannot be read).
    /// `required` (default): eligibility must be readable; such a run is
    /// refused before any change. `if_licensed`: such a tenant has no
    /// eligible roles.
    #[serde(default)]
    #[schemars(with = "Option<PimEligibility>")]
    pub pim_eligibility: Option<Spanned<String>>,
    /// Skip these users (user principal names or object ids), e.g. the
    /// break-glass accounts.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub users: Vec<Spanned<String>>,
}

/// How PIM eligibility counts for the privileged-account guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PimEligibility {
    /// Eligibility must be readable: without the licence a run is
    /// refused (every account would be protected).
    Required,
    /// Without the licence the tenant has no PIM, so no eligible roles.
    IfLicensed,
}

impl PimEligibility {
    pub const ALL: &[(&str, PimEligibility)] = &[
        ("required", PimEligibility::Required),
        ("if_licensed", PimEligibility::IfLicensed),
    ];
}

/// Run tuning.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsDoc {
    /// HTTP requests in flight at once. Default: 16.
    #[serde(default)]
    #[schemars(with = "Option<u32>", range(min = 1, max = 512))]
    pub concurrency: Option<Spanned<u32>>,
    /// Ceiling of each shared rate budget per second: Graph resource units
    /// (a read of one object or a write costs 1, a list 2) and writes.
    #[serde(default)]
    #[schemars(with = "Option<f64>", range(min = 0.1))]
    pub max_rate: Option<Spanned<f64>>,
    /// Pack requests into Graph `$batch` calls of up to 20. Default: true.
    #[serde(default)]
    pub batch: Option<bool>,
}

/// One step. Exactly one of `action` (a one-shot operation) or `ensure` (a
/// desired state, idempotent) must be present.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["action"]}, {"required": ["ensure"]}]))]
pub struct StepDoc {
    /// Unique identifier within the playbook: letters, digits, `-` and `_`.
    /// Journals and reports refer to the step by it.
    #[schemars(with = "String", regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"))]
    pub id: Spanned<String>,
    /// Human-readable description, shown in progress and reports.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    /// A one-shot operation, performed once per user.
    #[serde(default)]
    #[schemars(with = "Option<ActionKind>")]
    pub action: Option<Spanned<String>>,
    /// A desired state; remedy reads the user and changes only what differs.
    #[serde(default)]
    #[schemars(with = "Option<EnsureKind>")]
    pub ensure: Option<Spanned<String>>,
    /// Parameters of the action.
    #[serde(default)]
    #[schemars(with = "Option<WithDoc>")]
    pub with: Option<Spanned<WithDoc>>,
    /// A condition over the CSV row (minijinja expression, e.g.
    /// `row.compromised == "yes"`); the step is skipped when it is false.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub when: Option<Spanned<String>>,
    /// Extra attempts after a retryable failure (throttling, 5xx). Default: 5.
    #[serde(default)]
    #[schemars(with = "Option<u32>", range(max = 20))]
    pub retries: Option<Spanned<u32>>,
    /// Go on with the user's next steps when this one fails. Default: false.
    #[serde(default)]
    pub continue_on_error: Option<bool>,
    /// Which of `targets` the step acts on (required when there are
    /// several).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub target: Option<Spanned<String>>,
}

/// One-shot operations (`action:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Set a new password (generated, or from a template over the row).
    ResetPassword,
    /// Invalidate refresh tokens and session cookies: sign the user out
    /// everywhere.
    RevokeSessions,
}

impl ActionKind {
    pub const ALL: &[(&str, ActionKind)] = &[
        ("reset_password", ActionKind::ResetPassword),
        ("revoke_sessions", ActionKind::RevokeSessions),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::ResetPassword => "reset_password",
            ActionKind::RevokeSessions => "revoke_sessions",
        }
    }
}

/// Desired states (`ensure:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnsureKind {
    /// The account is enabled (`accountEnabled: true`).
    SignInAllowed,
    /// The account is disabled (`accountEnabled: false`).
    SignInBlocked,
    /// The account is not locked out (Active Directory: `lockoutTime`
    /// cleared). Not on Graph: Entra ID has no unlock operation.
    Unlocked,
}

impl EnsureKind {
    pub const ALL: &[(&str, EnsureKind)] = &[
        ("sign_in_allowed", EnsureKind::SignInAllowed),
        ("sign_in_blocked", EnsureKind::SignInBlocked),
        ("unlocked", EnsureKind::Unlocked),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EnsureKind::SignInAllowed => "sign_in_allowed",
            EnsureKind::SignInBlocked => "sign_in_blocked",
            EnsureKind::Unlocked => "unlocked",
        }
    }
}

/// Step parameters. Only `reset_password` takes any.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WithDoc {
    /// `generate` (a random password per user, written to the run's
    /// `secrets.csv`) or a template reading a CSV column, e.g.
    /// `"{{ row.temp_password }}"`. A literal password is refused.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub password: Option<Spanned<String>>,
    /// Make the user choose a new password at next sign-in. Default: true.
    #[serde(default)]
    pub force_change_at_next_sign_in: Option<bool>,
    /// Require MFA before that change. Default: false.
    #[serde(default)]
    pub force_change_with_mfa: Option<bool>,
    /// Also reset accounts synchronised from on-premises Active Directory,
    /// in the cloud. Right only for a tenant whose users sign in with
    /// password hash sync; under pass-through or federated sign-in the
    /// on-premises password keeps working. Default: false (such accounts
    /// are skipped with a reason).
    #[serde(default)]
    pub reset_synced_in_cloud: Option<bool>,
}

/// `max_failures` as written: a count or a percentage. Parsed by the checker
/// so that a bad value gets a positioned diagnostic.
#[derive(Debug, Clone, PartialEq)]
pub enum Threshold {
    Count(u64),
    Text(String),
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Threshold;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a count such as 25 or a percentage such as \"5%\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Threshold, E> {
                Ok(Threshold::Count(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Threshold, E> {
                Ok(Threshold::Text(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Threshold, E> {
                Ok(Threshold::Text(v.to_string()))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Threshold, E> {
                Ok(Threshold::Text(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Schema of [`Threshold`]: a non-negative integer or `N%`.
#[derive(JsonSchema)]
#[schemars(untagged)]
#[expect(dead_code, reason = "schema-only type")]
enum ThresholdSchema {
    Count(u64),
    Percent(#[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?%$"))] String),
}
