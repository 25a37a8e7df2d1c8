//! `/api/integrations/:id/monitor`: Runledger's own resource, one per integration. Coupa's
//! integration document is unchanged; the monitor lives beside it.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};

use super::format::Format;
use super::reply::Reply;
use super::{Id, Write};
use crate::app::AppState;
use crate::auth::secrets;
use crate::domain::monitor::Health;
use crate::domain::monitor::Observed;
use crate::domain::monitor::fields::{MonitorFields, StoredMonitor};
use crate::error::{Error, Result};
use crate::query::{MAX_LIMIT, Shape, params};
use crate::time::Timestamp;
use crate::view::monitors::{flip_node, node, stored_node};

const ROOT: &str = "monitor";

pub async fn show(
    State(app): State<AppState>,
    format: Format,
    Id(id): Id,
    headers: HeaderMap,
) -> Result<Reply> {
    let now = app.clock.now();
    let (stored, seen) = app.store.monitor(id, fresh_ping_key()?, now).await?;
    Ok(answer(&app, format, &headers, &stored, &seen, now))
}

pub async fn update(
    State(app): State<AppState>,
    Id(id): Id,
    headers: HeaderMap,
    write: Write,
) -> Result<Reply> {
    let fields = MonitorFields::parse(write.body())?;
    let now = app.clock.now();
    let (stored, seen) = app
        .store
        .update_monitor(id, fields, fresh_ping_key()?, write.author.actor(), now)
        .await?;
    // The sweeper takes the new settings from here.
    app.sweeper_wake();
    Ok(answer(&app, write.format, &headers, &stored, &seen, now))
}

/// `GET /api/integrations/:id/monitor/flips`: its changes of health, newest first.
pub async fn flips(
    State(app): State<AppState>,
    format: Format,
    Id(id): Id,
    RawQuery(query): RawQuery,
) -> Result<Reply> {
    let page = Page::parse(query.as_deref())?;
    let flips = app.store.flips(id, page.limit, page.offset).await?;
    Ok(Reply::many(
        format,
        Shape::default(),
        "monitor-flips",
        "monitor-flip",
        flips.iter().map(flip_node).collect(),
    ))
}

/// `GET /api/monitors`: every monitor with the health the sweeper last recorded, filtered by
/// `health=down` (or several, `health=down,late`).
pub async fn index(
    State(app): State<AppState>,
    format: Format,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Reply> {
    let page = Page::parse(query.as_deref())?;
    let monitors = app
        .store
        .monitors(&page.health, page.limit, page.offset)
        .await?;
    Ok(Reply::many(
        format,
        Shape::default(),
        "monitors",
        ROOT,
        monitors
            .iter()
            .map(|m| stored_node(m, &ping_url(&app, &headers, &m.ping_key)))
            .collect(),
    ))
}

/// `limit` (at most 50), `offset` and `health` of Runledger's own indexes; anything else is
/// refused, so that a mistyped filter never reads as "everything".
struct Page {
    limit: i64,
    offset: i64,
    health: Vec<Health>,
}

impl Page {
    fn parse(query: Option<&str>) -> Result<Page> {
        let mut page = Page {
            limit: MAX_LIMIT,
            offset: 0,
            health: Vec::new(),
        };
        for (key, value) in params::parse(query.unwrap_or_default())? {
            let number = || {
                value
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| {
                        Error::invalid(format!("{key} must be a whole number, not '{value}'"))
                    })
            };
            match key.as_str() {
                "limit" => page.limit = number()?.min(MAX_LIMIT),
                "offset" => page.offset = number()?,
                "health" => {
                    for word in value.split(',') {
                        let health = Health::parse(word.trim()).ok_or_else(|| {
                            Error::invalid(format!(
                                "health '{word}' is not one of new, up, late, down, running, paused"
                            ))
                        })?;
                        page.health.push(health);
                    }
                }
                other => {
                    return Err(Error::invalid(format!(
                        "'{other}' is not a parameter of this index (limit, offset, health)"
                    )));
                }
            }
        }
        Ok(page)
    }
}

/// The monitor with its health as of now.
fn answer(
    app: &AppState,
    format: Format,
    headers: &HeaderMap,
    stored: &StoredMonitor,
    seen: &Observed,
    now: Timestamp,
) -> Reply {
    let verdict = stored.monitor.evaluate(seen, now);
    let url = ping_url(app, headers, &stored.ping_key);
    Reply::one(
        StatusCode::OK,
        format,
        Shape::default(),
        ROOT,
        node(stored, &verdict, &url),
    )
}

/// A ping key: 32 hex digits from 16 random bytes, the secret of the monitor's ping URL. Made
/// for every read, kept only by the first.
fn fresh_ping_key() -> Result<String> {
    let bytes = secrets::random_bytes(16)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The ping URL under the server's root as people reach it ([`super::base_url`]).
fn ping_url(app: &AppState, headers: &HeaderMap, key: &str) -> String {
    let base = super::base_url(app.public_url.as_deref(), headers);
    format!("{base}/ping/{key}")
}
