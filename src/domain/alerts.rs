//! Alerts: who an alert reaches, and how deliveries are retried.

use std::time::Duration;

use crate::time::Timestamp;

/// How a delivery travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Webhook,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => "webhook",
            Channel::Email => "email",
        }
    }

    pub fn parse(text: &str) -> Option<Channel> {
        [Channel::Webhook, Channel::Email]
            .into_iter()
            .find(|c| c.as_str() == text)
    }
}

/// A row of the outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub integration_contact_id: i64,
    pub integration_id: Option<i64>,
    /// `integration_error` or `integration_history_record`.
    pub record_type: String,
    pub record_id: i64,
    pub channel: Channel,
    pub target: String,
    /// `pending`, `delivered`, `failed` (gave up) or `undeliverable` (no way to send).
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub response_code: Option<i64>,
    pub delivered_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
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
pub fn reaches(contact_type: &str, alert_type: &str) -> bool {
    alert_type == "Both" || contact_type == "Both" || contact_type == alert_type
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

    #[test]
    fn alert_types_reach_their_contacts() {
        assert!(reaches("Technical", "Technical"));
        assert!(reaches("Both", "Technical"));
        assert!(!reaches("Functional", "Technical"));
        assert!(reaches("Functional", "Both") && reaches("Technical", "Both"));
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
}
