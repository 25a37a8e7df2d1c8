//! The sweeper through the API: missed starts, stuck and too fast runs, flips, alerts through
//! the outbox, health across integrations, and two nodes sharing one sweep. The clock the
//! monitors are watched by is moved by the test; nothing sleeps.

use std::time::Duration;

use reqwest::StatusCode;
use runledger::startup::Application;
use serde_json::{Value, json};

use crate::helpers::{TestApp, messages, spawn_app};

const HOUR: Duration = Duration::from_secs(3600);

/// An integration with an hourly monitor (one minute's grace) that alerts, and a contact
/// who hears of it by email; returns the integration's id.
async fn hourly(app: &TestApp, code: &str, extra: Value) -> i64 {
    let id = app.create_integration(code).await["id"].as_i64().unwrap();
    let mut body = json!({
        "schedule-kind": "interval", "schedule": 3600, "start-grace": 60,
        "alerts-enabled": true,
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (status, monitor) = app
        .put_json(&format!("/api/integrations/{id}/monitor"), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{monitor}");
    let (status, contact) = app
        .post_json(
            "/api/integration_contacts",
            json!({"contact-alert-type": "Technical", "contactable-type": "User",
                   "contactable-id": 1, "integration": {"code": code},
                   "email": "ops@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{contact}");
    id
}

async fn flips(app: &TestApp, id: i64) -> Vec<Value> {
    let (status, flips) = app
        .get_json(&format!("/api/integrations/{id}/monitor/flips"))
        .await;
    assert_eq!(status, StatusCode::OK, "{flips}");
    flips.as_array().unwrap().clone()
}

async fn deliveries(app: &TestApp, id: i64) -> Vec<Value> {
    let (status, deliveries) = app
        .get_json(&format!("/api/alert_deliveries?integration_id={id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{deliveries}");
    deliveries.as_array().unwrap().clone()
}

#[tokio::test]
async fn a_missed_start_is_a_failed_run_a_flip_and_one_alert() {
    let app = spawn_app().await;
    let id = hourly(&app, "HOURLY", json!({})).await;
    app.sweep().await;
    assert_eq!(flips(&app, id).await, Vec::<Value>::new(), "new stays new");

    app.advance(HOUR + Duration::from_secs(61));
    let round = app.sweep().await;
    assert!(round.missed <= 1, "{round:?}");
    let flips = flips(&app, id).await;
    assert_eq!(flips.len(), 1, "{flips:?}");
    assert_eq!(
        (&flips[0]["from"], &flips[0]["to"]),
        (&json!("new"), &json!("down"))
    );
    let reason = flips[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("expected ") && reason.contains("grace 1 min, nothing by"),
        "{reason}"
    );

    // The missed start is a run of its own, failed, with the Runledger error saying so.
    let run_id = flips[0]["integration-run-id"].as_i64().unwrap();
    let (_, run) = app
        .get_json(&format!("/api/integration_runs/{run_id}"))
        .await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["integration"]["id"], id);
    let errors = run["integration-errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{run}");
    assert_eq!(errors[0]["document-type"], "Runledger::Job");
    assert_eq!(errors[0]["status"], "missed");

    // One alert, through the outbox: a history record of the job, one delivery.
    let sent = deliveries(&app, id).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["record-type"], "integration_history_record");
    let record = sent[0]["record-id"].as_i64().unwrap();
    let (_, history) = app
        .get_json(&format!("/api/integration_history_records/{record}"))
        .await;
    assert_eq!(history["document-type"], "Runledger::Job");
    assert_eq!(history["status"], "down");
    let message = history["responses"][0]["response-message"]
        .as_str()
        .unwrap();
    assert!(message.starts_with("down: expected "), "{message}");

    // Health across integrations, as recorded.
    app.create_integration("QUIET").await;
    let (status, down) = app.get_json("/api/monitors?health=down").await;
    assert_eq!(status, StatusCode::OK, "{down}");
    let ids: Vec<&Value> = down
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["integration-id"])
        .collect();
    assert_eq!(ids, [&json!(id)]);
    assert_eq!(down[0]["health"], "down");

    // Nothing more happens on another look at the same instant.
    app.sweep().await;
    assert_eq!(self::flips(&app, id).await.len(), 1);
    assert_eq!(deliveries(&app, id).await.len(), 1);
}

#[tokio::test]
async fn a_run_open_past_its_maximum_is_stuck_and_failed_at_the_hard_limit() {
    let app = spawn_app().await;
    let id = hourly(
        &app,
        "SLOW",
        json!({"max-runtime": 600, "stuck-fail-after": 3600, "alerts-enabled": false}),
    )
    .await;
    let run = app.create_run("SLOW").await;
    let (status, _) = app
        .put_json(&format!("/api/integration_runs/{run}/run"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    app.sweep().await;
    assert_eq!(flips(&app, id).await[0]["to"], "running");

    app.advance(Duration::from_secs(601));
    app.sweep().await;
    let all = flips(&app, id).await;
    assert_eq!(
        (&all[0]["from"], &all[0]["to"]),
        (&json!("running"), &json!("down"))
    );
    assert_eq!(all[0]["integration-run-id"], run);
    let (_, stuck) = app.get_json(&format!("/api/integration_runs/{run}")).await;
    assert_eq!(stuck["status"], "running", "stuck, not failed yet");
    assert_eq!(stuck["integration-errors"][0]["status"], "stuck");
    // Found stuck once: a second look files nothing more.
    app.sweep().await;
    let (_, again) = app.get_json(&format!("/api/integration_runs/{run}")).await;
    assert_eq!(again["integration-errors"].as_array().unwrap().len(), 1);

    app.advance(HOUR);
    app.sweep().await;
    let (_, failed) = app.get_json(&format!("/api/integration_runs/{run}")).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        deliveries(&app, id).await,
        Vec::<Value>::new(),
        "alerts are off"
    );
}

#[tokio::test]
async fn a_run_that_succeeds_too_fast_is_down_and_a_good_one_brings_it_up() {
    let app = spawn_app().await;
    let id = hourly(&app, "FAST", json!({"min-runtime": 300})).await;
    let run = app.create_run("FAST").await;
    for action in ["run", "success"] {
        let (status, body) = app
            .put_json(&format!("/api/integration_runs/{run}/{action}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    app.sweep().await;
    let all = flips(&app, id).await;
    assert_eq!(all[0]["to"], "down", "{all:?}");
    let reason = all[0]["reason"].as_str().unwrap();
    assert!(reason.contains("sooner than the minimum 5 min"), "{reason}");
    assert_eq!(deliveries(&app, id).await.len(), 1);
    // The minimum lifted, the same run is fine: up, and a recovery alert.
    let (status, _) = app
        .put_json(
            &format!("/api/integrations/{id}/monitor"),
            Some(json!({"min-runtime": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.sweep().await;
    let all = flips(&app, id).await;
    assert_eq!(
        (&all[0]["from"], &all[0]["to"]),
        (&json!("down"), &json!("up"))
    );
    assert_eq!(deliveries(&app, id).await.len(), 2);
}

#[tokio::test]
async fn the_policy_is_written_and_shown_and_bad_policies_are_refused() {
    let app = spawn_app().await;
    let id = app.create_integration("POLICY").await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/integrations/{id}/monitor");
    let (status, monitor) = app
        .put_json(
            &path,
            Some(json!({
                "alerts-enabled": true, "alert-after-failures": 3,
                "alert-failure-percent": 50, "alert-failure-window": 10,
                "alert-on-recovery": false, "alert-repeat-every": 3600,
                "escalate-after": 7200, "escalate-to": "Functional",
                "maintenance-windows": [
                    {"from": "2026-12-24T00:00:00Z", "until": "2026-12-27T00:00:00Z"},
                    {"schedule-kind": "cron", "schedule": "0 1 * * Sun",
                     "time-zone": "Europe/Berlin", "duration": 7200}
                ]
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{monitor}");
    assert_eq!(monitor["alert-after-failures"], 3);
    assert_eq!(monitor["alert-failure-percent"], 50);
    assert_eq!(monitor["escalate-to"], "Functional");
    assert_eq!(
        monitor["maintenance-windows"][1]["time-zone"],
        "Europe/Berlin"
    );
    assert_eq!(
        monitor["maintenance-windows"][0]["until"],
        "2026-12-27T00:00:00+00:00"
    );
    let (_, xml) = app.xml(reqwest::Method::GET, &path, None).await;
    assert!(
        xml.contains("<maintenance-windows type=\"array\">"),
        "{xml}"
    );

    for (body, message) in [
        (
            json!({"alert-after-failures": 0}),
            "Alert after failures must be from 1 to 100",
        ),
        (
            json!({"alert-failure-percent": 50}),
            "Alert failure percent and alert failure window are written together",
        ),
        (
            json!({"escalate-after": 600, "escalate-to": "Nobody"}),
            "Escalate to 'Nobody' is not one of Technical, Functional, Both",
        ),
        (
            json!({"stuck-fail-after": 60}),
            "Stuck fail after needs a max runtime or a heartbeat timeout",
        ),
        (
            json!({"heartbeat-timeout": 5}),
            "Heartbeat timeout must be from 10 to 604800 seconds",
        ),
        (
            json!({"maintenance-windows": "weekends"}),
            "Maintenance windows must be a list",
        ),
        (
            json!({"alerts-enabled": null}),
            "Alerts enabled can't be blank",
        ),
    ] {
        let (status, answer) = app.put_json(&path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(messages(&answer, "monitor"), [message], "{body}");
    }
    let (status, answer) = app.get_json("/api/monitors?health=sideways").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = app.get_json("/api/monitors?healthy=down").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, _) = app.get_json("/api/integrations/999999/monitor/flips").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_one_database_flip_once_and_alert_once() {
    let app = spawn_app().await;
    let id = hourly(&app, "SHARED", json!({})).await;
    // A second node on the same database and the same clock.
    let other = Application::build(app.settings())
        .await
        .expect("second node");
    let other = other.sweeper();
    app.advance(HOUR + Duration::from_secs(61));
    for _ in 0..5 {
        let (a, b) = tokio::join!(app.sweep(), other.round());
        assert_eq!(a.failed + b.failed, 0, "{a:?} {b:?}");
    }
    app.sweep().await;
    let all = flips(&app, id).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(deliveries(&app, id).await.len(), 1);
    let (_, runs) = app
        .get_json(&format!("/api/integration_runs?integration_id={id}"))
        .await;
    assert_eq!(runs.as_array().unwrap().len(), 1, "one missed run: {runs}");
}

#[tokio::test]
async fn pings_move_the_health_the_sweeper_records() {
    let app = spawn_app().await;
    let id = hourly(&app, "PINGED", json!({})).await;
    let (_, monitor) = app
        .get_json(&format!("/api/integrations/{id}/monitor"))
        .await;
    let url = monitor["ping-url"].as_str().unwrap().to_owned();
    let ping = |suffix: &'static str| {
        let url = format!("{url}{suffix}");
        async move {
            let response = reqwest::get(&url).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{url}");
        }
    };
    ping("/start").await;
    app.sweep().await;
    assert_eq!(flips(&app, id).await[0]["to"], "running");
    ping("").await;
    app.sweep().await;
    let all = flips(&app, id).await;
    assert_eq!(
        (&all[0]["from"], &all[0]["to"]),
        (&json!("running"), &json!("up"))
    );
    ping("/1").await;
    app.sweep().await;
    let all = flips(&app, id).await;
    assert_eq!(
        (&all[0]["from"], &all[0]["to"]),
        (&json!("up"), &json!("down"))
    );
    assert_eq!(
        all[0]["reason"].as_str().unwrap(),
        format!("run {} failed", all[0]["integration-run-id"])
    );
    assert_eq!(
        deliveries(&app, id).await.len(),
        1,
        "the failure alerts once"
    );
}

#[tokio::test]
async fn a_run_that_stops_beating_is_stuck_before_its_maximum() {
    let app = spawn_app().await;
    let id = hourly(
        &app,
        "SILENT",
        json!({"max-runtime": 7200, "heartbeat-timeout": 300, "alerts-enabled": false}),
    )
    .await;
    let run = app.create_run("SILENT").await;
    app.sweep().await;
    app.advance(Duration::from_secs(301));
    app.sweep().await;
    let all = flips(&app, id).await;
    assert_eq!(
        (&all[0]["from"], &all[0]["to"]),
        (&json!("running"), &json!("down"))
    );
    let (_, stuck) = app.get_json(&format!("/api/integration_runs/{run}")).await;
    let error = &stuck["integration-errors"][0]["id"];
    let (_, error) = app
        .get_json(&format!("/api/integration_errors/{error}"))
        .await;
    let message = error["responses"][0]["response-message"].as_str().unwrap();
    assert!(message.contains("no sign of it for 5 min"), "{message}");
}

#[tokio::test]
async fn a_maintenance_window_holds_the_alert_back_but_the_miss_is_recorded() {
    let app = spawn_app().await;
    let now = chrono::Utc::now();
    let window = json!([{
        "from": (now - chrono::Duration::hours(1)).to_rfc3339(),
        "until": (now + chrono::Duration::days(1)).to_rfc3339(),
    }]);
    let id = hourly(&app, "MAINTAINED", json!({"maintenance-windows": window})).await;
    app.advance(HOUR + Duration::from_secs(61));
    app.sweep().await;
    let all = flips(&app, id).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["to"], "down");
    let (_, run) = app
        .get_json(&format!(
            "/api/integration_runs/{}",
            all[0]["integration-run-id"]
        ))
        .await;
    assert_eq!(run["status"], "failed", "the miss is in the ledger");
    assert_eq!(deliveries(&app, id).await, Vec::<Value>::new(), "muted");
    // When the window closes, the held-back alert goes out.
    app.advance(Duration::from_secs(24 * 3600));
    app.sweep().await;
    assert_eq!(deliveries(&app, id).await.len(), 1);
}
