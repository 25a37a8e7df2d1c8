//! SQL that both backends run as written: `$N` placeholders, no dialect features.
//!
//! The listing queries alias their main table `t0` so that the compiled query language
//! ([`crate::query::sql`]) can be appended to them.

/// An integration's columns with its clients' logins, from `integrations t0`.
pub const SELECT_INTEGRATIONS: &str = "\
    SELECT t0.id, t0.code, t0.name, t0.business_object, t0.direction, t0.end_system, \
    t0.end_system_type, t0.integration_type, t0.standard, t0.created_at, t0.updated_at, \
    t0.created_by_id, cb.login AS created_by_login, t0.updated_by_id, ub.login AS updated_by_login \
    FROM integrations t0 \
    LEFT JOIN api_clients cb ON cb.id = t0.created_by_id \
    LEFT JOIN api_clients ub ON ub.id = t0.updated_by_id";

/// A run's columns, its clients' logins and its integration (columns prefixed `i_`).
pub const SELECT_RUNS: &str = "\
    SELECT t0.id, t0.integration_id, t0.status, t0.start_time, t0.end_time, t0.total_records, \
    t0.records_processed, t0.flow, t0.created_at, t0.updated_at, \
    t0.created_by_id, cb.login AS created_by_login, t0.updated_by_id, ub.login AS updated_by_login, \
    i.code AS i_code, i.name AS i_name, i.business_object AS i_business_object, \
    i.direction AS i_direction, i.end_system AS i_end_system, \
    i.end_system_type AS i_end_system_type, i.integration_type AS i_integration_type, \
    i.standard AS i_standard, i.created_at AS i_created_at, i.updated_at AS i_updated_at \
    FROM integration_runs t0 \
    JOIN integrations i ON i.id = t0.integration_id \
    LEFT JOIN api_clients cb ON cb.id = t0.created_by_id \
    LEFT JOIN api_clients ub ON ub.id = t0.updated_by_id";

/// Integration errors with their clients' logins, from `integration_errors t0`.
pub const SELECT_ERRORS: &str = "\
    SELECT t0.id, t0.integration_run_id, t0.integration_id, t0.contact_alert_type, \
    t0.document_type, t0.document_id, t0.document_revision, t0.document_status, t0.external_id, \
    t0.integration_filename, t0.creation_method, t0.status, t0.resolved, t0.created_at, \
    t0.updated_at, t0.created_by_id, cb.login AS created_by_login, t0.updated_by_id, \
    ub.login AS updated_by_login \
    FROM integration_errors t0 \
    LEFT JOIN api_clients cb ON cb.id = t0.created_by_id \
    LEFT JOIN api_clients ub ON ub.id = t0.updated_by_id";

pub const INSERT_INTEGRATION: &str = "\
    INSERT INTO integrations (code, name, business_object, direction, end_system, \
    end_system_type, integration_type, standard, created_at, updated_at, created_by_id, \
    updated_by_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $10) RETURNING id";

/// Whether an integration other than `$1` has the code `$2` / the name `$3`.
pub const INTEGRATION_KEYS_TAKEN: &str = "\
    SELECT EXISTS (SELECT 1 FROM integrations WHERE code = $2 AND id <> $1), \
    EXISTS (SELECT 1 FROM integrations WHERE name = $3 AND id <> $1)";

pub const UPDATE_INTEGRATION: &str = "\
    UPDATE integrations SET code = $2, name = $3, business_object = $4, direction = $5, \
    end_system = $6, end_system_type = $7, integration_type = $8, updated_at = $9, \
    updated_by_id = $10 WHERE id = $1";

pub const INSERT_RUN: &str = "\
    INSERT INTO integration_runs (integration_id, status, start_time, end_time, total_records, \
    records_processed, flow, created_at, updated_at, created_by_id, updated_by_id) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $9) RETURNING id";

/// Writes a run back only if its status is still the one that was read (`$9`), so that two
/// racing transitions can never both win.
pub const UPDATE_RUN: &str = "\
    UPDATE integration_runs SET integration_id = $2, status = $3, start_time = $4, \
    end_time = $5, total_records = $6, records_processed = $7, flow = $8, updated_at = $10, \
    updated_by_id = $11 WHERE id = $1 AND status = $9";

pub const HAS_UNRESOLVED_ERRORS: &str = "\
    SELECT EXISTS (SELECT 1 FROM integration_errors \
    WHERE integration_run_id = $1 AND resolved = $2)";

/// `SELECT_ERRORS` for the runs whose ids fill `count` placeholders.
pub fn errors_of_runs(count: usize) -> String {
    let list: Vec<String> = (1..=count).map(|n| format!("${n}")).collect();
    format!(
        "{SELECT_ERRORS} WHERE t0.integration_run_id IN ({}) ORDER BY t0.id",
        list.join(", ")
    )
}

pub const SELECT_CLIENTS: &str = "\
    SELECT id, login, kind, client_id, scopes, created_at, revoked_at FROM api_clients";

pub const INSERT_CLIENT: &str = "\
    INSERT INTO api_clients (login, kind, client_id, secret_hash, scopes, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";

/// Revokes once: a second revocation keeps the first time.
pub const REVOKE_CLIENT: &str = "\
    UPDATE api_clients SET revoked_at = COALESCE(revoked_at, $3) \
    WHERE kind = $1 AND (CAST(id AS TEXT) = $2 OR client_id = $2) RETURNING id";

pub const INSERT_SIGNING_KEY: &str = "\
    INSERT INTO signing_keys (id, secret, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING";

pub const SELECT_SIGNING_KEY: &str = "SELECT secret FROM signing_keys WHERE id = 1";
