//! Webhook subscriptions to the event stream (`/api/event_subscriptions`): the events a
//! filter matches, delivered signed through the outbox, retried, and logged in
//! `/api/alert_deliveries`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use runledger::alerts::sign;
use serde_json::{Value, json};

use crate::alerts::{Receiver, app_with_quick_retries};
use crate::helpers::{TestApp, messages};

/// The subscription's deliveries once `n` of them are delivered (or after 20 s).
async fn delivered(app: &TestApp, subscription: i64, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, list) = app
            .get_json(&format!(
                "/api/alert_deliveries?event_subscription_id={subscription}&status=delivered"
            ))
            .await;
        assert_eq!(status, StatusCode::OK);
        let list = list.as_array().unwrap().clone();
        if list.len() >= n || Instant::now() > deadline {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_subscription_delivers_the_events_its_filter_matches_signed_and_retried() {
    let app = app_with_quick_retries(None).await;
    let receiver = Receiver::start().await;
    receiver.answer_first(&[500]);
    app.create_integration("HOOKED").await;
    app.create_integration("QUIET").await;
    let (status, subscription) = app
        .post_json(
            "/api/event_subscriptions",
            json!({"url": format!("{}/hooks", receiver.base),
                   "filter": "topic=run&integration[code]=hooked"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{subscription}");
    let secret = subscription["secret"].as_str().unwrap().to_owned();
    let id = subscription["id"].as_i64().unwrap();
    let (_, shown) = app
        .get_json(&format!("/api/event_subscriptions/{id}"))
        .await;
    assert!(
        shown.get("secret").is_none(),
        "the key is shown once: {shown}"
    );

    let quiet = app.create_run("QUIET").await;
    app.put_json(&format!("/api/integration_runs/{quiet}/fail"), None)
        .await;
    let run = app.create_run("HOOKED").await;
    app.file_error(run, "Invoice", false).await;
    app.put_json(&format!("/api/integration_runs/{run}/fail"), None)
        .await;

    let deliveries = delivered(&app, id, 2).await;
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    for delivery in &deliveries {
        assert_eq!(delivery["record-type"], "event");
        assert_eq!(delivery["event-subscription-id"], id);
        assert_eq!(delivery["integration-contact-id"], Value::Null);
        assert_eq!(delivery["channel"], "webhook");
    }
    // The first attempt met a 500 and was retried.
    let attempts: Vec<i64> = deliveries
        .iter()
        .map(|d| d["attempts"].as_i64().unwrap())
        .collect();
    assert!(attempts.contains(&2), "{attempts:?}");

    let received = receiver.received();
    let mut causes = Vec::new();
    for request in received.iter().filter(|r| r.path == "/hooks") {
        let signature = request.headers["x-runledger-signature"].to_str().unwrap();
        assert_eq!(
            signature,
            format!("sha256={}", sign(&secret, &request.body))
        );
        let event: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(event["topic"], "run");
        assert_eq!(event["integration-run-id"], run);
        causes.push(event["transition"]["cause"].as_str().unwrap().to_owned());
    }
    // A retried delivery arrives twice: the receiver's 500 did not make it fail.
    causes.sort();
    causes.dedup();
    assert_eq!(causes, ["create", "fail"]);

    // Paused, it hears of nothing more.
    let (status, paused) = app
        .put_json(
            &format!("/api/event_subscriptions/{id}"),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(paused["active"], false);
}

#[tokio::test]
async fn a_subscription_with_a_bad_filter_or_url_is_refused() {
    let app = app_with_quick_retries(None).await;
    for (body, message) in [
        (
            json!({"url": "https://hooks.example.com/x", "filter": "topic=weather"}),
            "Filter: ",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "filter": "limit=5"}),
            "conditions only",
        ),
        (
            json!({"url": "ftp://hooks.example.com/x"}),
            "http:// or https://",
        ),
        (json!({"filter": "topic=run"}), "Url can't be blank"),
        (json!({"url": "http://169.254.169.254/latest"}), "refused"),
    ] {
        let (status, answer) = app
            .post_json("/api/event_subscriptions", body.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let said = messages(&answer, "event-subscription").join("; ");
        assert!(said.contains(message), "{body}: {said}");
    }
}
