//! The accept loop, and the limits that only a connection can enforce: how many connections
//! are served at once, how large a request's head may be and how long a client may take to
//! send it. The limits that need a request (body size, request time) are in
//! [`crate::http::limits`]; all of them are set by [`Limits`].
//!
//! Connections are HTTP/1.1, served by hyper directly rather than through `axum::serve`,
//! which exposes neither a header-read timeout nor hyper's head size limit. The answers
//! hyper writes by itself, for a head it cannot read, get Coupa's error body from
//! [`refusals`].

mod rails_paths;
mod refusals;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use refusals::Refusals;

use crate::config::Limits;

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting, lets every
/// request in flight finish (each is bounded by the request timeout) and closes idle
/// connections.
///
/// Over `max_connections`, the loop stops accepting until a connection ends: new clients
/// wait in the kernel's listen backlog rather than being refused, so that a burst is served
/// late instead of failing. Since both the head and the request are timed, a connection
/// holds its slot for long only by sending requests, or by not reading its answers.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        // hyper buffers an incomplete head up to this size before refusing it: keep the
        // buffer to the limit, so that a head that never ends costs no more.
        .max_buf_size(limits.max_header_bytes.max(Limits::MIN_HEADER_BYTES));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        // The semaphore is never closed, so acquiring fails never.
        let Ok(slot) = slot else { break };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    backoff(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers are written whole; don't hold their last segment back for an ACK.
        let _ = stream.set_nodelay(true);
        // Rails' path conventions (`.json`, a trailing slash) apply before routing. As a plain
        // map here rather than a router layer, they cost a read nothing measurable; an outer
        // router with a middleware cost 9 % of the read rate (docs/benchmarks.md).
        let service = TowerToHyperService::new(router.clone().map_request(rails_paths::normalize));
        let io = TokioIo::new(Refusals::new(stream, limits.max_header_bytes));
        let connection = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // A client that hung up or was cut off: worth a trace, not an alarm.
                tracing::debug!(%peer, %error, "connection closed with an error");
            }
            drop(slot);
        });
    }
    // Closing the listener refuses new connections while the old ones finish.
    drop(listener);
    graceful.shutdown().await;
}

/// After a failed accept: a connection that died in the backlog is no reason to wait, but
/// running out of file descriptors is, or the loop would spin.
async fn backoff(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept connections; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
