//! Which text Runledger can show in both of its formats.
//!
//! JSON can carry any Unicode scalar value, XML 1.0 cannot: its `Char` production leaves out
//! the C0 controls but tab, LF and CR (`\u{0}`, `\u{1b}` of an ANSI colour code, `\u{c}`), and
//! U+FFFE and U+FFFF; not even a character reference (`&#1;`) may name them. Text that holds
//! one would make every XML answer that shows it unreadable, so no such text is stored:
//! requests that carry it are refused at the door (400), naming where it is. Text that reaches
//! an XML answer anyway (stored before this rule, or echoed by an error message) is written
//! with U+FFFD in place of each such character: see [`showable`].

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::input::humanize;

/// How many places [`unshowable_in_body`] names at most: enough to fix a body in one go.
pub const MAX_PLACES: usize = 10;

/// Whether XML 1.0 can carry `c` (its `Char` production; Rust's `char` already excludes
/// surrogates).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The first character of `text` that XML 1.0 cannot carry, with its character position
/// (1-based, as people count).
pub fn first_unshowable(text: &str) -> Option<(usize, char)> {
    text.chars()
        .enumerate()
        .find(|(_, c)| !is_xml_char(*c))
        .map(|(i, c)| (i + 1, c))
}

/// The message for text that XML cannot carry, naming where it was found (`what`, e.g.
/// `Response message` or `query parameter 'status'`).
pub fn unshowable_message(what: &str, position: usize, c: char) -> String {
    format!(
        "{what} contains U+{:04X} at character {position}, which XML cannot carry: \
         remove it or replace it",
        u32::from(c)
    )
}

/// `text` with U+FFFD (the replacement character) in place of each character XML cannot
/// carry: what an XML answer shows of text that should never have been stored.
pub fn showable(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(
            text.chars()
                .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

/// A message for every place in a request body (keys and string values, at any depth, read
/// or not by the resource) that holds text XML cannot carry, at most [`MAX_PLACES`].
///
/// A top-level field is named as Rails names an attribute (`Response message`); a nested
/// value by its last key and its path, with 0-based indexes as jq writes them
/// (`Name (flow.steps[2].name)`); a key by where it is (`A field name in flow.steps[2]`). The
/// messages never quote the text itself.
pub fn unshowable_in_body(body: &Map<String, Value>) -> Vec<String> {
    let mut walk = Walk::default();
    walk.object(body);
    walk.messages
}

/// One step of a path into a body: a key or an array index.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// A walk through a body. The path is kept as steps and spelled only for a message, so a
/// clean body (nearly every one) costs no allocation.
#[derive(Default)]
struct Walk<'a> {
    path: Vec<Step<'a>>,
    messages: Vec<String>,
}

impl<'a> Walk<'a> {
    fn full(&self) -> bool {
        self.messages.len() == MAX_PLACES
    }

    /// `flow.steps[2].name`
    fn spelled(&self) -> String {
        let mut out = String::new();
        for step in &self.path {
            match step {
                Step::Key(key) if out.is_empty() => out.push_str(key),
                Step::Key(key) => {
                    out.push('.');
                    out.push_str(key);
                }
                Step::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    fn object(&mut self, map: &'a Map<String, Value>) {
        for (key, value) in map {
            if self.full() {
                return;
            }
            if let Some((position, c)) = first_unshowable(key) {
                let place = if self.path.is_empty() {
                    "A field name".to_owned()
                } else {
                    format!("A field name in {}", self.spelled())
                };
                self.messages.push(unshowable_message(&place, position, c));
                // The key cannot be shown in a path, and one message for its subtree is enough.
                continue;
            }
            self.path.push(Step::Key(key));
            self.value(value, key);
            self.path.pop();
        }
    }

    /// `value`, the last key on the path to which is `key`.
    fn value(&mut self, value: &'a Value, key: &str) {
        match value {
            Value::String(text) => {
                if let Some((position, c)) = first_unshowable(text)
                    && !self.full()
                {
                    let what = match self.path.as_slice() {
                        [Step::Key(_)] => humanize(key),
                        _ => format!("{} ({})", humanize(key), self.spelled()),
                    };
                    self.messages.push(unshowable_message(&what, position, c));
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if self.full() {
                        return;
                    }
                    self.path.push(Step::Index(i));
                    self.value(item, key);
                    self.path.pop();
                }
            }
            Value::Object(map) => self.object(map),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_carries_tab_and_line_ends_but_no_other_control() {
        for c in [
            '\t', '\n', '\r', ' ', 'é', '\u{85}', '\u{2028}', '\u{FFFD}', '😀',
        ] {
            assert!(is_xml_char(c), "{c:?}");
        }
        for c in ['\0', '\u{1}', '\u{8}', '\u{b}', '\u{c}', '\u{1b}', '\u{1f}'] {
            assert!(!is_xml_char(c), "{c:?}");
        }
        assert!(!is_xml_char('\u{FFFE}'));
        assert!(!is_xml_char('\u{FFFF}'));
        assert!(is_xml_char('\u{7F}'), "XML 1.0 allows DEL");
    }

    #[test]
    fn finds_the_first_unshowable_character_by_position() {
        assert_eq!(first_unshowable("plain text\n"), None);
        assert_eq!(first_unshowable("é\u{1b}[31m\u{0}"), Some((2, '\u{1b}')));
        assert_eq!(
            unshowable_message("Response message", 2, '\u{1b}'),
            "Response message contains U+001B at character 2, which XML cannot carry: \
             remove it or replace it"
        );
    }

    #[test]
    fn showable_text_replaces_only_what_xml_cannot_carry() {
        assert!(matches!(showable("tab\there é 😀"), Cow::Borrowed(_)));
        assert_eq!(
            showable("\u{1b}[31mred\u{0}\u{FFFE}\r\n"),
            "\u{FFFD}[31mred\u{FFFD}\u{FFFD}\r\n"
        );
    }

    #[test]
    fn names_each_place_in_a_body_that_holds_unshowable_text() {
        let body = serde_json::json!({
            "response-message": "ok\u{1b}",
            "flow": {"steps": [{"name": "a"}, "b", {"name": "\u{c}"}], "x\u{1}": "fine"},
            "responses": [{"response-message": "\u{FFFF}"}],
            "plain": "tab\tand\nlines",
        });
        let Value::Object(map) = body else {
            unreachable!()
        };
        assert_eq!(
            unshowable_in_body(&map),
            vec![
                "Name (flow.steps[2].name) contains U+000C at character 1, which XML cannot \
                 carry: remove it or replace it",
                "A field name in flow contains U+0001 at character 2, which XML cannot carry: \
                 remove it or replace it",
                "Response message contains U+001B at character 3, which XML cannot carry: \
                 remove it or replace it",
                "Response message (responses[0].response-message) contains U+FFFF at \
                 character 1, which XML cannot carry: remove it or replace it",
            ]
        );
    }

    #[test]
    fn names_at_most_ten_places() {
        let items: Vec<Value> = (0..50).map(|_| Value::from("\u{0}")).collect();
        let mut map = Map::new();
        map.insert("many".into(), Value::Array(items));
        assert_eq!(unshowable_in_body(&map).len(), MAX_PLACES);
    }
}
