//! OpenLineage intake (spec 2-0-x): the events that schedulers and engines (Airflow, dbt,
//! Spark, …) emit as their jobs run, read into typed values, and the integration each job
//! maps to. What an event does to its run is [`merge`].
//!
//! Pure: the HTTP layer hands the parsed JSON here, and the store finds (or makes) the run
//! and carries out the merge in one transaction.

pub mod kept;
pub mod merge;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::integrations::{Direction, EndSystemType, IntegrationType, NewIntegration};
use super::text::{first_unshowable, is_xml_char};
use super::vocabulary::vocabulary;
use crate::error::{Error, Result};
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

impl Intake {
    /// Reads one event, refusing it with every problem found (400). Unknown fields and
    /// facets are no problem: they stay in the event as received.
    pub fn parse(value: &Value) -> Result<Intake> {
        let Value::Object(event) = value else {
            return Err(Error::invalid("An OpenLineage event must be a JSON object"));
        };
        let mut p = Problems::default();
        let event_time = p.event_time(event);
        p.uri(event, "producer", true);
        p.uri(event, "schemaURL", false);
        if !event.contains_key("run") {
            return p.static_event(event, event_time);
        }
        let event_type = match event.get("eventType") {
            // The schema does not require it: an event without one says nothing of the status.
            None | Some(Value::Null) => Some(EventType::Other),
            Some(Value::String(word)) if EventType::parse(word).is_some() => EventType::parse(word),
            Some(_) => {
                let words: Vec<_> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                p.fail(format!(
                    "eventType is not included in the list ({})",
                    words.join(", ")
                ));
                None
            }
        };
        let run = p.object(event, "run", "run");
        let run_id = run.and_then(|run| p.run_id(run, "run.runId"));
        let job = p.job(event.get("job"), "job");
        let facets = run.and_then(|run| p.object(run, "facets", "run.facets"));
        let (error, nominal, parent) = match facets {
            Some(facets) => (
                p.facet::<ErrorMessage>(facets, "errorMessage"),
                p.nominal(facets),
                p.parent(facets),
            ),
            None => (None, None, None),
        };
        let outputs = p.outputs(event, event_time.as_ref());
        p.finish()?;
        let missing = || Error::Internal("a checked element is missing".into());
        Ok(Intake::Run(Box::new(Event {
            event_type: event_type.ok_or_else(missing)?,
            event_time: event_time.ok_or_else(missing)?,
            run_id: run_id.ok_or_else(missing)?,
            job: job.ok_or_else(missing)?,
            error: error.map(ErrorMessage::showable),
            nominal,
            parent,
            outputs,
        })))
    }
}

impl ErrorMessage {
    /// The facet as an integration error can show it: characters XML cannot carry (an ANSI
    /// colour code in a stack trace) become U+FFFD rather than refusing the event.
    fn showable(self) -> ErrorMessage {
        let clean = |text: String| -> String {
            text.chars()
                .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
                .collect()
        };
        ErrorMessage {
            message: clean(self.message),
            programming_language: self.programming_language.map(clean),
            stack_trace: self.stack_trace.map(clean),
        }
    }

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

/// The problems of one event, each with the path of what is wrong.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn fail(&mut self, message: impl Into<String>) {
        self.0.push(message.into());
    }

    fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(self.0))
        }
    }

    fn text<'a>(
        &mut self,
        object: &'a Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<&'a str> {
        match object.get(key) {
            None | Some(Value::Null) => {
                self.fail(format!("{path} can't be blank"));
                None
            }
            Some(Value::String(text)) if text.trim().is_empty() => {
                self.fail(format!("{path} can't be blank"));
                None
            }
            Some(Value::String(text)) => Some(text),
            Some(_) => {
                self.fail(format!("{path} must be a string"));
                None
            }
        }
    }

    fn object<'a>(
        &mut self,
        object: &'a Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<&'a Map<String, Value>> {
        match object.get(key) {
            Some(Value::Object(inner)) => Some(inner),
            // Facets are optional; a run and a job are not (checked where they are read).
            None | Some(Value::Null) if key == "facets" => None,
            None | Some(Value::Null) => {
                self.fail(format!("{path} can't be blank"));
                None
            }
            Some(_) => {
                self.fail(format!("{path} must be an object"));
                None
            }
        }
    }

    fn event_time(&mut self, event: &Map<String, Value>) -> Option<EventTime> {
        let text = self.text(event, "eventTime", "eventTime")?;
        let parsed = EventTime::parse(text);
        if parsed.is_none() {
            self.fail("eventTime is not an RFC 3339 date-time with a zone (2020-12-28T19:52:00.001+10:00)");
        }
        parsed
    }

    /// A URI: a scheme and what follows it. `schemaURL` may be absent: the spec's own
    /// example events leave it out, though its schema requires it.
    fn uri(&mut self, event: &Map<String, Value>, key: &str, required: bool) {
        if !required && event.get(key).is_none_or(Value::is_null) {
            return;
        }
        let Some(text) = self.text(event, key, key) else {
            return;
        };
        let scheme = text.split_once(':').map(|(scheme, _)| scheme);
        let valid = scheme.is_some_and(|s| {
            s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        });
        if !valid {
            self.fail(format!("{key} is not a URI"));
        }
    }

    fn run_id(&mut self, run: &Map<String, Value>, path: &str) -> Option<RunId> {
        let text = self.text(run, "runId", path)?;
        let id = RunId::parse(text);
        if id.is_none() {
            self.fail(format!("{path} is not a UUID"));
        }
        id
    }

    /// A job (or a parent's): namespace and name, text that XML can carry, since they name
    /// an integration.
    fn job(&mut self, value: Option<&Value>, path: &str) -> Option<Job> {
        let job = match value {
            Some(Value::Object(job)) => job,
            None | Some(Value::Null) => {
                self.fail(format!("{path} can't be blank"));
                return None;
            }
            Some(_) => {
                self.fail(format!("{path} must be an object"));
                return None;
            }
        };
        let namespace = self.showable(job, "namespace", &format!("{path}.namespace"));
        let name = self.showable(job, "name", &format!("{path}.name"));
        Some(Job {
            namespace: namespace?.to_owned(),
            name: name?.to_owned(),
        })
    }

    fn showable<'a>(
        &mut self,
        object: &'a Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<&'a str> {
        let text = self.text(object, key, path)?;
        if let Some((position, c)) = first_unshowable(text) {
            self.fail(super::text::unshowable_message(path, position, c));
            return None;
        }
        Some(text)
    }

    /// A facet Runledger reads, through serde; one that does not read is a problem, named by
    /// its path. A facet that is absent or null is none.
    fn facet<T: DeserializeOwned>(&mut self, facets: &Map<String, Value>, key: &str) -> Option<T> {
        let value = facets.get(key).filter(|v| !v.is_null())?;
        match serde_json::from_value(value.clone()) {
            Ok(facet) => Some(facet),
            Err(e) => {
                self.fail(format!("run.facets.{key}: {e}"));
                None
            }
        }
    }

    fn nominal(&mut self, facets: &Map<String, Value>) -> Option<NominalTime> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(rename = "nominalStartTime")]
            start: String,
            #[serde(rename = "nominalEndTime")]
            end: Option<String>,
        }
        let wire: Wire = self.facet(facets, "nominalTime")?;
        let mut time = |text: &str, key: &str| {
            let parsed = EventTime::parse(text).map(|t| t.at());
            if parsed.is_none() {
                self.fail(format!(
                    "run.facets.nominalTime.{key} is not an RFC 3339 date-time with a zone"
                ));
            }
            parsed
        };
        let start = time(&wire.start, "nominalStartTime");
        let end = wire.end.as_deref().map(|end| time(end, "nominalEndTime"));
        Some(NominalTime {
            start: start?,
            end: end.flatten(),
        })
    }

    /// `parent`, or `parentRun` as producers before OpenLineage 1.0 named it (the spec's
    /// own example of a START event with facets still does).
    fn parent(&mut self, facets: &Map<String, Value>) -> Option<Parent> {
        let key = ["parent", "parentRun"]
            .into_iter()
            .find(|key| facets.get(*key).is_some_and(|v| !v.is_null()))?;
        let path = format!("run.facets.{key}");
        let Some(Value::Object(parent)) = facets.get(key) else {
            self.fail(format!("{path} must be an object"));
            return None;
        };
        let run = self.object(parent, "run", &format!("{path}.run"));
        let run_id = run.and_then(|run| self.run_id(run, &format!("{path}.run.runId")));
        let job = self.job(parent.get("job"), &format!("{path}.job"));
        Some(Parent {
            run_id: run_id?,
            job: job?,
        })
    }

    /// The row counts of the outputs that carry `outputStatistics`.
    fn outputs(&mut self, event: &Map<String, Value>, at: Option<&EventTime>) -> Vec<OutputRows> {
        let Some(Value::Array(outputs)) = event.get("outputs") else {
            if event.get("outputs").is_some_and(|v| !v.is_null()) {
                self.fail("outputs must be an array");
            }
            return Vec::new();
        };
        let mut rows = Vec::new();
        for (i, output) in outputs.iter().enumerate() {
            let path = format!("outputs[{i}]");
            let stats = output
                .get("outputFacets")
                .and_then(|facets| facets.get("outputStatistics"))
                .and_then(|stats| stats.get("rowCount"));
            let count = match stats {
                None | Some(Value::Null) => continue,
                Some(count) => count.as_i64().filter(|n| *n >= 0),
            };
            let Some(count) = count else {
                self.fail(format!(
                    "{path}.outputFacets.outputStatistics.rowCount must be an integer of at least 0"
                ));
                continue;
            };
            let Value::Object(dataset) = output else {
                continue;
            };
            let namespace = self.text(dataset, "namespace", &format!("{path}.namespace"));
            let name = self.text(dataset, "name", &format!("{path}.name"));
            if let (Some(namespace), Some(name), Some(at)) = (namespace, name, at) {
                rows.push(OutputRows {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    rows: count,
                    at: at.clone(),
                });
            }
        }
        rows
    }

    /// A `JobEvent` (a job, no run) or a `DatasetEvent` (a dataset, neither).
    fn static_event(mut self, event: &Map<String, Value>, at: Option<EventTime>) -> Result<Intake> {
        let job = match (event.get("job"), event.get("dataset")) {
            (Some(job), _) => self.job(Some(job), "job"),
            (None, Some(Value::Object(_))) => None,
            (None, _) => {
                self.fail("run can't be blank");
                self.fail("job can't be blank");
                None
            }
        };
        self.finish()?;
        let event_time =
            at.ok_or_else(|| Error::Internal("a checked element is missing".into()))?;
        Ok(Intake::Static(StaticEvent { event_time, job }))
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
