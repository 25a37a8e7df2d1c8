//! ETags and preconditions (RFC 9110): `ETag` on runs, integrations, integration errors and
//! history records; `If-None-Match` → 304; `If-Match` → 412 on a stale version; 428 for a
//! strict client without it. And atomic increments, which parallel workers rely on.

use std::sync::Arc;

use reqwest::header::{ETAG, HeaderMap};
use reqwest::{Method, StatusCode};
use runledger::domain::clients::{ClientKind, Scopes};
use serde_json::{Value, json};

use crate::helpers::{TestApp, messages, spawn_app};

/// A request with a JSON body (when given), `Accept` for `format`, and `headers`; the
/// status, the headers and the body as text.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    let mut request = app.client.request(method, app.url(path));
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("accept"))
    {
        request = request.header("Accept", "application/json");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

fn etag(headers: &HeaderMap) -> String {
    headers
        .get(ETAG)
        .expect("an ETag")
        .to_str()
        .unwrap()
        .to_owned()
}

async fn tag_of(app: &TestApp, path: &str, accept: &str) -> String {
    let (status, headers, body) = send(app, Method::GET, path, None, &[("Accept", accept)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    etag(&headers)
}

#[tokio::test]
async fn a_read_is_tagged_per_representation_and_a_matching_if_none_match_is_304() {
    let app = spawn_app().await;
    app.create_integration("TAGGED").await;
    let run = app.create_run("TAGGED").await;
    let path = format!("/api/integration_runs/{run}");
    let json_tag = tag_of(&app, &path, "application/json").await;
    let xml_tag = tag_of(&app, &path, "application/xml").await;
    assert!(
        json_tag.starts_with('"') && json_tag.ends_with('"'),
        "{json_tag}"
    );
    assert_ne!(json_tag, xml_tag, "two representations, two strong tags");

    let (status, headers, body) = send(
        &app,
        Method::GET,
        &path,
        None,
        &[("If-None-Match", &json_tag)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(etag(&headers), json_tag);
    let weak = format!("\"other-j\", W/{json_tag}");
    let (status, _, _) = send(&app, Method::GET, &path, None, &[("If-None-Match", &weak)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    // An error filed on the run changes what the run shows, so its tag.
    app.file_error(run, "Invoice", false).await;
    let (status, headers, _) = send(
        &app,
        Method::GET,
        &path,
        None,
        &[("If-None-Match", &json_tag)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(etag(&headers), json_tag);

    // The other resources are tagged too, and a shaped answer is not.
    for path in ["/api/integrations/1", "/api/integration_errors/1"] {
        let tag = tag_of(&app, path, "application/json").await;
        let (status, _, _) = send(&app, Method::GET, path, None, &[("If-None-Match", &tag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{path}");
    }
    let (_, headers, _) = send(
        &app,
        Method::GET,
        &format!("{path}?fields=[\"id\"]"),
        None,
        &[],
    )
    .await;
    assert!(headers.get(ETAG).is_none());
}

#[tokio::test]
async fn a_write_with_a_stale_if_match_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    app.create_integration("GUARDED").await;
    let run = app.create_run("GUARDED").await;
    let path = format!("/api/integration_runs/{run}");
    let read = tag_of(&app, &path, "application/json").await;
    // Someone else writes in between.
    app.put_json(&path, Some(json!({"total-records": 5}))).await;

    for (method, target, body) in [
        (Method::PUT, path.clone(), Some(json!({"total-records": 9}))),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"total-records": 9})),
        ),
        (Method::PUT, format!("{path}/run"), None),
        (Method::PUT, format!("{path}/fail"), None),
    ] {
        let (status, _, body) = send(&app, method, &target, body, &[("If-Match", &read)]).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{target}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert!(messages(&body, "integration-run")[0].contains("changed since it was read"));
    }
    let (_, now) = app.get_json(&path).await;
    assert_eq!(
        (&now["status"], &now["total-records"]),
        (&json!("pending"), &json!(5))
    );

    // The current tag lets the write through, and its answer carries the next one. A tag
    // read as XML guards a write sent as JSON: both name the same version.
    let current = tag_of(&app, &path, "application/xml").await;
    let (status, headers, body) = send(
        &app,
        Method::PUT,
        &format!("{path}/run"),
        None,
        &[("If-Match", &current)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let next = etag(&headers);
    assert_eq!(next, tag_of(&app, &path, "application/json").await);
    let (status, _, _) = send(
        &app,
        Method::PUT,
        &path,
        Some(json!({"records-processed": 1})),
        &[("If-Match", "*")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(
        &app,
        Method::PUT,
        "/api/integration_runs/999999",
        None,
        &[("If-Match", "*")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn integrations_errors_and_history_records_are_guarded_alike() {
    let app = spawn_app().await;
    app.create_integration("ALIKE").await;
    let run = app.create_run("ALIKE").await;
    let error = app.file_error(run, "Invoice", false).await["id"]
        .as_i64()
        .unwrap();
    let (status, history) = app
        .post_json(
            "/api/integration_history_records",
            json!({"contact-alert-type": "Functional", "integration": {"code": "ALIKE"},
                   "document-type": "Invoice", "document-id": 7}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{history}");
    let history = history["id"].as_i64().unwrap();
    let cases = [
        (
            "/api/integrations/1".to_owned(),
            "/api/integrations/1".to_owned(),
            json!({"end-system": "Oracle EBS 12"}),
        ),
        (
            format!("/api/integration_errors/{error}"),
            format!("/api/integration_errors/{error}/resolve"),
            Value::Null,
        ),
        (
            format!("/api/integration_history_records/{history}"),
            format!("/api/integration_history_records/{history}"),
            json!({"status": "exported"}),
        ),
    ];
    for (show, write, body) in cases {
        let read = tag_of(&app, &show, "application/json").await;
        let body = (!body.is_null()).then_some(body);
        let (status, headers, answer) = send(
            &app,
            Method::PUT,
            &write,
            body.clone(),
            &[("If-Match", &read)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{write}: {answer}");
        assert_ne!(etag(&headers), read, "{write}");
        // The same write again with the tag read before it: the record has moved on.
        let (status, _, answer) =
            send(&app, Method::PUT, &write, body, &[("If-Match", &read)]).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{write}: {answer}");
    }
}

#[tokio::test]
async fn a_strict_client_must_say_which_version_it_changes() {
    let app = spawn_app().await;
    app.create_integration("STRICT").await;
    let run = app.create_run("STRICT").await;
    let (_, key) = runledger::auth::register(
        app.store.as_ref(),
        "strict-job",
        ClientKind::ApiKey,
        Scopes::ALL,
        true,
    )
    .await
    .unwrap();
    // A client of its own: the suite's client sends the test client's token.
    let client = reqwest::Client::new();
    let strict = |method: Method, path: String| {
        client
            .request(method, app.url(&path))
            .header("X-COUPA-API-KEY", &key)
            .header("Accept", "application/json")
    };
    let path = format!("/api/integration_runs/{run}");
    let response = strict(Method::PUT, format!("{path}/run"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PRECONDITION_REQUIRED);
    let body: Value = response.json().await.unwrap();
    assert!(messages(&body, "integration-run")[0].contains("If-Match"));
    // Reads and creates need no tag; a write with the current one goes through.
    let response = strict(Method::GET, path.clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let tag = etag(response.headers());
    let response = strict(Method::PUT, format!("{path}/run"))
        .header("If-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = strict(Method::POST, "/api/integration_runs".into())
        .header("Content-Type", "application/json")
        .body(json!({"integration": {"code": "STRICT"}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    // Everyone else is as free as before.
    let (status, _) = app.put_json(&format!("{path}/pause"), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_malformed_precondition_is_a_400() {
    let app = spawn_app().await;
    app.create_integration("MALFORMED").await;
    let run = app.create_run("MALFORMED").await;
    let path = format!("/api/integration_runs/{run}");
    for (name, value) in [
        ("If-Match", "abc"),
        ("If-Match", "\"a\" \"b\""),
        ("If-None-Match", "W/"),
    ] {
        let method = if name == "If-Match" {
            Method::PUT
        } else {
            Method::GET
        };
        let (status, _, body) = send(&app, method, &path, None, &[(name, value)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {value}: {body}");
        assert!(body.contains(name), "{body}");
    }
}

#[tokio::test]
async fn a_hundred_parallel_increments_on_one_run_sum_exactly() {
    let app = Arc::new(spawn_app().await);
    app.create_integration("COUNTED").await;
    let run = app.create_run("COUNTED").await;
    let path = format!("/api/integration_runs/{run}");
    let (status, _) = app
        .put_json(&format!("{path}/run"), Some(json!({"total-records": 0})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let workers: Vec<_> = (1..=100)
        .map(|n| {
            let app = Arc::clone(&app);
            let path = path.clone();
            tokio::spawn(async move {
                let body = json!({"total-records-increment": n, "records-processed-increment": n});
                app.put_json(&path, Some(body)).await
            })
        })
        .collect();
    for worker in workers {
        let (status, body) = worker.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, counted) = app.get_json(&path).await;
    assert_eq!(counted["total-records"], 5050);
    assert_eq!(counted["records-processed"], 5050);
}

#[tokio::test]
async fn increments_keep_the_count_rules_and_read_from_xml() {
    let app = spawn_app().await;
    app.create_integration("RULES").await;
    let run = app.create_run("RULES").await;
    let path = format!("/api/integration_runs/{run}");
    let (status, body) = app
        .put_json(
            &path,
            Some(json!({"total-records": 10, "records-processed-increment": 4})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["records-processed"], 4);
    for (body, message) in [
        (
            json!({"records-processed-increment": 7}),
            "must be less than or equal to total records",
        ),
        (
            json!({"records-processed-increment": -5}),
            "must be greater than or equal to 0",
        ),
        (
            json!({"records-processed": 1, "records-processed-increment": 1}),
            "can't both be given",
        ),
        (
            json!({"total-records-increment": "many"}),
            "is not an integer",
        ),
        (json!({"total-records-increment": i64::MAX}), "out of range"),
    ] {
        let (status, answer) = app.put_json(&path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let said = messages(&answer, "integration-run").join("; ");
        assert!(said.contains(message), "{body}: {said}");
    }
    let (status, xml) = app
        .xml(
            Method::PUT,
            &path,
            Some("<integration-run><records-processed-increment>-2</records-processed-increment></integration-run>"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    assert!(
        xml.contains("<records-processed type=\"integer\">2</records-processed>"),
        "{xml}"
    );
}
