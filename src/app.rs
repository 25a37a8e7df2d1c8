//! The application: shared state, the route table, and the server's lifecycle.
//!
//! [`Application::build`] opens the store and binds the listener, so callers (the binary,
//! the tests) learn the real port before serving; [`Application::run_until_stopped`] serves
//! until the shutdown future resolves, then lets in-flight requests finish.

use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Request};
use axum::middleware;
use axum::routing::{get, put};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::http::{errors, integrations, runs};
use crate::store::{self, Store};

/// The largest request body accepted (spec §2.1).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub struct App {
    pub store: Arc<dyn Store>,
}

/// What every handler gets: a cheap clone of the one [`App`].
#[derive(Clone)]
pub struct AppState(Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// Every route of the API, in one place.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/api/integrations", get(integrations::index).post(integrations::create))
        .route(
            "/api/integrations/{id}",
            get(integrations::show).put(integrations::update).patch(integrations::update),
        )
        .route("/api/integration_runs", get(runs::index).post(runs::create))
        .route("/api/integration_runs/{id}", get(runs::show).put(runs::update).patch(runs::update))
        .route("/api/integration_runs/{id}/run", put(runs::run))
        .route("/api/integration_runs/{id}/pending", put(runs::pending))
        .route("/api/integration_runs/{id}/pause", put(runs::pause))
        .route("/api/integration_runs/{id}/success", put(runs::success))
        .route("/api/integration_runs/{id}/fail", put(runs::fail))
        .route("/api/integration_runs/{id}/finish", put(runs::finish))
        .with_state(AppState(Arc::new(app)))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // A bug must still answer (500, in Coupa's format) rather than drop the connection.
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn(errors::render))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            // The path only: query strings may carry credentials (spec §5).
            tracing::info_span!("request", id, method = %request.method(), path = %request.uri().path())
        }))
        .layer(SetRequestIdLayer::x_request_id(RequestCounter::default()))
}

/// Request ids: a process-wide counter, unless the client sent its own `x-request-id`.
#[derive(Clone, Default)]
struct RequestCounter(Arc<AtomicU64>);

impl MakeRequestId for RequestCounter {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        HeaderValue::from_str(&n.to_string())
            .ok()
            .map(RequestId::new)
    }
}

pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Opens (and migrates) the database, then binds the listening socket.
    pub async fn build(settings: &Settings) -> Result<Application> {
        let store = store::open(&settings.database_url).await?;
        let listener = TcpListener::bind(&settings.listen)
            .await
            .map_err(|e| Error::Internal(format!("cannot listen on {}: {e}", settings.listen)))?;
        Ok(Application {
            listener,
            router: router(App { store }),
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener
            .local_addr()
            .map_err(|e| Error::Internal(e.to_string()))
    }

    /// Serves until `shutdown` resolves; in-flight requests then finish before it returns.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| Error::Internal(format!("server error: {e}")))
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down: finishing in-flight requests");
}
