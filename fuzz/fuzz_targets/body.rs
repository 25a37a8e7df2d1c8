//! A request body, from bytes to the typed fields of every resource, as a write handler
//! reads it: `format::parse` (JSON or XML by Content-Type, or sniffed), then
//! `IntegrationFields`, `RunFields`, `RecordFields` and `ContactFields`.
//!
//! Input: one byte for the Content-Type (`j` JSON, `x` XML, anything else none, so that the
//! body is sniffed), then the body. Beyond never panicking, whatever a parser accepts is a
//! value the domain allows: no key or string holds a character XML cannot carry, required
//! text is not blank, text fits its column, enumerations hold one of their values, counts
//! are not negative, datetimes print and parse back the same, and a run's `flow` is an
//! object of element names within its size limit that reads back unchanged from the XML the
//! server renders for it (but for the known gaps that docs/fuzzing.md lists).
#![no_main]

use libfuzzer_sys::fuzz_target;
use runledger::domain::contacts::ContactFields;
use runledger::domain::input::{Body, Field};
use runledger::domain::integrations::IntegrationFields;
use runledger::domain::records::{DocumentTypes, RecordFields};
use runledger::domain::runs::{MAX_FLOW_BYTES, RunFields, first_bad_key};
use runledger::domain::text::is_xml_char;
use runledger::http::format;
use runledger::http::xml;
use runledger::time::{self, Timestamp};
use runledger::view::render::{Node, xml_document};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    let content_type = match kind {
        b'j' => Some("application/json"),
        b'x' => Some("application/xml; charset=utf-8"),
        _ => None,
    };
    let Ok(map) = format::parse(content_type, bytes) else {
        return;
    };
    // No body that holds text XML cannot carry gets past the door (spec §2.4).
    assert!(
        map.iter()
            .all(|(k, v)| k.chars().all(is_xml_char) && showable(v)),
        "unshowable text accepted: {map:?}"
    );
    let body = Body(&map);
    if let Ok(f) = IntegrationFields::parse(body) {
        integration(&f);
        if let Ok(new) = f.into_new() {
            for v in [&new.code, &new.name, &new.business_object, &new.end_system] {
                required_text(v, 255);
            }
        }
    }
    if let Ok(f) = RunFields::parse(body) {
        run(&f);
    }
    for allowed in [DocumentTypes::Coupa, DocumentTypes::Extended] {
        if let Ok(f) = RecordFields::parse(body, allowed) {
            record(&f, allowed);
        }
    }
    if let Ok(f) = ContactFields::parse(body) {
        contact(&f);
    }
});

/// Whether every key and string in `value` is text XML can carry.
fn showable(value: &Value) -> bool {
    match value {
        Value::String(s) => s.chars().all(is_xml_char),
        Value::Array(items) => items.iter().all(showable),
        Value::Object(map) => map
            .iter()
            .all(|(k, v)| k.chars().all(is_xml_char) && showable(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => true,
    }
}

fn required_text(v: &str, max: usize) {
    assert!(!v.trim().is_empty(), "blank required text");
    assert!(v.chars().count() <= max, "text over {max}");
}

/// A required element may be absent (an update), never null.
fn required(field: &Field<String>, max: usize) {
    assert!(!matches!(field, Some(None)), "required element cleared");
    if let Some(Some(v)) = field {
        required_text(v, max);
    }
}

fn optional(field: &Field<String>, max: usize) {
    if let Some(Some(v)) = field {
        assert!(v.chars().count() <= max, "text over {max}");
    }
}

fn word<T>(field: &Field<T>, is_required: bool) {
    if is_required {
        assert!(!matches!(field, Some(None)), "required element cleared");
    }
}

fn one_of(field: &Field<String>, allowed: &[&str], is_required: bool) {
    if is_required {
        assert!(!matches!(field, Some(None)), "required element cleared");
    }
    if let Some(Some(v)) = field {
        assert!(allowed.contains(&v.as_str()), "{v:?} not in {allowed:?}");
    }
}

fn count(field: &Field<i64>) {
    if let Some(Some(n)) = field {
        assert!(*n >= 0, "negative count {n}");
    }
}

fn datetime(field: &Field<Timestamp>) {
    if let Some(Some(t)) = field {
        let printed = time::format(t);
        assert_eq!(
            time::parse(&printed),
            Some(*t),
            "{printed} does not read back"
        );
    }
}

fn integration(f: &IntegrationFields) {
    for v in [&f.code, &f.name, &f.business_object, &f.end_system] {
        required(v, 255);
    }
    // A closed vocabulary's word is an enum: only a required one being cleared is left to check.
    word(&f.direction, true);
    word(&f.end_system_type, true);
    word(&f.integration_type, false);
}

fn run(f: &RunFields) {
    datetime(&f.start_time);
    datetime(&f.end_time);
    count(&f.total_records);
    count(&f.records_processed);
    if let Some(Some(flow)) = &f.flow {
        assert!(flow.is_object(), "flow {flow}");
        let size = serde_json::to_vec(flow).expect("flow serialises").len();
        assert!(size <= MAX_FLOW_BYTES, "flow of {size} bytes");
        assert!(first_bad_key(flow).is_none(), "flow keys {flow}");
        // What the server renders for a run in XML must read back as the same flow, but for
        // the one known gap (docs/api.md): an empty object renders as an empty element,
        // which reads back as null. (A CR and a flow deeper than XML's bound were gaps too,
        // until render wrote CR as `&#13;` and RunFields bounded flow's depth.)
        if has_known_gap(flow) {
            return;
        }
        let text = xml_document(
            "integration-run",
            &Node::Object(vec![("flow", Node::Json(flow.clone()))]),
        );
        let again = xml::parse(text.as_bytes())
            .unwrap_or_else(|e| panic!("rendered flow refused: {e}\n{text}"));
        assert_eq!(
            again.get("flow"),
            Some(flow),
            "flow changed by a trip through\n{text}"
        );
    }
}

fn record(f: &RecordFields, allowed: DocumentTypes) {
    word(&f.contact_alert_type, true);
    one_of(&f.document_type, allowed.words(), false);
    for v in [
        &f.document_status,
        &f.external_id,
        &f.integration_filename,
        &f.creation_method,
        &f.status,
    ] {
        optional(v, 255);
    }
    for r in &f.responses {
        if let Some(code) = &r.response_code {
            assert!(code.chars().count() <= 255);
        }
        if let Some(message) = &r.response_message {
            assert!(message.chars().count() <= 65_535);
        }
    }
}

fn contact(f: &ContactFields) {
    word(&f.contact_alert_type, true);
    word(&f.contactable_type, true);
    assert!(
        !matches!(f.contactable_id, Some(None)),
        "contactable id cleared"
    );
    if let Some(Some(email)) = &f.email {
        assert!(
            email.chars().count() <= 255 && email.contains('@'),
            "email {email:?}"
        );
        assert!(!email.chars().any(char::is_whitespace), "email {email:?}");
    }
    if let Some(Some(url)) = &f.webhook_url {
        assert!(
            url.starts_with("http://") || url.starts_with("https://"),
            "url {url:?}"
        );
        assert!(url.chars().count() <= 2048 && !url.chars().any(char::is_whitespace));
    }
}

/// An empty object anywhere in the flow: it reads back from XML as nil (docs/api.md).
fn has_known_gap(flow: &Value) -> bool {
    let mut todo = vec![flow];
    while let Some(v) = todo.pop() {
        match v {
            Value::Object(map) if map.is_empty() => return true,
            Value::Array(items) => todo.extend(items),
            Value::Object(map) => todo.extend(map.values()),
            _ => {}
        }
    }
    false
}
