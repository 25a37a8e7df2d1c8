//! Alerts: who an alert reaches, and how deliveries are retried.

use std::time::Duration;

use super::contacts::Contact;
use super::records::{ContactAlertType, Record, RecordKind};
use super::vocabulary::vocabulary;
use crate::time::Timestamp;

vocabulary! {
    /// How a delivery travels.
    pub enum Channel {
        Webhook = "webhook",
        Email = "email",
    }
}

vocabulary! {
    /// Where a delivery stands.
    pub enum DeliveryStatus {
        /// Due now or at its next attempt.
        Pending = "pending",
        Delivered = "delivered",
        /// Given up after [`MAX_ATTEMPTS`].
        Failed = "failed",
        /// No way to send it (no SMTP server, a refused webhook target).
        Undeliverable = "undeliverable",
    }
}

vocabulary! {
    /// What a delivery tells of: a record (an alert, to a contact) or an event of the stream
    /// (to a subscription). A record's kind is spelt as its [`RecordKind::owner_type`].
    pub enum Carried {
        IntegrationError = "integration_error",
        HistoryRecord = "integration_history_record",
        Event = "event",
    }
}

impl Carried {
    pub fn record(kind: RecordKind) -> Carried {
        match kind {
            RecordKind::Error => Carried::IntegrationError,
            RecordKind::History => Carried::HistoryRecord,
        }
    }

    /// The kind of record an alert tells of; none for an event.
    pub fn record_kind(self) -> Option<RecordKind> {
        match self {
            Carried::IntegrationError => Some(RecordKind::Error),
            Carried::HistoryRecord => Some(RecordKind::History),
            Carried::Event => None,
        }
    }
}

/// Who a delivery goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipient {
    Contact(i64),
    Subscription(i64),
}

/// A row of the outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub recipient: Recipient,
    pub integration_id: Option<i64>,
    pub record_type: Carried,
    pub record_id: i64,
    pub channel: Channel,
    pub target: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub response_code: Option<i64>,
    pub delivered_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An outbox row about to be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    pub integration_contact_id: i64,
    pub integration_id: Option<i64>,
    pub record_type: RecordKind,
    pub record_id: i64,
    pub channel: Channel,
    pub target: String,
}

/// Who an alert about `record` reaches, and how: a delivery per contact and target, in the
/// order of `contacts`, a contact's webhook before its email.
///
/// A contact hears of its integration's records, or of every integration's when it names
/// none, and of the alert types it [`reaches`]; a contact without a target hears nothing.
pub fn deliveries(kind: RecordKind, record: &Record, contacts: &[Contact]) -> Vec<NewDelivery> {
    let mut out = Vec::new();
    for contact in contacts {
        let hears_integration =
            contact.integration_id.is_none() || contact.integration_id == record.integration_id;
        if !hears_integration || !reaches(contact.contact_alert_type, record.contact_alert_type) {
            continue;
        }
        let targets = [
            (Channel::Webhook, &contact.webhook_url),
            (Channel::Email, &contact.email),
        ];
        for (channel, target) in targets {
            let Some(target) = target else { continue };
            out.push(NewDelivery {
                integration_contact_id: contact.id,
                integration_id: record.integration_id,
                record_type: kind,
                record_id: record.id,
                channel,
                target: target.clone(),
            });
        }
    }
    out
}

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    Delivered {
        response_code: Option<i64>,
    },
    /// Worth trying again later.
    Failed {
        error: String,
        response_code: Option<i64>,
    },
    /// No attempt can succeed (no SMTP server configured, a webhook target refused).
    Undeliverable {
        error: String,
    },
}

impl Attempt {
    /// What the delivery keeps as its last error: none once delivered.
    pub fn error(&self) -> Option<&str> {
        match self {
            Attempt::Delivered { .. } => None,
            Attempt::Failed { error, .. } | Attempt::Undeliverable { error } => Some(error),
        }
    }

    /// The receiver's status code, when a receiver answered.
    pub fn response_code(&self) -> Option<i64> {
        match self {
            Attempt::Delivered { response_code } | Attempt::Failed { response_code, .. } => {
                *response_code
            }
            Attempt::Undeliverable { .. } => None,
        }
    }

    /// Whether the delivery arrived (and so has a time of delivery).
    pub fn delivered(&self) -> bool {
        matches!(self, Attempt::Delivered { .. })
    }

    /// The attempt as it is stored. Its error text comes from elsewhere (a receiver's status
    /// line, an SMTP server's reply, a resolver), not from a request that could be refused,
    /// so what XML cannot carry in it becomes U+FFFD (see [`super::text`]).
    pub fn storable(self) -> Attempt {
        let clean = |error: String| match super::text::showable(&error) {
            std::borrow::Cow::Borrowed(_) => error,
            std::borrow::Cow::Owned(clean) => clean,
        };
        match self {
            Attempt::Failed {
                error,
                response_code,
            } => Attempt::Failed {
                error: clean(error),
                response_code,
            },
            Attempt::Undeliverable { error } => Attempt::Undeliverable {
                error: clean(error),
            },
            delivered @ Attempt::Delivered { .. } => delivered,
        }
    }
}

/// After this many failed attempts a delivery is given up as `failed`.
pub const MAX_ATTEMPTS: i64 = 12;

/// Whether a contact of `contact_type` hears an alert of `alert_type`: `Technical` and
/// `Functional` alerts reach their own kind and `Both`; a `Both` alert reaches everyone.
pub fn reaches(contact_type: ContactAlertType, alert_type: ContactAlertType) -> bool {
    use ContactAlertType::Both;
    alert_type == Both || contact_type == Both || contact_type == alert_type
}

/// The wait before attempt `attempts + 1`: `base`·2^(attempts−1), capped at an hour, then
/// spread by `jitter` (0 to 1) over ±25 % so that failed deliveries do not retry in step.
pub fn backoff(base: Duration, attempts: i64, jitter: f64) -> Duration {
    let exponent = attempts.clamp(1, 30) - 1;
    let wait = base
        .saturating_mul(1u32 << exponent)
        .min(Duration::from_secs(3600));
    wait.mul_f64(0.75 + 0.5 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::contacts::ContactableType;
    use crate::domain::records::RecordFields;
    use ContactAlertType::{Both, Functional, Technical};

    #[test]
    fn alert_types_reach_their_contacts() {
        assert!(reaches(Technical, Technical));
        assert!(reaches(Both, Technical));
        assert!(!reaches(Functional, Technical));
        assert!(reaches(Functional, Both) && reaches(Technical, Both));
    }

    #[test]
    fn channels_and_delivery_statuses_read_back_as_written_and_only_so() {
        assert_eq!(Channel::ALL.map(Channel::as_str), ["webhook", "email"]);
        for channel in Channel::ALL {
            assert_eq!(Channel::parse(channel.as_str()), Some(channel));
        }
        assert_eq!(
            DeliveryStatus::ALL.map(DeliveryStatus::as_str),
            ["pending", "delivered", "failed", "undeliverable"]
        );
        for status in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        }
        for refused in ["", "Webhook", "EMAIL", "sms"] {
            assert_eq!(Channel::parse(refused), None, "{refused:?}");
        }
        for refused in ["", "Pending", "DELIVERED", "sent"] {
            assert_eq!(DeliveryStatus::parse(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let base = Duration::from_secs(1);
        assert_eq!(backoff(base, 1, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(base, 3, 0.5), Duration::from_secs(4));
        assert_eq!(backoff(base, 3, 0.0), Duration::from_secs(3));
        assert_eq!(backoff(base, 3, 1.0), Duration::from_secs(5));
        assert_eq!(backoff(base, 40, 0.5), Duration::from_secs(3600));
    }

    #[test]
    fn an_attempt_is_stored_with_only_text_xml_can_carry() {
        let failed = Attempt::Failed {
            error: "SMTP: 554 \u{0}no\u{1b}".into(),
            response_code: None,
        };
        assert_eq!(
            failed.storable(),
            Attempt::Failed {
                error: "SMTP: 554 \u{FFFD}no\u{FFFD}".into(),
                response_code: None
            }
        );
        let delivered = Attempt::Delivered {
            response_code: Some(200),
        };
        assert_eq!(delivered.clone().storable(), delivered);
    }

    fn at() -> Timestamp {
        crate::time::parse("2026-11-28T10:00:00Z").unwrap()
    }

    fn contact(id: i64, integration_id: Option<i64>, alert_type: ContactAlertType) -> Contact {
        Contact {
            id,
            integration_id,
            contact_alert_type: alert_type,
            contactable_type: ContactableType::User,
            contactable_id: id,
            email: Some(format!("c{id}@example.com")),
            webhook_url: None,
            webhook_secret: None,
            created_at: at(),
            updated_at: at(),
            created_by: None,
            updated_by: None,
        }
    }

    fn record(integration_id: Option<i64>, alert_type: ContactAlertType) -> Record {
        let fields = RecordFields {
            contact_alert_type: Some(Some(alert_type)),
            ..RecordFields::default()
        };
        let mut record = Record::new(&fields, integration_id, false, at(), None).unwrap();
        record.id = 77;
        record
    }

    /// The contacts a record's alert reaches, by id.
    fn reached(record: &Record, contacts: &[Contact]) -> Vec<i64> {
        deliveries(RecordKind::Error, record, contacts)
            .iter()
            .map(|d| d.integration_contact_id)
            .collect()
    }

    #[test]
    fn technical_and_functional_alerts_reach_their_own_kind_and_both() {
        let contacts = [
            contact(1, Some(5), Technical),
            contact(2, Some(5), Functional),
            contact(3, Some(5), Both),
        ];
        assert_eq!(reached(&record(Some(5), Technical), &contacts), [1, 3]);
        assert_eq!(reached(&record(Some(5), Functional), &contacts), [2, 3]);
        assert_eq!(reached(&record(Some(5), Both), &contacts), [1, 2, 3]);
    }

    #[test]
    fn a_contact_without_an_integration_hears_every_integration() {
        let contacts = [
            contact(1, None, Both),
            contact(2, Some(5), Both),
            contact(3, Some(6), Both),
        ];
        assert_eq!(reached(&record(Some(5), Technical), &contacts), [1, 2]);
        assert_eq!(reached(&record(Some(6), Technical), &contacts), [1, 3]);
        // A record without an integration reaches only the contacts of every integration.
        assert_eq!(reached(&record(None, Technical), &contacts), [1]);
    }

    #[test]
    fn each_target_of_a_contact_gets_a_delivery_webhook_first() {
        let both = Contact {
            webhook_url: Some("https://hooks.example.com/a".into()),
            ..contact(1, Some(5), Technical)
        };
        let neither = Contact {
            email: None,
            ..contact(2, Some(5), Technical)
        };
        let found = deliveries(
            RecordKind::History,
            &record(Some(5), Technical),
            &[both, neither],
        );
        assert_eq!(
            found,
            [
                NewDelivery {
                    integration_contact_id: 1,
                    integration_id: Some(5),
                    record_type: RecordKind::History,
                    record_id: 77,
                    channel: Channel::Webhook,
                    target: "https://hooks.example.com/a".into(),
                },
                NewDelivery {
                    integration_contact_id: 1,
                    integration_id: Some(5),
                    record_type: RecordKind::History,
                    record_id: 77,
                    channel: Channel::Email,
                    target: "c1@example.com".into(),
                },
            ]
        );
    }

    #[test]
    fn an_attempt_keeps_its_error_and_code_and_only_a_delivered_one_arrived() {
        let delivered = Attempt::Delivered {
            response_code: Some(204),
        };
        assert_eq!(
            (
                delivered.error(),
                delivered.response_code(),
                delivered.delivered()
            ),
            (None, Some(204), true)
        );
        let failed = Attempt::Failed {
            error: "HTTP 503".into(),
            response_code: Some(503),
        };
        assert_eq!(
            (failed.error(), failed.response_code(), failed.delivered()),
            (Some("HTTP 503"), Some(503), false)
        );
        let refused = Attempt::Undeliverable {
            error: "no SMTP server".into(),
        };
        assert_eq!(
            (
                refused.error(),
                refused.response_code(),
                refused.delivered()
            ),
            (Some("no SMTP server"), None, false)
        );
    }
}
