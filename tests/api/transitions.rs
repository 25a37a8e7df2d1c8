//! The transition log (`/api/integration_runs/:id/transitions`) and rerun lineage
//! (`retry-of`, `attempt`): Runledger's history of a run, beyond Coupa's overwritten row.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, messages, spawn_app, xml_value};

/// A JSON request with `X-Runledger-Extensions: 1`.
pub async fn extended(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .request(method, app.url(path))
        .header("Accept", "application/json")
        .header("X-Runledger-Extensions", "1");
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn log_of(app: &TestApp, run: i64) -> Vec<Value> {
    let (status, log) = app
        .get_json(&format!("/api/integration_runs/{run}/transitions"))
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    log.as_array().unwrap().clone()
}

fn causes(log: &[Value]) -> Vec<&str> {
    log.iter().map(|e| e["cause"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn every_change_of_a_run_is_logged_in_order_with_its_author_and_what_changed() {
    let app = spawn_app().await;
    app.create_integration("LOGGED").await;
    let run = app.create_run("LOGGED").await;
    let path = format!("/api/integration_runs/{run}");
    let (status, _) = app
        .put_json(&format!("{path}/run"), Some(json!({"total-records": 10})))
        .await;
    assert_eq!(status, StatusCode::OK);
    app.put_json(&path, Some(json!({"records-processed": 10})))
        .await;
    app.put_json(&format!("{path}/success"), None).await;

    let log = log_of(&app, run).await;
    assert_eq!(causes(&log), ["create", "run", "update", "success"]);
    assert_eq!(log[0]["from-status"], Value::Null);
    assert_eq!(log[0]["to-status"], "pending");
    assert_eq!(log[1]["from-status"], "pending");
    assert_eq!(log[1]["to-status"], "running");
    let fields: Vec<&str> = log[1]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["status", "start-time", "total-records"]);
    assert_eq!(
        log[2]["changes"],
        json!([{"field": "records-processed", "from": null, "to": 10}])
    );
    assert_eq!(log[3]["to-status"], "successful");
    for entry in &log {
        assert_eq!(entry["integration-run-id"], run);
        assert_eq!(entry["created-by"]["login"], "test-client");
    }
    let ids: Vec<i64> = log.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // The same log in XML, changes and all.
    let (status, xml) = app
        .xml(Method::GET, &format!("{path}/transitions"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    let doc = xml_value(&xml);
    let entries = doc.as_array().expect("a list of transitions");
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[2]["cause"], "update");
    assert_eq!(entries[2]["changes"][0]["field"], "records-processed");
    assert_eq!(entries[2]["changes"][0]["to"], 10);
}

#[tokio::test]
async fn a_write_that_changes_nothing_logs_nothing() {
    let app = spawn_app().await;
    app.create_integration("QUIET").await;
    let run = app.create_run("QUIET").await;
    let path = format!("/api/integration_runs/{run}");
    for _ in 0..3 {
        app.put_json(&format!("{path}/run"), None).await;
    }
    app.put_json(&path, Some(json!({"flow": null}))).await;
    assert_eq!(causes(&log_of(&app, run).await), ["create", "run"]);
}

#[tokio::test]
async fn the_log_is_complete_and_ordered_under_concurrent_writers() {
    let app = Arc::new(spawn_app().await);
    app.create_integration("RACED").await;
    let run = app.create_run("RACED").await;
    let path = format!("/api/integration_runs/{run}");
    let writers: Vec<_> = (0..30)
        .map(|_| {
            let app = Arc::clone(&app);
            let path = path.clone();
            tokio::spawn(async move {
                app.put_json(&path, Some(json!({"records-processed-increment": 1})))
                    .await
            })
        })
        .collect();
    for writer in writers {
        let (status, body) = writer.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, log) = app.get_json(&format!("{path}/transitions?limit=50")).await;
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 31, "one entry per write: {log:?}");
    // Each entry starts where the one before it ended: none lost, none out of order.
    let mut count = Value::Null;
    for entry in &log[1..] {
        let change = &entry["changes"][0];
        assert_eq!(change["field"], "records-processed");
        assert_eq!(change["from"], count, "{entry}");
        count = change["to"].clone();
    }
    assert_eq!(count, 30);
}

#[tokio::test]
async fn the_log_is_queryable_across_runs_with_coupas_query_language() {
    let app = spawn_app().await;
    app.create_integration("QUERIED").await;
    app.create_integration("OTHER").await;
    let failed = app.create_run("QUERIED").await;
    app.put_json(&format!("/api/integration_runs/{failed}/fail"), None)
        .await;
    let paused = app.create_run("OTHER").await;
    app.put_json(&format!("/api/integration_runs/{paused}/pause"), None)
        .await;
    app.put_json(&format!("/api/integration_runs/{paused}/run"), None)
        .await;

    let (status, found) = app
        .get_json("/api/integration_run_transitions?to_status=failed&integration[code]=queried")
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["integration-run-id"], failed);
    assert_eq!(found[0]["cause"], "fail");

    // Runs found by their history: the one that was paused at some point, running now.
    let (_, runs) = app
        .get_json("/api/integration_runs?transitions[to_status]=paused")
        .await;
    let ids: Vec<i64> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [paused]);

    let (_, newest) = app
        .get_json(&format!(
            "/api/integration_runs/{paused}/transitions?order_by=id&dir=desc&limit=1"
        ))
        .await;
    assert_eq!(newest[0]["cause"], "run");

    let (status, body) = app
        .get_json("/api/integration_run_transitions?cause=teleport")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = app
        .get_json("/api/integration_run_transitions?colour=red")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .get_json("/api/integration_runs/999999/transitions")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_logged_transition_can_never_be_rewritten() {
    let app = spawn_app().await;
    app.create_integration("WRITTEN").await;
    app.create_run("WRITTEN").await;
    let refused = app
        .try_execute_sql("UPDATE integration_run_transitions SET cause = 'update'")
        .await
        .expect_err("the log refused the update");
    assert!(refused.contains("written once"), "{refused}");
}

#[tokio::test]
async fn the_sweeper_logs_the_runs_it_marks_fails_and_records() {
    let app = spawn_app().await;
    let id = app.create_integration("SWEPT").await["id"]
        .as_i64()
        .unwrap();
    let monitor = json!({"schedule-kind": "interval", "schedule": 3600, "start-grace": 60,
                         "max-runtime": 600, "stuck-fail-after": 3600});
    let (status, body) = app
        .put_json(&format!("/api/integrations/{id}/monitor"), Some(monitor))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let open = app.create_run("SWEPT").await;
    app.put_json(&format!("/api/integration_runs/{open}/run"), None)
        .await;
    app.sweep().await;
    app.advance(Duration::from_secs(601));
    app.sweep().await;
    let log = log_of(&app, open).await;
    let stuck = log.iter().find(|e| e["cause"] == "stuck").expect("stuck");
    assert_eq!(stuck["changes"][0]["field"], "stuck-at");
    assert_eq!(stuck["to-status"], "running");
    assert_eq!(stuck["created-by"], Value::Null);
    let health = log.iter().find(|e| e["cause"] == "health").expect("health");
    assert_eq!(
        health["changes"],
        json!([{"field": "health", "from": "running", "to": "down"}])
    );

    // Failed at the hard limit, by the sweeper.
    app.advance(Duration::from_secs(3600));
    app.sweep().await;
    let log = log_of(&app, open).await;
    let timeout = log
        .iter()
        .find(|e| e["cause"] == "timeout")
        .expect("timeout");
    assert_eq!(
        (&timeout["from-status"], &timeout["to-status"]),
        (&json!("running"), &json!("failed"))
    );

    // Starts that never came are runs of their own, logged as the sweeper made them.
    app.advance(Duration::from_secs(3 * 3600));
    app.sweep().await;
    let (_, missed) = app
        .get_json("/api/integration_run_transitions?cause=missed")
        .await;
    let missed = missed.as_array().unwrap();
    assert!(!missed.is_empty());
    assert_eq!(missed[0]["to-status"], "failed");
    assert_eq!(missed[0]["from-status"], Value::Null);
    assert_eq!(missed[0]["created-by"], Value::Null);
}

#[tokio::test]
async fn a_retry_names_the_run_it_retries_and_counts_its_attempt_both_ways() {
    let app = spawn_app().await;
    app.create_integration("RETRIED").await;
    let first = app.create_run("RETRIED").await;
    app.put_json(&format!("/api/integration_runs/{first}/fail"), None)
        .await;
    let body =
        |retried: i64| json!({"integration": {"code": "RETRIED"}, "retry-of": {"id": retried}});
    let (status, second) = extended(
        &app,
        Method::POST,
        "/api/integration_runs",
        Some(body(first)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["retry-of"], json!({"id": first}));
    assert_eq!(second["attempt"], 2);
    let second = second["id"].as_i64().unwrap();
    let (_, third) = extended(
        &app,
        Method::POST,
        "/api/integration_runs",
        Some(body(second)),
    )
    .await;
    assert_eq!(third["attempt"], 3);
    let third = third["id"].as_i64().unwrap();

    // Coupa's document stays Coupa's without the header.
    let (_, plain) = app
        .get_json(&format!("/api/integration_runs/{third}"))
        .await;
    assert!(
        plain.get("retry-of").is_none() && plain.get("attempt").is_none(),
        "{plain}"
    );
    let (_, first_run) = extended(
        &app,
        Method::GET,
        &format!("/api/integration_runs/{first}"),
        None,
    )
    .await;
    assert_eq!(first_run["retry-of"], Value::Null);
    assert_eq!(first_run["attempt"], 1);

    let ids = |runs: Value| -> Vec<i64> {
        runs.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    };
    let (_, retries) = app
        .get_json(&format!("/api/integration_runs?retry_of[id]={first}"))
        .await;
    assert_eq!(ids(retries), [second]);
    let (_, retried) = app
        .get_json(&format!("/api/integration_runs?retries[id]={third}"))
        .await;
    assert_eq!(ids(retried), [second]);
    let (_, later) = app.get_json("/api/integration_runs?attempt[gt]=1").await;
    assert_eq!(ids(later), [second, third]);
    let (_, firsts) = app
        .get_json("/api/integration_runs?retry_of_id[blank]=true")
        .await;
    assert_eq!(ids(firsts), [first]);
    // The log of a retry says what it retries.
    let log = log_of(&app, third).await;
    let changes = log[0]["changes"].as_array().unwrap();
    assert!(changes.contains(&json!({"field": "retry-of", "from": null, "to": second})));
    assert!(changes.contains(&json!({"field": "attempt", "from": null, "to": 3})));
}

#[tokio::test]
async fn a_retry_of_an_unknown_run_or_another_integrations_run_is_refused() {
    let app = spawn_app().await;
    app.create_integration("MINE").await;
    app.create_integration("THEIRS").await;
    let theirs = app.create_run("THEIRS").await;
    let (status, body) = app
        .post_json(
            "/api/integration_runs",
            json!({"integration": {"code": "MINE"}, "retry-of": {"id": theirs}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(messages(&body, "integration-run")[0].contains("same integration"));
    let (status, body) = app
        .post_json(
            "/api/integration_runs",
            json!({"integration": {"code": "MINE"}, "retry-of": {"id": 424242}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = app
        .post_json(
            "/api/integration_runs",
            json!({"integration": {"code": "MINE"}, "retry-of": {"id": "x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Set when the run is made, never after; naming the same run again is harmless.
    let mine = app.create_run("MINE").await;
    let later = app.create_run("MINE").await;
    let (status, body) = app
        .put_json(
            &format!("/api/integration_runs/{later}"),
            Some(json!({"retry-of": {"id": mine}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = app
        .put_json(
            &format!("/api/integration_runs/{later}"),
            Some(json!({"retry-of": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}
