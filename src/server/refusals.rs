//! Coupa's error body on the answers hyper writes by itself.
//!
//! A request whose head hyper cannot parse (a raw `"`, `<` or `>` in the query, as `curl -g`
//! sends it; a malformed header) or whose head is over `--max-header-bytes` never reaches
//! the router: hyper answers `400`, `414` or `431` with an empty body and closes. hyper has
//! no hook for these answers, so this wrapper around the connection's socket recognises them
//! on their way out and writes the same status with an XML `<errors>` body instead (XML, as
//! no `Accept` header could be read).
//!
//! What it recognises is narrow, and no router answer can match it: one write that is a
//! whole response head and nothing more, with a status hyper writes for a parse error, no
//! `x-request-id` (every router answer carries one) and `content-length: 0`, and only the
//! headers hyper adds itself. hyper writes such an answer in one piece, as the last thing on
//! the connection; should it ever split one, that answer goes out as hyper wrote it.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::view::render::{Node, xml_document};

/// The statuses of hyper's automatic answers (`on_error` in hyper's `proto/h1/role.rs`).
const STATUSES: [&str; 3] = ["400", "414", "431"];

/// The only headers hyper puts on them.
const HYPER_HEADERS: [&str; 3] = ["connection", "content-length", "date"];

/// More than such a head takes (about 110 bytes), so that a long write is passed at a glance.
const MAX_HEAD: usize = 256;

/// A connection's socket that gives hyper's own refusals Coupa's error body.
pub struct Refusals<S> {
    inner: S,
    /// The head limit, named in the 431's message.
    max_header_bytes: usize,
    /// A replacement answer, and how much of it the socket has taken.
    pending: Vec<u8>,
    written: usize,
}

impl<S> Refusals<S> {
    pub fn new(inner: S, max_header_bytes: usize) -> Self {
        Refusals {
            inner,
            max_header_bytes,
            pending: Vec::new(),
            written: 0,
        }
    }
}

impl<S: AsyncWrite + Unpin> Refusals<S> {
    /// Writes what is left of a replacement answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `head` in place of hyper's answer, if it is one, and reports it written.
    fn poll_replace(
        &mut self,
        cx: &mut Context<'_>,
        head: &[u8],
    ) -> Option<Poll<io::Result<usize>>> {
        let answer = replacement(head, self.max_header_bytes)?;
        self.pending = answer;
        self.written = 0;
        // The answer is ours to deliver now: what the socket does not take yet goes out on
        // the flush (or shutdown) that hyper always follows a write with.
        Some(match self.poll_pending(cx) {
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            _ => Poll::Ready(Ok(head.len())),
        })
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Refusals<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Refusals<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(done) = self.poll_replace(cx, buf) {
            return done;
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        // hyper writes vectored when the socket can: a bodiless answer is one slice.
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next()) {
            if let Some(done) = self.poll_replace(cx, only) {
                return done;
            }
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The answer to write instead of `head`, if `head` is one of hyper's bodiless refusals:
/// its status line and headers, with a body in Coupa's XML error format.
fn replacement(head: &[u8], max_header_bytes: usize) -> Option<Vec<u8>> {
    if head.len() > MAX_HEAD || !head.starts_with(b"HTTP/1.1 4") {
        return None;
    }
    let head = std::str::from_utf8(head).ok()?;
    let lines = head.strip_suffix("\r\n\r\n")?;
    let mut lines = lines.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    if !STATUSES.contains(&status) {
        return None;
    }
    let mut kept = Vec::new();
    let mut empty_body = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let name = name.to_ascii_lowercase();
        if !HYPER_HEADERS.contains(&name.as_str()) {
            // Anything else (an `x-request-id`, a `content-type`) is the router's answer.
            return None;
        }
        if name == "content-length" {
            empty_body = value.trim() == "0";
        } else {
            kept.push(line);
        }
    }
    if !empty_body {
        return None;
    }
    let body = xml_document(
        "errors",
        &Node::Object(vec![(
            "error",
            Node::Text(message(status, max_header_bytes)),
        )]),
    );
    let mut answer = format!("{status_line}\r\n");
    for line in kept {
        answer.push_str(line);
        answer.push_str("\r\n");
    }
    answer.push_str("content-type: application/xml; charset=utf-8\r\n");
    answer.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    answer.push_str(&body);
    Some(answer.into_bytes())
}

/// What went wrong, and what to do about it.
fn message(status: &str, max_header_bytes: usize) -> String {
    match status {
        "431" => format!(
            "The request's head is too large: its request line and headers must fit in \
             {max_header_bytes} bytes and 100 headers (the server's --max-header-bytes). Send \
             a shorter URL, such as a long id[in] list split over several requests, or fewer \
             headers"
        ),
        "414" => "The URL is too long: send a shorter one, such as a long id[in] list split \
                  over several requests"
            .to_owned(),
        _ => "The request could not be read: its request line or a header is malformed. \
              Percent-encode \", <, > and ` in the URL (%22, %3C, %3E, %60); with curl, send \
              query values with -G --data-urlencode rather than -g"
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const HYPER_400: &str = "HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\
                             content-length: 0\r\ndate: Tue, 01 Dec 2026 11:50:35 GMT\r\n\r\n";

    fn split(answer: &[u8]) -> (String, String) {
        let text = String::from_utf8(answer.to_vec()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        (head.to_owned(), body.to_owned())
    }

    #[test]
    fn hyper_s_bodiless_refusal_gets_an_xml_errors_body() {
        let answer = replacement(HYPER_400.as_bytes(), 16384).unwrap();
        let (head, body) = split(&answer);
        assert_eq!(
            head,
            format!(
                "HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\
                 date: Tue, 01 Dec 2026 11:50:35 GMT\r\n\
                 content-type: application/xml; charset=utf-8\r\ncontent-length: {}",
                body.len()
            )
        );
        // The API test (`limits::a_raw_quote_or_angle_bracket_in_the_url_is_a_400…`) reads it
        // back with the XML parser; here, its shape and its words as written.
        assert!(
            body.starts_with("<?xml") && body.contains("<errors>\n  <error>"),
            "{body}"
        );
        assert!(body.contains("Percent-encode \", &lt;, &gt;"), "{body}");

        let too_large = HYPER_400.replace("400 Bad Request", "431 Request Header Fields Too Large");
        let (_, body) = split(&replacement(too_large.as_bytes(), 8192).unwrap());
        assert!(body.contains("fit in 8192 bytes"), "{body}");
    }

    #[test]
    fn a_router_answer_or_anything_but_a_whole_bodiless_head_is_left_alone() {
        let with_id = HYPER_400.replace("\r\n\r\n", "\r\nx-request-id: 7\r\n\r\n");
        let typed = HYPER_400.replace("\r\n\r\n", "\r\ncontent-type: text/plain\r\n\r\n");
        let with_body = HYPER_400.replace("content-length: 0", "content-length: 2") + "{}";
        let not_an_error = HYPER_400.replace("400 Bad Request", "200 OK");
        let partial = &HYPER_400[..HYPER_400.len() - 2];
        let later = format!("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n{HYPER_400}");
        let long = HYPER_400.replace("close", &"close".repeat(60));
        for head in [
            &with_id,
            &typed,
            &with_body,
            &not_an_error,
            partial,
            &later,
            &long,
        ] {
            assert_eq!(replacement(head.as_bytes(), 16384), None, "{head}");
        }
    }

    #[tokio::test]
    async fn the_wrapper_writes_the_replacement_whole_through_a_narrow_socket() {
        // A pipe that takes 16 bytes at a time, so the answer needs many writes.
        let (near, mut far) = tokio::io::duplex(16);
        let mut socket = Refusals::new(near, 16384);
        let reader = tokio::spawn(async move {
            let mut received = Vec::new();
            far.read_to_end(&mut received).await.unwrap();
            received
        });
        socket.write_all(HYPER_400.as_bytes()).await.unwrap();
        socket.shutdown().await.unwrap();
        let received = reader.await.unwrap();
        assert_eq!(received, replacement(HYPER_400.as_bytes(), 16384).unwrap());
    }

    #[tokio::test]
    async fn other_writes_pass_through_unchanged() {
        let (near, mut far) = tokio::io::duplex(1024);
        let mut socket = Refusals::new(near, 16384);
        let answer = "HTTP/1.1 404 Not Found\r\nx-request-id: 1\r\ncontent-length: 0\r\n\r\n";
        socket.write_all(answer.as_bytes()).await.unwrap();
        let vectored = [
            IoSlice::new(b"HTTP/1.1 200 OK\r\n\r\n"),
            IoSlice::new(b"body"),
        ];
        let n = socket.write_vectored(&vectored).await.unwrap();
        socket.shutdown().await.unwrap();
        let mut received = Vec::new();
        far.read_to_end(&mut received).await.unwrap();
        let expected = format!("{answer}HTTP/1.1 200 OK\r\n\r\nbody");
        assert_eq!(
            String::from_utf8(received).unwrap(),
            expected[..answer.len() + n]
        );
    }
}
