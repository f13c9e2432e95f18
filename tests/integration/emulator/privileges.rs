//! Every kind of privileged account over HTTP: memberships, ownerships,
//! role assignments, PIM eligibility, role definitions and domains, direct
//! and as `$batch` items; the app's own roles; whom the app may change;
//! and the per-user count of write attempts.

use super::*;

const SELECT_MEMBERSHIPS: &str =
    "$select=id,displayName,isAssignableToRole,isManagementRestricted,roleTemplateId&$top=999";
const GA: &str = "62e90394-69f5-4237-9190-012177145e10";
const UA: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
const PAA: &str = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13";

/// One user of each kind.
fn privileged_csv(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("privileged.csv");
    std::fs::write(
        &path,
        "userPrincipalName,displayName,roles,customRoles,scopedRoles,eligibleRoles,roleGroups,ownedRoleGroups,groups,units,restrictedUnits,userType,onPremisesSyncEnabled\n\
         plain@contoso.com,Plain,,,,,,,Sales,Region West,,,\n\
         admin@contoso.com,Admin,Global Administrator,,,,,,,,,,\n\
         custom@contoso.com,Custom,,Helpdesk Tier 2,,,,,,,,,\n\
         scoped@contoso.com,Scoped,,,Helpdesk Administrator@Region West,,,,,,,,\n\
         eligible@contoso.com,Eligible,,,,Global Administrator,,,,,,,\n\
         member@contoso.com,Member,,,,,Tier0 Admins=Global Administrator,,Sales,,,,\n\
         owner@contoso.com,Owner,,,,,,Tier0 Admins,,,,,\n\
         exec@contoso.com,Exec,,,,,,,,,Executives,,\n\
         guest@contoso.com,Guest,,,,,,,,,,Guest,\n\
         synced@contoso.com,Synced,,,,,,,,,,,true\n\
         fed@fabrikam.com,Federated,,,,,,,,,,,\n",
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

/// `principalId eq '{id}'`, percent-encoded.
fn filter(id: &str) -> String {
    let text = format!("principalId eq '{id}'");
    let encoded: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
    format!("$filter={encoded}")
}

/// The `oid` claim of an access token.
fn oid(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["oid"].as_str().unwrap().to_owned()
}

async fn user_id(emu: &Emu, upn: &str) -> String {
    emu.user(upn).await["id"].as_str().unwrap().to_owned()
}

fn types_and_names(body: &Value) -> Vec<String> {
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            format!(
                "{} {}",
                v["@odata.type"].as_str().unwrap(),
                v["displayName"].as_str().unwrap_or("null")
            )
        })
        .collect()
}

fn grants(body: &Value) -> Vec<(String, String)> {
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["roleDefinitionId"].as_str().unwrap().to_owned(),
                v["directoryScopeId"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn privilege_reads_answer_alike_direct_and_in_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emu::start(&[
        "--users",
        &privileged_csv(&dir),
        "--federated-domain",
        "fabrikam.com",
    ]);
    let t = emu.token().await;
    let member = user_id(&emu, "member@contoso.com").await;
    let scoped = user_id(&emu, "scoped@contoso.com").await;
    let eligible = user_id(&emu, "eligible@contoso.com").await;
    let custom = user_id(&emu, "custom@contoso.com").await;
    let units = emu.user("exec@contoso.com").await;
    assert_eq!(units["restrictedUnits"], json!(["Executives"]));

    let urls = [
        format!("/users/{member}/transitiveMemberOf?{SELECT_MEMBERSHIPS}"),
        "/users/owner@contoso.com/ownedObjects?$select=id,displayName,isAssignableToRole&$top=999"
            .to_owned(),
        format!("/users/exec@contoso.com/transitiveMemberOf?{SELECT_MEMBERSHIPS}"),
        format!(
            "/roleManagement/directory/roleAssignments?{}",
            filter(&scoped)
        ),
        format!(
            "/roleManagement/directory/roleAssignments?{}",
            filter(&custom)
        ),
        format!(
            "/roleManagement/directory/roleEligibilityScheduleInstances?{}",
            filter(&eligible)
        ),
        format!("/roleManagement/directory/roleDefinitions/{GA}"),
        "/domains/fabrikam.com".to_owned(),
        "/domains/contoso.com".to_owned(),
        "/domains/nowhere.com".to_owned(),
    ];
    let mut direct = Vec::new();
    for url in &urls {
        direct.push(emu.call(&t, "GET", url, None).await);
    }
    let status: Vec<u16> = direct.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(status, [200, 200, 200, 200, 200, 200, 200, 200, 200, 404]);
    assert_eq!(
        types_and_names(&direct[0].body),
        [
            "#microsoft.graph.directoryRole Global Administrator",
            "#microsoft.graph.group Tier0 Admins",
            "#microsoft.graph.group Sales",
        ]
    );
    assert_eq!(direct[0].body["value"][0]["roleTemplateId"], GA);
    assert_eq!(direct[0].body["value"][1]["isAssignableToRole"], true);
    assert_eq!(direct[0].body["value"][2]["isAssignableToRole"], false);
    assert_eq!(
        types_and_names(&direct[1].body),
        ["#microsoft.graph.group Tier0 Admins"]
    );
    assert_eq!(
        direct[2].body["value"][0]["isManagementRestricted"], true,
        "{}",
        direct[2].body
    );
    let scope = &grants(&direct[3].body)[0];
    assert!(
        scope.1.starts_with("/administrativeUnits/") && scope.1.len() == 21 + 36,
        "{scope:?}"
    );
    let (custom_def, _) = grants(&direct[4].body).remove(0);
    assert_eq!(grants(&direct[5].body), [(GA.to_owned(), "/".to_owned())]);
    assert_eq!(direct[6].body["displayName"], "Global Administrator");
    assert_eq!(direct[7].body["authenticationType"], "Federated");
    assert_eq!(direct[8].body["authenticationType"], "Managed");
    assert_graph_error(
        &direct[9],
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
    );
    let a = emu
        .call(
            &t,
            "GET",
            &format!("/roleManagement/directory/roleDefinitions/{custom_def}"),
            None,
        )
        .await;
    assert_eq!(
        (&a.body["displayName"], &a.body["isBuiltIn"]),
        (&json!("Helpdesk Tier 2"), &json!(false))
    );

    // The same requests as batch items get the same answers.
    let requests: Vec<Value> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| json!({"id": i.to_string(), "method": "GET", "url": url}))
        .collect();
    let a = emu
        .call(&t, "POST", "/$batch", Some(json!({ "requests": requests })))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    for item in a.body["responses"].as_array().unwrap() {
        let i: usize = item["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(item["status"], status[i], "{}", urls[i]);
        let mut body = item["body"].clone();
        let mut want = direct[i].body.clone();
        // Only the ids of an error differ.
        for b in [&mut body, &mut want] {
            if let Some(inner) = b.pointer_mut("/error/innerError") {
                *inner = Value::Null;
            }
        }
        assert_eq!(body, want, "{}", urls[i]);
    }
    let s = emu.hook("/_stats").await;
    let ops = &s["by_operation"];
    assert_eq!(
        [
            &ops["list_memberships"],
            &ops["list_owned_objects"],
            &ops["list_role_assignments"],
            &ops["list_role_eligibility"],
            &ops["read_role_definition"],
            &ops["read_domain"],
        ],
        [
            &json!(4),
            &json!(2),
            &json!(4),
            &json!(2),
            &json!(3),
            &json!(6)
        ]
    );

    // With User.Read.All alone, memberships come back with limited information.
    let narrow = Emu::start(&["--users", &privileged_csv(&dir), "--roles", "User.Read.All"]);
    let t = narrow.token().await;
    let a = narrow
        .call(
            &t,
            "GET",
            &format!("/users/member@contoso.com/transitiveMemberOf?{SELECT_MEMBERSHIPS}"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        a.body["value"][1],
        json!({"@odata.type": "#microsoft.graph.group", "id": direct[0].body["value"][1]["id"],
               "displayName": null, "isAssignableToRole": null})
    );
    let a = narrow
        .call(
            &t,
            "GET",
            &format!(
                "/roleManagement/directory/roleAssignments?{}",
                filter(&member)
            ),
            None,
        )
        .await;
    assert_graph_error(&a, StatusCode::FORBIDDEN, "Authorization_RequestDenied");
}

#[tokio::test]
async fn protected_accounts_refuse_writes_and_count_every_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let csv = privileged_csv(&dir);
    let reset =
        json!({"passwordProfile": {"password": STRONG, "forceChangePasswordNextSignIn": true}});
    let emu = Emu::start(&["--users", &csv]);
    let t = emu.token().await;
    // The token's oid is the app's service principal: User Administrator by default.
    let a = emu
        .call(
            &t,
            "GET",
            &format!(
                "/roleManagement/directory/roleAssignments?{}",
                filter(&oid(&t))
            ),
            None,
        )
        .await;
    assert_eq!(grants(&a.body), [(UA.to_owned(), "/".to_owned())]);
    let privileged = [
        "admin", "custom", "scoped", "eligible", "member", "owner", "exec",
    ];
    for upn in privileged {
        let path = format!("/users/{upn}@contoso.com");
        let a = emu.call(&t, "PATCH", &path, Some(reset.clone())).await;
        assert_graph_error(&a, StatusCode::FORBIDDEN, "Authorization_RequestDenied");
        let a = emu
            .call(&t, "PATCH", &path, Some(json!({"accountEnabled": false})))
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{upn}");
        let u = emu.user(&format!("{upn}@contoso.com")).await;
        assert_eq!(
            (
                &u["privileged"],
                &u["writeAttempts"],
                &u["resetCount"],
                &u["enableChanges"]
            ),
            (&json!(true), &json!(2), &json!(0), &json!(0)),
            "{upn}: {u}"
        );
    }
    // A batch item counts too, even one never run (424).
    let body = json!({"requests": [
        {"id": "1", "method": "PATCH", "url": "/users/plain@contoso.com", "headers": {"Content-Type": "application/json"}, "body": {"passwordProfile": {"password": "weak"}}},
        {"id": "2", "method": "POST", "url": "/users/plain@contoso.com/revokeSignInSessions", "dependsOn": ["1"]},
    ]});
    let a = emu.call(&t, "POST", "/$batch", Some(body)).await;
    assert_eq!(a.status, StatusCode::OK);
    let plain = emu.user("plain@contoso.com").await;
    assert_eq!(
        (
            &plain["writeAttempts"],
            &plain["privileged"],
            &plain["revokeCount"]
        ),
        (&json!(2), &json!(false), &json!(0))
    );
    let others = emu.hook("/_users").await;
    let untouched: Vec<&str> = others
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["writeAttempts"] == 0)
        .map(|u| u["userPrincipalName"].as_str().unwrap())
        .collect();
    assert_eq!(
        untouched,
        [
            "guest@contoso.com",
            "synced@contoso.com",
            "fed@fabrikam.com"
        ]
    );

    // Privileged Authentication Administrator: all but the restricted unit's member.
    let emu = Emu::start(&[
        "--users",
        &csv,
        "--privileged-admin",
        "--synced-reset",
        "refuse",
    ]);
    let t = emu.token().await;
    let a = emu
        .call(
            &t,
            "GET",
            &format!(
                "/roleManagement/directory/roleAssignments?{}",
                filter(&oid(&t))
            ),
            None,
        )
        .await;
    assert_eq!(
        grants(&a.body),
        [
            (UA.to_owned(), "/".to_owned()),
            (PAA.to_owned(), "/".to_owned())
        ]
    );
    for upn in privileged {
        let a = emu
            .call(
                &t,
                "PATCH",
                &format!("/users/{upn}@contoso.com"),
                Some(reset.clone()),
            )
            .await;
        let want = if upn == "exec" {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::NO_CONTENT
        };
        assert_eq!(a.status, want, "{upn}: {}", a.body);
    }
    let a = emu
        .call(
            &t,
            "PATCH",
            "/users/synced@contoso.com",
            Some(reset.clone()),
        )
        .await;
    assert_graph_error(&a, StatusCode::BAD_REQUEST, "Request_BadRequest");
    assert!(a.message().contains("on-premises mastered"), "{}", a.body);
    let a = emu
        .call(&t, "PATCH", "/users/fed@fabrikam.com", Some(reset.clone()))
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);

    // No role at all: nobody can be reset or disabled; no PIM licence.
    let emu = Emu::start(&["--users", &csv, "--app-role", "none", "--no-pim-licence"]);
    let t = emu.token().await;
    let a = emu
        .call(&t, "PATCH", "/users/plain@contoso.com", Some(reset))
        .await;
    assert_graph_error(&a, StatusCode::FORBIDDEN, "Authorization_RequestDenied");
    let a = emu
        .call(
            &t,
            "GET",
            &format!(
                "/roleManagement/directory/roleAssignments?{}",
                filter(&oid(&t))
            ),
            None,
        )
        .await;
    assert_eq!(a.body["value"], json!([]));
    let a = emu
        .call(
            &t,
            "GET",
            &format!(
                "/roleManagement/directory/roleEligibilityScheduleInstances?{}",
                filter(&oid(&t))
            ),
            None,
        )
        .await;
    assert_graph_error(&a, StatusCode::BAD_REQUEST, "AadPremiumLicenseRequired");
    assert_eq!(
        a.message(),
        "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license."
    );
}

#[test]
fn bad_privilege_options_and_cells_are_refused() {
    let dir = tempfile::tempdir().unwrap();
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
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&["--app-role", "Global Admin"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("`Global Admin` is not a built-in role"),
        "{stderr}"
    );
    let (code, stderr) = run(&["--federated-domain", "contoso.onmicrosoft.com"]);
    assert_eq!(code, Some(2), "{stderr}");
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "userPrincipalName,scopedRoles,groups\na@contoso.com,Helpdesk Administrator,\nb@contoso.com,,Sales=Global Administrator\n",
    )
    .unwrap();
    let (code, stderr) = run(&["--users", bad.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("2 problems") && stderr.contains("emulator::invalid-value"),
        "{stderr}"
    );
    assert!(
        stderr.contains(":2:15") && stderr.contains(":3:16"),
        "{stderr}"
    );
}
