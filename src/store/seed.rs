//! The rows `runledger seed` writes ([`crate::seeder`]), the JSON arrays the bulk insert
//! reads them from, and the bulk insert: storage's own types, so that storage never imports
//! the seeding CLI.

use async_trait::async_trait;

use super::SeedStore;
use super::backend::{Backend, SqlStore};
use super::exec::{Executor, query};
use crate::domain::runs::Status;
use crate::error::Result;
use crate::time::Timestamp;

/// One run to write, with its error if it has one.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedRun {
    pub integration_id: i64,
    pub status: Status,
    pub created_at: Timestamp,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
    pub total_records: Option<i64>,
    pub records_processed: Option<i64>,
    /// `(document type, document id, resolved)`.
    pub error: Option<(&'static str, i64, bool)>,
}

/// `runs` as the JSON array the stores' bulk insert reads: one
/// `[integration_id, status, start_time, end_time, total_records, records_processed,
/// created_at, updated_at]` per run, times in epoch seconds.
pub fn runs_json(runs: &[SeedRun]) -> String {
    let secs = |t: Option<Timestamp>| t.map(|t| t.timestamp());
    let rows: Vec<_> = runs
        .iter()
        .map(|r| {
            (
                r.integration_id,
                r.status.as_str(),
                secs(r.start_time),
                secs(r.end_time),
                r.total_records,
                r.records_processed,
                r.created_at.timestamp(),
                r.end_time.unwrap_or(r.created_at).timestamp(),
            )
        })
        .collect();
    serde_json::to_string(&rows).unwrap_or_default()
}

/// The errors of `runs`, whose ids are `ids` in the same order, as the JSON array the stores'
/// bulk insert reads: one `[integration_run_id, integration_id, document_type, document_id,
/// resolved, created_at]` per error.
pub fn errors_json(ids: &[i64], runs: &[SeedRun]) -> String {
    let rows: Vec<_> = ids
        .iter()
        .zip(runs)
        .filter_map(|(id, r)| {
            let (document_type, document_id, resolved) = r.error?;
            let at = r.end_time.unwrap_or(r.created_at).timestamp();
            Some((
                id,
                r.integration_id,
                document_type,
                document_id,
                resolved,
                at,
            ))
        })
        .collect();
    serde_json::to_string(&rows).unwrap_or_default()
}

#[async_trait]
impl<B: Backend> SeedStore for SqlStore<B> {
    async fn seed_runs(&self, runs: Vec<SeedRun>) -> Result<()> {
        // Each table gets one statement that reads its rows from one JSON array (one bind):
        // a statement per row costs a round trip each, and a multi-row VALUES statement costs
        // SQLite a by-name lookup per parameter, quadratic in its size.
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let mut ids: Vec<i64> = query(B::Conn::SEED_RUNS)
                        .bind(runs_json(&runs))
                        .scalars(tx)
                        .await?;
                    // Ids are assigned in the array's order; RETURNING's order is not
                    // promised, so sort them back into it.
                    ids.sort_unstable();
                    query(B::Conn::SEED_ERRORS)
                        .bind(errors_json(&ids, &runs))
                        .execute(tx)
                        .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn analyze(&self) -> Result<()> {
        if let Some(analyze) = B::Conn::ANALYZE {
            self.db
                .write(move |tx| {
                    Box::pin(async move {
                        query(analyze).execute(tx).await?;
                        Ok(())
                    })
                })
                .await?;
        }
        Ok(())
    }
}
