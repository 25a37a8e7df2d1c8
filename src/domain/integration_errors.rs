//! Integration errors: one per failed document, attached to a run (spec §1.4).
//!
//! Runs embed their errors and `finish` decides by the unresolved ones; the routes that file
//! and resolve errors build on the same record.

use crate::time::Timestamp;

use super::Actor;

pub const CONTACT_ALERT_TYPES: &[&str] = &["Technical", "Functional", "Both"];

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

#[derive(Clone, Debug, PartialEq)]
pub struct IntegrationError {
    pub id: i64,
    pub integration_run_id: Option<i64>,
    pub integration_id: Option<i64>,
    pub contact_alert_type: String,
    pub document_type: Option<String>,
    pub document_id: Option<i64>,
    pub document_revision: Option<i64>,
    pub document_status: Option<String>,
    pub external_id: Option<String>,
    pub integration_filename: Option<String>,
    pub creation_method: Option<String>,
    pub status: Option<String>,
    pub resolved: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub created_by: Option<Actor>,
    pub updated_by: Option<Actor>,
}
