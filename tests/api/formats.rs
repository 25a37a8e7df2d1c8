//! Negotiation, error bodies, and every kind of bad input: a clear 4xx, never a 500, and
//! nothing written.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, messages, spawn_app, xml_value};

/// Sends `body` with `content_type` to create a run; answers status and JSON body.
async fn post_raw(
    app: &TestApp,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, String) {
    let mut request = app
        .client
        .post(app.url("/api/integration_runs"))
        .header("Accept", "application/json");
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    let response = request.body(body).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn assert_nothing_written(app: &TestApp) {
    let (_, list) = app.get_json("/api/integration_runs").await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn xml_is_the_default_and_json_is_served_when_asked() {
    let app = spawn_app().await;
    app.create_integration("NEG").await;
    for (accept, xml) in [
        (None, true),
        (Some("*/*"), true),
        (Some("text/xml"), true),
        (Some("application/json"), false),
    ] {
        let mut request = app.client.get(app.url("/api/integrations"));
        if let Some(accept) = accept {
            request = request.header("Accept", accept);
        }
        let response = request.send().await.unwrap();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let text = response.text().await.unwrap();
        if xml {
            assert!(content_type.starts_with("application/xml"), "{accept:?}");
            assert!(text.starts_with("<?xml"), "{accept:?}");
        } else {
            assert!(content_type.starts_with("application/json"));
            assert!(text.starts_with('['));
        }
    }
}

#[tokio::test]
async fn a_body_in_one_format_may_ask_for_the_other() {
    let app = spawn_app().await;
    app.create_integration("MIX").await;
    let (status, text) = post_raw(
        &app,
        Some("application/xml"),
        "<r><integration><code>MIX</code></integration></r>",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["status"],
        "pending"
    );
}

#[tokio::test]
async fn malformed_json_is_a_400_naming_the_position() {
    let app = spawn_app().await;
    let (status, text) = post_raw(
        &app,
        Some("application/json"),
        "{\n  \"integration\": {\"code\": }\n}",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let message = &messages(&body, "integration-run")[0];
    assert!(
        message.starts_with("Invalid JSON at line 2, column"),
        "{message}"
    );
    for bad in ["[1, 2]", "\"text\"", "{\"a\": 1", &"[".repeat(10_000)] {
        let (status, _) = post_raw(&app, Some("application/json"), bad.to_owned()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:.20}");
    }
    assert_nothing_written(&app).await;
}

#[tokio::test]
async fn malformed_xml_is_a_400_in_xml() {
    let app = spawn_app().await;
    for bad in [
        "<integration-run><integration></integration-run>",
        "<integration-run>",
        "not xml at all <",
        "<a/><b/>",
        "<integration-run><total-records type=\"integer\">ten</total-records></integration-run>",
    ] {
        let response = app
            .client
            .post(app.url("/api/integration_runs"))
            .header("Content-Type", "application/xml")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let text = response.text().await.unwrap();
        assert!(
            text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<errors>\n  <error>"),
            "{text}"
        );
    }
    assert_nothing_written(&app).await;
}

#[tokio::test]
async fn dtds_and_entities_are_refused() {
    let app = spawn_app().await;
    app.create_integration("XXE").await;
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
        <r><integration><code>&x;</code></integration></r>"#;
    let (status, text) = post_raw(&app, Some("application/xml"), xxe).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("DTD"), "{text}");
    let bomb = r#"<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><r><a>&lol2;</a></r>"#;
    let (status, _) = post_raw(&app, Some("text/xml"), bomb).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, text) = post_raw(
        &app,
        Some("application/xml"),
        "<r><integration><code>&undefined;</code></integration></r>",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("&undefined;"), "{text}");
    // The predefined entities and character references are plain XML and work.
    app.create_integration("A&B").await;
    let (status, _) = post_raw(
        &app,
        Some("application/xml"),
        "<r><integration><code>A&amp;&#66;</code></integration></r>",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn an_unsupported_content_type_is_a_415() {
    let app = spawn_app().await;
    let (status, text) = post_raw(
        &app,
        Some("application/x-www-form-urlencoded"),
        "integration=1",
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(messages(&body, "integration-run")[0].contains("application/x-www-form-urlencoded"));
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_a_413_with_an_error_body() {
    let app = spawn_app().await;
    let big = format!(
        "{{\"flow\": {{\"x\": \"{}\"}}}}",
        "a".repeat(1024 * 1024 + 10)
    );
    let (status, text) = post_raw(&app, Some("application/json"), big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        messages(&body, "integration-run"),
        ["The request body is larger than the limit of 1 MiB"]
    );
}

#[tokio::test]
async fn invalid_utf8_is_a_400() {
    let app = spawn_app().await;
    for content_type in ["application/json", "application/xml"] {
        let (status, _) = post_raw(&app, Some(content_type), vec![b'{', 0xff, 0xfe, b'}']).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{content_type}");
    }
}

#[tokio::test]
async fn delete_is_405_everywhere_in_both_formats() {
    let app = spawn_app().await;
    app.create_integration("DEL").await;
    let id = app.create_run("DEL").await;
    for path in [
        "/api/integrations",
        "/api/integrations/1",
        "/api/integration_runs",
        &format!("/api/integration_runs/{id}"),
    ] {
        let (status, body) = app.json(Method::DELETE, path, None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        let resource = if path.contains("runs") {
            "integration-run"
        } else {
            "integration"
        };
        assert_eq!(
            messages(&body, resource),
            ["The DELETE method is not allowed on this resource"]
        );
        let (status, text) = app.xml(Method::DELETE, path, None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(text.contains("<error>The DELETE method is not allowed on this resource</error>"));
    }
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/api/integration_runs/{id}/run"),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::METHOD_NOT_ALLOWED,
        "status actions are PUT"
    );
    let (status, run) = app.get_json(&format!("/api/integration_runs/{id}")).await;
    assert_eq!(
        (status, run["status"].as_str()),
        (StatusCode::OK, Some("pending"))
    );
}

#[tokio::test]
async fn an_unknown_route_is_a_404_with_an_error_body() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/no_such_thing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(messages(&body, "request"), ["Not found"]);
    let (status, text) = app
        .xml(Method::GET, "/api/integration_runs/1/explode", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(text.contains("<errors>"));
}

#[tokio::test]
async fn unknown_body_keys_are_ignored_and_underscores_accepted() {
    let app = spawn_app().await;
    app.create_integration("KEYS").await;
    let (status, body) = app
        .post_json(
            "/api/integration_runs",
            json!({"integration": {"code": "KEYS"}, "colour": "blue", "id": 99, "created_at": "2020-01-01", "total_records": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(body["id"], 99);
    assert_ne!(body["created-at"], "2020-01-01T00:00:00+00:00");
    assert_eq!(body["total-records"], 3);
    assert!(body.get("colour").is_none());
}

#[tokio::test]
async fn writes_ignore_query_parameters_they_do_not_use() {
    let app = spawn_app().await;
    app.create_integration("Q").await;
    let (status, body) = app
        .post_json(
            "/api/integration_runs?status=failed&null",
            json!({"integration": {"code": "Q"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "pending");
    let (status, text) = app
        .xml(
            Method::POST,
            "/api/integration_runs?foo=bar",
            Some("<integration-run><integration><code>Q</code></integration></integration-run>"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(xml_value(&text)["status"], "pending");
}
