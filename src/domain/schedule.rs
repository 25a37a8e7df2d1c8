//! When a job is expected to start: every so long, at the times a cron expression or a systemd
//! `OnCalendar` expression names, in an IANA time zone.
//!
//! Cron patterns are evaluated by `croner`, which follows the Open Cron Pattern Specification
//! across daylight-saving changes: a fixed time that a spring-forward night skips (02:30 in
//! Europe/Berlin on the last Sunday of March) is due at the first instant after the gap, and a
//! fixed time that a fall-back night repeats is due once, at its first instant. So a daily job
//! is expected exactly once on both nights: neither missed nor run twice.
//!
//! `OnCalendar` expressions are read here and turned into the cron pattern that means the same
//! (with day-of-month AND day-of-week, as systemd matches them). No Rust crate reads them;
//! the subset systemd users write for jobs is small (see [`Schedule::on_calendar`]), and what
//! is outside it is refused by name rather than misread.

use std::time::Duration;

use chrono::Timelike;
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use crate::time::Timestamp;

/// An IANA time zone, by its name (`Europe/Berlin`, `UTC`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zone(Tz);

impl Zone {
    pub const UTC: Zone = Zone(Tz::UTC);

    /// The zone `name` names exactly, as the IANA database spells it.
    pub fn parse(name: &str) -> Result<Zone, String> {
        name.parse::<Tz>().map(Zone).map_err(|_| {
            format!("Time zone '{name}' is not an IANA time zone name (e.g. Europe/Berlin, UTC)")
        })
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// An instant on this zone's wall clock, for people: `2026-03-29 03:00 Europe/Berlin`
    /// (seconds only when there are some).
    pub fn wall_clock(&self, at: Timestamp) -> String {
        let local = at.with_timezone(&self.0);
        let pattern = if local.second() == 0 {
            "%Y-%m-%d %H:%M"
        } else {
            "%Y-%m-%d %H:%M:%S"
        };
        format!("{} {}", local.format(pattern), self.name())
    }
}

/// The shortest interval, and the longest: a schedule is for jobs, not for heartbeats of a
/// second, and a year and a day covers a yearly job.
pub const MIN_INTERVAL: Duration = Duration::from_secs(60);
pub const MAX_INTERVAL: Duration = Duration::from_secs(366 * 24 * 3600);

/// When runs are expected.
#[derive(Clone, Debug)]
pub enum Schedule {
    /// One run every so long, counted from the previous start.
    Interval(Duration),
    /// At the times a five-field cron expression names (`30 2 * * *`, `@daily`).
    Cron { expression: String, cron: Box<Cron> },
    /// At the times a systemd `OnCalendar` expression names (`Mon..Fri *-*-* 02:30`).
    OnCalendar { expression: String, cron: Box<Cron> },
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Schedule::Interval(a), Schedule::Interval(b)) => a == b,
            (Schedule::Cron { expression: a, .. }, Schedule::Cron { expression: b, .. })
            | (
                Schedule::OnCalendar { expression: a, .. },
                Schedule::OnCalendar { expression: b, .. },
            ) => a == b,
            _ => false,
        }
    }
}

impl Schedule {
    /// Every `seconds` seconds, between a minute and a year and a day.
    pub fn interval(seconds: i64) -> Result<Schedule, String> {
        let every = u64::try_from(seconds)
            .map(Duration::from_secs)
            .ok()
            .filter(|every| (MIN_INTERVAL..=MAX_INTERVAL).contains(every));
        every.map(Schedule::Interval).ok_or_else(|| {
            format!(
                "Interval must be between {} and {} seconds",
                MIN_INTERVAL.as_secs(),
                MAX_INTERVAL.as_secs()
            )
        })
    }

    /// A five-field cron expression (minute, hour, day of month, month, day of week), or one
    /// of the aliases `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`. As in Vixie cron,
    /// a job whose day of month and day of week are both restricted runs on either.
    pub fn cron(expression: &str) -> Result<Schedule, String> {
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        let cron = parser
            .parse(expression)
            .map_err(|e| format!("Cron expression '{expression}' is invalid: {e}"))?;
        Ok(Schedule::Cron {
            expression: expression.trim().to_owned(),
            cron: Box::new(cron),
        })
    }

    /// A systemd `OnCalendar` expression: `[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]]`,
    /// or one of `minutely`, `hourly`, `daily`, `weekly`, `monthly`, `quarterly`,
    /// `semiannually`, `yearly`/`annually`. Weekdays are names (`Mon`, `Monday`), lists and
    /// ranges (`Mon,Wed`, `Mon..Fri`). Each other part is `*`, a number, a list, a range
    /// (`1..7`) or a repetition (`1/7`, `0..30/10`, `*/15`). The year must be `*`; `~` (days
    /// before the month's end) and a time zone inside the expression are refused: the
    /// monitor's zone applies. The second must be one value, so that runs are at least a
    /// minute apart.
    pub fn on_calendar(expression: &str) -> Result<Schedule, String> {
        let invalid =
            |why: String| format!("OnCalendar expression '{expression}' is invalid: {why}");
        let pattern = on_calendar_pattern(expression).map_err(invalid)?;
        let parser = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Disallowed)
            .dom_and_dow(true)
            .build();
        let cron = parser.parse(&pattern).map_err(|e| invalid(e.to_string()))?;
        Ok(Schedule::OnCalendar {
            expression: expression.trim().to_owned(),
            cron: Box::new(cron),
        })
    }

    /// `interval`, `cron` or `oncalendar`.
    /// A schedule of a kind (`interval`, `cron`, `oncalendar`) from its text.
    pub fn parse(kind: &str, text: &str) -> Result<Schedule, String> {
        match kind {
            "interval" => match text.trim().parse::<i64>() {
                Ok(seconds) => Schedule::interval(seconds),
                Err(_) => Err(format!("Interval '{text}' is not a number of seconds")),
            },
            "cron" => Schedule::cron(text),
            "oncalendar" => Schedule::on_calendar(text),
            other => Err(format!(
                "Schedule kind '{other}' is not one of interval, cron, oncalendar"
            )),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Schedule::Interval(_) => "interval",
            Schedule::Cron { .. } => "cron",
            Schedule::OnCalendar { .. } => "oncalendar",
        }
    }

    /// The schedule as written: seconds for an interval, else the expression.
    pub fn text(&self) -> String {
        match self {
            Schedule::Interval(every) => every.as_secs().to_string(),
            Schedule::Cron { expression, .. } | Schedule::OnCalendar { expression, .. } => {
                expression.clone()
            }
        }
    }

    /// The first expected start strictly after `after`, in `zone`; `None` when there is none
    /// (an expression that names no real date, such as the 30th of February). For an
    /// interval, `after` is the start it counts from.
    pub fn next_after(&self, after: Timestamp, zone: Zone) -> Option<Timestamp> {
        match self {
            Schedule::Interval(every) => {
                let every = chrono::Duration::from_std(*every).ok()?;
                after.checked_add_signed(every)
            }
            Schedule::Cron { cron, .. } | Schedule::OnCalendar { cron, .. } => cron
                .find_next_occurrence(&after.with_timezone(&zone.0), false)
                .ok()
                .map(|next| next.to_utc()),
        }
    }
}

/// The cron pattern (`SECOND MINUTE HOUR DAY MONTH WEEKDAY`) an `OnCalendar` expression means.
fn on_calendar_pattern(expression: &str) -> Result<String, String> {
    // A shorthand stands for a whole expression; whatever follows it is then refused below.
    let mut tokens: Vec<&str> = expression.split_whitespace().collect();
    if let Some(expanded) = tokens.first().and_then(|first| shorthand(first)) {
        tokens.splice(0..1, expanded.split_whitespace());
    }
    let mut parts = tokens.into_iter().peekable();
    let weekdays = match parts.peek() {
        Some(part) if part.starts_with(|c: char| c.is_ascii_alphabetic()) => {
            let part = parts.next().unwrap_or_default();
            Some(weekdays(part)?)
        }
        _ => None,
    };
    let (mut date, mut time) = (None, None);
    for part in parts {
        if date.is_none() && time.is_none() && part.contains('-') && !part.contains(':') {
            date = Some(part);
        } else if time.is_none() && part.contains(':') {
            time = Some(part);
        } else {
            return Err(format!(
                "'{part}' is neither a date nor a time (a time zone is set on the monitor)"
            ));
        }
    }
    if weekdays.is_none() && date.is_none() && time.is_none() {
        return Err("it is empty".into());
    }
    let (month, day) = date_fields(date.unwrap_or("*-*-*"))?;
    let (hour, minute, second) = time_fields(time.unwrap_or("00:00:00"))?;
    Ok(format!(
        "{second} {minute} {hour} {day} {month} {}",
        weekdays.as_deref().unwrap_or("*")
    ))
}

/// What systemd's shorthands stand for.
fn shorthand(word: &str) -> Option<&'static str> {
    Some(match word.to_ascii_lowercase().as_str() {
        "minutely" => "*-*-* *:*:00",
        "hourly" => "*-*-* *:00:00",
        "daily" => "*-*-* 00:00:00",
        "weekly" => "Mon *-*-* 00:00:00",
        "monthly" => "*-*-01 00:00:00",
        "quarterly" => "*-01,04,07,10-01 00:00:00",
        "semiannually" => "*-01,07-01 00:00:00",
        "yearly" | "annually" => "*-01-01 00:00:00",
        _ => return None,
    })
}

/// `[YEAR-]MONTH-DAY` as cron's month and day fields; the year must be `*`.
fn date_fields(date: &str) -> Result<(String, String), String> {
    if date.contains('~') {
        return Err("'~' (days before the end of the month) is not supported".into());
    }
    let fields: Vec<&str> = date.split('-').collect();
    let (month, day) = match fields.as_slice() {
        [year, month, day] => {
            if *year != "*" {
                return Err(format!("the year must be '*', not '{year}'"));
            }
            (month, day)
        }
        [month, day] => (month, day),
        _ => return Err(format!("'{date}' is not [YEAR-]MONTH-DAY")),
    };
    Ok((field(month, "month", 1, 12)?, field(day, "day", 1, 31)?))
}

/// `HOUR:MINUTE[:SECOND]` as cron's hour, minute and second fields.
fn time_fields(time: &str) -> Result<(String, String, String), String> {
    let fields: Vec<&str> = time.split(':').collect();
    let (hour, minute, second) = match fields.as_slice() {
        [hour, minute] => (hour, minute, &"00"),
        [hour, minute, second] => (hour, minute, second),
        _ => return Err(format!("'{time}' is not HOUR:MINUTE[:SECOND]")),
    };
    let second = number(second, "second", 0, 59)
        .map_err(|_| format!("the second must be one number from 0 to 59, not '{second}'"))?;
    Ok((
        field(hour, "hour", 0, 23)?,
        field(minute, "minute", 0, 59)?,
        second.to_string(),
    ))
}

/// One calendar component (`*`, `5`, `1,15`, `1..7`, `1/7`, `0..30/10`, `*/15`) as the cron
/// field that means the same.
fn field(text: &str, name: &str, low: u32, high: u32) -> Result<String, String> {
    let items = text.split(',').map(|item| {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(number(step, name, 1, high)?)),
            None => (item, None),
        };
        let range = match range.split_once("..") {
            _ if range == "*" => "*".to_owned(),
            Some((from, to)) => {
                let (from, to) = (number(from, name, low, high)?, number(to, name, low, high)?);
                if from > to {
                    return Err(format!("the {name} range '{range}' runs backwards"));
                }
                format!("{from}-{to}")
            }
            // `N/S` repeats from N to the end of the field.
            None if step.is_some() => format!("{}-{high}", number(range, name, low, high)?),
            None => number(range, name, low, high)?.to_string(),
        };
        Ok(match step {
            Some(step) => format!("{range}/{step}"),
            None => range,
        })
    });
    Ok(items.collect::<Result<Vec<_>, String>>()?.join(","))
}

fn number(text: &str, name: &str, low: u32, high: u32) -> Result<u32, String> {
    text.parse::<u32>()
        .ok()
        .filter(|n| (low..=high).contains(n) && text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("the {name} '{text}' is not a number from {low} to {high}"))
}

/// Weekday names, lists and ranges (`Mon`, `Monday`, `Mon,Wed`, `Mon..Fri`) as cron's field.
fn weekdays(text: &str) -> Result<String, String> {
    const NAMES: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let day = |name: &str| {
        let lower = name.to_ascii_lowercase();
        NAMES
            .iter()
            .position(|full| lower == *full || lower == full[..3])
            .ok_or_else(|| format!("'{name}' is not a weekday (Mon … Sun)"))
    };
    // Cron numbers Sunday 0 and Monday 1.
    let cron = |i: usize| ((i + 1) % 7).to_string();
    let items = text.split(',').map(|item| match item.split_once("..") {
        Some((from, to)) => {
            let (from, to) = (day(from)?, day(to)?);
            if from > to {
                return Err(format!("the weekday range '{item}' runs backwards"));
            }
            Ok((from..=to).map(cron).collect::<Vec<_>>().join(","))
        }
        None => day(item).map(cron),
    });
    Ok(items.collect::<Result<Vec<_>, String>>()?.join(","))
}

#[cfg(test)]
mod tests;
