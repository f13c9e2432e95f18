//! Throttling, injected faults (500/503, slow answers, dropped
//! connections), the test hooks, and refused options.

use super::*;

#[tokio::test]
async fn throttling_answers_429_and_usage_accrues() {
    let emu = Emu::start(&["--generate", "3", "--rate", "1", "--burst", "2"]);
    let t = emu.token().await;
    let path = format!("/users/user0000001@{DOMAIN}?$select=id");
    for _ in 0..2 {
        let a = emu.call(&t, "GET", &path, None).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.header("x-ms-resource-unit"), Some("1"));
    }
    let first = emu.call(&t, "GET", &path, None).await;
    assert_graph_error(&first, StatusCode::TOO_MANY_REQUESTS, "TooManyRequests");
    assert_eq!(first.message(), "Please retry again later.");
    assert_eq!(first.body["error"]["innerError"]["code"], "429");
    assert_eq!(first.body["error"]["innerError"]["status"], "429");
    assert!(
        first
            .header("x-ms-throttle-scope")
            .unwrap()
            .contains("/app-1/")
    );
    assert!(first.header("x-ms-throttle-information").is_some());
    let wait = |a: &Answer| a.header("retry-after").unwrap().parse::<u64>().unwrap();
    let second = emu.call(&t, "GET", &path, None).await;
    assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        wait(&first) >= 1 && wait(&second) > wait(&first),
        "{} then {}",
        wait(&first),
        wait(&second)
    );
    // Waiting as told lets the next request through.
    tokio::time::sleep(Duration::from_secs(wait(&second))).await;
    assert_eq!(
        emu.call(&t, "GET", &path, None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_write_quota_refuses_writes_while_reads_pass() {
    let emu = Emu::start(&["--generate", "3", "--write-rate", "2", "--write-burst", "2"]);
    let t = emu.token().await;
    let user = format!("/users/user0000001@{DOMAIN}");
    let patch = || emu.call(&t, "PATCH", &user, Some(json!({"accountEnabled": true})));
    // Two writes fill the quota; the next one, sent at once, is refused
    // (should the machine stall for the half second a write takes to
    // refill, the next few are tried).
    let mut admitted = 0;
    let refused = loop {
        let a = patch().await;
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            break a;
        }
        assert!(a.status.is_success(), "{}", a.body);
        admitted += 1;
        assert!(admitted < 10, "no write was refused");
    };
    assert!(admitted >= 2, "the burst of 2 was admitted: {admitted}");
    assert_graph_error(&refused, StatusCode::TOO_MANY_REQUESTS, "TooManyRequests");
    assert_eq!(
        refused.header("x-ms-throttle-scope"),
        Some(format!("Tenant_Application/Write/app-1/{TENANT_ID}").as_str())
    );
    assert_eq!(
        refused.header("x-ms-throttle-information"),
        Some("WriteLimitExceeded")
    );
    assert!(
        refused
            .header("retry-after")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    // Reads are not writes: they pass.
    let read = emu.call(&t, "GET", &user, None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.header("x-ms-resource-unit"), Some("1"));
    let stats = emu.hook("/_stats").await;
    assert_eq!(stats["writes"], admitted + 1, "{stats}");
    assert_eq!(
        stats["throttled_by_scope"],
        json!({"read": 0, "write": 1, "readwrite": 0}),
        "{stats}"
    );
    assert_eq!(stats["resource_units"], admitted + 2, "{stats}");
}

#[tokio::test]
async fn dropped_connections_apply_before_or_after_consistently() {
    let emu = Emu::start(&["--generate", "12", "--reset-rate", "1.0", "--seed", "3"]);
    let t = emu.token().await;
    for i in 1..=12 {
        let http = client(Duration::from_secs(10));
        let path = format!("/users/user{i:07}@{DOMAIN}/revokeSignInSessions");
        let err = call_with(&http, &emu.url, &t, "POST", &path, None)
            .await
            .err();
        let err = err.unwrap_or_else(|| panic!("request {i} got an answer"));
        assert!(!err.is_timeout(), "the connection is closed at once: {err}");
    }
    let stats = emu.hook("/_stats").await;
    let after = stats["faults"]["dropped_after_apply"].as_u64().unwrap();
    let before = stats["faults"]["dropped_before_apply"].as_u64().unwrap();
    assert_eq!(before + after, 12, "{stats}");
    assert!(before > 0 && after > 0, "{stats}");
    let users = emu.hook("/_users").await;
    let applied = users
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["revokeCount"] == 1)
        .count() as u64;
    assert_eq!(
        applied, after,
        "exactly the after-apply drops changed a user"
    );
    assert_eq!(stats["revokes"], after);
    // The token endpoint and the hooks are never faulted.
    emu.token().await;
}

#[tokio::test]
async fn injected_failures_and_slow_answers() {
    let emu = Emu::start(&["--generate", "3", "--fail-rate", "1.0"]);
    let t = emu.token().await;
    let mut seen = Vec::new();
    for _ in 0..12 {
        let a = emu
            .call(
                &t,
                "POST",
                &format!("/users/user0000001@{DOMAIN}/revokeSignInSessions"),
                None,
            )
            .await;
        assert!(matches!(a.status.as_u16(), 500 | 503), "{}", a.status);
        assert!(a.body["error"]["innerError"]["request-id"].is_string());
        seen.push(a.status.as_u16());
    }
    assert!(seen.contains(&500) && seen.contains(&503), "{seen:?}");
    assert_eq!(
        emu.user(&format!("user0000001@{DOMAIN}")).await["revokeCount"],
        0,
        "failures apply nothing"
    );

    let emu = Emu::start(&["--generate", "3", "--slow-rate", "1.0", "--slow-ms", "3000"]);
    let t = emu.token().await;
    let started = Instant::now();
    let impatient = client(Duration::from_millis(500));
    let path = format!("/users/user0000002@{DOMAIN}/revokeSignInSessions");
    let err = call_with(&impatient, &emu.url, &t, "POST", &path, None)
        .await
        .err()
        .unwrap();
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        emu.user(&format!("user0000002@{DOMAIN}")).await["revokeCount"],
        1,
        "a slow answer is applied"
    );

    let emu = Emu::start(&["--generate", "3", "--latency-ms", "300"]);
    let t = emu.token().await;
    let started = Instant::now();
    assert_eq!(
        emu.call(&t, "GET", &format!("/users/user0000003@{DOMAIN}"), None)
            .await
            .status,
        StatusCode::OK
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn stats_count_and_reset_restores() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emu::start(&["--users", &seed_csv(&dir)]);
    let t = emu.token().await;
    let adele = format!("/users/{ADELE_ID}");
    let reset = json!({"passwordProfile": {"password": STRONG}});
    assert_eq!(
        emu.call(&t, "GET", &format!("{adele}?$select=id"), None)
            .await
            .status,
        StatusCode::OK
    );
    for _ in 0..2 {
        assert_eq!(
            emu.call(&t, "PATCH", &adele, Some(reset.clone()))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            emu.call(&t, "POST", &format!("{adele}/revokeSignInSessions"), None)
                .await
                .status,
            StatusCode::OK
        );
    }
    assert_eq!(
        emu.call(&t, "PATCH", &adele, Some(json!({"accountEnabled": true})))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        emu.call(&t, "PATCH", &adele, Some(json!({"accountEnabled": true})))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        emu.call(
            &t,
            "GET",
            &format!("{adele}/memberOf/microsoft.graph.directoryRole"),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        emu.call(&t, "GET", "/users/nobody@x.com", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let s = emu.hook("/_stats").await;
    assert_eq!(s["requests"], 10, "{s}");
    assert_eq!(
        s["by_operation"],
        json!({"token": 1, "read_user": 2, "reset_password": 2, "set_account_enabled": 2, "revoke_sessions": 2, "list_directory_roles": 1,
               "list_memberships": 0, "list_owned_objects": 0, "list_role_assignments": 0, "list_role_eligibility": 0,
               "read_role_definition": 0, "read_domain": 0, "batch": 0, "batch_items": 0})
    );
    assert_eq!(s["status"], json!({"200": 5, "204": 4, "404": 1}));
    assert_eq!(
        (
            s["resets"].as_u64(),
            s["revokes"].as_u64(),
            s["enable_changes"].as_u64()
        ),
        (Some(2), Some(2), Some(1))
    );
    assert_eq!(s["users_reset_more_than_once"], 1);
    assert_eq!(s["users_revoked_more_than_once"], 1);
    assert_eq!(s["in_flight"], 0);
    assert!(s["max_in_flight"].as_u64().unwrap() >= 1);
    assert_eq!(
        s["faults"],
        json!({"500": 0, "503": 0, "504": 0, "504_after_apply": 0, "slow": 0, "dropped_before_apply": 0, "dropped_after_apply": 0})
    );
    // Four PATCHes and two revocations; nine Graph requests at 1 unit.
    assert_eq!(
        (s["writes"].as_u64(), s["resource_units"].as_u64()),
        (Some(6), Some(9))
    );
    assert_eq!(
        s["throttled_by_scope"],
        json!({"read": 0, "write": 0, "readwrite": 0})
    );

    let r = emu
        .http
        .post(format!("{}/_reset", emu.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let s = emu.hook("/_stats").await;
    assert_eq!(
        (s["requests"].as_u64(), s["resets"].as_u64()),
        (Some(0), Some(0))
    );
    let u = emu.user(&format!("adele@{DOMAIN}")).await;
    assert_eq!(
        (
            u["resetCount"].as_u64(),
            u["lockedOut"].as_bool(),
            u["accountEnabled"].as_bool(),
            u["passwordSha256"].is_null()
        ),
        (Some(0), Some(true), Some(false), true)
    );
    assert_eq!(emu.hook("/_users").await.as_array().unwrap().len(), 5);
}

#[test]
fn refuses_non_loopback_and_bad_options() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
            .arg("emulator")
            .args(args)
            .env_remove(SECRET_ENV)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(&["--listen", "0.0.0.0:0"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("loopback"), "{stderr}");
    let (code, _, stderr) = run(&["--fail-rate", "2"]);
    assert_eq!(code, Some(2), "{stderr}");
    let (code, _, stderr) = run(&["--fail-rate", "0.6", "--reset-rate", "0.6"]);
    assert_eq!(code, Some(2), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "userPrincipalName,accountEnabled\nnot a upn,true\nb@contoso.com,maybe\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&["--users", bad.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("2 problems") && stderr.contains("csv::invalid-key"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["--window-s", "5"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--window-s") && stderr.contains("needs --rate or --write-rate"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["--write-burst", "5"]);
    assert_eq!(code, Some(2), "{stderr}");
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("Examples:"));
    for flag in [
        "--costs",
        "--write-rate",
        "--write-burst",
        "--window-s",
        "--level-header",
        "--level-header-on",
        "--gateway-timeout-rate",
    ] {
        assert!(stdout.contains(flag), "--help lists {flag}");
    }
}
