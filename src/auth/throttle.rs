//! Per-client throttling: a token bucket per client (spec §5: 25 requests/s, burst 20).
//!
//! Buckets live in the node's memory, so in a cluster each node allows the rate on its own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::RateLimit;

struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub struct Throttle {
    limit: Option<RateLimit>,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

impl Throttle {
    pub fn new(limit: Option<RateLimit>) -> Throttle {
        Throttle {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `client`'s bucket, or says how long to wait for one.
    pub fn admit(&self, client: i64, now: Instant) -> Result<(), Duration> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        // A poisoned lock only means another request panicked mid-update; the map is fine.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: limit.burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.per_second).min(limit.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / limit.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_cli_spelling() {
        assert_eq!(
            RateLimit::parse("25/s,burst=20"),
            Ok(Some(RateLimit::COUPA_DEFAULT))
        );
        assert_eq!(RateLimit::parse("off"), Ok(None));
        assert_eq!(
            RateLimit::parse("120/m"),
            Ok(Some(RateLimit {
                per_second: 2.0,
                burst: 2.0
            }))
        );
        for bad in [
            "",
            "25",
            "25/h",
            "x/s",
            "0/s",
            "25/s,burst=0",
            "25/s,bust=3",
        ] {
            assert!(RateLimit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allows_a_burst_then_the_rate() {
        let throttle = Throttle::new(Some(RateLimit {
            per_second: 10.0,
            burst: 3.0,
        }));
        let start = Instant::now();
        for _ in 0..3 {
            assert!(throttle.admit(1, start).is_ok());
        }
        let wait = throttle.admit(1, start).unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert!(
            throttle.admit(2, start).is_ok(),
            "clients have their own buckets"
        );
        assert!(
            throttle
                .admit(1, start + Duration::from_millis(100))
                .is_ok()
        );
        assert!(
            throttle
                .admit(1, start + Duration::from_millis(100))
                .is_err()
        );
    }
}
