-- Idempotency keys (issue 15): one row per key a client sent on a route that takes them, held
-- in flight while its request runs, then holding the request's fingerprint and answer for a
-- retry. `client_id` is 0 when authentication is off. Times are epoch seconds.
CREATE TABLE idempotency_keys (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id       INTEGER NOT NULL,
    method          TEXT    NOT NULL,
    path            TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    -- When the request that holds or answered it took it: the lease and the TTL count from it.
    taken_at        INTEGER NOT NULL,
    -- Null while in flight; the answer's status once answered.
    status          INTEGER CHECK (status BETWEEN 100 AND 599),
    fingerprint     BLOB,
    content_type    TEXT,
    body            BLOB,
    -- An error answer's messages, a JSON array: its body is written in the client's format.
    messages        TEXT,
    UNIQUE (client_id, method, path, idempotency_key)
);

-- Expired keys, oldest first, for their deletion in batches.
CREATE INDEX idempotency_keys_taken_at ON idempotency_keys (taken_at);
