//! The command under `runledger exec`: its standard output and error pass through exec byte
//! for byte (stdout read for count lines on the way), the last of them is kept for the
//! failure's integration error, and the signals exec receives are passed on to it.

use std::collections::VecDeque;
use std::io;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::process::Command;
use tokio::sync::watch;

use super::counts::{Counts, LineScanner};

/// How much of the command's last output (stdout and stderr as they arrived) is kept.
pub const TAIL_BYTES: usize = 4096;

/// How long the output may go on after the command exited: a background process it left
/// behind may hold the pipes open, and exec must not wait for it.
const DRAIN: Duration = Duration::from_secs(5);

/// How the command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// It exited with this status.
    Exited(i32),
    /// Signal N ended it.
    Signalled(i32),
    /// It could not be started; exec exits with this status as shells do (126, or 127 when
    /// the program was not found).
    NotStarted(i32),
}

impl Outcome {
    pub fn succeeded(self) -> bool {
        self == Outcome::Exited(0)
    }

    /// The status exec exits with: the command's own, 128+N when signal N ended it.
    pub fn exit_status(self) -> u8 {
        let status = match self {
            Outcome::Exited(code) | Outcome::NotStarted(code) => code,
            Outcome::Signalled(signal) => 128 + signal,
        };
        // Statuses are 0 to 255 on Unix; Windows' wider ones wrap as a shell would see them.
        (status & 0xff) as u8
    }

    /// A short code for the integration error's `response-code`.
    pub fn code(self) -> String {
        match self {
            Outcome::Exited(code) => format!("exit {code}"),
            Outcome::Signalled(signal) => format!("signal {signal}"),
            Outcome::NotStarted(_) => "not started".to_owned(),
        }
    }

    /// The outcome in words, for a message.
    pub fn describe(self) -> String {
        match self {
            Outcome::Exited(code) => format!("the command exited with status {code}"),
            Outcome::Signalled(signal) => format!("signal {signal} ended the command"),
            Outcome::NotStarted(_) => "the command could not be started".to_owned(),
        }
    }

    fn of(status: ExitStatus) -> Outcome {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            if let Some(signal) = status.signal() {
                return Outcome::Signalled(signal);
            }
        }
        Outcome::Exited(status.code().unwrap_or(1))
    }
}

/// What the command left: how it ended and the last of its output.
#[derive(Debug)]
pub struct Ended {
    pub outcome: Outcome,
    pub tail: Vec<u8>,
}

/// Runs `command` to its end with its output piped through; the counts it prints go to
/// `counts`. The error is why it could not be started.
pub async fn run(mut command: Command, counts: watch::Sender<Counts>) -> io::Result<Ended> {
    // Listening before the command starts leaves no moment in which a signal meant for
    // it would end exec instead.
    #[cfg(unix)]
    let mut incoming = signals::Incoming::listen();
    command
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn()?;
    let tail = Arc::new(Mutex::new(Tail::default()));
    let mut pumps = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        let scanner = Some((LineScanner::default(), counts));
        pumps.push(tokio::spawn(pump(
            stdout,
            tokio::io::stdout(),
            tail.clone(),
            scanner,
        )));
    }
    if let Some(stderr) = child.stderr.take() {
        pumps.push(tokio::spawn(pump(
            stderr,
            tokio::io::stderr(),
            tail.clone(),
            None,
        )));
    }
    #[cfg(unix)]
    let status = {
        let pid = child.id();
        loop {
            tokio::select! {
                status = child.wait() => break status?,
                Some(signal) = signals::next(incoming.as_mut()) => {
                    if let Some(pid) = pid {
                        signals::forward(pid, signal);
                    }
                }
            }
        }
    };
    #[cfg(not(unix))]
    let status = child.wait().await?;
    let aborts: Vec<_> = pumps.iter().map(|p| p.abort_handle()).collect();
    let drained = tokio::time::timeout(DRAIN, futures_util::future::join_all(pumps)).await;
    if drained.is_err() {
        aborts.iter().for_each(|a| a.abort());
    }
    let tail = tail.lock().map(|t| t.bytes()).unwrap_or_default();
    Ok(Ended {
        outcome: Outcome::of(status),
        tail,
    })
}

/// The status exec exits with when the command could not be started, as a shell's.
pub fn not_started(error: &io::Error) -> Outcome {
    match error.kind() {
        io::ErrorKind::NotFound => Outcome::NotStarted(127),
        _ => Outcome::NotStarted(126),
    }
}

/// Copies `from` to `to` chunk by chunk, as it arrives: bytes are never changed, split or
/// held back for a line's end. When `to` is closed (`| head`), `from` is dropped so that the
/// command sees the broken pipe it would see without exec.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    tail: Arc<Mutex<Tail>>,
    mut scanner: Option<(LineScanner, watch::Sender<Counts>)>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buffer[..n];
        let written = to.write_all(chunk).await.and(to.flush().await);
        if let Ok(mut tail) = tail.lock() {
            tail.push(chunk);
        }
        if let Some((scanner, counts)) = &mut scanner
            && let Some(found) = scanner.feed(chunk)
        {
            counts.send_modify(|c| *c = c.updated(found));
        }
        if written.is_err() {
            return;
        }
    }
    if let Some((scanner, counts)) = &mut scanner
        && let Some(found) = scanner.finish()
    {
        counts.send_modify(|c| *c = c.updated(found));
    }
}

/// The last [`TAIL_BYTES`] of output.
#[derive(Debug, Default)]
struct Tail(VecDeque<u8>);

impl Tail {
    fn push(&mut self, chunk: &[u8]) {
        let chunk = &chunk[chunk.len().saturating_sub(TAIL_BYTES)..];
        let over = (self.0.len() + chunk.len()).saturating_sub(TAIL_BYTES);
        self.0.drain(..over);
        self.0.extend(chunk);
    }

    fn bytes(&self) -> Vec<u8> {
        self.0.iter().copied().collect()
    }
}

/// SIGINT, SIGTERM, SIGHUP and SIGQUIT, caught and passed on to the command.
///
/// tokio's `signal` feature (already used by `serve`) catches them. Sending one on needs
/// kill(2): `rustix` offers it as a safe function, where `libc` would need `unsafe`, which
/// the crate forbids (it was already in the tree, through tempfile).
#[cfg(unix)]
mod signals {
    use rustix::process::{Pid, Signal, kill_process};
    use tokio::signal::unix::{SignalKind, signal};

    pub struct Incoming(Vec<(tokio::signal::unix::Signal, Signal)>);

    impl Incoming {
        /// Starts catching the signals; `None` when the runtime cannot (they then act on
        /// exec as they would on any process).
        pub fn listen() -> Option<Incoming> {
            let kinds = [
                (SignalKind::interrupt(), Signal::INT),
                (SignalKind::terminate(), Signal::TERM),
                (SignalKind::hangup(), Signal::HUP),
                (SignalKind::quit(), Signal::QUIT),
            ];
            let mut streams = Vec::new();
            for (kind, signal_to_send) in kinds {
                streams.push((signal(kind).ok()?, signal_to_send));
            }
            Some(Incoming(streams))
        }
    }

    /// The next signal caught; never, without [`Incoming`].
    pub async fn next(incoming: Option<&mut Incoming>) -> Option<Signal> {
        let Some(Incoming(streams)) = incoming else {
            return std::future::pending().await;
        };
        let waits = streams.iter_mut().map(|(stream, signal)| {
            let signal = *signal;
            Box::pin(async move { stream.recv().await.map(|()| signal) })
        });
        futures_util::future::select_all(waits).await.0
    }

    /// Sends `signal` to the process `pid`. The command is still exec's unreaped child
    /// here, so `pid` cannot name another process.
    pub fn forward(pid: u32, signal: Signal) {
        if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
            let _ = kill_process(pid, signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_bytes() {
        let mut tail = Tail::default();
        tail.push(b"abc");
        tail.push(&vec![b'x'; TAIL_BYTES - 1]);
        let bytes = tail.bytes();
        assert_eq!(bytes.len(), TAIL_BYTES);
        assert_eq!(&bytes[..1], b"c");
        tail.push(&vec![b'y'; TAIL_BYTES + 10]);
        assert_eq!(tail.bytes(), vec![b'y'; TAIL_BYTES]);
    }

    #[test]
    fn exec_exits_as_a_shell_reports_the_command() {
        assert_eq!(Outcome::Exited(0).exit_status(), 0);
        assert!(Outcome::Exited(0).succeeded());
        assert_eq!(Outcome::Exited(3).exit_status(), 3);
        assert_eq!(Outcome::Signalled(15).exit_status(), 143);
        assert_eq!(Outcome::Signalled(9).code(), "signal 9");
        assert_eq!(Outcome::NotStarted(127).exit_status(), 127);
        assert!(!Outcome::NotStarted(127).succeeded());
        let missing = io::Error::from(io::ErrorKind::NotFound);
        assert_eq!(not_started(&missing), Outcome::NotStarted(127));
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert_eq!(not_started(&denied), Outcome::NotStarted(126));
    }
}
