//! `/api/integrations`: create, show, update and list, in JSON and XML.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{integration_body, messages, spawn_app, xml_value};
use crate::runs::{FORMATS, put_back_changes_nothing, put_in, write_as};

#[tokio::test]
async fn create_returns_201_with_every_element_in_json() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json("/api/integrations", integration_body("PO_TO_ERP"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(body["id"].as_i64().unwrap() > 0);
    assert_eq!(body["code"], "PO_TO_ERP");
    assert_eq!(body["name"], "PO_TO_ERP integration");
    assert_eq!(body["business-object"], "OrderHeader");
    assert_eq!(body["direction"], "from_coupa");
    assert_eq!(body["end-system"], "SAP");
    assert_eq!(body["end-system-type"], "erp");
    assert_eq!(body["integration-type"], "api");
    assert_eq!(body["standard"], false);
    assert_eq!(body["created-at"], body["updated-at"]);
    assert!(body["created-at"].as_str().unwrap().ends_with("+00:00"));
    assert!(body.as_object().unwrap().contains_key("created-by"));
}

#[tokio::test]
async fn create_accepts_an_xml_body_and_answers_in_xml() {
    let app = spawn_app().await;
    let (status, text) = app
        .xml(
            Method::POST,
            "/api/integrations",
            Some(
                r#"<?xml version="1.0" encoding="UTF-8"?>
                <integration>
                  <code>INV</code><name>Invoices</name><business_object>InvoiceHeader</business_object>
                  <direction>to_coupa</direction><end-system>Oracle</end-system>
                  <end-system-type>erp</end-system-type><integration-type nil="true"/>
                </integration>"#,
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<integration>\n"));
    assert!(text.contains("<standard type=\"boolean\">false</standard>"));
    assert!(text.contains("<integration-type nil=\"true\"/>"));
    let value = xml_value(&text);
    assert_eq!(value["code"], "INV");
    assert_eq!(value["direction"], "to_coupa");
    assert!(value["id"].as_i64().is_some());
}

#[tokio::test]
async fn create_returns_400_naming_every_missing_element() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json("/api/integrations", json!({"code": "X"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        messages(&body, "integration"),
        [
            "Name can't be blank",
            "Business object can't be blank",
            "Direction can't be blank",
            "End system can't be blank",
            "End system type can't be blank"
        ]
    );
}

#[tokio::test]
async fn create_refuses_values_outside_the_enums_and_over_length() {
    let app = spawn_app().await;
    let mut body = integration_body("ENUMS");
    body["direction"] = json!("sideways");
    body["end-system-type"] = json!("mainframe");
    body["integration-type"] = json!("carrier_pigeon");
    body["name"] = json!("n".repeat(256));
    let (status, answer) = app.post_json("/api/integrations", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let all = messages(&answer, "integration").join("\n");
    assert!(
        all.contains("Direction is not included in the list"),
        "{all}"
    );
    assert!(
        all.contains("End system type is not included in the list"),
        "{all}"
    );
    assert!(
        all.contains("Integration type is not included in the list"),
        "{all}"
    );
    assert!(
        all.contains("Name is too long (maximum is 255 characters)"),
        "{all}"
    );
    let (_, list) = app.get_json("/api/integrations").await;
    assert_eq!(list, json!([]), "nothing was written");
}

#[tokio::test]
async fn create_refuses_a_duplicate_code_or_name() {
    let app = spawn_app().await;
    app.create_integration("DUP").await;
    let (status, body) = app
        .post_json("/api/integrations", integration_body("DUP"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        messages(&body, "integration"),
        ["Code has already been taken", "Name has already been taken"]
    );

    let mut same_code = integration_body("DUP");
    same_code["name"] = json!("Another name");
    let (status, body) = app.post_json("/api/integrations", same_code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        messages(&body, "integration"),
        ["Code has already been taken"]
    );

    let mut same_name = integration_body("OTHER");
    same_name["name"] = json!("DUP integration");
    let (status, body) = app.post_json("/api/integrations", same_name).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        messages(&body, "integration"),
        ["Name has already been taken"]
    );
}

#[tokio::test]
async fn show_returns_the_integration_or_404() {
    let app = spawn_app().await;
    let created = app.create_integration("SHOW").await;
    let id = created["id"].as_i64().unwrap();
    let (status, body) = app.get_json(&format!("/api/integrations/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, created);
    let (status, body) = app.get_json("/api/integrations/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        messages(&body, "integration"),
        ["Couldn't find Integration with 'id'=999"]
    );
}

#[tokio::test]
async fn put_and_patch_change_only_the_given_elements() {
    let app = spawn_app().await;
    let id = app.create_integration("UPD").await["id"].as_i64().unwrap();
    let path = format!("/api/integrations/{id}");
    let (status, body) = app
        .json(Method::PATCH, &path, Some(json!({"end_system": "Workday"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["end-system"], "Workday");
    assert_eq!(body["code"], "UPD");
    let (status, body) = app
        .put_json(&path, Some(json!({"integration-type": null, "id": 77})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["integration-type"], serde_json::Value::Null);
    assert_eq!(body["id"], id, "read-only keys are ignored");
    let (status, body) = app.put_json(&path, Some(json!({"code": ""}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(messages(&body, "integration"), ["Code can't be blank"]);
    let (status, _) = app
        .put_json("/api/integrations/4242", Some(json!({"code": "X"})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_update_to_a_taken_code_is_refused() {
    let app = spawn_app().await;
    app.create_integration("A").await;
    let b = app.create_integration("B").await["id"].as_i64().unwrap();
    let (status, body) = app
        .put_json(
            &format!("/api/integrations/{b}"),
            Some(json!({"code": "A"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        messages(&body, "integration"),
        ["Code has already been taken"]
    );
}

#[tokio::test]
async fn index_lists_integrations_in_both_formats() {
    let app = spawn_app().await;
    app.create_integration("ONE").await;
    app.create_integration("TWO").await;
    let (status, body) = app
        .get_json("/api/integrations?code[in]=ONE,TWO&order_by=code&dir=desc")
        .await;
    assert_eq!(status, StatusCode::OK);
    let codes: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["TWO", "ONE"]);
    let (status, text) = app.xml(Method::GET, "/api/integrations", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains("<integrations type=\"array\">\n  <integration>\n"),
        "{text}"
    );
    assert_eq!(xml_value(&text).as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn show_and_update_speak_xml_too() {
    let app = spawn_app().await;
    let id = app.create_integration("XMLUPD").await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/integrations/{id}");
    let (status, text) = app.xml(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(xml_value(&text)["code"], "XMLUPD");
    for method in [Method::PUT, Method::PATCH] {
        let body = format!("<integration><end-system>{method}</end-system></integration>");
        let (status, text) = app.xml(method.clone(), &path, Some(&body)).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(xml_value(&text)["end-system"], method.as_str());
    }
    let (status, text) = app
        .xml(
            Method::PUT,
            &path,
            Some("<integration><direction>up</direction></integration>"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        text.contains(
            "<error>Direction is not included in the list (to_coupa, from_coupa)</error>"
        ),
        "{text}"
    );
    let (status, text) = app.xml(Method::GET, "/api/integrations/999", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        text.contains("<error>Couldn't find Integration with 'id'=999</error>"),
        "{text}"
    );
}

#[tokio::test]
async fn an_integration_put_back_as_it_reads_is_not_touched() {
    let mut app = spawn_app().await;
    let id = app.create_integration("SAME").await["id"].clone();
    write_as(&mut app, "another-client").await;
    put_back_changes_nothing(&app, &format!("/api/integrations/{id}"), &[]).await;
}

#[tokio::test]
async fn an_update_with_the_stored_values_keeps_updated_by_and_a_change_moves_it() {
    let mut app = spawn_app().await;
    let created = app.create_integration("SAME").await;
    let path = format!("/api/integrations/{}", created["id"]);
    app.put_json(&path, Some(json!({"integration-type": null})))
        .await;
    let (_, before) = app.get_json(&path).await;
    write_as(&mut app, "another-client").await;
    for format in FORMATS {
        for same in [
            json!({"code": "SAME", "end-system-type": "erp"}),
            json!({"integration-type": null}),
        ] {
            let (status, answer) = put_in(&app, format, &path, "integration", same.clone()).await;
            assert_eq!(status, StatusCode::OK, "{format:?} {same}: {answer}");
            assert_eq!(
                answer["updated-by"], before["updated-by"],
                "{format:?} {same}"
            );
            assert_eq!(
                answer["updated-at"], before["updated-at"],
                "{format:?} {same}"
            );
        }
    }
    assert_eq!(app.get_json(&path).await.1, before, "nothing was written");
    for (format, change) in FORMATS.into_iter().zip(["api", "xml"]) {
        let body = json!({ "integration-type": change });
        let (_, answer) = put_in(&app, format, &path, "integration", body).await;
        assert_eq!(answer["integration-type"], change, "{format:?}");
        assert_eq!(
            answer["updated-by"]["login"], "another-client",
            "{format:?}"
        );
    }
}

#[tokio::test]
async fn a_code_or_name_taken_in_another_case_is_taken() {
    let app = spawn_app().await;
    app.create_integration("PO_TO_ERP").await;
    let mut body = integration_body("po_to_erp");
    body["name"] = json!("PO_TO_ERP INTEGRATION");
    let (status, answer) = app.post_json("/api/integrations", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(
        messages(&answer, "integration"),
        ["Code has already been taken", "Name has already been taken"]
    );

    // An integration may change the case of its own code.
    let (status, answer) = app
        .json(
            Method::PATCH,
            "/api/integrations/1",
            Some(json!({"code": "Po_To_Erp"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["code"], "Po_To_Erp");
}

#[tokio::test]
async fn a_reference_names_its_integration_without_case_in_both_formats() {
    let app = spawn_app().await;
    app.create_integration("PO_TO_ERP").await;
    app.create_integration("OTHER").await;

    let (status, run) = app
        .post_json(
            "/api/integration_runs",
            json!({"integration": {"code": "po_to_erp"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    assert_eq!(run["integration"]["code"], "PO_TO_ERP");

    let (status, text) = app
        .xml(
            Method::POST,
            "/api/integration_runs",
            Some("<integration-run><integration><name>po_to_erp INTEGRATION</name></integration></integration-run>"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(xml_value(&text)["integration"]["code"], "PO_TO_ERP");

    // Every key given must match, each without case; a key that matches nothing is Coupa's 400.
    let (status, answer) = app
        .post_json(
            "/api/integration_runs",
            json!({"integration": {"code": "po_to_erp", "name": "other integration"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        messages(&answer, "integration-run")[0].starts_with("Unable to find valid Integration"),
        "{answer}"
    );
}

#[tokio::test]
async fn case_twins_of_an_older_database_stay_usable_and_the_exact_spelling_names_one() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    // Before codes and names were unique without case, a database could hold a twin.
    app.execute_sql(
        "INSERT INTO integrations (code, name, business_object, direction, end_system, \
         end_system_type, standard, created_at, updated_at) \
         SELECT 'po', 'po twin', business_object, direction, end_system, end_system_type, \
         standard, created_at, updated_at FROM integrations WHERE code = 'PO'",
    )
    .await;

    // Either twin can be updated, as long as the update does not take the other's key.
    for id in [1, 2] {
        let (status, answer) = app
            .json(
                Method::PATCH,
                &format!("/api/integrations/{id}"),
                Some(json!({"end-system": "Oracle"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let (status, answer) = app
        .json(
            Method::PATCH,
            "/api/integrations/2",
            Some(json!({"name": "PO integration"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    // The exact spelling names one twin; another spelling names none of them for sure.
    for (code, expected) in [("PO", "PO"), ("po", "po")] {
        let (status, run) = app
            .post_json(
                "/api/integration_runs",
                json!({"integration": {"code": code}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{run}");
        assert_eq!(run["integration"]["code"], expected);
    }
    let (status, answer) = app
        .post_json(
            "/api/integration_runs",
            json!({"integration": {"code": "Po"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        messages(&answer, "integration-run")[0].starts_with("Several integrations match"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_stored_word_in_another_case_reads_as_the_word_and_an_unknown_one_is_a_500() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    app.create_integration("AP").await;
    // Rows no request can write: `end_system_type` and `integration_type` have no `CHECK`.
    app.execute_sql(
        "UPDATE integrations SET end_system_type = 'ERP', integration_type = 'Flat_File' \
         WHERE code = 'PO'",
    )
    .await;
    let (status, shown) = app.get_json("/api/integrations/1").await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(
        (&shown["end-system-type"], &shown["integration-type"]),
        (&json!("erp"), &json!("flat_file"))
    );
    let (status, text) = app.xml(Method::GET, "/api/integrations/1", None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(xml_value(&text)["end-system-type"], "erp");

    app.execute_sql("UPDATE integrations SET end_system_type = 'mainframe' WHERE code = 'AP'")
        .await;
    let (status, answer) = app.get_json("/api/integrations/2").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    assert!(
        !answer.to_string().contains("mainframe"),
        "the stored text stays in the log: {answer}"
    );
}
