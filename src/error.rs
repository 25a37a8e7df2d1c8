//! The one error type of the crate and its HTTP status.
//!
//! Handlers and the store return [`Error`]; turning it into a response only records the status
//! and the messages. The body itself (Coupa's `<errors>` or `{"errors": …}`) is written by
//! [`crate::http::errors::render`], which knows the negotiated format and the resource, and
//! which also dresses the framework's own refusals (unknown route, wrong verb, body too large).

use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: validation, an unparsable body or query, a refused transition.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    /// Missing or invalid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials without the scope.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// Coupa answers an XML index that matched nothing with a 404.
    #[error("No results match your search criteria.")]
    NoResults,
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A write lost a race that it cannot safely retry.
    #[error("{0}")]
    Conflict(String),
    /// Throttled; the client may retry after the duration.
    #[error("Too many requests: retry in {} s", retry_after_seconds(*.0))]
    TooManyRequests(std::time::Duration),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The embedded backend's driver (SQLite through rusqlite).
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// A single validation message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(vec![message.into()])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Invalid(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::NotFound(_) | Error::NoResults => StatusCode::NOT_FOUND,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Database(_) | Error::Sqlite(_) | Error::Migration(_) | Error::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// What the client may read. Internal details stay in the log.
    fn messages(self) -> Vec<String> {
        match self {
            Error::Invalid(messages) => messages,
            Error::Database(_) | Error::Sqlite(_) | Error::Migration(_) | Error::Internal(_) => {
                vec!["Internal server error".to_owned()]
            }
            other => vec![other.to_string()],
        }
    }
}

/// The messages of an error response, left in the response's extensions for the renderer.
#[derive(Clone, Debug)]
pub struct ErrorMessages(pub Vec<String>);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
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

/// `Retry-After` is whole seconds: round up, and never say 0.
fn retry_after_seconds(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}
