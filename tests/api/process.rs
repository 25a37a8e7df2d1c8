//! The real `runledger` binary as a child process, for the tests that need one: the command
//! line, the first start, the log, signals and crashes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub const BINARY: &str = env!("CARGO_BIN_EXE_runledger");

/// Runs `runledger <args>` against `database` and waits for it.
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

/// A running `runledger serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// What it printed before its listening line (the first-start block, if any).
    pub preamble: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts `serve` on `database`, logging to `log` with `extra` flags, and waits until it
    /// prints its listening line.
    pub fn start(database: &str, log: &Path, extra: &[&str]) -> Server {
        let log_file = std::fs::File::create(log).expect("log file");
        let mut child = Command::new(BINARY)
            .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("runledger starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut preamble = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(address) = line.strip_prefix("runledger listening on ") {
                    let _ = tx.send((address.to_owned(), preamble.clone()));
                } else {
                    preamble.push_str(&line);
                    preamble.push('\n');
                }
            }
        });
        let mut server = Server {
            child,
            address: String::new(),
            preamble: String::new(),
            log: log.to_owned(),
        };
        let (address, preamble) = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                let log = std::fs::read_to_string(log).unwrap_or_default();
                panic!("runledger did not start listening:\n{log}")
            });
        server.address = address;
        server.preamble = preamble;
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        self.child.wait().expect("runledger exits")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An access token from a server for the credentials.
pub async fn token(server: &Server, client_id: &str, secret: &str) -> String {
    let response = reqwest::Client::new()
        .post(server.url("/oauth2/token"))
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
