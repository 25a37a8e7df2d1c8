//! `runledger seed`: realistic history in bulk, for demos and benchmarks.
//!
//! Runs spread over 50 integrations and the last year, with the status mix of a healthy
//! installation (mostly successful, some failed, a few still open), record counts, and an
//! integration error on about one run in ten. Rows ([`SeedRun`]) go in through
//! [`Store::seed_runs`]: a whole batch per transaction, each table's rows in one statement
//! (as one JSON array).

use std::time::{Duration, Instant};

use chrono::Duration as Span;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::domain::integrations::{Direction, EndSystemType, IntegrationType, NewIntegration};
use crate::domain::records::DOCUMENT_TYPES;
use crate::domain::runs::Status;
use crate::error::Result;
use crate::query::Query;
use crate::query::schema::INTEGRATIONS;
use crate::store::Store;
use crate::store::seed::SeedRun;
use crate::time::{self, Timestamp};

/// Runs written per transaction.
pub const BATCH: usize = 20_000;

/// What a seeding wrote, and how fast.
#[derive(Clone, Copy, Debug)]
pub struct Seeded {
    pub runs: u64,
    pub errors: u64,
    pub elapsed: Duration,
}

impl Seeded {
    pub fn runs_per_second(&self) -> f64 {
        self.runs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Writes `runs` runs over `integrations` integrations (made when missing), from `seed`.
pub async fn seed(store: &dyn Store, runs: u64, integrations: usize, seed: u64) -> Result<Seeded> {
    let ids = ensure_integrations(store, integrations.max(1)).await?;
    let mut rng = SmallRng::seed_from_u64(seed);
    let now = time::now();
    let started = Instant::now();
    let (mut written, mut errors) = (0u64, 0u64);
    // Runs are created in time order over the last year, as real history is (ids follow
    // creation), one slot of the year each: the time indexes then grow at their ends
    // instead of taking inserts all over, which makes seeding several times faster.
    let slot = YEAR_SECONDS as f64 / runs.max(1) as f64;
    let first = now - Span::seconds(YEAR_SECONDS);
    while written < runs {
        let count = (runs - written).min(BATCH as u64) as usize;
        let batch: Vec<SeedRun> = (written..written + count as u64)
            .map(|n| {
                let offset = n as f64 * slot + rng.random::<f64>() * slot;
                run(&mut rng, &ids, first + Span::seconds(offset as i64))
            })
            .collect();
        errors += batch.iter().filter(|r| r.error.is_some()).count() as u64;
        store.seed_runs(batch).await?;
        written += count as u64;
    }
    store.analyze().await?;
    Ok(Seeded {
        runs: written,
        errors,
        elapsed: started.elapsed(),
    })
}

/// The ids of `SEED_001` … `SEED_<count>`, created where they do not exist yet.
async fn ensure_integrations(store: &dyn Store, count: usize) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(count);
    for n in 1..=count {
        let code = format!("SEED_{n:03}");
        let query = Query::parse(&INTEGRATIONS, &format!("code={code}"))?;
        let id = match store.integrations(&query).await?.items.first() {
            Some(existing) => existing.id,
            None => {
                let new = NewIntegration {
                    name: format!("Seeded integration {n}"),
                    business_object: DOCUMENT_TYPES[n % DOCUMENT_TYPES.len()].to_owned(),
                    direction: Direction::ALL[n % Direction::ALL.len()],
                    end_system: ["SAP", "Oracle", "Workday", "NetSuite"][n % 4].to_owned(),
                    end_system_type: EndSystemType::ALL[n % EndSystemType::ALL.len()],
                    integration_type: Some(IntegrationType::Api),
                    code,
                };
                store.create_integration(new, None).await?.id
            }
        };
        ids.push(id);
    }
    Ok(ids)
}

const YEAR_SECONDS: i64 = 365 * 24 * 3600;

/// One run, created at `created_at`.
fn run(rng: &mut SmallRng, integrations: &[i64], created_at: Timestamp) -> SeedRun {
    let status = match rng.random_range(0..100) {
        0..84 => Status::Successful,
        84..92 => Status::Failed,
        92..96 => Status::Running,
        96..98 => Status::Pending,
        _ => Status::Paused,
    };
    let total = rng.random_range(1..5_000);
    let started = created_at + Span::seconds(rng.random_range(0..60));
    let ended = started + Span::seconds(rng.random_range(1..3_600));
    let (start_time, end_time, processed) = match status {
        Status::Pending => (None, None, None),
        Status::Running | Status::Paused => {
            (Some(started), None, Some(rng.random_range(0..=total)))
        }
        Status::Successful => (Some(started), Some(ended), Some(total)),
        Status::Failed => (Some(started), Some(ended), Some(rng.random_range(0..total))),
    };
    let has_error = match status {
        Status::Failed => true,
        _ => rng.random_range(0..100) < 2,
    };
    let error = has_error.then(|| {
        let document = DOCUMENT_TYPES[rng.random_range(0..DOCUMENT_TYPES.len())];
        (
            document,
            rng.random_range(1..1_000_000),
            status != Status::Failed && rng.random_bool(0.5),
        )
    });
    SeedRun {
        integration_id: integrations[rng.random_range(0..integrations.len())],
        status,
        created_at,
        start_time,
        end_time,
        total_records: (status != Status::Pending).then_some(total),
        records_processed: processed,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_consistent_and_about_one_in_ten_has_an_error() {
        let mut rng = SmallRng::seed_from_u64(7);
        let now = time::now();
        let runs: Vec<SeedRun> = (0..10_000)
            .map(|_| run(&mut rng, &[1, 2, 3], now))
            .collect();
        let with_errors = runs.iter().filter(|r| r.error.is_some()).count();
        assert!((800..1_500).contains(&with_errors), "{with_errors}");
        for r in &runs {
            assert_eq!(r.created_at, now);
            assert!(r.start_time.is_none_or(|started| started >= now));
            assert_eq!(r.end_time.is_some(), r.status.is_terminal());
            if let (Some(total), Some(processed)) = (r.total_records, r.records_processed) {
                assert!(processed <= total);
            }
        }
        let failed = runs.iter().filter(|r| r.status == Status::Failed).count();
        assert!((650..950).contains(&failed), "{failed}");
    }
}
