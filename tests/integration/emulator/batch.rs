//! `$batch`: dependencies and 424s, the 20-item limit, per-item throttling.

use super::*;

#[tokio::test]
async fn batch_runs_dependencies_and_fails_dependents_with_424() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emu::start(&["--users", &seed_csv(&dir)]);
    let t = emu.token().await;
    let json_header = json!({"Content-Type": "application/json"});
    let body = json!({"requests": [
        {"id": "1", "method": "PATCH", "url": format!("/users/{ADELE_ID}"), "headers": json_header, "body": {"passwordProfile": {"password": "weak"}}},
        {"id": "2", "method": "POST", "url": format!("/users/{ADELE_ID}/revokeSignInSessions"), "dependsOn": ["1"]},
        {"id": "3", "method": "PATCH", "url": format!("users/{ADELE_ID}"), "headers": json_header, "body": {"accountEnabled": true}},
        {"id": "4", "method": "POST", "url": format!("/users/{ADELE_ID}/revokeSignInSessions"), "dependsOn": ["3"]},
        {"id": "5", "method": "GET", "url": format!("/users/nobody@{DOMAIN}")},
        {"id": "6", "method": "PATCH", "url": format!("/users/{ADELE_ID}"), "body": {"accountEnabled": true}},
    ]});
    let a = emu.call(&t, "POST", "/$batch", Some(body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let responses = a.body["responses"].as_array().unwrap();
    let status = |id: &str| {
        responses
            .iter()
            .find(|r| r["id"] == id)
            .map(|r| r["status"].as_u64().unwrap())
    };
    assert_eq!(
        ["1", "2", "3", "4", "5", "6"].map(status),
        [
            Some(400),
            Some(424),
            Some(204),
            Some(200),
            Some(404),
            Some(400)
        ]
    );
    let item = |id: &str| responses.iter().find(|r| r["id"] == id).unwrap();
    assert_eq!(
        item("5")["body"]["error"]["code"],
        "Request_ResourceNotFound"
    );
    assert_eq!(item("4")["body"]["value"], true);
    let u = emu.user(&format!("adele@{DOMAIN}")).await;
    assert_eq!(
        (u["revokeCount"].as_u64(), u["accountEnabled"].as_bool()),
        (Some(1), Some(true))
    );

    let many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": format!("/users/{ADELE_ID}")}))
        .collect();
    let a = emu
        .call(&t, "POST", "/$batch", Some(json!({ "requests": many })))
        .await;
    assert_graph_error(&a, StatusCode::BAD_REQUEST, "BadRequest");
    let r = emu
        .http
        .post(format!("{}/v1.0/$batch", emu.url))
        .bearer_auth(&t)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn batch_items_are_throttled_singly() {
    let emu = Emu::start(&["--generate", "10", "--rate", "1", "--burst", "3"]);
    let t = emu.token().await;
    let requests: Vec<Value> = (1..=5)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": format!("/users/user{i:07}@{DOMAIN}?$select=id")}))
        .collect();
    let a = emu
        .call(&t, "POST", "/$batch", Some(json!({ "requests": requests })))
        .await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "the envelope is 200 whatever the items did"
    );
    let responses = a.body["responses"].as_array().unwrap();
    let throttled: Vec<&Value> = responses.iter().filter(|r| r["status"] == 429).collect();
    assert_eq!((responses.len(), throttled.len()), (5, 2), "{}", a.body);
    for r in throttled {
        assert!(
            r["headers"]["Retry-After"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                >= 1
        );
        assert_eq!(r["body"]["error"]["code"], "TooManyRequests");
    }
    let stats = emu.hook("/_stats").await;
    assert_eq!(
        (
            stats["by_operation"]["batch"].as_u64(),
            stats["by_operation"]["batch_items"].as_u64()
        ),
        (Some(1), Some(5))
    );
    assert_eq!(stats["throttled"], 2);
}
