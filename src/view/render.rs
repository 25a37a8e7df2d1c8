//! The response tree: a typed [`Node`] that knows the XML type of every value, shaped by
//! `return_object` / `fields` and written as Coupa writes it, in JSON or in XML.

use serde_json::Value;

use crate::domain::runs::is_element_name;
use crate::query::shape::{Pick, ReturnObject, Shape};
use crate::time::{self, Timestamp};

/// A response value. Keys are the dashed element names of the wire.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Time(Timestamp),
    Object(Vec<(&'static str, Node)>),
    /// A nested collection and the element name of its items.
    List(&'static str, Vec<Node>),
    /// An opaque object stored as given (`flow`).
    Json(Value),
}

impl Node {
    pub fn text(value: &str) -> Node {
        Node::Text(value.to_owned())
    }

    pub fn opt_text(value: &Option<String>) -> Node {
        value.as_deref().map_or(Node::Null, Node::text)
    }

    pub fn opt_int(value: Option<i64>) -> Node {
        value.map_or(Node::Null, Node::Int)
    }

    pub fn opt_time(value: Option<Timestamp>) -> Node {
        value.map_or(Node::Null, Node::Time)
    }
}

/// Applies `return_object`, then `fields`.
pub fn shape(node: Node, shape: &Shape) -> Node {
    let node = match shape.return_object {
        ReturnObject::Limited => keep(node, |key, _| key == "id"),
        ReturnObject::Shallow => shallow(node),
        ReturnObject::Full | ReturnObject::None => node,
    };
    match &shape.fields {
        Some(picks) => select(node, picks),
        None => node,
    }
}

fn keep(node: Node, wanted: impl Fn(&str, &Node) -> bool) -> Node {
    match node {
        Node::Object(entries) => {
            Node::Object(entries.into_iter().filter(|(k, v)| wanted(k, v)).collect())
        }
        other => other,
    }
}

/// Associations reduced to their id and natural keys.
fn shallow(node: Node) -> Node {
    let Node::Object(entries) = node else {
        return node;
    };
    let natural = |key: &str| matches!(key, "id" | "code" | "name" | "login");
    let entries = entries
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                Node::Object(_) => keep(value, |k, _| natural(k)),
                Node::List(item, items) => Node::List(
                    item,
                    items
                        .into_iter()
                        .map(|n| keep(n, |k, _| k == "id"))
                        .collect(),
                ),
                other => other,
            };
            (key, value)
        })
        .collect();
    Node::Object(entries)
}

fn select(node: Node, picks: &[Pick]) -> Node {
    match node {
        Node::Object(entries) => Node::Object(
            entries
                .into_iter()
                .filter_map(|(key, value)| {
                    let pick = picks.iter().find(|p| p.name() == key)?;
                    Some((
                        key,
                        match pick {
                            Pick::Key(_) => value,
                            Pick::Nested(_, inner) => select(value, inner),
                        },
                    ))
                })
                .collect(),
        ),
        Node::List(item, items) => {
            Node::List(item, items.into_iter().map(|n| select(n, picks)).collect())
        }
        other => other,
    }
}

/// Renders a node as JSON.
pub fn json(node: &Node) -> String {
    let mut out = Vec::with_capacity(1024);
    write_json(node, &mut out);
    // Every byte written came from a `&str`, an ASCII literal or serde_json's own writer.
    String::from_utf8(out).expect("JSON text is UTF-8")
}

fn write_json(node: &Node, out: &mut Vec<u8>) {
    match node {
        Node::Null => out.extend_from_slice(b"null"),
        Node::Int(n) => json_value(n, out),
        Node::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Node::Text(s) => json_value(s, out),
        Node::Time(t) => json_value(&time::format(t), out),
        Node::Json(v) => json_value(v, out),
        Node::Object(entries) => {
            out.push(b'{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_value(key, out);
                out.push(b':');
                write_json(value, out);
            }
            out.push(b'}');
        }
        Node::List(_, items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(item, out);
            }
            out.push(b']');
        }
    }
}

/// Appends a leaf as JSON, escaped and formatted by serde_json straight into `out`.
fn json_value<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail, and strings, integers and JSON values always serialize.
    let _ = serde_json::to_writer(out, value);
}

/// Renders a node as an XML document whose root element is `root`.
pub fn xml_document(root: &str, node: &Node) -> String {
    let mut out = String::with_capacity(2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    write_xml(root, node, 0, &mut out);
    out
}

fn indent(depth: usize, out: &mut String) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn leaf(name: &str, kind: Option<&str>, text: &str, depth: usize, out: &mut String) {
    indent(depth, out);
    out.push('<');
    out.push_str(name);
    if let Some(kind) = kind {
        out.push_str(" type=\"");
        out.push_str(kind);
        out.push('"');
    }
    out.push('>');
    push_text(text, out);
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

/// Appends `text` as XML character data that reads back as itself, as far as XML can carry
/// it: `&`, `<` and `>` escaped; CR as a character reference (a raw one would read back as a
/// line feed, XML normalising line ends); and U+FFFD in place of each character XML cannot
/// carry at all, which no request can store but older records or an error message echoing a
/// request may hold (spec §2.4).
fn push_text(text: &str, out: &mut String) {
    // Byte by byte, as every XML answer passes through here: all that needs a change is ASCII
    // but for U+FFFE and U+FFFF, whose UTF-8 is EF BF BE and EF BF BF. Every cut is therefore
    // at a character boundary.
    let bytes = text.as_bytes();
    let (mut copied, mut at) = (0, 0);
    while at < bytes.len() {
        let (replacement, width) = match bytes[at] {
            b'&' => ("&amp;", 1),
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'\r' => ("&#13;", 1),
            b'\t' | b'\n' => {
                at += 1;
                continue;
            }
            0..=0x1F => ("\u{FFFD}", 1),
            0xEF if bytes.get(at + 1) == Some(&0xBF)
                && matches!(bytes.get(at + 2), Some(0xBE | 0xBF)) =>
            {
                ("\u{FFFD}", 3)
            }
            _ => {
                at += 1;
                continue;
            }
        };
        out.push_str(&text[copied..at]);
        out.push_str(replacement);
        at += width;
        copied = at;
    }
    out.push_str(&text[copied..]);
}

fn empty(name: &str, attribute: &str, depth: usize, out: &mut String) {
    indent(depth, out);
    out.push('<');
    out.push_str(name);
    out.push_str(attribute);
    out.push_str("/>\n");
}

fn container(
    name: &str,
    attribute: &str,
    depth: usize,
    out: &mut String,
    body: impl FnOnce(&mut String),
) {
    indent(depth, out);
    out.push('<');
    out.push_str(name);
    out.push_str(attribute);
    out.push_str(">\n");
    body(out);
    indent(depth, out);
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

fn write_xml(name: &str, node: &Node, depth: usize, out: &mut String) {
    match node {
        Node::Null => empty(name, " nil=\"true\"", depth, out),
        Node::Int(n) => leaf(name, Some("integer"), &n.to_string(), depth, out),
        Node::Bool(b) => leaf(
            name,
            Some("boolean"),
            if *b { "true" } else { "false" },
            depth,
            out,
        ),
        Node::Text(s) => leaf(name, None, s, depth, out),
        Node::Time(t) => leaf(name, Some("dateTime"), &time::format(t), depth, out),
        Node::Object(entries) if entries.is_empty() => empty(name, "", depth, out),
        Node::Object(entries) => container(name, "", depth, out, |out| {
            for (key, value) in entries {
                write_xml(key, value, depth + 1, out);
            }
        }),
        Node::List(_, items) if items.is_empty() => empty(name, " type=\"array\"", depth, out),
        Node::List(item, items) => container(name, " type=\"array\"", depth, out, |out| {
            for value in items {
                write_xml(item, value, depth + 1, out);
            }
        }),
        Node::Json(value) => write_json_as_xml(name, value, depth, out),
    }
}

/// An opaque JSON value as XML that [`crate::http::xml::parse`] reads back to the same value.
fn write_json_as_xml(name: &str, value: &Value, depth: usize, out: &mut String) {
    match value {
        Value::Null => empty(name, " nil=\"true\"", depth, out),
        Value::Bool(b) => leaf(
            name,
            Some("boolean"),
            if *b { "true" } else { "false" },
            depth,
            out,
        ),
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            leaf(name, Some("integer"), &n.to_string(), depth, out)
        }
        Value::Number(n) => leaf(name, Some("float"), &n.to_string(), depth, out),
        Value::String(s) => leaf(name, Some("string"), s, depth, out),
        Value::Array(items) if items.is_empty() => empty(name, " type=\"array\"", depth, out),
        Value::Array(items) => container(name, " type=\"array\"", depth, out, |out| {
            let item = name
                .strip_suffix('s')
                .filter(|n| is_element_name(n))
                .unwrap_or("item");
            for value in items {
                write_json_as_xml(item, value, depth + 1, out);
            }
        }),
        Value::Object(map) if map.is_empty() => empty(name, "", depth, out),
        Value::Object(map) => container(name, "", depth, out, |out| {
            for (key, value) in map {
                write_json_as_xml(key, value, depth + 1, out);
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Node {
        Node::Object(vec![
            ("id", Node::Int(7)),
            ("status", Node::text("running & <ok>")),
            ("end-time", Node::Null),
            ("standard", Node::Bool(false)),
            (
                "integration",
                Node::Object(vec![
                    ("id", Node::Int(1)),
                    ("code", Node::text("PO")),
                    ("end-system", Node::text("SAP")),
                ]),
            ),
            (
                "integration-errors",
                Node::List("integration-error", vec![]),
            ),
        ])
    }

    #[test]
    fn renders_coupa_xml() {
        assert_eq!(
            xml_document("integration-run", &sample()),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<integration-run>\n  <id type=\"integer\">7</id>\n  \
             <status>running &amp; &lt;ok&gt;</status>\n  <end-time nil=\"true\"/>\n  \
             <standard type=\"boolean\">false</standard>\n  <integration>\n    <id type=\"integer\">1</id>\n    \
             <code>PO</code>\n    <end-system>SAP</end-system>\n  </integration>\n  \
             <integration-errors type=\"array\"/>\n</integration-run>\n"
        );
    }

    #[test]
    fn renders_json_with_dashed_keys_and_nulls() {
        let text = json(&sample());
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["status"], "running & <ok>");
        assert_eq!(value["end-time"], Value::Null);
        assert_eq!(value["integration-errors"], json!([]));
    }

    #[test]
    fn shapes_by_return_object_and_fields() {
        let limited = shape(
            sample(),
            &Shape {
                return_object: ReturnObject::Limited,
                fields: None,
            },
        );
        assert_eq!(limited, Node::Object(vec![("id", Node::Int(7))]));
        let shallow = shape(
            sample(),
            &Shape {
                return_object: ReturnObject::Shallow,
                fields: None,
            },
        );
        assert_eq!(json(&shallow).matches("SAP").count(), 0);
        assert!(json(&shallow).contains("\"code\":\"PO\""));
        let picks = vec![
            Pick::Key("status".into()),
            Pick::Nested("integration".into(), vec![Pick::Key("code".into())]),
        ];
        let picked = shape(
            sample(),
            &Shape {
                return_object: ReturnObject::Full,
                fields: Some(picks),
            },
        );
        assert_eq!(
            json(&picked),
            r#"{"status":"running & <ok>","integration":{"code":"PO"}}"#
        );
    }

    #[test]
    fn push_text_agrees_with_the_domain_on_every_character() {
        // `push_text` scans bytes for speed; `domain::text` says what XML can carry. Every
        // Unicode scalar value, through both.
        let every: String = ('\0'..=char::MAX).collect();
        let mut written = String::new();
        push_text(&every, &mut written);
        let mut expected = String::new();
        for c in every.chars() {
            match c {
                '&' => expected.push_str("&amp;"),
                '<' => expected.push_str("&lt;"),
                '>' => expected.push_str("&gt;"),
                '\r' => expected.push_str("&#13;"),
                c if crate::domain::text::is_xml_char(c) => expected.push(c),
                _ => expected.push(char::REPLACEMENT_CHARACTER),
            }
        }
        assert!(written == expected, "push_text and is_xml_char disagree");
    }

    #[test]
    fn characters_near_u_fffe_in_utf_8_pass_unchanged() {
        // U+FFFD, U+FFBE, U+FFBF, U+FFFC and U+EFBF share bytes with U+FFFE and U+FFFF.
        let text = "\u{FFFD}\u{FFBE}\u{FFBF}\u{FFFC}\u{EFBF}\u{7F}";
        let mut out = String::new();
        push_text(text, &mut out);
        assert_eq!(out, text);
    }
}
