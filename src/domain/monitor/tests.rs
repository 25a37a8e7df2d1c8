//! The health of an integration at chosen instants: the clock is a parameter, never read.

use super::*;
use crate::time;

fn at(text: &str) -> Timestamp {
    time::parse(text).unwrap_or_else(|| panic!("{text}"))
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

/// A daily 02:00 Europe/Berlin job, watched since the first of December, 10 minutes' grace.
fn nightly() -> Monitor {
    Monitor {
        schedule: Some(Schedule::cron("0 2 * * *").unwrap()),
        zone: Zone::parse("Europe/Berlin").unwrap(),
        ..Monitor::new(at("2026-12-01T00:00:00Z"))
    }
}

fn ended(id: i64, status: Status, started: &str, ended: &str) -> EndedRun {
    EndedRun {
        id,
        status,
        started_at: at(started),
        ended_at: at(ended),
        records_processed: Some(100),
        errors: 0,
    }
}

/// A run open since `started`, last written to then.
fn open(id: i64, started: &str) -> OpenRun {
    OpenRun {
        id,
        started_at: at(started),
        last_seen: at(started),
    }
}

fn after(run: EndedRun) -> Observed {
    Observed {
        last_start: Some(run.started_at),
        last_ended: Some(run),
        open: Vec::new(),
    }
}

#[test]
fn without_a_schedule_a_monitor_only_judges_runs_it_has_seen() {
    let monitor = Monitor::new(at("2026-12-01T00:00:00Z"));
    let fresh = monitor.evaluate(&Observed::default(), at("2027-06-01T00:00:00Z"));
    assert_eq!(
        (fresh.health, fresh.reason.as_str()),
        (Health::New, "no run yet")
    );
    assert_eq!((fresh.deadline, fresh.next_expected), (None, None));
    let good = ended(
        3,
        Status::Successful,
        "2026-12-01T10:00:00Z",
        "2026-12-01T10:05:00Z",
    );
    let up = monitor.evaluate(&after(good), at("2027-06-01T00:00:00Z"));
    assert_eq!(
        (up.health, up.reason.as_str()),
        (Health::Up, "run 3 successful")
    );
}

#[test]
fn an_expected_start_goes_from_new_to_late_to_missed() {
    let monitor = nightly();
    let none = Observed::default();
    // 01:30 in Berlin: the 02:00 start is ahead; look again at 02:00 (01:00Z).
    let before = monitor.evaluate(&none, at("2026-12-01T00:30:00Z"));
    assert_eq!(before.health, Health::New);
    assert_eq!(
        before.reason,
        "no run yet; next expected 2026-12-01 02:00 Europe/Berlin"
    );
    assert_eq!(before.deadline, Some(at("2026-12-01T01:00:00Z")));
    // 02:05: late, until the grace ends at 02:10.
    let late = monitor.evaluate(&none, at("2026-12-01T01:05:00Z"));
    assert_eq!(late.health, Health::Late);
    assert_eq!(
        late.reason,
        "expected 2026-12-01 02:00 Europe/Berlin, grace 10 min, nothing yet"
    );
    assert_eq!(late.deadline, Some(at("2026-12-01T01:10:00Z")));
    assert_eq!(late.missed, None);
    // 02:10: missed.
    let down = monitor.evaluate(&none, at("2026-12-01T01:10:00Z"));
    assert_eq!(down.health, Health::Down);
    assert_eq!(
        down.reason,
        "expected 2026-12-01 02:00 Europe/Berlin, grace 10 min, nothing by 2026-12-01 02:10 Europe/Berlin"
    );
    assert_eq!(down.missed, Some(at("2026-12-01T01:00:00Z")));
}

#[test]
fn a_missed_start_recorded_as_a_failed_run_stays_down_and_watches_the_next_start() {
    let monitor = nightly();
    // The sweeper recorded the missed 02:00 start as a failed run of its own.
    let missed = ended(
        7,
        Status::Failed,
        "2026-12-01T01:00:00Z",
        "2026-12-01T01:10:00Z",
    );
    let verdict = monitor.evaluate(&after(missed.clone()), at("2026-12-01T08:00:00Z"));
    assert_eq!(
        (verdict.health, verdict.reason.as_str()),
        (Health::Down, "run 7 failed")
    );
    assert_eq!(verdict.missed, None, "the same start is not missed twice");
    assert_eq!(verdict.next_expected, Some(at("2026-12-02T01:00:00Z")));
    assert_eq!(verdict.deadline, Some(at("2026-12-02T01:10:00Z")));
    // The next night's start is missed too, even while down.
    let again = monitor.evaluate(&after(missed), at("2026-12-02T01:10:00Z"));
    assert_eq!(again.missed, Some(at("2026-12-02T01:00:00Z")));
}

#[test]
fn a_good_run_brings_it_back_up_until_the_next_start() {
    let good = ended(
        9,
        Status::Successful,
        "2026-12-01T01:01:00Z",
        "2026-12-01T01:20:00Z",
    );
    let verdict = nightly().evaluate(&after(good), at("2026-12-01T09:00:00Z"));
    assert_eq!(verdict.health, Health::Up);
    assert_eq!(
        verdict.reason,
        "run 9 successful; next expected 2026-12-02 02:00 Europe/Berlin"
    );
    assert_eq!(verdict.deadline, Some(at("2026-12-02T01:00:00Z")));
}

#[test]
fn every_open_run_is_watched_for_its_maximum_run_time() {
    let monitor = Monitor {
        max_runtime: Some(minutes(60)),
        ..nightly()
    };
    let old = open(1, "2026-12-01T01:00:00Z");
    let fresh = open(2, "2026-12-01T01:40:00Z");
    let seen = Observed {
        open: vec![fresh.clone(), old.clone()],
        last_start: Some(fresh.started_at),
        last_ended: None,
    };
    let running = monitor.evaluate(&seen, at("2026-12-01T01:30:00Z"));
    assert_eq!(running.health, Health::Running);
    assert_eq!(
        running.reason,
        "run 1 running since 2026-12-01 02:00 Europe/Berlin (30 min)"
    );
    assert_eq!(running.deadline, Some(at("2026-12-01T02:00:00Z")));
    let stuck = monitor.evaluate(&seen, at("2026-12-01T02:00:00Z"));
    assert_eq!(stuck.health, Health::Down);
    assert_eq!(stuck.stuck, [1], "only the run past the maximum is stuck");
    assert_eq!(
        stuck.reason,
        "run 1 running since 2026-12-01 02:00 Europe/Berlin (1 h), longer than the maximum 1 h"
    );
    // Without a maximum, a run is never stuck.
    let patient = nightly().evaluate(&seen, at("2026-12-03T00:00:00Z"));
    assert_eq!((patient.health, patient.deadline), (Health::Running, None));
}

#[test]
fn a_stuck_run_is_failed_at_the_hard_limit_and_the_others_stay_watched() {
    let monitor = Monitor {
        max_runtime: Some(minutes(60)),
        stuck_fail_after: Some(minutes(120)),
        ..nightly()
    };
    let old = open(1, "2026-12-01T01:00:00Z");
    let fresh = open(2, "2026-12-01T01:40:00Z");
    let seen = Observed {
        open: vec![old, fresh],
        last_start: Some(at("2026-12-01T01:40:00Z")),
        last_ended: None,
    };
    let stuck = monitor.evaluate(&seen, at("2026-12-01T02:00:00Z"));
    assert_eq!((stuck.stuck, stuck.overdue), (vec![1], vec![]));
    // The fresh run outlasts the maximum at 02:40: the next look.
    assert_eq!(stuck.deadline, Some(at("2026-12-01T02:40:00Z")));
    let both = monitor.evaluate(&seen, at("2026-12-01T02:40:00Z"));
    assert_eq!(both.stuck, [1, 2]);
    // Then the old run's hard limit at 03:00.
    assert_eq!(both.deadline, Some(at("2026-12-01T03:00:00Z")));
    let overdue = monitor.evaluate(&seen, at("2026-12-01T03:00:00Z"));
    assert_eq!(
        overdue.overdue,
        [1],
        "failed at two hours, the fresh one not yet"
    );
    assert_eq!(overdue.deadline, Some(at("2026-12-01T03:40:00Z")));
}

#[test]
fn the_starts_a_pause_covered_are_not_missed_once_it_runs_out() {
    let monitor = Monitor {
        paused: Some(Some(at("2026-12-03T12:00:00Z"))),
        ..nightly()
    };
    let paused = monitor.evaluate(&Observed::default(), at("2026-12-02T12:00:00Z"));
    assert_eq!(paused.health, Health::Paused);
    assert_eq!(paused.deadline, Some(at("2026-12-03T12:00:00Z")));
    // The 2nd's and 3rd's 02:00 went by during the pause; the next expected is the 4th's.
    let resumed = monitor.evaluate(&Observed::default(), at("2026-12-03T12:00:00Z"));
    assert_eq!(resumed.health, Health::New);
    assert_eq!(resumed.next_expected, Some(at("2026-12-04T01:00:00Z")));
}

#[test]
fn a_run_that_succeeds_too_fast_or_out_of_bounds_is_down() {
    let quick = ended(
        4,
        Status::Successful,
        "2026-12-01T01:00:00Z",
        "2026-12-01T01:00:02Z",
    );
    let now = at("2026-12-01T02:00:00Z");
    let monitor = Monitor {
        min_runtime: Some(minutes(1)),
        ..nightly()
    };
    let verdict = monitor.evaluate(&after(quick.clone()), now);
    assert_eq!(verdict.health, Health::Down);
    assert_eq!(
        verdict.reason,
        "run 4 finished in 2 s, sooner than the minimum 1 min"
    );
    let cases = [
        (
            Monitor {
                min_records: Some(101),
                ..nightly()
            },
            "run 4 processed 100 records, fewer than 101",
        ),
        (
            Monitor {
                max_records: Some(99),
                ..nightly()
            },
            "run 4 processed 100 records, more than 99",
        ),
        (
            Monitor {
                max_errors: Some(2),
                ..nightly()
            },
            "run 4 filed 3 integration errors, more than 2",
        ),
    ];
    for (monitor, reason) in cases {
        let run = EndedRun {
            errors: 3,
            ..quick.clone()
        };
        let verdict = monitor.evaluate(&after(run), now);
        assert_eq!(
            (verdict.health, verdict.reason.as_str()),
            (Health::Down, reason)
        );
    }
    // Within every bound, it is up.
    let fine = Monitor {
        min_runtime: Some(Duration::from_secs(2)),
        min_records: Some(100),
        max_records: Some(100),
        max_errors: Some(0),
        ..nightly()
    };
    assert_eq!(fine.evaluate(&after(quick), now).health, Health::Up);
}

#[test]
fn a_pause_silences_everything_until_it_ends() {
    let monitor = Monitor {
        paused: Some(Some(at("2026-12-05T00:00:00Z"))),
        ..nightly()
    };
    let paused = monitor.evaluate(&Observed::default(), at("2026-12-03T00:00:00Z"));
    assert_eq!(paused.health, Health::Paused);
    assert_eq!(paused.reason, "paused until 2026-12-05 01:00 Europe/Berlin");
    assert_eq!(paused.deadline, Some(at("2026-12-05T00:00:00Z")));
    // After the pause, watching resumes from its end: the starts it covered are not missed.
    let after_pause = monitor.evaluate(&Observed::default(), at("2026-12-05T00:00:00Z"));
    assert_eq!(after_pause.health, Health::New);
    assert_eq!(after_pause.next_expected, Some(at("2026-12-05T01:00:00Z")));
    let indefinitely = Monitor {
        paused: Some(None),
        ..nightly()
    };
    let verdict = indefinitely.evaluate(&Observed::default(), at("2030-01-01T00:00:00Z"));
    assert_eq!((verdict.health, verdict.deadline), (Health::Paused, None));
}

#[test]
fn an_interval_counts_from_the_last_start() {
    let monitor = Monitor {
        schedule: Some(Schedule::interval(3600).unwrap()),
        start_grace: minutes(5),
        ..Monitor::new(at("2026-12-01T00:00:00Z"))
    };
    let good = ended(
        1,
        Status::Successful,
        "2026-12-01T10:17:00Z",
        "2026-12-01T10:18:00Z",
    );
    let verdict = monitor.evaluate(&after(good.clone()), at("2026-12-01T11:19:00Z"));
    assert_eq!(verdict.health, Health::Late);
    assert_eq!(verdict.deadline, Some(at("2026-12-01T11:22:00Z")));
    let down = monitor.evaluate(&after(good), at("2026-12-01T11:22:00Z"));
    assert_eq!(down.missed, Some(at("2026-12-01T11:17:00Z")));
}

#[test]
fn the_start_a_spring_forward_night_skips_is_expected_after_the_gap() {
    // 02:30 does not exist in Berlin on 2026-03-29; the start is expected at 03:00 CEST.
    let monitor = Monitor {
        schedule: Some(Schedule::cron("30 2 * * *").unwrap()),
        zone: Zone::parse("Europe/Berlin").unwrap(),
        ..Monitor::new(at("2026-03-01T00:00:00Z"))
    };
    let good = ended(
        1,
        Status::Successful,
        "2026-03-28T01:30:00Z",
        "2026-03-28T01:40:00Z",
    );
    let late = monitor.evaluate(&after(good), at("2026-03-29T01:05:00Z"));
    assert_eq!(late.health, Health::Late);
    assert_eq!(
        late.reason,
        "expected 2026-03-29 03:00 Europe/Berlin, grace 10 min, nothing yet"
    );
}

#[test]
fn spans_read_as_people_write_them() {
    let cases = [
        (0, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (90, "1 min 30 s"),
        (3600, "1 h"),
        (3900, "1 h 5 min"),
        (86_400, "1 d"),
        (90_000, "1 d 1 h"),
    ];
    for (seconds, text) in cases {
        assert_eq!(span(Duration::from_secs(seconds)), text);
    }
}

#[test]
fn a_run_silent_past_the_heartbeat_timeout_is_stuck_however_young() {
    let monitor = Monitor {
        max_runtime: Some(minutes(120)),
        heartbeat_timeout: Some(minutes(5)),
        ..nightly()
    };
    let run = OpenRun {
        id: 9,
        started_at: at("2026-12-01T01:00:00Z"),
        last_seen: at("2026-12-01T01:10:00Z"),
    };
    let seen = Observed {
        open: vec![run],
        last_start: Some(at("2026-12-01T01:00:00Z")),
        last_ended: None,
    };
    let alive = monitor.evaluate(&seen, at("2026-12-01T01:12:00Z"));
    assert_eq!(alive.health, Health::Running);
    assert_eq!(
        alive.deadline,
        Some(at("2026-12-01T01:15:00Z")),
        "the silence's end"
    );
    let silent = monitor.evaluate(&seen, at("2026-12-01T01:15:00Z"));
    assert_eq!((silent.health, silent.stuck), (Health::Down, vec![9]));
    assert_eq!(
        silent.reason,
        "run 9 running since 2026-12-01 02:00 Europe/Berlin (15 min), no sign of it for 5 min, \
         longer than the heartbeat timeout 5 min"
    );
    // Stuck by silence, then by the maximum: the reason says the maximum.
    let long = monitor.evaluate(&seen, at("2026-12-01T03:00:00Z"));
    assert!(
        long.reason.ends_with("longer than the maximum 2 h"),
        "{}",
        long.reason
    );
}
