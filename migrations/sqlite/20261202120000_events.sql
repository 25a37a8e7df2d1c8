-- The event stream (issue 15): one row for each change of a run (its transition log entry),
-- of an integration error, and of a monitor's health, written in the transaction of the
-- change. Rows name their subject; the stream shows the subject as it is stored. Kept for a
-- window (`--event-retention`), then deleted.
CREATE TABLE events (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    -- PostgreSQL's transaction id, by which nodes read events in commit order. SQLite has one
    -- writer, whose commits are in id order: 0.
    tx                 INTEGER NOT NULL DEFAULT 0,
    topic              TEXT    NOT NULL CHECK (topic IN ('run', 'integration-error', 'health')),
    -- The transition log entry, the integration error, or the monitor flip.
    subject_id         INTEGER NOT NULL,
    integration_id     INTEGER,
    integration_run_id INTEGER,
    created_at         INTEGER NOT NULL
);
CREATE INDEX events_created ON events (created_at);
