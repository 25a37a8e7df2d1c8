//! Compiles a parsed [`Query`] to SQL shared by both backends: `$N` placeholders, typed
//! binds, and only names taken from the [`schema`](super::schema) whitelist.
//!
//! Table aliases are `t0` (the resource being listed), `t1`, … for nested associations, so
//! a caller writes `SELECT … FROM integration_runs t0 … WHERE {filter} ORDER BY {order}`.
//! Conditions on the same association share one subquery: `integration_errors[resolved]=false
//! &integration_errors[document_type]=Supplier` finds runs with an error that is both.

use std::fmt::Write;

use super::cursor::{After, Key};
use super::schema::{Kind, Link};
use super::{Bind, Condition, Op, Operand, Order, Query};

/// SQL text and the values for its placeholders, in order.
#[derive(Debug, Default)]
pub struct Sql {
    pub text: String,
    pub binds: Vec<Bind>,
}

impl Sql {
    /// Appends a placeholder for `value` and returns it (`$3`).
    pub fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }
}

/// `SELECT t0.id[, t0.<order field>] FROM <table> t0 WHERE … ORDER BY … LIMIT … OFFSET …`:
/// the ids of an index page. A page by cursor also reads the order's field (the next
/// cursor's value), starts after its key, and reads one id more than the page holds, which
/// says whether another page follows.
pub fn page(table: &str, query: &Query) -> Sql {
    let mut sql = Sql {
        text: String::with_capacity(256),
        binds: Vec::new(),
    };
    let name = query.order.field.name;
    let keyed = query.after.is_some() && name != "id";
    let _ = write!(
        sql.text,
        "SELECT t0.id{} FROM {table} t0",
        if keyed {
            format!(", t0.{name}")
        } else {
            String::new()
        }
    );
    let conditions: Vec<&Condition> = query.conditions.iter().collect();
    let mut filter = filter(&mut sql, 0, &conditions);
    if let Some(After::Key(key)) = &query.after {
        let seek = seek(&mut sql, &query.order, key);
        filter = format!("{filter} AND {seek}");
    }
    let order = order_by(&query.order);
    let most = query.limit + i64::from(query.after.is_some());
    let limit = sql.bind(Bind::Int(most));
    let offset = sql.bind(Bind::Int(query.offset));
    let _ = write!(
        sql.text,
        " WHERE {filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
    );
    sql
}

/// The query's conditions as one SQL predicate on `t0` (`1 = 1` when it has none), its binds
/// appended to `sql`: for a caller that pages or orders by its own rules (the event stream).
pub fn conditions(sql: &mut Sql, query: &Query) -> String {
    let conditions: Vec<&Condition> = query.conditions.iter().collect();
    filter(sql, 0, &conditions)
}

/// `SELECT count(*) FROM <table> t0 WHERE …`: how many records the query's filters match,
/// whatever its page.
pub fn count(table: &str, query: &Query) -> Sql {
    let mut sql = Sql::default();
    let conditions: Vec<&Condition> = query.conditions.iter().collect();
    let filter = filter(&mut sql, 0, &conditions);
    sql.text = format!("SELECT count(*) FROM {table} t0 WHERE {filter}");
    sql
}

/// The rows that sort after `key` in `order` ([`order_by`]'s order, nulls included). On a
/// field that is never null, `field >= v AND (field > v OR id > k)`: a range on the field's
/// leading index column, so the page starts with a seek at any depth.
fn seek(sql: &mut Sql, order: &Order, key: &Key) -> String {
    let after = if order.descending { "<" } else { ">" };
    let id = sql.bind(Bind::Int(key.id));
    let name = order.field.name;
    if name == "id" {
        return format!("t0.id {after} {id}");
    }
    let column = format!("t0.{name}");
    match (&key.value, order.field.nullable, order.descending) {
        (Some(value), false, _) => {
            let v = sql.bind(value.clone());
            format!("{column} {after}= {v} AND ({column} {after} {v} OR t0.id {after} {id})")
        }
        // Ascending, nulls come last: after a value, every null and every greater value.
        (Some(value), true, false) => {
            let v = sql.bind(value.clone());
            format!("({column} IS NULL OR {column} > {v} OR ({column} = {v} AND t0.id > {id}))")
        }
        // Descending, nulls came first: after a value, only smaller values.
        (Some(value), true, true) => {
            let v = sql.bind(value.clone());
            format!("({column} < {v} OR ({column} = {v} AND t0.id < {id}))")
        }
        (None, _, false) => format!("({column} IS NULL AND t0.id > {id})"),
        (None, _, true) => format!("({column} IS NOT NULL OR t0.id < {id})"),
    }
}

fn order_by(order: &Order) -> String {
    let dir = if order.descending { "DESC" } else { "ASC" };
    let name = order.field.name;
    // NULLs sort as the largest value on both backends (SQLite's default is the opposite).
    let nulls = if order.field.nullable {
        format!("(t0.{name} IS NULL) {dir}, ")
    } else {
        String::new()
    };
    if name == "id" {
        format!("t0.id {dir}")
    } else {
        format!("{nulls}t0.{name} {dir}, t0.id {dir}")
    }
}

/// The conditions whose path is `depth` long or longer, seen from alias `t{depth}`.
fn filter(sql: &mut Sql, depth: usize, conditions: &[&Condition]) -> String {
    let alias = format!("t{depth}");
    let mut parts = Vec::new();
    for c in conditions.iter().filter(|c| c.path.len() == depth) {
        parts.push(predicate(sql, &alias, c));
    }
    let mut done: Vec<&str> = Vec::new();
    for c in conditions.iter().filter(|c| c.path.len() > depth) {
        let assoc = c.path[depth];
        if done.contains(&assoc.name) {
            continue;
        }
        done.push(assoc.name);
        let group: Vec<&Condition> = conditions
            .iter()
            .filter(|c| c.path.len() > depth && c.path[depth].name == assoc.name)
            .copied()
            .collect();
        let inner_alias = format!("t{}", depth + 1);
        let inner = filter(sql, depth + 1, &group);
        let table = assoc.target.table;
        parts.push(match assoc.link {
            Link::BelongsTo { fk } => {
                format!("{alias}.{fk} IN (SELECT {inner_alias}.id FROM {table} {inner_alias} WHERE {inner})")
            }
            Link::HasMany { fk } => format!(
                "EXISTS (SELECT 1 FROM {table} {inner_alias} WHERE {inner_alias}.{fk} = {alias}.id AND {inner})"
            ),
        });
    }
    if parts.is_empty() {
        "1 = 1".to_owned()
    } else {
        parts.join(" AND ")
    }
}

fn predicate(sql: &mut Sql, alias: &str, c: &Condition) -> String {
    let raw = format!("{alias}.{}", c.field.name);
    // Free text, and comparisons on a vocabulary, fold ASCII case: `lower()` is ASCII-only
    // on SQLite, and on PostgreSQL under the columns' `COLLATE "C"`; the parser has already
    // lowercased the value. A vocabulary's other operators bind its canonical spelling.
    let folded = match c.field.kind {
        Kind::Text => true,
        Kind::Vocab(_) => c.op.is_comparison(),
        _ => false,
    };
    let column = if folded {
        format!("lower({raw})")
    } else {
        raw.clone()
    };
    match (&c.operand, c.op) {
        (Operand::Flag(blank), _) => {
            let column = raw;
            let is_text = c.field.kind.is_text();
            match (blank, is_text) {
                (true, true) => format!("({column} IS NULL OR {column} = '')"),
                (true, false) => format!("{column} IS NULL"),
                (false, true) => format!("({column} IS NOT NULL AND {column} <> '')"),
                (false, false) => format!("{column} IS NOT NULL"),
            }
        }
        (Operand::List(values), op) if values.is_empty() => {
            // A text match on a vocabulary that matches none of its words.
            if op == Op::NotIn { "1 = 1" } else { "1 = 0" }.to_owned()
        }
        (Operand::List(values), op) => {
            let placeholders: Vec<String> = values.iter().map(|v| sql.bind(v.clone())).collect();
            let list = placeholders.join(", ");
            if op == Op::NotIn {
                format!("({column} NOT IN ({list}) OR {raw} IS NULL)")
            } else {
                format!("{column} IN ({list})")
            }
        }
        (Operand::One(Bind::Text(text)), Op::Contains | Op::StartsWith | Op::EndsWith) => {
            let (before, after) = match c.op {
                Op::StartsWith => ("", "%"),
                Op::EndsWith => ("%", ""),
                _ => ("%", "%"),
            };
            let p = sql.bind(Bind::Text(format!("{before}{}{after}", escape_like(text))));
            format!("{column} LIKE {p} ESCAPE '\\'")
        }
        // The parser builds text matches only on text fields; should one slip through, it
        // matches nothing rather than everything.
        (Operand::One(_), Op::Contains | Op::StartsWith | Op::EndsWith) => "1 = 0".to_owned(),
        (Operand::One(value), op) => {
            let p = sql.bind(value.clone());
            match op {
                Op::NotEq | Op::NotIn => format!("({column} <> {p} OR {raw} IS NULL)"),
                Op::Gt => format!("{column} > {p}"),
                Op::Lt => format!("{column} < {p}"),
                Op::GtOrEq => format!("{column} >= {p}"),
                Op::LtOrEq => format!("{column} <= {p}"),
                _ => format!("{column} = {p}"),
            }
        }
    }
}

/// Escapes `%`, `_` and `\` so that user text matches literally inside a LIKE pattern.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::schema::RUNS;
    use super::*;

    fn compile(q: &str) -> Sql {
        page("integration_runs", &Query::parse(&RUNS, q).unwrap())
    }

    /// The SQL of a page after the row (`value`, `id`) in the order `q` names.
    fn after(q: &str, value: Option<Bind>, id: i64) -> Sql {
        let mut query = Query::parse(&RUNS, q).unwrap();
        query.after = Some(After::Key(Key { value, id }));
        page("integration_runs", &query)
    }

    #[test]
    fn a_cursor_page_seeks_past_its_key_and_reads_one_row_more() {
        let sql = compile("after=&limit=10");
        assert!(
            sql.text
                .ends_with("WHERE 1 = 1 ORDER BY t0.id ASC LIMIT $1 OFFSET $2")
        );
        assert_eq!(sql.binds, [Bind::Int(11), Bind::Int(0)]);
        let sql = after("status=failed&dir=desc", None, 70);
        assert_eq!(
            sql.text,
            "SELECT t0.id FROM integration_runs t0 WHERE t0.status = $1 AND t0.id < $2 \
             ORDER BY t0.id DESC LIMIT $3 OFFSET $4"
        );
        let at = crate::time::from_unix(60).unwrap();
        let sql = after("order_by=created_at&dir=desc", Some(Bind::Time(at)), 70);
        assert_eq!(
            sql.text,
            "SELECT t0.id, t0.created_at FROM integration_runs t0 WHERE 1 = 1 AND \
             t0.created_at <= $2 AND (t0.created_at < $2 OR t0.id < $1) \
             ORDER BY t0.created_at DESC, t0.id DESC LIMIT $3 OFFSET $4"
        );
        assert_eq!(sql.binds[..2], [Bind::Int(70), Bind::Time(at)]);
    }

    #[test]
    fn a_cursor_on_a_nullable_field_follows_the_nulls_order() {
        let text = |q, value| after(q, value, 5).text;
        let seek = |q, value| {
            let text = text(q, value);
            let start = text.find("1 = 1 AND ").unwrap() + 10;
            let end = text.find(" ORDER BY").unwrap();
            text[start..end].to_owned()
        };
        let v = Some(Bind::Int(3));
        assert_eq!(
            seek("order_by=total_records", v.clone()),
            "(t0.total_records IS NULL OR t0.total_records > $2 OR (t0.total_records = $2 AND t0.id > $1))"
        );
        assert_eq!(
            seek("order_by=total_records&dir=desc", v),
            "(t0.total_records < $2 OR (t0.total_records = $2 AND t0.id < $1))"
        );
        assert_eq!(
            seek("order_by=total_records", None),
            "(t0.total_records IS NULL AND t0.id > $1)"
        );
        assert_eq!(
            seek("order_by=total_records&dir=desc", None),
            "(t0.total_records IS NOT NULL OR t0.id < $1)"
        );
    }

    #[test]
    fn a_count_uses_the_filters_alone() {
        let query =
            Query::parse(&RUNS, "status=failed&limit=5&offset=10&order_by=created_at").unwrap();
        let sql = count("integration_runs", &query);
        assert_eq!(
            sql.text,
            "SELECT count(*) FROM integration_runs t0 WHERE t0.status = $1"
        );
        assert_eq!(sql.binds, [Bind::Text("failed".into())]);
    }

    #[test]
    fn user_text_only_ever_becomes_a_bind() {
        let sql = compile("integration[name]=x' OR 1=1 --&integration[code][contains]=50%_off");
        assert!(!sql.text.contains("OR 1=1"));
        assert!(!sql.text.contains("50"));
        assert_eq!(sql.binds[0], Bind::Text("x' or 1=1 --".into()));
        assert_eq!(sql.binds[1], Bind::Text("%50\\%\\_off%".into()));
    }

    #[test]
    fn compiles_associations_to_subqueries_grouped_by_path() {
        let sql = compile(
            "integration_errors[resolved]=false&integration_errors[document_type]=Supplier&integration[code]=PO",
        );
        assert_eq!(
            sql.text,
            "SELECT t0.id FROM integration_runs t0 WHERE EXISTS (SELECT 1 FROM integration_errors t1 \
             WHERE t1.integration_run_id = t0.id AND t1.resolved = $1 AND t1.document_type = $2) \
             AND t0.integration_id IN (SELECT t1.id FROM integrations t1 WHERE lower(t1.code) = $3) \
             ORDER BY t0.id ASC LIMIT $4 OFFSET $5"
        );
        assert_eq!(sql.binds.len(), 5);
    }

    #[test]
    fn free_text_folds_the_column_and_a_vocabulary_uses_it_as_it_is() {
        let sql = compile(
            "status[in]=Failed,RUNNING&integration[name][starts_with]=SAP&integration[code][not_eq]=X",
        );
        assert!(sql.text.contains("t0.status IN ($1, $2)"), "{}", sql.text);
        assert!(
            sql.text.contains("lower(t1.name) LIKE $3 ESCAPE"),
            "{}",
            sql.text
        );
        assert!(
            sql.text
                .contains("(lower(t1.code) <> $4 OR t1.code IS NULL)"),
            "{}",
            sql.text
        );
        assert_eq!(
            sql.binds[..4],
            [
                Bind::Text("failed".into()),
                Bind::Text("running".into()),
                Bind::Text("sap%".into()),
                Bind::Text("x".into())
            ]
        );
        let sql = compile("status[gt]=P&status[contains]=zz&integration[code][blank]=true");
        assert!(sql.text.contains("lower(t0.status) > $1"), "{}", sql.text);
        assert!(sql.text.contains("1 = 0"), "{}", sql.text);
        assert!(
            sql.text.contains("(t1.code IS NULL OR t1.code = '')"),
            "{}",
            sql.text
        );
    }

    #[test]
    fn orders_stably_with_nulls_last() {
        let sql = compile("order_by=end_time&dir=desc");
        assert!(sql.text.ends_with(
            "WHERE 1 = 1 ORDER BY (t0.end_time IS NULL) DESC, t0.end_time DESC, t0.id DESC LIMIT $1 OFFSET $2"
        ));
        let sql = compile("order_by=created_at");
        assert!(sql.text.contains("ORDER BY t0.created_at ASC, t0.id ASC"));
    }

    #[test]
    fn negations_and_blanks_count_nulls() {
        assert!(
            compile("end_time[blank]=true")
                .text
                .contains("t0.end_time IS NULL")
        );
        assert!(
            compile("status[not_eq]=failed")
                .text
                .contains("(t0.status <> $1 OR t0.status IS NULL)")
        );
        assert!(
            compile("id[not_in]=1,2")
                .text
                .contains("(t0.id NOT IN ($1, $2) OR t0.id IS NULL)")
        );
    }
}
