//! SQLite's migrations run through rusqlite now; a database made by sqlx's migrator, as the
//! code before that left it, must open, migrate and keep its rows.

use reqwest::StatusCode;
use rusqlite::Connection;
use sha2::{Digest, Sha384};

use crate::helpers::spawn_app_with;
use crate::process::run;

/// The dump of a database that sqlx 0.8's migrator made, one migration behind.
const MADE_BY_SQLX: &str = include_str!("../fixtures/sqlite_made_by_sqlx_migrator.sql");

/// `(version, description, success, checksum, installed_on, execution_time)` rows.
type History = Vec<(i64, String, bool, Vec<u8>, String, i64)>;

fn history(path: &str) -> History {
    let conn = Connection::open(path).unwrap();
    let mut select = conn
        .prepare(
            "SELECT version, description, success, checksum, installed_on, execution_time \
             FROM _sqlx_migrations ORDER BY version",
        )
        .unwrap();
    select
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Every file of migrations/sqlite: its version, sqlx's description and SHA-384.
fn files() -> Vec<(i64, String, Vec<u8>)> {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
    let mut files = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .map(|path| {
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let (version, rest) = name.split_once('_').unwrap();
            let sql = std::fs::read_to_string(&path).unwrap();
            (
                version.parse().unwrap(),
                rest.trim_end_matches(".sql").replace('_', " "),
                Sha384::digest(sql.as_bytes()).to_vec(),
            )
        })
        .collect::<Vec<_>>();
    files.sort();
    files
}

/// Writes the old database into `path` and returns its history as sqlx left it.
fn make_old_database(path: &str) -> History {
    Connection::open(path)
        .unwrap()
        .execute_batch(MADE_BY_SQLX)
        .unwrap();
    let before = history(path);
    assert!(
        !before.is_empty() && before.len() < files().len(),
        "the fixture is behind the migrations: {} of {}",
        before.len(),
        files().len()
    );
    before
}

/// The history a migrated database must have: sqlx's rows untouched, then one row per file
/// applied since, in sqlx's format.
fn assert_migrated(path: &str, before: &History) {
    let after = history(path);
    let files = files();
    assert_eq!(after.len(), files.len());
    assert_eq!(&after[..before.len()], &before[..]);
    for ((version, description, success, checksum, _, nanos), file) in
        after.iter().zip(&files).skip(before.len())
    {
        assert_eq!(
            (version, description, checksum),
            (&file.0, &file.1, &file.2)
        );
        assert!(success);
        assert!(*nanos >= 0);
    }
}

#[tokio::test]
async fn a_database_made_by_sqlx_s_migrator_is_migrated_and_serves_its_rows() {
    let mut path = String::new();
    let mut before = History::new();
    let mut app = spawn_app_with(|settings| {
        settings.rate_limit = None;
        path = settings
            .database_url
            .trim_start_matches("sqlite://")
            .to_owned();
        before = make_old_database(&path);
    })
    .await;
    assert_migrated(&path, &before);

    let (status, body) = app.get_json("/api/integrations/1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["code"], "Made-Before");
    // The migration applied on opening folds free text: found whatever its case.
    let (status, body) = app.get_json("/api/integrations?code=made-before").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["id"], 1, "{body}");

    let run = app.create_run("Made-Before").await;
    app.restart().await;
    assert_migrated(&path, &before);
    let (status, body) = app.get_json(&format!("/api/integration_runs/{run}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["integration"]["code"], "Made-Before", "{body}");
}

#[tokio::test]
async fn migrate_brings_a_database_made_by_sqlx_s_migrator_up_to_date_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db").display().to_string();
    let before = make_old_database(&path);
    let url = format!("sqlite://{path}");

    let first = run(&url, &["migrate"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_migrated(&path, &before);
    let migrated = history(&path);

    let second = run(&url, &["migrate"]);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(history(&path), migrated);
}
