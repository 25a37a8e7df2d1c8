//! What a handler answers: a view ([`Node`]) with its status, in the negotiated format and
//! shape.

use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
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
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
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
