//! The API test suite on PostgreSQL: the modules of `tests/api` but the command line's, each
//! test on a fresh schema of the server that `RUNLEDGER_TEST_POSTGRES_URL` names, plus what
//! only a shared database can show: several nodes on one database.
//!
//! Without `RUNLEDGER_TEST_POSTGRES_URL` the binary says that it skipped and succeeds.

/// The database every `spawn_app` of this binary uses.
pub const BACKEND: helpers::Backend = helpers::Backend::Postgres;

#[path = "../api/alerts.rs"]
mod alerts;
#[path = "../api/auth.rs"]
mod auth;
#[path = "../api/bulk.rs"]
mod bulk;
#[path = "../api/concurrency.rs"]
mod concurrency;
#[path = "../api/crash.rs"]
mod crash;
#[path = "../api/etags.rs"]
mod etags;
#[path = "../api/events.rs"]
mod events;
#[path = "../api/exec.rs"]
mod exec;
#[path = "../api/extensions.rs"]
mod extensions;
#[path = "../api/formats.rs"]
mod formats;
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/idempotency.rs"]
mod idempotency;
#[path = "../api/integrations.rs"]
mod integrations;
#[path = "../api/limits.rs"]
mod limits;
#[path = "../api/lineage.rs"]
mod lineage;
#[path = "../api/monitors.rs"]
mod monitors;
mod multinode;
#[path = "../api/paging.rs"]
mod paging;
#[path = "../api/pings.rs"]
mod pings;
// Shared with the SQLite binary, whose command-line tests use the rest of it.
#[allow(dead_code)]
#[path = "../api/process.rs"]
mod process;
#[path = "../api/properties.rs"]
mod properties;
#[path = "../api/query.rs"]
mod query;
#[path = "../api/records.rs"]
mod records;
#[path = "../api/runs.rs"]
mod runs;
#[path = "../api/seed.rs"]
mod seed;
#[path = "../api/subscriptions.rs"]
mod subscriptions;
#[path = "../api/sweeper.rs"]
mod sweeper;
#[path = "../api/text.rs"]
mod text;
#[path = "../api/transitions.rs"]
mod transitions;
#[path = "../api/wire.rs"]
mod wire;
