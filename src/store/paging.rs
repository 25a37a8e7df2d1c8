//! One page of an index query: ids first, then their rows.

use std::collections::HashMap;

use super::exec::{Executor, Param, Row, query};
use super::sql::placeholders;
use crate::error::Result;
use crate::query::{Bind, Query, sql::page};

/// The rows of one page of an index query on `table`, read through `select` (which aliases
/// the table `t0`), in the query's order.
///
/// The page's ids come first, from a query that touches only `t0` and, mostly, its indexes;
/// then the rows of those ids, with their joins. Filtering, sorting and skipping whole joined
/// rows instead cost up to a hundred times more at a million runs (see docs/benchmarks.md).
pub async fn page_rows(
    conn: &mut impl Executor,
    table: &str,
    select: &str,
    listing: &Query,
) -> Result<Vec<Row>> {
    let sql = page(&format!("SELECT t0.id FROM {table} t0"), listing);
    let ids: Vec<i64> = query(&sql.text)
        .bind_all(sql.binds.iter().map(param))
        .scalars(conn)
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("{select} WHERE t0.id IN ({})", placeholders(0, ids.len()));
    let rows = query(&sql)
        .bind_all(ids.iter().copied())
        .fetch_all(conn)
        .await?;
    let mut by_id: HashMap<i64, Row> = HashMap::with_capacity(ids.len());
    for row in rows {
        by_id.insert(row.get("id")?, row);
    }
    // A row deleted between the two reads is simply not on the page.
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// A value of the query language as a parameter.
pub(super) fn param(bind: &Bind) -> Param {
    match bind {
        Bind::Int(n) => Param::from(*n),
        Bind::Text(s) => Param::from(s),
        Bind::Time(t) => Param::from(*t),
        Bind::Bool(b) => Param::from(*b),
    }
}
