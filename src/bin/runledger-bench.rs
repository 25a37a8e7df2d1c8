//! `runledger-bench`: how fast Runledger records and answers, on this machine, against the
//! machine's own limits. See docs/benchmarks.md.
//!
//! It seeds a fresh database, starts the release `runledger serve` beside this binary as a
//! child process, drives it with a closed-loop async load generator, and measures in the same
//! run the bare HTTP stack (a fixed answer) and the database driver's synced single-row
//! commits. The generator and the server share the machine's cores, so the generator is kept
//! lean: one keep-alive connection per worker on hyper's connection API, no pool, no redirects,
//! no per-request client machinery.
//!
//! Usage: `cargo run --release --bin runledger-bench -- [--runs N] [--seconds S]
//! [--database postgres://…]` (SQLite in a temporary directory by default).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use runledger::query::cursor::Key;
use runledger::query::schema::RUNS;
use runledger::query::{Bind, Order};
use serde_json::{Value, json};

#[path = "runledger-bench/commits.rs"]
mod commits;
#[path = "runledger-bench/stream.rs"]
mod stream;
#[path = "runledger-bench/sweeper.rs"]
mod sweeper;

/// Request kinds of a lifecycle, for per-kind latencies.
const KINDS: [&str; 5] = ["create", "run", "progress", "finish", "error"];

struct Args {
    runs: u64,
    seconds: f64,
    /// Monitors the sweeper phase watches (the seeded integrations' and more).
    monitors: usize,
    /// Event-stream listeners open during the fan-out phase.
    listeners: usize,
    database: Option<String>,
}

fn args() -> Args {
    let mut args = Args {
        runs: 1_000_000,
        seconds: 10.0,
        monitors: 10_000,
        listeners: 1000,
        database: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--runs" => args.runs = value.parse().unwrap_or(args.runs),
            "--seconds" => args.seconds = value.parse().unwrap_or(args.seconds),
            "--monitors" => args.monitors = value.parse().unwrap_or(args.monitors),
            "--listeners" => args.listeners = value.parse().unwrap_or(args.listeners),
            "--database" => args.database = Some(value),
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    args
}

/// The `runledger serve` child, killed when dropped.
struct Server {
    child: Child,
    base: String,
    client_id: String,
    secret: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(database: &str) -> Server {
    let exe = std::env::current_exe()
        .expect("own path")
        .with_file_name("runledger");
    let mut child = Command::new(exe)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--rate-limit",
            "off",
            // Room for the event stream's listeners beside the load's connections.
            "--max-connections",
            "4096",
            "--log",
            "warn",
            "--database",
            database,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("runledger serve starts (build it with cargo build --release first)");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let (mut client_id, mut secret) = (String::new(), String::new());
    for line in stdout.lines() {
        let line = line.expect("stdout line");
        if let Some(v) = line.strip_prefix("client_id=") {
            client_id = v.to_owned();
        } else if let Some(v) = line.strip_prefix("client_secret=") {
            secret = v.to_owned();
        } else if let Some(address) = line.strip_prefix("runledger listening on ") {
            return Server {
                child,
                base: address.to_owned(),
                client_id,
                secret,
            };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("runledger serve ended before listening");
}

/// Peak resident memory of a process, from /proc (Linux), in MiB.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU time a process has used (user and system), from /proc (Linux), in seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command's name, which ends with the last ')': utime and stime
    // are the 12th and 13th, in clock ticks (100 a second on Linux).
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / 100.0)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index] as f64 / 1000.0
}

/// The cursor (`after=`) of the page after the run `id` whose value of `field` is `value`.
fn cursor(field: &str, descending: bool, value: Bind, id: i64) -> String {
    let order = Order {
        field: RUNS.field(field).expect("a field of runs"),
        descending,
    };
    let key = Key {
        value: Some(value),
        id,
    };
    runledger::query::cursor::encode(&order, &key)
}

/// One keep-alive HTTP/1.1 connection to a server, with the headers every request carries.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
    authorization: Option<HeaderValue>,
    /// `Prefer: count=exact` on every request, for the counted queries.
    prefer: Option<HeaderValue>,
}

impl Conn {
    async fn open(base: &str, authorization: Option<&HeaderValue>) -> Conn {
        let address = base.trim_start_matches("http://");
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        Conn {
            sender,
            host: HeaderValue::from_str(address).expect("host"),
            authorization: authorization.cloned(),
            prefer: None,
        }
    }

    /// Sends one request and reads the whole answer: status, body, microseconds taken.
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        content_type: &'static str,
        body: Option<String>,
    ) -> (u16, Bytes, u64) {
        self.send_keyed(method, path, content_type, body, None)
            .await
    }

    /// [`Conn::send`] with an `Idempotency-Key`, when given.
    async fn send_keyed(
        &mut self,
        method: Method,
        path: &str,
        content_type: &'static str,
        body: Option<String>,
        key: Option<String>,
    ) -> (u16, Bytes, u64) {
        let started = Instant::now();
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.host)
            .header(ACCEPT, "application/json");
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        if let Some(prefer) = &self.prefer {
            request = request.header("prefer", prefer);
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        if body.is_some() {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .expect("request");
        self.sender.ready().await.expect("connection ready");
        let response = self.sender.send_request(request).await.expect("answer");
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, bytes, started.elapsed().as_micros() as u64)
    }

    /// A JSON request, with an `Idempotency-Key` when given; the answer's body parsed.
    async fn json(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
        key: Option<String>,
    ) -> (u16, Value, u64) {
        let body = body.map(|b| b.to_string());
        let (status, bytes, micros) = self
            .send_keyed(method, path, "application/json", body, key)
            .await;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value, micros)
    }
}

/// One request of a lifecycle: it must answer `expected`; its latency is filed under `kind`
/// (one of [`KINDS`]). With `key`, a POST or status action carries an `Idempotency-Key` made
/// of it and the kind. Returns the answer's body.
async fn step(
    conn: &mut Conn,
    latencies: &mut [Vec<u64>],
    kind: &str,
    (method, path, body): (Method, &str, Option<Value>),
    expected: u16,
    key: Option<&str>,
) -> Value {
    let keyed = method == Method::POST || kind == "run" || kind == "finish";
    let key = key.filter(|_| keyed).map(|key| format!("{key}-{kind}"));
    let (status, answer, micros) = conn.json(method, path, body, key).await;
    assert_eq!(status, expected, "{kind} {path}: {answer}");
    let index = KINDS.iter().position(|k| *k == kind).expect("a known kind");
    latencies[index].push(micros);
    answer
}

/// One closed-loop worker: lifecycles until `stop`; latencies per kind, in microseconds.
/// `keyed` names a series of lifecycles whose POSTs and status actions carry idempotency keys
/// (unique per request).
async fn lifecycles(
    mut conn: Conn,
    worker: u64,
    stop: Arc<AtomicBool>,
    keyed: Option<&'static str>,
) -> (u64, Vec<Vec<u64>>) {
    let mut latencies = vec![Vec::new(); KINDS.len()];
    let lat = &mut latencies;
    let mut done = 0;
    let runs = "/api/integration_runs";
    while !stop.load(Ordering::Relaxed) {
        let key = keyed.map(|series| format!("{series}-{worker}-{done}"));
        let key = key.as_deref();
        let code = format!("SEED_{:03}", (worker + done) % 50 + 1);
        let create = (
            Method::POST,
            runs,
            Some(json!({"integration": {"code": code}})),
        );
        let run = step(&mut conn, lat, "create", create, 201, key).await;
        let id = run["id"].as_i64().expect("id");
        let path = format!("{runs}/{id}/run");
        let body = Some(json!({"total-records": 100}));
        step(&mut conn, lat, "run", (Method::PUT, &path, body), 200, key).await;
        let path = format!("{runs}/{id}");
        let body = Some(json!({"records-processed": 100}));
        step(
            &mut conn,
            lat,
            "progress",
            (Method::PATCH, &path, body),
            200,
            key,
        )
        .await;
        let finish = if (worker + done) % 10 == 0 {
            let error = json!({"integration-run": {"id": id}, "contact-alert-type": "Technical",
                               "document-type": "OrderHeader", "document-id": id});
            let file = (Method::POST, "/api/integration_errors", Some(error));
            step(&mut conn, lat, "error", file, 201, key).await;
            format!("{runs}/{id}/fail")
        } else {
            format!("{runs}/{id}/success")
        };
        step(
            &mut conn,
            lat,
            "finish",
            (Method::PUT, &finish, None),
            200,
            key,
        )
        .await;
        done += 1;
    }
    (done, latencies)
}

/// Lifecycles per second from `concurrency` closed-loop workers for `seconds`, and their
/// latencies per kind; `keyed` names a series of idempotency keys to send.
async fn lifecycle_load(
    base: &str,
    bearer: &HeaderValue,
    concurrency: u64,
    seconds: f64,
    keyed: Option<&'static str>,
) -> (f64, Vec<Vec<u64>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let conn = Conn::open(base, Some(bearer)).await;
        workers.push(tokio::spawn(lifecycles(conn, w, stop.clone(), keyed)));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    let mut latencies = vec![Vec::new(); KINDS.len()];
    for worker in workers {
        let (done, lat) = worker.await.expect("worker");
        total += done;
        for (all, more) in latencies.iter_mut().zip(lat) {
            all.extend(more);
        }
    }
    (total as f64 / started.elapsed().as_secs_f64(), latencies)
}

/// Requests per second of GET `base``path` from `concurrency` closed-loop connections for
/// `seconds`; every answer must be a 200.
async fn rate(
    base: &str,
    path: &str,
    authorization: Option<&HeaderValue>,
    concurrency: usize,
    seconds: f64,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let mut conn = Conn::open(base, authorization).await;
        let stop = stop.clone();
        let path = path.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let (status, _, _) = conn.send(Method::GET, &path, "", None).await;
                assert_eq!(status, 200);
                n += 1;
            }
            n
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("task");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(args));
}

async fn run(args: Args) {
    let dir = std::env::temp_dir().join(format!("runledger-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "runledger-bench: {} runs, {} s per load phase, {cores} cores shared by the load generator and the server",
        args.runs, args.seconds
    );
    println!("database: {}", runledger::store::redact(&database));

    // 1. Seed.
    let store = runledger::store::open(&database, 4)
        .await
        .expect("database opens");
    let seeded = runledger::seeder::seed(store.as_ref(), args.runs, 50, 1)
        .await
        .expect("seeding");
    println!(
        "\n1. seed: {} runs ({} with errors) in {:.1} s = {:.0} runs/s",
        seeded.runs,
        seeded.errors,
        seeded.elapsed.as_secs_f64(),
        seeded.runs_per_second()
    );
    drop(store);

    let server = start_server(&database);
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        server.client_id, server.secret
    );
    let (_, token, _) = Conn::open(&server.base, None)
        .await
        .send(
            Method::POST,
            "/oauth2/token",
            "application/x-www-form-urlencoded",
            Some(form),
        )
        .await;
    let token: Value = serde_json::from_slice(&token).expect("token JSON");
    let bearer = format!(
        "Bearer {}",
        token["access_token"]
            .as_str()
            .expect("a first-start client (use a fresh database)")
    );
    let bearer = HeaderValue::from_str(&bearer).expect("header");

    // 2. Lifecycles.
    println!(
        "\n2. lifecycle load (create, run, records-processed, success | error + fail on 10 %)"
    );
    let mut best = 0.0f64;
    for concurrency in [1u64, 8, 32] {
        let (per_second, mut latencies) =
            lifecycle_load(&server.base, &bearer, concurrency, args.seconds, None).await;
        best = best.max(per_second);
        print!("   concurrency {concurrency:>2}: {per_second:>7.0} lifecycles/s  ");
        for (kind, lat) in KINDS.iter().zip(latencies.iter_mut()) {
            lat.sort_unstable();
            print!(
                " {kind} p50 {:.1}/p99 {:.1} ms",
                percentile(lat, 0.5),
                percentile(lat, 0.99)
            );
        }
        println!();
    }
    // The same load with the event stream's listeners open: what fan-out costs the writers,
    // and whether every listener got every event.
    // Each against the same load without listeners, run just before it, twice over: the
    // machine's speed drifts more between phases than within a pair.
    let mut every_event_mb = None;
    if args.listeners > 0 {
        for (integrations, what) in [
            (None, "every event"),
            (Some(50), "one integration's events"),
        ] {
            let (mut without, mut with, mut carried) = (0.0, 0.0, 0.0);
            let mut received = Vec::new();
            for _round in 0..2 {
                let (alone, _) =
                    lifecycle_load(&server.base, &bearer, 32, args.seconds, None).await;
                let listeners =
                    stream::Listeners::open(&server.base, &bearer, args.listeners, integrations)
                        .await;
                let before = listeners.bytes();
                let (beside, _) =
                    lifecycle_load(&server.base, &bearer, 32, args.seconds, None).await;
                carried += (listeners.bytes() - before) as f64 / args.seconds / 1e6 / 2.0;
                received = listeners.settle(Duration::from_secs(30)).await;
                listeners.close();
                without += alone / 2.0;
                with += beside / 2.0;
            }
            if integrations.is_none() {
                every_event_mb = Some(carried);
            }
            let (low, high) = (received.iter().min(), received.iter().max());
            println!(
                "   concurrency 32 with {} event-stream listeners ({what} each; 2 rounds, each after the same load without): {with:>7.0} lifecycles/s against {without:.0} = {:.1} % of the rate without; each listener of the last round received {} to {} events; the streams carried {carried:.0} MB/s while the load ran",
                received.len(),
                with / without * 100.0,
                low.copied().unwrap_or(0),
                high.copied().unwrap_or(0)
            );
        }
    }
    // The cost of idempotency keys (issue 15): the same load with and without a key on every
    // POST and status action, alternated twice so that both see the same machine.
    // The server's CPU per lifecycle too: unlike the rate, it does not depend on what else
    // the machine runs.
    let pid = server.child.id();
    let (mut plain, mut keyed, mut plain_cpu, mut keyed_cpu) = (0.0, 0.0, 0.0, 0.0);
    for series in ["a", "b"] {
        for keys in [None, Some(series)] {
            let (cpu, started) = (cpu_seconds(pid).unwrap_or(0.0), Instant::now());
            let (rate, _) = lifecycle_load(&server.base, &bearer, 32, args.seconds, keys).await;
            let lifecycles = rate * started.elapsed().as_secs_f64();
            let cpu_ms = (cpu_seconds(pid).unwrap_or(0.0) - cpu) * 1000.0 / lifecycles.max(1.0);
            let label = if keys.is_some() { "with" } else { "without" };
            println!(
                "   idempotency keys, round {series}, {label}: {rate:.0} lifecycles/s, server CPU {cpu_ms:.3} ms a lifecycle"
            );
            if keys.is_some() {
                (keyed, keyed_cpu) = (keyed + rate / 2.0, keyed_cpu + cpu_ms / 2.0);
            } else {
                (plain, plain_cpu) = (plain + rate / 2.0, plain_cpu + cpu_ms / 2.0);
            }
        }
    }
    println!(
        "   idempotency keys on every POST and status action (concurrency 32, 2 alternated rounds of {} s each): without {plain:.0} lifecycles/s, with {keyed:.0} lifecycles/s = {:.1} % ({:+.1} %); server CPU {plain_cpu:.3} and {keyed_cpu:.3} ms a lifecycle ({:+.1} %)",
        args.seconds,
        keyed / plain * 100.0,
        (keyed / plain - 1.0) * 100.0,
        (keyed_cpu / plain_cpu - 1.0) * 100.0
    );

    // 3. Queries.
    println!(
        "\n3. query load at {} runs (limit=50, 200 requests each, one at a time)",
        args.runs
    );
    let month_ago = runledger::time::format(&(runledger::time::now() - chrono::Duration::days(30)));
    let middle = args.runs / 2;
    // The 10,000th page of 50 at a million runs, by offset and by cursor.
    let deep = middle.saturating_sub(50).max(1);
    let mut conn = Conn::open(&server.base, Some(&bearer)).await;
    let (_, run, _) = conn
        .json(
            Method::GET,
            &format!("/api/integration_runs/{middle}"),
            None,
            None,
        )
        .await;
    let created = runledger::time::parse(run["created-at"].as_str().expect("a run at the middle"))
        .expect("a datetime");
    let after_id = cursor("id", false, Bind::Int(deep as i64), deep as i64);
    let after_created = cursor("created_at", true, Bind::Time(created), middle as i64);
    // (label, query, counted)
    let queries = [
        (
            None,
            format!("status=failed&created_at[gt]={month_ago}"),
            false,
        ),
        (
            None,
            "integration[code]=SEED_007&order_by=created_at&dir=desc".to_owned(),
            false,
        ),
        (None, "integration_errors[resolved]=false".to_owned(), false),
        (None, "offset=1000".to_owned(), false),
        (None, "offset=10000".to_owned(), false),
        (None, format!("offset={}", middle.min(100_000)), false),
        (None, format!("offset={deep}"), false),
        (None, format!("id[gt]={middle}"), false),
        (
            Some(format!("after=<cursor after id {deep}>")),
            format!("after={after_id}"),
            false,
        ),
        (
            Some(format!(
                "order_by=created_at&dir=desc&after=<cursor after run {middle}>"
            )),
            format!("order_by=created_at&dir=desc&after={after_created}"),
            false,
        ),
        (
            Some("count=exact: every run".to_owned()),
            String::new(),
            true,
        ),
        (
            Some(format!(
                "count=exact: status=failed&created_at[gt]={month_ago}"
            )),
            format!("status=failed&created_at[gt]={month_ago}"),
            true,
        ),
        (
            Some("count=exact: integration[code]=SEED_007".to_owned()),
            "integration[code]=SEED_007".to_owned(),
            true,
        ),
    ];
    for (label, query, counted) in &queries {
        conn.prefer = counted.then(|| HeaderValue::from_static("count=exact"));
        let path = format!("/api/integration_runs?{query}&limit=50").replace('+', "%2B");
        let mut lat = Vec::new();
        for _ in 0..200 {
            let (status, _, micros) = conn.json(Method::GET, &path, None, None).await;
            assert_eq!(status, 200, "{query}");
            lat.push(micros);
        }
        lat.sort_unstable();
        println!(
            "   {:<62} p50 {:>6.1} ms  p99 {:>6.1} ms",
            label.as_deref().unwrap_or(query),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        );
    }
    conn.prefer = None;
    // What the API costs without a write: one run read by id, as the lifecycle's requests
    // are answered (auth, a database read, JSON), from as many connections as phase 2's last.
    let read_path = format!("/api/integration_runs/{middle}");
    let read_rate = rate(&server.base, &read_path, Some(&bearer), 32, args.seconds).await;
    let rss = peak_rss_mib(server.child.id());
    drop(server);

    // 4. The machine's limits.
    let frames = stream::fixed_frames();
    let fixed = axum::Router::new()
        .route("/", axum::routing::get(|| async { "{\"ok\":true}" }))
        .route(
            "/stream",
            axum::routing::get(move || {
                let frames = frames.clone();
                async move {
                    let chunks = futures_util::stream::repeat_with(move || {
                        Ok::<_, std::convert::Infallible>(frames.clone())
                    });
                    axum::body::Body::from_stream(chunks)
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    // Room for the fan-out limit's listeners, as for the server's in phase 2.
    let limits = runledger::config::Limits {
        max_connections: 4096,
        ..runledger::config::Limits::DEFAULT
    };
    tokio::spawn(runledger::server::serve(
        listener,
        fixed,
        limits,
        std::future::pending(),
    ));
    let http_limit = rate(&base, "/", None, 32, args.seconds).await;
    let fanout_limit = match args.listeners {
        0 => None,
        n => Some(stream::byte_limit(&base, "/stream", n, args.seconds).await),
    };
    let postgres = args
        .database
        .as_deref()
        .filter(|url| url.starts_with("postgres"));
    let commit_limit = commits::commit_rate(&dir, postgres, args.seconds.min(5.0)).await;
    let requests = 4.1; // create, run, progress, finish, and an error on 10 % of lifecycles
    println!(
        "\n4. limits: the same HTTP stack answering a fixed body: {http_limit:.0} requests/s; synced single-row commits through this backend's driver: {commit_limit:.0}/s"
    );
    if let Some(limit) = fanout_limit {
        print!(
            "   the same HTTP stack streaming a fixed body to {} listeners at once: {limit:.0} MB/s",
            args.listeners
        );
        match every_event_mb {
            Some(mb) => println!(
                "; the streams of every event carried {mb:.0} MB/s = {:.1} % of it while lifecycles ran",
                mb / limit * 100.0
            ),
            None => println!(),
        }
    }
    println!(
        "   Runledger reading one run by id (auth, a database read, JSON; 32 connections): {read_rate:.0} requests/s = {:.1} % of the HTTP limit",
        read_rate / http_limit * 100.0
    );
    println!(
        "   best lifecycle rate {best:.0}/s = {:.1} % of the HTTP limit per lifecycle ({:.0}/s), {:.1} % of the commit limit per lifecycle ({:.0}/s)",
        best / (http_limit / requests) * 100.0,
        http_limit / requests,
        best / (commit_limit / requests) * 100.0,
        commit_limit / requests
    );

    // 5. Memory.
    match rss {
        Some(mib) => println!("\n5. server peak RSS: {mib:.1} MiB"),
        None => println!("\n5. server peak RSS: not available (no /proc)"),
    }

    // 6. The sweeper.
    sweeper::sweeper(&database, args.monitors).await;
    let _ = std::fs::remove_dir_all(&dir);
}
