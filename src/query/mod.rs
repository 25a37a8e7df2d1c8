//! Coupa's query language (spec §3): `field[op]=value` conditions, association paths,
//! paging, ordering and response shaping.
//!
//! A query string is decoded as Rack decodes it ([`params`]: a repeated key keeps its last
//! value), parsed once against a resource's whitelist ([`schema`]) into a typed [`Query`];
//! [`sql`] then compiles it to SQL text with `$N` placeholders and typed binds. Any filter
//! key, field or operator that is not understood is a 400 naming it.
//!
//! Text is matched as Coupa's MySQL collations match it, without case, in the same way on
//! both backends: a closed vocabulary's value is looked up in it here and bound in its
//! canonical spelling (an unknown one is a 400 in Rails' words); free text is compared
//! with ASCII letters folded on both sides, and only ASCII letters, so that SQLite and
//! PostgreSQL give the same answer.
//!
//! Beyond Coupa, an index can page by cursor (`after=`, [`cursor`]) and count its matches
//! (asked for in a header, so [`Query::count`] is set by the HTTP layer).

pub mod bulk;
pub mod cursor;
pub mod eval;
pub mod params;
pub mod schema;
pub mod shape;
pub mod sql;

use crate::domain::input::humanize;
use crate::error::{Error, Result};
use crate::time::{self, Timestamp};
use cursor::After;
use schema::{Assoc, Field, Kind, Resource};
pub use shape::Shape;

/// Coupa's page size, which is also the most a page may hold.
pub const MAX_LIMIT: i64 = 50;
/// The most values an `in` / `not_in` list may carry.
pub const MAX_LIST: usize = 500;
/// How deep association paths may nest (`integration_errors[integration][code]` is 2).
pub const MAX_DEPTH: usize = 3;
/// The most conditions one query may hold: each is a clause, or a subquery through an
/// association, of the SQL it compiles to.
pub const MAX_CONDITIONS: usize = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    NotEq,
    Contains,
    StartsWith,
    EndsWith,
    Gt,
    Lt,
    GtOrEq,
    LtOrEq,
    In,
    NotIn,
    Blank,
}

impl Op {
    const ALL: [Op; 12] = [
        Op::Eq,
        Op::NotEq,
        Op::Contains,
        Op::StartsWith,
        Op::EndsWith,
        Op::Gt,
        Op::Lt,
        Op::GtOrEq,
        Op::LtOrEq,
        Op::In,
        Op::NotIn,
        Op::Blank,
    ];

    /// The operator as the query string spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::NotEq => "not_eq",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
            Op::Gt => "gt",
            Op::Lt => "lt",
            Op::GtOrEq => "gt_or_eq",
            Op::LtOrEq => "lt_or_eq",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::Blank => "blank",
        }
    }

    fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == name)
    }

    fn is_text_match(self) -> bool {
        matches!(self, Op::Contains | Op::StartsWith | Op::EndsWith)
    }

    pub fn is_comparison(self) -> bool {
        matches!(self, Op::Gt | Op::Lt | Op::GtOrEq | Op::LtOrEq)
    }
}

/// Query keys that order or page a listing: a stream has its own order and no pages.
const NOT_FOR_STREAMS: [&str; 6] = [
    "limit",
    "offset",
    "order_by",
    "dir",
    "fields",
    "return_object",
];

/// A filter of the event stream (`/api/events?…`, a subscription's `filter`): conditions of
/// the query language on events, and nothing that orders or pages.
pub fn stream_filter(raw: &str) -> Result<Query> {
    for (key, _) in params::parse(raw)? {
        if NOT_FOR_STREAMS.contains(&key.as_str()) {
            return Err(Error::invalid(format!(
                "The event stream takes conditions only, not {key}"
            )));
        }
    }
    Query::parse(&schema::EVENTS, raw)
}

/// A typed value bound to a placeholder.
#[derive(Clone, Debug, PartialEq)]
pub enum Bind {
    Int(i64),
    Text(String),
    Time(Timestamp),
    Bool(bool),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    One(Bind),
    List(Vec<Bind>),
    /// `blank=true` / `blank=false`.
    Flag(bool),
}

/// One `key=value` condition: a field reached through zero or more associations.
#[derive(Clone, Debug)]
pub struct Condition {
    pub path: Vec<&'static Assoc>,
    pub field: &'static Field,
    pub op: Op,
    pub operand: Operand,
}

#[derive(Clone, Debug)]
pub struct Order {
    pub field: &'static Field,
    pub descending: bool,
}

/// A parsed index query.
#[derive(Clone, Debug)]
pub struct Query {
    pub conditions: Vec<Condition>,
    pub limit: i64,
    pub offset: i64,
    pub order: Order,
    pub shape: Shape,
    /// Keyset paging: set by `after=` (empty for the first page of a walk).
    pub after: Option<After>,
    /// Whether the answer counts the records the filters match (`Prefer: count=exact`).
    pub count: bool,
}

impl Query {
    /// Holds the query to the records whose `field` (of `resource`, the one it was parsed
    /// for) is `id`: a listing below one record (`/integration_runs/7/transitions`).
    pub fn hold(&mut self, resource: &'static Resource, field: &str, id: i64) -> Result<()> {
        let field = resource
            .field(field)
            .ok_or_else(|| Error::Internal(format!("{} has no {field}", resource.table)))?;
        self.conditions.push(Condition {
            path: Vec::new(),
            field,
            op: Op::Eq,
            operand: Operand::One(Bind::Int(id)),
        });
        Ok(())
    }

    /// Parses the query string of an index request on `resource`.
    pub fn parse(resource: &'static Resource, query: &str) -> Result<Query> {
        Query::parse_ordered(resource, params::parse(query)?, false)
    }

    /// [`Query::parse`] for a log, listed newest first (by id, descending) unless the query
    /// names an `order_by` or a `dir`.
    pub fn parse_newest_first(resource: &'static Resource, query: &str) -> Result<Query> {
        Query::parse_ordered(resource, params::parse(query)?, true)
    }

    /// [`Query::parse`], from the query string's decoded pairs.
    fn of_pairs(resource: &'static Resource, pairs: Vec<(String, String)>) -> Result<Query> {
        Query::parse_ordered(resource, pairs, false)
    }

    fn parse_ordered(
        resource: &'static Resource,
        pairs: Vec<(String, String)>,
        newest_first: bool,
    ) -> Result<Query> {
        let id = resource
            .field("id")
            .ok_or_else(|| Error::Internal("resource without id".into()))?;
        let mut q = Query {
            conditions: Vec::new(),
            limit: MAX_LIMIT,
            offset: 0,
            order: Order {
                field: id,
                descending: false,
            },
            shape: Shape::default(),
            after: None,
            count: false,
        };
        let mut order_by = None;
        let mut dir = None;
        let mut after = None;
        let mut offset = false;
        for (key, value) in pairs {
            match key.as_str() {
                "limit" => q.limit = non_negative("limit", &value)?.clamp(0, MAX_LIMIT),
                "offset" => {
                    q.offset = non_negative("offset", &value)?;
                    offset = true;
                }
                "after" => after = Some(value),
                "order_by" => order_by = Some(value),
                "dir" => dir = Some(value),
                _ if q.shape.take(resource, &key, &value)? => {}
                _ if q.conditions.len() == MAX_CONDITIONS => {
                    return Err(Error::invalid(format!(
                        "A query may hold at most {MAX_CONDITIONS} conditions"
                    )));
                }
                _ => q.conditions.push(condition(resource, &key, &value)?),
            }
        }
        if let Some(name) = &order_by {
            let field = resource
                .field(&name.replace('-', "_"))
                .filter(|f| f.kind != Kind::Opaque)
                .ok_or_else(|| Error::invalid(format!("Unknown order_by field '{name}'")))?;
            q.order.field = field;
        }
        q.order.descending = match dir.as_deref() {
            None if order_by.is_none() => newest_first,
            None | Some("asc") | Some("ASC") => false,
            Some("desc") | Some("DESC") => true,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "Unknown dir '{other}' (use asc or desc)"
                )));
            }
        };
        if q.limit == 0 {
            return Err(Error::invalid("limit must be between 1 and 50"));
        }
        q.after = after
            .map(|text| cursor::after(&text, offset, &q.order))
            .transpose()?;
        q.shape = q.shape.readable()?;
        Ok(q)
    }
}

fn non_negative(key: &str, value: &str) -> Result<i64> {
    match value.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(Error::invalid(format!(
            "{key} must be a non-negative integer, not '{value}'"
        ))),
    }
}

/// Splits `integration[name][starts_with]` into its parts.
fn segments(key: &str) -> Option<Vec<&str>> {
    let (head, mut rest) = match key.find('[') {
        Some(i) => key.split_at(i),
        None => (key, ""),
    };
    let mut parts = vec![head];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let end = inner.find(']')?;
        parts.push(&inner[..end]);
        rest = &inner[end + 1..];
    }
    let well_formed = parts
        .iter()
        .all(|p| !p.is_empty() && !p.contains(['[', ']']));
    well_formed.then_some(parts)
}

fn condition(resource: &'static Resource, key: &str, value: &str) -> Result<Condition> {
    let parts =
        segments(key).ok_or_else(|| Error::invalid(format!("Malformed query key '{key}'")))?;
    let mut current = resource;
    let mut path = Vec::new();
    let mut parts = parts.into_iter();
    let field = loop {
        let Some(part) = parts.next() else {
            return Err(Error::invalid(format!("Query key '{key}' names no field")));
        };
        let name = part.replace('-', "_");
        if let Some(field) = current.field(&name) {
            break field;
        }
        let assoc = current.assoc(&name).ok_or_else(|| {
            Error::invalid(format!("Unknown field '{part}' in query key '{key}'"))
        })?;
        if path.len() == MAX_DEPTH {
            return Err(Error::invalid(format!(
                "Query key '{key}' nests more than {MAX_DEPTH} associations deep"
            )));
        }
        path.push(assoc);
        current = assoc.target;
    };
    let op = match parts.next() {
        None => Op::Eq,
        Some(name) => Op::parse(name).ok_or_else(|| {
            Error::invalid(format!("Unknown operator '{name}' in query key '{key}'"))
        })?,
    };
    if let Some(extra) = parts.next() {
        return Err(Error::invalid(format!(
            "Unexpected '{extra}' in query key '{key}'"
        )));
    }
    let operand = operand(field, op, value)
        .map_err(|message| Error::invalid(format!("{message} (in '{key}')")))?;
    let (op, operand) = match field.kind {
        Kind::Vocab(words) => canonical(field, words, op, operand)?,
        _ => (op, operand),
    };
    Ok(Condition {
        path,
        field,
        op,
        operand,
    })
}

fn operand(field: &Field, op: Op, value: &str) -> Result<Operand, String> {
    let name = field.name;
    match field.kind {
        Kind::Opaque => return Err(format!("Field '{name}' cannot be queried")),
        Kind::Text | Kind::Vocab(_) => {}
        _ if op.is_text_match() => {
            return Err(format!(
                "Operator '{}' applies to text, and '{name}' is not text",
                op.as_str()
            ));
        }
        Kind::Bool if op.is_comparison() => {
            return Err(format!(
                "Operator '{}' does not apply to the boolean '{name}'",
                op.as_str()
            ));
        }
        _ => {}
    }
    match op {
        Op::Blank => match value {
            "true" => Ok(Operand::Flag(true)),
            "false" => Ok(Operand::Flag(false)),
            _ => Err(format!("blank takes true or false, not '{value}'")),
        },
        Op::In | Op::NotIn => {
            if value.split(',').nth(MAX_LIST).is_some() {
                return Err(format!("A list may hold at most {MAX_LIST} values"));
            }
            value
                .split(',')
                .map(|v| bind(field, v))
                .collect::<Result<_, _>>()
                .map(Operand::List)
        }
        _ => bind(field, value).map(Operand::One),
    }
}

fn bind(field: &Field, value: &str) -> Result<Bind, String> {
    let name = field.name;
    match field.kind {
        Kind::Int => value
            .trim()
            .parse()
            .map(Bind::Int)
            .map_err(|_| format!("'{value}' is not an integer ({name})")),
        Kind::Time => time::parse(value)
            .map(Bind::Time)
            .ok_or_else(|| format!("'{value}' is not a datetime ({name})")),
        Kind::Bool => match value {
            "true" | "1" => Ok(Bind::Bool(true)),
            "false" | "0" => Ok(Bind::Bool(false)),
            _ => Err(format!("'{value}' is not a boolean ({name})")),
        },
        Kind::Text => Ok(Bind::Text(value.to_ascii_lowercase())),
        Kind::Vocab(_) | Kind::Opaque => Ok(Bind::Text(value.to_owned())),
    }
}

/// A condition on a closed vocabulary, in terms of its canonical words: `eq`, `not_eq`, `in`
/// and `not_in` take words of it, spelled in any case, and refuse any other value as Rails'
/// inclusion validation does; a text match becomes `in` the words it matches; a comparison
/// folds case, as on free text.
fn canonical(
    field: &Field,
    words: &'static [&'static str],
    op: Op,
    operand: Operand,
) -> Result<(Op, Operand)> {
    let word = |bind: Bind| match bind {
        Bind::Text(text) => words
            .iter()
            .find(|w| w.eq_ignore_ascii_case(&text))
            .map(|w| Bind::Text((*w).to_owned()))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{} is not included in the list ({})",
                    humanize(field.name),
                    words.join(", ")
                ))
            }),
        other => Ok(other),
    };
    match (op, operand) {
        (Op::Eq | Op::NotEq, Operand::One(bind)) => Ok((op, Operand::One(word(bind)?))),
        (Op::In | Op::NotIn, Operand::List(binds)) => {
            let binds = binds.into_iter().map(word).collect::<Result<_>>()?;
            Ok((op, Operand::List(binds)))
        }
        (Op::Contains | Op::StartsWith | Op::EndsWith, Operand::One(Bind::Text(text))) => {
            let text = text.to_ascii_lowercase();
            let matches = |w: &str| match op {
                Op::StartsWith => w.starts_with(&text),
                Op::EndsWith => w.ends_with(&text),
                _ => w.contains(&text),
            };
            let list = words
                .iter()
                .filter(|w| matches(&w.to_ascii_lowercase()))
                .map(|w| Bind::Text((*w).to_owned()))
                .collect();
            Ok((Op::In, Operand::List(list)))
        }
        (op, Operand::One(Bind::Text(text))) if op.is_comparison() => {
            Ok((op, Operand::One(Bind::Text(text.to_ascii_lowercase()))))
        }
        (op, operand) => Ok((op, operand)),
    }
}

#[cfg(test)]
mod tests {
    use super::schema::RUNS;
    use super::*;

    fn parse(q: &str) -> Result<Query> {
        Query::parse(&RUNS, q)
    }

    fn message(q: &str) -> String {
        parse(q).unwrap_err().to_string()
    }

    #[test]
    fn parses_fields_operators_and_association_paths() {
        let q = parse("status=failed&integration[name][starts_with]=SAP&created_at[gt]=2026-01-01&id[in]=1,2,3").unwrap();
        assert_eq!(q.conditions.len(), 4);
        assert_eq!(q.conditions[0].field.name, "status");
        assert_eq!(q.conditions[0].op, Op::Eq);
        assert_eq!(q.conditions[1].path[0].name, "integration");
        assert_eq!(q.conditions[1].field.name, "name");
        assert_eq!(q.conditions[1].op, Op::StartsWith);
        assert!(matches!(
            q.conditions[2].operand,
            Operand::One(Bind::Time(_))
        ));
        assert_eq!(
            q.conditions[3].operand,
            Operand::List(vec![Bind::Int(1), Bind::Int(2), Bind::Int(3)])
        );
    }

    #[test]
    fn accepts_dashed_and_underscored_keys() {
        let q = parse("total-records[gt]=5&integration_errors[document-type]=Supplier").unwrap();
        assert_eq!(q.conditions[0].field.name, "total_records");
        assert_eq!(q.conditions[1].field.name, "document_type");
    }

    #[test]
    fn paging_and_ordering() {
        let q = parse("limit=500&offset=100&order_by=created_at&dir=desc").unwrap();
        assert_eq!((q.limit, q.offset), (50, 100));
        assert_eq!(q.order.field.name, "created_at");
        assert!(q.order.descending);
        assert!(message("limit=-1").contains("limit"));
        assert!(message("offset=abc").contains("offset"));
        assert!(message("limit=0").contains("limit"));
        assert!(message("order_by=nope").contains("nope"));
        assert!(message("dir=up").contains("up"));
    }

    #[test]
    fn a_log_lists_newest_first_unless_the_query_orders_it() {
        let newest = |q| Query::parse_newest_first(&RUNS, q).unwrap().order;
        assert!(newest("").descending);
        assert!(!newest("order_by=id").descending);
        assert!(!newest("dir=asc").descending);
        assert!(!parse("").unwrap().order.descending);
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_and_distinct_keys_stay_anded() {
        let q = parse("status=failed&status=successful&id[gt]=1&id[lt]=9&id[gt]=2").unwrap();
        let conditions: Vec<(&str, Op, &Operand)> = q
            .conditions
            .iter()
            .map(|c| (c.field.name, c.op, &c.operand))
            .collect();
        assert_eq!(
            conditions,
            [
                (
                    "status",
                    Op::Eq,
                    &Operand::One(Bind::Text("successful".into()))
                ),
                ("id", Op::Lt, &Operand::One(Bind::Int(9))),
                ("id", Op::Gt, &Operand::One(Bind::Int(2))),
            ]
        );
        // The bound counts what is left once repeats are dropped.
        let repeated = vec!["id[gt]=1"; MAX_CONDITIONS + 5].join("&");
        assert_eq!(parse(&repeated).unwrap().conditions.len(), 1);
    }

    fn text_of(q: &str) -> (Op, Operand) {
        let c = parse(q).unwrap().conditions.remove(0);
        (c.op, c.operand)
    }

    fn text(value: &str) -> Bind {
        Bind::Text(value.into())
    }

    #[test]
    fn a_vocabulary_binds_its_canonical_spelling_and_refuses_other_values_in_rails_words() {
        assert_eq!(
            text_of("status=Successful"),
            (Op::Eq, Operand::One(text("successful")))
        );
        assert_eq!(
            text_of("status[not_in]=FAILED,Paused"),
            (
                Op::NotIn,
                Operand::List(vec![text("failed"), text("paused")])
            )
        );
        assert_eq!(
            text_of("integration_errors[document_type]=asn::header").1,
            Operand::One(text("Asn::Header"))
        );
        assert_eq!(
            message("status=done"),
            "Status is not included in the list (pending, running, paused, successful, failed)"
        );
        assert!(message("status[in]=failed,nope").starts_with("Status is not included"));
        assert!(message("status[not_eq]=").starts_with("Status is not included"));
        assert!(message("integration[direction]=up").starts_with("Direction is not included"));
        // Text matches become the words they match, case folded; comparisons fold case.
        assert_eq!(
            text_of("status[ends_with]=ING"),
            (
                Op::In,
                Operand::List(vec![text("pending"), text("running")])
            )
        );
        assert_eq!(
            text_of("status[contains]=xyz"),
            (Op::In, Operand::List(vec![]))
        );
        assert_eq!(
            text_of("status[gt]=Pending"),
            (Op::Gt, Operand::One(text("pending")))
        );
    }

    #[test]
    fn free_text_is_bound_with_ascii_letters_lowercased_only() {
        assert_eq!(
            text_of("integration[code]=PO_To_ERP").1,
            Operand::One(text("po_to_erp"))
        );
        assert_eq!(
            text_of("integration[name][contains]=ÉCOLE").1,
            Operand::One(text("École"))
        );
        assert_eq!(
            text_of("integration[code][in]=A,b").1,
            Operand::List(vec![text("a"), text("b")])
        );
    }

    #[test]
    fn refuses_what_it_does_not_understand_by_name() {
        assert!(message("colour=red").contains("'colour'"));
        assert!(message("status[like]=x").contains("'like'"));
        assert!(message("integration[secret]=x").contains("'secret'"));
        assert!(message("integration=5").contains("names no field"));
        assert!(message("status[eq][eq]=x").contains("Unexpected"));
        assert!(message("status]=x").contains("Malformed"));
        assert!(message("created_at[contains]=2026").contains("not text"));
        assert!(message("id=abc").contains("not an integer"));
        assert!(message("created_at[gt]=yesterday").contains("not a datetime"));
        assert!(message("flow=x").contains("cannot be queried"));
        assert!(message("status[blank]=maybe").contains("true or false"));
    }

    #[test]
    fn bounds_lists_conditions_and_paths_and_names_each_bound() {
        let list = |n| vec!["1"; n].join(",");
        assert!(parse(&format!("id[in]={}", list(MAX_LIST))).is_ok());
        assert!(
            message(&format!("id[not_in]={}", list(MAX_LIST + 1))).contains("at most 500 values")
        );
        // Distinct keys: of a repeated one only its last value would count.
        let conditions = |n| {
            let fields = [
                "id",
                "total_records",
                "records_processed",
                "total-records",
                "records-processed",
            ];
            let ops = ["gt", "lt", "gt_or_eq", "lt_or_eq", "not_eq"];
            let keys = fields
                .iter()
                .flat_map(|f| ops.iter().map(move |op| format!("{f}[{op}]=1")));
            keys.take(n).collect::<Vec<_>>().join("&")
        };
        assert!(parse(&conditions(MAX_CONDITIONS)).is_ok());
        // Shaping and paging keys are not conditions.
        assert!(
            parse(&format!(
                "{}&limit=5&order_by=id&fields=[\"id\"]",
                conditions(MAX_CONDITIONS)
            ))
            .is_ok()
        );
        assert!(message(&conditions(MAX_CONDITIONS + 1)).contains("at most 20 conditions"));
        let deep = "integration_errors[integration_run][integration_errors][integration_run][id]=1";
        assert!(message(deep).contains("more than 3 associations deep"));
    }
}
