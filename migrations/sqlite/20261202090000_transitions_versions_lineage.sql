-- Issue 15: the run model beyond Coupa's overwritten row.

-- Per-row versions: every write of a row adds one. ETags are made from them, never shown in
-- Coupa's documents (docs/api.md#etags-and-if-match).
ALTER TABLE integrations ADD COLUMN lock_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE integration_runs ADD COLUMN lock_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE integration_errors ADD COLUMN lock_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE integration_history_records ADD COLUMN lock_version INTEGER NOT NULL DEFAULT 0;

-- A client whose writes must name the version they change (428 without If-Match).
ALTER TABLE api_clients ADD COLUMN require_if_match INTEGER NOT NULL DEFAULT 0;

-- Rerun lineage: the run a run retries, and which attempt it is (1 for a first run).
ALTER TABLE integration_runs ADD COLUMN retry_of_id INTEGER REFERENCES integration_runs (id);
ALTER TABLE integration_runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1);
CREATE INDEX integration_runs_retry_of ON integration_runs (retry_of_id)
    WHERE retry_of_id IS NOT NULL;

-- The transition log: every change of a run, written in the transaction of the change.
CREATE TABLE integration_run_transitions (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_run_id INTEGER NOT NULL REFERENCES integration_runs (id),
    integration_id     INTEGER NOT NULL REFERENCES integrations (id),
    cause              TEXT    NOT NULL,
    from_status        TEXT,
    to_status          TEXT    NOT NULL,
    -- A JSON array of {field, from, to}.
    changes            TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    created_by_id      INTEGER REFERENCES api_clients (id)
);
CREATE INDEX integration_run_transitions_run ON integration_run_transitions (integration_run_id, id);
CREATE INDEX integration_run_transitions_created ON integration_run_transitions (created_at);

-- Written once: a row of the log is never changed (deleted only with its run).
CREATE TRIGGER integration_run_transitions_written_once
BEFORE UPDATE ON integration_run_transitions
BEGIN
    SELECT RAISE(ABORT, 'integration_run_transitions rows are written once');
END;
