//! Response shaping: `return_object=limited|shallow|none` and `fields=[…]` (spec §3).
//!
//! Both are accepted on every route of a resource, reads and writes alike. Names in `fields`
//! that the resource does not have are ignored, as Coupa ignores them (some clients send one
//! fixed list for every resource); a list that is not one, or passes the bounds, is a 400.

use serde_json::Value;

use super::schema::Resource;
use super::{MAX_DEPTH, params};
use crate::error::{Error, Result};

/// The most names one `fields=` may list, nested ones included.
pub const MAX_PICKS: usize = 200;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReturnObject {
    #[default]
    Full,
    /// Ids only.
    Limited,
    /// Associations reduced to their id and natural keys.
    Shallow,
    /// No body at all (writes).
    None,
}

/// One entry of `fields=`: an element, or an association with the elements to keep of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pick {
    /// The element's dashed name.
    Key(String),
    Nested(String, Vec<Pick>),
}

impl Pick {
    pub fn name(&self) -> &str {
        match self {
            Pick::Key(name) | Pick::Nested(name, _) => name,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    pub return_object: ReturnObject,
    pub fields: Option<Vec<Pick>>,
}

impl Shape {
    /// The shape of the answer to a write or a show, which use only the shaping keys of
    /// their query string: any other parameter is ignored, as Rails ignores it.
    pub fn parse(resource: &'static Resource, query: &str) -> Result<Shape> {
        let mut shape = Shape::default();
        for (key, value) in params::parse(query)? {
            shape.take(resource, &key, &value)?;
        }
        Ok(shape)
    }

    /// Refuses `return_object=none`, which only a write can use.
    pub fn readable(self) -> Result<Shape> {
        if self.return_object == ReturnObject::None {
            return Err(Error::invalid("return_object=none applies to writes only"));
        }
        Ok(self)
    }

    /// Takes `key=value` when it is a shaping key; `Ok(false)` when it is not.
    pub fn take(&mut self, resource: &'static Resource, key: &str, value: &str) -> Result<bool> {
        match key {
            "return_object" => {
                self.return_object = match value {
                    "limited" => ReturnObject::Limited,
                    "shallow" => ReturnObject::Shallow,
                    "none" => ReturnObject::None,
                    "full" | "" => ReturnObject::Full,
                    other => {
                        return Err(Error::invalid(format!(
                            "Unknown return_object '{other}' (use limited, shallow or none)"
                        )));
                    }
                }
            }
            "fields" => {
                let list: Value = serde_json::from_str(value).map_err(|e| {
                    Error::invalid(format!("fields must be a JSON array of names: {e}"))
                })?;
                let mut budget = MAX_PICKS;
                self.fields = Some(picks(Some(resource), &list, 0, &mut budget)?);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The picks of `list` on `resource`; on `None` (an association the resource does not
/// have) the list is only checked for its form and bounds, and yields nothing.
fn picks(
    resource: Option<&'static Resource>,
    list: &Value,
    depth: usize,
    budget: &mut usize,
) -> Result<Vec<Pick>> {
    let Value::Array(items) = list else {
        return Err(Error::invalid("fields must be a JSON array of names"));
    };
    let mut out = Vec::new();
    for item in items {
        *budget = budget.checked_sub(1).ok_or_else(|| {
            Error::invalid(format!("fields may name at most {MAX_PICKS} elements"))
        })?;
        match item {
            Value::String(name) => {
                let known = resource.is_some_and(|r| {
                    r.field(&underscored(name)).is_some() || r.assoc(&underscored(name)).is_some()
                });
                if known {
                    out.push(Pick::Key(dashed(name)));
                }
            }
            Value::Object(nested) if depth < MAX_DEPTH => {
                for (name, inner) in nested {
                    let target = resource
                        .and_then(|r| r.assoc(&underscored(name)))
                        .map(|assoc| assoc.target);
                    let inner = picks(target, inner, depth + 1, budget)?;
                    if target.is_some() {
                        out.push(Pick::Nested(dashed(name), inner));
                    }
                }
            }
            Value::Object(_) => {
                return Err(Error::invalid(format!(
                    "fields may nest at most {MAX_DEPTH} associations deep"
                )));
            }
            other => return Err(Error::invalid(format!("Unexpected {other} in fields"))),
        }
    }
    Ok(out)
}

fn underscored(name: &str) -> String {
    name.replace('-', "_")
}

fn dashed(name: &str) -> String {
    name.replace('_', "-")
}

#[cfg(test)]
mod tests {
    use super::super::schema::RUNS;
    use super::*;

    #[test]
    fn parses_nested_fields_and_checks_every_name() {
        let shape = Shape::parse(
            &RUNS,
            r#"fields=["id","total_records",{"integration":["code"]}]"#,
        )
        .unwrap();
        assert_eq!(
            shape.fields.unwrap(),
            [
                Pick::Key("id".into()),
                Pick::Key("total-records".into()),
                Pick::Nested("integration".into(), vec![Pick::Key("code".into())])
            ]
        );
        assert!(Shape::parse(&RUNS, "fields=id").is_err());
        assert!(Shape::parse(&RUNS, r#"fields=["id",7]"#).is_err());
    }

    #[test]
    fn names_the_resource_does_not_have_are_ignored_at_any_depth() {
        let fields = |q: &str| Shape::parse(&RUNS, q).unwrap().fields.unwrap();
        assert_eq!(
            fields(r#"fields=["id","po-number",{"integration":["colour","code"]}]"#),
            [
                Pick::Key("id".into()),
                Pick::Nested("integration".into(), vec![Pick::Key("code".into())])
            ]
        );
        // An unknown association, and a field used as one, are dropped with all they hold.
        assert_eq!(
            fields(
                r#"fields=[{"supplier":["id",{"address":["city"]}]},{"status":["x"]},"status"]"#
            ),
            [Pick::Key("status".into())]
        );
        assert_eq!(fields(r#"fields=["po-number"]"#), []);
        // But what they hold must still be a list within the bounds.
        assert!(Shape::parse(&RUNS, r#"fields=[{"supplier":"id"}]"#).is_err());
        let deep = r#"fields=[{"a":[{"b":[{"c":[{"d":["id"]}]}]}]}]"#;
        assert!(
            Shape::parse(&RUNS, deep)
                .unwrap_err()
                .to_string()
                .contains("deep")
        );
    }

    #[test]
    fn writes_and_shows_take_the_shaping_keys_and_ignore_the_others() {
        assert_eq!(
            Shape::parse(&RUNS, "return_object=none")
                .unwrap()
                .return_object,
            ReturnObject::None
        );
        assert!(Shape::parse(&RUNS, "return_object=everything").is_err());
        assert_eq!(
            Shape::parse(
                &RUNS,
                "null&status=failed&return_object=limited&return_object=none"
            )
            .unwrap(),
            Shape {
                return_object: ReturnObject::None,
                fields: None
            }
        );
        assert!(
            Shape::parse(&RUNS, "foo=%00")
                .unwrap_err()
                .to_string()
                .contains("'foo' contains U+0000")
        );
    }

    #[test]
    fn bounds_the_size_of_fields() {
        let many = |n| vec!["\"id\""; n].join(",");
        assert!(Shape::parse(&RUNS, &format!("fields=[{}]", many(MAX_PICKS))).is_ok());
        let over = Shape::parse(&RUNS, &format!("fields=[{}]", many(MAX_PICKS + 1))).unwrap_err();
        assert!(over.to_string().contains("at most 200 elements"));
        let deep = r#"fields=[{"integration_errors":[{"integration_run":[{"integration_errors":[{"integration_run":["id"]}]}]}]}]"#;
        let deep = Shape::parse(&RUNS, deep).unwrap_err();
        assert!(deep.to_string().contains("at most 3 associations deep"));
    }
}
