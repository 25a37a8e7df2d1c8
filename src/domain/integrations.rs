//! Integrations: the jobs whose runs Runledger records (spec §1.3).

use serde_json::{Map, Value};

use super::Actor;
use super::input::{Body, Checker, Field};
use super::vocabulary::vocabulary;
use crate::error::{Error, Result};
use crate::time::Timestamp;

vocabulary! {
    /// Which way an integration's data flows.
    pub enum Direction {
        ToCoupa = "to_coupa",
        FromCoupa = "from_coupa",
    }
}

vocabulary! {
    /// The kind of system at the other end of an integration.
    pub enum EndSystemType {
        Internal = "internal",
        Payroll = "payroll",
        Erp = "erp",
        Hr = "hr",
        ThirdPartyPartner = "third_party_partner",
        ThirdPartyVendor = "third_party_vendor",
        Other = "other",
    }
}

vocabulary! {
    /// How an integration's data is carried (optional on an integration).
    pub enum IntegrationType {
        FlatFile = "flat_file",
        Api = "api",
        CorporateCreditCardFile = "corporate_credit_card_file",
        Json = "json",
        Xml = "xml",
        OriginalFormat = "original_format",
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Integration {
    pub id: i64,
    /// Raised by one with each write: what its ETag is made of (`etag`).
    pub version: i64,
    pub code: String,
    pub name: String,
    pub business_object: String,
    pub direction: Direction,
    pub end_system: String,
    pub end_system_type: EndSystemType,
    pub integration_type: Option<IntegrationType>,
    pub standard: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub created_by: Option<Actor>,
    pub updated_by: Option<Actor>,
}

/// The writable elements of an integration, each absent unless the body named it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IntegrationFields {
    pub code: Field<String>,
    pub name: Field<String>,
    pub business_object: Field<String>,
    pub direction: Field<Direction>,
    pub end_system: Field<String>,
    pub end_system_type: Field<EndSystemType>,
    pub integration_type: Field<IntegrationType>,
}

impl IntegrationFields {
    /// Reads and validates the elements present in `body`.
    pub fn parse(body: Body) -> Result<Self> {
        let mut c = Checker::default();
        let fields = IntegrationFields {
            code: c.text(body, "code", 255, true),
            name: c.text(body, "name", 255, true),
            business_object: c.text(body, "business-object", 255, true),
            direction: c.one_of(body, "direction", &Direction::ALL, Direction::as_str, true),
            end_system: c.text(body, "end-system", 255, true),
            end_system_type: c.one_of(
                body,
                "end-system-type",
                &EndSystemType::ALL,
                EndSystemType::as_str,
                true,
            ),
            integration_type: c.one_of(
                body,
                "integration-type",
                &IntegrationType::ALL,
                IntegrationType::as_str,
                false,
            ),
        };
        c.finish()?;
        Ok(fields)
    }

    /// The values of a new integration; every required element must be present.
    pub fn into_new(self) -> Result<NewIntegration> {
        let mut c = Checker::default();
        let code = c.require(self.code, "code");
        let name = c.require(self.name, "name");
        let business_object = c.require(self.business_object, "business-object");
        let direction = c.require(self.direction, "direction");
        let end_system = c.require(self.end_system, "end-system");
        let end_system_type = c.require(self.end_system_type, "end-system-type");
        c.finish()?;
        // `finish` has refused the body unless every one of them is present.
        let missing =
            || Error::Internal("a required element is missing after the check for it".into());
        Ok(NewIntegration {
            code: code.ok_or_else(missing)?,
            name: name.ok_or_else(missing)?,
            business_object: business_object.ok_or_else(missing)?,
            direction: direction.ok_or_else(missing)?,
            end_system: end_system.ok_or_else(missing)?,
            end_system_type: end_system_type.ok_or_else(missing)?,
            integration_type: self.integration_type.flatten(),
        })
    }
}

/// A validated integration that is about to be created.
#[derive(Clone, Debug, PartialEq)]
pub struct NewIntegration {
    pub code: String,
    pub name: String,
    pub business_object: String,
    pub direction: Direction,
    pub end_system: String,
    pub end_system_type: EndSystemType,
    pub integration_type: Option<IntegrationType>,
}

impl Integration {
    /// An integration as `create` makes it, before it is stored (its id is 0): not one of
    /// Coupa's standard integrations, made `now` by `actor`.
    pub fn new(new: NewIntegration, now: Timestamp, actor: Option<&Actor>) -> Integration {
        Integration {
            id: 0,
            version: 0,
            code: new.code,
            name: new.name,
            business_object: new.business_object,
            direction: new.direction,
            end_system: new.end_system,
            end_system_type: new.end_system_type,
            integration_type: new.integration_type,
            standard: false,
            created_at: now,
            updated_at: now,
            created_by: actor.cloned(),
            updated_by: actor.cloned(),
        }
    }

    /// Applies an update, and says whether it changed anything. Required elements were
    /// refused as blank by [`IntegrationFields::parse`], so only `integration-type` can be
    /// cleared.
    pub fn apply(&mut self, fields: &IntegrationFields) -> bool {
        let before = self.clone();
        let set = |target: &mut String, value: &Field<String>| {
            if let Some(Some(v)) = value {
                v.clone_into(target);
            }
        };
        set(&mut self.code, &fields.code);
        set(&mut self.name, &fields.name);
        set(&mut self.business_object, &fields.business_object);
        set(&mut self.end_system, &fields.end_system);
        if let Some(Some(direction)) = fields.direction {
            self.direction = direction;
        }
        if let Some(Some(end_system_type)) = fields.end_system_type {
            self.end_system_type = end_system_type;
        }
        if let Some(value) = fields.integration_type {
            self.integration_type = value;
        }
        *self != before
    }
}

/// A key that no two integrations share (compared without ASCII case, as Coupa's MySQL
/// compares it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UniqueKey {
    Code,
    Name,
}

impl UniqueKey {
    /// Rails' validation message when another integration has this key.
    pub const fn taken(self) -> &'static str {
        match self {
            UniqueKey::Code => "Code has already been taken",
            UniqueKey::Name => "Name has already been taken",
        }
    }
}

/// Refuses an integration whose keys `taken` are another's, naming each as Rails validates
/// (code first).
pub fn refuse_taken(taken: &[UniqueKey]) -> Result<()> {
    if taken.is_empty() {
        return Ok(());
    }
    let mut messages: Vec<String> = Vec::with_capacity(2);
    for key in [UniqueKey::Code, UniqueKey::Name] {
        if taken.contains(&key) {
            messages.push(key.taken().to_owned());
        }
    }
    Err(Error::Invalid(messages))
}

/// How a body names an existing integration (spec §1.5): by `id`, `code` or `name`, or
/// several of them at once, all of which must match.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IntegrationRef {
    pub id: Option<i64>,
    pub code: Option<String>,
    pub name: Option<String>,
    /// The keys as given, in Ruby's hash notation, for Coupa's "unable to find" message.
    given: String,
}

impl IntegrationRef {
    /// Reads `{"id": 7}`, `{"code": "…"}` or `{"name": "…"}` (a bare id is accepted too).
    pub fn parse(value: &Value) -> Self {
        let empty = Map::new();
        let object = match value {
            Value::Object(o) => o,
            Value::Number(_) | Value::String(_) => {
                let mut one = Map::new();
                one.insert("id".into(), value.clone());
                return Self::parse(&Value::Object(one));
            }
            _ => &empty,
        };
        let mut reference = IntegrationRef::default();
        let mut given = Vec::new();
        for (key, value) in object {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => continue,
            };
            match key.as_str() {
                "id" => {
                    // A non-numeric id cannot match any record.
                    reference.id = Some(text.trim().parse().unwrap_or(-1));
                    given.push(format!("\"id\"=>{text}"));
                }
                "code" => {
                    given.push(format!("\"code\"=>{text:?}"));
                    reference.code = Some(text);
                }
                "name" => {
                    given.push(format!("\"name\"=>{text:?}"));
                    reference.name = Some(text);
                }
                _ => {}
            }
        }
        reference.given = format!("{{{}}}", given.join(", "));
        reference
    }

    pub fn is_empty(&self) -> bool {
        self.id.is_none() && self.code.is_none() && self.name.is_none()
    }

    /// Coupa's message when nothing matches.
    pub fn not_found(&self) -> Error {
        Error::invalid(format!(
            "Unable to find valid Integration record for integration with keys {}. \
             Possible keys are [\"id\", \"code\", \"name\"].",
            self.given
        ))
    }

    /// Whether `integration` answers to this reference. Text keys compare without ASCII case,
    /// as Coupa's MySQL compares them and as queries do (docs/api.md, "Querying").
    pub fn matches(&self, integration: &Integration) -> bool {
        !self.is_empty()
            && self.id.is_none_or(|id| id == integration.id)
            && self
                .code
                .as_ref()
                .is_none_or(|c| c.eq_ignore_ascii_case(&integration.code))
            && self
                .name
                .as_ref()
                .is_none_or(|n| n.eq_ignore_ascii_case(&integration.name))
    }

    /// Whether `integration` answers to this reference with every text key spelt as stored.
    fn matches_exactly(&self, integration: &Integration) -> bool {
        self.matches(integration)
            && self.code.as_ref().is_none_or(|c| *c == integration.code)
            && self.name.as_ref().is_none_or(|n| *n == integration.name)
    }

    /// The one integration of `candidates` (those that match without case) this reference
    /// names. Codes and names are unique without case, but a database written before that
    /// rule may hold `PO` and `po`: then the exact spelling decides, and without one the
    /// reference is ambiguous.
    pub fn pick(&self, mut candidates: Vec<Integration>) -> Result<Integration> {
        candidates.retain(|c| self.matches(c));
        if candidates.len() > 1 {
            candidates.retain(|c| self.matches_exactly(c));
            if candidates.len() > 1 || candidates.is_empty() {
                return Err(Error::invalid(format!(
                    "Several integrations match {} when case is ignored: name one by its \
                     exact code, its exact name or its id",
                    self.given
                )));
            }
        }
        candidates.pop().ok_or_else(|| self.not_found())
    }
}

#[cfg(test)]
mod tests;
