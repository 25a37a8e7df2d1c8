//! Integration errors and history records: one per document, usually attached to a run
//! (spec §1.4). Both kinds share one shape; errors are what a run embeds and what `finish`
//! decides by.

use serde_json::Value;

use super::Actor;
use super::input::{Body, Checker, Field, humanize};
use super::integrations::IntegrationRef;
use super::vocabulary::vocabulary;
use crate::error::{Error, Result};
use crate::time::Timestamp;

vocabulary! {
    /// Which alerts a record raises and a contact hears (see [`super::alerts::reaches`]).
    pub enum ContactAlertType {
        Technical = "Technical",
        Functional = "Functional",
        Both = "Both",
    }
}

/// Coupa's document types (spec §1.4): what a body may name as a record's `document-type`.
pub const DOCUMENT_TYPES: &[&str] = &[
    "ContingentWorkOrderHeader",
    "ExternalOrderHeader",
    "OrderHeader",
    "InventoryTransaction",
    "InvoiceHeader",
    "ExpenseReport",
    "RequisitionHeader",
    "Account",
    "Supplier",
    "User",
    "Address",
    "RemitToAddress",
    "Contract",
    "ExchangeRate",
    "Invoice",
    "Requisition",
    "Payment",
    "ApprovalChain",
    "LookupValue",
    "Item",
    "SupplierInformation",
    "Asn::Header",
    "AccountValidationRule",
    "Payables::External::Payable",
    "Charge",
    "Payables::Invoice",
    "Payables::Expense",
    "CoupaPay::Payment",
    "CoupaPay::Statement",
    "ReceiptRequest",
    "InventoryRequestHeader",
];

/// Runledger's own document type for a record about a whole job rather than one document:
/// what `runledger exec` files when its command fails. Coupa's list has none for a job.
pub const JOB_DOCUMENT_TYPE: &str = "Runledger::Job";

/// Coupa's document types and, after them, Runledger's own.
pub const EXTENDED_DOCUMENT_TYPES: &[&str] = &extended_document_types();

const fn extended_document_types() -> [&'static str; DOCUMENT_TYPES.len() + 1] {
    let mut all = [JOB_DOCUMENT_TYPE; DOCUMENT_TYPES.len() + 1];
    let mut i = 0;
    while i < DOCUMENT_TYPES.len() {
        all[i] = DOCUMENT_TYPES[i];
        i += 1;
    }
    all
}

/// Which document types a request may name. A Coupa client never sees Runledger's own:
/// the HTTP layer allows them only to a request that asks for Runledger's extensions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DocumentTypes {
    /// Coupa's 31, exactly as Coupa checks them.
    #[default]
    Coupa,
    /// Coupa's and Runledger's own ([`JOB_DOCUMENT_TYPE`]).
    Extended,
}

impl DocumentTypes {
    pub fn words(self) -> &'static [&'static str] {
        match self {
            DocumentTypes::Coupa => DOCUMENT_TYPES,
            DocumentTypes::Extended => EXTENDED_DOCUMENT_TYPES,
        }
    }
}

/// Which of the two record resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Error,
    History,
}

impl RecordKind {
    pub const ALL: [RecordKind; 2] = [RecordKind::Error, RecordKind::History];

    /// The table, and the name the outbox and responses use for the kind.
    pub fn table(self) -> &'static str {
        match self {
            RecordKind::Error => "integration_errors",
            RecordKind::History => "integration_history_records",
        }
    }

    /// The kind as the outbox (`record_type`) and responses (`owner_type`) store it.
    pub const fn owner_type(self) -> &'static str {
        match self {
            RecordKind::Error => "integration_error",
            RecordKind::History => "integration_history_record",
        }
    }

    pub fn parse_owner_type(text: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.owner_type() == text)
    }

    /// Rails' class name, for "Couldn't find …" messages.
    pub fn class(self) -> &'static str {
        match self {
            RecordKind::Error => "IntegrationError",
            RecordKind::History => "IntegrationHistoryRecord",
        }
    }
}

/// One response filed with a record (`responses`).
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub id: i64,
    pub response_code: Option<String>,
    pub response_message: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A response about to be filed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewResponse {
    pub response_code: Option<String>,
    pub response_message: Option<String>,
}

/// An integration as a record names it: its keys only.
#[derive(Clone, Debug, PartialEq)]
pub struct IntegrationKeys {
    pub id: i64,
    pub code: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub id: i64,
    /// Raised by one with each write: what its ETag is made of (`etag`).
    pub version: i64,
    pub integration_run_id: Option<i64>,
    pub integration_id: Option<i64>,
    pub contact_alert_type: ContactAlertType,
    pub document_type: Option<String>,
    pub document_id: Option<i64>,
    pub document_revision: Option<i64>,
    pub document_status: Option<String>,
    pub external_id: Option<String>,
    pub integration_filename: Option<String>,
    pub creation_method: Option<String>,
    pub status: Option<String>,
    pub resolved: bool,
    pub exported: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub created_by: Option<Actor>,
    pub updated_by: Option<Actor>,
    /// The integration's keys, when the record has one.
    pub integration: Option<IntegrationKeys>,
    /// Filled where the record is shown on its own, not where a run embeds it.
    pub responses: Vec<Response>,
}

/// How a body names the run of a record: `integration-run: {"id": …}` or `integration-run-id`.
pub type RunRef = i64;

/// The writable elements of a record, each absent unless the body named it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordFields {
    pub contact_alert_type: Field<ContactAlertType>,
    pub integration_run: Field<RunRef>,
    pub integration: Option<IntegrationRef>,
    pub document_type: Field<String>,
    pub document_id: Field<i64>,
    pub document_revision: Field<i64>,
    pub document_status: Field<String>,
    pub external_id: Field<String>,
    pub integration_filename: Field<String>,
    pub creation_method: Field<String>,
    pub status: Field<String>,
    /// Appended to the record's responses.
    pub responses: Vec<NewResponse>,
}

impl RecordFields {
    /// Reads and validates the elements present in `body`, whose `document-type` may be one
    /// of `allowed`.
    pub fn parse(body: Body, allowed: DocumentTypes) -> Result<Self> {
        let mut c = Checker::default();
        let mut fields = RecordFields {
            contact_alert_type: c.one_of(
                body,
                "contact-alert-type",
                &ContactAlertType::ALL,
                ContactAlertType::as_str,
                true,
            ),
            integration_run: run_reference(&mut c, body),
            integration: match body.get("integration") {
                None | Some(Value::Null) => None,
                Some(value) => Some(IntegrationRef::parse(value)),
            },
            document_type: c
                .one_of(body, "document-type", allowed.words(), |t| t, false)
                .map(|t| t.map(str::to_owned)),
            document_id: c.integer(body, "document-id"),
            document_revision: c.integer(body, "document-revision"),
            document_status: c.text(body, "document-status", 255, false),
            external_id: c.text(body, "external-id", 255, false),
            integration_filename: c.text(body, "integration-filename", 255, false),
            creation_method: c.text(body, "creation-method", 255, false),
            status: c.text(body, "status", 255, false),
            responses: Vec::new(),
        };
        fields.responses = responses(&mut c, body);
        c.finish()?;
        Ok(fields)
    }

    /// The run of a record that was in `current` once these fields apply: the one they
    /// name, none if they clear it, else `current`.
    pub fn run_after(&self, current: Option<RunRef>) -> Option<RunRef> {
        self.integration_run.unwrap_or(current)
    }

    /// Whether these fields name the record's run or integration, so that its integration is
    /// decided again (see [`record_integration`]).
    pub fn moves(&self) -> bool {
        self.integration_run.is_some() || self.integration.is_some()
    }

    /// Refuses an update that would clear what its kind requires.
    pub fn require_for_update(&self, kind: RecordKind) -> Result<()> {
        let mut c = Checker::default();
        let mut keep = |cleared: bool, key: &str| {
            if cleared {
                c.fail(format!("{} can't be blank", humanize(key)));
            }
        };
        match kind {
            RecordKind::Error => keep(
                matches!(self.integration_run, Some(None)),
                "integration-run",
            ),
            RecordKind::History => {
                keep(matches!(self.document_id, Some(None)), "document-id");
                keep(matches!(self.document_type, Some(None)), "document-type");
            }
        }
        c.finish()
    }

    /// Refuses a new record without what its kind requires.
    pub fn require_for_create(&self, kind: RecordKind) -> Result<()> {
        let mut c = Checker::default();
        let mut require = |present: bool, key: &str| {
            if !present {
                c.fail(format!("{} can't be blank", humanize(key)));
            }
        };
        require(
            matches!(self.contact_alert_type, Some(Some(_))),
            "contact-alert-type",
        );
        match kind {
            RecordKind::Error => require(
                matches!(self.integration_run, Some(Some(_))),
                "integration-run",
            ),
            RecordKind::History => {
                require(matches!(self.document_id, Some(Some(_))), "document-id");
                require(matches!(self.document_type, Some(Some(_))), "document-type");
            }
        }
        c.finish()
    }
}

fn run_reference(c: &mut Checker, body: Body) -> Field<RunRef> {
    let value = match (body.get("integration-run"), body.get("integration-run-id")) {
        (Some(Value::Object(run)), _) => run.get("id").cloned().unwrap_or(Value::Null),
        (Some(other), _) => other.clone(),
        (None, Some(id)) => id.clone(),
        (None, None) => return None,
    };
    match value {
        Value::Null => Some(None),
        Value::Number(n) if n.as_i64().is_some() => Some(n.as_i64()),
        Value::String(s) if s.trim().parse::<i64>().is_ok() => Some(s.trim().parse().ok()),
        other => {
            c.fail(format!("Integration run id is not an integer: {other}"));
            None
        }
    }
}

fn responses(c: &mut Checker, body: Body) -> Vec<NewResponse> {
    let items = match body.get("responses") {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items.as_slice(),
        // One `<responses><response>…</response></responses>` without `type="array"` reads
        // as {"response": {…}}; a bare object is one response too.
        Some(whole @ Value::Object(one)) => one
            .get("response")
            .filter(|v| v.is_object())
            .map_or(std::slice::from_ref(whole), std::slice::from_ref),
        Some(_) => {
            c.fail("Responses must be a list");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for item in items {
        let Value::Object(map) = item else {
            c.fail("Each response must be an object");
            continue;
        };
        let response = Body(map);
        out.push(NewResponse {
            response_code: c.text(response, "response-code", 255, false).flatten(),
            response_message: c
                .text(response, "response-message", 65_535, false)
                .flatten(),
        });
    }
    out
}

impl Record {
    /// Applies an update. The run and the integration are changed by the store, which must
    /// look them up.
    pub fn apply(&mut self, fields: &RecordFields) {
        fn set<T: Clone>(target: &mut T, value: &Option<T>) {
            if let Some(v) = value {
                *target = v.clone();
            }
        }
        if let Some(Some(t)) = fields.contact_alert_type {
            self.contact_alert_type = t;
        }
        set(&mut self.document_type, &fields.document_type);
        set(&mut self.document_id, &fields.document_id);
        set(&mut self.document_revision, &fields.document_revision);
        set(&mut self.document_status, &fields.document_status);
        set(&mut self.external_id, &fields.external_id);
        set(&mut self.integration_filename, &fields.integration_filename);
        set(&mut self.creation_method, &fields.creation_method);
        set(&mut self.status, &fields.status);
    }
}

impl Record {
    /// A record as `create` makes it, before it is stored (its id is 0): the body's values
    /// over a blank record (open, no document, no responses) made `now` by `actor`, in the
    /// run the body names and in `integration_id` (see [`record_integration`]). A body
    /// without a contact alert type is refused, as [`RecordFields::require_for_create`]
    /// refuses it.
    pub fn new(
        fields: &RecordFields,
        integration_id: Option<i64>,
        exported: bool,
        now: Timestamp,
        actor: Option<&Actor>,
    ) -> Result<Record> {
        let Some(Some(contact_alert_type)) = fields.contact_alert_type else {
            return Err(Error::invalid(format!(
                "{} can't be blank",
                humanize("contact-alert-type")
            )));
        };
        let mut record = Record {
            id: 0,
            version: 0,
            integration_run_id: fields.integration_run.flatten(),
            integration_id,
            contact_alert_type,
            document_type: None,
            document_id: None,
            document_revision: None,
            document_status: None,
            external_id: None,
            integration_filename: None,
            creation_method: None,
            status: None,
            resolved: false,
            exported,
            created_at: now,
            updated_at: now,
            created_by: actor.cloned(),
            updated_by: actor.cloned(),
            integration: None,
            responses: Vec::new(),
        };
        record.apply(fields);
        Ok(record)
    }
}

impl Record {
    /// The record as an update leaves it, in `run_id` and `integration_id` (as
    /// [`RecordFields::run_after`] and [`record_integration`] decided them), and whether the
    /// update changes anything: a value, or responses to append.
    pub fn updated(
        &self,
        fields: &RecordFields,
        run_id: Option<RunRef>,
        integration_id: Option<i64>,
    ) -> (Record, bool) {
        let mut next = self.clone();
        next.integration_run_id = run_id;
        next.integration_id = integration_id;
        next.apply(fields);
        let changed = next != *self || !fields.responses.is_empty();
        (next, changed)
    }
}

/// The integration of a record: the one its body names (`named`), which must be its run's
/// (`of_run`) when it has a run; else its run's; else the one it had (`current`).
pub fn record_integration(
    named: Option<i64>,
    of_run: Option<i64>,
    current: Option<i64>,
) -> Result<Option<i64>> {
    match (named, of_run) {
        (Some(named), Some(of_run)) if named != of_run => Err(Error::invalid(
            "Integration does not match the integration of the integration run",
        )),
        (Some(id), _) | (None, Some(id)) => Ok(Some(id)),
        (None, None) => Ok(current),
    }
}

/// The message when a record names a run that does not exist, in Coupa's words.
pub fn run_not_found(id: RunRef) -> Error {
    Error::invalid(format!(
        "Unable to find valid IntegrationRun record for integration_run with keys {{\"id\"=>{id}}}. \
         Possible keys are [\"id\"]."
    ))
}

#[cfg(test)]
mod tests;
