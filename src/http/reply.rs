//! What a handler answers: a view ([`Node`]) with its status, in the negotiated format and
//! shape.

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::format::Format;
use crate::error::Error;
use crate::query::shape::{ReturnObject, Shape};
use crate::view::render::{Node, json, shape, xml_document};

/// What a handler answers: one record or a collection, in the negotiated format and shape.
pub struct Reply {
    status: StatusCode,
    format: Format,
    shape: Shape,
    body: Body,
    /// Headers of our own that the request asked for (a count, the next page).
    headers: HeaderMap,
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
        }
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
