//! Reading one event: the elements Runledger uses, each checked, every problem listed with
//! the path of what is wrong. Facets it reads go through serde, one facet at a time, so that
//! a malformed one is one problem among the others; unknown fields and facets are left alone.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{
    ErrorMessage, Event, EventTime, EventType, Intake, Job, NominalTime, OutputRows, Parent, RunId,
    StaticEvent,
};
use crate::domain::text::{first_unshowable, is_xml_char, unshowable_message};
use crate::error::{Error, Result};

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
        // A JobEvent or DatasetEvent has neither; an event with a type is a RunEvent.
        if !event.contains_key("run") && !event.contains_key("eventType") {
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
        let facets = run.and_then(|run| p.optional_object(run, "facets", "run.facets"));
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

    /// An object that may be absent (`facets`).
    fn optional_object<'a>(
        &mut self,
        object: &'a Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<&'a Map<String, Value>> {
        match object.get(key) {
            None | Some(Value::Null) => None,
            _ => self.object(object, key, path),
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
            self.fail(unshowable_message(path, position, c));
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
