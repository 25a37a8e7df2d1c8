//! Content negotiation (spec §2.1): the response format from `Accept`, the request body by
//! `Content-Type`.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, request::Parts};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::xml;
use crate::domain::text;
use crate::error::Error;

/// The format suffix (`.json`, `.xml`) that a request's path carried before routing took it
/// off (`crate::server`'s Rails paths), for links that lead back to the same format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathSuffix(pub &'static str);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// The format `Accept` prefers: JSON only when asked for, XML otherwise (Coupa's default).
    pub fn negotiate(headers: &HeaderMap) -> Format {
        Format::negotiate_or(headers, Format::Xml)
    }

    /// The format `Accept` prefers, and `fallback` when it prefers none (no `Accept`, `*/*`,
    /// types we do not serve): JSON for the OpenLineage routes, whose clients speak JSON.
    pub fn negotiate_or(headers: &HeaderMap, fallback: Format) -> Format {
        let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) else {
            return fallback;
        };
        let mut best: Option<(f32, Format)> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let format = if media.ends_with("/json") || media.ends_with("+json") {
                Format::Json
            } else if media.ends_with("/xml") || media.ends_with("+xml") {
                Format::Xml
            } else if media.ends_with("/*") {
                fallback
            } else {
                continue;
            };
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, format));
            }
        }
        best.map_or(fallback, |(_, f)| f)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "application/xml; charset=utf-8",
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Format {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Format::negotiate(&parts.headers))
    }
}

/// A request body as an object, whatever its format. An empty body is an empty object.
#[derive(Debug, Default)]
pub struct Payload(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Payload {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("unreadable").to_owned());
        // Over the body limit, this is axum's 413, which the error renderer dresses.
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        parse(content_type.as_deref(), &body)
            .map(Payload)
            .map_err(IntoResponse::into_response)
    }
}

/// The media type of a `Content-Type` value, lowercased, without its parameters.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The object a request body holds, read by its `Content-Type` (sniffed when there is none).
/// Public for the fuzz targets, which reach it without an HTTP request.
///
/// Every body of every resource passes here, so this is where text XML cannot carry is
/// refused (spec §2.4): anywhere in the body, keys included, read by the resource or not, so
/// that no resource can store it and a client learns of it whichever field holds it.
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Map<String, Value>, Error> {
    let map = read(content_type, body)?;
    let unshowable = text::unshowable_in_body(&map);
    if unshowable.is_empty() {
        Ok(map)
    } else {
        Err(Error::Invalid(unshowable))
    }
}

fn read(content_type: Option<&str>, body: &[u8]) -> Result<Map<String, Value>, Error> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let Some(&first) = first else {
        return Ok(Map::new());
    };
    let essence = content_type.map(essence);
    let is_json = match essence.as_deref() {
        Some(t) if t.ends_with("/json") || t.ends_with("+json") => true,
        Some(t) if t.ends_with("/xml") || t.ends_with("+xml") => false,
        // Without a Content-Type, the body says what it is.
        None => first != b'<',
        Some(other) => {
            return Err(Error::UnsupportedMediaType(format!(
                "Unsupported content type '{other}': send application/json or application/xml"
            )));
        }
    };
    if !is_json {
        return xml::parse(body);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::invalid("The JSON body must be an object")),
        Err(e) => Err(Error::invalid(format!(
            "Invalid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(value: &str) -> Format {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_str(value).unwrap());
        Format::negotiate(&headers)
    }

    #[test]
    fn negotiates_json_only_when_asked() {
        assert_eq!(Format::negotiate(&HeaderMap::new()), Format::Xml);
        assert_eq!(accept("application/json"), Format::Json);
        assert_eq!(accept("application/xml"), Format::Xml);
        assert_eq!(accept("text/xml"), Format::Xml);
        assert_eq!(accept("*/*"), Format::Xml);
        assert_eq!(accept("text/html"), Format::Xml);
        assert_eq!(
            accept("application/xml;q=0.5, application/json"),
            Format::Json
        );
        assert_eq!(
            accept("application/json;q=0.2, application/xml;q=0.9"),
            Format::Xml
        );
        assert_eq!(accept("application/vnd.api+json"), Format::Json);
    }

    #[test]
    fn parses_bodies_by_content_type() {
        assert_eq!(
            parse(Some("application/json"), br#"{"a":1}"#).unwrap()["a"],
            1
        );
        assert_eq!(
            parse(Some("text/xml; charset=utf-8"), b"<r><a>1</a></r>").unwrap()["a"],
            "1"
        );
        assert_eq!(parse(None, b"<r><a>1</a></r>").unwrap()["a"], "1");
        assert!(parse(None, b"  ").unwrap().is_empty());
        assert!(matches!(
            parse(Some("application/x-www-form-urlencoded"), b"a=1"),
            Err(Error::UnsupportedMediaType(_))
        ));
        assert!(
            parse(Some("application/json"), b"[1]")
                .unwrap_err()
                .to_string()
                .contains("object")
        );
        assert!(
            parse(Some("application/json"), b"{\n\"a\":}")
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
    }

    #[test]
    fn refuses_text_xml_cannot_carry_in_either_format() {
        let refused = |content_type, body: &str| match parse(Some(content_type), body.as_bytes()) {
            Err(Error::Invalid(messages)) => messages,
            other => panic!("{other:?}"),
        };
        let json = refused(
            "application/json",
            r#"{"flow":{"steps":["a","\u001b[0m"]}}"#,
        );
        assert_eq!(json.len(), 1);
        assert!(json[0].starts_with("Steps (flow.steps[1]) contains U+001B at character 1"));
        for xml in [
            "<r><response-message>ok&#x1b;</response-message></r>",
            "<r><response-message>ok\u{1b}</response-message></r>",
        ] {
            assert!(
                refused("application/xml", xml)[0]
                    .starts_with("Response message contains U+001B at character 3")
            );
        }
        assert!(
            refused("application/json", "{\"unknown\":\"\\u0000\"}")[0]
                .starts_with("Unknown contains U+0000")
        );
    }
}
