//! The API test suite: one binary that drives a real server over HTTP, on SQLite.
//! `tests/api_postgres` runs the same modules on PostgreSQL.

/// The database every `spawn_app` of this binary uses.
pub const BACKEND: helpers::Backend = helpers::Backend::Sqlite;

mod alerts;
mod auth;
mod bulk;
mod cli;
mod concurrency;
mod crash;
mod etags;
mod events;
mod exec;
mod extensions;
mod formats;
mod helpers;
mod idempotency;
mod integrations;
mod limits;
mod lineage;
mod migrations;
mod monitors;
mod paging;
mod pings;
mod process;
mod properties;
mod query;
mod records;
mod runs;
mod seed;
mod subscriptions;
mod sweeper;
mod text;
mod transitions;
mod wire;
