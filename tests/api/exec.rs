//! `runledger exec`, the real binary as a process, against a server on port 0 (spec `cli.md`,
//! `docs/monitoring.md`): the command's status and output pass through, signals reach it,
//! counts are read, and a run the server could not take is spooled and sent by a later exec.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use runledger::domain::clients::Scopes;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::helpers::{TestApp, spawn_app};
use crate::process::{BINARY, PATIENCE};

const CODE: &str = "NIGHTLY";

/// A place for the spool and marker files, and the credentials of a client of `app`.
struct Setup {
    dir: tempfile::TempDir,
    client_id: String,
    secret: String,
}

impl Setup {
    async fn new(app: &TestApp) -> Setup {
        app.create_integration(CODE).await;
        let (client_id, secret) = app.register_client("exec", Scopes::ALL).await;
        Setup {
            dir: tempfile::tempdir().unwrap(),
            client_id,
            secret,
        }
    }

    fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }

    /// `runledger exec` against `server`, credentials in the environment, running
    /// `sh -c script`. Nothing else of the test's environment reaches it.
    fn command(&self, server: &str, extra: &[&str], script: &str) -> Command {
        self.command_for(CODE, server, extra, script)
    }

    /// [`Setup::command`] for the integration with `code`.
    fn command_for(&self, code: &str, server: &str, extra: &[&str], script: &str) -> Command {
        let mut command = Command::new(BINARY);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUNLEDGER_CLIENT_ID", &self.client_id)
            .env("RUNLEDGER_CLIENT_SECRET", &self.secret)
            .env("RUNLEDGER_SPOOL_DIR", self.spool())
            .args(["exec", "--integration", code, "--server", server])
            .args(extra)
            .args(["--", "sh", "-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    async fn exec(&self, server: &str, script: &str) -> Output {
        let output = self.command(server, &[], script).output().await.unwrap();
        assert!(
            !String::from_utf8_lossy(&output.stderr).contains(&self.secret),
            "the secret was printed"
        );
        output
    }

    /// The spooled runs' files.
    fn spooled(&self) -> Vec<PathBuf> {
        match std::fs::read_dir(self.spool()) {
            Ok(entries) => entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// The runs of the integration, oldest first.
async fn runs(app: &TestApp) -> Vec<Value> {
    let (status, body) = app
        .get_json(&format!(
            "/api/integration_runs?integration[code]={CODE}&order_by=id"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

/// The one error of a run, as its own resource shows it (with its responses).
async fn error_of(app: &TestApp, run: &Value) -> Value {
    let errors = run["integration-errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{run}");
    let (status, error) = app
        .get_json(&format!("/api/integration_errors/{}", errors[0]["id"]))
        .await;
    assert_eq!(status, 200, "{error}");
    error
}

/// The address of a server that is not there: a port just bound and let go.
fn nobody_listening() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

#[tokio::test]
async fn a_successful_command_is_a_successful_run_and_its_output_passes_through_unchanged() {
    let app = spawn_app().await;
    let setup = Setup::new(&app).await;
    let script = r#"printf 'bin\377\376ary\r\nno newline'; printf 'warn\377\n' >&2;
                    printf '\nrunledger: total=3\nrunledger: processed=2\n'"#;
    let output = setup.exec(&app.address, script).await;
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        output.stdout,
        b"bin\xff\xfeary\r\nno newline\nrunledger: total=3\nrunledger: processed=2\n"
    );
    assert_eq!(output.stderr, b"warn\xff\n");
    let runs = runs(&app).await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["status"], "successful", "{run}");
    assert_eq!(run["total-records"], 3);
    assert_eq!(run["records-processed"], 2);
    assert!(
        run["start-time"].is_string() && run["end-time"].is_string(),
        "{run}"
    );
    assert_eq!(run["integration-errors"], serde_json::json!([]));
    assert!(setup.spooled().is_empty());
}

#[tokio::test]
async fn a_failing_command_gives_its_status_and_files_its_output_as_a_job_error() {
    let app = spawn_app().await;
    let setup = Setup::new(&app).await;
    let output = setup
        .exec(&app.address, "echo working; echo 'disk full' >&2; exit 3")
        .await;
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(output.stdout, b"working\n");
    assert_eq!(output.stderr, b"disk full\n");
    let run = &runs(&app).await[0];
    assert_eq!(run["status"], "failed", "{run}");
    let error = error_of(&app, run).await;
    assert_eq!(error["document-type"], "Runledger::Job", "{error}");
    assert_eq!(error["contact-alert-type"], "Technical");
    let response = &error["responses"][0];
    assert_eq!(response["response-code"], "exit 3");
    let message = response["response-message"].as_str().unwrap();
    // The two streams arrive through two pipes: each whole, in either order.
    assert!(
        message.contains("working\n") && message.contains("disk full\n"),
        "{message}"
    );
}

#[tokio::test]
async fn a_command_ended_by_a_signal_gives_128_plus_its_number() {
    let app = spawn_app().await;
    let setup = Setup::new(&app).await;
    let output = setup.exec(&app.address, "kill -TERM $$").await;
    assert_eq!(output.status.code(), Some(128 + 15));
    let run = &runs(&app).await[0];
    assert_eq!(run["status"], "failed");
    let error = error_of(&app, run).await;
    assert_eq!(error["responses"][0]["response-code"], "signal 15");
}

#[tokio::test]
async fn sigterm_and_sigint_sent_to_exec_reach_the_command() {
    let app = spawn_app().await;
    let setup = Setup::new(&app).await;
    for (signal, status) in [("TERM", 7), ("INT", 8)] {
        let marker = setup.dir.path().join(format!("got-{signal}"));
        let script = format!(
            "trap 'echo trapped > {marker}; exit {status}' {signal}; echo ready; \
             while :; do sleep 0.05; done",
            marker = marker.display()
        );
        let mut exec = setup.command(&app.address, &[], &script).spawn().unwrap();
        let mut lines = BufReader::new(exec.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(PATIENCE, lines.next_line()).await;
        assert_eq!(ready.unwrap().unwrap().as_deref(), Some("ready"));
        let pid = exec.id().unwrap().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .await
            .unwrap();
        assert!(sent.success());
        let exited = tokio::time::timeout(PATIENCE, exec.wait()).await;
        assert_eq!(exited.unwrap().unwrap().code(), Some(status), "SIG{signal}");
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), "trapped\n");
    }
    let runs = runs(&app).await;
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r["status"] == "failed"), "{runs:?}");
}

#[tokio::test]
async fn counts_come_from_the_counts_file_and_the_command_gets_its_run_but_no_secret() {
    let app = spawn_app().await;
    let setup = Setup::new(&app).await;
    let script = r#"echo "runledger: total=99"
        printf 'total=10\nprocessed=9\n' > "$RUNLEDGER_COUNTS_FILE"
        echo "run=$RUNLEDGER_RUN_ID secret=${RUNLEDGER_CLIENT_SECRET-none}""#;
    let output = setup.exec(&app.address, script).await;
    assert_eq!(output.status.code(), Some(0));
    let run = &runs(&app).await[0];
    let printed = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        printed,
        format!("runledger: total=99\nrun={} secret=none\n", run["id"])
    );
    // The file is read when the command ends, after the lines: its values win.
    assert_eq!(run["total-records"], 10);
    assert_eq!(run["records-processed"], 9);
}

#[tokio::test]
async fn an_api_key_works_as_credentials() {
    let app = spawn_app().await;
    let setup = Setup::new(&app).await;
    let key = app.register_api_key("exec-key", Scopes::ALL).await;
    let output = setup
        .command(&app.address, &[], "exit 0")
        .env_remove("RUNLEDGER_CLIENT_ID")
        .env_remove("RUNLEDGER_CLIENT_SECRET")
        .env("RUNLEDGER_API_KEY", &key)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(!String::from_utf8_lossy(&output.stderr).contains(&key));
    assert_eq!(runs(&app).await[0]["status"], "successful");
}

#[tokio::test]
async fn a_heartbeat_moves_the_runs_updated_at_while_the_command_runs() {
    let app = spawn_app().await;
    let setup = Setup::new(&app).await;
    let done = setup.dir.path().join("done");
    let script = format!(
        "echo ready; while [ ! -e {} ]; do sleep 0.05; done",
        done.display()
    );
    let mut exec = setup
        .command(&app.address, &["--heartbeat", "1"], &script)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(exec.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(PATIENCE, lines.next_line()).await;
    assert_eq!(ready.unwrap().unwrap().as_deref(), Some("ready"));
    // Wait for the first heartbeat to show, as a client watching the run would.
    let deadline = Instant::now() + PATIENCE;
    let run = loop {
        let runs = runs(&app).await;
        if let Some(run) = runs.first()
            && run["flow"]["runledger-exec"]["heartbeats"].as_u64() >= Some(1)
        {
            break run.clone();
        }
        assert!(Instant::now() < deadline, "no heartbeat: {runs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(run["status"], "running");
    assert!(
        run["flow"]["runledger-exec"]["heartbeat-at"].is_string(),
        "{run}"
    );
    // A second later than the run's start, so a later second.
    assert!(
        run["updated-at"].as_str() > run["start-time"].as_str(),
        "{run}"
    );
    std::fs::write(&done, "").unwrap();
    let exited = tokio::time::timeout(PATIENCE, exec.wait()).await;
    assert_eq!(exited.unwrap().unwrap().code(), Some(0));
    assert_eq!(runs(&app).await[0]["status"], "successful");
}

#[tokio::test]
async fn with_the_server_down_the_command_runs_and_its_run_arrives_with_the_next_exec() {
    let app = spawn_app().await;
    let setup = Setup::new(&app).await;
    let down = nobody_listening();
    let output = setup
        .exec(&down, "printf 'partial\\nrunledger: total=5\\n'; exit 4")
        .await;
    assert_eq!(output.status.code(), Some(4));
    assert_eq!(output.stdout, b"partial\nrunledger: total=5\n");
    let said = String::from_utf8(output.stderr).unwrap();
    assert_eq!(said.lines().count(), 1, "said once: {said}");
    assert!(said.contains("spooled"), "{said}");
    let spooled = setup.spooled();
    assert_eq!(spooled.len(), 1, "{spooled:?}");
    let kept = std::fs::read_to_string(&spooled[0]).unwrap();
    assert!(!kept.contains(&setup.secret), "{kept}");
    assert!(runs(&app).await.is_empty());

    let output = setup.exec(&app.address, "exit 0").await;
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(output.stderr, b"", "a delivered spool says nothing");
    assert!(setup.spooled().is_empty());
    let runs = runs(&app).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    // The spooled run first, as it ended, with the times it really had.
    let late = &runs[0];
    assert_eq!(late["status"], "failed", "{late}");
    assert_eq!(late["total-records"], 5);
    let (start, end) = (late["start-time"].as_str(), late["end-time"].as_str());
    assert!(start.is_some() && start <= end, "{late}");
    assert!(end <= runs[1]["start-time"].as_str(), "{runs:?}");
    let error = error_of(&app, late).await;
    assert_eq!(error["responses"][0]["response-code"], "exit 4");
    assert!(
        error["responses"][0]["response-message"]
            .as_str()
            .unwrap()
            .contains("partial\n")
    );
    assert_eq!(runs[1]["status"], "successful");
}

#[tokio::test]
async fn a_run_the_server_refuses_is_kept_aside_and_the_command_still_runs() {
    let app = spawn_app().await;
    let setup = Setup::new(&app).await;
    let output = setup
        .command_for("NO_SUCH_CODE", &app.address, &[], "echo ran; exit 5")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(5));
    assert_eq!(output.stdout, b"ran\n");
    let said = String::from_utf8(output.stderr).unwrap();
    assert!(said.contains("refused"), "{said}");
    assert!(setup.spooled().is_empty());
    let rejected = std::fs::read_dir(setup.spool().join("rejected"))
        .unwrap()
        .count();
    assert_eq!(rejected, 1);
}

#[tokio::test]
async fn a_command_that_cannot_start_exits_127_and_is_a_failed_run() {
    let app = spawn_app().await;
    let setup = Setup::new(&app).await;
    let mut command = Command::new(BINARY);
    let output = command
        .env_clear()
        .env("RUNLEDGER_CLIENT_ID", &setup.client_id)
        .env("RUNLEDGER_CLIENT_SECRET", &setup.secret)
        .env("RUNLEDGER_SPOOL_DIR", setup.spool())
        .args([
            "exec",
            "--integration",
            CODE,
            "--server",
            &app.address,
            "--",
        ])
        .arg(Path::new("/nonexistent/job"))
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(127));
    let run = &runs(&app).await[0];
    assert_eq!(run["status"], "failed");
    let error = error_of(&app, run).await;
    assert_eq!(error["responses"][0]["response-code"], "not started");
}
