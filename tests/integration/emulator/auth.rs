//! Tokens: the token endpoint's answers and OAuth errors, secrets, client
//! assertions, and the 401s of missing, bad and expired access tokens.

use super::*;

#[tokio::test]
async fn token_endpoint_success_and_oauth_errors() {
    let emu = Emu::start(&["--generate", "3"]);
    let ok = [
        ("grant_type", "client_credentials"),
        ("client_id", "app-1"),
        ("client_secret", "x"),
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    let (status, body) = emu.token_request(DOMAIN, &ok).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    let token = body["access_token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(claims["tid"], TENANT_ID);
    assert_eq!(claims["appid"], "app-1");
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(
        claims["iss"],
        format!("https://sts.windows.net/{TENANT_ID}/")
    );
    assert!(
        claims["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "User.RevokeSessions.All")
    );
    // The tenant may be named by its GUID in any case, and the emulator's
    // own URL is an accepted scope root.
    let own_scope = format!("{}/.default", emu.url);
    let mut form = ok.to_vec();
    form[3] = ("scope", &own_scope);
    assert_eq!(
        emu.token_request(&TENANT_ID.to_uppercase(), &form).await.0,
        StatusCode::OK
    );

    let oauth = |(status, body): (StatusCode, Value), want: StatusCode, error: &str, code: u64| {
        assert_eq!(status, want, "{body}");
        assert_eq!(body["error"], error, "{body}");
        assert_eq!(body["error_codes"], json!([code]), "{body}");
        let d = body["error_description"].as_str().unwrap();
        assert!(d.starts_with(&format!("AADSTS{code}: ")), "{d}");
        assert!(
            d.contains("Trace ID: ") && d.contains("Correlation ID: ") && d.contains("Timestamp: "),
            "{d}"
        );
        for key in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
            assert!(body[key].is_string(), "{key}: {body}");
        }
    };
    oauth(
        emu.token_request("fabrikam.com", &ok).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        90002,
    );
    oauth(
        emu.token_request(DOMAIN, &ok[..3]).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900_144,
    );
    let mut bad_scope = ok.to_vec();
    bad_scope[3] = ("scope", "https://graph.microsoft.com/User.Read");
    oauth(
        emu.token_request(DOMAIN, &bad_scope).await,
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        70011,
    );
    let r = emu
        .http
        .get(format!(
            "{}/{DOMAIN}/v2.0/.well-known/openid-configuration",
            emu.url
        ))
        .send()
        .await
        .unwrap();
    let discovery: Value = r.json().await.unwrap();
    assert!(
        discovery["issuer"].as_str().unwrap().contains(TENANT_ID),
        "{discovery}"
    );
    let r = emu
        .http
        .get(format!(
            "{}/fabrikam.com/v2.0/.well-known/openid-configuration",
            emu.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let mut no_grant = ok.to_vec();
    no_grant.remove(0);
    oauth(
        emu.token_request(DOMAIN, &no_grant).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900_144,
    );
}

#[tokio::test]
async fn only_the_configured_secret_is_accepted() {
    let emu = Emu::start_with_env(&["--generate", "1"], &[(SECRET_ENV, "s3cret")]);
    let form = |secret| {
        [
            ("grant_type", "client_credentials"),
            ("client_id", "app-1"),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ]
    };
    let (status, body) = emu.token_request(DOMAIN, &form("wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"], json!([7_000_215]));
    assert_eq!(
        emu.token_request(DOMAIN, &form("s3cret")).await.0,
        StatusCode::OK
    );
    // HTTP Basic carries the same credentials.
    let r = emu
        .http
        .post(emu.token_url(DOMAIN))
        .basic_auth("app-1", Some("s3cret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn client_assertions_are_shape_checked() {
    let emu = Emu::start(&["--generate", "1"]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let jwt = |header: Value, claims: Value| {
        let enc = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        format!("{}.{}.c2lnbmF0dXJl", enc(&header), enc(&claims))
    };
    let header = json!({"alg": "PS256", "typ": "JWT", "x5t#S256": "q5Z0sJbCRl8S0qK2hVZ2ZXQ"});
    let claims = |aud: &str, exp: u64| json!({"aud": aud, "iss": "cert-app", "sub": "cert-app", "jti": "1", "nbf": now, "iat": now, "exp": exp});
    let ask = |assertion: String| {
        let emu = &emu;
        async move {
            emu.token_request(
                TENANT_ID,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", "cert-app"),
                    ("scope", "https://graph.microsoft.com/.default"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &assertion),
                ],
            )
            .await
        }
    };
    let aud = emu.token_url(TENANT_ID);
    assert_eq!(
        ask(jwt(header.clone(), claims(&aud, now + 600))).await.0,
        StatusCode::OK
    );
    let real_aud = format!("https://login.microsoftonline.com/{TENANT_ID}/oauth2/v2.0/token");
    assert_eq!(
        ask(jwt(header.clone(), claims(&real_aud, now + 600)))
            .await
            .0,
        StatusCode::OK
    );
    for (status, body) in [
        ask(jwt(header.clone(), claims(&aud, now - 10))).await,
        ask(jwt(json!({"alg": "PS256"}), claims(&aud, now + 600))).await,
        ask(jwt(
            header.clone(),
            claims("https://example.com/token", now + 600),
        ))
        .await,
        ask("not-a-jwt".to_owned()).await,
    ] {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(body["error_codes"], json!([700_027]));
    }
}

#[tokio::test]
async fn missing_bad_and_expired_tokens_get_401() {
    let emu = Emu::start(&["--generate", "2", "--token-ttl", "1"]);
    let path = format!("/users/user0000001@{DOMAIN}");
    let r = emu
        .http
        .get(format!("{}/v1.0{path}", emu.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(body["error"]["message"], "Access token is empty.");
    let a = emu.call("garbage.token.here", "GET", &path, None).await;
    assert_graph_error(&a, StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken");
    assert!(
        a.message().starts_with("Access token validation failure"),
        "{}",
        a.message()
    );
    let t = emu.token().await;
    assert_eq!(
        emu.call(&t, "GET", &path, None).await.status,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let a = emu.call(&t, "GET", &path, None).await;
    assert_graph_error(&a, StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken");
    assert_eq!(a.message(), "Access token has expired or is not yet valid.");
}
