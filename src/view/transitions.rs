//! An entry of a run's transition log.

use super::integrations::actor;
use super::render::Node;
use crate::domain::transitions::Entry;

pub fn node(entry: &Entry) -> Node {
    let status =
        |s: Option<crate::domain::runs::Status>| s.map_or(Node::Null, |s| Node::text(s.as_str()));
    Node::Object(vec![
        ("id", Node::Int(entry.id)),
        ("integration-run-id", Node::Int(entry.integration_run_id)),
        ("integration-id", Node::Int(entry.integration_id)),
        ("cause", Node::text(entry.cause.as_str())),
        ("from-status", status(entry.from_status)),
        ("to-status", status(Some(entry.to_status))),
        ("changes", Node::Json(entry.changes.clone())),
        ("created-at", Node::Time(entry.created_at)),
        ("created-by", actor(&entry.created_by)),
    ])
}
