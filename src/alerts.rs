//! The alert dispatcher: works off the outbox (`alert_deliveries`) in the background.
//!
//! Alerts are written to the outbox in the transaction that files the record, so an alert
//! exists exactly when its record does; the API request never waits for a delivery. The
//! dispatcher leases due rows (so that nodes sharing a database never send the same one
//! twice at once), sends them, and records each attempt: delivered, retried later with
//! exponential backoff and jitter, given up after [`MAX_ATTEMPTS`], or undeliverable. A lease
//! that outlives its node (a crash mid-send) expires and the row is sent again: delivery is
//! at least once, and receivers can tell repeats by `X-Runledger-Delivery`. Webhooks reach
//! public addresses only, unless the settings allow private ones ([`crate::egress`]).

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::Sha256;
use tokio::sync::{Notify, watch};

use crate::config::{AlertSettings, PublicUrl};
use crate::domain::alerts::{Attempt, Channel, Delivery, DeliveryStatus, MAX_ATTEMPTS, backoff};
use crate::domain::records::RecordKind;
use crate::egress::{self, GuardedResolver};
use crate::error::{Error, Result};
use crate::store::{OutboxStore, Subject};
use crate::time;
use crate::view::{self, render};

/// How long a claimed delivery is reserved for the node that claimed it.
const LEASE: Duration = Duration::from_secs(60);
/// How many deliveries one round sends at once.
const BATCH: i64 = 16;
/// How long the dispatcher sleeps at most between looks at the outbox.
const IDLE: Duration = Duration::from_secs(1);
/// How long a webhook receiver may take to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Dispatcher {
    sender: Arc<Sender>,
    wake: Notify,
}

impl Dispatcher {
    pub fn new(store: Arc<dyn OutboxStore>, settings: &AlertSettings) -> Result<Dispatcher> {
        let allow_private = settings.allow_private_webhooks;
        // Every name is resolved and checked by the guard, and connected to at the addresses it
        // checked. A redirect would lead elsewhere unchecked, and a proxy would connect on our
        // behalf to wherever it is told: neither is used.
        let http = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .user_agent(concat!("runledger/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Internal(format!("cannot build the webhook client: {e}")))?;
        let smtp = match &settings.smtp_url {
            None => None,
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| Error::Internal(format!("invalid --smtp-url: {e}")))?
                    .build();
                let from = settings
                    .smtp_from
                    .parse()
                    .map_err(|e| Error::Internal(format!("invalid --smtp-from: {e}")))?;
                Some((transport, from))
            }
        };
        let sender = Sender {
            store,
            http,
            smtp,
            retry_base: settings.retry_base,
            allow_private,
            public_url: settings.public_url.clone(),
        };
        Ok(Dispatcher {
            sender: Arc::new(sender),
            wake: Notify::new(),
        })
    }

    /// Tells the dispatcher that new deliveries are waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Works off the outbox until `stop` turns true.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            let sent = match self.round().await {
                Ok(sent) => sent,
                Err(error) => {
                    tracing::error!(%error, "alert dispatch failed");
                    0
                }
            };
            if sent > 0 {
                continue;
            }
            let wait = match self.sender.store.next_due().await {
                Ok(Some(due)) => (due - time::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(IDLE),
                Ok(None) => IDLE,
                Err(error) => {
                    tracing::warn!(%error, "cannot read when the next delivery is due");
                    IDLE
                }
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Sends what is due; answers how many deliveries it attempted.
    async fn round(&self) -> Result<usize> {
        let due = self
            .sender
            .store
            .claim_deliveries(time::now(), LEASE, BATCH)
            .await?;
        let count = due.len();
        let mut sends = tokio::task::JoinSet::new();
        for delivery in due {
            let this = self.sender.clone();
            sends.spawn(async move {
                let attempt = this.attempt(&delivery).await;
                this.record(&delivery, attempt).await
            });
        }
        while let Some(result) = sends.join_next().await {
            if let Ok(Err(error)) = result {
                tracing::error!(%error, "recording a delivery attempt failed");
            }
        }
        Ok(count)
    }
}

/// What one send needs, shared with its task.
struct Sender {
    store: Arc<dyn OutboxStore>,
    http: reqwest::Client,
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
    retry_base: Duration,
    allow_private: bool,
    /// The root of the links in emails (`--public-url`).
    public_url: Option<PublicUrl>,
}

impl Sender {
    async fn attempt(&self, delivery: &Delivery) -> Attempt {
        let Some(kind) = delivery.record_type.record_kind() else {
            // An event, to a subscription: the event as the stream shows it.
            return match self.store.event(delivery.record_id).await {
                Ok((event, change)) => {
                    let body = render::json(&view::events::node(&event, change.as_ref()));
                    self.webhook(delivery, body).await
                }
                Err(error) => Attempt::Failed {
                    error: format!("cannot build the event: {error}"),
                    response_code: None,
                },
            };
        };
        let subject = match self.store.subject(kind, delivery.record_id).await {
            Ok(subject) => subject,
            Err(error) => {
                return Attempt::Failed {
                    error: format!("cannot build the alert: {error}"),
                    response_code: None,
                };
            }
        };
        match delivery.channel {
            Channel::Webhook => {
                self.webhook(delivery, payload(kind, delivery, &subject))
                    .await
            }
            Channel::Email => self.email(kind, delivery, &subject).await,
        }
    }

    async fn record(&self, delivery: &Delivery, attempt: Attempt) -> Result<()> {
        let attempt = attempt.storable();
        let attempts = delivery.attempts + 1;
        let (status, next) = match &attempt {
            Attempt::Delivered { .. } => (DeliveryStatus::Delivered, None),
            Attempt::Undeliverable { .. } => (DeliveryStatus::Undeliverable, None),
            Attempt::Failed { .. } if attempts >= MAX_ATTEMPTS => (DeliveryStatus::Failed, None),
            Attempt::Failed { .. } => {
                let wait = backoff(self.retry_base, attempts, jitter());
                (
                    DeliveryStatus::Pending,
                    Some(time::now() + time::elapsed(wait)),
                )
            }
        };
        tracing::info!(
            delivery = delivery.id,
            channel = delivery.channel.as_str(),
            attempts,
            status = status.as_str(),
            "alert delivery attempted"
        );
        self.store
            .record_attempt(delivery.id, status, &attempt, next)
            .await
    }

    async fn webhook(&self, delivery: &Delivery, body: String) -> Attempt {
        // IP literals are connected to without resolution, so the resolver never sees them.
        let url = match egress::check_url(&delivery.target, self.allow_private) {
            Ok(url) => url,
            Err(refusal) => return refused(&refusal),
        };
        let secret = match self.store.webhook_secret(delivery.recipient).await {
            Ok(secret) => secret,
            Err(error) => {
                return Attempt::Failed {
                    error: format!("cannot read the signing key: {error}"),
                    response_code: None,
                };
            }
        };
        let signature = sign(&secret, body.as_bytes());
        let sent = self
            .http
            .post(url)
            .header("Content-Type", "application/json")
            .header("X-Runledger-Signature", format!("sha256={signature}"))
            .header("X-Runledger-Delivery", delivery.id.to_string())
            .header("X-Runledger-Attempt", (delivery.attempts + 1).to_string())
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => Attempt::Delivered {
                response_code: Some(i64::from(response.status().as_u16())),
            },
            Ok(response) if response.status().is_redirection() => Attempt::Failed {
                error: format!(
                    "the receiver answered {} (redirects are not followed)",
                    response.status()
                ),
                response_code: Some(i64::from(response.status().as_u16())),
            },
            Ok(response) => Attempt::Failed {
                error: format!("the receiver answered {}", response.status()),
                response_code: Some(i64::from(response.status().as_u16())),
            },
            Err(error) => match egress::find_refusal(&error) {
                Some(refusal) => refused(refusal),
                None => Attempt::Failed {
                    error: format!("cannot reach the receiver: {error}"),
                    response_code: None,
                },
            },
        }
    }

    async fn email(&self, kind: RecordKind, delivery: &Delivery, subject: &Subject) -> Attempt {
        let Some((transport, from)) = &self.smtp else {
            return Attempt::Undeliverable {
                error: "no SMTP server is configured (--smtp-url)".into(),
            };
        };
        let to: Mailbox = match delivery.target.parse() {
            Ok(to) => to,
            Err(e) => {
                return Attempt::Undeliverable {
                    error: format!("invalid address: {e}"),
                };
            }
        };
        let email = view::email::email(
            kind,
            &subject.record,
            subject.run.as_ref(),
            subject.integration(),
            self.public_url.as_ref().map(PublicUrl::as_str),
        );
        // The subject holds no line break (the view makes it one line), and lettre encodes
        // what is not ASCII; both parts are UTF-8, text first as multipart/alternative asks.
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(email.subject)
            .multipart(MultiPart::alternative_plain_html(email.text, email.html));
        let message = match message {
            Ok(message) => message,
            Err(e) => {
                return Attempt::Undeliverable {
                    error: format!("cannot build the message: {e}"),
                };
            }
        };
        match transport.send(message).await {
            Ok(response) => Attempt::Delivered {
                response_code: Some(i64::from(u16::from(response.code()))),
            },
            Err(e) => Attempt::Failed {
                error: format!("SMTP: {e}"),
                response_code: None,
            },
        }
    }
}

/// The alert as JSON: the integration, the run, the record and its responses, as the API
/// shows them now.
fn payload(kind: RecordKind, delivery: &Delivery, subject: &Subject) -> String {
    let payload = view::alerts::payload(
        kind,
        delivery.id,
        &subject.record,
        subject.run.as_ref(),
        subject.integration(),
    );
    render::json(&payload)
}

/// A webhook the guard stopped: no later attempt would fare better, so it is not retried.
fn refused(refusal: &egress::Refusal) -> Attempt {
    tracing::warn!(%refusal, "webhook refused");
    Attempt::Undeliverable {
        error: format!("refused: {refusal}{}", refusal.hint()),
    }
}

/// The hex HMAC-SHA256 of `body` under `secret`: what `X-Runledger-Signature` carries.
pub fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A number in [0, 1) for spreading retries.
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests;
