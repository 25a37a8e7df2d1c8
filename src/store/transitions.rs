//! The transition log: written by every write to a run, in its transaction, and never
//! changed after (a trigger refuses an `UPDATE` of it on both backends).

use super::exec::{Executor, Row, query};
use super::paging::page_rows;
use super::sql::placeholders;
use super::{emit, rows};
use crate::domain::events::Topic;
use crate::domain::runs::{Run, Status};
use crate::domain::transitions::{Cause, Entry};
use crate::error::{Error, Result};
use crate::query::Query;
use crate::query::cursor::Page;
use crate::time::Timestamp;

const INSERT: &str = "\
    INSERT INTO integration_run_transitions (integration_run_id, integration_id, cause, \
    from_status, to_status, changes, created_at, created_by_id) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";

const SELECT: &str = "\
    SELECT t0.id, t0.integration_run_id, t0.integration_id, t0.cause, t0.from_status, \
    t0.to_status, t0.changes, t0.created_at, t0.created_by_id, cb.login AS created_by_login \
    FROM integration_run_transitions t0 \
    LEFT JOIN api_clients cb ON cb.id = t0.created_by_id";

/// Writes `entry` in the caller's transaction, with its event.
pub(super) async fn log(conn: &mut impl Executor, entry: &Entry) -> Result<()> {
    let id: i64 = query(INSERT)
        .bind(entry.integration_run_id)
        .bind(entry.integration_id)
        .bind(entry.cause.as_str())
        .bind(entry.from_status.map(Status::as_str))
        .bind(entry.to_status.as_str())
        .bind(&entry.changes)
        .bind(entry.created_at)
        .bind(entry.created_by.as_ref().map(|a| a.id))
        .scalar(conn)
        .await?;
    let (integration, run) = (entry.integration_id, entry.integration_run_id);
    emit::event(
        conn,
        Topic::Run,
        id,
        Some(integration),
        Some(run),
        entry.created_at,
    )
    .await
}

/// The entries with these ids, in id order.
pub(super) async fn by_ids(conn: &mut impl Executor, ids: &[i64]) -> Result<Vec<Entry>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let text = format!(
        "{SELECT} WHERE t0.id IN ({}) ORDER BY t0.id",
        placeholders(0, ids.len())
    );
    let rows = query(&text)
        .bind_all(ids.iter().copied())
        .fetch_all(conn)
        .await?;
    rows.iter().map(entry).collect()
}

/// Logs the write that took a run from `before` (none: it created it) to `after`.
pub(super) async fn log_write(
    conn: &mut impl Executor,
    before: Option<&Run>,
    after: &Run,
    cause: Cause,
    at: Timestamp,
) -> Result<()> {
    log(conn, &Entry::of_write(before, after, cause, at)).await
}

/// A page of the log, as the query (which may be held to one run) asks for it.
pub(super) async fn page(conn: &mut impl Executor, listing: &Query) -> Result<Page<Entry>> {
    let rows = page_rows(conn, "integration_run_transitions", SELECT, listing).await?;
    rows.try_map(entry)
}

fn entry(row: &Row) -> Result<Entry> {
    let status = |column: &str| -> Result<Option<Status>> {
        let text: Option<String> = row.get(column)?;
        text.map(|t| {
            Status::parse(&t)
                .ok_or_else(|| Error::Internal(format!("unknown {column} {t:?} in the database")))
        })
        .transpose()
    };
    let cause: String = row.get("cause")?;
    Ok(Entry {
        id: row.get("id")?,
        integration_run_id: row.get("integration_run_id")?,
        integration_id: row.get("integration_id")?,
        cause: Cause::parse(&cause)
            .ok_or_else(|| Error::Internal(format!("unknown cause {cause:?} in the database")))?,
        from_status: status("from_status")?,
        to_status: status("to_status")?
            .ok_or_else(|| Error::Internal("a transition without to_status".into()))?,
        changes: row.get("changes")?,
        created_at: row.get("created_at")?,
        created_by: rows::created_by(row)?,
    })
}
