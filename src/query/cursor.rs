//! Keyset paging (`after=<cursor>`) and what an index read gives back with its page.
//!
//! A cursor is the sort key of the last row a page showed, with the order it was made for:
//! `base64url([1, order_by, dir, value, id])`, version 1. The next page is the rows that sort
//! after that key, so it costs what the first page costs at any depth, and rows inserted or
//! updated meanwhile are neither repeated nor skipped unless their own sort key moves. Clients
//! treat the text as opaque; the version lets a later format refuse this one by name.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::schema::{Field, Kind};
use super::{Bind, Order, params};
use crate::error::{Error, Result};
use crate::time;

/// The cursor format this server writes and reads.
const VERSION: i64 = 1;

/// Where a keyset page starts.
#[derive(Clone, Debug, PartialEq)]
pub enum After {
    /// `after=` with no value: the first page of a walk.
    Start,
    /// The rows that sort after this key.
    Key(Key),
}

/// A row's place in an order: its value of the order's field (`None` for null) and its id,
/// which breaks ties.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub value: Option<Bind>,
    pub id: i64,
}

/// One page of an index, with what paging answers carry beside the body.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The number of records the filters match, when the query asked for it.
    pub total: Option<i64>,
    /// Where the next page starts, when the query pages by cursor and more rows matched.
    pub next: Option<Key>,
}

impl<T> Page<T> {
    /// The same page with each item converted.
    pub fn try_map<U>(self, convert: impl FnMut(&T) -> Result<U>) -> Result<Page<U>> {
        Ok(Page {
            items: self.items.iter().map(convert).collect::<Result<_>>()?,
            total: self.total,
            next: self.next,
        })
    }
}

fn dir(order: &Order) -> &'static str {
    if order.descending { "desc" } else { "asc" }
}

/// The cursor text of `key` in `order`.
pub fn encode(order: &Order, key: &Key) -> String {
    let value = match &key.value {
        None => Value::Null,
        Some(Bind::Int(n)) => json!(n),
        Some(Bind::Text(text)) => json!(text),
        Some(Bind::Time(t)) => json!(t.timestamp()),
        Some(Bind::Bool(b)) => json!(b),
    };
    let tuple = json!([VERSION, order.field.name, dir(order), value, key.id]);
    URL_SAFE_NO_PAD.encode(tuple.to_string())
}

/// What `after=<text>` asks of a query in `order` that also names an `offset` or not.
pub fn after(text: &str, offset: bool, order: &Order) -> Result<After> {
    if offset {
        return Err(Error::invalid(
            "after and offset cannot be combined: a cursor already says where the page starts",
        ));
    }
    Ok(match text {
        "" => After::Start,
        text => After::Key(decode(text, order)?),
    })
}

/// Reads the cursor text of `after=` for a query in `order`: a 400 for anything this server
/// did not write for that order.
pub fn decode(text: &str, order: &Order) -> Result<Key> {
    let malformed = || {
        Error::invalid(format!(
            "The cursor in 'after' is not one this server gave out ('{}'): pass the \
             X-Next-Cursor of the previous page as it came, or leave 'after' empty to start",
            shorten(text)
        ))
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim())
        .map_err(|_| malformed())?;
    let tuple: Vec<Value> = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    let [version, field, direction, value, id] =
        <[Value; 5]>::try_from(tuple).map_err(|_| malformed())?;
    if version.as_i64() != Some(VERSION) {
        return Err(malformed());
    }
    let (Some(field), Some(direction)) = (field.as_str(), direction.as_str()) else {
        return Err(malformed());
    };
    if field != order.field.name || direction != dir(order) {
        return Err(Error::invalid(format!(
            "The cursor in 'after' was made for order_by={field}&dir={direction}, and this \
             query orders by order_by={}&dir={}: keep the order a walk started with, or leave \
             'after' empty to start again",
            order.field.name,
            dir(order)
        )));
    }
    let id = id.as_i64().filter(|id| *id > 0).ok_or_else(malformed)?;
    let value = read_value(order.field, value).ok_or_else(malformed)?;
    Ok(Key { value, id })
}

/// A cursor's value of `field`, typed as the field is; `None` when it cannot be one.
fn read_value(field: &Field, value: Value) -> Option<Option<Bind>> {
    if value.is_null() {
        return field.nullable.then_some(None);
    }
    let bind = match field.kind {
        Kind::Int => Bind::Int(value.as_i64()?),
        Kind::Time => Bind::Time(time::from_unix(value.as_i64()?)?),
        Kind::Bool => Bind::Bool(value.as_bool()?),
        Kind::Text | Kind::Vocab(_) => Bind::Text(value.as_str()?.to_owned()),
        Kind::Opaque => return None,
    };
    Some(Some(bind))
}

/// At most 40 characters of a refused cursor, for its error message.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The query string of the next page: `raw` as the client sent it, without its `after` and
/// `offset`, then `after=<cursor>` (base64url needs no escaping).
pub fn next_query(raw: &str, cursor: &str) -> String {
    let mut kept: Vec<&str> = raw
        .split('&')
        .filter(|piece| !piece.is_empty())
        .filter(|piece| {
            let key = piece.split_once('=').map_or(*piece, |(key, _)| key);
            !matches!(params::decode(key).as_deref(), Some("after" | "offset"))
        })
        .collect();
    let after = format!("after={cursor}");
    kept.push(&after);
    kept.join("&")
}

#[cfg(test)]
mod tests {
    use super::super::Query;
    use super::super::schema::RUNS;
    use super::*;

    fn order(name: &str, descending: bool) -> Order {
        Order {
            field: RUNS.field(name).unwrap(),
            descending,
        }
    }

    #[test]
    fn after_pages_by_cursor_from_the_start_or_a_key_and_never_with_offset() {
        assert_eq!(Query::parse(&RUNS, "limit=5").unwrap().after, None);
        assert_eq!(
            Query::parse(&RUNS, "after=").unwrap().after,
            Some(After::Start)
        );
        let order = Query::parse(&RUNS, "order_by=created_at&dir=desc")
            .unwrap()
            .order;
        let key = Key {
            value: Some(Bind::Time(time::from_unix(60).unwrap())),
            id: 9,
        };
        let text = encode(&order, &key);
        // The order is read whatever its place in the query.
        let q = Query::parse(&RUNS, &format!("after={text}&dir=desc&order_by=created_at")).unwrap();
        assert_eq!(q.after, Some(After::Key(key)));
        let refused = |q: &str| Query::parse(&RUNS, q).unwrap_err().to_string();
        assert!(refused(&format!("after={text}")).contains("was made for order_by=created_at"));
        assert!(refused("after=&offset=0").contains("after and offset cannot be combined"));
        assert!(refused("after=%21").contains("not one this server gave out"));
    }

    fn message(text: &str, order: &Order) -> String {
        decode(text, order).unwrap_err().to_string()
    }

    #[test]
    fn a_cursor_reads_back_as_the_key_it_was_made_from_in_every_kind() {
        let at = time::parse("2026-11-28T10:00:00Z").unwrap();
        let cases = [
            (order("id", false), Some(Bind::Int(7))),
            (order("created_at", true), Some(Bind::Time(at))),
            (order("status", false), Some(Bind::Text("failed".into()))),
            (order("end_time", true), None),
            (order("total_records", false), Some(Bind::Int(-3))),
        ];
        for (order, value) in cases {
            let key = Key { value, id: 42 };
            let text = encode(&order, &key);
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{text}"
            );
            assert_eq!(decode(&text, &order).unwrap(), key);
        }
    }

    #[test]
    fn a_cursor_made_for_another_order_is_refused_naming_both() {
        let made = encode(
            &order("created_at", true),
            &Key {
                value: Some(Bind::Time(time::from_unix(0).unwrap())),
                id: 1,
            },
        );
        assert_eq!(
            message(&made, &order("created_at", false)),
            "The cursor in 'after' was made for order_by=created_at&dir=desc, and this query \
             orders by order_by=created_at&dir=asc: keep the order a walk started with, or \
             leave 'after' empty to start again"
        );
        assert!(message(&made, &order("id", true)).contains("order_by=id&dir=desc:"));
    }

    #[test]
    fn text_this_server_did_not_write_is_refused() {
        let id = order("id", false);
        let raw = |json: &str| URL_SAFE_NO_PAD.encode(json);
        for text in [
            "!!!".to_owned(),
            "abc".to_owned(),
            raw("{}"),
            raw("[1,\"id\",\"asc\",5]"),
            raw("[2,\"id\",\"asc\",5,5]"),
            raw("[1,\"id\",\"asc\",5,0]"),
            raw("[1,\"id\",\"asc\",5,\"5\"]"),
            raw("[1,\"id\",\"asc\",null,5]"),
            raw("[1,\"id\",\"asc\",\"x\",5]"),
        ] {
            assert!(
                message(&text, &id).starts_with("The cursor in 'after' is not one"),
                "{text}"
            );
        }
        // A null is a value only of a nullable field; a time is whole seconds since the epoch.
        let end = order("end_time", false);
        assert!(decode(&raw("[1,\"end_time\",\"asc\",null,5]"), &end).is_ok());
        assert!(decode(&raw("[1,\"end_time\",\"asc\",\"2026\",5]"), &end).is_err());
        let long = "x".repeat(100);
        assert!(message(&long, &id).contains(&format!("'{}…'", "x".repeat(40))));
    }

    #[test]
    fn the_next_query_keeps_the_clients_parameters_and_replaces_after_and_offset() {
        assert_eq!(
            next_query(
                "status=failed&after=OLD&created_at%5Bgt%5D=2026&offset=10&af%74er=X&limit=5",
                "NEW"
            ),
            "status=failed&created_at%5Bgt%5D=2026&limit=5&after=NEW"
        );
        assert_eq!(next_query("", "C"), "after=C");
        assert_eq!(next_query("after", "C"), "after=C");
    }
}
