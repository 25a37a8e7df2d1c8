//! The event stream's rows: each change of a run, an integration error or a monitor's health,
//! in the order the database committed them, and what a stream resumes from.

use std::cmp::Ordering;

use super::monitor::sweep::Flip;
use super::records::Record;
use super::transitions::Entry;
use super::vocabulary::vocabulary;
use crate::error::{Error, Result};
use crate::time::Timestamp;

vocabulary! {
    /// What changed: a run (its transition log entry), an integration error, a health.
    pub enum Topic {
        Run = "run",
        IntegrationError = "integration-error",
        Health = "health",
    }
}

/// Where an event stands in the stream: by the writing transaction first (PostgreSQL draws
/// ids before commit, so ids alone do not follow commits; SQLite's `tx` is always 0), then
/// by id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Position {
    pub tx: i64,
    pub id: i64,
}

impl Ord for Position {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.tx, self.id).cmp(&(other.tx, other.id))
    }
}

impl PartialOrd for Position {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One event as stored: what it is about, not yet what that looks like.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub position: Position,
    pub topic: Topic,
    pub subject_id: i64,
    pub integration_id: Option<i64>,
    pub integration_run_id: Option<i64>,
    pub created_at: Timestamp,
}

/// What an event is about, as stored now: the change it tells of.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Transition(Entry),
    IntegrationError(Box<Record>),
    Flip(Flip),
}

/// The event id a client resumes after (`Last-Event-ID`, or `last_event_id=`): a positive
/// integer; anything else is a 400.
pub fn resume_id(text: &str) -> Result<i64> {
    match text.trim().parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(Error::invalid(format!(
            "Last-Event-ID must be the id of an event, not {:?}",
            text.chars().take(40).collect::<String>()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_order_by_transaction_then_id() {
        let p = |tx, id| Position { tx, id };
        // An id drawn early by a transaction that committed late comes after.
        assert!(p(7, 1) > p(5, 2));
        assert!(p(5, 2) > p(5, 1));
        let mut all = vec![p(2, 9), p(1, 3), p(2, 4), p(0, 10)];
        all.sort();
        assert_eq!(all, [p(0, 10), p(1, 3), p(2, 4), p(2, 9)]);
    }

    #[test]
    fn only_a_positive_integer_resumes_a_stream() {
        assert_eq!(resume_id(" 42 ").unwrap(), 42);
        for bad in ["", "0", "-3", "abc", "1.5"] {
            assert!(resume_id(bad).is_err(), "{bad:?}");
        }
    }
}
