//! The real binary as a child process, on the backend of the test binary
//! ([`crate::BACKEND`]): killed mid-stream it loses no acknowledged write and half-applies
//! none; asked to stop with SIGTERM or SIGINT it answers the requests in flight in full,
//! then exits cleanly.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestDatabase, WriteLock, integration_body};
use crate::process::{PATIENCE, Server};

/// Starts the binary on `database` (a URL), unthrottled (the workload outruns 25 requests a
/// second), logging to `log` in `dir`.
fn start(dir: &Path, database: &str, log: &str) -> Server {
    Server::start(
        database,
        &dir.join(log),
        &["--rate-limit", "off", "--log", "warn"],
    )
}

/// One JSON request. `Err` when no complete answer arrived (the server died under it).
async fn send(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    body: Option<Value>,
) -> reqwest::Result<(StatusCode, Value)> {
    let mut request = client
        .request(method, url)
        .header("Accept", "application/json");
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await?;
    let status = response.status();
    let text = response.text().await?;
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, value))
}

/// Sends a request that must succeed with `expected` and returns the body.
async fn expect(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    body: Option<Value>,
    expected: StatusCode,
) -> Value {
    let description = format!("{method} {url}");
    let (status, answer) = send(client, method, url, body)
        .await
        .unwrap_or_else(|e| panic!("{description}: {e}"));
    assert_eq!(status, expected, "{description}: {answer}");
    answer
}

/// What a run looks like from outside, as far as the workload decides it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct State {
    status: String,
    total: Option<i64>,
    processed: Option<i64>,
    started: bool,
    ended: bool,
}

impl State {
    fn of(run: &Value) -> State {
        State {
            status: run["status"].as_str().unwrap_or("?").to_owned(),
            total: run["total-records"].as_i64(),
            processed: run["records-processed"].as_i64(),
            started: run["start-time"].is_string(),
            ended: run["end-time"].is_string(),
        }
    }
}

/// One write of a run's life.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// POST with `total-records`.
    Create,
    /// PUT `/run`.
    Run,
    /// PATCH `records-processed`.
    Progress(i64),
    /// PUT `/success` (or `/fail`) with `records-processed` in the same body.
    Finish { success: bool, processed: i64 },
}

impl Step {
    /// The state after this step, from the state before it.
    fn apply(self, before: Option<&State>, total: i64) -> State {
        match (self, before) {
            (Step::Create, None) => State {
                status: "pending".into(),
                total: Some(total),
                processed: None,
                started: false,
                ended: false,
            },
            (Step::Run, Some(s)) => State {
                status: "running".into(),
                started: true,
                ..s.clone()
            },
            (Step::Progress(n), Some(s)) => State {
                processed: Some(n),
                ..s.clone()
            },
            (Step::Finish { success, processed }, Some(s)) => State {
                status: if success { "successful" } else { "failed" }.into(),
                processed: Some(processed),
                ended: true,
                ..s.clone()
            },
            (step, before) => unreachable!("{step:?} after {before:?}"),
        }
    }
}

/// One run's planned writes and how far the server acknowledged them.
#[derive(Debug)]
struct Ledger {
    /// Unique across the test, so that a run whose create was not acknowledged is still
    /// recognisable by it.
    total: i64,
    steps: Vec<Step>,
    /// The id from the acknowledged create.
    id: Option<i64>,
    /// How many of `steps` were acknowledged (200/201).
    acknowledged: usize,
    /// Whether `steps[acknowledged]` was sent and got no answer: it may or may not apply.
    in_flight: bool,
    /// The times the server answered with, once set.
    start_time: Option<Value>,
    end_time: Option<Value>,
}

impl Ledger {
    fn new(total: i64, success: bool) -> Ledger {
        let steps = vec![
            Step::Create,
            Step::Run,
            Step::Progress(total / 2),
            Step::Progress(total - 1),
            Step::Finish {
                success,
                processed: if success { total } else { total / 3 },
            },
        ];
        Ledger {
            total,
            steps,
            id: None,
            acknowledged: 0,
            in_flight: false,
            start_time: None,
            end_time: None,
        }
    }

    /// The state after the first `n` steps.
    fn state_after(&self, n: usize) -> Option<State> {
        self.steps[..n].iter().fold(None, |state, step| {
            Some(step.apply(state.as_ref(), self.total))
        })
    }

    /// The states the run may be in after a crash: all acknowledged writes applied, and the
    /// one in flight either applied entirely or not at all.
    fn allowed(&self) -> Vec<State> {
        let mut states: Vec<State> = self.state_after(self.acknowledged).into_iter().collect();
        if self.in_flight {
            states.extend(self.state_after(self.acknowledged + 1));
        }
        states
    }
}

/// A writer's outcome: its runs, and any answer other than success or a dropped connection.
struct Outcome {
    ledgers: Vec<Ledger>,
    unexpected: Vec<String>,
}

/// Drives runs through their lives one write at a time until a write goes unanswered (the
/// server died) or is refused. Each run belongs to one writer, so its writes are ordered.
async fn writer(
    client: reqwest::Client,
    base: String,
    integration: i64,
    worker: i64,
    acknowledged: Arc<AtomicUsize>,
) -> Outcome {
    let mut ledgers = Vec::new();
    let mut unexpected = Vec::new();
    'runs: for n in 0.. {
        let mut ledger = Ledger::new((worker + 1) * 1_000_000 + n * 10 + 100, n % 2 == 0);
        for (i, step) in ledger.steps.clone().into_iter().enumerate() {
            let runs = format!("{base}/api/integration_runs");
            let (method, url, body, acknowledging) = match (step, ledger.id) {
                (Step::Create, _) => (
                    Method::POST,
                    runs,
                    json!({"integration": {"id": integration}, "total-records": ledger.total}),
                    StatusCode::CREATED,
                ),
                (Step::Run, Some(id)) => (
                    Method::PUT,
                    format!("{runs}/{id}/run"),
                    json!({}),
                    StatusCode::OK,
                ),
                (Step::Progress(p), Some(id)) => (
                    Method::PATCH,
                    format!("{runs}/{id}"),
                    json!({"records-processed": p}),
                    StatusCode::OK,
                ),
                (Step::Finish { success, processed }, Some(id)) => (
                    Method::PUT,
                    format!("{runs}/{id}/{}", if success { "success" } else { "fail" }),
                    json!({"records-processed": processed}),
                    StatusCode::OK,
                ),
                (step, None) => unreachable!("{step:?} before the create"),
            };
            match send(&client, method.clone(), &url, Some(body.clone())).await {
                Ok((status, answer)) if status == acknowledging => {
                    if let Step::Create = step {
                        ledger.id = answer["id"].as_i64();
                    }
                    if let Step::Run = step {
                        ledger.start_time = Some(answer["start-time"].clone());
                    }
                    if let Step::Finish { .. } = step {
                        ledger.end_time = Some(answer["end-time"].clone());
                    }
                    let expected = ledger.state_after(i + 1);
                    if Some(State::of(&answer)) != expected {
                        unexpected.push(format!(
                            "{method} {url} {body} answered {answer}, expected {expected:?}"
                        ));
                    }
                    ledger.acknowledged = i + 1;
                    acknowledged.fetch_add(1, Ordering::Relaxed);
                }
                Ok((status, answer)) => {
                    unexpected.push(format!("{method} {url} {body} answered {status}: {answer}"));
                    ledgers.push(ledger);
                    break 'runs;
                }
                Err(_) => {
                    ledger.in_flight = true;
                    ledgers.push(ledger);
                    break 'runs;
                }
            }
        }
        ledgers.push(ledger);
    }
    Outcome {
        ledgers,
        unexpected,
    }
}

/// Every run of the server, through keyset paging.
async fn all_runs(client: &reqwest::Client, server: &Server) -> BTreeMap<i64, Value> {
    let mut runs = BTreeMap::new();
    let mut last = 0;
    loop {
        let url = server.url(&format!("/api/integration_runs?limit=50&id[gt]={last}"));
        let page = expect(client, Method::GET, &url, None, StatusCode::OK).await;
        let page = page.as_array().expect("an array of runs");
        if page.is_empty() {
            return runs;
        }
        for run in page {
            last = run["id"].as_i64().expect("run id");
            runs.insert(last, run.clone());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_keeps_every_acknowledged_write_and_half_applies_none() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, database) = TestDatabase::create(crate::BACKEND).await;
    let mut server = start(dir.path(), &database, "first.log");
    let (client_id, secret) = server.first_client();
    let client = server.client_for(&client_id, &secret).await;
    let integration = expect(
        &client,
        Method::POST,
        &server.url("/api/integrations"),
        Some(integration_body("CRASH")),
        StatusCode::CREATED,
    )
    .await;
    let integration_id = integration["id"].as_i64().expect("integration id");

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..8)
        .map(|worker| {
            tokio::spawn(writer(
                client.clone(),
                server.address.clone(),
                integration_id,
                worker,
                Arc::clone(&acknowledged),
            ))
        })
        .collect();
    let started = Instant::now();
    // Kill mid-stream: after 300 acknowledged writes or a second, whichever comes first,
    // but not before 20 writes (a loaded machine) unless 5 s have passed.
    loop {
        let (writes, elapsed) = (acknowledged.load(Ordering::Relaxed), started.elapsed());
        if writes >= 300
            || (writes >= 20 && elapsed >= Duration::from_secs(1))
            || elapsed >= Duration::from_secs(5)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    let mut ledgers = Vec::new();
    let mut unexpected = Vec::new();
    for handle in writers {
        let outcome = handle.await.expect("writer task");
        ledgers.extend(outcome.ledgers);
        unexpected.extend(outcome.unexpected);
    }
    assert!(
        unexpected.is_empty(),
        "answers other than success before the kill:\n{}",
        unexpected.join("\n")
    );
    let writes: usize = ledgers.iter().map(|l| l.acknowledged).sum();
    let in_flight = ledgers.iter().filter(|l| l.in_flight).count();
    eprintln!(
        "killed after {:?}: {writes} acknowledged writes over {} runs, {in_flight} in flight",
        started.elapsed(),
        ledgers.len()
    );
    assert!(writes >= 10, "too few writes to test anything: {writes}");

    let server = start(dir.path(), &database, "restart.log");
    let client = server.client_for(&client_id, &secret).await;
    let shown = expect(
        &client,
        Method::GET,
        &server.url(&format!("/api/integrations/{integration_id}")),
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["code"], "CRASH");
    let mut runs = all_runs(&client, &server).await;
    let applied = ledgers
        .iter()
        .filter(|l| l.in_flight)
        .filter(|l| match l.id {
            Some(id) => runs.get(&id).map(State::of) == l.state_after(l.acknowledged + 1),
            None => runs.values().any(|r| r["total-records"] == l.total),
        })
        .count();
    eprintln!("{applied} of the {in_flight} writes in flight were applied");

    // Every acknowledged run is there, in a state its acknowledged writes allow.
    for ledger in ledgers.iter().filter(|l| l.id.is_some()) {
        let id = ledger.id.unwrap();
        let run = runs
            .remove(&id)
            .unwrap_or_else(|| panic!("acknowledged run {id} is gone: {ledger:?}"));
        assert_eq!(run["integration"]["id"], integration_id, "{run}");
        let state = State::of(&run);
        assert!(
            ledger.allowed().contains(&state),
            "run {id} is {state:?}; acknowledged {} of {:?}, in flight: {}",
            ledger.acknowledged,
            ledger.steps,
            ledger.in_flight
        );
        if let Some(time) = &ledger.start_time {
            assert_eq!(&run["start-time"], time, "run {id}'s start-time changed");
        }
        if let Some(time) = &ledger.end_time {
            assert_eq!(&run["end-time"], time, "run {id}'s end-time changed");
        }
    }
    // Any other run is one whose create was in flight, and it was created whole.
    let unanswered: BTreeMap<i64, &Ledger> = ledgers
        .iter()
        .filter(|l| l.id.is_none() && l.in_flight)
        .map(|l| (l.total, l))
        .collect();
    let mut seen = BTreeSet::new();
    for (id, run) in &runs {
        let total = run["total-records"].as_i64().unwrap_or_default();
        let ledger = unanswered
            .get(&total)
            .unwrap_or_else(|| panic!("run {id} was never written: {run}"));
        assert!(seen.insert(total), "two runs from one create: {run}");
        assert_eq!(
            Some(State::of(run)),
            ledger.state_after(1),
            "run {id} from an unanswered create"
        );
        assert_eq!(run["integration"]["id"], integration_id, "{run}");
    }
    // And whatever survived is consistent.
    for run in all_runs(&client, &server).await.values() {
        let state = State::of(run);
        if state.status == "successful" || state.status == "failed" {
            assert!(state.ended, "a terminal run without an end-time: {run}");
        }
        if state.status != "pending" {
            assert!(state.started, "a run that ran without a start-time: {run}");
        }
        if let (Some(total), Some(processed)) = (state.total, state.processed) {
            assert!(processed <= total, "more processed than total: {run}");
        }
    }

    // The restarted server takes new writes.
    let runs = server.url("/api/integration_runs");
    let created = expect(
        &client,
        Method::POST,
        &runs,
        Some(json!({"integration": {"code": "CRASH"}, "total-records": 3})),
        StatusCode::CREATED,
    )
    .await;
    let id = created["id"].as_i64().expect("run id");
    for (method, path, body) in [
        (Method::PUT, format!("{runs}/{id}/run"), json!({})),
        (
            Method::PATCH,
            format!("{runs}/{id}"),
            json!({"records-processed": 2}),
        ),
        (
            Method::PUT,
            format!("{runs}/{id}/success"),
            json!({"records-processed": 3}),
        ),
    ] {
        expect(&client, method, &path, Some(body), StatusCode::OK).await;
    }
    let run = expect(
        &client,
        Method::GET,
        &format!("{runs}/{id}"),
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(run["status"], "successful", "{run}");
    assert_eq!(run["records-processed"], 3, "{run}");
    assert!(run["end-time"].is_string(), "{run}");
}

/// A request written by hand on a connection of its own: its head and half of its body now,
/// the rest when the test says.
struct HalfSent {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl HalfSent {
    fn post(server: &Server, token: &str, path: &str, body: &Value) -> HalfSent {
        let host = server.address.trim_start_matches("http://");
        let mut stream = TcpStream::connect(host).expect("connected");
        let body = body.to_string().into_bytes();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
             Accept: application/json\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        let (first, rest) = body.split_at(body.len() / 2);
        stream.write_all(head.as_bytes()).expect("head sent");
        stream.write_all(first).expect("half the body sent");
        HalfSent {
            stream,
            rest: rest.to_vec(),
        }
    }

    /// Sends the rest of the body and reads the answer: its status and its body, which must
    /// be as long as its `Content-Length` says.
    async fn finish(self) -> (u16, Value) {
        let HalfSent { mut stream, rest } = self;
        tokio::task::spawn_blocking(move || {
            stream.write_all(&rest).expect("the rest of the body sent");
            stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
            let mut answer = Vec::new();
            let mut buffer = [0; 4096];
            loop {
                let n = stream.read(&mut buffer).expect("the answer");
                answer.extend_from_slice(&buffer[..n]);
                if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&answer[..end]).into_owned();
                    let body = &answer[end + 4..];
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            let named = name.eq_ignore_ascii_case("content-length");
                            named.then(|| value.trim().parse().ok())?
                        })
                        .unwrap_or_else(|| panic!("no Content-Length: {head}"));
                    if body.len() >= length || n == 0 {
                        assert_eq!(body.len(), length, "a truncated answer: {head}");
                        let status = head
                            .split(' ')
                            .nth(1)
                            .and_then(|s| s.parse().ok())
                            .unwrap_or_else(|| panic!("no status: {head}"));
                        return (status, serde_json::from_slice(body).expect("a JSON body"));
                    }
                }
                assert!(
                    n > 0,
                    "the connection closed before the answer was complete: {:?}",
                    String::from_utf8_lossy(&answer)
                );
            }
        })
        .await
        .expect("reader thread")
    }
}

/// Starts a server, puts requests in flight, sends `signal` while they are, and checks that
/// the server keeps running until each is answered in full, then exits with status 0, and
/// that their writes survive a restart. Idle kept-alive connections (the client's, from the
/// setup) must not hold up the stop.
///
/// In flight are a create whose body is still arriving and a `success` waiting for a lock
/// that the test holds on the database.
async fn drains_and_stops_on(signal: &str) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, database) = TestDatabase::create(crate::BACKEND).await;
    let mut server = start(dir.path(), &database, "first.log");
    let (client_id, secret) = server.first_client();
    let client = server.client_for(&client_id, &secret).await;
    expect(
        &client,
        Method::POST,
        &server.url("/api/integrations"),
        Some(integration_body("STOP")),
        StatusCode::CREATED,
    )
    .await;
    let run = expect(
        &client,
        Method::POST,
        &server.url("/api/integration_runs"),
        Some(json!({"integration": {"code": "STOP"}, "total-records": 7})),
        StatusCode::CREATED,
    )
    .await;
    let id = run["id"].as_i64().expect("run id");

    let token = server.token(&client_id, &secret).await;
    let create = HalfSent::post(
        &server,
        &token,
        "/api/integrations",
        &integration_body("DRAINED"),
    );
    let lock = WriteLock::take(&database).await;
    let url = server.url(&format!("/api/integration_runs/{id}/success"));
    let success = {
        let client = client.clone();
        let body = json!({"records-processed": 7});
        tokio::spawn(async move { send(&client, Method::PUT, &url, Some(body)).await })
    };
    // Long enough for both requests to reach the server, and the second to wait in the store.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!success.is_finished(), "the write should wait for the lock");
    server.signal(signal);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        server.child.try_wait().expect("child status").is_none(),
        "SIG{signal} ended runledger with requests in flight:\n{}",
        server.log_text()
    );

    lock.release().await;
    let (status, moved) = success
        .await
        .expect("request task")
        .unwrap_or_else(|e| panic!("the write in flight got no full answer: {e}"));
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["status"], "successful", "{moved}");
    assert_eq!(moved["records-processed"], 7, "{moved}");
    let (status, created) = create.finish().await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["code"], "DRAINED", "{created}");
    let status = server.wait_for_exit(signal).await;
    assert!(
        status.success(),
        "SIG{signal} ended runledger with {status}:\n{}",
        server.log_text()
    );

    let server = start(dir.path(), &database, "restart.log");
    let client = server.client_for(&client_id, &secret).await;
    let url = server.url(&format!("/api/integrations/{}", created["id"]));
    let shown = expect(&client, Method::GET, &url, None, StatusCode::OK).await;
    assert_eq!(shown["code"], "DRAINED");
    let url = server.url(&format!("/api/integration_runs/{id}"));
    let shown = expect(&client, Method::GET, &url, None, StatusCode::OK).await;
    assert_eq!(State::of(&shown), State::of(&moved), "{shown}");
    assert_eq!(shown["end-time"], moved["end-time"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_the_requests_in_flight_then_exits_with_status_zero() {
    drains_and_stops_on("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_answers_the_requests_in_flight_then_exits_with_status_zero() {
    drains_and_stops_on("INT").await;
}
