//! The records Runledger keeps and the rules they obey, free of I/O.
//!
//! Bodies arrive as a format-neutral [`serde_json::Value`] (XML is converted first), and each
//! record type turns that into typed, validated fields here, so that the store only ever sees
//! values that are already correct.

pub mod alert_policy;
pub mod alerts;
pub mod bulk;
pub mod clients;
pub mod contacts;
pub mod coupa_scopes;
pub mod etag;
pub mod events;
pub mod idempotency;
pub mod input;
pub mod integrations;
pub mod lineage;
pub mod monitor;
pub mod pings;
pub mod records;
pub mod runs;
pub mod schedule;
pub mod subscriptions;
pub mod text;
pub mod transitions;
pub mod vocabulary;

/// The API client that made a change, shown as `created-by` / `updated-by`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub id: i64,
    pub login: String,
}
