//! Watching an integration's runs: what its monitor expects, and the health that the runs it
//! has seen, held against those expectations at an instant, amount to.
//!
//! Three budgets, kept apart because they fail differently: the start grace (a run that did
//! not start), the maximum run time (a run that hangs) and the minimum run time (a run that
//! "succeeded" suspiciously fast), plus optional checks of a finished run's outcome. The
//! evaluation is a pure function of the monitor, what was observed and the instant: the
//! sweeper and the API call it with the clock's reading, and tests with any instant.

use std::time::Duration;

use super::alert_policy::AlertPolicy;
use super::runs::Status;
use super::schedule::{Schedule, Zone};
use super::vocabulary::vocabulary;
use crate::time::{self, Timestamp};

vocabulary! {
    /// An integration's health, as its monitor sees it.
    pub enum Health {
        /// No run seen yet.
        New = "new",
        /// The last run went well and the next is not due yet.
        Up = "up",
        /// An expected run has not started, and its start grace is running out.
        Late = "late",
        /// Something is wrong: a missed start, a failed, stuck or too fast run, an outcome out
        /// of bounds.
        Down = "down",
        /// A run is in progress within its maximum run time.
        Running = "running",
        /// Not watched until the pause ends.
        Paused = "paused",
    }
}

/// The default start grace: how long after its expected start a run may begin.
pub const DEFAULT_START_GRACE: Duration = Duration::from_secs(10 * 60);

/// What an integration's monitor expects of its runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Monitor {
    /// When runs are expected; none means runs are watched only once they exist.
    pub schedule: Option<Schedule>,
    pub zone: Zone,
    /// How long after an expected start a run may begin before the start counts as missed.
    pub start_grace: Duration,
    /// A run open longer than this is stuck.
    pub max_runtime: Option<Duration>,
    /// A run that succeeds sooner than this finished suspiciously fast.
    pub min_runtime: Option<Duration>,
    /// A run open this long is failed (a hard limit beyond the maximum run time).
    pub stuck_fail_after: Option<Duration>,
    /// An open run with no sign of life (no write to it: a progress update, `runledger
    /// exec`'s heartbeat) for this long is stuck, however young it is.
    pub heartbeat_timeout: Option<Duration>,
    /// Bounds on a successful run's records processed, and on its integration errors.
    pub min_records: Option<i64>,
    pub max_records: Option<i64>,
    pub max_errors: Option<i64>,
    /// Not watched while paused: until the instant, or until resumed when `None` inside.
    pub paused: Option<Option<Timestamp>>,
    /// When watching began: a schedule's first expected start comes after it.
    pub since: Timestamp,
    /// When its trouble becomes an alert.
    pub policy: AlertPolicy,
}

impl Monitor {
    /// A monitor with no schedule and no budget but the default start grace.
    pub fn new(since: Timestamp) -> Monitor {
        Monitor {
            schedule: None,
            zone: Zone::UTC,
            start_grace: DEFAULT_START_GRACE,
            max_runtime: None,
            min_runtime: None,
            stuck_fail_after: None,
            heartbeat_timeout: None,
            min_records: None,
            max_records: None,
            max_errors: None,
            paused: None,
            since,
            policy: AlertPolicy::default(),
        }
    }
}

/// A run that has not ended.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenRun {
    pub id: i64,
    pub started_at: Timestamp,
    /// Its last sign of life: when it was last written to.
    pub last_seen: Timestamp,
}

/// The most recent run that ended.
#[derive(Clone, Debug, PartialEq)]
pub struct EndedRun {
    pub id: i64,
    pub status: Status,
    pub started_at: Timestamp,
    pub ended_at: Timestamp,
    pub records_processed: Option<i64>,
    /// Its integration errors.
    pub errors: i64,
}

/// What the monitor has seen of the integration's runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// Every run still open, whatever its age: each is watched, not only the latest.
    pub open: Vec<OpenRun>,
    pub last_ended: Option<EndedRun>,
    /// When the latest run started, open or ended.
    pub last_start: Option<Timestamp>,
}

/// The health at an instant, why, and when it must be looked at again.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub health: Health,
    /// Why, in words for people: "expected 02:00 Europe/Berlin, grace 10 min, nothing by 02:10".
    pub reason: String,
    /// The next instant at which the health changes if nothing else happens (the sweeper's
    /// deadline); `None` when only a new run can change it.
    pub deadline: Option<Timestamp>,
    /// The expected start that went by without a run, if that is why the health is down.
    pub missed: Option<Timestamp>,
    /// The open runs that are stuck: past the maximum run time, or silent past the heartbeat
    /// timeout.
    pub stuck: Vec<i64>,
    /// The runs open longer than the hard limit: to be failed.
    pub overdue: Vec<i64>,
    /// The next expected start, if the schedule names one.
    pub next_expected: Option<Timestamp>,
}

impl Monitor {
    /// The health the observed runs amount to at `now`.
    ///
    /// In order: a pause silences everything; open runs are running, or stuck past the
    /// maximum run time; an expected start that went by, grace included, without a run is
    /// missed; the run that ended last may have failed, been too fast or out of bounds; an
    /// expected start within its grace is late; otherwise all is well.
    pub fn evaluate(&self, seen: &Observed, now: Timestamp) -> Verdict {
        let next_expected = self.next_expected(seen);
        let verdict = |health, reason: String, deadline| Verdict {
            health,
            reason,
            deadline,
            missed: None,
            stuck: Vec::new(),
            overdue: Vec::new(),
            next_expected,
        };
        if let Some(until) = self.paused
            && until.is_none_or(|until| now < until)
        {
            let reason = match until {
                Some(until) => format!("paused until {}", self.zone.wall_clock(until)),
                None => "paused".to_owned(),
            };
            return verdict(Health::Paused, reason, until);
        }
        if let Some(open) = self.open_runs(seen, now) {
            return Verdict {
                next_expected,
                ..open
            };
        }
        let due = next_expected.map(|expected| expected + time::elapsed(self.start_grace));
        if let (Some(expected), Some(due)) = (next_expected, due)
            && now >= due
        {
            let reason = format!(
                "{}, nothing by {}",
                self.expectation(expected),
                self.zone.wall_clock(due)
            );
            return Verdict {
                missed: Some(expected),
                ..verdict(Health::Down, reason, None)
            };
        }
        if let Some(ended) = &seen.last_ended
            && let Some(why) = self.ended_badly(ended)
        {
            // Still watched for the next start, which may be missed too.
            return verdict(Health::Down, why, due);
        }
        match (next_expected, due) {
            (Some(expected), Some(due)) if now >= expected => verdict(
                Health::Late,
                format!("{}, nothing yet", self.expectation(expected)),
                Some(due),
            ),
            _ => {
                let (health, mut reason) = match &seen.last_ended {
                    Some(ended) => (Health::Up, format!("run {} {}", ended.id, ended.status)),
                    None => (Health::New, "no run yet".to_owned()),
                };
                if let Some(expected) = next_expected {
                    reason += &format!("; next expected {}", self.zone.wall_clock(expected));
                }
                verdict(health, reason, next_expected)
            }
        }
    }

    /// `expected 2026-03-29 03:00 Europe/Berlin, grace 10 min`.
    fn expectation(&self, expected: Timestamp) -> String {
        format!(
            "expected {}, grace {}",
            self.zone.wall_clock(expected),
            span(self.start_grace)
        )
    }

    /// The expected start after the latest start, after watching began, and after a pause
    /// that has run out (the starts a pause covered are not missed).
    fn next_expected(&self, seen: &Observed) -> Option<Timestamp> {
        let schedule = self.schedule.as_ref()?;
        let resumed = self.paused.flatten().unwrap_or(self.since);
        let after = seen
            .last_start
            .unwrap_or(self.since)
            .max(self.since)
            .max(resumed);
        schedule.next_after(after, self.zone)
    }

    /// The verdict while runs are open: running, or down for the runs that are stuck (past
    /// the maximum run time, or silent past the heartbeat timeout).
    fn open_runs(&self, seen: &Observed, now: Timestamp) -> Option<Verdict> {
        let oldest = seen.open.iter().min_by_key(|run| run.started_at)?;
        let hard = self.stuck_fail_after.map(time::elapsed);
        let stuck: Vec<&OpenRun> = seen
            .open
            .iter()
            .filter(|run| self.stuck_at(run).is_some_and(|at| now >= at))
            .collect();
        // The next instant an open run gets stuck, or a stuck one reaches the hard limit.
        let deadline = seen
            .open
            .iter()
            .filter_map(|run| match self.stuck_at(run) {
                Some(at) if now < at => Some(at),
                Some(_) => hard
                    .map(|hard| run.started_at + hard)
                    .filter(|fail_at| now < *fail_at),
                None => None,
            })
            .min();
        let Some(first) = stuck.first() else {
            return Some(self.open_verdict(Health::Running, self.running(oldest, now), deadline));
        };
        let overdue = match hard {
            Some(hard) => stuck
                .iter()
                .filter(|run| now >= run.started_at + hard)
                .map(|run| run.id)
                .collect(),
            None => Vec::new(),
        };
        Some(Verdict {
            stuck: stuck.iter().map(|run| run.id).collect(),
            overdue,
            ..self.open_verdict(Health::Down, self.stuck_reason(first, now), deadline)
        })
    }

    /// When an open run counts as stuck: past the maximum run time, or silent past the
    /// heartbeat timeout, whichever comes first; `None` without either budget.
    fn stuck_at(&self, run: &OpenRun) -> Option<Timestamp> {
        let by_runtime = self
            .max_runtime
            .map(|max| run.started_at + time::elapsed(max));
        let by_silence = self
            .heartbeat_timeout
            .map(|timeout| run.last_seen + time::elapsed(timeout));
        by_runtime.into_iter().chain(by_silence).min()
    }

    /// Why an open run is stuck at `now`.
    fn stuck_reason(&self, run: &OpenRun, now: Timestamp) -> String {
        match (self.max_runtime, self.heartbeat_timeout) {
            (Some(max), _) if now >= run.started_at + time::elapsed(max) => format!(
                "{}, longer than the maximum {}",
                self.running(run, now),
                span(max)
            ),
            (_, Some(timeout)) => {
                let silent = (now - run.last_seen).to_std().unwrap_or_default();
                format!(
                    "{}, no sign of it for {}, longer than the heartbeat timeout {}",
                    self.running(run, now),
                    span(silent),
                    span(timeout)
                )
            }
            _ => self.running(run, now),
        }
    }

    fn open_verdict(&self, health: Health, reason: String, deadline: Option<Timestamp>) -> Verdict {
        Verdict {
            health,
            reason,
            deadline,
            missed: None,
            stuck: Vec::new(),
            overdue: Vec::new(),
            next_expected: None,
        }
    }

    fn running(&self, run: &OpenRun, now: Timestamp) -> String {
        let elapsed = (now - run.started_at).to_std().unwrap_or_default();
        format!(
            "run {} running since {} ({})",
            run.id,
            self.zone.wall_clock(run.started_at),
            span(elapsed)
        )
    }

    /// Why the run that ended last is a failure, if it is one.
    fn ended_badly(&self, run: &EndedRun) -> Option<String> {
        if run.status != Status::Successful {
            return Some(format!("run {} {}", run.id, run.status));
        }
        let took = (run.ended_at - run.started_at).to_std().unwrap_or_default();
        if let Some(min) = self.min_runtime
            && took < min
        {
            return Some(format!(
                "run {} finished in {}, sooner than the minimum {}",
                run.id,
                span(took),
                span(min)
            ));
        }
        let records = run.records_processed.unwrap_or(0);
        if let Some(min) = self.min_records
            && records < min
        {
            return Some(format!(
                "run {} processed {records} records, fewer than {min}",
                run.id
            ));
        }
        if let Some(max) = self.max_records
            && records > max
        {
            return Some(format!(
                "run {} processed {records} records, more than {max}",
                run.id
            ));
        }
        if let Some(max) = self.max_errors
            && run.errors > max
        {
            return Some(format!(
                "run {} filed {} integration errors, more than {max}",
                run.id, run.errors
            ));
        }
        None
    }
}

/// A span for people: `45 s`, `10 min`, `2 h 5 min`, `3 d 4 h`.
pub fn span(span: Duration) -> String {
    let s = span.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 if s % 60 == 0 => format!("{} min", s / 60),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86_400 if s % 3600 == 0 => format!("{} h", s / 3600),
        3600..86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ if s % 86_400 == 0 => format!("{} d", s / 86_400),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

pub mod fields;
pub mod sweep;

#[cfg(test)]
mod tests;
