//! The executor the store is written against: run a statement with typed parameters of our
//! own, read rows of our own values. SQLite implements it on rusqlite ([`super::sqlite`]),
//! PostgreSQL on sqlx ([`super::postgres`]); the store's functions are generic over it, and
//! the SQL they run is the same on both ([`super::sql`]).
//!
//! Written by hand: the store needs only a few operations, and a trait of our own keeps the
//! two drivers' type systems (sqlx's encodings and executors, rusqlite's `ToSql`) out of
//! every function that reads or writes a row.

use std::future::Future;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::time::{self, Timestamp};

/// A parameter, typed even when null: PostgreSQL declares each parameter's type.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    Int(Option<i64>),
    Bool(Option<bool>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
    Time(Option<Timestamp>),
    Json(Option<serde_json::Value>),
}

/// A value read from a row. SQLite has no datetime, boolean or JSON type: it gives those as
/// the integers and text they are stored as, and [`FromValue`] reads them back.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
    Time(Timestamp),
    Json(serde_json::Value),
}

/// A connection that runs statements: `$N` placeholders, bound by number from `params`.
///
/// The SQLite implementation's futures are ready when first polled (it runs on the thread
/// that owns its connection), so every operation written over this trait is too.
pub trait Executor: Send {
    /// What a read that decides a write appends to lock the row it read (`t0`) until the
    /// transaction ends, where the backend has concurrent writers.
    const ROW_LOCK: &'static str;
    /// A condition on `events t0` that holds for the events a reader may take now without
    /// ever finding an earlier one later (see `store::events`).
    const EVENTS_SETTLED: &'static str;
    /// What a read of work to claim appends so that concurrent writers each claim other rows,
    /// where the backend has concurrent writers.
    const SKIP_LOCKED: &'static str;
    /// A statement that serialises the writers that check integrations' keys for uniqueness
    /// until their transactions end, where the backend has concurrent writers.
    const KEYS_LOCK: Option<&'static str>;
    /// Refreshes the planner's statistics after a bulk load, where the backend plans by them.
    const ANALYZE: Option<&'static str>;
    /// Seeded runs from a JSON array of `[integration_id, status, start_time, end_time,
    /// total_records, records_processed, created_at, updated_at]` (times in epoch seconds),
    /// returning their ids.
    const SEED_RUNS: &'static str;
    /// Seeded errors from a JSON array of `[integration_run_id, integration_id,
    /// document_type, document_id, resolved, created_at]`.
    const SEED_ERRORS: &'static str;

    /// Runs a statement; answers how many rows it changed.
    fn execute(
        &mut self,
        sql: &str,
        params: Vec<Param>,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Runs a statement to its end (an `INSERT … RETURNING` writes every row whether or not
    /// it is read); answers its first `most` rows. `plan` says whether the backend may reuse
    /// a plan made without the parameters' values.
    fn fetch(
        &mut self,
        sql: &str,
        params: Vec<Param>,
        most: usize,
        plan: Plan,
    ) -> impl Future<Output = Result<Vec<Row>>> + Send;
}

/// Whether a statement's plan may be made once and reused, whatever its parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Plan {
    /// Prepared once per connection and reused (PostgreSQL switches to a generic plan after a
    /// few calls): the default.
    #[default]
    Reused,
    /// Planned for its parameters' values on every call. For a read whose best plan depends
    /// on the value: PostgreSQL's generic plan for "the latest run of integration $1" takes
    /// every integration for an average one and walks the whole `created_at` index backwards,
    /// which for an integration without runs reads all of them (300 ms at a million runs;
    /// 0.03 ms planned for the value, through the integration's index).
    PerCall,
}

/// A statement and its parameters, built as `query(sql).bind(a).bind(b)`.
pub struct Statement<'q> {
    sql: &'q str,
    params: Vec<Param>,
    plan: Plan,
}

pub fn query(sql: &str) -> Statement<'_> {
    Statement {
        sql,
        params: Vec::new(),
        plan: Plan::Reused,
    }
}

impl Statement<'_> {
    /// Planned for its parameters' values on every call ([`Plan::PerCall`]).
    pub fn planned_per_call(mut self) -> Self {
        self.plan = Plan::PerCall;
        self
    }

    /// Binds the next parameter: `$1` first.
    pub fn bind(mut self, value: impl Into<Param>) -> Self {
        self.params.push(value.into());
        self
    }

    /// Binds each of `values` in turn.
    pub fn bind_all<T: Into<Param>>(mut self, values: impl IntoIterator<Item = T>) -> Self {
        self.params.extend(values.into_iter().map(Into::into));
        self
    }

    /// Runs the statement; answers how many rows it changed.
    pub async fn execute(self, conn: &mut impl Executor) -> Result<u64> {
        conn.execute(self.sql, self.params).await
    }

    pub async fn fetch_all(self, conn: &mut impl Executor) -> Result<Vec<Row>> {
        conn.fetch(self.sql, self.params, usize::MAX, self.plan)
            .await
    }

    pub async fn fetch_optional(self, conn: &mut impl Executor) -> Result<Option<Row>> {
        Ok(conn.fetch(self.sql, self.params, 1, self.plan).await?.pop())
    }

    pub async fn fetch_one(self, conn: &mut impl Executor) -> Result<Row> {
        let sql = self.sql;
        self.fetch_optional(conn)
            .await?
            .ok_or_else(|| Error::Internal(format!("no row from {sql}")))
    }

    /// The first column of the first row, if there is a row.
    pub async fn scalar_optional<T: FromValue>(
        self,
        conn: &mut impl Executor,
    ) -> Result<Option<T>> {
        self.fetch_optional(conn)
            .await?
            .map(|row| row.get(0))
            .transpose()
    }

    /// The first column of the one row the statement returns.
    pub async fn scalar<T: FromValue>(self, conn: &mut impl Executor) -> Result<T> {
        self.fetch_one(conn).await?.get(0)
    }

    /// The first column of every row.
    pub async fn scalars<T: FromValue>(self, conn: &mut impl Executor) -> Result<Vec<T>> {
        let rows = self.fetch_all(conn).await?;
        rows.iter().map(|row| row.get(0)).collect()
    }
}

/// One row, read off its statement: its columns' names (shared by the statement's rows) and
/// values.
#[derive(Debug)]
pub struct Row {
    columns: Arc<[Box<str>]>,
    values: Vec<Value>,
}

impl Row {
    pub fn new(columns: Arc<[Box<str>]>, values: Vec<Value>) -> Row {
        Row { columns, values }
    }

    /// The column at `index` (a name or a position) as a `T`.
    pub fn get<T: FromValue>(&self, index: impl ColumnIndex) -> Result<T> {
        let i = index.position(&self.columns)?;
        T::from_value(&self.values[i]).map_err(|expected| {
            Error::Internal(format!(
                "column {} holds {:?}, not {expected}",
                self.columns[i], self.values[i]
            ))
        })
    }
}

/// A column's name or position.
pub trait ColumnIndex {
    fn position(&self, columns: &[Box<str>]) -> Result<usize>;
}

impl ColumnIndex for &str {
    fn position(&self, columns: &[Box<str>]) -> Result<usize> {
        columns
            .iter()
            .position(|c| **c == **self)
            .ok_or_else(|| Error::Internal(format!("no column {self} in the row")))
    }
}

impl ColumnIndex for usize {
    fn position(&self, columns: &[Box<str>]) -> Result<usize> {
        if *self < columns.len() {
            Ok(*self)
        } else {
            Err(Error::Internal(format!("no column {self} in the row")))
        }
    }
}

/// A type a column's value reads as; the error names the type that was expected.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Result<Self, &'static str>;
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<Self, &'static str> {
        match value {
            Value::Int(n) => Ok(*n),
            _ => Err("an integer"),
        }
    }
}

impl FromValue for bool {
    /// SQLite stores booleans as 0 and 1.
    fn from_value(value: &Value) -> Result<Self, &'static str> {
        match value {
            Value::Bool(b) => Ok(*b),
            Value::Int(n @ (0 | 1)) => Ok(*n == 1),
            _ => Err("a boolean"),
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self, &'static str> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            _ => Err("text"),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Result<Self, &'static str> {
        match value {
            Value::Bytes(b) => Ok(b.clone()),
            _ => Err("bytes"),
        }
    }
}

impl FromValue for Timestamp {
    /// SQLite stores datetimes as seconds since the epoch.
    fn from_value(value: &Value) -> Result<Self, &'static str> {
        match value {
            Value::Time(t) => Ok(*t),
            Value::Int(seconds) => time::from_unix(*seconds).ok_or("a valid timestamp"),
            _ => Err("a timestamp"),
        }
    }
}

impl FromValue for serde_json::Value {
    /// SQLite stores JSON as its text.
    fn from_value(value: &Value) -> Result<Self, &'static str> {
        match value {
            Value::Json(json) => Ok(json.clone()),
            Value::Text(text) => serde_json::from_str(text).map_err(|_| "valid JSON"),
            _ => Err("JSON"),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self, &'static str> {
        match value {
            Value::Null => Ok(None),
            value => T::from_value(value).map(Some),
        }
    }
}

/// `From` for a parameter type, its `Option` and, for borrowed forms, their owned copy.
macro_rules! param {
    ($($variant:ident: $t:ty => |$v:ident| $e:expr),* $(,)?) => {$(
        impl From<$t> for Param {
            fn from($v: $t) -> Param {
                Param::$variant(Some($e))
            }
        }

        impl From<Option<$t>> for Param {
            fn from(value: Option<$t>) -> Param {
                Param::$variant(value.map(|$v| $e))
            }
        }
    )*};
}

param! {
    Int: i64 => |n| n,
    Bool: bool => |b| b,
    Text: String => |s| s,
    Text: &str => |s| s.to_owned(),
    Text: &String => |s| s.clone(),
    Bytes: Vec<u8> => |b| b,
    Bytes: &[u8] => |b| b.to_vec(),
    Time: Timestamp => |t| t,
    Json: &serde_json::Value => |j| j.clone(),
}

impl From<&Option<String>> for Param {
    fn from(value: &Option<String>) -> Param {
        Param::Text(value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_what_each_backend_stores_them_as() {
        let t = time::from_unix(1_700_000_000).unwrap();
        assert_eq!(Timestamp::from_value(&Value::Int(1_700_000_000)), Ok(t));
        assert_eq!(Timestamp::from_value(&Value::Time(t)), Ok(t));
        assert!(Timestamp::from_value(&Value::Int(i64::MAX)).is_err());
        assert_eq!(bool::from_value(&Value::Int(1)), Ok(true));
        assert_eq!(bool::from_value(&Value::Bool(false)), Ok(false));
        assert!(bool::from_value(&Value::Int(2)).is_err());
        let json = serde_json::json!({"a": [1]});
        assert_eq!(
            serde_json::Value::from_value(&Value::Text(json.to_string())),
            Ok(json.clone())
        );
        assert_eq!(Option::<i64>::from_value(&Value::Null), Ok(None));
        assert!(i64::from_value(&Value::Null).is_err());
        assert!(String::from_value(&Value::Int(1)).is_err());
    }

    #[test]
    fn a_row_reads_by_name_or_position_and_names_what_it_could_not_read() {
        let columns: Arc<[Box<str>]> = ["id", "code"].into_iter().map(Box::from).collect();
        let row = Row::new(columns, vec![Value::Int(7), Value::Text("A".into())]);
        assert_eq!(row.get::<i64>("id").unwrap(), 7);
        assert_eq!(row.get::<String>(1).unwrap(), "A");
        let wrong = row.get::<i64>("code").unwrap_err().to_string();
        assert!(
            wrong.contains("column code") && wrong.contains("integer"),
            "{wrong}"
        );
        assert!(row.get::<i64>("nope").is_err());
        assert!(row.get::<i64>(2).is_err());
    }

    #[test]
    fn nulls_keep_their_type() {
        assert_eq!(Param::from(None::<i64>), Param::Int(None));
        assert_eq!(Param::from(None::<&str>), Param::Text(None));
        assert_eq!(Param::from(&None::<String>), Param::Text(None));
        assert_eq!(Param::from("x"), Param::Text(Some("x".into())));
    }
}
