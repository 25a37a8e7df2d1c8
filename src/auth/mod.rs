//! Authentication and authorization (spec §5): OAuth 2.0 client credentials, legacy API
//! keys, scopes and throttling.
//!
//! Tokens are verified by signature alone ([`token`]). What a token cannot say by itself —
//! whether its client has since been revoked, or lost a scope — comes from a small cache of
//! client rows (API keys too) that is re-read from the database at most once a second per
//! client, so a revocation made by any node (or by `runledger clients revoke`) takes effect
//! within a second everywhere, at the cost of one indexed read per client per second.

pub mod oauth;
pub mod secrets;
pub mod throttle;
pub mod token;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::RateLimit;
use crate::domain::Actor;
use crate::domain::clients::{self, Client, ClientKind, NewClient, Scopes};
use crate::error::{Error, Result};
use crate::store::ClientStore;
use oauth::{OAuthError, TokenRequest};
use throttle::Throttle;
use token::{Claims, Signer};

/// How long a client row read from the database is trusted.
const CACHE_TTL: Duration = Duration::from_secs(1);

/// The credential a request presents.
pub enum Credential<'a> {
    Bearer(&'a str),
    ApiKey(&'a str),
}

/// Someone the API let in, with what they may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub actor: Actor,
    pub scopes: Scopes,
    /// Its writes of stored records must carry `If-Match`.
    pub require_if_match: bool,
}

/// An issued access token, as the token endpoint answers it.
#[derive(Clone, Debug)]
pub struct Grant {
    pub access_token: String,
    pub expires_in: u64,
    pub scopes: Scopes,
}

/// Values read from the database, trusted for [`CACHE_TTL`].
struct Cache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: std::hash::Hash + Eq, V: Clone> Cache<K, V> {
    fn new() -> Self {
        Cache {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &K, now: Instant) -> Option<V> {
        // A poisoned lock only means a panic elsewhere mid-insert; the map itself is whole.
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(_, read_at)| now.duration_since(*read_at) < CACHE_TTL)
            .map(|(v, _)| v.clone())
    }

    fn put(&self, key: K, value: V, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.insert(key, (value, now));
    }
}

pub struct Authenticator {
    store: Arc<dyn ClientStore>,
    signer: Signer,
    token_ttl: Duration,
    throttle: Throttle,
    /// Client rows by id, for tokens (which name their client).
    clients: Cache<i64, Option<Client>>,
    /// API key clients by the hash of the key. Only keys that were found are kept, so the
    /// cache holds at most one entry per key that exists.
    api_keys: Cache<Vec<u8>, Client>,
}

impl Authenticator {
    /// Loads the cluster's signing key, creating it when this is the first node ever.
    pub async fn new(
        store: Arc<dyn ClientStore>,
        token_ttl: Duration,
        rate_limit: Option<RateLimit>,
    ) -> Result<Self> {
        let key = store.signing_key(token::new_key()?).await?;
        Ok(Authenticator {
            store,
            signer: Signer::new(key),
            token_ttl,
            throttle: Throttle::new(rate_limit),
            clients: Cache::new(),
            api_keys: Cache::new(),
        })
    }

    /// Answers a client-credentials token request.
    pub async fn issue(&self, request: TokenRequest) -> Result<Grant, OAuthError> {
        match request.grant_type.as_deref() {
            None | Some("") => return Err(OAuthError::invalid_request("grant_type is required")),
            Some("client_credentials") => {}
            // We never issue refresh tokens, so any that is presented is not a valid grant.
            Some("refresh_token") => {
                return Err(OAuthError::new(
                    "invalid_grant",
                    "Refresh tokens are not issued; request a new token",
                ));
            }
            Some(other) => {
                return Err(OAuthError::new(
                    "unsupported_grant_type",
                    format!("The grant type {other} is not supported; use client_credentials"),
                ));
            }
        }
        let (Some(client_id), Some(secret)) = (&request.client_id, &request.client_secret) else {
            return Err(OAuthError::invalid_client());
        };
        let found = self
            .store
            .client_by_client_id(client_id)
            .await
            .map_err(server_error)?;
        let client = match found {
            Some((client, hash)) if secrets::verify(secret, &hash) => client,
            _ => {
                // Spend the same time on an unknown client as on a wrong secret.
                secrets::verify(secret, &[0; 32]);
                return Err(OAuthError::invalid_client());
            }
        };
        if client.revoked_at.is_some() || client.kind != ClientKind::OauthClient {
            return Err(OAuthError::invalid_client());
        }
        let scopes = match request.scope.as_deref().map(str::trim) {
            None | Some("") => client.scopes,
            // RFC 6749 §3.3: grant what is asked for, known and held, and say so in `scope`.
            Some(asked) => {
                let scopes = Scopes::known(asked).intersection(client.scopes);
                if scopes.is_empty() {
                    return Err(OAuthError::new(
                        "invalid_scope",
                        format!(
                            "The client holds none of the scopes asked for; it holds: {}",
                            client.scopes
                        ),
                    ));
                }
                scopes
            }
        };
        // Expiry is in whole seconds: round up, so that a token lives at least the
        // `expires_in` it is answered with (rounding down cut up to a second off).
        let issued = chrono::Utc::now();
        let expires = issued.timestamp()
            + i64::from(issued.timestamp_subsec_nanos() > 0)
            + self.token_ttl.as_secs() as i64;
        let access_token = self
            .signer
            .sign(Claims {
                client: client.id,
                scopes,
                expires,
            })
            .map_err(server_error)?;
        Ok(Grant {
            access_token,
            expires_in: self.token_ttl.as_secs(),
            scopes,
        })
    }

    /// Who presents `credential`, or a 401.
    pub async fn authenticate(&self, credential: Credential<'_>) -> Result<Caller> {
        let (client, scopes) = match credential {
            Credential::Bearer(token) => {
                let claims = self.signer.verify(token, crate::time::now().timestamp())?;
                let client = self.client(claims.client).await?;
                let client = client
                    .filter(|c| c.revoked_at.is_none())
                    .ok_or_else(revoked)?;
                // A scope taken from the client since the token was issued is gone at once.
                let scopes = claims.scopes.intersection(client.scopes);
                (client, scopes)
            }
            Credential::ApiKey(key) => {
                let client = self.api_key(secrets::hash(key)).await?;
                let client = client
                    .filter(|c| c.kind == ClientKind::ApiKey && c.revoked_at.is_none())
                    .ok_or_else(|| Error::Unauthorized("The API key is not valid".into()))?;
                let scopes = client.scopes;
                (client, scopes)
            }
        };
        Ok(Caller {
            actor: Actor {
                id: client.id,
                login: client.login,
            },
            scopes,
            require_if_match: client.require_if_match,
        })
    }

    /// Takes one request from the caller's allowance, or answers 429.
    pub fn admit(&self, caller: &Caller) -> Result<()> {
        self.throttle
            .admit(caller.actor.id, Instant::now())
            .map_err(Error::TooManyRequests)
    }

    /// The client row, from the cache while it is fresh.
    async fn client(&self, id: i64) -> Result<Option<Client>> {
        let now = Instant::now();
        if let Some(client) = self.clients.get(&id, now) {
            return Ok(client);
        }
        let client = self.store.client(id).await?;
        self.clients.put(id, client.clone(), now);
        Ok(client)
    }

    /// The client whose API key hashes to `hash`, from the cache while it is fresh.
    async fn api_key(&self, hash: Vec<u8>) -> Result<Option<Client>> {
        let now = Instant::now();
        if let Some(client) = self.api_keys.get(&hash, now) {
            return Ok(Some(client));
        }
        let client = self.store.client_by_secret_hash(&hash).await?;
        if let Some(client) = &client {
            self.api_keys.put(hash, client.clone(), now);
        }
        Ok(client)
    }
}

fn revoked() -> Error {
    Error::Unauthorized("The access token is invalid or has expired".into())
}

fn server_error(error: Error) -> OAuthError {
    tracing::error!(%error, "token request failed");
    OAuthError::new("server_error", "The token could not be issued")
}

/// Registers a client and returns it with its secret (or API key), which exists nowhere else.
/// A client that `require_if_match` must name the version it changes in each write.
pub async fn register(
    store: &dyn ClientStore,
    login: &str,
    kind: ClientKind,
    scopes: Scopes,
    require_if_match: bool,
) -> Result<(Client, String)> {
    let login = clients::login(login).map_err(Error::invalid)?;
    let (client_id, secret) = match kind {
        ClientKind::OauthClient => (
            Some(secrets::new_client_id()?),
            secrets::new_client_secret()?,
        ),
        ClientKind::ApiKey => (None, secrets::new_api_key()?),
    };
    let new = NewClient {
        login: login.to_owned(),
        kind,
        client_id,
        secret_hash: secrets::hash(&secret),
        scopes,
        require_if_match,
    };
    Ok((store.create_client(new).await?, secret))
}
