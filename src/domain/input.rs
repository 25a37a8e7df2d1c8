//! Reading typed fields out of a request body, collecting every problem at once.
//!
//! Coupa answers a bad body with all of its validation messages (`Code can't be blank`,
//! `Direction is not included in the list`), so [`Checker`] gathers them instead of stopping
//! at the first. Keys are looked up dashed (`total-records`) and underscored (`total_records`).

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::time::{self, Timestamp};

/// A request body: a JSON object, or an XML document converted to one.
#[derive(Clone, Copy, Debug)]
pub struct Body<'a>(pub &'a Map<String, Value>);

impl<'a> Body<'a> {
    /// The value under `key` (dashed), also found under its underscored spelling.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.0
            .get(key)
            .or_else(|| self.0.get(&key.replace('-', "_")))
    }
}

/// `total-records` → `Total records`, as Rails prints attribute names.
pub fn humanize(key: &str) -> String {
    let mut text = key.replace(['-', '_'], " ");
    if let Some(first) = text.get(0..1) {
        let upper = first.to_ascii_uppercase();
        text.replace_range(0..1, &upper);
    }
    text
}

/// A field in a body: absent (leave as is), null (clear), or a value.
pub type Field<T> = Option<Option<T>>;

/// Collects validation messages while typed values are read from a body.
#[derive(Default, Debug)]
pub struct Checker {
    messages: Vec<String>,
}

impl Checker {
    pub fn fail(&mut self, message: impl Into<String>) {
        self.messages.push(message.into());
    }

    /// Ok when nothing failed, else every message in one 400.
    pub fn finish(self) -> Result<()> {
        if self.messages.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(self.messages))
        }
    }

    /// A string of at most `max` characters. `required` refuses null and the empty string
    /// (absence is for the caller to judge: it is fine in an update).
    pub fn text(&mut self, body: Body, key: &str, max: usize, required: bool) -> Field<String> {
        let text = match body.get(key)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Array(_) | Value::Object(_) => {
                self.fail(format!("{} must be text", humanize(key)));
                return None;
            }
        };
        if required && text.as_deref().is_none_or(|t| t.trim().is_empty()) {
            self.fail(format!("{} can't be blank", humanize(key)));
            return None;
        }
        if let Some(t) = &text
            && t.chars().count() > max
        {
            self.fail(format!(
                "{} is too long (maximum is {max} characters)",
                humanize(key)
            ));
            return None;
        }
        Some(text)
    }

    /// A word of a closed vocabulary: one of `all`, spelled exactly as `word` spells it
    /// (Rails' inclusion validation compares with case; queries do not, see `query`).
    pub fn one_of<T: Copy>(
        &mut self,
        body: Body,
        key: &str,
        all: &[T],
        word: fn(T) -> &'static str,
        required: bool,
    ) -> Field<T> {
        let Some(text) = self.text(body, key, 255, required)? else {
            return Some(None);
        };
        match all.iter().copied().find(|&value| word(value) == text) {
            Some(value) => Some(Some(value)),
            None => {
                let words: Vec<&str> = all.iter().map(|&value| word(value)).collect();
                self.fail(format!(
                    "{} is not included in the list ({})",
                    humanize(key),
                    words.join(", ")
                ));
                None
            }
        }
    }

    /// The value of a field a new record must have: refused as blank when it is absent or
    /// null.
    pub fn require<T>(&mut self, value: Field<T>, key: &str) -> Option<T> {
        let value = value.flatten();
        if value.is_none() {
            self.fail(format!("{} can't be blank", humanize(key)));
        }
        value
    }

    /// An integer, given as a number or as a numeric string (XML carries only text).
    pub fn integer(&mut self, body: Body, key: &str) -> Field<i64> {
        let parsed = match body.get(key)? {
            Value::Null => return Some(None),
            Value::Number(n) => n.as_i64(),
            Value::String(s) if s.trim().is_empty() => return Some(None),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        match parsed {
            Some(n) => Some(Some(n)),
            None => {
                self.fail(format!("{} is not an integer", humanize(key)));
                None
            }
        }
    }

    /// A count: an integer that is zero or more.
    pub fn count(&mut self, body: Body, key: &str) -> Field<i64> {
        match self.integer(body, key)? {
            Some(n) if n < 0 => {
                self.fail(format!(
                    "{} must be greater than or equal to 0",
                    humanize(key)
                ));
                None
            }
            other => Some(other),
        }
    }

    /// A boolean: `true`/`false`, or as XML carries it, `"true"`/`"false"`/`"1"`/`"0"`.
    pub fn boolean(&mut self, body: Body, key: &str) -> Field<bool> {
        let parsed = match body.get(key)? {
            Value::Null => return Some(None),
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.trim() {
                "" => return Some(None),
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        };
        match parsed {
            Some(b) => Some(Some(b)),
            None => {
                self.fail(format!("{} is not true or false", humanize(key)));
                None
            }
        }
    }

    /// A datetime in any of the spellings [`time::parse`] accepts.
    pub fn datetime(&mut self, body: Body, key: &str) -> Field<Timestamp> {
        match body.get(key)? {
            Value::Null => Some(None),
            Value::String(s) if s.trim().is_empty() => Some(None),
            Value::String(s) if time::parse(s).is_some() => Some(time::parse(s)),
            _ => {
                self.fail(format!("{} is not a valid datetime", humanize(key)));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: &Value) -> Body<'_> {
        Body(v.as_object().unwrap())
    }

    #[test]
    fn reads_dashed_and_underscored_keys_alike() {
        let v = json!({"total_records": 5, "records-processed": "3"});
        let mut c = Checker::default();
        assert_eq!(c.count(body(&v), "total-records"), Some(Some(5)));
        assert_eq!(c.count(body(&v), "records-processed"), Some(Some(3)));
        assert_eq!(c.count(body(&v), "missing"), None);
        c.finish().unwrap();
    }

    #[test]
    fn collects_every_message() {
        let v = json!({"code": "", "total": -1, "when": "soon", "kind": "x"});
        let mut c = Checker::default();
        c.text(body(&v), "code", 255, true);
        c.count(body(&v), "total");
        c.datetime(body(&v), "when");
        c.one_of(body(&v), "kind", &["a", "b"], |w| w, true);
        let Err(Error::Invalid(messages)) = c.finish() else {
            panic!("expected messages")
        };
        assert_eq!(
            messages,
            [
                "Code can't be blank",
                "Total must be greater than or equal to 0",
                "When is not a valid datetime",
                "Kind is not included in the list (a, b)"
            ]
        );
    }

    #[test]
    fn refuses_text_over_its_limit() {
        let v = json!({"name": "x".repeat(256)});
        let mut c = Checker::default();
        assert_eq!(c.text(body(&v), "name", 255, true), None);
        assert!(c.finish().is_err());
    }
}
