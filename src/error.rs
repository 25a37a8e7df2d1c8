//! The one error type of the crate: pure, with no web framework and no database driver in it.
//!
//! Handlers, the domain and the store return [`Error`]. Its HTTP status and headers are
//! chosen in [`crate::http::error`], which also writes Coupa's `<errors>` or `{"errors": …}`
//! body; a driver's failure arrives as [`Error::Storage`] through the conversions in
//! [`crate::store`], after the store has picked out what it answers differently (unique keys).

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
    /// `If-Match` names a version the record no longer has (412).
    #[error("{0}")]
    PreconditionFailed(String),
    /// A strict client's write without `If-Match` (428).
    #[error("{0}")]
    PreconditionRequired(String),
    /// Well-formed, but not what the request may be: an idempotency key sent before with
    /// another request.
    #[error("{0}")]
    Unprocessable(String),
    /// Throttled; the client may retry after the duration.
    #[error("Too many requests: retry in {} s", retry_after_seconds(*.0))]
    TooManyRequests(std::time::Duration),
    /// The database, its driver or its migrations failed: logged in full, never shown.
    #[error("{0}")]
    Storage(Box<dyn std::error::Error + Send + Sync>),
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// A single validation message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(vec![message.into()])
    }

    /// A failure of the storage below the store, kept whole for the log.
    pub fn storage(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Storage(Box::new(error))
    }

    /// Whether the fault is the server's: its detail is logged and hidden from the client.
    pub fn is_internal(&self) -> bool {
        matches!(self, Error::Storage(_) | Error::Internal(_))
    }

    /// What the client may read. Internal details stay in the log.
    pub fn messages(self) -> Vec<String> {
        match self {
            Error::Invalid(messages) => messages,
            internal if internal.is_internal() => vec!["Internal server error".to_owned()],
            other => vec![other.to_string()],
        }
    }
}

/// `Retry-After` is whole seconds: round up, and never say 0.
pub fn retry_after_seconds(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}
