//! An alert delivery (the outbox row) as the API shows it.

use super::render::Node;
use crate::domain::alerts::{Delivery, Recipient};

pub fn node(d: &Delivery) -> Node {
    let (contact, subscription) = match d.recipient {
        Recipient::Contact(id) => (Some(id), None),
        Recipient::Subscription(id) => (None, Some(id)),
    };
    Node::Object(vec![
        ("id", Node::Int(d.id)),
        ("created-at", Node::Time(d.created_at)),
        ("updated-at", Node::Time(d.updated_at)),
        ("integration-contact-id", Node::opt_int(contact)),
        ("event-subscription-id", Node::opt_int(subscription)),
        ("integration-id", Node::opt_int(d.integration_id)),
        ("record-type", Node::text(d.record_type.as_str())),
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
