//! Integration errors and history records as the API and webhook payloads show them
//! (spec §1.4): on their own, and as a run embeds them.

use super::integrations::actor;
use super::render::Node;
use crate::domain::records::{Record, RecordKind, Response};

/// The elements every record shows, wherever it is shown.
fn document(e: &Record) -> Vec<(&'static str, Node)> {
    vec![
        ("id", Node::Int(e.id)),
        ("created-at", Node::Time(e.created_at)),
        ("updated-at", Node::Time(e.updated_at)),
        (
            "contact-alert-type",
            Node::text(e.contact_alert_type.as_str()),
        ),
        ("document-type", Node::opt_text(&e.document_type)),
        ("document-id", Node::opt_int(e.document_id)),
        ("document-revision", Node::opt_int(e.document_revision)),
        ("document-status", Node::opt_text(&e.document_status)),
        ("external-id", Node::opt_text(&e.external_id)),
        (
            "integration-filename",
            Node::opt_text(&e.integration_filename),
        ),
        ("creation-method", Node::opt_text(&e.creation_method)),
        ("status", Node::opt_text(&e.status)),
        ("resolved", Node::Bool(e.resolved)),
    ]
}

/// A record as its own resource shows it: with its run, integration and responses.
pub fn node(kind: RecordKind, e: &Record) -> Node {
    let mut entries = document(e);
    if kind == RecordKind::History {
        entries.push(("exported", Node::Bool(e.exported)));
    }
    let run = e
        .integration_run_id
        .map_or(Node::Null, |id| Node::Object(vec![("id", Node::Int(id))]));
    let integration = e.integration.as_ref().map_or(Node::Null, |i| {
        Node::Object(vec![
            ("id", Node::Int(i.id)),
            ("code", Node::text(&i.code)),
            ("name", Node::text(&i.name)),
        ])
    });
    entries.extend([
        ("integration-run", run),
        ("integration", integration),
        ("responses", responses(e)),
        ("created-by", actor(&e.created_by)),
        ("updated-by", actor(&e.updated_by)),
    ]);
    Node::Object(entries)
}

/// An error as a run embeds it.
pub fn embedded(e: &Record) -> Node {
    let mut entries = document(e);
    entries.extend([
        ("integration-run-id", Node::opt_int(e.integration_run_id)),
        ("created-by", actor(&e.created_by)),
        ("updated-by", actor(&e.updated_by)),
    ]);
    Node::Object(entries)
}

/// A record's responses, as a list.
pub fn responses(e: &Record) -> Node {
    Node::List("response", e.responses.iter().map(response).collect())
}

fn response(r: &Response) -> Node {
    Node::Object(vec![
        ("id", Node::Int(r.id)),
        ("created-at", Node::Time(r.created_at)),
        ("updated-at", Node::Time(r.updated_at)),
        ("response-code", Node::opt_text(&r.response_code)),
        ("response-message", Node::opt_text(&r.response_message)),
    ])
}
