//! Alert policies at chosen instants.

use super::*;
use crate::time;

fn at(text: &str) -> Timestamp {
    time::parse(text).unwrap_or_else(|| panic!("{text}"))
}

fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

/// The default policy, turned on.
fn on() -> AlertPolicy {
    AlertPolicy {
        enabled: true,
        ..AlertPolicy::default()
    }
}

#[test]
fn a_policy_that_is_off_never_alerts() {
    let off = AlertPolicy::default();
    let (alerts, episode) = off.due(&Episode::default(), true, &[true, true], at(T0));
    assert_eq!(alerts, []);
    assert_eq!(episode, Episode::default());
    assert_eq!(off.next_due(&episode, at(T0)), None);
}

const T0: &str = "2026-12-01T10:00:00Z";

#[test]
fn by_default_the_first_failure_alerts_once_and_the_recovery_once() {
    let policy = on();
    let (alerts, episode) = policy.due(&Episode::default(), true, &[true], at(T0));
    assert_eq!(alerts, [Alert::Down]);
    assert_eq!(episode.down_since, Some(at(T0)));
    assert_eq!(episode.alerted_at, Some(at(T0)));
    let (again, episode) = policy.due(&episode, true, &[true, true], at("2026-12-01T12:00:00Z"));
    assert_eq!(again, [], "no repeat unless asked for");
    assert_eq!(policy.next_due(&episode, at(T0)), None);
    let (recovered, episode) =
        policy.due(&episode, false, &[false, true], at("2026-12-01T13:00:00Z"));
    assert_eq!(recovered, [Alert::Recovered]);
    assert_eq!(episode, Episode::default());
}

#[test]
fn n_failures_in_a_row_are_needed_when_asked_for() {
    let policy = AlertPolicy {
        after_failures: 3,
        ..on()
    };
    let (alerts, episode) = policy.due(&Episode::default(), true, &[true, true, false], at(T0));
    assert_eq!(alerts, []);
    assert_eq!(
        episode.down_since,
        Some(at(T0)),
        "down, though not yet alerted"
    );
    let (alerts, _) = policy.due(&episode, true, &[true, true, true, false], at(T0));
    assert_eq!(alerts, [Alert::Down]);
    // A recovery that was never alerted is not announced either.
    let (alerts, episode) = policy.due(&episode, false, &[false], at(T0));
    assert_eq!((alerts, episode), (vec![], Episode::default()));
}

#[test]
fn a_failure_rate_alerts_over_a_full_window_only() {
    let policy = AlertPolicy {
        after_failures: 10,
        failure_rate: Some(FailureRate {
            percent: 50,
            runs: 4,
        }),
        ..on()
    };
    let cases: [(&[bool], bool); 4] = [
        (&[true, false, true, false, false], true),
        (&[false, true, false, false], false),
        (&[true, true], false),
        (&[false, false, true, true], true),
    ];
    for (outcomes, alerts) in cases {
        let (sent, _) = policy.due(&Episode::default(), true, outcomes, at(T0));
        assert_eq!(!sent.is_empty(), alerts, "{outcomes:?}");
    }
}

#[test]
fn a_down_that_lasts_repeats_and_escalates_once() {
    let policy = AlertPolicy {
        repeat_every: Some(hours(1)),
        escalate: Some(Escalation {
            after: hours(2),
            to: ContactAlertType::Functional,
        }),
        ..on()
    };
    let (_, episode) = policy.due(&Episode::default(), true, &[true], at(T0));
    assert_eq!(
        policy.next_due(&episode, at(T0)),
        Some(at("2026-12-01T11:00:00Z"))
    );
    let (alerts, episode) = policy.due(&episode, true, &[true], at("2026-12-01T10:30:00Z"));
    assert_eq!(alerts, []);
    let (alerts, episode) = policy.due(&episode, true, &[true], at("2026-12-01T11:00:00Z"));
    assert_eq!(alerts, [Alert::Repeat]);
    let (alerts, episode) = policy.due(&episode, true, &[true], at("2026-12-01T12:00:00Z"));
    assert_eq!(
        alerts,
        [Alert::Repeat, Alert::Escalate(ContactAlertType::Functional)]
    );
    assert!(episode.escalated);
    let (alerts, _) = policy.due(&episode, true, &[true], at("2026-12-01T13:00:00Z"));
    assert_eq!(alerts, [Alert::Repeat], "escalated once only");
}

#[test]
fn a_maintenance_window_holds_alerts_back_and_they_follow_when_it_closes() {
    let policy = AlertPolicy {
        maintenance: vec![Maintenance::Once {
            from: at("2026-12-01T09:00:00Z"),
            until: at("2026-12-01T11:00:00Z"),
        }],
        ..on()
    };
    let (alerts, episode) = policy.due(&Episode::default(), true, &[true], at(T0));
    assert_eq!(alerts, []);
    assert_eq!(
        episode.down_since,
        Some(at(T0)),
        "the trouble is still recorded"
    );
    // The held-back alert is looked for again a minute on, until the window closes.
    assert_eq!(
        policy.next_due(&episode, at(T0)),
        Some(at("2026-12-01T10:01:00Z"))
    );
    let (alerts, episode) = policy.due(&episode, true, &[true], at("2026-12-01T11:00:00Z"));
    assert_eq!(alerts, [Alert::Down]);
    // A recovery inside a later window waits for the window's end.
    let later = AlertPolicy {
        maintenance: vec![Maintenance::Once {
            from: at("2026-12-01T12:00:00Z"),
            until: at("2026-12-01T13:00:00Z"),
        }],
        ..on()
    };
    let (alerts, held) = later.due(&episode, false, &[false], at("2026-12-01T12:30:00Z"));
    assert_eq!((alerts, &held), (vec![], &episode));
    assert_eq!(
        later.next_due(&held, at("2026-12-01T12:30:00Z")),
        Some(at("2026-12-01T12:31:00Z")),
        "the held-back recovery too"
    );
    let (alerts, _) = later.due(&held, false, &[false], at("2026-12-01T13:00:00Z"));
    assert_eq!(alerts, [Alert::Recovered]);
}

#[test]
fn a_recurring_window_covers_each_of_its_stretches_in_its_zone() {
    // Sundays 01:00–03:00 in Berlin.
    let window = Maintenance::Recurring {
        starts: Schedule::cron("0 1 * * Sun").unwrap(),
        zone: Zone::parse("Europe/Berlin").unwrap(),
        lasts: hours(2),
    };
    let cases = [
        ("2026-12-06T00:00:00Z", true),  // Sun 01:00 CET
        ("2026-12-06T01:59:59Z", true),  // Sun 02:59:59 CET
        ("2026-12-06T02:00:00Z", false), // Sun 03:00 CET
        ("2026-12-05T23:59:59Z", false), // Sun 00:59:59 CET
        ("2026-12-07T00:30:00Z", false), // Mon 01:30 CET
    ];
    for (instant, covered) in cases {
        assert_eq!(window.covers(at(instant)), covered, "{instant}");
    }
    // Summer: Sunday 2026-07-05 01:00 CEST is 2026-07-04T23:00Z.
    assert!(window.covers(at("2026-07-04T23:30:00Z")));
    assert!(!window.covers(at("2026-07-05T01:00:00Z")));
}

#[test]
fn maintenance_windows_read_and_write_as_the_api_shows_them() {
    let written = serde_json::json!([
        {"from": "2026-12-24T00:00:00Z", "until": "2026-12-27T00:00:00Z"},
        {"schedule-kind": "cron", "schedule": "0 1 * * Sun", "time-zone": "Europe/Berlin", "duration": 7200},
    ]);
    let windows = Maintenance::parse_all(&written).unwrap();
    assert_eq!(windows.len(), 2);
    let shown = Maintenance::to_json(&windows);
    assert_eq!(Maintenance::parse_all(&shown).unwrap(), windows);
    assert_eq!(shown[0]["from"], "2026-12-24T00:00:00+00:00");
    assert_eq!(shown[1]["duration"], 7200);
    // XML's array element reads as an object holding the list.
    let xml = serde_json::json!({"maintenance-window": written});
    assert_eq!(Maintenance::parse_all(&xml).unwrap(), windows);
}

#[test]
fn a_bad_maintenance_window_is_named_by_its_position() {
    let errors = Maintenance::parse_all(&serde_json::json!([
        {"from": "2026-12-24T00:00:00Z", "until": "2026-12-23T00:00:00Z"},
        {"schedule-kind": "cron", "schedule": "0 1 * * Sun", "duration": 5},
        {"schedule-kind": "hourly"},
        "weekends",
    ]))
    .unwrap_err();
    assert_eq!(
        errors,
        [
            "Maintenance window 1: until must be after from",
            "Maintenance window 2: duration must be from 60 to 604800 seconds",
            "Maintenance window 3: needs from and until, or schedule-kind, schedule and duration",
            "Maintenance window 4: needs from and until, or schedule-kind, schedule and duration",
        ]
    );
    assert!(Maintenance::parse_all(&serde_json::json!("weekends")).is_err());
}
