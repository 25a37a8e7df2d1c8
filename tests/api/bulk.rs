//! Bulk actions (ours): `POST /api/integration_runs/bulk/{fail,pause}` and
//! `POST /api/integration_errors/bulk/{resolve,unresolve}` on every record a query selects,
//! in one transaction, capped, audited in the transition log, with a dry run that says
//! exactly what the action then does.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use runledger::auth;
use runledger::domain::clients::{ClientKind, Scopes};
use runledger::seeder;
use serde_json::{Value, json};

use crate::events::Stream;
use crate::helpers::{TestApp, messages, spawn_app, xml_value};

/// A bulk request in JSON (no body).
async fn bulk(app: &TestApp, path: &str) -> (StatusCode, Value) {
    app.json(Method::POST, path, None).await
}

/// A run of `code` moved to `status` by its single action (`running`, `failed`, …).
async fn run_in(app: &TestApp, code: &str, action: &str) -> i64 {
    let id = app.create_run(code).await;
    if action != "pending" {
        let (status, body) = app
            .put_json(&format!("/api/integration_runs/{id}/{action}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    id
}

/// Every entry of the transition log with cause `bulk`.
async fn bulk_entries(app: &TestApp) -> Vec<Value> {
    let (status, log) = app
        .get_json("/api/integration_run_transitions?cause=bulk")
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    log.as_array().unwrap().clone()
}

/// A document without the times that move between a dry run and the action.
fn settled(doc: &Value) -> Value {
    let mut doc = doc.clone();
    for key in ["updated-at", "end-time"] {
        doc.as_object_mut().unwrap().remove(key);
    }
    doc
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_dry_run_of_a_bulk_fail_writes_nothing_and_says_exactly_what_the_action_then_does() {
    let app = spawn_app().await;
    app.create_integration("NIGHTLY").await;
    app.create_integration("OTHER").await;
    let running = [
        run_in(&app, "NIGHTLY", "run").await,
        run_in(&app, "NIGHTLY", "run").await,
    ];
    let paused = run_in(&app, "NIGHTLY", "pause").await;
    let failed = run_in(&app, "NIGHTLY", "fail").await;
    let done = run_in(&app, "NIGHTLY", "success").await;
    let elsewhere = run_in(&app, "OTHER", "run").await;
    let path = "/api/integration_runs/bulk/fail?integration[code]=NIGHTLY";

    let (status, dry) = bulk(&app, &format!("{path}&dry_run=true")).await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(dry["action"], "fail");
    assert_eq!(dry["dry-run"], true);
    assert_eq!(dry["matched"], 5);
    assert_eq!(dry["changed"], 3);
    assert_eq!(
        ids(&dry["integration-runs"]),
        [running[0], running[1], paused]
    );
    assert_eq!(
        dry["skipped"],
        json!([
            {"id": failed, "reason": format!("Integration run {failed} is already failed")},
            {"id": done, "reason": "Cannot move an integration run from successful to failed"},
        ])
    );
    for run in dry["integration-runs"].as_array().unwrap() {
        assert_eq!(run["status"], "failed", "{run}");
        assert!(run["end-time"].is_string(), "{run}");
        assert_eq!(run["updated-by"]["login"], "test-client");
    }
    // Nothing was written: the runs, their log and their events are as they were.
    for id in [running[0], running[1], paused] {
        let (_, run) = app.get_json(&format!("/api/integration_runs/{id}")).await;
        assert_ne!(run["status"], "failed", "{run}");
    }
    assert!(bulk_entries(&app).await.is_empty());

    let (status, done_) = bulk(&app, path).await;
    assert_eq!(status, StatusCode::OK, "{done_}");
    assert_eq!(done_["dry-run"], false);
    for key in ["action", "matched", "changed", "skipped"] {
        assert_eq!(done_[key], dry[key], "{key}");
    }
    let (dry_runs, real_runs) = (
        dry["integration-runs"].as_array().unwrap(),
        done_["integration-runs"].as_array().unwrap(),
    );
    assert_eq!(dry_runs.len(), real_runs.len());
    for (would, did) in dry_runs.iter().zip(real_runs) {
        assert_eq!(settled(would), settled(did));
        // As the API now shows it.
        let (_, stored) = app
            .get_json(&format!("/api/integration_runs/{}", did["id"]))
            .await;
        assert_eq!(&stored, did);
    }
    let (_, other) = app
        .get_json(&format!("/api/integration_runs/{elsewhere}"))
        .await;
    assert_eq!(other["status"], "running");

    // Each changed run has its entry, cause bulk, from its status to failed, by its client.
    let entries = bulk_entries(&app).await;
    assert_eq!(ids_of_runs(&entries), [running[0], running[1], paused]);
    for (entry, from) in entries.iter().zip(["running", "running", "paused"]) {
        assert_eq!(entry["from-status"], from);
        assert_eq!(entry["to-status"], "failed");
        assert_eq!(entry["created-by"]["login"], "test-client");
        assert_eq!(entry["changes"][0]["field"], "status");
    }

    // Again: everything is failed or finished now, so nothing changes and nothing is logged.
    let (_, again) = bulk(&app, path).await;
    assert_eq!(
        (again["matched"].as_i64(), again["changed"].as_i64()),
        (Some(5), Some(0))
    );
    assert_eq!(bulk_entries(&app).await.len(), 3);
}

fn ids_of_runs(entries: &[Value]) -> Vec<i64> {
    entries
        .iter()
        .map(|e| e["integration-run-id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_bulk_pause_answers_in_xml_and_skips_finished_runs_with_the_reason() {
    let app = spawn_app().await;
    app.create_integration("XMLBULK").await;
    let open = run_in(&app, "XMLBULK", "run").await;
    let done = run_in(&app, "XMLBULK", "success").await;
    let (status, text) = app
        .xml(
            Method::POST,
            "/api/integration_runs/bulk/pause?integration[code]=xmlbulk&dry_run=true",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("<bulk-action>"), "{text}");
    assert!(
        text.contains(r#"<dry-run type="boolean">true</dry-run>"#),
        "{text}"
    );
    let doc = xml_value(&text);
    assert_eq!(doc["action"], "pause");
    assert_eq!(doc["matched"], 2);
    assert_eq!(doc["skipped"][0]["id"], done);
    assert_eq!(
        doc["skipped"][0]["reason"],
        "Cannot move an integration run from successful to paused"
    );
    assert_eq!(doc["integration-runs"][0]["id"], open);
    assert_eq!(doc["integration-runs"][0]["status"], "paused");

    let (status, text) = app
        .xml(
            Method::POST,
            "/api/integration_runs/bulk/pause.xml?integration[code]=XMLBULK",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let doc = xml_value(&text);
    assert_eq!(doc["dry-run"], false);
    assert_eq!(doc["changed"], 1);
    let (_, run) = app.get_json(&format!("/api/integration_runs/{open}")).await;
    assert_eq!(run["status"], "paused");
    let entries = bulk_entries(&app).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (&entries[0]["from-status"], &entries[0]["to-status"]),
        (&json!("running"), &json!("paused"))
    );

    // Nothing matched: a 200 that says so, in XML as in JSON (not an index's 404).
    let (status, text) = app
        .xml(
            Method::POST,
            "/api/integration_runs/bulk/pause?integration[code]=NOBODY",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(xml_value(&text)["matched"], 0);
}

#[tokio::test]
async fn the_runs_listed_are_shown_as_the_index_shows_them_with_extensions_and_shape() {
    let app = spawn_app().await;
    app.create_integration("SHAPED").await;
    let run = run_in(&app, "SHAPED", "run").await;
    let path = "/api/integration_runs/bulk/fail?integration[code]=SHAPED&dry_run=true";
    let (_, plain) = bulk(&app, path).await;
    assert!(plain["integration-runs"][0].get("attempt").is_none());
    let (status, extended) = crate::transitions::extended(&app, Method::POST, path, None).await;
    assert_eq!(status, StatusCode::OK, "{extended}");
    assert_eq!(extended["integration-runs"][0]["attempt"], 1);
    let (_, limited) = bulk(&app, &format!("{path}&return_object=limited")).await;
    assert_eq!(limited["integration-runs"], json!([{"id": run}]));
    let (_, picked) = bulk(&app, &format!("{path}&fields=[\"id\",\"status\"]")).await;
    assert_eq!(
        picked["integration-runs"],
        json!([{"id": run, "status": "failed"}])
    );
}

#[tokio::test]
async fn bulk_resolve_and_unresolve_change_errors_by_query_and_log_them_on_their_runs() {
    let app = spawn_app().await;
    app.create_integration("ERRS").await;
    let (a, b) = (
        run_in(&app, "ERRS", "run").await,
        run_in(&app, "ERRS", "run").await,
    );
    let e1 = app.file_error(a, "Supplier", false).await["id"]
        .as_i64()
        .unwrap();
    let e2 = app.file_error(a, "Supplier", false).await["id"]
        .as_i64()
        .unwrap();
    let e3 = app.file_error(a, "Account", false).await["id"]
        .as_i64()
        .unwrap();
    let e4 = app.file_error(b, "Supplier", true).await["id"]
        .as_i64()
        .unwrap();
    let path = "/api/integration_errors/bulk/resolve?document_type=Supplier";
    let mut stream = Stream::open(&app, &app.address, "", None).await;
    // A stream may start a little before it opened (on PostgreSQL, at the last settled
    // event): read up to a marker of ours, so that what comes next is what follows it.
    let (status, _) = app
        .put_json(
            &format!("/api/integration_runs/{b}"),
            Some(json!({"total-records": 5})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    while !stream
        .take(1)
        .await
        .iter()
        .any(|e| e.data["transition"]["cause"] == "update" && e.data["integration-run-id"] == b)
    {
    }

    let (status, dry) = bulk(&app, &format!("{path}&dry_run=true")).await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(
        (dry["matched"].as_i64(), dry["changed"].as_i64()),
        (Some(3), Some(2))
    );
    assert_eq!(ids(&dry["integration-errors"]), [e1, e2]);
    assert_eq!(
        dry["skipped"],
        json!([{"id": e4, "reason": format!("Integration error {e4} is already resolved")}])
    );
    assert!(bulk_entries(&app).await.is_empty());
    let (_, stored) = app.get_json(&format!("/api/integration_errors/{e1}")).await;
    assert_eq!(stored["resolved"], false);

    let (status, done) = bulk(&app, path).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    // The usual events, and none of the dry run's before them: each error's, then the
    // entry in its run's log.
    let events: Vec<(String, Value)> = stream
        .take(3)
        .await
        .into_iter()
        .map(|e| (e.topic, e.data))
        .collect();
    assert_eq!(events[0].0, "integration-error");
    assert_eq!(events[0].1["integration-error"]["id"], e1);
    assert_eq!(events[1].1["integration-error"]["id"], e2);
    assert_eq!(events[1].1["integration-error"]["resolved"], true);
    assert_eq!(events[2].0, "run");
    assert_eq!(events[2].1["transition"]["cause"], "bulk");
    for key in ["matched", "changed", "skipped"] {
        assert_eq!(done[key], dry[key], "{key}");
    }
    for (would, did) in dry["integration-errors"]
        .as_array()
        .unwrap()
        .iter()
        .zip(done["integration-errors"].as_array().unwrap())
    {
        assert_eq!(settled(would), settled(did));
        assert_eq!(did["resolved"], true);
        let (_, stored) = app
            .get_json(&format!("/api/integration_errors/{}", did["id"]))
            .await;
        assert_eq!(&stored, did);
    }
    // One entry on run a, naming both errors; none on run b, whose error was skipped.
    let entries = bulk_entries(&app).await;
    assert_eq!(ids_of_runs(&entries), [a]);
    assert_eq!(entries[0]["from-status"], "running");
    assert_eq!(entries[0]["to-status"], "running");
    assert_eq!(
        entries[0]["changes"],
        json!([
            {"field": format!("integration-error-{e1}-resolved"), "from": false, "to": true},
            {"field": format!("integration-error-{e2}-resolved"), "from": false, "to": true},
        ])
    );
    // `finish` sees it: run a still has e3 open.
    let (_, run) = app.get_json(&format!("/api/integration_runs/{a}")).await;
    let resolved: Vec<bool> = run["integration-errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resolved"].as_bool().unwrap())
        .collect();
    assert_eq!(resolved, [true, true, false]);

    // Unresolve everything of run a, in XML: e3 is open already.
    let (status, text) = app
        .xml(
            Method::POST,
            &format!("/api/integration_errors/bulk/unresolve?integration_run_id={a}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let doc = xml_value(&text);
    assert_eq!(doc["action"], "unresolve");
    assert_eq!(doc["changed"], 2);
    assert_eq!(doc["skipped"][0]["id"], e3);
    assert_eq!(doc["integration-errors"][1]["resolved"], false);
    let entries = bulk_entries(&app).await;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["changes"][1]["from"], true);
    assert_eq!(entries[1]["changes"][1]["to"], false);
}

#[tokio::test]
async fn a_query_over_the_cap_is_refused_whole_and_one_at_the_cap_goes_through() {
    let app = spawn_app().await;
    seeder::seed(app.store.as_ref(), 1001, 2, 7).await.unwrap();
    let (_, first) = app
        .get_json("/api/integration_runs?integration[code][starts_with]=SEED_&limit=1")
        .await;
    let first = first[0]["id"].as_i64().unwrap();
    let (_, open_before) = app.get_json("/api/integration_runs?status=running").await;

    let all = "integration[code][starts_with]=SEED_";
    for dry_run in ["true", "false"] {
        let (status, body) = bulk(
            &app,
            &format!("/api/integration_runs/bulk/fail?{all}&dry_run={dry_run}"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            messages(&body, "integration-run"),
            [
                "The query matches 1001 integration runs, and a bulk action takes at most 1000: \
              narrow it down (nothing was changed)"
            ]
        );
    }
    assert!(bulk_entries(&app).await.is_empty());
    let (_, open_after) = app.get_json("/api/integration_runs?status=running").await;
    assert_eq!(open_before, open_after);

    // At the cap exactly: the dry run and then the action, which agree.
    let cap = format!("{all}&id[lt]={}", first + 1000);
    let (status, dry) = bulk(
        &app,
        &format!("/api/integration_runs/bulk/fail?{cap}&dry_run=true"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", dry["errors"]);
    assert_eq!(dry["matched"], 1000);
    let (status, done) = bulk(&app, &format!("/api/integration_runs/bulk/fail?{cap}")).await;
    assert_eq!(status, StatusCode::OK, "{}", done["errors"]);
    assert_eq!(
        (&done["matched"], &done["changed"]),
        (&dry["matched"], &dry["changed"])
    );
    assert_eq!(
        ids(&done["integration-runs"]),
        ids(&dry["integration-runs"])
    );
    assert_eq!(done["skipped"], dry["skipped"]);
    let changed = done["changed"].as_u64().unwrap();
    assert!(changed > 0, "the seed leaves some runs open");
    let (_, entries) = app
        .get_json(&format!(
            "/api/integration_run_transitions?cause=bulk&integration_run_id[gt_or_eq]={first}&limit=50"
        ))
        .await;
    assert_eq!(entries.as_array().unwrap().len() as u64, changed.min(50));
}

#[tokio::test]
async fn a_bulk_action_needs_a_condition_and_refuses_paging_a_body_and_if_match() {
    let app = spawn_app().await;
    app.create_integration("GUARDED").await;
    let run = run_in(&app, "GUARDED", "run").await;
    let refusals = [
        (
            "/api/integration_runs/bulk/fail",
            "A bulk action needs at least one condition",
        ),
        (
            "/api/integration_runs/bulk/fail?dry_run=true",
            "A bulk action needs at least one condition",
        ),
        (
            "/api/integration_errors/bulk/resolve",
            "A bulk action needs at least one condition",
        ),
        (
            "/api/integration_runs/bulk/fail?status=running&limit=10",
            "A bulk action takes every record its query matches: limit is not allowed",
        ),
        (
            "/api/integration_runs/bulk/pause?status=running&order_by=id",
            "A bulk action takes every record its query matches: order_by is not allowed",
        ),
        (
            "/api/integration_runs/bulk/fail?status=running&dry_run=yes",
            "dry_run takes true or false, not 'yes'",
        ),
        (
            "/api/integration_runs/bulk/fail?colour=red",
            "Unknown field 'colour' in query key 'colour'",
        ),
    ];
    for (path, message) in refusals {
        let (status, body) = bulk(&app, path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        let resource = if path.contains("errors") {
            "integration-error"
        } else {
            "integration-run"
        };
        assert_eq!(messages(&body, resource), [message], "{path}");
        let (status, text) = app.xml(Method::POST, path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(text.contains("<errors>"), "{text}");
    }
    // A dry run asked for in a body is refused, never run for real.
    let path = "/api/integration_runs/bulk/fail?integration[code]=GUARDED";
    let (status, body) = app
        .json(Method::POST, path, Some(json!({"dry-run": true})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(messages(&body, "integration-run")[0].starts_with("A bulk action takes no body"));
    let response = app
        .client
        .post(app.url(path))
        .header("Accept", "application/json")
        .header("If-Match", "\"1-j\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (_, stored) = app.get_json(&format!("/api/integration_runs/{run}")).await;
    assert_eq!(stored["status"], "running");
    assert!(bulk_entries(&app).await.is_empty());
}

#[tokio::test]
async fn the_bulk_routes_leave_the_routes_of_one_record_as_they_were() {
    let app = spawn_app().await;
    app.create_integration("ROUTES").await;
    let run = run_in(&app, "ROUTES", "run").await;
    let (status, _) = app.get_json("/api/integration_runs/bulk").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.put_json("/api/integration_runs/bulk/fail", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _) = app.get_json("/api/integration_runs/bulk/transitions").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .put_json(&format!("/api/integration_runs/{run}/fail"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = bulk(&app, "/api/integration_runs/bulk/fail.json?id=1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_strict_client_may_look_with_a_dry_run_but_not_act() {
    let app = spawn_app().await;
    app.create_integration("STRICT").await;
    run_in(&app, "STRICT", "run").await;
    let (client, secret) = auth::register(
        app.store.as_ref(),
        "careful",
        ClientKind::OauthClient,
        Scopes::ALL,
        true,
    )
    .await
    .unwrap();
    let token = app
        .token(client.client_id.as_deref().unwrap(), &secret, None)
        .await;
    let strict = app.client_with_token(&token);
    let path = "/api/integration_runs/bulk/fail?integration[code]=STRICT";
    let response = strict
        .post(app.url(&format!("{path}&dry_run=true")))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = strict.post(app.url(path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PRECONDITION_REQUIRED);
    assert!(bulk_entries(&app).await.is_empty());
}

#[tokio::test]
async fn single_actions_racing_a_bulk_fail_each_win_or_lose_whole() {
    let app = Arc::new(spawn_app().await);
    app.create_integration("RACE").await;
    let mut runs = Vec::new();
    for _ in 0..20 {
        runs.push(run_in(&app, "RACE", "run").await);
    }
    let single = |id: i64| {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let path = format!("/api/integration_runs/{id}/success");
            (id, app.put_json(&path, None).await.0)
        })
    };
    // Half of the single actions are sent before the bulk, half after: which win varies.
    let mut singles: Vec<_> = runs[..10].iter().map(|&id| single(id)).collect();
    let racer = Arc::clone(&app);
    let bulk_fail = tokio::spawn(async move {
        bulk(
            &racer,
            "/api/integration_runs/bulk/fail?integration[code]=RACE",
        )
        .await
    });
    singles.extend(runs[10..].iter().map(|&id| single(id)));
    let (status, outcome) = bulk_fail.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{outcome}");
    let mut succeeded = Vec::new();
    for single in singles {
        let (id, status) = single.await.unwrap();
        match status {
            StatusCode::OK => succeeded.push(id),
            StatusCode::BAD_REQUEST => {}
            other => panic!("run {id}: {other}"),
        }
    }
    assert_eq!(outcome["matched"], 20);
    let failed = ids(&outcome["integration-runs"]);
    let skipped = ids(&outcome["skipped"]);
    assert_eq!(failed.len() + skipped.len(), 20);
    // A run the bulk failed refused its success; a run that succeeded first was skipped.
    succeeded.sort_unstable();
    assert_eq!(skipped, succeeded);
    for id in runs {
        let (_, run) = app.get_json(&format!("/api/integration_runs/{id}")).await;
        let expected = if failed.contains(&id) {
            "failed"
        } else {
            "successful"
        };
        assert_eq!(run["status"], expected, "{run}");
    }
    assert_eq!(ids_of_runs(&bulk_entries(&app).await), failed);
}
