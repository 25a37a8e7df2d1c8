//! Integration errors, history records, contacts and the alert outbox (spec §1.4), filed,
//! read, updated, resolved and searched over HTTP, in JSON and in XML; and how errors decide
//! a run's `finish` and show inside their run.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use runledger::domain::runs::Status;
use runledger::store::seed::SeedRun;
use runledger::time;
use serde_json::{Value, json};

use crate::helpers::{TestApp, messages, spawn_app, xml_value};
use crate::runs::{FORMATS, Format, put_back_changes_nothing, put_in, write_as};

const ERRORS: &str = "/api/integration_errors";
const HISTORY: &str = "/api/integration_history_records";
const CONTACTS: &str = "/api/integration_contacts";
const DELIVERIES: &str = "/api/alert_deliveries";
const RUNS: &str = "/api/integration_runs";
const NO_RESULTS: &str = "No results match your search criteria.";
const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// The 31 document types of spec §1.4, in its order.
const DOCUMENT_TYPES: [&str; 31] = [
    "ContingentWorkOrderHeader",
    "ExternalOrderHeader",
    "OrderHeader",
    "InventoryTransaction",
    "InvoiceHeader",
    "ExpenseReport",
    "RequisitionHeader",
    "Account",
    "Supplier",
    "User",
    "Address",
    "RemitToAddress",
    "Contract",
    "ExchangeRate",
    "Invoice",
    "Requisition",
    "Payment",
    "ApprovalChain",
    "LookupValue",
    "Item",
    "SupplierInformation",
    "Asn::Header",
    "AccountValidationRule",
    "Payables::External::Payable",
    "Charge",
    "Payables::Invoice",
    "Payables::Expense",
    "CoupaPay::Payment",
    "CoupaPay::Statement",
    "ReceiptRequest",
    "InventoryRequestHeader",
];

/// The elements of an error as its own resource shows it.
const ERROR_KEYS: [&str; 18] = [
    "contact-alert-type",
    "created-at",
    "created-by",
    "creation-method",
    "document-id",
    "document-revision",
    "document-status",
    "document-type",
    "external-id",
    "id",
    "integration",
    "integration-filename",
    "integration-run",
    "resolved",
    "responses",
    "status",
    "updated-at",
    "updated-by",
];

// ---------------------------------------------------------------------------------------
// Helpers

/// `base` with the entries of `extra` added (or replaced).
fn merge(mut base: Value, extra: Value) -> Value {
    let target = base.as_object_mut().expect("an object");
    for (key, value) in extra.as_object().expect("an object") {
        target.insert(key.clone(), value.clone());
    }
    base
}

/// POSTs `body` as JSON to `path` and returns the answer, which must be a 201.
async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, answer) = app.post_json(path, body).await;
    assert_eq!(status, StatusCode::CREATED, "POST {path}: {answer}");
    answer
}

/// Files a `Technical` error on `run`, with the elements of `extra`.
async fn file_error(app: &TestApp, run: i64, extra: Value) -> Value {
    let body = json!({"contact-alert-type": "Technical", "integration-run": {"id": run}});
    created(app, ERRORS, merge(body, extra)).await
}

/// Files a history record (`Functional`, Supplier 7 unless `extra` says otherwise) through
/// `path` (POST or one of the history actions).
async fn file_history(app: &TestApp, path: &str, extra: Value) -> Value {
    let body =
        json!({"contact-alert-type": "Functional", "document-type": "Supplier", "document-id": 7});
    created(app, path, merge(body, extra)).await
}

/// A contact of `alert_type` with the elements of `extra`.
async fn file_contact(app: &TestApp, alert_type: &str, extra: Value) -> Value {
    let body =
        json!({"contact-alert-type": alert_type, "contactable-type": "User", "contactable-id": 12});
    created(app, CONTACTS, merge(body, extra)).await
}

fn id(record: &Value) -> i64 {
    record["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id in {record}"))
}

/// The ids of a JSON list.
fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(id)
        .collect()
}

/// The keys of an object, sorted.
fn keys(object: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = object
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {object}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// The sorted, deduplicated list of `names`.
fn sorted(names: &[&'static str]) -> Vec<&'static str> {
    let mut names = names.to_vec();
    names.sort_unstable();
    names.dedup();
    names
}

/// Asserts that `value` is a datetime as the server writes them (`2026-11-28T10:00:00+00:00`).
fn assert_datetime(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a datetime: {value}"));
    let ok = text.len() == 25
        && text.chars().enumerate().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 | 22 => c == ':',
            19 => c == '+',
            _ => c.is_ascii_digit(),
        })
        && text.ends_with("+00:00");
    assert!(ok, "not a datetime: {text}");
}

/// GETs `path` as JSON; the answer must be a 200.
async fn get_ok(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.get_json(path).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// GETs `path` as XML; the answer must be a 200. Returns the raw text.
async fn get_xml(app: &TestApp, path: &str) -> String {
    let (status, text) = app.xml(Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
    text
}

/// The XML error document with `messages`, as the server writes it.
fn xml_errors(messages: &[&str]) -> String {
    let mut text = format!("{XML_HEAD}<errors>\n");
    for message in messages {
        text.push_str(&format!("  <error>{message}</error>\n"));
    }
    text.push_str("</errors>\n");
    text
}

/// The API client of the tests as `created-by` shows it, read from a new integration.
async fn integration_and_me(app: &TestApp, code: &str) -> (Value, Value) {
    let integration = app.create_integration(code).await;
    let me = integration["created-by"].clone();
    assert_eq!(me["login"], "test-client");
    assert!(me["id"].is_i64(), "{me}");
    (integration, me)
}

/// An integration as a record names it.
fn keys_of(integration: &Value) -> Value {
    json!({
        "id": integration["id"],
        "code": integration["code"],
        "name": integration["name"],
    })
}

/// Asserts that a JSON error answer is a 400 with exactly `expected` for `resource`.
fn assert_refused(status: StatusCode, body: &Value, resource: &str, expected: &[&str]) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(messages(body, resource), expected, "{body}");
}

// ---------------------------------------------------------------------------------------
// Integration errors: create, show, index

#[tokio::test]
async fn create_files_an_error_with_every_element_and_its_responses() {
    let app = spawn_app().await;
    let (integration, me) = integration_and_me(&app, "PO_TO_ERP").await;
    let run = app.create_run("PO_TO_ERP").await;
    let (status, error) = app
        .post_json(
            ERRORS,
            json!({
                "contact-alert-type": "Technical",
                "integration-run": {"id": run},
                "document-type": "OrderHeader",
                "document-id": 4711,
                "document-revision": 2,
                "document-status": "issued",
                "external-id": "EXT-4711",
                "integration-filename": "po_4711.xml",
                "creation-method": "api",
                "status": "rejected",
                "responses": [
                    {"response-code": "E42", "response-message": "Supplier is blocked"},
                    {"response-code": "W7", "response-message": "Ship-to address was guessed"}
                ]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{error}");
    assert_eq!(keys(&error), sorted(&ERROR_KEYS));
    assert_eq!(error["id"], 1);
    assert_datetime(&error["created-at"]);
    assert_eq!(error["updated-at"], error["created-at"]);
    assert_eq!(error["contact-alert-type"], "Technical");
    assert_eq!(error["document-type"], "OrderHeader");
    assert_eq!(error["document-id"], 4711);
    assert_eq!(error["document-revision"], 2);
    assert_eq!(error["document-status"], "issued");
    assert_eq!(error["external-id"], "EXT-4711");
    assert_eq!(error["integration-filename"], "po_4711.xml");
    assert_eq!(error["creation-method"], "api");
    assert_eq!(error["status"], "rejected");
    assert_eq!(error["resolved"], false);
    assert_eq!(error["integration-run"], json!({"id": run}));
    assert_eq!(
        error["integration"],
        json!({"id": integration["id"], "code": "PO_TO_ERP", "name": "PO_TO_ERP integration"})
    );
    assert_eq!(error["created-by"], me);
    assert_eq!(error["updated-by"], me);

    let responses = error["responses"].as_array().expect("responses");
    assert_eq!(responses.len(), 2);
    for (response, (expected_id, code, message)) in responses.iter().zip([
        (1, "E42", "Supplier is blocked"),
        (2, "W7", "Ship-to address was guessed"),
    ]) {
        assert_eq!(
            keys(response),
            [
                "created-at",
                "id",
                "response-code",
                "response-message",
                "updated-at"
            ]
        );
        assert_eq!(response["id"], expected_id);
        assert_eq!(response["response-code"], code);
        assert_eq!(response["response-message"], message);
        assert_eq!(response["created-at"], error["created-at"]);
        assert_eq!(response["updated-at"], error["created-at"]);
    }

    // The record as filed is the record as shown.
    assert_eq!(get_ok(&app, &format!("{ERRORS}/1")).await, error);
    assert_eq!(get_ok(&app, ERRORS).await, json!([error]));
}

#[tokio::test]
async fn create_takes_the_run_as_integration_run_id_number_or_numeric_string() {
    let app = spawn_app().await;
    let integration = app.create_integration("INV").await;
    let run = app.create_run("INV").await;
    for (n, body) in [
        json!({"integration-run-id": run}),
        json!({"integration-run-id": run.to_string()}),
        json!({"integration_run_id": format!(" {run} ")}),
        json!({"integration_run": {"id": run.to_string()}}),
    ]
    .into_iter()
    .enumerate()
    {
        let body = merge(json!({"contact_alert_type": "Functional"}), body);
        let (status, error) = app.post_json(ERRORS, body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}: {error}");
        assert_eq!(error["id"], n + 1, "{body}");
        assert_eq!(error["integration-run"], json!({"id": run}), "{body}");
        assert_eq!(error["integration"], keys_of(&integration), "{body}");
        assert_eq!(error["contact-alert-type"], "Functional");
        assert_eq!(error["responses"], json!([]));
        for key in [
            "document-type",
            "document-id",
            "document-revision",
            "document-status",
            "external-id",
            "integration-filename",
            "creation-method",
            "status",
        ] {
            assert_eq!(error[key], Value::Null, "{key}");
        }
    }
}

#[tokio::test]
async fn create_answers_an_integration_error_document_in_xml() {
    let app = spawn_app().await;
    let (integration, me) = integration_and_me(&app, "ASN_IN").await;
    let run = app.create_run("ASN_IN").await;
    let body = format!(
        "<integration-error>\
           <contact-alert-type>Both</contact-alert-type>\
           <integration-run><id type=\"integer\">{run}</id></integration-run>\
           <document-type>Asn::Header</document-type>\
           <document-id type=\"integer\">88</document-id>\
           <external-id>ASN &amp; more</external-id>\
           <resolved type=\"boolean\">true</resolved>\
           <responses type=\"array\">\
             <response><response-code>E1</response-code><response-message>Bad &lt;qty&gt;</response-message></response>\
             <response><response-code>E2</response-code></response>\
           </responses>\
         </integration-error>"
    );
    let (status, text) = app.xml(Method::POST, ERRORS, Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert!(
        text.starts_with(&format!("{XML_HEAD}<integration-error>\n")),
        "{text}"
    );
    for fragment in [
        "<id type=\"integer\">1</id>",
        "<contact-alert-type>Both</contact-alert-type>",
        "<document-type>Asn::Header</document-type>",
        "<document-id type=\"integer\">88</document-id>",
        "<document-revision nil=\"true\"/>",
        "<external-id>ASN &amp; more</external-id>",
        "<resolved type=\"boolean\">false</resolved>",
        "<created-at type=\"dateTime\">",
        "<responses type=\"array\">",
        "<response>",
        "<response-message>Bad &lt;qty&gt;</response-message>",
        "<response-message nil=\"true\"/>",
        "<login>test-client</login>",
    ] {
        assert!(text.contains(fragment), "{fragment} in {text}");
    }
    let error = xml_value(&text);
    assert_eq!(error["integration-run"], json!({"id": run}));
    assert_eq!(error["integration"], keys_of(&integration));
    assert_eq!(error["created-by"], me);
    assert_eq!(error["resolved"], false, "resolved is read-only");
    assert_eq!(error["external-id"], "ASN & more");
    let responses = error["responses"].as_array().expect("responses");
    assert_eq!(ids(&error["responses"]), [1, 2]);
    assert_eq!(responses[0]["response-code"], "E1");
    assert_eq!(responses[0]["response-message"], "Bad <qty>");
    assert_eq!(responses[1]["response-code"], "E2");
    assert_eq!(responses[1]["response-message"], Value::Null);

    // Shown in XML, it is the same record the JSON answers show.
    let json_show = get_ok(&app, &format!("{ERRORS}/1")).await;
    assert_eq!(error, json_show);
    let xml_show = get_xml(&app, &format!("{ERRORS}/1")).await;
    assert_eq!(xml_show, text);

    // And the index in XML wraps it.
    let index = get_xml(&app, ERRORS).await;
    assert!(
        index.starts_with(&format!(
            "{XML_HEAD}<integration-errors type=\"array\">\n  <integration-error>\n"
        )),
        "{index}"
    );
    assert_eq!(xml_value(&index), json!([json_show]));
}

#[tokio::test]
async fn a_single_response_in_xml_without_an_array_type_is_filed() {
    let app = spawn_app().await;
    app.create_integration("ONE").await;
    let run = app.create_run("ONE").await;
    let body = format!(
        "<integration-error><contact-alert-type>Technical</contact-alert-type>\
         <integration-run-id>{run}</integration-run-id>\
         <responses><response><response-code>E9</response-code>\
         <response-message>Only one</response-message></response></responses>\
         </integration-error>"
    );
    let (status, text) = app.xml(Method::POST, ERRORS, Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let error = xml_value(&text);
    assert_eq!(error["responses"].as_array().map(Vec::len), Some(1));
    assert_eq!(error["responses"][0]["response-code"], "E9");
    assert_eq!(error["responses"][0]["response-message"], "Only one");
}

#[tokio::test]
async fn unknown_errors_are_404_on_show_update_and_resolve() {
    let app = spawn_app().await;
    app.create_integration("X").await;
    let run = app.create_run("X").await;
    file_error(&app, run, json!({})).await;
    let message = "Couldn't find IntegrationError with 'id'=999";
    let path = format!("{ERRORS}/999");
    let (status, body) = app.get_json(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(messages(&body, "integration-error"), [message]);
    for method in [Method::PUT, Method::PATCH] {
        let (status, body) = app
            .json(method.clone(), &path, Some(json!({"status": "x"})))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(messages(&body, "integration-error"), [message]);
    }
    for action in ["resolve", "unresolve"] {
        let (status, body) = app.put_json(&format!("{path}/{action}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}");
        assert_eq!(messages(&body, "integration-error"), [message]);
    }
    let (status, text) = app.xml(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(text, xml_errors(&[message]));
    let (status, text) = app.xml(Method::PUT, &format!("{path}/resolve"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(text, xml_errors(&[message]));
    let (status, body) = app.get_json(&format!("{ERRORS}/abc")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        messages(&body, "integration-error"),
        ["Couldn't find a record with 'id'=abc"]
    );
    // The one error there is stays unresolved.
    let (_, one) = app.get_json(&format!("{ERRORS}/1")).await;
    assert_eq!(one["resolved"], false);
}

// ---------------------------------------------------------------------------------------
// Integration errors: update, resolve, create_alert

#[tokio::test]
async fn put_and_patch_update_an_error_and_responses_are_appended() {
    let app = spawn_app().await;
    let (_, me) = integration_and_me(&app, "PO").await;
    let run = app.create_run("PO").await;
    let error = file_error(
        &app,
        run,
        json!({
            "document-type": "OrderHeader",
            "document-id": 42,
            "document-revision": 1,
            "status": "new",
            "responses": [{"response-code": "E1", "response-message": "first"}]
        }),
    )
    .await;
    let path = format!("{ERRORS}/{}", id(&error));

    let (status, put) = app
        .put_json(
            &path,
            Some(json!({
                "contact_alert_type": "Functional",
                "document-status": "issued",
                "document_revision": null,
                "status": "retrying",
                "resolved": true,
                "id": 77,
                "created-at": "2001-01-01T00:00:00Z"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["id"], error["id"], "id is read-only");
    assert_eq!(
        put["created-at"], error["created-at"],
        "created-at is read-only"
    );
    assert_eq!(
        put["resolved"], false,
        "resolved changes only through resolve"
    );
    assert_eq!(put["contact-alert-type"], "Functional");
    assert_eq!(put["document-status"], "issued");
    assert_eq!(put["document-revision"], Value::Null, "null clears");
    assert_eq!(put["status"], "retrying");
    assert_eq!(put["document-type"], "OrderHeader", "absent keys are kept");
    assert_eq!(put["document-id"], 42);
    assert_eq!(put["integration-run"], json!({"id": run}));
    assert_eq!(put["responses"], error["responses"], "no responses given");
    assert_eq!(put["updated-by"], me);
    assert_datetime(&put["updated-at"]);

    let (status, patched) = app
        .json(
            Method::PATCH,
            &path,
            Some(json!({
                "resolved": "true",
                "responses": [
                    {"response-code": "E2", "response-message": "second"},
                    {"response_code": "E3", "response_message": "third"}
                ]
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["resolved"], false);
    assert_eq!(patched["status"], "retrying");
    assert_eq!(ids(&patched["responses"]), [1, 2, 3]);
    assert_eq!(patched["responses"][0], error["responses"][0]);
    assert_eq!(
        patched["responses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["response-message"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["first", "second", "third"]
    );
    assert_eq!(get_ok(&app, &path).await, patched);

    // In XML: the update answers the error document, and a response is appended again.
    let (status, text) = app
        .xml(
            Method::PUT,
            &path,
            Some(
                "<integration-error><external-id>X-9</external-id>\
                 <responses type=\"array\"><response><response-code>E4</response-code>\
                 </response></responses></integration-error>",
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("<external-id>X-9</external-id>"), "{text}");
    let updated = xml_value(&text);
    assert_eq!(ids(&updated["responses"]), [1, 2, 3, 4]);
    assert_eq!(updated["responses"][3]["response-code"], "E4");
    let (status, text) = app
        .xml(
            Method::PATCH,
            &path,
            Some("<integration-error><document-id type=\"integer\">43</document-id></integration-error>"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains("<document-id type=\"integer\">43</document-id>"),
        "{text}"
    );
    assert_eq!(get_ok(&app, &path).await, xml_value(&text));
}

#[tokio::test]
async fn an_update_can_move_an_error_to_another_run_and_its_integration_follows() {
    let app = spawn_app().await;
    app.create_integration("FIRST").await;
    let second = app.create_integration("SECOND").await;
    let run_a = app.create_run("FIRST").await;
    let run_b = app.create_run("SECOND").await;
    let error = file_error(&app, run_a, json!({"document-type": "Item"})).await;
    let path = format!("{ERRORS}/{}", id(&error));
    let (status, moved) = app
        .put_json(
            &path,
            Some(json!({"integration-run-id": run_b.to_string()})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["integration-run"], json!({"id": run_b}));
    assert_eq!(moved["integration"], keys_of(&second));
    // The errors of each run follow.
    let a = get_ok(&app, &format!("{RUNS}/{run_a}")).await;
    assert_eq!(a["integration-errors"], json!([]));
    let b = get_ok(&app, &format!("{RUNS}/{run_b}")).await;
    assert_eq!(ids(&b["integration-errors"]), [id(&error)]);
}

#[tokio::test]
async fn an_update_is_validated_and_a_refused_one_changes_nothing() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    app.create_integration("OTHER").await;
    let run = app.create_run("PO").await;
    let error = file_error(
        &app,
        run,
        json!({"document-type": "Supplier", "status": "open"}),
    )
    .await;
    let path = format!("{ERRORS}/{}", id(&error));
    let list = DOCUMENT_TYPES.join(", ");
    let unknown_type = format!("Document type is not included in the list ({list})");
    let refusals = [
        (
            json!({"contact-alert-type": null, "status": "changed"}),
            vec!["Contact alert type can't be blank".to_owned()],
        ),
        (
            json!({"contact-alert-type": "Loud", "status": "changed"}),
            vec![
                "Contact alert type is not included in the list (Technical, Functional, Both)"
                    .to_owned(),
            ],
        ),
        (
            json!({"document-type": "Spaceship", "status": "changed"}),
            vec![unknown_type],
        ),
        (
            json!({"integration-run": {"id": 999}, "status": "changed"}),
            vec![
                "Unable to find valid IntegrationRun record for integration_run with keys \
                 {\"id\"=>999}. Possible keys are [\"id\"]."
                    .to_owned(),
            ],
        ),
        (
            json!({"integration": {"code": "OTHER"}, "status": "changed"}),
            vec!["Integration does not match the integration of the integration run".to_owned()],
        ),
        (
            json!({"responses": [{"response-code": "c".repeat(256)}], "status": "changed"}),
            vec!["Response code is too long (maximum is 255 characters)".to_owned()],
        ),
    ];
    for (body, expected) in refusals {
        let (status, answer) = app.put_json(&path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(messages(&answer, "integration-error"), expected, "{body}");
    }
    assert_eq!(get_ok(&app, &path).await, error, "nothing was written");
}

#[tokio::test]
async fn an_update_cannot_take_the_run_away_from_an_error() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    let run = app.create_run("PO").await;
    let error = file_error(&app, run, json!({})).await;
    let path = format!("{ERRORS}/{}", id(&error));
    for body in [
        json!({"integration-run": null}),
        json!({"integration-run-id": null}),
        json!({"integration-run": {"id": null}}),
    ] {
        let (status, answer) = app.put_json(&path, Some(body.clone())).await;
        assert_refused(
            status,
            &answer,
            "integration-error",
            &["Integration run can't be blank"],
        );
        assert_eq!(
            get_ok(&app, &path).await,
            error,
            "{body}: nothing was written"
        );
    }
}

#[tokio::test]
async fn resolve_and_unresolve_flip_resolved_in_json_and_xml() {
    let app = spawn_app().await;
    let (_, me) = integration_and_me(&app, "PO").await;
    let run = app.create_run("PO").await;
    let error = file_error(&app, run, json!({"document-type": "OrderHeader"})).await;
    let path = format!("{ERRORS}/{}", id(&error));

    let (status, resolved) = app.put_json(&format!("{path}/resolve"), None).await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["resolved"], true);
    assert_eq!(resolved["updated-by"], me);
    assert_eq!(resolved["document-type"], "OrderHeader");
    // Resolving again is harmless; a body changes nothing but the flag.
    let (status, again) = app
        .put_json(
            &format!("{path}/resolve"),
            Some(json!({"resolved": false, "status": "ignored"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["resolved"], true);
    assert_eq!(again["status"], Value::Null);

    let (status, open) = app.put_json(&format!("{path}/unresolve"), None).await;
    assert_eq!(status, StatusCode::OK, "{open}");
    assert_eq!(open["resolved"], false);
    assert_eq!(get_ok(&app, &path).await, open);

    let (status, text) = app.xml(Method::PUT, &format!("{path}/resolve"), None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.starts_with(&format!("{XML_HEAD}<integration-error>\n")));
    assert!(
        text.contains("<resolved type=\"boolean\">true</resolved>"),
        "{text}"
    );
    let (status, text) = app
        .xml(
            Method::PUT,
            &format!("{path}/unresolve"),
            Some("<integration-error/>"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains("<resolved type=\"boolean\">false</resolved>"),
        "{text}"
    );
    assert_eq!(xml_value(&text), get_ok(&app, &path).await);
}

#[tokio::test]
async fn create_alert_files_the_error_and_answers_201() {
    let app = spawn_app().await;
    let integration = app.create_integration("PO").await;
    let run = app.create_run("PO").await;
    let (status, error) = app
        .post_json(
            &format!("{ERRORS}/create_alert"),
            json!({
                "contact-alert-type": "Both",
                "integration-run-id": run,
                "document-type": "Supplier",
                "document-id": 5,
                "responses": [{"response-code": "E1", "response-message": "blocked"}]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{error}");
    assert_eq!(error["id"], 1);
    assert_eq!(error["resolved"], false);
    assert_eq!(error["integration"], keys_of(&integration));
    assert_eq!(error["responses"][0]["response-message"], "blocked");
    assert_eq!(get_ok(&app, ERRORS).await, json!([error]));

    let body = format!(
        "<integration-error><contact-alert-type>Technical</contact-alert-type>\
         <integration-run><id>{run}</id></integration-run></integration-error>"
    );
    let (status, text) = app
        .xml(Method::POST, &format!("{ERRORS}/create_alert"), Some(&body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(xml_value(&text)["id"], 2);
    assert_eq!(ids(&get_ok(&app, ERRORS).await), [1, 2]);

    // A refused alert files nothing.
    let (status, answer) = app
        .post_json(
            &format!("{ERRORS}/create_alert"),
            json!({"contact-alert-type": "Both"}),
        )
        .await;
    assert_refused(
        status,
        &answer,
        "integration-error",
        &["Integration run can't be blank"],
    );
    assert_eq!(ids(&get_ok(&app, ERRORS).await), [1, 2]);
}

// ---------------------------------------------------------------------------------------
// Integration errors: validation of a new error

/// Asserts that POSTing `body` to `path` is a 400 with `expected`, and that nothing was filed.
async fn assert_not_filed(app: &TestApp, path: &str, body: Value, expected: &[&str]) {
    let resource = if path.starts_with(ERRORS) {
        "integration-error"
    } else if path.starts_with(HISTORY) {
        "integration-history-record"
    } else {
        "integration-contact"
    };
    let index = match path {
        p if p.starts_with(ERRORS) => ERRORS,
        p if p.starts_with(HISTORY) => HISTORY,
        _ => CONTACTS,
    };
    let before = get_ok(app, index).await;
    let (status, answer) = app.post_json(path, body.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
    assert_eq!(messages(&answer, resource), expected, "{body}");
    assert_eq!(
        get_ok(app, index).await,
        before,
        "{body}: nothing was filed"
    );
}

#[tokio::test]
async fn a_new_error_needs_a_contact_alert_type_from_the_list() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    let run = app.create_run("PO").await;
    let run_ref = json!({"integration-run": {"id": run}});
    for body in [
        run_ref.clone(),
        merge(run_ref.clone(), json!({"contact-alert-type": null})),
        merge(run_ref.clone(), json!({"contact-alert-type": ""})),
    ] {
        assert_not_filed(&app, ERRORS, body, &["Contact alert type can't be blank"]).await;
    }
    for value in ["Urgent", "technical", "BOTH"] {
        assert_not_filed(
            &app,
            ERRORS,
            merge(run_ref.clone(), json!({"contact-alert-type": value})),
            &["Contact alert type is not included in the list (Technical, Functional, Both)"],
        )
        .await;
    }
    for value in ["Technical", "Functional", "Both"] {
        let error = file_error(&app, run, json!({"contact-alert-type": value})).await;
        assert_eq!(error["contact-alert-type"], value);
    }
    assert_eq!(ids(&get_ok(&app, ERRORS).await), [1, 2, 3]);
}

#[tokio::test]
async fn a_new_error_needs_its_run() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    let run = app.create_run("PO").await;
    for body in [
        json!({"contact-alert-type": "Technical"}),
        json!({"contact-alert-type": "Technical", "integration-run": null}),
        json!({"contact-alert-type": "Technical", "integration-run": {}}),
        json!({"contact-alert-type": "Technical", "integration-run-id": null}),
        json!({"contact-alert-type": "Technical", "document-type": "Supplier", "document-id": 1}),
    ] {
        assert_not_filed(&app, ERRORS, body, &["Integration run can't be blank"]).await;
    }
    assert_not_filed(
        &app,
        ERRORS,
        json!({}),
        &[
            "Contact alert type can't be blank",
            "Integration run can't be blank",
        ],
    )
    .await;
    assert_not_filed(
        &app,
        ERRORS,
        json!({"contact-alert-type": "Technical", "integration-run-id": "seven"}),
        &["Integration run id is not an integer: \"seven\""],
    )
    .await;
    // In XML too.
    let (status, text) = app
        .xml(
            Method::POST,
            ERRORS,
            Some("<integration-error><contact-alert-type>Both</contact-alert-type></integration-error>"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(text, xml_errors(&["Integration run can't be blank"]));
    assert_eq!(get_ok(&app, ERRORS).await, json!([]));
    file_error(&app, run, json!({})).await;
}

#[tokio::test]
async fn an_unknown_run_answers_coupas_message() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    app.create_run("PO").await;
    let message = "Unable to find valid IntegrationRun record for integration_run with keys \
                   {\"id\"=>999}. Possible keys are [\"id\"].";
    for body in [
        json!({"contact-alert-type": "Technical", "integration-run": {"id": 999}}),
        json!({"contact-alert-type": "Technical", "integration-run-id": 999}),
        json!({"contact-alert-type": "Technical", "integration_run_id": "999"}),
    ] {
        assert_not_filed(&app, ERRORS, body.clone(), &[message]).await;
        assert_not_filed(&app, &format!("{ERRORS}/create_alert"), body, &[message]).await;
    }
    let (status, text) = app
        .xml(
            Method::POST,
            ERRORS,
            Some(
                "<integration-error><contact-alert-type>Both</contact-alert-type>\
                 <integration-run><id type=\"integer\">999</id></integration-run></integration-error>",
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        text,
        xml_errors(&[
            "Unable to find valid IntegrationRun record for integration_run with keys \
             {\"id\"=&gt;999}. Possible keys are [\"id\"]."
        ])
    );
    // A history record that names a run names one that exists, too.
    assert_not_filed(
        &app,
        HISTORY,
        json!({"contact-alert-type": "Technical", "document-type": "Supplier",
               "document-id": 1, "integration-run-id": 999}),
        &[message],
    )
    .await;
}

#[tokio::test]
async fn every_document_type_of_the_spec_is_accepted() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    let run = app.create_run("PO").await;
    for (n, document_type) in DOCUMENT_TYPES.iter().enumerate() {
        let error = file_error(&app, run, json!({"document_type": document_type})).await;
        assert_eq!(error["id"], n + 1);
        assert_eq!(error["document-type"], *document_type);
    }
    // Each can be searched for, `::` and all.
    for (n, document_type) in DOCUMENT_TYPES.iter().enumerate() {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("document_type", document_type)
            .finish();
        let found = get_ok(&app, &format!("{ERRORS}?{query}")).await;
        assert_eq!(ids(&found), [n as i64 + 1], "{document_type}");
    }
    // In XML the type is plain text.
    let (status, text) = app
        .xml(
            Method::POST,
            ERRORS,
            Some(&format!(
                "<integration-error><contact-alert-type>Both</contact-alert-type>\
                 <integration-run-id>{run}</integration-run-id>\
                 <document-type>Payables::External::Payable</document-type></integration-error>"
            )),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert!(
        text.contains("<document-type>Payables::External::Payable</document-type>"),
        "{text}"
    );
}

#[tokio::test]
async fn an_unknown_document_type_is_refused_with_the_list() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    let run = app.create_run("PO").await;
    let expected = format!(
        "Document type is not included in the list ({})",
        DOCUMENT_TYPES.join(", ")
    );
    assert!(expected.contains("Asn::Header, AccountValidationRule, Payables::External::Payable"));
    for document_type in ["Spaceship", "orderheader", "Asn::header", "Payables::"] {
        assert_not_filed(
            &app,
            ERRORS,
            json!({"contact-alert-type": "Technical", "integration-run": {"id": run},
                   "document-type": document_type}),
            &[&expected],
        )
        .await;
        assert_not_filed(
            &app,
            HISTORY,
            json!({"contact-alert-type": "Technical", "document-id": 1,
                   "document-type": document_type}),
            &[&expected],
        )
        .await;
    }
    // Every problem is answered at once.
    assert_not_filed(
        &app,
        ERRORS,
        json!({"contact-alert-type": "Loud", "integration-run": {"id": run},
               "document-type": "Spaceship", "document-id": "many"}),
        &[
            "Contact alert type is not included in the list (Technical, Functional, Both)",
            &expected,
            "Document id is not an integer",
        ],
    )
    .await;
}

#[tokio::test]
async fn an_integration_that_is_not_the_runs_is_refused() {
    let app = spawn_app().await;
    let po = app.create_integration("PO").await;
    app.create_integration("OTHER").await;
    let run = app.create_run("PO").await;
    let base = json!({"contact-alert-type": "Technical", "integration-run": {"id": run}});
    for reference in [
        json!({"code": "OTHER"}),
        json!({"id": 2}),
        json!({"name": "OTHER integration"}),
    ] {
        assert_not_filed(
            &app,
            ERRORS,
            merge(base.clone(), json!({"integration": reference})),
            &["Integration does not match the integration of the integration run"],
        )
        .await;
    }
    assert_not_filed(
        &app,
        ERRORS,
        merge(base.clone(), json!({"integration": {"code": "NOPE"}})),
        &[
            "Unable to find valid Integration record for integration with keys \
           {\"code\"=>\"NOPE\"}. Possible keys are [\"id\", \"code\", \"name\"].",
        ],
    )
    .await;
    // Naming the run's own integration is fine, by any key.
    for reference in [
        json!({"code": "PO"}),
        json!({"id": po["id"]}),
        json!({"name": "PO integration"}),
    ] {
        let error = created(
            &app,
            ERRORS,
            merge(base.clone(), json!({"integration": reference})),
        )
        .await;
        assert_eq!(error["integration"], keys_of(&po));
    }
}

#[tokio::test]
async fn a_response_code_over_255_characters_is_refused() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    let run = app.create_run("PO").await;
    let base = json!({"contact-alert-type": "Technical", "integration-run": {"id": run}});
    assert_not_filed(
        &app,
        ERRORS,
        merge(
            base.clone(),
            json!({"responses": [
                {"response-code": "OK", "response-message": "fine"},
                {"response-code": "é".repeat(256), "response-message": "too long a code"}
            ]}),
        ),
        &["Response code is too long (maximum is 255 characters)"],
    )
    .await;
    assert_not_filed(
        &app,
        ERRORS,
        merge(base.clone(), json!({"responses": "E1"})),
        &["Responses must be a list"],
    )
    .await;
    assert_not_filed(
        &app,
        ERRORS,
        merge(base.clone(), json!({"responses": ["E1"]})),
        &["Each response must be an object"],
    )
    .await;
    // 255 characters, and a long message, are fine.
    let long_message = "m".repeat(10_000);
    let error = created(
        &app,
        ERRORS,
        merge(
            base,
            json!({"responses": [{"response-code": "é".repeat(255), "response-message": long_message}]}),
        ),
    )
    .await;
    assert_eq!(error["responses"][0]["response-code"], "é".repeat(255));
    assert_eq!(error["responses"][0]["response-message"], long_message);
    assert_eq!(
        ids(&error["responses"]),
        [1],
        "the refused ones left no response"
    );
}

// ---------------------------------------------------------------------------------------
// Integration errors: the query language

#[tokio::test]
async fn errors_are_searched_by_their_elements_run_and_integration() {
    let app = spawn_app().await;
    app.create_integration("X").await;
    app.create_integration("Y").await;
    let run_a = app.create_run("X").await;
    let run_b = app.create_run("Y").await;
    let order = |n: i64| json!({"document-type": "OrderHeader", "document-id": n});
    let e1 = file_error(&app, run_a, order(42)).await;
    let e2 = file_error(&app, run_a, order(42)).await;
    let e3 = file_error(&app, run_a, order(43)).await;
    let e4 = file_error(
        &app,
        run_a,
        json!({"document-type": "Supplier", "document-id": 42}),
    )
    .await;
    let e5 = file_error(&app, run_b, order(42)).await;
    let [e1, e2, e3, e4, e5] = [&e1, &e2, &e3, &e4, &e5].map(id);
    assert_eq!([e1, e2, e3, e4, e5], [1, 2, 3, 4, 5]);
    let (status, _) = app.put_json(&format!("{ERRORS}/{e2}/resolve"), None).await;
    assert_eq!(status, StatusCode::OK);

    for (query, expected) in [
        (
            "resolved=false&document-type=OrderHeader&document-id=42".to_owned(),
            vec![e1, e5],
        ),
        (
            "resolved=false&document_type=OrderHeader&document_id=42".to_owned(),
            vec![e1, e5],
        ),
        ("resolved=true".to_owned(), vec![e2]),
        (format!("integration-run[id]={run_a}"), vec![e1, e2, e3, e4]),
        (format!("integration_run[id]={run_b}"), vec![e5]),
        (format!("integration_run_id={run_b}"), vec![e5]),
        ("integration[code]=Y".to_owned(), vec![e5]),
        (
            "integration[code]=X&document_id=42".to_owned(),
            vec![e1, e2, e4],
        ),
        (
            "integration[name][starts_with]=Y%20int".to_owned(),
            vec![e5],
        ),
        ("document_id[gt]=42".to_owned(), vec![e3]),
        (
            "document_id[lt_or_eq]=42&document_type[not_eq]=OrderHeader".to_owned(),
            vec![e4],
        ),
        ("document_type[in]=Supplier,Item".to_owned(), vec![e4]),
        (
            "created_by[login]=test-client&limit=2&offset=1".to_owned(),
            vec![e2, e3],
        ),
        (
            "order_by=document_id&dir=desc".to_owned(),
            vec![e3, e5, e4, e2, e1],
        ),
        (
            "order_by=document_type".to_owned(),
            vec![e1, e2, e3, e5, e4],
        ),
        ("id[gt]=3".to_owned(), vec![e4, e5]),
    ] {
        let path = format!("{ERRORS}?{query}");
        let found = get_ok(&app, &path).await;
        assert_eq!(ids(&found), expected, "{query}");
        let text = get_xml(&app, &path).await;
        assert!(
            text.starts_with(&format!("{XML_HEAD}<integration-errors type=\"array\">\n")),
            "{query}: {text}"
        );
        assert_eq!(xml_value(&text), found, "{query}: XML agrees with JSON");
    }

    // Nothing found: JSON 200 [], XML 404 in Coupa's words.
    let path = format!("{ERRORS}?document_id[gt]=1000");
    assert_eq!(get_ok(&app, &path).await, json!([]));
    let (status, text) = app.xml(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(text, xml_errors(&[NO_RESULTS]));

    // An unknown field or operator is a 400 naming it.
    let (status, body) = app.get_json(&format!("{ERRORS}?colour=red")).await;
    assert_refused(
        status,
        &body,
        "integration-error",
        &["Unknown field 'colour' in query key 'colour'"],
    );
    let (status, body) = app
        .get_json(&format!("{ERRORS}?resolved[contains]=tru"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = app.get_json(&format!("{ERRORS}?order_by=colour")).await;
    assert_refused(
        status,
        &body,
        "integration-error",
        &["Unknown order_by field 'colour'"],
    );
}

// ---------------------------------------------------------------------------------------
// Errors and their runs

#[tokio::test]
async fn a_run_shows_its_errors_but_not_its_history_records() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    let run = app.create_run("PO").await;
    let other = app.create_run("PO").await;
    let error = file_error(
        &app,
        run,
        json!({
            "document-type": "OrderHeader", "document-id": 4711, "document-status": "issued",
            "document-revision": 2, "external-id": "E", "integration-filename": "f.csv",
            "creation-method": "api", "status": "s",
            "responses": [{"response-code": "E1", "response-message": "m"}]
        }),
    )
    .await;
    let resolved = file_error(&app, run, json!({"document-type": "Supplier"})).await;
    app.put_json(&format!("{ERRORS}/{}/resolve", id(&resolved)), None)
        .await;
    let resolved = get_ok(&app, &format!("{ERRORS}/{}", id(&resolved))).await;
    file_error(&app, other, json!({"document-type": "Item"})).await;
    file_history(&app, HISTORY, json!({"integration-run": {"id": run}})).await;

    let shown = get_ok(&app, &format!("{RUNS}/{run}")).await;
    let embedded = shown["integration-errors"]
        .as_array()
        .expect("integration-errors");
    assert_eq!(embedded.len(), 2, "{shown}");
    for (item, full) in embedded.iter().zip([&error, &resolved]) {
        assert_eq!(
            keys(item),
            sorted(&[
                "contact-alert-type",
                "created-at",
                "created-by",
                "creation-method",
                "document-id",
                "document-revision",
                "document-status",
                "document-type",
                "external-id",
                "id",
                "integration-filename",
                "integration-run-id",
                "resolved",
                "status",
                "updated-at",
                "updated-by",
            ]),
            "without responses"
        );
        assert_eq!(item["integration-run-id"], run);
        for key in keys(item) {
            if key != "integration-run-id" {
                assert_eq!(item[key], full[key], "{key}");
            }
        }
    }
    assert_eq!(embedded[0]["document-id"], 4711);
    assert_eq!(embedded[1]["resolved"], true);

    let text = get_xml(&app, &format!("{RUNS}/{run}")).await;
    assert!(
        text.contains("<integration-errors type=\"array\">\n    <integration-error>\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "<integration-run-id type=\"integer\">{run}</integration-run-id>"
        )),
        "{text}"
    );
    assert!(!text.contains("<responses"), "{text}");
    assert!(!text.contains("integration-history-record"), "{text}");
    assert_eq!(
        xml_value(&text)["integration-errors"],
        shown["integration-errors"]
    );
}

#[tokio::test]
async fn runs_are_found_through_their_errors() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    let supplier_open = app.create_run("PO").await;
    let supplier_resolved = app.create_run("PO").await;
    let order_open = app.create_run("PO").await;
    let clean = app.create_run("PO").await;
    let history_only = app.create_run("PO").await;
    file_error(&app, supplier_open, json!({"document-type": "Supplier"})).await;
    let done = file_error(
        &app,
        supplier_resolved,
        json!({"document_type": "Supplier"}),
    )
    .await;
    app.put_json(&format!("{ERRORS}/{}/resolve", id(&done)), None)
        .await;
    file_error(&app, order_open, json!({"document-type": "OrderHeader"})).await;
    file_history(
        &app,
        HISTORY,
        json!({"integration-run-id": history_only, "document-type": "Supplier"}),
    )
    .await;

    for (query, expected) in [
        (
            "integration_errors[document_type]=Supplier",
            vec![supplier_open, supplier_resolved],
        ),
        (
            "integration_errors[resolved]=false",
            vec![supplier_open, order_open],
        ),
        (
            "integration_errors[resolved]=false&integration_errors[document_type]=Supplier",
            vec![supplier_open],
        ),
        ("integration_errors[resolved]=true", vec![supplier_resolved]),
        (
            "integration_errors[id][blank]=false",
            vec![supplier_open, supplier_resolved, order_open],
        ),
    ] {
        let path = format!("{RUNS}?{query}");
        let found = get_ok(&app, &path).await;
        assert_eq!(ids(&found), expected, "{query}");
        assert_eq!(
            ids(&xml_value(&get_xml(&app, &path).await)),
            expected,
            "{query}"
        );
    }
    // The runs without errors (one has a history record) match no condition on errors.
    let with_errors = get_ok(
        &app,
        &format!("{RUNS}?integration_errors[document_type][not_eq]=Contract"),
    )
    .await;
    assert_eq!(
        ids(&with_errors),
        [supplier_open, supplier_resolved, order_open]
    );
    assert_eq!(
        ids(&get_ok(&app, RUNS).await),
        [
            supplier_open,
            supplier_resolved,
            order_open,
            clean,
            history_only
        ]
    );
}

#[tokio::test]
async fn finish_fails_a_run_with_an_unresolved_error_and_succeeds_once_it_is_resolved() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    let finish = |run: i64| {
        let app = &app;
        async move {
            let (status, body) = app.put_json(&format!("{RUNS}/{run}/finish"), None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };

    // An unresolved error: failed.
    let failing = app.create_run("PO").await;
    file_error(&app, failing, json!({"document-type": "Supplier"})).await;
    let run = finish(failing).await;
    assert_eq!(run["status"], "failed");
    assert_datetime(&run["end-time"]);

    // The same situation, resolved before finishing: successful.
    let repaired = app.create_run("PO").await;
    for document_type in ["Supplier", "Item"] {
        let error = file_error(&app, repaired, json!({"document-type": document_type})).await;
        let (status, _) = app
            .put_json(&format!("{ERRORS}/{}/resolve", id(&error)), None)
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(finish(repaired).await["status"], "successful");

    // One resolved, then unresolved again: failed.
    let reopened = app.create_run("PO").await;
    let error = file_error(&app, reopened, json!({})).await;
    app.put_json(&format!("{ERRORS}/{}/resolve", id(&error)), None)
        .await;
    app.put_json(&format!("{ERRORS}/{}/unresolve", id(&error)), None)
        .await;
    assert_eq!(finish(reopened).await["status"], "failed");

    // Only an open history record: it is not an error, so successful.
    let with_history = app.create_run("PO").await;
    file_history(
        &app,
        HISTORY,
        json!({"integration-run": {"id": with_history}}),
    )
    .await;
    assert_eq!(finish(with_history).await["status"], "successful");

    // An unresolved error of another run does not count; in XML too.
    let clean = app.create_run("PO").await;
    let (status, text) = app
        .xml(Method::PUT, &format!("{RUNS}/{clean}/finish"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("<status>successful</status>"), "{text}");
}

// ---------------------------------------------------------------------------------------
// History records

#[tokio::test]
async fn a_history_record_needs_its_document_but_not_a_run() {
    let app = spawn_app().await;
    let (integration, me) = integration_and_me(&app, "SUP").await;
    assert_not_filed(
        &app,
        HISTORY,
        json!({}),
        &[
            "Contact alert type can't be blank",
            "Document id can't be blank",
            "Document type can't be blank",
        ],
    )
    .await;
    assert_not_filed(
        &app,
        HISTORY,
        json!({"contact-alert-type": "Both", "document-type": "Supplier", "document-id": null}),
        &["Document id can't be blank"],
    )
    .await;
    assert_not_filed(
        &app,
        HISTORY,
        json!({"contact-alert-type": "Both", "document-id": 3}),
        &["Document type can't be blank"],
    )
    .await;

    let (status, record) = app
        .post_json(
            HISTORY,
            json!({"contact-alert-type": "Functional", "document-type": "Supplier",
                   "document-id": "7", "external-id": "S-7",
                   "responses": [{"response-code": "200", "response-message": "synced"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{record}");
    let mut expected_keys = ERROR_KEYS.to_vec();
    expected_keys.push("exported");
    assert_eq!(keys(&record), sorted(&expected_keys));
    assert_eq!(record["id"], 1);
    assert_eq!(record["document-id"], 7);
    assert_eq!(record["integration-run"], Value::Null);
    assert_eq!(record["integration"], Value::Null);
    assert_eq!(record["exported"], false);
    assert_eq!(record["resolved"], false);
    assert_eq!(record["external-id"], "S-7");
    assert_eq!(record["created-by"], me);
    assert_eq!(record["updated-at"], record["created-at"]);
    assert_eq!(ids(&record["responses"]), [1]);
    assert_eq!(record["responses"][0]["response-message"], "synced");

    // Named by code, the integration is there without a run.
    let named = file_history(&app, HISTORY, json!({"integration": {"code": "SUP"}})).await;
    assert_eq!(named["integration"], keys_of(&integration));
    assert_eq!(named["integration-run"], Value::Null);

    // With a run, the integration comes from it.
    let run = app.create_run("SUP").await;
    let with_run = file_history(&app, HISTORY, json!({"integration-run": {"id": run}})).await;
    assert_eq!(with_run["integration-run"], json!({"id": run}));
    assert_eq!(with_run["integration"], keys_of(&integration));

    // History records are not errors.
    assert_eq!(get_ok(&app, ERRORS).await, json!([]));
    assert_eq!(ids(&get_ok(&app, HISTORY).await), [1, 2, 3]);
    let (status, body) = app.get_json(&format!("{ERRORS}/1")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        messages(&body, "integration-error"),
        ["Couldn't find IntegrationError with 'id'=1"]
    );
    let (status, body) = app.get_json(&format!("{HISTORY}/99")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        messages(&body, "integration-history-record"),
        ["Couldn't find IntegrationHistoryRecord with 'id'=99"]
    );
    for action in ["resolve", "unresolve"] {
        let (status, body) = app.put_json(&format!("{HISTORY}/99/{action}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}");
        assert_eq!(
            messages(&body, "integration-history-record"),
            ["Couldn't find IntegrationHistoryRecord with 'id'=99"]
        );
    }
}

#[tokio::test]
async fn history_records_speak_xml() {
    let app = spawn_app().await;
    let integration = app.create_integration("SUP").await;
    let (status, text) = app
        .xml(
            Method::POST,
            HISTORY,
            Some(
                "<integration-history-record>\
                   <contact-alert-type>Technical</contact-alert-type>\
                   <document-type>CoupaPay::Statement</document-type>\
                   <document-id>31</document-id>\
                   <integration><code>SUP</code></integration>\
                   <exported type=\"boolean\">true</exported>\
                 </integration-history-record>",
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert!(
        text.starts_with(&format!("{XML_HEAD}<integration-history-record>\n")),
        "{text}"
    );
    for fragment in [
        "<document-type>CoupaPay::Statement</document-type>",
        "<document-id type=\"integer\">31</document-id>",
        "<exported type=\"boolean\">false</exported>",
        "<resolved type=\"boolean\">false</resolved>",
        "<integration-run nil=\"true\"/>",
        "<responses type=\"array\"/>",
        "<code>SUP</code>",
    ] {
        assert!(text.contains(fragment), "{fragment} in {text}");
    }
    let record = xml_value(&text);
    assert_eq!(record["integration"], keys_of(&integration));
    assert_eq!(record["exported"], false, "exported is read-only");
    let path = format!("{HISTORY}/{}", id(&record));
    assert_eq!(get_xml(&app, &path).await, text);
    assert_eq!(get_ok(&app, &path).await, record);

    let (status, text) = app
        .xml(
            Method::PUT,
            &path,
            Some(
                "<integration-history-record><document-status>paid</document-status>\
                 <responses type=\"array\"><response><response-code>P</response-code>\
                 <response-message>paid in full</response-message></response></responses>\
                 </integration-history-record>",
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains("<document-status>paid</document-status>"),
        "{text}"
    );
    assert!(text.contains("<responses type=\"array\">"), "{text}");
    assert_eq!(
        xml_value(&text)["responses"][0]["response-message"],
        "paid in full"
    );

    let (status, text) = app.xml(Method::PUT, &format!("{path}/resolve"), None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains("<resolved type=\"boolean\">true</resolved>"),
        "{text}"
    );
    let (status, text) = app
        .xml(Method::PUT, &format!("{path}/unresolve"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains("<resolved type=\"boolean\">false</resolved>"),
        "{text}"
    );

    let (status, text) = app
        .xml(
            Method::POST,
            &format!("{HISTORY}/mark_exported"),
            Some(
                "<integration-history-record><contact-alert-type>Both</contact-alert-type>\
                 <document-type>Supplier</document-type><document-id>8</document-id>\
                 </integration-history-record>",
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert!(
        text.contains("<exported type=\"boolean\">true</exported>"),
        "{text}"
    );

    let index = get_xml(&app, HISTORY).await;
    assert!(
        index.starts_with(&format!(
            "{XML_HEAD}<integration-history-records type=\"array\">\n  <integration-history-record>\n"
        )),
        "{index}"
    );
    assert_eq!(xml_value(&index), get_ok(&app, HISTORY).await);
    let exported = get_xml(&app, &format!("{HISTORY}?exported=true")).await;
    assert_eq!(ids(&xml_value(&exported)), [2]);
    let (status, text) = app
        .xml(Method::GET, &format!("{HISTORY}?document_id=999"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(text, xml_errors(&[NO_RESULTS]));
}

#[tokio::test]
async fn history_records_are_updated_with_put_and_patch() {
    let app = spawn_app().await;
    app.create_integration("SUP").await;
    let second = app.create_integration("OTHER").await;
    let record = file_history(
        &app,
        HISTORY,
        json!({"responses": [{"response-code": "A"}], "status": "new"}),
    )
    .await;
    let path = format!("{HISTORY}/{}", id(&record));
    let (status, put) = app
        .put_json(
            &path,
            Some(
                json!({"status": "sent", "document-revision": 3, "exported": true,
                        "resolved": true, "integration": {"code": "OTHER"}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["status"], "sent");
    assert_eq!(put["document-revision"], 3);
    assert_eq!(put["exported"], false, "exported is read-only");
    assert_eq!(put["resolved"], false, "resolved is read-only");
    assert_eq!(put["integration"], keys_of(&second));
    let (status, patched) = app
        .json(
            Method::PATCH,
            &path,
            Some(json!({"document_type": "Asn::Header", "responses": [{"response-code": "B"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["document-type"], "Asn::Header");
    assert_eq!(patched["status"], "sent");
    assert_eq!(ids(&patched["responses"]), [1, 2]);
    assert_eq!(get_ok(&app, &path).await, patched);

    let (status, body) = app
        .json(
            Method::PATCH,
            &path,
            Some(json!({"document-type": "Rocket"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(get_ok(&app, &path).await, patched, "nothing was written");
}

#[tokio::test]
async fn an_update_cannot_clear_the_document_of_a_history_record() {
    let app = spawn_app().await;
    let record = file_history(&app, HISTORY, json!({})).await;
    let path = format!("{HISTORY}/{}", id(&record));
    for (body, message) in [
        (json!({"document-id": null}), "Document id can't be blank"),
        (
            json!({"document-type": null}),
            "Document type can't be blank",
        ),
    ] {
        let (status, answer) = app.put_json(&path, Some(body.clone())).await;
        assert_refused(status, &answer, "integration-history-record", &[message]);
        assert_eq!(
            get_ok(&app, &path).await,
            record,
            "{body}: nothing was written"
        );
    }
}

#[tokio::test]
async fn mark_exported_files_an_exported_record() {
    let app = spawn_app().await;
    app.create_integration("SUP").await;
    let plain = file_history(&app, HISTORY, json!({"exported": true})).await;
    assert_eq!(plain["exported"], false, "exported is read-only in a body");
    let marked = file_history(&app, &format!("{HISTORY}/mark_exported"), json!({})).await;
    assert_eq!(marked["id"], 2);
    assert_eq!(marked["exported"], true);
    assert_eq!(marked["resolved"], false);
    assert_eq!(marked["document-type"], "Supplier");
    let both = file_history(
        &app,
        &format!("{HISTORY}/create_alert_and_mark_exported"),
        json!({"integration": {"code": "SUP"}}),
    )
    .await;
    assert_eq!(both["id"], 3);
    assert_eq!(both["exported"], true);
    let alerted = file_history(&app, &format!("{HISTORY}/create_alert"), json!({})).await;
    assert_eq!(alerted["id"], 4);
    assert_eq!(alerted["exported"], false);

    assert_eq!(get_ok(&app, &format!("{HISTORY}/2")).await, marked);
    assert_eq!(
        ids(&get_ok(&app, &format!("{HISTORY}?exported=true")).await),
        [2, 3]
    );
    assert_eq!(
        ids(&get_ok(&app, &format!("{HISTORY}?exported=false")).await),
        [1, 4]
    );
    // An update does not export either.
    let (status, updated) = app
        .put_json(&format!("{HISTORY}/1"), Some(json!({"exported": true})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["exported"], false);

    // The actions validate like POST and file nothing when refused.
    for action in [
        "mark_exported",
        "create_alert_and_mark_exported",
        "create_alert",
        "acknowledge",
    ] {
        assert_not_filed(
            &app,
            &format!("{HISTORY}/{action}"),
            json!({"contact-alert-type": "Both", "document-type": "Supplier"}),
            &["Document id can't be blank"],
        )
        .await;
    }
}

#[tokio::test]
async fn acknowledge_resolves_the_open_records_of_the_same_document() {
    let app = spawn_app().await;
    app.create_integration("SUP").await;
    let run = app.create_run("SUP").await;
    let same_a = file_history(&app, HISTORY, json!({})).await;
    let same_b = file_history(&app, HISTORY, json!({"integration-run": {"id": run}})).await;
    let other_id = file_history(&app, HISTORY, json!({"document-id": 8})).await;
    let other_type = file_history(&app, HISTORY, json!({"document-type": "OrderHeader"})).await;
    let already = file_history(&app, HISTORY, json!({})).await;
    app.put_json(&format!("{HISTORY}/{}/resolve", id(&already)), None)
        .await;
    // An error of the same document is no history record: it stays open.
    let error = file_error(
        &app,
        run,
        json!({"document-type": "Supplier", "document-id": 7}),
    )
    .await;

    let ack = file_history(
        &app,
        &format!("{HISTORY}/acknowledge"),
        json!({"document-id": "7", "status": "acknowledged"}),
    )
    .await;
    assert_eq!(ack["id"], 6);
    assert_eq!(ack["resolved"], true, "the new record is resolved too");
    assert_eq!(ack["exported"], false);
    assert_eq!(ack["status"], "acknowledged");

    let resolved_ids = ids(&get_ok(&app, &format!("{HISTORY}?resolved=true")).await);
    assert_eq!(resolved_ids, [id(&same_a), id(&same_b), id(&already), 6]);
    let open_ids = ids(&get_ok(&app, &format!("{HISTORY}?resolved=false")).await);
    assert_eq!(open_ids, [id(&other_id), id(&other_type)]);
    let a = get_ok(&app, &format!("{HISTORY}/{}", id(&same_a))).await;
    assert_eq!(a["updated-by"]["login"], "test-client");
    assert_eq!(a["status"], Value::Null, "only resolved changes");
    let (_, error) = app.get_json(&format!("{ERRORS}/{}", id(&error))).await;
    assert_eq!(error["resolved"], false);

    // In XML, acknowledging a document with no other records resolves just the new one.
    let (status, text) = app
        .xml(
            Method::POST,
            &format!("{HISTORY}/acknowledge"),
            Some(
                "<integration-history-record><contact-alert-type>Both</contact-alert-type>\
                 <document-type>Invoice</document-type><document-id>1</document-id>\
                 </integration-history-record>",
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert!(
        text.contains("<resolved type=\"boolean\">true</resolved>"),
        "{text}"
    );
    let open_ids = ids(&get_ok(&app, &format!("{HISTORY}?resolved=false")).await);
    assert_eq!(open_ids, [id(&other_id), id(&other_type)]);
}

#[tokio::test]
async fn history_records_resolve_and_unresolve() {
    let app = spawn_app().await;
    let record = file_history(&app, HISTORY, json!({})).await;
    let path = format!("{HISTORY}/{}", id(&record));
    let (status, resolved) = app.put_json(&format!("{path}/resolve"), None).await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["resolved"], true);
    assert_eq!(resolved["exported"], false);
    let (status, open) = app.put_json(&format!("{path}/unresolve"), None).await;
    assert_eq!(status, StatusCode::OK, "{open}");
    assert_eq!(open["resolved"], false);
    assert_eq!(get_ok(&app, &path).await, open);
}

/// An integration error filed straight through the store on 2020-06-01 at 08:00, resolved
/// or not: its `updated-at` is a known instant long past, so a write that moves it shows
/// without waiting for the clock. Returns its path and the error as it reads.
async fn seeded_error(app: &TestApp, document_id: i64, resolved: bool) -> (String, Value) {
    let integration = app.create_integration(&format!("OLD{document_id}")).await;
    let at = time::parse("2020-06-01T08:00:00Z").expect("a time");
    let seeded = SeedRun {
        integration_id: id(&integration),
        status: Status::Failed,
        created_at: at,
        start_time: Some(at),
        end_time: Some(at),
        total_records: None,
        records_processed: None,
        error: Some(("Supplier", document_id, resolved)),
    };
    app.store.seed_runs(vec![seeded]).await.expect("seeded");
    let list = get_ok(app, &format!("{ERRORS}?document-id={document_id}")).await;
    let error = list[0].clone();
    assert_eq!(error["updated-at"], "2020-06-01T08:00:00+00:00", "{error}");
    (format!("{ERRORS}/{}", id(&error)), error)
}

#[tokio::test]
async fn resolve_on_a_resolved_error_and_unresolve_on_an_open_one_touch_nothing() {
    let app = spawn_app().await;
    for format in FORMATS {
        let base = match format {
            Format::Json => 100,
            Format::Xml => 200,
        };
        for (n, resolved, action, undo) in [
            (1, true, "resolve", "unresolve"),
            (2, false, "unresolve", "resolve"),
        ] {
            let (path, seeded) = seeded_error(&app, base + n, resolved).await;
            let sent = format!("{path}/{action}");
            let (status, answer) =
                put_in(&app, format, &sent, "integration-error", json!({})).await;
            assert_eq!(status, StatusCode::OK, "{format:?} {action}: {answer}");
            assert_eq!(answer["resolved"], resolved, "{format:?} {action}");
            assert_eq!(
                answer["updated-at"], seeded["updated-at"],
                "{format:?} {action}"
            );
            assert_eq!(answer["updated-by"], Value::Null, "{format:?} {action}");
            assert_eq!(
                get_ok(&app, &path).await,
                seeded,
                "{format:?} {action}: not written"
            );
            // Flipping it is a change, which moves updated-at and names its author.
            let sent = format!("{path}/{undo}");
            let (_, flipped) = put_in(&app, format, &sent, "integration-error", json!({})).await;
            assert_eq!(flipped["resolved"], !resolved, "{format:?} {undo}");
            assert_ne!(
                flipped["updated-at"], seeded["updated-at"],
                "{format:?} {undo}"
            );
            assert_eq!(
                flipped["updated-by"]["login"], "test-client",
                "{format:?} {undo}"
            );
        }
    }
}

#[tokio::test]
async fn an_error_updated_with_its_stored_values_keeps_updated_at_and_updated_by() {
    let app = spawn_app().await;
    let (path, seeded) = seeded_error(&app, 7, false).await;
    let same = json!({"document-type": "Supplier", "document-id": 7, "status": null,
                      "contact-alert-type": "Technical",
                      "integration-run": {"id": seeded["integration-run"]["id"]}});
    for format in FORMATS {
        let (status, answer) = put_in(&app, format, &path, "integration-error", same.clone()).await;
        assert_eq!(status, StatusCode::OK, "{format:?}: {answer}");
        assert_eq!(answer["updated-at"], seeded["updated-at"], "{format:?}");
        assert_eq!(answer["updated-by"], Value::Null, "{format:?}");
    }
    assert_eq!(get_ok(&app, &path).await, seeded, "nothing was written");
}

#[tokio::test]
async fn records_and_contacts_put_back_as_they_read_are_not_touched() {
    let mut app = spawn_app().await;
    app.create_integration("SUP").await;
    let run = app.create_run("SUP").await;
    let responses = json!([{"response-code": "E1", "response-message": "refused"}]);
    let error = file_error(
        &app,
        run,
        json!({"document-type": "Supplier", "document-id": 3, "external-id": "X-1",
               "responses": responses}),
    )
    .await;
    let history = file_history(&app, HISTORY, json!({"responses": responses})).await;
    let contact = file_contact(
        &app,
        "Both",
        json!({"integration": {"code": "SUP"}, "email": "ops@example.com",
               "webhook-url": "https://hooks.example.com/1"}),
    )
    .await;
    let resolved = file_history(&app, HISTORY, json!({"document-id": 8})).await;
    let resolved_path = format!("{HISTORY}/{}", id(&resolved));
    let (_, resolved) = app
        .put_json(&format!("{resolved_path}/resolve"), None)
        .await;
    write_as(&mut app, "another-client").await;
    // Responses are left out: a list of them in an update appends them.
    put_back_changes_nothing(&app, &format!("{ERRORS}/{}", id(&error)), &["responses"]).await;
    put_back_changes_nothing(&app, &format!("{HISTORY}/{}", id(&history)), &["responses"]).await;
    put_back_changes_nothing(&app, &format!("{CONTACTS}/{}", id(&contact)), &[]).await;
    for format in FORMATS {
        let sent = format!("{resolved_path}/resolve");
        let (status, again) =
            put_in(&app, format, &sent, "integration-history-record", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{format:?}: {again}");
        assert_eq!(
            again, resolved,
            "{format:?}: resolving a resolved record touches nothing"
        );
    }
}

#[tokio::test]
async fn responses_in_an_update_are_a_change() {
    let mut app = spawn_app().await;
    app.create_integration("SUP").await;
    let run = app.create_run("SUP").await;
    let error = file_error(&app, run, json!({"document-type": "Supplier"})).await;
    let history = file_history(&app, HISTORY, json!({})).await;
    write_as(&mut app, "another-client").await;
    for (path, root) in [
        (format!("{ERRORS}/{}", id(&error)), "integration-error"),
        (
            format!("{HISTORY}/{}", id(&history)),
            "integration-history-record",
        ),
    ] {
        for (n, format) in FORMATS.into_iter().enumerate() {
            let (_, before) = app.get_json(&path).await;
            let body = match format {
                Format::Json => json!({"responses": [{"response-code": "E2"}]}),
                // One response, as XML without an array type carries it.
                Format::Xml => json!({"responses": {"response": {"response-code": "E2"}}}),
            };
            let (status, answer) = put_in(&app, format, &path, root, body).await;
            assert_eq!(status, StatusCode::OK, "{format:?}: {answer}");
            let codes: Vec<_> = answer["responses"]
                .as_array()
                .expect("responses")
                .iter()
                .map(|r| r["response-code"].clone())
                .collect();
            assert_eq!(codes.len(), n + 1, "{format:?}: {answer}");
            assert_eq!(
                answer["updated-by"]["login"], "another-client",
                "{format:?}"
            );
            assert_eq!(
                answer["status"], before["status"],
                "{format:?}: nothing else changed"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Integration contacts

#[tokio::test]
async fn a_contact_is_created_with_its_webhook_secret_shown_once() {
    let app = spawn_app().await;
    let (integration, me) = integration_and_me(&app, "PO").await;
    let (status, contact) = app
        .post_json(
            CONTACTS,
            json!({
                "contact-alert-type": "Technical",
                "contactable-type": "UserGroup",
                "contactable-id": "12",
                "integration": {"code": "PO"},
                "email": "ops@example.com",
                "webhook-url": "https://hooks.example.com/runledger"
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{contact}");
    assert_eq!(
        keys(&contact),
        [
            "contact-alert-type",
            "contactable-id",
            "contactable-type",
            "created-at",
            "created-by",
            "email",
            "id",
            "integration",
            "updated-at",
            "updated-by",
            "webhook-secret",
            "webhook-url",
        ]
    );
    assert_eq!(contact["id"], 1);
    assert_eq!(contact["contact-alert-type"], "Technical");
    assert_eq!(contact["contactable-type"], "UserGroup");
    assert_eq!(contact["contactable-id"], 12);
    assert_eq!(contact["integration"], json!({"id": integration["id"]}));
    assert_eq!(contact["email"], "ops@example.com");
    assert_eq!(
        contact["webhook-url"],
        "https://hooks.example.com/runledger"
    );
    assert_eq!(contact["created-by"], me);
    assert_eq!(contact["updated-by"], me);
    assert_datetime(&contact["created-at"]);
    assert_eq!(contact["updated-at"], contact["created-at"]);
    let secret = contact["webhook-secret"]
        .as_str()
        .expect("a webhook secret");
    assert!(secret.len() >= 32, "{secret}");

    // Never again: not in show, not in the index, in neither format.
    let mut without_secret = contact.clone();
    without_secret
        .as_object_mut()
        .unwrap()
        .remove("webhook-secret");
    assert_eq!(get_ok(&app, &format!("{CONTACTS}/1")).await, without_secret);
    assert_eq!(get_ok(&app, CONTACTS).await, json!([without_secret]));
    let shown = get_xml(&app, &format!("{CONTACTS}/1")).await;
    assert!(!shown.contains("webhook-secret"), "{shown}");
    assert!(!shown.contains(secret), "{shown}");
    assert_eq!(xml_value(&shown), without_secret);
    let index = get_xml(&app, CONTACTS).await;
    assert!(!index.contains(secret), "{index}");
    // Nor can it be searched for.
    let (status, body) = app
        .get_json(&format!("{CONTACTS}?webhook_secret={secret}"))
        .await;
    assert_refused(
        status,
        &body,
        "integration-contact",
        &["Unknown field 'webhook_secret' in query key 'webhook_secret'"],
    );
    // Two contacts never share a secret.
    let second = file_contact(&app, "Both", json!({})).await;
    assert_ne!(second["webhook-secret"], contact["webhook-secret"]);
    assert_eq!(second["integration"], Value::Null);
    assert_eq!(second["email"], Value::Null);
    assert_eq!(second["webhook-url"], Value::Null);
}

#[tokio::test]
async fn contacts_speak_xml() {
    let app = spawn_app().await;
    let integration = app.create_integration("PO").await;
    let (status, text) = app
        .xml(
            Method::POST,
            CONTACTS,
            Some(
                "<integration-contact><contact-alert-type>Functional</contact-alert-type>\
                 <contactable-type>Supplier</contactable-type>\
                 <contactable-id type=\"integer\">5</contactable-id>\
                 <integration><name>PO integration</name></integration>\
                 <email>ap@example.com</email></integration-contact>",
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert!(
        text.starts_with(&format!("{XML_HEAD}<integration-contact>\n")),
        "{text}"
    );
    for fragment in [
        "<contactable-type>Supplier</contactable-type>",
        "<contactable-id type=\"integer\">5</contactable-id>",
        "<email>ap@example.com</email>",
        "<webhook-url nil=\"true\"/>",
        "<webhook-secret>",
    ] {
        assert!(text.contains(fragment), "{fragment} in {text}");
    }
    let contact = xml_value(&text);
    assert_eq!(contact["integration"], json!({"id": integration["id"]}));
    let path = format!("{CONTACTS}/{}", id(&contact));
    let shown = get_xml(&app, &path).await;
    assert!(!shown.contains("<webhook-secret"), "{shown}");

    let (status, text) = app
        .xml(
            Method::PUT,
            &path,
            Some("<integration-contact><webhook-url>http://hooks.internal:8080/a</webhook-url></integration-contact>"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains("<webhook-url>http://hooks.internal:8080/a</webhook-url>"),
        "{text}"
    );
    assert!(!text.contains("<webhook-secret"), "{text}");
    assert_eq!(xml_value(&text), get_ok(&app, &path).await);

    let index = get_xml(&app, &format!("{CONTACTS}?contactable_type=Supplier")).await;
    assert!(
        index.starts_with(&format!(
            "{XML_HEAD}<integration-contacts type=\"array\">\n  <integration-contact>\n"
        )),
        "{index}"
    );
    assert_eq!(ids(&xml_value(&index)), [id(&contact)]);
    let (status, text) = app
        .xml(
            Method::GET,
            &format!("{CONTACTS}?contactable_type=User"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(text, xml_errors(&[NO_RESULTS]));
}

#[tokio::test]
async fn a_contact_needs_its_alert_type_and_contactable_and_valid_targets() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    let valid =
        json!({"contact-alert-type": "Both", "contactable-type": "User", "contactable-id": 1});
    assert_not_filed(
        &app,
        CONTACTS,
        json!({}),
        &[
            "Contact alert type can't be blank",
            "Contactable type can't be blank",
            "Contactable id can't be blank",
        ],
    )
    .await;
    for (extra, expected) in [
        (
            json!({"contact-alert-type": "Sometimes"}),
            "Contact alert type is not included in the list (Technical, Functional, Both)",
        ),
        (
            json!({"contactable-type": "Robot"}),
            "Contactable type is not included in the list \
             (User, UserGroup, ApprovalGroup, Supplier, SupplierUser)",
        ),
        (
            json!({"contactable-id": null}),
            "Contactable id can't be blank",
        ),
        (
            json!({"contactable-id": "twelve"}),
            "Contactable id is not an integer",
        ),
        (
            json!({"email": "not-an-address"}),
            "Email is not an email address",
        ),
        (
            json!({"email": "ops@localhost"}),
            "Email is not an email address",
        ),
        (
            json!({"email": "o ps@example.com"}),
            "Email is not an email address",
        ),
        (
            json!({"webhook-url": "ftp://hooks.example.com"}),
            "Webhook url must be an http:// or https:// URL",
        ),
        (
            json!({"webhook_url": "hooks.example.com/x"}),
            "Webhook url must be an http:// or https:// URL",
        ),
        (
            json!({"webhook-url": "https://"}),
            "Webhook url must be an http:// or https:// URL",
        ),
        (
            json!({"integration": {"code": "NOPE"}}),
            "Unable to find valid Integration record for integration with keys \
             {\"code\"=>\"NOPE\"}. Possible keys are [\"id\", \"code\", \"name\"].",
        ),
    ] {
        assert_not_filed(&app, CONTACTS, merge(valid.clone(), extra), &[expected]).await;
    }
    for (n, contactable_type) in [
        "User",
        "UserGroup",
        "ApprovalGroup",
        "Supplier",
        "SupplierUser",
    ]
    .into_iter()
    .enumerate()
    {
        let contact = created(
            &app,
            CONTACTS,
            merge(valid.clone(), json!({"contactable-type": contactable_type})),
        )
        .await;
        assert_eq!(contact["id"], n + 1);
        assert_eq!(contact["contactable-type"], contactable_type);
    }
    let (status, body) = app.get_json(&format!("{CONTACTS}/99")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        messages(&body, "integration-contact"),
        ["Couldn't find IntegrationContact with 'id'=99"]
    );
    let (status, body) = app
        .put_json(&format!("{CONTACTS}/99"), Some(json!({"email": "a@b.co"})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        messages(&body, "integration-contact"),
        ["Couldn't find IntegrationContact with 'id'=99"]
    );
}

#[tokio::test]
async fn contacts_are_updated_with_put_and_patch() {
    let app = spawn_app().await;
    let po = app.create_integration("PO").await;
    let contact = file_contact(
        &app,
        "Technical",
        json!({"integration": {"code": "PO"}, "email": "ops@example.com"}),
    )
    .await;
    let path = format!("{CONTACTS}/{}", id(&contact));
    let (status, put) = app
        .put_json(
            &path,
            Some(
                json!({"contact-alert-type": "Both", "webhook-url": "https://h.example.com/1",
                        "webhook-secret": "mine", "id": 50}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["id"], contact["id"]);
    assert_eq!(put["contact-alert-type"], "Both");
    assert_eq!(put["webhook-url"], "https://h.example.com/1");
    assert_eq!(put["email"], "ops@example.com");
    assert_eq!(put["integration"], json!({"id": po["id"]}));
    assert_eq!(put.get("webhook-secret"), None);
    let (status, patched) = app
        .json(
            Method::PATCH,
            &path,
            Some(json!({"integration": null, "email": null, "contactable_id": 99})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["integration"], Value::Null);
    assert_eq!(patched["email"], Value::Null);
    assert_eq!(patched["contactable-id"], 99);
    assert_eq!(patched["webhook-url"], "https://h.example.com/1");
    assert_eq!(get_ok(&app, &path).await, patched);

    for (body, expected) in [
        (json!({"email": "nope"}), "Email is not an email address"),
        (
            json!({"contactable-type": null}),
            "Contactable type can't be blank",
        ),
        (
            json!({"webhook-url": "mailto:x@example.com"}),
            "Webhook url must be an http:// or https:// URL",
        ),
    ] {
        let (status, answer) = app.put_json(&path, Some(body.clone())).await;
        assert_refused(status, &answer, "integration-contact", &[expected]);
    }
    assert_eq!(get_ok(&app, &path).await, patched, "nothing was written");
}

#[tokio::test]
async fn contacts_are_searched_by_alert_type_and_integration() {
    let app = spawn_app().await;
    let po = app.create_integration("PO").await;
    app.create_integration("INV").await;
    let c1 = file_contact(&app, "Both", json!({"integration": {"code": "PO"}})).await;
    let c2 = file_contact(&app, "Technical", json!({"integration": {"code": "PO"}})).await;
    let c3 = file_contact(&app, "Both", json!({"integration": {"code": "INV"}})).await;
    let c4 = file_contact(&app, "Both", json!({"email": "all@example.com"})).await;
    let [c1, c2, c3, c4] = [&c1, &c2, &c3, &c4].map(id);
    let po_id = po["id"].as_i64().unwrap();
    for (query, expected) in [
        ("contact_alert_type=Both".to_owned(), vec![c1, c3, c4]),
        ("contact-alert-type=Technical".to_owned(), vec![c2]),
        (format!("integration_id={po_id}"), vec![c1, c2]),
        (
            format!("contact_alert_type=Both&integration_id={po_id}"),
            vec![c1],
        ),
        ("integration[code]=INV".to_owned(), vec![c3]),
        ("integration_id[blank]=true".to_owned(), vec![c4]),
        ("email[ends_with]=example.com".to_owned(), vec![c4]),
        (
            "order_by=contact_alert_type&dir=desc".to_owned(),
            vec![c2, c4, c3, c1],
        ),
    ] {
        let path = format!("{CONTACTS}?{query}");
        let found = get_ok(&app, &path).await;
        assert_eq!(ids(&found), expected, "{query}");
        assert!(
            found
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c.get("webhook-secret").is_none()),
            "{query}"
        );
        assert_eq!(xml_value(&get_xml(&app, &path).await), found, "{query}");
    }
    assert_eq!(
        get_ok(&app, &format!("{CONTACTS}?contact_alert_type=Functional")).await,
        json!([])
    );
}

// ---------------------------------------------------------------------------------------
// The alert outbox

/// The deliveries of a record once none is pending, polling for up to 3 s.
async fn settled_deliveries(app: &TestApp, record_id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let list = get_ok(app, &format!("{DELIVERIES}?record_id={record_id}")).await;
        let settled = list
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] != "pending");
        if (settled && list != json!([])) || Instant::now() > deadline {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_email_alert_without_smtp_is_recorded_as_undeliverable() {
    let app = spawn_app().await;
    let po = app.create_integration("PO").await;
    app.create_integration("INV").await;
    let contact = file_contact(
        &app,
        "Both",
        json!({"integration": {"code": "PO"}, "email": "ops@example.com"}),
    )
    .await;
    // A contact of another integration hears nothing of this one.
    file_contact(
        &app,
        "Both",
        json!({"integration": {"code": "INV"}, "email": "inv@example.com"}),
    )
    .await;
    let run = app.create_run("PO").await;

    // A plain POST raises no alert.
    let quiet = file_error(&app, run, json!({"document-type": "Supplier"})).await;
    let alerted = created(
        &app,
        &format!("{ERRORS}/create_alert"),
        json!({"contact-alert-type": "Technical", "integration-run": {"id": run},
               "document-type": "Supplier", "document-id": 1}),
    )
    .await;
    assert_eq!(ids(&get_ok(&app, ERRORS).await), [id(&quiet), id(&alerted)]);

    let deliveries = settled_deliveries(&app, id(&alerted)).await;
    let list = deliveries.as_array().unwrap();
    assert_eq!(list.len(), 1, "{deliveries}");
    let delivery = &list[0];
    assert_eq!(delivery["id"], 1);
    assert_eq!(delivery["channel"], "email");
    assert_eq!(delivery["target"], "ops@example.com");
    assert_eq!(delivery["status"], "undeliverable");
    assert_eq!(delivery["integration-contact-id"], contact["id"]);
    assert_eq!(delivery["integration-id"], po["id"]);
    assert_eq!(delivery["record-type"], "integration_error");
    assert_eq!(delivery["record-id"], alerted["id"]);
    assert_eq!(delivery["attempts"], 1);
    assert_eq!(delivery["delivered-at"], Value::Null);
    assert_eq!(delivery["next-attempt-at"], Value::Null);
    let last_error = delivery["last-error"].as_str().expect("last-error");
    assert!(last_error.contains("SMTP"), "{last_error}");

    // The plain POST's error has none; the outbox holds only the one row.
    assert_eq!(
        get_ok(&app, &format!("{DELIVERIES}?record_id={}", id(&quiet))).await,
        json!([])
    );
    assert_eq!(ids(&get_ok(&app, DELIVERIES).await), [1]);
    let shown = get_ok(&app, &format!("{DELIVERIES}/1")).await;
    assert_eq!(&shown, delivery);
    let text = get_xml(&app, &format!("{DELIVERIES}/1")).await;
    assert!(
        text.starts_with(&format!("{XML_HEAD}<alert-delivery>\n")),
        "{text}"
    );
    assert!(text.contains("<status>undeliverable</status>"), "{text}");
    assert_eq!(xml_value(&text), shown);
}

#[tokio::test]
async fn history_alert_actions_queue_deliveries_and_plain_ones_do_not() {
    let app = spawn_app().await;
    app.create_integration("SUP").await;
    let contact = file_contact(&app, "Functional", json!({"email": "sup@example.com"})).await;
    let plain = file_history(&app, HISTORY, json!({"integration": {"code": "SUP"}})).await;
    let exported = file_history(
        &app,
        &format!("{HISTORY}/mark_exported"),
        json!({"integration": {"code": "SUP"}}),
    )
    .await;
    let acknowledged = file_history(
        &app,
        &format!("{HISTORY}/acknowledge"),
        json!({"integration": {"code": "SUP"}}),
    )
    .await;
    let alerted = file_history(
        &app,
        &format!("{HISTORY}/create_alert_and_mark_exported"),
        json!({"integration": {"code": "SUP"}}),
    )
    .await;
    assert_eq!(alerted["exported"], true);
    let deliveries = settled_deliveries(&app, id(&alerted)).await;
    assert_eq!(deliveries.as_array().map(Vec::len), Some(1), "{deliveries}");
    assert_eq!(deliveries[0]["record-type"], "integration_history_record");
    assert_eq!(deliveries[0]["integration-contact-id"], contact["id"]);
    assert_eq!(deliveries[0]["target"], "sup@example.com");
    assert_eq!(deliveries[0]["status"], "undeliverable");
    for quiet in [&plain, &exported, &acknowledged] {
        assert_eq!(
            get_ok(
                &app,
                &format!(
                    "{DELIVERIES}?record_type=integration_history_record&record_id={}",
                    id(quiet)
                )
            )
            .await,
            json!([]),
            "{quiet}"
        );
    }
}
