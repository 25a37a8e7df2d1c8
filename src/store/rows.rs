//! Rows as the domain's types: the columns each `SELECT` of [`super::sql`] names, read back.

use super::exec::Row;
use crate::domain::Actor;
use crate::domain::alert_policy::{AlertPolicy, Episode, Escalation, FailureRate, Maintenance};
use crate::domain::alerts::{Carried, Channel, Delivery, DeliveryStatus, Recipient};
use crate::domain::clients::{Client, ClientKind, Scopes};
use crate::domain::contacts::{Contact, ContactableType};
use crate::domain::integrations::{Direction, EndSystemType, Integration, IntegrationType};
use crate::domain::monitor::fields::StoredMonitor;
use crate::domain::monitor::sweep::{Flip, MonitorState};
use crate::domain::monitor::{EndedRun, Health, Monitor, OpenRun};
use crate::domain::records::{ContactAlertType, IntegrationKeys, Record, Response};
use crate::domain::runs::{Run, RunView, Status};
use crate::domain::schedule::{Schedule, Zone};
use crate::domain::vocabulary::stored_word;
use crate::error::{Error, Result};

/// The columns of a row's author: its client's id and login.
const CREATED_BY: [&str; 2] = ["created_by_id", "created_by_login"];
const UPDATED_BY: [&str; 2] = ["updated_by_id", "updated_by_login"];

fn actor(row: &Row, [id, login]: [&str; 2]) -> Result<Option<Actor>> {
    let id: Option<i64> = row.get(id)?;
    let login: Option<String> = row.get(login)?;
    Ok(id.zip(login).map(|(id, login)| Actor { id, login }))
}

/// A row's `created_by_id` and `created_by_login`, as its author.
pub fn created_by(row: &Row) -> Result<Option<Actor>> {
    actor(row, CREATED_BY)
}

/// A row's `updated_by_id` and `updated_by_login`, as its last author.
pub fn updated_by(row: &Row) -> Result<Option<Actor>> {
    actor(row, UPDATED_BY)
}

/// A column that holds one of a closed set of names, read by `parse`. Any other text was not
/// written by Runledger: a bug or a foreign write, not a client's mistake.
fn named<T>(row: &Row, column: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T> {
    let text: String = row.get(column)?;
    parse(&text).ok_or_else(|| unknown(column, &text))
}

/// A column of a closed vocabulary (`all`, each spelt by `spelling`), read as the domain
/// reads a stored word ([`stored_word`]).
fn word<T: Copy>(row: &Row, column: &str, all: &[T], spelling: fn(T) -> &'static str) -> Result<T> {
    named(row, column, |text| stored_word(all, spelling, text))
}

fn optional_word<T: Copy>(
    row: &Row,
    column: &str,
    all: &[T],
    spelling: fn(T) -> &'static str,
) -> Result<Option<T>> {
    let text: Option<String> = row.get(column)?;
    text.map(|text| stored_word(all, spelling, &text).ok_or_else(|| unknown(column, &text)))
        .transpose()
}

fn unknown(column: &str, text: &str) -> Error {
    Error::Internal(format!("unknown {column} {text:?} in the database"))
}

pub fn integration(row: &Row) -> Result<Integration> {
    Ok(Integration {
        created_by: actor(row, CREATED_BY)?,
        updated_by: actor(row, UPDATED_BY)?,
        ..integration_columns(row, INTEGRATION_COLUMNS)?
    })
}

/// An integration's own columns as `integrations` names them, and as the runs query joins
/// them (prefixed `i_`).
const INTEGRATION_COLUMNS: [&str; 12] = [
    "id",
    "lock_version",
    "code",
    "name",
    "business_object",
    "direction",
    "end_system",
    "end_system_type",
    "integration_type",
    "standard",
    "created_at",
    "updated_at",
];
const JOINED_INTEGRATION_COLUMNS: [&str; 12] = [
    "i_id",
    "i_lock_version",
    "i_code",
    "i_name",
    "i_business_object",
    "i_direction",
    "i_end_system",
    "i_end_system_type",
    "i_integration_type",
    "i_standard",
    "i_created_at",
    "i_updated_at",
];

/// An integration's own columns, named by `names`, without its authors.
fn integration_columns(row: &Row, names: [&str; 12]) -> Result<Integration> {
    let [
        id,
        version,
        code,
        name,
        business_object,
        direction,
        end_system,
        end_system_type,
        integration_type,
        standard,
        created_at,
        updated_at,
    ] = names;
    Ok(Integration {
        id: row.get(id)?,
        version: row.get(version)?,
        code: row.get(code)?,
        name: row.get(name)?,
        business_object: row.get(business_object)?,
        direction: word(row, direction, &Direction::ALL, Direction::as_str)?,
        end_system: row.get(end_system)?,
        end_system_type: word(
            row,
            end_system_type,
            &EndSystemType::ALL,
            EndSystemType::as_str,
        )?,
        integration_type: optional_word(
            row,
            integration_type,
            &IntegrationType::ALL,
            IntegrationType::as_str,
        )?,
        standard: row.get(standard)?,
        created_at: row.get(created_at)?,
        updated_at: row.get(updated_at)?,
        created_by: None,
        updated_by: None,
    })
}

/// A run with its integration (joined, `i_` columns); its errors are attached after.
pub fn run(row: &Row) -> Result<RunView> {
    let run = Run {
        id: row.get("id")?,
        version: row.get("lock_version")?,
        integration_id: row.get("integration_id")?,
        status: named(row, "status", Status::parse)?,
        start_time: row.get("start_time")?,
        end_time: row.get("end_time")?,
        total_records: row.get("total_records")?,
        records_processed: row.get("records_processed")?,
        flow: row.get("flow")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        created_by: actor(row, CREATED_BY)?,
        updated_by: actor(row, UPDATED_BY)?,
        retry_of: row.get("retry_of_id")?,
        attempt: row.get("attempt")?,
    };
    let integration = integration_columns(row, JOINED_INTEGRATION_COLUMNS)?;
    Ok(RunView {
        run,
        integration,
        integration_errors: Vec::new(),
    })
}

/// An integration error or history record; its responses are attached after.
pub fn record(row: &Row) -> Result<Record> {
    let integration_id: Option<i64> = row.get("integration_id")?;
    let code: Option<String> = row.get("i_code")?;
    let name: Option<String> = row.get("i_name")?;
    let integration = match (integration_id, code, name) {
        (Some(id), Some(code), Some(name)) => Some(IntegrationKeys { id, code, name }),
        _ => None,
    };
    Ok(Record {
        integration,
        responses: Vec::new(),
        id: row.get("id")?,
        version: row.get("lock_version")?,
        integration_run_id: row.get("integration_run_id")?,
        integration_id,
        contact_alert_type: word(
            row,
            "contact_alert_type",
            &ContactAlertType::ALL,
            ContactAlertType::as_str,
        )?,
        document_type: row.get("document_type")?,
        document_id: row.get("document_id")?,
        document_revision: row.get("document_revision")?,
        document_status: row.get("document_status")?,
        external_id: row.get("external_id")?,
        integration_filename: row.get("integration_filename")?,
        creation_method: row.get("creation_method")?,
        status: row.get("status")?,
        resolved: row.get("resolved")?,
        exported: row.get("exported")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        created_by: actor(row, CREATED_BY)?,
        updated_by: actor(row, UPDATED_BY)?,
    })
}

/// A record's response, and the id of the record it belongs to.
pub fn response(row: &Row) -> Result<(i64, Response)> {
    Ok((
        row.get("owner_id")?,
        Response {
            id: row.get("id")?,
            response_code: row.get("response_code")?,
            response_message: row.get("response_message")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        },
    ))
}

pub fn contact(row: &Row) -> Result<Contact> {
    Ok(Contact {
        id: row.get("id")?,
        integration_id: row.get("integration_id")?,
        contact_alert_type: word(
            row,
            "contact_alert_type",
            &ContactAlertType::ALL,
            ContactAlertType::as_str,
        )?,
        contactable_type: word(
            row,
            "contactable_type",
            &ContactableType::ALL,
            ContactableType::as_str,
        )?,
        contactable_id: row.get("contactable_id")?,
        email: row.get("email")?,
        webhook_url: row.get("webhook_url")?,
        webhook_secret: row.get("webhook_secret")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        created_by: actor(row, CREATED_BY)?,
        updated_by: actor(row, UPDATED_BY)?,
    })
}

/// A delivery's contact or subscription: exactly one is set (a constraint says so).
fn recipient(row: &Row) -> Result<Recipient> {
    let contact: Option<i64> = row.get("integration_contact_id")?;
    let subscription: Option<i64> = row.get("event_subscription_id")?;
    match (contact, subscription) {
        (Some(id), None) => Ok(Recipient::Contact(id)),
        (None, Some(id)) => Ok(Recipient::Subscription(id)),
        _ => Err(Error::Internal(
            "a delivery with no one recipient in the database".into(),
        )),
    }
}

pub fn delivery(row: &Row) -> Result<Delivery> {
    Ok(Delivery {
        id: row.get("id")?,
        recipient: recipient(row)?,
        integration_id: row.get("integration_id")?,
        record_type: word(row, "record_type", &Carried::ALL, Carried::as_str)?,
        record_id: row.get("record_id")?,
        channel: named(row, "channel", Channel::parse)?,
        target: row.get("target")?,
        status: word(row, "status", &DeliveryStatus::ALL, DeliveryStatus::as_str)?,
        attempts: row.get("attempts")?,
        next_attempt_at: row.get("next_attempt_at")?,
        last_error: row.get("last_error")?,
        response_code: row.get("response_code")?,
        delivered_at: row.get("delivered_at")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

pub fn client(row: &Row) -> Result<Client> {
    let scopes: String = row.get("scopes")?;
    Ok(Client {
        id: row.get("id")?,
        login: row.get("login")?,
        kind: named(row, "kind", ClientKind::parse)?,
        client_id: row.get("client_id")?,
        scopes: Scopes::parse(&scopes)
            .map_err(|s| Error::Internal(format!("unknown stored scope {s:?}")))?,
        created_at: row.get("created_at")?,
        revoked_at: row.get("revoked_at")?,
        require_if_match: row.get("require_if_match")?,
    })
}

/// A monitor, its schedule and zone read back as the domain reads them from a body.
pub fn monitor(row: &Row) -> Result<StoredMonitor> {
    let kind: Option<String> = row.get("schedule_kind")?;
    let text: Option<String> = row.get("schedule")?;
    let schedule = match (kind.as_deref(), text) {
        (Some(kind), Some(text)) => Some(Schedule::parse(kind, &text)),
        (None, None) => None,
        (kind, text) => Some(Err(format!("schedule {kind:?} {text:?}"))),
    }
    .transpose()
    .map_err(|e| Error::Internal(format!("unreadable stored monitor schedule: {e}")))?;
    let zone: String = row.get("time_zone")?;
    let seconds = |column: &str| -> Result<Option<std::time::Duration>> {
        let n: Option<i64> = row.get(column)?;
        Ok(n.map(|n| std::time::Duration::from_secs(n.unsigned_abs())))
    };
    let paused: bool = row.get("paused")?;
    let monitor = Monitor {
        schedule,
        zone: Zone::parse(&zone).map_err(Error::Internal)?,
        start_grace: seconds("start_grace")?.unwrap_or_default(),
        max_runtime: seconds("max_runtime")?,
        min_runtime: seconds("min_runtime")?,
        min_records: row.get("min_records")?,
        max_records: row.get("max_records")?,
        max_errors: row.get("max_errors")?,
        paused: paused.then(|| row.get("paused_until")).transpose()?,
        since: row.get("watching_since")?,
        stuck_fail_after: seconds("stuck_fail_after")?,
        heartbeat_timeout: seconds("heartbeat_timeout")?,
        policy: alert_policy(row, &seconds)?,
    };
    let state = MonitorState {
        health: word(row, "health", &Health::ALL, Health::as_str)?,
        reason: row.get("health_reason")?,
        changed_at: row.get("health_changed_at")?,
        next_deadline: row.get("next_deadline")?,
        episode: Episode {
            down_since: row.get("down_since")?,
            alerted_at: row.get("alerted_at")?,
            escalated: row.get("escalated")?,
        },
    };
    Ok(StoredMonitor {
        integration_id: row.get("integration_id")?,
        monitor,
        ping_key: row.get("ping_key")?,
        state,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        created_by: actor(row, CREATED_BY)?,
        updated_by: actor(row, UPDATED_BY)?,
    })
}

fn alert_policy(
    row: &Row,
    seconds: &dyn Fn(&str) -> Result<Option<std::time::Duration>>,
) -> Result<AlertPolicy> {
    let after_failures: i64 = row.get("alert_after_failures")?;
    let percent: Option<i64> = row.get("alert_failure_percent")?;
    let window: Option<i64> = row.get("alert_failure_window")?;
    let escalate_to = optional_word(
        row,
        "escalate_to",
        &ContactAlertType::ALL,
        ContactAlertType::as_str,
    )?;
    let maintenance: String = row.get("maintenance")?;
    let maintenance = serde_json::from_str(&maintenance)
        .map_err(|e| e.to_string())
        .and_then(|value| Maintenance::parse_all(&value).map_err(|e| e.join("; ")))
        .map_err(|e| Error::Internal(format!("unreadable stored maintenance windows: {e}")))?;
    Ok(AlertPolicy {
        enabled: row.get("alerts_enabled")?,
        after_failures: u32::try_from(after_failures).unwrap_or(1),
        failure_rate: match (percent, window) {
            (Some(percent), Some(runs)) => Some(FailureRate {
                percent: u8::try_from(percent).unwrap_or(100),
                runs: usize::try_from(runs).unwrap_or(1),
            }),
            _ => None,
        },
        recovery: row.get("alert_on_recovery")?,
        repeat_every: seconds("alert_repeat_every")?,
        escalate: match (seconds("escalate_after")?, escalate_to) {
            (Some(after), Some(to)) => Some(Escalation { after, to }),
            _ => None,
        },
        maintenance,
    })
}

pub fn flip(row: &Row) -> Result<Flip> {
    Ok(Flip {
        id: row.get("id")?,
        integration_id: row.get("integration_id")?,
        flipped_at: row.get("flipped_at")?,
        from: word(row, "from_health", &Health::ALL, Health::as_str)?,
        to: word(row, "to_health", &Health::ALL, Health::as_str)?,
        reason: row.get("reason")?,
        integration_run_id: row.get("integration_run_id")?,
    })
}

pub fn open_run(row: &Row) -> Result<OpenRun> {
    Ok(OpenRun {
        id: row.get("id")?,
        started_at: row.get("started_at")?,
        last_seen: row.get("last_seen")?,
    })
}

pub fn ended_run(row: &Row) -> Result<EndedRun> {
    Ok(EndedRun {
        id: row.get("id")?,
        status: named(row, "status", Status::parse)?,
        started_at: row.get("started_at")?,
        ended_at: row.get("ended_at")?,
        records_processed: row.get("records_processed")?,
        errors: row.get("errors")?,
    })
}
