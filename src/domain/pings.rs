//! Ping URLs: what a job that cannot run `runledger exec` tells its monitor over plain HTTP,
//! in healthchecks.io's shapes (`/ping/<key>[/start|/fail|/log|/<exit-status>][?rid=…]`), and
//! what each ping does to which run.
//!
//! Everything here is pure: the HTTP layer reads the path, the query and the body into a
//! [`Ping`], the store finds the open run the ping may end and carries out the [`Plan`] that
//! [`plan`] decides, in one transaction.

use super::text::is_xml_char;
use super::vocabulary::vocabulary;
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// How many bytes of a ping's body are kept; the rest is dropped, never refused. 10,000 is
/// healthchecks.io's own default (`PING_BODY_LIMIT`): enough for the tail of a cron job's
/// output, and small enough that a chatty job cannot fill the database through an
/// unauthenticated URL.
pub const BODY_LIMIT: usize = 10_000;

/// The longest client-chosen run id accepted.
pub const MAX_RID_LEN: usize = 64;

vocabulary! {
    /// What a ping says, as the ping log stores it. An exit status is a `success` (0) or a
    /// `fail` (anything else) with its number kept beside it.
    pub enum PingKind {
        Start = "start",
        Success = "success",
        Fail = "fail",
        Log = "log",
    }
}

/// What a ping URL's last segment asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Start,
    Success,
    Fail,
    Log,
    /// `/ping/<key>/<0..=255>`: 0 is a success, anything else a failure.
    Exit(u8),
}

impl Signal {
    /// The signal a URL's segment after the key names (`None`: the bare URL, a success).
    pub fn parse(segment: Option<&str>) -> Result<Signal> {
        match segment {
            None => Ok(Signal::Success),
            Some("start") => Ok(Signal::Start),
            Some("fail") => Ok(Signal::Fail),
            Some("log") => Ok(Signal::Log),
            // Digits only: `+1`, ` 1` or `01x` are not exit statuses.
            Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                digits
                    .parse::<u8>()
                    .map(Signal::Exit)
                    .map_err(|_| Error::invalid("invalid exit status (must be 0 to 255)"))
            }
            Some(_) => Err(Error::invalid(
                "invalid ping: use /start, /fail, /log or an exit status 0 to 255",
            )),
        }
    }

    pub fn kind(self) -> PingKind {
        match self {
            Signal::Start => PingKind::Start,
            Signal::Success | Signal::Exit(0) => PingKind::Success,
            Signal::Fail | Signal::Exit(_) => PingKind::Fail,
            Signal::Log => PingKind::Log,
        }
    }

    pub fn exit_status(self) -> Option<u8> {
        match self {
            Signal::Exit(status) => Some(status),
            _ => None,
        }
    }
}

/// A client-chosen run id (`?rid=`): what pairs a start with its end when runs overlap.
///
/// healthchecks.io accepts a UUID; Runledger accepts any 1 to 64 visible ASCII characters
/// (`!` to `~`, so a UUID, a job's own id or a timestamp), which any log or XML can carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rid(String);

impl Rid {
    pub fn parse(text: &str) -> Result<Rid> {
        let fits =
            (1..=MAX_RID_LEN).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
        if fits {
            Ok(Rid(text.to_owned()))
        } else {
            Err(Error::invalid(format!(
                "invalid rid (1 to {MAX_RID_LEN} visible ASCII characters, such as a UUID)"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One ping, as read from its request.
#[derive(Clone, Debug, PartialEq)]
pub struct Ping {
    pub signal: Signal,
    pub rid: Option<Rid>,
    /// The captured body (see [`capture`]), if it had one.
    pub body: Option<String>,
    /// The client's `User-Agent`, cut to [`MAX_USER_AGENT`] characters.
    pub user_agent: Option<String>,
}

/// The longest `User-Agent` kept.
pub const MAX_USER_AGENT: usize = 255;

/// A request body as a ping keeps it: its first [`BODY_LIMIT`] bytes, as text XML can carry.
/// Cron jobs pipe raw output, so nothing is refused: invalid UTF-8 (a character cut at the
/// limit included) and characters XML cannot carry (an ANSI colour code's ESC, NUL) become
/// U+FFFD. An empty body is none.
pub fn capture(bytes: &[u8]) -> Option<String> {
    let kept = &bytes[..bytes.len().min(BODY_LIMIT)];
    if kept.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(kept);
    Some(
        text.chars()
            .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
            .collect(),
    )
}

/// A header's text as a ping keeps it: at most `max` characters XML can carry.
pub fn header_text(value: &[u8], max: usize) -> Option<String> {
    let text: String = String::from_utf8_lossy(value)
        .chars()
        .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
        .take(max)
        .collect();
    (!text.is_empty()).then_some(text)
}

/// How a ping ends a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `finish`: successful, or failed if the run has unresolved integration errors, as the
    /// API's `finish` decides.
    Success,
    /// `fail`, after filing a `Runledger::Job` integration error on the run.
    Failure(Failure),
}

/// The integration error a failing ping files: `responses[0]`'s code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// `exit 3`, or `fail` for `/fail`.
    pub code: String,
    /// The captured body, else `exit status 3` or `failed by ping`.
    pub message: String,
}

/// A ping as the log keeps it (`GET /api/integrations/:id/monitor/pings`).
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedPing {
    pub id: i64,
    pub integration_id: i64,
    pub kind: PingKind,
    pub rid: Option<String>,
    /// The run the ping started or ended (none for `log`).
    pub run_id: Option<i64>,
    pub exit_status: Option<i64>,
    pub body: Option<String>,
    pub user_agent: Option<String>,
    pub received_at: Timestamp,
}

/// What a ping does, given the open run it may end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Nothing but the ping log (`/log`).
    Record,
    /// A new run, `running` from now (`/start`).
    Start,
    /// Ends the open run the ping pairs with.
    End { run_id: i64, outcome: Outcome },
    /// No open run to end: a run that starts and ends now.
    StartAndEnd(Outcome),
}

impl Ping {
    /// How this ping ends a run, if it ends one.
    pub fn outcome(&self) -> Option<Outcome> {
        let failure = |code: String, default: String| {
            Outcome::Failure(Failure {
                code,
                message: self.body.clone().unwrap_or(default),
            })
        };
        match self.signal {
            Signal::Start | Signal::Log => None,
            Signal::Success | Signal::Exit(0) => Some(Outcome::Success),
            Signal::Fail => Some(failure("fail".into(), "failed by ping".into())),
            Signal::Exit(n) => Some(failure(format!("exit {n}"), format!("exit status {n}"))),
        }
    }

    /// Whether the store must look for an open run to pair with (only an ending ping does).
    pub fn ends_a_run(&self) -> bool {
        self.outcome().is_some()
    }
}

/// What `ping` does, given `open`: the open run that its rid started (with a rid) or the
/// latest open run that a start without rid started (without one), as the store found it.
///
/// A start always makes a new run: a second start with a rid that is still open leaves the
/// first run open (the monitor calls it stuck once it passes its maximum run time) and pairs
/// the rid with the new run from then on.
pub fn plan(ping: &Ping, open: Option<i64>) -> Plan {
    match (ping.signal, ping.outcome()) {
        (Signal::Start, _) => Plan::Start,
        (_, None) => Plan::Record,
        (_, Some(outcome)) => match open {
            Some(run_id) => Plan::End { run_id, outcome },
            None => Plan::StartAndEnd(outcome),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping(signal: Signal, body: Option<&str>) -> Ping {
        Ping {
            signal,
            rid: None,
            body: body.map(str::to_owned),
            user_agent: None,
        }
    }

    #[test]
    fn the_segment_after_the_key_names_the_signal() {
        assert_eq!(Signal::parse(None).unwrap(), Signal::Success);
        assert_eq!(Signal::parse(Some("start")).unwrap(), Signal::Start);
        assert_eq!(Signal::parse(Some("fail")).unwrap(), Signal::Fail);
        assert_eq!(Signal::parse(Some("log")).unwrap(), Signal::Log);
        assert_eq!(Signal::parse(Some("0")).unwrap(), Signal::Exit(0));
        assert_eq!(Signal::parse(Some("255")).unwrap(), Signal::Exit(255));
        for bad in ["256", "-1", "+1", "1x", "", "99999999999999999999", "START"] {
            assert!(Signal::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_exit_status_is_a_success_only_when_zero() {
        assert_eq!(Signal::Exit(0).kind(), PingKind::Success);
        assert_eq!(Signal::Exit(1).kind(), PingKind::Fail);
        assert_eq!(Signal::Exit(7).exit_status(), Some(7));
        assert_eq!(Signal::Fail.exit_status(), None);
        assert_eq!(
            ping(Signal::Exit(0), None).outcome(),
            Some(Outcome::Success)
        );
    }

    #[test]
    fn a_rid_is_one_to_64_visible_ascii_characters() {
        for good in [
            "a",
            "3f2c9a1e-6d1b-4f3e-9c1a-0d5e8b7a6c4f",
            &"x".repeat(64),
            "job#42",
        ] {
            assert_eq!(Rid::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", &"x".repeat(65), "a b", "é", "tab\t", "\u{0}"] {
            assert!(Rid::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_body_is_cut_at_the_limit_and_made_text_xml_can_carry() {
        assert_eq!(capture(b""), None);
        assert_eq!(capture(b"ok\n").as_deref(), Some("ok\n"));
        let long = vec![b'a'; BODY_LIMIT + 10];
        assert_eq!(capture(&long).unwrap().len(), BODY_LIMIT);
        assert_eq!(
            capture(b"\x1b[31mred\x00\xff").as_deref(),
            Some("\u{FFFD}[31mred\u{FFFD}\u{FFFD}")
        );
        // A character cut in two by the limit is one replacement character.
        let mut cut = vec![b'a'; BODY_LIMIT - 1];
        cut.extend("é".as_bytes());
        let kept = capture(&cut).unwrap();
        assert!(kept.ends_with('\u{FFFD}') && kept.chars().count() == BODY_LIMIT);
    }

    #[test]
    fn a_header_is_cut_to_its_maximum() {
        assert_eq!(header_text(b"curl/8.5", 255).as_deref(), Some("curl/8.5"));
        assert_eq!(header_text(&[b'x'; 300], 255).unwrap().len(), 255);
        assert_eq!(header_text(b"", 255), None);
    }

    #[test]
    fn a_failure_files_the_body_or_says_what_failed() {
        let failure = |p: Ping| match p.outcome() {
            Some(Outcome::Failure(f)) => (f.code, f.message),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            failure(ping(Signal::Fail, None)),
            ("fail".into(), "failed by ping".into())
        );
        assert_eq!(
            failure(ping(Signal::Exit(3), None)),
            ("exit 3".into(), "exit status 3".into())
        );
        assert_eq!(
            failure(ping(Signal::Exit(3), Some("disk full"))),
            ("exit 3".into(), "disk full".into())
        );
    }

    #[test]
    fn a_start_always_makes_a_run_and_log_changes_none() {
        assert_eq!(plan(&ping(Signal::Start, None), None), Plan::Start);
        assert_eq!(plan(&ping(Signal::Start, None), Some(4)), Plan::Start);
        assert_eq!(plan(&ping(Signal::Log, Some("hi")), Some(4)), Plan::Record);
        assert!(!ping(Signal::Log, None).ends_a_run());
        assert!(!ping(Signal::Start, None).ends_a_run());
    }

    #[test]
    fn an_end_ends_the_open_run_or_makes_one_that_starts_and_ends_now() {
        assert_eq!(
            plan(&ping(Signal::Success, None), Some(9)),
            Plan::End {
                run_id: 9,
                outcome: Outcome::Success
            }
        );
        assert_eq!(
            plan(&ping(Signal::Success, None), None),
            Plan::StartAndEnd(Outcome::Success)
        );
        assert!(matches!(
            plan(&ping(Signal::Exit(2), None), None),
            Plan::StartAndEnd(Outcome::Failure(_))
        ));
    }
}
