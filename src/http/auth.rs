//! The gate in front of every `/api` route: who is calling (401), may they (403), and not too
//! often (429). Each route's scope is declared in the route table, [`crate::router::routes`].

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{Extensions, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;

use crate::app::AppState;
use crate::auth::{Caller, Credential};
use crate::domain::Actor;
use crate::domain::clients::Scope;
use crate::error::{Error, Result};

/// The legacy Coupa API key header.
pub const API_KEY_HEADER: &str = "x-coupa-api-key";

/// What a route's gate admits: credentials with `scope`, and, where `bearer_keys`, an API
/// key sent as `Authorization: Bearer <key>`, as OpenLineage clients send theirs
/// (`OPENLINEAGE_API_KEY`). Everywhere else an API key comes in `X-COUPA-API-KEY` only, as
/// on Coupa.
#[derive(Clone, Copy, Debug)]
pub struct Gate {
    pub scope: Scope,
    pub bearer_keys: bool,
}

/// Admits a request that carries credentials with the gate's scope; refuses it otherwise.
pub async fn guard(
    State((app, gate)): State<(AppState, Gate)>,
    mut request: Request,
    next: Next,
) -> Result<Response> {
    let scope = gate.scope;
    if app.require_auth {
        let caller = app
            .auth
            .authenticate(credential(request.headers(), gate.bearer_keys)?)
            .await?;
        if !caller.scopes.contains(scope) {
            return Err(Error::Forbidden(format!(
                "This client lacks the scope {}",
                scope.as_str()
            )));
        }
        app.auth.admit(&caller)?;
        request.extensions_mut().insert(caller);
    }
    Ok(next.run(request).await)
}

fn credential(headers: &HeaderMap, bearer_keys: bool) -> Result<Credential<'_>> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let value = value.to_str().map_err(|_| unreadable())?;
        let (scheme, token) = value.trim().split_once(' ').ok_or_else(unreadable)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Error::Unauthorized(
                "Use Authorization: Bearer <access token>".into(),
            ));
        }
        let token = token.trim();
        // A signed token always holds a dot; an API key (hex digits) never does.
        if bearer_keys && !token.contains('.') {
            return Ok(Credential::ApiKey(token));
        }
        return Ok(Credential::Bearer(token));
    }
    if let Some(value) = headers.get(API_KEY_HEADER) {
        return Ok(Credential::ApiKey(
            value.to_str().map_err(|_| unreadable())?.trim(),
        ));
    }
    Err(Error::Unauthorized(
        "Authentication required: send Authorization: Bearer <access token> or X-COUPA-API-KEY"
            .into(),
    ))
}

fn unreadable() -> Error {
    Error::Unauthorized("The credentials could not be read".into())
}

/// The client making a request, for `created-by` / `updated-by`; none when authentication is
/// turned off (benchmarks only).
#[derive(Clone, Debug, Default)]
pub struct Author(pub Option<Actor>);

impl Author {
    /// The caller the gate left in a request's extensions.
    pub fn of(extensions: &Extensions) -> Author {
        Author(extensions.get::<Caller>().map(|c| c.actor.clone()))
    }

    pub fn actor(&self) -> Option<&Actor> {
        self.0.as_ref()
    }
}
