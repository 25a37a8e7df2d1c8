//! `POST /oauth2/token` (and `/oauth2/access_tokens`): the client-credentials grant.
//!
//! Answers are RFC 6749's JSON, not Coupa's error format. Credentials may come in the form
//! body, in HTTP Basic, or, because some Coupa clients in use send them so, in the query
//! string of the POST, which is why no query string is ever logged (see the request span in
//! `router`). This module only reads the request; [`crate::auth::Authenticator::issue`]
//! decides.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::error::Rendered;
use super::format::essence;
use crate::app::AppState;
use crate::auth::oauth::{OAuthError, TokenRequest};

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

/// The most bytes a token request body may have.
pub const MAX_BODY: usize = 8 * 1024;

/// Reads a token request from its parts. `authorization` is the header's value.
pub fn parse_token_request(
    content_type: Option<&str>,
    authorization: Option<&str>,
    query: &str,
    body: &[u8],
) -> Result<TokenRequest, OAuthError> {
    if body.len() > MAX_BODY {
        return Err(OAuthError::invalid_request("The request body is too large"));
    }
    let has_body = body.iter().any(|b| !b.is_ascii_whitespace());
    if has_body {
        let essence = content_type.map(essence);
        if essence.as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "Send the parameters as application/x-www-form-urlencoded",
            ));
        }
    }
    let mut request = TokenRequest::default();
    let pairs = form_urlencoded::parse(query.as_bytes())
        .chain(form_urlencoded::parse(if has_body { body } else { b"" }));
    for (key, value) in pairs {
        let slot = match key.as_ref() {
            "grant_type" => &mut request.grant_type,
            "client_id" => &mut request.client_id,
            "client_secret" => &mut request.client_secret,
            "scope" => &mut request.scope,
            _ => continue,
        };
        if slot.is_some() {
            return Err(OAuthError::invalid_request(format!(
                "The parameter {key} is given more than once"
            )));
        }
        *slot = Some(value.into_owned());
    }
    if let Some(header) = authorization {
        let (scheme, credentials) = header.trim().split_once(' ').unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(OAuthError::invalid_client());
        }
        if request.client_id.is_some() || request.client_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "Authenticate the client in one way only: HTTP Basic or parameters",
            ));
        }
        let decoded = STANDARD
            .decode(credentials.trim())
            .map_err(|_| OAuthError::invalid_client())?;
        let decoded = String::from_utf8(decoded).map_err(|_| OAuthError::invalid_client())?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(OAuthError::invalid_client)?;
        // RFC 6749 §2.3.1: both are form-encoded before they go into Basic. Each is one
        // value, so a raw `&` in it is part of it, not the start of another parameter.
        let decode = |s: &str| {
            form_urlencoded::parse(format!("x={}", s.replace('&', "%26")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        request.client_id = decode(id);
        request.client_secret = decode(secret);
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    #[test]
    fn reads_parameters_from_the_body_the_query_or_basic() {
        let body = b"grant_type=client_credentials&client_id=abc&client_secret=s%2Bt&scope=core.integration.read";
        let from_body = parse_token_request(FORM, None, "", body).unwrap();
        assert_eq!(from_body.client_secret.as_deref(), Some("s+t"));
        assert_eq!(from_body.scope.as_deref(), Some("core.integration.read"));

        let query = std::str::from_utf8(body).unwrap();
        assert_eq!(
            parse_token_request(None, None, query, b"").unwrap(),
            from_body
        );

        let basic = format!("Basic {}", STANDARD.encode("abc:s%2Bt"));
        let with_basic = parse_token_request(
            FORM,
            Some(&basic),
            "",
            b"grant_type=client_credentials&scope=core.integration.read",
        )
        .unwrap();
        assert_eq!(with_basic, from_body);
    }

    #[test]
    fn decodes_each_basic_credential_whole() {
        let basic = format!("Basic {}", STANDARD.encode("a&b=c+d%26:s&e%2Bt"));
        let request = parse_token_request(None, Some(&basic), "", b"").unwrap();
        assert_eq!(request.client_id.as_deref(), Some("a&b=c d&"));
        assert_eq!(request.client_secret.as_deref(), Some("s&e+t"));
    }

    #[test]
    fn refuses_ambiguous_or_malformed_requests() {
        let error = |ct, auth, query, body: &[u8]| {
            parse_token_request(ct, auth, query, body)
                .unwrap_err()
                .error
        };
        assert_eq!(
            error(FORM, None, "client_id=a", b"client_id=b"),
            "invalid_request"
        );
        assert_eq!(
            error(Some("application/json"), None, "", b"{}"),
            "invalid_request"
        );
        let basic = format!("Basic {}", STANDARD.encode("a:b"));
        assert_eq!(
            error(FORM, Some(&basic), "", b"client_id=a"),
            "invalid_request"
        );
        assert_eq!(error(None, Some("Basic !!!"), "", b""), "invalid_client");
        assert_eq!(error(None, Some("Bearer x"), "", b""), "invalid_client");
        assert_eq!(
            error(FORM, None, "", &vec![b'a'; MAX_BODY + 1]),
            "invalid_request"
        );
    }
}
