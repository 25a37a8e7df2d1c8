//! The API test suite: one binary that drives a real server over HTTP, on SQLite.
//! `tests/api_postgres` runs the same modules on PostgreSQL.

/// The database every `spawn_app` of this binary uses.
pub const BACKEND: helpers::Backend = helpers::Backend::Sqlite;

mod alerts;
mod auth;
mod cli;
mod concurrency;
mod crash;
mod exec;
mod extensions;
mod formats;
mod helpers;
mod idempotency;
mod integrations;
mod limits;
mod migrations;
mod monitors;
mod pings;
mod process;
mod properties;
mod query;
mod records;
mod runs;
mod seed;
mod sweeper;
mod text;
mod wire;
