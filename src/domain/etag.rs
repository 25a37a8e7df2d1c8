//! Entity tags (RFC 9110 §8.8.3) and the preconditions that compare them (§13.1).
//!
//! Every stored row carries a version that each write of it raises by one. A document shows
//! more than its own row, though: a run shows its integration and its errors, a record its
//! integration's code and name. So the tag of a document is made from the versions and keys
//! of everything it shows ([`State`]), and changes whenever any of them does, which makes it
//! a strong validator. The representation (JSON or XML, with or without Runledger's
//! extensions) is a suffix of the tag: two representations never share a tag, while
//! `If-Match` compares only the state, so a tag read as XML guards a write sent as JSON.

use sha2::{Digest, Sha256};

use super::integrations::Integration;
use super::records::Record;
use super::runs::RunView;
use crate::error::{Error, Result};

/// What a document shows, as 16 hexadecimal digits: the part of its tags that `If-Match`
/// compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State(String);

impl State {
    fn of(parts: &[i64], text: &[&str]) -> State {
        let mut hash = Sha256::new();
        for part in parts {
            hash.update(part.to_be_bytes());
        }
        for t in text {
            // Length first, so that ("ab", "c") and ("a", "bc") differ.
            hash.update((t.len() as u64).to_be_bytes());
            hash.update(t.as_bytes());
        }
        let digest = hash.finalize();
        State(digest[..8].iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The tag of one representation of the state: `"<state>-<variant>"`.
    pub fn tag(&self, variant: &str) -> String {
        format!("\"{}-{variant}\"", self.0)
    }
}

pub fn run(view: &RunView) -> State {
    let run = &view.run;
    let mut parts = vec![
        run.id,
        run.version,
        view.integration.id,
        view.integration.version,
    ];
    for error in &view.integration_errors {
        parts.extend([error.id, error.version]);
    }
    State::of(&parts, &[])
}

pub fn integration(integration: &Integration) -> State {
    State::of(&[integration.id, integration.version], &[])
}

pub fn record(record: &Record) -> State {
    let keys = record.integration.as_ref();
    State::of(
        &[
            record.id,
            record.version,
            keys.map_or(0, |k| k.id),
            record.responses.len() as i64,
        ],
        &[
            keys.map_or("", |k| k.code.as_str()),
            keys.map_or("", |k| k.name.as_str()),
        ],
    )
}

/// An `If-Match` header: a write goes ahead only when the document's state is one it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any state, as long as the document exists.
    Any,
    /// The states of the strong tags it lists; a weak tag never matches (strong comparison).
    States(Vec<String>),
}

impl IfMatch {
    pub fn parse(header: &str) -> Result<IfMatch> {
        if header.trim() == "*" {
            return Ok(IfMatch::Any);
        }
        let states = tags(header, "If-Match")?
            .into_iter()
            .filter(|tag| !tag.weak)
            .filter_map(|tag| tag.opaque.rsplit_once('-').map(|(s, _)| s.to_owned()))
            .collect();
        Ok(IfMatch::States(states))
    }

    /// Answers 412 unless `state` is one the header names.
    pub fn check(&self, state: &State) -> Result<()> {
        match self {
            IfMatch::Any => Ok(()),
            IfMatch::States(states) if states.contains(&state.0) => Ok(()),
            IfMatch::States(_) => Err(Error::PreconditionFailed(
                "The record has changed since it was read (If-Match names another version)".into(),
            )),
        }
    }
}

/// Whether an `If-None-Match` header names `tag` (weak comparison: `W/` is ignored) or is
/// `*`: then a `GET` answers 304.
pub fn none_match(header: &str, tag: &str) -> Result<bool> {
    if header.trim() == "*" {
        return Ok(true);
    }
    let opaque = tag.trim_matches('"');
    Ok(tags(header, "If-None-Match")?
        .iter()
        .any(|t| t.opaque == opaque))
}

struct Tag<'a> {
    weak: bool,
    opaque: &'a str,
}

/// A comma-separated list of entity tags (`"x"`, `W/"x"`), each quoted, as RFC 9110 writes it;
/// anything else is a 400 naming the header.
fn tags<'a>(header: &'a str, name: &str) -> Result<Vec<Tag<'a>>> {
    let bad = || Error::invalid(format!("{name} must be * or a list of quoted entity tags"));
    let mut list = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        let weak = rest.starts_with("W/");
        if weak {
            rest = &rest[2..];
        }
        let inner = rest.strip_prefix('"').ok_or_else(bad)?;
        let end = inner.find('"').ok_or_else(bad)?;
        let opaque = &inner[..end];
        // etagc: %x21 / %x23-7E / obs-text; we never make others, so refuse them.
        if !opaque
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
        {
            return Err(bad());
        }
        list.push(Tag { weak, opaque });
        rest = inner[end + 1..].trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start();
            if rest.is_empty() {
                return Err(bad());
            }
        } else if !rest.is_empty() {
            return Err(bad());
        }
    }
    if list.is_empty() {
        return Err(bad());
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(parts: &[i64]) -> State {
        State::of(parts, &[])
    }

    #[test]
    fn a_state_is_sixteen_hex_digits_and_changes_with_any_version() {
        let a = state(&[1, 1, 2, 1]);
        assert_eq!(a.0.len(), 16);
        assert!(a.0.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, state(&[1, 2, 2, 1]));
        assert_ne!(a, state(&[1, 1, 2, 2]));
        assert_eq!(a, state(&[1, 1, 2, 1]));
        assert_ne!(State::of(&[], &["ab", "c"]), State::of(&[], &["a", "bc"]));
    }

    #[test]
    fn if_match_compares_the_state_of_strong_tags_in_any_representation() {
        let s = state(&[7, 3]);
        let json = s.tag("j");
        let xml = s.tag("x");
        assert_ne!(json, xml);
        assert!(IfMatch::parse(&json).unwrap().check(&s).is_ok());
        assert!(IfMatch::parse(&xml).unwrap().check(&s).is_ok());
        let list = format!("\"0000000000000000-j\", {json}");
        assert!(IfMatch::parse(&list).unwrap().check(&s).is_ok());
        let weak = format!("W/{json}");
        assert!(matches!(
            IfMatch::parse(&weak).unwrap().check(&s),
            Err(Error::PreconditionFailed(_))
        ));
        assert!(matches!(
            IfMatch::parse(&state(&[7, 4]).tag("j")).unwrap().check(&s),
            Err(Error::PreconditionFailed(_))
        ));
        assert_eq!(IfMatch::parse(" * ").unwrap(), IfMatch::Any);
    }

    #[test]
    fn malformed_tag_lists_are_refused() {
        for bad in [
            "",
            "abc",
            "\"abc",
            "\"a\" \"b\"",
            "\"a\",",
            "W/",
            "\"a b\"",
            ",\"a\"",
        ] {
            assert!(
                matches!(IfMatch::parse(bad), Err(Error::Invalid(_))),
                "{bad:?} was taken"
            );
            assert!(none_match(bad, "\"x-j\"").is_err(), "{bad:?} was taken");
        }
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_a_star() {
        let tag = state(&[1]).tag("x");
        assert!(none_match(&tag, &tag).unwrap());
        assert!(none_match(&format!("W/{tag}"), &tag).unwrap());
        assert!(none_match("*", &tag).unwrap());
        assert!(!none_match(&state(&[1]).tag("j"), &tag).unwrap());
    }
}
