//! The application's state: what every handler reaches through axum's `State`. The route
//! table is in [`crate::router`], the startup sequence in [`crate::startup`].

use std::ops::Deref;
use std::sync::Arc;

use crate::alerts::Dispatcher;
use crate::auth::Authenticator;
use crate::domain::idempotency::{Flights, Rules};
use crate::store::Store;
use crate::time::Clock;

pub struct App {
    pub store: Arc<dyn Store>,
    pub auth: Authenticator,
    pub alerts: Arc<Dispatcher>,
    /// The event stream's hub on this node.
    pub events: Arc<crate::hub::EventHub>,
    /// Asked for a round when a monitor changes.
    pub sweeper: Arc<crate::sweeper::Sweeper>,
    /// Where people reach this server (`--public-url`), for the links it hands out.
    pub public_url: Option<String>,
    /// What monitors' health is evaluated at (the system's, moved only by tests).
    pub clock: Clock,
    /// Off only where a caller builds the application so (benchmarks); never from the CLI.
    pub require_auth: bool,
    /// Whether contacts may name loopback and private webhook targets (`crate::egress`).
    pub allow_private_webhooks: bool,
    /// Whether an OpenLineage event of an unknown job makes its integration.
    pub lineage_create_integrations: bool,
    /// How long idempotency keys are kept and held (`--idempotency-key-ttl`, the time limit).
    pub idempotency: Rules,
    /// The idempotency keys this node's requests hold now.
    pub flights: Arc<Flights>,
    /// Stores the answers of keyed writes after they went out.
    pub answers: Arc<crate::workers::answers::Answers>,
}

/// What every handler gets: a cheap clone of the one [`App`].
#[derive(Clone)]
pub struct AppState(Arc<App>);

impl AppState {
    pub fn new(app: App) -> AppState {
        AppState(Arc::new(app))
    }
}

impl App {
    /// Asks the sweeper to look at the monitors due now, rather than at its next tick.
    pub fn sweeper_wake(&self) {
        self.sweeper.wake();
    }
}

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}
