-- The ping log (issue 14): every ping a monitor's URL received, newest last. A start ping
-- also keeps which run it created for which client-chosen run id (`rid`), so that the ping
-- that ends it finds it. Times are epoch seconds.
CREATE TABLE monitor_pings (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id  INTEGER NOT NULL REFERENCES integrations (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('start', 'success', 'fail', 'log')),
    rid             TEXT,
    run_id          INTEGER REFERENCES integration_runs (id),
    exit_status     INTEGER CHECK (exit_status BETWEEN 0 AND 255),
    body            TEXT,
    user_agent      TEXT,
    received_at     INTEGER NOT NULL
);

-- The log of one integration, newest first.
CREATE INDEX monitor_pings_integration ON monitor_pings (integration_id, id);
-- From an open run to the start ping that created it (and its rid).
CREATE INDEX monitor_pings_run ON monitor_pings (run_id) WHERE run_id IS NOT NULL;
