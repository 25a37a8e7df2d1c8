//! `Idempotency-Key` on the routes the route table marks ([`crate::router::Route`]): a retry
//! of a write gets the first answer back instead of writing again (docs/api.md, "Beyond
//! Coupa").
//!
//! The layer sits inside the auth gate (a key is the caller's own) and in front of the
//! handler. A request without the header passes straight through, with no database access.
//! With one, the key is taken before the body is read, so a retry that arrives while the
//! first request is still being received or handled meets it in flight (409). The answer is
//! stored, or the key freed, after the handler answers; what a key's row means is decided in
//! [`crate::domain::idempotency`].

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
use crate::domain::idempotency::{Answer, Fingerprint, Identity, Key, Sent, Taking, Ticket, kept};
use crate::error::{Error, Result};

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
    let store = &keys.app.store;
    let now = keys.app.clock.now();
    match store.take_key(identity, now, keys.app.idempotency).await? {
        Taking::InFlight => Ok(in_flight()),
        Taking::Answered {
            fingerprint,
            answer,
        } => {
            let (parts, body) = match read(request, keys.max_body_bytes).await {
                Ok(read) => read,
                Err(refusal) => return Ok(refusal),
            };
            if fingerprint == fingerprint_of(&parts, &body) {
                Ok(replay(answer))
            } else {
                Err(Error::Unprocessable(
                    "This Idempotency-Key was sent before with another request (its method, \
                     path, query, Content-Type, Accept, X-Runledger-Extensions or body \
                     differed): send a new key with a new request"
                        .into(),
                ))
            }
        }
        Taking::Taken(ticket) => {
            let hold = Hold {
                app: keys.app.clone(),
                ticket: Some(ticket),
            };
            let (parts, body) = match read(request, keys.max_body_bytes).await {
                Ok(read) => read,
                Err(refusal) => {
                    hold.free().await;
                    return Ok(refusal);
                }
            };
            let fingerprint = fingerprint_of(&parts, &body);
            // From here on the handler may write: only an answer frees the key.
            hold.keep();
            let response = next.run(Request::from_parts(parts, Body::from(body))).await;
            Ok(settle(&keys.app, ticket, fingerprint, response).await)
        }
    }
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

/// Stores the handler's answer for its key, or frees the key when the answer is not kept;
/// answers it either way. The answer is sent only once it is stored (and, on SQLite, synced),
/// so a client that got it will find it again.
async fn settle(
    app: &AppState,
    ticket: Ticket,
    fingerprint: Fingerprint,
    response: Response,
) -> Response {
    let status = response.status();
    if !kept(status.as_u16()) {
        free(app, ticket).await;
        return response;
    }
    let (parts, body) = response.into_parts();
    // The handlers' answers are bodies in memory: reading one cannot fail or wait.
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        free(app, ticket).await;
        return Error::Internal("a handler's answer could not be read".into()).into_response();
    };
    let answer = Answer {
        status: status.as_u16(),
        content_type: parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: body.to_vec(),
        messages: parts.extensions.get::<ErrorMessages>().map(|m| m.0.clone()),
    };
    match app.store.store_answer(ticket, fingerprint, answer).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            key = ticket.id,
            "an idempotency key was taken over before its answer was stored"
        ),
        // The write is done: its answer goes out; a retry finds the key in flight, and runs
        // again once the lease is over.
        Err(error) => {
            tracing::error!(key = ticket.id, %error, "cannot store an idempotency key's answer")
        }
    }
    Response::from_parts(parts, Body::from(body))
}

async fn free(app: &AppState, ticket: Ticket) {
    if let Err(error) = app.store.free_key(ticket).await {
        tracing::error!(key = ticket.id, %error, "cannot free an idempotency key");
    }
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

/// A key taken for a request whose handler has not started: freed if the request ends
/// before it does (its body never came, the client went away), so that nothing holds it.
struct Hold {
    app: AppState,
    ticket: Option<Ticket>,
}

impl Hold {
    async fn free(mut self) {
        if let Some(ticket) = self.ticket.take() {
            free(&self.app, ticket).await;
        }
    }

    /// The handler is about to run: only its answer decides the key from now on. A request
    /// dropped while it runs (the time limit) leaves the key in flight until the lease ends,
    /// since its write may still land.
    fn keep(mut self) {
        self.ticket = None;
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket.take() else {
            return;
        };
        // Dropped inside the runtime that ran the request; a drop anywhere else has no one
        // to free the key with, and the lease frees it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let app = self.app.clone();
            runtime.spawn(async move { free(&app, ticket).await });
        }
    }
}
