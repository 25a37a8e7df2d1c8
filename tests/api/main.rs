//! The API test suite: one binary that drives a real server over HTTP.

mod alerts;
mod auth;
mod cli;
mod concurrency;
mod crash;
mod formats;
mod helpers;
mod integrations;
mod process;
mod query;
mod records;
mod runs;
