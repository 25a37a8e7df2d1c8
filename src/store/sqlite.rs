//! The embedded backend: one SQLite file in WAL mode.
//!
//! Writes go through a pool of exactly one connection, so they are serialised in the process
//! instead of failing with "database is locked", and `synchronous=FULL` makes every commit
//! durable before the request that made it is answered. Reads use their own small pool and
//! never wait for writers (WAL readers see the last committed state).

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::migrate::Migrator;
use sqlx::query::Query as SqlxQuery;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::types::Json;
use sqlx::{Row, Sqlite};

use super::sql::{self as q, errors_of_runs};
use super::{Effects, Store, on_unique};
use crate::domain::Actor;
use crate::domain::alerts::{Attempt, Channel, Delivery, reaches};
use crate::domain::clients::{Client, ClientKind, NewClient, Scopes};
use crate::domain::contacts::{Contact, ContactFields};
use crate::domain::integration_errors::{
    IntegrationError, IntegrationKeys, RecordFields, RecordKind, Response, run_not_found,
};
use crate::domain::integrations::{Integration, IntegrationFields, IntegrationRef, NewIntegration};
use crate::domain::runs::{Action, Run, RunFields, RunView, Status};
use crate::error::{Error, Result};
use crate::query::{Bind, Query, sql::page};
use crate::time::{self, Timestamp};

pub static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// Unique keys of `integrations` and the message each one's violation gets.
const INTEGRATION_KEYS: &[(&str, &str)] = &[
    ("integrations.code", "Code has already been taken"),
    ("integrations_code_key", "Code has already been taken"),
    ("integrations.name", "Name has already been taken"),
    ("integrations_name_key", "Name has already been taken"),
];

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens `sqlite://PATH`, creating the file and applying migrations as needed.
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // LIKE is case-sensitive, as it is on PostgreSQL (and it can then use indexes).
            .pragma("case_sensitive_like", "ON");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .map_err(|e| Error::Internal(format!("cannot open {url}: {e}")))?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore { writer, reader })
    }
}

/// SQLite keeps datetimes as INTEGER seconds since the epoch.
type TimeValue = i64;
type Db = Sqlite;
type Conn = SqliteConnection;
type DbRow = SqliteRow;

/// SQLite serialises writers (one writer connection), so reads need no row lock.
const LOCK: &str = "";

fn time_param(t: Timestamp) -> TimeValue {
    t.timestamp()
}

fn time_value(seconds: TimeValue) -> Option<Timestamp> {
    time::from_unix(seconds)
}

super::shared::sql_store!(SqliteStore);
