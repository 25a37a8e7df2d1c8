//! Monitors: one per integration, made the first time it is read or written, with what it has
//! seen of the integration's runs.

use async_trait::async_trait;

use super::backend::{Backend, SqlStore};
use super::exec::{Executor, query};
use super::{MonitorStore, integrations, rows, sql};
use crate::domain::Actor;
use crate::domain::alert_policy::Maintenance;
use crate::domain::monitor::fields::{MonitorFields, StoredMonitor};
use crate::domain::monitor::sweep::Flip;
use crate::domain::monitor::{DEFAULT_START_GRACE, Health, Observed};
use crate::error::{Error, Result};
use crate::time::Timestamp;

#[async_trait]
impl<B: Backend> MonitorStore for SqlStore<B> {
    async fn monitor(
        &self,
        integration_id: i64,
        fresh_key: String,
        now: Timestamp,
    ) -> Result<(StoredMonitor, Observed)> {
        let read = self
            .db
            .read(move |conn| Box::pin(watched(conn, integration_id, false)))
            .await?;
        if let Some(found) = read {
            return Ok(found);
        }
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    ensure(tx, integration_id, fresh_key, now, None).await?;
                    watched(tx, integration_id, false)
                        .await?
                        .ok_or_else(|| Error::Internal("the monitor just made is gone".into()))
                })
            })
            .await
    }

    async fn update_monitor(
        &self,
        integration_id: i64,
        fields: MonitorFields,
        fresh_key: String,
        actor: Option<&Actor>,
        now: Timestamp,
    ) -> Result<(StoredMonitor, Observed)> {
        let actor = actor.cloned();
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let actor_id = actor.as_ref().map(|a| a.id);
                    ensure(tx, integration_id, fresh_key, now, actor_id).await?;
                    let (stored, _) = watched(tx, integration_id, true)
                        .await?
                        .ok_or_else(|| Error::Internal("the monitor just made is gone".into()))?;
                    let next = stored.monitor.updated(&fields, now)?;
                    if next != stored.monitor {
                        write(tx, integration_id, &next, now, actor_id).await?;
                    }
                    watched(tx, integration_id, false)
                        .await?
                        .ok_or_else(|| Error::Internal("the monitor just written is gone".into()))
                })
            })
            .await
    }

    async fn flips(&self, integration_id: i64, limit: i64, offset: i64) -> Result<Vec<Flip>> {
        self.db
            .read(move |conn| {
                Box::pin(async move {
                    integrations::fetch(conn, integration_id, false).await?;
                    let rows = query(sql::SELECT_FLIPS)
                        .bind(integration_id)
                        .bind(limit)
                        .bind(offset)
                        .fetch_all(conn)
                        .await?;
                    rows.iter().map(rows::flip).collect()
                })
            })
            .await
    }

    async fn monitors(
        &self,
        health: &[Health],
        limit: i64,
        offset: i64,
    ) -> Result<Vec<StoredMonitor>> {
        let health: Vec<&'static str> = health.iter().map(|h| h.as_str()).collect();
        self.db
            .read(move |conn| {
                Box::pin(async move {
                    let sql = sql::select_monitors(health.len());
                    let rows = query(&sql)
                        .bind_all(health.iter().copied())
                        .bind(limit)
                        .bind(offset)
                        .fetch_all(conn)
                        .await?;
                    rows.iter().map(rows::monitor).collect()
                })
            })
            .await
    }
}

/// Makes the integration's default monitor unless it has one; 404 for an unknown integration.
async fn ensure(
    conn: &mut impl Executor,
    integration_id: i64,
    ping_key: String,
    now: Timestamp,
    actor_id: Option<i64>,
) -> Result<()> {
    integrations::fetch(conn, integration_id, false).await?;
    query(sql::INSERT_MONITOR)
        .bind(integration_id)
        .bind(DEFAULT_START_GRACE.as_secs() as i64)
        .bind(now)
        .bind(ping_key)
        .bind(actor_id)
        .bind(false)
        .execute(conn)
        .await?;
    Ok(())
}

/// The monitor, if it has been made, and what it has seen of the integration's runs.
pub(super) async fn watched<C: Executor>(
    conn: &mut C,
    integration_id: i64,
    lock: bool,
) -> Result<Option<(StoredMonitor, Observed)>> {
    let sql = format!(
        "{}{}",
        sql::SELECT_MONITOR,
        if lock { C::ROW_LOCK } else { "" }
    );
    let Some(row) = query(&sql)
        .bind(integration_id)
        .fetch_optional(conn)
        .await?
    else {
        return Ok(None);
    };
    let stored = rows::monitor(&row)?;
    // Each planned for the integration at hand: see `Plan::PerCall`.
    let open = query(sql::OPEN_RUNS)
        .bind(integration_id)
        .planned_per_call()
        .fetch_all(conn)
        .await?;
    let last_ended = query(sql::LAST_ENDED_RUN)
        .bind(integration_id)
        .planned_per_call()
        .fetch_optional(conn)
        .await?;
    let observed = Observed {
        open: open.iter().map(rows::open_run).collect::<Result<_>>()?,
        last_ended: last_ended.as_ref().map(rows::ended_run).transpose()?,
        last_start: query(sql::LAST_START)
            .bind(integration_id)
            .planned_per_call()
            .scalar(conn)
            .await?,
    };
    Ok(Some((stored, observed)))
}

async fn write(
    conn: &mut impl Executor,
    integration_id: i64,
    monitor: &crate::domain::monitor::Monitor,
    now: Timestamp,
    actor_id: Option<i64>,
) -> Result<()> {
    let seconds = |d: Option<std::time::Duration>| d.map(|d| d.as_secs() as i64);
    let policy = &monitor.policy;
    let (kind, text) = match &monitor.schedule {
        Some(schedule) => (Some(schedule.kind()), Some(schedule.text())),
        None => (None, None),
    };
    query(sql::UPDATE_MONITOR)
        .bind(integration_id)
        .bind(kind)
        .bind(text)
        .bind(monitor.zone.name())
        .bind(monitor.start_grace.as_secs() as i64)
        .bind(seconds(monitor.max_runtime))
        .bind(seconds(monitor.min_runtime))
        .bind(monitor.min_records)
        .bind(monitor.max_records)
        .bind(monitor.max_errors)
        .bind(monitor.paused.is_some())
        .bind(monitor.paused.flatten())
        .bind(monitor.since)
        .bind(now)
        .bind(actor_id)
        .bind(seconds(monitor.stuck_fail_after))
        .bind(policy.enabled)
        .bind(i64::from(policy.after_failures))
        .bind(policy.failure_rate.map(|rate| i64::from(rate.percent)))
        .bind(policy.failure_rate.map(|rate| rate.runs as i64))
        .bind(policy.recovery)
        .bind(seconds(policy.repeat_every))
        .bind(seconds(policy.escalate.map(|e| e.after)))
        .bind(policy.escalate.map(|e| e.to.as_str()))
        .bind(Maintenance::to_json(&policy.maintenance).to_string())
        .bind(seconds(monitor.heartbeat_timeout))
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes the monitor of the run's integration due at `now`, if it has one: called before a
/// write locks the run, so that writes and looks lock a monitor and its runs in one order.
pub(super) async fn touch_of_run(
    conn: &mut impl Executor,
    run_id: i64,
    now: Timestamp,
) -> Result<()> {
    query(sql::TOUCH_MONITOR_OF_RUN)
        .bind(run_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes the integration's monitor due at `now`, if it has one: a write to one of its runs
/// may have changed its health.
pub(super) async fn touch(
    conn: &mut impl Executor,
    integration_id: i64,
    now: Timestamp,
) -> Result<()> {
    query(sql::TOUCH_MONITOR)
        .bind(integration_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}
