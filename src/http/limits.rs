//! The limits enforced on a request once it exists: the time it may take and the size of its
//! body. Both answer with messages that name the limit, which [`super::error::render`]
//! (around this middleware) writes in Coupa's format.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, SizeHint};

use super::error::ErrorMessages;
use crate::config::Limits;

/// Answers a request that outlives `request_timeout`, and names the body limit in a 413.
///
/// A request cut off while its body is still arriving is the client's slowness: 408, and the
/// connection closes. One cut off after its body arrived is the server's: 503. The handler
/// is dropped either way, but a write it had handed to the store may still be applied: a
/// client should read before retrying a write that timed out.
pub async fn enforce(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let received = Arc::new(AtomicBool::new(body.is_end_stream()));
    let body = Body::new(Watched {
        inner: body,
        received: received.clone(),
    });
    let running = next.run(Request::from_parts(parts, body));
    let Ok(mut response) = tokio::time::timeout(limits.request_timeout, running).await else {
        let limit = seconds(limits.request_timeout);
        if received.load(Ordering::Acquire) {
            let message = format!("The request took longer than the limit of {limit}");
            return refusal(StatusCode::SERVICE_UNAVAILABLE, message);
        }
        let message = format!("The request was not received in full within the limit of {limit}");
        let mut response = refusal(StatusCode::REQUEST_TIMEOUT, message);
        // The rest of the body may still be on its way: this connection cannot carry another.
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        return response;
    };
    let unexplained = response.extensions().get::<ErrorMessages>().is_none();
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && unexplained {
        let limit = bytes(limits.max_body_bytes);
        let message = format!("The request body is larger than the limit of {limit}");
        response
            .extensions_mut()
            .insert(ErrorMessages(vec![message]));
    }
    response
}

fn refusal(status: StatusCode, message: String) -> Response {
    let mut response = status.into_response();
    response
        .extensions_mut()
        .insert(ErrorMessages(vec![message]));
    response
}

/// A request body that says when it has been received to its end.
struct Watched {
    inner: Body,
    received: Arc<AtomicBool>,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.received.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `30 s`, `0.5 s`.
pub fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// `1 MiB`, `16 KiB`, `1000 bytes`.
pub fn bytes(n: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    match n {
        0 => "0 bytes".to_owned(),
        n if n % MIB == 0 => format!("{} MiB", n / MIB),
        n if n % KIB == 0 => format!("{} KiB", n / KIB),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_limits_as_people_write_them() {
        assert_eq!(bytes(1024 * 1024), "1 MiB");
        assert_eq!(bytes(16 * 1024), "16 KiB");
        assert_eq!(bytes(1000), "1000 bytes");
        assert_eq!(seconds(Duration::from_secs(30)), "30 s");
        assert_eq!(seconds(Duration::from_millis(500)), "0.5 s");
    }
}
