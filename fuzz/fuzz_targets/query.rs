//! The query language, from the query string to SQL that SQLite runs.
//!
//! Input: one byte that picks the resource (`'0'` runs, `'1'` integrations, `'2'` errors,
//! `'3'` history records, `'4'` contacts, `'5'` deliveries; any byte works, modulo 6), then
//! the query string. A query that parses must compile, as `page_rows` compiles it, to SQL
//! that
//! - numbers its placeholders `$1…$N` in order, once each, with exactly N binds, the last
//!   two being the limit (1 to 50, one more for a page by cursor) and the offset;
//! - holds no user text: every word is a keyword, an alias or a whitelisted name, and the
//!   only literals are `''` and `'\'`;
//! - runs on an empty database built from `migrations/sqlite`, binds and all.
#![no_main]

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use runledger::query::schema::{
    CONTACTS, DELIVERIES, ERRORS, HISTORY, INTEGRATIONS, Link, RUNS, Resource,
};
use runledger::query::sql::{Sql, page};
use runledger::query::{Bind, MAX_LIMIT, Query};
use sqlx::{Connection, SqliteConnection};
use tokio::runtime::Runtime;

const RESOURCES: [&Resource; 6] = [
    &RUNS,
    &INTEGRATIONS,
    &ERRORS,
    &HISTORY,
    &CONTACTS,
    &DELIVERIES,
];

/// SQL's words, and `lower`, the one function (free text is matched without ASCII case).
const KEYWORDS: &[&str] = &[
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "IS", "NULL", "EXISTS", "LIKE", "ESCAPE",
    "ORDER", "BY", "ASC", "DESC", "LIMIT", "OFFSET", "lower",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let resource = RESOURCES[usize::from(pick) % RESOURCES.len()];
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(query) = Query::parse(resource, text) else {
        return;
    };
    assert!(
        (1..=MAX_LIMIT).contains(&query.limit),
        "limit {}",
        query.limit
    );
    assert!(query.offset >= 0);
    let sql = page(resource.table, &query);
    assert!(sql.text.starts_with("SELECT t0.id"));
    assert!(sql.text.contains(&format!(" FROM {} t0 WHERE ", resource.table)));
    check_placeholders(&sql);
    check_words(&sql.text);
    // A page by cursor reads one row more, to know whether another page follows.
    let most = query.limit + i64::from(query.after.is_some());
    assert_eq!(
        sql.binds[sql.binds.len() - 2..],
        [Bind::Int(most), Bind::Int(query.offset)]
    );
    run(&sql);
});

/// `$1…$N` in order, once each, and N binds.
fn check_placeholders(sql: &Sql) {
    let mut expected = 1;
    let mut rest = sql.text.as_str();
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let n: usize = rest[..digits]
            .parse()
            .unwrap_or_else(|_| panic!("bare $ in {}", sql.text));
        assert_eq!(n, expected, "placeholders out of order in {}", sql.text);
        expected += 1;
        rest = &rest[digits..];
    }
    assert_eq!(
        expected - 1,
        sql.binds.len(),
        "placeholders vs binds in {}",
        sql.text
    );
}

/// Every name the compiler may write: tables, columns and foreign keys of the whitelist.
fn whitelist() -> &'static HashSet<&'static str> {
    static NAMES: OnceLock<HashSet<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: HashSet<&'static str> = KEYWORDS.iter().copied().collect();
        let mut todo: Vec<&'static Resource> = RESOURCES.to_vec();
        let mut seen = HashSet::new();
        while let Some(r) = todo.pop() {
            if !seen.insert(r.table) {
                continue;
            }
            names.insert(r.table);
            names.extend(r.fields.iter().map(|f| f.name));
            for a in r.assocs {
                names.insert(match a.link {
                    Link::BelongsTo { fk } | Link::HasMany { fk } => fk,
                });
                todo.push(a.target);
            }
        }
        names
    })
}

fn check_words(text: &str) {
    let names = whitelist();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c == '\'' {
            let end = text[start + 1..].find('\'').expect("unterminated literal") + start + 1;
            let literal = &text[start + 1..end];
            assert!(
                literal.is_empty() || literal == "\\",
                "literal '{literal}' in {text}"
            );
            while chars.next_if(|&(i, _)| i <= end).is_some() {}
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let mut end = start + c.len_utf8();
            while let Some((i, c)) = chars.next_if(|&(_, c)| c.is_ascii_alphanumeric() || c == '_')
            {
                end = i + c.len_utf8();
            }
            let word = &text[start..end];
            let alias = word
                .strip_prefix('t')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            let number = word.bytes().all(|b| b.is_ascii_digit());
            assert!(
                alias || number || names.contains(word),
                "word '{word}' in {text}"
            );
        } else {
            assert!(" .,()=<>$".contains(c), "character {c:?} in {text}");
        }
    }
}

/// Runs the SQL on an in-memory SQLite database with the real schema.
fn run(sql: &Sql) {
    static DB: OnceLock<(Runtime, Mutex<SqliteConnection>)> = OnceLock::new();
    let (rt, conn) = DB.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let conn = rt.block_on(async {
            let mut conn = SqliteConnection::connect("sqlite::memory:")
                .await
                .expect("sqlite");
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/sqlite");
            let mut files: Vec<_> = std::fs::read_dir(dir)
                .expect("migrations")
                .map(|e| e.expect("migration").path())
                .collect();
            files.sort();
            for file in files {
                let text = std::fs::read_to_string(&file).expect("migration");
                sqlx::raw_sql(&text)
                    .execute(&mut conn)
                    .await
                    .expect("migrate");
            }
            conn
        });
        (rt, Mutex::new(conn))
    });
    let mut conn = conn.lock().expect("connection");
    let mut q = sqlx::query(&sql.text);
    for value in &sql.binds {
        q = match value {
            Bind::Int(n) => q.bind(*n),
            Bind::Text(s) => q.bind(s.as_str()),
            // As the store binds it on SQLite: seconds since the epoch.
            Bind::Time(t) => q.bind(t.timestamp()),
            Bind::Bool(b) => q.bind(*b),
        };
    }
    if let Err(e) = rt.block_on(q.fetch_all(&mut *conn)) {
        panic!("SQLite refused {}: {e}", sql.text);
    }
}
