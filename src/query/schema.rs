//! The whitelist: which fields and associations of each resource can be queried, ordered by
//! and selected with `fields=`, and the SQL names behind them. Nothing outside these tables
//! ever reaches SQL text.

use crate::domain::alerts::{Carried, Channel, DeliveryStatus};
use crate::domain::contacts::ContactableType;
use crate::domain::events::Topic;
use crate::domain::integrations::{Direction, EndSystemType, IntegrationType};
use crate::domain::pings::PingKind;
#[cfg(test)]
use crate::domain::records::RecordKind;
use crate::domain::records::{ContactAlertType, DOCUMENT_TYPES};
use crate::domain::runs::Status;
use crate::domain::transitions::Cause;

/// The words of a domain vocabulary, `$vocab::ALL` each spelled by its const fn `$word`, as
/// a static list for [`Kind::Vocab`], computed when the crate compiles: the enum is the only
/// list to keep.
macro_rules! words {
    ($vocab:ident, $word:ident) => {{
        const N: usize = $vocab::ALL.len();
        const WORDS: [&str; N] = {
            let mut words = [""; N];
            let mut i = 0;
            while i < N {
                words[i] = $vocab::ALL[i].$word();
                i += 1;
            }
            words
        };
        &WORDS
    }};
}

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

const fn has_many(name: &'static str, fk: &'static str, target: &'static Resource) -> Assoc {
    Assoc {
        name,
        link: Link::HasMany { fk },
        target,
    }
}

use Kind::*;

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
        field("direction", Vocab(words!(Direction, as_str)), false),
        field("end_system", Text, false),
        field(
            "end_system_type",
            Vocab(words!(EndSystemType, as_str)),
            false,
        ),
        field(
            "integration_type",
            Vocab(words!(IntegrationType, as_str)),
            true,
        ),
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
        field("status", Vocab(words!(Status, as_str)), false),
        field("start_time", Time, true),
        field("end_time", Time, true),
        field("total_records", Int, true),
        field("records_processed", Int, true),
        field("flow", Opaque, true),
        field("created_at", Time, false),
        field("updated_at", Time, false),
        field("retry_of_id", Int, true),
        field("attempt", Int, false),
    ],
    assocs: &[
        belongs_to("integration", "integration_id", &INTEGRATIONS),
        has_many("integration_errors", "integration_run_id", &ERRORS),
        belongs_to("created_by", "created_by_id", &USERS),
        belongs_to("updated_by", "updated_by_id", &USERS),
        // Rerun lineage, both ways: the run this one retries, and the runs that retry it.
        belongs_to("retry_of", "retry_of_id", &RUNS),
        has_many("retries", "retry_of_id", &RUNS),
        has_many("transitions", "integration_run_id", &TRANSITIONS),
    ],
};

/// Webhook subscriptions to the event stream.
pub static SUBSCRIPTIONS: Resource = Resource {
    table: "event_subscriptions",
    fields: &[
        field("id", Int, false),
        field("url", Text, false),
        field("filter", Text, false),
        field("active", Bool, false),
        field("created_at", Time, false),
        field("updated_at", Time, false),
    ],
    assocs: &[
        belongs_to("created_by", "created_by_id", &USERS),
        belongs_to("updated_by", "updated_by_id", &USERS),
    ],
};

/// The event stream's filter (`/api/events`).
pub static EVENTS: Resource = Resource {
    table: "events",
    fields: &[
        field("id", Int, false),
        field("topic", Vocab(words!(Topic, as_str)), false),
        field("integration_id", Int, true),
        field("integration_run_id", Int, true),
        field("created_at", Time, false),
    ],
    assocs: &[
        belongs_to("integration", "integration_id", &INTEGRATIONS),
        belongs_to("integration_run", "integration_run_id", &RUNS),
    ],
};

/// The transition log: every change of a run.
pub static TRANSITIONS: Resource = Resource {
    table: "integration_run_transitions",
    fields: &[
        field("id", Int, false),
        field("integration_run_id", Int, false),
        field("integration_id", Int, false),
        field("cause", Vocab(words!(Cause, as_str)), false),
        field("from_status", Vocab(words!(Status, as_str)), true),
        field("to_status", Vocab(words!(Status, as_str)), false),
        field("changes", Opaque, false),
        field("created_at", Time, false),
    ],
    assocs: &[
        belongs_to("integration_run", "integration_run_id", &RUNS),
        belongs_to("integration", "integration_id", &INTEGRATIONS),
        belongs_to("created_by", "created_by_id", &USERS),
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
    field(
        "contact_alert_type",
        Vocab(words!(ContactAlertType, as_str)),
        false,
    ),
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
        field(
            "contact_alert_type",
            Vocab(words!(ContactAlertType, as_str)),
            false,
        ),
        field(
            "contactable_type",
            Vocab(words!(ContactableType, as_str)),
            false,
        ),
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
        field("integration_contact_id", Int, true),
        field("event_subscription_id", Int, true),
        field("integration_id", Int, true),
        field("record_type", Vocab(words!(Carried, as_str)), false),
        field("record_id", Int, false),
        field("channel", Vocab(words!(Channel, as_str)), false),
        field("target", Text, false),
        field("status", Vocab(words!(DeliveryStatus, as_str)), false),
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
        belongs_to(
            "event_subscription",
            "event_subscription_id",
            &SUBSCRIPTIONS,
        ),
        belongs_to("integration", "integration_id", &INTEGRATIONS),
    ],
};

/// A monitor's ping log (`/api/integrations/:id/monitor/pings`), Runledger's own.
pub static MONITOR_PINGS: Resource = Resource {
    table: "monitor_pings",
    fields: &[
        field("id", Int, false),
        field("integration_id", Int, false),
        field("kind", Vocab(words!(PingKind, as_str)), false),
        field("rid", Text, true),
        field("run_id", Int, true),
        field("exit_status", Int, true),
        field("body", Opaque, true),
        field("user_agent", Opaque, true),
        field("received_at", Time, false),
    ],
    assocs: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The words a vocabulary field lists, by name.
    fn vocabulary(resource: &Resource, name: &str) -> &'static [&'static str] {
        match resource.field(name).map(|f| f.kind) {
            Some(Kind::Vocab(words)) => words,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn the_vocabularies_are_the_domains_words_in_its_order() {
        // The order is the one the "not included in the list (…)" message shows; the domain's
        // tests pin the words themselves.
        assert_eq!(vocabulary(&RUNS, "status"), Status::ALL.map(Status::as_str));
        assert_eq!(
            vocabulary(&INTEGRATIONS, "direction"),
            Direction::ALL.map(Direction::as_str)
        );
        assert_eq!(
            vocabulary(&INTEGRATIONS, "end_system_type"),
            EndSystemType::ALL.map(EndSystemType::as_str)
        );
        assert_eq!(
            vocabulary(&INTEGRATIONS, "integration_type"),
            IntegrationType::ALL.map(IntegrationType::as_str)
        );
        for resource in [&ERRORS, &HISTORY, &CONTACTS] {
            assert_eq!(
                vocabulary(resource, "contact_alert_type"),
                ContactAlertType::ALL.map(ContactAlertType::as_str)
            );
        }
        assert_eq!(
            vocabulary(&CONTACTS, "contactable_type"),
            ContactableType::ALL.map(ContactableType::as_str)
        );
        assert_eq!(
            vocabulary(&DELIVERIES, "record_type"),
            Carried::ALL.map(Carried::as_str)
        );
        // An alert's record type is spelt as its record kind's owner type.
        for kind in RecordKind::ALL {
            assert_eq!(Carried::record(kind).as_str(), kind.owner_type());
        }
        assert_eq!(
            vocabulary(&DELIVERIES, "channel"),
            Channel::ALL.map(Channel::as_str)
        );
        assert_eq!(
            vocabulary(&DELIVERIES, "status"),
            DeliveryStatus::ALL.map(DeliveryStatus::as_str)
        );
    }

    #[test]
    fn no_vocabulary_holds_two_spellings_of_one_word() {
        for resource in [
            &INTEGRATIONS,
            &RUNS,
            &ERRORS,
            &CONTACTS,
            &DELIVERIES,
            &MONITOR_PINGS,
            &TRANSITIONS,
            &EVENTS,
            &SUBSCRIPTIONS,
        ] {
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
