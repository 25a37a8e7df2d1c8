//! `/api/integration_runs`: the lifecycle of a run, every status action, in JSON and XML.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, messages, spawn_app, xml_value};

const ACTIONS: [(&str, &str); 5] = [
    ("run", "running"),
    ("pending", "pending"),
    ("pause", "paused"),
    ("success", "successful"),
    ("fail", "failed"),
];

async fn act(app: &TestApp, id: i64, action: &str) -> (StatusCode, Value) {
    app.put_json(&format!("/api/integration_runs/{id}/{action}"), None)
        .await
}

/// A new run of a fresh integration moved to `status` through the API.
async fn run_in(app: &TestApp, status: &str) -> i64 {
    let id = app.create_run("JOB").await;
    let action = ACTIONS.iter().find(|(_, s)| *s == status).unwrap().0;
    if status != "pending" {
        let (code, body) = act(app, id, action).await;
        assert_eq!(code, StatusCode::OK, "{body}");
    }
    id
}

#[tokio::test]
async fn create_makes_a_pending_run_of_the_referenced_integration() {
    let app = spawn_app().await;
    let integration = app.create_integration("PO_TO_ERP").await;
    let int_id = integration["id"].as_i64().unwrap();
    for reference in [
        json!({"code": "PO_TO_ERP"}),
        json!({"id": int_id}),
        json!({"name": "PO_TO_ERP integration"}),
    ] {
        let (status, body) = app
            .post_json("/api/integration_runs", json!({"integration": reference}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["status"], "pending");
        assert_eq!(body["integration"]["id"], int_id);
        assert_eq!(body["integration"]["code"], "PO_TO_ERP");
        assert_eq!(body["integration-errors"], json!([]));
        for key in [
            "start-time",
            "end-time",
            "total-records",
            "records-processed",
            "flow",
        ] {
            assert_eq!(body[key], Value::Null, "{key}");
        }
    }
}

#[tokio::test]
async fn create_returns_400_when_integration_is_missing() {
    let app = spawn_app().await;
    for body in [
        json!({}),
        json!({"integration": null}),
        json!({"total-records": 5}),
    ] {
        let (status, answer) = app.post_json("/api/integration_runs", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            messages(&answer, "integration-run"),
            ["Integration can't be blank"]
        );
    }
}

#[tokio::test]
async fn create_answers_coupas_message_when_no_integration_matches() {
    let app = spawn_app().await;
    app.create_integration("REAL").await;
    let (status, body) = app
        .post_json(
            "/api/integration_runs",
            json!({"integration": {"code": "NOPE"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        messages(&body, "integration-run"),
        [
            "Unable to find valid Integration record for integration with keys {\"code\"=>\"NOPE\"}. \
          Possible keys are [\"id\", \"code\", \"name\"]."
        ]
    );
    // Keys that all have to match: a right code with a wrong name matches nothing.
    let (status, _) = app
        .post_json(
            "/api/integration_runs",
            json!({"integration": {"code": "REAL", "name": "wrong"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, list) = app.get_json("/api/integration_runs").await;
    assert_eq!(list, json!([]), "nothing was written");
}

#[tokio::test]
async fn a_run_moves_through_its_lifecycle_with_bodies_applied() {
    let app = spawn_app().await;
    app.create_integration("LIFE").await;
    let (status, created) = app
        .post_json(
            "/api/integration_runs",
            json!({"integration": {"code": "LIFE"}, "status": "failed"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["status"], "pending", "status is read-only");
    let id = created["id"].as_i64().unwrap();

    let (status, running) = app
        .put_json(
            &format!("/api/integration_runs/{id}/run"),
            Some(json!({"total_records": 50})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(running["status"], "running");
    assert_eq!(running["total-records"], 50);
    assert!(running["start-time"].is_string(), "run sets start-time");
    assert_eq!(running["end-time"], Value::Null);

    let (status, patched) = app
        .json(
            Method::PATCH,
            &format!("/api/integration_runs/{id}"),
            Some(json!({"records-processed": 50})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["records-processed"], 50);
    assert_eq!(patched["status"], "running");

    let (status, done) = act(&app, id, "success").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(done["status"], "successful");
    assert!(done["end-time"].is_string(), "success sets end-time");
    assert_eq!(done["start-time"], running["start-time"]);

    let (status, body) = act(&app, id, "run").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        messages(&body, "integration-run"),
        ["Cannot move an integration run from successful to running"]
    );

    let (status, shown) = app.get_json(&format!("/api/integration_runs/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, done);
}

#[tokio::test]
async fn every_open_status_accepts_every_action() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    for from in ["pending", "running", "paused"] {
        for (action, to) in ACTIONS {
            let id = run_in(&app, from).await;
            let (status, body) = act(&app, id, action).await;
            assert_eq!(status, StatusCode::OK, "{from} → {action}: {body}");
            assert_eq!(body["status"], to, "{from} → {action}");
        }
    }
}

#[tokio::test]
async fn terminal_statuses_refuse_every_other_action_and_accept_their_repeat() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    for terminal in ["successful", "failed"] {
        let id = run_in(&app, terminal).await;
        let (_, before) = app.get_json(&format!("/api/integration_runs/{id}")).await;
        for (action, to) in ACTIONS {
            let (status, body) = act(&app, id, action).await;
            if to == terminal {
                assert_eq!(status, StatusCode::OK, "a retried {action} must not fail");
                assert_eq!(body, before, "a repeat leaves the run unchanged");
            } else {
                assert_eq!(status, StatusCode::BAD_REQUEST, "{terminal} → {action}");
                assert_eq!(
                    messages(&body, "integration-run"),
                    [format!(
                        "Cannot move an integration run from {terminal} to {to}"
                    )]
                );
            }
        }
        let (_, after) = app.get_json(&format!("/api/integration_runs/{id}")).await;
        assert_eq!(after, before);
    }
}

#[tokio::test]
async fn a_repeated_action_on_an_open_run_is_a_no_op() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let id = run_in(&app, "running").await;
    let (_, first) = app.get_json(&format!("/api/integration_runs/{id}")).await;
    let (status, again) = app
        .put_json(
            &format!("/api/integration_runs/{id}/run"),
            Some(json!({"total-records": 9})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first, "the body of a repeated action is not applied");
}

#[tokio::test]
async fn finish_succeeds_a_run_without_unresolved_errors() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let id = run_in(&app, "running").await;
    let (status, body) = act(&app, id, "finish").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "successful");
    assert!(body["end-time"].is_string());
    let (status, _) = act(&app, id, "finish").await;
    assert_eq!(status, StatusCode::OK, "finishing again repeats success");
}

#[tokio::test]
async fn a_time_in_the_body_wins_over_the_automatic_one() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let id = app.create_run("JOB").await;
    let (_, body) = app
        .put_json(
            &format!("/api/integration_runs/{id}/run"),
            Some(json!({"start-time": "2026-01-02T03:04:05.678+01:00"})),
        )
        .await;
    assert_eq!(body["start-time"], "2026-01-02T02:04:05+00:00");
    let (_, body) = app
        .put_json(
            &format!("/api/integration_runs/{id}/fail"),
            Some(json!({"end_time": "2026-01-03"})),
        )
        .await;
    assert_eq!(body["end-time"], "2026-01-03T00:00:00+00:00");
}

#[tokio::test]
async fn records_processed_may_not_exceed_total_records() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let id = run_in(&app, "running").await;
    let path = format!("/api/integration_runs/{id}");
    app.put_json(
        &path,
        Some(json!({"total-records": 10, "records-processed": 4})),
    )
    .await;
    let (status, body) = app
        .put_json(&path, Some(json!({"records-processed": 11})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        messages(&body, "integration-run"),
        ["Records processed (11) must be less than or equal to total records (10)"]
    );
    // Refused inside a status action too, and then the status does not change either.
    let (status, _) = app
        .put_json(
            &format!("{path}/success"),
            Some(json!({"records-processed": 11})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, run) = app.get_json(&path).await;
    assert_eq!(
        (run["status"].clone(), run["records-processed"].clone()),
        (json!("running"), json!(4))
    );
}

#[tokio::test]
async fn counts_must_be_non_negative_integers() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let id = app.create_run("JOB").await;
    let path = format!("/api/integration_runs/{id}");
    for (body, message) in [
        (
            json!({"total-records": -1}),
            "Total records must be greater than or equal to 0",
        ),
        (
            json!({"total-records": "many"}),
            "Total records is not an integer",
        ),
        (
            json!({"records_processed": 1.5}),
            "Records processed is not an integer",
        ),
        (
            json!({"start-time": "soon"}),
            "Start time is not a valid datetime",
        ),
        (json!({"flow": [1, 2]}), "Flow must be an object"),
    ] {
        let (status, answer) = app.put_json(&path, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(messages(&answer, "integration-run"), [message]);
    }
}

#[tokio::test]
async fn flow_is_stored_and_returned_as_given_in_both_formats() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let flow = json!({"source": "SAP", "batch": 3, "files": ["a.csv", "b.csv"], "ok": true, "meta": {"by": null}});
    let (status, body) = app
        .post_json(
            "/api/integration_runs",
            json!({"integration": {"code": "JOB"}, "flow": flow}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["flow"], flow);
    let id = body["id"].as_i64().unwrap();
    let (_, text) = app
        .xml(Method::GET, &format!("/api/integration_runs/{id}"), None)
        .await;
    assert_eq!(xml_value(&text)["flow"], flow);

    let (status, text) = app
        .xml(Method::PUT, &format!("/api/integration_runs/{id}"), Some("<integration-run><flow><step>load</step><n type=\"integer\">2</n></flow></integration-run>"))
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (_, body) = app.get_json(&format!("/api/integration_runs/{id}")).await;
    assert_eq!(body["flow"], json!({"step": "load", "n": 2}));

    let big = json!({"flow": {"blob": "x".repeat(17 * 1024)}});
    let (status, body) = app
        .put_json(&format!("/api/integration_runs/{id}"), Some(big))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        messages(&body, "integration-run"),
        ["Flow is too large (maximum is 16384 bytes)"]
    );
}

#[tokio::test]
async fn the_whole_lifecycle_works_in_xml() {
    let app = spawn_app().await;
    app.create_integration("XML_JOB").await;
    let (status, text) = app
        .xml(
            Method::POST,
            "/api/integration_runs",
            Some("<integration-run><integration><code>XML_JOB</code></integration></integration-run>"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert!(text.contains("<status>pending</status>"));
    assert!(text.contains("<integration-errors type=\"array\"/>"));
    assert!(text.contains("<end-time nil=\"true\"/>"));
    let id = xml_value(&text)["id"].as_i64().unwrap();

    let (status, text) = app
        .xml(
            Method::PUT,
            &format!("/api/integration_runs/{id}/run"),
            Some("<integration-run><total-records type=\"integer\">20</total-records></integration-run>"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains("<total-records type=\"integer\">20</total-records>"),
        "{text}"
    );
    assert!(text.contains("<start-time type=\"dateTime\">"), "{text}");

    let (status, text) = app
        .xml(
            Method::PATCH,
            &format!("/api/integration_runs/{id}"),
            Some("<integration-run><records-processed>20</records-processed></integration-run>"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(xml_value(&text)["records-processed"], 20);

    let (status, text) = app
        .xml(
            Method::PUT,
            &format!("/api/integration_runs/{id}/fail"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(xml_value(&text)["status"], "failed");

    let (status, text) = app
        .xml(
            Method::PUT,
            &format!("/api/integration_runs/{id}/pending"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        text,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<errors>\n  \
         <error>Cannot move an integration run from failed to pending</error>\n</errors>\n"
    );
}

#[tokio::test]
async fn a_run_can_move_to_another_integration() {
    let app = spawn_app().await;
    app.create_integration("FROM").await;
    let to = app.create_integration("TO").await["id"].as_i64().unwrap();
    let id = app.create_run("FROM").await;
    let (status, body) = app
        .put_json(
            &format!("/api/integration_runs/{id}"),
            Some(json!({"integration": {"code": "TO"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["integration"]["id"], to);
    let (_, shown) = app.get_json(&format!("/api/integration_runs/{id}")).await;
    assert_eq!(shown["integration"]["code"], "TO");
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404() {
    let app = spawn_app().await;
    for path in [
        "/api/integration_runs/12345",
        "/api/integration_runs/abc",
        "/api/integration_runs/-1",
        "/api/integration_runs/0",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(messages(&body, "integration-run").len(), 1);
    }
    let (status, body) = act(&app, 999, "run").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        messages(&body, "integration-run"),
        ["Couldn't find IntegrationRun with 'id'=999"]
    );
}

#[tokio::test]
async fn finish_fails_a_run_with_an_unresolved_error_and_runs_embed_their_errors() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let with_open = run_in(&app, "running").await;
    let with_resolved = run_in(&app, "running").await;
    app.file_error(with_open, "Supplier", false).await;
    app.file_error(with_resolved, "OrderHeader", true).await;

    let (status, body) = act(&app, with_open, "finish").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "failed");
    let errors = body["integration-errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["document-type"], "Supplier");
    assert_eq!(errors[0]["document-id"], 42);
    assert_eq!(errors[0]["resolved"], false);
    assert_eq!(errors[0]["integration-run-id"], with_open);

    let (_, body) = act(&app, with_resolved, "finish").await;
    assert_eq!(
        body["status"], "successful",
        "resolved errors do not fail a run"
    );

    let (_, text) = app
        .xml(
            Method::GET,
            &format!("/api/integration_runs/{with_open}"),
            None,
        )
        .await;
    assert!(
        text.contains("<integration-errors type=\"array\">\n    <integration-error>\n"),
        "{text}"
    );
    assert!(text.contains("<document-type>Supplier</document-type>"));
}

#[tokio::test]
async fn runs_are_queried_through_their_errors() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let supplier_open = app.create_run("JOB").await;
    let supplier_resolved = app.create_run("JOB").await;
    let order_open = app.create_run("JOB").await;
    let clean = app.create_run("JOB").await;
    app.file_error(supplier_open, "Supplier", false).await;
    app.file_error(supplier_resolved, "Supplier", true).await;
    app.file_error(order_open, "OrderHeader", false).await;
    app.file_error(order_open, "OrderHeader", false).await;

    let ids = |body: Value| -> Vec<i64> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    };
    let (_, body) = app
        .get_json("/api/integration_runs?integration_errors[document_type]=Supplier")
        .await;
    assert_eq!(ids(body), [supplier_open, supplier_resolved]);
    let (_, body) = app
        .get_json("/api/integration_runs?integration_errors[resolved]=false")
        .await;
    assert_eq!(
        ids(body),
        [supplier_open, order_open],
        "a run with two matching errors appears once"
    );
    let (_, body) = app
        .get_json("/api/integration_runs?integration-errors[resolved]=false&integration_errors[document-type]=Supplier")
        .await;
    assert_eq!(
        ids(body),
        [supplier_open],
        "both conditions hold for the same error"
    );
    let (_, body) = app
        .get_json("/api/integration_runs?integration_errors[id][blank]=false&order_by=id&dir=desc")
        .await;
    assert_eq!(ids(body), [order_open, supplier_resolved, supplier_open]);
    let (_, body) = app
        .get_json(&format!("/api/integration_runs?id={clean}"))
        .await;
    assert_eq!(body[0]["integration-errors"], json!([]));
}

#[tokio::test]
async fn every_status_action_speaks_xml() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    for (action, to) in ACTIONS.iter().chain(&[("finish", "successful")]) {
        let id = run_in(&app, "running").await;
        let body =
            "<integration-run><total-records type=\"integer\">7</total-records></integration-run>";
        let (status, text) = app
            .xml(
                Method::PUT,
                &format!("/api/integration_runs/{id}/{action}"),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{action}: {text}");
        let run = xml_value(&text);
        assert_eq!(run["status"], *to, "{action}");
        let expected_total = if *to == "running" {
            Value::Null
        } else {
            json!(7)
        };
        assert_eq!(
            run["total-records"], expected_total,
            "{action}: the body applies unless it is a repeat"
        );
    }
}
