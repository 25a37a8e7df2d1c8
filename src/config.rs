//! The command line and its environment variables (spec `cli.md`): flags win over the
//! environment, which wins over the defaults.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand};

use crate::domain::clients::Scopes;
use crate::domain::coupa_scopes;
use crate::domain::idempotency;

/// Coupa's token lifetime: a day, less a second.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(86_399);

/// `25/s,burst=20`; `off` is `None` where it is used.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

impl RateLimit {
    pub const COUPA_DEFAULT: RateLimit = RateLimit {
        per_second: 25.0,
        burst: 20.0,
    };

    /// Reads `N/s` or `N/m`, optionally followed by `,burst=B`; `off` gives `None`.
    pub fn parse(text: &str) -> Result<Option<RateLimit>, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let bad = || format!("invalid rate limit '{text}': use e.g. 25/s,burst=20 or off");
        let mut parts = text.split(',');
        let rate = parts.next().ok_or_else(bad)?.trim();
        let (count, unit) = rate.split_once('/').ok_or_else(bad)?;
        let count: f64 = count.trim().parse().map_err(|_| bad())?;
        let per_second = match unit.trim() {
            "s" => count,
            "m" => count / 60.0,
            _ => return Err(bad()),
        };
        let mut burst = per_second.max(1.0);
        for part in parts {
            let value = part.trim().strip_prefix("burst=").ok_or_else(bad)?;
            burst = value.trim().parse().map_err(|_| bad())?;
        }
        if !(per_second > 0.0 && per_second.is_finite() && burst >= 1.0 && burst.is_finite()) {
            return Err(bad());
        }
        Ok(Some(RateLimit { per_second, burst }))
    }
}

/// What a node accepts of its clients. `docs/security.md` says what a client sees over each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The request line and headers together, in bytes: over it, 431.
    pub max_header_bytes: usize,
    /// A request body, in bytes: over it, 413.
    pub max_body_bytes: usize,
    /// From a request's head to its answer, body upload included: over it, 408 or 503.
    pub request_timeout: Duration,
    /// How long a client may take to send a request's head. hyper starts this clock as soon
    /// as it waits for a head, so it also closes keep-alive connections idle for as long.
    pub header_read_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
}

impl Limits {
    /// Node.js's 16 KiB for a head: a Coupa client sends a few hundred bytes of headers, and
    /// an `id[in]` list of 500 ids fits with room to spare.
    pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
    /// hyper cannot buffer less than 8 KiB, so a smaller head limit cannot be enforced.
    pub const MIN_HEADER_BYTES: usize = 8 * 1024;
    /// Spec §2.1: request bodies over 1 MiB are refused.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

    pub const DEFAULT: Limits = Limits {
        max_header_bytes: Limits::DEFAULT_MAX_HEADER_BYTES,
        max_body_bytes: Limits::DEFAULT_MAX_BODY_BYTES,
        // The slowest honest request, a 1 MiB body over a poor link, takes a few seconds.
        request_timeout: Duration::from_secs(30),
        // hyper's own default. Behind a load balancer, it should exceed the balancer's idle
        // timeout, or the balancer may reuse a connection just as it closes.
        header_read_timeout: Duration::from_secs(30),
        // Under the common soft limit of 1024 open files, with room for the database's.
        max_connections: 512,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

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
    /// Write realistic history in bulk: runs over a year, errors on about one in ten.
    Seed(SeedArgs),
    /// Manage OAuth clients (client id and secret).
    #[command(subcommand)]
    Clients(ClientCommand),
    /// Manage legacy X-COUPA-API-KEY keys.
    #[command(subcommand, name = "api-keys")]
    ApiKeys(ClientCommand),
    /// Run a command and record a run of an integration around it, through a server's API.
    Exec(ExecArgs),
}

/// A credential from the command line or the environment. Its `Debug` never shows it, and
/// clap never prints it: every flag that takes one hides its variable's value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Secret(text.to_owned()))
    }
}

/// `runledger exec` (spec `cli.md`, `docs/monitoring.md`).
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The code of the integration the run belongs to.
    #[arg(long, env = "RUNLEDGER_INTEGRATION")]
    pub integration: String,

    /// The server's root URL.
    #[arg(
        long,
        env = "RUNLEDGER_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,

    /// OAuth client id (with --client-secret).
    #[arg(long, env = "RUNLEDGER_CLIENT_ID", hide_env_values = true)]
    pub client_id: Option<String>,

    /// OAuth client secret; prefer the variable, which `ps` does not show.
    #[arg(long, env = "RUNLEDGER_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<Secret>,

    /// A legacy X-COUPA-API-KEY, instead of client credentials.
    #[arg(long, env = "RUNLEDGER_API_KEY", hide_env_values = true)]
    pub api_key: Option<Secret>,

    /// Seconds between heartbeats while the command runs.
    #[arg(long, env = "RUNLEDGER_HEARTBEAT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub heartbeat: u64,

    /// Where runs wait when the server cannot be reached
    /// [default: $XDG_STATE_HOME/runledger/spool or ~/.local/state/runledger/spool]
    #[arg(long, env = "RUNLEDGER_SPOOL_DIR")]
    pub spool_dir: Option<PathBuf>,

    /// File the failure's integration error with an alert to the integration's contacts.
    /// The variable takes true/false, yes/no, on/off or 1/0.
    #[arg(long, env = "RUNLEDGER_ALERT", value_parser = clap::builder::BoolishValueParser::new())]
    pub alert: bool,

    /// The command and its arguments, after `--`.
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true,
          value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to bind; port 0 picks a free one.
    #[arg(long, env = "RUNLEDGER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Per-client throttle, e.g. `25/s,burst=20` or `120/m`; `off` disables it.
    #[arg(long, env = "RUNLEDGER_RATE_LIMIT", default_value = "25/s,burst=20", value_parser = RateLimit::parse)]
    // The full path keeps clap from treating the argument as optional: `off` is the `None`.
    pub rate_limit: std::option::Option<RateLimit>,

    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, env = "RUNLEDGER_TOKEN_TTL", default_value_t = DEFAULT_TOKEN_TTL.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    pub token_ttl: u64,

    /// Seconds the event stream keeps an event for a client to resume after (`Last-Event-ID`);
    /// older events are deleted.
    #[arg(long, env = "RUNLEDGER_EVENT_RETENTION", default_value_t = DEFAULT_EVENT_RETENTION.as_secs(),
          value_parser = clap::value_parser!(u64).range(60..=31_536_000))]
    pub event_retention: u64,

    /// Connections to PostgreSQL per node.
    #[arg(long, env = "RUNLEDGER_DB_POOL_SIZE", default_value_t = DEFAULT_POOL_SIZE,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_pool_size: u32,

    /// SMTP server for email alerts: `smtp://host:port` (STARTTLS if offered… see lettre) or
    /// `smtps://user:password@host`. Without it, email alerts are recorded as undeliverable.
    #[arg(long, env = "RUNLEDGER_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The sender address of email alerts.
    #[arg(
        long,
        env = "RUNLEDGER_SMTP_FROM",
        default_value = "runledger@localhost"
    )]
    pub smtp_from: String,

    /// Let webhooks reach loopback, private (RFC 1918, fc00::/7) and 100.64.0.0/10 addresses;
    /// link-local (cloud metadata) and reserved ones stay refused. For receivers on the same
    /// host or network; never on a server whose API clients are not all trusted.
    /// The variable takes true/false, yes/no, on/off or 1/0.
    #[arg(long, env = "RUNLEDGER_ALLOW_PRIVATE_WEBHOOKS",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_private_webhooks: bool,

    /// The server's root URL as people reach it, e.g. `https://runledger.example.com`: alert
    /// emails link to the run there. Without it, emails carry no link.
    #[arg(long, env = "RUNLEDGER_PUBLIC_URL", value_name = "URL", value_parser = PublicUrl::parse)]
    pub public_url: Option<PublicUrl>,

    /// The most bytes a request line and its headers may hold (8192 at least); more is a 431.
    #[arg(long, env = "RUNLEDGER_MAX_HEADER_BYTES", default_value_t = Limits::DEFAULT.max_header_bytes,
          value_parser = RangedU64ValueParser::<usize>::new().range(Limits::MIN_HEADER_BYTES as u64..=1_048_576))]
    pub max_header_bytes: usize,

    /// The most bytes a request body may hold; more is a 413.
    #[arg(long, env = "RUNLEDGER_MAX_BODY_BYTES", default_value_t = Limits::DEFAULT.max_body_bytes,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_073_741_824))]
    pub max_body_bytes: usize,

    /// Seconds a request may take, its body's upload included; then 408 or 503.
    #[arg(long, env = "RUNLEDGER_REQUEST_TIMEOUT", default_value_t = Limits::DEFAULT.request_timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout: u64,

    /// Seconds a client may take to send a request's headers, and an idle connection may stay
    /// open; then the connection is closed.
    #[arg(long, env = "RUNLEDGER_HEADER_READ_TIMEOUT", default_value_t = Limits::DEFAULT.header_read_timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout: u64,

    /// Make an integration for an OpenLineage job the first time one of its events names
    /// it (`false`: such an event is refused until an integration with the job's code
    /// exists). The flag and the variable take true/false, yes/no, on/off or 1/0.
    #[arg(long, env = "RUNLEDGER_LINEAGE_CREATE_INTEGRATIONS", default_value_t = true,
          action = clap::ArgAction::Set, value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub lineage_create_integrations: bool,

    /// Connections served at once; more wait until one closes.
    #[arg(long, env = "RUNLEDGER_MAX_CONNECTIONS", default_value_t = Limits::DEFAULT.max_connections,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=65_536))]
    pub max_connections: usize,

    /// How long an Idempotency-Key and its answer are kept: `24h`, `90m`, `7d`, `30s`, or
    /// seconds alone. A retry after that runs again.
    #[arg(long, env = "RUNLEDGER_IDEMPOTENCY_KEY_TTL", default_value = "24h", value_parser = parse_span)]
    pub idempotency_key_ttl: Duration,
}

impl ServeArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            max_header_bytes: self.max_header_bytes,
            max_body_bytes: self.max_body_bytes,
            request_timeout: Duration::from_secs(self.request_timeout),
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            max_connections: self.max_connections,
        }
    }
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// How many runs to write.
    #[arg(long, default_value_t = 1_000_000)]
    pub runs: u64,
    /// Over how many integrations (`SEED_001`, …, created when missing).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=999))]
    pub integrations: u64,
    /// The random seed: the same seed writes the same history.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register one; its secret is printed once and stored only as a hash.
    Create {
        #[arg(long)]
        name: String,
        /// Space-separated scopes: Runledger's two, or any of Coupa's other scope names,
        /// which are granted on request but allow nothing here.
        #[arg(long, default_value = "core.integration.read core.integration.write", value_parser = parse_scopes)]
        scopes: Scopes,
        /// Strict: every update or status action of a stored record must carry `If-Match`
        /// with the record's ETag, or it is refused with 428 (docs/api.md#etags-and-if-match).
        #[arg(long)]
        require_if_match: bool,
    },
    /// List them, revoked ones included.
    List,
    /// Revoke one by its id (the numeric id, or an OAuth client's client_id); its tokens stop working.
    Revoke { id: String },
}

/// The longest `--idempotency-key-ttl`: a year (a leap one).
const MAX_SPAN: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// A span as people write it: a whole number of seconds (`s`, or no unit), minutes (`m`),
/// hours (`h`) or days (`d`); from a second to a year.
pub fn parse_span(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("invalid span '{text}': use e.g. 24h, 90m, 7d or 3600 (seconds)");
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let count: u64 = digits.parse().map_err(|_| bad())?;
    let unit = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        _ => return Err(bad()),
    };
    let span = Duration::from_secs(count.checked_mul(unit).ok_or_else(bad)?);
    if span.is_zero() || span > MAX_SPAN {
        return Err(format!(
            "invalid span '{text}': it must be from 1 s to 366 days"
        ));
    }
    Ok(span)
}

fn parse_scopes(text: &str) -> Result<Scopes, String> {
    match Scopes::parse(text) {
        Ok(scopes) if scopes.is_empty() => Err("at least one scope is needed".into()),
        Ok(scopes) => Ok(scopes),
        Err(unknown) => {
            let hint = match coupa_scopes::nearest(&unknown) {
                Some(near) => format!("did you mean {near}?"),
                None => {
                    "Runledger's own are core.integration.read and core.integration.write".into()
                }
            };
            Err(format!("'{unknown}' is not a Coupa scope name; {hint}"))
        }
    }
}

/// How long the event stream keeps events: a day.
pub const DEFAULT_EVENT_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// PostgreSQL connections per node: enough to keep 2 cores busy while some wait on commits.
pub const DEFAULT_POOL_SIZE: u32 = 8;

/// What the server needs to start, however it was configured.
#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: String,
    pub listen: String,
    /// Per-client throttle; `None` is off.
    pub rate_limit: Option<RateLimit>,
    pub token_ttl: Duration,
    /// How long events are kept for streams to resume (`--event-retention`).
    pub event_retention: Duration,
    /// Connections to PostgreSQL (SQLite has one writer and a few readers).
    pub db_pool_size: u32,
    /// Whether `/api` requires credentials. Only code (the benchmark) turns it off.
    pub require_auth: bool,
    pub alerts: AlertSettings,
    /// Sizes, timeouts and connections (`docs/security.md`).
    pub limits: Limits,
    /// The clock monitors are watched by: the system's; tests move theirs.
    pub clock: crate::time::Clock,
    /// Whether an OpenLineage event of an unknown job makes its integration
    /// (`--lineage-create-integrations`).
    pub lineage_create_integrations: bool,
    /// How long an `Idempotency-Key` and its answer are kept.
    pub idempotency_key_ttl: Duration,
}

impl Settings {
    /// The defaults of the CLI contract, for `database_url` listening on `listen`.
    pub fn new(database_url: impl Into<String>, listen: impl Into<String>) -> Settings {
        Settings {
            database_url: database_url.into(),
            listen: listen.into(),
            rate_limit: Some(RateLimit::COUPA_DEFAULT),
            token_ttl: DEFAULT_TOKEN_TTL,
            event_retention: DEFAULT_EVENT_RETENTION,
            db_pool_size: DEFAULT_POOL_SIZE,
            require_auth: true,
            alerts: AlertSettings::default(),
            limits: Limits::DEFAULT,
            clock: crate::time::Clock::default(),
            lineage_create_integrations: true,
            idempotency_key_ttl: idempotency::DEFAULT_TTL,
        }
    }
}

/// How alerts leave the building.
#[derive(Clone, Debug)]
pub struct AlertSettings {
    /// `smtp://host:port` or `smtps://user:pass@host`; without it, email alerts are recorded
    /// as undeliverable.
    pub smtp_url: Option<String>,
    pub smtp_from: String,
    /// The first retry's wait; each later one doubles it.
    pub retry_base: Duration,
    /// Whether webhooks may reach loopback and private addresses (`--allow-private-webhooks`);
    /// link-local and reserved ones stay refused.
    pub allow_private_webhooks: bool,
    /// Where people reach the server (`--public-url`): the root of the links in emails.
    pub public_url: Option<PublicUrl>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            smtp_url: None,
            smtp_from: "runledger@localhost".into(),
            retry_base: Duration::from_secs(5),
            allow_private_webhooks: false,
            public_url: None,
        }
    }
}

/// The server's root URL as people reach it (`--public-url`): an absolute `http` or `https`
/// URL without credentials, query or fragment, kept without its trailing slash so that a
/// path is appended as `{url}/api/…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    pub fn parse(text: &str) -> Result<PublicUrl, String> {
        let text = text.trim();
        let bad = |why: &str| {
            format!("invalid public URL '{text}': {why} (e.g. https://runledger.example.com)")
        };
        let url = reqwest::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("it must start with http:// or https://"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("it names no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("it may not carry credentials"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("it may not carry a query or fragment"));
        }
        Ok(PublicUrl(url.as_str().trim_end_matches('/').to_owned()))
    }

    /// The URL without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }
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
        let cli = Cli::try_parse_from(["runledger", "serve", "--rate-limit", "off"]).unwrap();
        let Command::Serve(serve) = cli.command else {
            panic!("expected serve")
        };
        assert_eq!(serve.rate_limit, None);
        let cli = Cli::try_parse_from([
            "runledger",
            "api-keys",
            "create",
            "--name",
            "old",
            "--scopes",
            "core.integration.read",
        ])
        .unwrap();
        let Command::ApiKeys(ClientCommand::Create { scopes, .. }) = cli.command else {
            panic!("expected api-keys create")
        };
        assert_eq!(scopes.to_string(), "core.integration.read");
        assert!(
            Cli::try_parse_from([
                "runledger",
                "clients",
                "create",
                "--name",
                "x",
                "--scopes",
                "admin"
            ])
            .is_err()
        );
        assert!(Cli::try_parse_from(["runledger", "serve", "--rate-limit", "fast"]).is_err());
    }

    #[test]
    fn exec_takes_the_command_after_its_own_flags_and_hides_credentials() {
        let cli = Cli::try_parse_from([
            "runledger",
            "exec",
            "--integration",
            "NIGHTLY",
            "--api-key",
            "k3y",
            "--",
            "backup.sh",
            "--full",
            "-v",
        ])
        .unwrap();
        let Command::Exec(exec) = cli.command else {
            panic!("expected exec")
        };
        assert_eq!(exec.integration, "NIGHTLY");
        assert_eq!(exec.command, ["backup.sh", "--full", "-v"]);
        assert_eq!(exec.heartbeat, 30);
        assert_eq!(exec.api_key.as_ref().map(Secret::expose), Some("k3y"));
        assert!(!format!("{exec:?}").contains("k3y"));
        assert!(Cli::try_parse_from(["runledger", "exec", "--integration", "X"]).is_err());
        assert!(
            Cli::try_parse_from([
                "runledger",
                "exec",
                "--integration",
                "X",
                "--heartbeat",
                "0",
                "--",
                "true"
            ])
            .is_err()
        );
        use clap::CommandFactory;
        let cli = Cli::command();
        let exec = cli.find_subcommand("exec").unwrap();
        for flag in ["client-secret", "api-key", "client-id"] {
            let arg = exec
                .get_arguments()
                .find(|a| a.get_long() == Some(flag))
                .unwrap();
            assert!(arg.is_hide_env_values_set(), "--{flag}");
        }
    }

    #[test]
    fn private_webhooks_are_refused_unless_allowed() {
        assert!(!serve(&[]).unwrap().allow_private_webhooks);
        assert!(
            serve(&["--allow-private-webhooks"])
                .unwrap()
                .allow_private_webhooks
        );
        assert!(!AlertSettings::default().allow_private_webhooks);
        assert!(
            !Settings::new("sqlite://x.db", "127.0.0.1:0")
                .alerts
                .allow_private_webhooks
        );
    }

    #[test]
    fn lineage_integrations_are_made_unless_turned_off() {
        assert!(serve(&[]).unwrap().lineage_create_integrations);
        assert!(Settings::new("sqlite://x.db", "127.0.0.1:0").lineage_create_integrations);
        for (value, made) in [
            ("false", false),
            ("off", false),
            ("0", false),
            ("true", true),
        ] {
            let args = serve(&["--lineage-create-integrations", value]).unwrap();
            assert_eq!(args.lineage_create_integrations, made, "{value}");
        }
        assert!(serve(&["--lineage-create-integrations", "maybe"]).is_err());
    }

    #[test]
    fn a_public_url_is_an_absolute_http_url_kept_without_its_trailing_slash() {
        assert_eq!(serve(&[]).unwrap().public_url, None);
        let url = serve(&["--public-url", "https://Runledger.example.com/"])
            .unwrap()
            .public_url
            .unwrap();
        assert_eq!(url.as_str(), "https://runledger.example.com");
        assert_eq!(
            PublicUrl::parse("http://10.0.0.5:8080/runledger/")
                .unwrap()
                .as_str(),
            "http://10.0.0.5:8080/runledger"
        );
        for bad in [
            "runledger.example.com",
            "/runledger",
            "ftp://example.com",
            "https://",
            "https://user:pw@example.com",
            "https://example.com/?a=1",
            "https://example.com/#top",
        ] {
            let refusal = PublicUrl::parse(bad).unwrap_err();
            assert!(refusal.contains("invalid public URL"), "{bad}: {refusal}");
        }
        let refusal = serve(&["--public-url", "example.com"]).unwrap_err();
        assert!(
            refusal.to_string().contains("--public-url"),
            "the flag is named: {refusal}"
        );
    }

    fn serve(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        let cli = Cli::try_parse_from(["runledger", "serve"].iter().chain(args))?;
        match cli.command {
            Command::Serve(serve) => Ok(serve),
            _ => panic!("expected serve"),
        }
    }

    #[test]
    fn limits_default_to_the_documented_values_and_take_flags() {
        assert_eq!(serve(&[]).unwrap().limits(), Limits::DEFAULT);
        let limits = serve(&[
            "--max-header-bytes",
            "8192",
            "--max-body-bytes",
            "1000",
            "--request-timeout",
            "5",
            "--header-read-timeout",
            "2",
            "--max-connections",
            "10",
        ])
        .unwrap()
        .limits();
        assert_eq!(
            limits,
            Limits {
                max_header_bytes: 8192,
                max_body_bytes: 1000,
                request_timeout: Duration::from_secs(5),
                header_read_timeout: Duration::from_secs(2),
                max_connections: 10,
            }
        );
        // hyper cannot hold a head to less than 8 KiB; zero would switch a limit off.
        assert!(serve(&["--max-header-bytes", "4096"]).is_err());
        assert!(serve(&["--request-timeout", "0"]).is_err());
        assert!(serve(&["--max-connections", "0"]).is_err());
    }

    #[test]
    fn the_idempotency_key_ttl_is_a_day_unless_set_as_people_write_spans() {
        assert_eq!(
            serve(&[]).unwrap().idempotency_key_ttl,
            idempotency::DEFAULT_TTL
        );
        let ttl =
            |text: &str| serve(&["--idempotency-key-ttl", text]).map(|s| s.idempotency_key_ttl);
        assert_eq!(ttl("90m").unwrap(), Duration::from_secs(5400));
        assert_eq!(ttl("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(ttl("3600").unwrap(), Duration::from_secs(3600));
        assert_eq!(ttl("30s").unwrap(), Duration::from_secs(30));
        for bad in [
            "0",
            "0h",
            "1w",
            "h",
            "-1h",
            "1.5h",
            "367d",
            "99999999999999999999",
        ] {
            assert!(ttl(bad).is_err(), "{bad}");
        }
        assert!(
            parse_span("1w").unwrap_err().contains("e.g. 24h"),
            "the refusal shows the spelling"
        );
    }

    #[test]
    fn every_limit_has_its_environment_variable() {
        use clap::CommandFactory;
        let cli = Cli::command();
        let serve = cli.find_subcommand("serve").unwrap();
        for (flag, variable) in [
            ("max-header-bytes", "RUNLEDGER_MAX_HEADER_BYTES"),
            ("max-body-bytes", "RUNLEDGER_MAX_BODY_BYTES"),
            ("request-timeout", "RUNLEDGER_REQUEST_TIMEOUT"),
            ("header-read-timeout", "RUNLEDGER_HEADER_READ_TIMEOUT"),
            ("max-connections", "RUNLEDGER_MAX_CONNECTIONS"),
            ("allow-private-webhooks", "RUNLEDGER_ALLOW_PRIVATE_WEBHOOKS"),
            ("idempotency-key-ttl", "RUNLEDGER_IDEMPOTENCY_KEY_TTL"),
        ] {
            let arg = serve
                .get_arguments()
                .find(|a| a.get_long() == Some(flag))
                .unwrap_or_else(|| panic!("--{flag}"));
            assert_eq!(arg.get_env().and_then(|e| e.to_str()), Some(variable));
        }
    }
}
