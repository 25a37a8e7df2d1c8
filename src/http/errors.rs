//! Coupa's error bodies (spec §4), for every error response the server sends.
//!
//! Handlers return [`crate::Error`], which leaves only a status and its messages on the
//! response. This middleware, wrapped around the whole router, writes the body in the
//! negotiated format, and gives the same treatment to refusals that never reached a handler
//! (unknown route, wrong verb, oversized body, request timeout).

use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::format::Format;
use crate::error::ErrorMessages;
use crate::view::render::{self, Node};

/// Marks a response whose error body is already in its own format (OAuth's), to be left as is.
#[derive(Clone, Copy, Debug)]
pub struct Rendered;

pub async fn render(request: Request, next: Next) -> Response {
    let format = Format::negotiate(request.headers());
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
    match collection {
        "integration_runs" => "integration-run",
        "integrations" => "integration",
        "integration_errors" => "integration-error",
        "integration_history_records" => "integration-history-record",
        "integration_contacts" => "integration-contact",
        "alert_deliveries" => "alert-delivery",
        _ => "request",
    }
}
