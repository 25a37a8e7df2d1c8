-- OpenLineage intake (issue 15): the runs OpenLineage events name, and every event received.
-- Times are epoch seconds; event times are epoch microseconds, by which one run's events are
-- ordered and told apart.

-- An OpenLineage run (`runId`) and the run it maps to. `integration_run_id` is null only
-- inside the transaction of the run's first event, which claims the row before it makes
-- the run, so that two first events of one run cannot make two runs.
CREATE TABLE lineage_runs (
    run_uuid             TEXT    PRIMARY KEY,
    integration_run_id   INTEGER UNIQUE REFERENCES integration_runs (id),
    job_namespace        TEXT    NOT NULL,
    job_name             TEXT    NOT NULL,
    -- The latest event merged, by event time.
    last_event_type      TEXT    CHECK (last_event_type IN
                             ('START', 'RUNNING', 'COMPLETE', 'ABORT', 'FAIL', 'OTHER')),
    last_event_time_us   INTEGER,
    -- The `nominalTime` facet: when the run was scheduled for.
    nominal_start_time   INTEGER,
    nominal_end_time     INTEGER,
    -- The `parent` facet: the run that spawned this one (lineage, not a retry).
    parent_run_uuid      TEXT,
    parent_job_namespace TEXT,
    parent_job_name      TEXT,
    -- A JSON array of each output dataset's latest row count: [namespace, name, rows, time].
    outputs              TEXT    NOT NULL DEFAULT '[]',
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
-- From a run to the runs it spawned.
CREATE INDEX lineage_runs_parent ON lineage_runs (parent_run_uuid)
    WHERE parent_run_uuid IS NOT NULL;

-- Every event accepted, as received (re-serialized JSON). A `JobEvent` or `DatasetEvent`
-- has no run (`run_uuid` null). An event repeated exactly (same run, type and time) is
-- kept once.
CREATE TABLE lineage_events (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    run_uuid           TEXT,
    event_type         TEXT    CHECK (event_type IN
                           ('START', 'RUNNING', 'COMPLETE', 'ABORT', 'FAIL', 'OTHER')),
    event_time_us      INTEGER NOT NULL,
    job_namespace      TEXT,
    job_name           TEXT,
    integration_run_id INTEGER REFERENCES integration_runs (id),
    raw                TEXT    NOT NULL,
    received_at        INTEGER NOT NULL,
    received_by_id     INTEGER REFERENCES api_clients (id)
);
CREATE UNIQUE INDEX lineage_events_once ON lineage_events (run_uuid, event_type, event_time_us);
