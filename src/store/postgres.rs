//! The server backend: PostgreSQL, for one node or many on one database.
//!
//! Every write is one transaction; a read that decides a write (`… FOR UPDATE OF t0`) locks
//! the row, so two nodes racing on one run are serialised by the database, and the
//! conditional update behind it still refuses a lost race. Commits are durable with
//! PostgreSQL's default `synchronous_commit = on`. Migrations run under the advisory lock
//! that sqlx's migrator takes, so nodes starting together apply them once.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row as _, query, query_scalar};

use super::BoxFuture;

pub static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Opens `postgres://…` with a pool of `pool_size` connections and migrates it.
    pub async fn open(url: &str, pool_size: u32) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|e| Error::Internal(format!("cannot open {}: {e}", super::redact(url))))?;
        MIGRATOR.run(&pool).await?;
        Ok(PostgresStore { pool })
    }
}

impl PostgresStore {
    /// Runs `work` in a transaction of its own, committed if it succeeds. PostgreSQL groups
    /// concurrent commits into shared WAL flushes itself.
    async fn write<T, F>(&self, work: F) -> Result<T>
    where
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T>>,
    {
        let mut tx = self.pool.begin().await?;
        let value = work(&mut tx).await?;
        tx.commit().await?;
        Ok(value)
    }

    /// Runs `work` on a connection of the pool, outside any transaction: PostgreSQL readers
    /// never wait for writers.
    async fn read<T, F>(&self, work: F) -> Result<T>
    where
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T>>,
    {
        work(&mut *self.pool.acquire().await?).await
    }
}

/// PostgreSQL keeps datetimes as TIMESTAMPTZ.
type TimeValue = DateTime<Utc>;
type Conn = PgConnection;
type DbRow = PgRow;
type Statement<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// Locks the row a write was decided on until the transaction ends.
const LOCK: &str = " FOR UPDATE OF t0";

/// Serialises the writers that check an integration's code and name for uniqueness without
/// case (a check, not a constraint: see `check_unique`) until their transactions end. The key
/// is Runledger's own ("RLIK"); creating and renaming integrations is rare.
const KEYS_LOCK: Option<&str> = Some("SELECT pg_advisory_xact_lock(1380731211)");

/// Statistics after a bulk load: autovacuum would get there within minutes, but until it
/// does, the planner takes the tables for empty and scans them (a page of runs took 25 ms
/// instead of 3 ms at a million runs).
const ANALYZE: Option<&str> = Some("ANALYZE integration_runs, integration_errors");

/// Seeded runs from a JSON array of `[integration_id, status, start_time, end_time,
/// total_records, records_processed, created_at, updated_at]` (times in epoch seconds).
const SEED_RUNS: &str = "INSERT INTO integration_runs (integration_id, status, start_time, \
     end_time, total_records, records_processed, created_at, updated_at) \
     SELECT (r ->> 0)::bigint, r ->> 1, to_timestamp((r ->> 2)::bigint), \
     to_timestamp((r ->> 3)::bigint), (r ->> 4)::bigint, (r ->> 5)::bigint, \
     to_timestamp((r ->> 6)::bigint), to_timestamp((r ->> 7)::bigint) \
     FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS rows (r, n) ORDER BY n \
     RETURNING id";

/// Seeded errors from a JSON array of `[integration_run_id, integration_id, document_type,
/// document_id, resolved, created_at]`.
const SEED_ERRORS: &str = "INSERT INTO integration_errors (integration_run_id, integration_id, \
     document_type, document_id, resolved, created_at, updated_at, contact_alert_type) \
     SELECT (r ->> 0)::bigint, (r ->> 1)::bigint, r ->> 2, (r ->> 3)::bigint, \
     (r ->> 4)::boolean, to_timestamp((r ->> 5)::bigint), to_timestamp((r ->> 5)::bigint), \
     'Technical' FROM jsonb_array_elements($1::jsonb) AS rows (r)";

fn time_param(t: Timestamp) -> TimeValue {
    t
}

fn time_value(t: TimeValue) -> Option<Timestamp> {
    Some(t)
}

super::shared::sql_store!(PostgresStore);
