//! The HTTP face of Runledger: formats, shared extractors, and one module per resource.
//! The route table itself is in [`crate::app`].

pub mod errors;
pub mod format;
pub mod integration_errors;
pub mod integrations;
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
