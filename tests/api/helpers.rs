//! `TestApp`: a real server on port 0 over a fresh database, and a client for it.
//!
//! The database is a SQLite file in a temporary directory, or, in the `api_postgres` binary,
//! a fresh schema on the PostgreSQL server that `RUNLEDGER_TEST_POSTGRES_URL` names, dropped
//! when the test ends.

use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use runledger::auth;
use runledger::config::Settings;
use runledger::domain::clients::{ClientKind, Scopes};
use runledger::startup::Application;
use runledger::store::Store;
use runledger::sweeper::{Round, Sweeper};
use runledger::workers::key_expiry::KeyExpiry;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub sweeper: Arc<Sweeper>,
    /// The worker that deletes expired idempotency keys, for a round now.
    pub key_expiry: Arc<KeyExpiry>,
    settings: Settings,
    running: Option<Running>,
    /// The database, removed when the test ends.
    _database: TestDatabase,
}

/// Which database the suite runs on; each test binary's `main.rs` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The environment variable that names the PostgreSQL server for the tests.
pub const POSTGRES_URL_VARIABLE: &str = "RUNLEDGER_TEST_POSTGRES_URL";

/// A database of one test's own: a SQLite file, or a PostgreSQL schema.
pub enum TestDatabase {
    Sqlite { _dir: TempDir },
    Postgres { server: String, schema: String },
}

impl TestDatabase {
    /// A fresh database on `backend`, and its URL.
    pub async fn create(backend: Backend) -> (TestDatabase, String) {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}", dir.path().join("runledger.db").display());
                (TestDatabase::Sqlite { _dir: dir }, url)
            }
            Backend::Postgres => {
                let server = postgres_server();
                let schema = format!(
                    "rl_test_{}",
                    runledger::auth::secrets::new_api_key()
                        .expect("random")
                        .get(..16)
                        .unwrap_or("x")
                );
                let pool = sqlx::PgPool::connect(&server)
                    .await
                    .expect("the test PostgreSQL server answers");
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&pool)
                    .await
                    .expect("schema created");
                pool.close().await;
                let separator = if server.contains('?') { '&' } else { '?' };
                let url = format!("{server}{separator}options=-c%20search_path%3D{schema}");
                (TestDatabase::Postgres { server, schema }, url)
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { server, schema } = self {
            let (server, name) = (server.clone(), schema.clone());
            // Drop runs outside any runtime the test may still be shutting down: use a thread
            // with its own.
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async {
                    let pool = sqlx::PgPool::connect(&server).await?;
                    // The test is over, but its server's tasks (the alert dispatcher) may
                    // have been stopped inside a transaction on a runtime that this drop now
                    // blocks: end every session still holding a lock in the schema.
                    sqlx::query(
                        "SELECT pg_terminate_backend(l.pid) FROM pg_locks l \
                         JOIN pg_class c ON c.oid = l.relation \
                         JOIN pg_namespace n ON n.oid = c.relnamespace \
                         WHERE n.nspname = $1 AND l.pid <> pg_backend_pid()",
                    )
                    .bind(&name)
                    .execute(&pool)
                    .await?;
                    sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .execute(&pool)
                        .await?;
                    pool.close().await;
                    Ok::<(), sqlx::Error>(())
                })
            });
            if let Ok(Err(error)) = dropped.join() {
                eprintln!("could not drop test schema {schema}: {error}");
            }
        }
    }
}

/// The PostgreSQL server of the tests, or — when none is configured — a clear skip: the
/// message goes straight to the terminal and the binary ends successfully, since nothing in
/// it can run.
pub fn postgres_server() -> String {
    match std::env::var(POSTGRES_URL_VARIABLE) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: the PostgreSQL suite did not run because {POSTGRES_URL_VARIABLE} is not set \
                 (e.g. postgres://postgres@127.0.0.1:5432/postgres); .ci/run sets it."
            );
            std::process::exit(0);
        }
    }
}

/// A server task and the switch that stops it.
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<runledger::Result<()>>,
}

/// Starts a server on a fresh database, with a client holding every scope, and returns once
/// it accepts connections. Throttling is off: tests send far more than 25 requests a second.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|settings| settings.rate_limit = None).await
}

/// [`spawn_app`] with settings adjusted by `adjust` (throttling, token lifetime, …).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let (database, database_url) = TestDatabase::create(crate::BACKEND).await;
    let mut settings = Settings::new(database_url, "127.0.0.1:0");
    adjust(&mut settings);
    let Started {
        address,
        store,
        sweeper,
        key_expiry,
        running,
    } = start(&settings).await;
    let mut test_app = TestApp {
        address,
        client: reqwest::Client::new(),
        store,
        sweeper,
        key_expiry,
        settings,
        running: Some(running),
        _database: database,
    };
    let (client_id, secret) = test_app.register_client("test-client", Scopes::ALL).await;
    let token = test_app.token(&client_id, &secret, None).await;
    test_app.client = test_app.client_with_token(&token);
    test_app
}

/// A server just started, with what a test reaches of it.
struct Started {
    address: String,
    store: Arc<dyn Store>,
    sweeper: Arc<Sweeper>,
    key_expiry: Arc<KeyExpiry>,
    running: Running,
}

async fn start(settings: &Settings) -> Started {
    let app = Application::build(settings)
        .await
        .expect("the application builds");
    let address = format!("http://{}", app.local_addr().expect("bound address"));
    let store = app.store();
    let sweeper = app.sweeper();
    let key_expiry = app.key_expiry();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    Started {
        address,
        store,
        sweeper,
        key_expiry,
        running: Running { stop, task },
    }
}

impl TestApp {
    /// Stops the server gracefully and starts a new one on the same database and settings
    /// (on a new port). Tokens stay valid: the signing key is in the database.
    pub async fn restart(&mut self) {
        if let Some(old) = self.running.take() {
            let _ = old.stop.send(());
            old.task
                .await
                .expect("server task")
                .expect("the server stopped cleanly");
        }
        let started = start(&self.settings).await;
        self.address = started.address;
        self.store = started.store;
        self.sweeper = started.sweeper;
        self.key_expiry = started.key_expiry;
        self.running = Some(started.running);
    }

    /// [`restart`](Self::restart) with the settings adjusted by `adjust` first: a node whose
    /// operator changed its configuration.
    pub async fn restart_with(&mut self, adjust: impl FnOnce(&mut Settings)) {
        adjust(&mut self.settings);
        self.restart().await;
    }

    /// The settings the server runs with (its clock included, which the test may move).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Moves the clock that monitors are watched by.
    pub fn advance(&self, span: std::time::Duration) {
        self.settings.clock.advance(span);
    }

    /// Sweeps now, beside the server's own rounds, until no monitor is due: a round may find
    /// a monitor that the server's sweeper is looking at (and, on PostgreSQL, skip it), so one
    /// round alone does not mean that the look is done. What this caller's rounds did.
    pub async fn sweep(&self) -> Round {
        let mut total = Round::default();
        for _ in 0..100 {
            let round = self.sweeper.round().await;
            let quiet = round.due == 0;
            total += round;
            if quiet {
                return total;
            }
            tokio::task::yield_now().await;
        }
        panic!("monitors stayed due through 100 rounds: {total:?}");
    }

    /// Registers an OAuth client; returns its client id and secret.
    pub async fn register_client(&self, name: &str, scopes: Scopes) -> (String, String) {
        let (client, secret) = auth::register(
            self.store.as_ref(),
            name,
            ClientKind::OauthClient,
            scopes,
            false,
        )
        .await
        .expect("client registered");
        (
            client.client_id.expect("OAuth clients have a client id"),
            secret,
        )
    }

    /// Registers a legacy API key and returns it.
    pub async fn register_api_key(&self, name: &str, scopes: Scopes) -> String {
        auth::register(self.store.as_ref(), name, ClientKind::ApiKey, scopes, false)
            .await
            .expect("key registered")
            .1
    }

    /// The raw answer of `POST /oauth2/token` with a form body.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = reqwest::Client::new()
            .post(self.url("/oauth2/token"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish(),
            )
            .send()
            .await
            .expect("token request sent");
        let status = response.status();
        (status, response.json().await.expect("token answer is JSON"))
    }

    /// An access token for the client, with `scope` or all of its scopes.
    pub async fn token(&self, client_id: &str, secret: &str, scope: Option<&str>) -> String {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let (status, body) = self.token_request(&form).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    /// A client that sends `Authorization: Bearer <token>` on every request.
    pub fn client_with_token(&self, token: &str) -> reqwest::Client {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).expect("token header"),
        );
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("client")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request with a JSON body (when given) and `Accept: application/json`.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("Accept", "application/json");
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.expect("body read");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect(&text)
        };
        (status, value)
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        self.json(Method::GET, path, None).await
    }

    pub async fn post_json(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.json(Method::POST, path, Some(body)).await
    }

    pub async fn put_json(&self, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.json(Method::PUT, path, body).await
    }

    /// A request with an XML body (when given) and `Accept: application/xml`; the answer as text.
    pub async fn xml(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
    ) -> (StatusCode, String) {
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("Accept", "application/xml");
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/xml")
                .body(body.to_owned());
        }
        let response = request.send().await.expect("request sent");
        (response.status(), response.text().await.expect("body read"))
    }

    /// Creates an integration with `code` (its name is derived) and returns it.
    pub async fn create_integration(&self, code: &str) -> Value {
        let (status, body) = self
            .post_json("/api/integrations", integration_body(code))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Creates a run of the integration with `code` and returns its id.
    pub async fn create_run(&self, code: &str) -> i64 {
        let (status, body) = self
            .post_json(
                "/api/integration_runs",
                json!({"integration": {"code": code}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().expect("run id")
    }

    /// Files an integration error (document 42 of `document_type`) on a run, resolved or not.
    pub async fn file_error(&self, run_id: i64, document_type: &str, resolved: bool) -> Value {
        let body = json!({"integration-run": {"id": run_id}, "contact-alert-type": "Technical",
                          "document-type": document_type, "document-id": 42});
        let (status, error) = self.post_json("/api/integration_errors", body).await;
        assert_eq!(status, StatusCode::CREATED, "{error}");
        if !resolved {
            return error;
        }
        let (status, error) = self
            .put_json(
                &format!("/api/integration_errors/{}/resolve", error["id"]),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{error}");
        error
    }
}

/// A valid integration body.
pub fn integration_body(code: &str) -> Value {
    json!({
        "code": code,
        "name": format!("{code} integration"),
        "business-object": "OrderHeader",
        "direction": "from_coupa",
        "end-system": "SAP",
        "end-system-type": "erp",
        "integration-type": "api"
    })
}

/// Parses an XML response into the value of its root element (see `runledger::http::xml`).
pub fn xml_value(text: &str) -> Value {
    runledger::http::xml::parse_document(text.as_bytes()).expect(text)
}

/// The messages of a JSON error body for `resource`.
pub fn messages(body: &Value, resource: &str) -> Vec<String> {
    body["errors"][resource]
        .as_array()
        .unwrap_or_else(|| panic!("no errors for {resource} in {body}"))
        .iter()
        .map(|m| m.as_str().unwrap_or_default().to_owned())
        .collect()
}

impl TestApp {
    /// Runs `sql` on the test's database from a connection of the test's own: for rows no
    /// request can make today (those an older version's rules allowed).
    pub async fn execute_sql(&self, sql: &str) {
        self.try_execute_sql(sql).await.expect("the statement ran");
    }

    /// [`TestApp::execute_sql`], with the database's refusal as text.
    pub async fn try_execute_sql(&self, sql: &str) -> Result<(), String> {
        use sqlx::Connection;
        let url = &self.settings.database_url;
        match crate::BACKEND {
            Backend::Sqlite => {
                let path = url.trim_start_matches("sqlite://");
                rusqlite::Connection::open(path)
                    .and_then(|c| c.execute_batch(sql))
                    .map_err(|e| e.to_string())
            }
            Backend::Postgres => {
                let mut connection = sqlx::PgConnection::connect(url)
                    .await
                    .expect("a connection of the test's own");
                sqlx::raw_sql(sql)
                    .execute(&mut connection)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// Holds the database's write locks from a connection of the test's own, so that the
/// server's next write waits inside the store for as long as the test likes.
pub enum WriteLock {
    /// SQLite's one write lock: the server's writer waits for it (`busy_timeout`).
    Sqlite(rusqlite::Connection),
    /// Exclusive locks on the integrations and runs tables: reads go on, while every write,
    /// and every read `FOR UPDATE` that decides one, waits.
    Postgres(sqlx::PgConnection),
}

impl WriteLock {
    pub async fn take(database_url: &str) -> WriteLock {
        use sqlx::Connection;
        match crate::BACKEND {
            Backend::Sqlite => {
                let path = database_url.trim_start_matches("sqlite://");
                let connection =
                    rusqlite::Connection::open(path).expect("a connection of the test's own");
                connection
                    .execute_batch("BEGIN IMMEDIATE")
                    .expect("the write lock");
                WriteLock::Sqlite(connection)
            }
            Backend::Postgres => {
                let mut connection = sqlx::PgConnection::connect(database_url)
                    .await
                    .expect("a connection of the test's own");
                for statement in [
                    "BEGIN",
                    "LOCK TABLE integrations, integration_runs IN EXCLUSIVE MODE",
                ] {
                    sqlx::query(statement)
                        .execute(&mut connection)
                        .await
                        .expect("the table locks");
                }
                WriteLock::Postgres(connection)
            }
        }
    }

    pub async fn release(self) {
        let released = match self {
            WriteLock::Sqlite(c) => c.execute_batch("ROLLBACK").map_err(|e| e.to_string()),
            WriteLock::Postgres(mut c) => sqlx::query("ROLLBACK")
                .execute(&mut c)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
        };
        released.expect("lock released");
    }
}
