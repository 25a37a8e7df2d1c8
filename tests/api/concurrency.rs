//! Concurrent clients against one server: racing status actions, creates and updates.
//!
//! Every request of a scenario is spawned first and released together through a barrier,
//! so they really reach the server at the same time.

use std::collections::BTreeSet;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::helpers::{TestApp, messages, spawn_app};

/// Runs `requests` concurrently, all released at once, and returns their answers in order.
async fn race<T, F, Fut>(app: &Arc<TestApp>, requests: Vec<T>, send: F) -> Vec<(StatusCode, Value)>
where
    T: Send + 'static,
    F: Fn(Arc<TestApp>, T) -> Fut,
    Fut: Future<Output = (StatusCode, Value)> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(requests.len()));
    let handles: Vec<_> = requests
        .into_iter()
        .map(|request| {
            let barrier = Arc::clone(&barrier);
            let call = send(Arc::clone(app), request);
            tokio::spawn(async move {
                barrier.wait().await;
                call.await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(handles.len());
    for handle in handles {
        answers.push(handle.await.expect("request task"));
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_racing_terminal_calls_leave_exactly_one_winner() {
    let app = Arc::new(spawn_app().await);
    app.create_integration("RACE").await;
    let mut winners = BTreeSet::new();
    for round in 0..5 {
        let id = app.create_run("RACE").await;
        let (status, body) = app
            .put_json(&format!("/api/integration_runs/{id}/run"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // Interleaved, so that neither action has a head start.
        let actions: Vec<&'static str> = (0..20)
            .map(|i| if i % 2 == 0 { "success" } else { "fail" })
            .collect();
        let answers = race(&app, actions.clone(), move |app, action| async move {
            app.put_json(&format!("/api/integration_runs/{id}/{action}"), None)
                .await
        })
        .await;

        let (_, shown) = app.get_json(&format!("/api/integration_runs/{id}")).await;
        let final_status = shown["status"].as_str().expect("status").to_owned();
        let (winner, loser) = match final_status.as_str() {
            "successful" => ("success", ("fail", "failed")),
            "failed" => ("fail", ("success", "successful")),
            other => panic!("round {round}: run {id} ended {other}: {shown}"),
        };
        winners.insert(final_status.clone());
        assert!(
            shown["end-time"].is_string(),
            "round {round}: a terminal run has an end-time: {shown}"
        );
        for (action, (status, body)) in actions.iter().zip(&answers) {
            if *action == winner {
                assert_eq!(
                    *status,
                    StatusCode::OK,
                    "round {round}: {action} on run {id} (the winning action): {body}"
                );
                // The first call moved the run; the repeats changed nothing.
                assert_eq!(
                    body, &shown,
                    "round {round}: every winning caller sees the run as it stays"
                );
            } else {
                assert_eq!(action, &loser.0);
                assert_eq!(
                    *status,
                    StatusCode::BAD_REQUEST,
                    "round {round}: {action} on run {id} after it became {final_status}: {body}"
                );
                assert_eq!(
                    messages(body, "integration-run"),
                    [format!(
                        "Cannot move an integration run from {final_status} to {}",
                        loser.1
                    )],
                    "round {round}"
                );
            }
        }
    }
    // Not asserted: which action wins is up to the scheduler.
    eprintln!("winning statuses over the rounds: {winners:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_creates_all_succeed() {
    let app = Arc::new(spawn_app().await);
    let integration = app.create_integration("BULK").await;
    let answers = race(&app, (0..200).collect(), |app, n: i64| async move {
        app.post_json(
            "/api/integration_runs",
            json!({"integration": {"code": "BULK"}, "total-records": n}),
        )
        .await
    })
    .await;

    let mut created = BTreeSet::new();
    for (n, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, StatusCode::CREATED, "create {n}: {body}");
        assert_eq!(body["status"], "pending", "{body}");
        assert_eq!(
            body["total-records"], n,
            "each caller gets its own run: {body}"
        );
        assert_eq!(body["integration"]["id"], integration["id"], "{body}");
        created.insert(body["id"].as_i64().expect("run id"));
    }
    assert_eq!(created.len(), 200, "200 distinct ids");

    // Keyset paging over the index finds exactly those runs, each once, in id order.
    let mut listed = Vec::new();
    let mut last = 0;
    for _ in 0..10 {
        let (status, page) = app
            .get_json(&format!("/api/integration_runs?limit=50&id[gt]={last}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let page = page.as_array().expect("an array of runs").clone();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 50, "a page holds at most 50 runs");
        for run in &page {
            let id = run["id"].as_i64().expect("run id");
            assert!(id > last, "ids ascend across pages");
            last = id;
            listed.push(id);
        }
    }
    assert_eq!(listed.len(), 200, "paging lists every run once");
    assert_eq!(listed.into_iter().collect::<BTreeSet<_>>(), created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_records_processed_updates_all_succeed_and_one_of_them_stays() {
    let app = Arc::new(spawn_app().await);
    app.create_integration("COUNT").await;
    let (status, run) = app
        .post_json(
            "/api/integration_runs",
            json!({"integration": {"code": "COUNT"}, "total-records": 1000}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let id = run["id"].as_i64().expect("run id");
    let path = format!("/api/integration_runs/{id}");
    let (status, started) = app.put_json(&format!("{path}/run"), None).await;
    assert_eq!(status, StatusCode::OK, "{started}");

    let sent: Vec<i64> = (1..=30).map(|n| n * 10).collect();
    let answers = race(&app, sent.clone(), move |app, n| async move {
        app.json(
            Method::PATCH,
            &format!("/api/integration_runs/{id}"),
            Some(json!({"records-processed": n})),
        )
        .await
    })
    .await;
    for (n, (status, body)) in sent.iter().zip(&answers) {
        assert_eq!(
            *status,
            StatusCode::OK,
            "PATCH records-processed={n}: {body}"
        );
        assert_eq!(
            body["records-processed"], *n,
            "each update answers with the run as it wrote it"
        );
        assert_eq!(
            body["status"], "running",
            "an update leaves the status alone"
        );
        assert_eq!(body["total-records"], 1000);
    }

    let (status, shown) = app.get_json(&path).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    let last = shown["records-processed"]
        .as_i64()
        .expect("records-processed");
    assert!(sent.contains(&last), "{last} is one of the values sent");
    assert_eq!(shown["status"], "running");
    assert_eq!(shown["total-records"], 1000);
    assert_eq!(
        shown["start-time"], started["start-time"],
        "start-time is untouched"
    );
}
