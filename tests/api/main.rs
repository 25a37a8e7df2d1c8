//! The API test suite: one binary that drives a real server over HTTP.

mod concurrency;
mod crash;
mod formats;
mod helpers;
mod integrations;
mod query;
mod runs;
