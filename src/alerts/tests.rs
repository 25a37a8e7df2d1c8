//! The dispatcher's rounds over an in-memory [`OutboxStore`]: what each delivery's attempt
//! comes to, as recorded. Nothing leaves the machine; the one receiver listens on loopback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use super::{BATCH, Dispatcher, LEASE, sign};
use crate::config::AlertSettings;
use crate::domain::alerts::{
    Attempt, Carried, Channel, Delivery, DeliveryStatus, MAX_ATTEMPTS, Recipient,
};
use crate::domain::events::{Change, Event};
use crate::domain::records::{ContactAlertType, Record, RecordFields, RecordKind};
use crate::error::{Error, Result};
use crate::query::Query;
use crate::query::cursor::Page;
use crate::store::{OutboxStore, Subject};
use crate::time::{self, Timestamp};

/// The contact every delivery here goes to, and the record every alert tells of.
const CONTACT: i64 = 3;
const RECORD: i64 = 77;

/// One `record_attempt` call.
#[derive(Clone, Debug, PartialEq)]
struct Recorded {
    id: i64,
    status: DeliveryStatus,
    attempt: Attempt,
    next_attempt_at: Option<Timestamp>,
}

/// An outbox that hands out the deliveries it is given (once), answers subjects and webhook
/// secrets from given values, and keeps what the dispatcher asked and recorded.
#[derive(Default)]
struct FakeOutbox {
    due: Mutex<Vec<Delivery>>,
    subjects: Vec<(RecordKind, i64, Subject)>,
    secrets: Vec<(i64, String)>,
    /// The lease and the limit of every claim.
    claims: Mutex<Vec<(Duration, i64)>>,
    recorded: Mutex<Vec<Recorded>>,
    /// The contacts whose webhook secret was read.
    secrets_read: Mutex<Vec<i64>>,
}

impl FakeOutbox {
    fn new(due: Vec<Delivery>) -> FakeOutbox {
        FakeOutbox {
            due: Mutex::new(due),
            ..FakeOutbox::default()
        }
    }

    /// Every alert's record can be read.
    fn with_subject(mut self) -> FakeOutbox {
        let subject = Subject {
            record: record(),
            run: None,
            integration: None,
        };
        self.subjects.push((RecordKind::Error, RECORD, subject));
        self
    }

    fn with_secret(mut self, contact: i64, secret: &str) -> FakeOutbox {
        self.secrets.push((contact, secret.into()));
        self
    }

    /// The attempts recorded, by delivery id (the sends of a round finish in any order).
    fn recorded(&self) -> Vec<Recorded> {
        let mut recorded = self.recorded.lock().unwrap().clone();
        recorded.sort_by_key(|r| r.id);
        recorded
    }
}

#[async_trait]
impl OutboxStore for FakeOutbox {
    async fn delivery(&self, id: i64) -> Result<Delivery> {
        Err(Error::NotFound(format!("not in the fake: delivery {id}")))
    }

    async fn deliveries(&self, _query: &Query) -> Result<Page<Delivery>> {
        Err(Error::Internal("not in the fake: deliveries".into()))
    }

    async fn claim_deliveries(
        &self,
        _now: Timestamp,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        self.claims.lock().unwrap().push((lease, limit));
        let mut due = self.due.lock().unwrap();
        let take = due.len().min(usize::try_from(limit).unwrap_or(0));
        Ok(due.drain(..take).collect())
    }

    async fn record_attempt(
        &self,
        id: i64,
        status: DeliveryStatus,
        attempt: &Attempt,
        next_attempt_at: Option<Timestamp>,
    ) -> Result<()> {
        self.recorded.lock().unwrap().push(Recorded {
            id,
            status,
            attempt: attempt.clone(),
            next_attempt_at,
        });
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<Timestamp>> {
        Ok(None)
    }

    async fn subject(&self, kind: RecordKind, record_id: i64) -> Result<Subject> {
        self.subjects
            .iter()
            .find(|(k, id, _)| *k == kind && *id == record_id)
            .map(|(_, _, subject)| subject.clone())
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "Couldn't find {} with id={record_id}",
                    kind.class()
                ))
            })
    }

    async fn webhook_secret(&self, recipient: Recipient) -> Result<String> {
        let Recipient::Contact(contact_id) = recipient else {
            return Err(Error::NotFound("not in the fake: subscriptions".into()));
        };
        self.secrets_read.lock().unwrap().push(contact_id);
        Ok(self
            .secrets
            .iter()
            .find(|(id, _)| *id == contact_id)
            .map(|(_, secret)| secret.clone())
            .unwrap_or_default())
    }

    async fn event(&self, id: i64) -> Result<(Event, Option<Change>)> {
        Err(Error::NotFound(format!("not in the fake: event {id}")))
    }
}

fn at() -> Timestamp {
    time::parse("2026-11-28T10:00:00Z").unwrap()
}

fn record() -> Record {
    let fields = RecordFields {
        contact_alert_type: Some(Some(ContactAlertType::Technical)),
        ..RecordFields::default()
    };
    let mut record = Record::new(&fields, None, false, at(), None).unwrap();
    record.id = RECORD;
    record
}

/// A pending delivery of the record's alert that has been tried `attempts` times.
fn delivery(id: i64, channel: Channel, target: &str, attempts: i64) -> Delivery {
    Delivery {
        id,
        recipient: Recipient::Contact(CONTACT),
        integration_id: None,
        record_type: Carried::IntegrationError,
        record_id: RECORD,
        channel,
        target: target.into(),
        status: DeliveryStatus::Pending,
        attempts,
        next_attempt_at: Some(at()),
        last_error: None,
        response_code: None,
        delivered_at: None,
        created_at: at(),
        updated_at: at(),
    }
}

fn dispatcher(outbox: &Arc<FakeOutbox>, settings: AlertSettings) -> Dispatcher {
    Dispatcher::new(outbox.clone(), &settings).unwrap()
}

/// The defaults: no SMTP server, webhooks to public addresses only.
fn defaults() -> AlertSettings {
    AlertSettings::default()
}

fn undeliverable_error(recorded: &Recorded) -> &str {
    match &recorded.attempt {
        Attempt::Undeliverable { error } => error,
        other => panic!("not undeliverable: {other:?}"),
    }
}

#[tokio::test]
async fn an_email_without_an_smtp_server_is_undeliverable_and_never_retried() {
    let outbox = Arc::new(
        FakeOutbox::new(vec![delivery(1, Channel::Email, "ops@example.com", 0)]).with_subject(),
    );
    let dispatcher = dispatcher(&outbox, defaults());

    assert_eq!(dispatcher.round().await.unwrap(), 1);
    assert_eq!(*outbox.claims.lock().unwrap(), [(LEASE, BATCH)]);
    assert_eq!(
        outbox.recorded(),
        [Recorded {
            id: 1,
            status: DeliveryStatus::Undeliverable,
            attempt: Attempt::Undeliverable {
                error: "no SMTP server is configured (--smtp-url)".into()
            },
            next_attempt_at: None,
        }]
    );
    // Nothing is left to send, and nothing is sent again.
    assert_eq!(dispatcher.round().await.unwrap(), 0);
    assert_eq!(outbox.recorded().len(), 1);
}

#[tokio::test]
async fn a_webhook_to_a_loopback_or_private_address_is_refused_before_it_is_signed_or_sent() {
    let targets = [
        "http://127.0.0.1:9/hook",
        "http://[::1]:9/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
    ];
    let due = (1..)
        .zip(targets)
        .map(|(id, url)| delivery(id, Channel::Webhook, url, 0))
        .collect();
    let outbox = Arc::new(
        FakeOutbox::new(due)
            .with_subject()
            .with_secret(CONTACT, "s3cret"),
    );
    let dispatcher = dispatcher(&outbox, defaults());

    assert_eq!(dispatcher.round().await.unwrap(), targets.len());
    let recorded = outbox.recorded();
    assert_eq!(recorded.len(), targets.len());
    for recorded in &recorded {
        assert_eq!(
            recorded.status,
            DeliveryStatus::Undeliverable,
            "{recorded:?}"
        );
        assert_eq!(recorded.next_attempt_at, None);
        let error = undeliverable_error(recorded);
        assert!(error.starts_with("refused: "), "{error}");
        assert!(
            error.ends_with("(allowed only when the server runs with --allow-private-webhooks)")
        );
    }
    assert_eq!(
        undeliverable_error(&recorded[0]),
        "refused: 127.0.0.1 is a loopback address \
         (allowed only when the server runs with --allow-private-webhooks)"
    );
    assert!(undeliverable_error(&recorded[2]).contains("10.1.2.3 is a private address"));
    // The guard stopped each one before the secret was read to sign it, so before any send.
    assert!(outbox.secrets_read.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_webhook_to_a_metadata_address_is_refused_even_when_private_ones_are_allowed() {
    let url = "http://169.254.169.254/latest/meta-data/";
    let outbox =
        Arc::new(FakeOutbox::new(vec![delivery(1, Channel::Webhook, url, 0)]).with_subject());
    let settings = AlertSettings {
        allow_private_webhooks: true,
        ..defaults()
    };
    dispatcher(&outbox, settings).round().await.unwrap();

    let recorded = outbox.recorded();
    assert_eq!(recorded[0].status, DeliveryStatus::Undeliverable);
    assert_eq!(
        undeliverable_error(&recorded[0]),
        "refused: 169.254.169.254 is a link-local address, where cloud metadata services answer"
    );
    assert!(outbox.secrets_read.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_webhook_to_a_name_that_resolves_to_loopback_is_refused_by_the_resolver() {
    // Port 9 has no listener: were the connection made, the attempt would fail and be retried.
    let url = "http://localhost:9/hook";
    let outbox =
        Arc::new(FakeOutbox::new(vec![delivery(1, Channel::Webhook, url, 0)]).with_subject());
    dispatcher(&outbox, defaults()).round().await.unwrap();

    let recorded = outbox.recorded();
    assert_eq!(
        recorded[0].status,
        DeliveryStatus::Undeliverable,
        "{recorded:?}"
    );
    assert_eq!(recorded[0].next_attempt_at, None);
    let error = undeliverable_error(&recorded[0]);
    assert!(
        error.starts_with("refused: localhost resolves to "),
        "{error}"
    );
}

#[tokio::test]
async fn an_alert_whose_subject_cannot_be_read_is_retried_with_backoff() {
    // No subject: the record cannot be read, so the alert cannot be built. Two attempts have
    // failed before, so the third waits the base twice doubled, spread by ±25 %.
    let outbox = Arc::new(FakeOutbox::new(vec![delivery(
        1,
        Channel::Email,
        "ops@example.com",
        2,
    )]));
    let base = Duration::from_secs(60);
    let settings = AlertSettings {
        retry_base: base,
        ..defaults()
    };
    let dispatcher = dispatcher(&outbox, settings);

    let before = time::now();
    dispatcher.round().await.unwrap();
    let after = time::now();

    let recorded = outbox.recorded();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].status, DeliveryStatus::Pending);
    assert_eq!(
        recorded[0].attempt,
        Attempt::Failed {
            error: format!(
                "cannot build the alert: Couldn't find IntegrationError with id={RECORD}"
            ),
            response_code: None,
        }
    );
    let next = recorded[0].next_attempt_at.expect("a time to try again");
    let wait = chrono::Duration::from_std(base * 4).unwrap();
    assert!(next >= before + wait * 3 / 4, "{next} is too early");
    assert!(next <= after + wait * 5 / 4, "{next} is too late");
}

#[tokio::test]
async fn an_alert_that_fails_its_last_allowed_attempt_is_given_up() {
    let outbox = Arc::new(FakeOutbox::new(vec![delivery(
        1,
        Channel::Email,
        "ops@example.com",
        MAX_ATTEMPTS - 1,
    )]));
    dispatcher(&outbox, defaults()).round().await.unwrap();

    let recorded = outbox.recorded();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].status, DeliveryStatus::Failed);
    assert!(matches!(recorded[0].attempt, Attempt::Failed { .. }));
    assert_eq!(recorded[0].next_attempt_at, None, "no time to try again");
}

/// One request the loopback receiver got.
type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn receive(State(received): State<Received>, headers: HeaderMap, body: Bytes) -> StatusCode {
    received.lock().unwrap().push((headers, body));
    StatusCode::NO_CONTENT
}

#[tokio::test]
async fn a_webhook_is_signed_with_its_contacts_secret_and_recorded_as_delivered() {
    let received = Received::default();
    let receiver = axum::Router::new()
        .fallback(receive)
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let outbox = Arc::new(
        FakeOutbox::new(vec![delivery(5, Channel::Webhook, &url, 1)])
            .with_subject()
            .with_secret(CONTACT, "the contact's secret"),
    );
    // The receiver is on loopback, which only the opt-in lets a webhook reach.
    let settings = AlertSettings {
        allow_private_webhooks: true,
        ..defaults()
    };
    dispatcher(&outbox, settings).round().await.unwrap();

    assert_eq!(
        outbox.recorded(),
        [Recorded {
            id: 5,
            status: DeliveryStatus::Delivered,
            attempt: Attempt::Delivered {
                response_code: Some(204)
            },
            next_attempt_at: None,
        }]
    );
    assert_eq!(*outbox.secrets_read.lock().unwrap(), [CONTACT]);
    let received = received.lock().unwrap();
    let [(headers, body)] = received.as_slice() else {
        panic!("{} requests", received.len());
    };
    assert_eq!(
        headers["x-runledger-signature"],
        format!("sha256={}", sign("the contact's secret", body)).as_str()
    );
    assert_eq!(headers["x-runledger-delivery"], "5");
    assert_eq!(headers["x-runledger-attempt"], "2");
    let payload: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(payload["event"], "integration_error.alert");
    assert_eq!(payload["delivery-id"], 5);
    assert_eq!(payload["integration-error"]["id"], RECORD);
}
