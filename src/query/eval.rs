//! A query's conditions evaluated on a row held in memory, with the same answers as the SQL
//! that [`sql`](super::sql) compiles them to: the event hub asks it of each new event for
//! every filter its streams hold, instead of asking the database once per filter and batch.
//!
//! Only conditions on the row's own columns are evaluated here; a condition through an
//! association (`integration[code]=…`) needs the other table, and the answer is then
//! [`None`]: the caller asks the database.

use std::cmp::Ordering;

use super::schema::Kind;
use super::{Bind, Condition, Op, Operand, Query};

/// A row's columns as far as the caller holds them: a column's value, `Some(None)` for
/// NULL, and `None` for a column it does not hold.
pub trait Columns {
    fn column(&self, name: &str) -> Option<Option<Bind>>;
}

/// Whether `row` matches every condition of `query`; `None` when a condition cannot be
/// decided from the row alone.
pub fn matches(query: &Query, row: &impl Columns) -> Option<bool> {
    let mut all = true;
    for condition in &query.conditions {
        // Every condition is decided, even after one failed: an undecidable one anywhere
        // makes the whole answer the database's.
        all &= holds(condition, row)?;
    }
    Some(all)
}

fn holds(c: &Condition, row: &impl Columns) -> Option<bool> {
    if !c.path.is_empty() {
        return None;
    }
    let value = row.column(c.field.name)?;
    // Comparisons on a vocabulary fold ASCII case, as `lower(column)` does in SQL; the
    // parser has lowercased the operand already, and free text is folded the same way.
    let folded = match c.field.kind {
        Kind::Text => true,
        Kind::Vocab(_) => c.op.is_comparison(),
        _ => false,
    };
    let value = value.map(|v| if folded { fold(v) } else { v });
    let is_text = c.field.kind.is_text();
    Some(match (&c.operand, c.op) {
        (Operand::Flag(blank), _) => {
            let empty = match &value {
                None => true,
                Some(Bind::Text(text)) => is_text && text.is_empty(),
                Some(_) => false,
            };
            empty == *blank
        }
        // A NULL is in no list, and so in every `not_in`.
        (Operand::List(values), op) => match &value {
            None => op == Op::NotIn,
            Some(v) => listed(v, values)? != (op == Op::NotIn),
        },
        (Operand::One(Bind::Text(pattern)), Op::Contains | Op::StartsWith | Op::EndsWith) => {
            match &value {
                None => false,
                Some(Bind::Text(text)) => match c.op {
                    Op::StartsWith => text.starts_with(pattern.as_str()),
                    Op::EndsWith => text.ends_with(pattern.as_str()),
                    _ => text.contains(pattern.as_str()),
                },
                Some(_) => return None,
            }
        }
        (Operand::One(_), Op::Contains | Op::StartsWith | Op::EndsWith) => false,
        (Operand::One(operand), op) => match &value {
            None => matches!(op, Op::NotEq | Op::NotIn),
            Some(v) => {
                let order = compare(v, operand)?;
                match op {
                    Op::NotEq | Op::NotIn => order != Ordering::Equal,
                    Op::Gt => order == Ordering::Greater,
                    Op::Lt => order == Ordering::Less,
                    Op::GtOrEq => order != Ordering::Less,
                    Op::LtOrEq => order != Ordering::Greater,
                    _ => order == Ordering::Equal,
                }
            }
        },
    })
}

/// Whether `value` is one of `values`; `None` if a comparison cannot be made here.
fn listed(value: &Bind, values: &[Bind]) -> Option<bool> {
    for candidate in values {
        if compare(value, candidate)? == Ordering::Equal {
            return Some(true);
        }
    }
    Some(false)
}

/// Lowercases ASCII letters only, as SQLite's `lower()` does (and PostgreSQL's under the
/// columns' `COLLATE "C"`).
fn fold(value: Bind) -> Bind {
    match value {
        Bind::Text(text) => Bind::Text(text.to_ascii_lowercase()),
        other => other,
    }
}

/// How two values of one kind order (text by bytes, as both backends' binary collations
/// do); `None` for values of two kinds, which the caller leaves to the database.
fn compare(a: &Bind, b: &Bind) -> Option<Ordering> {
    Some(match (a, b) {
        (Bind::Int(a), Bind::Int(b)) => a.cmp(b),
        (Bind::Text(a), Bind::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
        (Bind::Time(a), Bind::Time(b)) => a.cmp(b),
        (Bind::Bool(a), Bind::Bool(b)) => a.cmp(b),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::schema::EVENTS;
    use super::*;
    use crate::time::{self, Timestamp};

    struct Event {
        id: i64,
        topic: &'static str,
        integration_id: Option<i64>,
        created_at: Timestamp,
    }

    impl Columns for Event {
        fn column(&self, name: &str) -> Option<Option<Bind>> {
            Some(match name {
                "id" => Some(Bind::Int(self.id)),
                "topic" => Some(Bind::Text(self.topic.to_owned())),
                "integration_id" => self.integration_id.map(Bind::Int),
                "created_at" => Some(Bind::Time(self.created_at)),
                _ => return None,
            })
        }
    }

    fn at(seconds: i64) -> Timestamp {
        time::from_unix(1_800_000_000 + seconds).unwrap()
    }

    fn event(id: i64, topic: &'static str, integration_id: Option<i64>) -> Event {
        Event {
            id,
            topic,
            integration_id,
            created_at: at(id),
        }
    }

    fn check(filter: &str, row: &Event) -> Option<bool> {
        matches(&Query::parse(&EVENTS, filter).unwrap(), row)
    }

    #[test]
    fn own_columns_are_matched_as_the_sql_matches_them() {
        let run = event(5, "run", Some(3));
        let orphan = event(6, "health", None);
        let cases: [(&str, bool, bool); 16] = [
            ("", true, true),
            ("integration_id=3", true, false),
            ("integration_id=4", false, false),
            // A NULL is unequal to anything, and in no list.
            ("integration_id[not_eq]=4", true, true),
            ("integration_id[in]=1,3", true, false),
            ("integration_id[not_in]=1,3", false, true),
            ("integration_id[blank]=true", false, true),
            ("integration_id[blank]=false", true, false),
            ("integration_id[gt]=2", true, false),
            ("id[lt_or_eq]=5", true, false),
            ("id[gt_or_eq]=6", false, true),
            // A vocabulary is matched without case and compared folded.
            ("topic=RUN", true, false),
            ("topic[not_eq]=run", false, true),
            ("topic[contains]=ealt", false, true),
            ("topic[gt]=i", true, false),
            ("topic=run&integration_id=3&id[gt]=4", true, false),
        ];
        for (filter, on_run, on_orphan) in cases {
            assert_eq!(check(filter, &run), Some(on_run), "{filter} on the run");
            assert_eq!(
                check(filter, &orphan),
                Some(on_orphan),
                "{filter} on the orphan"
            );
        }
        let since = format!(
            "created_at[gt]={}",
            time::format(&at(5)).replace('+', "%2B")
        );
        assert_eq!(check(&since, &run), Some(false));
        assert_eq!(check(&since, &orphan), Some(true));
    }

    #[test]
    fn a_condition_through_an_association_or_on_a_column_not_held_is_left_to_the_database() {
        let run = event(5, "run", Some(3));
        let query = Query::parse(&EVENTS, "integration[code]=A&topic=health").unwrap();
        assert_eq!(matches(&query, &run), None);
        // The test's row does not hold integration_run_id.
        let query = Query::parse(&EVENTS, "integration_run_id=1&topic=health").unwrap();
        assert_eq!(matches(&query, &run), None);
    }
}
