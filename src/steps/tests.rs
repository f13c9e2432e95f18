//! Per-kind tests: each kind's evidence, dry-run text and drift rules,
//! and the comparison `verify` makes.

use super::*;
use crate::directory::{Change, Value};
use crate::graph::GraphDirectory;
use crate::journal::Before;

const LABEL: Label = GraphDirectory::label;

fn account(enabled: bool, pw: Option<&str>, sessions: Option<&str>) -> Account {
    Account {
        id: "id".into(),
        name: None,
        enabled: Some(enabled),
        synced: false,
        password_changed: pw.map(Into::into),
        sessions_valid_from: sessions.map(Into::into),
        kind: None,
        locked: None,
        federated: None,
    }
}

fn no_render(_: &str) -> Result<String, String> {
    Err("no row".into())
}

fn prepare(kind: &dyn Kind, saved: Option<&str>) -> Result<Prepared, String> {
    kind.prepare(Prepare {
        render: &no_render,
        saved_password: saved.map(|s| SecretString::from(s.to_owned())),
    })
}

#[test]
fn sign_in_changes_only_what_differs_and_drifts_on_its_property() {
    let allow = SignIn::ALLOWED;
    assert_eq!(allow.describe(), "ensure: sign_in_allowed");
    assert_eq!(SignIn::BLOCKED.describe(), "ensure: sign_in_blocked");
    assert_eq!(allow.operation(), OpKind::SetEnabled);
    assert_eq!(
        allow.scope(),
        "changes only users not already in that state"
    );
    assert_eq!(
        allow.decide(&account(true, None, None), LABEL),
        Decision::Satisfied("accountEnabled already true".into())
    );
    let Decision::Change { would, change } = allow.decide(&account(false, None, None), LABEL)
    else {
        panic!("a disabled account needs enabling");
    };
    assert_eq!(would, "accountEnabled: false → true");
    let change = change.unwrap();
    assert_eq!(change.before, Some(Value::Bool(false)));
    assert!(matches!(
        prepare(&allow, None).unwrap().op,
        Op::SetEnabled(true)
    ));
    assert!(matches!(
        prepare(&SignIn::BLOCKED, None).unwrap().op,
        Op::SetEnabled(false)
    ));

    // Evidence: the state holds; verify expects it after `ok` too.
    let e = allow.evidence();
    assert!(e.happened(&Before::default(), &account(true, None, None)));
    assert!(!e.happened(&Before::default(), &account(false, None, None)));
    assert!(e.expect(false, None, None).is_some());

    // Drift: what the plan saw of accountEnabled must still hold.
    assert!(
        e.drifted(
            Some(&change),
            None,
            false,
            &account(false, None, None),
            "accountEnabled"
        )
        .is_none()
    );
    assert!(
        e.drifted(
            Some(&change),
            None,
            false,
            &account(true, None, None),
            "accountEnabled"
        )
        .is_some()
    );
    assert!(
        e.drifted(
            None,
            None,
            false,
            &account(false, None, None),
            "accountEnabled"
        )
        .is_some()
    );
    assert!(
        e.still_ok(&account(true, None, None), "accountEnabled")
            .is_ok()
    );
    assert_eq!(
        e.still_ok(&account(false, None, None), "accountEnabled"),
        Err("drifted since the plan: accountEnabled is now false, the plan found it already true; not changed".into())
    );
}

#[test]
fn reset_password_moves_its_timestamp_and_reuses_a_saved_password() {
    let generate = ResetPassword {
        password: PasswordSource::Generate,
        force_change_at_next_sign_in: true,
        force_change_with_mfa: false,
        reset_synced_in_cloud: false,
    };
    assert_eq!(generate.describe(), "action: reset_password");
    assert_eq!(generate.operation(), OpKind::ResetPassword);
    assert!(generate.generates_secrets());
    assert_eq!(generate.scope(), "acts once on every user");
    assert_eq!(
        generate.decide(&account(true, None, None), LABEL),
        Decision::Change {
            would: "password would be reset (generated, saved to secrets.csv)".into(),
            change: None
        }
    );
    assert_eq!(
        generate.confirmed(LABEL),
        "password reset (confirmed after resume: lastPasswordChangeDateTime moved)"
    );
    // A pending reset reuses the password saved with its intent.
    let p = prepare(&generate, Some("Saved-Pw-1234567!")).unwrap();
    use secrecy::ExposeSecret;
    assert_eq!(p.secret.unwrap().expose_secret(), "Saved-Pw-1234567!");
    let Op::ResetPassword {
        force_change,
        with_mfa,
        ..
    } = p.op
    else {
        panic!()
    };
    assert!(force_change && !with_mfa);
    assert_eq!(
        p.done.as_deref(),
        Some("password reset (generated, in secrets.csv)")
    );

    let template = ResetPassword {
        password: PasswordSource::Template("{{ row.pw }}".into()),
        ..generate.clone()
    };
    assert!(!template.generates_secrets());
    assert_eq!(template.journaled(), "journal or secrets.csv");
    assert_eq!(
        prepare(&template, None).err().as_deref(),
        Some("the password template failed: no row")
    );
    let empty = |_: &str| Ok(String::new());
    let r = template.prepare(Prepare {
        render: &empty,
        saved_password: None,
    });
    assert_eq!(
        r.err().as_deref(),
        Some("the password template rendered an empty password")
    );

    // Evidence: the password-changed time moved. A planned reset drifts
    // when the password changed since the plan (not when the plan did not
    // record it).
    let e = generate.evidence();
    let before = Before::of(&account(true, Some("t0"), None));
    assert!(!e.happened(&before, &account(true, Some("t0"), None)));
    assert!(e.happened(&before, &account(true, Some("t1"), None)));
    assert!(e.expect(false, Some(&before), None).is_none());
    assert!(generate.drifts_when_moved() && template.drifts_when_moved());
    let moves = generate.drifts_when_moved();
    assert!(
        e.drifted(None, None, moves, &account(true, Some("t9"), None), "x")
            .is_none()
    );
    let saw = Some(crate::directory::value_hash(Some(&Value::Text(
        "t0".into(),
    ))));
    assert!(
        e.drifted(None, saw, moves, &account(true, Some("t0"), None), "x")
            .is_none(),
        "unchanged since the plan: reset"
    );
    assert_eq!(
        e.drifted(None, saw, moves, &account(true, Some("t1"), None), "lastPasswordChangeDateTime"),
        Some("drifted since the plan: lastPasswordChangeDateTime moved since the plan (now t1); someone else acted, or the plan was applied already; not changed".into())
    );
    assert_eq!(
        e.still_ok(&account(false, None, None), "x"),
        Ok("ok in the plan".into())
    );
}

#[test]
fn revoke_sessions_moves_its_timestamp() {
    let k = RevokeSessions;
    assert_eq!(k.describe(), "action: revoke_sessions");
    assert_eq!(k.operation(), OpKind::RevokeSessions);
    assert!(!k.generates_secrets());
    assert_eq!(k.journaled(), "journal");
    assert_eq!(
        k.decide(&account(true, None, None), LABEL),
        Decision::Change {
            would: "sessions would be revoked".into(),
            change: None
        }
    );
    assert_eq!(
        k.confirmed(LABEL),
        "sessions revoked (confirmed after resume: signInSessionsValidFromDateTime moved)"
    );
    assert!(matches!(prepare(&k, None).unwrap().op, Op::RevokeSessions));
    let e = k.evidence();
    let before = Before::of(&account(true, None, Some("t0")));
    assert!(e.happened(&before, &account(true, None, Some("t1"))));
    assert!(!e.happened(&before, &account(true, None, Some("t0"))));
    assert_eq!(
        e.expect(true, Some(&before), Some("at".into())),
        Some(Expect::Moved {
            property: Property::SessionsValidFrom,
            before: Some("t0".into()),
            at: Some("at".into())
        })
    );
    // A revocation does not drift on its timestamp: revoking again is
    // harmless.
    assert!(!k.drifts_when_moved());
    let saw = Some(crate::directory::value_hash(Some(&Value::Text(
        "t0".into(),
    ))));
    assert!(
        e.drifted(
            None,
            saw,
            k.drifts_when_moved(),
            &account(false, None, Some("t1")),
            "x"
        )
        .is_none()
    );
}

#[test]
fn the_only_match_gives_every_kind() {
    for (kind, text) in [
        (
            StepKind::ensure(EnsureKind::SignInAllowed),
            "ensure: sign_in_allowed",
        ),
        (
            StepKind::ensure(EnsureKind::SignInBlocked),
            "ensure: sign_in_blocked",
        ),
        (
            StepKind::RevokeSessions(RevokeSessions),
            "action: revoke_sessions",
        ),
    ] {
        assert_eq!(kind.describe(), text);
    }
    let change = Change {
        property: "accountEnabled".into(),
        before: None,
        after: Value::Bool(true),
    };
    assert_eq!(change.after.as_bool(), Some(true));
}

#[test]
fn timestamps_must_move_past_the_intent() {
    let e = Expect::Moved {
        property: Property::SessionsValidFrom,
        before: Some("2026-01-01T00:00:00Z".into()),
        at: Some("2026-02-01T10:00:00.5Z".into()),
    };
    let state = |enabled, pw, sessions| account(enabled, pw, sessions);
    // Graph sets whole seconds, a moment after the intent.
    assert!(evaluate(&e, &state(true, None, Some("2026-02-01T10:00:00Z"))).holds);
    // Not moved at all.
    let v = evaluate(&e, &state(true, None, Some("2026-01-01T00:00:00Z")));
    assert!(!v.holds);
    assert_eq!(v.actual, "2026-01-01T00:00:00Z");
    // Moved, but to long before the intent.
    assert!(!evaluate(&e, &state(true, None, Some("2026-01-15T00:00:00Z"))).holds);
    assert!(!evaluate(&e, &state(true, None, None)).holds);
    let reset = Expect::Moved {
        property: Property::PasswordChanged,
        before: None,
        at: None,
    };
    assert!(evaluate(&reset, &state(true, Some("2026-01-01T00:00:00Z"), None)).holds);
    let enabled = Expect::Holds {
        property: Property::Enabled,
        want: Value::Bool(true),
    };
    assert!(evaluate(&enabled, &state(true, None, None)).holds);
    assert!(!evaluate(&enabled, &state(false, None, None)).holds);
}

#[test]
fn guests_and_synced_accounts_are_skipped_with_a_reason() {
    let guest = Account {
        kind: Some("Guest".into()),
        locked: None,
        ..account(true, None, None)
    };
    let synced = Account {
        synced: true,
        ..account(false, None, None)
    };
    let reset = ResetPassword {
        password: PasswordSource::Generate,
        force_change_at_next_sign_in: true,
        force_change_with_mfa: false,
        reset_synced_in_cloud: false,
    };
    let not_applicable = |d: Decision| match d {
        Decision::NotApplicable(reason) => reason,
        other => panic!("expected a skip, got {other:?}"),
    };
    // A guest signs in at home: neither its password nor its sessions
    // are here.
    assert!(not_applicable(reset.decide(&guest, LABEL)).starts_with("guest account"));
    assert!(not_applicable(RevokeSessions.decide(&guest, LABEL)).starts_with("guest account"));
    // A synced account's password and enabled flag live on-premises.
    let why = not_applicable(reset.decide(&synced, LABEL));
    assert!(
        why.contains("reset it on-premises") && why.contains("reset_synced_in_cloud"),
        "{why}"
    );
    let why = not_applicable(SignIn::ALLOWED.decide(&synced, LABEL));
    assert!(why.contains("accountEnabled is mastered there"), "{why}");
    // Already as desired is still ok; opting in resets synced accounts.
    assert!(matches!(
        SignIn::BLOCKED.decide(&synced, LABEL),
        Decision::Satisfied(_)
    ));
    let cloud = ResetPassword {
        reset_synced_in_cloud: true,
        ..reset.clone()
    };
    assert!(matches!(
        cloud.decide(&synced, LABEL),
        Decision::Change { .. }
    ));
    // Revoking a synced account's sessions works in the cloud.
    assert!(matches!(
        RevokeSessions.decide(&synced, LABEL),
        Decision::Change { .. }
    ));
}

#[test]
fn accounts_of_a_federated_domain_get_no_cloud_reset() {
    let reset = ResetPassword {
        password: PasswordSource::Generate,
        force_change_at_next_sign_in: true,
        force_change_with_mfa: false,
        // Even where synced accounts may be reset in the cloud: a
        // federated domain signs in at its own identity provider.
        reset_synced_in_cloud: true,
    };
    assert!(reset.needs_sign_in_authority());
    assert!(!RevokeSessions.needs_sign_in_authority());
    assert!(!SignIn::BLOCKED.needs_sign_in_authority());
    let at = |federated| Account {
        federated,
        ..account(true, None, None)
    };
    match reset.decide(&at(Some(true)), LABEL) {
        Decision::NotApplicable(why) => {
            assert!(
                why.contains("federated") && why.contains("reset the password there"),
                "{why}"
            );
        }
        other => panic!("expected a skip, got {other:?}"),
    }
    assert!(matches!(
        reset.decide(&at(Some(false)), LABEL),
        Decision::Change { .. }
    ));
    // Revoking and blocking still apply: tokens are issued by Entra ID.
    assert!(matches!(
        RevokeSessions.decide(&at(Some(true)), LABEL),
        Decision::Change { .. }
    ));
    // The preflight asks for the domain read before the reset itself.
    let kinds = [
        StepKind::ResetPassword(reset),
        StepKind::RevokeSessions(RevokeSessions),
    ];
    let ops = crate::steps::operations([("reset", &kinds[0]), ("revoke", &kinds[1])]);
    let ops: Vec<_> = ops.into_iter().map(|(_, op)| op).collect();
    assert_eq!(
        ops,
        [
            OpKind::ReadSignInAuthority,
            OpKind::ResetPassword,
            OpKind::RevokeSessions
        ]
    );
}
