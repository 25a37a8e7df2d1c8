//! The HTTP face of Runledger: formats, shared extractors, and one module per resource.
//! The route table itself is in [`crate::app`].

pub mod auth;
pub mod contacts;
pub mod deliveries;
pub mod errors;
pub mod format;
pub mod integrations;
pub mod oauth;
pub mod records;
pub mod render;
pub mod runs;
pub mod xml;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use crate::error::Error;

/// A record id from the path. Anything but a positive integer names no record: 404.
#[derive(Clone, Copy, Debug)]
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::NotFound("Not found".into()))?;
        match text.parse::<i64>() {
            Ok(id) if id > 0 => Ok(Id(id)),
            _ => Err(Error::NotFound(format!(
                "Couldn't find a record with 'id'={text}"
            ))),
        }
    }
}

/// Everything a write handler reads from its request besides the path: the response format,
/// the author, the shaping query and the body.
pub struct Write {
    pub format: format::Format,
    pub author: auth::Author,
    pub query: String,
    pub body: serde_json::Map<String, serde_json::Value>,
}

impl Write {
    pub fn body(&self) -> crate::domain::input::Body<'_> {
        crate::domain::input::Body(&self.body)
    }

    /// The response shape asked for; any other query parameter is a 400.
    pub fn shape(
        &self,
        resource: &'static crate::query::schema::Resource,
    ) -> crate::Result<crate::query::Shape> {
        crate::query::Shape::parse(resource, &self.query)
    }
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for Write {
    type Rejection = axum::response::Response;

    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let format = format::Format::negotiate(request.headers());
        let query = request.uri().query().unwrap_or_default().to_owned();
        let author = auth::Author(
            request
                .extensions()
                .get::<crate::auth::Caller>()
                .map(|c| c.actor.clone()),
        );
        let format::Payload(body) = format::Payload::from_request(request, state).await?;
        Ok(Write {
            format,
            author,
            query,
            body,
        })
    }
}
