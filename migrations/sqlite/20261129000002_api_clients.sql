-- API clients: OAuth clients (a public client id and a secret) and legacy API keys. Secrets
-- and keys are stored only as SHA-256 hashes; API keys are found by their hash.
ALTER TABLE api_clients ADD COLUMN kind TEXT NOT NULL DEFAULT 'oauth_client'
    CHECK (kind IN ('oauth_client', 'api_key'));
ALTER TABLE api_clients ADD COLUMN client_id TEXT;
ALTER TABLE api_clients ADD COLUMN secret_hash BLOB;
ALTER TABLE api_clients ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
ALTER TABLE api_clients ADD COLUMN revoked_at INTEGER;

CREATE UNIQUE INDEX api_clients_client_id ON api_clients (client_id);
CREATE UNIQUE INDEX api_clients_secret_hash ON api_clients (secret_hash);

-- The key that signs access tokens: made by the first node to start, shared by all.
CREATE TABLE signing_keys (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    secret     BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);
