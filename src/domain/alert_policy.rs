//! When a monitor's trouble becomes an alert: after enough failures, again while it lasts,
//! to more people when it lasts too long, once more when it is over, and never inside a
//! maintenance window (where misses are still recorded, only not announced).

use std::time::Duration;

use serde_json::{Value, json};

use super::records::ContactAlertType;
use super::schedule::{Schedule, Zone};
use crate::time::{self, Timestamp};

/// What a monitor's alerts wait for and whom they reach.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertPolicy {
    /// Whether the monitor alerts at all. Off until a monitor's owner turns it on, so that
    /// watching an integration never starts mail to contacts who asked only for record alerts.
    pub enabled: bool,
    /// Alert once this many runs in a row have failed (missed starts count as failed runs).
    pub after_failures: u32,
    /// Or once the failed share of the last `runs` runs reaches `percent`.
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
    /// Off; when turned on, alert on the first failure and on recovery, once each.
    fn default() -> Self {
        AlertPolicy {
            enabled: false,
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
    /// The failed share, in percent from 1 to 100, that alerts.
    pub percent: u8,
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

/// The most windows a monitor keeps.
pub const MAX_WINDOWS: usize = 20;

impl Maintenance {
    /// The windows as the API writes them (and as they are stored): a JSON array of
    /// `{"from": …, "until": …}` and `{"schedule-kind": …, "schedule": …, "time-zone": …,
    /// "duration": seconds}`. Every problem is named, with the window's position.
    pub fn parse_all(value: &Value) -> Result<Vec<Maintenance>, Vec<String>> {
        let items: &[Value] = match value {
            Value::Null => &[],
            Value::Array(items) => items,
            // XML's `<maintenance-windows type="array"><maintenance-window>` reads as an
            // object holding the array.
            Value::Object(map) if map.len() == 1 && map.values().all(Value::is_array) => {
                return Maintenance::parse_all(map.values().next().unwrap_or(&Value::Null));
            }
            _ => return Err(vec!["Maintenance windows must be a list".into()]),
        };
        if items.len() > MAX_WINDOWS {
            return Err(vec![format!(
                "Maintenance windows can't be more than {MAX_WINDOWS}"
            )]);
        }
        let mut errors = Vec::new();
        let mut windows = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match Maintenance::parse(item) {
                Ok(window) => windows.push(window),
                Err(e) => errors.push(format!("Maintenance window {}: {e}", i + 1)),
            }
        }
        if errors.is_empty() {
            Ok(windows)
        } else {
            Err(errors)
        }
    }

    fn parse(item: &Value) -> Result<Maintenance, String> {
        let text = |key: &str| match item.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        if let (Some(from), Some(until)) = (text("from"), text("until")) {
            let from = time::parse(&from).ok_or(format!("from '{from}' is not a datetime"))?;
            let until = time::parse(&until).ok_or(format!("until '{until}' is not a datetime"))?;
            if until <= from {
                return Err("until must be after from".into());
            }
            return Ok(Maintenance::Once { from, until });
        }
        let (Some(kind), Some(schedule)) = (text("schedule-kind"), text("schedule")) else {
            return Err("needs from and until, or schedule-kind, schedule and duration".into());
        };
        let starts = Schedule::parse(&kind, &schedule)?;
        let zone = match text("time-zone") {
            Some(name) => Zone::parse(&name)?,
            None => Zone::UTC,
        };
        let lasts = text("duration")
            .and_then(|d| d.trim().parse::<u64>().ok())
            .filter(|d| (60..=7 * 86_400).contains(d))
            .ok_or("duration must be from 60 to 604800 seconds")?;
        Ok(Maintenance::Recurring {
            starts,
            zone,
            lasts: Duration::from_secs(lasts),
        })
    }

    /// The windows as the API shows them and the store keeps them.
    pub fn to_json(windows: &[Maintenance]) -> Value {
        Value::Array(
            windows
                .iter()
                .map(|window| match window {
                    Maintenance::Once { from, until } => json!({
                        "from": time::format(from),
                        "until": time::format(until),
                    }),
                    Maintenance::Recurring {
                        starts,
                        zone,
                        lasts,
                    } => json!({
                        "schedule-kind": starts.kind(),
                        "schedule": starts.text(),
                        "time-zone": zone.name(),
                        "duration": lasts.as_secs(),
                    }),
                })
                .collect(),
        )
    }

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
        if !self.enabled {
            return (Vec::new(), Episode::default());
        }
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
    /// escalation; or, inside a maintenance window during trouble, a minute on, since what the
    /// window holds back (a first alert, a recovery) is due when it closes (windows are coarse).
    pub fn next_due(&self, episode: &Episode, now: Timestamp) -> Option<Timestamp> {
        if !self.enabled {
            return None;
        }
        let since = episode.down_since?;
        if self.muted(now) {
            return Some(now + chrono::Duration::minutes(1));
        }
        let alerted = episode.alerted_at?;
        let repeat = self
            .repeat_every
            .map(|every| alerted + time::elapsed(every));
        let escalate = self
            .escalate
            .filter(|_| !episode.escalated)
            .map(|escalation| since + time::elapsed(escalation.after));
        [repeat, escalate].into_iter().flatten().min()
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
                && window.iter().filter(|failed| **failed).count() * 100
                    >= usize::from(rate.percent) * rate.runs
        });
        by_count || by_rate
    }
}

#[cfg(test)]
mod tests;
