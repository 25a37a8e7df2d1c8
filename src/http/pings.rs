//! Ping URLs (`/ping/<key>[/start|/fail|/log|/<exit-status>][?rid=…]`, by GET, HEAD or POST)
//! and the ping log (`/api/integrations/:id/monitor/pings`).
//!
//! A ping URL answers as healthchecks.io's does, so that a job wired to it switches by its
//! base URL alone: plain text (`OK`, `not found`, the reason of a 400), and
//! `Ping-Body-Limit` on every answer. The key in the URL is the only credential, so these
//! routes stand outside `/api` and its gate.

use std::borrow::Cow;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, USER_AGENT};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::Id;
use super::error::{Rendered, status};
use super::format::Format;
use super::paging::Listing;
use super::reply::Reply;
use crate::app::AppState;
use crate::domain::pings::{BODY_LIMIT, MAX_USER_AGENT, Ping, Rid, Signal, capture, header_text};
use crate::error::{Error, Result};
use crate::query::schema::MONITOR_PINGS;
use crate::time;
use crate::view::pings::node;

/// The header that announces how much of a body a ping keeps, as healthchecks.io names it.
pub const BODY_LIMIT_HEADER: &str = "ping-body-limit";

/// How much of a body past [`BODY_LIMIT`] is read and dropped, so that a client that sends a
/// little more than the limit still reads its answer on an open connection; past this, the
/// connection is closed instead of reading on.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// `/ping/<key>` and `/ping/<key>/<signal>`: every shape, every method.
pub async fn ping(State(app): State<AppState>, request: Request) -> Response {
    match receive(&app, request).await {
        Ok(()) => answer(StatusCode::OK, "OK"),
        Err(Error::NotFound(_)) => answer(StatusCode::NOT_FOUND, "not found"),
        Err(error) => {
            let code = status(&error);
            if code.is_server_error() {
                tracing::error!(%error, "ping failed");
                answer(code, "internal error")
            } else {
                answer(code, &error.messages().join("; "))
            }
        }
    }
}

async fn receive(app: &AppState, request: Request) -> Result<()> {
    let (key, segment) = key_and_segment(request.uri().path());
    let signal = Signal::parse(segment)?;
    let rid = rid(request.uri().query())?;
    if !is_key(key) {
        // The store would find nothing either; the answer is the same.
        return Err(Error::NotFound("not found".into()));
    }
    let key = key.to_owned();
    let user_agent = request
        .headers()
        .get(USER_AGENT)
        .and_then(|v| header_text(v.as_bytes(), MAX_USER_AGENT));
    let body = match *request.method() {
        Method::POST => capture(&read_body(request.into_body()).await),
        _ => None,
    };
    let ping = Ping {
        signal,
        rid,
        body,
        user_agent,
    };
    app.store.ping(key, ping, time::now()).await?;
    Ok(())
}

/// The key and what follows it, from `/ping/<key>[/<segment>]`.
fn key_and_segment(path: &str) -> (&str, Option<&str>) {
    let rest = path.strip_prefix("/ping/").unwrap_or_default();
    match rest.split_once('/') {
        Some((key, segment)) => (key, Some(segment)),
        None => (rest, None),
    }
}

/// A ping key as monitors are given them: 32 lower-case hex digits.
fn is_key(key: &str) -> bool {
    key.len() == 32 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The `rid` of the query (the last one, as Rack reads a repeated key); other parameters are
/// ignored, as healthchecks.io ignores them.
fn rid(query: Option<&str>) -> Result<Option<Rid>> {
    let Some(query) = query else {
        return Ok(None);
    };
    form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key == "rid")
        .last()
        .map(|(_, value)| Rid::parse(&value))
        .transpose()
}

/// The body's first [`BODY_LIMIT`] bytes. The rest is read and dropped up to
/// [`DRAIN_LIMIT`]; a body that breaks off keeps what arrived.
async fn read_body(mut body: Body) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while seen <= DRAIN_LIMIT {
        let Some(Ok(frame)) = body.frame().await else {
            break;
        };
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            let room = BODY_LIMIT.saturating_sub(kept.len());
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    kept
}

/// A plain-text answer with the body limit, left as it is by the error renderer.
fn answer(code: StatusCode, text: &str) -> Response {
    let mut response = (
        code,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_owned(),
    )
        .into_response();
    response
        .headers_mut()
        .insert(BODY_LIMIT_HEADER, HeaderValue::from(BODY_LIMIT));
    response.extensions_mut().insert(Rendered);
    response
}

/// A path as the request log shows it: a ping URL without its key, which is its secret.
pub fn logged_path(path: &str) -> Cow<'_, str> {
    match path.strip_prefix("/ping/") {
        Some(rest) => match rest.split_once('/') {
            Some((_, segment)) => Cow::Owned(format!("/ping/…/{segment}")),
            None => Cow::Borrowed("/ping/…"),
        },
        None => Cow::Borrowed(path),
    }
}

/// `GET /api/integrations/:id/monitor/pings`: the ping log, newest first unless `order_by`
/// or `dir` says otherwise, paged and filtered like any index.
pub async fn index(
    State(app): State<AppState>,
    format: Format,
    Id(id): Id,
    listing: Listing,
) -> Result<Reply> {
    let mut query = listing.query_newest_first(&MONITOR_PINGS)?;
    query.hold(&MONITOR_PINGS, "integration_id", id)?;
    let page = app.store.pings(id, &query).await?;
    let nodes = page.items.iter().map(node).collect();
    Ok(Reply::many(
        format,
        query.shape.clone(),
        "monitor-pings",
        "monitor-ping",
        nodes,
    )
    .with_headers(listing.headers(&query, &page)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ping_path_splits_into_its_key_and_segment() {
        assert_eq!(key_and_segment("/ping/abc"), ("abc", None));
        assert_eq!(key_and_segment("/ping/abc/start"), ("abc", Some("start")));
        assert!(is_key("0123456789abcdef0123456789abcdef"));
        assert!(!is_key("0123456789ABCDEF0123456789abcdef"));
        assert!(!is_key("0123"));
    }

    #[test]
    fn the_log_never_shows_a_ping_key() {
        assert_eq!(logged_path("/ping/0123/start"), "/ping/…/start");
        assert_eq!(logged_path("/ping/0123"), "/ping/…");
        assert_eq!(logged_path("/api/integrations"), "/api/integrations");
    }

    #[test]
    fn the_last_rid_counts_and_others_are_ignored() {
        assert_eq!(rid(None).unwrap(), None);
        assert_eq!(rid(Some("x=1")).unwrap(), None);
        assert_eq!(rid(Some("rid=a&rid=b")).unwrap().unwrap().as_str(), "b");
        assert!(rid(Some("rid=")).is_err());
        assert!(rid(Some("rid=a%20b")).is_err());
    }
}
