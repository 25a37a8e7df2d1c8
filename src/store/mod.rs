//! Storage: one narrow trait and its implementation for each backend (SQLite, PostgreSQL),
//! chosen by the URL's scheme.
//!
//! The trait speaks in domain types and takes whole operations (create a run, move it to a
//! status), so that every operation is one transaction. The implementation is written once
//! (`shared.rs`) and expanded per backend with its connection types, datetime encoding and
//! row locks; the SQL, which both backends run as written, lives once in [`sql`].

mod group_commit;
mod lite;
pub mod postgres;
pub mod seed;
mod shared;
pub mod sql;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use self::seed::SeedRun;
use crate::domain::Actor;
use crate::domain::alerts::{Attempt, Delivery, DeliveryStatus};
use crate::domain::clients::{Client, ClientKind, NewClient};
use crate::domain::contacts::{Contact, ContactFields};
use crate::domain::integration_errors::{IntegrationError, RecordFields, RecordKind};
use crate::domain::integrations::{Integration, IntegrationFields, NewIntegration};
use crate::domain::runs::{Action, RunFields, RunView};
use crate::error::{Error, Result};
use crate::query::Query;
use crate::time::Timestamp;

/// An operation's future, boxed so that a closure can return it for any connection lifetime.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn create_integration(
        &self,
        new: NewIntegration,
        actor: Option<&Actor>,
    ) -> Result<Integration>;
    async fn update_integration(
        &self,
        id: i64,
        fields: IntegrationFields,
        actor: Option<&Actor>,
    ) -> Result<Integration>;
    /// The integration, or [`Error::NotFound`].
    async fn integration(&self, id: i64) -> Result<Integration>;
    async fn integrations(&self, query: &Query) -> Result<Vec<Integration>>;

    /// Creates a `pending` run for the integration that `fields.integration` names.
    async fn create_run(&self, fields: RunFields, actor: Option<&Actor>) -> Result<RunView>;
    /// Updates a run and, with `action`, moves it to a new status, in one transaction.
    async fn update_run(
        &self,
        id: i64,
        fields: RunFields,
        action: Option<Action>,
        actor: Option<&Actor>,
    ) -> Result<RunView>;
    /// The run, or [`Error::NotFound`].
    async fn run(&self, id: i64) -> Result<RunView>;
    async fn runs(&self, query: &Query) -> Result<Vec<RunView>>;

    /// Files an integration error or history record, with its side effects, in one
    /// transaction: the alert's outbox rows are written with the record, or not at all.
    async fn create_record(
        &self,
        kind: RecordKind,
        fields: RecordFields,
        effects: Effects,
        actor: Option<&Actor>,
    ) -> Result<IntegrationError>;
    async fn update_record(
        &self,
        kind: RecordKind,
        id: i64,
        fields: RecordFields,
        actor: Option<&Actor>,
    ) -> Result<IntegrationError>;
    async fn resolve_record(
        &self,
        kind: RecordKind,
        id: i64,
        resolved: bool,
        actor: Option<&Actor>,
    ) -> Result<IntegrationError>;
    /// The record with its responses, or [`Error::NotFound`].
    async fn record(&self, kind: RecordKind, id: i64) -> Result<IntegrationError>;
    async fn records(&self, kind: RecordKind, query: &Query) -> Result<Vec<IntegrationError>>;

    /// Creates a contact; `webhook_secret` is the key its webhooks will be signed with.
    async fn create_contact(
        &self,
        fields: ContactFields,
        webhook_secret: String,
        actor: Option<&Actor>,
    ) -> Result<Contact>;
    async fn update_contact(
        &self,
        id: i64,
        fields: ContactFields,
        actor: Option<&Actor>,
    ) -> Result<Contact>;
    /// The contact, secret included, or [`Error::NotFound`].
    async fn contact(&self, id: i64) -> Result<Contact>;
    async fn contacts(&self, query: &Query) -> Result<Vec<Contact>>;

    async fn delivery(&self, id: i64) -> Result<Delivery>;
    async fn deliveries(&self, query: &Query) -> Result<Vec<Delivery>>;
    /// Leases up to `limit` deliveries that are due at `now` for `lease`.
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<Delivery>>;
    /// Records one attempt: the delivery's new status and, when it will be retried, when.
    async fn record_attempt(
        &self,
        id: i64,
        status: DeliveryStatus,
        attempt: &Attempt,
        next_attempt_at: Option<Timestamp>,
    ) -> Result<()>;
    /// When the next pending delivery is due, if any is.
    async fn next_due(&self) -> Result<Option<Timestamp>>;

    /// Writes seeded runs and their errors in one transaction, many rows per statement.
    async fn seed_runs(&self, runs: Vec<SeedRun>) -> Result<()>;
    /// Refreshes the query planner's statistics, after a bulk load.
    async fn analyze(&self) -> Result<()>;

    async fn create_client(&self, new: NewClient) -> Result<Client>;
    /// Every client of a kind, oldest first, revoked ones included.
    async fn clients(&self, kind: ClientKind) -> Result<Vec<Client>>;
    /// Revokes the client of `kind` named by its row id or its OAuth client id.
    async fn revoke_client(&self, kind: ClientKind, key: &str) -> Result<Client>;
    async fn client(&self, id: i64) -> Result<Option<Client>>;
    /// An OAuth client by its public id, with the hash of its secret.
    async fn client_by_client_id(&self, client_id: &str) -> Result<Option<(Client, Vec<u8>)>>;
    /// A client by the hash of its secret: how API keys are found.
    async fn client_by_secret_hash(&self, hash: &[u8]) -> Result<Option<Client>>;
    /// The token signing key: the stored one, or `fresh` when none was stored yet.
    async fn signing_key(&self, fresh: Vec<u8>) -> Result<Vec<u8>>;
}

/// What filing a record does besides storing it (the history-record actions of spec §1.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Raise an alert to the integration's contacts (`create_alert…`).
    pub alert: bool,
    /// Mark the record exported (`…mark_exported`).
    pub exported: bool,
    /// Resolve the open records of the same document, the new one included (`acknowledge`).
    pub acknowledge: bool,
}

/// Opens (creating and migrating if needed) the database that `url` names: `sqlite://PATH`
/// or `postgres://…`. `pool_size` bounds PostgreSQL's connections; SQLite has one writer.
pub async fn open(url: &str, pool_size: u32) -> Result<Arc<dyn Store>> {
    match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("sqlite") => Ok(Arc::new(sqlite::SqliteStore::open(url).await?)),
        Some("postgres" | "postgresql") => Ok(Arc::new(
            postgres::PostgresStore::open(url, pool_size).await?,
        )),
        _ => Err(Error::Internal(format!(
            "unsupported database URL '{}': use sqlite://PATH or postgres://…",
            redact(url)
        ))),
    }
}

/// A database URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Turns a unique-key violation into the 400 Rails would give (`Code has already been taken`);
/// any other error passes through.
pub(crate) fn on_unique<E: UniqueViolation>(error: E, keys: &[(&str, &str)]) -> Error {
    if let Some(text) = error.unique_violation()
        && let Some((_, message)) = keys.iter().find(|(key, _)| text.contains(key))
    {
        return Error::invalid(*message);
    }
    error.into()
}

// A driver's failure is a storage error; what the store answers differently (a unique key,
// a missing row) it picks out before the conversion.
impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Error::storage(error)
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        Error::storage(error)
    }
}

impl From<rusqlite::Error> for Error {
    fn from(error: rusqlite::Error) -> Self {
        Error::storage(error)
    }
}

/// A driver's error that may be a unique-key violation.
pub(crate) trait UniqueViolation: Into<Error> {
    /// The violated key's name and the database's message, if it is one.
    fn unique_violation(&self) -> Option<String>;
}

impl UniqueViolation for sqlx::Error {
    fn unique_violation(&self) -> Option<String> {
        match self {
            sqlx::Error::Database(db) if db.is_unique_violation() => Some(format!(
                "{} {}",
                db.constraint().unwrap_or_default(),
                db.message()
            )),
            _ => None,
        }
    }
}

impl UniqueViolation for rusqlite::Error {
    /// SQLite names the columns in its message: `UNIQUE constraint failed: integrations.code`.
    fn unique_violation(&self) -> Option<String> {
        match self {
            rusqlite::Error::SqliteFailure(e, message)
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
            {
                message.clone()
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Error, on_unique};

    #[test]
    fn a_sqlite_unique_violation_becomes_the_message_of_its_key() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE integrations (code TEXT UNIQUE, name TEXT UNIQUE)")
            .unwrap();
        let insert = "INSERT INTO integrations (code, name) VALUES ('A', ?1)";
        conn.execute(insert, ["a"]).unwrap();
        let violation = conn.execute(insert, ["b"]).unwrap_err();
        let keys = [("integrations.code", "Code has already been taken")];
        match on_unique(violation, &keys) {
            Error::Invalid(messages) => assert_eq!(messages, ["Code has already been taken"]),
            other => panic!("{other:?}"),
        }
        // Any other failure passes through.
        let other = conn
            .execute("INSERT INTO nowhere VALUES (1)", [])
            .unwrap_err();
        assert!(matches!(on_unique(other, &keys), Error::Storage(_)));
    }

    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            super::redact("sqlite://runledger.db"),
            "sqlite://runledger.db"
        );
    }
}
