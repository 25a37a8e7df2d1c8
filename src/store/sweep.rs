//! The sweep: one monitor whose deadline came, looked at in one transaction.
//!
//! A node claims the monitor due soonest (on PostgreSQL with `SKIP LOCKED`, so nodes sweeping
//! at once take different monitors and none waits), evaluates it, records what the look finds
//! (a missed start as a failed run, a stuck run's integration error, a run failed at the hard
//! limit, a change of health as a flip, the alerts the policy says are due with their outbox
//! rows) and sets its next deadline, all or nothing. The health is written only where it is
//! still the one read, so a change happens once however many nodes look.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::backend::{Backend, SqlStore};
use super::exec::{Executor, query};
use super::{Effects, SweepStore, emit, monitors, records, runs, sql, transitions};
use crate::domain::alert_policy::Alert;
use crate::domain::events::Topic;
use crate::domain::integrations::IntegrationRef;
use crate::domain::monitor::fields::StoredMonitor;
use crate::domain::monitor::sweep::{self, Looked};
use crate::domain::monitor::{Health, Observed, Verdict};
use crate::domain::records::{JOB_DOCUMENT_TYPE, NewResponse, RecordFields, RecordKind};
use crate::domain::runs::{Action, Run, RunFields, Status};
use crate::domain::transitions::{Cause, Entry};
use crate::error::{Error, Result};
use crate::time::{self, Timestamp};

#[async_trait]
impl<B: Backend> SweepStore for SqlStore<B> {
    async fn due_monitors(&self, now: Timestamp, limit: i64) -> Result<Vec<i64>> {
        self.db
            .read(move |conn| Box::pin(due(conn, now, limit)))
            .await
    }

    async fn look(&self, integration_id: i64, now: Timestamp) -> Result<Option<Looked>> {
        self.db
            .write(move |tx| Box::pin(look(tx, integration_id, now)))
            .await
    }

    async fn postpone(&self, integration_id: i64, until: Timestamp) -> Result<()> {
        self.db
            .write(move |tx| Box::pin(postpone(tx, integration_id, until)))
            .await
    }
}

/// Up to `limit` monitors due at `now`, soonest first: a read of the deadline's index, no run.
async fn due(conn: &mut impl Executor, now: Timestamp, limit: i64) -> Result<Vec<i64>> {
    query(sql::DUE_MONITORS)
        .bind(now)
        .bind(limit)
        .scalars(conn)
        .await
}

/// Claims integration `integration_id`'s monitor if it is still due at `now` and no other
/// node is looking at it, and looks at it; `None` when it is not to be looked at.
async fn look<C: Executor>(
    conn: &mut C,
    integration_id: i64,
    now: Timestamp,
) -> Result<Option<Looked>> {
    let claim = format!("{}{}", sql::CLAIM_MONITOR, C::SKIP_LOCKED);
    let claimed: Option<i64> = query(&claim)
        .bind(integration_id)
        .bind(now)
        .scalar_optional(conn)
        .await?;
    if claimed.is_none() {
        return Ok(None);
    }
    let (stored, mut seen) = observe(conn, integration_id).await?;
    let monitor = &stored.monitor;
    let mut verdict = monitor.evaluate(&seen, now);
    let mut about_run = None;
    let mut missed_reason = None;
    let mut missed = 0;
    // Each start that went by unmet becomes a failed run of its own.
    while let Some(expected) = verdict.missed
        && missed < sweep::MAX_MISSED_PER_LOOK
    {
        let until = expected + time::elapsed(monitor.start_grace);
        let run_id: i64 = query(sql::INSERT_MISSED_RUN)
            .bind(integration_id)
            .bind(Status::Failed.as_str())
            .bind(expected)
            .bind(until.min(now))
            .bind(now)
            .scalar(conn)
            .await?;
        let mut run = Run::pending(integration_id, expected, None);
        run.id = run_id;
        run.status = Status::Failed;
        run.start_time = Some(expected);
        run.end_time = Some(until.min(now));
        transitions::log_write(conn, None, &run, Cause::Missed, now).await?;
        let message = sweep::missed_message(&verdict);
        file_error(conn, run_id, "missed", message, now).await?;
        about_run = Some(run_id);
        missed_reason = Some(verdict.reason.clone());
        missed += 1;
        (_, seen) = observe(conn, integration_id).await?;
        verdict = monitor.evaluate(&seen, now);
    }
    let mut recorded = missed > 0;
    for &run_id in &verdict.stuck {
        let marked = query(sql::MARK_STUCK)
            .bind(run_id)
            .bind(now)
            .execute(conn)
            .await?;
        if marked == 1 {
            let run = runs::fetch(conn, run_id, false).await?.run;
            let entry = Entry::of_mark(
                &run,
                Cause::Stuck,
                "stuck-at",
                Value::Null,
                json!(time::format(&now)),
                now,
            );
            transitions::log(conn, &entry).await?;
            let message = sweep::stuck_message(monitor, &seen, run_id, now);
            file_error(conn, run_id, "stuck", message, now).await?;
            about_run.get_or_insert(run_id);
        }
    }
    for &run_id in &verdict.overdue {
        let (read, view, changed) = runs::updated(
            conn,
            run_id,
            &RunFields::default(),
            Some(Action::Fail),
            None,
            now,
        )
        .await?;
        if changed {
            runs::write(conn, &read, &view.run, Cause::Timeout).await?;
            let message = sweep::overdue_message(monitor);
            file_error(conn, run_id, "failed", message, now).await?;
            about_run.get_or_insert(run_id);
            recorded = true;
        }
    }
    if recorded {
        (_, seen) = observe(conn, integration_id).await?;
        verdict = monitor.evaluate(&seen, now);
    }
    // A missed start says more than "run 12 failed", the run that records it.
    let reason = missed_reason.unwrap_or_else(|| verdict.reason.clone());
    let about_run = about_run
        .or_else(|| verdict.stuck.first().copied())
        .or_else(|| {
            seen.last_ended
                .as_ref()
                .filter(|_| verdict.health == Health::Down)
                .map(|run| run.id)
        });
    let state = &stored.state;
    let (alerts, episode) = if verdict.health == Health::Paused {
        (Vec::new(), state.episode.clone())
    } else {
        let window = monitor
            .policy
            .failure_rate
            .map_or(0, |rate| rate.runs)
            .max(monitor.policy.after_failures as usize);
        let ended: Vec<String> = query(sql::LATEST_OUTCOMES)
            .bind(integration_id)
            .bind(window as i64)
            .planned_per_call()
            .scalars(conn)
            .await?;
        let ended: Vec<Status> = ended.iter().filter_map(|s| Status::parse(s)).collect();
        let outcomes = sweep::outcomes(&verdict, &ended);
        monitor.policy.due(
            &state.episode,
            verdict.health == Health::Down,
            &outcomes,
            now,
        )
    };
    for alert in &alerts {
        let verdict = Verdict {
            reason: reason.clone(),
            ..verdict.clone()
        };
        file_alert(conn, &stored, *alert, &verdict, &episode, about_run, now).await?;
    }
    // Caught up on missed starts only in part: look again straight away.
    let next = if missed == sweep::MAX_MISSED_PER_LOOK {
        Some(now)
    } else {
        sweep::next_look(monitor, &verdict, &episode, now)
    };
    let flipped = verdict.health != state.health;
    let changed_at = if flipped { Some(now) } else { state.changed_at };
    let saved = query(sql::SAVE_MONITOR_STATE)
        .bind(integration_id)
        .bind(state.health.as_str())
        .bind(verdict.health.as_str())
        .bind(&reason)
        .bind(changed_at)
        .bind(next)
        .bind(episode.down_since)
        .bind(episode.alerted_at)
        .bind(episode.escalated)
        .execute(conn)
        .await?;
    if saved != 1 {
        return Err(Error::Conflict(format!(
            "the monitor of integration {integration_id} changed while it was swept"
        )));
    }
    if flipped {
        let flip: i64 = query(sql::INSERT_FLIP)
            .bind(integration_id)
            .bind(now)
            .bind(state.health.as_str())
            .bind(verdict.health.as_str())
            .bind(&reason)
            .bind(about_run)
            .scalar(conn)
            .await?;
        emit::event(
            conn,
            Topic::Health,
            flip,
            Some(integration_id),
            about_run,
            now,
        )
        .await?;
        if let Some(run_id) = about_run {
            let run = runs::fetch(conn, run_id, false).await?.run;
            let (from, to) = (state.health.as_str(), verdict.health.as_str());
            let entry = Entry::of_mark(&run, Cause::Health, "health", json!(from), json!(to), now);
            transitions::log(conn, &entry).await?;
        }
    }
    Ok(Some(Looked {
        integration_id,
        from: state.health,
        to: verdict.health,
        missed,
        alerts: alerts.len(),
    }))
}

/// Puts off the next look at a monitor whose look failed, so that one bad monitor does not
/// hold the sweep.
async fn postpone(conn: &mut impl Executor, integration_id: i64, until: Timestamp) -> Result<()> {
    query(sql::POSTPONE_MONITOR)
        .bind(integration_id)
        .bind(until)
        .execute(conn)
        .await?;
    Ok(())
}

/// The monitor, locked, and what it has seen.
async fn observe(
    conn: &mut impl Executor,
    integration_id: i64,
) -> Result<(StoredMonitor, Observed)> {
    monitors::watched(conn, integration_id, true)
        .await?
        .ok_or_else(|| Error::Internal(format!("monitor {integration_id} vanished mid-sweep")))
}

/// Files the integration error that says what the sweeper found of a run (`status` and
/// response code `code`).
async fn file_error(
    conn: &mut impl Executor,
    run_id: i64,
    code: &str,
    message: String,
    now: Timestamp,
) -> Result<()> {
    let response = NewResponse {
        response_code: Some(code.to_owned()),
        response_message: Some(message),
    };
    records::file_job_error(conn, run_id, Some(code), response, now, None).await?;
    Ok(())
}

/// Files an alert as a history record of the integration's job (document type
/// `Runledger::Job`, document id the integration's), with its outbox rows.
async fn file_alert(
    conn: &mut impl Executor,
    stored: &StoredMonitor,
    alert: Alert,
    verdict: &Verdict,
    episode: &crate::domain::alert_policy::Episode,
    about_run: Option<i64>,
    now: Timestamp,
) -> Result<()> {
    let (message, reaches) = sweep::alert_record(alert, verdict, episode, &stored.monitor);
    let code = sweep::alert_code(alert);
    let fields = RecordFields {
        contact_alert_type: Some(Some(reaches)),
        integration_run: about_run.map(Some),
        integration: Some(IntegrationRef::parse(&json!({"id": stored.integration_id}))),
        document_type: Some(Some(JOB_DOCUMENT_TYPE.to_owned())),
        document_id: Some(Some(stored.integration_id)),
        status: Some(Some(verdict.health.as_str().to_owned())),
        responses: vec![NewResponse {
            response_code: Some(code.to_owned()),
            response_message: Some(message),
        }],
        ..RecordFields::default()
    };
    let effects = Effects {
        alert: true,
        ..Effects::default()
    };
    records::file(conn, RecordKind::History, &fields, effects, now, None).await?;
    Ok(())
}
