//! The server backend: PostgreSQL, for one node or many on one database.
//!
//! Every write is one transaction; a read that decides a write (`… FOR UPDATE OF t0`) locks
//! the row, so two nodes racing on one run are serialised by the database, and the
//! conditional update behind it still refuses a lost race. Commits are durable with
//! PostgreSQL's default `synchronous_commit = on`. Migrations run under the advisory lock
//! that sqlx's migrator takes, so nodes starting together apply them once.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::types::Json;
use sqlx::{Column as _, Postgres, Row as _, TypeInfo as _, ValueRef as _};

use super::backend::{Backend, BoxFuture};
use super::exec::{Executor, Param, Plan, Row, Value};
use crate::error::{Error, Result};
use crate::time::Timestamp;

pub static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

pub struct Postgresql {
    pool: PgPool,
}

impl Postgresql {
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
        Ok(Postgresql { pool })
    }
}

impl Backend for Postgresql {
    type Conn = PgConnection;

    /// Runs `work` in a transaction of its own, committed if it succeeds. PostgreSQL groups
    /// concurrent commits into shared WAL flushes itself.
    async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
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
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        work(&mut *self.pool.acquire().await?).await
    }

    /// Runs `work` in a read-only transaction at `REPEATABLE READ`, whose statements all see
    /// the snapshot its first one took (PostgreSQL's default, `READ COMMITTED`, takes one per
    /// statement).
    async fn read_snapshot<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let value = work(&mut tx).await?;
        tx.commit().await?;
        Ok(value)
    }
}

impl Executor for PgConnection {
    /// Locks the row a write was decided on until the transaction ends.
    const ROW_LOCK: &'static str = " FOR UPDATE OF t0";
    // Older than every transaction still running: none of those can add an event before it.
    const EVENTS_SETTLED: &'static str =
        "t0.tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint";
    /// Nodes sweeping at once claim different monitors, and none waits for another's.
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    /// Serialises the writers that check an integration's code and name for uniqueness
    /// without case (a check, not a constraint: see `integrations::check_unique`) until their
    /// transactions end. The key is Runledger's own ("RLIK"); creating and renaming
    /// integrations is rare.
    const KEYS_LOCK: Option<&'static str> = Some("SELECT pg_advisory_xact_lock(1380731211)");
    /// Statistics after a bulk load: autovacuum would get there within minutes, but until it
    /// does, the planner takes the tables for empty and scans them (a page of runs took 25 ms
    /// instead of 3 ms at a million runs).
    const ANALYZE: Option<&'static str> = Some("ANALYZE integration_runs, integration_errors");
    const SEED_RUNS: &'static str = "INSERT INTO integration_runs (integration_id, status, \
        start_time, end_time, total_records, records_processed, created_at, updated_at) \
        SELECT (r ->> 0)::bigint, r ->> 1, to_timestamp((r ->> 2)::bigint), \
        to_timestamp((r ->> 3)::bigint), (r ->> 4)::bigint, (r ->> 5)::bigint, \
        to_timestamp((r ->> 6)::bigint), to_timestamp((r ->> 7)::bigint) \
        FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS rows (r, n) ORDER BY n \
        RETURNING id";
    const SEED_ERRORS: &'static str = "INSERT INTO integration_errors (integration_run_id, \
        integration_id, document_type, document_id, resolved, created_at, updated_at, \
        contact_alert_type) \
        SELECT (r ->> 0)::bigint, (r ->> 1)::bigint, r ->> 2, (r ->> 3)::bigint, \
        (r ->> 4)::boolean, to_timestamp((r ->> 5)::bigint), to_timestamp((r ->> 5)::bigint), \
        'Technical' FROM jsonb_array_elements($1::jsonb) AS rows (r)";

    async fn execute(&mut self, sql: &str, params: Vec<Param>) -> Result<u64> {
        let done = statement(sql, params).execute(self).await?;
        Ok(done.rows_affected())
    }

    async fn fetch(
        &mut self,
        sql: &str,
        params: Vec<Param>,
        most: usize,
        plan: Plan,
    ) -> Result<Vec<Row>> {
        // An unnamed statement is planned with its parameters' values when it is bound.
        let persistent = plan == Plan::Reused;
        let rows = statement(sql, params)
            .persistent(persistent)
            .fetch_all(self)
            .await?;
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        let columns: Arc<[Box<str>]> = first
            .columns()
            .iter()
            .map(|c| Box::from(c.name()))
            .collect();
        rows.iter()
            .take(most)
            .map(|row| Ok(Row::new(columns.clone(), values(row)?)))
            .collect()
    }
}

/// `sql` with `params` bound, each with its own type, nulls included.
fn statement(sql: &str, params: Vec<Param>) -> Query<'_, Postgres, PgArguments> {
    params
        .into_iter()
        .fold(sqlx::query(sql), |query, param| match param {
            Param::Int(n) => query.bind(n),
            Param::Bool(b) => query.bind(b),
            Param::Text(s) => query.bind(s),
            Param::Bytes(b) => query.bind(b),
            Param::Time(t) => query.bind(t),
            Param::Json(j) => query.bind(j.map(Json)),
        })
}

/// A row's values, read by the type each column declares.
fn values(row: &PgRow) -> Result<Vec<Value>> {
    (0..row.columns().len())
        .map(|i| {
            if row.try_get_raw(i)?.is_null() {
                return Ok(Value::Null);
            }
            Ok(match row.columns()[i].type_info().name() {
                "INT8" => Value::Int(row.try_get(i)?),
                "INT4" => Value::Int(row.try_get::<i32, _>(i)?.into()),
                "INT2" => Value::Int(row.try_get::<i16, _>(i)?.into()),
                "BOOL" => Value::Bool(row.try_get(i)?),
                "TEXT" | "VARCHAR" | "NAME" | "BPCHAR" => Value::Text(row.try_get(i)?),
                "BYTEA" => Value::Bytes(row.try_get(i)?),
                "TIMESTAMPTZ" => Value::Time(row.try_get::<Timestamp, _>(i)?),
                "JSONB" | "JSON" => Value::Json(row.try_get::<Json<_>, _>(i)?.0),
                other => {
                    return Err(Error::Internal(format!(
                        "column {} has the unsupported type {other}",
                        row.columns()[i].name()
                    )));
                }
            })
        })
        .collect()
}
