//! A webhook subscription to the event stream, as the API shows it.

use super::integrations::actor;
use super::render::Node;
use crate::domain::subscriptions::Subscription;

pub fn node(s: &Subscription) -> Node {
    Node::Object(vec![
        ("id", Node::Int(s.id)),
        ("created-at", Node::Time(s.created_at)),
        ("updated-at", Node::Time(s.updated_at)),
        ("url", Node::text(&s.url)),
        ("filter", Node::text(&s.filter)),
        ("active", Node::Bool(s.active)),
        ("last-event-id", Node::Int(s.cursor.id)),
        ("created-by", actor(&s.created_by)),
        ("updated-by", actor(&s.updated_by)),
    ])
}

/// The subscription as its creation answers it: the only time its signing key is shown.
pub fn created(s: &Subscription) -> Node {
    let mut shown = node(s);
    if let Node::Object(entries) = &mut shown {
        entries.push(("secret", Node::text(&s.secret)));
    }
    shown
}
