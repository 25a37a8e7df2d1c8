//! The cost of authentication per request: requests/s of one authenticated GET against the
//! same GET on a server with authentication off, in the same run, alternating so that both
//! see the same machine.
//!
//! Run: `cargo bench --bench auth` (optional arguments: seconds per round, concurrency).
//! The load generator shares the machine's cores with the servers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use runledger::auth;
use runledger::config::Settings;
use runledger::domain::clients::{ClientKind, Scopes};
use runledger::startup::Application;

struct Target {
    name: &'static str,
    url: String,
    header: Option<(&'static str, String)>,
}

async fn start(
    dir: &std::path::Path,
    name: &str,
    require_auth: bool,
) -> (String, Arc<dyn runledger::store::Store>) {
    let mut settings = Settings::new(
        format!("sqlite://{}", dir.join(format!("{name}.db")).display()),
        "127.0.0.1:0",
    );
    settings.rate_limit = None;
    settings.require_auth = require_auth;
    let app = Application::build(&settings).await.expect("server builds");
    let address = format!("http://{}", app.local_addr().expect("address"));
    let store = app.store();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    (address, store)
}

async fn seed(client: &reqwest::Client, address: &str, header: &Option<(&'static str, String)>) {
    let post = |path: &str, body: &'static str| {
        let mut request = client
            .post(format!("{address}{path}"))
            .header("Content-Type", "application/json")
            .body(body);
        if let Some((name, value)) = header {
            request = request.header(*name, value);
        }
        request
    };
    let integration = r#"{"code":"BENCH","name":"Bench","business-object":"OrderHeader","direction":"from_coupa","end-system":"SAP","end-system-type":"erp"}"#;
    assert!(
        post("/api/integrations", integration)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let run = r#"{"integration":{"code":"BENCH"},"total-records":10}"#;
    assert!(
        post("/api/integration_runs", run)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
}

/// Requests per second of `target` over `seconds`, from `concurrency` closed-loop clients.
async fn measure(
    client: &reqwest::Client,
    target: &Target,
    seconds: f64,
    concurrency: usize,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, header) = (client.clone(), target.url.clone(), target.header.clone());
        let (done, stop) = (done.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let mut request = client.get(&url).header("Accept", "application/json");
                if let Some((name, value)) = &header {
                    request = request.header(*name, value);
                }
                let response = request.send().await.expect("request");
                assert_eq!(response.status(), 200);
                response.bytes().await.expect("body");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let count = done.load(Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("load task");
    }
    count as f64 / elapsed
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let seconds: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let concurrency: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(16);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let dir = tempfile::tempdir().expect("temporary directory");
        let client = reqwest::Client::new();
        let (on, on_store) = start(dir.path(), "auth-on", true).await;
        let (off, _) = start(dir.path(), "auth-off", false).await;
        let (oauth, secret) = auth::register(on_store.as_ref(), "bench", ClientKind::OauthClient, Scopes::ALL, false)
            .await
            .expect("client");
        let (_, api_key) = auth::register(on_store.as_ref(), "bench-key", ClientKind::ApiKey, Scopes::ALL, false)
            .await
            .expect("api key");
        let response = client
            .post(format!("{on}/oauth2/token"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=client_credentials&client_id={}&client_secret={secret}",
                oauth.client_id.expect("client id")
            ))
            .send()
            .await
            .expect("token");
        let token: serde_json::Value = response.json().await.expect("token JSON");
        let bearer = Some(("Authorization", format!("Bearer {}", token["access_token"].as_str().expect("token"))));
        seed(&client, &on, &bearer).await;
        seed(&client, &off, &None).await;

        let targets = [
            Target { name: "auth off", url: format!("{off}/api/integration_runs/1"), header: None },
            Target { name: "bearer token", url: format!("{on}/api/integration_runs/1"), header: bearer },
            Target {
                name: "X-COUPA-API-KEY",
                url: format!("{on}/api/integration_runs/1"),
                header: Some(("X-COUPA-API-KEY", api_key)),
            },
        ];
        println!(
            "GET /api/integration_runs/1 (JSON), {concurrency} concurrent clients, {seconds} s rounds, \
             3 rounds each, alternating; generator and servers share {} cores",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        measure(&client, &targets[0], 1.0, concurrency).await; // warm-up
        let mut totals = [0.0; 3];
        for round in 1..=3 {
            for (i, target) in targets.iter().enumerate() {
                let rate = measure(&client, target, seconds, concurrency).await;
                totals[i] += rate;
                println!("round {round}  {:<16} {rate:>9.0} requests/s", target.name);
            }
        }
        let mean: Vec<f64> = totals.iter().map(|t| t / 3.0).collect();
        println!();
        for (i, target) in targets.iter().enumerate() {
            let cost_us = (1.0 / mean[i] - 1.0 / mean[0]) * 1e6;
            println!(
                "{:<16} {:>9.0} requests/s  {:>6.1} % of auth off  (+{cost_us:.1} µs per request)",
                target.name,
                mean[i],
                mean[i] / mean[0] * 100.0
            );
        }
    });
}
