//! The alert email: its subject rules, both parts, the link, escaping and header safety.

use super::*;
use crate::domain::integrations::{Direction, EndSystemType};
use crate::domain::records::{ContactAlertType, IntegrationKeys, Response};
use crate::domain::runs::{Run, Status};
use crate::time::Timestamp;

const ROOT: &str = "https://runledger.example.com";

fn at(text: &str) -> Timestamp {
    time::parse(text).unwrap()
}

fn integration(name: &str, code: &str) -> Integration {
    Integration {
        version: 0,
        id: 7,
        code: code.into(),
        name: name.into(),
        business_object: "InvoiceHeader".into(),
        direction: Direction::FromCoupa,
        end_system: "SAP".into(),
        end_system_type: EndSystemType::Erp,
        integration_type: None,
        standard: false,
        created_at: at("2026-11-01T00:00:00Z"),
        updated_at: at("2026-11-01T00:00:00Z"),
        created_by: None,
        updated_by: None,
    }
}

fn run(integration: &Integration) -> RunView {
    RunView {
        run: Run {
            version: 0,
            retry_of: None,
            attempt: 1,
            id: 17,
            integration_id: integration.id,
            status: Status::Failed,
            start_time: Some(at("2026-11-28T02:00:00Z")),
            end_time: Some(at("2026-11-28T02:05:00Z")),
            total_records: Some(130),
            records_processed: Some(120),
            flow: None,
            created_at: at("2026-11-28T02:00:00Z"),
            updated_at: at("2026-11-28T02:05:00Z"),
            created_by: None,
            updated_by: None,
        },
        integration: integration.clone(),
        integration_errors: Vec::new(),
    }
}

fn response(code: &str, message: &str) -> Response {
    Response {
        id: 1,
        response_code: Some(code.into()),
        response_message: Some(message.into()),
        created_at: at("2026-11-28T02:05:00Z"),
        updated_at: at("2026-11-28T02:05:00Z"),
    }
}

/// An error on InvoiceHeader 1234 in run 17 of "Invoices export", saying `message`.
fn record(run: Option<i64>, message: &str) -> Record {
    Record {
        version: 0,
        id: 55,
        integration_run_id: run,
        integration_id: Some(7),
        contact_alert_type: ContactAlertType::Technical,
        document_type: Some("InvoiceHeader".into()),
        document_id: Some(1234),
        document_revision: None,
        document_status: None,
        external_id: None,
        integration_filename: None,
        creation_method: None,
        status: None,
        resolved: false,
        exported: false,
        created_at: at("2026-11-28T02:05:00Z"),
        updated_at: at("2026-11-28T02:05:00Z"),
        created_by: None,
        updated_by: None,
        integration: Some(IntegrationKeys {
            id: 7,
            code: "INV-EXP".into(),
            name: "Invoices export".into(),
        }),
        responses: vec![response("E42", message)],
    }
}

/// The record as the monitor sweeper files it: a history record about the job.
fn monitor_alert(message: &str) -> Record {
    Record {
        version: 0,
        document_type: Some(JOB_DOCUMENT_TYPE.into()),
        document_id: None,
        integration_run_id: None,
        responses: vec![response("down", message)],
        ..record(None, message)
    }
}

fn invoices() -> Integration {
    integration("Invoices export", "INV-EXP")
}

#[test]
fn an_errors_subject_names_the_integration_the_document_and_the_message() {
    let integration = invoices();
    let run = run(&integration);
    let mail = email(
        RecordKind::Error,
        &record(Some(17), "Supplier is blocked"),
        Some(&run),
        Some(&integration),
        None,
    );
    assert_eq!(
        mail.subject,
        "[Runledger] Integration \"Invoices export\" (INV-EXP): error on InvoiceHeader 1234: \
         Supplier is blocked"
    );
    let mail = email(
        RecordKind::History,
        &record(Some(17), "Exported"),
        Some(&run),
        Some(&integration),
        None,
    );
    assert_eq!(
        mail.subject,
        "[Runledger] Integration \"Invoices export\" (INV-EXP): history record on InvoiceHeader \
         1234: Exported"
    );
}

#[test]
fn a_record_without_run_takes_its_integration_from_its_own_keys() {
    let mut job = record(None, "exit status 3");
    job.document_type = Some(JOB_DOCUMENT_TYPE.into());
    let mail = email(RecordKind::Error, &job, None, None, None);
    assert_eq!(
        mail.subject,
        "[Runledger] Integration \"Invoices export\" (INV-EXP): error on the job: exit status 3"
    );
    job.integration = None;
    job.responses.clear();
    let mail = email(RecordKind::Error, &job, None, None, None);
    assert_eq!(mail.subject, "[Runledger] error on the job");
}

#[test]
fn a_monitors_alert_says_the_integrations_health() {
    let integration = invoices();
    let message = "down: expected 02:00 Europe/Berlin, grace 10 min, nothing by 02:10";
    let mail = email(
        RecordKind::History,
        &monitor_alert(message),
        None,
        Some(&integration),
        None,
    );
    assert_eq!(
        mail.subject,
        "[Runledger] Invoices export is down: expected 02:00 Europe/Berlin, grace 10 min, \
         nothing by 02:10"
    );
    let mail = email(
        RecordKind::History,
        &monitor_alert("up: run 12 successful"),
        None,
        Some(&integration),
        None,
    );
    assert_eq!(
        mail.subject,
        "[Runledger] Invoices export is up: run 12 successful"
    );
}

#[test]
fn only_a_job_history_record_starting_with_a_health_word_is_a_monitors_alert() {
    let integration = invoices();
    // An error about the job (what runledger exec files) keeps the general rule.
    let mail = email(
        RecordKind::Error,
        &monitor_alert("down: expected 02:00"),
        None,
        Some(&integration),
        None,
    );
    assert!(
        mail.subject.contains("error on the job: down"),
        "{}",
        mail.subject
    );
    // A job history record whose message is not a health.
    let mail = email(
        RecordKind::History,
        &monitor_alert("sideways: who knows"),
        None,
        Some(&integration),
        None,
    );
    assert!(
        mail.subject.contains("history record on the job: sideways"),
        "{}",
        mail.subject
    );
    // A health word on another document type.
    let mut other = monitor_alert("down: expected 02:00");
    other.document_type = Some("InvoiceHeader".into());
    let mail = email(RecordKind::History, &other, None, Some(&integration), None);
    assert!(
        mail.subject.starts_with("[Runledger] Integration"),
        "{}",
        mail.subject
    );
}

#[test]
fn a_subject_holds_no_line_break_from_any_user_text() {
    let integration = integration("Evil\r\nBcc: victim@example.com", "EV\nIL");
    let run = run(&integration);
    let mail = email(
        RecordKind::Error,
        &record(Some(17), "first line\r\nX-Injected: yes\n\tthird"),
        Some(&run),
        Some(&integration),
        None,
    );
    assert!(
        !mail.subject.contains(['\r', '\n', '\t']),
        "{:?}",
        mail.subject
    );
    assert_eq!(
        mail.subject,
        "[Runledger] Integration \"Evil Bcc: victim@example.com\" (EV IL): error on InvoiceHeader \
         1234: first line X-Injected: yes third"
    );
    let alert = monitor_alert("down: late\r\nBcc: x@example.com");
    let mail = email(RecordKind::History, &alert, None, Some(&integration), None);
    assert!(!mail.subject.contains(['\r', '\n']), "{:?}", mail.subject);
}

#[test]
fn a_long_message_is_cut_in_the_subject_and_kept_whole_in_the_body() {
    let integration = invoices();
    let long = "word ".repeat(60);
    let mail = email(
        RecordKind::Error,
        &record(Some(17), &long),
        None,
        Some(&integration),
        None,
    );
    let (_, message) = mail.subject.split_once("1234: ").unwrap();
    assert!(message.ends_with("word…"), "{message}");
    assert!(
        message.chars().count() <= SUBJECT_MESSAGE_CHARS,
        "{message}"
    );
    assert!(
        message.chars().count() > SUBJECT_MESSAGE_CHARS - 10,
        "{message}"
    );
    assert!(mail.text.contains(long.trim_end()), "{}", mail.text);
    // A message without spaces is cut at the limit, on a character boundary.
    let wide = "é".repeat(300);
    let mail = email(
        RecordKind::Error,
        &record(Some(17), &wide),
        None,
        Some(&integration),
        None,
    );
    let (_, message) = mail.subject.split_once("1234: ").unwrap();
    assert_eq!(message.chars().count(), SUBJECT_MESSAGE_CHARS);
}

#[test]
fn the_text_part_carries_the_facts_and_links_the_run_when_a_public_url_is_set() {
    let integration = invoices();
    let run = run(&integration);
    let record = record(Some(17), "Supplier is blocked\nsecond line");
    let mail = email(
        RecordKind::Error,
        &record,
        Some(&run),
        Some(&integration),
        Some(ROOT),
    );
    for fact in [
        "Integration \"Invoices export\" (INV-EXP): error on InvoiceHeader 1234",
        "Integration:  Invoices export (INV-EXP)\n",
        "Run:          17, failed\n",
        "Started:      2026-11-28T02:00:00+00:00\n",
        "Ended:        2026-11-28T02:05:00+00:00\n",
        "Records:      120 processed of 130\n",
        "Record:       integration error 55, Technical, filed 2026-11-28T02:05:00+00:00\n",
        "Document:     InvoiceHeader 1234\n",
        "Resolved:     no\n",
        "Responses:\n- E42: Supplier is blocked\n  second line\n",
        "\nRun: https://runledger.example.com/api/integration_runs/17\n",
    ] {
        assert!(mail.text.contains(fact), "{fact:?} in:\n{}", mail.text);
    }
    let unlinked = email(
        RecordKind::Error,
        &record,
        Some(&run),
        Some(&integration),
        None,
    );
    assert!(!unlinked.text.contains("http"), "{}", unlinked.text);
    assert!(!unlinked.html.contains("<a "), "{}", unlinked.html);
}

#[test]
fn a_record_without_run_links_its_integration() {
    let integration = invoices();
    let mail = email(
        RecordKind::History,
        &monitor_alert("down: nothing by 02:10"),
        None,
        Some(&integration),
        Some(ROOT),
    );
    assert!(
        mail.text
            .ends_with("\nIntegration: https://runledger.example.com/api/integrations/7\n"),
        "{}",
        mail.text
    );
    assert!(
        mail.html
            .contains("<a href=\"https://runledger.example.com/api/integrations/7\">"),
        "{}",
        mail.html
    );
}

#[test]
fn the_html_part_escapes_every_value() {
    let integration = integration("<b>R&D</b> \"feed\"", "R'D");
    let run = run(&integration);
    let mut record = record(Some(17), "<script>alert('x')</script> & more");
    record.external_id = Some("a\"><img src=x>".into());
    let mail = email(
        RecordKind::Error,
        &record,
        Some(&run),
        Some(&integration),
        Some(ROOT),
    );
    for raw in ["<b>", "<script>", "<img", "R'D", "\"feed\""] {
        assert!(!mail.html.contains(raw), "{raw} in:\n{}", mail.html);
    }
    for escaped in [
        "&lt;b&gt;R&amp;D&lt;/b&gt; &quot;feed&quot; (R&#39;D)",
        "<pre>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more</pre>",
        "<dt>External id</dt><dd>a&quot;&gt;&lt;img src=x&gt;</dd>",
        "<a href=\"https://runledger.example.com/api/integration_runs/17\">",
    ] {
        assert!(mail.html.contains(escaped), "{escaped} in:\n{}", mail.html);
    }
    // The text part is plain text: nothing escaped there.
    assert!(mail.text.contains("<script>alert('x')</script> & more"));
}

#[test]
fn the_escaper_replaces_the_five_characters_and_keeps_the_rest() {
    assert_eq!(escape("a<b>&\"c'ü"), "a&lt;b&gt;&amp;&quot;c&#39;ü");
    assert_eq!(escape(""), "");
}
