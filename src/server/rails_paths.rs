//! Paths as Rails routes them: `/api/integration_runs.json`, `/api/integration_runs/1.xml`
//! and `/api/integration_runs/` reach the same routes as the bare path.
//!
//! Rails' `resources` routes end in an optional `(.:format)` that picks the response format
//! over `Accept`, and its router ignores a trailing slash; clients written against Coupa use
//! both. The rewrite runs before routing and before any other layer, so the route, the
//! negotiated format and the error body all see the request as if it had been sent bare,
//! with the `Accept` the suffix stands for.

use axum::http::header::ACCEPT;
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderValue, Request, Uri};

use crate::http::format::PathSuffix;

/// The format suffixes Rails would route here, and the `Accept` each stands for.
const SUFFIXES: [(&str, &str); 2] = [(".json", "application/json"), (".xml", "application/xml")];

/// Strips a trailing slash and a format suffix from an `/api/` path, and lets the suffix
/// decide the response format. Any other request passes unchanged.
pub fn normalize<B>(mut request: Request<B>) -> Request<B> {
    let path = request.uri().path();
    if !path.starts_with("/api/") {
        return request;
    }
    let bare = path.trim_end_matches('/');
    let (bare, suffix) = SUFFIXES
        .iter()
        .find_map(|&(suffix, accept)| {
            let stem = bare.strip_suffix(suffix)?;
            // `/api/integration_runs/.json` names no resource: leave it to the 404.
            (!stem.ends_with('/')).then_some((stem, Some((suffix, accept))))
        })
        .unwrap_or((bare, None));
    if bare.len() == path.len() {
        return request;
    }
    let rewritten = match request.uri().query() {
        Some(query) => format!("{bare}?{query}"),
        None => bare.to_owned(),
    };
    // The new path is a prefix of a path that parsed, so it parses too; should it not, the
    // request goes on as it came and meets the router's 404.
    let Ok(path_and_query) = PathAndQuery::try_from(rewritten) else {
        return request;
    };
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
    if let Some((suffix, accept)) = suffix {
        request
            .headers_mut()
            .insert(ACCEPT, HeaderValue::from_static(accept));
        request.extensions_mut().insert(PathSuffix(suffix));
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(target: &str, accept: Option<&str>) -> (String, Option<String>) {
        let mut builder = Request::builder().uri(target);
        if let Some(accept) = accept {
            builder = builder.header(ACCEPT, accept);
        }
        let request = normalize(builder.body(()).unwrap());
        let accept = request
            .headers()
            .get(ACCEPT)
            .map(|v| v.to_str().unwrap().to_owned());
        (request.uri().to_string(), accept)
    }

    #[test]
    fn a_format_suffix_picks_the_format_over_accept() {
        assert_eq!(
            rewrite(
                "/api/integration_runs.json?status=failed",
                Some("application/xml")
            ),
            (
                "/api/integration_runs?status=failed".to_owned(),
                Some("application/json".to_owned())
            )
        );
        assert_eq!(
            rewrite("/api/integration_runs/1.xml", None),
            (
                "/api/integration_runs/1".to_owned(),
                Some("application/xml".to_owned())
            )
        );
        assert_eq!(
            rewrite("/api/integration_runs/1/run.json", None).0,
            "/api/integration_runs/1/run"
        );
    }

    #[test]
    fn the_suffix_is_kept_for_links_that_lead_back() {
        let suffix = |target: &str| {
            let request = normalize(Request::builder().uri(target).body(()).unwrap());
            request.extensions().get::<PathSuffix>().copied()
        };
        assert_eq!(suffix("/api/integrations.xml/"), Some(PathSuffix(".xml")));
        assert_eq!(suffix("/api/integrations/"), None);
        assert_eq!(suffix("/api/integrations"), None);
    }

    #[test]
    fn a_trailing_slash_is_dropped() {
        assert_eq!(
            rewrite("/api/integration_runs/?limit=1", Some("application/json")),
            (
                "/api/integration_runs?limit=1".to_owned(),
                Some("application/json".to_owned())
            )
        );
        assert_eq!(
            rewrite("/api/integrations/7.json/", None).0,
            "/api/integrations/7"
        );
    }

    #[test]
    fn other_paths_and_suffixes_pass_unchanged() {
        assert_eq!(rewrite("/oauth2/token.json", None).0, "/oauth2/token.json");
        assert_eq!(
            rewrite("/api/integration_runs.csv", None).0,
            "/api/integration_runs.csv"
        );
        assert_eq!(
            rewrite("/api/integration_runs/.json", None).0,
            "/api/integration_runs/.json"
        );
        assert_eq!(
            rewrite("/api/integration_runs?x=a.json", None),
            ("/api/integration_runs?x=a.json".to_owned(), None)
        );
    }
}
