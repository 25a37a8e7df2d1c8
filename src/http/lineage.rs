//! OpenLineage intake (`/api/v1/lineage`, `/api/v1/lineage/batch`): the events of jobs run by
//! Airflow, dbt, Spark and anything else an OpenLineage client reports, answered as the
//! spec's reference backend (Marquez) and its OpenAPI answer; and a run's lineage as
//! Runledger keeps it (`/api/v1/lineage/runs/:runId`, `/api/v1/lineage/events/:id`).
//!
//! The routes speak JSON only: a body of another type is a 415, and errors (in Coupa's
//! format) are JSON unless `Accept` asks for XML.

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Id;
use super::auth::Author;
use super::format::{Format, essence};
use super::reply::Reply;
use crate::app::AppState;
use crate::domain::lineage::{Intake, RunId};
use crate::error::{Error, Result};
use crate::query::Shape;
use crate::store::Receipt;
use crate::time;
use crate::view::lineage::node;

/// Whether `path` is one of the OpenLineage routes (JSON by default).
pub fn is_lineage(path: &str) -> bool {
    path == "/api/v1/lineage" || path.starts_with("/api/v1/lineage/")
}

/// `POST /api/v1/lineage`: one event. 201 with an empty body, as Marquez answers; an event
/// received before (same run, type and time) is answered the same and changes nothing.
pub async fn create(State(app): State<AppState>, request: Request) -> Result<Response, Response> {
    let author = Author::of(request.extensions());
    let body = read(request).await?;
    one(&app, &author, &body)
        .await
        .map_err(IntoResponse::into_response)
}

async fn one(app: &AppState, author: &Author, body: &Value) -> Result<Response> {
    if body.is_array() {
        return Err(Error::invalid(
            "The body must be one event, a JSON object: send a list of events to \
             /api/v1/lineage/batch",
        ));
    }
    let intake = Intake::parse(body)?;
    app.store
        .lineage_event(intake, receipt(app, author, body))
        .await?;
    Ok(StatusCode::CREATED.into_response())
}

/// `POST /api/v1/lineage/batch`: a JSON array of events, each received on its own (its own
/// transaction), as the spec's batch endpoint does: one refused event does not refuse the
/// others. The answer is the spec's processing details (200); when no event was taken, it is
/// the error of the first that failed for the server (500), or else a 400 listing each
/// refused event's problems.
pub async fn batch(State(app): State<AppState>, request: Request) -> Result<Response, Response> {
    let author = Author::of(request.extensions());
    let body = read(request).await?;
    many(&app, &author, body)
        .await
        .map_err(IntoResponse::into_response)
}

async fn many(app: &AppState, author: &Author, body: Value) -> Result<Response> {
    let Value::Array(events) = body else {
        return Err(Error::invalid(
            "The body must be a JSON array of OpenLineage events",
        ));
    };
    let mut failed = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let received = match Intake::parse(event) {
            Ok(intake) => {
                app.store
                    .lineage_event(intake, receipt(app, author, event))
                    .await
            }
            Err(refused) => Err(refused),
        };
        if let Err(error) = received {
            failed.push((index, error));
        }
    }
    if !failed.is_empty() && failed.len() == events.len() {
        if let Some(at) = failed.iter().position(|(_, e)| retriable(e)) {
            return Err(failed.swap_remove(at).1);
        }
        let messages = failed
            .into_iter()
            .flat_map(|(index, error)| {
                error
                    .messages()
                    .into_iter()
                    .map(move |m| format!("Event {index}: {m}"))
            })
            .collect();
        return Err(Error::Invalid(messages));
    }
    let retries = failed.iter().filter(|(_, e)| retriable(e)).count();
    let failed_events: Vec<Value> = failed
        .into_iter()
        .map(|(index, error)| {
            let retry = retriable(&error);
            if error.is_internal() {
                tracing::error!(%error, index, "a lineage event of a batch failed");
            }
            json!({"index": index, "reason": error.messages().join("; "), "retriable": retry})
        })
        .collect();
    let details = json!({
        "status": if failed_events.is_empty() { "success" } else { "partial_success" },
        "summary": {
            "received": events.len(),
            "successful": events.len() - failed_events.len(),
            "failed": failed_events.len(),
            "retriable": retries,
            "non_retriable": failed_events.len() - retries,
        },
        "failed_events": failed_events,
    });
    Ok((
        StatusCode::OK,
        [(CONTENT_TYPE, Format::Json.content_type())],
        details.to_string(),
    )
        .into_response())
}

/// Whether sending the event again may succeed: the server's failure or a lost race, not a
/// refusal of the event.
fn retriable(error: &Error) -> bool {
    error.is_internal() || matches!(error, Error::Conflict(_))
}

/// `GET /api/v1/lineage/runs/:runId`: a run's lineage, JSON unless `Accept` asks for XML.
pub async fn show(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(run_id): Path<String>,
) -> Result<Reply> {
    let run_id = RunId::parse(&run_id).ok_or_else(|| {
        Error::NotFound(format!("Couldn't find a lineage run with runId {run_id}"))
    })?;
    let view = app.store.lineage_run(run_id).await?;
    let format = Format::negotiate_or(&headers, Format::Json);
    Ok(Reply::one(
        StatusCode::OK,
        format,
        Shape::default(),
        "lineage-run",
        node(&view),
    ))
}

/// `GET /api/v1/lineage/events/:id`: an event as it was received (re-serialized JSON).
pub async fn event(State(app): State<AppState>, Id(id): Id) -> Result<Response> {
    let stored = app.store.lineage_event_body(id).await?;
    let raw = stored
        .raw
        .ok_or_else(|| Error::Internal(format!("lineage event {id} has no body")))?;
    Ok(([(CONTENT_TYPE, Format::Json.content_type())], raw).into_response())
}

/// How an event of this request is received: its body as JSON text, now.
fn receipt(app: &AppState, author: &Author, event: &Value) -> Receipt {
    Receipt {
        raw: event.to_string(),
        actor: author.actor().cloned(),
        now: time::now(),
        create_integrations: app.lineage_create_integrations,
    }
}

/// The body as JSON: uncompressed, of a JSON type (or none), within the body limit; a
/// refusal is the answer.
async fn read(request: Request) -> Result<Value, Response> {
    let headers = request.headers();
    if let Some(coding) = headers.get(CONTENT_ENCODING) {
        let coding = coding.to_str().unwrap_or("unreadable").trim();
        if !coding.eq_ignore_ascii_case("identity") {
            // RFC 9110 §15.5.16: an unsupported content coding is a 415.
            return Err(Error::UnsupportedMediaType(format!(
                "Content-Encoding '{coding}' is not supported: send the events uncompressed \
                 (leave the client's compression off)"
            ))
            .into_response());
        }
    }
    if let Some(content_type) = headers.get(CONTENT_TYPE) {
        let essence = essence(content_type.to_str().unwrap_or("unreadable"));
        if !(essence.ends_with("/json") || essence.ends_with("+json")) {
            return Err(Error::UnsupportedMediaType(format!(
                "Unsupported content type '{essence}': OpenLineage events are sent as \
                 application/json"
            ))
            .into_response());
        }
    }
    // Over the body limit, this is axum's 413, which the error renderer dresses.
    let body = Bytes::from_request(request, &())
        .await
        .map_err(IntoResponse::into_response)?;
    serde_json::from_slice(&body).map_err(|e| {
        Error::invalid(format!(
            "Invalid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
        .into_response()
    })
}
