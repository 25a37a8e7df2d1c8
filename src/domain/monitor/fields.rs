//! A monitor as a body writes it, and as it is stored.

use std::time::Duration;

use super::Monitor;
use super::sweep::MonitorState;
use crate::domain::Actor;
use crate::domain::alert_policy::{Escalation, FailureRate, Maintenance};
use crate::domain::input::{Body, Checker, Field};
use crate::domain::records::ContactAlertType;
use crate::domain::schedule::{Schedule, Zone};
use crate::error::Result;
use crate::time::Timestamp;

/// A monitor as stored: its settings, the secret of its ping URL and its authors.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredMonitor {
    pub integration_id: i64,
    pub monitor: Monitor,
    pub ping_key: String,
    /// What the sweeper last recorded.
    pub state: MonitorState,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub created_by: Option<Actor>,
    pub updated_by: Option<Actor>,
}

/// The writable elements of a monitor, each absent unless the body named it. Durations are
/// whole seconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MonitorFields {
    /// `schedule-kind` and `schedule`, written together; null clears both.
    pub schedule: Field<Schedule>,
    pub zone: Option<Zone>,
    pub start_grace: Option<Duration>,
    pub max_runtime: Field<Duration>,
    pub min_runtime: Field<Duration>,
    pub min_records: Field<i64>,
    pub max_records: Field<i64>,
    pub max_errors: Field<i64>,
    pub paused: Option<bool>,
    pub paused_until: Field<Timestamp>,
    pub stuck_fail_after: Field<Duration>,
    pub heartbeat_timeout: Field<Duration>,
    pub alerts_enabled: Option<bool>,
    pub alert_after_failures: Option<u32>,
    /// `alert-failure-percent` and `alert-failure-window`, written together; null clears both.
    pub failure_rate: Field<FailureRate>,
    pub alert_on_recovery: Option<bool>,
    pub alert_repeat_every: Field<Duration>,
    /// `escalate-after` and `escalate-to`, written together; null clears both.
    pub escalate: Field<Escalation>,
    pub maintenance: Option<Vec<Maintenance>>,
}

/// The longest budget: a run may take up to a week.
const MAX_BUDGET: i64 = 7 * 24 * 3600;

impl MonitorFields {
    pub fn parse(body: Body) -> Result<Self> {
        let mut c = Checker::default();
        let schedule = schedule(&mut c, body);
        let zone = match c.text(body, "time-zone", 64, true) {
            Some(Some(name)) => Zone::parse(&name).map_err(|e| c.fail(e)).ok(),
            _ => None,
        };
        let start_grace = seconds(&mut c, body, "start-grace", 0).map(|grace| {
            grace.unwrap_or_else(|| {
                c.fail("Start grace can't be blank");
                Duration::ZERO
            })
        });
        let fields = MonitorFields {
            schedule,
            zone,
            start_grace,
            max_runtime: seconds(&mut c, body, "max-runtime", 1),
            min_runtime: seconds(&mut c, body, "min-runtime", 1),
            min_records: c.count(body, "min-records"),
            max_records: c.count(body, "max-records"),
            max_errors: c.count(body, "max-errors"),
            paused: required_boolean(&mut c, body, "paused"),
            paused_until: c.datetime(body, "paused-until"),
            stuck_fail_after: seconds(&mut c, body, "stuck-fail-after", 1),
            heartbeat_timeout: seconds(&mut c, body, "heartbeat-timeout", 10),
            alerts_enabled: required_boolean(&mut c, body, "alerts-enabled"),
            alert_after_failures: match c.integer(body, "alert-after-failures") {
                None => None,
                Some(Some(n @ 1..=100)) => Some(n as u32),
                Some(_) => {
                    c.fail("Alert after failures must be from 1 to 100");
                    None
                }
            },
            failure_rate: failure_rate(&mut c, body),
            alert_on_recovery: required_boolean(&mut c, body, "alert-on-recovery"),
            alert_repeat_every: seconds(&mut c, body, "alert-repeat-every", 60),
            escalate: escalation(&mut c, body),
            maintenance: match body.get("maintenance-windows") {
                None => None,
                Some(value) => match Maintenance::parse_all(value) {
                    Ok(windows) => Some(windows),
                    Err(errors) => {
                        errors.into_iter().for_each(|e| c.fail(e));
                        None
                    }
                },
            },
        };
        c.finish()?;
        Ok(fields)
    }
}

/// `schedule-kind` (`interval`, `cron`, `oncalendar`) and `schedule` (seconds, or the
/// expression), both or neither.
fn schedule(c: &mut Checker, body: Body) -> Field<Schedule> {
    let kind = c.text(body, "schedule-kind", 16, false);
    let text = match body.get("schedule") {
        Some(serde_json::Value::Number(n)) => Some(Some(n.to_string())),
        _ => c.text(body, "schedule", 255, false),
    };
    match (kind, text) {
        (None, None) => None,
        (Some(None), Some(None)) | (Some(None), None) | (None, Some(None)) => Some(None),
        (Some(Some(kind)), Some(Some(text))) => {
            let parsed = Schedule::parse(&kind, &text);
            parsed.map_err(|e| c.fail(e)).ok().map(Some)
        }
        _ => {
            c.fail("Schedule kind and schedule are written together");
            None
        }
    }
}

/// A boolean that may be left out but not cleared.
fn required_boolean(c: &mut Checker, body: Body, key: &str) -> Option<bool> {
    match c.boolean(body, key) {
        Some(None) => {
            c.fail(format!(
                "{} can't be blank",
                crate::domain::input::humanize(key)
            ));
            None
        }
        other => other.flatten(),
    }
}

/// `alert-failure-percent` (1 to 100) over `alert-failure-window` runs (1 to 100), both or
/// neither.
fn failure_rate(c: &mut Checker, body: Body) -> Field<FailureRate> {
    let percent = c.integer(body, "alert-failure-percent");
    let window = c.integer(body, "alert-failure-window");
    match (percent, window) {
        (None, None) => None,
        (Some(None), Some(None)) | (Some(None), None) | (None, Some(None)) => Some(None),
        (Some(Some(percent)), Some(Some(runs))) => {
            if !(1..=100).contains(&percent) || !(1..=100).contains(&runs) {
                c.fail("Alert failure percent and alert failure window must be from 1 to 100");
                return None;
            }
            Some(Some(FailureRate {
                percent: percent as u8,
                runs: runs as usize,
            }))
        }
        _ => {
            c.fail("Alert failure percent and alert failure window are written together");
            None
        }
    }
}

/// `escalate-after` (seconds) and `escalate-to` (a contact alert type), both or neither.
fn escalation(c: &mut Checker, body: Body) -> Field<Escalation> {
    let after = seconds(c, body, "escalate-after", 60);
    let to = c.text(body, "escalate-to", 16, false);
    match (after, to) {
        (None, None) => None,
        (Some(None), Some(None)) | (Some(None), None) | (None, Some(None)) => Some(None),
        (Some(Some(after)), Some(Some(to))) => match ContactAlertType::parse(&to) {
            Some(to) => Some(Some(Escalation { after, to })),
            None => {
                c.fail(format!(
                    "Escalate to '{to}' is not one of Technical, Functional, Both"
                ));
                None
            }
        },
        _ => {
            c.fail("Escalate after and escalate to are written together");
            None
        }
    }
}

/// A budget in whole seconds, from `min` to a week.
fn seconds(c: &mut Checker, body: Body, key: &str, min: i64) -> Field<Duration> {
    let value = c.integer(body, key)?;
    match value {
        None => Some(None),
        Some(n) if (min..=MAX_BUDGET).contains(&n) => {
            Some(Some(Duration::from_secs(n.unsigned_abs())))
        }
        Some(_) => {
            c.fail(format!(
                "{} must be from {min} to {MAX_BUDGET} seconds",
                crate::domain::input::humanize(key)
            ));
            None
        }
    }
}

impl Monitor {
    /// The monitor as `fields` leave it at `now`, or the refusal of a combination that
    /// cannot hold (a minimum over its maximum).
    pub fn updated(&self, fields: &MonitorFields, now: Timestamp) -> Result<Monitor> {
        let mut next = self.clone();
        if let Some(schedule) = &fields.schedule {
            next.schedule = schedule.clone();
        }
        if let Some(zone) = fields.zone {
            next.zone = zone;
        }
        if let Some(grace) = fields.start_grace {
            next.start_grace = grace;
        }
        set(&mut next.max_runtime, &fields.max_runtime);
        set(&mut next.min_runtime, &fields.min_runtime);
        set(&mut next.min_records, &fields.min_records);
        set(&mut next.max_records, &fields.max_records);
        set(&mut next.max_errors, &fields.max_errors);
        set(&mut next.stuck_fail_after, &fields.stuck_fail_after);
        set(&mut next.heartbeat_timeout, &fields.heartbeat_timeout);
        let policy = &mut next.policy;
        if let Some(enabled) = fields.alerts_enabled {
            policy.enabled = enabled;
        }
        if let Some(n) = fields.alert_after_failures {
            policy.after_failures = n;
        }
        set(&mut policy.failure_rate, &fields.failure_rate);
        if let Some(recovery) = fields.alert_on_recovery {
            policy.recovery = recovery;
        }
        set(&mut policy.repeat_every, &fields.alert_repeat_every);
        set(&mut policy.escalate, &fields.escalate);
        if let Some(windows) = &fields.maintenance {
            policy.maintenance.clone_from(windows);
        }
        // Paused as the body says; else as it was, or from when a `paused-until` is given.
        let until = fields.paused_until.unwrap_or(next.paused.flatten());
        let pause = fields
            .paused
            .unwrap_or(next.paused.is_some() || matches!(fields.paused_until, Some(Some(_))));
        next.paused = pause.then_some(until);
        let mut c = Checker::default();
        if let (Some(min), Some(max)) = (next.min_runtime, next.max_runtime)
            && min >= max
        {
            c.fail("Min runtime must be less than max runtime");
        }
        if let (Some(min), Some(max)) = (next.min_records, next.max_records)
            && min > max
        {
            c.fail("Min records must be less than or equal to max records");
        }
        match (next.stuck_fail_after, next.max_runtime) {
            (Some(_), None) if next.heartbeat_timeout.is_none() => {
                c.fail("Stuck fail after needs a max runtime or a heartbeat timeout")
            }
            (Some(hard), Some(max)) if hard <= max => {
                c.fail("Stuck fail after must be more than max runtime")
            }
            _ => {}
        }
        c.finish()?;
        // A new schedule, or the same one read in another zone, is watched from now on.
        // So is one that resumes: the starts the pause covered are not missed.
        let resumed = self.paused.is_some() && next.paused.is_none();
        if next.schedule != self.schedule || next.zone != self.zone || resumed {
            next.since = now;
        }
        Ok(next)
    }
}

fn set<T: Clone>(target: &mut Option<T>, value: &Field<T>) {
    if let Some(value) = value {
        target.clone_from(value);
    }
}
