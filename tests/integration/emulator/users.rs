//! The user endpoints: reads and `$select`, 404s, PATCH rules, revoke,
//! directory roles with paging, and 403s for permissions and admins.

use super::*;

#[tokio::test]
async fn reads_with_select_default_set_and_key_forms() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emu::start(&["--users", &seed_csv(&dir)]);
    let t = emu.token().await;
    let a = emu
        .call(
            &t,
            "GET",
            &format!("/users/ADELE@{DOMAIN}?$select=id,accountEnabled,onPremisesSyncEnabled"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.body,
        json!({
            "@odata.context": format!("{}/v1.0/$metadata#users(id,accountEnabled,onPremisesSyncEnabled)/$entity", emu.url),
            "id": ADELE_ID, "accountEnabled": false, "onPremisesSyncEnabled": null,
        })
    );
    assert!(a.header("request-id").is_some());
    assert_eq!(a.header("client-request-id"), a.header("request-id"));

    let a = emu
        .call(&t, "GET", &format!("/users/{ADELE_ID}"), None)
        .await;
    let keys: Vec<&str> = a
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "businessPhones",
        "displayName",
        "givenName",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
        "id",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert!(
        !keys.contains(&"accountEnabled"),
        "the default set omits accountEnabled"
    );
    assert_eq!(
        a.body["@odata.context"],
        format!("{}/v1.0/$metadata#users/$entity", emu.url)
    );

    let a = emu
        .call(
            &t,
            "GET",
            &format!("/users('$dollar@{DOMAIN}')?$select=userPrincipalName"),
            None,
        )
        .await;
    assert_eq!(a.body["userPrincipalName"], format!("$dollar@{DOMAIN}"));
    let a = emu
        .call(
            &t,
            "GET",
            &format!("/users/bob_fabrikam.com%23EXT%23@{DOMAIN}?$select=userType,mail"),
            None,
        )
        .await;
    assert_eq!(
        (a.body["userType"].as_str(), a.body["mail"].as_str()),
        (Some("Guest"), Some("bob@fabrikam.com"))
    );

    let a = emu
        .call(
            &t,
            "GET",
            &format!("/users/{ADELE_ID}?$select=id,shoeSize"),
            None,
        )
        .await;
    assert_graph_error(&a, StatusCode::BAD_REQUEST, "Request_BadRequest");
    assert_eq!(
        a.message(),
        "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'."
    );

    // client-request-id is echoed.
    let r = emu
        .http
        .get(format!("{}/v1.0/users/{ADELE_ID}", emu.url))
        .bearer_auth(&t)
        .header("client-request-id", "my-id-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["client-request-id"], "my-id-1");
}

#[tokio::test]
async fn unknown_users_and_paths_are_404() {
    let emu = Emu::start(&["--generate", "2"]);
    let t = emu.token().await;
    let a = emu
        .call(&t, "GET", &format!("/users/nobody@{DOMAIN}"), None)
        .await;
    assert_graph_error(&a, StatusCode::NOT_FOUND, "Request_ResourceNotFound");
    assert_eq!(
        a.message(),
        format!(
            "Resource 'nobody@{DOMAIN}' does not exist or one of its queried reference-property objects are not present."
        )
    );
    let a = emu.call(&t, "GET", "/groups", None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.message(), "Resource not found for the segment 'groups'.");
    let r = emu
        .http
        .get(format!("{}/beta/users", emu.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn patch_applies_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emu::start(&["--users", &seed_csv(&dir)]);
    let t = emu.token().await;
    let adele = format!("/users/{ADELE_ID}");
    assert!(
        emu.user(&format!("adele@{DOMAIN}")).await["lockedOut"]
            .as_bool()
            .unwrap()
    );

    for weak in [
        "short1A",
        "alllowercase",
        "P@ssw0rd-2026",
        "Adele#2026xyz",
        "Tab\tBad9x",
    ] {
        let a = emu.call(&t, "PATCH", &adele, Some(json!({"passwordProfile": {"password": weak, "forceChangePasswordNextSignIn": true}}))).await;
        assert_graph_error(&a, StatusCode::BAD_REQUEST, "Request_BadRequest");
        assert!(
            a.message().starts_with(
                "The specified password does not comply with password complexity requirements."
            ),
            "{weak}"
        );
    }
    let a = emu
        .call(
            &t,
            "PATCH",
            &format!("/users/synced@{DOMAIN}"),
            Some(json!({"accountEnabled": true})),
        )
        .await;
    assert_graph_error(&a, StatusCode::BAD_REQUEST, "Request_BadRequest");
    assert!(
        a.message()
            .contains("on-premises mastered Directory Sync objects")
    );
    let a = emu
        .call(&t, "PATCH", &adele, Some(json!({"jobTitle": "CEO"})))
        .await;
    assert_graph_error(&a, StatusCode::BAD_REQUEST, "Request_BadRequest");
    let r = emu
        .http
        .patch(format!("{}/v1.0{adele}", emu.url))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let a = emu
        .call(&t, "PATCH", &adele, Some(json!({"accountEnabled": true, "passwordProfile": {"password": STRONG, "forceChangePasswordNextSignIn": true, "forceChangePasswordNextSignInWithMfa": false}})))
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(a.body, Value::Null);
    assert_eq!(a.header("content-type"), None);
    let u = emu.user(&format!("adele@{DOMAIN}")).await;
    assert_eq!(u["accountEnabled"], true);
    assert_eq!(u["lockedOut"], false);
    assert_eq!(u["resetCount"], 1);
    assert_eq!(u["enableChanges"], 1);
    assert_eq!(u["forceChangePasswordNextSignIn"], true);
    assert_eq!(
        u["passwordSha256"],
        hex::encode(sha2::Sha256::digest(STRONG.as_bytes()))
    );
    assert!(!u.to_string().contains(STRONG), "no password in /_users");
}

#[tokio::test]
async fn revoke_answers_true_and_moves_the_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emu::start(&["--users", &seed_csv(&dir)]);
    let t = emu.token().await;
    let path = format!("/users/{ADELE_ID}?$select=signInSessionsValidFromDateTime");
    let before =
        emu.call(&t, "GET", &path, None).await.body["signInSessionsValidFromDateTime"].clone();
    let a = emu
        .call(
            &t,
            "POST",
            &format!("/users/{ADELE_ID}/revokeSignInSessions"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.body,
        json!({"@odata.context": format!("{}/v1.0/$metadata#Edm.Boolean", emu.url), "value": true})
    );
    let after =
        emu.call(&t, "GET", &path, None).await.body["signInSessionsValidFromDateTime"].clone();
    assert_ne!(before, after);
    assert!(
        after.as_str().unwrap().ends_with('Z') && after.as_str().unwrap().len() == 20,
        "{after}"
    );
    let a = emu
        .call(
            &t,
            "POST",
            &format!("/users/{ADELE_ID}/microsoft.graph.revokeSignInSessions"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(emu.user(&format!("adele@{DOMAIN}")).await["revokeCount"], 2);
}

#[tokio::test]
async fn member_of_pages_with_next_link() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emu::start(&["--users", &seed_csv(&dir)]);
    let t = emu.token().await;
    let mut url = format!(
        "{}/v1.0/users/admin@{DOMAIN}/memberOf/microsoft.graph.directoryRole?$select=id,displayName,roleTemplateId&$top=1",
        emu.url
    );
    let mut names = Vec::new();
    for _ in 0..10 {
        let r = emu.http.get(&url).bearer_auth(&t).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let page: Value = r.json().await.unwrap();
        let items = page["value"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{page}");
        assert_eq!(items[0]["@odata.type"], "#microsoft.graph.directoryRole");
        if items[0]["displayName"] == "Global Administrator" {
            assert_eq!(
                items[0]["roleTemplateId"],
                "62e90394-69f5-4237-9190-012177145e10"
            );
        }
        names.push(items[0]["displayName"].as_str().unwrap().to_owned());
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(
                    next.starts_with(&emu.url) && next.contains("$skiptoken="),
                    "{next}"
                );
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(
        names,
        [
            "Global Administrator",
            "User Administrator",
            "Security Administrator"
        ]
    );
    let a = emu
        .call(
            &t,
            "GET",
            &format!("/users/{ADELE_ID}/memberOf/microsoft.graph.directoryRole"),
            None,
        )
        .await;
    assert_eq!(a.body["value"], json!([]));
    assert!(a.body.get("@odata.nextLink").is_none());
}

#[tokio::test]
async fn narrowed_roles_and_privileged_targets_get_403() {
    let emu = Emu::start(&["--generate", "3", "--roles", "User.Read.All"]);
    let t = emu.token().await;
    let user = format!("/users/user0000001@{DOMAIN}");
    assert_eq!(
        emu.call(&t, "GET", &user, None).await.status,
        StatusCode::OK
    );
    let a = emu
        .call(&t, "POST", &format!("{user}/revokeSignInSessions"), None)
        .await;
    assert_graph_error(&a, StatusCode::FORBIDDEN, "Authorization_RequestDenied");
    assert_eq!(
        a.message(),
        "Insufficient privileges to complete the operation."
    );
    let a = emu
        .call(
            &t,
            "GET",
            &format!("{user}/memberOf/microsoft.graph.directoryRole"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);

    let dir = tempfile::tempdir().unwrap();
    let csv = seed_csv(&dir);
    let reset = json!({"passwordProfile": {"password": STRONG}});
    let emu = Emu::start(&["--users", &csv]);
    let t = emu.token().await;
    let admin = format!("/users/admin@{DOMAIN}");
    assert_graph_error(
        &emu.call(&t, "PATCH", &admin, Some(reset.clone())).await,
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
    );
    assert_eq!(
        emu.call(&t, "PATCH", &admin, Some(json!({"accountEnabled": false})))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        emu.call(&t, "POST", &format!("{admin}/revokeSignInSessions"), None)
            .await
            .status,
        StatusCode::OK
    );
    let emu = Emu::start(&["--users", &csv, "--privileged-admin"]);
    let t = emu.token().await;
    assert_eq!(
        emu.call(&t, "PATCH", &admin, Some(reset)).await.status,
        StatusCode::NO_CONTENT
    );
}
