//! The event stream (`GET /api/events`, Server-Sent Events): every change of runs, errors
//! and health, filtered with the query language, resumed with `Last-Event-ID` without loss,
//! and the same on every node of one database.

use std::time::Duration;

use reqwest::StatusCode;
use runledger::startup::Application;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::helpers::{TestApp, spawn_app};

/// How long a test waits for events it expects before it fails (a bound, not a pause).
const PATIENCE: Duration = Duration::from_secs(20);

/// One received event.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) id: i64,
    pub(crate) topic: String,
    pub(crate) data: Value,
}

/// An open stream, read as the events arrive (also used by `bulk.rs`).
pub(crate) struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    pub(crate) async fn open(app: &TestApp, base: &str, query: &str, last: Option<i64>) -> Stream {
        let mut request = app
            .client
            .get(format!("{base}/api/events{query}"))
            .header("Accept", "text/event-stream");
        if let Some(last) = last {
            request = request.header("Last-Event-ID", last.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Stream {
            response,
            buffer: String::new(),
        }
    }

    /// The next `n` events (keep-alive comments skipped).
    pub(crate) async fn take(&mut self, n: usize) -> Vec<Received> {
        let mut got = Vec::new();
        let read = async {
            while got.len() < n {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    if let Some(event) = parse(&block) {
                        got.push(event);
                    }
                    continue;
                }
                let chunk = self
                    .response
                    .chunk()
                    .await
                    .unwrap()
                    .expect("the stream is open");
                self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        };
        tokio::time::timeout(PATIENCE, read)
            .await
            .unwrap_or_else(|_| panic!("{n} events did not come; got {got:?}"));
        got
    }
}

fn parse(block: &str) -> Option<Received> {
    let (mut id, mut topic, mut data) = (None, None, String::new());
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("id: ") {
            id = v.parse().ok();
        } else if let Some(v) = line.strip_prefix("event: ") {
            topic = Some(v.to_owned());
        } else if let Some(v) = line.strip_prefix("data: ") {
            data.push_str(v);
        }
    }
    let topic = topic?;
    Some(Received {
        id: id.unwrap_or(0),
        topic,
        data: serde_json::from_str(&data).unwrap_or(Value::Null),
    })
}

fn causes(events: &[Received]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e.topic.as_str() {
            "run" => e.data["transition"]["cause"].as_str().unwrap().to_owned(),
            other => other.to_owned(),
        })
        .collect()
}

async fn act(app: &TestApp, run: i64, action: &str) {
    let (status, body) = app
        .put_json(&format!("/api/integration_runs/{run}/{action}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_stream_carries_each_change_of_runs_errors_and_health_as_it_happens() {
    let app = spawn_app().await;
    let mut stream = Stream::open(&app, &app.address, "", None).await;
    app.create_integration("STREAMED").await;
    let run = app.create_run("STREAMED").await;
    act(&app, run, "run").await;
    app.file_error(run, "Invoice", false).await;
    act(&app, run, "finish").await;
    let events = stream.take(4).await;
    assert_eq!(
        causes(&events),
        ["create", "run", "integration-error", "finish"]
    );
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let finished = &events[3].data;
    assert_eq!(finished["id"], events[3].id);
    assert_eq!(finished["topic"], "run");
    assert_eq!(finished["integration-run-id"], run);
    assert_eq!(finished["transition"]["to-status"], "failed");
    let error = &events[2].data["integration-error"];
    assert_eq!(error["integration-run"]["id"], run);
    assert_eq!(error["document-type"], "Invoice");

    // A monitor's change of health is an event too.
    let id = events[0].data["integration-id"].as_i64().unwrap();
    let monitor = json!({"schedule-kind": "interval", "schedule": 3600, "start-grace": 60});
    app.put_json(&format!("/api/integrations/{id}/monitor"), Some(monitor))
        .await;
    app.sweep().await;
    let health = stream.take(1).await;
    assert_eq!(health[0].topic, "health");
    assert_eq!(health[0].data["flip"]["to"], "down");
}

#[tokio::test]
async fn a_filter_in_the_query_language_holds_back_every_other_event() {
    let app = spawn_app().await;
    app.create_integration("WANTED").await;
    app.create_integration("NOISE").await;
    let query = "?topic=run&integration[code]=wanted&created_at[gt]=2000-01-01T00:00:00Z";
    let mut stream = Stream::open(&app, &app.address, query, None).await;
    let noise = app.create_run("NOISE").await;
    let wanted = app.create_run("WANTED").await;
    app.file_error(wanted, "Invoice", false).await;
    act(&app, noise, "fail").await;
    act(&app, wanted, "success").await;
    let events = stream.take(2).await;
    assert_eq!(causes(&events), ["create", "success"]);
    assert!(
        events
            .iter()
            .all(|e| e.data["integration-run-id"] == wanted)
    );

    for bad in ["?colour=red", "?topic=weather", "?limit=5", "?order_by=id"] {
        let response = app
            .client
            .get(app.url(&format!("/api/events{bad}")))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn a_filter_decided_in_memory_passes_the_same_events_as_one_the_database_decides() {
    let app = spawn_app().await;
    let wanted = app.create_integration("KEPT").await["id"].as_i64().unwrap();
    app.create_integration("OTHER").await;
    // The first names only the event's own columns (decided by the hub in memory); the
    // second goes through an association (decided by the database); both mean the same.
    let by_columns = format!("?integration_id[in]={wanted},999999&topic[not_eq]=health");
    let by_association = "?integration[code]=kept&topic[in]=run,integration-error";
    let mut in_memory = Stream::open(&app, &app.address, &by_columns, None).await;
    let mut in_database = Stream::open(&app, &app.address, by_association, None).await;
    let other = app.create_run("OTHER").await;
    let kept = app.create_run("KEPT").await;
    app.file_error(kept, "Invoice", false).await;
    act(&app, other, "fail").await;
    act(&app, kept, "finish").await;
    let (a, b) = (in_memory.take(3).await, in_database.take(3).await);
    assert_eq!(causes(&a), ["create", "integration-error", "finish"]);
    let ids = |events: &[Received]| events.iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
}

#[tokio::test]
async fn a_dropped_stream_resumes_after_its_last_event_and_loses_none() {
    let app = spawn_app().await;
    app.create_integration("RESUMED").await;
    let mut stream = Stream::open(&app, &app.address, "?topic=run", None).await;
    let run = app.create_run("RESUMED").await;
    act(&app, run, "run").await;
    let seen = stream.take(2).await;
    drop(stream);
    // Changes while no one listens.
    for n in 1..=5 {
        app.put_json(
            &format!("/api/integration_runs/{run}"),
            Some(json!({"records-processed": n})),
        )
        .await;
    }
    act(&app, run, "success").await;
    let last = seen[1].id;
    let mut resumed = Stream::open(&app, &app.address, "?topic=run", Some(last)).await;
    let rest = resumed.take(6).await;
    assert_eq!(
        causes(&rest),
        ["update", "update", "update", "update", "update", "success"]
    );
    assert!(rest.iter().all(|e| e.id > last));
    // And it goes on live after the catch-up.
    let other = app.create_run("RESUMED").await;
    let live = resumed.take(1).await;
    assert_eq!(live[0].data["integration-run-id"], other);
}

#[tokio::test]
async fn a_resume_from_an_event_that_never_was_is_a_400_and_a_deleted_one_says_gap() {
    let app = spawn_app().await;
    app.create_integration("GAPPED").await;
    let mut stream = Stream::open(&app, &app.address, "", None).await;
    app.create_run("GAPPED").await;
    let first = stream.take(1).await[0].id;
    for bad in ["999999", "abc", "-1"] {
        let response = app
            .client
            .get(app.url("/api/events"))
            .header("Last-Event-ID", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    app.execute_sql(&format!("DELETE FROM events WHERE id <= {first}"))
        .await;
    let run = app.create_run("GAPPED").await;
    let mut resumed = Stream::open(&app, &app.address, "", Some(first)).await;
    let events = resumed.take(2).await;
    assert_eq!(events[0].topic, "gap");
    assert_eq!(events[1].data["integration-run-id"], run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_node_streams_every_nodes_events_and_a_resume_on_another_node_loses_none() {
    let app = spawn_app().await;
    app.create_integration("CLUSTER").await;
    // A second node on the same database.
    let other = Application::build(app.settings())
        .await
        .expect("second node");
    let other_address = format!("http://{}", other.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let node = tokio::spawn(other.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let mut on_other = Stream::open(&app, &other_address, "?topic=run", None).await;
    let run = app.create_run("CLUSTER").await;
    act(&app, run, "run").await;
    let seen = on_other.take(2).await;
    assert_eq!(causes(&seen), ["create", "run"]);
    drop(on_other);
    for n in 1..=10 {
        app.put_json(
            &format!("/api/integration_runs/{run}"),
            Some(json!({"records-processed-increment": n})),
        )
        .await;
    }
    act(&app, run, "success").await;
    // Resumed on the first node after the last event the second one sent.
    let mut resumed = Stream::open(&app, &app.address, "?topic=run", Some(seen[1].id)).await;
    let rest = resumed.take(11).await;
    let mut count = Value::Null;
    for event in &rest[..10] {
        let change = &event.data["transition"]["changes"][0];
        assert_eq!(change["from"], count, "{event:?}");
        count = change["to"].clone();
    }
    assert_eq!(count, 55);
    assert_eq!(causes(&rest[10..]), ["success"]);
    let _ = stop.send(());
    node.await.unwrap().unwrap();
}
