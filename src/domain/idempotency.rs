//! Idempotency keys (the IETF httpapi draft's `Idempotency-Key`, as Stripe behaves): what a
//! key may be, what makes a retry the same request, what a key's row means for a request
//! that brings it, which answers are kept, and which keys this node's requests hold now.
//!
//! Everything here is pure. The HTTP layer reads the key and the request's parts; the store
//! takes the key's row in the request's first write, or reads it, and asks [`standing`] what
//! that row means.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::time::{self, Timestamp};

/// The longest key, in characters (Stripe's limit, and the draft's examples fit well in it).
pub const MAX_KEY_CHARS: usize = 255;

/// How long a key is kept by default: a day, as Stripe keeps them.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How long past the request time limit a key's row may wait for its answer: the handler is
/// dropped at the limit, but the answer of a write that committed may still be on its way.
pub const LEASE_MARGIN: Duration = Duration::from_secs(60);

/// A key as the client chose it: 1 to 255 visible ASCII characters, sent bare (Stripe's
/// `abc`) or as a structured-field string (the draft's `"abc"`). Both spellings are one key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key(String);

impl Key {
    /// Reads a header value. The refusal names the header and says what a key may be.
    pub fn parse(value: &[u8]) -> Result<Key> {
        let value = value.trim_ascii();
        let key = match value.strip_prefix(b"\"") {
            Some(quoted) => unquote(quoted)?,
            None => value.to_vec(),
        };
        if key.is_empty() {
            return Err(refusal("is empty"));
        }
        if let Some(&byte) = key.iter().find(|b| !b.is_ascii_graphic()) {
            let what = if byte == b' ' {
                "holds a space".to_owned()
            } else {
                format!("holds the byte 0x{byte:02X}, which is not visible ASCII")
            };
            return Err(refusal(&what));
        }
        if key.len() > MAX_KEY_CHARS {
            return Err(refusal(&format!("is {} characters long", key.len())));
        }
        // Every byte is visible ASCII, checked above.
        Ok(Key(String::from_utf8_lossy(&key).into_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The content of an sf-string (RFC 8941 §3.3.3) after its opening quote: `\"` and `\\` are
/// its only escapes, and nothing may follow the closing quote.
fn unquote(quoted: &[u8]) -> Result<Vec<u8>> {
    let mut key = Vec::with_capacity(quoted.len());
    let mut bytes = quoted.iter();
    while let Some(&byte) = bytes.next() {
        match byte {
            b'\\' => match bytes.next() {
                Some(&escaped @ (b'"' | b'\\')) => key.push(escaped),
                _ => return Err(refusal("has a backslash that escapes neither \" nor \\")),
            },
            b'"' if bytes.len() == 0 => return Ok(key),
            b'"' => return Err(refusal("has text after its closing quote")),
            other => key.push(other),
        }
    }
    Err(refusal("opens a quoted string that it does not close"))
}

fn refusal(why: &str) -> Error {
    Error::invalid(format!(
        "Idempotency-Key {why}: send 1 to {MAX_KEY_CHARS} visible ASCII characters, \
         bare (Idempotency-Key: 8e03978e) or quoted (Idempotency-Key: \"8e03978e\")"
    ))
}

/// Which key a request brings: the same text from another client, or on another route, is
/// another key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The calling client's id; 0 when authentication is off.
    pub client_id: i64,
    pub method: String,
    /// The path without its query (the query is part of the [`Fingerprint`]).
    pub path: String,
    pub key: Key,
}

/// The keys that this node's requests hold now: a second request with one of them, while
/// the first is still being received or handled, is a 409 at once; while the first's answer,
/// sent already, is being stored, it waits for it. Across nodes, the key's row does the same
/// (the store takes it in the request's first write).
#[derive(Debug, Default)]
pub struct Flights {
    /// Each held key, and whether its request has answered.
    held: Mutex<HashMap<Identity, bool>>,
}

/// Why a key could not be held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Busy {
    /// Another request of this node is being received or handled with it.
    Running,
    /// Another request of this node has answered, and its answer is being stored.
    Answering,
}

impl Flights {
    /// Holds `identity` for a request until the flight is dropped, or says what holds it.
    pub fn enter(self: &Arc<Self>, identity: Identity) -> std::result::Result<Flight, Busy> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        match held.get(&identity) {
            Some(false) => Err(Busy::Running),
            Some(true) => Err(Busy::Answering),
            None => {
                held.insert(identity.clone(), false);
                Ok(Flight {
                    flights: self.clone(),
                    identity,
                })
            }
        }
    }

    /// Whether no request holds a key: every answer is stored.
    pub fn is_empty(&self) -> bool {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }
}

/// A key held by a request of this node; released when dropped.
#[derive(Debug)]
pub struct Flight {
    flights: Arc<Flights>,
    identity: Identity,
}

impl Flight {
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The request has answered: its answer is being stored.
    pub fn answered(&self) {
        let mut held = self
            .flights
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(answered) = held.get_mut(&self.identity) {
            *answered = true;
        }
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        self.flights
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.identity);
    }
}

/// What a request is, as far as a retry must repeat it: everything that changes what the
/// handler does or how it answers.
#[derive(Clone, Copy, Debug)]
pub struct Sent<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub content_type: &'a [u8],
    /// The answer's format as negotiated from `Accept` (`json`, `xml`): the stored answer is
    /// in it.
    pub format: &'a str,
    /// `X-Runledger-Extensions`, which changes what a record body may name.
    pub extensions: &'a [u8],
    pub body: &'a [u8],
}

/// A SHA-256 of a request's [`Sent`] parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    pub fn of(sent: &Sent<'_>) -> Fingerprint {
        let mut hash = Sha256::new();
        let parts: [&[u8]; 7] = [
            sent.method.as_bytes(),
            sent.path.as_bytes(),
            sent.query.as_bytes(),
            sent.content_type,
            sent.format.as_bytes(),
            sent.extensions,
            sent.body,
        ];
        // Each part after its length, so that no two requests' parts run together alike.
        for part in parts {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        Fingerprint(hash.finalize().into())
    }

    /// Reads a stored fingerprint back; `None` if it is not one.
    pub fn from_slice(bytes: &[u8]) -> Option<Fingerprint> {
        bytes.try_into().ok().map(Fingerprint)
    }
}

/// The answer kept for a key: what a retry gets back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// An error answer's messages: its body is written in the client's format on the way
    /// out, so the messages are kept rather than a body.
    pub messages: Option<Vec<String>>,
}

/// Whether an answer is kept for its key. Stripe's rule: whatever the endpoint answered once
/// it ran, refusals (4xx) included, except what asks to be retried: a conflict with another
/// request (409), a timeout or throttle (408, 429), and the server's failures (5xx). The key
/// of an answer not kept is freed, so the retry runs.
pub fn kept(status: u16) -> bool {
    status < 500 && !matches!(status, 408 | 409 | 429)
}

/// How long keys last, and how long a key's row may wait for its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// A key is forgotten this long after it was taken.
    pub ttl: Duration,
    /// A row still without its answer this long after it was taken has lost it: its write
    /// committed, and its node stopped before the answer was stored.
    pub lease: Duration,
}

impl Rules {
    /// Keys kept for `ttl`; answers awaited for the request time limit and a margin.
    pub fn new(ttl: Duration, request_timeout: Duration) -> Rules {
        Rules {
            ttl,
            lease: request_timeout + LEASE_MARGIN,
        }
    }

    /// Keys taken at or before this instant may all be deleted, answered or not: the
    /// forgotten ones ([`Standing::Free`]).
    pub fn expired_if_taken_by(&self, now: Timestamp) -> Timestamp {
        now - time::elapsed(self.ttl.max(self.lease))
    }

    /// Answered keys taken at or before this instant are forgotten too.
    pub fn answered_expired_if_taken_by(&self, now: Timestamp) -> Timestamp {
        now - time::elapsed(self.ttl)
    }
}

/// A key's row as the store read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    pub taken_at: Timestamp,
    /// Whether its answer is stored; otherwise its write committed and the answer is on
    /// its way, or was lost.
    pub answered: bool,
}

/// What a key's row means for a request that brings the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// As good as absent: forgotten, past the TTL (and, unanswered, past the lease too). The
    /// request takes the key over.
    Free,
    /// Its request's write committed and its answer is on its way: 409, retry in a moment.
    InFlight,
    /// Its request's write committed, but the answer never came (its node stopped): 409,
    /// the request is not run twice.
    Lost,
    /// Answered: the retry gets the answer if it is the same request, else 422.
    Answered,
}

/// The store's conditions ([`Rules::expired_if_taken_by`], [`Rules::answered_expired_if_taken_by`])
/// say the same of a row in SQL.
pub fn standing(held: Held, now: Timestamp, rules: &Rules) -> Standing {
    let age = now - held.taken_at;
    match held.answered {
        true if held.taken_at <= rules.answered_expired_if_taken_by(now) => Standing::Free,
        true => Standing::Answered,
        false if held.taken_at <= rules.expired_if_taken_by(now) => Standing::Free,
        false if age >= time::elapsed(rules.lease) => Standing::Lost,
        false => Standing::InFlight,
    }
}

/// The request that holds a key: the key, and when the request took it. Storing the answer
/// and freeing the key both require that the row is still this request's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub identity: Identity,
    pub taken_at: Timestamp,
}

/// A key's row, read for a request that met it held: when it was taken and the answer it
/// holds, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub taken_at: Timestamp,
    pub answer: Option<(Fingerprint, Answer)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Result<String> {
        Key::parse(text.as_bytes()).map(|k| k.as_str().to_owned())
    }

    fn message(text: &str) -> String {
        key(text).unwrap_err().messages().join("")
    }

    #[test]
    fn a_key_is_read_bare_or_as_a_structured_field_string_and_both_are_one_key() {
        assert_eq!(key("abc-123").unwrap(), "abc-123");
        assert_eq!(key("\"abc-123\"").unwrap(), "abc-123");
        assert_eq!(key("  abc  ").unwrap(), "abc");
        assert_eq!(key(r#""a\"b\\c""#).unwrap(), r#"a"b\c"#);
        // A bare key may hold any visible character, a quote included.
        assert_eq!(key(r#"a"b"#).unwrap(), r#"a"b"#);
        let longest = "k".repeat(MAX_KEY_CHARS);
        assert_eq!(key(&longest).unwrap(), longest);
        assert_eq!(key(&format!("\"{longest}\"")).unwrap(), longest);
    }

    #[test]
    fn a_key_that_is_not_1_to_255_visible_ascii_characters_is_refused_with_the_reason() {
        assert!(message("").contains("is empty"));
        assert!(message("\"\"").contains("is empty"));
        assert!(message("a b").contains("holds a space"));
        assert!(message("\"a b\"").contains("holds a space"));
        assert!(message("a\tb").contains("0x09"));
        assert!(message(&"k".repeat(256)).contains("256 characters"));
        assert!(message("\"abc").contains("does not close"));
        assert!(message("\"abc\";x=1").contains("after its closing quote"));
        assert!(message(r#""a\nb""#).contains("backslash"));
        let refusal = message("");
        assert!(
            refusal.starts_with("Idempotency-Key ") && refusal.contains("1 to 255"),
            "{refusal}"
        );
        assert!(Key::parse("é".as_bytes()).is_err());
    }

    fn sent() -> Sent<'static> {
        Sent {
            method: "POST",
            path: "/api/integration_runs",
            query: "",
            content_type: b"application/json",
            format: "json",
            extensions: b"",
            body: br#"{"integration": {"code": "A"}}"#,
        }
    }

    #[test]
    fn a_fingerprint_changes_with_every_part_of_the_request() {
        let base = Fingerprint::of(&sent());
        assert_eq!(base, Fingerprint::of(&sent()));
        let changed = [
            Sent {
                method: "PUT",
                ..sent()
            },
            Sent {
                path: "/api/integration_errors",
                ..sent()
            },
            Sent {
                query: "return_object=limited",
                ..sent()
            },
            Sent {
                content_type: b"application/xml",
                ..sent()
            },
            Sent {
                format: "xml",
                ..sent()
            },
            Sent {
                extensions: b"1",
                ..sent()
            },
            Sent {
                body: br#"{"integration": {"code": "B"}}"#,
                ..sent()
            },
        ];
        for other in changed {
            assert_ne!(Fingerprint::of(&other), base, "{other:?}");
        }
        // Parts do not run into each other: moving a byte from one to the next changes it.
        let a = Sent {
            query: "ab",
            content_type: b"c",
            ..sent()
        };
        let b = Sent {
            query: "a",
            content_type: b"bc",
            ..sent()
        };
        assert_ne!(Fingerprint::of(&a), Fingerprint::of(&b));
        assert_eq!(Fingerprint::from_slice(&base.0), Some(base));
        assert_eq!(Fingerprint::from_slice(b"short"), None);
    }

    #[test]
    fn answers_are_kept_unless_they_ask_to_be_retried() {
        for status in [200, 201, 204, 400, 401, 403, 404, 413, 415, 422] {
            assert!(kept(status), "{status}");
        }
        for status in [408, 409, 429, 500, 502, 503] {
            assert!(!kept(status), "{status}");
        }
    }

    #[test]
    fn a_row_is_free_once_forgotten_held_while_its_answer_comes_and_lost_after() {
        let rules = Rules::new(DEFAULT_TTL, Duration::from_secs(30));
        assert_eq!(rules.lease, Duration::from_secs(90));
        let taken_at = time::from_unix(1_800_000_000).unwrap();
        let at = |seconds: i64| taken_at + chrono::Duration::seconds(seconds);
        let answered = Held {
            taken_at,
            answered: true,
        };
        let waiting = Held {
            taken_at,
            answered: false,
        };
        assert_eq!(standing(answered, at(0), &rules), Standing::Answered);
        assert_eq!(standing(answered, at(86_399), &rules), Standing::Answered);
        assert_eq!(standing(answered, at(86_400), &rules), Standing::Free);
        assert_eq!(standing(waiting, at(0), &rules), Standing::InFlight);
        assert_eq!(standing(waiting, at(89), &rules), Standing::InFlight);
        assert_eq!(standing(waiting, at(90), &rules), Standing::Lost);
        assert_eq!(standing(waiting, at(86_399), &rules), Standing::Lost);
        assert_eq!(standing(waiting, at(86_400), &rules), Standing::Free);
        // A TTL shorter than the lease frees an answered key at the TTL, and a row still
        // awaiting its answer only once the lease is over.
        let short = Rules::new(Duration::from_secs(10), Duration::from_secs(30));
        assert_eq!(standing(answered, at(10), &short), Standing::Free);
        assert_eq!(standing(waiting, at(10), &short), Standing::InFlight);
        assert_eq!(standing(waiting, at(90), &short), Standing::Free);
        assert_eq!(short.expired_if_taken_by(at(90)), taken_at);
        assert_eq!(rules.expired_if_taken_by(at(86_400)), taken_at);
    }

    #[test]
    fn a_key_is_held_by_one_request_of_a_node_at_a_time() {
        let flights = Arc::new(Flights::default());
        let identity = |key: &str| Identity {
            client_id: 1,
            method: "POST".into(),
            path: "/api/integration_runs".into(),
            key: Key::parse(key.as_bytes()).unwrap(),
        };
        let first = flights.enter(identity("a")).expect("free");
        assert_eq!(flights.enter(identity("a")).unwrap_err(), Busy::Running);
        first.answered();
        assert_eq!(flights.enter(identity("a")).unwrap_err(), Busy::Answering);
        let other = flights.enter(identity("b")).expect("another key");
        assert_eq!(first.identity(), &identity("a"));
        drop(first);
        assert!(!flights.is_empty());
        let again = flights.enter(identity("a")).expect("released");
        drop((again, other));
        assert!(flights.is_empty());
    }
}
