//! Two `runledger serve` processes on one PostgreSQL database, as behind a load balancer:
//! they start together (migrations once, one first-start client), share token keys, never
//! both win a race on a run, and lose or duplicate no concurrent create.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestDatabase, integration_body};
use crate::process::Server;

async fn call(
    client: &reqwest::Client,
    method: Method,
    url: String,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client
        .request(method, url)
        .header("Accept", "application/json");
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_one_database_share_tokens_and_never_both_win() {
    let (_database, url) = TestDatabase::create(Backend::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--rate-limit", "off"];
    // Both start at once, on a database that has no tables yet.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Server::start(&url, &dir.path().join("a.log"), &flags));
        let b = s.spawn(|| Server::start(&url, &dir.path().join("b.log"), &flags));
        (a.join().expect("node a"), b.join().expect("node b"))
    });
    let blocks = [&a, &b]
        .iter()
        .filter(|n| n.preamble.contains("client_secret="))
        .count();
    assert_eq!(
        blocks, 1,
        "one node registers the first client, the other stays quiet"
    );
    let (id, secret) = if a.preamble.contains("client_secret=") {
        a.first_client()
    } else {
        b.first_client()
    };

    // A token minted by node a works on node b.
    let client = a.client_for(&id, &secret).await;
    let (status, _) = call(&client, Method::GET, b.url("/api/integrations"), None).await;
    assert_eq!(status, StatusCode::OK);
    let nodes = [a.address.clone(), b.address.clone()];

    let (status, _) = call(
        &client,
        Method::POST,
        b.url("/api/integrations"),
        Some(integration_body("NODES")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // 100 creates spread over both nodes at once: all land, once each.
    let creates: Vec<_> = (0..100)
        .map(|n| {
            let (client, url) = (
                client.clone(),
                format!("{}/api/integration_runs", nodes[n % 2]),
            );
            tokio::spawn(async move {
                call(
                    &client,
                    Method::POST,
                    url,
                    Some(json!({"integration": {"code": "NODES"}, "total-records": n})),
                )
                .await
            })
        })
        .collect();
    let mut ids = BTreeSet::new();
    for create in creates {
        let (status, run) = create.await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{run}");
        assert!(ids.insert(run["id"].as_i64().unwrap()), "a duplicated id");
    }
    let mut listed = BTreeSet::new();
    let mut last = 0;
    loop {
        let (_, page) = call(
            &client,
            Method::GET,
            a.url(&format!("/api/integration_runs?id[gt]={last}")),
            None,
        )
        .await;
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        for run in page {
            last = run["id"].as_i64().unwrap();
            listed.insert(last);
        }
    }
    assert_eq!(listed, ids, "no create lost or duplicated");

    // On each of 10 runs, 10 success and 10 fail calls race across both nodes.
    for &run in ids.iter().take(10) {
        let (status, _) = call(
            &client,
            Method::PUT,
            a.url(&format!("/api/integration_runs/{run}/run")),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let racers: Vec<_> = (0..20)
            .map(|n| {
                let action = if n % 2 == 0 { "success" } else { "fail" };
                let url = format!("{}/api/integration_runs/{run}/{action}", nodes[(n / 2) % 2]);
                let client = client.clone();
                tokio::spawn(async move { (action, call(&client, Method::PUT, url, None).await.0) })
            })
            .collect();
        let mut outcomes = Vec::new();
        for racer in racers {
            outcomes.push(racer.await.unwrap());
        }
        let winners: BTreeSet<&str> = outcomes
            .iter()
            .filter(|(_, s)| *s == StatusCode::OK)
            .map(|(a, _)| *a)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "exactly one action wins on run {run}: {outcomes:?}"
        );
        let winner = *winners.iter().next().unwrap();
        for (action, status) in &outcomes {
            let expected = if *action == winner {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            };
            assert_eq!(*status, expected, "{action} on run {run}: {outcomes:?}");
        }
        let (_, shown) = call(
            &client,
            Method::GET,
            b.url(&format!("/api/integration_runs/{run}")),
            None,
        )
        .await;
        let status = if winner == "success" {
            "successful"
        } else {
            "failed"
        };
        assert_eq!(shown["status"], status);
    }
}
