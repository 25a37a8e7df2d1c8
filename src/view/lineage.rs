//! A lineage run as `GET /api/v1/lineage/runs/:runId` shows it: the OpenLineage run, the
//! run it maps to, how late it started, and its place in the lineage.

use super::render::Node;
use crate::domain::lineage::Job;
use crate::domain::lineage::kept::{LineageRunView, StoredEvent};

pub fn node(v: &LineageRunView) -> Node {
    let s = &v.state;
    let (last_type, last_time) = match &s.last_event {
        Some((kind, at)) => (Node::text(kind.as_str()), Node::Text(at.text())),
        None => (Node::Null, Node::Null),
    };
    let parent = match &s.parent {
        Some(parent) => Node::Object(vec![
            ("run-id", Node::text(parent.run_id.as_str())),
            ("job", job(&parent.job)),
            (
                "integration-run-id",
                Node::opt_int(v.parent_integration_run_id),
            ),
        ]),
        None => Node::Null,
    };
    let children = v
        .children
        .iter()
        .map(|(run_id, integration_run_id)| {
            Node::Object(vec![
                ("run-id", Node::text(run_id.as_str())),
                ("integration-run-id", Node::opt_int(*integration_run_id)),
            ])
        })
        .collect();
    Node::Object(vec![
        ("run-id", Node::text(s.run_id.as_str())),
        ("job", job(&s.job)),
        ("integration-run-id", Node::Int(s.integration_run_id)),
        ("integration-id", Node::Int(v.integration_id)),
        ("last-event-type", last_type),
        ("last-event-time", last_time),
        (
            "nominal-start-time",
            Node::opt_time(s.nominal.as_ref().map(|n| n.start)),
        ),
        (
            "nominal-end-time",
            Node::opt_time(s.nominal.as_ref().and_then(|n| n.end)),
        ),
        ("start-delay", Node::opt_int(s.start_delay(v.start_time))),
        ("parent", parent),
        ("children", Node::List("child", children)),
        (
            "events",
            Node::List("event", v.events.iter().map(event).collect()),
        ),
        ("created-at", Node::Time(s.created_at)),
        ("updated-at", Node::Time(s.updated_at)),
    ])
}

fn job(job: &Job) -> Node {
    Node::Object(vec![
        ("namespace", Node::text(&job.namespace)),
        ("name", Node::text(&job.name)),
    ])
}

/// An event of the run, without its body (`/api/v1/lineage/events/:id` has it).
fn event(e: &StoredEvent) -> Node {
    Node::Object(vec![
        ("id", Node::Int(e.id)),
        (
            "event-type",
            e.event_type.map_or(Node::Null, |t| Node::text(t.as_str())),
        ),
        ("event-time", Node::Text(e.event_time.text())),
        ("received-at", Node::Time(e.received_at)),
    ])
}
