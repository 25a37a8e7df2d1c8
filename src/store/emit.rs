//! Writing an event: one row in the events table, in the transaction of the change it tells
//! of. Apart from `events.rs`, which reads them (and the records they name), so that the
//! writers of records need not import their readers.

use super::exec::{Executor, query};
use crate::domain::events::Topic;
use crate::error::Result;
use crate::time::Timestamp;

const INSERT: &str = "\
    INSERT INTO events (topic, subject_id, integration_id, integration_run_id, created_at) \
    VALUES ($1, $2, $3, $4, $5)";

/// Writes an event in the caller's transaction.
pub(super) async fn event(
    conn: &mut impl Executor,
    topic: Topic,
    subject_id: i64,
    integration_id: Option<i64>,
    integration_run_id: Option<i64>,
    at: Timestamp,
) -> Result<()> {
    query(INSERT)
        .bind(topic.as_str())
        .bind(subject_id)
        .bind(integration_id)
        .bind(integration_run_id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}
