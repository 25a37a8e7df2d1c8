//! An integration as the API and webhook payloads show it (spec §1.3), and the authors every
//! resource shows.

use super::render::Node;
use crate::domain::Actor;
use crate::domain::integrations::Integration;

/// An integration with every element.
pub fn node(i: &Integration) -> Node {
    let mut node = embedded(i);
    if let Node::Object(entries) = &mut node {
        entries.push(("created-by", actor(&i.created_by)));
        entries.push(("updated-by", actor(&i.updated_by)));
    }
    node
}

/// An integration as a run embeds it: without its own authors.
pub fn embedded(i: &Integration) -> Node {
    Node::Object(vec![
        ("id", Node::Int(i.id)),
        ("created-at", Node::Time(i.created_at)),
        ("updated-at", Node::Time(i.updated_at)),
        ("code", Node::text(&i.code)),
        ("name", Node::text(&i.name)),
        ("business-object", Node::text(&i.business_object)),
        ("direction", Node::text(i.direction.as_str())),
        ("end-system", Node::text(&i.end_system)),
        ("end-system-type", Node::text(i.end_system_type.as_str())),
        (
            "integration-type",
            i.integration_type
                .map_or(Node::Null, |t| Node::text(t.as_str())),
        ),
        ("standard", Node::Bool(i.standard)),
    ])
}

/// `created-by` / `updated-by`: `{"id": …, "login": …}` or null.
pub fn actor(actor: &Option<Actor>) -> Node {
    match actor {
        Some(a) => Node::Object(vec![
            ("id", Node::Int(a.id)),
            ("login", Node::text(&a.login)),
        ]),
        None => Node::Null,
    }
}
