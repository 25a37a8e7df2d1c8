//! API clients (OAuth clients and legacy API keys) and the token signing key.

use async_trait::async_trait;

use super::backend::{Backend, SqlStore};
use super::exec::query;
use super::{ClientStore, on_unique, rows, sql};
use crate::domain::clients::{self, Client, ClientKind, NewClient};
use crate::error::{Error, Result};
use crate::time;

/// The unique key of a client's login (SQLite names the column, PostgreSQL the constraint).
const KEYS: &[(&str, &str)] = &[
    ("api_clients.login", clients::NAME_TAKEN),
    ("api_clients_login_key", clients::NAME_TAKEN),
];

#[async_trait]
impl<B: Backend> ClientStore for SqlStore<B> {
    async fn create_client(&self, new: NewClient) -> Result<Client> {
        let now = time::now();
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let id: i64 = query(sql::INSERT_CLIENT)
                        .bind(&new.login)
                        .bind(new.kind.as_str())
                        .bind(&new.client_id)
                        .bind(new.secret_hash.as_slice())
                        .bind(new.scopes.to_string())
                        .bind(now)
                        .bind(new.require_if_match)
                        .scalar(tx)
                        .await
                        .map_err(|e| on_unique(e, KEYS))?;
                    Ok(Client {
                        id,
                        login: new.login,
                        kind: new.kind,
                        client_id: new.client_id,
                        scopes: new.scopes,
                        created_at: now,
                        revoked_at: None,
                        require_if_match: new.require_if_match,
                    })
                })
            })
            .await
    }

    async fn clients(&self, kind: ClientKind) -> Result<Vec<Client>> {
        self.db
            .read(move |conn| {
                Box::pin(async move {
                    let sql = format!("{} WHERE kind = $1 ORDER BY id", sql::SELECT_CLIENTS);
                    let rows = query(&sql).bind(kind.as_str()).fetch_all(conn).await?;
                    rows.iter().map(rows::client).collect()
                })
            })
            .await
    }

    async fn revoke_client(&self, kind: ClientKind, key: &str) -> Result<Client> {
        let key = key.to_owned();
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let id: Option<i64> = query(sql::REVOKE_CLIENT)
                        .bind(kind.as_str())
                        .bind(&key)
                        .bind(time::now())
                        .scalar_optional(&mut *tx)
                        .await?;
                    let id = id.ok_or_else(|| {
                        Error::NotFound(format!("No {} with id {key}", kind.as_str()))
                    })?;
                    let sql = format!("{} WHERE id = $1", sql::SELECT_CLIENTS);
                    rows::client(&query(&sql).bind(id).fetch_one(tx).await?)
                })
            })
            .await
    }

    async fn client(&self, id: i64) -> Result<Option<Client>> {
        self.db
            .read(move |conn| {
                Box::pin(async move {
                    let sql = format!("{} WHERE id = $1", sql::SELECT_CLIENTS);
                    let row = query(&sql).bind(id).fetch_optional(conn).await?;
                    row.as_ref().map(rows::client).transpose()
                })
            })
            .await
    }

    async fn client_by_client_id(&self, client_id: &str) -> Result<Option<(Client, Vec<u8>)>> {
        let client_id = client_id.to_owned();
        self.db
            .read(move |conn| {
                Box::pin(async move {
                    let sql = format!(
                        "{} WHERE client_id = $1",
                        sql::SELECT_CLIENTS.replace(" FROM", ", secret_hash FROM")
                    );
                    let row = query(&sql).bind(&client_id).fetch_optional(conn).await?;
                    row.map(|row| Ok((rows::client(&row)?, row.get("secret_hash")?)))
                        .transpose()
                })
            })
            .await
    }

    async fn client_by_secret_hash(&self, hash: &[u8]) -> Result<Option<Client>> {
        let hash = hash.to_vec();
        self.db
            .read(move |conn| {
                Box::pin(async move {
                    let sql = format!("{} WHERE secret_hash = $1", sql::SELECT_CLIENTS);
                    let row = query(&sql).bind(hash).fetch_optional(conn).await?;
                    row.as_ref().map(rows::client).transpose()
                })
            })
            .await
    }

    async fn signing_key(&self, fresh: Vec<u8>) -> Result<Vec<u8>> {
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    query(sql::INSERT_SIGNING_KEY)
                        .bind(fresh)
                        .bind(time::now())
                        .execute(&mut *tx)
                        .await?;
                    query(sql::SELECT_SIGNING_KEY).scalar(tx).await
                })
            })
            .await
    }
}
