//! Idempotency keys: each key one row, taken in the first write of the request that brings
//! it, in that write's own transaction ([`super::claim`]), and given the request's answer
//! after, or taken with its answer by a request that answered without a write. What a row
//! found means is the domain's [`standing`](crate::domain::idempotency::standing); the SQL
//! conditions say the same. The SQL, which both backends run as written, is kept here and
//! in [`super::claim`], beside the one resource that uses it.

use async_trait::async_trait;

use super::IdempotencyStore;
use super::backend::{Backend, SqlStore};
use super::claim::bind_key;
use super::exec::{Row, Statement, query};
use crate::domain::idempotency::{self, Answer, Fingerprint, Identity, Rules, Ticket};
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// [`super::claim`]'s statement with the answer ($8 to $12), for a request that answered without a write.
const TAKE_KEY_ANSWERED: &str = "\
    INSERT INTO idempotency_keys AS k (client_id, method, path, idempotency_key, taken_at, \
    status, fingerprint, content_type, body, messages) \
    VALUES ($1, $2, $3, $4, $5, $8, $9, $10, $11, $12) \
    ON CONFLICT (client_id, method, path, idempotency_key) DO UPDATE SET \
    taken_at = excluded.taken_at, status = excluded.status, \
    fingerprint = excluded.fingerprint, content_type = excluded.content_type, \
    body = excluded.body, messages = excluded.messages \
    WHERE k.taken_at <= $6 OR (k.status IS NOT NULL AND k.taken_at <= $7)";

/// The row that holds a key, from `idempotency_keys t0`.
const SELECT_KEY: &str = "\
    SELECT t0.taken_at, t0.status, t0.fingerprint, t0.content_type, t0.body, t0.messages \
    FROM idempotency_keys t0 \
    WHERE t0.client_id = $1 AND t0.method = $2 AND t0.path = $3 AND t0.idempotency_key = $4";

/// A ticket's row: the key `$1` to `$4`, taken at `$5` and not yet answered.
const TICKET: &str = "client_id = $1 AND method = $2 AND path = $3 AND idempotency_key = $4 \
    AND taken_at = $5 AND status IS NULL";

/// Of the `$2` oldest keys by id (the order they were first taken in), those taken at or
/// before `$1`. A key taken over after its TTL keeps its old id and a new `taken_at`: it is
/// passed over until it expires in turn, and the keys behind it are still reached.
const DELETE_KEYS_TAKEN_BY: &str = "\
    DELETE FROM idempotency_keys WHERE id IN (SELECT oldest.id FROM \
    (SELECT id, taken_at FROM idempotency_keys ORDER BY id LIMIT $2) oldest \
    WHERE oldest.taken_at <= $1)";

/// Binds a ticket's row: `$1` to `$5` of [`TICKET`].
fn bind_ticket<'q>(statement: Statement<'q>, ticket: &Ticket) -> Statement<'q> {
    let Ticket { identity, taken_at } = ticket;
    statement
        .bind(identity.client_id)
        .bind(identity.method.as_str())
        .bind(identity.path.as_str())
        .bind(identity.key.as_str())
        .bind(*taken_at)
}

/// Binds an answer and the fingerprint of its request, the next five parameters.
fn bind_answer<'q>(
    statement: Statement<'q>,
    fingerprint: &Fingerprint,
    answer: Answer,
    messages: Option<String>,
) -> Statement<'q> {
    statement
        .bind(i64::from(answer.status))
        .bind(fingerprint.0.as_slice())
        .bind(answer.content_type)
        .bind(answer.body)
        .bind(messages)
}

fn messages_json(answer: &Answer) -> Option<String> {
    answer
        .messages
        .as_ref()
        .map(|m| serde_json::Value::from(m.clone()).to_string())
}

#[async_trait]
impl<B: Backend> IdempotencyStore for SqlStore<B> {
    async fn key_row(&self, identity: Identity) -> Result<Option<idempotency::Row>> {
        self.db
            .read(move |conn| {
                Box::pin(async move {
                    let row = query(SELECT_KEY)
                        .bind(identity.client_id)
                        .bind(identity.method.as_str())
                        .bind(identity.path.as_str())
                        .bind(identity.key.as_str())
                        .fetch_optional(conn)
                        .await?;
                    row.map(|row| key_row(&row)).transpose()
                })
            })
            .await
    }

    async fn keep_answer(
        &self,
        identity: Identity,
        now: Timestamp,
        rules: Rules,
        fingerprint: Fingerprint,
        answer: Answer,
    ) -> Result<bool> {
        let messages = messages_json(&answer);
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let taking = bind_key(query(TAKE_KEY_ANSWERED), &identity, now, &rules);
                    let kept = bind_answer(taking, &fingerprint, answer, messages)
                        .execute(tx)
                        .await?;
                    Ok(kept == 1)
                })
            })
            .await
    }

    async fn store_answers(&self, answers: Vec<(Ticket, Fingerprint, Answer)>) -> Result<usize> {
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let store = format!(
                        "UPDATE idempotency_keys SET status = $6, fingerprint = $7, \
                         content_type = $8, body = $9, messages = $10 WHERE {TICKET}"
                    );
                    let mut stored = 0;
                    for (ticket, fingerprint, answer) in answers {
                        let messages = messages_json(&answer);
                        let row = bind_ticket(query(&store), &ticket);
                        stored += bind_answer(row, &fingerprint, answer, messages)
                            .execute(tx)
                            .await?;
                    }
                    Ok(stored as usize)
                })
            })
            .await
    }

    async fn free_key(&self, ticket: Ticket) -> Result<()> {
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let free = format!("DELETE FROM idempotency_keys WHERE {TICKET}");
                    bind_ticket(query(&free), &ticket)
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

/// A key's row as read by [`SELECT_KEY`].
fn key_row(row: &Row) -> Result<idempotency::Row> {
    let status: Option<i64> = row.get("status")?;
    let taken_at: Timestamp = row.get("taken_at")?;
    let Some(status) = status else {
        return Ok(idempotency::Row {
            taken_at,
            answer: None,
        });
    };
    let fingerprint: Vec<u8> = row.get("fingerprint")?;
    let messages: Option<String> = row.get("messages")?;
    let corrupt = |what: &str| Error::Internal(format!("an idempotency key's {what} is corrupt"));
    let messages = messages
        .map(|text| serde_json::from_str::<Vec<String>>(&text))
        .transpose()
        .map_err(|_| corrupt("messages"))?;
    let answer = Answer {
        status: u16::try_from(status).map_err(|_| corrupt("status"))?,
        content_type: row.get("content_type")?,
        body: row.get::<Option<Vec<u8>>>("body")?.unwrap_or_default(),
        messages,
    };
    let fingerprint =
        Fingerprint::from_slice(&fingerprint).ok_or_else(|| corrupt("fingerprint"))?;
    Ok(idempotency::Row {
        taken_at,
        answer: Some((fingerprint, answer)),
    })
}
