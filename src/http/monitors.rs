//! `/api/integrations/:id/monitor`: Runledger's own resource, one per integration. Coupa's
//! integration document is unchanged; the monitor lives beside it.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};

use super::format::Format;
use super::reply::Reply;
use super::{Id, Write};
use crate::app::AppState;
use crate::auth::secrets;
use crate::domain::monitor::Observed;
use crate::domain::monitor::fields::{MonitorFields, StoredMonitor};
use crate::error::Result;
use crate::query::Shape;
use crate::time;
use crate::view::monitors::node;

const ROOT: &str = "monitor";

pub async fn show(
    State(app): State<AppState>,
    format: Format,
    Id(id): Id,
    headers: HeaderMap,
) -> Result<Reply> {
    let (stored, seen) = app.store.monitor(id, fresh_ping_key()?).await?;
    Ok(answer(format, &headers, &stored, &seen))
}

pub async fn update(
    State(app): State<AppState>,
    Id(id): Id,
    headers: HeaderMap,
    write: Write,
) -> Result<Reply> {
    let fields = MonitorFields::parse(write.body())?;
    let (stored, seen) = app
        .store
        .update_monitor(id, fields, fresh_ping_key()?, write.author.actor())
        .await?;
    Ok(answer(write.format, &headers, &stored, &seen))
}

/// The monitor with its health as of now.
fn answer(format: Format, headers: &HeaderMap, stored: &StoredMonitor, seen: &Observed) -> Reply {
    let verdict = stored.monitor.evaluate(seen, time::now());
    let url = ping_url(headers, &stored.ping_key);
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

/// The ping URL as this request reached the server: its `Host`, and `https` when a proxy
/// says so in `X-Forwarded-Proto`.
fn ping_url(headers: &HeaderMap, key: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}/ping/{key}")
}
