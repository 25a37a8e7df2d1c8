//! The XML body parser on any bytes.
//!
//! - It never panics, and never nests values deeper than `xml::MAX_DEPTH`, so that nothing
//!   that walks them recursively afterwards (validation, rendering, drop) can run out of stack.
//! - `parse` agrees with `parse_document`: an object is the body, an empty root is an empty
//!   body, anything else a 400.
//! - What it reads survives a trip back through the renderer: a value whose element names
//!   are all names the renderer writes as they are, rendered as opaque JSON (as `flow` is)
//!   and read again, is the same value, when it holds only text XML can carry; and the
//!   rendered document never holds a character XML cannot carry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runledger::domain::runs::first_bad_key;
use runledger::domain::text::is_xml_char;
use runledger::http::xml::{MAX_DEPTH, parse, parse_document};
use runledger::view::render::{Node, xml_document};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let document = parse_document(data);
    let body = parse(data);
    match &document {
        Ok(Value::Object(map)) => assert_eq!(body.as_ref().ok(), Some(map)),
        Ok(Value::Null) => assert!(body.is_ok_and(|m| m.is_empty())),
        Ok(_) | Err(_) => assert!(body.is_err()),
    }
    let Ok(value) = document else {
        return;
    };
    let depth = depth(&value);
    assert!(depth <= MAX_DEPTH, "nested {depth} deep");
    if first_bad_key(&value).is_none() {
        let text = xml_document("root", &Node::Json(value.clone()));
        // The renderer never writes a character XML cannot carry, whatever it is given.
        assert!(
            text.chars().all(is_xml_char),
            "unshowable text written\n{text:?}"
        );
        let again = parse_document(text.as_bytes())
            .unwrap_or_else(|e| panic!("rendered XML refused: {e}\n{text}"));
        // Text XML cannot carry (read from references such as `&#1;`, which `format::parse`
        // then refuses) is written as U+FFFD, so only showable values come back unchanged.
        if showable(&value) {
            assert_eq!(again, value, "changed by a trip through\n{text}");
        }
    }
});

/// Whether every key and string in `value` is text XML can carry.
fn showable(value: &Value) -> bool {
    match value {
        Value::String(s) => s.chars().all(is_xml_char),
        Value::Array(items) => items.iter().all(showable),
        Value::Object(map) => map
            .iter()
            .all(|(k, v)| k.chars().all(is_xml_char) && showable(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => true,
    }
}

/// How deep containers nest, without recursing.
fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut todo = vec![(value, 0)];
    while let Some((v, d)) = todo.pop() {
        deepest = deepest.max(d);
        match v {
            Value::Array(items) => todo.extend(items.iter().map(|i| (i, d + 1))),
            Value::Object(map) => todo.extend(map.values().map(|i| (i, d + 1))),
            _ => {}
        }
    }
    deepest
}
