//! The API test suite: one binary that drives a real server over HTTP.

mod auth;
mod cli;
mod formats;
mod helpers;
mod integrations;
mod process;
mod runs;
