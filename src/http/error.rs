//! Coupa's error bodies (spec §4), for every error response the server sends.
//!
//! Handlers return [`crate::Error`]; turning it into a response (below) only sets the status,
//! the headers and the messages. This middleware, wrapped around the whole router, writes the body in the
//! negotiated format, and gives the same treatment to refusals that never reached a handler
//! (unknown route, wrong verb, oversized body, request timeout).

use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::format::Format;
use crate::error::{Error, retry_after_seconds};
use crate::view::render::{self, Node};

/// The messages of an error response, left in the response's extensions for [`render`].
#[derive(Clone, Debug)]
pub struct ErrorMessages(pub Vec<String>);

/// The HTTP status of an error.
pub fn status(error: &Error) -> StatusCode {
    match error {
        Error::Invalid(_) => StatusCode::BAD_REQUEST,
        Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
        Error::NotFound(_) | Error::NoResults => StatusCode::NOT_FOUND,
        Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
        Error::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
        Error::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Storage(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = status(&self);
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = status.into_response();
        let headers = response.headers_mut();
        match &self {
            Error::Unauthorized(_) => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"runledger\""),
                );
            }
            Error::TooManyRequests(wait) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(retry_after_seconds(*wait)));
            }
            _ => {}
        }
        response
            .extensions_mut()
            .insert(ErrorMessages(self.messages()));
        response
    }
}

/// Marks a response whose error body is already in its own format (OAuth's), to be left as is.
#[derive(Clone, Copy, Debug)]
pub struct Rendered;

pub async fn render(request: Request, next: Next) -> Response {
    let format = if super::lineage::is_lineage(request.uri().path()) {
        Format::negotiate_or(request.headers(), Format::Json)
    } else {
        Format::negotiate(request.headers())
    };
    let method = request.method().clone();
    let resource = resource_name(request.uri().path());
    let mut response = next.run(request).await;
    let status = response.status();
    let is_error = status.is_client_error() || status.is_server_error();
    if !is_error || response.extensions().get::<Rendered>().is_some() {
        return response;
    }
    let messages = match response.extensions_mut().remove::<ErrorMessages>() {
        Some(ErrorMessages(messages)) => messages,
        None => vec![default_message(status, &method)],
    };
    let body = match format {
        Format::Xml => {
            // `<errors><error>…</error>…</errors>`: a repeated element, with no array type.
            let items = messages
                .into_iter()
                .map(|m| ("error", Node::Text(m)))
                .collect();
            render::xml_document("errors", &Node::Object(items))
        }
        Format::Json => {
            let list = Node::List("error", messages.into_iter().map(Node::Text).collect());
            render::json(&Node::Object(vec![(
                "errors",
                Node::Object(vec![(resource, list)]),
            )]))
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.remove(CONTENT_LENGTH);
    let (parts, _) = response.into_parts();
    Response::from_parts(parts, body.into())
}

fn default_message(status: StatusCode, method: &Method) -> String {
    match status {
        StatusCode::NOT_FOUND => "Not found".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("The {method} method is not allowed on this resource")
        }
        // `limits::enforce` names the configured limit; this is only its fallback.
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large".to_owned(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported content type".to_owned(),
        other => other.canonical_reason().unwrap_or("Error").to_owned(),
    }
}

/// The JSON error key of a path: `/api/integration_runs/5/run` → `integration-run`.
pub fn resource_name(path: &str) -> &'static str {
    let collection = path
        .trim_start_matches("/api/")
        .split('/')
        .next()
        .unwrap_or_default();
    // Runledger's own resource under an integration.
    if collection == "integrations" && path.trim_end_matches('/').ends_with("/monitor") {
        return "monitor";
    }
    if collection == "integrations" && path.trim_end_matches('/').ends_with("/monitor/pings") {
        return "monitor-ping";
    }
    if super::lineage::is_lineage(path) {
        return if path.starts_with("/api/v1/lineage/runs") {
            "lineage-run"
        } else {
            "lineage-event"
        };
    }
    match collection {
        "integration_runs" => "integration-run",
        "integrations" => "integration",
        "integration_errors" => "integration-error",
        "integration_history_records" => "integration-history-record",
        "integration_contacts" => "integration-contact",
        "alert_deliveries" => "alert-delivery",
        "integration_run_transitions" => "integration-run-transition",
        "events" => "event",
        "event_subscriptions" => "event-subscription",
        _ => "request",
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
    use axum::response::IntoResponse;

    use super::ErrorMessages;
    use crate::error::Error;

    fn messages(response: &axum::response::Response) -> Vec<String> {
        response
            .extensions()
            .get::<ErrorMessages>()
            .unwrap()
            .0
            .clone()
    }

    #[test]
    fn a_storage_failure_is_a_500_whose_detail_the_client_never_reads() {
        let failure = std::io::Error::other("disk I/O error at /var/lib/secret.db");
        let response = Error::storage(failure).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(messages(&response), ["Internal server error"]);
    }

    #[test]
    fn refusals_carry_their_status_headers_and_messages() {
        let response = Error::Unauthorized("Invalid API key".into()).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key(WWW_AUTHENTICATE));
        assert_eq!(messages(&response), ["Invalid API key"]);

        let wait = std::time::Duration::from_millis(1_500);
        let response = Error::TooManyRequests(wait).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[RETRY_AFTER], "2");

        let response = Error::Invalid(vec!["a".into(), "b".into()]).into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(messages(&response), ["a", "b"]);
    }
}
