//! The route table and the layers every request passes through.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, Request};
use axum::middleware;
use axum::routing::{MethodRouter, get, patch, post, put};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::app::{App, AppState};
use crate::config::Limits;
use crate::domain::clients::Scope;
use crate::http::idempotency::{self, Keys};
use crate::http::records;
use crate::http::{
    auth, bulk, contacts, deliveries, error, events, integrations, lineage, monitors, oauth, pings,
    runs, subscriptions,
};

/// One API route: its verb, its path, the scope it requires, and its handler.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub scope: Scope,
    /// Whether a request may bring an `Idempotency-Key` ([`crate::http::idempotency`]); on
    /// any other route the header is ignored.
    pub idempotent: bool,
    pub handler: MethodRouter<AppState>,
    /// Whether an API key may also come as a bearer token (see [`auth::Gate`]).
    pub bearer_keys: bool,
}

/// Every API route with the scope it requires: the one place where access is decided.
///
/// Every `POST` takes an `Idempotency-Key`, this one and any added later; `keyed` marks the
/// other writes that do: the status actions, and the updates of records, which append the
/// `responses` they carry.
#[rustfmt::skip]
pub fn routes() -> Vec<Route> {
    use Scope::{Read, Write};
    use records::{Errors, History};
    let route = |method: Method, path, scope, handler| {
        let idempotent = method == Method::POST;
        Route { method, path, scope, idempotent, handler, bearer_keys: false }
    };
    let keyed = |method, path, scope, handler| Route { idempotent: true, ..route(method, path, scope, handler) };
    // OpenLineage clients send an API key as a bearer token.
    let lineage = |method, path, scope, handler| Route { bearer_keys: true, ..route(method, path, scope, handler) };
    vec![
        route(Method::GET, "/api/integrations", Read, get(integrations::index)),
        route(Method::POST, "/api/integrations", Write, post(integrations::create)),
        route(Method::GET, "/api/integrations/{id}", Read, get(integrations::show)),
        route(Method::PUT, "/api/integrations/{id}", Write, put(integrations::update)),
        route(Method::PATCH, "/api/integrations/{id}", Write, patch(integrations::update)),
        route(Method::GET, "/api/integrations/{id}/monitor", Read, get(monitors::show)),
        route(Method::PUT, "/api/integrations/{id}/monitor", Write, put(monitors::update)),
        route(Method::GET, "/api/integrations/{id}/monitor/flips", Read, get(monitors::flips)),
        route(Method::GET, "/api/monitors", Read, get(monitors::index)),
        route(Method::GET, "/api/integrations/{id}/monitor/pings", Read, get(pings::index)),

        route(Method::GET, "/api/integration_runs", Read, get(runs::index)),
        route(Method::POST, "/api/integration_runs", Write, post(runs::create)),
        route(Method::GET, "/api/integration_runs/{id}", Read, get(runs::show)),
        route(Method::PUT, "/api/integration_runs/{id}", Write, put(runs::update)),
        route(Method::PATCH, "/api/integration_runs/{id}", Write, patch(runs::update)),
        keyed(Method::PUT, "/api/integration_runs/{id}/run", Write, put(runs::run)),
        keyed(Method::PUT, "/api/integration_runs/{id}/pending", Write, put(runs::pending)),
        keyed(Method::PUT, "/api/integration_runs/{id}/pause", Write, put(runs::pause)),
        keyed(Method::PUT, "/api/integration_runs/{id}/success", Write, put(runs::success)),
        keyed(Method::PUT, "/api/integration_runs/{id}/fail", Write, put(runs::fail)),
        keyed(Method::PUT, "/api/integration_runs/{id}/finish", Write, put(runs::finish)),
        route(Method::GET, "/api/integration_runs/{id}/transitions", Read, get(runs::transitions)),
        route(Method::GET, "/api/integration_run_transitions", Read, get(runs::all_transitions)),
        // Static segments win over `{id}` in the router: `bulk` is never taken for an id.
        route(Method::POST, "/api/integration_runs/bulk/fail", Write, post(bulk::fail)),
        route(Method::POST, "/api/integration_runs/bulk/pause", Write, post(bulk::pause)),

        route(Method::GET, "/api/integration_errors", Read, get(records::index::<Errors>)),
        route(Method::POST, "/api/integration_errors", Write, post(records::create::<Errors>)),
        route(Method::POST, "/api/integration_errors/create_alert", Write, post(records::create_alert::<Errors>)),
        route(Method::GET, "/api/integration_errors/{id}", Read, get(records::show::<Errors>)),
        keyed(Method::PUT, "/api/integration_errors/{id}", Write, put(records::update::<Errors>)),
        keyed(Method::PATCH, "/api/integration_errors/{id}", Write, patch(records::update::<Errors>)),
        keyed(Method::PUT, "/api/integration_errors/{id}/resolve", Write, put(records::resolve::<Errors>)),
        keyed(Method::PUT, "/api/integration_errors/{id}/unresolve", Write, put(records::unresolve::<Errors>)),
        route(Method::POST, "/api/integration_errors/bulk/resolve", Write, post(bulk::resolve)),
        route(Method::POST, "/api/integration_errors/bulk/unresolve", Write, post(bulk::unresolve)),

        route(Method::GET, "/api/integration_history_records", Read, get(records::index::<History>)),
        route(Method::POST, "/api/integration_history_records", Write, post(records::create::<History>)),
        route(Method::POST, "/api/integration_history_records/acknowledge", Write, post(records::acknowledge::<History>)),
        route(Method::POST, "/api/integration_history_records/create_alert", Write, post(records::create_alert::<History>)),
        route(Method::POST, "/api/integration_history_records/create_alert_and_mark_exported", Write, post(records::create_alert_and_mark_exported::<History>)),
        route(Method::POST, "/api/integration_history_records/mark_exported", Write, post(records::mark_exported::<History>)),
        route(Method::GET, "/api/integration_history_records/{id}", Read, get(records::show::<History>)),
        keyed(Method::PUT, "/api/integration_history_records/{id}", Write, put(records::update::<History>)),
        keyed(Method::PATCH, "/api/integration_history_records/{id}", Write, patch(records::update::<History>)),
        keyed(Method::PUT, "/api/integration_history_records/{id}/resolve", Write, put(records::resolve::<History>)),
        keyed(Method::PUT, "/api/integration_history_records/{id}/unresolve", Write, put(records::unresolve::<History>)),

        route(Method::GET, "/api/integration_contacts", Read, get(contacts::index)),
        route(Method::POST, "/api/integration_contacts", Write, post(contacts::create)),
        route(Method::GET, "/api/integration_contacts/{id}", Read, get(contacts::show)),
        route(Method::PUT, "/api/integration_contacts/{id}", Write, put(contacts::update)),
        route(Method::PATCH, "/api/integration_contacts/{id}", Write, patch(contacts::update)),

        route(Method::GET, "/api/events", Read, get(events::stream)),
        route(Method::GET, "/api/event_subscriptions", Read, get(subscriptions::index)),
        route(Method::POST, "/api/event_subscriptions", Write, post(subscriptions::create)),
        route(Method::GET, "/api/event_subscriptions/{id}", Read, get(subscriptions::show)),
        route(Method::PUT, "/api/event_subscriptions/{id}", Write, put(subscriptions::update)),
        route(Method::PATCH, "/api/event_subscriptions/{id}", Write, patch(subscriptions::update)),

        route(Method::GET, "/api/alert_deliveries", Read, get(deliveries::index)),
        route(Method::GET, "/api/alert_deliveries/{id}", Read, get(deliveries::show)),

        lineage(Method::POST, "/api/v1/lineage", Write, post(lineage::create)),
        lineage(Method::POST, "/api/v1/lineage/batch", Write, post(lineage::batch)),
        lineage(Method::GET, "/api/v1/lineage/runs/{id}", Read, get(lineage::show)),
        lineage(Method::GET, "/api/v1/lineage/events/{id}", Read, get(lineage::event)),
    ]
}

/// The application's router: the API behind its gate, the token endpoints open, every
/// request within `limits`.
pub fn router(app: App, limits: &Limits) -> Router {
    let state = AppState::new(app);
    let mut router = Router::new()
        .route("/oauth2/token", post(oauth::token))
        .route("/oauth2/access_tokens", post(oauth::token))
        // The key in a ping URL is its credential: no gate (docs/monitoring.md#ping-urls).
        // HEAD is served by the GET route, without the body.
        .route("/ping/{key}", get(pings::ping).post(pings::ping))
        .route("/ping/{key}/{signal}", get(pings::ping).post(pings::ping));
    let keys = Keys {
        app: state.clone(),
        max_body_bytes: limits.max_body_bytes,
    };
    for route in routes() {
        let mut handler = route.handler;
        // Inside the gate: a key belongs to the caller the gate admitted.
        if route.idempotent {
            handler = handler.route_layer(middleware::from_fn_with_state(
                keys.clone(),
                idempotency::guard,
            ));
        }
        let gate = auth::Gate {
            scope: route.scope,
            bearer_keys: route.bearer_keys,
        };
        let gate = middleware::from_fn_with_state((state.clone(), gate), auth::guard);
        router = router.route(route.path, handler.route_layer(gate));
    }
    router
        .with_state(state)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        // A bug must still answer (500, in Coupa's format) rather than drop the connection.
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn_with_state(
            *limits,
            crate::http::limits::enforce,
        ))
        .layer(middleware::from_fn(error::render))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // The path only: query strings may carry credentials (spec §5), and so does a
                // ping URL's path, which is logged without its key.
                let path = pings::logged_path(request.uri().path());
                tracing::info_span!("request", id, method = %request.method(), path = %path)
            }),
        )
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
