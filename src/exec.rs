//! `runledger exec`: runs a command and records a run of an integration around it, through
//! a server's API, never its database (spec `cli.md`; `docs/monitoring.md` for users).
//!
//! The order of things: send what the spool holds, create the run and mark it running, run
//! the command (output passed through, signals passed on, a heartbeat meanwhile), then record
//! how it ended. Whatever the server does, the command runs and exec exits with its status;
//! a run the server did not take waits in the spool for the next exec.
//!
//! - [`client`]: HTTP, credentials, and failures sorted into "later" and "refused".
//! - [`report`]: the API calls that make up a run, and [`report::Finished`], a run that ended.
//! - [`child`]: the command: output, its tail, signals, its exit status.
//! - [`counts`]: the count lines and the counts file.
//! - [`spool`]: runs kept on disk until they can be sent.

pub mod child;
pub mod client;
pub mod counts;
pub mod report;
pub mod spool;

use std::path::Path;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use self::child::{Ended, TAIL_BYTES};
use self::client::{Client, Credentials, Failure};
use self::counts::Counts;
use self::report::Finished;
use self::spool::Spool;
use crate::config::ExecArgs;
use crate::domain::text::showable;
use crate::time;

/// Count lines often come in bursts: they are sent together, this long after the first.
const COUNTS_SETTLE: Duration = Duration::from_secs(1);

/// The variables exec sets for the command.
pub const COUNTS_FILE_VARIABLE: &str = "RUNLEDGER_COUNTS_FILE";
pub const RUN_ID_VARIABLE: &str = "RUNLEDGER_RUN_ID";
/// Credentials exec takes from its environment and does not hand down: the command's output
/// may end up in an integration error, and a command that prints its environment would put
/// them there.
const WITHHELD_VARIABLES: [&str; 2] = ["RUNLEDGER_CLIENT_SECRET", "RUNLEDGER_API_KEY"];

/// Runs `runledger exec`; the status to exit with, the command's own.
pub async fn run(args: ExecArgs) -> u8 {
    let Some((program, arguments)) = args.command.split_first() else {
        say("no command given: runledger exec --integration CODE -- COMMAND [ARGS…]");
        return 2;
    };
    let credentials = match (args.client_id, args.client_secret, args.api_key) {
        (Some(id), Some(secret), _) => Credentials::Client { id, secret },
        (_, _, Some(key)) => Credentials::ApiKey(key),
        _ => Credentials::None,
    };
    let secrets: Vec<String> = credentials
        .secrets()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let client = Client::new(&args.server, credentials);
    let spool = args
        .spool_dir
        .or_else(|| {
            Spool::default_dir(std::env::var_os("XDG_STATE_HOME"), std::env::var_os("HOME"))
        })
        .map(Spool::new);

    if let (Ok(client), Some(spool)) = (&client, &spool) {
        flush(client, spool).await;
    }
    let live = match &client {
        Ok(client) => open(client, &args.integration).await,
        Err(_) => Live::default(),
    };
    let started = time::now();

    let counts_file = counts::create_file().ok();
    let mut command = Command::new(program);
    command.args(arguments);
    for variable in WITHHELD_VARIABLES {
        command.env_remove(variable);
    }
    match &counts_file {
        Some(path) => command.env(COUNTS_FILE_VARIABLE, path),
        None => command.env_remove(COUNTS_FILE_VARIABLE),
    };
    match live.run_id {
        Some(id) => command.env(RUN_ID_VARIABLE, id.to_string()),
        None => command.env_remove(RUN_ID_VARIABLE),
    };
    let (counts_sender, counts) = watch::channel(Counts::default());
    let running = child::run(command, counts_sender);
    let ended = match (&client, live.run_id, live.running) {
        (Ok(client), Some(id), true) => {
            let every = Duration::from_secs(args.heartbeat);
            let beats = heartbeat(client, id, every, counts.clone(), counts_file.as_deref());
            tokio::pin!(running);
            tokio::select! {
                ended = &mut running => ended,
                () = beats => running.await,
            }
        }
        _ => running.await,
    };
    let ended_at = time::now();

    let Ended { outcome, tail } = ended.unwrap_or_else(|error| {
        let program = program.to_string_lossy();
        say(&format!("cannot run {program}: {error}"));
        Ended {
            outcome: child::not_started(&error),
            tail: format!("runledger exec could not run {program}: {error}").into_bytes(),
        }
    });
    let mut final_counts = *counts.borrow();
    if let Some(path) = &counts_file {
        if let Some(from_file) = counts::read_file(path) {
            final_counts = final_counts.updated(from_file);
        }
        let _ = std::fs::remove_file(path);
    }
    let mut finished = Finished {
        integration: args.integration,
        run_id: live.run_id,
        start_time: live.start_time.unwrap_or_else(|| time::format(&started)),
        end_time: time::format(&ended_at),
        outcome,
        counts: final_counts,
        output_tail: tail_text(&tail, &secrets),
        error_filed: false,
        alert: args.alert,
    };
    let failure = match &client {
        Ok(client) => {
            let mut save = |_: &Finished| {};
            let delivered = report::deliver(client, &mut finished, !live.running, &mut save);
            tokio::select! {
                delivered = delivered => delivered.err(),
                () = interrupted() => Some(Failure::Later("exec was interrupted".into())),
            }
        }
        Err(reason) => Some(Failure::Later(reason.clone())),
    };
    if let Some(failure) = failure {
        keep(spool.as_ref(), &finished, &failure);
    }
    outcome.exit_status()
}

/// The run as the server saw it start.
#[derive(Default)]
struct Live {
    run_id: Option<i64>,
    /// Marked running: the server set its start time, and heartbeats can go.
    running: bool,
    start_time: Option<String>,
}

/// Creates the run and marks it running. A failure is not said here: the run is tried
/// again when the command has ended, and spooled then.
async fn open(client: &Client, integration: &str) -> Live {
    let Ok(id) = report::create(client, integration, None).await else {
        return Live::default();
    };
    match report::start(client, id).await {
        Ok(start_time) => Live {
            run_id: Some(id),
            running: true,
            start_time,
        },
        Err(_) => Live {
            run_id: Some(id),
            ..Live::default()
        },
    }
}

/// Every `every`, a heartbeat with the counts; counts that change in between are sent
/// [`COUNTS_SETTLE`] after they do. Failures are passed over: the end of the run decides.
/// It never returns.
async fn heartbeat(
    client: &Client,
    id: i64,
    every: Duration,
    mut counts: watch::Receiver<Counts>,
    counts_file: Option<&Path>,
) {
    let current = |counts: &watch::Receiver<Counts>| {
        let reported = *counts.borrow();
        match counts_file.and_then(counts::read_file) {
            Some(from_file) => reported.updated(from_file),
            None => reported,
        }
    };
    let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let (mut beats, mut sent, mut open) = (0u64, Counts::default(), true);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                beats += 1;
                let now = current(&counts);
                let at = time::format(&time::now());
                if report::beat(client, id, beats, &at, now).await.is_ok() {
                    sent = now;
                }
            }
            changed = counts.changed(), if open => {
                if changed.is_err() {
                    // The command's output ended; the heartbeat goes on until it exits.
                    open = false;
                    continue;
                }
                tokio::time::sleep(COUNTS_SETTLE).await;
                let now = current(&counts);
                if now != sent && report::progress(client, id, now).await.is_ok() {
                    sent = now;
                }
            }
        }
    }
}

/// Sends the spooled runs, oldest first, while the server takes them. Quiet but for runs the
/// server refuses for good, which move to `rejected/`.
async fn flush(client: &Client, spool: &Spool) {
    // Nothing spooled: the spool is not even created.
    if spool.pending().map_or(true, |files| files.is_empty()) {
        return;
    }
    // Another exec is flushing: it sends them.
    let Ok(Some(_lock)) = spool.lock() else {
        return;
    };
    let Ok(files) = spool.pending() else {
        return;
    };
    for path in files {
        let mut run = match Spool::read(&path) {
            Ok(run) => run,
            Err(reason) => {
                if let Ok(to) = spool.reject_unreadable(&path) {
                    say(&format!(
                        "cannot read the spooled run {} ({reason}); moved to {}",
                        path.display(),
                        to.display()
                    ));
                }
                continue;
            }
        };
        let mut save = |run: &Finished| {
            let _ = spool.rewrite(&path, run);
        };
        match report::deliver(client, &mut run, true, &mut save).await {
            Ok(id) => {
                tracing::debug!(id, file = %path.display(), "spooled run sent");
                let _ = std::fs::remove_file(&path);
            }
            // Still unreachable: this run and the later ones wait for the next exec.
            Err(Failure::Later(_)) => return,
            Err(Failure::Refused(reason)) => {
                if let Ok(to) = spool.reject(Some(&path), &run) {
                    say(&format!(
                        "the server refused the spooled run of {} that started {}: {reason}; \
                         it is kept in {}",
                        run.integration,
                        run.start_time,
                        to.display()
                    ));
                }
            }
        }
    }
}

/// Keeps a run the server did not take, and says so, once.
fn keep(spool: Option<&Spool>, finished: &Finished, failure: &Failure) {
    let code = &finished.integration;
    let Some(spool) = spool else {
        say(&format!(
            "the run of {code} was not recorded ({}), and there is no spool to keep it in: \
             set RUNLEDGER_SPOOL_DIR",
            failure.reason()
        ));
        return;
    };
    match failure {
        Failure::Later(reason) => match spool.put(finished) {
            Ok(path) => say(&format!(
                "the run of {code} was not recorded ({reason}); it is spooled in {} and \
                 the next runledger exec sends it",
                path.display()
            )),
            Err(error) => say(&format!(
                "the run of {code} was not recorded ({reason}), nor spooled in {} ({error})",
                spool.dir().display()
            )),
        },
        Failure::Refused(reason) => match spool.reject(None, finished) {
            Ok(path) => say(&format!(
                "the run of {code} was not recorded: {reason}; it is kept in {}",
                path.display()
            )),
            Err(error) => say(&format!(
                "the run of {code} was not recorded: {reason} ({error})"
            )),
        },
    }
}

/// The tail of the output as text an integration error can carry: a character cut by the
/// tail's start is dropped, other invalid UTF-8 and characters XML cannot carry become
/// U+FFFD, and the credentials exec holds are blotted out.
fn tail_text(tail: &[u8], secrets: &[String]) -> String {
    let mut bytes = tail;
    if tail.len() >= TAIL_BYTES {
        let cut = bytes
            .iter()
            .take(3)
            .take_while(|&&b| b & 0xC0 == 0x80)
            .count();
        bytes = &bytes[cut..];
    }
    let mut text = showable(&String::from_utf8_lossy(bytes)).into_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        text = text.replace(secret.as_str(), "[redacted]");
    }
    text
}

/// The next SIGINT or SIGTERM once the command has ended: recording the run then gives way,
/// and the run is spooled instead.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            tokio::select! {
                _ = int.recv() => return,
                _ = term.recv() => return,
            }
        }
    }
    std::future::pending::<()>().await
}

fn say(message: &str) {
    eprintln!("runledger exec: {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_text_an_error_can_carry_without_credentials() {
        let tail = b"ok\x1b[31m failed \xff with s3cr3t-key\n";
        let text = tail_text(tail, &["s3cr3t-key".into(), "x".into()]);
        assert_eq!(text, "ok\u{FFFD}[31m failed \u{FFFD} with [redacted]\n");
        // A character cut in two by the tail's start is dropped.
        let mut cut = "é".as_bytes()[1..].to_vec();
        cut.extend(std::iter::repeat_n(b'a', TAIL_BYTES - 1));
        let text = tail_text(&cut, &[]);
        assert!(text.starts_with('a') && text.len() == TAIL_BYTES - 1);
    }
}
