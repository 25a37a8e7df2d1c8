//! The whitelist: which fields and associations of each resource can be queried, ordered by
//! and selected with `fields=`, and the SQL names behind them. Nothing outside these tables
//! ever reaches SQL text.

use crate::domain::contacts::CONTACTABLE_TYPES;
use crate::domain::integration_errors::{CONTACT_ALERT_TYPES, DOCUMENT_TYPES};
use crate::domain::integrations::{DIRECTIONS, END_SYSTEM_TYPES, INTEGRATION_TYPES};

/// How a field's values are parsed from the query string and compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    /// Free text, matched without ASCII case (`lower(column)`, indexed where it is looked up).
    Text,
    /// A closed vocabulary: a query value is matched against it without case and bound in
    /// its canonical spelling, so that the column's own indexes serve it.
    Vocab(&'static [&'static str]),
    Time,
    Bool,
    /// Shown in responses but not queryable (`flow`).
    Opaque,
}

#[derive(Debug)]
pub struct Field {
    /// The name, underscored (`total_records`); also the column name.
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
}

#[derive(Debug)]
pub enum Link {
    /// This table holds the key: `<fk> = target.id`.
    BelongsTo { fk: &'static str },
    /// The target holds the key: `target.<fk> = this.id`; matches when any target row does.
    HasMany { fk: &'static str },
}

#[derive(Debug)]
pub struct Assoc {
    pub name: &'static str,
    pub link: Link,
    pub target: &'static Resource,
}

#[derive(Debug)]
pub struct Resource {
    pub table: &'static str,
    pub fields: &'static [Field],
    pub assocs: &'static [Assoc],
}

impl Kind {
    pub fn is_text(self) -> bool {
        matches!(self, Kind::Text | Kind::Vocab(_))
    }
}

impl Resource {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        let fields: &'static [Field] = self.fields;
        fields.iter().find(|f| f.name == name)
    }

    pub fn assoc(&self, name: &str) -> Option<&'static Assoc> {
        let assocs: &'static [Assoc] = self.assocs;
        assocs.iter().find(|a| a.name == name)
    }
}

const fn field(name: &'static str, kind: Kind, nullable: bool) -> Field {
    Field {
        name,
        kind,
        nullable,
    }
}

const fn belongs_to(name: &'static str, fk: &'static str, target: &'static Resource) -> Assoc {
    Assoc {
        name,
        link: Link::BelongsTo { fk },
        target,
    }
}

use Kind::*;

/// A run's statuses, as [`crate::domain::runs::Status`] spells them.
pub const RUN_STATUSES: &[&str] = &["pending", "running", "paused", "successful", "failed"];
/// An alert delivery's statuses, as the outbox writes them ([`crate::alerts`]).
pub const DELIVERY_STATUSES: &[&str] = &["pending", "delivered", "failed", "undeliverable"];
/// [`crate::domain::alerts::Channel`].
pub const CHANNELS: &[&str] = &["webhook", "email"];
/// [`RecordKind::owner_type`](crate::domain::integration_errors::RecordKind::owner_type), the kinds of record an alert is about.
pub const RECORD_TYPES: &[&str] = &["integration_error", "integration_history_record"];

/// API clients, as `created_by` / `updated_by`.
pub static USERS: Resource = Resource {
    table: "api_clients",
    fields: &[field("id", Int, false), field("login", Text, false)],
    assocs: &[],
};

pub static INTEGRATIONS: Resource = Resource {
    table: "integrations",
    fields: &[
        field("id", Int, false),
        field("code", Text, false),
        field("name", Text, false),
        field("business_object", Text, false),
        field("direction", Vocab(DIRECTIONS), false),
        field("end_system", Text, false),
        field("end_system_type", Vocab(END_SYSTEM_TYPES), false),
        field("integration_type", Vocab(INTEGRATION_TYPES), true),
        field("standard", Bool, false),
        field("created_at", Time, false),
        field("updated_at", Time, false),
    ],
    assocs: &[
        belongs_to("created_by", "created_by_id", &USERS),
        belongs_to("updated_by", "updated_by_id", &USERS),
    ],
};

pub static RUNS: Resource = Resource {
    table: "integration_runs",
    fields: &[
        field("id", Int, false),
        field("integration_id", Int, false),
        field("status", Vocab(RUN_STATUSES), false),
        field("start_time", Time, true),
        field("end_time", Time, true),
        field("total_records", Int, true),
        field("records_processed", Int, true),
        field("flow", Opaque, true),
        field("created_at", Time, false),
        field("updated_at", Time, false),
    ],
    assocs: &[
        belongs_to("integration", "integration_id", &INTEGRATIONS),
        Assoc {
            name: "integration_errors",
            link: Link::HasMany {
                fk: "integration_run_id",
            },
            target: &ERRORS,
        },
        belongs_to("created_by", "created_by_id", &USERS),
        belongs_to("updated_by", "updated_by_id", &USERS),
    ],
};

pub static ERRORS: Resource = Resource {
    table: "integration_errors",
    fields: &RECORD_FIELDS,
    assocs: &RECORD_ASSOCS,
};

pub static HISTORY: Resource = Resource {
    table: "integration_history_records",
    fields: &RECORD_FIELDS,
    assocs: &RECORD_ASSOCS,
};

/// The fields errors and history records share; only their tables differ.
static RECORD_FIELDS: [Field; 16] = [
    field("id", Int, false),
    field("integration_run_id", Int, true),
    field("integration_id", Int, true),
    field("contact_alert_type", Vocab(CONTACT_ALERT_TYPES), false),
    field("document_type", Vocab(DOCUMENT_TYPES), true),
    field("document_id", Int, true),
    field("document_revision", Int, true),
    field("document_status", Text, true),
    field("external_id", Text, true),
    field("integration_filename", Text, true),
    field("creation_method", Text, true),
    field("status", Text, true),
    field("resolved", Bool, false),
    field("exported", Bool, false),
    field("created_at", Time, false),
    field("updated_at", Time, false),
];

static RECORD_ASSOCS: [Assoc; 4] = [
    belongs_to("integration_run", "integration_run_id", &RUNS),
    belongs_to("integration", "integration_id", &INTEGRATIONS),
    belongs_to("created_by", "created_by_id", &USERS),
    belongs_to("updated_by", "updated_by_id", &USERS),
];

pub static CONTACTS: Resource = Resource {
    table: "integration_contacts",
    fields: &[
        field("id", Int, false),
        field("integration_id", Int, true),
        field("contact_alert_type", Vocab(CONTACT_ALERT_TYPES), false),
        field("contactable_type", Vocab(CONTACTABLE_TYPES), false),
        field("contactable_id", Int, false),
        field("email", Text, true),
        field("webhook_url", Text, true),
        field("created_at", Time, false),
        field("updated_at", Time, false),
    ],
    assocs: &[
        belongs_to("integration", "integration_id", &INTEGRATIONS),
        belongs_to("created_by", "created_by_id", &USERS),
        belongs_to("updated_by", "updated_by_id", &USERS),
    ],
};

pub static DELIVERIES: Resource = Resource {
    table: "alert_deliveries",
    fields: &[
        field("id", Int, false),
        field("integration_contact_id", Int, false),
        field("integration_id", Int, true),
        field("record_type", Vocab(RECORD_TYPES), false),
        field("record_id", Int, false),
        field("channel", Vocab(CHANNELS), false),
        field("target", Text, false),
        field("status", Vocab(DELIVERY_STATUSES), false),
        field("attempts", Int, false),
        field("next_attempt_at", Time, true),
        field("last_error", Text, true),
        field("response_code", Int, true),
        field("delivered_at", Time, true),
        field("created_at", Time, false),
        field("updated_at", Time, false),
    ],
    assocs: &[
        belongs_to("integration_contact", "integration_contact_id", &CONTACTS),
        belongs_to("integration", "integration_id", &INTEGRATIONS),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alerts::Channel;
    use crate::domain::integration_errors::RecordKind;
    use crate::domain::runs::Status;

    #[test]
    fn the_vocabularies_spell_what_the_domain_writes() {
        let statuses: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(RUN_STATUSES, statuses);
        let channels: Vec<&str> = [Channel::Webhook, Channel::Email]
            .iter()
            .map(|c| c.as_str())
            .collect();
        assert_eq!(CHANNELS, channels);
        let kinds: Vec<&str> = [RecordKind::Error, RecordKind::History]
            .iter()
            .map(|k| k.owner_type())
            .collect();
        assert_eq!(RECORD_TYPES, kinds);
    }

    #[test]
    fn no_vocabulary_holds_two_spellings_of_one_word() {
        for resource in [&INTEGRATIONS, &RUNS, &ERRORS, &CONTACTS, &DELIVERIES] {
            for field in resource.fields {
                let Kind::Vocab(words) = field.kind else {
                    continue;
                };
                for (i, a) in words.iter().enumerate() {
                    for b in &words[i + 1..] {
                        assert!(!a.eq_ignore_ascii_case(b), "{}: {a} and {b}", field.name);
                    }
                }
            }
        }
    }
}
