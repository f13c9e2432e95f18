//! The Graph client against the emulator binary on 127.0.0.1: every
//! operation and every error path the client must handle, through the same
//! code that talks to the real service.

use std::time::Duration;

use remedy::graph::auth::{AuthConfig, Credential};
use remedy::graph::batch::BatchItem;
use remedy::graph::client::{ClientOptions, GraphClient};
use remedy::graph::cloud::{Cloud, Endpoints};
use remedy::graph::{ErrorKind, users};
use secrecy::SecretString;

use crate::support::EmulatorProcess;

const TENANT: &str = "contoso.onmicrosoft.com";

fn client_with(emu: &EmulatorProcess, env: &[(&str, &str)], timeout: Duration) -> GraphClient {
    let endpoints = Endpoints::resolve(Cloud::Global, Some(&emu.url), Some(&emu.url)).unwrap();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    let lookup = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let credential = Credential::resolve(&AuthConfig::default(), &lookup).unwrap();
    GraphClient::build(
        &ClientOptions {
            timeout,
            ..ClientOptions::default()
        },
        endpoints,
        credential,
    )
    .unwrap()
}

fn client(emu: &EmulatorProcess) -> GraphClient {
    client_with(
        emu,
        &[
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_CLIENT_ID", "app-1"),
            ("AZURE_CLIENT_SECRET", "any-secret"),
        ],
        Duration::from_secs(10),
    )
}

fn seed_csv(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("seed.csv");
    std::fs::write(
        &path,
        "userPrincipalName,displayName,accountEnabled,onPremisesSyncEnabled,roles,lockedOut\n\
         adele@contoso.onmicrosoft.com,Adele Vance,false,false,,yes\n\
         synced@contoso.onmicrosoft.com,Sync User,false,true,,no\n\
         admin@contoso.onmicrosoft.com,Admin,true,false,Global Administrator;User Administrator;Security Administrator,no\n\
         bob_fabrikam.com#EXT#@contoso.onmicrosoft.com,Bob Guest,true,false,,no\n",
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_operation_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::start(&["--users", &seed_csv(&dir)]);
    let c = client(&emu);
    let token = c.tokens().token().await.unwrap();
    let claims = token.claims.as_ref().expect("the emulator issues JWTs");
    assert!(
        claims
            .roles
            .iter()
            .any(|r| r == "User-PasswordProfile.ReadWrite.All")
    );

    let u = c.get_user("ADELE@contoso.onmicrosoft.com").await.unwrap();
    assert_eq!(u.account_enabled, Some(false));
    assert!(!u.on_premises_sync_enabled);
    let before = u.last_password_change_date_time.clone();

    let pw = SecretString::from("Xk9#mPq2$vL7wRt4".to_owned());
    c.reset_password(&u.id, &pw, true, false).await.unwrap();
    c.set_account_enabled(&u.id, true).await.unwrap();
    c.revoke_sessions(&u.id).await.unwrap();

    let after = c.get_user(&u.id).await.unwrap();
    assert_eq!(after.account_enabled, Some(true));
    assert_ne!(after.last_password_change_date_time, before);
    assert_ne!(
        after.sign_in_sessions_valid_from_date_time,
        u.sign_in_sessions_valid_from_date_time
    );

    let users = emu.get_json("/_users?upn=adele@contoso.onmicrosoft.com");
    let adele = &users[0];
    assert_eq!(adele["resetCount"], 1);
    assert_eq!(adele["revokeCount"], 1);
    assert_eq!(adele["lockedOut"], false);
    use sha2::Digest;
    assert_eq!(
        adele["passwordSha256"],
        hex::encode(sha2::Sha256::digest(b"Xk9#mPq2$vL7wRt4"))
    );

    // Guests' `#EXT#` UPNs are percent-encoded on the way out.
    let guest = c
        .get_user("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com")
        .await
        .unwrap();
    assert_eq!(
        guest.user_principal_name.as_deref(),
        Some("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com")
    );
    assert!(c.directory_roles(&guest.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn directory_roles_follow_next_link() {
    let dir = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::start(&["--users", &seed_csv(&dir), "--page-size", "1"]);
    let c = client(&emu);
    let roles = c
        .directory_roles("admin@contoso.onmicrosoft.com")
        .await
        .unwrap();
    let mut names: Vec<String> = roles.into_iter().filter_map(|r| r.display_name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "Global Administrator",
            "Security Administrator",
            "User Administrator"
        ]
    );
}

#[tokio::test]
async fn permanent_errors_are_typed_with_hints() {
    let dir = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::start(&["--users", &seed_csv(&dir)]);
    let c = client(&emu);

    let e = c
        .get_user("nobody@contoso.onmicrosoft.com")
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(e.code.as_deref(), Some("Request_ResourceNotFound"));
    assert!(e.request_id.is_some());
    assert!(!e.is_retryable());

    let synced = c.get_user("synced@contoso.onmicrosoft.com").await.unwrap();
    assert!(synced.on_premises_sync_enabled);
    let e = c.set_account_enabled(&synced.id, true).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadRequest);
    assert!(e.is_synced_user(), "{e}");
    assert!(e.hint().unwrap().contains("on-premises"));

    let adele = c.get_user("adele@contoso.onmicrosoft.com").await.unwrap();
    let e = c
        .reset_password(
            &adele.id,
            &SecretString::from("short".to_owned()),
            true,
            false,
        )
        .await
        .unwrap_err();
    assert!(e.is_weak_password(), "{e}");
    assert!(
        !e.to_string().contains("short"),
        "the password must not be echoed: {e}"
    );
}

#[tokio::test]
async fn missing_permission_is_403_with_the_permission_named() {
    let emu = EmulatorProcess::start(&["--generate", "10", "--roles", "User.Read.All"]);
    let c = client(&emu);
    let u = c
        .get_user("user0000001@contoso.onmicrosoft.com")
        .await
        .unwrap();
    let e = c
        .reset_password(
            &u.id,
            &SecretString::from("Xk9#mPq2$vL7wRt4".to_owned()),
            true,
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Forbidden);
    assert_eq!(e.code.as_deref(), Some("Authorization_RequestDenied"));
    let text = e.describe("user0000001@contoso.onmicrosoft.com", "reset-password");
    assert!(
        text.contains("User-PasswordProfile.ReadWrite.All"),
        "{text}"
    );
    assert!(text.contains("request-id"), "{text}");
}

#[tokio::test]
async fn throttling_surfaces_retry_after() {
    let emu = EmulatorProcess::start(&["--generate", "10", "--rate", "1", "--burst", "1"]);
    let c = client(&emu);
    let mut throttled = None;
    for _ in 0..5 {
        if let Err(e) = c.get_user("user0000001@contoso.onmicrosoft.com").await {
            throttled = Some(e);
            break;
        }
    }
    let e = throttled.expect("a 1/s budget throttles the second call");
    assert_eq!(e.kind, ErrorKind::Throttled);
    assert!(e.is_retryable());
    assert!(
        e.retry_after.is_some_and(|d| d >= Duration::from_secs(1)),
        "{e:?}"
    );
}

#[tokio::test]
async fn batch_items_are_answered_singly() {
    let dir = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::start(&["--users", &seed_csv(&dir)]);
    let c = client(&emu);
    let adele = c.get_user("adele@contoso.onmicrosoft.com").await.unwrap();
    let items = vec![
        BatchItem {
            id: "1".into(),
            request: users::reset_password(
                &adele.id,
                &SecretString::from("weak".to_owned()),
                true,
                false,
            ),
            depends_on: None,
        },
        BatchItem {
            id: "2".into(),
            request: users::revoke_sessions(&adele.id),
            depends_on: Some("1".into()),
        },
        BatchItem {
            id: "3".into(),
            request: users::get_user("admin@contoso.onmicrosoft.com"),
            depends_on: None,
        },
        BatchItem {
            id: "4".into(),
            request: users::get_user("nobody@contoso.onmicrosoft.com"),
            depends_on: None,
        },
    ];
    let out = c.batch(&items).await.unwrap();
    assert_eq!(out[0].as_ref().unwrap_err().kind, ErrorKind::BadRequest);
    assert_eq!(
        out[1].as_ref().unwrap_err().kind,
        ErrorKind::FailedDependency
    );
    let admin = users::parse_user(out[2].as_ref().unwrap()).unwrap();
    assert_eq!(
        admin.user_principal_name.as_deref(),
        Some("admin@contoso.onmicrosoft.com")
    );
    assert_eq!(out[3].as_ref().unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(
        emu.get_json("/_users?upn=adele@contoso.onmicrosoft.com")[0]["revokeCount"],
        0
    );
}

#[tokio::test]
async fn batch_sub_requests_are_throttled_with_their_own_retry_after() {
    let emu = EmulatorProcess::start(&["--generate", "30", "--rate", "1", "--burst", "3"]);
    let c = client(&emu);
    let items: Vec<BatchItem> = (1..=10)
        .map(|i| BatchItem {
            id: i.to_string(),
            request: users::get_user(&format!("user{i:07}@contoso.onmicrosoft.com")),
            depends_on: None,
        })
        .collect();
    let out = c.batch(&items).await.unwrap();
    let ok = out.iter().filter(|r| r.is_ok()).count();
    let throttled: Vec<_> = out
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter(|e| e.kind == ErrorKind::Throttled)
        .collect();
    assert_eq!(ok, 3, "the burst lets exactly 3 items through");
    assert_eq!(throttled.len(), 7);
    assert!(throttled.iter().all(|e| e.retry_after.is_some()));
}

#[tokio::test]
async fn expired_token_is_refreshed_once_and_the_call_retried() {
    let emu = EmulatorProcess::start(&["--generate", "5", "--token-ttl", "1"]);
    let c = client(&emu);
    c.get_user("user0000001@contoso.onmicrosoft.com")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // The client still thinks its token is fresh (it never trusts lifetimes
    // under a minute), so the emulator's 401 drives the refresh.
    c.get_user("user0000002@contoso.onmicrosoft.com")
        .await
        .unwrap();
    let stats = emu.get_json("/_stats");
    assert_eq!(stats["by_operation"]["token"], 2, "{stats}");
    assert_eq!(stats["status"]["401"], 1, "{stats}");
}

#[tokio::test]
async fn a_rejected_pre_issued_token_is_not_retried_forever() {
    let emu = EmulatorProcess::start(&["--generate", "5"]);
    let c = client_with(
        &emu,
        &[("AZURE_ACCESS_TOKEN", "not-a-valid-token")],
        Duration::from_secs(5),
    );
    let e = c
        .get_user("user0000001@contoso.onmicrosoft.com")
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{e}");
    assert!(!e.to_string().contains("not-a-valid-token"));
}

#[tokio::test]
async fn certificate_credentials_get_tokens() {
    let emu = EmulatorProcess::start(&["--generate", "5"]);
    let fixtures = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let pem = format!("{fixtures}/test-app.pem");
    let pfx = format!("{fixtures}/test-app.pfx");
    for env in [
        vec![("AZURE_CLIENT_CERTIFICATE_PATH", pem.as_str())],
        vec![
            ("AZURE_CLIENT_CERTIFICATE_PATH", pfx.as_str()),
            ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "test-only"),
        ],
    ] {
        let mut env = env.clone();
        env.extend([("AZURE_TENANT_ID", TENANT), ("AZURE_CLIENT_ID", "cert-app")]);
        let c = client_with(&emu, &env, Duration::from_secs(10));
        c.get_user("user0000001@contoso.onmicrosoft.com")
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn dropped_connections_are_retryable_and_idempotent_writes_converge() {
    let dir = tempfile::tempdir().unwrap();
    let emu = EmulatorProcess::start(&[
        "--users",
        &seed_csv(&dir),
        "--reset-rate",
        "0.5",
        "--seed",
        "7",
    ]);
    let c = client(&emu);
    let mut id = None;
    for _ in 0..20 {
        match c.get_user("adele@contoso.onmicrosoft.com").await {
            Ok(u) => {
                id = Some(u.id);
                break;
            }
            Err(e) => assert!(e.is_retryable() && e.kind == ErrorKind::Connection, "{e:?}"),
        }
    }
    let id = id.expect("a read gets through within 20 tries");
    let mut drops = 0;
    let mut done = false;
    for _ in 0..20 {
        match c.set_account_enabled(&id, true).await {
            Ok(()) => {
                done = true;
                break;
            }
            Err(e) => {
                assert!(e.is_retryable(), "{e:?}");
                drops += 1;
            }
        }
    }
    assert!(done, "the write got through within 20 tries");
    let stats = emu.get_json("/_stats");
    let faults = &stats["faults"];
    assert!(
        drops == 0
            || faults["dropped_before_apply"].as_u64().unwrap()
                + faults["dropped_after_apply"].as_u64().unwrap()
                > 0
    );
    let adele = &emu.get_json("/_users?upn=adele@contoso.onmicrosoft.com")[0];
    assert_eq!(adele["accountEnabled"], true);
    assert_eq!(
        adele["enableChanges"], 1,
        "a repeated PATCH of the same value changes nothing"
    );
}
