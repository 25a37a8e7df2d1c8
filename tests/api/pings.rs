//! Ping URLs (`/ping/<key>[/start|/fail|/log|/<exit-status>][?rid=…]`) and the ping log
//! (`/api/integrations/:id/monitor/pings`), over HTTP like any client.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, messages, spawn_app, xml_value};

/// The body limit every ping answer announces.
const LIMIT: usize = 10_000;

/// An integration with `code`, and its monitor's ping URL.
async fn monitored(app: &TestApp, code: &str) -> (i64, String) {
    let id = app.create_integration(code).await["id"].as_i64().unwrap();
    let (status, monitor) = app
        .get_json(&format!("/api/integrations/{id}/monitor"))
        .await;
    assert_eq!(status, StatusCode::OK, "{monitor}");
    (id, monitor["ping-url"].as_str().unwrap().to_owned())
}

/// A ping without credentials: the status, the `Ping-Body-Limit` header and the body.
async fn ping(method: Method, url: &str, body: Option<Vec<u8>>) -> (StatusCode, String, String) {
    let mut request = reqwest::Client::new()
        .request(method, url)
        .header("User-Agent", "cron-test/1.0");
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await.expect("ping sent");
    let status = response.status();
    let limit = response
        .headers()
        .get("ping-body-limit")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    if status.is_success() || status.is_client_error() {
        let kind = response.headers()["content-type"].to_str().unwrap();
        assert!(kind.starts_with("text/plain"), "{kind}");
    }
    (status, limit, response.text().await.unwrap())
}

async fn get(url: &str) -> (StatusCode, String, String) {
    ping(Method::GET, url, None).await
}

/// The ping log of the integration, newest first.
async fn log(app: &TestApp, id: i64) -> Vec<Value> {
    let (status, body) = app
        .get_json(&format!("/api/integrations/{id}/monitor/pings"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

async fn run(app: &TestApp, run_id: &Value) -> Value {
    let (status, run) = app
        .get_json(&format!("/api/integration_runs/{run_id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    run
}

/// The runs of the integration, oldest first.
async fn runs(app: &TestApp, id: i64) -> Vec<Value> {
    let (status, body) = app
        .get_json(&format!("/api/integration_runs?integration[id]={id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

#[tokio::test]
async fn every_shape_answers_ok_by_get_head_and_post_with_and_without_a_rid() {
    let app = spawn_app().await;
    let (id, url) = monitored(&app, "SHAPES").await;
    let shapes = ["", "/start", "/fail", "/log", "/0", "/3"];
    let methods = [Method::GET, Method::HEAD, Method::POST];
    let mut sent = 0;
    for shape in shapes {
        for method in &methods {
            for rid in ["", "?rid=3f2c9a1e-6d1b-4f3e-9c1a-0d5e8b7a6c4f"] {
                let target = format!("{url}{shape}{rid}");
                let (status, limit, text) = ping(method.clone(), &target, None).await;
                assert_eq!(status, StatusCode::OK, "{method} {target}: {text}");
                assert_eq!(limit, LIMIT.to_string(), "{method} {target}");
                let expected = if *method == Method::HEAD { "" } else { "OK" };
                assert_eq!(text, expected, "{method} {target}");
                sent += 1;
            }
        }
    }
    // Every ping is logged, each as what it said.
    let mut logged = Vec::new();
    for offset in [0, 50] {
        let (_, page) = app
            .get_json(&format!(
                "/api/integrations/{id}/monitor/pings?offset={offset}"
            ))
            .await;
        logged.extend(page.as_array().unwrap().clone());
    }
    assert_eq!(logged.len(), sent);
    let kinds: Vec<&str> = logged.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    for kind in ["start", "success", "fail", "log"] {
        assert!(kinds.contains(&kind), "{kinds:?}");
    }
    let exit3 = logged.iter().find(|p| p["exit-status"] == 3).unwrap();
    assert_eq!(exit3["kind"], "fail");
    assert_eq!(exit3["user-agent"], "cron-test/1.0");
    let exit0 = logged.iter().find(|p| p["exit-status"] == 0).unwrap();
    assert_eq!(exit0["kind"], "success");
}

#[tokio::test]
async fn a_start_then_a_success_without_rid_is_one_successful_run_made_by_no_client() {
    let app = spawn_app().await;
    let (id, url) = monitored(&app, "PAIR").await;
    assert_eq!(get(&format!("{url}/start")).await.0, StatusCode::OK);
    let started = log(&app, id).await[0].clone();
    assert_eq!(started["kind"], "start");
    assert_eq!(started["rid"], json!(null));
    let running = run(&app, &started["run-id"]).await;
    assert_eq!(running["status"], "running");
    assert!(running["start-time"].is_string(), "{running}");
    assert_eq!(running["end-time"], json!(null));
    assert_eq!(running["created-by"], json!(null));
    assert_eq!(running["integration"]["id"], id);

    assert_eq!(get(&url).await.0, StatusCode::OK);
    let ended = log(&app, id).await[0].clone();
    assert_eq!(ended["kind"], "success");
    assert_eq!(ended["run-id"], started["run-id"]);
    let done = run(&app, &started["run-id"]).await;
    assert_eq!(done["status"], "successful");
    assert!(done["end-time"].is_string(), "{done}");
    assert_eq!(runs(&app, id).await.len(), 1);
}

#[tokio::test]
async fn an_end_without_an_open_run_is_a_run_that_starts_and_ends_now() {
    let app = spawn_app().await;
    let (id, url) = monitored(&app, "LONE").await;
    assert_eq!(get(&format!("{url}/0")).await.0, StatusCode::OK);
    assert_eq!(
        get(&format!("{url}/fail?rid=never-started")).await.0,
        StatusCode::OK
    );
    let all = runs(&app, id).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["status"], "successful");
    assert_eq!(all[0]["start-time"], all[0]["end-time"]);
    assert_eq!(all[1]["status"], "failed");
    assert_eq!(all[1]["integration-errors"].as_array().unwrap().len(), 1);
    // A success with a rid does not end a run started without one, nor the reverse.
    assert_eq!(get(&format!("{url}/start")).await.0, StatusCode::OK);
    assert_eq!(get(&format!("{url}?rid=other")).await.0, StatusCode::OK);
    let all = runs(&app, id).await;
    assert_eq!(all.len(), 4);
    assert_eq!(all[2]["status"], "running");
    assert_eq!(all[3]["status"], "successful");
}

#[tokio::test]
async fn concurrent_runs_pair_their_start_and_end_by_rid_in_either_order() {
    let app = spawn_app().await;
    let (id, url) = monitored(&app, "OVERLAP").await;
    for rid in ["job-a", "job-b"] {
        assert_eq!(
            get(&format!("{url}/start?rid={rid}")).await.0,
            StatusCode::OK
        );
    }
    // b ends first, failing; then a, successfully.
    assert_eq!(get(&format!("{url}/2?rid=job-b")).await.0, StatusCode::OK);
    let (status, _, _) = ping(
        Method::POST,
        &format!("{url}?rid=job-a"),
        Some(b"done".to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let pings = log(&app, id).await;
    let start_of = |rid: &str| {
        pings
            .iter()
            .find(|p| p["kind"] == "start" && p["rid"] == rid)
            .unwrap()["run-id"]
            .clone()
    };
    let (a, b) = (start_of("job-a"), start_of("job-b"));
    assert_ne!(a, b);
    assert_eq!(run(&app, &a).await["status"], "successful");
    let failed = run(&app, &b).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["integration-errors"].as_array().unwrap().len(), 1);
    assert_eq!(pings[0]["run-id"], a);
    assert_eq!(pings[0]["body"], "done");
    assert_eq!(pings[1]["run-id"], b);
    assert_eq!(pings[1]["exit-status"], 2);
    assert_eq!(runs(&app, id).await.len(), 2);
}

#[tokio::test]
async fn a_second_start_with_an_open_rid_pairs_the_rid_with_the_new_run() {
    let app = spawn_app().await;
    let (id, url) = monitored(&app, "RESTART").await;
    for _ in 0..2 {
        assert_eq!(get(&format!("{url}/start?rid=r1")).await.0, StatusCode::OK);
    }
    assert_eq!(get(&format!("{url}?rid=r1")).await.0, StatusCode::OK);
    let all = runs(&app, id).await;
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[0]["status"], "running",
        "left for the monitor to call stuck"
    );
    assert_eq!(all[1]["status"], "successful");
}

#[tokio::test]
async fn a_failure_files_a_runledger_job_error_with_the_body_or_the_exit_status() {
    let app = spawn_app().await;
    let (id, url) = monitored(&app, "FAILS").await;
    assert_eq!(get(&format!("{url}/start")).await.0, StatusCode::OK);
    let (status, _, _) = ping(
        Method::POST,
        &format!("{url}/fail"),
        Some(b"disk full\n".to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(get(&format!("{url}/start")).await.0, StatusCode::OK);
    assert_eq!(get(&format!("{url}/3")).await.0, StatusCode::OK);
    assert_eq!(get(&format!("{url}/fail")).await.0, StatusCode::OK);
    let all = runs(&app, id).await;
    assert_eq!(all.len(), 3);
    let expected = [
        ("fail", "disk full\n"),
        ("exit 3", "exit status 3"),
        ("fail", "failed by ping"),
    ];
    for (run, (code, message)) in all.iter().zip(expected) {
        assert_eq!(run["status"], "failed", "{run}");
        let errors = run["integration-errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{run}");
        let (status, error) = app
            .get_json(&format!("/api/integration_errors/{}", errors[0]["id"]))
            .await;
        assert_eq!(status, StatusCode::OK, "{error}");
        assert_eq!(error["document-type"], "Runledger::Job");
        assert_eq!(error["contact-alert-type"], "Technical");
        assert_eq!(error["resolved"], false);
        assert_eq!(error["created-by"], json!(null));
        assert_eq!(error["integration"]["id"], id);
        assert_eq!(error["responses"][0]["response-code"], code);
        assert_eq!(error["responses"][0]["response-message"], message);
    }
}

#[tokio::test]
async fn a_success_finishes_a_run_whose_unresolved_errors_make_it_failed() {
    let app = spawn_app().await;
    let (id, url) = monitored(&app, "FINISH").await;
    assert_eq!(get(&format!("{url}/start")).await.0, StatusCode::OK);
    let run_id = log(&app, id).await[0]["run-id"].clone();
    app.file_error(run_id.as_i64().unwrap(), "OrderHeader", false)
        .await;
    assert_eq!(get(&url).await.0, StatusCode::OK);
    assert_eq!(run(&app, &run_id).await["status"], "failed");
}

#[tokio::test]
async fn a_log_ping_keeps_its_body_and_changes_no_run() {
    let app = spawn_app().await;
    let (id, url) = monitored(&app, "LOGS").await;
    assert_eq!(get(&format!("{url}/start")).await.0, StatusCode::OK);
    let (status, _, _) = ping(
        Method::POST,
        &format!("{url}/log"),
        Some(b"step 2 of 5".to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let all = runs(&app, id).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["status"], "running");
    let logged = log(&app, id).await[0].clone();
    assert_eq!(logged["kind"], "log");
    assert_eq!(logged["body"], "step 2 of 5");
    assert_eq!(logged["run-id"], json!(null));
}

#[tokio::test]
async fn a_body_is_cut_at_the_limit_and_kept_as_text_xml_can_carry() {
    let app = spawn_app().await;
    let (id, url) = monitored(&app, "BODY").await;
    let long = vec![b'x'; LIMIT + 5_000];
    let (status, limit, text) = ping(Method::POST, &format!("{url}/log"), Some(long)).await;
    assert_eq!(
        (status, limit.as_str(), text.as_str()),
        (StatusCode::OK, "10000", "OK")
    );
    let (status, _, _) = ping(
        Method::POST,
        &format!("{url}/log"),
        Some(b"\x1b[31mred\x00 \xff".to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let pings = log(&app, id).await;
    assert_eq!(pings[0]["body"], "\u{FFFD}[31mred\u{FFFD} \u{FFFD}");
    assert_eq!(pings[1]["body"].as_str().unwrap(), "x".repeat(LIMIT));
    // And it reads back from XML.
    let (status, xml) = app
        .xml(
            Method::GET,
            &format!("/api/integrations/{id}/monitor/pings?limit=1"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    assert!(xml.contains("<monitor-pings"), "{xml}");
    assert_eq!(
        xml_value(&xml)[0]["body"],
        "\u{FFFD}[31mred\u{FFFD} \u{FFFD}"
    );
}

#[tokio::test]
async fn an_unknown_or_malformed_key_is_not_found_and_changes_nothing() {
    let app = spawn_app().await;
    let (id, url) = monitored(&app, "KEYS").await;
    let base = url.rsplit_once('/').unwrap().0.to_owned();
    for key in [
        "0123456789abcdef0123456789abcdef",
        "nope",
        "0123456789ABCDEF0123456789ABCDEF",
    ] {
        for shape in ["", "/start", "/fail", "/log", "/1"] {
            let (status, limit, text) = get(&format!("{base}/{key}{shape}")).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{key}{shape}");
            assert_eq!((limit.as_str(), text.as_str()), ("10000", "not found"));
        }
    }
    assert!(log(&app, id).await.is_empty());
    assert!(runs(&app, id).await.is_empty());
}

#[tokio::test]
async fn a_bad_exit_status_or_rid_is_a_400_that_changes_nothing() {
    let app = spawn_app().await;
    let (id, url) = monitored(&app, "BAD").await;
    for target in [
        format!("{url}/256"),
        format!("{url}/-1"),
        format!("{url}/started"),
        format!("{url}/start?rid="),
        format!("{url}?rid=a%20b"),
        format!("{url}/fail?rid={}", "x".repeat(65)),
    ] {
        let (status, limit, text) = get(&target).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{target}: {text}");
        assert_eq!(limit, "10000");
        assert!(text.starts_with("invalid"), "{text}");
    }
    assert!(log(&app, id).await.is_empty());
    assert!(runs(&app, id).await.is_empty());
}

#[tokio::test]
async fn the_ping_log_is_newest_first_paged_and_needs_read_credentials() {
    let app = spawn_app().await;
    let (id, url) = monitored(&app, "LOGGED").await;
    for shape in ["/start", "/log", ""] {
        assert_eq!(get(&format!("{url}{shape}")).await.0, StatusCode::OK);
    }
    let path = format!("/api/integrations/{id}/monitor/pings");
    let kinds = |pings: &Value| -> Vec<String> {
        pings
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, newest) = app.get_json(&path).await;
    assert_eq!(kinds(&newest), ["success", "log", "start"]);
    let (_, page) = app.get_json(&format!("{path}?limit=1&offset=1")).await;
    assert_eq!(kinds(&page), ["log"]);
    let (_, oldest) = app.get_json(&format!("{path}?dir=asc")).await;
    assert_eq!(kinds(&oldest), ["start", "log", "success"]);
    let (_, starts) = app.get_json(&format!("{path}?kind=start")).await;
    assert_eq!(kinds(&starts), ["start"]);
    assert_eq!(newest[0]["integration-id"], id);
    assert!(newest[0]["received-at"].is_string());

    let (status, body) = app.get_json(&format!("{path}?limit=0")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(!messages(&body, "monitor-ping").is_empty());
    let (status, _) = app.get_json("/api/integrations/999/monitor/pings").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let anonymous = reqwest::Client::new()
        .get(app.url(&path))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // Another integration's log is its own.
    let (other, _) = monitored(&app, "OTHER").await;
    assert!(log(&app, other).await.is_empty());
}

#[tokio::test]
async fn ends_racing_for_one_open_run_end_it_once_and_record_the_rest() {
    let app = spawn_app().await;
    let (id, url) = monitored(&app, "RACE").await;
    assert_eq!(get(&format!("{url}/start?rid=r")).await.0, StatusCode::OK);
    let target = format!("{url}/fail?rid=r");
    let answers = futures_util::future::join_all((0..6).map(|_| get(&target))).await;
    for (status, _, text) in answers {
        assert_eq!(status, StatusCode::OK, "{text}");
    }
    let all = runs(&app, id).await;
    assert_eq!(
        all.len(),
        6,
        "one ended, five made: every ping is in the ledger"
    );
    for run in &all {
        assert_eq!(run["status"], "failed", "{run}");
        assert_eq!(
            run["integration-errors"].as_array().unwrap().len(),
            1,
            "{run}"
        );
    }
}
