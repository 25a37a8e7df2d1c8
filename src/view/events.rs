//! An event of the stream (`/api/events`) and of webhook subscriptions: what changed, and the
//! change as its own resource shows it.

use super::render::Node;
use super::{monitors, records, transitions};
use crate::domain::events::{Change, Event};
use crate::domain::records::RecordKind;

/// The event, with the change it tells of (`transition`, `integration-error` or `flip`), or
/// null for a change deleted since (retention).
pub fn node(event: &Event, change: Option<&Change>) -> Node {
    let (name, shown) = match change {
        Some(Change::Transition(entry)) => ("transition", transitions::node(entry)),
        Some(Change::IntegrationError(record)) => (
            "integration-error",
            records::node(RecordKind::Error, record),
        ),
        Some(Change::Flip(flip)) => ("flip", monitors::flip_node(flip)),
        None => ("change", Node::Null),
    };
    Node::Object(vec![
        ("id", Node::Int(event.position.id)),
        ("topic", Node::text(event.topic.as_str())),
        ("integration-id", Node::opt_int(event.integration_id)),
        (
            "integration-run-id",
            Node::opt_int(event.integration_run_id),
        ),
        ("created-at", Node::Time(event.created_at)),
        (name, shown),
    ])
}
