//! A monitor as the API shows it: its settings, its health at the instant of the answer, and
//! its ping URL (Runledger's own resource, `/api/integrations/:id/monitor`).

use super::integrations::actor;
use super::render::Node;
use crate::domain::monitor::Verdict;
use crate::domain::monitor::fields::StoredMonitor;

/// Seconds, or null.
fn seconds(span: Option<std::time::Duration>) -> Node {
    Node::opt_int(span.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
}

pub fn node(stored: &StoredMonitor, verdict: &Verdict, ping_url: &str) -> Node {
    let m = &stored.monitor;
    Node::Object(vec![
        ("integration-id", Node::Int(stored.integration_id)),
        ("created-at", Node::Time(stored.created_at)),
        ("updated-at", Node::Time(stored.updated_at)),
        (
            "schedule-kind",
            m.schedule
                .as_ref()
                .map_or(Node::Null, |s| Node::text(s.kind())),
        ),
        (
            "schedule",
            m.schedule
                .as_ref()
                .map_or(Node::Null, |s| Node::Text(s.text())),
        ),
        ("time-zone", Node::text(m.zone.name())),
        ("start-grace", seconds(Some(m.start_grace))),
        ("max-runtime", seconds(m.max_runtime)),
        ("min-runtime", seconds(m.min_runtime)),
        ("min-records", Node::opt_int(m.min_records)),
        ("max-records", Node::opt_int(m.max_records)),
        ("max-errors", Node::opt_int(m.max_errors)),
        ("paused", Node::Bool(m.paused.is_some())),
        ("paused-until", Node::opt_time(m.paused.flatten())),
        ("health", Node::text(verdict.health.as_str())),
        ("health-reason", Node::Text(verdict.reason.clone())),
        ("next-expected-at", Node::opt_time(verdict.next_expected)),
        ("watching-since", Node::Time(m.since)),
        ("ping-url", Node::text(ping_url)),
        ("created-by", actor(&stored.created_by)),
        ("updated-by", actor(&stored.updated_by)),
    ])
}
