//! A monitor as a body writes it, and as it is stored.

use std::time::Duration;

use super::Monitor;
use crate::domain::Actor;
use crate::domain::input::{Body, Checker, Field};
use crate::domain::schedule::{Schedule, Zone};
use crate::error::Result;
use crate::time::Timestamp;

/// A monitor as stored: its settings, the secret of its ping URL and its authors.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredMonitor {
    pub integration_id: i64,
    pub monitor: Monitor,
    pub ping_key: String,
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
            paused: match c.boolean(body, "paused") {
                Some(None) => {
                    c.fail("Paused can't be blank");
                    None
                }
                other => other.flatten(),
            },
            paused_until: c.datetime(body, "paused-until"),
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
            let parsed = match kind.as_str() {
                "interval" => match text.trim().parse::<i64>() {
                    Ok(seconds) => Schedule::interval(seconds),
                    Err(_) => Err(format!("Interval '{text}' is not a number of seconds")),
                },
                "cron" => Schedule::cron(&text),
                "oncalendar" => Schedule::on_calendar(&text),
                other => Err(format!(
                    "Schedule kind '{other}' is not one of interval, cron, oncalendar"
                )),
            };
            parsed.map_err(|e| c.fail(e)).ok().map(Some)
        }
        _ => {
            c.fail("Schedule kind and schedule are written together");
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
        c.finish()?;
        // A new schedule, or the same one read in another zone, is watched from now on.
        if next.schedule != self.schedule || next.zone != self.zone {
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
