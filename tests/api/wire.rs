//! How requests reach the routes as Rails routes them: the format suffix, trailing slashes,
//! and the answers hyper writes before a request reaches the router.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, messages, spawn_app, xml_value};

/// Sends `method path` with `accept` and an optional JSON body; answers status, content
/// type and body text.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    accept: &str,
    body: Option<&str>,
) -> (StatusCode, String, String) {
    let mut request = app
        .client
        .request(method, app.url(path))
        .header("Accept", accept);
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await.expect("request sent");
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ASCII content type")
        .to_owned();
    (status, content_type, response.text().await.expect("body"))
}

#[tokio::test]
async fn a_json_suffix_answers_json_whatever_accept_says() {
    let app = spawn_app().await;
    app.create_integration("SUFFIX").await;
    let id = app.create_run("SUFFIX").await;

    let (status, content_type, text) = send(
        &app,
        Method::GET,
        "/api/integration_runs.json?integration[code]=SUFFIX",
        "application/xml",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let list: Value = serde_json::from_str(&text).expect(&text);
    assert_eq!(list[0]["id"], id);

    let (status, _, text) = send(
        &app,
        Method::GET,
        &format!("/api/integration_runs/{id}.json"),
        "application/xml",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let run: Value = serde_json::from_str(&text).expect(&text);
    assert_eq!(run["status"], "pending");
}

#[tokio::test]
async fn an_xml_suffix_answers_xml_to_a_client_that_asked_for_json() {
    let app = spawn_app().await;
    app.create_integration("SUFFIX").await;
    let id = app.create_run("SUFFIX").await;

    let (status, content_type, text) = send(
        &app,
        Method::GET,
        &format!("/api/integration_runs/{id}.xml"),
        "application/json",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.starts_with("application/xml"),
        "{content_type}"
    );
    assert_eq!(xml_value(&text)["id"], id);

    let (status, _, text) = send(
        &app,
        Method::GET,
        "/api/integrations.xml",
        "application/json",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("<integrations type=\"array\">"), "{text}");
}

#[tokio::test]
async fn status_actions_and_updates_take_a_suffix_too() {
    let app = spawn_app().await;
    app.create_integration("SUFFIX").await;
    let id = app.create_run("SUFFIX").await;

    let (status, _, text) = send(
        &app,
        Method::PUT,
        &format!("/api/integration_runs/{id}/run.json"),
        "*/*",
        Some(r#"{"total-records": 5}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let run: Value = serde_json::from_str(&text).expect(&text);
    assert_eq!(
        (run["status"].as_str(), run["total-records"].as_i64()),
        (Some("running"), Some(5))
    );

    let (status, content_type, text) = send(
        &app,
        Method::PATCH,
        &format!("/api/integration_runs/{id}.xml"),
        "application/json",
        Some(r#"{"records-processed": 5}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(content_type.starts_with("application/xml"));
    assert_eq!(xml_value(&text)["records-processed"], 5);

    let (status, _, text) = send(
        &app,
        Method::POST,
        "/api/integration_runs.json",
        "application/xml",
        Some(r#"{"integration": {"code": "SUFFIX"}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert!(text.starts_with('{'), "{text}");
}

#[tokio::test]
async fn an_error_answers_in_the_format_of_the_suffix() {
    let app = spawn_app().await;

    let (status, content_type, text) = send(
        &app,
        Method::GET,
        "/api/integration_runs/999.json",
        "application/xml",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(content_type.starts_with("application/json"));
    let body: Value = serde_json::from_str(&text).expect(&text);
    assert_eq!(messages(&body, "integration-run").len(), 1, "{body}");

    // An empty index in XML is Coupa's 404 "No results", whatever Accept said.
    let (status, content_type, text) = send(
        &app,
        Method::GET,
        "/api/integration_runs.xml",
        "application/json",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(content_type.starts_with("application/xml"));
    assert!(
        text.contains("No results match your search criteria."),
        "{text}"
    );
}

#[tokio::test]
async fn a_trailing_slash_reaches_the_same_route() {
    let app = spawn_app().await;
    app.create_integration("SLASH").await;
    let id = app.create_run("SLASH").await;

    let (status, list) = app.get_json("/api/integration_runs/?limit=5").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list[0]["id"], id);

    let (status, run) = app
        .put_json(&format!("/api/integration_runs/{id}/pause/"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["status"], "paused");

    let (status, text) = app
        .xml(Method::GET, &format!("/api/integration_runs/{id}/"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(xml_value(&text)["status"], "paused");
}

#[tokio::test]
async fn another_suffix_names_no_route() {
    let app = spawn_app().await;
    app.create_integration("CSV").await;
    let id = app.create_run("CSV").await;
    for path in [
        format!("/api/integration_runs/{id}.csv"),
        "/api/integration_runs/.json".to_owned(),
    ] {
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(
            !messages(&body, "integration-run").is_empty(),
            "{path}: {body}"
        );
    }
}
