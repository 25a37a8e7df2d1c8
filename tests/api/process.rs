//! The real `runledger` binary as a child process, for the tests that need one: the command
//! line, the first start, the log, signals and crashes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

pub const BINARY: &str = env!("CARGO_BIN_EXE_runledger");

/// How long the server may take to print its listening line, or to exit after a signal.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Runs `runledger <args> --database <database>` and waits for it.
pub fn run(database: &str, args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .arg("--database")
        .arg(database)
        .output()
        .expect("runledger runs")
}

/// `key=value` from a command's output.
pub fn value_of(output: &str, key: &str) -> Option<String> {
    output
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{key}=")).map(str::to_owned))
}

/// A running `runledger serve`, killed (SIGKILL) when dropped, so that a failing test leaves
/// nothing running.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT`, from the listening line.
    pub address: String,
    /// What it printed before its listening line (the first-start block, if any).
    pub preamble: String,
    /// Its standard error: the log.
    pub log: PathBuf,
}

impl Server {
    /// Starts `serve` on `database` with `extra` flags, logging to `log`, and waits until it
    /// prints its listening line.
    pub fn start(database: &str, log: &Path, extra: &[&str]) -> Server {
        let log_file = std::fs::File::create(log).expect("log file");
        let mut child = Command::new(BINARY)
            .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("runledger starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        // A thread reads stdout to its end, so the child never blocks on a full pipe.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut preamble = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match line.strip_prefix("runledger listening on ") {
                    Some(address) => {
                        let _ = tx.send((address.trim().to_owned(), preamble.clone()));
                    }
                    None => {
                        preamble.push_str(&line);
                        preamble.push('\n');
                    }
                }
            }
        });
        let mut server = Server {
            child,
            address: String::new(),
            preamble: String::new(),
            log: log.to_owned(),
        };
        let (address, preamble) = rx.recv_timeout(PATIENCE).unwrap_or_else(|_| {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("runledger printed no listening line within {PATIENCE:?}:\n{log}")
        });
        server.address = address;
        server.preamble = preamble;
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The client registered at the first start: its client id and secret.
    pub fn first_client(&self) -> (String, String) {
        let id = value_of(&self.preamble, "client_id").expect("client_id in the first-start block");
        let secret = value_of(&self.preamble, "client_secret").expect("client_secret in the block");
        (id, secret)
    }

    /// An access token for the credentials.
    pub async fn token(&self, client_id: &str, secret: &str) -> String {
        let response = reqwest::Client::new()
            .post(self.url("/oauth2/token"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=client_credentials&client_id={client_id}&client_secret={secret}"
            ))
            .send()
            .await
            .expect("token request");
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.expect("JSON");
        body["access_token"].as_str().expect("token").to_owned()
    }

    /// An HTTP client that presents a fresh token of the client on every request.
    pub async fn client_for(&self, client_id: &str, secret: &str) -> reqwest::Client {
        let token = self.token(client_id, secret).await;
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
        );
        reqwest::Client::builder()
            .default_headers(headers)
            .timeout(PATIENCE)
            .build()
            .expect("client")
    }

    /// SIGKILL: the process dies between any two instructions.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL sent");
        self.child.wait().expect("the killed server is reaped");
    }

    /// Sends `signal` (`TERM`, `INT`) with kill(1) and waits for the process to exit.
    pub async fn stop_with(&mut self, signal: &str) -> ExitStatus {
        self.signal(signal);
        self.wait_for_exit(signal).await
    }

    /// Sends `signal` (`TERM`, `INT`) with kill(1), without waiting.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid)
            .status()
            .expect("kill(1) runs");
        assert!(sent.success(), "kill -{signal} failed: {sent}");
    }

    /// Waits (at most [`PATIENCE`]) for the process to exit after `signal`.
    pub async fn wait_for_exit(&mut self, signal: &str) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "runledger still running {PATIENCE:?} after SIG{signal}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
