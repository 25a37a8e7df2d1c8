//! The limits of a server in the open (`docs/security.md`), each just over and just under its
//! edge: the size of a request's head and body, the time a request may take, clients that
//! send slowly or not at all, the connection cap, the query language's bounds, and a graceful
//! shutdown with a slow request in flight. Raw sockets play the clients that no HTTP library
//! would be.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use runledger::config::Limits;
use runledger::config::Settings;
use runledger::domain::clients::{ClientKind, Scopes};
use runledger::startup::Application;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::helpers::{TestDatabase, WriteLock, integration_body, messages, xml_value};

/// A server with its own limits, stopped on demand, and an API key for raw clients.
struct Server {
    addr: SocketAddr,
    key: String,
    database_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<runledger::Result<()>>,
    _database: TestDatabase,
}

async fn serve(limits: Limits) -> Server {
    let (database, database_url) = TestDatabase::create(crate::BACKEND).await;
    let mut settings = Settings::new(database_url.clone(), "127.0.0.1:0");
    settings.rate_limit = None;
    settings.limits = limits;
    let app = Application::build(&settings)
        .await
        .expect("the application builds");
    let addr = app.local_addr().expect("bound address");
    let (_, key) = runledger::auth::register(
        app.store().as_ref(),
        "limits",
        ClientKind::ApiKey,
        Scopes::ALL,
        false,
    )
    .await
    .expect("key registered");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        key,
        database_url,
        stop: Some(stop),
        task,
        _database: database,
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A client that sends the API key and asks for JSON.
    fn client(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("X-COUPA-API-KEY", self.key.parse().expect("header"));
        headers.insert("Accept", "application/json".parse().expect("header"));
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("client")
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client()
            .get(self.url(path))
            .send()
            .await
            .expect("sent");
        let status = response.status();
        (status, response.json().await.expect("a JSON answer"))
    }

    /// A request head with the key, asking for JSON; `extra` holds more header lines.
    fn head(&self, method: &str, path: &str, extra: &str) -> String {
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nX-COUPA-API-KEY: {}\r\n\
             Accept: application/json\r\n{extra}\r\n",
            self.addr, self.key
        )
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.expect("connected")
    }
}

/// What the server sent until it closed the connection or `within` passed, and whether it
/// closed (end of stream or reset).
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let deadline = Instant::now() + within;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let closed = loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&received).into_owned(), closed)
}

/// The JSON body of a raw response.
fn json_body(response: &str) -> Value {
    let (_, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"))
}

/// The one error message of a raw response's XML `<errors>` body, after checking that its
/// head says XML and gives the body's length.
fn xml_error(response: &str) -> String {
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("\r\ncontent-type: application/xml; charset=utf-8"),
        "{response}"
    );
    assert!(
        head.contains(&format!("\r\ncontent-length: {}\r\n", body.len()))
            || head.ends_with(&format!("\r\ncontent-length: {}", body.len())),
        "{response}"
    );
    let errors = xml_value(body);
    errors["error"]
        .as_str()
        .unwrap_or_else(|| panic!("one <error> in <errors>: {response}"))
        .to_owned()
}

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn a_head_over_the_header_limit_is_a_431_and_one_under_it_is_served() {
    let server = serve(Limits {
        max_header_bytes: 8192,
        ..Limits::DEFAULT
    })
    .await;

    let filler = format!("X-Filler: {}\r\n", "a".repeat(9000));
    let mut stream = server.connect().await;
    let head = server.head("GET", "/api/integration_runs", &filler);
    stream.write_all(head.as_bytes()).await.expect("sent");
    let (response, closed) = read_until_closed(&mut stream, 5 * SECOND).await;
    assert!(
        response.starts_with("HTTP/1.1 431 "),
        "hyper's own answer: {response}"
    );
    assert!(closed, "the connection closes after a 431");
    // hyper answers before any header is read, so in XML whatever the Accept header says.
    let names_the_limit = |message: String| {
        assert!(
            message.starts_with("The request's head is too large")
                && message.contains("must fit in 8192 bytes and 100 headers"),
            "{message}"
        );
    };
    names_the_limit(xml_error(&response));

    // The request line counts too: a long query string is refused the same way.
    let mut stream = server.connect().await;
    let path = format!("/api/integration_runs?id[in]={}", "1,".repeat(4500));
    let head = server.head("GET", &path, "");
    stream.write_all(head.as_bytes()).await.expect("sent");
    let (response, _) = read_until_closed(&mut stream, 5 * SECOND).await;
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
    names_the_limit(xml_error(&response));

    // So does a head of more than hyper's 100 headers, however short.
    let mut stream = server.connect().await;
    let many: String = (0..101).map(|i| format!("X-{i}: 1\r\n")).collect();
    let head = server.head("GET", "/api/integration_runs", &many);
    stream.write_all(head.as_bytes()).await.expect("sent");
    let (response, _) = read_until_closed(&mut stream, 5 * SECOND).await;
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
    names_the_limit(xml_error(&response));

    let response = server
        .client()
        .get(server.url("/api/integration_runs"))
        .header("X-Filler", "a".repeat(6000))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_raw_quote_or_angle_bracket_in_the_url_is_a_400_whose_xml_body_says_to_percent_encode() {
    let server = serve(Limits::DEFAULT).await;
    server
        .client()
        .post(server.url("/api/integrations"))
        .json(&integration_body("PO_TO_ERP"))
        .send()
        .await
        .expect("sent");

    // As `curl -g` sends the README's example: the brackets pass, the quotes do not.
    for target in [
        r#"/api/integrations?fields=["id"]"#,
        "/api/integrations?code[contains]=<PO>",
        "/api/<integrations>",
    ] {
        for accept in ["application/json", "application/xml"] {
            let mut stream = server.connect().await;
            let head = server
                .head("GET", target, "")
                .replace("application/json", accept);
            stream.write_all(head.as_bytes()).await.expect("sent");
            let (response, closed) = read_until_closed(&mut stream, 5 * SECOND).await;
            assert!(
                response.starts_with("HTTP/1.1 400 "),
                "{target}: {response}"
            );
            assert!(closed, "the connection closes after hyper's 400");
            let message = xml_error(&response);
            assert!(
                message.contains(r#"Percent-encode ", <, > and ` in the URL"#)
                    && message.contains("-G --data-urlencode"),
                "{message}"
            );
        }
    }

    // Percent-encoded, as the message says, the same request is served, in either format.
    let encoded = "/api/integrations?fields=%5B%22id%22%5D";
    let (status, body) = server.get(encoded).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body[0]["id"].is_i64() && body[0].get("code").is_none(),
        "{body}"
    );
    let response = server
        .client()
        .get(server.url(encoded))
        .header("Accept", "application/xml")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("text");
    assert!(
        text.contains("<id type=\"integer\">") && !text.contains("<code>"),
        "{text}"
    );
}

#[tokio::test]
async fn a_body_over_the_body_limit_is_a_413_that_names_the_limit_in_either_format() {
    let server = serve(Limits {
        max_body_bytes: 1024,
        ..Limits::DEFAULT
    })
    .await;
    let mut big = integration_body("BIG");
    big["name"] = json!("n".repeat(1500));

    let response = server
        .client()
        .post(server.url("/api/integrations"))
        .header("Content-Type", "application/json")
        .body(big.to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        messages(&body, "integration"),
        ["The request body is larger than the limit of 1 KiB"]
    );

    let xml = format!(
        "<integration><code>BIG</code><name>{}</name></integration>",
        "n".repeat(1500)
    );
    let response = server
        .client()
        .post(server.url("/api/integrations"))
        .header("Accept", "application/xml")
        .header("Content-Type", "application/xml")
        .body(xml)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let text = response.text().await.expect("text");
    assert_eq!(
        xml_value(&text)["error"],
        "The request body is larger than the limit of 1 KiB",
        "{text}"
    );

    let response = server
        .client()
        .post(server.url("/api/integrations"))
        .header("Content-Type", "application/json")
        .body(integration_body("SMALL").to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_request_whose_body_stalls_is_cut_off_with_a_408_and_its_connection_closed() {
    let server = serve(Limits {
        request_timeout: SECOND,
        ..Limits::DEFAULT
    })
    .await;
    let mut stream = server.connect().await;
    let head = server.head(
        "POST",
        "/api/integrations",
        "Content-Type: application/json\r\nContent-Length: 200\r\n",
    );
    let started = Instant::now();
    stream.write_all(head.as_bytes()).await.expect("sent");
    stream
        .write_all(br#"{"code": "SLOW","#)
        .await
        .expect("sent");

    let (response, closed) = read_until_closed(&mut stream, 5 * SECOND).await;
    let waited = started.elapsed();
    assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
    assert_eq!(
        messages(&json_body(&response), "integration"),
        ["The request was not received in full within the limit of 1 s"]
    );
    assert!(closed, "the connection closes with the 408");
    assert!(
        waited >= SECOND,
        "cut off after {waited:?}, before the limit"
    );
    assert!(waited < 3 * SECOND, "cut off only after {waited:?}");
}

#[tokio::test]
async fn a_request_that_outlives_the_request_timeout_is_a_503_and_the_server_recovers() {
    let server = serve(Limits {
        request_timeout: SECOND,
        ..Limits::DEFAULT
    })
    .await;
    let lock = WriteLock::take(&server.database_url).await;

    let started = Instant::now();
    let response = server
        .client()
        .post(server.url("/api/integrations"))
        .header("Content-Type", "application/json")
        .body(integration_body("STUCK").to_string())
        .send()
        .await
        .expect("sent");
    let waited = started.elapsed();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        messages(&body, "integration"),
        ["The request took longer than the limit of 1 s"]
    );
    assert!((SECOND..3 * SECOND).contains(&waited), "{waited:?}");

    lock.release().await;
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for attempt in 0..10 {
        let code = format!("AFTER_{attempt}");
        let response = server
            .client()
            .post(server.url("/api/integrations"))
            .header("Content-Type", "application/json")
            .body(integration_body(&code).to_string())
            .send()
            .await
            .expect("sent");
        status = response.status();
        if status == StatusCode::CREATED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        status,
        StatusCode::CREATED,
        "writes work once the lock is gone"
    );
}

#[tokio::test]
async fn a_client_that_sends_its_head_byte_by_byte_is_cut_off_after_the_header_read_timeout() {
    let timeout = Duration::from_millis(500);
    let server = serve(Limits {
        header_read_timeout: timeout,
        ..Limits::DEFAULT
    })
    .await;
    let mut stream = server.connect().await;
    let started = Instant::now();
    let head = b"GET /api/integration_runs HTTP/1.1\r\nHost: slow\r\nX-Slow: ";
    let mut bytes = head.iter().copied().chain(std::iter::repeat(b'a'));
    let mut buffer = [0u8; 1024];
    let mut received = Vec::new();
    let closed_after = loop {
        let byte = bytes.next().unwrap_or(b'a');
        if stream.write_all(&[byte]).await.is_err() {
            break started.elapsed();
        }
        let read = tokio::time::timeout(Duration::from_millis(50), stream.read(&mut buffer));
        match read.await {
            Ok(Ok(0)) | Ok(Err(_)) => break started.elapsed(),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => {}
        }
        assert!(started.elapsed() < 5 * SECOND, "never cut off");
    };
    assert!(closed_after >= timeout, "cut off after {closed_after:?}");
    assert!(
        closed_after < timeout + 2 * SECOND,
        "cut off after {closed_after:?}"
    );
    assert!(
        received.is_empty(),
        "hyper closes without an answer: {}",
        String::from_utf8_lossy(&received)
    );

    let (status, _) = server.get("/api/integration_runs").await;
    assert_eq!(status, StatusCode::OK, "a prompt client is still served");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_read_timeout() {
    let timeout = Duration::from_millis(500);
    let server = serve(Limits {
        header_read_timeout: timeout,
        ..Limits::DEFAULT
    })
    .await;
    let mut stream = server.connect().await;
    let started = Instant::now();
    let head = server.head("GET", "/api/integration_runs", "");
    stream.write_all(head.as_bytes()).await.expect("sent");
    let (response, closed) = read_until_closed(&mut stream, timeout * 6).await;
    let waited = started.elapsed();
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    assert!(closed, "the idle connection is closed");
    assert!(waited >= timeout, "closed after {waited:?}: not kept alive");
    assert!(waited < timeout + 2 * SECOND, "closed after {waited:?}");
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    let server = serve(Limits {
        max_connections: 2,
        ..Limits::DEFAULT
    })
    .await;
    let first = server.connect().await;
    let _second = server.connect().await;

    let mut third = server.connect().await;
    let head = server.head("GET", "/api/integration_runs", "Connection: close\r\n");
    third.write_all(head.as_bytes()).await.expect("sent");
    let (response, closed) = read_until_closed(&mut third, Duration::from_millis(500)).await;
    assert_eq!(
        (response.as_str(), closed),
        ("", false),
        "over the cap, a connection waits"
    );

    drop(first);
    let (response, closed) = read_until_closed(&mut third, 5 * SECOND).await;
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    assert_eq!(json_body(&response), json!([]));
    assert!(closed);

    let (status, _) = server.get("/api/integration_runs").await;
    assert_eq!(status, StatusCode::OK, "under the cap, a client is served");
}

#[tokio::test]
async fn graceful_shutdown_closes_idle_connections_and_lets_a_slow_request_finish() {
    let mut server = serve(Limits::DEFAULT).await;
    let body = integration_body("LAST_ONE").to_string();
    let (first_half, second_half) = body.split_at(body.len() / 2);
    let mut slow = server.connect().await;
    let head = server.head(
        "POST",
        "/api/integrations",
        &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ),
    );
    slow.write_all(head.as_bytes()).await.expect("sent");
    slow.write_all(first_half.as_bytes()).await.expect("sent");
    let mut idle = server.connect().await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    server
        .stop
        .take()
        .expect("running")
        .send(())
        .expect("stop sent");
    let (nothing, closed) = read_until_closed(&mut idle, 2 * SECOND).await;
    assert_eq!(
        (nothing.as_str(), closed),
        ("", true),
        "idle: closed at once"
    );
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "a stopping server accepts no new connection"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !server.task.is_finished(),
        "the server waits for the request"
    );

    slow.write_all(second_half.as_bytes()).await.expect("sent");
    let (response, closed) = read_until_closed(&mut slow, 5 * SECOND).await;
    assert!(response.starts_with("HTTP/1.1 201 "), "{response}");
    assert_eq!(json_body(&response)["code"], "LAST_ONE");
    assert!(closed, "no further request on a stopping server");
    let stopped = tokio::time::timeout(5 * SECOND, &mut server.task).await;
    assert!(
        matches!(stopped, Ok(Ok(Ok(())))),
        "the server stops once the request is answered: {stopped:?}"
    );
}

#[tokio::test]
async fn the_query_language_bounds_are_400s_that_name_each_limit() {
    let server = serve(Limits::DEFAULT).await;
    let runs = "/api/integration_runs";

    // Distinct keys: of a key sent more than once only its last value counts (Rack's rule).
    let conditions = |n| {
        let fields = [
            "id",
            "total_records",
            "records_processed",
            "total-records",
            "records-processed",
        ];
        let ops = ["gt", "gt_or_eq", "not_eq", "lt", "lt_or_eq"];
        let keys = fields
            .iter()
            .flat_map(|f| ops.iter().map(move |op| format!("{f}[{op}]=0")));
        keys.take(n).collect::<Vec<_>>().join("&")
    };
    let repeated = format!("{runs}?{}", vec!["id[gt]=0"; 25].join("&"));
    assert_served(&server, &repeated).await;
    let within = format!("{runs}?{}&limit=5&order_by=id", conditions(20));
    assert_served(&server, &within).await;
    let over = format!("{runs}?{}", conditions(21));
    assert_refused(&server, &over, "at most 20 conditions").await;

    let list = |n: usize| (1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    assert_served(&server, &format!("{runs}?id[in]={}", list(500))).await;
    let over = format!("{runs}?id[not_in]={}", list(501));
    assert_refused(&server, &over, "at most 500 values").await;

    let fields = |n| format!("[{}]", vec!["\"id\""; n].join(","));
    assert_served(&server, &format!("{runs}?fields={}", fields(200))).await;
    let over = format!("{runs}?fields={}", fields(201));
    assert_refused(&server, &over, "at most 200 elements").await;
    let deep = r#"[{"integration_errors":[{"integration_run":[{"integration_errors":[{"integration_run":["id"]}]}]}]}]"#;
    let over = format!("{runs}?fields={deep}");
    assert_refused(&server, &over, "at most 3 associations deep").await;
    let path = "integration_errors[integration_run][integration_errors][integration_run][id]";
    let over = format!("{runs}?{path}=1");
    assert_refused(&server, &over, "more than 3 associations deep").await;

    // The same refusal in XML, Coupa's default.
    let response = server
        .client()
        .get(server.url(&format!("{runs}?{}", conditions(21))))
        .header("Accept", "application/xml")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let text = response.text().await.expect("text");
    assert_eq!(
        xml_value(&text)["error"],
        "A query may hold at most 20 conditions",
        "{text}"
    );
}

async fn assert_served(server: &Server, path: &str) {
    let (status, body) = server.get(path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
}

async fn assert_refused(server: &Server, path: &str, limit: &str) {
    let (status, body) = server.get(path).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
    let messages = messages(&body, "integration-run");
    assert!(messages[0].contains(limit), "{path}: {messages:?}");
}

/// The flags reach the server: `runledger serve` with small limits, a slow request in
/// flight through SIGTERM.
#[tokio::test]
async fn serve_takes_its_limits_from_the_command_line_and_drains_on_sigterm() {
    use crate::process;
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_database, database) = TestDatabase::create(crate::BACKEND).await;
    let mut server = process::Server::start(
        &database,
        &dir.path().join("log"),
        &[
            "--max-header-bytes",
            "8192",
            "--max-body-bytes",
            "1024",
            "--header-read-timeout",
            "1",
        ],
    );
    let addr = server.address.trim_start_matches("http://").to_owned();

    let mut stream = TcpStream::connect(&addr).await.expect("connected");
    let head = format!(
        "GET /api/integration_runs HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(9000)
    );
    stream.write_all(head.as_bytes()).await.expect("sent");
    let (response, _) = read_until_closed(&mut stream, 5 * SECOND).await;
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
    assert!(
        xml_error(&response).contains("must fit in 8192 bytes"),
        "{response}"
    );

    let response = reqwest::Client::new()
        .post(server.url("/oauth2/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&pad={}",
            "a".repeat(2000)
        ))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let text = response.text().await.expect("text");
    assert_eq!(
        xml_value(&text)["error"],
        "The request body is larger than the limit of 1 KiB"
    );

    let mut silent = TcpStream::connect(&addr).await.expect("connected");
    let (_, closed) = read_until_closed(&mut silent, 4 * SECOND).await;
    assert!(
        closed,
        "a silent client is cut off after --header-read-timeout"
    );

    let (client_id, secret) = server.first_client();
    let token = server.token(&client_id, &secret).await;
    let body = integration_body("DRAINED").to_string();
    let (first_half, second_half) = body.split_at(body.len() / 2);
    let mut slow = TcpStream::connect(&addr).await.expect("connected");
    let head = format!(
        "POST /api/integrations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Accept: application/json\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.expect("sent");
    slow.write_all(first_half.as_bytes()).await.expect("sent");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill(1) runs");
    assert!(sent.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        server.child.try_wait().expect("status").is_none(),
        "the server waits for the request in flight"
    );
    slow.write_all(second_half.as_bytes()).await.expect("sent");
    let (response, _) = read_until_closed(&mut slow, 5 * SECOND).await;
    assert!(response.starts_with("HTTP/1.1 201 "), "{response}");
    let deadline = Instant::now() + process::PATIENCE;
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("status") {
            break status;
        }
        assert!(Instant::now() < deadline, "still running after the request");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{}", server.log_text());
}
