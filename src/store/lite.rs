//! sqlx's query-builder shape over rusqlite, for the embedded backend.
//!
//! The store is written once for both backends ([`super::shared`]) in sqlx's shape:
//! `query(sql).bind(value).fetch_one(conn).await`. PostgreSQL runs it on sqlx. SQLite runs it
//! here, on rusqlite, on the thread that owns the connection: sqlx's SQLite driver sends every
//! statement to a thread of its own and wakes the caller back, which cost more than SQLite's
//! own work (about 50 µs a statement, see docs/benchmarks.md), and serialised all writes behind
//! those round trips. Here a whole operation runs where its connection lives, statement after
//! statement, with prepared statements cached per connection.
//!
//! Every future this module returns is ready when first polled: its statements have run by
//! then. [`ready`] polls such a future once, on the connection's own thread.
//!
//! Written by hand: the shape the shared store needs is a few dozen lines over rusqlite, and
//! no crate offers sqlx's builder over a synchronous connection.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, Value as SqlValue, ValueRef};
use rusqlite::{CachedStatement, Connection};
use serde_json::Value;
use sqlx::types::Json;

pub type DbError = rusqlite::Error;

/// A statement and its parameters, `$N` numbered as in [`super::sql`].
pub struct Query<'q> {
    sql: &'q str,
    params: Vec<SqlValue>,
}

/// A statement whose rows are read as their first column.
pub struct Scalar<'q, T> {
    query: Query<'q>,
    column: std::marker::PhantomData<fn() -> T>,
}

pub fn query(sql: &str) -> Query<'_> {
    Query {
        sql,
        params: Vec::new(),
    }
}

pub fn query_scalar<T: FromColumn>(sql: &str) -> Scalar<'_, T> {
    Scalar {
        query: query(sql),
        column: std::marker::PhantomData,
    }
}

/// What a statement that returns no rows reports.
pub struct Done {
    rows_affected: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

impl<'q> Query<'q> {
    /// Binds the next parameter: `$1` first.
    pub fn bind(mut self, value: impl Param) -> Self {
        self.params.push(value.into_value());
        self
    }

    pub async fn execute(self, conn: &mut Connection) -> Result<Done, DbError> {
        let mut statement = self.prepare(conn)?;
        let mut rows = statement.raw_query();
        while rows.next()?.is_some() {}
        Ok(Done {
            rows_affected: conn.changes(),
        })
    }

    pub async fn fetch_all(self, conn: &mut Connection) -> Result<Vec<Row>, DbError> {
        self.rows(conn, usize::MAX)
    }

    pub async fn fetch_optional(self, conn: &mut Connection) -> Result<Option<Row>, DbError> {
        Ok(self.rows(conn, 1)?.pop())
    }

    pub async fn fetch_one(self, conn: &mut Connection) -> Result<Row, DbError> {
        self.rows(conn, 1)?
            .pop()
            .ok_or(DbError::QueryReturnedNoRows)
    }

    /// Up to `most` rows; a statement is still run to its end (an `INSERT … RETURNING` writes
    /// every row whether or not it is read).
    fn rows(self, conn: &Connection, most: usize) -> Result<Vec<Row>, DbError> {
        let mut statement = self.prepare(conn)?;
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
                    .map(|i| row.get_ref(i).map(SqlValue::from))
                    .collect::<Result<_, _>>()?;
                read.push(Row {
                    columns: columns.clone(),
                    values,
                });
            }
        }
        Ok(read)
    }

    /// The cached prepared statement with every parameter bound by its number: SQLite numbers
    /// `$N` parameters by first appearance, not by `N`, and a number may appear twice.
    fn prepare<'c>(self, conn: &'c Connection) -> Result<CachedStatement<'c>, DbError> {
        let mut statement = conn.prepare_cached(self.sql)?;
        for index in 1..=statement.parameter_count() {
            let number = match statement.parameter_name(index) {
                Some(name) => name[1..]
                    .parse::<usize>()
                    .map_err(|_| DbError::InvalidParameterName(name.to_owned()))?,
                None => index,
            };
            let value = self
                .params
                .get(number.wrapping_sub(1))
                .ok_or(DbError::InvalidParameterCount(number, self.params.len()))?;
            statement.raw_bind_parameter(index, value)?;
        }
        Ok(statement)
    }
}

impl<'q, T: FromColumn> Scalar<'q, T> {
    pub fn bind(self, value: impl Param) -> Self {
        Scalar {
            query: self.query.bind(value),
            ..self
        }
    }

    pub async fn fetch_all(self, conn: &mut Connection) -> Result<Vec<T>, DbError> {
        let rows = self.query.rows(conn, usize::MAX)?;
        rows.iter().map(|row| row.try_get(0)).collect()
    }

    pub async fn fetch_optional(self, conn: &mut Connection) -> Result<Option<T>, DbError> {
        let row = self.query.rows(conn, 1)?.pop();
        row.map(|row| row.try_get(0)).transpose()
    }

    pub async fn fetch_one(self, conn: &mut Connection) -> Result<T, DbError> {
        self.query
            .rows(conn, 1)?
            .pop()
            .ok_or(DbError::QueryReturnedNoRows)?
            .try_get(0)
    }
}

/// One row, read off its statement.
pub struct Row {
    columns: Arc<[Box<str>]>,
    values: Vec<SqlValue>,
}

impl Row {
    /// The column at `index` (a name or a position) as a `T`.
    pub fn try_get<T: FromColumn, I: ColumnIndex>(&self, index: I) -> Result<T, DbError> {
        let i = index.position(&self.columns)?;
        let value = &self.values[i];
        T::from_column(value.into()).map_err(|e| match e {
            FromSqlError::InvalidType => {
                DbError::InvalidColumnType(i, self.columns[i].to_string(), value.data_type())
            }
            other => DbError::FromSqlConversionFailure(i, value.data_type(), Box::new(other)),
        })
    }
}

/// A column's name or position.
pub trait ColumnIndex {
    fn position(&self, columns: &[Box<str>]) -> Result<usize, DbError>;
}

impl ColumnIndex for &str {
    fn position(&self, columns: &[Box<str>]) -> Result<usize, DbError> {
        columns
            .iter()
            .position(|c| **c == **self)
            .ok_or_else(|| DbError::InvalidColumnName((*self).to_owned()))
    }
}

impl ColumnIndex for usize {
    fn position(&self, columns: &[Box<str>]) -> Result<usize, DbError> {
        if *self < columns.len() {
            Ok(*self)
        } else {
            Err(DbError::InvalidColumnIndex(*self))
        }
    }
}

/// A value a column decodes to.
pub trait FromColumn: Sized {
    fn from_column(value: ValueRef<'_>) -> FromSqlResult<Self>;
}

macro_rules! from_sql {
    ($($t:ty),*) => {$(
        impl FromColumn for $t {
            fn from_column(value: ValueRef<'_>) -> FromSqlResult<Self> {
                <$t as FromSql>::column_result(value)
            }
        }
    )*};
}

from_sql!(i64, i32, bool, String, Vec<u8>);

impl<T: FromColumn> FromColumn for Option<T> {
    fn from_column(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value {
            ValueRef::Null => Ok(None),
            value => T::from_column(value).map(Some),
        }
    }
}

/// JSON is stored as its text, as sqlx stores it.
impl FromColumn for Json<Value> {
    fn from_column(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let bytes = match value {
            ValueRef::Text(bytes) | ValueRef::Blob(bytes) => bytes,
            _ => return Err(FromSqlError::InvalidType),
        };
        serde_json::from_slice(bytes)
            .map(Json)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// A value a parameter binds, as sqlx's SQLite driver stores it.
pub trait Param {
    fn into_value(self) -> SqlValue;
}

macro_rules! param {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {$(
        impl Param for $t {
            fn into_value(self) -> SqlValue {
                let $v = self;
                $e
            }
        }
    )*};
}

param! {
    i64 => |n| SqlValue::Integer(n),
    i32 => |n| SqlValue::Integer(n.into()),
    bool => |b| SqlValue::Integer(b.into()),
    String => |s| SqlValue::Text(s),
    &str => |s| SqlValue::Text(s.to_owned()),
    &String => |s| SqlValue::Text(s.clone()),
    Vec<u8> => |b| SqlValue::Blob(b),
    &[u8] => |b| SqlValue::Blob(b.to_vec()),
    &Vec<u8> => |b| SqlValue::Blob(b.clone()),
    Json<&Value> => |j| SqlValue::Text(j.0.to_string()),
}

impl<T: Param> Param for Option<T> {
    fn into_value(self) -> SqlValue {
        self.map_or(SqlValue::Null, Param::into_value)
    }
}

impl<'a, T> Param for &'a Option<T>
where
    &'a T: Param,
{
    fn into_value(self) -> SqlValue {
        self.as_ref().into_value()
    }
}

/// Runs a statement that takes no parameters and returns no rows (`BEGIN`, `SAVEPOINT …`).
pub fn control(conn: &Connection, sql: &str) -> Result<(), DbError> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// The output of a future that is ready when first polled, as every future of this module is.
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

    fn conn() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INTEGER, j TEXT)")
            .unwrap();
        conn
    }

    #[test]
    fn parameters_bind_by_number_whatever_their_order_or_repeats() {
        let mut conn = conn();
        let done = ready(
            query("INSERT INTO t (b, a, j) VALUES ($2, $1, $2)")
                .bind("x")
                .bind(7i64)
                .execute(&mut conn),
        )
        .unwrap();
        assert_eq!(done.rows_affected(), 1);
        let row = ready(
            query("SELECT a, b, j FROM t WHERE b = $1")
                .bind(7i64)
                .fetch_one(&mut conn),
        )
        .unwrap();
        assert_eq!(row.try_get::<String, _>("a").unwrap(), "x");
        assert_eq!(row.try_get::<i64, _>(1).unwrap(), 7);
        assert_eq!(row.try_get::<String, _>("j").unwrap(), "7");
    }

    #[test]
    fn a_missing_parameter_is_an_error_not_a_null() {
        let mut conn = conn();
        let error = ready(query("SELECT $1, $2").bind(1i64).fetch_one(&mut conn)).err();
        assert!(
            matches!(error, Some(DbError::InvalidParameterCount(2, 1))),
            "{error:?}"
        );
    }

    #[test]
    fn options_json_and_scalars_round_trip() {
        let mut conn = conn();
        let flow = serde_json::json!({"step": [1, 2]});
        let id: i64 = ready(
            query_scalar("INSERT INTO t (a, b, j) VALUES ($1, $2, $3) RETURNING id")
                .bind(None::<String>)
                .bind(Some(true))
                .bind(Some(Json(&flow)))
                .fetch_one(&mut conn),
        )
        .unwrap();
        let row = ready(
            query("SELECT a, b, j FROM t WHERE id = $1")
                .bind(id)
                .fetch_one(&mut conn),
        )
        .unwrap();
        assert_eq!(row.try_get::<Option<String>, _>("a").unwrap(), None);
        assert!(row.try_get::<bool, _>("b").unwrap());
        let Json(read) = row.try_get::<Json<Value>, _>("j").unwrap();
        assert_eq!(read, flow);
        assert!(matches!(
            row.try_get::<i64, _>("a"),
            Err(DbError::InvalidColumnType(0, _, _))
        ));
        assert!(matches!(
            row.try_get::<i64, _>("nope"),
            Err(DbError::InvalidColumnName(_))
        ));
        let none: Option<i64> = ready(
            query_scalar("SELECT id FROM t WHERE id = $1")
                .bind(id + 1)
                .fetch_optional(&mut conn),
        )
        .unwrap();
        assert_eq!(none, None);
    }
}
