//! The machine's limit for the database: synced single-row commits through the driver.

use std::time::Instant;

/// Synced single-row commits per second, one transaction each, through the benchmark's
/// backend's driver: rusqlite on a scratch SQLite file in `dir`, opened as the server opens
/// its file, or sqlx on a scratch table in the PostgreSQL database `postgres` names.
pub async fn commit_rate(dir: &std::path::Path, postgres: Option<&str>, seconds: f64) -> f64 {
    const TABLE: &str = "runledger_bench_commits";
    let ddl = [
        format!("DROP TABLE IF EXISTS {TABLE}"),
        format!("CREATE TABLE {TABLE} (id BIGINT PRIMARY KEY, v TEXT)"),
    ];
    let insert = format!("INSERT INTO {TABLE} (id, v) VALUES ($1, $2)");
    let cleanup = format!("DROP TABLE {TABLE}");
    let Some(url) = postgres else {
        let path = dir.join("commits.db");
        return tokio::task::spawn_blocking(move || {
            let conn = rusqlite::Connection::open(path).expect("scratch database");
            conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
                .expect("pragmas");
            conn.execute_batch(&ddl.join(";")).expect("scratch table");
            let started = Instant::now();
            let mut n = 0i64;
            while started.elapsed().as_secs_f64() < seconds {
                conn.execute_batch("BEGIN").expect("begin");
                conn.prepare_cached(&insert)
                    .and_then(|mut insert| insert.execute(rusqlite::params![n, "row"]))
                    .expect("insert");
                conn.execute_batch("COMMIT").expect("commit");
                n += 1;
            }
            n as f64 / started.elapsed().as_secs_f64()
        })
        .await
        .expect("commit loop");
    };
    use sqlx::{Connection, PgConnection};
    let mut conn = PgConnection::connect(url).await.expect("database");
    for ddl in &ddl {
        sqlx::query(ddl)
            .execute(&mut conn)
            .await
            .expect("scratch table");
    }
    let started = Instant::now();
    let mut n = 0i64;
    while started.elapsed().as_secs_f64() < seconds {
        let mut tx = conn.begin().await.expect("begin");
        sqlx::query(&insert)
            .bind(n)
            .bind("row")
            .execute(&mut *tx)
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
        n += 1;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let _ = sqlx::query(&cleanup).execute(&mut conn).await;
    rate
}
