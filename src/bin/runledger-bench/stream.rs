//! The event stream's fan-out: listeners on `GET /api/events` that stay open while the
//! lifecycle load runs, each counting the events it receives.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, HOST, HeaderValue};
use hyper_util::rt::TokioIo;
use tokio::task::JoinHandle;

/// Open streams and what each has received.
pub struct Listeners {
    counts: Vec<Arc<AtomicU64>>,
    /// The bytes of the streams' bodies, all streams together.
    bytes: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<()>>,
}

impl Listeners {
    /// Opens `n` streams (each on a connection of its own) and waits until every one has
    /// been answered. With `integrations`, stream `i` hears only of integration
    /// `i % integrations + 1` (a filter of the query language); else of everything.
    pub async fn open(
        base: &str,
        authorization: &HeaderValue,
        n: usize,
        integrations: Option<usize>,
    ) -> Listeners {
        let address = base.trim_start_matches("http://").to_owned();
        let mut counts = Vec::with_capacity(n);
        let mut tasks = Vec::with_capacity(n);
        let bytes = Arc::new(AtomicU64::new(0));
        let (ready, mut answered) = tokio::sync::mpsc::channel::<()>(n.max(1));
        for i in 0..n {
            let count = Arc::new(AtomicU64::new(0));
            counts.push(count.clone());
            let (address, authorization, ready, total) = (
                address.clone(),
                authorization.clone(),
                ready.clone(),
                bytes.clone(),
            );
            let path = match integrations {
                Some(k) => format!("/api/events?integration_id={}", i % k + 1),
                None => "/api/events".to_owned(),
            };
            tasks.push(tokio::spawn(async move {
                listen(&address, &path, &authorization, (&count, &total), ready).await;
            }));
        }
        for _ in 0..n {
            answered.recv().await.expect("a stream was answered");
        }
        Listeners {
            counts,
            bytes,
            tasks,
        }
    }

    /// The events each stream has received.
    pub fn counts(&self) -> Vec<u64> {
        self.counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    /// The bytes received so far, all streams together.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Waits until the counts stop growing (the streams have caught up), at most `limit`;
    /// the counts then.
    pub async fn settle(&self, limit: Duration) -> Vec<u64> {
        let started = Instant::now();
        let mut last = self.counts();
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = self.counts();
            if now == last || started.elapsed() > limit {
                return now;
            }
            last = now;
        }
    }

    pub fn close(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

/// A frame as large as an event's (about 470 bytes), a `Bytes` chunk of many of them, and
/// the stack's ceiling for fan-out: `n` streams of that chunk sent as fast as the sockets
/// take it, from the same HTTP stack, on these cores, read as the listeners read events. In
/// MB/s, all streams together.
pub async fn byte_limit(base: &str, path: &str, n: usize, seconds: f64) -> f64 {
    let authorization = HeaderValue::from_static("none");
    let mut opened = Vec::with_capacity(n);
    let bytes = Arc::new(AtomicU64::new(0));
    let (ready, mut answered) = tokio::sync::mpsc::channel::<()>(n.max(1));
    let address = base.trim_start_matches("http://").to_owned();
    for _ in 0..n {
        let (address, path, authorization, ready, total) = (
            address.clone(),
            path.to_owned(),
            authorization.clone(),
            ready.clone(),
            bytes.clone(),
        );
        let count = Arc::new(AtomicU64::new(0));
        opened.push(tokio::spawn(async move {
            listen(&address, &path, &authorization, (&count, &total), ready).await;
        }));
    }
    for _ in 0..n {
        answered.recv().await.expect("a stream was answered");
    }
    let before = bytes.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let carried = bytes.load(Ordering::Relaxed) - before;
    for task in opened {
        task.abort();
    }
    carried as f64 / seconds / 1e6
}

/// What [`byte_limit`]'s server sends each stream, over and over: 128 frames the size of an
/// event's.
pub fn fixed_frames() -> Bytes {
    let data = format!("{{\"pad\":\"{}\"}}", "x".repeat(420));
    let frame = format!("id: 1\nevent: run\ndata: {data}\n\n");
    Bytes::from(frame.repeat(128))
}

/// One stream: counts the `id:` lines of the events it reads, and their bytes, until it is
/// aborted.
async fn listen(
    address: &str,
    path: &str,
    authorization: &HeaderValue,
    (count, bytes): (&AtomicU64, &AtomicU64),
    ready: tokio::sync::mpsc::Sender<()>,
) {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let request = Request::builder()
        .uri(path)
        .header(HOST, address)
        .header(ACCEPT, "text/event-stream")
        .header(AUTHORIZATION, authorization)
        .body(Empty::<Bytes>::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("answer");
    assert_eq!(response.status(), 200, "the event stream opens");
    let _ = ready.send(()).await;
    let mut body = response.into_body();
    // The last bytes of the previous chunk, so that an `id:` split between chunks is counted.
    let mut tail: Vec<u8> = Vec::new();
    let mut first = true;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        // The chunk is scanned where it lies (a copy of every byte would be the load
        // generator's cost, on the cores the server shares): only the 3 bytes each side of
        // the seam are joined.
        let mut seam = std::mem::take(&mut tail);
        seam.extend_from_slice(&data[..data.len().min(3)]);
        let found = data.windows(4).filter(|w| w == b"\nid:").count()
            + seam.windows(4).filter(|w| w == b"\nid:").count()
            + usize::from(first && data.starts_with(b"id:"));
        first = false;
        count.fetch_add(found as u64, Ordering::Relaxed);
        bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        tail = data[data.len().saturating_sub(3)..].to_vec();
    }
}
