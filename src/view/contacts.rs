//! An integration contact as the API shows it (spec §1.4).

use super::integrations::actor;
use super::render::Node;
use crate::domain::contacts::Contact;

/// A contact without its secret.
pub fn node(c: &Contact) -> Node {
    Node::Object(vec![
        ("id", Node::Int(c.id)),
        ("created-at", Node::Time(c.created_at)),
        ("updated-at", Node::Time(c.updated_at)),
        (
            "contact-alert-type",
            Node::text(c.contact_alert_type.as_str()),
        ),
        ("contactable-type", Node::text(c.contactable_type.as_str())),
        ("contactable-id", Node::Int(c.contactable_id)),
        (
            "integration",
            c.integration_id
                .map_or(Node::Null, |id| Node::Object(vec![("id", Node::Int(id))])),
        ),
        ("email", Node::opt_text(&c.email)),
        ("webhook-url", Node::opt_text(&c.webhook_url)),
        ("created-by", actor(&c.created_by)),
        ("updated-by", actor(&c.updated_by)),
    ])
}

/// A contact just created: the one answer that shows its webhook secret.
pub fn created(c: &Contact) -> Node {
    let mut shown = node(c);
    if let Node::Object(entries) = &mut shown {
        entries.push(("webhook-secret", Node::opt_text(&c.webhook_secret)));
    }
    shown
}
