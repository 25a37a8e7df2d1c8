//! Storage: a narrow trait per consumer, implemented once over any backend (SQLite,
//! PostgreSQL), chosen by the URL's scheme.
//!
//! The traits speak in domain types and take whole operations (create a run, move it to a
//! status), so that every operation is one transaction. Each resource's module
//! ([`integrations`], [`runs`], [`records`], [`bulk`], [`contacts`], [`monitors`], [`pings`],
//! [`lineage`], [`outbox`], [`clients`], [`idempotency`], [`seed`])
//! implements its trait for [`backend::SqlStore`], generic over the backend's [`exec::Executor`];
//! the SQL, which both backends run as written, lives once in [`sql`], and the backend files
//! keep only what differs (connections, transactions, a few statements).

mod backend;
mod bulk;
mod claim;
mod clients;
mod contacts;
mod emit;
mod events;
mod exec;
mod idempotency;
mod integrations;
mod lineage;
mod monitors;
mod outbox;
mod paging;
mod pings;
pub mod postgres;
mod records;
mod rows;
mod runs;
pub mod seed;
pub mod sql;
pub mod sqlite;
mod subscriptions;
mod sweep;
mod transitions;

pub use claim::{Claim, Claimed, claiming};

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use self::backend::SqlStore;
use self::seed::SeedRun;
use crate::domain::Actor;
use crate::domain::alerts::{Attempt, Delivery, DeliveryStatus, Recipient};
use crate::domain::bulk::Outcome;
use crate::domain::clients::{Client, ClientKind, NewClient};
use crate::domain::contacts::{Contact, ContactFields};
use crate::domain::etag::IfMatch;
use crate::domain::events::{Change, Event, Position};
use crate::domain::idempotency::{Answer, Fingerprint, Identity, Row as KeyRow, Rules, Ticket};
use crate::domain::integrations::{Integration, IntegrationFields, NewIntegration};
use crate::domain::lineage::Intake;
use crate::domain::lineage::RunId;
use crate::domain::lineage::kept::{LineageRunView, StoredEvent};
use crate::domain::monitor::fields::{MonitorFields, StoredMonitor};
use crate::domain::monitor::sweep::{Flip, Looked};
use crate::domain::monitor::{Health, Observed};
use crate::domain::pings::{LoggedPing, Ping};
use crate::domain::records::{Record, RecordFields, RecordKind};
use crate::domain::runs::{Action, RunFields, RunView};
use crate::domain::subscriptions::{Subscription, SubscriptionFields};
use crate::domain::transitions::Entry;
use crate::error::{Error, Result};
use crate::query::Query;
use crate::query::cursor::Page;
use crate::time::Timestamp;

/// Everything the store does: what the HTTP handlers and the command line hold. Each part
/// can be held alone, and faked in a test.
pub trait Store:
    IntegrationStore
    + RunStore
    + RecordStore
    + BulkStore
    + ContactStore
    + MonitorStore
    + SweepStore
    + PingStore
    + EventStore
    + SubscriptionStore
    + LineageStore
    + OutboxStore
    + ClientStore
    + IdempotencyStore
    + SeedStore
{
}

impl<T> Store for T where
    T: IntegrationStore
        + RunStore
        + RecordStore
        + BulkStore
        + ContactStore
        + MonitorStore
        + SweepStore
        + PingStore
        + EventStore
        + SubscriptionStore
        + LineageStore
        + OutboxStore
        + ClientStore
        + IdempotencyStore
        + SeedStore
{
}

#[async_trait]
pub trait IntegrationStore: Send + Sync + 'static {
    async fn create_integration(
        &self,
        new: NewIntegration,
        actor: Option<&Actor>,
    ) -> Result<Integration>;
    /// With `expect`, only if the integration is as the client last read it.
    async fn update_integration(
        &self,
        id: i64,
        fields: IntegrationFields,
        expect: Option<&IfMatch>,
        actor: Option<&Actor>,
    ) -> Result<Integration>;
    /// The integration, or [`Error::NotFound`].
    async fn integration(&self, id: i64) -> Result<Integration>;
    async fn integrations(&self, query: &Query) -> Result<Page<Integration>>;
}

#[async_trait]
pub trait RunStore: Send + Sync + 'static {
    /// Creates a `pending` run for the integration that `fields.integration` names.
    async fn create_run(&self, fields: RunFields, actor: Option<&Actor>) -> Result<RunView>;
    /// Updates a run and, with `action`, moves it to a new status, in one transaction; with
    /// `expect`, only if the run is as the client last read it (else
    /// [`Error::PreconditionFailed`]).
    async fn update_run(
        &self,
        id: i64,
        fields: RunFields,
        action: Option<Action>,
        expect: Option<&IfMatch>,
        actor: Option<&Actor>,
    ) -> Result<RunView>;
    /// The run, or [`Error::NotFound`].
    async fn run(&self, id: i64) -> Result<RunView>;
    async fn runs(&self, query: &Query) -> Result<Page<RunView>>;
    /// A page of the transition log; with `run_id`, the query must hold it to that run,
    /// and an unknown run is [`Error::NotFound`].
    async fn transitions(&self, run_id: Option<i64>, query: &Query) -> Result<Page<Entry>>;
}

/// Integration errors and history records: the two kinds of record.
#[async_trait]
pub trait RecordStore: Send + Sync + 'static {
    /// Files a record, with its side effects, in one transaction: the alert's outbox rows
    /// are written with the record, or not at all.
    async fn create_record(
        &self,
        kind: RecordKind,
        fields: RecordFields,
        effects: Effects,
        actor: Option<&Actor>,
    ) -> Result<Record>;
    /// With `expect`, only if the record is as the client last read it.
    async fn update_record(
        &self,
        kind: RecordKind,
        id: i64,
        fields: RecordFields,
        expect: Option<&IfMatch>,
        actor: Option<&Actor>,
    ) -> Result<Record>;
    /// With `expect`, only if the record is as the client last read it.
    async fn resolve_record(
        &self,
        kind: RecordKind,
        id: i64,
        resolved: bool,
        expect: Option<&IfMatch>,
        actor: Option<&Actor>,
    ) -> Result<Record>;
    /// The record with its responses, or [`Error::NotFound`].
    async fn record(&self, kind: RecordKind, id: i64) -> Result<Record>;
    async fn records(&self, kind: RecordKind, query: &Query) -> Result<Page<Record>>;
}

/// Bulk actions: one action on every record a query selects, in one transaction. A query
/// that selects more than [`crate::domain::bulk::MAX_BULK`] records is refused (400) and
/// changes nothing; with `dry_run`, the answer is what the action would do, and nothing is
/// written.
#[async_trait]
pub trait BulkStore: Send + Sync + 'static {
    /// A status action (`fail`, `pause`) on every run `selection` matches.
    async fn bulk_runs(
        &self,
        action: Action,
        selection: &Query,
        dry_run: bool,
        actor: Option<&Actor>,
    ) -> Result<Outcome<RunView>>;
    /// `resolve` (`resolved`) or `unresolve` on every integration error `selection`
    /// matches; each run whose errors changed gets an entry in its transition log.
    async fn bulk_resolve(
        &self,
        resolved: bool,
        selection: &Query,
        dry_run: bool,
        actor: Option<&Actor>,
    ) -> Result<Outcome<Record>>;
}

#[async_trait]
pub trait ContactStore: Send + Sync + 'static {
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
    async fn contacts(&self, query: &Query) -> Result<Page<Contact>>;
}

/// Monitors: what each integration's runs are expected to do.
#[async_trait]
pub trait MonitorStore: Send + Sync + 'static {
    /// The integration's monitor and what it has seen of its runs. The first time, the
    /// default monitor is made, with `fresh_key` as its ping key; [`Error::NotFound`] for an
    /// unknown integration.
    async fn monitor(
        &self,
        integration_id: i64,
        fresh_key: String,
        now: Timestamp,
    ) -> Result<(StoredMonitor, Observed)>;
    /// Writes `fields` over the monitor (made first if need be), in one transaction.
    async fn update_monitor(
        &self,
        integration_id: i64,
        fields: MonitorFields,
        fresh_key: String,
        actor: Option<&Actor>,
        now: Timestamp,
    ) -> Result<(StoredMonitor, Observed)>;
    /// The integration's changes of health, newest first.
    async fn flips(&self, integration_id: i64, limit: i64, offset: i64) -> Result<Vec<Flip>>;
    /// The monitors that exist, with the health the sweeper last recorded, in any of
    /// `health` (all when empty), by integration id.
    async fn monitors(
        &self,
        health: &[Health],
        limit: i64,
        offset: i64,
    ) -> Result<Vec<StoredMonitor>>;
}

/// The sweep of monitors whose deadline came: what the sweeper holds.
#[async_trait]
pub trait SweepStore: Send + Sync + 'static {
    /// Up to `limit` monitors due at `now`, soonest first (a read, no lock).
    async fn due_monitors(&self, now: Timestamp, limit: i64) -> Result<Vec<i64>>;
    /// Looks at the integration's monitor in one transaction, if it is still due and no
    /// other node is looking at it.
    async fn look(&self, integration_id: i64, now: Timestamp) -> Result<Option<Looked>>;
    /// Puts the next look off until `until`.
    async fn postpone(&self, integration_id: i64, until: Timestamp) -> Result<()>;
}

/// Ping URLs: what the unauthenticated `/ping/<key>` routes hold.
#[async_trait]
pub trait PingStore: Send + Sync + 'static {
    /// Receives a ping for the monitor whose ping key is `key`, at `now`, in one transaction:
    /// the run it starts or ends (with its integration error), and its line in the log.
    /// [`Error::NotFound`] when no monitor has the key.
    async fn ping(&self, key: String, ping: Ping, now: Timestamp) -> Result<LoggedPing>;
    /// A page of the integration's ping log; [`Error::NotFound`] for an unknown integration.
    async fn pings(&self, integration_id: i64, query: &Query) -> Result<Page<LoggedPing>>;
}

/// The event stream: what the event hub and the stream's routes hold.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Up to `limit` events after `after`, in stream order; with `filter`, only those it
    /// matches. Only settled events: none that a transaction still running could precede.
    async fn events_after(
        &self,
        after: Position,
        filter: Option<&Query>,
        limit: i64,
    ) -> Result<Vec<Event>>;
    /// Of the events `ids`, those `filter` matches.
    async fn events_matching(&self, ids: &[i64], filter: &Query) -> Result<Vec<i64>>;
    /// Where event `id` stands, while it is kept.
    async fn event_position(&self, id: i64) -> Result<Option<Position>>;
    /// The newest settled event's position (the origin when there is none).
    async fn latest_position(&self) -> Result<Position>;
    /// The oldest event kept, in stream order, if any.
    async fn oldest_event(&self) -> Result<Option<Position>>;
    /// What each event is about, as stored now (none when it is gone).
    async fn changes(&self, events: &[Event]) -> Result<Vec<Option<Change>>>;
    /// Deletes up to `limit` events made before `before`; how many went.
    async fn purge_events(&self, before: Timestamp, limit: i64) -> Result<u64>;
}

/// Webhook subscriptions to the event stream, and their fan-out to the outbox.
#[async_trait]
pub trait SubscriptionStore: Send + Sync + 'static {
    /// Creates a subscription that hears of the events after the latest; `secret` signs its
    /// deliveries.
    async fn create_subscription(
        &self,
        fields: SubscriptionFields,
        secret: String,
        actor: Option<&Actor>,
    ) -> Result<Subscription>;
    async fn update_subscription(
        &self,
        id: i64,
        fields: SubscriptionFields,
        actor: Option<&Actor>,
    ) -> Result<Subscription>;
    /// The subscription, or [`Error::NotFound`].
    async fn subscription(&self, id: i64) -> Result<Subscription>;
    async fn subscriptions(&self, query: &Query) -> Result<Page<Subscription>>;
    /// The active subscriptions whose last event handed over is before `head`.
    async fn behind(&self, head: Position) -> Result<Vec<i64>>;
    /// Hands the subscription's next events to the outbox in one transaction, unless
    /// another node is at it; how many. `head` is a settled position the stream has reached.
    async fn fan_out(&self, id: i64, head: Position) -> Result<usize>;
}

/// OpenLineage intake: what `/api/v1/lineage` holds.
#[async_trait]
pub trait LineageStore: Send + Sync + 'static {
    /// Receives one event in one transaction: finds the run it names (or makes it, in its
    /// job's integration, made too when `receipt` allows), merges the event into it, and
    /// keeps the event as received. The run's id; none for an event without a run. An exact
    /// repeat of an event changes nothing.
    async fn lineage_event(&self, intake: Intake, receipt: Receipt) -> Result<Option<i64>>;
    /// A lineage run with its place in the lineage, or [`Error::NotFound`].
    async fn lineage_run(&self, run_id: RunId) -> Result<LineageRunView>;
    /// A kept event with its body as received, or [`Error::NotFound`].
    async fn lineage_event_body(&self, id: i64) -> Result<StoredEvent>;
}

/// How an OpenLineage event was received: its body (re-serialized), from whom, when, and
/// whether an unknown job may have its integration made (`--lineage-create-integrations`).
#[derive(Clone, Debug)]
pub struct Receipt {
    pub raw: String,
    pub actor: Option<Actor>,
    pub now: Timestamp,
    pub create_integrations: bool,
}

/// The alerts' outbox: what the dispatcher holds.
#[async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    async fn delivery(&self, id: i64) -> Result<Delivery>;
    async fn deliveries(&self, query: &Query) -> Result<Page<Delivery>>;
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
    /// What a delivery tells of, as the API shows it now, read at one instant.
    async fn subject(&self, kind: RecordKind, record_id: i64) -> Result<Subject>;
    /// The key a contact's or a subscription's webhooks are signed with (empty when a
    /// contact has none).
    async fn webhook_secret(&self, recipient: Recipient) -> Result<String>;
    /// An event a subscription hears of, with the change it tells of as stored now.
    async fn event(&self, id: i64) -> Result<(Event, Option<Change>)>;
}

/// What an alert tells of: the record, its run (with the run's integration) if it has one,
/// and otherwise its integration if it has one.
#[derive(Clone, Debug)]
pub struct Subject {
    pub record: Record,
    pub run: Option<RunView>,
    pub integration: Option<Integration>,
}

impl Subject {
    /// The record's integration, through its run if it has one.
    pub fn integration(&self) -> Option<&Integration> {
        match &self.run {
            Some(run) => Some(&run.integration),
            None => self.integration.as_ref(),
        }
    }
}

/// API clients and the token signing key: what the authenticator holds.
#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
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

/// Idempotency keys: what the layer in front of the keyed routes and the expiry worker hold.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// The row that holds `identity`'s key, if any: for a request that met it held.
    async fn key_row(&self, identity: Identity) -> Result<Option<KeyRow>>;
    /// Takes `identity`'s key at `now` with its answer, for a request that answered without
    /// a write (a refusal); `false` when another request holds the key.
    async fn keep_answer(
        &self,
        identity: Identity,
        now: Timestamp,
        rules: Rules,
        fingerprint: Fingerprint,
        answer: Answer,
    ) -> Result<bool>;
    /// Stores the answers of the requests whose writes took their keys, in one write; how
    /// many were stored (a row no longer the request's is passed over).
    async fn store_answers(&self, answers: Vec<(Ticket, Fingerprint, Answer)>) -> Result<usize>;
    /// Frees the key that the request holding `ticket` took, its answer not kept.
    async fn free_key(&self, ticket: Ticket) -> Result<()>;
    /// Of the `limit` oldest keys (by id, the order they were first taken in), deletes those
    /// taken at or before `taken_by`; how many.
    async fn delete_keys_taken_by(&self, taken_by: Timestamp, limit: i64) -> Result<u64>;
}

/// Bulk loading, for `runledger seed` and the benchmark.
#[async_trait]
pub trait SeedStore: Send + Sync + 'static {
    /// Writes seeded runs and their errors in one transaction, many rows per statement.
    async fn seed_runs(&self, runs: Vec<SeedRun>) -> Result<()>;
    /// Refreshes the query planner's statistics, after a bulk load.
    async fn analyze(&self) -> Result<()>;
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
        Some("sqlite") => Ok(Arc::new(SqlStore::new(sqlite::Sqlite::open(url).await?))),
        Some("postgres" | "postgresql") => Ok(Arc::new(SqlStore::new(
            postgres::Postgresql::open(url, pool_size).await?,
        ))),
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
/// any other error passes through. `keys` pairs the names a violation may cite (SQLite's
/// `table.column`, PostgreSQL's constraint) with the message.
fn on_unique(error: Error, keys: &[(&str, &str)]) -> Error {
    if let Some(text) = unique_violation(&error)
        && let Some((_, message)) = keys.iter().find(|(key, _)| text.contains(key))
    {
        return Error::invalid(*message);
    }
    error
}

/// The violated key's name and the database's message, if `error` is a unique-key violation.
fn unique_violation(error: &Error) -> Option<String> {
    let Error::Storage(source) = error else {
        return None;
    };
    if let Some(sqlx::Error::Database(db)) = source.downcast_ref::<sqlx::Error>()
        && db.is_unique_violation()
    {
        return Some(format!(
            "{} {}",
            db.constraint().unwrap_or_default(),
            db.message()
        ));
    }
    // SQLite names the columns in its message: `UNIQUE constraint failed: integrations.code`.
    match source.downcast_ref::<rusqlite::Error>() {
        Some(rusqlite::Error::SqliteFailure(e, message))
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            message.clone()
        }
        _ => None,
    }
}

// A driver's failure is a storage error; what the store answers differently (a unique key,
// a missing row) it picks out of it after the conversion.
impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        // PostgreSQL rolled the transaction back to break a deadlock or keep it serializable:
        // nothing was written, and the same request can simply be sent again.
        if let sqlx::Error::Database(db) = &error
            && matches!(db.code().as_deref(), Some("40P01" | "40001"))
        {
            tracing::warn!(%error, "a write was rolled back by the database");
            return Error::Conflict(
                "The write met a concurrent one and was rolled back; retry the request".into(),
            );
        }
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
        match on_unique(violation.into(), &keys) {
            Error::Invalid(messages) => assert_eq!(messages, ["Code has already been taken"]),
            other => panic!("{other:?}"),
        }
        // Any other failure passes through.
        let other = conn
            .execute("INSERT INTO nowhere VALUES (1)", [])
            .unwrap_err();
        assert!(matches!(on_unique(other.into(), &keys), Error::Storage(_)));
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
