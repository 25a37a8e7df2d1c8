//! Idempotency keys: each key one row, taken for a request in a transaction of its own, then
//! given the request's answer or freed. What a row found means is the domain's
//! [`standing`]; the store writes under a condition on the row it read (its id and when it was
//! taken), so a request whose key was taken over can neither store nor free it. The SQL, which
//! both backends run as written, is kept here, beside the one resource that uses it.

use async_trait::async_trait;

use super::IdempotencyStore;
use super::backend::{Backend, SqlStore};
use super::exec::{Executor, Row, query};
use crate::domain::idempotency::{
    Answer, Fingerprint, Held, Identity, Rules, Standing, Taking, Ticket, standing,
};
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// Takes a key that no row holds; no row back when one does (its unique key).
const INSERT_KEY: &str = "\
    INSERT INTO idempotency_keys (client_id, method, path, idempotency_key, taken_at) \
    VALUES ($1, $2, $3, $4, $5) \
    ON CONFLICT (client_id, method, path, idempotency_key) DO NOTHING RETURNING id";

/// The row that holds a key, from `idempotency_keys t0`.
const SELECT_KEY: &str = "\
    SELECT t0.id, t0.taken_at, t0.status, t0.fingerprint, t0.content_type, t0.body, \
    t0.messages FROM idempotency_keys t0 \
    WHERE t0.client_id = $1 AND t0.method = $2 AND t0.path = $3 AND t0.idempotency_key = $4";

/// Takes over row `$1`, taken at `$2`, as a new request's at `$3`.
const RETAKE_KEY: &str = "\
    UPDATE idempotency_keys SET taken_at = $3, status = NULL, fingerprint = NULL, \
    content_type = NULL, body = NULL, messages = NULL WHERE id = $1 AND taken_at = $2";

const STORE_ANSWER: &str = "\
    UPDATE idempotency_keys SET status = $3, fingerprint = $4, content_type = $5, body = $6, \
    messages = $7 WHERE id = $1 AND taken_at = $2 AND status IS NULL";

const FREE_KEY: &str = "\
    DELETE FROM idempotency_keys WHERE id = $1 AND taken_at = $2 AND status IS NULL";

/// The oldest `$2` keys taken at or before `$1`, through the index on `taken_at`.
const DELETE_KEYS_TAKEN_BY: &str = "\
    DELETE FROM idempotency_keys WHERE id IN \
    (SELECT id FROM idempotency_keys WHERE taken_at <= $1 ORDER BY taken_at LIMIT $2)";

#[async_trait]
impl<B: Backend> IdempotencyStore for SqlStore<B> {
    async fn take_key(&self, identity: Identity, now: Timestamp, rules: Rules) -> Result<Taking> {
        self.db
            .write(move |tx| Box::pin(take(tx, identity, now, rules)))
            .await
    }

    async fn store_answer(
        &self,
        ticket: Ticket,
        fingerprint: Fingerprint,
        answer: Answer,
    ) -> Result<bool> {
        let messages = answer
            .messages
            .as_ref()
            .map(|m| serde_json::Value::from(m.clone()).to_string());
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let stored = query(STORE_ANSWER)
                        .bind(ticket.id)
                        .bind(ticket.taken_at)
                        .bind(i64::from(answer.status))
                        .bind(fingerprint.0.as_slice())
                        .bind(answer.content_type)
                        .bind(answer.body)
                        .bind(messages)
                        .execute(tx)
                        .await?;
                    Ok(stored == 1)
                })
            })
            .await
    }

    async fn free_key(&self, ticket: Ticket) -> Result<()> {
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    query(FREE_KEY)
                        .bind(ticket.id)
                        .bind(ticket.taken_at)
                        .execute(tx)
                        .await
                        .map(drop)
                })
            })
            .await
    }

    async fn delete_keys_taken_by(&self, taken_by: Timestamp, limit: i64) -> Result<u64> {
        self.db
            .write(move |tx| {
                Box::pin(
                    query(DELETE_KEYS_TAKEN_BY)
                        .bind(taken_by)
                        .bind(limit)
                        .execute(tx),
                )
            })
            .await
    }
}

/// Takes `identity`'s key at `now` in the transaction `tx`, or says what holds it.
async fn take<C: Executor>(
    tx: &mut C,
    identity: Identity,
    now: Timestamp,
    rules: Rules,
) -> Result<Taking> {
    let Identity {
        client_id,
        method,
        path,
        key,
    } = identity;
    let inserted: Option<i64> = query(INSERT_KEY)
        .bind(client_id)
        .bind(&method)
        .bind(&path)
        .bind(key.as_str())
        .bind(now)
        .scalar_optional(tx)
        .await?;
    if let Some(id) = inserted {
        return Ok(Taking::Taken(Ticket { id, taken_at: now }));
    }
    let select = format!("{SELECT_KEY}{}", C::ROW_LOCK);
    let row = query(&select)
        .bind(client_id)
        .bind(&method)
        .bind(&path)
        .bind(key.as_str())
        .fetch_optional(tx)
        .await?;
    // Deleted since the insert met it: expired a moment ago. The client's retry takes it.
    let Some(row) = row else {
        return Ok(Taking::InFlight);
    };
    let id: i64 = row.get("id")?;
    let taken_at: Timestamp = row.get("taken_at")?;
    let status: Option<i64> = row.get("status")?;
    let held = Held {
        taken_at,
        answered: status.is_some(),
    };
    match standing(held, now, &rules) {
        Standing::InFlight => Ok(Taking::InFlight),
        Standing::Answered => answered(&row),
        Standing::Free => {
            let retaken = query(RETAKE_KEY)
                .bind(id)
                .bind(taken_at)
                .bind(now)
                .execute(tx)
                .await?;
            Ok(if retaken == 1 {
                Taking::Taken(Ticket { id, taken_at: now })
            } else {
                Taking::InFlight
            })
        }
    }
}

/// The answer an answered key's row holds.
fn answered(row: &Row) -> Result<Taking> {
    let status: i64 = row.get("status")?;
    let fingerprint: Vec<u8> = row.get("fingerprint")?;
    let messages: Option<String> = row.get("messages")?;
    let corrupt = |what: &str| Error::Internal(format!("an idempotency key's {what} is corrupt"));
    let messages = messages
        .map(|text| serde_json::from_str::<Vec<String>>(&text))
        .transpose()
        .map_err(|_| corrupt("messages"))?;
    Ok(Taking::Answered {
        fingerprint: Fingerprint::from_slice(&fingerprint).ok_or_else(|| corrupt("fingerprint"))?,
        answer: Answer {
            status: u16::try_from(status).map_err(|_| corrupt("status"))?,
            content_type: row.get("content_type")?,
            body: row.get::<Option<Vec<u8>>>("body")?.unwrap_or_default(),
            messages,
        },
    })
}
