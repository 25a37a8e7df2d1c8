//! The query language of the index routes (spec §3) over HTTP, in JSON and in XML: every
//! operator on integer, text and datetime fields, association paths, dashed and underscored
//! keys, paging and ordering, response shaping, empty results, and every refusal.
//!
//! Every search is asked in both formats, and the two answers must agree: the same records
//! in the same order (JSON `200 []` / XML `404` when nothing matches).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, integration_body, messages, spawn_app, xml_value};

const RUNS: &str = "/api/integration_runs";
const INTEGRATIONS: &str = "/api/integrations";
const NO_RESULTS: &str = "No results match your search criteria.";

/// A query string as key/value pairs, before encoding.
type Pairs<'a> = &'a [(&'a str, &'a str)];

/// `pairs` as a percent-encoded query string.
fn encode(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The JSON error key and the XML collection element of a path.
fn names(path: &str) -> (&'static str, &'static str) {
    if path.starts_with(RUNS) {
        ("integration-run", "integration-runs")
    } else {
        ("integration", "integrations")
    }
}

/// Asserts Coupa's answer to an XML search that matched nothing.
fn assert_no_results_xml(status: StatusCode, text: &str, context: &str) {
    assert_eq!(status, StatusCode::NOT_FOUND, "{context}: {text}");
    assert!(text.contains("<errors>"), "{context}: {text}");
    assert_eq!(xml_value(text), json!({ "error": NO_RESULTS }), "{context}");
}

/// GETs `path?pairs` as JSON and as XML, checks that both answers agree, and returns the
/// JSON list.
async fn search(app: &TestApp, path: &str, pairs: &[(&str, &str)]) -> Vec<Value> {
    let url = format!("{path}?{}", encode(pairs));
    let (status, body) = app.get_json(&url).await;
    assert_eq!(status, StatusCode::OK, "{url}: {body}");
    let items = body
        .as_array()
        .unwrap_or_else(|| panic!("{url}: not an array: {body}"))
        .clone();
    let (status, text) = app.xml(Method::GET, &url, None).await;
    if items.is_empty() {
        assert_no_results_xml(status, &text, &url);
    } else {
        assert_eq!(status, StatusCode::OK, "{url}: {text}");
        let collection = names(path).1;
        assert!(
            text.contains(&format!("<{collection} type=\"array\">")),
            "{url}: {text}"
        );
        assert_eq!(
            xml_value(&text),
            body,
            "{url}: the XML and JSON answers disagree"
        );
    }
    items
}

/// The ids a search returns, in order, after checking that both formats agree.
async fn ids(app: &TestApp, path: &str, pairs: &[(&str, &str)]) -> Vec<i64> {
    search(app, path, pairs)
        .await
        .iter()
        .map(|item| {
            item["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("no id in {item}"))
        })
        .collect()
}

/// Asserts that `path?pairs` returns exactly the records `expected`, in that order.
async fn assert_ids(app: &TestApp, path: &str, pairs: &[(&str, &str)], expected: &[i64]) {
    assert_eq!(ids(app, path, pairs).await, expected, "{path}?{pairs:?}");
}

/// GETs `path?pairs` in both formats, asserts a 400 with one and the same message in each,
/// and returns that message.
async fn refused(app: &TestApp, path: &str, pairs: &[(&str, &str)]) -> String {
    let url = format!("{path}?{}", encode(pairs));
    let (status, body) = app.get_json(&url).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
    let list = messages(&body, names(path).0);
    assert_eq!(list.len(), 1, "{url}: {body}");
    let message = list[0].clone();
    let (status, text) = app.xml(Method::GET, &url, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {text}");
    assert!(text.contains("<errors>"), "{url}: {text}");
    assert_eq!(xml_value(&text), json!({ "error": message }), "{url}");
    message
}

/// Asserts that a query is refused and that its message names every one of `named`.
async fn assert_refused(app: &TestApp, path: &str, pairs: &[(&str, &str)], named: &[&str]) {
    let message = refused(app, path, pairs).await;
    for name in named {
        assert!(
            message.contains(name),
            "{path}?{pairs:?}: {message:?} does not name {name}"
        );
    }
}

/// PUTs a JSON body to `path` and returns the answer, which must be a 200.
async fn put(app: &TestApp, path: &str, body: Option<Value>) -> Value {
    let (status, answer) = app.put_json(path, body).await;
    assert_eq!(status, StatusCode::OK, "{path}: {answer}");
    answer
}

/// Updates run `id` with `body`.
async fn update(app: &TestApp, id: i64, body: Value) -> Value {
    put(app, &format!("{RUNS}/{id}"), Some(body)).await
}

/// Applies status `action` to run `id`, with an optional body.
async fn act(app: &TestApp, id: i64, action: &str, body: Option<Value>) -> Value {
    put(app, &format!("{RUNS}/{id}/{action}"), body).await
}

/// A run of the integration `code` with `body` applied.
async fn run_with(app: &TestApp, code: &str, body: Value) -> i64 {
    let id = app.create_run(code).await;
    update(app, id, body).await;
    id
}

/// Creates an integration from `body` and returns its id.
async fn integration_from(app: &TestApp, body: Value) -> i64 {
    let (status, created) = app.post_json(INTEGRATIONS, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_i64().expect("integration id")
}

/// The id of a created integration.
async fn integration(app: &TestApp, code: &str) -> i64 {
    app.create_integration(code).await["id"]
        .as_i64()
        .expect("integration id")
}

/// Waits long enough for the next record to be created in a later second.
async fn next_second() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

#[tokio::test]
async fn integer_operators_select_exactly_the_matching_runs() {
    let app = spawn_app().await;
    app.create_integration("INT").await;
    let r10 = run_with(&app, "INT", json!({"total-records": 10})).await;
    let r20 = run_with(&app, "INT", json!({"total-records": 20})).await;
    let r30 = run_with(&app, "INT", json!({"total-records": 30})).await;
    let none = app.create_run("INT").await;
    let all = [r10, r20, r30, none];

    let cases: [(&str, &str, &[i64]); 15] = [
        ("total_records", "20", &[r20]),
        ("total_records[eq]", "20", &[r20]),
        ("total_records[not_eq]", "20", &[r10, r30, none]),
        ("total_records[gt]", "10", &[r20, r30]),
        ("total_records[lt]", "30", &[r10, r20]),
        ("total_records[gt_or_eq]", "20", &[r20, r30]),
        ("total_records[lt_or_eq]", "20", &[r10, r20]),
        ("total_records[in]", "10,30", &[r10, r30]),
        ("total_records[in]", "11,29", &[]),
        ("total_records[not_in]", "10,30", &[r20, none]),
        ("total_records[blank]", "true", &[none]),
        ("total_records[blank]", "false", &[r10, r20, r30]),
        ("total_records[gt]", "30", &[]),
        ("total_records[lt]", "10", &[]),
        ("records_processed[blank]", "true", &all),
    ];
    for (key, value, expected) in cases {
        assert_ids(&app, RUNS, &[(key, value)], expected).await;
    }

    let (id10, id20, id30, idn) = (
        r10.to_string(),
        r20.to_string(),
        r30.to_string(),
        none.to_string(),
    );
    let cases: [(&str, &str, &[i64]); 12] = [
        ("id", &id20, &[r20]),
        ("id[eq]", &id20, &[r20]),
        ("id[not_eq]", &id20, &[r10, r30, none]),
        ("id[gt]", &id20, &[r30, none]),
        ("id[lt]", &id20, &[r10]),
        ("id[gt_or_eq]", &id30, &[r30, none]),
        ("id[lt_or_eq]", &id30, &[r10, r20, r30]),
        ("id[in]", &format!("{idn},{id10}"), &[r10, none]),
        ("id[not_in]", &format!("{idn},{id10}"), &[r20, r30]),
        ("id[blank]", "false", &all),
        ("id[blank]", "true", &[]),
        ("id", "0", &[]),
    ];
    for (key, value, expected) in cases {
        assert_ids(&app, RUNS, &[(key, value)], expected).await;
    }

    // Conditions combine with AND.
    assert_ids(
        &app,
        RUNS,
        &[("total_records[gt]", "10"), ("id[not_eq]", &id30)],
        &[r20],
    )
    .await;
    assert_ids(
        &app,
        RUNS,
        &[("total_records[gt]", "10"), ("total_records[lt]", "30")],
        &[r20],
    )
    .await;
}

#[tokio::test]
async fn text_operators_select_exactly_the_matching_runs() {
    let app = spawn_app().await;
    app.create_integration("TXT").await;
    let pending = app.create_run("TXT").await;
    let running = app.create_run("TXT").await;
    act(&app, running, "run", None).await;
    let successful = app.create_run("TXT").await;
    act(&app, successful, "success", None).await;
    let failed = app.create_run("TXT").await;
    act(&app, failed, "fail", None).await;
    let all = [pending, running, successful, failed];

    let cases: [(&str, &str, &[i64]); 24] = [
        ("status", "running", &[running]),
        // A closed vocabulary matches without case, as Coupa's collations compare.
        ("status", "Running", &[running]),
        ("status[not_eq]", "RUNNING", &[pending, successful, failed]),
        ("status[contains]", "SS", &[successful]),
        ("status[gt]", "Pending", &[running, successful]),
        ("status[in]", "Running,failed", &[running, failed]),
        ("status[eq]", "running", &[running]),
        ("status[not_eq]", "running", &[pending, successful, failed]),
        ("status[contains]", "ss", &[successful]),
        ("status[contains]", "in", &[pending, running]),
        ("status[starts_with]", "run", &[running]),
        ("status[starts_with]", "unn", &[]),
        ("status[ends_with]", "ed", &[failed]),
        ("status[ends_with]", "ing", &[pending, running]),
        ("status[gt]", "pending", &[running, successful]),
        ("status[lt]", "pending", &[failed]),
        ("status[gt_or_eq]", "running", &[running, successful]),
        ("status[lt_or_eq]", "pending", &[pending, failed]),
        ("status[in]", "running,failed", &[running, failed]),
        ("status[not_in]", "running,failed", &[pending, successful]),
        ("status[blank]", "false", &all),
        ("status[blank]", "true", &[]),
        ("status", "paused", &[]),
        ("status[contains]", "", &all),
    ];
    for (key, value, expected) in cases {
        assert_ids(&app, RUNS, &[(key, value)], expected).await;
    }
}

#[tokio::test]
async fn datetime_operators_select_exactly_the_matching_runs() {
    let app = spawn_app().await;
    app.create_integration("TIME").await;
    let jan1 = run_with(&app, "TIME", json!({"start-time": "2026-01-01T00:00:00Z"})).await;
    let jan2 = run_with(&app, "TIME", json!({"start-time": "2026-01-02T12:00:00Z"})).await;
    let jan3 = run_with(&app, "TIME", json!({"start-time": "2026-01-03T00:00:00Z"})).await;
    let none = app.create_run("TIME").await;

    let noon = "2026-01-02T12:00:00Z";
    let cases: [(&str, &str, &[i64]); 20] = [
        ("start_time", noon, &[jan2]),
        ("start_time[eq]", noon, &[jan2]),
        // The same instant however it is spelled, the output form included.
        ("start_time", "2026-01-02T12:00:00+00:00", &[jan2]),
        ("start_time", "2026-01-02T13:00:00+01:00", &[jan2]),
        ("start_time", "2026-01-02T12:00:00.999Z", &[jan2]),
        ("start_time", "2026-01-02T12:00:00", &[jan2]),
        ("start_time", "2026-01-01", &[jan1]),
        ("start_time[not_eq]", noon, &[jan1, jan3, none]),
        ("start_time[gt]", "2026-01-02", &[jan2, jan3]),
        ("start_time[gt]", noon, &[jan3]),
        ("start_time[lt]", noon, &[jan1]),
        ("start_time[gt_or_eq]", noon, &[jan2, jan3]),
        ("start_time[lt_or_eq]", noon, &[jan1, jan2]),
        ("start_time[lt]", "2025-12-31T23:59:59Z", &[]),
        (
            "start_time[in]",
            "2026-01-01,2026-01-03T00:00:00Z",
            &[jan1, jan3],
        ),
        ("start_time[not_in]", "2026-01-01", &[jan2, jan3, none]),
        ("start_time[blank]", "true", &[none]),
        ("start_time[blank]", "false", &[jan1, jan2, jan3]),
        ("end_time[blank]", "true", &[jan1, jan2, jan3, none]),
        ("end_time[gt]", "2000-01-01", &[]),
    ];
    for (key, value, expected) in cases {
        assert_ids(&app, RUNS, &[(key, value)], expected).await;
    }
    assert_ids(
        &app,
        RUNS,
        &[
            ("start_time[gt]", "2026-01-01"),
            ("start_time[lt]", "2026-01-03"),
        ],
        &[jan2],
    )
    .await;
}

#[tokio::test]
async fn created_at_compares_to_the_second_and_matches_the_value_a_response_shows() {
    let app = spawn_app().await;
    let first_integration = integration(&app, "EARLY").await;
    let first_run = app.create_run("EARLY").await;
    next_second().await;
    let second_integration = integration(&app, "LATE").await;
    let second_run = app.create_run("LATE").await;

    for (path, first, second) in [
        (RUNS, first_run, second_run),
        (INTEGRATIONS, first_integration, second_integration),
    ] {
        let (_, one) = app.get_json(&format!("{path}/{first}")).await;
        let (_, two) = app.get_json(&format!("{path}/{second}")).await;
        let (c1, c2) = (
            one["created-at"].as_str().unwrap().to_owned(),
            two["created-at"].as_str().unwrap().to_owned(),
        );
        assert!(c1 < c2, "{c1} / {c2}");
        let both = format!("{c1},{c2}");
        let cases: [(&str, &str, &[i64]); 15] = [
            ("created_at", &c1, &[first]),
            ("created-at", &c2, &[second]),
            ("created_at[eq]", &c2, &[second]),
            ("created_at[not_eq]", &c1, &[second]),
            ("created_at[gt]", &c1, &[second]),
            ("created_at[lt]", &c2, &[first]),
            ("created_at[gt_or_eq]", &c1, &[first, second]),
            ("created_at[lt_or_eq]", &c1, &[first]),
            ("created_at[in]", &both, &[first, second]),
            ("created_at[not_in]", &c2, &[first]),
            ("created_at[blank]", "false", &[first, second]),
            ("created_at[blank]", "true", &[]),
            ("created_at[gt]", "2000-01-01", &[first, second]),
            ("created_at[lt]", "2000-01-01", &[]),
            ("updated_at[gt_or_eq]", &c2, &[second]),
        ];
        for (key, value, expected) in cases {
            assert_ids(&app, path, &[(key, value)], expected).await;
        }
    }
}

#[tokio::test]
async fn integrations_answer_every_operator_on_integer_text_and_datetime_fields() {
    let app = spawn_app().await;
    let apin = integration_from(&app, integration_body("APIN")).await;
    let mut body = integration_body("AROUT");
    body["integration-type"] = json!("flat_file");
    body["end-system-type"] = json!("payroll");
    let arout = integration_from(&app, body).await;
    let mut body = integration_body("GLX");
    body.as_object_mut().unwrap().remove("integration-type");
    let glx = integration_from(&app, body).await;
    let all = [apin, arout, glx];
    let (id_apin, id_arout) = (apin.to_string(), arout.to_string());
    let pair = format!("{apin},{glx}");

    let cases: [(&str, &str, &[i64]); 40] = [
        ("id", &id_arout, &[arout]),
        ("id[eq]", &id_arout, &[arout]),
        ("id[not_eq]", &id_arout, &[apin, glx]),
        ("id[gt]", &id_apin, &[arout, glx]),
        ("id[lt]", &id_arout, &[apin]),
        ("id[gt_or_eq]", &id_arout, &[arout, glx]),
        ("id[lt_or_eq]", &id_arout, &[apin, arout]),
        ("id[in]", &pair, &[apin, glx]),
        ("id[not_in]", &pair, &[arout]),
        ("id[blank]", "false", &all),
        ("code", "AROUT", &[arout]),
        ("code[eq]", "AROUT", &[arout]),
        ("code[not_eq]", "AROUT", &[apin, glx]),
        ("code[contains]", "R", &[arout]),
        ("code[contains]", "X", &[glx]),
        ("code[starts_with]", "A", &[apin, arout]),
        ("code[ends_with]", "OUT", &[arout]),
        ("code[gt]", "AROUT", &[glx]),
        ("code[lt]", "AROUT", &[apin]),
        ("code[gt_or_eq]", "AROUT", &[arout, glx]),
        ("code[lt_or_eq]", "AROUT", &[apin, arout]),
        ("code[in]", "APIN,GLX", &[apin, glx]),
        ("code[not_in]", "APIN,GLX", &[arout]),
        ("code[blank]", "false", &all),
        ("code[blank]", "true", &[]),
        ("name", "GLX integration", &[glx]),
        ("name[starts_with]", "GLX", &[glx]),
        ("name[ends_with]", " integration", &all),
        ("integration_type", "api", &[apin]),
        ("integration_type[not_eq]", "api", &[arout, glx]),
        ("integration_type[in]", "api,flat_file", &[apin, arout]),
        ("integration_type[not_in]", "api,flat_file", &[glx]),
        ("integration_type[blank]", "true", &[glx]),
        ("integration_type[blank]", "false", &[apin, arout]),
        ("end_system_type", "payroll", &[arout]),
        ("direction", "from_coupa", &all),
        ("standard", "false", &all),
        ("standard", "true", &[]),
        ("created_at[gt]", "2000-01-01T00:00:00Z", &all),
        ("created_at[lt_or_eq]", "2000-01-01T00:00:00Z", &[]),
    ];
    for (key, value, expected) in cases {
        assert_ids(&app, INTEGRATIONS, &[(key, value)], expected).await;
    }
    assert_ids(
        &app,
        INTEGRATIONS,
        &[
            ("code[starts_with]", "A"),
            ("integration_type[not_eq]", "api"),
        ],
        &[arout],
    )
    .await;
}

/// The hex of `text`'s bytes: a code unique without case for each distinct text.
fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02X}")).collect()
}

/// The id of an integration whose end system is `text` (codes and names are unique without
/// case, end systems are not, so every spelling of a word can be stored side by side).
async fn folded(app: &TestApp, text: &str) -> i64 {
    let code = hex(text);
    let mut body = integration_body(&code);
    body["end-system"] = json!(text);
    body["name"] = json!(format!("{code} {text} integration"));
    integration_from(app, body).await
}

#[tokio::test]
async fn text_matches_without_ascii_case_and_literally_on_every_operator() {
    let app = spawn_app().await;
    let title = folded(&app, "Alpha").await;
    let upper = folded(&app, "ALPHA").await;
    let lower = folded(&app, "alpha").await;
    let percent = folded(&app, "50%_OFF").await;
    let wild = folded(&app, "50XYOFF").await;
    let digits = folded(&app, "5000OFF").await;
    let backslash = folded(&app, "back\\slash").await;
    let lookalike = folded(&app, "backXslash").await;
    let e_upper = folded(&app, "ÉCOLE").await;
    let e_lower = folded(&app, "école").await;
    let alphas = [title, upper, lower];

    let cases: [(&str, &str, &[i64]); 33] = [
        // Without ASCII case, as Coupa's MySQL collations compare: every operator agrees
        // with `=`.
        ("end_system", "alpha", &alphas),
        ("end_system", "ALPHA", &alphas),
        ("end_system", "aLpHa", &alphas),
        ("end_system[eq]", "Alpha", &alphas),
        ("end_system[contains]", "lph", &alphas),
        ("end_system[contains]", "LPH", &alphas),
        ("end_system[contains]", "lPh", &alphas),
        ("end_system[starts_with]", "a", &alphas),
        ("end_system[ends_with]", "Ha", &alphas),
        (
            "end_system[in]",
            "alpha,50%_off",
            &[title, upper, lower, percent],
        ),
        (
            "end_system[not_eq]",
            "alpha",
            &[
                percent, wild, digits, backslash, lookalike, e_upper, e_lower,
            ],
        ),
        (
            "end_system[not_in]",
            "ALPHA,50xyoff,5000off,Back\\Slash,BACKXSLASH,école",
            &[percent, e_upper],
        ),
        (
            "end_system[gt_or_eq]",
            "backxslash",
            &[lookalike, e_upper, e_lower],
        ),
        ("end_system[lt]", "ALPHA", &[percent, wild, digits]),
        ("name[ends_with]", "alpha INTEGRATION", &alphas),
        ("name[contains]", "A INT", &alphas),
        // Only ASCII letters fold, the same on both backends: É and é stay apart.
        ("end_system", "école", &[e_lower]),
        ("end_system", "ÉCOLE", &[e_upper]),
        ("end_system", "École", &[e_upper]),
        ("end_system[ends_with]", "Cole", &[e_upper, e_lower]),
        // `%`, `_` and `\` are literal characters, not wildcards.
        ("end_system[contains]", "%", &[percent]),
        ("end_system[contains]", "_", &[percent]),
        ("end_system[contains]", "%_", &[percent]),
        ("end_system[contains]", "0%_o", &[percent]),
        ("end_system[starts_with]", "50%", &[percent]),
        ("end_system[ends_with]", "_OFF", &[percent]),
        ("end_system[ends_with]", "_off", &[percent]),
        ("end_system[ends_with]", "__OFF", &[]),
        ("end_system[contains]", "\\", &[backslash]),
        ("end_system[contains]", "k\\s", &[backslash]),
        ("end_system[contains]", "K\\S", &[backslash]),
        ("end_system[starts_with]", "5_", &[]),
        (
            "end_system[blank]",
            "false",
            &[
                title, upper, lower, percent, wild, digits, backslash, lookalike, e_upper, e_lower,
            ],
        ),
    ];
    for (key, value, expected) in cases {
        assert_ids(&app, INTEGRATIONS, &[(key, value)], expected).await;
    }

    // The same holds on runs: no status holds a literal `%` or `_`; a status and the
    // integration's end system match in any case.
    let run = app.create_run(&hex("Alpha")).await;
    for (key, value) in [
        ("status[contains]", "%"),
        ("status[contains]", "_"),
        ("status[starts_with]", "%"),
        ("status[ends_with]", "_"),
        ("integration[end_system][contains]", "%"),
        ("integration[end_system]", "école"),
    ] {
        assert_ids(&app, RUNS, &[(key, value)], &[]).await;
    }
    for (key, value) in [
        ("status", "PENDING"),
        ("status[contains]", "PEND"),
        ("status[starts_with]", "Pend"),
        ("status[contains]", "end"),
        ("integration[end_system]", "ALPHA"),
        ("integration[end_system]", "Alpha"),
        ("integration[name][ends_with]", "Integration"),
    ] {
        assert_ids(&app, RUNS, &[(key, value)], &[run]).await;
    }
}

#[tokio::test]
async fn association_paths_filter_runs_by_their_integration() {
    let app = spawn_app().await;
    let po = integration(&app, "SAP_PO").await;
    let inv = integration(&app, "SAP_INV").await;
    let gl = integration(&app, "ORACLE_GL").await;
    let po1 = app.create_run("SAP_PO").await;
    let inv1 = app.create_run("SAP_INV").await;
    let gl1 = app.create_run("ORACLE_GL").await;
    let po2 = app.create_run("SAP_PO").await;
    act(&app, po2, "run", None).await;
    let all = [po1, inv1, gl1, po2];
    let (po_id, inv_id, gl_id) = (po.to_string(), inv.to_string(), gl.to_string());
    let sap = format!("{po},{inv}");

    let cases: [(&str, &str, &[i64]); 23] = [
        ("integration[code]", "SAP_PO", &[po1, po2]),
        ("integration[code][eq]", "SAP_PO", &[po1, po2]),
        ("integration[code][not_eq]", "SAP_PO", &[inv1, gl1]),
        ("integration[code][in]", "SAP_INV,ORACLE_GL", &[inv1, gl1]),
        (
            "integration[code][not_in]",
            "SAP_INV,ORACLE_GL",
            &[po1, po2],
        ),
        ("integration[code][starts_with]", "SAP_", &[po1, inv1, po2]),
        ("integration[code][contains]", "_G", &[gl1]),
        // Without case, as Coupa's collations compare.
        ("integration[code]", "sap_po", &[po1, po2]),
        ("integration[code][in]", "sap_inv,Oracle_GL", &[inv1, gl1]),
        ("integration[code]", "NOPE", &[]),
        ("integration[name]", "SAP_INV integration", &[inv1]),
        ("integration[name][starts_with]", "SAP", &[po1, inv1, po2]),
        ("integration[name][ends_with]", "GL integration", &[gl1]),
        ("integration[name][starts_with]", "sap", &[po1, inv1, po2]),
        ("integration[id]", &inv_id, &[inv1]),
        ("integration[id][gt]", &po_id, &[inv1, gl1]),
        ("integration_id", &gl_id, &[gl1]),
        ("integration_id[eq]", &po_id, &[po1, po2]),
        ("integration_id[in]", &sap, &[po1, inv1, po2]),
        ("integration_id[not_eq]", &po_id, &[inv1, gl1]),
        ("integration[end_system]", "SAP", &all),
        ("integration[created_at][gt]", "2000-01-01", &all),
        // No API client writes yet (authentication has not landed): no run has an author.
        ("created_by[login]", "erp-connector", &[]),
    ];
    for (key, value, expected) in cases {
        assert_ids(&app, RUNS, &[(key, value)], expected).await;
    }

    // Conditions on the run and on its integration combine with AND, and several conditions
    // on the integration must hold for that one integration.
    assert_ids(
        &app,
        RUNS,
        &[("integration[code]", "SAP_PO"), ("status", "running")],
        &[po2],
    )
    .await;
    assert_ids(
        &app,
        RUNS,
        &[
            ("integration[name][starts_with]", "SAP"),
            ("integration[code][ends_with]", "INV"),
        ],
        &[inv1],
    )
    .await;
    assert_ids(
        &app,
        RUNS,
        &[("integration[code]", "SAP_PO"), ("integration_id", &inv_id)],
        &[],
    )
    .await;
}

#[tokio::test]
async fn dashed_and_underscored_keys_name_the_same_field() {
    let app = spawn_app().await;
    let sap = integration(&app, "DASH").await;
    let mut body = integration_body("OTHER");
    body["end-system"] = json!("Oracle");
    body["business-object"] = json!("InvoiceHeader");
    let oracle = integration_from(&app, body).await;
    let small = run_with(
        &app,
        "DASH",
        json!({"total_records": 5, "records_processed": 5}),
    )
    .await;
    let large = run_with(
        &app,
        "OTHER",
        json!({"total-records": 500, "start-time": "2026-05-01"}),
    )
    .await;
    let bare = app.create_run("DASH").await;

    let run_cases: [(&str, &str, &str, &[i64]); 6] = [
        ("total-records[gt]", "total_records[gt]", "10", &[large]),
        ("records-processed", "records_processed", "5", &[small]),
        (
            "start-time[blank]",
            "start_time[blank]",
            "true",
            &[small, bare],
        ),
        (
            "created-at[gt]",
            "created_at[gt]",
            "2000-01-01",
            &[small, large, bare],
        ),
        (
            "integration[end-system]",
            "integration[end_system]",
            "Oracle",
            &[large],
        ),
        (
            "integration-id",
            "integration_id",
            &sap.to_string(),
            &[small, bare],
        ),
    ];
    for (dashed, underscored, value, expected) in run_cases {
        assert_ids(&app, RUNS, &[(dashed, value)], expected).await;
        assert_ids(&app, RUNS, &[(underscored, value)], expected).await;
    }
    for by in ["total-records", "total_records"] {
        assert_ids(
            &app,
            RUNS,
            &[("order_by", by), ("dir", "desc")],
            &[bare, large, small],
        )
        .await;
    }

    let integration_cases: [(&str, &str, &str, &[i64]); 3] = [
        ("end-system", "end_system", "Oracle", &[oracle]),
        (
            "business-object[starts_with]",
            "business_object[starts_with]",
            "Invoice",
            &[oracle],
        ),
        ("end-system-type", "end_system_type", "erp", &[sap, oracle]),
    ];
    for (dashed, underscored, value, expected) in integration_cases {
        assert_ids(&app, INTEGRATIONS, &[(dashed, value)], expected).await;
        assert_ids(&app, INTEGRATIONS, &[(underscored, value)], expected).await;
    }
}

#[tokio::test]
async fn limit_defaults_to_50_is_capped_at_50_and_offset_skips() {
    let app = spawn_app().await;
    app.create_integration("BULK").await;
    let mut all = Vec::new();
    for _ in 0..55 {
        all.push(app.create_run("BULK").await);
    }

    assert_ids(&app, RUNS, &[], &all[..50]).await;
    assert_ids(&app, RUNS, &[("limit", "50")], &all[..50]).await;
    assert_ids(&app, RUNS, &[("limit", "51")], &all[..50]).await;
    assert_ids(&app, RUNS, &[("limit", "500")], &all[..50]).await;
    assert_ids(&app, RUNS, &[("limit", "1")], &all[..1]).await;
    assert_ids(&app, RUNS, &[("limit", "10")], &all[..10]).await;
    assert_ids(&app, RUNS, &[("offset", "0")], &all[..50]).await;
    assert_ids(&app, RUNS, &[("offset", "50")], &all[50..]).await;
    assert_ids(
        &app,
        RUNS,
        &[("offset", "10"), ("limit", "3")],
        &all[10..13],
    )
    .await;
    assert_ids(
        &app,
        RUNS,
        &[("offset", "54"), ("limit", "500")],
        &all[54..],
    )
    .await;
    assert_ids(&app, RUNS, &[("offset", "55")], &[]).await;
    assert_ids(&app, RUNS, &[("offset", "1000")], &[]).await;
    let mut last_five: Vec<i64> = all[50..].to_vec();
    last_five.reverse();
    assert_ids(&app, RUNS, &[("dir", "desc"), ("limit", "5")], &last_five).await;
}

#[tokio::test]
async fn keyset_and_offset_paging_each_walk_every_run_once() {
    let app = spawn_app().await;
    app.create_integration("WALK").await;
    let mut all = Vec::new();
    for _ in 0..55 {
        all.push(app.create_run("WALK").await);
    }

    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut last = 0;
    loop {
        let after = last.to_string();
        let page = ids(&app, RUNS, &[("id[gt]", &after), ("limit", "20")]).await;
        pages.push(page.len());
        let Some(&tail) = page.last() else { break };
        last = tail;
        seen.extend(page);
    }
    assert_eq!(seen, all);
    assert_eq!(pages, [20, 20, 15, 0]);

    let mut seen = Vec::new();
    for offset in ["0", "20", "40"] {
        seen.extend(ids(&app, RUNS, &[("offset", offset), ("limit", "20")]).await);
    }
    assert_eq!(seen, all);

    // Keyset paging downwards, with the same filter on every page.
    let mut seen = Vec::new();
    let mut before = i64::MAX;
    loop {
        let bound = before.to_string();
        let page = ids(
            &app,
            RUNS,
            &[
                ("id[lt]", &bound),
                ("status", "pending"),
                ("dir", "desc"),
                ("limit", "25"),
            ],
        )
        .await;
        let Some(&tail) = page.last() else { break };
        before = tail;
        seen.extend(page);
    }
    all.reverse();
    assert_eq!(seen, all);
}

#[tokio::test]
async fn order_by_sorts_either_way_with_nulls_last_ascending_and_first_descending() {
    let app = spawn_app().await;
    app.create_integration("SORT").await;
    let r1 = app.create_run("SORT").await;
    act(
        &app,
        r1,
        "fail",
        Some(json!({"end-time": "2026-03-01", "total-records": 30})),
    )
    .await;
    let r2 = app.create_run("SORT").await;
    act(&app, r2, "run", Some(json!({"total-records": 10}))).await;
    let r3 = app.create_run("SORT").await;
    act(&app, r3, "success", Some(json!({"end-time": "2026-02-01"}))).await;
    let r4 = run_with(&app, "SORT", json!({"total-records": 20})).await;
    let r5 = run_with(
        &app,
        "SORT",
        json!({"end-time": "2026-03-01", "total-records": 10}),
    )
    .await;

    let cases: [(Pairs, [i64; 5]); 14] = [
        // Nullable fields: nulls after every value ascending, before every value descending;
        // ties broken by id in the direction of the sort.
        (&[("order_by", "end_time")], [r3, r1, r5, r2, r4]),
        (
            &[("order_by", "end_time"), ("dir", "asc")],
            [r3, r1, r5, r2, r4],
        ),
        (
            &[("order_by", "end-time"), ("dir", "desc")],
            [r4, r2, r5, r1, r3],
        ),
        (&[("order_by", "total_records")], [r2, r5, r4, r1, r3]),
        (
            &[("order_by", "total_records"), ("dir", "desc")],
            [r3, r1, r4, r5, r2],
        ),
        // Ties on a field that is never null.
        (&[("order_by", "status")], [r1, r4, r5, r2, r3]),
        (
            &[("order_by", "status"), ("dir", "desc")],
            [r3, r2, r5, r4, r1],
        ),
        (&[("order_by", "integration_id")], [r1, r2, r3, r4, r5]),
        (
            &[("order_by", "integration_id"), ("dir", "desc")],
            [r5, r4, r3, r2, r1],
        ),
        (&[("order_by", "created_at")], [r1, r2, r3, r4, r5]),
        (
            &[("order_by", "created-at"), ("dir", "desc")],
            [r5, r4, r3, r2, r1],
        ),
        // The default order is id ascending.
        (&[], [r1, r2, r3, r4, r5]),
        (&[("dir", "desc")], [r5, r4, r3, r2, r1]),
        (&[("order_by", "id"), ("dir", "desc")], [r5, r4, r3, r2, r1]),
    ];
    for (pairs, expected) in cases {
        assert_ids(&app, RUNS, pairs, &expected).await;
    }

    // Pages of a sorted list follow one another without gaps or repeats.
    let mut paged = Vec::new();
    for offset in ["0", "2", "4"] {
        paged.extend(
            ids(
                &app,
                RUNS,
                &[
                    ("order_by", "end_time"),
                    ("dir", "desc"),
                    ("limit", "2"),
                    ("offset", offset),
                ],
            )
            .await,
        );
    }
    assert_eq!(paged, [r4, r2, r5, r1, r3]);
    // Sorting and filtering together.
    assert_ids(
        &app,
        RUNS,
        &[
            ("end_time[blank]", "false"),
            ("order_by", "end_time"),
            ("dir", "desc"),
        ],
        &[r5, r1, r3],
    )
    .await;
}

#[tokio::test]
async fn integrations_sort_by_any_of_their_fields() {
    let app = spawn_app().await;
    let b = integration(&app, "B_CODE").await;
    let c = integration(&app, "C_CODE").await;
    let mut body = integration_body("A_CODE");
    body.as_object_mut().unwrap().remove("integration-type");
    let a = integration_from(&app, body).await;

    assert_ids(&app, INTEGRATIONS, &[], &[b, c, a]).await;
    assert_ids(&app, INTEGRATIONS, &[("order_by", "code")], &[a, b, c]).await;
    assert_ids(
        &app,
        INTEGRATIONS,
        &[("order_by", "name"), ("dir", "desc")],
        &[c, b, a],
    )
    .await;
    assert_ids(
        &app,
        INTEGRATIONS,
        &[("order_by", "integration_type")],
        &[b, c, a],
    )
    .await;
    assert_ids(
        &app,
        INTEGRATIONS,
        &[("order_by", "integration-type"), ("dir", "desc")],
        &[a, c, b],
    )
    .await;
    assert_ids(
        &app,
        INTEGRATIONS,
        &[("order_by", "code"), ("limit", "1"), ("offset", "1")],
        &[b],
    )
    .await;
}

#[tokio::test]
async fn return_object_limited_answers_ids_only_on_index_and_show() {
    let app = spawn_app().await;
    let integration_id = integration(&app, "LIM").await;
    let r1 = app.create_run("LIM").await;
    let r2 = run_with(&app, "LIM", json!({"total-records": 3})).await;

    let limited = [("return_object", "limited")];
    assert_eq!(
        search(&app, RUNS, &limited).await,
        [json!({"id": r1}), json!({"id": r2})]
    );
    assert_eq!(
        search(
            &app,
            RUNS,
            &[("return_object", "limited"), ("total_records", "3")]
        )
        .await,
        [json!({"id": r2})]
    );
    assert_eq!(
        search(&app, INTEGRATIONS, &limited).await,
        [json!({ "id": integration_id })]
    );

    let query = encode(&limited);
    for (path, id) in [(RUNS, r1), (INTEGRATIONS, integration_id)] {
        let url = format!("{path}/{id}?{query}");
        let (status, body) = app.get_json(&url).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        assert_eq!(body, json!({ "id": id }), "{url}");
        let (status, text) = app.xml(Method::GET, &url, None).await;
        assert_eq!(status, StatusCode::OK, "{url}: {text}");
        assert_eq!(xml_value(&text), json!({ "id": id }), "{url}");
    }
}

#[tokio::test]
async fn return_object_shallow_reduces_the_integration_to_id_code_and_name() {
    let app = spawn_app().await;
    let integration = app.create_integration("SHALLOW").await;
    let reduced = json!({
        "id": integration["id"],
        "code": "SHALLOW",
        "name": "SHALLOW integration",
    });
    let r1 = app.create_run("SHALLOW").await;
    let r2 = run_with(&app, "SHALLOW", json!({"total-records": 7})).await;
    act(&app, r2, "run", None).await;

    let full = search(&app, RUNS, &[]).await;
    let shallow = search(&app, RUNS, &[("return_object", "shallow")]).await;
    assert_eq!(shallow.len(), 2);
    for (full, shallow) in full.iter().zip(&shallow) {
        assert!(full["integration"]["end-system"].is_string(), "{full}");
        let mut expected = full.clone();
        expected["integration"] = reduced.clone();
        assert_eq!(*shallow, expected, "only the association is reduced");
    }
    assert_eq!(shallow[1]["status"], "running");
    assert_eq!(shallow[1]["total-records"], 7);

    let url = format!("{RUNS}/{r1}?return_object=shallow");
    let (status, body) = app.get_json(&url).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut expected = full[0].clone();
    expected["integration"] = reduced.clone();
    assert_eq!(body, expected);
    let (status, text) = app.xml(Method::GET, &url, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(xml_value(&text), expected);
    assert!(!text.contains("end-system"), "{text}");
}

#[tokio::test]
async fn fields_returns_just_the_named_elements_nested_associations_included() {
    let app = spawn_app().await;
    let integration_id = integration(&app, "PICK").await;
    let r1 = app.create_run("PICK").await;
    let r2 = app.create_run("PICK").await;
    act(&app, r2, "run", Some(json!({"total-records": 4}))).await;
    let fields = r#"["id","status",{"integration":["code"]}]"#;

    assert_eq!(
        search(&app, RUNS, &[("fields", fields)]).await,
        [
            json!({"id": r1, "status": "pending", "integration": {"code": "PICK"}}),
            json!({"id": r2, "status": "running", "integration": {"code": "PICK"}}),
        ]
    );
    assert_eq!(
        search(&app, RUNS, &[("fields", fields), ("status", "running")]).await,
        [json!({"id": r2, "status": "running", "integration": {"code": "PICK"}})]
    );
    // Dashed and underscored names alike; a null element stays, as null.
    assert_eq!(
        search(
            &app,
            RUNS,
            &[
                (
                    "fields",
                    r#"["total_records","end-time",{"integration":["end_system","id"]}]"#
                ),
                ("id", &r2.to_string()),
            ],
        )
        .await,
        [json!({
            "total-records": 4,
            "end-time": null,
            "integration": {"id": integration_id, "end-system": "SAP"},
        })]
    );
    assert_eq!(
        search(&app, INTEGRATIONS, &[("fields", r#"["code","name"]"#)]).await,
        [json!({"code": "PICK", "name": "PICK integration"})]
    );

    // On show.
    let query = encode(&[("fields", fields)]);
    let url = format!("{RUNS}/{r2}?{query}");
    let expected = json!({"id": r2, "status": "running", "integration": {"code": "PICK"}});
    let (status, body) = app.get_json(&url).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, expected);
    let (status, text) = app.xml(Method::GET, &url, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(xml_value(&text), expected);
    let url = format!(
        "{INTEGRATIONS}/{integration_id}?{}",
        encode(&[("fields", r#"["id","code"]"#)])
    );
    let (status, body) = app.get_json(&url).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"id": integration_id, "code": "PICK"}));

    // And on a write.
    let url = format!(
        "{RUNS}/{r1}/success?{}",
        encode(&[("fields", r#"["status"]"#)])
    );
    assert_eq!(put(&app, &url, None).await, json!({"status": "successful"}));
}

#[tokio::test]
async fn return_object_none_on_a_write_answers_an_empty_body() {
    let app = spawn_app().await;
    app.create_integration("QUIET").await;
    let id = app.create_run("QUIET").await;

    // JSON: the write happens, and the answer has no body.
    let response = app
        .client
        .put(app.url(&format!("{RUNS}/{id}/run?return_object=none")))
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .body(json!({"total-records": 12}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "");
    let (_, shown) = app.get_json(&format!("{RUNS}/{id}")).await;
    assert_eq!(shown["status"], "running");
    assert_eq!(shown["total-records"], 12);

    // XML likewise.
    let (status, text) = app
        .xml(
            Method::PUT,
            &format!("{RUNS}/{id}/success?return_object=none"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text, "");
    let (_, shown) = app.get_json(&format!("{RUNS}/{id}")).await;
    assert_eq!(shown["status"], "successful");

    // A create too: 201 and nothing else.
    let (status, body) = app
        .post_json(
            &format!("{RUNS}?return_object=none"),
            json!({"integration": {"code": "QUIET"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body, Value::Null);
    assert_eq!(ids(&app, RUNS, &[]).await.len(), 2);

    // A read has nothing to leave out: `none` is refused there.
    assert_refused(&app, RUNS, &[("return_object", "none")], &["return_object"]).await;
    let (status, _) = app
        .get_json(&format!("{RUNS}/{id}?return_object=none"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_empty_result_is_an_empty_json_array_and_an_xml_404() {
    let app = spawn_app().await;
    for path in [RUNS, INTEGRATIONS] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!([]));
        let (status, text) = app.xml(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<errors>\n  \
             <error>No results match your search criteria.</error>\n</errors>\n"
        );
    }

    app.create_integration("SOME").await;
    app.create_run("SOME").await;
    for (path, query) in [
        (RUNS, "status=failed"),
        (RUNS, "integration%5Bcode%5D=NONE"),
        (RUNS, "offset=1"),
        (RUNS, "status=failed&return_object=limited"),
        (INTEGRATIONS, "code=NONE"),
        (INTEGRATIONS, "code=NONE&fields=%5B%22id%22%5D"),
    ] {
        let url = format!("{path}?{query}");
        let (status, body) = app.get_json(&url).await;
        assert_eq!((status, body), (StatusCode::OK, json!([])), "{url}");
        let (status, text) = app.xml(Method::GET, &url, None).await;
        assert_no_results_xml(status, &text, &url);
    }
}

#[tokio::test]
async fn every_bad_query_is_a_400_naming_what_is_wrong() {
    let app = spawn_app().await;
    app.create_integration("BAD").await;
    app.create_run("BAD").await;

    let cases: [(&str, &str, &[&str]); 25] = [
        ("colour", "red", &["'colour'"]),
        ("status[like]", "x", &["'like'"]),
        ("status[EQ]", "x", &["'EQ'"]),
        ("integration[secret]", "x", &["'secret'"]),
        ("integration[code][like]", "x", &["'like'"]),
        ("integration", "5", &["'integration'"]),
        ("status[eq][eq]", "x", &["status[eq][eq]"]),
        ("limit", "-1", &["limit", "'-1'"]),
        ("limit", "abc", &["limit", "'abc'"]),
        ("limit", "0", &["limit"]),
        ("offset", "-5", &["offset", "'-5'"]),
        ("offset", "abc", &["offset", "'abc'"]),
        ("order_by", "nope", &["order_by", "'nope'"]),
        ("order_by", "flow", &["order_by", "'flow'"]),
        ("dir", "sideways", &["dir", "'sideways'"]),
        (
            "created_at[gt]",
            "notadate",
            &["created_at[gt]", "'notadate'"],
        ),
        ("id", "abc", &["'id'", "'abc'"]),
        (
            "total_records[in]",
            "1,two,3",
            &["total_records[in]", "'two'"],
        ),
        (
            "created_at[contains]",
            "2026",
            &["created_at[contains]", "created_at"],
        ),
        (
            "total-records[starts_with]",
            "1",
            &["total-records[starts_with]"],
        ),
        ("flow", "x", &["'flow'"]),
        ("status[blank]", "maybe", &["status[blank]", "'maybe'"]),
        ("status]", "x", &["'status]'"]),
        ("status[eq", "x", &["'status[eq'"]),
        ("status[]", "x", &["'status[]'"]),
    ];
    for (key, value, named) in cases {
        assert_refused(&app, RUNS, &[(key, value)], named).await;
    }

    // A value outside a closed vocabulary, in Rails' words.
    let vocabularies: [(&str, &str, &[&str]); 5] = [
        (
            "status",
            "done",
            &["Status is not included in the list (pending, running, paused, successful, failed)"],
        ),
        (
            "status[in]",
            "failed,Done",
            &["Status is not included in the list"],
        ),
        (
            "status[not_eq]",
            "",
            &["Status is not included in the list"],
        ),
        (
            "integration[direction]",
            "sideways",
            &["Direction is not included in the list (to_coupa, from_coupa)"],
        ),
        (
            "integration_errors[document-type]",
            "Invoices",
            &["Document type is not included in the list (ContingentWorkOrderHeader, "],
        ),
    ];
    for (key, value, named) in vocabularies {
        assert_refused(&app, RUNS, &[(key, value)], named).await;
    }

    // Text that XML cannot carry, in a value or in a key, named without being echoed.
    let unshowable: [(&str, &str, &[&str]); 3] = [
        (
            "status",
            "fail\u{0}ed",
            &["Query parameter 'status' contains U+0000 at character 5"],
        ),
        (
            "integration[code]",
            "\u{1b}[31m",
            &["'integration[code]' contains U+001B"],
        ),
        (
            "st\u{1}atus",
            "failed",
            &["A query parameter name contains U+0001 at character 3"],
        ),
    ];
    for (key, value, named) in unshowable {
        assert_refused(&app, RUNS, &[(key, value)], named).await;
    }

    let shaping: [(&str, &str, &[&str]); 5] = [
        ("fields", "notjson", &["fields"]),
        ("fields", r#"["id",7]"#, &["fields"]),
        ("fields", r#"{"id":1}"#, &["fields"]),
        (
            "fields",
            r#"[{"a":[{"b":[{"c":[{"d":["id"]}]}]}]}]"#,
            &["fields", "3 associations deep"],
        ),
        ("return_object", "weird", &["return_object", "'weird'"]),
    ];
    for (key, value, named) in shaping {
        assert_refused(&app, RUNS, &[(key, value)], named).await;
        assert_refused(&app, INTEGRATIONS, &[(key, value)], named).await;
    }

    let integration_cases: [(&str, &str, &[&str]); 5] = [
        ("colour", "red", &["'colour'"]),
        ("code[like]", "x", &["'like'"]),
        ("status", "running", &["'status'"]),
        ("standard[gt]", "true", &["standard"]),
        ("standard", "maybe", &["'maybe'"]),
    ];
    for (key, value, named) in integration_cases {
        assert_refused(&app, INTEGRATIONS, &[(key, value)], named).await;
    }

    // A refusal is a refusal even next to valid conditions.
    assert_refused(
        &app,
        RUNS,
        &[("status", "pending"), ("colour", "red"), ("limit", "5")],
        &["'colour'"],
    )
    .await;

    // Show checks the shaping keys (it ignores the others) and the text of every one.
    for (key, value, named) in [
        ("fields", "notjson", "fields"),
        ("return_object", "weird", "'weird'"),
        ("status", "\u{0}", "'status' contains U+0000"),
    ] {
        let url = format!("{RUNS}/1?{}", encode(&[(key, value)]));
        let (status, body) = app.get_json(&url).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        let message = messages(&body, "integration-run").join(" ");
        assert!(message.contains(named), "{url}: {message}");
        let (status, text) = app.xml(Method::GET, &url, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {text}");
        assert!(text.contains(named), "{url}: {text}");
    }
}

#[tokio::test]
async fn an_in_list_takes_at_most_500_values() {
    let app = spawn_app().await;
    app.create_integration("LIST").await;
    let first = app.create_run("LIST").await;
    let second = app.create_run("LIST").await;

    let mut values: Vec<String> = (0..498).map(|n| (1_000_000 + n).to_string()).collect();
    values.push(first.to_string());
    values.push(second.to_string());
    let five_hundred = values.join(",");
    assert_ids(&app, RUNS, &[("id[in]", &five_hundred)], &[first, second]).await;
    assert_ids(&app, RUNS, &[("id[not_in]", &five_hundred)], &[]).await;

    values.push("2000000".to_owned());
    let five_hundred_one = values.join(",");
    for key in ["id[in]", "id[not_in]"] {
        assert_refused(&app, RUNS, &[(key, &five_hundred_one)], &[key, "500"]).await;
    }
    let statuses = vec!["pending"; 501].join(",");
    assert_refused(
        &app,
        RUNS,
        &[("status[in]", &statuses)],
        &["status[in]", "500"],
    )
    .await;
}

#[tokio::test]
async fn a_query_value_cannot_inject_sql() {
    let app = spawn_app().await;
    app.create_integration("SAFE").await;
    let first = app.create_run("SAFE").await;
    let second = app.create_run("SAFE").await;

    for (key, value) in [
        ("integration[code]", "x' OR '1'='1"),
        ("integration[code]", "x' OR 1=1 --"),
        ("integration[name]", "\" OR \"\"=\""),
        ("integration[code][contains]", "' OR ''='"),
        ("integration[code][in]", "x') OR ('1'='1"),
        ("integration[code]", "x'); DROP TABLE integration_runs; --"),
        ("integration[name][starts_with]", "%' OR 1=1 --"),
        ("status[contains]", "' OR ''='"),
    ] {
        assert_ids(&app, RUNS, &[(key, value)], &[]).await;
    }
    // A value is only ever a value: no integration has this code, so every run is "not in" it.
    assert_ids(
        &app,
        RUNS,
        &[("integration[code][not_in]", "SAFE') AND ('1'='2")],
        &[first, second],
    )
    .await;
    // On a closed vocabulary such a value is not one of its words.
    for (key, value) in [
        ("status", "x' OR '1'='1"),
        ("status[in]", "x') OR ('1'='1"),
        ("status[not_in]", "pending') AND ('1'='2"),
    ] {
        assert_refused(
            &app,
            RUNS,
            &[(key, value)],
            &["Status is not included in the list"],
        )
        .await;
    }
    assert_refused(&app, RUNS, &[("id", "1 OR 1=1")], &["'1 OR 1=1'"]).await;
    assert_refused(
        &app,
        RUNS,
        &[("order_by", "id; DROP TABLE integration_runs")],
        &["order_by"],
    )
    .await;
    assert_refused(&app, RUNS, &[("status) OR (1", "1")], &["status) OR (1"]).await;

    // Nothing was harmed.
    assert_ids(&app, RUNS, &[], &[first, second]).await;
    assert_ids(
        &app,
        RUNS,
        &[("integration[code]", "SAFE")],
        &[first, second],
    )
    .await;
}

#[tokio::test]
async fn fields_ignores_names_the_resource_does_not_have_on_index_show_and_writes() {
    let app = spawn_app().await;
    let integration_id = integration(&app, "FIXED").await;
    let run = app.create_run("FIXED").await;
    // One fixed list for every resource, as some clients send it.
    let fixed = r#"["id","po-number","status",{"integration":["code","colour"]},{"supplier":["id"]},{"status":["x"]}]"#;
    let expected = json!({"id": run, "status": "pending", "integration": {"code": "FIXED"}});

    assert_eq!(
        search(&app, RUNS, &[("fields", fixed)]).await,
        std::slice::from_ref(&expected)
    );
    assert_eq!(
        search(&app, INTEGRATIONS, &[("fields", fixed)]).await,
        [json!({"id": integration_id})]
    );

    let url = format!("{RUNS}/{run}?{}", encode(&[("fields", fixed)]));
    let (status, body) = app.get_json(&url).await;
    assert_eq!((status, &body), (StatusCode::OK, &expected));
    let (status, text) = app.xml(Method::GET, &url, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(xml_value(&text), expected);

    let url = format!("{RUNS}/{run}/run?{}", encode(&[("fields", fixed)]));
    let running = json!({"id": run, "status": "running", "integration": {"code": "FIXED"}});
    assert_eq!(put(&app, &url, None).await, running);
    let (status, text) = app.xml(Method::PUT, &url, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(xml_value(&text), running);

    // A list of nothing the resource has keeps nothing of each record, in both formats.
    let url = format!("{RUNS}/{run}?{}", encode(&[("fields", r#"["po-number"]"#)]));
    let (status, body) = app.get_json(&url).await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    let (status, text) = app.xml(Method::GET, &url, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("<integration-run"), "{text}");
}

#[tokio::test]
async fn writes_and_shows_ignore_query_parameters_they_do_not_use_but_check_shaping_ones() {
    let app = spawn_app().await;
    app.create_integration("LAX").await;

    let (status, created) = app
        .post_json(
            &format!("{RUNS}?foo=bar&status=failed"),
            json!({"integration": {"code": "LAX"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "pending");
    let run = created["id"].as_i64().expect("run id");

    let answer = put(&app, &format!("{RUNS}/{run}/run?null"), None).await;
    assert_eq!(answer["status"], "running");
    let (status, text) = app
        .xml(
            Method::PUT,
            &format!("{RUNS}/{run}/pause?null&order_by=nope"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(xml_value(&text)["status"], "paused");
    let answer = update(&app, run, json!({"total-records": 3})).await;
    assert_eq!(answer["total-records"], 3);

    // Shaping parameters still shape, and are still checked, next to ignored ones.
    let answer = put(
        &app,
        &format!("{RUNS}/{run}?null&return_object=limited"),
        Some(json!({"records-processed": 1})),
    )
    .await;
    assert_eq!(answer, json!({"id": run}));
    let url = format!("{RUNS}/{run}/run?null&return_object=weird");
    let (status, body) = app.put_json(&url, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(messages(&body, "integration-run")[0].contains("'weird'"));
    let (status, text) = app.xml(Method::PUT, &url, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("'weird'"), "{text}");
    // Text XML cannot carry is refused in any parameter, used or not, naming it.
    for query in ["fields=%5B%22id%00%22%5D", "null=%01"] {
        let url = format!("{RUNS}/{run}/run?{query}");
        let (status, body) = app.put_json(&url, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        let (status, text) = app.xml(Method::PUT, &url, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {text}");
        assert_eq!(
            xml_value(&text),
            json!({"error": messages(&body, "integration-run")[0]})
        );
    }
    assert_eq!(
        app.get_json(&format!("{RUNS}/{run}")).await.1["status"],
        "paused"
    );

    // A show of one record uses only the shaping parameters, as Rails does.
    let url = format!("{RUNS}/{run}?status=failed&colour=red&return_object=limited");
    let (status, body) = app.get_json(&url).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"id": run})));
    let (status, text) = app.xml(Method::GET, &url, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(xml_value(&text), json!({"id": run}));
}

#[tokio::test]
async fn a_repeated_query_key_keeps_its_last_value_as_rack_parses_it() {
    let app = spawn_app().await;
    app.create_integration("REP").await;
    let failed = app.create_run("REP").await;
    act(&app, failed, "fail", None).await;
    let successful = app.create_run("REP").await;
    act(&app, successful, "success", None).await;
    let pending = app.create_run("REP").await;

    let cases: [(Pairs, &[i64]); 6] = [
        (
            &[("status", "failed"), ("status", "successful")],
            &[successful],
        ),
        (&[("status", "successful"), ("status", "failed")], &[failed]),
        (&[("limit", "1"), ("limit", "2")], &[failed, successful]),
        (
            &[("order_by", "id"), ("dir", "asc"), ("dir", "desc")],
            &[pending, successful, failed],
        ),
        // Distinct keys, even on one field, stay ANDed.
        (
            &[
                ("id[gt]", &failed.to_string()),
                ("id[lt]", &pending.to_string()),
            ],
            &[successful],
        ),
        (&[("status", "failed"), ("status[eq]", "successful")], &[]),
    ];
    for (pairs, expected) in cases {
        assert_ids(&app, RUNS, pairs, expected).await;
    }

    // The bound of 20 conditions counts them once repeats are dropped.
    let first = failed.to_string();
    let repeats: Vec<(&str, &str)> = (0..25).map(|_| ("id[gt_or_eq]", first.as_str())).collect();
    assert_ids(&app, RUNS, &repeats, &[failed, successful, pending]).await;
    // A refused value that a later one replaces is never read.
    assert_ids(
        &app,
        RUNS,
        &[("status", "done"), ("status", "Pending")],
        &[pending],
    )
    .await;
}

#[tokio::test]
async fn every_closed_vocabulary_matches_without_case_and_refuses_what_it_does_not_hold() {
    let app = spawn_app().await;
    let mut body = integration_body("VOC");
    body["end-system-type"] = json!("third_party_vendor");
    let integration = integration_from(&app, body).await;
    let run = app.create_run("VOC").await;
    let error = app.file_error(run, "InvoiceHeader", false).await["id"]
        .as_i64()
        .expect("error id");
    let (status, contact) = app
        .post_json(
            "/api/integration_contacts",
            json!({"contact-alert-type": "Functional", "contactable-type": "SupplierUser",
                   "contactable-id": 5, "integration": {"id": integration},
                   "email": "ops@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{contact}");
    let contact = contact["id"].as_i64().expect("contact id");

    let found: [(&str, Pairs, i64); 7] = [
        (
            INTEGRATIONS,
            &[("end_system_type", "THIRD_PARTY_VENDOR")],
            integration,
        ),
        (
            INTEGRATIONS,
            &[("direction[in]", "To_Coupa,FROM_COUPA")],
            integration,
        ),
        (
            RUNS,
            &[("integration[end-system-type][starts_with]", "Third")],
            run,
        ),
        (
            RUNS,
            &[("integration_errors[document_type]", "invoiceheader")],
            run,
        ),
        (
            "/api/integration_errors",
            &[
                ("document-type", "INVOICEHEADER"),
                ("contact_alert_type", "technical"),
            ],
            error,
        ),
        (
            "/api/integration_contacts",
            &[("contactable_type", "supplieruser")],
            contact,
        ),
        (
            "/api/integration_contacts",
            &[("contact-alert-type[not_eq]", "TECHNICAL")],
            contact,
        ),
    ];
    for (path, pairs, id) in found {
        let url = format!("{path}?{}", encode(pairs));
        let (status, body) = app.get_json(&url).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        let ids: Vec<i64> = body
            .as_array()
            .expect(&url)
            .iter()
            .filter_map(|r| r["id"].as_i64())
            .collect();
        assert_eq!(ids, [id], "{url}");
        let (status, text) = app.xml(Method::GET, &url, None).await;
        assert_eq!(status, StatusCode::OK, "{url}: {text}");
    }

    let refused: [(&str, Pairs, &str); 4] = [
        (
            INTEGRATIONS,
            &[("end_system_type", "mainframe")],
            "End system type is not included in the list (internal, payroll, erp, hr, third_party_partner, third_party_vendor, other)",
        ),
        (
            INTEGRATIONS,
            &[("integration-type[not_in]", "api,csv")],
            "Integration type is not included in the list (flat_file, api, corporate_credit_card_file, json, xml, original_format)",
        ),
        (
            "/api/integration_contacts",
            &[("contactable_type", "Group")],
            "Contactable type is not included in the list (User, UserGroup, ApprovalGroup, Supplier, SupplierUser)",
        ),
        (
            "/api/integration_errors",
            &[("contact_alert_type", "urgent")],
            "Contact alert type is not included in the list (Technical, Functional, Both)",
        ),
    ];
    for (path, pairs, message) in refused {
        let url = format!("{path}?{}", encode(pairs));
        let (status, body) = app.get_json(&url).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert!(body.to_string().contains(message), "{url}: {body}");
        let (status, text) = app.xml(Method::GET, &url, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {text}");
        assert_eq!(xml_value(&text), json!({"error": message}), "{url}");
    }
}

#[tokio::test]
async fn a_query_that_is_not_utf8_once_decoded_is_a_400_naming_the_parameter() {
    let app = spawn_app().await;
    app.create_integration("UTF").await;
    let run = app.create_run("UTF").await;
    for path in [
        format!("{RUNS}?integration%5Bcode%5D=%FF"),
        format!("{RUNS}/{run}?fields=%C3"),
    ] {
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        let message = &messages(&body, "integration-run")[0];
        assert!(message.contains("is not UTF-8"), "{path}: {message}");
        assert!(
            message.contains("'integration[code]'") || message.contains("'fields'"),
            "{message}"
        );
        let (status, text) = app.xml(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {text}");
        assert_eq!(xml_value(&text), json!({"error": message}));
    }
}
