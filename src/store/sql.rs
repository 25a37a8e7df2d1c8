//! SQL that both backends run as written: `$N` placeholders, no dialect features.
//!
//! The listing queries alias their main table `t0` so that the compiled query language
//! ([`crate::query::sql`]) can be appended to them.

/// An integration's columns with its clients' logins, from `integrations t0`.
pub const SELECT_INTEGRATIONS: &str = "\
    SELECT t0.id, t0.lock_version, t0.code, t0.name, t0.business_object, t0.direction, \
    t0.end_system, t0.end_system_type, t0.integration_type, t0.standard, t0.created_at, t0.updated_at, \
    t0.created_by_id, cb.login AS created_by_login, t0.updated_by_id, ub.login AS updated_by_login \
    FROM integrations t0 \
    LEFT JOIN api_clients cb ON cb.id = t0.created_by_id \
    LEFT JOIN api_clients ub ON ub.id = t0.updated_by_id";

/// A run's columns, its clients' logins and its integration (columns prefixed `i_`).
pub const SELECT_RUNS: &str = "\
    SELECT t0.id, t0.lock_version, t0.integration_id, t0.status, t0.start_time, t0.end_time, \
    t0.total_records, t0.records_processed, t0.flow, t0.created_at, t0.updated_at, \
    t0.retry_of_id, t0.attempt, \
    t0.created_by_id, cb.login AS created_by_login, t0.updated_by_id, ub.login AS updated_by_login, \
    i.id AS i_id, i.lock_version AS i_lock_version, i.code AS i_code, i.name AS i_name, i.business_object AS i_business_object, \
    i.direction AS i_direction, i.end_system AS i_end_system, \
    i.end_system_type AS i_end_system_type, i.integration_type AS i_integration_type, \
    i.standard AS i_standard, i.created_at AS i_created_at, i.updated_at AS i_updated_at \
    FROM integration_runs t0 \
    JOIN integrations i ON i.id = t0.integration_id \
    LEFT JOIN api_clients cb ON cb.id = t0.created_by_id \
    LEFT JOIN api_clients ub ON ub.id = t0.updated_by_id";

/// Integration errors or history records (`table`), with their clients' logins and their
/// integration's keys (`i_code`, `i_name`), from `<table> t0`.
pub fn select_records(table: &str) -> String {
    format!(
        "SELECT t0.id, t0.lock_version, t0.integration_run_id, t0.integration_id, \
         t0.contact_alert_type, \
         t0.document_type, t0.document_id, t0.document_revision, t0.document_status, t0.external_id, \
         t0.integration_filename, t0.creation_method, t0.status, t0.resolved, t0.exported, \
         t0.created_at, t0.updated_at, t0.created_by_id, cb.login AS created_by_login, \
         t0.updated_by_id, ub.login AS updated_by_login, i.code AS i_code, i.name AS i_name \
         FROM {table} t0 \
         LEFT JOIN api_clients cb ON cb.id = t0.created_by_id \
         LEFT JOIN api_clients ub ON ub.id = t0.updated_by_id \
         LEFT JOIN integrations i ON i.id = t0.integration_id"
    )
}

/// `$1, $2, …, $count`, starting after `offset` placeholders.
pub fn placeholders(offset: usize, count: usize) -> String {
    let list: Vec<String> = (offset + 1..=offset + count)
        .map(|n| format!("${n}"))
        .collect();
    list.join(", ")
}

pub fn insert_record(table: &str) -> String {
    format!(
        "INSERT INTO {table} (integration_run_id, integration_id, contact_alert_type, document_type, \
         document_id, document_revision, document_status, external_id, integration_filename, \
         creation_method, status, resolved, exported, created_at, updated_at, created_by_id, \
         updated_by_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, \
         $15, $15) RETURNING id"
    )
}

pub fn update_record(table: &str) -> String {
    format!(
        "UPDATE {table} SET integration_run_id = $2, integration_id = $3, contact_alert_type = $4, \
         document_type = $5, document_id = $6, document_revision = $7, document_status = $8, \
         external_id = $9, integration_filename = $10, creation_method = $11, status = $12, \
         updated_at = $13, updated_by_id = $14, lock_version = lock_version + 1 WHERE id = $1"
    )
}

pub fn resolve_record(table: &str) -> String {
    format!(
        "UPDATE {table} SET resolved = $2, updated_at = $3, updated_by_id = $4, \
         lock_version = lock_version + 1 WHERE id = $1 AND resolved <> $2"
    )
}

/// Resolves the open records of one document (`acknowledge`).
pub fn resolve_document(table: &str) -> String {
    format!(
        "UPDATE {table} SET resolved = $3, updated_at = $4, updated_by_id = $5, \
         lock_version = lock_version + 1 WHERE document_type = $1 AND document_id = $2 AND resolved = $6"
    )
}

pub const INSERT_RESPONSE: &str = "\
    INSERT INTO integration_responses (owner_type, owner_id, response_code, response_message, \
    created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)";

pub const RUN_INTEGRATION: &str = "SELECT integration_id FROM integration_runs WHERE id = $1";

pub const SELECT_CONTACTS: &str = "\
    SELECT t0.id, t0.integration_id, t0.contact_alert_type, t0.contactable_type, t0.contactable_id, \
    t0.email, t0.webhook_url, t0.webhook_secret, t0.created_at, t0.updated_at, \
    t0.created_by_id, cb.login AS created_by_login, t0.updated_by_id, ub.login AS updated_by_login \
    FROM integration_contacts t0 \
    LEFT JOIN api_clients cb ON cb.id = t0.created_by_id \
    LEFT JOIN api_clients ub ON ub.id = t0.updated_by_id";

pub const INSERT_CONTACT: &str = "\
    INSERT INTO integration_contacts (integration_id, contact_alert_type, contactable_type, \
    contactable_id, email, webhook_url, webhook_secret, created_at, updated_at, created_by_id, \
    updated_by_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $9) RETURNING id";

pub const UPDATE_CONTACT: &str = "\
    UPDATE integration_contacts SET integration_id = $2, contact_alert_type = $3, \
    contactable_type = $4, contactable_id = $5, email = $6, webhook_url = $7, updated_at = $8, \
    updated_by_id = $9 WHERE id = $1";

/// The contacts that may hear of an integration's records (`$1`): its own, and those of
/// every integration.
pub fn alert_contacts() -> String {
    format!(
        "{SELECT_CONTACTS} WHERE t0.integration_id = $1 OR t0.integration_id IS NULL \
         ORDER BY t0.id"
    )
}

pub const INSERT_DELIVERY: &str = "\
    INSERT INTO alert_deliveries (integration_contact_id, integration_id, record_type, record_id, \
    channel, target, status, attempts, next_attempt_at, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7)";

const DELIVERY_COLUMNS: &str = "id, integration_contact_id, event_subscription_id, integration_id, \
    record_type, record_id, \
    channel, target, status, attempts, next_attempt_at, last_error, response_code, delivered_at, \
    created_at, updated_at";

pub fn select_deliveries() -> String {
    format!(
        "SELECT {} FROM alert_deliveries t0",
        prefixed(DELIVERY_COLUMNS, "t0.")
    )
}

/// Leases up to `$3` due deliveries until `$1` (now is `$2`), so that no other worker takes them.
///
/// The lease condition stands in the outer `WHERE` too: on PostgreSQL, a second node whose
/// subquery picked the same rows waits for the first node's commit and then re-checks only
/// the outer condition, which the fresh lease now fails, so no row is claimed twice.
pub fn claim_deliveries() -> String {
    format!(
        "UPDATE alert_deliveries SET lease_until = $1 WHERE id IN (SELECT id FROM alert_deliveries \
         WHERE status = 'pending' AND next_attempt_at <= $2 \
         AND (lease_until IS NULL OR lease_until < $2) ORDER BY next_attempt_at, id LIMIT $3) \
         AND status = 'pending' AND (lease_until IS NULL OR lease_until < $2) \
         RETURNING {DELIVERY_COLUMNS}"
    )
}

pub const RECORD_ATTEMPT: &str = "\
    UPDATE alert_deliveries SET attempts = attempts + 1, status = $2, next_attempt_at = $3, \
    lease_until = NULL, last_error = $4, response_code = $5, delivered_at = $6, updated_at = $7 \
    WHERE id = $1";

/// The earliest time a pending delivery can be claimed (due, and its lease, if any, expired),
/// for the dispatcher's sleep.
pub const NEXT_DUE: &str = "\
    SELECT MIN(CASE WHEN lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END) \
    FROM alert_deliveries WHERE status = 'pending'";

fn prefixed(columns: &str, prefix: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{prefix}{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub const INSERT_INTEGRATION: &str = "\
    INSERT INTO integrations (code, name, business_object, direction, end_system, \
    end_system_type, integration_type, standard, created_at, updated_at, created_by_id, \
    updated_by_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $10) RETURNING id";

/// Whether an integration other than `$1` has the code `$2` / the name `$3`, ASCII case
/// aside (bind both lowercased): unique as on Coupa's MySQL, through the `lower()` indexes.
pub const INTEGRATION_KEYS_TAKEN: &str = "\
    SELECT EXISTS (SELECT 1 FROM integrations WHERE lower(code) = $2 AND id <> $1), \
    EXISTS (SELECT 1 FROM integrations WHERE lower(name) = $3 AND id <> $1)";

pub const UPDATE_INTEGRATION: &str = "\
    UPDATE integrations SET code = $2, name = $3, business_object = $4, direction = $5, \
    end_system = $6, end_system_type = $7, integration_type = $8, updated_at = $9, \
    updated_by_id = $10, lock_version = lock_version + 1 WHERE id = $1";

pub const INSERT_RUN: &str = "\
    INSERT INTO integration_runs (integration_id, status, start_time, end_time, total_records, \
    records_processed, flow, created_at, updated_at, created_by_id, updated_by_id, retry_of_id, \
    attempt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $9, $10, $11) RETURNING id";

/// The columns of a run that an update may change, in the order [`update_run`] takes them.
pub const RUN_UPDATE_COLUMNS: [&str; 7] = [
    "integration_id",
    "status",
    "start_time",
    "end_time",
    "total_records",
    "records_processed",
    "flow",
];

/// Writes the `changed` columns of a run (`$3`, `$4`, … in [`RUN_UPDATE_COLUMNS`] order), then
/// `updated_at` and `updated_by_id`, but only if its status is still the one that was read
/// (`$2`), so that two racing transitions can never both win.
///
/// Only changed columns are set: SQLite rewrites the index entries of every column an
/// `UPDATE` sets, changed or not, and each rewritten index page is another page to sync.
pub fn update_run(changed: [bool; 7]) -> String {
    let mut sql = String::from("UPDATE integration_runs SET ");
    let mut n = 2;
    for (column, _) in RUN_UPDATE_COLUMNS.iter().zip(changed).filter(|(_, c)| *c) {
        n += 1;
        sql.push_str(&format!("{column} = ${n}, "));
    }
    sql.push_str(&format!(
        "updated_at = ${}, updated_by_id = ${}, lock_version = lock_version + 1 \
         WHERE id = $1 AND status = $2",
        n + 1,
        n + 2
    ));
    sql
}

/// Integration errors of the runs whose ids fill `count` placeholders.
pub fn errors_of_runs(count: usize) -> String {
    format!(
        "{} WHERE t0.integration_run_id IN ({}) ORDER BY t0.id",
        select_records("integration_errors"),
        placeholders(0, count)
    )
}

/// Responses of the records of one kind (`$1`) whose ids fill `count` placeholders.
pub fn responses_of(count: usize) -> String {
    format!(
        "SELECT id, owner_id, response_code, response_message, created_at, updated_at \
         FROM integration_responses WHERE owner_type = $1 AND owner_id IN ({}) ORDER BY id",
        placeholders(1, count)
    )
}
pub const SELECT_CLIENTS: &str = "\
    SELECT id, login, kind, client_id, scopes, created_at, revoked_at, require_if_match \
    FROM api_clients";

pub const INSERT_CLIENT: &str = "\
    INSERT INTO api_clients (login, kind, client_id, secret_hash, scopes, created_at, \
    require_if_match) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";

/// Revokes once: a second revocation keeps the first time.
pub const REVOKE_CLIENT: &str = "\
    UPDATE api_clients SET revoked_at = COALESCE(revoked_at, $3) \
    WHERE kind = $1 AND (CAST(id AS TEXT) = $2 OR client_id = $2) RETURNING id";

pub const INSERT_SIGNING_KEY: &str = "\
    INSERT INTO signing_keys (id, secret, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING";

pub const SELECT_SIGNING_KEY: &str = "SELECT secret FROM signing_keys WHERE id = 1";

/// A monitor with its clients' logins, by its integration (`$1`).
pub const SELECT_MONITOR: &str = "\
    SELECT t0.integration_id, t0.schedule_kind, t0.schedule, t0.time_zone, t0.start_grace, \
    t0.max_runtime, t0.min_runtime, t0.min_records, t0.max_records, t0.max_errors, t0.paused, \
    t0.paused_until, t0.watching_since, t0.ping_key, t0.created_at, t0.updated_at, \
    t0.stuck_fail_after, t0.heartbeat_timeout, t0.alerts_enabled, t0.alert_after_failures, t0.alert_failure_percent, \
    t0.alert_failure_window, t0.alert_on_recovery, t0.alert_repeat_every, t0.escalate_after, \
    t0.escalate_to, t0.maintenance, t0.health, t0.health_reason, t0.health_changed_at, \
    t0.next_deadline, t0.down_since, t0.alerted_at, t0.escalated, \
    t0.created_by_id, cb.login AS created_by_login, t0.updated_by_id, ub.login AS updated_by_login \
    FROM monitors t0 \
    LEFT JOIN api_clients cb ON cb.id = t0.created_by_id \
    LEFT JOIN api_clients ub ON ub.id = t0.updated_by_id \
    WHERE t0.integration_id = $1";

/// The default monitor of integration `$1` (start grace `$2`, ping key `$4`, not paused: `$6`
/// is false), made at `$3` by client `$5`, unless it has one.
pub const INSERT_MONITOR: &str = "\
    INSERT INTO monitors (integration_id, time_zone, start_grace, paused, watching_since, \
    ping_key, created_at, updated_at, created_by_id, updated_by_id) \
    VALUES ($1, 'UTC', $2, $6, $3, $4, $3, $3, $5, $5) ON CONFLICT (integration_id) DO NOTHING";

pub const UPDATE_MONITOR: &str = "\
    UPDATE monitors SET schedule_kind = $2, schedule = $3, time_zone = $4, start_grace = $5, \
    max_runtime = $6, min_runtime = $7, min_records = $8, max_records = $9, max_errors = $10, \
    paused = $11, paused_until = $12, watching_since = $13, updated_at = $14, updated_by_id = $15, \
    stuck_fail_after = $16, alerts_enabled = $17, alert_after_failures = $18, \
    alert_failure_percent = $19, alert_failure_window = $20, alert_on_recovery = $21, \
    alert_repeat_every = $22, escalate_after = $23, escalate_to = $24, maintenance = $25, \
    heartbeat_timeout = $26, next_deadline = $14 \
    WHERE integration_id = $1";

/// Makes integration `$1`'s monitor due at `$2`, for the sweeper to look at what a write to
/// one of its runs changed; a monitor due sooner stays so. The row is written even then: on
/// PostgreSQL that waits for a look in progress, which may have read the runs before this
/// write committed, and then makes the monitor due again, so that no write goes unseen.
pub const TOUCH_MONITOR: &str = "\
    UPDATE monitors SET next_deadline = CASE \
    WHEN next_deadline IS NULL OR next_deadline > $2 THEN $2 ELSE next_deadline END \
    WHERE integration_id = $1";

/// [`TOUCH_MONITOR`] for the integration of run `$1`: taken before the run's own lock, so that
/// a write and a look (monitor, then its runs) lock in the same order.
pub const TOUCH_MONITOR_OF_RUN: &str = "\
    UPDATE monitors SET next_deadline = CASE \
    WHEN next_deadline IS NULL OR next_deadline > $2 THEN $2 ELSE next_deadline END \
    WHERE integration_id = (SELECT integration_id FROM integration_runs WHERE id = $1)";

/// Up to `$2` monitors due at `$1`, soonest first, through the index on the deadline.
pub const DUE_MONITORS: &str = "\
    SELECT integration_id FROM monitors WHERE next_deadline <= $1 \
    ORDER BY next_deadline LIMIT $2";

/// Integration `$1`'s monitor if it is due at `$2`: the claim of a look.
pub const CLAIM_MONITOR: &str =
    "SELECT integration_id FROM monitors WHERE integration_id = $1 AND next_deadline <= $2";

pub const POSTPONE_MONITOR: &str =
    "UPDATE monitors SET next_deadline = $2 WHERE integration_id = $1";

/// Records what the sweeper decided of integration `$1`'s monitor, if its health is still
/// `$2` as read (the condition that makes a change happen once).
pub const SAVE_MONITOR_STATE: &str = "\
    UPDATE monitors SET health = $3, health_reason = $4, health_changed_at = $5, \
    next_deadline = $6, down_since = $7, alerted_at = $8, escalated = $9 \
    WHERE integration_id = $1 AND health = $2";

pub const INSERT_FLIP: &str = "\
    INSERT INTO monitor_flips (integration_id, flipped_at, from_health, to_health, reason, \
    integration_run_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";

/// Marks run `$1` stuck at `$2` unless it was already: one integration error per stuck run.
pub const MARK_STUCK: &str =
    "UPDATE integration_runs SET stuck_at = $2 WHERE id = $1 AND stuck_at IS NULL";

/// The statuses of integration `$1`'s latest `$2` ended runs, newest first.
pub const LATEST_OUTCOMES: &str = "\
    SELECT status FROM integration_runs \
    WHERE integration_id = $1 AND status IN ('successful', 'failed') \
    ORDER BY created_at DESC, id DESC LIMIT $2";

/// A run recorded by the sweeper for a start that never came: failed, from the expected
/// start (`$3`) to the end of its grace (`$4`), made at `$5`.
pub const INSERT_MISSED_RUN: &str = "\
    INSERT INTO integration_runs (integration_id, status, start_time, end_time, created_at, \
    updated_at) VALUES ($1, $2, $3, $4, $3, $5) RETURNING id";

/// The monitors in any of `health` healths (all when none), by integration id; limit and
/// offset follow the healths' placeholders.
pub fn select_monitors(healths: usize) -> String {
    let filter = if healths == 0 {
        String::new()
    } else {
        format!(" WHERE t0.health IN ({})", placeholders(0, healths))
    };
    format!(
        "{}{filter} ORDER BY t0.integration_id LIMIT ${} OFFSET ${}",
        SELECT_MONITOR.trim_end_matches(" WHERE t0.integration_id = $1"),
        healths + 1,
        healths + 2
    )
}

/// Integration `$1`'s health changes, newest first.
pub const SELECT_FLIPS: &str = "\
    SELECT id, integration_id, flipped_at, from_health, to_health, reason, integration_run_id \
    FROM monitor_flips WHERE integration_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3";

/// The open runs of integration `$1`, through the partial index on open runs.
pub const OPEN_RUNS: &str = "\
    SELECT id, COALESCE(start_time, created_at) AS started_at, updated_at AS last_seen \
    FROM integration_runs \
    WHERE integration_id = $1 AND status IN ('pending', 'running', 'paused') ORDER BY id";

/// The run of integration `$1` that came last among those that ended, with its error count.
pub const LAST_ENDED_RUN: &str = "\
    SELECT r.id, r.status, COALESCE(r.start_time, r.created_at) AS started_at, \
    COALESCE(r.end_time, r.updated_at) AS ended_at, r.records_processed, \
    (SELECT count(*) FROM integration_errors e WHERE e.integration_run_id = r.id) AS errors \
    FROM integration_runs r WHERE r.integration_id = $1 AND r.status IN ('successful', 'failed') \
    ORDER BY r.created_at DESC, r.id DESC LIMIT 1";

/// When integration `$1`'s latest run came.
pub const LAST_START: &str =
    "SELECT max(created_at) FROM integration_runs WHERE integration_id = $1";

#[cfg(test)]
mod tests {
    #[test]
    fn a_run_update_sets_only_what_changed_and_numbers_its_placeholders_in_order() {
        assert_eq!(
            super::update_run([false, true, false, false, false, true, false]),
            "UPDATE integration_runs SET status = $3, records_processed = $4, updated_at = $5, \
             updated_by_id = $6, lock_version = lock_version + 1 WHERE id = $1 AND status = $2"
        );
        assert_eq!(
            super::update_run([false; 7]),
            "UPDATE integration_runs SET updated_at = $3, updated_by_id = $4, \
             lock_version = lock_version + 1 WHERE id = $1 AND status = $2"
        );
    }
}
