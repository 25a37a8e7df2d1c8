//! When a monitor's trouble becomes an alert: after enough failures, again while it lasts,
//! to more people when it lasts too long, once more when it is over, and never inside a
//! maintenance window (where misses are still recorded, only not announced).

use std::time::Duration;

use super::records::ContactAlertType;
use super::schedule::{Schedule, Zone};
use crate::time::{self, Timestamp};

/// What a monitor's alerts wait for and whom they reach.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertPolicy {
    /// Alert once this many runs in a row have failed (missed starts count as failed runs).
    pub after_failures: u32,
    /// Or once the failed share of the last `runs` runs reaches `share`.
    pub failure_rate: Option<FailureRate>,
    /// Tell the same contacts when the integration is up again.
    pub recovery: bool,
    /// Alert again every so long while the integration stays down.
    pub repeat_every: Option<Duration>,
    /// After this long down, alert the contacts of a second alert type as well.
    pub escalate: Option<Escalation>,
    /// When alerts are held back.
    pub maintenance: Vec<Maintenance>,
}

impl Default for AlertPolicy {
    /// Alert on the first failure and on recovery, once each.
    fn default() -> Self {
        AlertPolicy {
            after_failures: 1,
            failure_rate: None,
            recovery: true,
            repeat_every: None,
            escalate: None,
            maintenance: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FailureRate {
    /// The failed share, from 0 to 1, that alerts.
    pub share: f64,
    /// How many of the latest runs the share is taken over.
    pub runs: usize,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Escalation {
    pub after: Duration,
    pub to: ContactAlertType,
}

/// A time when alerts are held back.
#[derive(Clone, Debug, PartialEq)]
pub enum Maintenance {
    /// From one instant until another.
    Once { from: Timestamp, until: Timestamp },
    /// For `lasts` from every start the schedule names in `zone` (`0 1 * * Sun`, 2 h).
    Recurring {
        starts: Schedule,
        zone: Zone,
        lasts: Duration,
    },
}

impl Maintenance {
    /// Whether `now` is inside the window.
    pub fn covers(&self, now: Timestamp) -> bool {
        match self {
            Maintenance::Once { from, until } => *from <= now && now < *until,
            Maintenance::Recurring {
                starts,
                zone,
                lasts,
            } => {
                // The latest start at or before `now` is the first one after `now - lasts`,
                // if there is one by `now`.
                let earliest = now - time::elapsed(*lasts);
                starts
                    .next_after(earliest, *zone)
                    .is_some_and(|start| start <= now && start > earliest)
            }
        }
    }
}

/// An alert to send, and to whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alert {
    /// The integration is down and the policy's threshold is met.
    Down,
    /// Still down, `repeat_every` after the last alert.
    Repeat,
    /// Down long enough to reach the escalation's contacts too.
    Escalate(ContactAlertType),
    /// Up again after a down that was alerted.
    Recovered,
}

/// One stretch of trouble, as the sweeper keeps it between looks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Episode {
    /// When the integration went down; `None` while it is up.
    pub down_since: Option<Timestamp>,
    /// When its last alert went out (the first, or a repeat).
    pub alerted_at: Option<Timestamp>,
    pub escalated: bool,
}

/// The latest runs' outcomes, newest first: `true` for a failure.
pub type Outcomes<'a> = &'a [bool];

impl AlertPolicy {
    /// The alerts due at `now` for an episode, given whether the integration is down now and
    /// the latest outcomes; and the episode as it stands after them. Nothing is sent inside a
    /// maintenance window, and the episode is left as it was, so that what is due is sent
    /// when the window closes (a recovery that happened inside it included).
    pub fn due(
        &self,
        episode: &Episode,
        down: bool,
        outcomes: Outcomes,
        now: Timestamp,
    ) -> (Vec<Alert>, Episode) {
        let mut next = episode.clone();
        if !down {
            let alerted = episode.alerted_at.is_some();
            if self.muted(now) && alerted && self.recovery {
                return (Vec::new(), next);
            }
            let alerts = if alerted && self.recovery {
                vec![Alert::Recovered]
            } else {
                Vec::new()
            };
            return (alerts, Episode::default());
        }
        let since = *next.down_since.get_or_insert(now);
        if self.muted(now) {
            return (Vec::new(), next);
        }
        let mut alerts = Vec::new();
        match next.alerted_at {
            None if self.threshold_met(outcomes) => {
                alerts.push(Alert::Down);
                next.alerted_at = Some(now);
            }
            Some(last)
                if self
                    .repeat_every
                    .is_some_and(|every| now >= last + time::elapsed(every)) =>
            {
                alerts.push(Alert::Repeat);
                next.alerted_at = Some(now);
            }
            _ => {}
        }
        if let Some(escalation) = self.escalate
            && next.alerted_at.is_some()
            && !next.escalated
            && now >= since + time::elapsed(escalation.after)
        {
            alerts.push(Alert::Escalate(escalation.to));
            next.escalated = true;
        }
        (alerts, next)
    }

    /// When an alert may next be due without anything new happening: the next repeat or
    /// escalation, or the end of the maintenance window that holds one back.
    pub fn next_due(&self, episode: &Episode, now: Timestamp) -> Option<Timestamp> {
        let since = episode.down_since?;
        let alerted = episode.alerted_at?;
        let repeat = self
            .repeat_every
            .map(|every| alerted + time::elapsed(every));
        let escalate = self
            .escalate
            .filter(|_| !episode.escalated)
            .map(|escalation| since + time::elapsed(escalation.after));
        let due = [repeat, escalate].into_iter().flatten().min()?;
        // Inside a window, look again a minute on; windows are coarse.
        Some(if self.muted(now) {
            due.max(now + chrono::Duration::minutes(1))
        } else {
            due
        })
    }

    /// Whether a maintenance window holds alerts back at `now`.
    pub fn muted(&self, now: Timestamp) -> bool {
        self.maintenance.iter().any(|window| window.covers(now))
    }

    fn threshold_met(&self, outcomes: Outcomes) -> bool {
        let in_a_row = outcomes.iter().take_while(|failed| **failed).count();
        let by_count = in_a_row >= self.after_failures.max(1) as usize;
        let by_rate = self.failure_rate.is_some_and(|rate| {
            let window = &outcomes[..outcomes.len().min(rate.runs)];
            !window.is_empty()
                && window.len() == rate.runs
                && window.iter().filter(|failed| **failed).count() as f64
                    >= rate.share * rate.runs as f64
        });
        by_count || by_rate
    }
}

#[cfg(test)]
mod tests;
