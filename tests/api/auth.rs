//! Authentication and authorization: the token endpoint, the gate on every route, API keys,
//! expiry, revocation, throttling and `created-by`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use runledger::config::RateLimit;
use runledger::domain::clients::{ClientKind, Scope, Scopes};
use runledger::http::error::resource_name;
use runledger::router::routes;
use serde_json::{Value, json};

use crate::helpers::{TestApp, messages, spawn_app, spawn_app_with};

const BOTH: &str = "core.integration.read core.integration.write";

fn read_only() -> Scopes {
    Scopes::parse("core.integration.read").unwrap()
}

fn write_only() -> Scopes {
    Scopes::parse("core.integration.write").unwrap()
}

/// Sends `method path` with `client`, a JSON body for writes, and answers status and text.
async fn call(
    app: &TestApp,
    client: &reqwest::Client,
    method: Method,
    path: &str,
    accept: &str,
) -> (StatusCode, String) {
    let mut request = client
        .request(method.clone(), app.url(path))
        .header("Accept", accept);
    if method != Method::GET {
        request = request
            .header("Content-Type", "application/json")
            .body("{}");
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    // An event stream that was let in never ends: its status is the answer.
    if response.headers().get("content-type").map(|v| v.as_bytes()) == Some(b"text/event-stream") {
        return (status, String::new());
    }
    (status, response.text().await.unwrap())
}

/// Every API route with its `{id}` filled in, and the scope it needs.
fn every_route() -> Vec<(Method, String, Scope)> {
    routes()
        .into_iter()
        .map(|r| (r.method, r.path.replace("{id}", "1"), r.scope))
        .collect()
}

#[tokio::test]
async fn a_client_gets_a_bearer_token_with_all_of_its_scopes() {
    let app = spawn_app().await;
    let (id, secret) = app.register_client("erp-connector", Scopes::ALL).await;
    let (status, body) = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 86399);
    assert_eq!(body["scope"], BOTH);
    let token = body["access_token"].as_str().unwrap();
    let client = app.client_with_token(token);
    let (status, _) = call(
        &app,
        &client,
        Method::GET,
        "/api/integrations",
        "application/json",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn credentials_may_come_in_basic_or_the_query_string_and_both_endpoints_answer() {
    let app = spawn_app().await;
    let (id, secret) = app.register_client("middleware", Scopes::ALL).await;
    let anonymous = reqwest::Client::new();

    let basic = STANDARD.encode(format!("{id}:{secret}"));
    let response = anonymous
        .post(app.url("/oauth2/token"))
        .header("Authorization", format!("Basic {basic}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=core.integration.read")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "core.integration.read");

    let query = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    for path in ["/oauth2/token", "/oauth2/access_tokens"] {
        let response = anonymous
            .post(app.url(&format!("{path}?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["scope"], BOTH);
    }
}

#[tokio::test]
async fn each_grant_error_answers_as_rfc_6749_says() {
    let app = spawn_app().await;
    let (id, secret) = app.register_client("reader", read_only()).await;
    let cc = ("grant_type", "client_credentials");
    type Case<'a> = (Vec<(&'a str, &'a str)>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("client_id", &id), ("client_secret", &secret)],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            vec![("grant_type", "refresh_token"), ("refresh_token", "x")],
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            vec![cc, ("client_id", &id), ("client_secret", "wrong")],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            vec![cc, ("client_id", "nobody"), ("client_secret", &secret)],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            vec![cc, ("client_id", &id)],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            vec![
                cc,
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "core.integration.write"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            vec![
                cc,
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "admin"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            vec![cc, cc, ("client_id", &id), ("client_secret", &secret)],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (form, status, error) in cases {
        let (got, body) = app.token_request(&form).await;
        assert_eq!(
            (got, body["error"].as_str().unwrap()),
            (status, error),
            "{form:?}"
        );
        assert!(body["error_description"].is_string());
    }
    let response = reqwest::Client::new()
        .post(app.url("/oauth2/token"))
        .header("Content-Type", "application/json")
        .body(format!(
            r#"{{"grant_type":"client_credentials","client_id":"{id}","client_secret":"{secret}"}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = reqwest::Client::new()
        .post(app.url("/oauth2/token?grant_type=client_credentials"))
        .header("Authorization", "Basic bm9ib2R5Ondyb25n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
}

/// The scopes a Coupa client configured by the book asks for: OpenID's, Coupa's common
/// ones, and Runledger's own among many others.
const COUPA_CLIENT_SCOPES: &str = "email login offline_access openid profile core.common.read \
     core.accounting.read core.invoice.read core.integration.read core.integration.write \
     core.purchase_order.write core.supplier.read";

#[tokio::test]
async fn a_token_request_is_granted_the_scopes_it_asks_for_that_its_client_holds() {
    let app = spawn_app().await;
    let held = Scopes::parse("core.integration.read core.common.read openid").unwrap();
    let (id, secret) = app.register_client("coupa-connector", held).await;
    app.create_integration("PO_TO_ERP").await;
    let credentials = [
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let ask = |scope| [credentials.as_slice(), &[("scope", scope)]].concat();

    // Coupa's broad list, with a name no one defines: the part held is granted, and said.
    let broad = format!("{COUPA_CLIENT_SCOPES} urn:example:unknown");
    let (status, body) = app.token_request(&ask(&broad)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["scope"],
        "core.integration.read core.common.read openid"
    );
    let reader = app.client_with_token(body["access_token"].as_str().unwrap());
    for accept in ["application/json", "application/xml"] {
        let (status, text) = call(&app, &reader, Method::GET, "/api/integrations", accept).await;
        assert_eq!(status, StatusCode::OK, "{accept}: {text}");
        let (status, text) = call(&app, &reader, Method::POST, "/api/integrations", accept).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{accept}: {text}");
        assert!(
            text.contains("This client lacks the scope core.integration.write"),
            "{text}"
        );
    }

    // Only scopes that mean nothing here: the token is valid, and allows nothing.
    let (status, body) = app.token_request(&ask("openid core.common.read")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "core.common.read openid");
    let nothing = app.client_with_token(body["access_token"].as_str().unwrap());
    for accept in ["application/json", "application/xml"] {
        let (status, text) = call(&app, &nothing, Method::GET, "/api/integrations", accept).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{accept}: {text}");
        assert!(
            text.contains("This client lacks the scope core.integration.read"),
            "{text}"
        );
    }

    // Nothing left of what was asked: refused, naming what the client does hold.
    for scope in ["core.integration.write profile", "core.integraton.read"] {
        let (status, body) = app.token_request(&ask(scope)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_scope")),
            "{scope}"
        );
        assert_eq!(
            body["error_description"],
            "The client holds none of the scopes asked for; it holds: \
             core.integration.read core.common.read openid"
        );
    }
}

#[tokio::test]
async fn a_token_with_coupa_scopes_is_refused_once_its_client_is_revoked() {
    let app = spawn_app().await;
    let held = Scopes::parse(COUPA_CLIENT_SCOPES).unwrap();
    let (id, secret) = app.register_client("revoked-connector", held).await;
    let token = app.token(&id, &secret, Some(COUPA_CLIENT_SCOPES)).await;
    app.store
        .revoke_client(ClientKind::OauthClient, &id)
        .await
        .unwrap();
    // The token was never used, so no client row is cached yet: the revocation is seen at once.
    let client = app.client_with_token(&token);
    let (status, text) = call(
        &app,
        &client,
        Method::GET,
        "/api/integrations",
        "application/json",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
}

#[tokio::test]
async fn every_route_refuses_a_request_without_credentials() {
    let app = spawn_app().await;
    let anonymous = reqwest::Client::new();
    let all = every_route();
    assert!(all.len() >= 16, "the walk covers the whole route table");
    for (method, path, _) in all {
        let (status, text) =
            call(&app, &anonymous, method.clone(), &path, "application/json").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} is open");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert!(
            messages(&body, resource_name(&path))[0].starts_with("Authentication required"),
            "{body}"
        );
        let (status, text) = call(&app, &anonymous, method.clone(), &path, "application/xml").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert!(
            text.contains("<errors>\n  <error>Authentication required"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn every_route_demands_its_scope() {
    let app = spawn_app().await;
    app.create_integration("SCOPED").await;
    app.create_run("SCOPED").await;
    let (id, secret) = app.register_client("reader", read_only()).await;
    let reader = app.client_with_token(&app.token(&id, &secret, None).await);
    let (id, secret) = app.register_client("writer", write_only()).await;
    let writer = app.client_with_token(&app.token(&id, &secret, None).await);
    for (method, path, scope) in every_route() {
        for (client, has) in [(&reader, read_only()), (&writer, write_only())] {
            for accept in ["application/json", "application/xml"] {
                let (status, text) = call(&app, client, method.clone(), &path, accept).await;
                if has.contains(scope) {
                    assert!(
                        status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                        "{method} {path}: {status}"
                    );
                } else {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} with {has}");
                    assert!(
                        text.contains(&format!("This client lacks the scope {}", scope.as_str())),
                        "{text}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn bad_tokens_are_refused_in_both_formats() {
    let app = spawn_app().await;
    let (id, secret) = app.register_client("someone", Scopes::ALL).await;
    let token = app.token(&id, &secret, None).await;
    let (payload, signature) = token.split_once('.').unwrap();
    let mut forged = signature.to_owned().into_bytes();
    forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{payload}.{}", String::from_utf8(forged).unwrap());
    let other = spawn_app().await;
    let (other_id, other_secret) = other.register_client("elsewhere", Scopes::ALL).await;
    let foreign = other.token(&other_id, &other_secret, None).await;
    for bad in [tampered.as_str(), foreign.as_str(), "garbage", "a.b", ""] {
        let client = app.client_with_token(bad);
        for accept in ["application/json", "application/xml"] {
            let (status, text) =
                call(&app, &client, Method::GET, "/api/integration_runs", accept).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
            assert!(
                text.contains("invalid or has expired") || text.contains("could not be read"),
                "{text}"
            );
        }
    }
    let response = reqwest::Client::new()
        .get(app.url("/api/integration_runs"))
        .header(
            "Authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "Basic is for the token endpoint only"
    );
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"runledger\""
    );
}

#[tokio::test]
async fn a_token_expires_after_its_lifetime() {
    let app = spawn_app_with(|s| {
        s.rate_limit = None;
        s.token_ttl = Duration::from_secs(1);
    })
    .await;
    let (id, secret) = app.register_client("short-lived", Scopes::ALL).await;
    let (status, body) = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .await;
    assert_eq!(
        (status, body["expires_in"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    let client = app.client_with_token(body["access_token"].as_str().unwrap());
    let (status, _) = call(
        &app,
        &client,
        Method::GET,
        "/api/integrations",
        "application/json",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, text) = call(
        &app,
        &client,
        Method::GET,
        "/api/integrations",
        "application/json",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text.contains("invalid or has expired"));
}

#[tokio::test]
async fn a_revoked_client_loses_its_tokens_and_cannot_get_new_ones() {
    let app = spawn_app().await;
    let (id, secret) = app.register_client("leaver", Scopes::ALL).await;
    let client = app.client_with_token(&app.token(&id, &secret, None).await);
    let (status, _) = call(
        &app,
        &client,
        Method::GET,
        "/api/integrations",
        "application/json",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    app.store
        .revoke_client(ClientKind::OauthClient, &id)
        .await
        .unwrap();
    // Client rows are cached for at most a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = call(
        &app,
        &client,
        Method::GET,
        "/api/integrations",
        "application/json",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
}

#[tokio::test]
async fn api_keys_authenticate_with_their_own_scopes() {
    let app = spawn_app().await;
    app.create_integration("KEYED").await;
    let key = app.register_api_key("legacy-job", Scopes::ALL).await;
    assert_eq!(key.len(), 40);
    let anonymous = reqwest::Client::new();
    let with_key = |key: &str, method: Method, path: &str| {
        anonymous
            .request(method, app.url(path))
            .header("X-COUPA-API-KEY", key)
            .header("Accept", "application/json")
    };
    let response = with_key(&key, Method::POST, "/api/integration_runs")
        .header("Content-Type", "application/json")
        .body(r#"{"integration": {"code": "KEYED"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let run: Value = response.json().await.unwrap();
    assert_eq!(run["created-by"]["login"], "legacy-job");

    let reader_key = app.register_api_key("legacy-reader", read_only()).await;
    let response = with_key(&reader_key, Method::GET, "/api/integration_runs")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = with_key(&reader_key, Method::PUT, "/api/integration_runs/1/run")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let response = with_key(
        "0".repeat(40).as_str(),
        Method::GET,
        "/api/integration_runs",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    app.store
        .revoke_client(ClientKind::ApiKey, "2")
        .await
        .unwrap();
    // Client rows are cached for at most a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = with_key(&key, Method::GET, "/api/integration_runs")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "a revoked key stops working within a second"
    );

    // An API key is not an OAuth client.
    let (status, _) = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", "2"),
            ("client_secret", &key),
        ])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn created_by_and_updated_by_name_the_clients_that_wrote() {
    let app = spawn_app().await;
    let integration = app.create_integration("ATTR").await;
    assert_eq!(integration["created-by"]["login"], "test-client");
    assert!(integration["created-by"]["id"].as_i64().is_some());
    let run_id = app.create_run("ATTR").await;

    let (id, secret) = app.register_client("closer", Scopes::ALL).await;
    let closer = app.client_with_token(&app.token(&id, &secret, None).await);
    let response = closer
        .put(app.url(&format!("/api/integration_runs/{run_id}/success")))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    let run: Value = response.json().await.unwrap();
    assert_eq!(run["created-by"]["login"], "test-client");
    assert_eq!(run["updated-by"]["login"], "closer");

    let (_, text) = app
        .xml(
            Method::GET,
            &format!("/api/integration_runs/{run_id}"),
            None,
        )
        .await;
    assert!(
        text.contains("<updated-by>\n    <id type=\"integer\">"),
        "{text}"
    );
    assert!(text.contains("<login>closer</login>"));

    let (_, found) = app
        .get_json("/api/integration_runs?updated_by[login]=closer")
        .await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    let (_, found) = app
        .get_json("/api/integration_runs?created_by[login]=closer")
        .await;
    assert_eq!(found, json!([]));
}

#[tokio::test]
async fn throttling_answers_429_with_retry_after_and_lets_the_client_back_in() {
    let app = spawn_app_with(|s| {
        s.rate_limit = Some(RateLimit {
            per_second: 5.0,
            burst: 5.0,
        })
    })
    .await;
    let mut throttled = None;
    for _ in 0..20 {
        let response = app
            .client
            .get(app.url("/api/integrations"))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some(response);
            break;
        }
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = throttled.expect("a burst beyond the limit is throttled");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert!(messages(&body, "integration")[0].starts_with("Too many requests"));

    // Another client has its own allowance.
    let (id, secret) = app.register_client("neighbour", Scopes::ALL).await;
    let neighbour = app.client_with_token(&app.token(&id, &secret, None).await);
    let (status, _) = call(
        &app,
        &neighbour,
        Method::GET,
        "/api/integrations",
        "application/json",
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let (status, _) = call(
        &app,
        &app.client,
        Method::GET,
        "/api/integrations",
        "application/json",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "after the wait, requests succeed");
}
