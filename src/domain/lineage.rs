//! OpenLineage intake (spec 2-0-x): the events that schedulers and engines (Airflow, dbt,
//! Spark, …) emit as their jobs run, read into typed values, and the integration each job
//! maps to. What an event does to its run is [`merge`].
//!
//! Pure: the HTTP layer hands the parsed JSON here, and the store finds (or makes) the run
//! and carries out the merge in one transaction.

pub mod kept;
pub mod merge;
mod parse;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::integrations::{Direction, EndSystemType, IntegrationType, NewIntegration};
use super::vocabulary::vocabulary;
use crate::time::{self, Timestamp};

/// The longest integration code and name (spec §1.3), in characters.
pub const MAX_KEY: usize = 255;

/// The business object of an integration made for an OpenLineage job.
pub const BUSINESS_OBJECT: &str = "OpenLineage job";

vocabulary! {
    /// `eventType`: the transition of the run an event reports.
    pub enum EventType {
        Start = "START",
        Running = "RUNNING",
        Complete = "COMPLETE",
        Abort = "ABORT",
        Fail = "FAIL",
        Other = "OTHER",
    }
}

impl EventType {
    /// COMPLETE, ABORT and FAIL end a run; the spec sends exactly one of them per run.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            EventType::Complete | EventType::Abort | EventType::Fail
        )
    }
}

/// A `runId`: a UUID, kept lowercase. Only the form is checked (8-4-4-4-12 hex digits), not
/// the version: the spec's own examples use ids such as `f99310b4-3c3c-1a1a-2b2b-…`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RunId(String);

impl RunId {
    pub fn parse(text: &str) -> Option<RunId> {
        let form = text.len() == 36
            && text.bytes().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => b.is_ascii_hexdigit(),
            });
        form.then(|| RunId(text.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An `eventTime`: RFC 3339 with its zone, kept to the microsecond, by which events of one
/// run are ordered and duplicates are told apart (run times themselves are whole seconds).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventTime {
    /// Microseconds since the epoch.
    pub micros: i64,
}

impl EventTime {
    pub fn parse(text: &str) -> Option<EventTime> {
        let t = DateTime::parse_from_rfc3339(text.trim()).ok()?;
        Some(EventTime {
            micros: t.with_timezone(&Utc).timestamp_micros(),
        })
    }

    pub fn from_micros(micros: i64) -> EventTime {
        EventTime { micros }
    }

    /// The instant to the second, as a run's times are kept.
    pub fn at(&self) -> Timestamp {
        time::from_unix(self.micros.div_euclid(1_000_000)).unwrap_or_default()
    }

    /// UTC, with as many fraction digits as it has: `2020-12-28T09:52:00.001Z`.
    pub fn text(&self) -> String {
        DateTime::<Utc>::from_timestamp_micros(self.micros)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

/// A job: a name unique within its namespace (the scheduler that runs it).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Job {
    pub namespace: String,
    pub name: String,
}

impl Job {
    /// The code of the job's integration: `<namespace>/<name>` when that fits in 255
    /// characters, else [`Job::hashed_code`].
    pub fn code(&self) -> String {
        let plain = format!("{}/{}", self.namespace, self.name);
        if plain.chars().count() <= MAX_KEY {
            plain
        } else {
            self.hashed_code()
        }
    }

    /// `<namespace>/<name>` cut to 238 characters, `~` and 16 hex digits of the SHA-256 of
    /// namespace and name: unique for the job whatever its length or case. Used when the
    /// plain code is too long, or is taken by another job's integration without case.
    pub fn hashed_code(&self) -> String {
        let digest = Sha256::new()
            .chain_update(self.namespace.as_bytes())
            .chain_update([0u8])
            .chain_update(self.name.as_bytes())
            .finalize();
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let plain = format!("{}/{}", self.namespace, self.name);
        let kept: String = plain.chars().take(MAX_KEY - 1 - hex.len()).collect();
        format!("{kept}~{hex}")
    }

    /// The name of the job's integration: `<name> (<namespace>)`, cut to 255 characters.
    pub fn integration_name(&self) -> String {
        format!("{} ({})", self.name, self.namespace)
            .chars()
            .take(MAX_KEY)
            .collect()
    }

    /// The integration made for the job the first time an event names it, with `code` and
    /// `name` as the store found them free.
    pub fn new_integration(&self, code: String, name: String) -> NewIntegration {
        NewIntegration {
            code,
            name,
            business_object: BUSINESS_OBJECT.to_owned(),
            // Coupa requires a direction; a lineage job has none, and an operator may change it.
            direction: Direction::FromCoupa,
            end_system: self.namespace.chars().take(MAX_KEY).collect(),
            end_system_type: EndSystemType::Other,
            integration_type: Some(IntegrationType::Json),
        }
    }

    pub fn label(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// The `errorMessage` run facet: why a run failed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ErrorMessage {
    pub message: String,
    #[serde(rename = "programmingLanguage")]
    pub programming_language: Option<String>,
    #[serde(rename = "stackTrace")]
    pub stack_trace: Option<String>,
}

/// The `nominalTime` run facet: when the run was scheduled for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NominalTime {
    pub start: Timestamp,
    pub end: Option<Timestamp>,
}

/// The `parent` run facet: the run that spawned this one (an Airflow DAG run of its task).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parent {
    pub run_id: RunId,
    pub job: Job,
}

/// The rows an event says it wrote to one output dataset (`outputStatistics.rowCount`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputRows {
    pub namespace: String,
    pub name: String,
    pub rows: i64,
    /// The event time of the statistics, so that a later event's replace an earlier one's.
    pub at: EventTime,
}

/// A `RunEvent`, as far as Runledger reads it. The event as received is kept beside it.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub event_type: EventType,
    pub event_time: EventTime,
    pub run_id: RunId,
    pub job: Job,
    pub error: Option<ErrorMessage>,
    pub nominal: Option<NominalTime>,
    pub parent: Option<Parent>,
    pub outputs: Vec<OutputRows>,
}

/// A `JobEvent` or `DatasetEvent` (static metadata, no run): kept, and changes no run.
#[derive(Clone, Debug, PartialEq)]
pub struct StaticEvent {
    pub event_time: EventTime,
    pub job: Option<Job>,
}

/// What one event of the intake is.
#[derive(Clone, Debug, PartialEq)]
pub enum Intake {
    /// Boxed: an event with its facets is several times the size of a static one.
    Run(Box<Event>),
    Static(StaticEvent),
}

impl ErrorMessage {
    /// The integration error's response message: the message, then the language and the
    /// stack trace when the facet has them.
    pub fn text(&self) -> String {
        let mut text = self.message.clone();
        if let Some(language) = &self.programming_language {
            text.push_str(&format!("\n\nProgramming language: {language}"));
        }
        if let Some(trace) = &self.stack_trace {
            text.push_str(&format!("\n\nStack trace:\n{trace}"));
        }
        text
    }
}

/// The flow element a lineage run's latest event writes (`{"openlineage": …}`): where its
/// run id shows in Coupa's document, and what moves `updated-at` on each heartbeat.
pub fn flow_entry(run_id: &RunId, event_type: EventType, at: &EventTime) -> Value {
    json!({
        "run-id": run_id.as_str(),
        "event-type": event_type.as_str(),
        "event-time": at.text(),
    })
}

#[cfg(test)]
mod tests;
