//! Counting and cursor paging on an index (docs/api.md, "Counting and cursor paging"): what
//! an index handler reads from its request besides the format, and the headers its answer
//! carries. A client that asks for neither gets exactly Coupa's answer.
//!
//! - `Prefer: count=exact` (RFC 7240, PostgREST's spelling) → `X-Total-Count: <n>` and
//!   `Preference-Applied: count=exact`.
//! - `after=` / `after=<cursor>` → `Link: <…>; rel="next"` (RFC 8288) and `X-Next-Cursor`
//!   while more rows follow.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

use super::base_url;
use super::format::PathSuffix;
use crate::app::AppState;
use crate::error::Result;
use crate::query::Query;
use crate::query::cursor::{self, Page};
use crate::query::schema::Resource;

pub const X_TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");
pub const X_NEXT_CURSOR: HeaderName = HeaderName::from_static("x-next-cursor");
pub const PREFERENCE_APPLIED: HeaderName = HeaderName::from_static("preference-applied");

/// An index request: its query string, whether it asks for a count, and where its pages are.
pub struct Listing {
    raw: String,
    /// The URL of this index as the client reached it, without the query.
    url: String,
    count: bool,
}

impl FromRequestParts<AppState> for Listing {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Infallible> {
        let suffix = parts.extensions.get::<PathSuffix>().map_or("", |s| s.0);
        let base = base_url(app.public_url.as_deref(), &parts.headers);
        Ok(Listing {
            raw: parts.uri.query().unwrap_or_default().to_owned(),
            url: format!("{base}{}{suffix}", parts.uri.path()),
            count: wants_exact_count(&parts.headers),
        })
    }
}

impl Listing {
    /// The index query on `resource`, counted when the request asked.
    pub fn query(&self, resource: &'static Resource) -> Result<Query> {
        let mut query = Query::parse(resource, &self.raw)?;
        query.count = self.count;
        Ok(query)
    }

    /// [`Listing::query`] for a log, listed newest first unless the query orders it.
    pub fn query_newest_first(&self, resource: &'static Resource) -> Result<Query> {
        let mut query = Query::parse_newest_first(resource, &self.raw)?;
        query.count = self.count;
        Ok(query)
    }

    /// The headers of the answer with `page`: the count when asked for, the next page when
    /// the query pages by cursor and another page follows.
    pub fn headers<T>(&self, query: &Query, page: &Page<T>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(total) = page.total {
            headers.insert(X_TOTAL_COUNT, HeaderValue::from(total));
            headers.insert(PREFERENCE_APPLIED, HeaderValue::from_static("count=exact"));
        }
        if let Some(key) = &page.next {
            let cursor = cursor::encode(&query.order, key);
            let link = format!(
                "<{}?{}>; rel=\"next\"",
                self.url,
                cursor::next_query(&self.raw, &cursor)
            );
            // A public URL or Host that a header cannot carry loses the link, not the cursor.
            if let Ok(link) = HeaderValue::from_str(&link) {
                headers.insert(header::LINK, link);
            }
            if let Ok(cursor) = HeaderValue::from_str(&cursor) {
                headers.insert(X_NEXT_CURSOR, cursor);
            }
        }
        headers
    }
}

/// Whether the request's `Prefer` headers hold the preference `count=exact` (RFC 7240: a
/// comma-separated list in any number of headers, names without case, a value plain or
/// quoted, parameters after `;`). Other preferences, and other counts, are not ours to apply.
pub fn wants_exact_count(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|preference| {
            let preference = preference.split(';').next().unwrap_or_default();
            let (name, value) = preference.split_once('=').unwrap_or((preference, ""));
            name.trim().eq_ignore_ascii_case("count") && value.trim().trim_matches('"') == "exact"
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefer(values: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("prefer", HeaderValue::from_str(value).unwrap());
        }
        wants_exact_count(&headers)
    }

    #[test]
    fn count_exact_is_found_among_any_preferences_in_any_header() {
        assert!(prefer(&["count=exact"]));
        assert!(prefer(&["return=minimal, Count = \"exact\" ; x=y"]));
        assert!(prefer(&["respond-async", "COUNT=exact"]));
        assert!(!prefer(&[]));
        assert!(!prefer(&["count=estimated"]));
        assert!(!prefer(&["count=EXACT"]));
        assert!(!prefer(&["count"]));
        assert!(!prefer(&["x-count=exact"]));
    }
}
