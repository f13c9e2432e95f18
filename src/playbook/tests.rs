//! Table tests pinning the code, line and column of each playbook rule.

use super::*;

const BASE: &str = "api_version: remedy/v1
name: t
target:
  provider: graph
input:
  key: userPrincipalName
  columns: [userPrincipalName, compromised]
steps:
";

/// Loads BASE + `steps` and returns (code, line, column) of each diagnostic.
fn diags(steps: &str) -> Vec<(&'static str, u64, u64)> {
    diags_of(&format!("{BASE}{steps}"))
}

fn diags_of(text: &str) -> Vec<(&'static str, u64, u64)> {
    load_str("t.yaml", text)
        .diagnostics
        .iter()
        .map(|d| {
            let l = d.location.expect("positioned");
            (d.code, l.line, l.column)
        })
        .collect()
}

macro_rules! rule {
    ($name:ident, $steps:expr, [$(($code:literal, $line:literal, $col:literal)),* $(,)?]) => {
        #[test]
        fn $name() {
            assert_eq!(diags($steps), vec![$(($code, $line, $col)),*]);
        }
    };
}

rule!(
    valid_steps_are_silent,
    "  - id: a\n    ensure: sign_in_allowed\n  - id: b\n    action: reset_password\n",
    []
);
rule!(
    unknown_action,
    "  - id: a\n    action: reset_pasword\n",
    [("playbook::unknown-action", 10, 13)]
);
rule!(
    unknown_ensure,
    "  - id: a\n    ensure: sign_in_alowed\n",
    [("playbook::unknown-ensure", 10, 13)]
);
rule!(
    duplicate_step_id,
    "  - id: a\n    ensure: sign_in_allowed\n  - id: a\n    action: revoke_sessions\n",
    [("playbook::duplicate-step-id", 11, 9)]
);
rule!(
    missing_kind,
    "  - id: a\n    name: nothing\n",
    [("playbook::missing-step-kind", 9, 9)]
);
rule!(
    both_kinds,
    "  - id: a\n    action: revoke_sessions\n    ensure: sign_in_allowed\n",
    [("playbook::ambiguous-step-kind", 11, 13)]
);
rule!(
    invalid_step_id,
    "  - id: 'a b'\n    action: revoke_sessions\n",
    [("playbook::invalid-step-id", 9, 9)]
);
rule!(
    when_syntax,
    "  - id: a\n    action: revoke_sessions\n    when: row.compromised ==\n",
    [("playbook::invalid-when", 11, 27)]
);
rule!(
    when_undeclared_column,
    "  - id: a\n    action: revoke_sessions\n    when: row.compromized == 'yes'\n",
    [("playbook::undeclared-column", 11, 11)]
);
rule!(
    when_quoted_column,
    "  - id: a\n    action: revoke_sessions\n    when: \"row.department == 'x'\"\n",
    [("playbook::undeclared-column", 11, 12)]
);
rule!(
    when_unknown_variable,
    "  - id: a\n    action: revoke_sessions\n    when: user.x\n",
    [("playbook::unknown-variable", 11, 11)]
);
rule!(
    template_undeclared,
    "  - id: a\n    action: reset_password\n    with:\n      password: \"{{ row.temp_password }}\"\n",
    [("playbook::undeclared-column", 12, 21)]
);
rule!(
    template_syntax,
    "  - id: a\n    action: reset_password\n    with:\n      password: \"{{ row.compromised }\"\n",
    [("playbook::invalid-template", 12, 37)]
);
rule!(
    literal_password,
    "  - id: a\n    action: reset_password\n    with:\n      password: Hunter2!\n",
    [("playbook::literal-password", 12, 17)]
);
rule!(
    with_on_ensure,
    "  - id: a\n    ensure: sign_in_allowed\n    with:\n      password: generate\n",
    [("playbook::unexpected-with", 12, 7)]
);
rule!(
    action_as_ensure,
    "  - id: a\n    ensure: reset_password\n",
    [("playbook::unknown-ensure", 10, 13)]
);
rule!(
    contradiction,
    "  - id: a\n    ensure: sign_in_allowed\n  - id: b\n    ensure: sign_in_blocked\n",
    [("playbook::contradictory-steps", 12, 13)]
);
rule!(
    no_forced_change,
    "  - id: a\n    action: reset_password\n    with:\n      force_change_at_next_sign_in: false\n",
    [("playbook::no-forced-change", 12, 7)]
);
rule!(
    too_many_retries,
    "  - id: a\n    action: revoke_sessions\n    retries: 50\n",
    [("playbook::invalid-setting", 11, 14)]
);

#[test]
fn empty_steps() {
    assert_eq!(diags("  []\n"), vec![("playbook::no-steps", 9, 3)]);
}

#[test]
fn header_rules() {
    let text = "api_version: remedy/v2
name: t
target:
  provider: grph
  tenant: not a domain
guards:
  max_failures: 5 percent
  protect:
    users: [nobody]
settings:
  concurrency: 0
steps:
  - id: a
    ensure: sign_in_allowed
";
    assert_eq!(
        diags_of(text),
        vec![
            ("playbook::unknown-api-version", 1, 14),
            ("playbook::unknown-provider", 4, 13),
            ("playbook::invalid-tenant", 5, 11),
            ("playbook::invalid-max-failures", 7, 17),
            ("playbook::invalid-protected-user", 9, 13),
            ("playbook::invalid-setting", 11, 16),
        ]
    );
}

#[test]
fn hints_suggest_the_right_name() {
    let l = load_str(
        "t.yaml",
        &format!(
            "{BASE}  - id: a\n    action: reset_pasword\n  - id: b\n    ensure: revoke_sessions\n"
        ),
    );
    let hints: Vec<_> = l
        .diagnostics
        .iter()
        .map(|d| d.hint.clone().unwrap())
        .collect();
    assert_eq!(hints[0], "did you mean `reset_password`?");
    assert_eq!(
        hints[1],
        "`revoke_sessions` is written `action: revoke_sessions`"
    );
}

#[test]
fn checked_model_has_defaults() {
    let l = load_str(
        "t.yaml",
        "api_version: remedy/v1
name: t
target: {provider: graph, tenant: Contoso.onmicrosoft.com}
guards: {max_failures: 5%}
steps:
  - id: reset
    action: reset_password
  - id: allow
    ensure: sign_in_allowed
",
    );
    assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
    let p = l.playbook.unwrap();
    assert_eq!(p.tenant.as_deref(), Some("contoso.onmicrosoft.com"));
    assert_eq!(p.input.key, "userPrincipalName");
    assert_eq!(p.input.columns, ["userPrincipalName"]);
    assert!(p.guards.protect_privileged);
    assert_eq!(p.guards.pim_eligibility, PimEligibility::Required);
    assert_eq!(p.guards.max_failures, Some(FailureLimit::Percent(5.0)));
    assert_eq!(p.guards.max_failures.unwrap().allowed(1000), 50);
    assert_eq!(
        p.steps[0].kind,
        StepKind::ResetPassword(ResetPassword {
            password: PasswordSource::Generate,
            force_change_at_next_sign_in: true,
            force_change_with_mfa: false,
            reset_synced_in_cloud: false,
        })
    );
    assert_eq!(p.steps[1].title(), "allow");
}

fn with_protect(protect: &str) -> Loaded {
    load_str(
        "t.yaml",
        &format!(
            "api_version: remedy/v1
name: t
target: {{provider: graph}}
guards:
  protect:
{protect}steps:
  - id: allow
    ensure: sign_in_allowed
"
        ),
    )
}

#[test]
fn pim_eligibility_is_required_or_if_licensed() {
    for (text, want) in [
        ("    pim_eligibility: required\n", PimEligibility::Required),
        (
            "    pim_eligibility: if_licensed\n",
            PimEligibility::IfLicensed,
        ),
        ("    privileged_roles: true\n", PimEligibility::Required),
    ] {
        let l = with_protect(text);
        assert!(l.diagnostics.is_empty(), "{text}: {:?}", l.diagnostics);
        let p = l.playbook.unwrap();
        assert_eq!(p.guards.pim_eligibility, want, "{text}");
        assert!(p.guards.protect_privileged);
    }
    // A typo: positioned, with a did-you-mean.
    let l = with_protect("    pim_eligibility: if_licenced\n");
    assert!(l.playbook.is_none());
    let d = &l.diagnostics[0];
    assert_eq!(d.code, "playbook::invalid-guard");
    assert_eq!(d.message, "unknown pim_eligibility `if_licenced`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `if_licensed`?"));
    let at = d.location.unwrap();
    assert_eq!((at.line, at.column), (6, 22));
    // Without the guard it does nothing: a warning.
    let l = with_protect("    privileged_roles: false\n    pim_eligibility: if_licensed\n");
    assert_eq!(l.diagnostics.len(), 1, "{:?}", l.diagnostics);
    assert_eq!(l.diagnostics[0].severity, crate::diag::Severity::Warning);
    assert!(l.diagnostics[0].message.contains("no effect"));
    assert!(!l.playbook.unwrap().guards.protect_privileged);
}

#[test]
fn secret_never_echoed() {
    let l = load_str(
        "t.yaml",
        &format!(
            "{BASE}  - id: a\n    action: reset_password\n    with:\n      password: S3cret-Pa55!\n"
        ),
    );
    let d = &l.diagnostics[0];
    assert!(!format!("{} {:?}", d.message, d.hint).contains("S3cret"));
}

rule!(
    unlocked_is_refused_on_graph,
    "  - id: u\n    ensure: unlocked\n",
    [("playbook::unsupported-step", 10, 13)]
);

#[test]
fn active_directory_target_rules() {
    let text = "api_version: remedy/v1
name: t
target:
  provider: active_directory
  url: https://dc1.corp.example
  base_dn: corp.example
  tenant: corp.example
  find_by: upn
steps:
  - id: r
    action: revoke_sessions
";
    assert_eq!(
        diags_of(text),
        vec![
            ("playbook::invalid-url", 5, 8),
            ("playbook::invalid-base-dn", 6, 12),
            ("playbook::misplaced-target-setting", 7, 11),
            ("playbook::unknown-find-by", 8, 12),
        ]
    );
    let revoke = "api_version: remedy/v1
name: t
target: { provider: active_directory, url: 'ldap://dc1:389', base_dn: 'DC=corp,DC=example' }
steps:
  - id: r
    action: revoke_sessions
";
    let d = load_str("t.yaml", revoke).diagnostics;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code, "playbook::unsupported-step");
    assert!(
        d[0].hint
            .as_deref()
            .unwrap()
            .contains("Graph target of a hybrid playbook")
    );
    let ok = "api_version: remedy/v1
name: t
target:
  provider: active_directory
  url: ldaps://dc1.corp.example
  base_dn: DC=corp,DC=example
  domain: CORP.example
  find_by: sam_account_name
input:
  key: sAMAccountName
steps:
  - { id: u, ensure: unlocked }
  - { id: e, ensure: sign_in_allowed }
";
    let p = load_str("t.yaml", ok).playbook.expect("valid");
    assert_eq!(
        p.provider,
        crate::playbook::model::Provider::ActiveDirectory
    );
    let ldap = p.targets[0].ldap.as_ref().unwrap();
    assert_eq!(ldap.url, "ldaps://dc1.corp.example");
    assert_eq!(ldap.domain.as_deref(), Some("corp.example"));
    assert_eq!(ldap.find_by, crate::playbook::model::FindBy::SamAccountName);
    assert!(!p.is_hybrid());
}

#[test]
fn hybrid_targets_and_step_targets() {
    let text = "api_version: remedy/v1
name: t
targets:
  onprem: { provider: active_directory, url: 'ldaps://dc1', base_dn: 'DC=corp,DC=example' }
  cloud: { provider: graph, tenant: corp.example }
  spare: { provider: graph }
steps:
  - { id: unlock, ensure: unlocked, target: onprem }
  - { id: reset, action: reset_password, target: onprem, with: { password: generate } }
  - { id: revoke, action: revoke_sessions, target: cloud }
";
    let loaded = load_str("t.yaml", text);
    let codes: Vec<_> = loaded.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, vec!["playbook::unused-target"], "{codes:?}");
    let p = loaded.playbook.expect("warnings only");
    // In the order the steps first use them; the unused one dropped.
    let names: Vec<_> = p.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["onprem", "cloud"]);
    assert_eq!(
        p.steps.iter().map(|s| s.target).collect::<Vec<_>>(),
        [0, 0, 1]
    );
    assert_eq!(
        p.provider,
        crate::playbook::model::Provider::ActiveDirectory
    );
    assert!(p.is_hybrid());

    let bad = "api_version: remedy/v1
name: t
targets:
  onprem: { provider: active_directory, url: 'ldaps://dc1', base_dn: 'DC=corp,DC=example' }
  cloud: { provider: graph }
  cloud2: { provider: graph }
steps:
  - { id: a, ensure: unlocked }
  - { id: b, ensure: unlocked, target: clod }
  - { id: c, action: revoke_sessions, target: onprem }
  - { id: d, ensure: unlocked, target: cloud }
  - { id: e, ensure: sign_in_allowed, target: cloud2 }
";
    assert_eq!(
        diags_of(bad),
        vec![
            ("playbook::missing-step-target", 8, 11),
            ("playbook::unknown-target", 9, 40),
            ("playbook::unsupported-step", 10, 22),
            ("playbook::unsupported-step", 11, 22),
        ]
    );
    let both = "api_version: remedy/v1
name: t
target: { provider: graph }
targets:
  cloud: { provider: graph }
steps:
  - { id: a, ensure: sign_in_allowed, target: cloud }
";
    let codes: Vec<_> = diags_of(both).into_iter().map(|d| d.0).collect();
    assert_eq!(codes, ["playbook::ambiguous-target"]);
    let neither = "api_version: remedy/v1
name: t
steps:
  - { id: a, ensure: sign_in_allowed, target: cloud }
";
    let codes: Vec<_> = diags_of(neither).into_iter().map(|d| d.0).collect();
    assert_eq!(codes, ["playbook::missing-target"]);
    let single = format!("{BASE}  - {{ id: a, ensure: sign_in_allowed, target: cloud }}\n");
    let d = load_str("t.yaml", &single).diagnostics;
    assert_eq!(d[0].code, "playbook::unknown-target");
    assert!(d[0].hint.as_deref().unwrap().contains("single `target:`"));
}

#[test]
fn two_targets_of_one_provider_are_refused() {
    let text = "api_version: remedy/v1
name: t
targets:
  a: { provider: graph }
  b: { provider: graph }
steps:
  - { id: x, ensure: sign_in_allowed, target: a }
  - { id: y, ensure: sign_in_blocked, target: b }
";
    let codes: Vec<_> = diags_of(text).into_iter().map(|d| d.0).collect();
    assert_eq!(codes, ["playbook::duplicate-provider"]);
}

#[test]
fn entra_only_reset_settings_are_warned_on_active_directory() {
    let text = "api_version: remedy/v1
name: t
target: { provider: active_directory, url: 'ldaps://dc1', base_dn: 'DC=corp,DC=example' }
steps:
  - id: r
    action: reset_password
    with: { password: generate, force_change_with_mfa: true, reset_synced_in_cloud: true }
";
    let loaded = load_str("t.yaml", text);
    let codes: Vec<_> = loaded.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        ["playbook::ignored-parameter", "playbook::ignored-parameter"]
    );
    assert!(loaded.playbook.is_some(), "warnings only");
}

#[test]
fn the_key_form_follows_find_by_and_a_hybrid_needs_upns() {
    let ad = |find_by: &str| {
        format!(
            "api_version: remedy/v1
name: t
target: {{ provider: active_directory, url: 'ldaps://dc1', base_dn: 'DC=corp,DC=example', find_by: {find_by} }}
steps:
  - {{ id: u, ensure: unlocked }}
"
        )
    };
    let kind = |text: &str| load_str("t.yaml", text).playbook.unwrap().input.key_kind;
    assert_eq!(
        kind(&ad("sam_account_name")),
        crate::input::KeyKind::SamAccountName
    );
    assert_eq!(kind(&ad("object_guid")), crate::input::KeyKind::Guid);
    assert_eq!(
        kind(&ad("user_principal_name")),
        crate::input::KeyKind::UpnOrId
    );
    let hybrid = "api_version: remedy/v1
name: t
targets:
  onprem: { provider: active_directory, url: 'ldaps://dc1', base_dn: 'DC=corp,DC=example', find_by: object_guid }
  cloud: { provider: graph }
steps:
  - { id: u, ensure: unlocked, target: onprem }
  - { id: r, action: revoke_sessions, target: cloud }
";
    let d = load_str("t.yaml", hybrid).diagnostics;
    let codes: Vec<_> = d.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["playbook::incompatible-find-by"]);
}
