-- Runledger's schema on SQLite. Datetimes are INTEGER seconds since the Unix epoch (UTC):
-- compact, and compared as numbers rather than as text.

CREATE TABLE api_clients (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    login      TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE integrations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    code             TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    business_object  TEXT    NOT NULL,
    direction        TEXT    NOT NULL CHECK (direction IN ('to_coupa', 'from_coupa')),
    end_system       TEXT    NOT NULL,
    end_system_type  TEXT    NOT NULL,
    integration_type TEXT,
    standard         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    created_by_id    INTEGER REFERENCES api_clients (id),
    updated_by_id    INTEGER REFERENCES api_clients (id),
    CONSTRAINT integrations_code_key UNIQUE (code),
    CONSTRAINT integrations_name_key UNIQUE (name)
);

CREATE TABLE integration_runs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id    INTEGER NOT NULL REFERENCES integrations (id),
    status            TEXT    NOT NULL
        CHECK (status IN ('pending', 'running', 'paused', 'successful', 'failed')),
    start_time        INTEGER,
    end_time          INTEGER,
    total_records     INTEGER CHECK (total_records >= 0),
    records_processed INTEGER CHECK (records_processed >= 0),
    flow              TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    created_by_id     INTEGER REFERENCES api_clients (id),
    updated_by_id     INTEGER REFERENCES api_clients (id)
);

CREATE INDEX integration_runs_integration_created ON integration_runs (integration_id, created_at);
CREATE INDEX integration_runs_status_created ON integration_runs (status, created_at);
CREATE INDEX integration_runs_created ON integration_runs (created_at);

CREATE TABLE integration_errors (
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
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    created_by_id        INTEGER REFERENCES api_clients (id),
    updated_by_id        INTEGER REFERENCES api_clients (id)
);

CREATE INDEX integration_errors_run ON integration_errors (integration_run_id, resolved);
CREATE INDEX integration_errors_document ON integration_errors (document_type, document_id);
