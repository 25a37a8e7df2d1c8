//! The authenticator's decisions over an in-memory [`ClientStore`]: no database, no HTTP.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::oauth::{OAuthError, TokenRequest};
use super::{Authenticator, CACHE_TTL, Cache, Caller, Credential, register, secrets};
use crate::domain::Actor;
use crate::domain::clients::{Client, ClientKind, NAME_TAKEN, NewClient, Scope, Scopes};
use crate::error::{Error, Result};
use crate::store::ClientStore;
use crate::time;

/// Clients as the real store keeps them (a row and the hash of its secret) and the signing
/// key's one slot, with the same answers: a key is stored once, a revocation keeps its first
/// time, and a client is found by a secret's hash whatever its kind.
#[derive(Default)]
struct FakeClients {
    rows: Mutex<Vec<(Client, Vec<u8>)>>,
    signing_key: Mutex<Option<Vec<u8>>>,
    /// Every hash an API key was looked up by.
    hashes_asked: Mutex<Vec<Vec<u8>>>,
}

#[async_trait]
impl ClientStore for FakeClients {
    async fn create_client(&self, new: NewClient) -> Result<Client> {
        let mut rows = self.rows.lock().unwrap();
        if rows.iter().any(|(c, _)| c.login == new.login) {
            return Err(Error::invalid(NAME_TAKEN));
        }
        let client = Client {
            id: rows.len() as i64 + 1,
            login: new.login,
            kind: new.kind,
            client_id: new.client_id,
            scopes: new.scopes,
            created_at: time::now(),
            revoked_at: None,
            require_if_match: new.require_if_match,
        };
        rows.push((client.clone(), new.secret_hash));
        Ok(client)
    }

    async fn clients(&self, kind: ClientKind) -> Result<Vec<Client>> {
        let rows = self.rows.lock().unwrap();
        Ok(rows
            .iter()
            .map(|(c, _)| c)
            .filter(|c| c.kind == kind)
            .cloned()
            .collect())
    }

    async fn revoke_client(&self, kind: ClientKind, key: &str) -> Result<Client> {
        let mut rows = self.rows.lock().unwrap();
        let (client, _) = rows
            .iter_mut()
            .find(|(c, _)| {
                c.kind == kind && (c.id.to_string() == key || c.client_id.as_deref() == Some(key))
            })
            .ok_or_else(|| Error::NotFound(format!("No {} with id {key}", kind.as_str())))?;
        client.revoked_at.get_or_insert_with(time::now);
        Ok(client.clone())
    }

    async fn client(&self, id: i64) -> Result<Option<Client>> {
        let rows = self.rows.lock().unwrap();
        Ok(rows.iter().map(|(c, _)| c).find(|c| c.id == id).cloned())
    }

    async fn client_by_client_id(&self, client_id: &str) -> Result<Option<(Client, Vec<u8>)>> {
        let rows = self.rows.lock().unwrap();
        Ok(rows
            .iter()
            .find(|(c, _)| c.client_id.as_deref() == Some(client_id))
            .cloned())
    }

    async fn client_by_secret_hash(&self, hash: &[u8]) -> Result<Option<Client>> {
        self.hashes_asked.lock().unwrap().push(hash.to_vec());
        let rows = self.rows.lock().unwrap();
        Ok(rows.iter().find(|(_, h)| h == hash).map(|(c, _)| c.clone()))
    }

    async fn signing_key(&self, fresh: Vec<u8>) -> Result<Vec<u8>> {
        Ok(self
            .signing_key
            .lock()
            .unwrap()
            .get_or_insert(fresh)
            .clone())
    }
}

const TOKEN_TTL: Duration = Duration::from_secs(3600);

async fn authenticator(store: &Arc<FakeClients>) -> Authenticator {
    Authenticator::new(store.clone(), TOKEN_TTL, None)
        .await
        .unwrap()
}

/// Registers an OAuth client: its public id and its secret.
async fn oauth_client(store: &FakeClients, login: &str, scopes: Scopes) -> (Client, String) {
    register(store, login, ClientKind::OauthClient, scopes, false)
        .await
        .unwrap()
}

fn token_request(client_id: &str, secret: &str, scope: Option<&str>) -> TokenRequest {
    TokenRequest {
        grant_type: Some("client_credentials".into()),
        client_id: Some(client_id.into()),
        client_secret: Some(secret.into()),
        scope: scope.map(Into::into),
    }
}

/// A token for the client, as the token endpoint would issue it.
async fn token(auth: &Authenticator, client: &Client, secret: &str) -> String {
    let client_id = client.client_id.as_deref().unwrap();
    let grant = auth
        .issue(token_request(client_id, secret, None))
        .await
        .unwrap();
    grant.access_token
}

async fn bearer(auth: &Authenticator, token: &str) -> Result<Caller> {
    auth.authenticate(Credential::Bearer(token)).await
}

fn is_unauthorized<T: std::fmt::Debug>(result: &Result<T>) -> bool {
    matches!(result, Err(Error::Unauthorized(_)))
}

/// Makes every row in `cache` older by `by`, as if that much time had passed since it was read.
fn age<K, V>(cache: &Cache<K, V>, by: Duration) {
    let mut entries = cache.entries.lock().unwrap();
    for (_, read_at) in entries.values_mut() {
        *read_at = read_at
            .checked_sub(by)
            .expect("the clock has run that long");
    }
}

#[tokio::test]
async fn the_right_secret_gets_a_token_that_carries_the_clients_scopes() {
    let store = Arc::new(FakeClients::default());
    let auth = authenticator(&store).await;
    let (client, secret) = oauth_client(&store, "connector", Scopes::ALL).await;

    let grant = auth
        .issue(token_request(
            client.client_id.as_deref().unwrap(),
            &secret,
            None,
        ))
        .await
        .unwrap();
    assert_eq!(grant.scopes, Scopes::ALL);
    assert_eq!(grant.expires_in, TOKEN_TTL.as_secs());

    let caller = bearer(&auth, &grant.access_token).await.unwrap();
    assert_eq!(
        caller,
        Caller {
            require_if_match: false,
            actor: Actor {
                id: client.id,
                login: "connector".into(),
            },
            scopes: Scopes::ALL,
        }
    );
}

#[tokio::test]
async fn a_token_asked_for_fewer_scopes_carries_only_those() {
    let store = Arc::new(FakeClients::default());
    let auth = authenticator(&store).await;
    let (client, secret) = oauth_client(&store, "reader", Scopes::ALL).await;
    let client_id = client.client_id.as_deref().unwrap();

    let read = format!("{} openid", Scope::Read.as_str());
    let grant = auth
        .issue(token_request(client_id, &secret, Some(&read)))
        .await
        .unwrap();
    let only_read = Scopes::parse(Scope::Read.as_str()).unwrap();
    assert_eq!(grant.scopes, only_read);
    let caller = bearer(&auth, &grant.access_token).await.unwrap();
    assert_eq!(caller.scopes, only_read);
    assert!(!caller.scopes.contains(Scope::Write));

    // A scope the client does not hold is not granted, and nothing else is instead.
    let (narrow, narrow_secret) = oauth_client(&store, "narrow", only_read).await;
    let refused = auth
        .issue(token_request(
            narrow.client_id.as_deref().unwrap(),
            &narrow_secret,
            Some(Scope::Write.as_str()),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.error, "invalid_scope");
}

#[tokio::test]
async fn a_wrong_secret_an_unknown_client_and_a_revoked_client_are_the_same_invalid_client() {
    let store = Arc::new(FakeClients::default());
    let auth = authenticator(&store).await;
    let (client, secret) = oauth_client(&store, "connector", Scopes::ALL).await;
    let (other, other_secret) = oauth_client(&store, "other", Scopes::ALL).await;
    let client_id = client.client_id.as_deref().unwrap();

    let refusals = [
        token_request(client_id, "not the secret", None),
        // Another client's secret is not this one's.
        token_request(client_id, &other_secret, None),
        token_request("no-such-client", &secret, None),
        TokenRequest {
            client_secret: None,
            ..token_request(client_id, &secret, None)
        },
    ];
    for request in refusals {
        let refused = auth.issue(request.clone()).await.unwrap_err();
        assert_eq!(refused, OAuthError::invalid_client(), "{request:?}");
        assert_eq!(refused.status(), 401);
    }

    store
        .revoke_client(ClientKind::OauthClient, client_id)
        .await
        .unwrap();
    let refused = auth
        .issue(token_request(client_id, &secret, None))
        .await
        .unwrap_err();
    assert_eq!(refused, OAuthError::invalid_client());
    // The other client is untouched.
    let other_id = other.client_id.as_deref().unwrap();
    assert!(
        auth.issue(token_request(other_id, &other_secret, None))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_token_whose_client_is_revoked_before_its_first_use_is_refused_at_once() {
    let store = Arc::new(FakeClients::default());
    let auth = authenticator(&store).await;
    let (client, secret) = oauth_client(&store, "leaver", Scopes::ALL).await;
    let token = token(&auth, &client, &secret).await;

    store
        .revoke_client(ClientKind::OauthClient, &client.id.to_string())
        .await
        .unwrap();
    // Nothing of the client is cached yet, so its row is read, revoked.
    assert!(is_unauthorized(&bearer(&auth, &token).await));
}

#[tokio::test]
async fn a_revocation_reaches_a_token_in_use_within_a_second() {
    let store = Arc::new(FakeClients::default());
    let auth = authenticator(&store).await;
    let (client, secret) = oauth_client(&store, "leaver", Scopes::ALL).await;
    let token = token(&auth, &client, &secret).await;
    assert!(bearer(&auth, &token).await.is_ok(), "the row is now cached");

    store
        .revoke_client(
            ClientKind::OauthClient,
            client.client_id.as_deref().unwrap(),
        )
        .await
        .unwrap();
    // Another node on the same database has no cached row: it refuses at once.
    let other_node = authenticator(&store).await;
    assert!(is_unauthorized(&bearer(&other_node, &token).await));
    // This node trusts its row for less than a second (CACHE_TTL); once it is that old, the
    // row is read again and the token refused. Aging the row stands in for the wait.
    age(&auth.clients, CACHE_TTL);
    assert!(is_unauthorized(&bearer(&auth, &token).await));
}

#[test]
fn a_cached_row_is_trusted_for_less_than_a_second() {
    let cache = Cache::new();
    let read_at = Instant::now();
    cache.put(7, "row", read_at);
    assert_eq!(cache.get(&7, read_at), Some("row"));
    assert_eq!(
        cache.get(&7, read_at + CACHE_TTL - Duration::from_millis(1)),
        Some("row")
    );
    assert_eq!(cache.get(&7, read_at + CACHE_TTL), None);
    assert_eq!(cache.get(&8, read_at), None);
    assert_eq!(
        CACHE_TTL,
        Duration::from_secs(1),
        "what the module promises"
    );
}

#[tokio::test]
async fn an_api_key_is_found_by_its_hash_and_carries_its_own_scopes() {
    let store = Arc::new(FakeClients::default());
    let auth = authenticator(&store).await;
    let read = Scopes::parse(Scope::Read.as_str()).unwrap();
    let (client, key) = register(&*store, "legacy-job", ClientKind::ApiKey, read, false)
        .await
        .unwrap();
    assert_eq!(client.client_id, None);

    let caller = auth.authenticate(Credential::ApiKey(&key)).await.unwrap();
    assert_eq!(
        caller,
        Caller {
            require_if_match: false,
            actor: Actor {
                id: client.id,
                login: "legacy-job".into(),
            },
            scopes: read,
        }
    );
    // The store saw the key's hash only, never the key.
    assert_eq!(*store.hashes_asked.lock().unwrap(), [secrets::hash(&key)]);

    let wrong = auth
        .authenticate(Credential::ApiKey("0123456789abcdef"))
        .await;
    assert!(is_unauthorized(&wrong));
}

#[tokio::test]
async fn an_oauth_secret_or_a_revoked_key_is_no_api_key() {
    let store = Arc::new(FakeClients::default());
    let auth = authenticator(&store).await;
    // The store finds an OAuth client by its secret's hash as well; the kind refuses it.
    let (_, secret) = oauth_client(&store, "connector", Scopes::ALL).await;
    let as_key = auth.authenticate(Credential::ApiKey(&secret)).await;
    assert!(is_unauthorized(&as_key));

    let (client, key) = register(&*store, "retired", ClientKind::ApiKey, Scopes::ALL, false)
        .await
        .unwrap();
    store
        .revoke_client(ClientKind::ApiKey, &client.id.to_string())
        .await
        .unwrap();
    let revoked = auth.authenticate(Credential::ApiKey(&key)).await;
    assert!(is_unauthorized(&revoked));
}

#[tokio::test]
async fn the_signing_key_is_made_once_and_shared_by_every_authenticator_on_the_store() {
    let store = Arc::new(FakeClients::default());
    let first = authenticator(&store).await;
    let key = store.signing_key.lock().unwrap().clone();
    assert!(key.is_some(), "the first authenticator stored its key");

    let second = authenticator(&store).await;
    assert_eq!(
        *store.signing_key.lock().unwrap(),
        key,
        "the second kept the stored key"
    );
    let (client, secret) = oauth_client(&store, "connector", Scopes::ALL).await;
    let token = token(&first, &client, &secret).await;
    assert_eq!(bearer(&second, &token).await.unwrap().actor.id, client.id);

    // An authenticator over another store signs with another key, and refuses this token.
    let elsewhere = Arc::new(FakeClients::default());
    oauth_client(&elsewhere, "connector", Scopes::ALL).await;
    let stranger = authenticator(&elsewhere).await;
    assert!(is_unauthorized(&bearer(&stranger, &token).await));
}
