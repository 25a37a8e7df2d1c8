//! `runledger seed`: bulk history that the API then serves like any other.

use runledger::seeder;
use serde_json::Value;

use crate::helpers::spawn_app;

/// Every run the index finds for `query`, through keyset pages.
async fn all(app: &crate::helpers::TestApp, query: &str) -> Vec<Value> {
    let (mut found, mut last) = (Vec::new(), 0);
    loop {
        let (_, page) = app
            .get_json(&format!("/api/integration_runs?{query}&id[gt]={last}"))
            .await;
        let page = page.as_array().unwrap().clone();
        let Some(tail) = page.last() else {
            return found;
        };
        last = tail["id"].as_i64().unwrap();
        found.extend(page);
    }
}

#[tokio::test]
async fn seeded_runs_are_served_with_their_errors() {
    let app = spawn_app().await;
    let seeded = seeder::seed(app.store.as_ref(), 600, 3, 42).await.unwrap();
    assert_eq!(seeded.runs, 600);
    let runs = all(&app, "integration[code][starts_with]=SEED_").await;
    assert_eq!(runs.len(), 600);
    let with_errors = runs
        .iter()
        .filter(|r| !r["integration-errors"].as_array().unwrap().is_empty())
        .count();
    assert_eq!(with_errors as u64, seeded.errors);
    // History spans the last year, created in id order.
    let created: Vec<chrono::DateTime<chrono::Utc>> = runs
        .iter()
        .map(|r| r["created-at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(created.is_sorted(), "runs are created in id order");
    let now = chrono::Utc::now();
    assert!(created[0] >= now - chrono::Duration::days(366));
    assert!(
        created[0] < now - chrono::Duration::days(360),
        "{}",
        created[0]
    );
    assert!(
        created[599] > now - chrono::Duration::days(2),
        "{}",
        created[599]
    );
    assert!(created[599] <= now);
    for run in &runs {
        let status = run["status"].as_str().unwrap();
        let terminal = status == "successful" || status == "failed";
        assert_eq!(run["end-time"].is_string(), terminal, "{run}");
        if status == "failed" {
            assert_eq!(
                run["integration-errors"].as_array().unwrap().len(),
                1,
                "a failed run has its error"
            );
        }
    }
    let (_, integrations) = app
        .get_json("/api/integrations?code[starts_with]=SEED_")
        .await;
    assert_eq!(integrations.as_array().unwrap().len(), 3);

    // Seeding again reuses the integrations.
    seeder::seed(app.store.as_ref(), 10, 3, 43).await.unwrap();
    let (_, integrations) = app
        .get_json("/api/integrations?code[starts_with]=SEED_")
        .await;
    assert_eq!(integrations.as_array().unwrap().len(), 3);
}
