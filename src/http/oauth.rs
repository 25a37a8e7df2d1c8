//! `POST /oauth2/token` (and `/oauth2/access_tokens`): the client-credentials grant.
//!
//! Answers are RFC 6749's JSON, not Coupa's error format. Parameters may arrive in the query
//! string, which is why no query string is ever logged (see the request span in `router`).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::errors::Rendered;
use crate::app::AppState;
use crate::auth::oauth::parse_token_request;

pub async fn token(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let request = parse_token_request(
        header(CONTENT_TYPE),
        header(AUTHORIZATION),
        query.as_deref().unwrap_or_default(),
        &body,
    );
    let basic = header(AUTHORIZATION).is_some();
    let result = match request {
        Ok(request) => app.auth.issue(request).await,
        Err(error) => Err(error),
    };
    let (status, body) = match result {
        Ok(grant) => (
            StatusCode::OK,
            json!({
                "access_token": grant.access_token,
                "token_type": "bearer",
                "expires_in": grant.expires_in,
                "scope": grant.scopes.to_string(),
            }),
        ),
        Err(error) => (
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST),
            json!({"error": error.error, "error_description": error.description}),
        ),
    };
    let mut response = (
        status,
        [
            (CONTENT_TYPE, "application/json; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
            (PRAGMA, "no-cache"),
        ],
        body.to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        let challenge = if basic {
            "Basic realm=\"runledger\""
        } else {
            "Bearer realm=\"runledger\""
        };
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    response.extensions_mut().insert(Rendered);
    response
}
