//! The server's lifecycle.
//!
//! [`Application::build`] opens the store and binds the listener, so callers (the binary,
//! the tests) learn the real port before serving; [`Application::run_until_stopped`] serves
//! until the shutdown future resolves, then lets in-flight requests finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::alerts::Dispatcher;
use crate::app::App;
use crate::auth::Authenticator;
use crate::config::Limits;
use crate::config::Settings;
use crate::domain::idempotency::{Flights, Rules};
use crate::error::{Error, Result};
use crate::hub::EventHub;
use crate::router::router;
use crate::server;
use crate::store::{self, Store};
use crate::sweeper::Sweeper;
use crate::workers::answers::Answers;
use crate::workers::key_expiry::KeyExpiry;

pub struct Application {
    listener: TcpListener,
    router: Router,
    limits: Limits,
    store: Arc<dyn Store>,
    alerts: Arc<Dispatcher>,
    sweeper: Arc<Sweeper>,
    events: Arc<EventHub>,
    key_expiry: Arc<KeyExpiry>,
    flights: Arc<Flights>,
    answers: Arc<Answers>,
}

impl Application {
    /// Opens (and migrates) the database, then binds the listening socket.
    pub async fn build(settings: &Settings) -> Result<Application> {
        let store = store::open(&settings.database_url, settings.db_pool_size).await?;
        let auth =
            Authenticator::new(store.clone(), settings.token_ttl, settings.rate_limit).await?;
        let alerts = Arc::new(Dispatcher::new(store.clone(), &settings.alerts)?);
        let sweeper = Arc::new(Sweeper::new(
            store.clone(),
            settings.clock.clone(),
            alerts.clone(),
        ));
        let idempotency = Rules::new(
            settings.idempotency_key_ttl,
            settings.limits.request_timeout,
        );
        let flights = Arc::new(Flights::default());
        let answers = Arc::new(Answers::new(store.clone()));
        let key_expiry = Arc::new(KeyExpiry::new(
            store.clone(),
            settings.clock.clone(),
            idempotency,
        ));
        let events = Arc::new(EventHub::new(
            store.clone(),
            alerts.clone(),
            settings.event_retention,
            settings.clock.clone(),
        ));
        let app = App {
            store: store.clone(),
            events: events.clone(),
            clock: settings.clock.clone(),
            public_url: settings
                .alerts
                .public_url
                .as_ref()
                .map(|u| u.as_str().to_owned()),
            sweeper: sweeper.clone(),
            auth,
            alerts: alerts.clone(),
            require_auth: settings.require_auth,
            allow_private_webhooks: settings.alerts.allow_private_webhooks,
            lineage_create_integrations: settings.lineage_create_integrations,
            idempotency,
            flights: flights.clone(),
            answers: answers.clone(),
        };
        let listener = TcpListener::bind(&settings.listen)
            .await
            .map_err(|e| Error::Internal(format!("cannot listen on {}: {e}", settings.listen)))?;
        Ok(Application {
            listener,
            router: router(app, &settings.limits),
            limits: settings.limits,
            store,
            alerts,
            sweeper,
            events,
            key_expiry,
            flights,
            answers,
        })
    }

    /// The sweeper, for a caller that wants a round now (tests).
    pub fn sweeper(&self) -> Arc<Sweeper> {
        self.sweeper.clone()
    }

    /// The worker that deletes expired idempotency keys, for a caller that wants a round now
    /// (tests).
    pub fn key_expiry(&self) -> Arc<KeyExpiry> {
        self.key_expiry.clone()
    }

    /// The store the application serves, for setup by its caller (first client, tests).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener
            .local_addr()
            .map_err(|e| Error::Internal(e.to_string()))
    }

    /// Serves, and dispatches alerts, until `shutdown` resolves; in-flight requests and
    /// alert deliveries then finish before it returns.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let dispatcher = tokio::spawn(self.alerts.clone().run(stopped.clone()));
        let sweeper = tokio::spawn(self.sweeper.clone().run(stopped.clone()));
        let key_expiry = tokio::spawn(self.key_expiry.clone().run(stopped.clone()));
        let answers = tokio::spawn(self.answers.clone().run(stopped.clone()));
        let events = tokio::spawn(self.events.clone().run(stopped));
        // Event streams never end by themselves: they end when the server begins to stop.
        let hub = self.events.clone();
        let shutdown = async move {
            shutdown.await;
            hub.close();
        };
        server::serve(self.listener, self.router, self.limits, shutdown).await;
        // The answers of the last writes are stored after they went out: wait for them.
        let answered = async {
            while !self.flights.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), answered).await;
        let _ = stop.send(true);
        let _ = dispatcher.await;
        let _ = sweeper.await;
        let _ = events.await;
        let _ = key_expiry.await;
        let _ = answers.await;
        Ok(())
    }
}

/// A future that resolves on SIGINT or SIGTERM. The handlers are installed now, before the
/// caller announces that it is listening, so that no early signal kills the process outright.
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let install =
            |kind| signal(kind).map_err(|e| Error::Internal(format!("cannot handle signals: {e}")));
        let mut interrupt = install(SignalKind::interrupt())?;
        let mut terminate = install(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            tracing::info!("shutting down: finishing in-flight requests");
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing in-flight requests");
    })
}
