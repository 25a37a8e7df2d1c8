-- Webhook subscriptions to the event stream (issue 15): each is a URL, the key its
-- deliveries are signed with, a filter in the query language, and how far its events have
-- been handed to the outbox (the position of the last one: transaction, id).
CREATE TABLE event_subscriptions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    url           TEXT    NOT NULL,
    secret        TEXT    NOT NULL,
    filter        TEXT    NOT NULL DEFAULT '',
    active        INTEGER NOT NULL DEFAULT 1,
    cursor_tx     INTEGER NOT NULL DEFAULT 0,
    cursor_id     INTEGER NOT NULL DEFAULT 0,
    lock_version  INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    created_by_id INTEGER REFERENCES api_clients (id),
    updated_by_id INTEGER REFERENCES api_clients (id)
);

-- The outbox carries events to subscriptions too: a delivery goes to a contact or to a
-- subscription, and tells of a record or of an event. SQLite changes a column's
-- constraints only by rebuilding the table, rows kept as they are.
CREATE TABLE alert_deliveries_new (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_contact_id INTEGER REFERENCES integration_contacts (id),
    event_subscription_id  INTEGER REFERENCES event_subscriptions (id),
    integration_id         INTEGER REFERENCES integrations (id),
    record_type            TEXT    NOT NULL
        CHECK (record_type IN ('integration_error', 'integration_history_record', 'event')),
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
    updated_at             INTEGER NOT NULL,
    CHECK ((integration_contact_id IS NULL) <> (event_subscription_id IS NULL))
);
INSERT INTO alert_deliveries_new (id, integration_contact_id, integration_id, record_type,
    record_id, channel, target, status, attempts, next_attempt_at, lease_until, last_error,
    response_code, delivered_at, created_at, updated_at)
SELECT id, integration_contact_id, integration_id, record_type, record_id, channel, target,
    status, attempts, next_attempt_at, lease_until, last_error, response_code, delivered_at,
    created_at, updated_at
FROM alert_deliveries;
DROP TABLE alert_deliveries;
ALTER TABLE alert_deliveries_new RENAME TO alert_deliveries;
CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_attempt_at);
CREATE INDEX alert_deliveries_record ON alert_deliveries (record_type, record_id);
-- One delivery per event and subscription, whichever node hands it over.
CREATE UNIQUE INDEX alert_deliveries_subscription_event
    ON alert_deliveries (event_subscription_id, record_id) WHERE event_subscription_id IS NOT NULL;
