//! `Idempotency-Key` on every POST, status action and record update: a retry gets the first
//! answer back (marked `Idempotent-Replayed: true`) instead of writing again; another request
//! under the same key is a 422, a retry while the first is in flight a 409. A first request is
//! held open by a raw socket that sends its head with `Expect: 100-continue`: the server's
//! `100 Continue` says that the key is taken and that the body is awaited.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use runledger::domain::clients::Scopes;
use runledger::router::routes;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, messages, spawn_app, spawn_app_with, xml_value};

const RUNS: &str = "/api/integration_runs";
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// An answer, with the headers these tests look at.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    replayed: bool,
    retry_after: Option<String>,
    content_type: String,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

/// A request sent by `client`: JSON both ways, with `key` as its `Idempotency-Key`.
async fn send(
    app: &TestApp,
    client: &reqwest::Client,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let body = body.map(|b| ("application/json", b.to_string()));
    request(app, client, method, path, key, "application/json", body).await
}

async fn request(
    app: &TestApp,
    client: &reqwest::Client,
    method: Method,
    path: &str,
    key: Option<&str>,
    accept: &str,
    body: Option<(&str, String)>,
) -> Answer {
    let mut request = client
        .request(method, app.url(path))
        .header("Accept", accept);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    if let Some((content_type, body)) = body {
        request = request.header("Content-Type", content_type).body(body);
    }
    let response = request.send().await.expect("request sent");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("a text header").to_owned())
    };
    let replayed = match header("idempotent-replayed").as_deref() {
        None => false,
        Some("true") => true,
        Some(other) => panic!("Idempotent-Replayed: {other}"),
    };
    Answer {
        status: response.status(),
        replayed,
        retry_after: header("retry-after"),
        content_type: header("content-type").unwrap_or_default(),
        text: response.text().await.expect("body read"),
    }
}

fn new_run(code: &str) -> Option<Value> {
    Some(json!({"integration": {"code": code}}))
}

/// How many runs the integration with `code` has.
async fn runs_of(app: &TestApp, code: &str) -> usize {
    let (status, body) = app
        .get_json(&format!("{RUNS}?integration[code]={code}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().expect("a list").len()
}

#[tokio::test]
async fn a_retried_create_gets_the_first_answer_marked_as_replayed_and_makes_one_run() {
    let app = spawn_app().await;
    app.create_integration("NIGHTLY").await;
    let client = &app.client;

    let first = send(
        &app,
        client,
        Method::POST,
        RUNS,
        Some("a1"),
        new_run("NIGHTLY"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert!(!first.replayed, "a first answer is not a replay");
    for _ in 0..2 {
        let retry = send(
            &app,
            client,
            Method::POST,
            RUNS,
            Some("a1"),
            new_run("NIGHTLY"),
        )
        .await;
        assert_eq!(retry.status, StatusCode::CREATED);
        assert!(retry.replayed);
        assert_eq!(retry.text, first.text, "the same bytes");
        assert_eq!(retry.content_type, "application/json; charset=utf-8");
    }
    assert_eq!(runs_of(&app, "NIGHTLY").await, 1);
    // The structured-field spelling of the key is the same key.
    let quoted = send(
        &app,
        client,
        Method::POST,
        RUNS,
        Some("\"a1\""),
        new_run("NIGHTLY"),
    )
    .await;
    assert!(quoted.replayed);
    // Another key is another request.
    let other = send(
        &app,
        client,
        Method::POST,
        RUNS,
        Some("a2"),
        new_run("NIGHTLY"),
    )
    .await;
    assert_eq!(other.status, StatusCode::CREATED);
    assert!(!other.replayed);
    assert_eq!(runs_of(&app, "NIGHTLY").await, 2);
}

#[tokio::test]
async fn an_xml_create_is_replayed_in_xml_byte_for_byte() {
    let app = spawn_app().await;
    let body = "<integration><code>XML_JOB</code><name>XML job</name>\
                <business-object>OrderHeader</business-object><direction>from_coupa</direction>\
                <end-system>SAP</end-system><end-system-type>erp</end-system-type></integration>";
    let send = || {
        let body = Some(("application/xml", body.to_owned()));
        let path = "/api/integrations";
        request(
            &app,
            &app.client,
            Method::POST,
            path,
            Some("xml-1"),
            "application/xml",
            body,
        )
    };
    let first = send().await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(xml_value(&first.text)["code"], "XML_JOB");
    let retry = send().await;
    assert_eq!(retry.status, StatusCode::CREATED);
    assert!(retry.replayed);
    assert_eq!(retry.text, first.text);
    assert_eq!(retry.content_type, "application/xml; charset=utf-8");
    let (_, all) = app.get_json("/api/integrations").await;
    assert_eq!(all.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_status_action_retried_after_the_run_moved_on_gets_its_first_answer() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let id = app.create_run("JOB").await;
    let path = format!("{RUNS}/{id}/run");
    let body = Some(json!({"total-records": 10}));

    let first = send(
        &app,
        &app.client,
        Method::PUT,
        &path,
        Some("run-1"),
        body.clone(),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.json()["status"], "running");
    let (status, _) = app.put_json(&format!("{RUNS}/{id}/success"), None).await;
    assert_eq!(status, StatusCode::OK);

    // Run again, `run` would be refused (successful is terminal): the retry is not run again.
    let retry = send(&app, &app.client, Method::PUT, &path, Some("run-1"), body).await;
    assert_eq!(retry.status, StatusCode::OK);
    assert!(retry.replayed);
    assert_eq!(retry.json()["status"], "running");
    let (_, run) = app.get_json(&format!("{RUNS}/{id}")).await;
    assert_eq!(run["status"], "successful");
}

#[tokio::test]
async fn a_record_update_retried_appends_its_responses_once() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let run_id = app.create_run("JOB").await;
    let error = app.file_error(run_id, "Supplier", false).await;
    let path = format!("/api/integration_errors/{}", error["id"]);
    let body = Some(json!({"responses": [{"response-code": "E1", "response-message": "once"}]}));
    for _ in 0..3 {
        let answer = send(
            &app,
            &app.client,
            Method::PUT,
            &path,
            Some("note"),
            body.clone(),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }
    let (_, error) = app.get_json(&path).await;
    assert_eq!(error["responses"].as_array().unwrap().len(), 1, "{error}");
}

#[tokio::test]
async fn a_refusal_is_kept_too_and_replayed_in_the_format_asked_for() {
    let app = spawn_app().await;
    let first = send(
        &app,
        &app.client,
        Method::POST,
        RUNS,
        Some("early"),
        new_run("LATER"),
    )
    .await;
    assert_eq!(first.status, StatusCode::BAD_REQUEST);
    let refusal = messages(&first.json(), "integration-run");
    app.create_integration("LATER").await;

    // The same request gets the same refusal, although it would now succeed.
    let retry = send(
        &app,
        &app.client,
        Method::POST,
        RUNS,
        Some("early"),
        new_run("LATER"),
    )
    .await;
    assert_eq!(retry.status, StatusCode::BAD_REQUEST);
    assert!(retry.replayed);
    assert_eq!(messages(&retry.json(), "integration-run"), refusal);
    assert_eq!(runs_of(&app, "LATER").await, 0);

    let xml = || {
        let body = Some((
            "application/json",
            json!({"integration": {"code": "NOPE"}}).to_string(),
        ));
        request(
            &app,
            &app.client,
            Method::POST,
            RUNS,
            Some("xml-refusal"),
            "application/xml",
            body,
        )
    };
    let first = xml().await;
    assert_eq!(first.status, StatusCode::BAD_REQUEST);
    let retry = xml().await;
    assert!(retry.replayed);
    assert_eq!(retry.text, first.text);
    assert!(
        retry
            .text
            .contains("<error>Unable to find valid Integration"),
        "{}",
        retry.text
    );
}

#[tokio::test]
async fn the_same_key_with_another_request_is_a_422_and_changes_nothing() {
    let app = spawn_app().await;
    app.create_integration("A").await;
    app.create_integration("B").await;
    let first = send(
        &app,
        &app.client,
        Method::POST,
        RUNS,
        Some("k"),
        new_run("A"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);

    let other_body = send(
        &app,
        &app.client,
        Method::POST,
        RUNS,
        Some("k"),
        new_run("B"),
    )
    .await;
    assert_eq!(other_body.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!other_body.replayed);
    let refusal = messages(&other_body.json(), "integration-run");
    assert!(
        refusal[0].contains("Idempotency-Key was sent before with another request"),
        "{refusal:?}"
    );

    let query = format!("{RUNS}?return_object=limited");
    let other_query = send(
        &app,
        &app.client,
        Method::POST,
        &query,
        Some("k"),
        new_run("A"),
    )
    .await;
    assert_eq!(other_query.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = Some(("application/json", new_run("A").unwrap().to_string()));
    let as_xml = request(
        &app,
        &app.client,
        Method::POST,
        RUNS,
        Some("k"),
        "application/xml",
        body,
    )
    .await;
    assert_eq!(as_xml.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        as_xml.text.contains("<error>This Idempotency-Key"),
        "{}",
        as_xml.text
    );

    assert_eq!(runs_of(&app, "A").await, 1);
    assert_eq!(runs_of(&app, "B").await, 0);
}

#[tokio::test]
async fn keys_are_per_client_and_per_route() {
    let app = spawn_app().await;
    app.create_integration("SHARED").await;
    let (id, secret) = app.register_client("other-connector", Scopes::ALL).await;
    let other = app.client_with_token(&app.token(&id, &secret, None).await);
    let api_key = app.register_api_key("legacy", Scopes::ALL).await;
    let legacy = api_key_client(&api_key);

    for client in [&app.client, &other, &legacy] {
        let answer = send(
            &app,
            client,
            Method::POST,
            RUNS,
            Some("nightly"),
            new_run("SHARED"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        assert!(!answer.replayed, "each client's key is its own");
    }
    assert_eq!(runs_of(&app, "SHARED").await, 3);

    // The same text on another route is another key.
    let error = json!({"integration-run": {"id": 1}, "contact-alert-type": "Technical",
                       "document-type": "Supplier", "document-id": 1});
    let path = "/api/integration_errors";
    let answer = send(
        &app,
        &app.client,
        Method::POST,
        path,
        Some("nightly"),
        Some(error),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    assert!(!answer.replayed);
}

#[tokio::test]
async fn a_malformed_key_is_a_400_in_coupas_format_and_nothing_is_written() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let too_long = "k".repeat(256);
    for (key, why) in [
        ("a b", "holds a space"),
        ("\"open", "does not close"),
        (too_long.as_str(), "256 characters long"),
        ("\"\"", "is empty"),
    ] {
        let answer = send(
            &app,
            &app.client,
            Method::POST,
            RUNS,
            Some(key),
            new_run("JOB"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{key}");
        let refusal = messages(&answer.json(), "integration-run");
        assert!(
            refusal[0].starts_with("Idempotency-Key ") && refusal[0].contains(why),
            "{refusal:?}"
        );
    }
    let twice = app
        .client
        .post(app.url(RUNS))
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", "a")
        .header("Idempotency-Key", "b")
        .body(new_run("JOB").unwrap().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), StatusCode::BAD_REQUEST);
    let body: Value = twice.json().await.unwrap();
    assert_eq!(
        messages(&body, "integration-run"),
        ["Idempotency-Key is sent more than once: send it once"]
    );
    assert_eq!(runs_of(&app, "JOB").await, 0);
}

#[tokio::test]
async fn every_post_status_action_and_record_update_takes_a_key_and_other_routes_ignore_it() {
    let app = spawn_app().await;
    let mut keyed = 0;
    for route in routes() {
        let path = route.path.replace("{id}", "1");
        // An event stream that is let in never ends; it takes no key, as every GET.
        if path == "/api/events" {
            assert!(!route.idempotent);
            continue;
        }
        let body = (route.method != Method::GET).then(|| ("application/json", "{}".to_owned()));
        let answer = request(
            &app,
            &app.client,
            route.method.clone(),
            &path,
            Some("\"bad"),
            "application/json",
            body,
        )
        .await;
        let refused = answer
            .text
            .contains("Idempotency-Key opens a quoted string");
        let expected = route.method == Method::POST
            || path.ends_with("/resolve")
            || path.ends_with("/unresolve")
            || (route.method == Method::PUT && path.starts_with("/api/integration_runs/1/"))
            || ([
                "/api/integration_errors/1",
                "/api/integration_history_records/1",
            ]
            .contains(&path.as_str())
                && route.method != Method::GET);
        assert_eq!(route.idempotent, expected, "{} {path}", route.method);
        assert_eq!(
            refused, route.idempotent,
            "{} {path}: {}",
            route.method, answer.text
        );
        if refused {
            assert_eq!(answer.status, StatusCode::BAD_REQUEST);
            keyed += 1;
        }
    }
    // 17 POSTs (Coupa's 10, the 4 bulk actions, a subscription's create, OpenLineage's 2),
    // 6 status actions, 4 resolve actions, 4 record updates.
    assert_eq!(keyed, 31);
}

/// A raw connection that sends the head of a POST with `Expect: 100-continue`, and waits for
/// the server's `100 Continue`: by then the key is taken and the server awaits the body.
struct HeldOpen {
    stream: TcpStream,
    body: String,
}

impl HeldOpen {
    async fn start(app: &TestApp, api_key: &str, path: &str, key: &str, body: Value) -> HeldOpen {
        let address = app.address.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).await.expect("connected");
        let body = body.to_string();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nX-COUPA-API-KEY: {api_key}\r\n\
             Accept: application/json\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nIdempotency-Key: {key}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("head sent");
        let interim = read_head(&mut stream).await;
        assert!(interim.starts_with("HTTP/1.1 100 Continue"), "{interim}");
        HeldOpen { stream, body }
    }

    /// Sends the body; the answer's status, the replay header and the JSON body.
    async fn finish(mut self) -> (u16, bool, Value) {
        let body = std::mem::take(&mut self.body);
        self.stream
            .write_all(body.as_bytes())
            .await
            .expect("body sent");
        self.answer().await
    }

    /// The answer, whether or not the body was sent.
    async fn answer(mut self) -> (u16, bool, Value) {
        let head = read_head(&mut self.stream).await;
        let status: u16 = head[9..12].parse().expect("a status");
        let lower = head.to_ascii_lowercase();
        let length: usize = lower
            .split("\r\n")
            .find_map(|line| line.strip_prefix("content-length: "))
            .expect("a length")
            .parse()
            .expect("a number");
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await.expect("body read");
        let replayed = lower.contains("\r\nidempotent-replayed: true");
        (
            status,
            replayed,
            serde_json::from_slice(&body).expect("JSON"),
        )
    }
}

/// Reads one response head, up to its blank line, a byte at a time (nothing past it).
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let read = async {
        while !head.ends_with(b"\r\n\r\n") {
            let byte = stream.read_u8().await.expect("the head continues");
            head.push(byte);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("a head in time");
    String::from_utf8(head).expect("a text head")
}

fn api_key_client(key: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("X-COUPA-API-KEY", key.parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_retry_while_the_first_request_is_in_flight_is_a_409_with_retry_after() {
    let app = spawn_app().await;
    app.create_integration("SLOW").await;
    let api_key = app.register_api_key("slow-client", Scopes::ALL).await;
    let client = api_key_client(&api_key);
    let body = json!({"integration": {"code": "SLOW"}});

    let first = HeldOpen::start(&app, &api_key, RUNS, "slow-1", body.clone()).await;
    let retry = send(
        &app,
        &client,
        Method::POST,
        RUNS,
        Some("slow-1"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(retry.status, StatusCode::CONFLICT, "{}", retry.text);
    assert_eq!(retry.retry_after.as_deref(), Some("1"));
    assert!(!retry.replayed);
    let refusal = messages(&retry.json(), "integration-run");
    assert_eq!(
        refusal,
        ["A request with this Idempotency-Key is in progress: retry it in a moment"]
    );
    assert_eq!(runs_of(&app, "SLOW").await, 0, "the retry ran nothing");

    let (status, replayed, created) = first.finish().await;
    assert_eq!(status, 201, "{created}");
    assert!(!replayed);
    let retry = send(
        &app,
        &client,
        Method::POST,
        RUNS,
        Some("slow-1"),
        Some(body),
    )
    .await;
    assert_eq!(retry.status, StatusCode::CREATED);
    assert!(retry.replayed);
    assert_eq!(retry.json(), created);
    assert_eq!(runs_of(&app, "SLOW").await, 1);
}

#[tokio::test]
async fn a_write_whose_answer_was_lost_is_never_run_twice_and_its_key_frees_after_the_ttl() {
    let app = spawn_app().await;
    app.create_integration("CRASHY").await;
    let body = new_run("CRASHY");
    let post = |body: Option<Value>| send(&app, &app.client, Method::POST, RUNS, Some("k"), body);
    let first = post(body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    // The answer is stored just after it is sent: a retry waits for it.
    let replayed = post(body.clone()).await;
    assert!(replayed.replayed, "{}", replayed.text);

    // Stands for a node that committed the write, and with it the key's row, then stopped
    // before it stored the answer (as any other node sees that row).
    app.execute_sql(
        "UPDATE idempotency_keys SET status = NULL, fingerprint = NULL, content_type = NULL, \
         body = NULL, messages = NULL",
    )
    .await;
    let conflict = |answer: &Answer| {
        assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.text);
        assert!(!answer.replayed);
        messages(&answer.json(), "integration-run").join("")
    };
    let early = post(body.clone()).await;
    assert!(conflict(&early).contains("in progress"));
    // Another request with the key runs as far as its write, which the held key undoes.
    let other = json!({"integration": {"code": "CRASHY"}, "total-records": 5});
    let undone = post(Some(other)).await;
    assert!(conflict(&undone).contains("in progress"));
    assert_eq!(runs_of(&app, "CRASHY").await, 1);

    // Past the lease (the request time limit, 30 s, and a minute) the answer is lost, and
    // said so. (The clock is whole seconds and the system's may tick once: hence 90.)
    app.advance(Duration::from_secs(90));
    let lost = post(body.clone()).await;
    assert!(
        conflict(&lost).contains("its answer was lost"),
        "{}",
        lost.text
    );
    assert_eq!(runs_of(&app, "CRASHY").await, 1, "never run twice");

    app.advance(DAY);
    let again = post(body).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert!(!again.replayed, "a forgotten key is a new key");
    assert_eq!(runs_of(&app, "CRASHY").await, 2);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_make_one_run() {
    let app = spawn_app().await;
    app.create_integration("RACE").await;
    let answers = futures_util::future::join_all((0..8).map(|_| {
        send(
            &app,
            &app.client,
            Method::POST,
            RUNS,
            Some("race"),
            new_run("RACE"),
        )
    }))
    .await;
    let created: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .collect();
    assert!(!created.is_empty());
    for answer in &answers {
        assert!(
            [StatusCode::CREATED, StatusCode::CONFLICT].contains(&answer.status),
            "{answer:?}"
        );
    }
    assert!(created.iter().all(|a| a.text == created[0].text));
    assert_eq!(created.iter().filter(|a| !a.replayed).count(), 1);
    assert_eq!(runs_of(&app, "RACE").await, 1);
}

#[tokio::test]
async fn a_key_expires_after_its_ttl_and_is_then_deleted_in_the_background() {
    let app = spawn_app().await;
    app.create_integration("DAILY").await;
    let first = send(
        &app,
        &app.client,
        Method::POST,
        RUNS,
        Some("d"),
        new_run("DAILY"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);

    // Whole seconds, and the system's clock may tick once meanwhile: hence 2 s short of a day.
    app.advance(DAY - Duration::from_secs(2));
    let retry = send(
        &app,
        &app.client,
        Method::POST,
        RUNS,
        Some("d"),
        new_run("DAILY"),
    )
    .await;
    assert!(retry.replayed, "kept for a day");
    assert_eq!(app.key_expiry.round().await, 0, "nothing expired yet");
    app.advance(Duration::from_secs(2));
    assert_eq!(
        app.key_expiry.round().await,
        1,
        "the key is deleted once expired"
    );
    assert_eq!(app.key_expiry.round().await, 0);

    let again = send(
        &app,
        &app.client,
        Method::POST,
        RUNS,
        Some("d"),
        new_run("DAILY"),
    )
    .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert!(!again.replayed, "an expired key is a new key");
    assert_eq!(runs_of(&app, "DAILY").await, 2);

    // Expired and not yet deleted, a key is as good as absent, even with another body.
    app.advance(DAY);
    let other = send(
        &app,
        &app.client,
        Method::POST,
        RUNS,
        Some("d"),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        other.status,
        StatusCode::BAD_REQUEST,
        "run, not refused as a 422"
    );
}

#[tokio::test]
async fn a_key_taken_over_keeps_its_place_and_the_keys_behind_it_still_expire() {
    let app = spawn_app().await;
    app.create_integration("REUSED").await;
    let post = |key: &'static str| {
        let app = &app;
        async move {
            send(
                app,
                &app.client,
                Method::POST,
                RUNS,
                Some(key),
                new_run("REUSED"),
            )
            .await
        }
    };
    assert_eq!(post("a").await.status, StatusCode::CREATED);
    app.advance(DAY);
    assert_eq!(post("b").await.status, StatusCode::CREATED);
    // Key "a", forgotten, is taken over: its row keeps the oldest id, with a later time
    // than "b", which is now the next to expire.
    app.advance(Duration::from_secs(10));
    let retaken = post("a").await;
    assert_eq!(retaken.status, StatusCode::CREATED);
    assert!(!retaken.replayed);

    app.advance(DAY - Duration::from_secs(5));
    assert_eq!(app.key_expiry.round().await, 1, "b expired behind a");
    assert!(post("a").await.replayed, "a is kept");
    assert!(!post("b").await.replayed, "b was forgotten");
    assert_eq!(runs_of(&app, "REUSED").await, 4);
}

#[tokio::test]
async fn the_ttl_is_the_configured_one() {
    let app = spawn_app_with(|settings| {
        settings.rate_limit = None;
        settings.idempotency_key_ttl = Duration::from_secs(3600);
    })
    .await;
    app.create_integration("HOURLY").await;
    send(
        &app,
        &app.client,
        Method::POST,
        RUNS,
        Some("h"),
        new_run("HOURLY"),
    )
    .await;
    app.advance(Duration::from_secs(3600));
    let retry = send(
        &app,
        &app.client,
        Method::POST,
        RUNS,
        Some("h"),
        new_run("HOURLY"),
    )
    .await;
    assert_eq!(retry.status, StatusCode::CREATED);
    assert!(!retry.replayed);
}

#[tokio::test]
async fn a_body_refused_before_the_handler_runs_frees_its_key() {
    let app = spawn_app_with(|settings| {
        settings.rate_limit = None;
        settings.limits.max_body_bytes = 1000;
    })
    .await;
    app.create_integration("BIG").await;
    let big = json!({"integration": {"code": "BIG"}, "flow": {"pad": "x".repeat(2000)}});
    let refused = send(&app, &app.client, Method::POST, RUNS, Some("b"), Some(big)).await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        messages(&refused.json(), "integration-run"),
        ["The request body is larger than the limit of 1000 bytes"]
    );
    let fixed = send(
        &app,
        &app.client,
        Method::POST,
        RUNS,
        Some("b"),
        new_run("BIG"),
    )
    .await;
    assert_eq!(fixed.status, StatusCode::CREATED, "{}", fixed.text);
    assert!(!fixed.replayed);
}

#[tokio::test]
async fn a_request_whose_body_never_comes_frees_its_key_when_it_is_cut_off() {
    let app = spawn_app_with(|settings| {
        settings.rate_limit = None;
        settings.limits.request_timeout = Duration::from_secs(1);
    })
    .await;
    app.create_integration("STALLED").await;
    let api_key = app.register_api_key("stalling-client", Scopes::ALL).await;
    let client = api_key_client(&api_key);
    let body = json!({"integration": {"code": "STALLED"}});

    let stalled = HeldOpen::start(&app, &api_key, RUNS, "s", body.clone()).await;
    let (status, _, _) = stalled.answer().await;
    assert_eq!(status, 408);
    // The key is freed as the request is dropped, in the background: a client that honours
    // Retry-After gets through.
    let mut retry = send(
        &app,
        &client,
        Method::POST,
        RUNS,
        Some("s"),
        Some(body.clone()),
    )
    .await;
    for _ in 0..40 {
        if retry.status != StatusCode::CONFLICT {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        retry = send(
            &app,
            &client,
            Method::POST,
            RUNS,
            Some("s"),
            Some(body.clone()),
        )
        .await;
    }
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.text);
    assert!(!retry.replayed);
    assert_eq!(runs_of(&app, "STALLED").await, 1);
}
