//! The `runledger` binary: parse the command line, set up logging, run the command.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use runledger::app::{Application, shutdown_signal};
use runledger::config::{Cli, Command, Settings};
use runledger::{Result, store};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match EnvFilter::try_new(&cli.log) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("runledger: invalid --log filter '{}': {e}", cli.log);
            return ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("runledger: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let settings = Settings {
                database_url: cli.database_url,
                listen: args.listen,
            };
            let app = Application::build(&settings).await?;
            let addr = app.local_addr()?;
            println!("runledger listening on http://{addr}");
            // Scripts wait for this line; make sure it leaves the buffer now.
            let _ = std::io::stdout().flush();
            tracing::info!(%addr, database = %store::redact(&settings.database_url), "serving");
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate => {
            store::open(&cli.database_url).await?;
            println!("migrations applied to {}", store::redact(&cli.database_url));
            Ok(())
        }
    }
}
