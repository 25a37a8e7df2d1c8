//! How a record is shown: the response tree and its writers ([`render`]) and one builder per
//! resource, shared by API answers ([`crate::http`]) and webhook payloads ([`crate::alerts`]);
//! [`email`] writes an alert for people.
//! Views know the domain and the query's shaping, never HTTP or storage.

pub mod alerts;
pub mod bulk;
pub mod contacts;
pub mod deliveries;
pub mod email;
pub mod events;
pub mod integrations;
pub mod lineage;
pub mod monitors;
pub mod pings;
pub mod records;
pub mod render;
pub mod runs;
pub mod subscriptions;
pub mod transitions;

pub use render::Node;
