//! `/api/integrations/:id/monitor`: Runledger's own resource, in JSON and XML.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{messages, spawn_app, xml_value};

#[tokio::test]
async fn every_integration_has_a_default_monitor_with_one_ping_url() {
    let app = spawn_app().await;
    let id = app.create_integration("NIGHTLY").await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/integrations/{id}/monitor");
    let (status, monitor) = app.get_json(&path).await;
    assert_eq!(status, StatusCode::OK, "{monitor}");
    assert_eq!(monitor["integration-id"], id);
    assert_eq!(monitor["schedule-kind"], json!(null));
    assert_eq!(monitor["schedule"], json!(null));
    assert_eq!(monitor["time-zone"], "UTC");
    assert_eq!(monitor["start-grace"], 600);
    assert_eq!(monitor["paused"], false);
    assert_eq!(monitor["health"], "new");
    assert_eq!(monitor["health-reason"], "no run yet");
    let url = monitor["ping-url"].as_str().unwrap().to_owned();
    let key = url
        .strip_prefix(&app.url("/ping/"))
        .unwrap_or_else(|| panic!("{url}"));
    assert!(
        key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()),
        "{url}"
    );
    let (_, again) = app.get_json(&path).await;
    assert_eq!(again["ping-url"], url.as_str(), "made once, kept");
    // Coupa's integration document does not change.
    let (_, integration) = app.get_json(&format!("/api/integrations/{id}")).await;
    assert!(integration.get("monitor").is_none() && integration.get("health").is_none());
}

#[tokio::test]
async fn an_unknown_integration_has_no_monitor() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/integrations/999/monitor").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        messages(&body, "monitor"),
        ["Couldn't find Integration with 'id'=999"]
    );
    let (status, _) = app
        .put_json(
            "/api/integrations/999/monitor",
            Some(json!({"start-grace": 60})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_schedule_and_budgets_are_written_and_shown() {
    let app = spawn_app().await;
    let id = app.create_integration("NIGHTLY").await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/integrations/{id}/monitor");
    let (status, monitor) = app
        .put_json(
            &path,
            Some(json!({
                "schedule-kind": "cron",
                "schedule": "30 2 * * *",
                "time-zone": "Europe/Berlin",
                "start-grace": 900,
                "max-runtime": 3600,
                "min-runtime": 30,
                "min-records": 1,
                "max-errors": 5
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{monitor}");
    assert_eq!(monitor["schedule-kind"], "cron");
    assert_eq!(monitor["schedule"], "30 2 * * *");
    assert_eq!(monitor["time-zone"], "Europe/Berlin");
    assert_eq!(monitor["start-grace"], 900);
    assert_eq!(monitor["max-runtime"], 3600);
    assert_eq!(monitor["min-runtime"], 30);
    assert_eq!(monitor["min-records"], 1);
    assert_eq!(monitor["max-records"], json!(null));
    assert_eq!(monitor["max-errors"], 5);
    assert_eq!(monitor["health"], "new");
    let reason = monitor["health-reason"].as_str().unwrap();
    assert!(
        reason.starts_with("no run yet; next expected ")
            && reason.ends_with(" 02:30 Europe/Berlin"),
        "{reason}"
    );
    assert!(monitor["next-expected-at"].is_string());
    assert!(monitor["updated-by"]["login"].is_string());
    // A later write changes only what it names; null clears the schedule.
    let (_, cleared) = app
        .put_json(
            &path,
            Some(json!({"schedule-kind": null, "schedule": null})),
        )
        .await;
    assert_eq!(cleared["schedule"], json!(null));
    assert_eq!(cleared["time-zone"], "Europe/Berlin");
    assert_eq!(cleared["max-runtime"], 3600);
    assert_eq!(cleared["next-expected-at"], json!(null));
}

#[tokio::test]
async fn an_oncalendar_schedule_is_written_and_shown_in_xml() {
    let app = spawn_app().await;
    let id = app.create_integration("NIGHTLY").await["id"]
        .as_i64()
        .unwrap();
    let (status, text) = app
        .xml(
            Method::PUT,
            &format!("/api/integrations/{id}/monitor"),
            Some(
                "<monitor><schedule-kind>oncalendar</schedule-kind>\
                 <schedule>Mon..Fri *-*-* 02:30</schedule>\
                 <time-zone>America/New_York</time-zone><paused>true</paused></monitor>",
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let monitor = xml_value(&text);
    assert_eq!(monitor["schedule-kind"], "oncalendar");
    assert_eq!(monitor["schedule"], "Mon..Fri *-*-* 02:30");
    assert_eq!(monitor["health"], "paused");
    assert_eq!(monitor["health-reason"], "paused");
    assert!(
        text.contains("<start-grace type=\"integer\">600</start-grace>"),
        "{text}"
    );
    assert!(
        text.contains("<paused type=\"boolean\">true</paused>"),
        "{text}"
    );
}

#[tokio::test]
async fn a_refused_write_says_why_and_changes_nothing() {
    let app = spawn_app().await;
    let id = app.create_integration("NIGHTLY").await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/integrations/{id}/monitor");
    let cases = [
        (
            json!({"schedule-kind": "cron", "schedule": "61 * * * *"}),
            "Cron expression '61 * * * *' is invalid",
        ),
        (
            json!({"schedule-kind": "oncalendar", "schedule": "2027-*-* 00:00"}),
            "OnCalendar expression '2027-*-* 00:00' is invalid: the year must be '*', not '2027'",
        ),
        (
            json!({"schedule-kind": "interval", "schedule": 30}),
            "Interval must be between 60 and 31622400 seconds",
        ),
        (
            json!({"schedule-kind": "hourly", "schedule": "x"}),
            "Schedule kind 'hourly' is not one of interval, cron, oncalendar",
        ),
        (
            json!({"schedule": "0 2 * * *"}),
            "Schedule kind and schedule are written together",
        ),
        (
            json!({"time-zone": "Mars/Olympus"}),
            "Time zone 'Mars/Olympus' is not an IANA time zone name (e.g. Europe/Berlin, UTC)",
        ),
        (
            json!({"min-runtime": 60, "max-runtime": 60}),
            "Min runtime must be less than max runtime",
        ),
        (
            json!({"max-runtime": 0}),
            "Max runtime must be from 1 to 604800 seconds",
        ),
        (json!({"paused": "maybe"}), "Paused is not true or false"),
        (json!({"start-grace": null}), "Start grace can't be blank"),
    ];
    let (_, before) = app.get_json(&path).await;
    for (body, message) in cases {
        let (status, answer) = app.put_json(&path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let said = messages(&answer, "monitor").join("; ");
        assert!(said.starts_with(message), "{body}: {said}");
    }
    let (_, after) = app.get_json(&path).await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn the_health_follows_the_runs() {
    let app = spawn_app().await;
    let id = app.create_integration("NIGHTLY").await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/integrations/{id}/monitor");
    let run = app.create_run("NIGHTLY").await;
    let (_, monitor) = app.get_json(&path).await;
    assert_eq!(monitor["health"], "running", "{monitor}");
    let (status, _) = app
        .put_json(&format!("/api/integration_runs/{run}/fail"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, monitor) = app.get_json(&path).await;
    assert_eq!(monitor["health"], "down");
    assert_eq!(monitor["health-reason"], format!("run {run} failed"));
    let next = app.create_run("NIGHTLY").await;
    app.put_json(&format!("/api/integration_runs/{next}/run"), None)
        .await;
    let (status, _) = app
        .put_json(&format!("/api/integration_runs/{next}/success"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, monitor) = app.get_json(&path).await;
    assert_eq!(monitor["health"], "up");
    assert_eq!(monitor["health-reason"], format!("run {next} successful"));
}
