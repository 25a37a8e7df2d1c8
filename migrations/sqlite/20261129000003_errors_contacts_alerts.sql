-- Integration history records (the same shape as errors, plus `exported`), the responses
-- filed with either, the integration contacts that alerts reach, and the alert outbox.

CREATE TABLE integration_history_records (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_run_id   INTEGER REFERENCES integration_runs (id),
    integration_id       INTEGER REFERENCES integrations (id),
    contact_alert_type   TEXT    NOT NULL CHECK (contact_alert_type IN ('Technical', 'Functional', 'Both')),
    document_type        TEXT,
    document_id          INTEGER,
    document_revision    INTEGER,
    document_status      TEXT,
    external_id          TEXT,
    integration_filename TEXT,
    creation_method      TEXT,
    status               TEXT,
    resolved             INTEGER NOT NULL DEFAULT 0,
    exported             INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    created_by_id        INTEGER REFERENCES api_clients (id),
    updated_by_id        INTEGER REFERENCES api_clients (id)
);

CREATE INDEX integration_history_records_run ON integration_history_records (integration_run_id, resolved);
CREATE INDEX integration_history_records_document ON integration_history_records (document_type, document_id);

-- Errors gain `exported` too, so that both kinds of record share one shape.
ALTER TABLE integration_errors ADD COLUMN exported INTEGER NOT NULL DEFAULT 0;

CREATE TABLE integration_responses (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_type       TEXT    NOT NULL CHECK (owner_type IN ('integration_error', 'integration_history_record')),
    owner_id         INTEGER NOT NULL,
    response_code    TEXT,
    response_message TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

CREATE INDEX integration_responses_owner ON integration_responses (owner_type, owner_id);

CREATE TABLE integration_contacts (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id     INTEGER REFERENCES integrations (id),
    contact_alert_type TEXT    NOT NULL CHECK (contact_alert_type IN ('Technical', 'Functional', 'Both')),
    contactable_type   TEXT    NOT NULL,
    contactable_id     INTEGER NOT NULL,
    email              TEXT,
    webhook_url        TEXT,
    -- The key of the webhook's HMAC signature: kept, since every delivery is signed with it.
    webhook_secret     TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    created_by_id      INTEGER REFERENCES api_clients (id),
    updated_by_id      INTEGER REFERENCES api_clients (id)
);

CREATE INDEX integration_contacts_integration ON integration_contacts (integration_id);

-- The outbox: written in the transaction that raises the alert, worked off in the background.
CREATE TABLE alert_deliveries (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_contact_id INTEGER NOT NULL REFERENCES integration_contacts (id),
    integration_id         INTEGER REFERENCES integrations (id),
    record_type            TEXT    NOT NULL CHECK (record_type IN ('integration_error', 'integration_history_record')),
    record_id              INTEGER NOT NULL,
    channel                TEXT    NOT NULL CHECK (channel IN ('webhook', 'email')),
    target                 TEXT    NOT NULL,
    status                 TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'undeliverable')),
    attempts               INTEGER NOT NULL DEFAULT 0,
    next_attempt_at        INTEGER,
    lease_until            INTEGER,
    last_error             TEXT,
    response_code          INTEGER,
    delivered_at           INTEGER,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);

CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_attempt_at);
CREATE INDEX alert_deliveries_record ON alert_deliveries (record_type, record_id);
