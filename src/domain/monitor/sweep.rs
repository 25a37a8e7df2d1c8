//! What the sweeper does with a monitor whose deadline came: the rules, free of storage.
//!
//! The sweeper keeps each monitor's last recorded health and the episode its alerts follow.
//! When a deadline comes (or a run changed), it evaluates the monitor, records a missed start
//! as a failed run and a stuck run as an integration error, records a change of health as a
//! flip, asks the alert policy what is due, and sets the next deadline. This module says what
//! each of those records says; `store::sweep` writes them in one transaction.

use super::{Health, Monitor, Observed, Verdict, span};
use crate::domain::alert_policy::{Alert, Episode};
use crate::domain::records::ContactAlertType;
use crate::domain::runs::Status;
use crate::time::Timestamp;

/// What the sweeper last recorded of a monitor.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorState {
    pub health: Health,
    pub reason: String,
    pub changed_at: Option<Timestamp>,
    /// When to look again; `None` when only a new run can change anything.
    pub next_deadline: Option<Timestamp>,
    pub episode: Episode,
}

impl Default for MonitorState {
    fn default() -> Self {
        MonitorState {
            health: Health::New,
            reason: "no run yet".into(),
            changed_at: None,
            next_deadline: None,
            episode: Episode::default(),
        }
    }
}

/// What one look at a monitor did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Looked {
    pub integration_id: i64,
    pub from: Health,
    pub to: Health,
    /// Missed starts recorded as runs.
    pub missed: usize,
    /// Alerts filed.
    pub alerts: usize,
}

/// A change of health, as recorded (written once).
#[derive(Clone, Debug, PartialEq)]
pub struct Flip {
    pub id: i64,
    pub integration_id: i64,
    pub flipped_at: Timestamp,
    pub from: Health,
    pub to: Health,
    pub reason: String,
    pub integration_run_id: Option<i64>,
}

/// How many missed starts one look records at most: a monitor that was not swept for long
/// (every node down) catches up over several looks rather than in one long transaction.
pub const MAX_MISSED_PER_LOOK: usize = 100;

/// The message of the integration error that a missed start's run carries.
pub fn missed_message(verdict: &Verdict) -> String {
    format!("missed: {}", verdict.reason)
}

/// The message of the integration error filed on a stuck run: why it is stuck at `now`.
pub fn stuck_message(monitor: &Monitor, seen: &Observed, run_id: i64, now: Timestamp) -> String {
    match seen.open.iter().find(|run| run.id == run_id) {
        Some(run) => format!("stuck: {}", monitor.stuck_reason(run, now)),
        None => format!("stuck: run {run_id}"),
    }
}

/// The message of the integration error filed on a run failed at the hard limit.
pub fn overdue_message(monitor: &Monitor) -> String {
    let hard = monitor.stuck_fail_after.map(span).unwrap_or_default();
    format!("failed by the monitor: open longer than {hard}")
}

/// The latest outcomes for the alert policy, newest first (`true` for a failure): the ended
/// runs' statuses, with the verdict's own trouble in front when it is not a failed run (an
/// open run that is stuck, or a successful run that was too fast or out of bounds).
pub fn outcomes(verdict: &Verdict, ended: &[Status]) -> Vec<bool> {
    let mut outcomes: Vec<bool> = ended.iter().map(|s| *s != Status::Successful).collect();
    if verdict.health == Health::Down {
        if !verdict.stuck.is_empty() {
            outcomes.insert(0, true);
        } else if let Some(newest) = outcomes.first_mut() {
            *newest = true;
        } else {
            outcomes.push(true);
        }
    }
    outcomes
}

/// What an alert's history record says, and which contacts it reaches. The message starts
/// with the health (`down: …`, `up: …`), which the email's subject reads.
pub fn alert_record(
    alert: Alert,
    verdict: &Verdict,
    episode: &Episode,
    monitor: &Monitor,
) -> (String, ContactAlertType) {
    let since = episode
        .down_since
        .map(|t| monitor.zone.wall_clock(t))
        .unwrap_or_default();
    match alert {
        Alert::Down => (
            format!("down: {}", verdict.reason),
            ContactAlertType::Technical,
        ),
        Alert::Repeat => (
            format!("down: {} (down since {since})", verdict.reason),
            ContactAlertType::Technical,
        ),
        Alert::Escalate(to) => (
            format!("down: {} (down since {since}, escalated)", verdict.reason),
            to,
        ),
        Alert::Recovered => (
            format!("up: {}", verdict.reason),
            ContactAlertType::Technical,
        ),
    }
}

/// The response code of an alert's history record.
pub fn alert_code(alert: Alert) -> &'static str {
    match alert {
        Alert::Down => "down",
        Alert::Repeat => "repeat",
        Alert::Escalate(_) => "escalate",
        Alert::Recovered => "recovered",
    }
}

/// When to look at the monitor again: the verdict's deadline or the policy's next alert,
/// whichever comes first, and never at or before `now` (a look that changes nothing must not
/// come straight back).
pub fn next_look(
    monitor: &Monitor,
    verdict: &Verdict,
    episode: &Episode,
    now: Timestamp,
) -> Option<Timestamp> {
    // A start still to record (one found after the look failed an overdue run): at once.
    if verdict.missed.is_some() {
        return Some(now);
    }
    let policy = monitor.policy.next_due(episode, now);
    [verdict.deadline, policy]
        .into_iter()
        .flatten()
        .min()
        .map(|t| t.max(now + chrono::Duration::seconds(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time;

    fn at(text: &str) -> Timestamp {
        time::parse(text).unwrap()
    }

    fn verdict(health: Health, stuck: Vec<i64>) -> Verdict {
        let mut v = Monitor::new(at("2026-12-01T00:00:00Z"))
            .evaluate(&Observed::default(), at("2026-12-01T00:00:00Z"));
        v.health = health;
        v.stuck = stuck;
        v
    }

    #[test]
    fn a_stuck_run_counts_as_a_failure_in_front_of_the_ended_ones() {
        let ended = [Status::Successful, Status::Failed];
        assert_eq!(
            outcomes(&verdict(Health::Down, vec![7]), &ended),
            [true, false, true]
        );
    }

    #[test]
    fn a_run_that_was_too_fast_counts_as_a_failure() {
        let ended = [Status::Successful, Status::Successful];
        assert_eq!(
            outcomes(&verdict(Health::Down, vec![]), &ended),
            [true, false]
        );
        assert_eq!(
            outcomes(&verdict(Health::Up, vec![]), &ended),
            [false, false]
        );
        assert_eq!(outcomes(&verdict(Health::Down, vec![]), &[]), [true]);
    }

    #[test]
    fn the_next_look_is_the_earliest_and_never_now() {
        let monitor = Monitor::new(at("2026-12-01T00:00:00Z"));
        let now = at("2026-12-01T10:00:00Z");
        let mut v = verdict(Health::Up, vec![]);
        v.deadline = Some(now);
        assert_eq!(
            next_look(&monitor, &v, &Episode::default(), now),
            Some(at("2026-12-01T10:00:01Z"))
        );
        v.deadline = None;
        assert_eq!(next_look(&monitor, &v, &Episode::default(), now), None);
    }

    #[test]
    fn a_start_left_to_record_is_looked_at_again_at_once() {
        // A look that failed an overdue run may only then see a start that went by.
        let monitor = Monitor::new(at("2026-12-01T00:00:00Z"));
        let now = at("2026-12-01T10:00:00Z");
        let mut v = verdict(Health::Down, vec![]);
        v.deadline = None;
        v.missed = Some(at("2026-12-01T09:00:00Z"));
        assert_eq!(next_look(&monitor, &v, &Episode::default(), now), Some(now));
    }

    #[test]
    fn alert_records_start_with_the_health() {
        let monitor = Monitor::new(at("2026-12-01T00:00:00Z"));
        let mut v = verdict(Health::Down, vec![]);
        v.reason = "run 4 failed".into();
        let episode = Episode {
            down_since: Some(at("2026-12-01T01:00:00Z")),
            alerted_at: None,
            escalated: false,
        };
        assert_eq!(
            alert_record(Alert::Down, &v, &episode, &monitor),
            ("down: run 4 failed".into(), ContactAlertType::Technical)
        );
        assert_eq!(
            alert_record(
                Alert::Escalate(ContactAlertType::Functional),
                &v,
                &episode,
                &monitor
            ),
            (
                "down: run 4 failed (down since 2026-12-01 01:00 UTC, escalated)".into(),
                ContactAlertType::Functional
            )
        );
    }
}
