//! What a handler answers: a view ([`Node`]) with its status, in the negotiated format and
//! shape.

use axum::http::header::{CONTENT_TYPE, ETAG};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::conditional::Conditions;
use super::format::Format;
use crate::domain::etag::State;
use crate::error::Error;
use crate::query::shape::{ReturnObject, Shape};
use crate::view::render::{Node, json, shape, xml_document};

/// What a handler answers: one record or a collection, in the negotiated format and shape.
pub struct Reply {
    status: StatusCode,
    format: Format,
    shape: Shape,
    body: Body,
    /// Headers of our own that the request asked for (a count, the next page), and the
    /// record's `ETag`.
    headers: HeaderMap,
    /// The entity tag of the record shown, also in `headers`.
    tag: Option<String>,
    /// The client has this representation already: 304, without the body.
    not_modified: bool,
}

enum Body {
    One {
        root: &'static str,
        node: Node,
    },
    Many {
        root: &'static str,
        item: &'static str,
        nodes: Vec<Node>,
    },
}

impl Reply {
    pub fn one(
        status: StatusCode,
        format: Format,
        shape: Shape,
        root: &'static str,
        node: Node,
    ) -> Reply {
        Reply {
            status,
            format,
            shape,
            body: Body::One { root, node },
            headers: HeaderMap::new(),
            tag: None,
            not_modified: false,
        }
    }

    /// Sends the entity tag of `state` for this representation (a write's answer: the
    /// record as it now is).
    pub fn tagged(mut self, state: &State, conditions: &Conditions) -> Reply {
        self.tag = conditions.tag(state, self.format, &self.shape);
        if let Some(value) = self
            .tag
            .as_deref()
            .and_then(|t| HeaderValue::from_str(t).ok())
        {
            self.headers.insert(ETAG, value);
        }
        self
    }

    /// As [`Reply::tagged`], for a read: a 304 when `If-None-Match` names the tag.
    pub fn cached(self, state: &State, conditions: &Conditions) -> Reply {
        let mut reply = self.tagged(state, conditions);
        reply.not_modified = reply
            .tag
            .as_deref()
            .is_some_and(|tag| conditions.not_modified(tag));
        reply
    }

    pub fn many(
        format: Format,
        shape: Shape,
        root: &'static str,
        item: &'static str,
        nodes: Vec<Node>,
    ) -> Reply {
        Reply {
            status: StatusCode::OK,
            format,
            shape,
            body: Body::Many { root, item, nodes },
            headers: HeaderMap::new(),
            tag: None,
            not_modified: false,
        }
    }

    /// The same answer with `headers` too, whatever its outcome (XML's 404 for no results
    /// included).
    pub fn with_headers(mut self, headers: HeaderMap) -> Reply {
        self.headers.extend(headers);
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(mut self) -> Response {
        let headers = std::mem::take(&mut self.headers);
        let mut response = self.body_response();
        response.headers_mut().extend(headers);
        response
    }
}

impl Reply {
    fn body_response(self) -> Response {
        if self.not_modified {
            return StatusCode::NOT_MODIFIED.into_response();
        }
        if self.shape.return_object == ReturnObject::None {
            return self.status.into_response();
        }
        let text = match (self.body, self.format) {
            (Body::Many { nodes, .. }, Format::Xml) if nodes.is_empty() => {
                return Error::NoResults.into_response();
            }
            (Body::One { root, node }, format) => {
                let node = shape(node, &self.shape);
                match format {
                    Format::Json => json(&node),
                    Format::Xml => xml_document(root, &node),
                }
            }
            (Body::Many { root, item, nodes }, format) => {
                let nodes = nodes.into_iter().map(|n| shape(n, &self.shape)).collect();
                let list = Node::List(item, nodes);
                match format {
                    Format::Json => json(&list),
                    Format::Xml => xml_document(root, &list),
                }
            }
        };
        (
            self.status,
            [(CONTENT_TYPE, self.format.content_type())],
            text,
        )
            .into_response()
    }
}
