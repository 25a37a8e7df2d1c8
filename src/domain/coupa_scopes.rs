//! The OAuth scope names Coupa defines, so that a client configured for Coupa can ask for
//! (and be registered with) the scopes it already sends (spec §5).
//!
//! Only the first two mean anything here; the others are accepted, stored and granted, and
//! allow nothing. Sources, merged (each lists names the others lack, as Coupa adds scopes
//! with its releases):
//! - Coupa's "OAuth Scopes and Associated Permissions" (release R34.3.0, as copied in
//!   Rossum's knowledge base, knowledge-base.rossum.ai/docs/oauth-20-scopes), less three
//!   misspellings that no Coupa instance sends (`core.inventory.receiveing.read`,
//!   `core.payables.expenses.write`, `core.sourcing_information_sites.*`);
//! - the scope lists that Coupa clients in public repositories request (an instance's whole
//!   `/oauth2/scopes` list, and IBM's agent tools' default list).
//!
//! The position of a name is its bit in an access token ([`super::clients::Scopes`]):
//! append new names at the end, never reorder or remove, or a token issued before would
//! change meaning.

/// Every scope name Runledger accepts. The first two are Runledger's own.
pub const NAMES: &[&str] = &[
    "core.integration.read",
    "core.integration.write",
    "core.accounting.read",
    "core.accounting.write",
    "core.address.read_write",
    "core.approval.configuration.read",
    "core.approval.configuration.write",
    "core.approval.read",
    "core.approval.write",
    "core.budget.read",
    "core.budget.write",
    "core.business_entity.read",
    "core.business_entity.write",
    "core.business_groups.read_write",
    "core.catalog.read",
    "core.catalog.write",
    "core.comment.read",
    "core.comment.write",
    "core.commodity.read",
    "core.common.read",
    "core.common.write",
    "core.contract.read",
    "core.contract.write",
    "core.contract_party_role.read",
    "core.contract_party_role.write",
    "core.contracts_template.read",
    "core.contracts_template.write",
    "core.custom_objects.read_write",
    "core.data_table_view.write",
    "core.data_tables.read",
    "core.easy_form.read",
    "core.easy_form.write",
    "core.easy_form_response.approval.write",
    "core.easy_form_response.read",
    "core.easy_form_response.write",
    "core.estimated_tax.read",
    "core.estimated_tax.write",
    "core.expense.read",
    "core.expense.secure.read",
    "core.expense.secure.write",
    "core.expense.write",
    "core.financial_counterparty.read",
    "core.financial_counterparty.write",
    "core.global_navigation.read",
    "core.globalization.read",
    "core.inventory.adjustment.read",
    "core.inventory.adjustment.write",
    "core.inventory.asn.read",
    "core.inventory.asn.write",
    "core.inventory.balance.read",
    "core.inventory.common.read",
    "core.inventory.common.write",
    "core.inventory.consumption.read",
    "core.inventory.consumption.write",
    "core.inventory.cycle_counts.read",
    "core.inventory.cycle_counts.write",
    "core.inventory.pick_list.read",
    "core.inventory.pick_list.write",
    "core.inventory.receiving.read",
    "core.inventory.receiving.write",
    "core.inventory.return_to_supplier.read",
    "core.inventory.return_to_supplier.write",
    "core.inventory.transaction.read",
    "core.inventory.transfer.read",
    "core.inventory.transfer.write",
    "core.invoice.approval.bypass",
    "core.invoice.approval.write",
    "core.invoice.assignment.read",
    "core.invoice.assignment.write",
    "core.invoice.create",
    "core.invoice.delete",
    "core.invoice.read",
    "core.invoice.write",
    "core.item.read",
    "core.item.write",
    "core.items.flexible_attributes.read",
    "core.items.flexible_attributes.write",
    "core.legal_entity.read",
    "core.legal_entity.write",
    "core.lookups.read_write",
    "core.my_workbench.task.read",
    "core.notifications_summary.read",
    "core.notifications_summary.write",
    "core.object_translations.read",
    "core.object_translations.write",
    "core.order_header_confirmation.assignment.read",
    "core.order_header_confirmation.assignment.write",
    "core.order_header_confirmations.read",
    "core.order_header_confirmations.write",
    "core.order_pad.read",
    "core.order_pad.write",
    "core.pay.charges.read",
    "core.pay.charges.write",
    "core.pay.payment_accounts.read",
    "core.pay.payments.read",
    "core.pay.payments.write",
    "core.pay.statements.read",
    "core.pay.statements.write",
    "core.pay.virtual_cards.read",
    "core.pay.virtual_cards.write",
    "core.payables.allocations.read",
    "core.payables.allocations.write",
    "core.payables.expense.read",
    "core.payables.expense.write",
    "core.payables.external.read",
    "core.payables.external.write",
    "core.payables.invoice.read",
    "core.payables.invoice.write",
    "core.payables.order.read",
    "core.payables.order.write",
    "core.project.read",
    "core.project.write",
    "core.punchout_site.read",
    "core.punchout_site.write",
    "core.purchase_order.assignment.read",
    "core.purchase_order.assignment.write",
    "core.purchase_order.read",
    "core.purchase_order.write",
    "core.purchase_order_change.assignment.read",
    "core.purchase_order_change.assignment.write",
    "core.purchase_order_change.read",
    "core.purchase_order_change.write",
    "core.purchase_order_only.read",
    "core.purchase_order_only.write",
    "core.requisition.assignment.read",
    "core.requisition.assignment.write",
    "core.requisition.read",
    "core.requisition.write",
    "core.revision_record.read",
    "core.roles.read_write",
    "core.sourcing.bom.read",
    "core.sourcing.pending_supplier.read",
    "core.sourcing.pending_supplier.write",
    "core.sourcing.read",
    "core.sourcing.response.award.write",
    "core.sourcing.response.read",
    "core.sourcing.response.write",
    "core.sourcing.write",
    "core.supplier.read",
    "core.supplier.risk_aware.read",
    "core.supplier.risk_aware.write",
    "core.supplier.write",
    "core.supplier_information_sites.read",
    "core.supplier_information_sites.write",
    "core.supplier_information_tax_registrations.delete",
    "core.supplier_information_tax_registrations.read",
    "core.supplier_information_tax_registrations.write",
    "core.supplier_sharing_settings.read",
    "core.supplier_sharing_settings.write",
    "core.supplier_sites.read",
    "core.supplier_sites.write",
    "core.swap.write",
    "core.translation.read",
    "core.translation.write",
    "core.unmanaged_spend.read",
    "core.uom.read",
    "core.uom.write",
    "core.user.read",
    "core.user.write",
    "core.user_group.read",
    "core.user_group.write",
    "core.user_recent_activity.read",
    "core.webhooks.read",
    "core.webhooks.write",
    "core.write_a_request.read",
    "email",
    "login",
    "offline_access",
    "openid",
    "profile",
    "quality_collaboration.quality_inspection.read",
    "quality_collaboration.quality_inspection.write",
    "travel_booking.common.read",
    "travel_booking.search.write",
    "travel_booking.team.read",
    "travel_booking.team.write",
    "travel_booking.trip.read",
    "travel_booking.trip.write",
    "travel_booking.user.read",
    "travel_booking.user.write",
    "treasury.cash_management.delete",
    "treasury.cash_management.read",
    "treasury.cash_management.write",
    "treasury.financial_instruments.money_market_fund.write",
    "treasury.financial_instruments.read",
];

/// The scope name nearest to `name`, if one is a slip of the keyboard away (at most two
/// letters added, removed or changed): the hint for a refused name.
pub fn nearest(name: &str) -> Option<&'static str> {
    NAMES
        .iter()
        .map(|n| (distance(name, n), *n))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Levenshtein distance, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let replaced = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = replaced.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_name_has_its_nearest_scope_as_a_hint() {
        assert_eq!(
            nearest("core.integraton.read"),
            Some("core.integration.read")
        );
        assert_eq!(
            nearest("core.integration.wirte"),
            Some("core.integration.write")
        );
        assert_eq!(nearest("openid"), Some("openid"));
        assert_eq!(nearest("admin"), None);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
    }
}
