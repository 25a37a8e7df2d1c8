//! Webhook subscriptions to the event stream: a URL that hears of the events a filter
//! matches, through the outbox (signed, retried, logged) as alerts are.

use super::Actor;
use super::events::Position;
use super::input::{Body, Checker, Field};
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// The longest filter a subscription keeps (a query string).
pub const MAX_FILTER: usize = 2048;

#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    pub id: i64,
    pub version: i64,
    pub url: String,
    /// The key its deliveries are signed with; shown once, when it is created.
    pub secret: String,
    /// The events it hears of, in the query language of `/api/events` (empty: all).
    pub filter: String,
    pub active: bool,
    /// The last event handed to the outbox for it.
    pub cursor: Position,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub created_by: Option<Actor>,
    pub updated_by: Option<Actor>,
}

impl Subscription {
    /// Applies `fields`; whether anything changed.
    pub fn apply(&mut self, fields: &SubscriptionFields) -> bool {
        let before = self.clone();
        if let Some(Some(url)) = &fields.url {
            url.clone_into(&mut self.url);
        }
        if let Some(filter) = &fields.filter {
            self.filter = filter.clone().unwrap_or_default();
        }
        if let Some(Some(active)) = fields.active {
            self.active = active;
        }
        *self != before
    }
}

/// The writable elements of a subscription, each absent unless the body named it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubscriptionFields {
    pub url: Field<String>,
    pub filter: Field<String>,
    pub active: Field<bool>,
}

impl SubscriptionFields {
    /// Reads and checks a body: an `http(s)` URL (the filter is the query language's to
    /// check: `query::stream_filter`).
    pub fn parse(body: Body) -> Result<Self> {
        let mut c = Checker::default();
        let fields = SubscriptionFields {
            url: c.text(body, "url", 2048, false),
            filter: c.text(body, "filter", MAX_FILTER, false),
            active: c.boolean(body, "active"),
        };
        if let Some(Some(url)) = &fields.url {
            let lower = url.to_ascii_lowercase();
            if !(lower.starts_with("http://") || lower.starts_with("https://")) {
                c.fail("Url must start with http:// or https://");
            }
        }
        if matches!(fields.url, Some(None)) {
            c.fail("Url can't be blank");
        }
        c.finish()?;
        Ok(fields)
    }

    /// The URL a new subscription must have.
    pub fn url_for_create(&self) -> Result<&str> {
        match &self.url {
            Some(Some(url)) => Ok(url),
            _ => Err(Error::invalid("Url can't be blank")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn parse(v: Value) -> Result<SubscriptionFields> {
        SubscriptionFields::parse(Body(v.as_object().unwrap()))
    }

    #[test]
    fn a_subscription_needs_a_web_url() {
        let ok =
            parse(json!({"url": "https://hooks.example.com/x", "filter": "topic=run"})).unwrap();
        assert_eq!(ok.url_for_create().unwrap(), "https://hooks.example.com/x");
        assert!(parse(json!({"url": "ftp://x"})).is_err());
        assert!(parse(json!({"url": null})).is_err());
        assert!(parse(json!({})).unwrap().url_for_create().is_err());
    }
}
