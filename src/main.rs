//! The `runledger` binary: parse the command line, set up logging, run the command.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use runledger::auth;
use runledger::config::{AlertSettings, Cli, ClientCommand, Command, Settings};
use runledger::domain::clients::{ClientKind, Scopes};
use runledger::exec;
use runledger::seeder;
use runledger::startup::{Application, shutdown_signal};
use runledger::store::{self, Store};
use runledger::time;
use runledger::{Error, Result};

/// jemalloc instead of the system allocator: under the lifecycle load glibc's malloc and free
/// took a sixth of the server's time, spread over every layer's small allocations
/// (docs/benchmarks.md). mimalloc was as fast but held 40 % more memory.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            eprintln!("runledger: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command; the status to exit with.
async fn run(cli: Cli) -> Result<u8> {
    let done = match cli.command {
        Command::Serve(args) => {
            let settings = Settings {
                limits: args.limits(),
                rate_limit: args.rate_limit,
                token_ttl: Duration::from_secs(args.token_ttl),
                event_retention: Duration::from_secs(args.event_retention),
                db_pool_size: args.db_pool_size,
                lineage_create_integrations: args.lineage_create_integrations,
                idempotency_key_ttl: args.idempotency_key_ttl,
                alerts: AlertSettings {
                    smtp_url: args.smtp_url,
                    smtp_from: args.smtp_from,
                    allow_private_webhooks: args.allow_private_webhooks,
                    public_url: args.public_url,
                    ..AlertSettings::default()
                },
                ..Settings::new(cli.database_url, args.listen)
            };
            let app = Application::build(&settings).await?;
            let shutdown = shutdown_signal()?;
            let addr = app.local_addr()?;
            welcome_first_client(app.store().as_ref(), &addr.to_string()).await?;
            println!("runledger listening on http://{addr}");
            // Scripts wait for this line; make sure it leaves the buffer now.
            let _ = std::io::stdout().flush();
            tracing::info!(%addr, database = %store::redact(&settings.database_url), "serving");
            app.run_until_stopped(shutdown).await
        }
        Command::Migrate => {
            store::open(&cli.database_url, 2).await?;
            println!("migrations applied to {}", store::redact(&cli.database_url));
            Ok(())
        }
        Command::Seed(args) => {
            let store = store::open(&cli.database_url, 2).await?;
            let seeded = seeder::seed(
                store.as_ref(),
                args.runs,
                args.integrations as usize,
                args.seed,
            )
            .await?;
            println!(
                "seeded {} runs ({} with an error) in {:.2} s: {:.0} runs/s",
                seeded.runs,
                seeded.errors,
                seeded.elapsed.as_secs_f64(),
                seeded.runs_per_second()
            );
            Ok(())
        }
        Command::Clients(command) => {
            manage(&cli.database_url, ClientKind::OauthClient, command).await
        }
        Command::ApiKeys(command) => manage(&cli.database_url, ClientKind::ApiKey, command).await,
        // The command's own status, whatever happened to its run.
        Command::Exec(args) => return Ok(exec::run(args).await),
    };
    done.map(|()| 0)
}

/// On a database without any client, registers one with every scope and prints how to use it.
/// This is the only time its secret is shown.
async fn welcome_first_client(store: &dyn Store, addr: &str) -> Result<()> {
    let any = !store.clients(ClientKind::OauthClient).await?.is_empty()
        || !store.clients(ClientKind::ApiKey).await?.is_empty();
    if any {
        return Ok(());
    }
    let registered = auth::register(
        store,
        "default",
        ClientKind::OauthClient,
        Scopes::ALL,
        false,
    )
    .await;
    let (client, secret) = match registered {
        Ok(registered) => registered,
        // Another node starting on the same database registered it a moment ago.
        Err(Error::Invalid(_)) => return Ok(()),
        Err(error) => return Err(error),
    };
    let client_id = client.client_id.unwrap_or_default();
    println!(
        "\n==================== runledger: first start ====================\n\
         No API client existed, so this one was registered with both scopes.\n\
         Its secret is shown only now: keep it somewhere safe.\n\n\
         client_id={client_id}\nclient_secret={secret}\n\n\
         Get an access token:\n  \
         curl -s -X POST http://{addr}/oauth2/token -d grant_type=client_credentials \\\n    \
         -d client_id={client_id} -d client_secret={secret} \\\n    \
         -d scope='core.integration.read core.integration.write'\n\
         ================================================================\n"
    );
    Ok(())
}

async fn manage(database_url: &str, kind: ClientKind, command: ClientCommand) -> Result<()> {
    let store = store::open(database_url, 2).await?;
    match command {
        ClientCommand::Create {
            name,
            scopes,
            require_if_match,
        } => {
            let (client, secret) =
                auth::register(store.as_ref(), &name, kind, scopes, require_if_match).await?;
            match kind {
                ClientKind::OauthClient => {
                    println!("client_id={}", client.client_id.unwrap_or_default());
                    println!("client_secret={secret}");
                }
                ClientKind::ApiKey => println!("api_key={secret}"),
            }
        }
        ClientCommand::List => {
            println!(
                "{:<6} {:<24} {:<26} {:<20} {:<20} scopes",
                "id", "name", "client_id", "created", "revoked"
            );
            for c in store.clients(kind).await? {
                let revoked = c
                    .revoked_at
                    .map(|t| time::format(&t))
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{:<6} {:<24} {:<26} {:<20} {:<20} {}",
                    c.id,
                    c.login,
                    c.client_id.as_deref().unwrap_or("-"),
                    &time::format(&c.created_at)[..19],
                    revoked.get(..19).unwrap_or(&revoked),
                    c.scopes
                );
            }
        }
        ClientCommand::Revoke { id } => {
            let client = store.revoke_client(kind, &id).await?;
            println!("revoked {} ({})", client.id, client.login);
        }
    }
    Ok::<(), Error>(())
}
