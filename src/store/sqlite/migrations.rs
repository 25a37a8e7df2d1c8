//! SQLite's schema migrations, run through rusqlite, so that sqlx is built for PostgreSQL alone.
//!
//! The files in `migrations/sqlite/` are applied in version order and recorded in the table
//! that sqlx's migrator kept (`_sqlx_migrations`, same columns, same SHA-384 checksums):
//! a database made before keeps its history, and an applied file that was edited since, or a
//! version this build does not know, is refused as sqlx refused it.

use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha384};

use crate::error::{Error, Result};

macro_rules! migration {
    ($file:literal) => {
        (
            $file,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/sqlite/",
                $file
            )),
        )
    };
}

/// Every migration file, oldest first; a unit test holds this list to the folder.
const FILES: &[(&str, &str)] = &[
    migration!("20261129000001_initial.sql"),
    migration!("20261129000002_api_clients.sql"),
    migration!("20261129000003_errors_contacts_alerts.sql"),
    migration!("20261201120000_folded_text_indexes.sql"),
    migration!("20261201150000_monitors.sql"),
    migration!("20261201160000_pings.sql"),
    migration!("20261201170000_sweeper.sql"),
    migration!("20261202090000_transitions_versions_lineage.sql"),
    migration!("20261202100000_idempotency_keys.sql"),
    migration!("20261202110000_openlineage.sql"),
    migration!("20261202120000_events.sql"),
    migration!("20261202130000_event_subscriptions.sql"),
    migration!("20261202140000_idempotency_keys_by_id.sql"),
    migration!("20261202150000_events_position.sql"),
];

/// sqlx's table, as its SQLite migrator creates it.
const TABLE: &str = "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
)";

/// One migration file: `<version>_<description>.sql`.
struct Migration {
    version: i64,
    description: String,
    sql: &'static str,
    checksum: Vec<u8>,
}

impl Migration {
    fn parse((file, sql): (&str, &'static str)) -> Migration {
        let (version, rest) = file
            .split_once('_')
            .expect("a migration is VERSION_NAME.sql");
        Migration {
            version: version.parse().expect("a migration's version is a number"),
            description: rest.trim_end_matches(".sql").replace('_', " "),
            sql,
            checksum: Sha384::digest(sql.as_bytes()).to_vec(),
        }
    }
}

/// Applies the pending migrations in one write transaction: all of them, or none.
pub fn run(conn: &mut Connection) -> Result<()> {
    let migrations = FILES
        .iter()
        .copied()
        .map(Migration::parse)
        .collect::<Vec<_>>();
    // Every start and every command opens the store: on a database that is up to date, a
    // read says so without waiting for the write lock a running server's writer may hold.
    if up_to_date(conn, &migrations)? {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(TABLE)?;
    let dirty: Option<i64> = tx
        .query_row(
            "SELECT version FROM _sqlx_migrations WHERE success = false ORDER BY version LIMIT 1",
            [],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(version) = dirty {
        return Err(Error::Internal(format!(
            "migration {version} is partially applied; fix and remove row from `_sqlx_migrations` table"
        )));
    }
    let applied = tx
        .prepare("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")?
        .query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (version, checksum) in &applied {
        match migrations.iter().find(|m| m.version == *version) {
            None => {
                return Err(Error::Internal(format!(
                    "migration {version} was previously applied but is missing in the resolved migrations"
                )));
            }
            Some(known) if known.checksum != *checksum => {
                return Err(Error::Internal(format!(
                    "migration {version} was previously applied but has been modified"
                )));
            }
            Some(_) => {}
        }
    }
    for migration in &migrations {
        if applied
            .iter()
            .any(|(version, _)| *version == migration.version)
        {
            continue;
        }
        let started = Instant::now();
        tx.execute_batch(migration.sql).map_err(|e| {
            Error::Internal(format!(
                "while executing migration {}: {e}",
                migration.version
            ))
        })?;
        let nanos = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (?1, ?2, TRUE, ?3, ?4)",
            (migration.version, &migration.description, &migration.checksum, nanos),
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Whether every migration is applied, unchanged, and nothing else is: read only. Anything
/// else (a first start, a pending migration, an error to report) is for [`run`]'s write.
fn up_to_date(conn: &Connection, migrations: &[Migration]) -> Result<bool> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' \
         AND name = '_sqlx_migrations')",
        [],
        |row| row.get(0),
    )?;
    if !exists {
        return Ok(false);
    }
    let applied = conn
        .prepare("SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")?
        .query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, bool>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(applied.len() == migrations.len()
        && applied
            .iter()
            .zip(migrations)
            .all(|((version, checksum, success), m)| {
                *success && *version == m.version && *checksum == m.checksum
            }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_names_every_file_of_the_folder_in_order() {
        let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
        let mut on_disk = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".sql"))
            .collect::<Vec<_>>();
        on_disk.sort();
        let listed = FILES.iter().map(|(file, _)| *file).collect::<Vec<_>>();
        assert_eq!(listed, on_disk);
    }

    #[test]
    fn a_second_run_applies_nothing_and_an_edited_migration_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        run(&mut conn).unwrap();
        run(&mut conn).unwrap();
        let count: i64 = conn
            .query_row(
                "SELECT count(*) FROM _sqlx_migrations WHERE success",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(count, i64::try_from(FILES.len()).unwrap());

        conn.execute(
            "UPDATE _sqlx_migrations SET checksum = x'00' WHERE rowid = 1",
            [],
        )
        .unwrap();
        let refused = run(&mut conn).unwrap_err().to_string();
        assert!(refused.contains("has been modified"), "{refused}");
    }

    #[test]
    fn an_up_to_date_database_is_opened_while_another_connection_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL").unwrap();
        run(&mut conn).unwrap();
        // A running server's writer, mid-transaction; no waiting for it here.
        let writer = Connection::open(&path).unwrap();
        writer.execute_batch("BEGIN IMMEDIATE").unwrap();
        conn.busy_timeout(std::time::Duration::ZERO).unwrap();
        run(&mut conn).unwrap();
        writer.execute_batch("ROLLBACK").unwrap();
    }

    #[test]
    fn a_version_this_build_does_not_know_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        run(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (29991231000000, 'later', TRUE, x'00', 0)",
            [],
        )
        .unwrap();
        let refused = run(&mut conn).unwrap_err().to_string();
        assert!(refused.contains("29991231000000"), "{refused}");
    }
}
