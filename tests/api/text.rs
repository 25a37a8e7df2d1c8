//! Text that one of the formats cannot show (spec §2.4, docs/api.md "Text"): refused at the
//! door, never stored, never written raw into an XML answer.

use quick_xml::Reader;
use quick_xml::events::Event;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, messages, spawn_app};

const RUNS: &str = "/api/integration_runs";
const INTEGRATIONS: &str = "/api/integrations";
const ERRORS: &str = "/api/integration_errors";
const HISTORY: &str = "/api/integration_history_records";
const CONTACTS: &str = "/api/integration_contacts";

/// One character of each class XML 1.0 cannot carry, and a character reference to it as a
/// client would write it (decimal or hexadecimal, upper or lower case).
pub const UNSHOWABLE: [(char, &str); 6] = [
    ('\u{0}', "&#0;"),
    ('\u{1}', "&#1;"),
    ('\u{c}', "&#xc;"),
    ('\u{1b}', "&#x1B;"),
    ('\u{FFFE}', "&#xfffe;"),
    ('\u{FFFF}', "&#65535;"),
];

/// Whether XML 1.0 can carry `c` (its `Char` production), written out here rather than
/// borrowed from the server's code. Rust's `char` already leaves out the surrogates.
pub fn xml_can_carry(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// The leaf elements of an XML answer, read with quick-xml, in document order: the path of
/// element names (`errors/error`) and the text. Panics unless the document is one XML 1.0
/// can carry: every character, and every character a reference names, is an XML `Char`.
pub fn xml_leaves(document: &str) -> Vec<(String, String)> {
    if let Some(c) = document.chars().find(|c| !xml_can_carry(*c)) {
        panic!("the answer holds U+{:04X}: {document:?}", u32::from(c));
    }
    let mut reader = Reader::from_str(document);
    // The open elements, each with whether it holds an element.
    let mut path: Vec<(String, bool)> = Vec::new();
    let mut text = String::new();
    let mut leaves = Vec::new();
    let joined = |path: &[(String, bool)], name: &str| {
        let mut names: Vec<&str> = path.iter().map(|(n, _)| n.as_str()).collect();
        names.push(name);
        names.join("/")
    };
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("unreadable XML ({e}): {document:?}"));
        match event {
            Event::Start(start) => {
                if let Some(parent) = path.last_mut() {
                    parent.1 = true;
                }
                let name = String::from_utf8(start.name().as_ref().to_vec()).expect("UTF-8");
                path.push((name, false));
                text.clear();
            }
            Event::Empty(start) => {
                if let Some(parent) = path.last_mut() {
                    parent.1 = true;
                }
                let name = String::from_utf8(start.name().as_ref().to_vec()).expect("UTF-8");
                leaves.push((joined(&path, &name), String::new()));
            }
            Event::Text(t) => text.push_str(&t.xml10_content().expect("text")),
            Event::CData(c) => text.push_str(&c.xml10_content().expect("CDATA")),
            Event::GeneralRef(r) => match r.resolve_char_ref().expect("a character reference") {
                Some(c) => {
                    assert!(xml_can_carry(c), "a reference to U+{:04X}", u32::from(c));
                    text.push(c);
                }
                None => {
                    let name = r.decode().expect("UTF-8");
                    let entity = quick_xml::escape::resolve_predefined_entity(&name)
                        .unwrap_or_else(|| panic!("entity &{name}; in {document:?}"));
                    text.push_str(entity);
                }
            },
            Event::End(_) => {
                let (name, parent) = path.pop().expect("balanced");
                if !parent {
                    leaves.push((joined(&path, &name), std::mem::take(&mut text)));
                }
                text.clear();
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    assert!(path.is_empty(), "unbalanced XML: {document:?}");
    leaves
}

/// The text of every leaf at `path` in an XML answer.
pub fn xml_texts(document: &str, path: &str) -> Vec<String> {
    xml_leaves(document)
        .into_iter()
        .filter(|(p, _)| p == path)
        .map(|(_, text)| text)
        .collect()
}

/// What the 400 says of text XML cannot carry, written out here rather than borrowed from
/// the server's code.
pub fn refusal(place: &str, position: usize, c: char) -> String {
    format!(
        "{place} contains U+{:04X} at character {position}, which XML cannot carry: \
         remove it or replace it",
        u32::from(c)
    )
}

/// `text` written into an XML body: escaped, CR as a reference (a raw one would be read as
/// LF), and each character XML cannot carry as a reference to it, as a client that builds
/// its XML with a library would send it.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if !xml_can_carry(c) => out.push_str(&format!("&#x{:x};", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// One body of one resource with an unshowable character in it, in both formats, and where
/// the 400 must say it is.
struct Case {
    method: Method,
    path: String,
    /// The JSON key of the resource's error messages.
    resource: &'static str,
    json: Value,
    xml: String,
    place: &'static str,
    position: usize,
}

/// The bodies that carry `bad` (the character itself for JSON, `xml_bad` for XML) on every
/// resource, in a top-level field, a nested one, an array, and a key the resource ignores.
fn cases(bad: char, xml_bad: &str, run: i64) -> Vec<Case> {
    let integration = |name: &str, code: &str| {
        format!(
            "<integration><code>{code}</code><name>{name}</name><business-object>OrderHeader</business-object>\
             <direction>from_coupa</direction><end-system>SAP</end-system>\
             <end-system-type>erp</end-system-type></integration>"
        )
    };
    let mut integration_json = crate::helpers::integration_body("NEW");
    integration_json["name"] = json!(format!("New {bad}"));
    vec![
        Case {
            method: Method::POST,
            path: RUNS.into(),
            resource: "integration-run",
            json: json!({"integration": {"code": "PO"}, "flow": {"steps": ["ok", format!("bad{bad}")]}}),
            xml: format!(
                "<integration-run><integration><code>PO</code></integration><flow>\
                 <steps type=\"array\"><step>ok</step><step>bad{xml_bad}</step></steps>\
                 </flow></integration-run>"
            ),
            place: "Steps (flow.steps[1])",
            position: 4,
        },
        Case {
            method: Method::PUT,
            path: format!("{RUNS}/{run}"),
            resource: "integration-run",
            json: json!({"flow": {"source": {"name": format!("S{bad}AP")}}}),
            xml: format!(
                "<integration-run><flow><source><name>S{xml_bad}AP</name></source></flow>\
                 </integration-run>"
            ),
            place: "Name (flow.source.name)",
            position: 2,
        },
        Case {
            method: Method::PUT,
            path: format!("{RUNS}/{run}/run"),
            resource: "integration-run",
            json: json!({"comment": format!("ignored {bad}")}),
            xml: format!("<integration-run><comment>ignored {xml_bad}</comment></integration-run>"),
            place: "Comment",
            position: 9,
        },
        Case {
            method: Method::POST,
            path: INTEGRATIONS.into(),
            resource: "integration",
            json: integration_json,
            xml: integration(&format!("New {xml_bad}"), "NEW"),
            place: "Name",
            position: 5,
        },
        Case {
            method: Method::POST,
            path: ERRORS.into(),
            resource: "integration-error",
            json: json!({"contact-alert-type": "Technical", "integration-run": {"id": run},
                         "responses": [{"response-code": "E1", "response-message": "fine"},
                                       {"response-code": "E2", "response-message": format!("E2: {bad}")}]}),
            xml: format!(
                "<integration-error><contact-alert-type>Technical</contact-alert-type>\
                 <integration-run><id type=\"integer\">{run}</id></integration-run>\
                 <responses type=\"array\">\
                   <response><response-code>E1</response-code><response-message>fine</response-message></response>\
                   <response><response-code>E2</response-code><response-message>E2: {xml_bad}</response-message></response>\
                 </responses></integration-error>"
            ),
            place: "Response message (responses[1].response-message)",
            position: 5,
        },
        Case {
            method: Method::POST,
            path: HISTORY.into(),
            resource: "integration-history-record",
            json: json!({"contact-alert-type": "Functional", "document-type": "Supplier",
                         "document-id": 7, "external-id": format!("EXT-{bad}")}),
            xml: format!(
                "<integration-history-record><contact-alert-type>Functional</contact-alert-type>\
                 <document-type>Supplier</document-type><document-id type=\"integer\">7</document-id>\
                 <external-id>EXT-{xml_bad}</external-id></integration-history-record>"
            ),
            place: "External id",
            position: 5,
        },
        Case {
            method: Method::POST,
            path: CONTACTS.into(),
            resource: "integration-contact",
            json: json!({"contact-alert-type": "Technical", "contactable-type": "User",
                         "contactable-id": 12, "email": format!("ops{bad}@example.com")}),
            xml: format!(
                "<integration-contact><contact-alert-type>Technical</contact-alert-type>\
                 <contactable-type>User</contactable-type><contactable-id type=\"integer\">12</contactable-id>\
                 <email>ops{xml_bad}@example.com</email></integration-contact>"
            ),
            place: "Email",
            position: 4,
        },
    ]
}

/// A run's `PO` integration and one run of it, whose flow the refused updates must leave alone.
async fn with_a_run(app: &TestApp) -> i64 {
    app.create_integration("PO").await;
    app.create_run("PO").await
}

/// Nothing but the setup's integration and run exists, unchanged.
async fn assert_nothing_stored(app: &TestApp, run: i64) {
    let (_, runs) = app.get_json(RUNS).await;
    let runs = runs.as_array().expect("runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["id"], run);
    assert_eq!(runs[0]["status"], "pending");
    assert_eq!(runs[0]["flow"], Value::Null);
    let (_, integrations) = app.get_json(INTEGRATIONS).await;
    let codes: Vec<&Value> = integrations
        .as_array()
        .expect("integrations")
        .iter()
        .map(|i| &i["code"])
        .collect();
    assert_eq!(codes, [&json!("PO")]);
    for path in [ERRORS, HISTORY, CONTACTS] {
        assert_eq!(app.get_json(path).await.1, json!([]), "{path}");
    }
}

#[tokio::test]
async fn every_class_of_character_xml_cannot_carry_is_refused_in_json_bodies_naming_the_field() {
    let app = spawn_app().await;
    let run = with_a_run(&app).await;
    for (bad, xml_bad) in UNSHOWABLE {
        for case in cases(bad, xml_bad, run) {
            let (status, body) = app
                .json(case.method.clone(), &case.path, Some(case.json.clone()))
                .await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{} {}: {body}",
                case.method,
                case.path
            );
            assert_eq!(
                messages(&body, case.resource),
                [refusal(case.place, case.position, bad)],
                "{} {}",
                case.method,
                case.path
            );
        }
    }
    assert_nothing_stored(&app, run).await;
}

#[tokio::test]
async fn every_class_of_character_xml_cannot_carry_is_refused_in_xml_bodies_as_references_or_raw() {
    let app = spawn_app().await;
    let run = with_a_run(&app).await;
    for (bad, reference) in UNSHOWABLE {
        for xml_bad in [reference.to_owned(), bad.to_string()] {
            for case in cases(bad, &xml_bad, run) {
                let (status, text) = app
                    .xml(case.method.clone(), &case.path, Some(&case.xml))
                    .await;
                assert_eq!(
                    status,
                    StatusCode::BAD_REQUEST,
                    "{} {} with {xml_bad:?}: {text}",
                    case.method,
                    case.path
                );
                assert_eq!(
                    xml_texts(&text, "errors/error"),
                    [refusal(case.place, case.position, bad)],
                    "{} {} with {xml_bad:?}",
                    case.method,
                    case.path
                );
            }
        }
    }
    assert_nothing_stored(&app, run).await;
}

#[tokio::test]
async fn a_key_holding_a_character_xml_cannot_carry_is_refused_even_where_it_is_ignored() {
    let app = spawn_app().await;
    let run = with_a_run(&app).await;
    let body = json!({"integration": {"code": "PO"}, "flow": {"ok": {"x\u{1b}y": 1}},
                      "note\u{0}": "ignored"});
    let (status, answer) = app.post_json(RUNS, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(
        messages(&answer, "integration-run"),
        [
            refusal("A field name in flow.ok", 2, '\u{1b}'),
            refusal("A field name", 5, '\u{0}')
        ]
    );
    // In XML a name cannot hold a reference, but quick-xml reads raw control bytes in one.
    let xml = "<integration-run><integration><code>PO</code></integration>\
               <note\u{1}>ignored</note\u{1}></integration-run>";
    let (status, text) = app.xml(Method::POST, RUNS, Some(xml)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert_eq!(
        xml_texts(&text, "errors/error"),
        [refusal("A field name", 5, '\u{1}')]
    );
    assert_nothing_stored(&app, run).await;
}

/// Text XML carries but that is easy to get wrong: tab and both line ends (a raw CR would be
/// read from XML as LF), NEL and LINE SEPARATOR (XML 1.1 would turn them into LF), DEL, an
/// emoji, the replacement character itself, markup characters and a CDATA end.
const AWKWARD: &str = "a\tb\nc\rd\r\ne\u{85}f\u{2028}g\u{7f}h😀i\u{FFFD}j & <k> \"l\" 'm' ]]> n";

#[tokio::test]
async fn tabs_line_ends_nel_line_separator_and_emoji_are_stored_and_read_back_in_both_formats() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    let escaped = xml_escape(AWKWARD);
    // The same text written once in JSON and once in XML, into a run's flow, an
    // integration's name and an error's response message.
    let mut integration = crate::helpers::integration_body("AWK_JSON");
    integration["name"] = json!(AWKWARD);
    let (status, body) = app.post_json(INTEGRATIONS, integration).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Integration names are unique: the XML one ends differently.
    let xml_integration = format!(
        "<integration><code>AWK_XML</code><name>{escaped} 2</name><business-object>OrderHeader</business-object>\
         <direction>from_coupa</direction><end-system>SAP</end-system>\
         <end-system-type>erp</end-system-type></integration>"
    );
    let (status, text) = app
        .xml(Method::POST, INTEGRATIONS, Some(&xml_integration))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");

    let (status, run) = app
        .post_json(
            RUNS,
            json!({"integration": {"code": "PO"}, "flow": {"note": AWKWARD}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let xml_run = format!(
        "<integration-run><integration><code>PO</code></integration>\
         <flow><note type=\"string\">{escaped}</note></flow></integration-run>"
    );
    let (status, text) = app.xml(Method::POST, RUNS, Some(&xml_run)).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");

    let run_id = run["id"].as_i64().expect("id");
    let (status, error) = app
        .post_json(
            ERRORS,
            json!({"contact-alert-type": "Technical", "integration-run": {"id": run_id},
                   "responses": [{"response-message": AWKWARD}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{error}");
    let xml_error = format!(
        "<integration-error><contact-alert-type>Technical</contact-alert-type>\
         <integration-run><id type=\"integer\">{run_id}</id></integration-run>\
         <responses type=\"array\"><response><response-message>{escaped}</response-message></response></responses>\
         </integration-error>"
    );
    let (status, text) = app.xml(Method::POST, ERRORS, Some(&xml_error)).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");

    for id in [1, 2] {
        let (_, runs) = app.get_json(&format!("{RUNS}/{id}")).await;
        assert_eq!(runs["flow"]["note"], AWKWARD, "run {id} in JSON");
        let (_, text) = app.xml(Method::GET, &format!("{RUNS}/{id}"), None).await;
        assert_eq!(
            xml_texts(&text, "integration-run/flow/note"),
            [AWKWARD],
            "run {id} in XML"
        );
        let (_, error) = app.get_json(&format!("{ERRORS}/{id}")).await;
        assert_eq!(
            error["responses"][0]["response-message"], AWKWARD,
            "error {id} in JSON"
        );
        let (_, text) = app.xml(Method::GET, &format!("{ERRORS}/{id}"), None).await;
        assert_eq!(
            xml_texts(
                &text,
                "integration-error/responses/response/response-message"
            ),
            [AWKWARD],
            "error {id} in XML"
        );
    }
    for (code, name) in [
        ("AWK_JSON", AWKWARD.to_owned()),
        ("AWK_XML", format!("{AWKWARD} 2")),
    ] {
        let query = format!("{INTEGRATIONS}?code={code}");
        let (_, list) = app.get_json(&query).await;
        assert_eq!(list[0]["name"], name, "{code} in JSON");
        let (_, text) = app.xml(Method::GET, &query, None).await;
        assert_eq!(
            xml_texts(&text, "integrations/integration/name"),
            [name],
            "{code} in XML"
        );
    }
}

#[tokio::test]
async fn error_answers_that_echo_a_control_character_from_the_path_or_query_still_parse_as_xml() {
    let app = spawn_app().await;
    app.create_integration("PO").await;
    let (status, text) = app.xml(Method::GET, &format!("{RUNS}/1%01"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    assert_eq!(
        xml_texts(&text, "errors/error"),
        ["Couldn't find a record with 'id'=1\u{FFFD}"]
    );
    let (status, text) = app
        .xml(Method::PUT, &format!("{RUNS}/%1B%00/run"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    assert_eq!(
        xml_texts(&text, "errors/error"),
        ["Couldn't find a record with 'id'=\u{FFFD}\u{FFFD}"]
    );
    // In JSON the same answer keeps the character, escaped.
    let (status, body) = app.get_json(&format!("{RUNS}/1%01")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        messages(&body, "integration-run"),
        ["Couldn't find a record with 'id'=1\u{1}"]
    );
    for query in ["limit=%01", "offset=%1B", "order_by=%01", "id[gt]=%0C"] {
        let (status, text) = app.xml(Method::GET, &format!("{RUNS}?{query}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {text}");
        let errors = xml_texts(&text, "errors/error");
        assert!(
            !errors.is_empty() && errors.iter().all(|e| !e.is_empty()),
            "{query}: {text}"
        );
    }
}
