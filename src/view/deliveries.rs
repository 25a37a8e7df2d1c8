//! An alert delivery (the outbox row) as the API shows it.

use super::render::Node;
use crate::domain::alerts::Delivery;

pub fn node(d: &Delivery) -> Node {
    Node::Object(vec![
        ("id", Node::Int(d.id)),
        ("created-at", Node::Time(d.created_at)),
        ("updated-at", Node::Time(d.updated_at)),
        (
            "integration-contact-id",
            Node::Int(d.integration_contact_id),
        ),
        ("integration-id", Node::opt_int(d.integration_id)),
        ("record-type", Node::text(d.record_type.owner_type())),
        ("record-id", Node::Int(d.record_id)),
        ("channel", Node::text(d.channel.as_str())),
        ("target", Node::text(&d.target)),
        ("status", Node::text(d.status.as_str())),
        ("attempts", Node::Int(d.attempts)),
        ("next-attempt-at", Node::opt_time(d.next_attempt_at)),
        ("last-error", Node::opt_text(&d.last_error)),
        ("response-code", Node::opt_int(d.response_code)),
        ("delivered-at", Node::opt_time(d.delivered_at)),
    ])
}
