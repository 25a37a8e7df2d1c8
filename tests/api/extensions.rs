//! Runledger's extensions of Coupa's API, asked for with `X-Runledger-Extensions: 1`: the
//! `Runledger::Job` document type (docs/api.md). A request without the header is answered
//! exactly as Coupa's API answers it.

use reqwest::{Method, StatusCode};
use runledger::domain::records::DOCUMENT_TYPES;
use serde_json::{Value, json};

use crate::helpers::{TestApp, messages, spawn_app, xml_value};

const JOB: &str = "Runledger::Job";

/// A request with a JSON body and, when given, `X-Runledger-Extensions: <extensions>`.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Value,
    extensions: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .request(method, app.url(path))
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(value) = extensions {
        request = request.header("X-Runledger-Extensions", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

fn coupa_list_message() -> String {
    format!(
        "Document type is not included in the list ({})",
        DOCUMENT_TYPES.join(", ")
    )
}

#[tokio::test]
async fn the_job_document_type_is_filed_when_the_request_asks_for_runledgers_extensions() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    let run = app.create_run("PO").await;
    let error = json!({"integration-run": {"id": run}, "contact-alert-type": "Technical",
                       "document-type": JOB});
    for path in [
        "/api/integration_errors",
        "/api/integration_errors/create_alert",
    ] {
        let (status, body) = send(&app, Method::POST, path, error.clone(), Some("1")).await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {body}");
        assert_eq!(body["document-type"], JOB);
    }
    let history = json!({"contact-alert-type": "Both", "document-type": JOB, "document-id": 1});
    for path in [
        "/api/integration_history_records",
        "/api/integration_history_records/mark_exported",
    ] {
        let (status, body) = send(&app, Method::POST, path, history.clone(), Some(" 1 ")).await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {body}");
        assert_eq!(body["document-type"], JOB);
    }
    // An update may name it too, with the header.
    let (_, filed) = app
        .post_json(
            "/api/integration_errors",
            json!({"integration-run": {"id": run}, "contact-alert-type": "Technical",
                   "document-type": "Supplier"}),
        )
        .await;
    let path = format!("/api/integration_errors/{}", filed["id"]);
    let change = json!({"document-type": JOB});
    let (status, body) = send(&app, Method::PUT, &path, change.clone(), Some("1")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["document-type"], JOB);
    // A record of that type reads back like any other, for any client, in both formats.
    let (status, shown) = app.get_json(&path).await;
    assert_eq!(
        (status, &shown["document-type"]),
        (StatusCode::OK, &json!(JOB))
    );
    let (status, text) = app.xml(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(xml_value(&text)["document-type"], JOB);
}

#[tokio::test]
async fn without_the_header_the_job_document_type_is_refused_with_coupas_list_as_before() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    let run = app.create_run("PO").await;
    let error = json!({"integration-run": {"id": run}, "contact-alert-type": "Technical",
                       "document-type": JOB});
    let expected = coupa_list_message();
    assert!(!expected.contains("Runledger"));
    for extensions in [None, Some("0"), Some("true"), Some("")] {
        let (status, body) = send(
            &app,
            Method::POST,
            "/api/integration_errors",
            error.clone(),
            extensions,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extensions:?}: {body}");
        assert_eq!(
            messages(&body, "integration-error"),
            std::slice::from_ref(&expected)
        );
    }
    let history = json!({"contact-alert-type": "Both", "document-type": JOB, "document-id": 1});
    let (status, body) = send(
        &app,
        Method::POST,
        "/api/integration_history_records",
        history,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(messages(&body, "integration-history-record"), [expected]);
    // In XML, as a Coupa client sends it, the same.
    let (status, text) = app
        .xml(
            Method::POST,
            "/api/integration_errors",
            Some(&format!(
                "<integration-error><contact-alert-type>Technical</contact-alert-type>\
                 <integration-run-id>{run}</integration-run-id>\
                 <document-type>{JOB}</document-type></integration-error>"
            )),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains(&coupa_list_message()), "{text}");
    let (_, errors) = app.get_json("/api/integration_errors").await;
    assert_eq!(errors, json!([]), "nothing was filed");
}

#[tokio::test]
async fn with_the_header_a_wrong_type_is_refused_with_every_type_listed() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    let run = app.create_run("PO").await;
    let error = json!({"integration-run": {"id": run}, "contact-alert-type": "Technical",
                       "document-type": "Runledger::job"});
    let (status, body) = send(
        &app,
        Method::POST,
        "/api/integration_errors",
        error,
        Some("1"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let expected = format!(
        "Document type is not included in the list ({}, {JOB})",
        DOCUMENT_TYPES.join(", ")
    );
    assert_eq!(messages(&body, "integration-error"), [expected]);
}
