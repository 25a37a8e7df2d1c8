//! Integrations' rules: vocabularies, fields read from bodies, references and unique keys.

use super::*;
use serde_json::json;

fn integration(id: i64, code: &str) -> Integration {
    Integration {
        version: 0,
        id,
        code: code.to_owned(),
        name: format!("{code} integration"),
        business_object: "OrderHeader".to_owned(),
        direction: Direction::ToCoupa,
        end_system: "SAP".to_owned(),
        end_system_type: EndSystemType::Erp,
        integration_type: None,
        standard: false,
        created_at: crate::time::now(),
        updated_at: crate::time::now(),
        created_by: None,
        updated_by: None,
    }
}

#[test]
fn a_reference_picks_without_case_and_prefers_the_exact_spelling() {
    let reference = IntegrationRef::parse(&json!({"code": "po"}));
    let upper = integration(1, "PO");
    assert_eq!(reference.pick(vec![upper.clone()]).unwrap().id, 1);
    // A database older than unique-without-case may hold both spellings.
    let lower = integration(2, "po");
    assert_eq!(reference.pick(vec![upper.clone(), lower]).unwrap().id, 2);
    let other = integration(3, "Po");
    let ambiguous = IntegrationRef::parse(&json!({"code": "pO"}));
    let refused = ambiguous.pick(vec![upper, other]).unwrap_err().to_string();
    assert!(
        refused.starts_with("Several integrations match"),
        "{refused}"
    );
    assert!(reference.pick(Vec::new()).is_err());
}

#[test]
fn an_update_says_whether_it_changed_anything() {
    let created = crate::time::parse("2026-11-28T10:00:00Z").unwrap();
    let stored = Integration {
        version: 0,
        id: 1,
        code: "PO".into(),
        name: "PO integration".into(),
        business_object: "OrderHeader".into(),
        direction: Direction::FromCoupa,
        end_system: "SAP".into(),
        end_system_type: EndSystemType::Erp,
        integration_type: None,
        standard: false,
        created_at: created,
        updated_at: created,
        created_by: None,
        updated_by: None,
    };
    let fields = |v: Value| IntegrationFields::parse(Body(v.as_object().unwrap())).unwrap();
    for same in [
        json!({}),
        json!({"code": "PO", "end-system-type": "erp"}),
        json!({"integration-type": null}),
    ] {
        let mut i = stored.clone();
        assert!(!i.apply(&fields(same.clone())), "{same}");
        assert_eq!(i, stored, "{same}");
    }
    for change in [json!({"code": "PO2"}), json!({"integration-type": "api"})] {
        let mut i = stored.clone();
        assert!(i.apply(&fields(change.clone())), "{change}");
    }
}

#[test]
fn create_needs_every_required_element() {
    let body = json!({"code": "PO", "direction": "sideways"});
    let err = IntegrationFields::parse(Body(body.as_object().unwrap())).unwrap_err();
    assert!(
        err.to_string()
            .contains("Direction is not included in the list")
    );

    let body = json!({"code": "PO"});
    let fields = IntegrationFields::parse(Body(body.as_object().unwrap())).unwrap();
    let Err(Error::Invalid(messages)) = fields.into_new() else {
        panic!()
    };
    assert_eq!(messages.len(), 5, "{messages:?}");
    assert_eq!(messages[0], "Name can't be blank");
}

#[test]
fn a_reference_that_matches_nothing_reads_like_coupa() {
    let r = IntegrationRef::parse(&json!({"code": "NOPE"}));
    assert_eq!(
        r.not_found().to_string(),
        "Unable to find valid Integration record for integration with keys \
         {\"code\"=>\"NOPE\"}. Possible keys are [\"id\", \"code\", \"name\"]."
    );
    let r = IntegrationRef::parse(&json!({"id": "7"}));
    assert_eq!(r.id, Some(7));
    assert!(IntegrationRef::parse(&json!({"other": 1})).is_empty());
}

#[test]
fn a_taken_code_and_name_are_both_named_code_first() {
    let refused = refuse_taken(&[UniqueKey::Name, UniqueKey::Code]).unwrap_err();
    match refused {
        Error::Invalid(messages) => assert_eq!(
            messages,
            ["Code has already been taken", "Name has already been taken"]
        ),
        other => panic!("{other:?}"),
    }
    match refuse_taken(&[UniqueKey::Name]).unwrap_err() {
        Error::Invalid(messages) => assert_eq!(messages, ["Name has already been taken"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn keys_nobody_else_has_are_accepted() {
    assert!(refuse_taken(&[]).is_ok());
}

#[test]
fn a_new_integration_is_not_standard_and_is_made_by_its_creator() {
    let now = crate::time::parse("2026-11-28T10:00:00Z").unwrap();
    let actor = Actor {
        id: 3,
        login: "ops".into(),
    };
    let new = NewIntegration {
        code: "SAP-1".into(),
        name: "SAP invoices".into(),
        business_object: "invoice".into(),
        direction: Direction::ToCoupa,
        end_system: "SAP".into(),
        end_system_type: EndSystemType::Erp,
        integration_type: Some(IntegrationType::Api),
    };
    let made = Integration::new(new.clone(), now, Some(&actor));
    assert_eq!((made.id, made.standard), (0, false));
    assert_eq!((made.code, made.name), (new.code, new.name));
    assert_eq!(made.integration_type, new.integration_type);
    assert_eq!((made.created_at, made.updated_at), (now, now));
    assert_eq!(made.created_by.as_ref(), Some(&actor));
    assert_eq!(made.updated_by.as_ref(), Some(&actor));
}

#[test]
fn each_vocabulary_reads_back_as_written_and_only_so() {
    assert_eq!(
        Direction::ALL.map(Direction::as_str),
        ["to_coupa", "from_coupa"]
    );
    assert_eq!(
        EndSystemType::ALL.map(EndSystemType::as_str),
        [
            "internal",
            "payroll",
            "erp",
            "hr",
            "third_party_partner",
            "third_party_vendor",
            "other"
        ]
    );
    assert_eq!(
        IntegrationType::ALL.map(IntegrationType::as_str),
        [
            "flat_file",
            "api",
            "corporate_credit_card_file",
            "json",
            "xml",
            "original_format"
        ]
    );
    for d in Direction::ALL {
        assert_eq!(Direction::parse(d.as_str()), Some(d));
    }
    for t in EndSystemType::ALL {
        assert_eq!(EndSystemType::parse(t.as_str()), Some(t));
    }
    for t in IntegrationType::ALL {
        assert_eq!(IntegrationType::parse(t.as_str()), Some(t));
    }
    for refused in ["", "To_Coupa", "TO_COUPA", "sideways", "to_coupa "] {
        assert_eq!(Direction::parse(refused), None, "{refused:?}");
    }
    for refused in ["", "ERP", "Erp", "crm"] {
        assert_eq!(EndSystemType::parse(refused), None, "{refused:?}");
    }
    for refused in ["", "API", "Json", "csv"] {
        assert_eq!(IntegrationType::parse(refused), None, "{refused:?}");
    }
}

#[test]
fn a_body_spells_each_word_exactly() {
    let body = json!({
        "direction": "To_Coupa",
        "end-system-type": "ERP",
        "integration-type": "Api",
    });
    let Err(Error::Invalid(messages)) = IntegrationFields::parse(Body(body.as_object().unwrap()))
    else {
        panic!("a word in another case is refused")
    };
    assert_eq!(
        messages,
        [
            "Direction is not included in the list (to_coupa, from_coupa)",
            "End system type is not included in the list (internal, payroll, erp, hr, \
             third_party_partner, third_party_vendor, other)",
            "Integration type is not included in the list (flat_file, api, \
             corporate_credit_card_file, json, xml, original_format)",
        ]
    );
    let body = json!({"direction": "from_coupa", "integration-type": null});
    let fields = IntegrationFields::parse(Body(body.as_object().unwrap())).unwrap();
    assert_eq!(fields.direction, Some(Some(Direction::FromCoupa)));
    assert_eq!(fields.integration_type, Some(None));
    assert_eq!(fields.end_system_type, None);
}
