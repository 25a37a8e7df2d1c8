//! Phase 6: the sweeper's cost over the seeded runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::percentile;

/// The sweeper's cost at `monitors` monitors over the seeded runs: a round with nothing due
/// (one read of the deadline's index), a sweep of every monitor (all due after a write of
/// each), and a sweep that records a missed start for each (the clock moved past their grace).
pub async fn sweeper(database: &str, monitors: usize) {
    use futures_util::StreamExt;
    use runledger::domain::integrations::{
        Direction, EndSystemType, IntegrationType, NewIntegration,
    };
    use runledger::domain::monitor::fields::MonitorFields;
    use runledger::domain::schedule::Schedule;

    println!("\n6. sweeper: {monitors} monitors, hourly, one minute's grace");
    let store = runledger::store::open(database, 8)
        .await
        .expect("database opens");
    let seeded = store
        .integrations(
            &runledger::query::Query::parse(&runledger::query::schema::INTEGRATIONS, "limit=50")
                .expect("query"),
        )
        .await
        .expect("integrations");
    let mut ids: Vec<i64> = seeded.items.iter().map(|i| i.id).collect();
    let started = Instant::now();
    let more = monitors.saturating_sub(ids.len());
    let created: Vec<i64> = futures_util::stream::iter(0..more)
        .map(|n| {
            let store = store.clone();
            async move {
                let new = NewIntegration {
                    name: format!("Swept integration {n}"),
                    business_object: "Supplier".to_owned(),
                    direction: Direction::ALL[n % Direction::ALL.len()],
                    end_system: "SAP".to_owned(),
                    end_system_type: EndSystemType::ALL[0],
                    integration_type: Some(IntegrationType::Api),
                    code: format!("SWEEP_{n:05}"),
                };
                store
                    .create_integration(new, None)
                    .await
                    .expect("integration")
                    .id
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    ids.extend(created);
    ids.truncate(monitors);
    let clock = runledger::time::Clock::default();
    let fields = MonitorFields {
        schedule: Some(Some(Schedule::interval(3600).expect("interval"))),
        start_grace: Some(Duration::from_secs(60)),
        max_runtime: Some(Some(Duration::from_secs(1800))),
        alerts_enabled: Some(true),
        ..MonitorFields::default()
    };
    futures_util::stream::iter(ids.iter().copied())
        .map(|id| {
            let (store, fields, now) = (store.clone(), fields.clone(), clock.now());
            async move {
                let key = format!("{id:032x}");
                store
                    .update_monitor(id, fields, key, None, now)
                    .await
                    .expect("monitor");
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    println!(
        "   setup: {} integrations and monitors written in {:.1} s",
        ids.len(),
        started.elapsed().as_secs_f64()
    );
    let alerts = Arc::new(
        runledger::alerts::Dispatcher::new(
            store.clone(),
            &runledger::config::AlertSettings::default(),
        )
        .expect("dispatcher"),
    );
    let sweeper = runledger::sweeper::Sweeper::new(store.clone(), clock.clone(), alerts);
    // Every monitor was just written: all are due.
    let sweep = |label: &'static str| {
        let sweeper = &sweeper;
        async move {
            let started = Instant::now();
            let mut total = runledger::sweeper::Round::default();
            loop {
                let round = sweeper.round().await;
                let quiet = round.due == 0;
                total += round;
                if quiet {
                    break;
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "   {label}: {} looks in {seconds:.2} s = {:.0} looks/s, {:.2} ms a monitor ({} flips, {} missed starts recorded, {} alerts, {} failed)",
                total.looked,
                total.looked as f64 / seconds,
                seconds * 1000.0 / total.looked.max(1) as f64,
                total.flips,
                total.missed,
                total.alerts,
                total.failed
            );
        }
    };
    sweep("sweep of every monitor (each just written)").await;
    let mut idle = Vec::new();
    for _ in 0..1000 {
        let started = Instant::now();
        let round = sweeper.round().await;
        assert_eq!(round.due, 0, "nothing is due");
        idle.push(started.elapsed().as_micros() as u64);
    }
    idle.sort_unstable();
    println!(
        "   round with nothing due (one read of the deadline index, no run read): p50 {:.3} ms, p99 {:.3} ms",
        percentile(&idle, 0.5),
        percentile(&idle, 0.99)
    );
    clock.advance(Duration::from_secs(3600 + 61));
    sweep("sweep an hour on (each records a missed start as a failed run, flips down, alerts)")
        .await;
}
