//! Counting and cursor paging on the index routes (docs/api.md, "Counting and cursor
//! paging"), over HTTP in both formats: `Prefer: count=exact` and `X-Total-Count`, `after=`
//! with `Link: rel="next"` and `X-Next-Cursor`, walks across inserts and updates, every
//! order, every index, and the refusals.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use runledger::config::PublicUrl;
use runledger::domain::runs::Status;
use runledger::store::seed::SeedRun;
use serde_json::{Value, json};

use crate::helpers::{TestApp, messages, spawn_app, spawn_app_with, xml_value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

use Format::{Json, Xml};

/// An answer: its status, headers and the ids it lists (none for XML's 404).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn total(&self) -> Option<i64> {
        self.header("x-total-count").map(|v| v.parse().unwrap())
    }

    /// The ids listed, in order; in XML, Coupa's 404 for an empty page lists none.
    fn ids(&self, format: Format) -> Vec<i64> {
        let list = match format {
            Json => serde_json::from_str(&self.body).expect(&self.body),
            Xml if self.status == StatusCode::NOT_FOUND => {
                assert!(self.body.contains("No results match"), "{}", self.body);
                return Vec::new();
            }
            Xml => xml_value(&self.body),
        };
        let list = list.as_array().unwrap_or_else(|| panic!("{}", self.body));
        list.iter()
            .map(|item| item["id"].as_i64().unwrap())
            .collect()
    }

    /// The next page's URL from `Link`, after checking that its cursor is `X-Next-Cursor`.
    fn next(&self) -> Option<String> {
        let Some(link) = self.header("link") else {
            assert_eq!(self.header("x-next-cursor"), None);
            return None;
        };
        let url = link
            .strip_prefix('<')
            .and_then(|l| l.strip_suffix(">; rel=\"next\""))
            .unwrap_or_else(|| panic!("{link}"));
        let cursor = self
            .header("x-next-cursor")
            .expect("a cursor beside the link");
        assert!(
            url.ends_with(&format!("&after={cursor}")) || url.contains(&format!("?after={cursor}")),
            "{url}"
        );
        Some(url.to_owned())
    }
}

/// GETs `target` (a path, or a URL from a `Link`) in `format`, with `Prefer` when given.
async fn get(app: &TestApp, target: &str, format: Format, prefer: Option<&str>) -> Answer {
    let url = match target.starts_with("http") {
        true => target.to_owned(),
        false => app.url(target),
    };
    let accept = match format {
        Json => "application/json",
        Xml => "application/xml",
    };
    let mut request = app.client.get(&url).header("Accept", accept);
    if let Some(prefer) = prefer {
        request = request.header("Prefer", prefer);
    }
    let response = request.send().await.expect("request sent");
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.text().await.expect("body"),
    }
}

/// Walks `first` to its last page in `format`, running `between` after each page but the
/// last; the ids seen, in order, and how many pages there were.
async fn walk<F>(app: &TestApp, first: &str, format: Format, mut between: F) -> (Vec<i64>, usize)
where
    F: AsyncFnMut(usize),
{
    let (mut url, mut seen, mut pages) = (first.to_owned(), Vec::new(), 0);
    loop {
        let answer = get(app, &url, format, None).await;
        assert!(answer.status.is_success(), "{url}: {}", answer.body);
        seen.extend(answer.ids(format));
        pages += 1;
        match answer.next() {
            Some(next) => url = next,
            None => return (seen, pages),
        }
        between(pages).await;
        assert!(pages < 100, "a walk that does not end");
    }
}

/// The ids of a whole listing in one page (at most 50), as an offset index gives them.
async fn listing(app: &TestApp, path: &str) -> Vec<i64> {
    let answer = get(app, path, Json, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
    answer.ids(Json)
}

fn at(text: &str) -> runledger::time::Timestamp {
    runledger::time::parse(text).unwrap()
}

/// A seeded run of integration `id`, created at `created`, with the values orders look at.
fn seeded(
    id: i64,
    created: &str,
    end: Option<&str>,
    total: Option<i64>,
    status: Status,
) -> SeedRun {
    SeedRun {
        integration_id: id,
        status,
        created_at: at(created),
        start_time: None,
        end_time: end.map(at),
        total_records: total,
        records_processed: None,
        error: None,
    }
}

#[tokio::test]
async fn a_count_is_given_only_when_asked_for_and_counts_what_the_filters_match() {
    let app = spawn_app().await;
    for code in ["COUNT_A", "COUNT_B"] {
        app.create_integration(code).await;
    }
    let mut a = Vec::new();
    for _ in 0..3 {
        a.push(app.create_run("COUNT_A").await);
    }
    app.create_run("COUNT_B").await;
    app.put_json(&format!("/api/integration_runs/{}/fail", a[1]), None)
        .await;
    let runs = "/api/integration_runs";
    for format in [Json, Xml] {
        let cases = [
            ("integration[code]=count_a&limit=1", 3, 1),
            ("status=failed&integration[code]=COUNT_A", 1, 1),
            ("integration[code]=COUNT_A&offset=10", 3, 0),
            ("integration[code]=NOPE", 0, 0),
            ("limit=2&order_by=created_at&dir=desc", 4, 2),
        ];
        for (query, total, listed) in cases {
            let path = format!("{runs}?{query}");
            let answer = get(&app, &path, format, Some("count=exact")).await;
            assert_eq!(answer.total(), Some(total), "{format:?} {path}");
            assert_eq!(answer.header("preference-applied"), Some("count=exact"));
            assert_eq!(answer.ids(format).len(), listed, "{format:?} {path}");
            // Without the preference, or with one we do not apply, the answer is Coupa's.
            for prefer in [None, Some("count=estimated"), Some("return=minimal")] {
                let plain = get(&app, &path, format, prefer).await;
                assert_eq!((plain.status, &plain.body), (answer.status, &answer.body));
                for name in [
                    "x-total-count",
                    "preference-applied",
                    "link",
                    "x-next-cursor",
                ] {
                    assert_eq!(plain.header(name), None, "{name} on {path} with {prefer:?}");
                }
            }
        }
    }
    // The count ignores where a page by cursor starts.
    let first = get(&app, &format!("{runs}?limit=1&after="), Json, None).await;
    let second = get(&app, &first.next().unwrap(), Json, Some("count=exact")).await;
    assert_eq!(second.total(), Some(4));
}

#[tokio::test]
async fn cursor_pages_walk_a_whole_listing_with_inserts_and_updates_between_pages() {
    let app = spawn_app().await;
    app.create_integration("WALK").await;
    let mut expected = Vec::new();
    for _ in 0..5 {
        expected.push(app.create_run("WALK").await);
    }
    for format in [Json, Xml] {
        let start = "/api/integration_runs?integration[code]=WALK&limit=2&after=";
        let before = expected.clone();
        let mut added = Vec::new();
        let (seen, pages) = walk(&app, start, format, async |page| {
            if page <= 2 {
                // A new run sorts after the cursor; updating a run seen and one not yet seen
                // moves neither.
                added.push(app.create_run("WALK").await);
                for id in [before[0], before[4]] {
                    let (status, _) = app
                        .put_json(
                            &format!("/api/integration_runs/{id}"),
                            Some(json!({"total-records": page})),
                        )
                        .await;
                    assert_eq!(status, StatusCode::OK);
                }
            }
        })
        .await;
        expected.extend(added);
        assert_eq!(
            seen, expected,
            "{format:?}: no duplicates, no gaps, new rows seen"
        );
        assert_eq!(pages, expected.len().div_ceil(2), "{format:?}");
    }
}

#[tokio::test]
async fn a_walk_by_created_at_descending_sees_older_rows_added_after_the_cursor_and_not_newer_ones()
{
    let app = spawn_app().await;
    let id = app.create_integration("NEWEST").await["id"]
        .as_i64()
        .unwrap();
    let times = [
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:01:00Z",
        "2026-01-01T00:01:00Z",
        "2026-01-01T00:01:00Z",
        "2026-01-01T00:02:00Z",
        "2026-01-01T00:03:00Z",
    ];
    let runs = times
        .iter()
        .map(|t| seeded(id, t, None, None, Status::Successful))
        .collect();
    app.store.seed_runs(runs).await.unwrap();
    let query = "integration[code]=NEWEST&order_by=created_at&dir=desc";
    let start = format!("/api/integration_runs?{query}&limit=2&after=");
    let mut newer = Vec::new();
    let (seen, _) = walk(&app, &start, Json, async |page| {
        // Made now, this run sorts before the cursor; the seeded one, older than all, after it.
        newer.push(app.create_run("NEWEST").await);
        let old = format!("2025-12-{:02}T00:00:00Z", 30 - page);
        let run = seeded(id, &old, None, None, Status::Failed);
        app.store.seed_runs(vec![run]).await.unwrap();
    })
    .await;
    let all = listing(&app, &format!("/api/integration_runs?{query}")).await;
    let expected: Vec<i64> = all.into_iter().filter(|id| !newer.contains(id)).collect();
    assert_eq!(
        expected.len(),
        times.len() + newer.len(),
        "one old run per page turned"
    );
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn every_order_walks_by_cursor_as_the_whole_listing_orders_it() {
    let app = spawn_app().await;
    let id = app.create_integration("ORDERS").await["id"]
        .as_i64()
        .unwrap();
    let (t1, t2) = ("2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z");
    let runs = vec![
        seeded(id, t1, Some(t2), Some(5), Status::Failed),
        seeded(id, t1, None, None, Status::Running),
        seeded(id, t2, Some(t1), Some(5), Status::Successful),
        seeded(id, t2, None, Some(1), Status::Pending),
        seeded(id, t1, Some(t2), None, Status::Failed),
        seeded(id, t2, Some(t2), Some(9), Status::Successful),
        seeded(id, t1, None, Some(5), Status::Running),
    ];
    app.store.seed_runs(runs).await.unwrap();
    for field in [
        "id",
        "created_at",
        "end_time",
        "total_records",
        "status",
        "start_time",
    ] {
        for dir in ["asc", "desc"] {
            let query = format!("integration[code]=ORDERS&order_by={field}&dir={dir}");
            let whole = listing(&app, &format!("/api/integration_runs?{query}")).await;
            assert_eq!(whole.len(), 7);
            for format in [Json, Xml] {
                let start = format!("/api/integration_runs?{query}&limit=2&after=");
                let (seen, pages) = walk(&app, &start, format, async |_| {}).await;
                assert_eq!(seen, whole, "{query} in {format:?}");
                assert_eq!(pages, 4);
            }
        }
    }
}

#[tokio::test]
async fn every_index_counts_and_pages_by_cursor() {
    let app = spawn_app().await;
    let integration = app.create_integration("EVERY").await["id"]
        .as_i64()
        .unwrap();
    for n in 0..3 {
        let body = json!({"contact-alert-type": "Both", "contactable-type": "User",
                          "contactable-id": n, "integration": {"code": "EVERY"},
                          "email": format!("ops{n}@example.com")});
        let (status, body) = app.post_json("/api/integration_contacts", body).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    for n in 0..3 {
        let run = app.create_run("EVERY").await;
        let record = json!({"integration-run": {"id": run}, "contact-alert-type": "Technical",
                            "document-type": "Supplier", "document-id": n});
        for path in [
            "/api/integration_errors",
            "/api/integration_history_records",
        ] {
            let (status, body) = app.post_json(path, record.clone()).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
    }
    let (status, body) = app
        .post_json(
            "/api/integration_errors/create_alert",
            json!({
            "integration-run": {"id": 1}, "contact-alert-type": "Both",
            "document-type": "Supplier", "document-id": 9}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, monitor) = app
        .get_json(&format!("/api/integrations/{integration}/monitor"))
        .await;
    assert_eq!(status, StatusCode::OK, "{monitor}");
    for signal in ["/start", "", "/log"] {
        let url = format!("{}{signal}", monitor["ping-url"].as_str().unwrap());
        let status = reqwest::get(&url).await.unwrap().status();
        assert_eq!(status, StatusCode::OK, "{url}");
    }
    app.create_integration("EVERY_2").await;
    let pings = format!("/api/integrations/{integration}/monitor/pings");
    // At least these many: the server's own sweeper may file more.
    let indexes = [
        ("/api/integrations", 2),
        ("/api/integration_runs", 4),
        ("/api/integration_errors", 4),
        ("/api/integration_history_records", 3),
        ("/api/integration_contacts", 3),
        ("/api/alert_deliveries", 3),
        (pings.as_str(), 3),
    ];
    for (path, least) in indexes {
        let whole = listing(&app, path).await;
        assert!(whole.len() >= least, "{path}: {whole:?}");
        let first = get(
            &app,
            &format!("{path}?limit=1&after="),
            Xml,
            Some("count=exact"),
        )
        .await;
        assert_eq!(first.total(), Some(whole.len() as i64), "{path}");
        let (seen, pages) = walk(&app, &format!("{path}?limit=1&after="), Json, async |_| {}).await;
        assert_eq!(pages, whole.len(), "{path}");
        assert_eq!(seen, whole, "{path}");
    }
}

#[tokio::test]
async fn the_next_link_keeps_the_query_and_the_format_suffix_under_the_public_url() {
    let app = spawn_app().await;
    app.create_integration("LINKS").await;
    for _ in 0..3 {
        app.create_run("LINKS").await;
    }
    // A client that names the format by suffix sends no Accept; the link keeps the suffix.
    let path = "/api/integration_runs.json?integration%5Bcode%5D=LINKS&limit=2&after=";
    let response = app.client.get(app.url(path)).send().await.unwrap();
    let link = response.headers()["link"].to_str().unwrap().to_owned();
    let cursor = response.headers()["x-next-cursor"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        link,
        format!(
            "<{}/api/integration_runs.json?integration%5Bcode%5D=LINKS&limit=2&after={cursor}>; \
             rel=\"next\"",
            app.address
        )
    );
    let next = link.trim_start_matches('<').split('>').next().unwrap();
    let response = app.client.get(next).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(response.headers().get("link"), None, "the last page");
    let listed: Value = response.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let public = "https://runledger.example.com/";
    let app = spawn_app_with(|s| {
        s.rate_limit = None;
        s.alerts.public_url = Some(PublicUrl::parse(public).unwrap());
    })
    .await;
    app.create_integration("A").await;
    app.create_integration("B").await;
    let answer = get(&app, "/api/integrations?limit=1&after=", Xml, None).await;
    let link = answer.header("link").unwrap();
    assert!(
        link.starts_with("<https://runledger.example.com/api/integrations?limit=1&after="),
        "{link}"
    );
}

#[tokio::test]
async fn bad_cursors_and_a_cursor_with_offset_are_400_in_coupas_format() {
    let app = spawn_app().await;
    app.create_integration("BAD").await;
    for _ in 0..2 {
        app.create_run("BAD").await;
    }
    let first = get(&app, "/api/integration_runs?limit=1&after=", Json, None).await;
    let cursor = first.header("x-next-cursor").unwrap().to_owned();
    let cases = [
        (
            "after=not-a-cursor".to_owned(),
            "The cursor in 'after' is not one this server gave out",
        ),
        (
            format!("after={cursor}x"),
            "The cursor in 'after' is not one this server gave out",
        ),
        (
            format!("after={cursor}&order_by=created_at"),
            "was made for order_by=id&dir=asc",
        ),
        (
            format!("after={cursor}&dir=desc"),
            "was made for order_by=id&dir=asc",
        ),
        (
            format!("after={cursor}&offset=0"),
            "after and offset cannot be combined",
        ),
        (
            "offset=1&after=".to_owned(),
            "after and offset cannot be combined",
        ),
    ];
    for (query, message) in cases {
        let path = format!("/api/integration_runs?{query}");
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        let said = messages(&body, "integration-run");
        assert!(said[0].contains(message), "{path}: {said:?}");
        let answer = get(&app, &path, Xml, Some("count=exact")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(
            xml_value(&answer.body)["error"]
                .as_str()
                .unwrap()
                .contains(message)
        );
        assert_eq!(answer.total(), None);
    }
    // The same cursor, in its own order, still reads.
    let (status, body) = app
        .get_json(&format!("/api/integration_runs?after={cursor}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
