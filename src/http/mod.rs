//! The HTTP face of Runledger: formats, shared extractors, and one module per resource.
//! The route table itself is in [`crate::router`].

pub mod auth;
pub mod bulk;
pub mod conditional;
pub mod contacts;
pub mod deliveries;
pub mod error;
pub mod events;
pub mod format;
pub mod idempotency;
pub mod integrations;
pub mod limits;
pub mod lineage;
pub mod monitors;
pub mod oauth;
pub mod paging;
pub mod pings;
pub mod records;
pub mod reply;
pub mod runs;
pub mod subscriptions;
pub mod xml;

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use self::auth::Author;
use self::conditional::Conditions;
use self::format::{Format, Payload};
use crate::domain::input::Body;
use crate::error::{Error, Result};
use crate::query::Shape;
use crate::query::schema::Resource;

/// This server's root as the client reaches it, for the links an answer hands out: the
/// server's public URL (`--public-url`) when one is set; else this request's `Host`, and
/// `https` when a proxy says so in `X-Forwarded-Proto`.
pub fn base_url(public_url: Option<&str>, headers: &HeaderMap) -> String {
    if let Some(base) = public_url {
        return base.to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

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
    pub format: Format,
    pub author: Author,
    pub conditions: Conditions,
    pub query: String,
    pub body: Map<String, Value>,
}

impl Write {
    pub fn body(&self) -> Body<'_> {
        Body(&self.body)
    }

    /// The response shape asked for; any other query parameter is ignored, as Rails
    /// ignores what a write does not use (some clients append `?null` to every write).
    pub fn shape(&self, resource: &'static Resource) -> Result<Shape> {
        Shape::parse(resource, &self.query)
    }
}

impl<S: Send + Sync> FromRequest<S> for Write {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let format = Format::negotiate(request.headers());
        let query = request.uri().query().unwrap_or_default().to_owned();
        let author = Author::of(request.extensions());
        let conditions = Conditions::read(request.headers(), request.extensions())
            .map_err(IntoResponse::into_response)?;
        let Payload(body) = Payload::from_request(request, state).await?;
        Ok(Write {
            format,
            author,
            conditions,
            query,
            body,
        })
    }
}
