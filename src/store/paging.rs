//! One page of an index query: ids first, then their rows; with the count of its matches and
//! the key the next page starts after, when the query asks for them.

use std::collections::HashMap;

use super::exec::{Executor, Param, Row, query};
use super::sql::placeholders;
use crate::error::Result;
use crate::query::cursor::{Key, Page};
use crate::query::schema::Kind;
use crate::query::sql::{count, page};
use crate::query::{Bind, Query};
use crate::time::Timestamp;

/// The rows of one page of an index query on `table`, read through `select` (which aliases
/// the table `t0`), in the query's order.
///
/// The page's ids come first, from a query that touches only `t0` and, mostly, its indexes;
/// then the rows of those ids, with their joins. Filtering, sorting and skipping whole joined
/// rows instead cost up to a hundred times more at a million runs (see docs/benchmarks.md).
/// The count, when asked for, is one more statement on the same connection: callers run a
/// counted page on one snapshot ([`super::backend::Backend::read_snapshot`]).
pub async fn page_rows(
    conn: &mut impl Executor,
    table: &str,
    select: &str,
    listing: &Query,
) -> Result<Page<Row>> {
    let sql = page(table, listing);
    let mut found = query(&sql.text)
        .bind_all(sql.binds.iter().map(param))
        .fetch_all(conn)
        .await?;
    // A page by cursor read one row more than it shows: that row says another page follows.
    let limit = usize::try_from(listing.limit).unwrap_or(usize::MAX);
    let next = match found.len() > limit {
        true => {
            found.truncate(limit);
            found.last().map(|row| key(row, listing)).transpose()?
        }
        false => None,
    };
    let total = match listing.count {
        true => {
            let sql = count(table, listing);
            let n: i64 = query(&sql.text)
                .bind_all(sql.binds.iter().map(param))
                .scalar(conn)
                .await?;
            Some(n)
        }
        false => None,
    };
    let ids = found
        .iter()
        .map(|row| row.get("id"))
        .collect::<Result<Vec<i64>>>()?;
    if ids.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            total,
            next,
        });
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
    let items = ids.iter().filter_map(|id| by_id.remove(id)).collect();
    Ok(Page { items, total, next })
}

/// The place in the query's order of a row of the page's id query, typed as its field is.
fn key(row: &Row, listing: &Query) -> Result<Key> {
    let id: i64 = row.get("id")?;
    let field = listing.order.field;
    if field.name == "id" {
        return Ok(Key {
            value: Some(Bind::Int(id)),
            id,
        });
    }
    let value = match field.kind {
        Kind::Int => row.get::<Option<i64>>(1)?.map(Bind::Int),
        Kind::Time => row.get::<Option<Timestamp>>(1)?.map(Bind::Time),
        Kind::Bool => row.get::<Option<bool>>(1)?.map(Bind::Bool),
        Kind::Text | Kind::Vocab(_) | Kind::Opaque => row.get::<Option<String>>(1)?.map(Bind::Text),
    };
    Ok(Key { value, id })
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
