//! The selection of a bulk action (`POST /api/integration_runs/bulk/fail?status=running`):
//! the conditions of an index query and its shaping, every record they match (no paging,
//! no order of the caller's), and our own `dry_run`.

use super::schema::Resource;
use super::{Query, params};
use crate::error::{Error, Result};

/// Query keys that page or order a listing: a bulk action takes every match, in id order.
const NOT_FOR_BULK: [&str; 4] = ["limit", "offset", "order_by", "dir"];

/// What a bulk action's query string says.
#[derive(Clone, Debug)]
pub struct Selection {
    /// The conditions (at least one) and the shape of the records listed in the answer.
    pub query: Query,
    /// `dry_run=true`: say what would change, and change nothing.
    pub dry_run: bool,
}

/// Parses a bulk action's query string on `resource`.
pub fn selection(resource: &'static Resource, raw: &str) -> Result<Selection> {
    let mut dry_run = false;
    let mut pairs = Vec::new();
    for (key, value) in params::parse(raw)? {
        if key == "dry_run" || key == "dry-run" {
            dry_run = match value.as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(Error::invalid(format!(
                        "dry_run takes true or false, not '{value}'"
                    )));
                }
            };
        } else if NOT_FOR_BULK.contains(&key.as_str()) {
            return Err(Error::invalid(format!(
                "A bulk action takes every record its query matches: {key} is not allowed"
            )));
        } else {
            pairs.push((key, value));
        }
    }
    let query = Query::of_pairs(resource, pairs)?;
    if query.conditions.is_empty() {
        return Err(Error::invalid("A bulk action needs at least one condition"));
    }
    Ok(Selection { query, dry_run })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::schema::RUNS;

    fn message(raw: &str) -> String {
        selection(&RUNS, raw).unwrap_err().to_string()
    }

    #[test]
    fn conditions_are_the_index_query_and_dry_run_is_ours() {
        let s = selection(&RUNS, "status=running&integration[code]=SAP&dry_run=true").unwrap();
        assert!(s.dry_run);
        assert_eq!(s.query.conditions.len(), 2);
        assert!(!selection(&RUNS, "status=running").unwrap().dry_run);
        assert!(!selection(&RUNS, "dry-run=false&id=3").unwrap().dry_run);
    }

    #[test]
    fn a_selection_without_a_condition_or_with_paging_is_refused() {
        for raw in ["", "dry_run=true", "fields=[\"id\"]"] {
            assert_eq!(message(raw), "A bulk action needs at least one condition");
        }
        for key in NOT_FOR_BULK {
            assert!(
                message(&format!("status=running&{key}=1")).contains(&format!("{key} is not")),
                "{key}"
            );
        }
        assert_eq!(
            message("status=running&dry_run=yes"),
            "dry_run takes true or false, not 'yes'"
        );
        assert!(message("colour=red").contains("colour"));
    }
}
