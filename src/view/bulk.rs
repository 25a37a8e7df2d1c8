//! A bulk action's answer: what its query matched, what it changed (each record as the API
//! shows it after the action) and what it skipped, with why.

use super::render::Node;
use crate::domain::bulk::Outcome;

/// The answer to bulk `action` (`fail`, `resolve`, …): the changed records are listed under
/// `collection`, each `item` shown by `show`.
pub fn node<T>(
    action: &str,
    dry_run: bool,
    outcome: &Outcome<T>,
    (collection, item): (&'static str, &'static str),
    show: impl Fn(&T) -> Node,
) -> Node {
    let skipped = outcome
        .skipped
        .iter()
        .map(|skip| {
            Node::Object(vec![
                ("id", Node::Int(skip.id)),
                ("reason", Node::text(&skip.reason)),
            ])
        })
        .collect();
    Node::Object(vec![
        ("action", Node::text(action)),
        ("dry-run", Node::Bool(dry_run)),
        ("matched", Node::Int(count(outcome.matched))),
        ("changed", Node::Int(count(outcome.changed.len()))),
        ("skipped", Node::List("skip", skipped)),
        (
            collection,
            Node::List(item, outcome.changed.iter().map(show).collect()),
        ),
    ])
}

/// A count of records, which the cap keeps far inside an i64.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
