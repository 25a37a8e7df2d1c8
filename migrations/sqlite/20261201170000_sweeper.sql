-- The sweeper (issue 14): each monitor keeps the health the sweeper last recorded, when it
-- must be looked at again (one indexed column: a sweep never scans runs), the alert policy
-- and the trouble episode its alerts follow. Times are epoch seconds, spans whole seconds.
ALTER TABLE monitors ADD COLUMN health TEXT NOT NULL DEFAULT 'new'
    CHECK (health IN ('new', 'up', 'late', 'down', 'running', 'paused'));
ALTER TABLE monitors ADD COLUMN health_reason TEXT NOT NULL DEFAULT 'no run yet';
ALTER TABLE monitors ADD COLUMN health_changed_at INTEGER;
-- When the health may change without a new run; made due (now) by every write to a run.
ALTER TABLE monitors ADD COLUMN next_deadline INTEGER;
-- A run open past this after its start is failed by the sweeper (after `max_runtime`).
ALTER TABLE monitors ADD COLUMN stuck_fail_after INTEGER CHECK (stuck_fail_after > 0);
-- An open run not written to for this long is stuck (a heartbeat that stopped).
ALTER TABLE monitors ADD COLUMN heartbeat_timeout INTEGER CHECK (heartbeat_timeout > 0);
-- The alert policy.
ALTER TABLE monitors ADD COLUMN alerts_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE monitors ADD COLUMN alert_after_failures INTEGER NOT NULL DEFAULT 1
    CHECK (alert_after_failures >= 1);
ALTER TABLE monitors ADD COLUMN alert_failure_percent INTEGER CHECK (alert_failure_percent BETWEEN 1 AND 100);
ALTER TABLE monitors ADD COLUMN alert_failure_window INTEGER CHECK (alert_failure_window >= 1);
ALTER TABLE monitors ADD COLUMN alert_on_recovery INTEGER NOT NULL DEFAULT 1;
ALTER TABLE monitors ADD COLUMN alert_repeat_every INTEGER CHECK (alert_repeat_every > 0);
ALTER TABLE monitors ADD COLUMN escalate_after INTEGER CHECK (escalate_after > 0);
ALTER TABLE monitors ADD COLUMN escalate_to TEXT
    CHECK (escalate_to IN ('Technical', 'Functional', 'Both'));
-- Maintenance windows, as the API writes them (a JSON array).
ALTER TABLE monitors ADD COLUMN maintenance TEXT NOT NULL DEFAULT '[]';
-- The trouble episode: down since, last alert, escalated.
ALTER TABLE monitors ADD COLUMN down_since INTEGER;
ALTER TABLE monitors ADD COLUMN alerted_at INTEGER;
ALTER TABLE monitors ADD COLUMN escalated INTEGER NOT NULL DEFAULT 0;

CREATE INDEX monitors_next_deadline ON monitors (next_deadline) WHERE next_deadline IS NOT NULL;

-- Each change of a monitor's health, written once.
CREATE TABLE monitor_flips (
    id              INTEGER PRIMARY KEY,
    integration_id  INTEGER NOT NULL REFERENCES integrations (id),
    flipped_at      INTEGER NOT NULL,
    from_health     TEXT    NOT NULL,
    to_health       TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    -- The run it is about: the missed run recorded for it, the stuck or failed run.
    integration_run_id INTEGER REFERENCES integration_runs (id)
);
CREATE INDEX monitor_flips_integration ON monitor_flips (integration_id, id);

-- When the sweeper found the run stuck (past its monitor's maximum run time): its integration
-- error is filed once. Not part of Coupa's run document.
ALTER TABLE integration_runs ADD COLUMN stuck_at INTEGER;
