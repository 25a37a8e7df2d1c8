//! The query language as a property: over a fixed, varied set of runs, every query that
//! proptest makes up (any field, operator, value spelling, ordering and page of spec §3)
//! returns exactly the runs, in exactly the order, that a naive filter in memory selects.
//!
//! The filter is written from docs/api.md ("Querying"), not from `src/query`: text matching is
//! literal and without ASCII case (other letters keep theirs), a closed vocabulary (`status`,
//! `document_type`) refuses a value that is none of its words with a 400, a repeated key
//! keeps its last value, `not_eq`/`not_in` include nulls, several conditions on
//! `integration_errors` must hold for one and the same error, nulls sort last ascending and
//! first descending, ties go by id, and a page holds at most 50.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::StatusCode;
use serde_json::{Value, json};

use runledger::domain::records::DOCUMENT_TYPES;

use crate::helpers::{TestApp, messages, spawn_app};

const RUNS: &str = "/api/integration_runs";

/// Codes with mixed case, LIKE's wildcards, a backslash and non-ASCII letters (unique without
/// ASCII case, as codes are).
const CODES: [&str; 6] = [
    "PO_TO_ERP",
    "po-to-erp",
    "INV-SAP",
    "50%_OFF",
    "Ünïcödé",
    "back\\slash",
];

/// Times given in bodies; two of them a second apart.
const FIXED: [&str; 3] = [
    "2025-12-31T23:59:59Z",
    "2026-03-01T08:00:00Z",
    "2026-03-01T08:00:01Z",
];

/// How many runs the data set has: more than a page.
const COUNT: usize = 56;

/// Coupa's page size, and the most a page holds.
const PAGE: usize = 50;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(128)
}

// ---------------------------------------------------------------------------------------------
// The data set

/// What one run of the data set is made of, decided by its index alone.
struct Plan {
    code: &'static str,
    total: Option<i64>,
    processed: Option<i64>,
    /// Document type and whether the error is resolved.
    errors: Vec<(&'static str, bool)>,
    /// Status actions with their bodies, then plain updates.
    actions: Vec<(&'static str, Value)>,
    updates: Vec<Value>,
    status: &'static str,
}

fn plan(i: usize) -> Plan {
    let code = CODES[(i * 5 + i / 7) % CODES.len()];
    let total = match i % 5 {
        0 => None,
        k => Some([0, 3, 10, 10, 25, 40][(i + k) % 6]),
    };
    let processed = match (total, i % 4) {
        (_, 1) => None,
        (Some(t), k) => Some(t * k as i64 / 3),
        (None, k) => Some(k as i64 * 4),
    };
    let mut errors = Vec::new();
    if i % 4 == 2 {
        errors.push(("Supplier", false));
    }
    if i % 4 == 3 {
        errors.push(("OrderHeader", true));
        errors.push(("InvoiceHeader", false));
    }
    if i % 6 == 0 {
        errors.push(("Supplier", true));
    }
    let unresolved = errors.iter().any(|(_, resolved)| !resolved);
    let (actions, status) = match i % 7 {
        0 => (vec![], "pending"),
        1 => (vec![("run", json!({}))], "running"),
        2 => (
            vec![("run", json!({"start-time": FIXED[i % 3]}))],
            "running",
        ),
        3 => (vec![("run", json!({})), ("pause", json!({}))], "paused"),
        4 => (
            vec![("run", json!({})), ("success", json!({}))],
            "successful",
        ),
        5 => (
            vec![
                ("run", json!({})),
                ("fail", json!({"end-time": FIXED[(i + 1) % 3]})),
            ],
            "failed",
        ),
        _ => (
            vec![("finish", json!({}))],
            if unresolved { "failed" } else { "successful" },
        ),
    };
    let mut updates = Vec::new();
    if i % 8 == 0 {
        updates.push(json!({"start-time": FIXED[2]}));
    }
    if i % 11 == 4 {
        updates.push(json!({"end-time": null}));
    }
    Plan {
        code,
        total,
        processed,
        errors,
        actions,
        updates,
        status,
    }
}

#[derive(Clone, Debug)]
struct Integration {
    id: i64,
    code: String,
    name: String,
}

#[derive(Clone, Debug)]
struct Filed {
    resolved: bool,
    document_type: String,
}

/// A run as the API showed it after the data set was written; times in seconds.
#[derive(Clone, Debug)]
struct Row {
    id: i64,
    integration: Integration,
    status: String,
    total: Option<i64>,
    processed: Option<i64>,
    start: Option<i64>,
    end: Option<i64>,
    created: i64,
    updated: i64,
    errors: Vec<Filed>,
}

fn seconds(value: &Value) -> Option<i64> {
    let text = value.as_str()?;
    let parsed = DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    Some(parsed.timestamp())
}

/// The body of an answer that must have status `expected`.
fn ok(answer: (StatusCode, Value), expected: StatusCode) -> Value {
    let (status, body) = answer;
    assert_eq!(status, expected, "{body}");
    body
}

/// Sleeps into the next second, so that what is created next has a later `created_at`.
async fn next_second() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let left = 1000 - u64::from(now.subsec_millis()) + 20;
    tokio::time::sleep(Duration::from_millis(left)).await;
}

/// Writes the data set through the API and reads every run back.
async fn create_data_set(app: &TestApp) -> Vec<Row> {
    for code in CODES {
        app.create_integration(code).await;
    }
    let mut ids = Vec::new();
    for i in 0..COUNT {
        if i > 0 && i % (COUNT / 3) == 0 {
            next_second().await;
        }
        let p = plan(i);
        let mut body = json!({"integration": {"code": p.code}});
        if let Some(total) = p.total {
            body["total-records"] = json!(total);
        }
        if let Some(processed) = p.processed {
            body["records-processed"] = json!(processed);
        }
        let run = ok(app.post_json(RUNS, body).await, StatusCode::CREATED);
        let id = run["id"].as_i64().expect("run id");
        for (document_type, resolved) in &p.errors {
            let body = json!({"integration-run": {"id": id}, "contact-alert-type": "Technical",
                              "document-type": document_type, "document-id": 100 + i});
            let answer = app.post_json("/api/integration_errors", body).await;
            let error = ok(answer, StatusCode::CREATED);
            if *resolved {
                let path = format!("/api/integration_errors/{}/resolve", error["id"]);
                ok(app.put_json(&path, None).await, StatusCode::OK);
            }
        }
        for (action, body) in p.actions {
            let path = format!("{RUNS}/{id}/{action}");
            ok(app.put_json(&path, Some(body)).await, StatusCode::OK);
        }
        for body in p.updates {
            let path = format!("{RUNS}/{id}");
            ok(app.put_json(&path, Some(body)).await, StatusCode::OK);
        }
        ids.push(id);
    }
    let mut rows = Vec::new();
    for (i, id) in ids.into_iter().enumerate() {
        let run = ok(app.get_json(&format!("{RUNS}/{id}")).await, StatusCode::OK);
        let integration = &run["integration"];
        let errors = run["integration-errors"].as_array().expect("errors");
        let row = Row {
            id,
            integration: Integration {
                id: integration["id"].as_i64().expect("integration id"),
                code: integration["code"].as_str().expect("code").to_owned(),
                name: integration["name"].as_str().expect("name").to_owned(),
            },
            status: run["status"].as_str().expect("status").to_owned(),
            total: run["total-records"].as_i64(),
            processed: run["records-processed"].as_i64(),
            start: seconds(&run["start-time"]),
            end: seconds(&run["end-time"]),
            created: seconds(&run["created-at"]).expect("created-at"),
            updated: seconds(&run["updated-at"]).expect("updated-at"),
            errors: errors
                .iter()
                .map(|e| Filed {
                    resolved: e["resolved"].as_bool().expect("resolved"),
                    document_type: e["document-type"].as_str().expect("type").to_owned(),
                })
                .collect(),
        };
        // The data set is what was written.
        let p = plan(i);
        assert_eq!(row.integration.code, p.code, "{run}");
        assert_eq!(row.status, p.status, "{run}");
        assert_eq!((row.total, row.processed), (p.total, p.processed), "{run}");
        let mut shown: Vec<_> = row
            .errors
            .iter()
            .map(|e| (e.document_type.as_str(), e.resolved))
            .collect();
        let mut filed = p.errors.clone();
        shown.sort();
        filed.sort();
        assert_eq!(shown, filed, "{run}");
        rows.push(row);
    }
    let distinct = |f: fn(&Row) -> i64| {
        let mut v: Vec<i64> = rows.iter().map(f).collect();
        v.sort();
        v.dedup();
        v.len()
    };
    assert!(
        distinct(|r| r.created) >= 3,
        "the runs were meant to be created over three seconds"
    );
    assert!(distinct(|r| r.updated) >= 3);
    let nullable = [
        (
            "total-records",
            rows.iter().map(|r| r.total).collect::<Vec<_>>(),
        ),
        (
            "records-processed",
            rows.iter().map(|r| r.processed).collect(),
        ),
        ("start-time", rows.iter().map(|r| r.start).collect()),
        ("end-time", rows.iter().map(|r| r.end).collect()),
    ];
    for (name, values) in nullable {
        let nulls = values.iter().filter(|v| v.is_none()).count();
        assert!(
            nulls > 0 && nulls < rows.len(),
            "{name} should be null on some runs only"
        );
    }
    rows
}

// ---------------------------------------------------------------------------------------------
// Queries

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Int,
    Text,
    /// A closed vocabulary: its words match in any case, any other value is refused.
    Vocab(&'static [&'static str]),
    Time,
    Bool,
}

const STATUSES: &[&str] = &["pending", "running", "paused", "successful", "failed"];

/// Which record a field belongs to: the run, its integration, or any of its errors.
#[derive(Clone, Copy, Debug, PartialEq)]
enum On {
    Run,
    Integration,
    Errors,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Field {
    on: On,
    name: &'static str,
    kind: Kind,
}

const fn field(on: On, name: &'static str, kind: Kind) -> Field {
    Field { on, name, kind }
}

/// Every queryable field the test asks about, weighted towards those where the rules have
/// corners: nulls, text matching, and conditions on errors.
const FIELDS: [(u32, Field); 14] = [
    (2, field(On::Run, "id", Kind::Int)),
    (1, field(On::Run, "integration_id", Kind::Int)),
    (3, field(On::Run, "status", Kind::Vocab(STATUSES))),
    (3, field(On::Run, "total_records", Kind::Int)),
    (3, field(On::Run, "records_processed", Kind::Int)),
    (3, field(On::Run, "start_time", Kind::Time)),
    (3, field(On::Run, "end_time", Kind::Time)),
    (2, field(On::Run, "created_at", Kind::Time)),
    (2, field(On::Run, "updated_at", Kind::Time)),
    (1, field(On::Integration, "id", Kind::Int)),
    (5, field(On::Integration, "code", Kind::Text)),
    (2, field(On::Integration, "name", Kind::Text)),
    (3, field(On::Errors, "resolved", Kind::Bool)),
    (
        3,
        field(On::Errors, "document_type", Kind::Vocab(DOCUMENT_TYPES)),
    ),
];

/// The run's own fields, which `order_by` takes.
const ORDERABLE: [&str; 9] = [
    "id",
    "integration_id",
    "status",
    "total_records",
    "records_processed",
    "start_time",
    "end_time",
    "created_at",
    "updated_at",
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
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
    fn name(self) -> &'static str {
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

    /// The operators docs/api.md allows on a kind: text matching on text only, no
    /// comparisons on booleans.
    fn allowed(kind: Kind) -> Vec<Op> {
        use Op::*;
        match kind {
            // The matching operators twice: they have the most corners.
            Kind::Text | Kind::Vocab(_) => vec![
                Eq, NotEq, Contains, StartsWith, EndsWith, Gt, Lt, GtOrEq, LtOrEq, In, NotIn,
                Blank, Contains, StartsWith, EndsWith,
            ],
            Kind::Int | Kind::Time => vec![Eq, NotEq, Gt, Lt, GtOrEq, LtOrEq, In, NotIn, Blank],
            Kind::Bool => vec![Eq, NotEq, In, NotIn, Blank],
        }
    }
}

/// A typed value; values of one kind compare as the database should (text bytewise).
#[derive(Clone, Debug, PartialEq, PartialOrd)]
enum Val {
    Int(i64),
    Text(String),
    Time(i64),
    Bool(bool),
}

/// A value and how the query string spells it.
#[derive(Clone, Debug)]
struct Operand {
    value: Val,
    text: String,
}

#[derive(Clone, Debug)]
enum Arg {
    One(Operand),
    List(Vec<Operand>),
    Flag(bool),
}

#[derive(Clone, Debug)]
struct Cond {
    field: Field,
    op: Op,
    arg: Arg,
    /// `field[eq]=v` rather than `field=v`.
    explicit_eq: bool,
    /// `total-records` rather than `total_records`.
    dashed: bool,
}

#[derive(Clone, Debug)]
struct Query {
    conditions: Vec<Cond>,
    /// A run field, and whether to spell it dashed.
    order_by: Option<(&'static str, bool)>,
    /// `Some(true)` for `dir=desc`.
    descending: Option<bool>,
    limit: Option<i64>,
    offset: Option<i64>,
}

impl Cond {
    fn key(&self) -> String {
        let name = if self.dashed {
            self.field.name.replace('_', "-")
        } else {
            self.field.name.to_owned()
        };
        let path = match self.field.on {
            On::Run => name,
            On::Integration => format!("integration[{name}]"),
            On::Errors => format!("integration_errors[{name}]"),
        };
        if self.op == Op::Eq && !self.explicit_eq {
            path
        } else {
            format!("{path}[{}]", self.op.name())
        }
    }

    fn value(&self) -> String {
        match &self.arg {
            Arg::One(o) => o.text.clone(),
            Arg::List(list) => list
                .iter()
                .map(|o| o.text.as_str())
                .collect::<Vec<_>>()
                .join(","),
            Arg::Flag(flag) => flag.to_string(),
        }
    }

    /// Whether the server must refuse the condition: a value of `eq`, `not_eq`, `in` or
    /// `not_in` on a closed vocabulary that is none of its words, in any case.
    fn refused(&self) -> bool {
        let Kind::Vocab(words) = self.field.kind else {
            return false;
        };
        let outside = |o: &Operand| !words.iter().any(|w| w.eq_ignore_ascii_case(&o.text));
        match (&self.arg, self.op) {
            (Arg::One(o), Op::Eq | Op::NotEq) => outside(o),
            (Arg::List(list), _) => list.iter().any(outside),
            _ => false,
        }
    }

    /// Whether the condition holds of a record whose field is `actual` (`None`: null). Text
    /// compares with ASCII letters folded on both sides.
    fn holds(&self, actual: Option<&Val>) -> bool {
        let fold = |v: &Val| match v {
            Val::Text(t) => Val::Text(t.to_ascii_lowercase()),
            other => other.clone(),
        };
        let actual = actual.map(fold);
        let actual = actual.as_ref();
        let arg = match &self.arg {
            Arg::One(o) => Arg::One(Operand {
                value: fold(&o.value),
                text: o.text.clone(),
            }),
            Arg::List(list) => Arg::List(
                list.iter()
                    .map(|o| Operand {
                        value: fold(&o.value),
                        text: o.text.clone(),
                    })
                    .collect(),
            ),
            Arg::Flag(flag) => Arg::Flag(*flag),
        };
        let one = || match &arg {
            Arg::One(o) => &o.value,
            other => panic!("{:?} takes one value, not {other:?}", self.op),
        };
        let text = |f: fn(&str, &str) -> bool| match (actual, one()) {
            (Some(Val::Text(a)), Val::Text(v)) => f(a, v),
            _ => false,
        };
        match (self.op, &arg) {
            (Op::Blank, Arg::Flag(blank)) => {
                let is_blank = match actual {
                    None => true,
                    Some(Val::Text(s)) => s.is_empty(),
                    Some(_) => false,
                };
                is_blank == *blank
            }
            (Op::In, Arg::List(list)) => actual.is_some_and(|a| list.iter().any(|o| o.value == *a)),
            (Op::NotIn, Arg::List(list)) => {
                actual.is_none_or(|a| list.iter().all(|o| o.value != *a))
            }
            (Op::Eq, _) => actual == Some(one()),
            (Op::NotEq, _) => actual != Some(one()),
            (Op::Gt, _) => actual.is_some_and(|a| a > one()),
            (Op::Lt, _) => actual.is_some_and(|a| a < one()),
            (Op::GtOrEq, _) => actual.is_some_and(|a| a >= one()),
            (Op::LtOrEq, _) => actual.is_some_and(|a| a <= one()),
            (Op::Contains, _) => text(|a, v| a.contains(v)),
            (Op::StartsWith, _) => text(|a, v| a.starts_with(v)),
            (Op::EndsWith, _) => text(|a, v| a.ends_with(v)),
            (op, arg) => panic!("{op:?} with {arg:?}"),
        }
    }
}

fn run_value(row: &Row, name: &str) -> Option<Val> {
    match name {
        "id" => Some(Val::Int(row.id)),
        "integration_id" => Some(Val::Int(row.integration.id)),
        "status" => Some(Val::Text(row.status.clone())),
        "total_records" => row.total.map(Val::Int),
        "records_processed" => row.processed.map(Val::Int),
        "start_time" => row.start.map(Val::Time),
        "end_time" => row.end.map(Val::Time),
        "created_at" => Some(Val::Time(row.created)),
        "updated_at" => Some(Val::Time(row.updated)),
        other => panic!("no run field {other}"),
    }
}

fn integration_value(integration: &Integration, name: &str) -> Option<Val> {
    match name {
        "id" => Some(Val::Int(integration.id)),
        "code" => Some(Val::Text(integration.code.clone())),
        "name" => Some(Val::Text(integration.name.clone())),
        other => panic!("no integration field {other}"),
    }
}

fn error_value(error: &Filed, name: &str) -> Option<Val> {
    match name {
        "resolved" => Some(Val::Bool(error.resolved)),
        "document_type" => Some(Val::Text(error.document_type.clone())),
        other => panic!("no error field {other}"),
    }
}

impl Query {
    fn url(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for c in &self.conditions {
            query.append_pair(&c.key(), &c.value());
        }
        if let Some((name, dashed)) = self.order_by {
            let name = if dashed {
                name.replace('_', "-")
            } else {
                name.to_owned()
            };
            query.append_pair("order_by", &name);
        }
        if let Some(descending) = self.descending {
            query.append_pair("dir", if descending { "desc" } else { "asc" });
        }
        if let Some(limit) = self.limit {
            query.append_pair("limit", &limit.to_string());
        }
        if let Some(offset) = self.offset {
            query.append_pair("offset", &offset.to_string());
        }
        format!("{RUNS}?{}", query.finish())
    }

    /// The conditions the server reads: of a key sent more than once, the last.
    fn effective(&self) -> Vec<&Cond> {
        let keys: Vec<String> = self.conditions.iter().map(Cond::key).collect();
        self.conditions
            .iter()
            .enumerate()
            .filter(|(i, _)| !keys[i + 1..].contains(&keys[*i]))
            .map(|(_, c)| c)
            .collect()
    }

    /// Whether the server must refuse the query (400).
    fn refused(&self) -> bool {
        self.effective().iter().any(|c| c.refused())
    }

    /// Whether a run matches every condition; those on `integration_errors` must all hold
    /// for one and the same error.
    fn selects(&self, row: &Row) -> bool {
        let effective = self.effective();
        let on = |on: On| effective.iter().filter(move |c| c.field.on == on);
        let run = on(On::Run).all(|c| c.holds(run_value(row, c.field.name).as_ref()));
        let integration = on(On::Integration)
            .all(|c| c.holds(integration_value(&row.integration, c.field.name).as_ref()));
        let errors = on(On::Errors).count() == 0
            || row
                .errors
                .iter()
                .any(|e| on(On::Errors).all(|c| c.holds(error_value(e, c.field.name).as_ref())));
        run && integration && errors
    }

    /// The ids the page should hold, in order.
    fn expected(&self, rows: &[Row]) -> Vec<i64> {
        let mut selected: Vec<&Row> = rows.iter().filter(|r| self.selects(r)).collect();
        let name = self.order_by.map_or("id", |(name, _)| name);
        let descending = self.descending.unwrap_or(false);
        selected.sort_by(|a, b| {
            let (x, y) = (run_value(a, name), run_value(b, name));
            // Nulls after every value, then the value, then the id; all reversed for desc.
            let ascending = x
                .is_none()
                .cmp(&y.is_none())
                .then_with(|| x.partial_cmp(&y).expect("values of one kind"))
                .then(a.id.cmp(&b.id));
            if descending {
                ascending.reverse()
            } else {
                ascending
            }
        });
        let limit = self.limit.map_or(PAGE, |l| (l as usize).min(PAGE));
        selected
            .into_iter()
            .skip(self.offset.unwrap_or(0) as usize)
            .take(limit)
            .map(|r| r.id)
            .collect()
    }
}

/// `t` spelled one of the ways docs/api.md accepts, and the instant the server must read
/// from it (fractions are dropped; a bare date is midnight UTC).
fn spell_time(t: i64, spelling: u8) -> Operand {
    let at = |seconds: i64| DateTime::<Utc>::from_timestamp(seconds, 0).expect("in range");
    let utc = at(t);
    let (text, value) = match spelling {
        0 => (utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(), t),
        1 => (utc.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(), t),
        2 => (utc.format("%Y-%m-%d %H:%M:%S").to_string(), t),
        3 => (utc.format("%Y-%m-%dT%H:%M:%S.750Z").to_string(), t),
        4 => (
            at(t + 2 * 3600)
                .format("%Y-%m-%dT%H:%M:%S.250+02:00")
                .to_string(),
            t,
        ),
        5 => (
            at(t - 5 * 3600 - 1800)
                .format("%Y-%m-%dT%H:%M:%S-05:30")
                .to_string(),
            t,
        ),
        _ => (utc.format("%Y-%m-%d").to_string(), t - t.rem_euclid(86_400)),
    };
    Operand {
        value: Val::Time(value),
        text,
    }
}

fn texts(words: Vec<String>) -> BoxedStrategy<Operand> {
    prop::sample::select(words)
        .prop_map(|w| Operand {
            value: Val::Text(w.clone()),
            text: w,
        })
        .boxed()
}

fn ints(mut pool: Vec<i64>) -> BoxedStrategy<Operand> {
    pool.sort();
    pool.dedup();
    prop::sample::select(pool)
        .prop_map(|n| Operand {
            value: Val::Int(n),
            text: n.to_string(),
        })
        .boxed()
}

/// Values worth asking about for `field`: those in the data, their neighbours, and some
/// near misses (other case, fragments, LIKE's wildcards).
fn operands(rows: &[Row], field: Field) -> BoxedStrategy<Operand> {
    let strings = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    match (field.on, field.name) {
        (On::Run, "id") => {
            let max = rows.iter().map(|r| r.id).max().unwrap_or(0);
            ints((0..=max + 1).collect())
        }
        (On::Run, "integration_id") | (On::Integration, "id") => {
            let mut pool: Vec<i64> = rows.iter().map(|r| r.integration.id).collect();
            pool.extend([0, pool.iter().max().unwrap_or(&0) + 1]);
            ints(pool)
        }
        (On::Run, "total_records" | "records_processed") => {
            let mut pool: Vec<i64> = rows
                .iter()
                .flat_map(|r| [r.total, r.processed])
                .flatten()
                .collect();
            pool.extend([0, 1, 5, 11, 100]);
            ints(pool)
        }
        (On::Run, "status") => texts(strings(&[
            "pending",
            "running",
            "paused",
            "successful",
            "failed",
            "Running",
            "FAILED",
            "",
            "ing",
            "pend",
            "ed",
            "ful",
            "un",
            "p",
            "s",
            "zz",
            "running ",
        ])),
        (On::Integration, "code") => {
            let mut words = strings(&CODES);
            words.extend(strings(&[
                "PO", "po", "_TO_", "%", "_", "ERP", "erp", "\\", "Ü", "ö", "é", "50%", "OFF",
                "P_", "%_", "-", "INV", "back", "", "_", "%", "\\s", "O_", "5_", "%O", "_%", "k\\",
                "ünï",
            ]));
            texts(words)
        }
        (On::Integration, "name") => {
            let mut words: Vec<String> = CODES.iter().map(|c| format!("{c} integration")).collect();
            words.extend(strings(&[
                " integration",
                "integration",
                "Integration",
                "PO_TO_ERP",
                "_",
                "%",
            ]));
            texts(words)
        }
        (On::Errors, "document_type") => texts(strings(&[
            "Supplier",
            "OrderHeader",
            "InvoiceHeader",
            "Order",
            "Header",
            "header",
            "Invoice",
            "supplier",
            "Contract",
        ])),
        (On::Errors, "resolved") => (any::<bool>(), any::<bool>())
            .prop_map(|(flag, numeric)| Operand {
                value: Val::Bool(flag),
                text: match (flag, numeric) {
                    (true, false) => "true",
                    (false, false) => "false",
                    (true, true) => "1",
                    (false, true) => "0",
                }
                .to_owned(),
            })
            .boxed(),
        (On::Run, _) if field.kind == Kind::Time => {
            let mut pool: Vec<i64> = rows
                .iter()
                .flat_map(|r| [r.start, r.end, Some(r.created), Some(r.updated)])
                .flatten()
                .flat_map(|t| [t - 1, t, t + 1])
                .collect();
            pool.extend(FIXED.iter().filter_map(|t| seconds(&json!(t))));
            pool.sort();
            pool.dedup();
            (prop::sample::select(pool), 0u8..7)
                .prop_map(|(t, spelling)| spell_time(t, spelling))
                .boxed()
        }
        other => panic!("no values for {other:?}"),
    }
}

fn condition(rows: &[Row], field: Field) -> BoxedStrategy<Cond> {
    let values = operands(rows, field);
    (
        prop::sample::select(Op::allowed(field.kind)),
        values.clone(),
        prop::collection::vec(values, 1..4),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(move |(op, one, list, flag, explicit_eq, dashed)| Cond {
            field,
            op,
            arg: match op {
                Op::Blank => Arg::Flag(flag),
                Op::In | Op::NotIn => Arg::List(list),
                _ => Arg::One(one),
            },
            explicit_eq,
            dashed,
        })
        .boxed()
}

fn query(rows: &[Row]) -> BoxedStrategy<Query> {
    let single: Vec<(u32, BoxedStrategy<Cond>)> = FIELDS
        .iter()
        .map(|(weight, f)| (*weight, condition(rows, *f)))
        .collect();
    let single = prop::strategy::Union::new_weighted(single).prop_map(|c| vec![c]);
    // Two conditions on errors at once, which must hold for one and the same error.
    let on_errors = |name: &str| {
        let (_, f) = FIELDS
            .iter()
            .find(|(_, f)| f.on == On::Errors && f.name == name)
            .expect("an error field");
        condition(rows, *f)
    };
    let pair = (on_errors("resolved"), on_errors("document_type")).prop_map(|(a, b)| vec![a, b]);
    let group = prop_oneof![4 => single, 1 => pair];
    (
        prop::collection::vec(group, 0..4).prop_map(|groups| groups.concat()),
        prop::option::weighted(
            0.6,
            (prop::sample::select(ORDERABLE.to_vec()), any::<bool>()),
        ),
        prop::option::of(any::<bool>()),
        prop::option::weighted(0.4, 1i64..=70),
        prop::option::weighted(0.3, 0i64..=60),
    )
        .prop_map(|(conditions, order_by, descending, limit, offset)| Query {
            conditions,
            order_by,
            descending,
            limit,
            offset,
        })
        .boxed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_query_returns_exactly_what_a_naive_filter_selects() {
    let app = spawn_app().await;
    let started = std::time::Instant::now();
    let rows = create_data_set(&app).await;
    let written = started.elapsed();

    let config = Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config.clone());
    let strategy = query(&rows);
    let handle = tokio::runtime::Handle::current();
    let (asked, found) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let refusals = AtomicUsize::new(0);
    // The runner calls back synchronously; this worker thread may block while the other
    // serves.
    let outcome = tokio::task::block_in_place(|| {
        runner.run(&strategy, |q| {
            let url = q.url();
            let (status, body) = handle.block_on(app.get_json(&url));
            if q.refused() {
                prop_assert_eq!(status, StatusCode::BAD_REQUEST, "GET {}: {}", url, body);
                let message = messages(&body, "integration-run").join(" ");
                prop_assert!(
                    message.contains("is not included in the list"),
                    "GET {}: {}",
                    url,
                    body
                );
                refusals.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            prop_assert_eq!(status, StatusCode::OK, "GET {}: {}", url, body);
            let got: Vec<i64> = body
                .as_array()
                .unwrap_or_else(|| panic!("GET {url}: not an array: {body}"))
                .iter()
                .map(|run| run["id"].as_i64().expect("id"))
                .collect();
            let expected = q.expected(&rows);
            asked.fetch_add(1, Ordering::Relaxed);
            if !expected.is_empty() {
                found.fetch_add(1, Ordering::Relaxed);
            }
            prop_assert_eq!(got, expected, "GET {}", url);
            Ok(())
        })
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    let (asked, found) = (asked.into_inner(), found.into_inner());
    let refusals = refusals.into_inner();
    eprintln!(
        "{} queries over {COUNT} runs ({found} with results, {refusals} refused) after writing \
         them in {written:?}; {:?} in all",
        config.cases,
        started.elapsed()
    );
    assert!(
        found * 8 >= asked,
        "only {found} of {asked} queries matched anything: the test says little"
    );
}

// ---------------------------------------------------------------------------------------------
// Text: whatever a client sends is stored and shown exactly in both formats, or refused

/// A text field a client writes, and where the 400 must say it is.
#[derive(Clone, Copy, Debug)]
enum TextField {
    /// A string inside a run's opaque `flow`.
    Flow,
    /// An integration's `name` (required, unique: the case number goes before the text).
    IntegrationName,
    /// An error's response message, nested in `responses`.
    ResponseMessage,
}

/// One case: a text, which field gets it, and whether the write is JSON (else XML).
#[derive(Clone, Debug)]
struct TextCase {
    field: TextField,
    json: bool,
    text: String,
}

/// Texts of up to 12 characters mixing plain letters, every class of character XML cannot
/// carry, those it carries but are easy to get wrong (tab, CR, NEL, LINE SEPARATOR, DEL, a
/// non-breaking space, U+FFFD), markup, emoji, and any character at all.
fn text_case() -> impl Strategy<Value = TextCase> {
    const AWKWARD: [char; 26] = [
        '\u{0}',
        '\u{1}',
        '\u{8}',
        '\u{b}',
        '\u{c}',
        '\u{1b}',
        '\u{1f}',
        '\u{FFFE}',
        '\u{FFFF}',
        '\t',
        '\n',
        '\r',
        ' ',
        '\u{7f}',
        '\u{85}',
        '\u{a0}',
        '\u{2028}',
        '\u{FFFD}',
        '&',
        '<',
        '>',
        '"',
        ']',
        'é',
        '😀',
        '\u{10FFFF}',
    ];
    let character = prop_oneof![
        3 => proptest::char::range('a', 'z'),
        2 => proptest::sample::select(AWKWARD.to_vec()),
        1 => any::<char>(),
    ];
    let field = prop_oneof![
        Just(TextField::Flow),
        Just(TextField::IntegrationName),
        Just(TextField::ResponseMessage),
    ];
    (
        field,
        any::<bool>(),
        proptest::collection::vec(character, 0..12),
    )
        .prop_map(|(field, json, chars)| TextCase {
            field,
            json,
            text: chars.into_iter().collect(),
        })
}

/// What a write and the reads after it came to.
enum Outcome {
    Stored,
    Refused,
}

/// Writes `case` (the `n`th) through the API and checks the answer, then, if it was stored,
/// reads it back in both formats. Every XML answer is read with quick-xml.
async fn write_and_read(app: &TestApp, run: i64, n: usize, case: &TextCase) -> Outcome {
    use crate::text::{refusal, xml_can_carry, xml_escape, xml_texts};
    use reqwest::Method;

    let text = &case.text;
    let escaped = xml_escape(text);
    // Where the text sits in its field, and the field's collection, error key, JSON body,
    // XML body, place in a 400, and path to it in a JSON and an XML answer.
    let (written, path, resource, json_body, xml_body, place) = match case.field {
        TextField::Flow => (
            text.clone(),
            RUNS,
            "integration-run",
            json!({"integration": {"code": CODES[0]}, "flow": {"note": text}}),
            format!(
                "<integration-run><integration><code>{}</code></integration>\
                 <flow><note type=\"string\">{escaped}</note></flow></integration-run>",
                CODES[0]
            ),
            "Note (flow.note)",
        ),
        TextField::IntegrationName => {
            let mut body = crate::helpers::integration_body(&format!("TEXT_{n}"));
            body["name"] = json!(format!("#{n}:{text}"));
            let xml = format!(
                "<integration><code>TEXT_{n}</code><name type=\"string\">#{n}:{escaped}</name>\
                 <business-object>OrderHeader</business-object><direction>from_coupa</direction>\
                 <end-system>SAP</end-system><end-system-type>erp</end-system-type></integration>"
            );
            (
                format!("#{n}:{text}"),
                "/api/integrations",
                "integration",
                body,
                xml,
                "Name",
            )
        }
        TextField::ResponseMessage => (
            text.clone(),
            "/api/integration_errors",
            "integration-error",
            json!({"contact-alert-type": "Technical", "integration-run": {"id": run},
                   "responses": [{"response-message": text}]}),
            format!(
                "<integration-error><contact-alert-type>Technical</contact-alert-type>\
                 <integration-run><id type=\"integer\">{run}</id></integration-run>\
                 <responses type=\"array\"><response>\
                 <response-message type=\"string\">{escaped}</response-message>\
                 </response></responses></integration-error>"
            ),
            "Response message (responses[0].response-message)",
        ),
    };
    let unshowable = written
        .chars()
        .enumerate()
        .find(|(_, c)| !xml_can_carry(*c))
        .map(|(i, c)| refusal(place, i + 1, c));
    let (status, answer) = if case.json {
        let (status, body) = app.post_json(path, json_body).await;
        (status, body)
    } else {
        let (status, document) = app.xml(Method::POST, path, Some(&xml_body)).await;
        let leaves = crate::text::xml_leaves(&document);
        (
            status,
            json!({"document": document, "leaves": format!("{leaves:?}")}),
        )
    };
    if let Some(expected) = unshowable {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case:?}: {answer}");
        let said = if case.json {
            crate::helpers::messages(&answer, resource)
        } else {
            xml_texts(
                answer["document"].as_str().unwrap_or_default(),
                "errors/error",
            )
        };
        assert_eq!(said, [expected], "{case:?}");
        return Outcome::Refused;
    }
    assert_eq!(status, StatusCode::CREATED, "{case:?}: {answer}");
    let id = if case.json {
        answer["id"].as_i64()
    } else {
        let document = answer["document"].as_str().unwrap_or_default();
        xml_texts(document, &format!("{resource}/id"))
            .first()
            .and_then(|id| id.parse().ok())
    }
    .unwrap_or_else(|| panic!("{case:?}: no id in {answer}"));
    let show = format!("{path}/{id}");
    let (status, shown) = app.get_json(&show).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    let (status, document) = app.xml(Method::GET, &show, None).await;
    assert_eq!(status, StatusCode::OK, "{document}");
    let (in_json, xml_path) = match case.field {
        TextField::Flow => (&shown["flow"]["note"], "integration-run/flow/note"),
        TextField::IntegrationName => (&shown["name"], "integration/name"),
        TextField::ResponseMessage => (
            &shown["responses"][0]["response-message"],
            "integration-error/responses/response/response-message",
        ),
    };
    assert_eq!(in_json, &json!(written), "{case:?} read in JSON");
    assert_eq!(
        xml_texts(&document, xml_path),
        [written],
        "{case:?} read in XML"
    );
    Outcome::Stored
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_text_a_client_sends_round_trips_through_json_and_xml_or_is_refused_naming_its_field() {
    let app = spawn_app().await;
    app.create_integration(CODES[0]).await;
    let run = app.create_run(CODES[0]).await;
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config.clone());
    let handle = tokio::runtime::Handle::current();
    let (n, stored, refused) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    // The runner calls back synchronously; this worker thread may block while the other
    // serves. A failed assertion is a panic, which the runner reports with its case.
    let outcome = tokio::task::block_in_place(|| {
        runner.run(&text_case(), |case| {
            let number = n.fetch_add(1, Ordering::Relaxed);
            match handle.block_on(write_and_read(&app, run, number, &case)) {
                Outcome::Stored => stored.fetch_add(1, Ordering::Relaxed),
                Outcome::Refused => refused.fetch_add(1, Ordering::Relaxed),
            };
            Ok(())
        })
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    let (stored, refused) = (stored.into_inner(), refused.into_inner());
    eprintln!("{stored} texts stored and read back, {refused} refused");
    assert!(
        stored * 5 >= config.cases as usize && refused * 10 >= config.cases as usize,
        "{stored} stored and {refused} refused of {}: the test says little",
        config.cases
    );
}
