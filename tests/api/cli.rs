//! The command line contract (spec `cli.md`), driven through the real binary.

use reqwest::StatusCode;
use serde_json::Value;

use crate::process::{Server, run, value_of};

fn database(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("cli.db").display())
}

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[tokio::test]
async fn clients_create_prints_credentials_that_obtain_a_token_until_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(&dir);
    let created = stdout(&run(&db, &["clients", "create", "--name", "erp-connector"]));
    let client_id = value_of(&created, "client_id").expect("client_id= line");
    let secret = value_of(&created, "client_secret").expect("client_secret= line");
    assert_eq!(created.lines().count(), 2, "{created}");

    let server = Server::start(&db, &dir.path().join("log"), &[]);
    assert!(
        !server.preamble.contains("client_secret"),
        "a client exists, so no first-start block"
    );
    let token = server.token(&client_id, &secret).await;
    let response = reqwest::Client::new()
        .get(server.url("/api/integration_runs"))
        .bearer_auth(&token)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let listed = stdout(&run(&db, &["clients", "list"]));
    assert!(
        listed.contains("erp-connector") && listed.contains(&client_id),
        "{listed}"
    );
    assert!(!listed.contains(&secret));
    let revoked = stdout(&run(&db, &["clients", "revoke", &client_id]));
    assert!(revoked.starts_with("revoked"), "{revoked}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let response = reqwest::Client::new()
        .get(server.url("/api/integration_runs"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "the revocation reaches the running server"
    );
}

#[tokio::test]
async fn api_keys_create_prints_a_forty_character_key_that_works() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(&dir);
    let created = stdout(&run(
        &db,
        &[
            "api-keys",
            "create",
            "--name",
            "old-job",
            "--scopes",
            "core.integration.read",
        ],
    ));
    let key = value_of(&created, "api_key").expect("api_key= line");
    assert_eq!(key.len(), 40);
    let server = Server::start(&db, &dir.path().join("log"), &[]);
    let response = reqwest::Client::new()
        .get(server.url("/api/integrations"))
        .header("X-COUPA-API-KEY", &key)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let listed = stdout(&run(&db, &["api-keys", "list"]));
    assert!(
        listed.contains("old-job") && listed.contains("core.integration.read"),
        "{listed}"
    );
    let bad = run(&db, &["api-keys", "revoke", "999"]);
    assert!(!bad.status.success());
}

#[tokio::test]
async fn clients_take_coupa_scope_names_which_are_granted_on_request_and_allow_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(&dir);
    let coupa = "core.integration.read core.common.read openid";
    let created = stdout(&run(
        &db,
        &[
            "clients",
            "create",
            "--name",
            "coupa-connector",
            "--scopes",
            coupa,
        ],
    ));
    let client_id = value_of(&created, "client_id").expect("client_id= line");
    let secret = value_of(&created, "client_secret").expect("client_secret= line");
    let key = stdout(&run(
        &db,
        &[
            "api-keys",
            "create",
            "--name",
            "old-job",
            "--scopes",
            "core.invoice.read",
        ],
    ));
    let key = value_of(&key, "api_key").expect("api_key= line");
    let listed = stdout(&run(&db, &["clients", "list"]));
    assert!(listed.contains(coupa), "{listed}");

    let server = Server::start(&db, &dir.path().join("log"), &[]);
    let response = reqwest::Client::new()
        .post(server.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
            (
                "scope",
                "openid profile email core.common.read core.integration.read core.invoice.read",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], coupa);

    // A key that holds only a scope Runledger gives no meaning is known, and allowed nothing.
    let response = reqwest::Client::new()
        .get(server.url("/api/integrations"))
        .header("X-COUPA-API-KEY", &key)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[test]
fn a_scope_name_that_is_not_coupa_s_is_refused_in_one_line_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["clients", "api-keys"] {
        let output = run(
            &database(&dir),
            &[
                command,
                "create",
                "--name",
                "typo",
                "--scopes",
                "openid core.integraton.read",
            ],
        );
        assert!(!output.status.success(), "{command}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        // clap's usage hint follows the message, after a blank line.
        let message: Vec<&str> = stderr.lines().take_while(|line| !line.is_empty()).collect();
        assert_eq!(
            message,
            [
                "error: invalid value 'openid core.integraton.read' for '--scopes <SCOPES>': \
                 'core.integraton.read' is not a Coupa scope name; did you mean core.integration.read?"
            ],
            "{stderr}"
        );
    }
    let listed = stdout(&run(&database(&dir), &["clients", "list"]));
    assert!(!listed.contains("typo"), "nothing was registered: {listed}");
}

#[tokio::test]
async fn the_first_start_registers_a_client_and_shows_its_secret_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(&dir);
    let mut server = Server::start(&db, &dir.path().join("log"), &[]);
    let (client_id, secret) = server.first_client();
    assert!(
        server.preamble.contains("curl -s -X POST"),
        "{}",
        server.preamble
    );
    server.token(&client_id, &secret).await;
    assert!(server.stop_with("TERM").await.success());

    let again = Server::start(&db, &dir.path().join("log2"), &[]);
    assert_eq!(again.preamble.trim(), "", "the secret is shown only once");
}

#[tokio::test]
async fn secrets_keys_and_tokens_never_reach_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(&dir);
    let created = stdout(&run(&db, &["clients", "create", "--name", "logged"]));
    let (client_id, secret) = (
        value_of(&created, "client_id").unwrap(),
        value_of(&created, "client_secret").unwrap(),
    );
    let key = value_of(
        &stdout(&run(&db, &["api-keys", "create", "--name", "key"])),
        "api_key",
    )
    .unwrap();
    let mut server = Server::start(&db, &dir.path().join("log"), &["--log", "trace"]);
    let http = reqwest::Client::new();
    let query =
        format!("grant_type=client_credentials&client_id={client_id}&client_secret={secret}");
    let response = http
        .post(server.url(&format!("/oauth2/token?{query}")))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let access_token = body["access_token"].as_str().unwrap().to_owned();
    http.post(server.url("/oauth2/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(query.clone())
        .send()
        .await
        .unwrap();
    http.post(server.url("/oauth2/token"))
        .basic_auth(&client_id, Some(&secret))
        .body("")
        .send()
        .await
        .unwrap();
    http.get(server.url("/api/integrations"))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap();
    http.get(server.url("/api/integrations"))
        .header("X-COUPA-API-KEY", &key)
        .send()
        .await
        .unwrap();
    http.get(server.url("/api/integrations"))
        .bearer_auth("wrong-token")
        .send()
        .await
        .unwrap();
    let contact: Value = http
        .post(server.url("/api/integration_contacts"))
        .bearer_auth(&access_token)
        .header("Accept", "application/json")
        .json(
            &serde_json::json!({"contact-alert-type": "Both", "contactable-type": "User",
            "contactable-id": 1, "webhook-url": "https://hooks.example.com/runledger"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let webhook_secret = contact["webhook-secret"].as_str().unwrap().to_owned();
    assert!(server.stop_with("TERM").await.success());
    let log = server.log_text();
    assert!(
        log.contains("/oauth2/token") && log.contains("/api/integration_contacts"),
        "logging was on:\n{log}"
    );
    for secret_text in [&secret, &key, &access_token, &webhook_secret] {
        assert!(
            !log.contains(secret_text.as_str()),
            "a secret reached the log"
        );
    }
}

#[tokio::test]
async fn client_secrets_and_api_keys_are_stored_only_as_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(&dir);
    let mut server = Server::start(&db, &dir.path().join("log"), &[]);
    let (first_id, first_secret) = server.first_client();
    let token = server.token(&first_id, &first_secret).await;
    let created = stdout(&run(&db, &["clients", "create", "--name", "stored"]));
    let secret = value_of(&created, "client_secret").unwrap();
    let key = value_of(
        &stdout(&run(&db, &["api-keys", "create", "--name", "stored-key"])),
        "api_key",
    )
    .unwrap();
    assert!(server.stop_with("TERM").await.success());

    // Every byte SQLite keeps: the database, and its write-ahead log if one is left.
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("cli.db")
        {
            stored.extend(std::fs::read(&path).unwrap());
        }
    }
    let holds = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
    for credential in [&first_secret, &secret, &key] {
        assert!(
            holds(&runledger::auth::secrets::hash(credential)),
            "its hash is stored"
        );
        assert!(
            !holds(credential.as_bytes()),
            "a credential is stored in clear"
        );
    }
    assert!(!holds(token.as_bytes()), "tokens are never stored");
}

#[test]
fn a_command_that_cannot_work_exits_non_zero_with_one_line() {
    for database in ["sqlite:///nonexistent-dir/x.db", "mysql://nowhere/db"] {
        let output = run(database, &["migrate"]);
        assert!(!output.status.success());
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("runledger: "), "{stderr}");
    }
    let dir = tempfile::tempdir().unwrap();
    let migrated = run(&database(&dir), &["migrate"]);
    assert!(migrated.status.success());
    let taken = run(&database(&dir), &["clients", "create", "--name", "twice"]);
    assert!(taken.status.success());
    let again = run(&database(&dir), &["clients", "create", "--name", "twice"]);
    assert!(!again.status.success(), "names are unique");
}

#[test]
fn seed_writes_the_runs_it_was_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let output = stdout(&run(
        &database(&dir),
        &["seed", "--runs", "250", "--integrations", "2"],
    ));
    assert!(output.starts_with("seeded 250 runs ("), "{output}");
    assert!(output.trim_end().ends_with("runs/s"), "{output}");
}

#[test]
fn a_client_name_xml_cannot_carry_is_refused_with_one_line_and_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(&dir);
    for command in ["clients", "api-keys"] {
        let output = run(&db, &[command, "create", "--name", "ci\u{1b}[31mbot"]);
        assert!(!output.status.success(), "{command}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("runledger: The client name contains U+001B at character 3"),
            "{stderr}"
        );
        let listed = stdout(&run(&db, &[command, "list"]));
        assert_eq!(listed.lines().count(), 1, "only the header: {listed}");
    }
    let tabbed = stdout(&run(&db, &["api-keys", "create", "--name", "ci\tbot"]));
    assert!(value_of(&tabbed, "api_key").is_some(), "{tabbed}");
}
