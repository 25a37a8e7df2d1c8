//! XML bodies in, the Rails way: `type` attributes, `nil="true"`, `type="array"`.
//!
//! quick-xml tokenises; this module builds the value tree and enforces the safety rules:
//! no DTDs (so no external entities and no entity expansion), only the five predefined
//! entities and character references, and a bounded nesting depth.

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use serde_json::{Map, Number, Value};

use crate::error::{Error, Result};

/// How deep elements may nest in a request body.
pub const MAX_DEPTH: usize = 32;

/// An element being read: its name, the attributes that matter, and what it holds so far.
struct Frame {
    name: String,
    kind: Option<String>,
    nil: bool,
    text: String,
    children: Vec<(String, Value)>,
}

impl Frame {
    fn open(start: &BytesStart) -> Result<Frame> {
        let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
        let mut frame = Frame {
            name,
            kind: None,
            nil: false,
            text: String::new(),
            children: Vec::new(),
        };
        for attribute in start.attributes() {
            let attribute =
                attribute.map_err(|e| Error::invalid(format!("Invalid XML attribute: {e}")))?;
            let value = attribute
                .unescape_value()
                .map_err(|e| Error::invalid(format!("Invalid XML attribute: {e}")))?;
            match attribute.key.as_ref() {
                b"type" => frame.kind = Some(value.into_owned()),
                b"nil" => frame.nil = value == "true",
                _ => {}
            }
        }
        Ok(frame)
    }

    fn into_value(self) -> Result<Value> {
        if self.nil {
            return Ok(Value::Null);
        }
        if self.kind.as_deref() == Some("array") {
            return Ok(Value::Array(
                self.children.into_iter().map(|(_, v)| v).collect(),
            ));
        }
        if !self.children.is_empty() {
            // A repeated name keeps its last value, as a JSON object would.
            return Ok(Value::Object(
                self.children.into_iter().collect::<Map<_, _>>(),
            ));
        }
        let text = self.text;
        let bad =
            |what: &str| Error::invalid(format!("Element <{}> is not {what}: '{text}'", self.name));
        if text.trim().is_empty() && self.kind.as_deref() != Some("string") {
            return Ok(Value::Null);
        }
        Ok(match self.kind.as_deref() {
            // Unsigned too: JSON takes integers up to u64::MAX, and `flow` must read back.
            Some("integer") => text
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| text.trim().parse::<u64>().map(Value::from))
                .map_err(|_| bad("an integer"))?,
            Some("float" | "decimal" | "double") => text
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| bad("a number"))?,
            Some("boolean") => match text.trim() {
                "true" | "1" => Value::Bool(true),
                "false" | "0" => Value::Bool(false),
                _ => return Err(bad("a boolean")),
            },
            _ => Value::String(text),
        })
    }
}

/// Parses a request body: the object its root element holds.
pub fn parse(body: &[u8]) -> Result<Map<String, Value>> {
    match parse_document(body)? {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(Error::invalid(
            "The XML root element must hold child elements",
        )),
    }
}

/// Parses an XML document into the value of its root element.
pub fn parse_document(body: &[u8]) -> Result<Value> {
    let text = std::str::from_utf8(body)
        .map_err(|e| Error::invalid(format!("The XML body is not valid UTF-8: {e}")))?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Value> = None;
    let at = |reader: &Reader<&[u8]>| position(text, reader.buffer_position() as usize);
    loop {
        let event = reader.read_event().map_err(|e| {
            Error::invalid(format!(
                "Invalid XML at {}: {e}",
                position(text, reader.error_position() as usize)
            ))
        })?;
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(Error::invalid(format!(
                    "Invalid XML at {}: more than one root element",
                    at(&reader)
                )));
            }
            Event::Start(start) => {
                if stack.len() == MAX_DEPTH {
                    return Err(Error::invalid(format!(
                        "XML nests deeper than {MAX_DEPTH} elements"
                    )));
                }
                stack.push(Frame::open(&start)?);
            }
            Event::Empty(start) => {
                let value = Frame::open(&start)?.into_value()?;
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                close(&mut stack, &mut root, name, value);
            }
            Event::End(_) => {
                let frame = stack
                    .pop()
                    .ok_or_else(|| Error::invalid("Invalid XML: unbalanced end tag"))?;
                let name = frame.name.clone();
                let value = frame.into_value()?;
                close(&mut stack, &mut root, name, value);
            }
            // Bodies are XML 1.0: only CR LF and CR are line ends, in text and CDATA alike
            // (`xml_content` would apply XML 1.1's rules and turn U+0085 and U+2028 into LF).
            Event::Text(t) => {
                let content = t
                    .xml10_content()
                    .map_err(|e| Error::invalid(format!("Invalid XML text: {e}")))?;
                push_text(&mut stack, &content, &reader, text)?;
            }
            Event::CData(c) => {
                let content = c
                    .xml10_content()
                    .map_err(|e| Error::invalid(format!("Invalid XML CDATA: {e}")))?;
                push_text(&mut stack, &content, &reader, text)?;
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = r
                            .decode()
                            .map_err(|e| Error::invalid(format!("Invalid XML: {e}")))?;
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| {
                                Error::invalid(format!("Entity &{name}; is not allowed: only XML's predefined entities are"))
                            })?
                            .to_owned()
                    }
                    // quick-xml refuses `&#0;` itself; read it as NUL so that it is refused
                    // like any other character XML cannot carry, naming its field.
                    Err(_) if is_nul_reference(&r) => '\0'.to_string(),
                    Err(e) => {
                        return Err(Error::invalid(format!(
                            "Invalid XML character reference at {}: {e}",
                            at(&reader)
                        )));
                    }
                };
                push_text(&mut stack, &resolved, &reader, text)?;
            }
            Event::DocType(_) => {
                return Err(Error::invalid(
                    "XML bodies may not contain a DTD (<!DOCTYPE …>)",
                ));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(Error::invalid(
            "Invalid XML: the document ends inside an element",
        ));
    }
    root.ok_or_else(|| Error::invalid("The XML body holds no element"))
}

/// Whether a reference is a character reference to code point 0 (`&#0;`, `&#x000;`).
fn is_nul_reference(reference: &[u8]) -> bool {
    let digits = match reference {
        [b'#', b'x', hex @ ..] => hex,
        [b'#', decimal @ ..] => decimal,
        _ => return false,
    };
    !digits.is_empty() && digits.iter().all(|&d| d == b'0')
}

fn close(stack: &mut [Frame], root: &mut Option<Value>, name: String, value: Value) {
    match stack.last_mut() {
        Some(parent) => parent.children.push((name, value)),
        None => *root = Some(value),
    }
}

fn push_text(stack: &mut [Frame], content: &str, reader: &Reader<&[u8]>, text: &str) -> Result<()> {
    match stack.last_mut() {
        Some(frame) => frame.text.push_str(content),
        None if content.trim().is_empty() => {}
        None => {
            let at = position(text, reader.buffer_position() as usize);
            return Err(Error::invalid(format!(
                "Invalid XML at {at}: text outside the root element"
            )));
        }
    }
    Ok(())
}

/// `line L, column C` of a byte offset, for error messages.
fn position(text: &str, offset: usize) -> String {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("line {line}, column {column}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::render::{Node, xml_document};
    use serde_json::json;

    fn value(xml: &str) -> Value {
        Value::Object(parse(xml.as_bytes()).unwrap())
    }

    fn refused(xml: &str) -> String {
        parse(xml.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn reads_rails_typed_xml() {
        let v = value(
            r#"<?xml version="1.0" encoding="UTF-8"?>
            <integration-run>
              <total-records type="integer">50</total-records>
              <end-time nil="true"/>
              <integration><code>PO &amp; more</code></integration>
              <flow><steps type="array"><step>a</step><step>b</step></steps><ok type="boolean">true</ok></flow>
              <note><![CDATA[<raw>]]></note>
            </integration-run>"#,
        );
        assert_eq!(
            v,
            json!({
                "total-records": 50,
                "end-time": null,
                "integration": {"code": "PO & more"},
                "flow": {"steps": ["a", "b"], "ok": true},
                "note": "<raw>"
            })
        );
    }

    #[test]
    fn normalises_line_ends_as_xml_1_0_does_and_nothing_else() {
        let v = value(
            "<x><t>a\r\nb\rc\u{85}d\u{2028}e&#x2028;f&#13;g</t><c><![CDATA[h\r\ni\rj\u{2028}]]></c></x>",
        );
        assert_eq!(v["t"], "a\nb\nc\u{85}d\u{2028}e\u{2028}f\rg");
        assert_eq!(v["c"], "h\ni\nj\u{2028}");
    }

    #[test]
    fn reads_integers_over_i64_as_json_does() {
        let v = value(r#"<x><n type="integer">18446744073709551615</n></x>"#);
        assert_eq!(v["n"], json!(u64::MAX));
        assert!(
            refused(r#"<x><n type="integer">18446744073709551616</n></x>"#)
                .contains("not an integer")
        );
    }

    #[test]
    fn reads_references_to_characters_xml_cannot_carry_for_the_body_check_to_refuse() {
        // `format::parse` refuses them, naming the field; here they are only read.
        let v = value("<x><a>&#0;&#x0000;&#1;&#x1B;&#xFFFE;</a><b>\u{1}</b></x>");
        assert_eq!(v["a"], "\0\0\u{1}\u{1b}\u{FFFE}");
        assert_eq!(v["b"], "\u{1}");
    }

    #[test]
    fn refuses_dtds_and_entities() {
        assert!(
            refused(r#"<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#)
                .contains("DTD")
        );
        assert!(refused("<x><a>&lol;</a></x>").contains("&lol;"));
    }

    #[test]
    fn refuses_broken_documents_with_a_position() {
        assert!(refused("<x>\n<a></b></x>").contains("line 2"));
        assert!(refused("<x><a>").contains("ends inside"));
        assert!(refused("").contains("no element"));
        assert!(refused("<x/><y/>").contains("more than one root"));
        assert!(refused("<x><n type=\"integer\">ten</n></x>").contains("not an integer"));
        assert!(refused("<x><a>&#xD800;</a></x>").contains("character reference at line 1"));
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        assert!(refused(&deep).contains("deeper"));
    }

    // What the view layer writes, this parser reads back as it was.

    #[test]
    fn a_carriage_return_in_text_reads_back_from_xml_as_itself() {
        let text = "line one\r\nline two\rend";
        let document = xml_document(
            "integration-run",
            &Node::Object(vec![("status", Node::text(text))]),
        );
        assert!(
            document.contains("line one&#13;\nline two&#13;end"),
            "{document}"
        );
        let again = parse(document.as_bytes()).expect("our own XML");
        assert_eq!(again["status"], text);
    }

    #[test]
    fn opaque_json_survives_a_trip_through_xml() {
        let flow = json!({"source": "SAP", "batch": 3, "ratio": 0.5, "ok": true, "none": null,
                          "steps": [{"name": "a"}, {"name": "b"}], "empty": "", "nested": {"deep": ["x"]}});
        let text = xml_document(
            "run",
            &Node::Object(vec![("flow", Node::Json(flow.clone()))]),
        );
        let parsed = parse(text.as_bytes()).unwrap();
        assert_eq!(parsed["flow"], flow);
    }

    #[test]
    fn xml_answers_show_unshowable_text_as_replacement_characters_and_still_parse() {
        let stored = "\u{1b}[31mred\u{0} \u{1}\u{c}\u{FFFE}\u{FFFF} & <tab>\t\u{85}\u{2028}😀\r";
        let document = xml_document(
            "errors",
            &Node::Object(vec![
                ("error", Node::text(stored)),
                (
                    "flow",
                    Node::Json(json!({"note": stored, "list": [stored]})),
                ),
            ]),
        );
        let shown =
            "\u{FFFD}[31mred\u{FFFD} \u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD} & <tab>\t\u{85}\u{2028}😀\r";
        let parsed = parse(document.as_bytes()).expect("our own XML");
        assert_eq!(parsed["error"], shown);
        assert_eq!(parsed["flow"], json!({"note": shown, "list": [shown]}));
        assert!(
            !document
                .chars()
                .any(|c| !crate::domain::text::is_xml_char(c)),
            "{document:?}"
        );
    }
}
