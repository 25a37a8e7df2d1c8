-- One monitor per integration (issue 14): what its runs are expected to do. A row is made
-- the first time the monitor is read or written; until then the integration has the default
-- monitor (no schedule). Durations are whole seconds.
CREATE TABLE monitors (
    integration_id      BIGINT PRIMARY KEY REFERENCES integrations (id),
    schedule_kind       TEXT COLLATE "C" CHECK (schedule_kind IN ('interval', 'cron', 'oncalendar')),
    schedule            TEXT COLLATE "C",
    time_zone           TEXT COLLATE "C" NOT NULL,
    start_grace         BIGINT NOT NULL CHECK (start_grace >= 0),
    max_runtime         BIGINT CHECK (max_runtime > 0),
    min_runtime         BIGINT CHECK (min_runtime > 0),
    min_records         BIGINT CHECK (min_records >= 0),
    max_records         BIGINT CHECK (max_records >= 0),
    max_errors          BIGINT CHECK (max_errors >= 0),
    paused              BOOLEAN NOT NULL DEFAULT FALSE,
    paused_until        TIMESTAMPTZ,
    -- When the schedule or its zone last changed: the first expected start comes after.
    watching_since      TIMESTAMPTZ NOT NULL,
    -- The secret part of the monitor's ping URL (32 hex digits).
    ping_key            TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    created_by_id       BIGINT REFERENCES api_clients (id),
    updated_by_id       BIGINT REFERENCES api_clients (id),
    CHECK ((schedule_kind IS NULL) = (schedule IS NULL))
);

-- A monitor's health reads the integration's open runs; few are open at once, so a partial
-- index finds them without walking its history.
CREATE INDEX integration_runs_open ON integration_runs (integration_id)
    WHERE status IN ('pending', 'running', 'paused');
