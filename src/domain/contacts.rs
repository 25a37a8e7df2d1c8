//! Integration contacts: who hears of an integration's errors, and how (spec §1.4). Coupa
//! names a user or group; Runledger adds the delivery targets, an email address and a
//! webhook URL, so that an alert reaches someone.

use super::Actor;
use super::input::{Body, Checker, Field, humanize};
use super::integrations::IntegrationRef;
use super::records::ContactAlertType;
use super::vocabulary::vocabulary;
use crate::error::{Error, Result};
use crate::time::Timestamp;
use serde_json::Value;

vocabulary! {
    /// What a contact names: a user or a group of them, in Coupa's class names.
    pub enum ContactableType {
        User = "User",
        UserGroup = "UserGroup",
        ApprovalGroup = "ApprovalGroup",
        Supplier = "Supplier",
        SupplierUser = "SupplierUser",
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Contact {
    pub id: i64,
    pub integration_id: Option<i64>,
    pub contact_alert_type: ContactAlertType,
    pub contactable_type: ContactableType,
    pub contactable_id: i64,
    pub email: Option<String>,
    pub webhook_url: Option<String>,
    /// The key that signs this contact's webhooks; shown only when it is made.
    pub webhook_secret: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub created_by: Option<Actor>,
    pub updated_by: Option<Actor>,
}

/// The writable elements of a contact, each absent unless the body named it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContactFields {
    pub contact_alert_type: Field<ContactAlertType>,
    pub contactable_type: Field<ContactableType>,
    pub contactable_id: Field<i64>,
    pub integration: Option<Option<IntegrationRef>>,
    pub email: Field<String>,
    pub webhook_url: Field<String>,
}

impl ContactFields {
    pub fn parse(body: Body) -> Result<Self> {
        let mut c = Checker::default();
        let fields = ContactFields {
            contact_alert_type: c.one_of(
                body,
                "contact-alert-type",
                &ContactAlertType::ALL,
                ContactAlertType::as_str,
                true,
            ),
            contactable_type: c.one_of(
                body,
                "contactable-type",
                &ContactableType::ALL,
                ContactableType::as_str,
                true,
            ),
            contactable_id: c.integer(body, "contactable-id"),
            integration: match body.get("integration") {
                None => None,
                Some(Value::Null) => Some(None),
                Some(value) => Some(Some(IntegrationRef::parse(value))),
            },
            email: c.text(body, "email", 255, false),
            webhook_url: c.text(body, "webhook-url", 2048, false),
        };
        if let Some(Some(email)) = &fields.email
            && !is_email(email)
        {
            c.fail("Email is not an email address");
        }
        if let Some(Some(url)) = &fields.webhook_url
            && !is_http_url(url)
        {
            c.fail("Webhook url must be an http:// or https:// URL");
        }
        if matches!(fields.contactable_id, Some(None)) {
            c.fail("Contactable id can't be blank");
        }
        c.finish()?;
        Ok(fields)
    }

    /// Refuses a new contact without what it requires.
    pub fn require_for_create(&self) -> Result<()> {
        let mut c = Checker::default();
        for (present, key) in [
            (
                matches!(self.contact_alert_type, Some(Some(_))),
                "contact-alert-type",
            ),
            (
                matches!(self.contactable_type, Some(Some(_))),
                "contactable-type",
            ),
            (
                matches!(self.contactable_id, Some(Some(_))),
                "contactable-id",
            ),
        ] {
            if !present {
                c.fail(format!("{} can't be blank", humanize(key)));
            }
        }
        c.finish()
    }
}

impl Contact {
    /// A contact as `create` makes it, before it is stored (its id is 0): the body's values
    /// over a blank contact, in the integration the body names (`named`, as found; none: it
    /// hears every integration), with the key that will sign its webhooks, made `now` by
    /// `actor`. A body without its types is refused, as
    /// [`ContactFields::require_for_create`] refuses it.
    pub fn new(
        fields: &ContactFields,
        named: Option<i64>,
        webhook_secret: String,
        now: Timestamp,
        actor: Option<&Actor>,
    ) -> Result<Contact> {
        let mut c = Checker::default();
        let contact_alert_type = c.require(fields.contact_alert_type, "contact-alert-type");
        let contactable_type = c.require(fields.contactable_type, "contactable-type");
        c.finish()?;
        // `finish` has refused the body unless both are present.
        let missing =
            || Error::Internal("a required element is missing after the check for it".into());
        let mut contact = Contact {
            id: 0,
            integration_id: named,
            contact_alert_type: contact_alert_type.ok_or_else(missing)?,
            contactable_type: contactable_type.ok_or_else(missing)?,
            contactable_id: 0,
            email: None,
            webhook_url: None,
            webhook_secret: Some(webhook_secret),
            created_at: now,
            updated_at: now,
            created_by: actor.cloned(),
            updated_by: actor.cloned(),
        };
        contact.apply(fields);
        Ok(contact)
    }

    /// The contact as an update leaves it, and whether that changes anything: the body's
    /// values, and its integration: the one the body names (`named`, as found), or none
    /// when the body clears it (the contact then hears every integration).
    pub fn updated(&self, fields: &ContactFields, named: Option<i64>) -> (Contact, bool) {
        let mut next = self.clone();
        if let Some(integration) = &fields.integration {
            next.integration_id = integration.as_ref().and(named);
        }
        next.apply(fields);
        let changed = next != *self;
        (next, changed)
    }

    /// Applies an update's values; its integration is decided by [`Contact::updated`].
    pub fn apply(&mut self, fields: &ContactFields) {
        if let Some(Some(v)) = fields.contact_alert_type {
            self.contact_alert_type = v;
        }
        if let Some(Some(v)) = fields.contactable_type {
            self.contactable_type = v;
        }
        if let Some(Some(v)) = fields.contactable_id {
            self.contactable_id = v;
        }
        if let Some(v) = &fields.email {
            self.email = v.clone();
        }
        if let Some(v) = &fields.webhook_url {
            self.webhook_url = v.clone();
        }
    }
}

/// A plausible address: something, `@`, a domain with a dot, no spaces.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    !local.is_empty() && domain.contains('.') && !text.chars().any(char::is_whitespace)
}

fn is_http_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty() && !r.starts_with('/') && !text.chars().any(char::is_whitespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<ContactFields> {
        ContactFields::parse(Body(v.as_object().unwrap()))
    }

    #[test]
    fn validates_targets_and_enums() {
        assert!(
            parse(
                json!({"email": "ops@example.com", "webhook-url": "https://hooks.example.com/x"})
            )
            .is_ok()
        );
        assert!(parse(json!({"email": "not-an-address"})).is_err());
        assert!(parse(json!({"webhook_url": "ftp://x"})).is_err());
        assert!(parse(json!({"contactable-type": "Robot"})).is_err());
        let fields = parse(json!({"contact-alert-type": "Both"})).unwrap();
        let err = fields.require_for_create().unwrap_err().to_string();
        assert!(
            err.contains("Contactable type can't be blank")
                && err.contains("Contactable id can't be blank")
        );
    }

    #[test]
    fn a_new_contact_takes_its_body_its_integration_and_its_signing_key() {
        let now = crate::time::parse("2026-11-28T10:00:00Z").unwrap();
        let fields = parse(json!({
            "contact-alert-type": "Technical",
            "contactable-type": "UserGroup",
            "contactable-id": 3,
            "email": "ops@example.com",
        }))
        .unwrap();
        let contact = Contact::new(&fields, Some(7), "key".into(), now, None).unwrap();
        assert_eq!((contact.id, contact.integration_id), (0, Some(7)));
        assert_eq!(contact.contact_alert_type, ContactAlertType::Technical);
        assert_eq!(contact.contactable_type, ContactableType::UserGroup);
        assert_eq!(contact.contactable_id, 3);
        assert_eq!(contact.email.as_deref(), Some("ops@example.com"));
        assert_eq!(contact.webhook_url, None);
        assert_eq!(contact.webhook_secret.as_deref(), Some("key"));
        assert_eq!((contact.created_at, contact.updated_at), (now, now));
    }

    #[test]
    fn an_update_moves_a_contact_to_the_integration_named_or_to_every_integration() {
        let now = crate::time::parse("2026-11-28T10:00:00Z").unwrap();
        let fields = parse(json!({
            "contact-alert-type": "Both",
            "contactable-type": "User",
            "contactable-id": 1,
        }))
        .unwrap();
        let contact = Contact::new(&fields, Some(7), "key".into(), now, None).unwrap();

        let unchanged = contact.updated(&parse(json!({"email": null})).unwrap(), None);
        assert_eq!(unchanged, (contact.clone(), false));

        let moved = parse(json!({"integration": {"code": "B"}})).unwrap();
        let (next, changed) = contact.updated(&moved, Some(8));
        assert!(changed);
        assert_eq!(next.integration_id, Some(8));

        let cleared = parse(json!({"integration": null})).unwrap();
        let (next, changed) = contact.updated(&cleared, None);
        assert!(changed);
        assert_eq!(next.integration_id, None);

        let retyped = parse(json!({"contact-alert-type": "Technical"})).unwrap();
        let (next, changed) = contact.updated(&retyped, None);
        assert!(changed);
        assert_eq!(
            next.integration_id,
            Some(7),
            "a body without an integration keeps it"
        );
        assert_eq!(next.contact_alert_type, ContactAlertType::Technical);
    }

    #[test]
    fn a_contactable_type_reads_back_as_written_and_only_so() {
        assert_eq!(
            ContactableType::ALL.map(ContactableType::as_str),
            [
                "User",
                "UserGroup",
                "ApprovalGroup",
                "Supplier",
                "SupplierUser"
            ]
        );
        for t in ContactableType::ALL {
            assert_eq!(ContactableType::parse(t.as_str()), Some(t));
        }
        for refused in ["", "user", "USERGROUP", "Robot", "User "] {
            assert_eq!(ContactableType::parse(refused), None, "{refused:?}");
        }
        let err = parse(json!({"contactable-type": "usergroup"}))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "Contactable type is not included in the list \
             (User, UserGroup, ApprovalGroup, Supplier, SupplierUser)"
        );
    }

    #[test]
    fn a_contact_without_its_types_is_not_made() {
        let now = crate::time::parse("2026-11-28T10:00:00Z").unwrap();
        let fields = parse(json!({"contactable-id": 1})).unwrap();
        let refused = Contact::new(&fields, None, "key".into(), now, None).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "Contact alert type can't be blank; Contactable type can't be blank"
        );
    }
}
