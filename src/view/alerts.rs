//! An alert's webhook payload: the integration, the run, the record and its responses, as
//! the API shows them.

use super::render::Node;
use super::{integrations, records, runs};
use crate::domain::integrations::Integration;
use crate::domain::records::{Record, RecordKind};
use crate::domain::runs::RunView;

/// The payload of delivery `delivery_id`, for `record` of `kind`, filed on `run` (if any) of
/// `integration` (if any).
pub fn payload(
    kind: RecordKind,
    delivery_id: i64,
    record: &Record,
    run: Option<&RunView>,
    integration: Option<&Integration>,
) -> Node {
    Node::Object(vec![
        ("event", Node::text(&format!("{}.alert", kind.owner_type()))),
        ("delivery-id", Node::Int(delivery_id)),
        (
            "integration",
            integration.map_or(Node::Null, integrations::embedded),
        ),
        ("integration-run", run.map_or(Node::Null, runs::node)),
        (
            if kind == RecordKind::Error {
                "integration-error"
            } else {
                "integration-history-record"
            },
            records::node(kind, record),
        ),
        ("responses", records::responses(record)),
    ])
}
