//! A run as `runledger exec` tells the server about it: created and marked running before the
//! command starts, a heartbeat and its counts while it runs, and, once it ended, the calls
//! that record how ([`deliver`]), which a spooled run replays later with its real times.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::child::Outcome;
use super::client::{Client, Failure};
use super::counts::Counts;
use crate::domain::records::JOB_DOCUMENT_TYPE;

const RUNS: &str = "api/integration_runs";

/// The key of the run's `flow` that exec writes its heartbeat under; the rest of the flow
/// is left as the command or anyone else wrote it.
pub const FLOW_KEY: &str = "runledger-exec";

/// A run whose command has ended: everything needed to record it, now or later. This is
/// what a spool file holds, with how far its delivery got (`run-id`, `error-filed`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Finished {
    pub integration: String,
    /// The run on the server, once created.
    pub run_id: Option<i64>,
    /// When the command started and ended, as the wire writes datetimes.
    pub start_time: String,
    pub end_time: String,
    pub outcome: Outcome,
    pub counts: Counts,
    /// The last of the command's output, as text both formats can carry.
    pub output_tail: String,
    /// Whether the failure's integration error is filed.
    pub error_filed: bool,
    /// Whether that error alerts the integration's contacts (`--alert`).
    pub alert: bool,
}

/// Creates a pending run of `integration`; its id.
pub async fn create(
    client: &Client,
    integration: &str,
    times: Option<(&str, &str)>,
) -> Result<i64, Failure> {
    let mut body = json!({"integration": {"code": integration}});
    if let Some((start, end)) = times {
        body["start-time"] = start.into();
        body["end-time"] = end.into();
    }
    let run = client.send(Method::POST, RUNS, Some(&body), false).await?;
    run["id"]
        .as_i64()
        .ok_or_else(|| Failure::Later("the server's answer carries no run id".into()))
}

/// Marks the run running; the start time the server set.
pub async fn start(client: &Client, id: i64) -> Result<Option<String>, Failure> {
    let run = client
        .send(
            Method::PUT,
            &format!("{RUNS}/{id}/run"),
            Some(&json!({})),
            false,
        )
        .await?;
    Ok(run["start-time"].as_str().map(str::to_owned))
}

/// A heartbeat: the run's `flow` gets `{"runledger-exec": {"heartbeat-at": …, "heartbeats":
/// n}}` beside what it holds, so the run's `updated-at` moves, and the counts go with it.
pub async fn beat(
    client: &Client,
    id: i64,
    n: u64,
    at: &str,
    counts: Counts,
) -> Result<(), Failure> {
    let path = format!("{RUNS}/{id}");
    let run = client.send(Method::GET, &path, None, false).await?;
    let mut flow = run["flow"].as_object().cloned().unwrap_or_default();
    flow.insert(
        FLOW_KEY.into(),
        json!({"heartbeat-at": at, "heartbeats": n}),
    );
    let mut body = counts.fields();
    body.insert("flow".into(), Value::Object(flow));
    update(client, &path, body).await
}

/// Sends the counts as they are now.
pub async fn progress(client: &Client, id: i64, counts: Counts) -> Result<(), Failure> {
    update(client, &format!("{RUNS}/{id}"), counts.fields()).await
}

/// A PUT whose counts may be refused (processed over total, say): then it goes again
/// without them, since the rest (a heartbeat, the end of the run) matters more.
async fn update(client: &Client, path: &str, mut body: Map<String, Value>) -> Result<(), Failure> {
    let sent = client
        .send(Method::PUT, path, Some(&Value::Object(body.clone())), false)
        .await;
    match sent {
        Err(Failure::Refused(_))
            if body.contains_key("total-records") || body.contains_key("records-processed") =>
        {
            body.remove("total-records");
            body.remove("records-processed");
            client
                .send(Method::PUT, path, Some(&Value::Object(body)), false)
                .await
                .map(drop)
        }
        other => other.map(drop),
    }
}

/// Records how the run ended: creates it if the server never saw it (with its real times),
/// files the failure's integration error, and ends it with `finish` (exit 0) or `fail`.
/// `save` is told after each step, so that a spooled run never repeats one. `send_times`
/// sends the start and end times with the last step (a run the server did not watch).
pub async fn deliver(
    client: &Client,
    finished: &mut Finished,
    send_times: bool,
    save: &mut (dyn FnMut(&Finished) + Send),
) -> Result<i64, Failure> {
    let id = match finished.run_id {
        Some(id) => id,
        None => {
            let times = (finished.start_time.as_str(), finished.end_time.as_str());
            let id = create(client, &finished.integration, Some(times)).await?;
            finished.run_id = Some(id);
            save(finished);
            id
        }
    };
    if !finished.outcome.succeeded() && !finished.error_filed {
        file_error(client, finished, id).await?;
        finished.error_filed = true;
        save(finished);
    }
    let action = if finished.outcome.succeeded() {
        "finish"
    } else {
        "fail"
    };
    let mut body = finished.counts.fields();
    if send_times {
        body.insert("start-time".into(), finished.start_time.clone().into());
        body.insert("end-time".into(), finished.end_time.clone().into());
    }
    update(client, &format!("{RUNS}/{id}/{action}"), body).await?;
    Ok(id)
}

/// Files the integration error of a failed run: document type `Runledger::Job` (asked for
/// with `X-Runledger-Extensions: 1`), the outcome as its response code and the output's
/// tail as its response message. A server older than that type refuses it; the error then
/// goes without a document type, which Coupa allows for errors.
async fn file_error(client: &Client, finished: &Finished, id: i64) -> Result<(), Failure> {
    let path = if finished.alert {
        "api/integration_errors/create_alert"
    } else {
        "api/integration_errors"
    };
    let message = if finished.output_tail.is_empty() {
        format!("{}, printing nothing.", finished.outcome.describe())
    } else {
        finished.output_tail.clone()
    };
    let mut body = json!({
        "integration-run": {"id": id},
        "contact-alert-type": "Technical",
        "document-type": JOB_DOCUMENT_TYPE,
        "responses": [{"response-code": finished.outcome.code(), "response-message": message}],
    });
    match client.send(Method::POST, path, Some(&body), true).await {
        Err(Failure::Refused(_)) => {
            if let Some(fields) = body.as_object_mut() {
                fields.remove("document-type");
            }
            client
                .send(Method::POST, path, Some(&body), true)
                .await
                .map(drop)
        }
        other => other.map(drop),
    }
}
