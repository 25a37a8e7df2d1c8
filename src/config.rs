//! The command line and its environment variables (spec `cli.md`): flags win over the
//! environment, which wins over the defaults.

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "runledger",
    version,
    about = "A wire-compatible Coupa Integration Runs API server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Database URL: sqlite://PATH (created if missing) or postgres://…
    #[arg(
        long = "database",
        env = "RUNLEDGER_DATABASE_URL",
        default_value = "sqlite://runledger.db",
        global = true,
        hide_env_values = true
    )]
    pub database_url: String,

    /// Log filter, in tracing's EnvFilter syntax (e.g. `info`, `runledger=debug`).
    #[arg(long, env = "RUNLEDGER_LOG", default_value = "info", global = true)]
    pub log: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server, creating and migrating the database on first start.
    Serve(ServeArgs),
    /// Apply pending migrations and exit.
    Migrate,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to bind; port 0 picks a free one.
    #[arg(long, env = "RUNLEDGER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
}

/// What the server needs to start, however it was configured.
#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: String,
    pub listen: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_the_cli_contract() {
        let cli = Cli::try_parse_from([
            "runledger",
            "serve",
            "--database",
            "sqlite://x.db",
            "--listen",
            "0.0.0.0:0",
        ])
        .unwrap();
        assert_eq!(cli.database_url, "sqlite://x.db");
        let Command::Serve(serve) = cli.command else {
            panic!("expected serve")
        };
        assert_eq!(serve.listen, "0.0.0.0:0");
        let cli = Cli::try_parse_from(["runledger", "migrate", "--log", "debug"]).unwrap();
        assert!(matches!(cli.command, Command::Migrate));
        assert_eq!(cli.log, "debug");
    }
}
