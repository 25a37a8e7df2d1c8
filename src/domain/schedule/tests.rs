//! Schedules across time zones and both daylight-saving changes, by explicit instants.

use super::*;
use crate::time;

fn at(text: &str) -> Timestamp {
    time::parse(text).unwrap_or_else(|| panic!("{text}"))
}

/// The expected starts after `from`, up to and including `to`.
fn slots(schedule: &Schedule, zone: &str, from: &str, to: &str) -> Vec<String> {
    let zone = Zone::parse(zone).unwrap();
    let (mut after, to) = (at(from), at(to));
    let mut found = Vec::new();
    while let Some(next) = schedule.next_after(after, zone) {
        if next > to {
            break;
        }
        found.push(next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        after = next;
    }
    found
}

#[test]
fn an_interval_counts_from_the_start_it_is_given() {
    let every = Schedule::interval(3600).unwrap();
    let start = at("2026-03-29T00:30:00Z");
    assert_eq!(
        every.next_after(start, Zone::parse("Europe/Berlin").unwrap()),
        Some(at("2026-03-29T01:30:00Z")),
        "an interval is elapsed time: a DST change does not move it"
    );
    for refused in [0, 59, -60, 366 * 24 * 3600 + 1] {
        assert_eq!(
            Schedule::interval(refused),
            Err("Interval must be between 60 and 31622400 seconds".to_owned()),
            "{refused}"
        );
    }
}

#[test]
fn a_daily_cron_job_is_expected_once_on_the_night_the_clocks_spring_forward() {
    // Europe/Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST; 02:30 does not exist.
    let daily = Schedule::cron("30 2 * * *").unwrap();
    assert_eq!(
        slots(
            &daily,
            "Europe/Berlin",
            "2026-03-27T12:00:00Z",
            "2026-03-30T12:00:00Z"
        ),
        [
            "2026-03-28T01:30:00Z", // 02:30 CET
            "2026-03-29T01:00:00Z", // the first instant after the gap: 03:00 CEST
            "2026-03-30T00:30:00Z", // 02:30 CEST
        ]
    );
}

#[test]
fn a_daily_cron_job_is_expected_once_on_the_night_the_clocks_fall_back() {
    // Europe/Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
    let daily = Schedule::cron("30 2 * * *").unwrap();
    assert_eq!(
        slots(
            &daily,
            "Europe/Berlin",
            "2026-10-23T12:00:00Z",
            "2026-10-26T12:00:00Z"
        ),
        [
            "2026-10-24T00:30:00Z", // 02:30 CEST
            "2026-10-25T00:30:00Z", // the first 02:30, CEST; not again at 01:30Z (CET)
            "2026-10-26T01:30:00Z", // 02:30 CET
        ]
    );
}

#[test]
fn a_job_every_fifteen_minutes_keeps_its_pace_through_both_changes() {
    let quarter = Schedule::cron("*/15 * * * *").unwrap();
    // Spring forward: the wall clock skips an hour, the job does not run four times more.
    let spring = slots(
        &quarter,
        "Europe/Berlin",
        "2026-03-29T00:30:00Z",
        "2026-03-29T01:30:00Z",
    );
    assert_eq!(
        spring,
        [
            "2026-03-29T00:45:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:15:00Z",
            "2026-03-29T01:30:00Z"
        ]
    );
    // Fall back: the repeated hour is run in both of its halves, every 15 minutes.
    let autumn = slots(
        &quarter,
        "Europe/Berlin",
        "2026-10-25T00:00:00Z",
        "2026-10-25T01:00:00Z",
    );
    assert_eq!(
        autumn,
        [
            "2026-10-25T00:15:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-25T00:45:00Z",
            "2026-10-25T01:00:00Z"
        ]
    );
}

#[test]
fn cron_reads_aliases_and_refuses_what_it_cannot_read() {
    let daily = Schedule::cron("@daily").unwrap();
    assert_eq!(
        slots(
            &daily,
            "UTC",
            "2026-12-01T10:00:00Z",
            "2026-12-03T00:00:00Z"
        ),
        ["2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z"]
    );
    for refused in ["", "61 * * * *", "* * * *", "0 0 2 * * *", "every day"] {
        let error = Schedule::cron(refused).unwrap_err();
        assert!(
            error.starts_with(&format!("Cron expression '{refused}' is invalid")),
            "{error}"
        );
    }
    // A date that never comes has no next start.
    let never = Schedule::cron("0 0 30 2 *").unwrap();
    assert_eq!(
        never.next_after(at("2026-01-01T00:00:00Z"), Zone::UTC),
        None
    );
}

#[test]
fn on_calendar_weekdays_in_new_york_across_the_spring_change() {
    // America/New_York, 2026-03-08: 02:00 EST becomes 03:00 EDT.
    let weekdays = Schedule::on_calendar("Mon..Fri *-*-* 09:00").unwrap();
    assert_eq!(
        slots(
            &weekdays,
            "America/New_York",
            "2026-03-05T00:00:00Z",
            "2026-03-10T23:59:59Z"
        ),
        [
            "2026-03-05T14:00:00Z", // Thu 09:00 EST
            "2026-03-06T14:00:00Z", // Fri
            "2026-03-09T13:00:00Z", // Mon 09:00 EDT
            "2026-03-10T13:00:00Z",
        ]
    );
}

#[test]
fn on_calendar_matches_day_and_weekday_together_as_systemd_does() {
    // The first Monday of each month.
    let first_monday = Schedule::on_calendar("Mon *-*-1..7 06:00:00").unwrap();
    assert_eq!(
        slots(
            &first_monday,
            "UTC",
            "2026-12-01T00:00:00Z",
            "2027-03-01T00:00:00Z"
        ),
        [
            "2026-12-07T06:00:00Z",
            "2027-01-04T06:00:00Z",
            "2027-02-01T06:00:00Z"
        ]
    );
    // Every seventh day from the first, at 15:00 Berlin time.
    let weekly = Schedule::on_calendar("*-*-1/7 15:00").unwrap();
    assert_eq!(
        slots(
            &weekly,
            "Europe/Berlin",
            "2026-12-01T00:00:00Z",
            "2026-12-31T23:59:59Z"
        ),
        [
            "2026-12-01T14:00:00Z",
            "2026-12-08T14:00:00Z",
            "2026-12-15T14:00:00Z",
            "2026-12-22T14:00:00Z",
            "2026-12-29T14:00:00Z"
        ]
    );
}

#[test]
fn on_calendar_shorthands_mean_what_systemd_says() {
    let cases = [
        ("hourly", "2026-12-01T10:20:00Z", "2026-12-01T11:00:00Z"),
        ("daily", "2026-12-01T10:20:00Z", "2026-12-02T00:00:00Z"),
        ("weekly", "2026-12-01T10:20:00Z", "2026-12-07T00:00:00Z"),
        ("monthly", "2026-12-01T10:20:00Z", "2027-01-01T00:00:00Z"),
        ("quarterly", "2026-12-01T10:20:00Z", "2027-01-01T00:00:00Z"),
        (
            "semiannually",
            "2027-01-01T10:20:00Z",
            "2027-07-01T00:00:00Z",
        ),
        ("Yearly", "2026-12-01T10:20:00Z", "2027-01-01T00:00:00Z"),
        ("minutely", "2026-12-01T10:20:30Z", "2026-12-01T10:21:00Z"),
        ("*:0/20", "2026-12-01T10:20:00Z", "2026-12-01T10:40:00Z"),
        (
            "Sat,Sun 10:00",
            "2026-12-01T10:20:00Z",
            "2026-12-05T10:00:00Z",
        ),
        (
            "*-12-24 18:00:30",
            "2026-12-01T10:20:00Z",
            "2026-12-24T18:00:30Z",
        ),
    ];
    for (expression, after, next) in cases {
        let schedule = Schedule::on_calendar(expression).unwrap();
        assert_eq!(
            schedule.next_after(at(after), Zone::UTC),
            Some(at(next)),
            "{expression}"
        );
    }
}

#[test]
fn on_calendar_refuses_what_it_does_not_read_and_says_what() {
    let cases = [
        ("", "it is empty"),
        ("2027-*-* 00:00", "the year must be '*', not '2027'"),
        (
            "*-*~03",
            "'~' (days before the end of the month) is not supported",
        ),
        (
            "daily Europe/Berlin",
            "'Europe/Berlin' is neither a date nor a time",
        ),
        ("*-13-01", "the month '13' is not a number from 1 to 12"),
        (
            "*:*:*",
            "the second must be one number from 0 to 59, not '*'",
        ),
        ("Fri..Mon", "the weekday range 'Fri..Mon' runs backwards"),
        ("Moonday 10:00", "'Moonday' is not a weekday (Mon … Sun)"),
        ("25:00", "the hour '25' is not a number from 0 to 23"),
    ];
    for (expression, why) in cases {
        let error = Schedule::on_calendar(expression).unwrap_err();
        assert!(
            error.starts_with(&format!(
                "OnCalendar expression '{expression}' is invalid: "
            )) && error.contains(why),
            "{expression}: {error}"
        );
    }
}

#[test]
fn zones_are_iana_names() {
    assert_eq!(
        Zone::parse("Europe/Berlin").unwrap().name(),
        "Europe/Berlin"
    );
    assert_eq!(Zone::parse("UTC").unwrap(), Zone::UTC);
    assert_eq!(
        Zone::parse("Mars/Olympus").unwrap_err(),
        "Time zone 'Mars/Olympus' is not an IANA time zone name (e.g. Europe/Berlin, UTC)"
    );
}
