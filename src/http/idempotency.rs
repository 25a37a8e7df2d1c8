//! `Idempotency-Key` on the routes the route table marks ([`crate::router::Route`]): a retry
//! of a write gets the first answer back instead of writing again (docs/api.md, "Beyond
//! Coupa").
//!
//! The layer sits inside the auth gate (a key is the caller's own) and in front of the
//! handler. A request without the header passes straight through, with no database access.
//! With one, the key is held on this node before the body is read, so a retry that arrives
//! while the first request is still being received, handled or answered meets it in flight
//! (409). The handler then runs with a claim on the key: its first write takes the key's
//! row in the write's own transaction ([`crate::store::claiming`]), so the key and the
//! effect commit together, and a request of another node that holds the key undoes the
//! write. The answer is stored after it goes out, while the key stays held on this node; an
//! answer without a write (a refusal) is stored before. A request that met the key held
//! gets what the key's row says ([`crate::domain::idempotency::standing`]).

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::Author;
use super::conditional::EXTENSIONS_HEADER;
use super::error::ErrorMessages;
use super::format::Format;
use crate::app::AppState;
use crate::domain::idempotency::{
    Answer, Busy, Fingerprint, Flight, Held, Identity, Key, Sent, Standing, kept, standing,
};
use crate::error::{Error, Result};
use crate::store::{Claim, Claimed, claiming};
use crate::workers::answers::Pending;

pub const KEY_HEADER: &str = "idempotency-key";

/// Marks an answer that a retry got back from its key (Stripe's name and value).
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// What the layer needs besides the application: the body limit it reads within.
#[derive(Clone)]
pub struct Keys {
    pub app: AppState,
    pub max_body_bytes: usize,
}

/// Runs a keyed request once per key: the first time through the handler, then from the
/// stored answer.
pub async fn guard(State(keys): State<Keys>, request: Request, next: Next) -> Result<Response> {
    let Some(key) = key_of(request.headers())? else {
        return Ok(next.run(request).await);
    };
    let identity = Identity {
        client_id: Author::of(request.extensions()).actor().map_or(0, |a| a.id),
        method: request.method().as_str().to_owned(),
        path: request.uri().path().to_owned(),
        key,
    };
    let app = &keys.app;
    // Released when the request ends, whatever ends it; once answered, when its answer is
    // stored.
    let Some(flight) = enter(app, identity).await else {
        return Ok(in_flight());
    };
    let (parts, body) = match read(request, keys.max_body_bytes).await {
        Ok(read) => read,
        Err(refusal) => return Ok(refusal),
    };
    let fingerprint = fingerprint_of(&parts, &body);
    let claim = Claim::new(flight.identity().clone(), app.clock.now(), app.idempotency);
    let request = Request::from_parts(parts, Body::from(body));
    let response = claiming(claim.clone(), next.run(request)).await;
    let status = response.status().as_u16();
    match claim.state() {
        Claimed::Held => met_held(app, flight.identity().clone(), fingerprint).await,
        Claimed::Taken(ticket) if kept(status) => {
            let (response, answer) = answer_of(response).await;
            flight.answered();
            // The write is committed and the answer goes out now; a retry meanwhile meets
            // the key held on this node, or its row without an answer on another (409).
            app.answers.store(Pending {
                ticket,
                fingerprint,
                answer,
                flight,
            });
            Ok(response)
        }
        Claimed::Taken(ticket) => {
            // Answered with a failure after a write (the write that took the key, then
            // another that failed): the key is freed, so the retry runs.
            if let Err(error) = app.store.free_key(ticket).await {
                tracing::error!(%error, "cannot free an idempotency key");
            }
            Ok(response)
        }
        Claimed::Open if kept(status) => {
            let identity = flight.identity().clone();
            let (response, answer) = answer_of(response).await;
            let now = app.clock.now();
            match app
                .store
                .keep_answer(identity.clone(), now, app.idempotency, fingerprint, answer)
                .await
            {
                Ok(true) => Ok(response),
                Ok(false) => met_held(app, identity, fingerprint).await,
                // Nothing was written: the answer goes out, and a retry runs again.
                Err(error) => {
                    tracing::error!(%error, "cannot keep an idempotency key's answer");
                    Ok(response)
                }
            }
        }
        Claimed::Open => Ok(response),
    }
}

/// How long a request waits for the answer of another with its key to be stored, at most;
/// it is a write in the next group commit, a few milliseconds away.
const ANSWER_WAIT: Duration = Duration::from_secs(2);

/// Holds the request's key on this node: at once, or once the answer of the request that
/// holds it is stored (a retry sent as soon as the first answer came). `None` while another
/// request is being received or handled with it.
async fn enter(app: &AppState, identity: Identity) -> Option<Flight> {
    let waited = Instant::now();
    loop {
        match app.flights.enter(identity.clone()) {
            Ok(flight) => return Some(flight),
            Err(Busy::Answering) if waited.elapsed() < ANSWER_WAIT => {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err(_) => return None,
        }
    }
}

/// The answer for a request that met its key held by another: what the key's row says.
async fn met_held(
    app: &AppState,
    identity: Identity,
    fingerprint: Fingerprint,
) -> Result<Response> {
    let Some(row) = app.store.key_row(identity).await? else {
        // Deleted since: expired a moment ago. The client's retry takes it.
        return Ok(in_flight());
    };
    let held = Held {
        taken_at: row.taken_at,
        answered: row.answer.is_some(),
    };
    match (
        standing(held, app.clock.now(), &app.idempotency),
        row.answer,
    ) {
        (Standing::Answered, Some((first, answer))) if first == fingerprint => Ok(replay(answer)),
        (Standing::Answered, Some(_)) => Err(Error::Unprocessable(
            "This Idempotency-Key was sent before with another request (its method, path, \
             query, Content-Type, Accept, X-Runledger-Extensions or body differed): send a \
             new key with a new request"
                .into(),
        )),
        (Standing::Lost, _) => Err(Error::Conflict(
            "The request with this Idempotency-Key was carried out, but its answer was lost \
             when the server stopped: read the record to see the outcome (a new key runs the \
             request again)"
                .into(),
        )),
        // Taken, answered or freed a moment ago, or its answer is on its way.
        _ => Ok(in_flight()),
    }
}

/// A handler's answer, and the same answer as kept for its key. The handlers' answers are
/// bodies in memory: reading one cannot fail or wait.
async fn answer_of(response: Response) -> (Response, Answer) {
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let answer = Answer {
        status: parts.status.as_u16(),
        content_type: parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: body.to_vec(),
        messages: parts.extensions.get::<ErrorMessages>().map(|m| m.0.clone()),
    };
    (Response::from_parts(parts, Body::from(body)), answer)
}

/// The request's key: `None` without the header; one header, well-formed, or a 400.
fn key_of(headers: &HeaderMap) -> Result<Option<Key>> {
    let mut values = headers.get_all(KEY_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Error::invalid(
            "Idempotency-Key is sent more than once: send it once",
        ));
    }
    Key::parse(value.as_bytes()).map(Some)
}

/// The request's head and its whole body, within the body limit. A refusal is the answer
/// itself: a 413 that `limits::enforce` names the limit in, or a 400 for a body cut short.
async fn read(request: Request, limit: usize) -> Result<(Parts, Bytes), Response> {
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(body) => Ok((parts, body)),
        Err(error) => {
            let too_large = std::error::Error::source(&error)
                .is_some_and(|e| e.is::<http_body_util::LengthLimitError>());
            Err(if too_large {
                StatusCode::PAYLOAD_TOO_LARGE.into_response()
            } else {
                Error::invalid("The request body could not be read in full").into_response()
            })
        }
    }
}

fn fingerprint_of(parts: &Parts, body: &[u8]) -> Fingerprint {
    let header = |name| {
        parts
            .headers
            .get(name)
            .map_or(&[][..], HeaderValue::as_bytes)
    };
    let format = match Format::negotiate(&parts.headers) {
        Format::Json => "json",
        Format::Xml => "xml",
    };
    Fingerprint::of(&Sent {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or_default(),
        content_type: header(CONTENT_TYPE.as_str()),
        format,
        extensions: header(EXTENSIONS_HEADER),
        body,
    })
}

/// A stored answer, marked as one. An error's body is written from its messages on the way
/// out, in the format the request asked for (the same as the first's: it is in the
/// fingerprint).
fn replay(answer: Answer) -> Response {
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if let Some(value) = answer
        .content_type
        .and_then(|t| HeaderValue::from_str(&t).ok())
    {
        headers.insert(CONTENT_TYPE, value);
    }
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    if let Some(messages) = answer.messages {
        response.extensions_mut().insert(ErrorMessages(messages));
    }
    response
}

/// 409: another request holds the key. Most requests take milliseconds, so a second.
fn in_flight() -> Response {
    let mut response = Error::Conflict(
        "A request with this Idempotency-Key is in progress: retry it in a moment".into(),
    )
    .into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}
