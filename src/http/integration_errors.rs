//! Integration errors on the wire. Runs embed them (`integration-errors`).

use super::render::Node;
use crate::domain::integration_errors::IntegrationError;

pub fn node(e: &IntegrationError) -> Node {
    Node::Object(vec![
        ("id", Node::Int(e.id)),
        ("created-at", Node::Time(e.created_at)),
        ("updated-at", Node::Time(e.updated_at)),
        ("contact-alert-type", Node::text(&e.contact_alert_type)),
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
        ("integration-run-id", Node::opt_int(e.integration_run_id)),
        ("created-by", super::integrations::actor(&e.created_by)),
        ("updated-by", super::integrations::actor(&e.updated_by)),
    ])
}
