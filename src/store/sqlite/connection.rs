//! The store's executor on a rusqlite connection, run on the thread that owns it.
//!
//! sqlx's SQLite driver sent every statement to a thread of its own and woke the caller back,
//! which cost more than SQLite's own work (about 50 µs a statement, see docs/benchmarks.md)
//! and serialised all writes behind those round trips. Here a whole operation runs where its
//! connection lives, statement after statement, with prepared statements cached per
//! connection.
//!
//! Every future this module returns is ready when first polled: its statement has run by
//! then. [`ready`] polls an operation's future once, on the connection's own thread.

use std::future::{Future, ready as done};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{CachedStatement, Connection, ToSql};

use crate::error::{Error, Result};
use crate::store::exec::{Executor, Param, Plan, Row, Value};

impl Executor for Connection {
    /// SQLite serialises writers (one writer connection), so reads need no row lock, and the
    /// uniqueness checks of integrations no lock of their own.
    const ROW_LOCK: &'static str = "";
    // One writer: commits are in id order, so every committed event is settled.
    const EVENTS_SETTLED: &'static str = "1 = 1";
    const SKIP_LOCKED: &'static str = "";
    const KEYS_LOCK: Option<&'static str> = None;
    /// SQLite plans from its indexes' shapes alone (no `ANALYZE`, so no `sqlite_stat1`): the
    /// plans stay those that docs/benchmarks.md measured, whatever the data.
    const ANALYZE: Option<&'static str> = None;
    const SEED_RUNS: &'static str = "INSERT INTO integration_runs (integration_id, status, \
        start_time, end_time, total_records, records_processed, created_at, updated_at) \
        SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
        value ->> 6, value ->> 7 FROM json_each($1) ORDER BY key RETURNING id";
    const SEED_ERRORS: &'static str = "INSERT INTO integration_errors (integration_run_id, \
        integration_id, document_type, document_id, resolved, created_at, updated_at, \
        contact_alert_type) \
        SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
        value ->> 5, 'Technical' FROM json_each($1) ORDER BY key";

    fn execute(
        &mut self,
        sql: &str,
        params: Vec<Param>,
    ) -> impl Future<Output = Result<u64>> + Send {
        done(execute(self, sql, &params).map_err(Error::storage))
    }

    fn fetch(
        &mut self,
        sql: &str,
        params: Vec<Param>,
        most: usize,
        // SQLite plans each statement from the indexes' shapes alone, whatever the values.
        _plan: Plan,
    ) -> impl Future<Output = Result<Vec<Row>>> + Send {
        done(fetch(self, sql, &params, most).map_err(Error::storage))
    }
}

fn execute(conn: &Connection, sql: &str, params: &[Param]) -> rusqlite::Result<u64> {
    let mut statement = prepare(conn, sql, params)?;
    let mut rows = statement.raw_query();
    while rows.next()?.is_some() {}
    Ok(conn.changes())
}

fn fetch(
    conn: &Connection,
    sql: &str,
    params: &[Param],
    most: usize,
) -> rusqlite::Result<Vec<Row>> {
    let mut statement = prepare(conn, sql, params)?;
    let columns: Arc<[Box<str>]> = statement
        .column_names()
        .into_iter()
        .map(Box::from)
        .collect();
    let mut rows = statement.raw_query();
    let mut read = Vec::new();
    while let Some(row) = rows.next()? {
        if read.len() < most {
            let values = (0..columns.len())
                .map(|i| row.get_ref(i).map(value))
                .collect::<rusqlite::Result<_>>()?;
            read.push(Row::new(columns.clone(), values));
        }
    }
    Ok(read)
}

/// The cached prepared statement with every parameter bound by its number: SQLite numbers
/// `$N` parameters by first appearance, not by `N`, and a number may appear twice.
fn prepare<'c>(
    conn: &'c Connection,
    sql: &str,
    params: &[Param],
) -> rusqlite::Result<CachedStatement<'c>> {
    let mut statement = conn.prepare_cached(sql)?;
    for index in 1..=statement.parameter_count() {
        let number = match statement.parameter_name(index) {
            Some(name) => name[1..]
                .parse::<usize>()
                .map_err(|_| rusqlite::Error::InvalidParameterName(name.to_owned()))?,
            None => index,
        };
        let param = params
            .get(number.wrapping_sub(1))
            .ok_or(rusqlite::Error::InvalidParameterCount(number, params.len()))?;
        statement.raw_bind_parameter(index, param)?;
    }
    Ok(statement)
}

/// A column's value. Text is read as UTF-8, any invalid byte replaced.
fn value(column: ValueRef<'_>) -> Value {
    match column {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Int(n),
        // No column is REAL; a computed one reads as text rather than failing the row.
        ValueRef::Real(x) => Value::Text(x.to_string()),
        ValueRef::Text(bytes) => Value::Text(String::from_utf8_lossy(bytes).into_owned()),
        ValueRef::Blob(bytes) => Value::Bytes(bytes.to_vec()),
    }
}

/// A parameter as SQLite stores it: datetimes as epoch seconds, booleans as 0 and 1, JSON as
/// its text.
impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let null = ToSqlOutput::Owned(rusqlite::types::Value::Null);
        Ok(match self {
            Param::Int(n) => n.map_or(null, |n| ToSqlOutput::Owned(n.into())),
            Param::Bool(b) => b.map_or(null, |b| ToSqlOutput::Owned(i64::from(b).into())),
            Param::Text(s) => s.as_deref().map_or(null, |s| {
                ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
            }),
            Param::Bytes(b) => b
                .as_deref()
                .map_or(null, |b| ToSqlOutput::Borrowed(ValueRef::Blob(b))),
            Param::Time(t) => t.map_or(null, |t| ToSqlOutput::Owned(t.timestamp().into())),
            Param::Json(j) => j
                .as_ref()
                .map_or(null, |j| ToSqlOutput::Owned(j.to_string().into())),
        })
    }
}

/// Runs a statement that takes no parameters and returns no rows (`BEGIN`, `SAVEPOINT …`).
pub fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// The output of a future that is ready when first polled, as every operation over this
/// module's executor is.
///
/// # Panics
/// If the future is not ready: something other than this module's statements awaited inside
/// an operation on a SQLite thread. The thread catches the panic and fails that operation.
pub fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("an operation on a SQLite thread awaited something else"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::exec::query;

    fn conn() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INTEGER, j TEXT)")
            .unwrap();
        conn
    }

    #[test]
    fn parameters_bind_by_number_whatever_their_order_or_repeats() {
        let mut conn = conn();
        let changed = ready(
            query("INSERT INTO t (b, a, j) VALUES ($2, $1, $2)")
                .bind("x")
                .bind(7i64)
                .execute(&mut conn),
        )
        .unwrap();
        assert_eq!(changed, 1);
        let row = ready(
            query("SELECT a, b, j FROM t WHERE b = $1")
                .bind(7i64)
                .fetch_one(&mut conn),
        )
        .unwrap();
        assert_eq!(row.get::<String>("a").unwrap(), "x");
        assert_eq!(row.get::<i64>(1).unwrap(), 7);
        assert_eq!(row.get::<String>("j").unwrap(), "7");
    }

    #[test]
    fn a_missing_parameter_is_an_error_not_a_null() {
        let mut conn = conn();
        let error = ready(query("SELECT $1, $2").bind(1i64).fetch_one(&mut conn)).unwrap_err();
        assert!(matches!(error, Error::Storage(_)), "{error:?}");
    }

    #[test]
    fn nulls_booleans_times_and_json_round_trip() {
        let mut conn = conn();
        let flow = serde_json::json!({"step": [1, 2]});
        let at = crate::time::from_unix(1_700_000_000).unwrap();
        let id: i64 = ready(
            query("INSERT INTO t (a, b, j) VALUES ($1, $2, $3) RETURNING id")
                .bind(None::<String>)
                .bind(Some(true))
                .bind(Some(&flow))
                .scalar(&mut conn),
        )
        .unwrap();
        let row = ready(
            query("SELECT a, b, j, $2 AS at FROM t WHERE id = $1")
                .bind(id)
                .bind(at)
                .fetch_one(&mut conn),
        )
        .unwrap();
        assert_eq!(row.get::<Option<String>>("a").unwrap(), None);
        assert!(row.get::<bool>("b").unwrap());
        assert_eq!(row.get::<serde_json::Value>("j").unwrap(), flow);
        assert_eq!(row.get::<crate::time::Timestamp>("at").unwrap(), at);
        let none: Option<i64> = ready(
            query("SELECT id FROM t WHERE id = $1")
                .bind(id + 1)
                .scalar_optional(&mut conn),
        )
        .unwrap();
        assert_eq!(none, None);
    }

    #[test]
    fn a_statement_runs_to_its_end_whatever_is_read() {
        let mut conn = conn();
        let first = ready(
            query("INSERT INTO t (b) VALUES (1), (2), (3) RETURNING id").fetch_optional(&mut conn),
        )
        .unwrap();
        assert!(first.is_some());
        let count: i64 = ready(query("SELECT count(*) FROM t").scalar(&mut conn)).unwrap();
        assert_eq!(count, 3);
    }
}
