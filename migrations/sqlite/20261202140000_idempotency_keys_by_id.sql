-- Idempotency keys (issue 15, second session): a key's row is now written by its request's own
-- write, so every keyed write pays for it. Two costs of that row go:
-- - AUTOINCREMENT, which updated `sqlite_sequence` with every key. A row is known by its key
--   and the time it was taken, not by its id; a new row's id is still the largest plus one,
--   so ids keep the order keys were first taken in.
-- - The index on `taken_at`: the expiry worker reads the oldest ids and deletes those past the
--   TTL.
CREATE TABLE idempotency_keys_by_id (
    id              INTEGER PRIMARY KEY,
    client_id       INTEGER NOT NULL,
    method          TEXT    NOT NULL,
    path            TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    -- When the request that holds or answered it took it: the lease and the TTL count from it.
    taken_at        INTEGER NOT NULL,
    -- Null until the answer is stored; the answer's status then.
    status          INTEGER CHECK (status BETWEEN 100 AND 599),
    fingerprint     BLOB,
    content_type    TEXT,
    body            BLOB,
    -- An error answer's messages, a JSON array: its body is written in the client's format.
    messages        TEXT,
    UNIQUE (client_id, method, path, idempotency_key)
);

INSERT INTO idempotency_keys_by_id
    (id, client_id, method, path, idempotency_key, taken_at, status, fingerprint, content_type,
     body, messages)
SELECT id, client_id, method, path, idempotency_key, taken_at, status, fingerprint,
       content_type, body, messages
FROM idempotency_keys;

DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_by_id RENAME TO idempotency_keys;
