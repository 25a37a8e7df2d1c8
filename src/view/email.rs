//! An alert as an email for people: a subject that says what happened to which integration,
//! and the same facts as plain text and as simple HTML, with a link to the run when the
//! server knows its public URL. Webhooks keep their JSON payload ([`super::alerts`]).
//!
//! The subject follows one rule with one exception:
//! - `[Runledger] Integration "NAME" (CODE): error on TYPE ID: MESSAGE` (`history record`
//!   for a history record; `the job` for Runledger's own document type);
//! - a monitor's alert, a history record of document type `Runledger::Job` whose message
//!   starts with a health word and a colon (`down: expected 02:00 …`), reads
//!   `[Runledger] NAME is down: expected 02:00 …`.
//!
//! MESSAGE is the first response's message on one line, cut after [`SUBJECT_MESSAGE_CHARS`]
//! characters; a subject never holds a control character, so no user text can add a header.

use std::fmt::Write as _;

use crate::domain::integrations::Integration;
use crate::domain::monitor::Health;
use crate::domain::records::{JOB_DOCUMENT_TYPE, Record, RecordKind};
use crate::domain::runs::RunView;
use crate::time;

/// How many characters of a record's message a subject shows.
pub const SUBJECT_MESSAGE_CHARS: usize = 120;

/// An email ready for the transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The email about `record` of `kind`, filed on `run` (if any) of `integration` (if any).
/// `public_url` is the server's root as people reach it, without a trailing slash.
pub fn email(
    kind: RecordKind,
    record: &Record,
    run: Option<&RunView>,
    integration: Option<&Integration>,
    public_url: Option<&str>,
) -> Email {
    let who = Who::of(record, integration);
    let headline = headline(kind, record, who.as_ref());
    let facts = facts(kind, record, run, who.as_ref());
    let link = public_url.and_then(|root| link(root, record, who.as_ref()));
    Email {
        subject: format!("[Runledger] {headline}"),
        text: text(&headline, &facts, record, link.as_ref()),
        html: html(&headline, &facts, record, link.as_ref()),
    }
}

/// The integration's keys, from the integration or else from the record.
struct Who<'a> {
    id: i64,
    code: &'a str,
    name: &'a str,
}

impl<'a> Who<'a> {
    fn of(record: &'a Record, integration: Option<&'a Integration>) -> Option<Who<'a>> {
        match (integration, &record.integration) {
            (Some(i), _) => Some(Who {
                id: i.id,
                code: &i.code,
                name: &i.name,
            }),
            (None, Some(keys)) => Some(Who {
                id: keys.id,
                code: &keys.code,
                name: &keys.name,
            }),
            (None, None) => None,
        }
    }
}

/// The subject without its `[Runledger]` tag, on one line.
fn headline(kind: RecordKind, record: &Record, who: Option<&Who>) -> String {
    let message = message(record).map(|m| truncate(&one_line(m), SUBJECT_MESSAGE_CHARS));
    if let (Some(who), Some(message)) = (who, &message)
        && is_monitor_alert(kind, record)
    {
        return one_line(&format!("{} is {message}", who.name));
    }
    let mut line = match who {
        Some(who) => format!("Integration \"{}\" ({}): ", who.name, who.code),
        None => String::new(),
    };
    line.push_str(match kind {
        RecordKind::Error => "error",
        RecordKind::History => "history record",
    });
    if let Some(document) = document(record) {
        let _ = write!(line, " on {document}");
    }
    if let Some(message) = message {
        let _ = write!(line, ": {message}");
    }
    one_line(&line)
}

/// Whether the record is a monitor's alert: a history record about the job whose message
/// starts with the health it reports (`down: …`, `up: …`).
fn is_monitor_alert(kind: RecordKind, record: &Record) -> bool {
    kind == RecordKind::History
        && record.document_type.as_deref() == Some(JOB_DOCUMENT_TYPE)
        && message(record)
            .and_then(|m| m.split_once(':'))
            .is_some_and(|(word, _)| Health::parse(word.trim()).is_some())
}

/// The record's message: its first response's.
fn message(record: &Record) -> Option<&str> {
    record
        .responses
        .iter()
        .find_map(|r| r.response_message.as_deref())
        .filter(|m| !m.trim().is_empty())
}

/// What the record is about: `InvoiceHeader 1234`, or `the job` for Runledger's own type.
fn document(record: &Record) -> Option<String> {
    match (record.document_type.as_deref(), record.document_id) {
        (Some(JOB_DOCUMENT_TYPE), _) => Some("the job".into()),
        (Some(kind), Some(id)) => Some(format!("{kind} {id}")),
        (Some(kind), None) => Some(kind.into()),
        (None, Some(id)) => Some(format!("document {id}")),
        (None, None) => None,
    }
}

/// The facts a person needs, as label and value, in the order both parts show them.
fn facts(
    kind: RecordKind,
    record: &Record,
    run: Option<&RunView>,
    who: Option<&Who>,
) -> Vec<(&'static str, String)> {
    let mut facts = Vec::new();
    if let Some(who) = who {
        facts.push(("Integration", format!("{} ({})", who.name, who.code)));
    }
    if let Some(view) = run {
        let run = &view.run;
        facts.push(("Run", format!("{}, {}", run.id, run.status.as_str())));
        if let Some(start) = &run.start_time {
            facts.push(("Started", time::format(start)));
        }
        if let Some(end) = &run.end_time {
            facts.push(("Ended", time::format(end)));
        }
        match (run.records_processed, run.total_records) {
            (Some(done), Some(total)) => {
                facts.push(("Records", format!("{done} processed of {total}")));
            }
            (Some(done), None) => facts.push(("Records", format!("{done} processed"))),
            (None, Some(total)) => facts.push(("Records", format!("{total} in total"))),
            (None, None) => {}
        }
    } else if let Some(id) = record.integration_run_id {
        facts.push(("Run", id.to_string()));
    }
    let what = match kind {
        RecordKind::Error => "integration error",
        RecordKind::History => "history record",
    };
    facts.push((
        "Record",
        format!(
            "{what} {}, {}, filed {}",
            record.id,
            record.contact_alert_type.as_str(),
            time::format(&record.created_at)
        ),
    ));
    if let Some(document) = &record.document_type {
        let mut value = document.clone();
        if let Some(id) = record.document_id {
            let _ = write!(value, " {id}");
        }
        if let Some(revision) = record.document_revision {
            let _ = write!(value, ", revision {revision}");
        }
        if let Some(status) = &record.document_status {
            let _ = write!(value, ", status {status}");
        }
        facts.push(("Document", value));
    } else if let Some(id) = record.document_id {
        facts.push(("Document", id.to_string()));
    }
    if let Some(external) = &record.external_id {
        facts.push(("External id", external.clone()));
    }
    if let Some(file) = &record.integration_filename {
        facts.push(("File", file.clone()));
    }
    let resolved = if record.resolved { "yes" } else { "no" };
    facts.push(("Resolved", resolved.to_owned()));
    facts
}

/// Where to look: the run when the record has one, else the integration.
fn link(root: &str, record: &Record, who: Option<&Who>) -> Option<(&'static str, String)> {
    match (record.integration_run_id, who) {
        (Some(run), _) => Some(("Run", format!("{root}/api/integration_runs/{run}"))),
        (None, Some(who)) => Some(("Integration", format!("{root}/api/integrations/{}", who.id))),
        (None, None) => None,
    }
}

fn text(
    headline: &str,
    facts: &[(&str, String)],
    record: &Record,
    link: Option<&(&str, String)>,
) -> String {
    let mut out = format!("{headline}\n\n");
    // Values line up two spaces after the longest label and its colon.
    let width = facts
        .iter()
        .map(|(label, _)| label.len())
        .max()
        .unwrap_or(0)
        + 3;
    for (label, value) in facts {
        let _ = writeln!(out, "{:width$}{}", format!("{label}:"), one_line(value));
    }
    if !record.responses.is_empty() {
        out.push_str("\nResponses:\n");
        for r in &record.responses {
            let code = r.response_code.as_deref().unwrap_or("-");
            let message = r.response_message.as_deref().unwrap_or("");
            let mut lines = message.lines();
            let _ = writeln!(out, "- {}: {}", one_line(code), lines.next().unwrap_or(""));
            for line in lines {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    if let Some((label, url)) = link {
        let _ = write!(out, "\n{label}: {url}\n");
    }
    out
}

fn html(
    headline: &str,
    facts: &[(&str, String)],
    record: &Record,
    link: Option<&(&str, String)>,
) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(out, "<title>{}</title>\n</head>\n<body>", escape(headline));
    let _ = writeln!(out, "<h1>{}</h1>\n<dl>", escape(headline));
    for (label, value) in facts {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(label), escape(value));
    }
    out.push_str("</dl>\n");
    if !record.responses.is_empty() {
        out.push_str("<h2>Responses</h2>\n<ul>\n");
        for r in &record.responses {
            let code = r.response_code.as_deref().unwrap_or("-");
            let message = r.response_message.as_deref().unwrap_or("");
            let _ = writeln!(
                out,
                "<li><code>{}</code><pre>{}</pre></li>",
                escape(code),
                escape(message)
            );
        }
        out.push_str("</ul>\n");
    }
    if let Some((label, url)) = link {
        let url = escape(url);
        let _ = writeln!(out, "<p>{label}: <a href=\"{url}\">{url}</a></p>");
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// Text for HTML, in an element or in a quoted attribute: the five characters that could
/// end either are replaced by their entities. A hand-written escaper, as no HTML crate is a
/// dependency and these five are the whole of what text and attributes need.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` on one line: every run of whitespace and control characters (CR and LF among
/// them) becomes one space.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// At most `max` characters of `text`, cut at a word's end when one is near, with `…`.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max - 1).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if cut[..space].chars().count() >= max * 2 / 3 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests;
