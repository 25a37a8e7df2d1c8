//! Runledger: a wire-compatible server for Coupa's Integration Runs API.
//!
//! The crate map, from the outside in:
//! - [`config`]: the command line and environment (spec `cli.md`).
//! - [`startup`]: the server's lifecycle: open the store, bind, serve until stopped.
//! - [`router`]: the route table (each route's scope) and the layers around it.
//! - [`app`]: the state every handler shares.
//! - [`server`]: the accept loop and the limits a server in the open needs.
//! - [`alerts`]: the dispatcher that sends alerts from the outbox (webhooks, email).
//! - [`hub`]: the event hub that feeds every event stream of a node (`/api/events`).
//! - [`egress`]: where webhooks may go (no loopback, private or metadata addresses).
//! - [`auth`]: OAuth 2.0 client credentials, API keys, signed tokens, scopes, throttling.
//! - [`http`]: content negotiation, XML/JSON bodies in and out, one module per resource.
//! - [`view`]: how each resource is shown, as a tree written in JSON or XML (API and webhooks).
//! - [`query`]: Coupa's query language, parsed to a typed AST and compiled to SQL with binds.
//! - [`domain`]: the records and their rules (the run status machine), free of I/O.
//! - [`sweeper`]: the background look at monitors whose deadline came.
//! - [`workers`]: the other background loops (expired idempotency keys).
//! - [`seeder`]: realistic history in bulk (`runledger seed`).
//! - [`exec`]: `runledger exec`, a run recorded around any command, through the HTTP API.
//! - [`store`]: the storage trait, implemented once for SQLite and PostgreSQL.
//! - [`error`]: the one error type, free of HTTP and drivers (rendered in `http::error`).
//! - [`time`]: datetimes as Coupa reads and writes them.

pub mod alerts;
pub mod app;
pub mod auth;
pub mod config;
pub mod domain;
pub mod egress;
pub mod error;
pub mod exec;
pub mod http;
pub mod hub;
pub mod query;
pub mod router;
pub mod seeder;
pub mod server;
pub mod startup;
pub mod store;
pub mod sweeper;
pub mod time;
pub mod view;
pub mod workers;

pub use error::{Error, Result};
