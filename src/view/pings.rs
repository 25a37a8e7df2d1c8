//! A monitor's ping, as its log shows it (`/api/integrations/:id/monitor/pings`).

use super::render::Node;
use crate::domain::pings::LoggedPing;

pub fn node(p: &LoggedPing) -> Node {
    Node::Object(vec![
        ("id", Node::Int(p.id)),
        ("integration-id", Node::Int(p.integration_id)),
        ("kind", Node::text(p.kind.as_str())),
        ("rid", Node::opt_text(&p.rid)),
        ("run-id", Node::opt_int(p.run_id)),
        ("exit-status", Node::opt_int(p.exit_status)),
        ("body", Node::opt_text(&p.body)),
        ("user-agent", Node::opt_text(&p.user_agent)),
        ("received-at", Node::Time(p.received_at)),
    ])
}
