//! Datetimes as the wire carries them.
//!
//! Coupa stores whole seconds and prints `YYYY-MM-DDTHH:MM:SS+HH:MM`. Runledger does the same:
//! every instant is truncated to the second when it enters, so a value copied from a response
//! into a query (`created_at=…`) matches the record it came from.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// An instant, whole seconds, UTC.
pub type Timestamp = DateTime<Utc>;

/// A span of `std` time as chrono's, at most a thousand years: adding it to, or taking it
/// from, any instant of this era cannot overflow.
pub fn elapsed(span: std::time::Duration) -> chrono::Duration {
    let most = chrono::Duration::days(366_000);
    chrono::Duration::from_std(span).map_or(most, |span| span.min(most))
}

/// The clock of what watches runs (the sweeper, a monitor's health): the system's, or, when a
/// test moves it, ahead of it by a set span. Clones share one reading.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    ahead: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Clock {
    /// The instant, whole seconds.
    pub fn now(&self) -> Timestamp {
        let ahead = self.ahead.load(std::sync::atomic::Ordering::Relaxed);
        now() + chrono::Duration::seconds(ahead)
    }

    /// Moves this clock and its clones forward by `span`.
    pub fn advance(&self, span: std::time::Duration) {
        let seconds = i64::try_from(span.as_secs()).unwrap_or(i64::MAX);
        self.ahead
            .fetch_add(seconds, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The current instant, truncated to the second.
pub fn now() -> Timestamp {
    from_unix(Utc::now().timestamp()).unwrap_or_default()
}

/// Seconds since the epoch back to an instant; `None` outside chrono's range.
pub fn from_unix(seconds: i64) -> Option<Timestamp> {
    Utc.timestamp_opt(seconds, 0).single()
}

/// Formats an instant as Coupa prints it: `2026-11-28T10:00:00+00:00`.
pub fn format(t: &Timestamp) -> String {
    // RFC 3339 with whole seconds and a numeric zone is exactly that, and unlike `format`,
    // it does not parse a pattern on every call.
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Parses RFC 3339 / ISO 8601 with or without fraction or zone (no zone means UTC); a bare
/// date is midnight UTC. The fraction is dropped.
pub fn parse(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    let parsed = if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        t.with_timezone(&Utc)
    } else if let Some(t) = [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
    ]
    .iter()
    .find_map(|f| DateTime::parse_from_str(text, f).ok())
    {
        t.with_timezone(&Utc)
    } else if let Some(t) = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    {
        t.and_utc()
    } else {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?
            .and_utc()
    };
    from_unix(parsed.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(input: &str) -> String {
        format(&parse(input).expect(input))
    }

    #[test]
    fn accepts_the_iso_8601_spellings_clients_send() {
        assert_eq!(
            roundtrip("2026-11-28T10:00:00+00:00"),
            "2026-11-28T10:00:00+00:00"
        );
        assert_eq!(
            roundtrip("2026-11-28T10:00:00Z"),
            "2026-11-28T10:00:00+00:00"
        );
        assert_eq!(
            roundtrip("2026-11-28T10:00:00.987Z"),
            "2026-11-28T10:00:00+00:00"
        );
        assert_eq!(
            roundtrip("2026-11-28T12:00:00+02:00"),
            "2026-11-28T10:00:00+00:00"
        );
        assert_eq!(
            roundtrip("2026-11-28T10:00:00+0000"),
            "2026-11-28T10:00:00+00:00"
        );
        assert_eq!(
            roundtrip("2026-11-28 10:00:00"),
            "2026-11-28T10:00:00+00:00"
        );
        assert_eq!(
            roundtrip("2026-11-28T10:00:00.5"),
            "2026-11-28T10:00:00+00:00"
        );
        assert_eq!(roundtrip("2026-11-28"), "2026-11-28T00:00:00+00:00");
    }

    #[test]
    fn refuses_what_is_not_a_datetime() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-11-28T25:00:00Z",
            "1700000000",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
