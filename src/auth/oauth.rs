//! The OAuth 2.0 token request (RFC 6749 §4.4) and its errors (§5.2), as
//! [`super::Authenticator::issue`] decides on them. Reading them from an HTTP request is
//! the HTTP layer's part (`http/oauth.rs`).

/// An RFC 6749 §5.2 error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            error,
            description: description.into(),
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_request", description)
    }

    /// Client authentication failed: the one answer for an unknown client, a wrong secret
    /// and a revoked client, so that none can be told apart.
    pub fn invalid_client() -> OAuthError {
        OAuthError::new("invalid_client", "Client authentication failed")
    }

    pub fn status(&self) -> u16 {
        if self.error == "invalid_client" {
            401
        } else {
            400
        }
    }
}

/// The parameters of a token request, wherever they came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scope: Option<String>,
}
