//! An integration run as the API and webhook payloads show it (spec §1.1).

use super::render::Node;
use super::{integrations, records};
use crate::domain::runs::RunView;

pub fn node(view: &RunView) -> Node {
    let run = &view.run;
    Node::Object(vec![
        ("id", Node::Int(run.id)),
        ("created-at", Node::Time(run.created_at)),
        ("updated-at", Node::Time(run.updated_at)),
        ("status", Node::text(run.status.as_str())),
        ("start-time", Node::opt_time(run.start_time)),
        ("end-time", Node::opt_time(run.end_time)),
        ("total-records", Node::opt_int(run.total_records)),
        ("records-processed", Node::opt_int(run.records_processed)),
        ("flow", run.flow.clone().map_or(Node::Null, Node::Json)),
        ("integration", integrations::embedded(&view.integration)),
        (
            "integration-errors",
            Node::List(
                "integration-error",
                view.integration_errors
                    .iter()
                    .map(records::embedded)
                    .collect(),
            ),
        ),
        ("created-by", integrations::actor(&run.created_by)),
        ("updated-by", integrations::actor(&run.updated_by)),
    ])
}

/// A run with Runledger's extensions (`X-Runledger-Extensions: 1`): Coupa's elements, then
/// its lineage (`retry-of`, `attempt`).
pub fn extended(view: &RunView) -> Node {
    let Node::Object(mut entries) = node(view) else {
        unreachable!("a run is an object")
    };
    let retry_of = view
        .run
        .retry_of
        .map_or(Node::Null, |id| Node::Object(vec![("id", Node::Int(id))]));
    entries.push(("retry-of", retry_of));
    entries.push(("attempt", Node::Int(view.run.attempt)));
    Node::Object(entries)
}
