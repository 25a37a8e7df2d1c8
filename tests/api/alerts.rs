//! Alerts that reach someone: signed webhooks with retries that survive a restart, routing by
//! alert type, and email through SMTP.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus, header::LOCATION};
use reqwest::StatusCode;
use runledger::alerts::sign;
use runledger::config::PublicUrl;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::helpers::{TestApp, messages, spawn_app, spawn_app_with};

/// One request a receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What the receiver answers: the queued statuses first, then 200; each after `delay`, and a
/// redirection with `Location: redirect_to`.
#[derive(Default)]
struct Script {
    answers: VecDeque<u16>,
    delay: Duration,
    redirect_to: Option<String>,
    received: Vec<Received>,
}

/// A webhook receiver on a free port of its own.
pub struct Receiver {
    pub base: String,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let script = Arc::new(Mutex::new(Script::default()));
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(script.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { base, script }
    }

    pub fn answer_first(&self, statuses: &[u16]) {
        self.script.lock().unwrap().answers.extend(statuses);
    }

    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }
}

async fn receive(
    State(script): State<Arc<Mutex<Script>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (AxumStatus, HeaderMap) {
    let (status, delay, location) = {
        let mut script = script.lock().unwrap();
        script.received.push(Received {
            path: uri.path().to_owned(),
            headers,
            body,
        });
        let status = script.answers.pop_front().unwrap_or(200);
        (status, script.delay, script.redirect_to.clone())
    };
    tokio::time::sleep(delay).await;
    let status = AxumStatus::from_u16(status).unwrap();
    let mut headers = HeaderMap::new();
    if let Some(location) = location.filter(|_| status.is_redirection()) {
        headers.insert(LOCATION, location.parse().unwrap());
    }
    (status, headers)
}

/// A server whose first retry waits 100 ms, not seconds, and whose webhooks may reach the
/// test's receivers on the loopback interface (`--allow-private-webhooks`).
pub async fn app_with_quick_retries(smtp_url: Option<String>) -> TestApp {
    spawn_app_with(|s| {
        s.rate_limit = None;
        s.alerts.retry_base = Duration::from_millis(100);
        s.alerts.smtp_url = smtp_url;
        s.alerts.allow_private_webhooks = true;
    })
    .await
}

/// Creates a contact and returns it as answered (with its webhook secret).
async fn contact(
    app: &TestApp,
    alert_type: &str,
    integration: Option<&str>,
    target: Value,
) -> Value {
    let mut body =
        json!({"contact-alert-type": alert_type, "contactable-type": "User", "contactable-id": 1});
    if let Some(code) = integration {
        body["integration"] = json!({"code": code});
    }
    body.as_object_mut()
        .unwrap()
        .extend(target.as_object().unwrap().clone());
    let (status, answer) = app.post_json("/api/integration_contacts", body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    answer
}

/// Files an error with an alert on a new run of `code`; returns the error.
async fn alert(app: &TestApp, code: &str, alert_type: &str) -> Value {
    let run = app.create_run(code).await;
    let (status, error) = app
        .post_json(
            "/api/integration_errors/create_alert",
            json!({
                "contact-alert-type": alert_type,
                "integration-run": {"id": run},
                "document-type": "Supplier",
                "document-id": 4711,
                "responses": [{"response-code": "E42", "response-message": "Supplier is blocked"}]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{error}");
    error
}

/// The deliveries of a record, once none of them is pending any more (or after 10 s).
async fn settled_deliveries(app: &TestApp, record_id: i64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, list) = app
            .get_json(&format!("/api/alert_deliveries?record_id={record_id}"))
            .await;
        assert_eq!(status, StatusCode::OK);
        let list = list.as_array().unwrap().clone();
        if list.iter().all(|d| d["status"] != "pending") || Instant::now() > deadline {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_webhook_receives_a_signed_alert_and_is_retried_after_a_500() {
    let app = app_with_quick_retries(None).await;
    app.create_integration("ALERTS").await;
    let receiver = Receiver::start().await;
    receiver.answer_first(&[500]);
    let ops = contact(
        &app,
        "Technical",
        Some("ALERTS"),
        json!({"webhook-url": format!("{}/hook", receiver.base)}),
    )
    .await;
    let secret = ops["webhook-secret"]
        .as_str()
        .expect("the secret is shown at creation")
        .to_owned();
    let error = alert(&app, "ALERTS", "Technical").await;

    let deliveries = settled_deliveries(&app, error["id"].as_i64().unwrap()).await;
    assert_eq!(deliveries.len(), 1);
    let delivery = &deliveries[0];
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    assert_eq!(delivery["attempts"], 2);
    assert_eq!(delivery["response-code"], 200);
    assert_eq!(delivery["channel"], "webhook");
    assert_eq!(delivery["integration-contact-id"], ops["id"]);
    assert_eq!(
        delivery["last-error"],
        Value::Null,
        "a delivered alert has no error left"
    );

    let received = receiver.received();
    assert_eq!(received.len(), 2, "the 500 was retried once");
    for (n, request) in received.iter().enumerate() {
        let signature = request.headers["x-runledger-signature"].to_str().unwrap();
        assert_eq!(
            signature,
            format!("sha256={}", sign(&secret, &request.body)),
            "a valid signature"
        );
        assert_ne!(
            signature,
            format!("sha256={}", sign("another secret", &request.body))
        );
        assert_eq!(
            request.headers["x-runledger-delivery"],
            delivery["id"].to_string().as_str()
        );
        assert_eq!(
            request.headers["x-runledger-attempt"],
            (n + 1).to_string().as_str()
        );
        assert_eq!(request.headers["content-type"], "application/json");
    }
    let payload: Value = serde_json::from_slice(&received[1].body).unwrap();
    assert_eq!(payload["event"], "integration_error.alert");
    assert_eq!(payload["integration"]["code"], "ALERTS");
    assert_eq!(
        payload["integration-run"]["id"],
        error["integration-run"]["id"]
    );
    assert_eq!(payload["integration-error"]["id"], error["id"]);
    assert_eq!(payload["integration-error"]["document-type"], "Supplier");
    assert_eq!(payload["responses"][0]["response-code"], "E42");
    assert_eq!(
        payload["responses"][0]["response-message"],
        "Supplier is blocked"
    );
}

#[tokio::test]
async fn alerts_reach_contacts_by_alert_type() {
    let app = app_with_quick_retries(None).await;
    app.create_integration("ROUTED").await;
    app.create_integration("ELSEWHERE").await;
    let receiver = Receiver::start().await;
    let hook = |name: &str| json!({"webhook-url": format!("{}/{name}", receiver.base)});
    let technical =
        contact(&app, "Technical", Some("ROUTED"), hook("technical")).await["id"].clone();
    let functional =
        contact(&app, "Functional", Some("ROUTED"), hook("functional")).await["id"].clone();
    let both = contact(&app, "Both", Some("ROUTED"), hook("both")).await["id"].clone();
    let everywhere = contact(&app, "Functional", None, hook("everywhere")).await["id"].clone();
    contact(&app, "Both", Some("ELSEWHERE"), hook("elsewhere")).await;

    for (alert_type, expected) in [
        ("Technical", vec![&technical, &both]),
        ("Functional", vec![&functional, &both, &everywhere]),
        ("Both", vec![&technical, &functional, &both, &everywhere]),
    ] {
        let error = alert(&app, "ROUTED", alert_type).await;
        let deliveries = settled_deliveries(&app, error["id"].as_i64().unwrap()).await;
        let reached: BTreeSet<i64> = deliveries
            .iter()
            .map(|d| d["integration-contact-id"].as_i64().unwrap())
            .collect();
        let expected: BTreeSet<i64> = expected.into_iter().map(|c| c.as_i64().unwrap()).collect();
        assert_eq!(reached, expected, "a {alert_type} alert");
        assert!(
            deliveries.iter().all(|d| d["status"] == "delivered"),
            "{deliveries:?}"
        );
    }
    assert!(
        receiver.received().iter().all(|r| r.path != "/elsewhere"),
        "another integration's contact hears nothing"
    );
}

#[tokio::test]
async fn a_pending_delivery_is_sent_after_a_restart() {
    let mut app = app_with_quick_retries(None).await;
    app.create_integration("RESTART").await;
    let receiver = Receiver::start().await;
    receiver.answer_first(&[503; 1000]);
    contact(
        &app,
        "Both",
        Some("RESTART"),
        json!({"webhook-url": format!("{}/hook", receiver.base)}),
    )
    .await;
    let error = alert(&app, "RESTART", "Technical").await;
    let id = error["id"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while receiver.received().is_empty() {
        assert!(Instant::now() < deadline, "no first attempt");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.restart().await;
    let attempts_before = receiver.received().len();
    receiver.script.lock().unwrap().answers.clear();

    let deliveries = settled_deliveries(&app, id).await;
    assert_eq!(deliveries[0]["status"], "delivered", "{:?}", deliveries);
    assert!(deliveries[0]["attempts"].as_i64().unwrap() > attempts_before as i64 - 1);
    assert!(
        receiver.received().len() > attempts_before,
        "the restarted server sent it"
    );
}

#[tokio::test]
async fn an_alert_never_waits_for_its_delivery() {
    let app = app_with_quick_retries(None).await;
    app.create_integration("SLOW").await;
    let receiver = Receiver::start().await;
    receiver.script.lock().unwrap().delay = Duration::from_secs(3);
    contact(
        &app,
        "Both",
        Some("SLOW"),
        json!({"webhook-url": format!("{}/hook", receiver.base)}),
    )
    .await;
    let started = Instant::now();
    alert(&app, "SLOW", "Both").await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the request took {:?}",
        started.elapsed()
    );
}

/// A minimal SMTP server that accepts every message and keeps what it was given.
async fn smtp_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let messages = Arc::new(Mutex::new(Vec::new()));
    let kept = messages.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let kept = kept.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let mut session = String::new();
                write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    session.push_str(&line);
                    session.push('\n');
                    let verb = line
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 fake\r\n",
                        "DATA" => {
                            write.write_all(b"354 go ahead\r\n").await.unwrap();
                            while let Ok(Some(data)) = lines.next_line().await {
                                if data == "." {
                                    break;
                                }
                                session.push_str(&data);
                                session.push('\n');
                            }
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 OK\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
                kept.lock().unwrap().push(session);
            });
        }
    });
    (url, messages)
}

#[tokio::test]
async fn email_alerts_go_out_through_smtp_as_text_and_html_with_a_link_to_the_run() {
    let (smtp_url, messages) = smtp_server().await;
    let app = spawn_app_with(|s| {
        s.rate_limit = None;
        s.alerts.retry_base = Duration::from_millis(100);
        s.alerts.smtp_url = Some(smtp_url);
        s.alerts.public_url = Some(PublicUrl::parse("https://runledger.example.com/").unwrap());
    })
    .await;
    app.create_integration("MAILED").await;
    contact(
        &app,
        "Technical",
        Some("MAILED"),
        json!({"email": "ops@example.com"}),
    )
    .await;
    let error = alert(&app, "MAILED", "Technical").await;
    let run = error["integration-run"]["id"].as_i64().unwrap();
    let deliveries = settled_deliveries(&app, error["id"].as_i64().unwrap()).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0]["status"], "delivered", "{:?}", deliveries);
    assert_eq!(deliveries[0]["channel"], "email");
    let session = messages.lock().unwrap().join("\n");
    assert!(session.contains("RCPT TO:<ops@example.com>"), "{session}");
    // The parts' soft line breaks joined, then headers folded over several lines read as one.
    let message = unquote(&session).replace("\n ", " ").replace("\n\t", " ");
    assert!(
        message.contains(
            "Subject: [Runledger] Integration \"MAILED integration\" (MAILED): error on \
             Supplier 4711: Supplier is blocked\n"
        ),
        "{message}"
    );
    assert!(
        message.contains("Content-Type: multipart/alternative;"),
        "{message}"
    );
    let text = message
        .find("Content-Type: text/plain; charset=utf-8")
        .expect("a text part");
    let html = message
        .find("Content-Type: text/html; charset=utf-8")
        .expect("an HTML part");
    assert!(text < html, "the text part comes first:\n{message}");
    let (text, html) = (&message[text..html], &message[html..]);
    let link = format!("https://runledger.example.com/api/integration_runs/{run}");
    for fact in [
        "Integration \"MAILED integration\" (MAILED): error on Supplier 4711: Supplier is \
         blocked\n",
        "Integration:  MAILED integration (MAILED)",
        &format!("Run:          {run}, pending"),
        "Document:     Supplier 4711",
        "- E42: Supplier is blocked",
        &format!("Run: {link}"),
    ] {
        assert!(text.contains(fact), "{fact:?} in the text part:\n{text}");
    }
    for fact in [
        "<dt>Integration</dt><dd>MAILED integration (MAILED)</dd>",
        "<li><code>E42</code><pre>Supplier is blocked</pre></li>",
        &format!("<a href=\"{link}\">"),
    ] {
        assert!(html.contains(fact), "{fact:?} in the HTML part:\n{html}");
    }
}

/// A message's quoted-printable parts decoded: soft line breaks joined, `=XX` turned back
/// into its byte. Enough for the ASCII the test sends.
fn unquote(message: &str) -> String {
    let joined = message.replace("=\n", "");
    let mut out = Vec::with_capacity(joined.len());
    let bytes = joined.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match hex.map(|h| u8::from_str_radix(h, 16)) {
            Some(Ok(byte)) if bytes[i] == b'=' => {
                out.push(byte);
                i += 3;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------
// Server-side request forgery: where webhooks may not go (`runledger::egress`)

const CONTACTS: &str = "/api/integration_contacts";

/// The 400 a contact with `url` gets, as its one message.
async fn refused_contact(app: &TestApp, url: &str) -> String {
    let (status, body) = app
        .post_json(
            CONTACTS,
            json!({"contact-alert-type": "Both", "contactable-type": "User", "contactable-id": 1,
                   "webhook-url": url}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
    let mut messages = messages(&body, "integration-contact");
    assert_eq!(messages.len(), 1, "{url}: {body}");
    messages.remove(0)
}

#[tokio::test]
async fn webhooks_to_loopback_private_or_metadata_addresses_are_refused_at_creation() {
    let app = spawn_app().await;
    const OPT_IN: &str = " (allowed only when the server runs with --allow-private-webhooks)";
    for (url, expected) in [
        (
            "http://127.0.0.1:8080/hook",
            "127.0.0.1 is a loopback address",
        ),
        ("http://127.1/hook", "127.0.0.1 is a loopback address"),
        ("http://2130706433/", "127.0.0.1 is a loopback address"),
        ("http://0x7f.0.0.1/", "127.0.0.1 is a loopback address"),
        ("https://[::1]:8443/", "::1 is a loopback address"),
        (
            "http://[::ffff:127.0.0.1]/",
            "::ffff:127.0.0.1 is a loopback address",
        ),
        ("http://localhost:8080/hook", "localhost is a loopback name"),
        ("http://api.localhost/", "api.localhost is a loopback name"),
        ("http://10.0.0.5/", "10.0.0.5 is a private address"),
        ("http://172.16.3.4/", "172.16.3.4 is a private address"),
        ("http://192.168.1.1/", "192.168.1.1 is a private address"),
        ("http://[fd00::1]/", "fd00::1 is a private address"),
        (
            "http://100.64.0.1/",
            "100.64.0.1 is a carrier-grade NAT address (100.64.0.0/10)",
        ),
    ] {
        assert_eq!(
            refused_contact(&app, url).await,
            format!("Webhook url is refused: {expected}{OPT_IN}"),
            "{url}"
        );
    }
    for (url, expected) in [
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254 is a link-local address, where cloud metadata services answer",
        ),
        (
            "http://[::ffff:169.254.169.254]/",
            "::ffff:169.254.169.254 is a link-local address, where cloud metadata services answer",
        ),
        (
            "http://[fe80::1]/",
            "fe80::1 is a link-local address, where cloud metadata services answer",
        ),
        ("http://0.0.0.0:8080/", "0.0.0.0 is the unspecified address"),
        ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
        (
            "http://255.255.255.255/",
            "255.255.255.255 is the broadcast address",
        ),
    ] {
        assert_eq!(
            refused_contact(&app, url).await,
            format!("Webhook url is refused: {expected}"),
            "{url}"
        );
    }
    for url in [
        "file:///etc/passwd",
        "gopher://hooks.example.com/",
        "http://[::1",
    ] {
        assert_eq!(
            refused_contact(&app, url).await,
            "Webhook url must be an http:// or https:// URL",
            "{url}"
        );
    }

    // Updates are checked the same way, and a refused one changes nothing.
    let public = contact(
        &app,
        "Both",
        None,
        json!({"webhook-url": "https://hooks.example.com/runledger"}),
    )
    .await;
    let path = format!("{CONTACTS}/{}", public["id"]);
    let (status, body) = app
        .put_json(
            &path,
            Some(json!({"webhook-url": "http://169.254.169.254/latest/meta-data/"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, shown) = app.get_json(&path).await;
    assert_eq!(shown["webhook-url"], "https://hooks.example.com/runledger");
    // Public targets, named or literal, are accepted.
    contact(
        &app,
        "Both",
        None,
        json!({"webhook-url": "http://93.184.215.14:8080/hook"}),
    )
    .await;
}

#[tokio::test]
async fn the_opt_in_accepts_loopback_and_private_targets_but_never_metadata() {
    let app = spawn_app_with(|s| {
        s.rate_limit = None;
        s.alerts.allow_private_webhooks = true;
    })
    .await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost:8080/hook",
        "http://10.0.0.5/",
        "http://[fd00::1]/",
    ] {
        contact(&app, "Both", None, json!({"webhook-url": url})).await;
    }
    assert_eq!(
        refused_contact(&app, "http://169.254.169.254/latest/meta-data/").await,
        "Webhook url is refused: 169.254.169.254 is a link-local address, \
         where cloud metadata services answer"
    );
}

#[tokio::test]
async fn a_webhook_whose_name_resolves_to_loopback_is_undeliverable_and_never_sent() {
    // Contacts on file from when the node allowed private targets; its operator then turned
    // that off. The name passes every check that can be made without resolving it.
    let mut app = app_with_quick_retries(None).await;
    app.create_integration("REBIND").await;
    let receiver = Receiver::start().await;
    let port = receiver.base.rsplit(':').next().unwrap().to_owned();
    let named = contact(
        &app,
        "Both",
        Some("REBIND"),
        json!({"webhook-url": format!("http://localhost:{port}/named")}),
    )
    .await;
    let literal = contact(
        &app,
        "Both",
        Some("REBIND"),
        json!({"webhook-url": format!("http://127.0.0.1:{port}/literal")}),
    )
    .await;
    app.restart_with(|s| s.alerts.allow_private_webhooks = false)
        .await;

    let error = alert(&app, "REBIND", "Technical").await;
    let deliveries = settled_deliveries(&app, error["id"].as_i64().unwrap()).await;
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    for delivery in &deliveries {
        assert_eq!(delivery["status"], "undeliverable", "{delivery}");
        assert_eq!(delivery["attempts"], 1, "refused once, never retried");
        assert_eq!(delivery["next-attempt-at"], Value::Null, "{delivery}");
        assert_eq!(delivery["response-code"], Value::Null, "{delivery}");
        let error = delivery["last-error"].as_str().unwrap();
        assert!(
            error.ends_with(" (allowed only when the server runs with --allow-private-webhooks)"),
            "{error}"
        );
        if delivery["integration-contact-id"] == named["id"] {
            assert!(
                error.starts_with("refused: localhost resolves to ")
                    && error.contains(", a loopback address"),
                "{error}"
            );
        } else {
            assert_eq!(delivery["integration-contact-id"], literal["id"]);
            assert!(
                error.starts_with("refused: 127.0.0.1 is a loopback address"),
                "{error}"
            );
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        receiver.received().is_empty(),
        "nothing reached the loopback receiver: {:?}",
        receiver.received()
    );
}

#[tokio::test]
async fn a_redirect_from_a_webhook_receiver_is_not_followed() {
    let app = app_with_quick_retries(None).await;
    app.create_integration("REDIRECTED").await;
    let receiver = Receiver::start().await;
    let elsewhere = Receiver::start().await;
    receiver.answer_first(&[307; 1000]);
    receiver.script.lock().unwrap().redirect_to = Some(format!("{}/stolen", elsewhere.base));
    contact(
        &app,
        "Both",
        Some("REDIRECTED"),
        json!({"webhook-url": format!("{}/hook", receiver.base)}),
    )
    .await;
    let error = alert(&app, "REDIRECTED", "Both").await;
    let path = format!("/api/alert_deliveries?record_id={}", error["id"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let delivery = loop {
        let (_, list) = app.get_json(&path).await;
        if list[0]["attempts"].as_i64() >= Some(2) {
            break list[0].clone();
        }
        assert!(Instant::now() < deadline, "no second attempt: {list}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(delivery["status"], "pending", "a 307 is retried like a 5xx");
    assert_eq!(delivery["response-code"], 307);
    assert_eq!(
        delivery["last-error"],
        "the receiver answered 307 Temporary Redirect (redirects are not followed)"
    );
    assert!(
        receiver.received().iter().all(|r| r.path == "/hook"),
        "every attempt went to the contact's own URL"
    );
    assert!(
        elsewhere.received().is_empty(),
        "the redirect's target heard nothing"
    );
}

/// A delivery whose sender died mid-attempt keeps its lease; once the lease has run out, the
/// delivery is claimed again, and the dispatcher is told when that will be.
#[tokio::test]
async fn an_expired_lease_is_claimed_again() {
    use runledger::domain::contacts::ContactFields;
    use runledger::domain::input::Body;
    use runledger::domain::integrations::IntegrationFields;
    use runledger::domain::records::{DocumentTypes, RecordFields, RecordKind};
    use runledger::domain::runs::RunFields;
    use runledger::store::Effects;

    let fields = |body: Value| body.as_object().cloned().expect("an object");
    let (_database, url) = crate::helpers::TestDatabase::create(crate::BACKEND).await;
    let store = runledger::store::open(&url, 2).await.unwrap();
    let integration =
        IntegrationFields::parse(Body(&fields(crate::helpers::integration_body("LEASE"))))
            .and_then(IntegrationFields::into_new)
            .unwrap();
    store.create_integration(integration, None).await.unwrap();
    let contact = fields(json!({
        "contact-alert-type": "Technical",
        "contactable-type": "User",
        "contactable-id": 1,
        "integration": {"code": "LEASE"},
        "webhook-url": "https://hooks.example.com/lease",
    }));
    store
        .create_contact(
            ContactFields::parse(Body(&contact)).unwrap(),
            "secret".into(),
            None,
        )
        .await
        .unwrap();
    let run = fields(json!({"integration": {"code": "LEASE"}}));
    let run = store
        .create_run(RunFields::parse(Body(&run)).unwrap(), None)
        .await
        .unwrap();
    let error = fields(json!({
        "contact-alert-type": "Technical",
        "integration-run": {"id": run.run.id},
        "document-type": "InvoiceHeader",
    }));
    let alert = Effects {
        alert: true,
        ..Effects::default()
    };
    let record = RecordFields::parse(Body(&error), DocumentTypes::Coupa).unwrap();
    store
        .create_record(RecordKind::Error, record, alert, None)
        .await
        .unwrap();

    let lease = Duration::from_secs(60);
    let now = runledger::time::now();
    let claimed = store.claim_deliveries(now, lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "the new delivery is due");
    assert!(
        store
            .claim_deliveries(now, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    let due = store.next_due().await.unwrap().expect("a pending delivery");
    let lease_end = now + chrono::Duration::from_std(lease).unwrap();
    assert!(
        (due - lease_end).num_seconds().abs() <= 1,
        "next due {due} is when the lease ends, {lease_end}"
    );
    let later = lease_end + chrono::Duration::seconds(1);
    let again = store.claim_deliveries(later, lease, 10).await.unwrap();
    assert_eq!(again.len(), 1, "the expired lease is claimed again");
    assert_eq!(again[0].id, claimed[0].id);
}
