-- One monitor per integration (issue 14): what its runs are expected to do. A row is made
-- the first time the monitor is read or written; until then the integration has the default
-- monitor (no schedule). Durations are whole seconds; times are epoch seconds.
CREATE TABLE monitors (
    integration_id      INTEGER PRIMARY KEY REFERENCES integrations (id),
    schedule_kind       TEXT    CHECK (schedule_kind IN ('interval', 'cron', 'oncalendar')),
    schedule            TEXT,
    time_zone           TEXT    NOT NULL,
    start_grace         INTEGER NOT NULL CHECK (start_grace >= 0),
    max_runtime         INTEGER CHECK (max_runtime > 0),
    min_runtime         INTEGER CHECK (min_runtime > 0),
    min_records         INTEGER CHECK (min_records >= 0),
    max_records         INTEGER CHECK (max_records >= 0),
    max_errors          INTEGER CHECK (max_errors >= 0),
    paused              INTEGER NOT NULL DEFAULT 0,
    paused_until        INTEGER,
    -- When the schedule or its zone last changed: the first expected start comes after.
    watching_since      INTEGER NOT NULL,
    -- The secret part of the monitor's ping URL (32 hex digits).
    ping_key            TEXT    NOT NULL UNIQUE,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    created_by_id       INTEGER REFERENCES api_clients (id),
    updated_by_id       INTEGER REFERENCES api_clients (id),
    CHECK ((schedule_kind IS NULL) = (schedule IS NULL))
);

-- A monitor's health reads the integration's open runs; few are open at once, so a partial
-- index finds them without walking its history.
CREATE INDEX integration_runs_open ON integration_runs (integration_id)
    WHERE status IN ('pending', 'running', 'paused');
