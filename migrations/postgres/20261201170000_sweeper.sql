-- The sweeper (issue 14): each monitor keeps the health the sweeper last recorded, when it
-- must be looked at again (one indexed column: a sweep never scans runs), the alert policy
-- and the trouble episode its alerts follow. Spans are whole seconds.
ALTER TABLE monitors
    ADD COLUMN health TEXT COLLATE "C" NOT NULL DEFAULT 'new'
        CHECK (health IN ('new', 'up', 'late', 'down', 'running', 'paused')),
    ADD COLUMN health_reason TEXT NOT NULL DEFAULT 'no run yet',
    ADD COLUMN health_changed_at TIMESTAMPTZ,
    -- When the health may change without a new run; made due (now) by every write to a run.
    ADD COLUMN next_deadline TIMESTAMPTZ,
    -- A run open past this after its start is failed by the sweeper (after `max_runtime`).
    ADD COLUMN stuck_fail_after BIGINT CHECK (stuck_fail_after > 0),
    -- An open run not written to for this long is stuck (a heartbeat that stopped).
    ADD COLUMN heartbeat_timeout BIGINT CHECK (heartbeat_timeout > 0),
    -- The alert policy.
    ADD COLUMN alerts_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN alert_after_failures BIGINT NOT NULL DEFAULT 1 CHECK (alert_after_failures >= 1),
    ADD COLUMN alert_failure_percent BIGINT CHECK (alert_failure_percent BETWEEN 1 AND 100),
    ADD COLUMN alert_failure_window BIGINT CHECK (alert_failure_window >= 1),
    ADD COLUMN alert_on_recovery BOOLEAN NOT NULL DEFAULT TRUE,
    ADD COLUMN alert_repeat_every BIGINT CHECK (alert_repeat_every > 0),
    ADD COLUMN escalate_after BIGINT CHECK (escalate_after > 0),
    ADD COLUMN escalate_to TEXT COLLATE "C" CHECK (escalate_to IN ('Technical', 'Functional', 'Both')),
    -- Maintenance windows, as the API writes them (a JSON array).
    ADD COLUMN maintenance TEXT NOT NULL DEFAULT '[]',
    -- The trouble episode: down since, last alert, escalated.
    ADD COLUMN down_since TIMESTAMPTZ,
    ADD COLUMN alerted_at TIMESTAMPTZ,
    ADD COLUMN escalated BOOLEAN NOT NULL DEFAULT FALSE;

CREATE INDEX monitors_next_deadline ON monitors (next_deadline) WHERE next_deadline IS NOT NULL;

-- Each change of a monitor's health, written once.
CREATE TABLE monitor_flips (
    id              BIGSERIAL PRIMARY KEY,
    integration_id  BIGINT NOT NULL REFERENCES integrations (id),
    flipped_at      TIMESTAMPTZ NOT NULL,
    from_health     TEXT COLLATE "C" NOT NULL,
    to_health       TEXT COLLATE "C" NOT NULL,
    reason          TEXT NOT NULL,
    -- The run it is about: the missed run recorded for it, the stuck or failed run.
    integration_run_id BIGINT REFERENCES integration_runs (id)
);
CREATE INDEX monitor_flips_integration ON monitor_flips (integration_id, id);

-- When the sweeper found the run stuck (past its monitor's maximum run time): its integration
-- error is filed once. Not part of Coupa's run document.
ALTER TABLE integration_runs ADD COLUMN stuck_at TIMESTAMPTZ;
