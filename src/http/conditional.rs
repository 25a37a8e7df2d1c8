//! Conditional requests (RFC 9110 §13): `If-Match` guards a write, `If-None-Match` spares a
//! read its body. The tags themselves are made in [`crate::domain::etag`].

use axum::extract::FromRequestParts;
use axum::http::header::{IF_MATCH, IF_NONE_MATCH};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderName};

use super::format::Format;
use crate::auth::Caller;
use crate::domain::etag::{self, IfMatch, State};
use crate::error::{Error, Result};
use crate::query::Shape;

/// The header by which a client asks for Runledger's extensions of Coupa's API (`1`).
pub const EXTENSIONS_HEADER: &str = "x-runledger-extensions";

/// Whether a request asked for Runledger's extensions: `X-Runledger-Extensions: 1`.
pub fn extended(headers: &HeaderMap) -> bool {
    headers
        .get(EXTENSIONS_HEADER)
        .is_some_and(|value| value.as_bytes().trim_ascii() == b"1")
}

/// What a request says about the versions it has seen.
#[derive(Clone, Debug, Default)]
pub struct Conditions {
    pub if_match: Option<IfMatch>,
    /// Checked for its syntax when read; compared once the answer's tag is known.
    pub if_none_match: Option<String>,
    /// The caller is strict: a write of a stored record must carry `If-Match`.
    pub strict: bool,
    pub extended: bool,
}

impl Conditions {
    /// Reads the headers (a malformed tag list is a 400) and the strictness of the caller
    /// the gate admitted.
    pub fn read(headers: &HeaderMap, extensions: &Extensions) -> Result<Conditions> {
        let text = |name: HeaderName| -> Result<Option<&str>> {
            headers
                .get(&name)
                .map(|v| {
                    v.to_str()
                        .map_err(|_| Error::invalid(format!("{name} must be visible ASCII")))
                })
                .transpose()
        };
        let if_match = text(IF_MATCH)?.map(IfMatch::parse).transpose()?;
        let if_none_match = match text(IF_NONE_MATCH)? {
            Some(header) => {
                etag::none_match(header, "\"-\"")?;
                Some(header.to_owned())
            }
            None => None,
        };
        Ok(Conditions {
            if_match,
            if_none_match,
            strict: extensions
                .get::<Caller>()
                .is_some_and(|c| c.require_if_match),
            extended: extended(headers),
        })
    }

    /// The `If-Match` a write of a stored record goes by: a strict caller must send one (428).
    pub fn expect(&self) -> Result<Option<&IfMatch>> {
        match &self.if_match {
            None if self.strict => Err(Error::PreconditionRequired(
                "This client must send If-Match with the ETag of the record it changes".into(),
            )),
            found => Ok(found.as_ref()),
        }
    }

    /// The entity tag of the answer showing `state` in `format` and `shape`, when it has one:
    /// a shaped answer (`fields=`, `return_object=`) is not tagged.
    pub fn tag(&self, state: &State, format: Format, shape: &Shape) -> Option<String> {
        if *shape != Shape::default() {
            return None;
        }
        let variant = match (format, self.extended) {
            (Format::Json, false) => "j",
            (Format::Xml, false) => "x",
            (Format::Json, true) => "je",
            (Format::Xml, true) => "xe",
        };
        Some(state.tag(variant))
    }

    /// Whether a read may answer 304: `If-None-Match` names `tag`.
    pub fn not_modified(&self, tag: &str) -> bool {
        self.if_none_match
            .as_deref()
            .is_some_and(|header| etag::none_match(header, tag).unwrap_or(false))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Conditions {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Conditions::read(&parts.headers, &parts.extensions)
    }
}
