//! The records' rules: fields read from bodies, the integration a record belongs to, updates.

use super::*;
use serde_json::json;

fn parse(v: Value) -> Result<RecordFields> {
    RecordFields::parse(Body(v.as_object().unwrap()), DocumentTypes::Coupa)
}

#[test]
fn reads_the_run_in_every_spelling() {
    assert_eq!(
        parse(json!({"integration-run": {"id": 5}}))
            .unwrap()
            .integration_run,
        Some(Some(5))
    );
    assert_eq!(
        parse(json!({"integration_run_id": "6"}))
            .unwrap()
            .integration_run,
        Some(Some(6))
    );
    assert_eq!(
        parse(json!({"integration-run-id": 7}))
            .unwrap()
            .integration_run,
        Some(Some(7))
    );
    assert!(parse(json!({"integration-run-id": "seven"})).is_err());
}

#[test]
fn enforces_the_document_type_list_and_requirements() {
    let err = parse(json!({"document-type": "Spaceship"}))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Document type is not included in the list"),
        "{err}"
    );
    assert!(parse(json!({"document_type": "Payables::External::Payable"})).is_ok());
    let fields = parse(json!({"contact-alert-type": "Technical"})).unwrap();
    assert!(
        fields
            .require_for_create(RecordKind::Error)
            .unwrap_err()
            .to_string()
            .contains("Integration run can't be blank")
    );
    let err = fields
        .require_for_create(RecordKind::History)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Document id can't be blank") && err.contains("Document type can't be blank"),
        "{err}"
    );
}

#[test]
fn the_job_document_type_is_read_only_where_runledger_types_are_allowed() {
    let body = json!({"document-type": JOB_DOCUMENT_TYPE});
    let coupa = parse(body.clone()).unwrap_err().to_string();
    // Refused as any unknown type is, with Coupa's list: a Coupa client sees no change.
    let list = DOCUMENT_TYPES.join(", ");
    assert!(
        coupa.contains(&format!(
            "Document type is not included in the list ({list})"
        )),
        "{coupa}"
    );
    assert!(!coupa.contains("Runledger"), "{coupa}");
    let extended =
        RecordFields::parse(Body(body.as_object().unwrap()), DocumentTypes::Extended).unwrap();
    assert_eq!(
        extended.document_type,
        Some(Some(JOB_DOCUMENT_TYPE.to_owned()))
    );
    // Coupa's types stay valid with the extensions, and a wrong word lists all 32.
    assert_eq!(EXTENDED_DOCUMENT_TYPES.len(), DOCUMENT_TYPES.len() + 1);
    assert_eq!(
        &EXTENDED_DOCUMENT_TYPES[..DOCUMENT_TYPES.len()],
        DOCUMENT_TYPES
    );
    let wrong = json!({"document-type": "Runledger::job"});
    let refused = RecordFields::parse(Body(wrong.as_object().unwrap()), DocumentTypes::Extended)
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains(&format!("{list}, Runledger::Job)")),
        "{refused}"
    );
}

#[test]
fn reads_responses_from_json_and_xml_shapes() {
    let fields =
        parse(json!({"responses": [{"response-code": "E1", "response_message": "bad"}]})).unwrap();
    assert_eq!(
        fields.responses,
        [NewResponse {
            response_code: Some("E1".into()),
            response_message: Some("bad".into())
        }]
    );
    let one = parse(json!({"responses": {"response": {"response-code": "E2"}}})).unwrap();
    assert_eq!(one.responses[0].response_code.as_deref(), Some("E2"));
    assert!(parse(json!({"responses": "nope"})).is_err());
    assert!(parse(json!({"responses": [{"response-code": "x".repeat(256)}]})).is_err());
}

#[test]
fn a_record_naming_another_integration_than_its_runs_is_refused() {
    let refused = record_integration(Some(2), Some(1), None).unwrap_err();
    assert!(matches!(refused, Error::Invalid(_)));
    assert_eq!(
        refused.to_string(),
        "Integration does not match the integration of the integration run"
    );
}

#[test]
fn a_record_takes_the_integration_it_names_or_else_its_runs_or_else_keeps_its_own() {
    assert_eq!(
        record_integration(Some(1), Some(1), Some(3)).unwrap(),
        Some(1)
    );
    assert_eq!(record_integration(Some(2), None, Some(3)).unwrap(), Some(2));
    assert_eq!(record_integration(None, Some(1), Some(3)).unwrap(), Some(1));
    assert_eq!(record_integration(None, None, Some(3)).unwrap(), Some(3));
    assert_eq!(record_integration(None, None, None).unwrap(), None);
}

#[test]
fn a_new_record_is_open_and_blank_but_for_what_its_body_says() {
    let now = crate::time::parse("2026-11-28T10:00:00Z").unwrap();
    let actor = Actor {
        id: 4,
        login: "ops".into(),
    };
    let fields = parse(json!({
        "integration-run": {"id": 5},
        "contact-alert-type": "Functional",
        "document-type": "InvoiceHeader",
        "document-id": 42,
        "responses": [{"response-code": "E1"}],
    }))
    .unwrap();
    let record = Record::new(&fields, Some(9), true, now, Some(&actor)).unwrap();
    assert_eq!(
        (record.id, record.integration_run_id, record.integration_id),
        (0, Some(5), Some(9))
    );
    assert_eq!(record.contact_alert_type, ContactAlertType::Functional);
    assert_eq!(record.document_type.as_deref(), Some("InvoiceHeader"));
    assert_eq!(record.document_id, Some(42));
    assert_eq!(record.document_revision, None);
    assert_eq!(record.status, None);
    assert!(!record.resolved && record.exported);
    assert_eq!((record.created_at, record.updated_at), (now, now));
    assert_eq!(record.created_by.as_ref(), Some(&actor));
    assert_eq!(record.updated_by.as_ref(), Some(&actor));
    // Responses are filed by the store once the record has an id.
    assert!(record.responses.is_empty() && record.integration.is_none());

    let technical = parse(json!({"contact-alert-type": "Technical"})).unwrap();
    let bare = Record::new(&technical, None, false, now, None).unwrap();
    assert_eq!((bare.integration_run_id, bare.integration_id), (None, None));
    assert!(bare.document_type.is_none() && !bare.exported);
    assert_eq!(bare.created_by, None);

    let untyped = Record::new(&RecordFields::default(), None, false, now, None);
    assert_eq!(
        untyped.unwrap_err().to_string(),
        "Contact alert type can't be blank"
    );
}

#[test]
fn an_update_changes_a_record_by_a_value_or_by_responses_to_append() {
    let now = crate::time::parse("2026-11-28T10:00:00Z").unwrap();
    let fields = parse(json!({
        "integration-run": {"id": 5},
        "contact-alert-type": "Both",
        "status": "open",
    }))
    .unwrap();
    let record = Record::new(&fields, Some(1), false, now, None).unwrap();

    let same = parse(json!({"status": "open"})).unwrap();
    assert_eq!(same.run_after(record.integration_run_id), Some(5));
    assert!(!same.moves());
    assert!(!record.updated(&same, Some(5), Some(1)).1);

    let answered = parse(json!({"responses": [{"response-code": "E1"}]})).unwrap();
    let run = answered.run_after(record.integration_run_id);
    let (next, changed) = record.updated(&answered, run, Some(1));
    assert!(
        changed && next == record,
        "responses change a record without a value"
    );

    let moved = parse(json!({"integration-run-id": null, "status": "done"})).unwrap();
    assert!(moved.moves());
    assert_eq!(moved.run_after(Some(5)), None);
    let (next, changed) = record.updated(&moved, None, Some(1));
    assert!(changed);
    assert_eq!(next.integration_run_id, None);
    assert_eq!(next.status.as_deref(), Some("done"));
}

#[test]
fn a_contact_alert_type_reads_back_as_written_and_only_so() {
    assert_eq!(
        ContactAlertType::ALL.map(ContactAlertType::as_str),
        ["Technical", "Functional", "Both"]
    );
    for t in ContactAlertType::ALL {
        assert_eq!(ContactAlertType::parse(t.as_str()), Some(t));
    }
    for refused in ["", "technical", "BOTH", "Neither", " Both"] {
        assert_eq!(ContactAlertType::parse(refused), None, "{refused:?}");
    }
    let err = parse(json!({"contact-alert-type": "technical"}))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "Contact alert type is not included in the list (Technical, Functional, Both)"
    );
}

#[test]
fn a_record_kind_reads_back_as_the_outbox_writes_it_and_only_so() {
    assert_eq!(
        RecordKind::ALL.map(RecordKind::owner_type),
        ["integration_error", "integration_history_record"]
    );
    for kind in RecordKind::ALL {
        assert_eq!(RecordKind::parse_owner_type(kind.owner_type()), Some(kind));
    }
    for refused in [
        "",
        "Integration_Error",
        "integration_errors",
        "IntegrationError",
    ] {
        assert_eq!(RecordKind::parse_owner_type(refused), None, "{refused:?}");
    }
}
