//! A monitor as the API shows it: its settings, its health, and its ping URL (Runledger's own
//! resource, `/api/integrations/:id/monitor`), and its changes of health.

use super::integrations::actor;
use super::render::Node;
use crate::domain::alert_policy::Maintenance;
use crate::domain::monitor::Verdict;
use crate::domain::monitor::fields::StoredMonitor;
use crate::domain::monitor::sweep::Flip;

/// Seconds, or null.
fn seconds(span: Option<std::time::Duration>) -> Node {
    Node::opt_int(span.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
}

/// The monitor with its health evaluated at the answer's instant (`GET`/`PUT …/monitor`).
pub fn node(stored: &StoredMonitor, verdict: &Verdict, ping_url: &str) -> Node {
    let health = vec![
        ("health", Node::text(verdict.health.as_str())),
        ("health-reason", Node::Text(verdict.reason.clone())),
        ("next-expected-at", Node::opt_time(verdict.next_expected)),
    ];
    monitor(stored, health, ping_url)
}

/// The monitor with the health the sweeper last recorded (`GET /api/monitors`).
pub fn stored_node(stored: &StoredMonitor, ping_url: &str) -> Node {
    let state = &stored.state;
    let health = vec![
        ("health", Node::text(state.health.as_str())),
        ("health-reason", Node::Text(state.reason.clone())),
        ("next-deadline-at", Node::opt_time(state.next_deadline)),
    ];
    monitor(stored, health, ping_url)
}

fn monitor(stored: &StoredMonitor, health: Vec<(&'static str, Node)>, ping_url: &str) -> Node {
    let m = &stored.monitor;
    let policy = &m.policy;
    let mut fields = vec![
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
        ("stuck-fail-after", seconds(m.stuck_fail_after)),
        ("heartbeat-timeout", seconds(m.heartbeat_timeout)),
        ("min-records", Node::opt_int(m.min_records)),
        ("max-records", Node::opt_int(m.max_records)),
        ("max-errors", Node::opt_int(m.max_errors)),
        ("paused", Node::Bool(m.paused.is_some())),
        ("paused-until", Node::opt_time(m.paused.flatten())),
    ];
    fields.extend(health);
    fields.extend([
        ("health-changed-at", Node::opt_time(stored.state.changed_at)),
        ("watching-since", Node::Time(m.since)),
        ("alerts-enabled", Node::Bool(policy.enabled)),
        (
            "alert-after-failures",
            Node::Int(i64::from(policy.after_failures)),
        ),
        (
            "alert-failure-percent",
            Node::opt_int(policy.failure_rate.map(|r| i64::from(r.percent))),
        ),
        (
            "alert-failure-window",
            Node::opt_int(policy.failure_rate.map(|r| r.runs as i64)),
        ),
        ("alert-on-recovery", Node::Bool(policy.recovery)),
        ("alert-repeat-every", seconds(policy.repeat_every)),
        ("escalate-after", seconds(policy.escalate.map(|e| e.after))),
        (
            "escalate-to",
            policy
                .escalate
                .map_or(Node::Null, |e| Node::text(e.to.as_str())),
        ),
        ("maintenance-windows", maintenance(&policy.maintenance)),
        ("ping-url", Node::text(ping_url)),
        ("created-by", actor(&stored.created_by)),
        ("updated-by", actor(&stored.updated_by)),
    ]);
    Node::Object(fields)
}

fn maintenance(windows: &[Maintenance]) -> Node {
    let window = |window: &Maintenance| match window {
        Maintenance::Once { from, until } => Node::Object(vec![
            ("from", Node::Time(*from)),
            ("until", Node::Time(*until)),
        ]),
        Maintenance::Recurring {
            starts,
            zone,
            lasts,
        } => Node::Object(vec![
            ("schedule-kind", Node::text(starts.kind())),
            ("schedule", Node::Text(starts.text())),
            ("time-zone", Node::text(zone.name())),
            ("duration", seconds(Some(*lasts))),
        ]),
    };
    Node::List("maintenance-window", windows.iter().map(window).collect())
}

/// One change of health.
pub fn flip_node(flip: &Flip) -> Node {
    Node::Object(vec![
        ("id", Node::Int(flip.id)),
        ("integration-id", Node::Int(flip.integration_id)),
        ("flipped-at", Node::Time(flip.flipped_at)),
        ("from", Node::text(flip.from.as_str())),
        ("to", Node::text(flip.to.as_str())),
        ("reason", Node::Text(flip.reason.clone())),
        ("integration-run-id", Node::opt_int(flip.integration_run_id)),
    ])
}
