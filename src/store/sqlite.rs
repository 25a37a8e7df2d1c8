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
use sqlx::migrate::Migrator;
use sqlx::query::Query as SqlxQuery;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite};

use super::sql::{self as q, errors_of_runs};
use super::{Store, on_unique};
use crate::domain::Actor;
use crate::domain::clients::{Client, ClientKind, NewClient, Scopes};
use crate::domain::integration_errors::IntegrationError;
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

#[async_trait]
impl Store for SqliteStore {
    async fn create_integration(
        &self,
        new: NewIntegration,
        actor: Option<&Actor>,
    ) -> Result<Integration> {
        let now = time::now();
        let actor_id = actor.map(|a| a.id);
        let mut tx = self.writer.begin().await?;
        check_unique(&mut tx, 0, &new.code, &new.name).await?;
        let id: i64 = sqlx::query_scalar(q::INSERT_INTEGRATION)
            .bind(&new.code)
            .bind(&new.name)
            .bind(&new.business_object)
            .bind(&new.direction)
            .bind(&new.end_system)
            .bind(&new.end_system_type)
            .bind(&new.integration_type)
            .bind(false)
            .bind(now.timestamp())
            .bind(actor_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| on_unique(e, INTEGRATION_KEYS))?;
        tx.commit().await?;
        Ok(Integration {
            id,
            code: new.code,
            name: new.name,
            business_object: new.business_object,
            direction: new.direction,
            end_system: new.end_system,
            end_system_type: new.end_system_type,
            integration_type: new.integration_type,
            standard: false,
            created_at: now,
            updated_at: now,
            created_by: actor.cloned(),
            updated_by: actor.cloned(),
        })
    }

    async fn update_integration(
        &self,
        id: i64,
        fields: IntegrationFields,
        actor: Option<&Actor>,
    ) -> Result<Integration> {
        let mut tx = self.writer.begin().await?;
        let mut integration = fetch_integration(&mut tx, id).await?;
        integration.apply(fields);
        check_unique(&mut tx, id, &integration.code, &integration.name).await?;
        integration.updated_at = time::now();
        integration.updated_by = actor.cloned();
        let i = &integration;
        sqlx::query(q::UPDATE_INTEGRATION)
            .bind(i.id)
            .bind(&i.code)
            .bind(&i.name)
            .bind(&i.business_object)
            .bind(&i.direction)
            .bind(&i.end_system)
            .bind(&i.end_system_type)
            .bind(&i.integration_type)
            .bind(i.updated_at.timestamp())
            .bind(actor.map(|a| a.id))
            .execute(&mut *tx)
            .await
            .map_err(|e| on_unique(e, INTEGRATION_KEYS))?;
        tx.commit().await?;
        Ok(integration)
    }

    async fn integration(&self, id: i64) -> Result<Integration> {
        fetch_integration(&mut *self.reader.acquire().await?, id).await
    }

    async fn integrations(&self, query: &Query) -> Result<Vec<Integration>> {
        let sql = page(q::SELECT_INTEGRATIONS, query);
        let rows = bind_all(sqlx::query(&sql.text), &sql.binds)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(integration_row).collect()
    }

    async fn create_run(&self, fields: RunFields, actor: Option<&Actor>) -> Result<RunView> {
        let reference = fields
            .integration
            .as_ref()
            .ok_or_else(|| Error::invalid("Integration can't be blank"))?;
        let now = time::now();
        let mut tx = self.writer.begin().await?;
        let integration = find_integration(&mut tx, reference).await?;
        let mut run = Run {
            id: 0,
            integration_id: integration.id,
            status: Status::Pending,
            start_time: None,
            end_time: None,
            total_records: None,
            records_processed: None,
            flow: None,
            created_at: now,
            updated_at: now,
            created_by: actor.cloned(),
            updated_by: actor.cloned(),
        };
        run.apply(&fields, None, now)?;
        run.id = sqlx::query_scalar(q::INSERT_RUN)
            .bind(run.integration_id)
            .bind(run.status.as_str())
            .bind(run.start_time.map(|t| t.timestamp()))
            .bind(run.end_time.map(|t| t.timestamp()))
            .bind(run.total_records)
            .bind(run.records_processed)
            .bind(flow_text(&run)?)
            .bind(now.timestamp())
            .bind(actor.map(|a| a.id))
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RunView {
            run,
            integration,
            errors: Vec::new(),
        })
    }

    async fn update_run(
        &self,
        id: i64,
        fields: RunFields,
        action: Option<Action>,
        actor: Option<&Actor>,
    ) -> Result<RunView> {
        let mut tx = self.writer.begin().await?;
        let mut view = fetch_run(&mut tx, id).await?;
        let moved_to = match &fields.integration {
            Some(reference) => Some(find_integration(&mut tx, reference).await?),
            None => None,
        };
        let target = match action {
            Some(Action::Finish) => {
                let unresolved: bool = sqlx::query_scalar(q::HAS_UNRESOLVED_ERRORS)
                    .bind(id)
                    .bind(false)
                    .fetch_one(&mut *tx)
                    .await?;
                Some(Action::Finish.target(unresolved))
            }
            Some(action) => Some(action.target(false)),
            None => None,
        };
        let read_status = view.run.status;
        if view.run.apply(&fields, target, time::now())? {
            if let Some(integration) = moved_to {
                view.run.integration_id = integration.id;
                view.integration = integration;
            }
            view.run.updated_by = actor.cloned();
            let run = &view.run;
            let written = sqlx::query(q::UPDATE_RUN)
                .bind(run.id)
                .bind(run.integration_id)
                .bind(run.status.as_str())
                .bind(run.start_time.map(|t| t.timestamp()))
                .bind(run.end_time.map(|t| t.timestamp()))
                .bind(run.total_records)
                .bind(run.records_processed)
                .bind(flow_text(run)?)
                .bind(read_status.as_str())
                .bind(run.updated_at.timestamp())
                .bind(actor.map(|a| a.id))
                .execute(&mut *tx)
                .await?;
            if written.rows_affected() != 1 {
                return Err(Error::Conflict(format!(
                    "Integration run {id} changed while it was being updated; retry the request"
                )));
            }
            tx.commit().await?;
        }
        Ok(view)
    }

    async fn run(&self, id: i64) -> Result<RunView> {
        fetch_run(&mut *self.reader.acquire().await?, id).await
    }

    async fn runs(&self, query: &Query) -> Result<Vec<RunView>> {
        let mut conn = self.reader.acquire().await?;
        let sql = page(q::SELECT_RUNS, query);
        let rows = bind_all(sqlx::query(&sql.text), &sql.binds)
            .fetch_all(&mut *conn)
            .await?;
        let mut runs = rows.iter().map(run_row).collect::<Result<Vec<_>>>()?;
        attach_errors(&mut conn, &mut runs).await?;
        Ok(runs)
    }

    async fn create_client(&self, new: NewClient) -> Result<Client> {
        let now = time::now();
        let id: i64 = sqlx::query_scalar(q::INSERT_CLIENT)
            .bind(&new.login)
            .bind(new.kind.as_str())
            .bind(&new.client_id)
            .bind(&new.secret_hash)
            .bind(new.scopes.to_string())
            .bind(now.timestamp())
            .fetch_one(&self.writer)
            .await
            .map_err(|e| on_unique(e, &[("api_clients.login", "Name has already been taken")]))?;
        Ok(Client {
            id,
            login: new.login,
            kind: new.kind,
            client_id: new.client_id,
            scopes: new.scopes,
            created_at: now,
            revoked_at: None,
        })
    }

    async fn clients(&self, kind: ClientKind) -> Result<Vec<Client>> {
        let sql = format!("{} WHERE kind = $1 ORDER BY id", q::SELECT_CLIENTS);
        let rows = sqlx::query(&sql)
            .bind(kind.as_str())
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(client_row).collect()
    }

    async fn revoke_client(&self, kind: ClientKind, key: &str) -> Result<Client> {
        let id: Option<i64> = sqlx::query_scalar(q::REVOKE_CLIENT)
            .bind(kind.as_str())
            .bind(key)
            .bind(time::now().timestamp())
            .fetch_optional(&self.writer)
            .await?;
        let id =
            id.ok_or_else(|| Error::NotFound(format!("No {} with id {key}", kind.as_str())))?;
        self.client(id)
            .await?
            .ok_or_else(|| Error::Internal("revoked client vanished".into()))
    }

    async fn client(&self, id: i64) -> Result<Option<Client>> {
        let sql = format!("{} WHERE id = $1", q::SELECT_CLIENTS);
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(client_row).transpose()
    }

    async fn client_by_client_id(&self, client_id: &str) -> Result<Option<(Client, Vec<u8>)>> {
        let sql = format!(
            "{} WHERE client_id = $1",
            q::SELECT_CLIENTS.replace(" FROM", ", secret_hash FROM")
        );
        let row = sqlx::query(&sql)
            .bind(client_id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|row| Ok((client_row(&row)?, row.try_get("secret_hash")?)))
            .transpose()
    }

    async fn client_by_secret_hash(&self, hash: &[u8]) -> Result<Option<Client>> {
        let sql = format!("{} WHERE secret_hash = $1", q::SELECT_CLIENTS);
        let row = sqlx::query(&sql)
            .bind(hash)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(client_row).transpose()
    }

    async fn signing_key(&self, fresh: Vec<u8>) -> Result<Vec<u8>> {
        sqlx::query(q::INSERT_SIGNING_KEY)
            .bind(fresh)
            .bind(time::now().timestamp())
            .execute(&self.writer)
            .await?;
        Ok(sqlx::query_scalar(q::SELECT_SIGNING_KEY)
            .fetch_one(&self.writer)
            .await?)
    }
}

fn bind_all<'q>(
    mut query: SqlxQuery<'q, Sqlite, SqliteArguments<'q>>,
    binds: &'q [Bind],
) -> SqlxQuery<'q, Sqlite, SqliteArguments<'q>> {
    for value in binds {
        query = match value {
            Bind::Int(n) => query.bind(*n),
            Bind::Text(s) => query.bind(s.as_str()),
            Bind::Time(t) => query.bind(t.timestamp()),
            Bind::Bool(b) => query.bind(*b),
        };
    }
    query
}

fn flow_text(run: &Run) -> Result<Option<String>> {
    run.flow
        .as_ref()
        .map(|flow| serde_json::to_string(flow).map_err(|e| Error::Internal(e.to_string())))
        .transpose()
}

/// Refuses a code or name that another integration has, naming each, as Rails validates.
async fn check_unique(conn: &mut SqliteConnection, id: i64, code: &str, name: &str) -> Result<()> {
    let (code_taken, name_taken): (bool, bool) = sqlx::query_as(q::INTEGRATION_KEYS_TAKEN)
        .bind(id)
        .bind(code)
        .bind(name)
        .fetch_one(conn)
        .await?;
    let mut messages = Vec::new();
    if code_taken {
        messages.push("Code has already been taken".to_owned());
    }
    if name_taken {
        messages.push("Name has already been taken".to_owned());
    }
    if messages.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(messages))
    }
}

async fn fetch_integration(conn: &mut SqliteConnection, id: i64) -> Result<Integration> {
    let sql = format!("{} WHERE t0.id = $1", q::SELECT_INTEGRATIONS);
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    let row =
        row.ok_or_else(|| Error::NotFound(format!("Couldn't find Integration with 'id'={id}")))?;
    integration_row(&row)
}

/// The integration a reference names, or Coupa's "Unable to find" 400.
async fn find_integration(
    conn: &mut SqliteConnection,
    reference: &IntegrationRef,
) -> Result<Integration> {
    if reference.is_empty() {
        return Err(reference.not_found());
    }
    let sql = format!(
        "{} WHERE ($1 IS NULL OR t0.id = $1) AND ($2 IS NULL OR t0.code = $2) \
         AND ($3 IS NULL OR t0.name = $3)",
        q::SELECT_INTEGRATIONS
    );
    let row = sqlx::query(&sql)
        .bind(reference.id)
        .bind(&reference.code)
        .bind(&reference.name)
        .fetch_optional(conn)
        .await?;
    match row {
        Some(row) => integration_row(&row),
        None => Err(reference.not_found()),
    }
}

async fn fetch_run(conn: &mut SqliteConnection, id: i64) -> Result<RunView> {
    let sql = format!("{} WHERE t0.id = $1", q::SELECT_RUNS);
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let row =
        row.ok_or_else(|| Error::NotFound(format!("Couldn't find IntegrationRun with 'id'={id}")))?;
    let mut runs = vec![run_row(&row)?];
    attach_errors(conn, &mut runs).await?;
    Ok(runs.remove(0))
}

/// Loads the errors of every run in one query.
async fn attach_errors(conn: &mut SqliteConnection, runs: &mut [RunView]) -> Result<()> {
    if runs.is_empty() {
        return Ok(());
    }
    let sql = errors_of_runs(runs.len());
    let mut query = sqlx::query(&sql);
    for view in runs.iter() {
        query = query.bind(view.run.id);
    }
    let index: HashMap<i64, usize> = runs
        .iter()
        .enumerate()
        .map(|(i, v)| (v.run.id, i))
        .collect();
    for row in query.fetch_all(conn).await? {
        let error = error_row(&row)?;
        if let Some(&i) = error
            .integration_run_id
            .as_ref()
            .and_then(|id| index.get(id))
        {
            runs[i].errors.push(error);
        }
    }
    Ok(())
}

fn timestamp(row: &SqliteRow, column: &str) -> Result<Timestamp> {
    optional_timestamp(row, column)?
        .ok_or_else(|| Error::Internal(format!("column {column} holds no valid timestamp")))
}

fn optional_timestamp(row: &SqliteRow, column: &str) -> Result<Option<Timestamp>> {
    let seconds: Option<i64> = row.try_get(column)?;
    Ok(seconds.and_then(time::from_unix))
}

fn actor(row: &SqliteRow, kind: &str) -> Result<Option<Actor>> {
    let id: Option<i64> = row.try_get(format!("{kind}_id").as_str())?;
    let login: Option<String> = row.try_get(format!("{kind}_login").as_str())?;
    Ok(id.zip(login).map(|(id, login)| Actor { id, login }))
}

fn integration_row(row: &SqliteRow) -> Result<Integration> {
    Ok(Integration {
        id: row.try_get("id")?,
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        business_object: row.try_get("business_object")?,
        direction: row.try_get("direction")?,
        end_system: row.try_get("end_system")?,
        end_system_type: row.try_get("end_system_type")?,
        integration_type: row.try_get("integration_type")?,
        standard: row.try_get("standard")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
        created_by: actor(row, "created_by")?,
        updated_by: actor(row, "updated_by")?,
    })
}

fn run_row(row: &SqliteRow) -> Result<RunView> {
    let status: String = row.try_get("status")?;
    let flow: Option<String> = row.try_get("flow")?;
    let run = Run {
        id: row.try_get("id")?,
        integration_id: row.try_get("integration_id")?,
        status: Status::parse(&status).ok_or_else(|| {
            Error::Internal(format!("unknown run status {status:?} in the database"))
        })?,
        start_time: optional_timestamp(row, "start_time")?,
        end_time: optional_timestamp(row, "end_time")?,
        total_records: row.try_get("total_records")?,
        records_processed: row.try_get("records_processed")?,
        flow: flow
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| Error::Internal(format!("stored flow is not JSON: {e}")))?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
        created_by: actor(row, "created_by")?,
        updated_by: actor(row, "updated_by")?,
    };
    let integration = Integration {
        id: run.integration_id,
        code: row.try_get("i_code")?,
        name: row.try_get("i_name")?,
        business_object: row.try_get("i_business_object")?,
        direction: row.try_get("i_direction")?,
        end_system: row.try_get("i_end_system")?,
        end_system_type: row.try_get("i_end_system_type")?,
        integration_type: row.try_get("i_integration_type")?,
        standard: row.try_get("i_standard")?,
        created_at: timestamp(row, "i_created_at")?,
        updated_at: timestamp(row, "i_updated_at")?,
        created_by: None,
        updated_by: None,
    };
    Ok(RunView {
        run,
        integration,
        errors: Vec::new(),
    })
}

fn error_row(row: &SqliteRow) -> Result<IntegrationError> {
    Ok(IntegrationError {
        id: row.try_get("id")?,
        integration_run_id: row.try_get("integration_run_id")?,
        integration_id: row.try_get("integration_id")?,
        contact_alert_type: row.try_get("contact_alert_type")?,
        document_type: row.try_get("document_type")?,
        document_id: row.try_get("document_id")?,
        document_revision: row.try_get("document_revision")?,
        document_status: row.try_get("document_status")?,
        external_id: row.try_get("external_id")?,
        integration_filename: row.try_get("integration_filename")?,
        creation_method: row.try_get("creation_method")?,
        status: row.try_get("status")?,
        resolved: row.try_get("resolved")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
        created_by: actor(row, "created_by")?,
        updated_by: actor(row, "updated_by")?,
    })
}

fn client_row(row: &SqliteRow) -> Result<Client> {
    let kind: String = row.try_get("kind")?;
    let scopes: String = row.try_get("scopes")?;
    Ok(Client {
        id: row.try_get("id")?,
        login: row.try_get("login")?,
        kind: ClientKind::parse(&kind)
            .ok_or_else(|| Error::Internal(format!("unknown client kind {kind:?}")))?,
        client_id: row.try_get("client_id")?,
        scopes: Scopes::parse(&scopes)
            .map_err(|s| Error::Internal(format!("unknown stored scope {s:?}")))?,
        created_at: timestamp(row, "created_at")?,
        revoked_at: optional_timestamp(row, "revoked_at")?,
    })
}
