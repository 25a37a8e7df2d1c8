//! Background loops besides the alert dispatcher ([`crate::alerts`]) and the sweeper
//! ([`crate::sweeper`]). Like them, they hold a narrow store trait and a clock, never HTTP.

pub mod answers;
pub mod key_expiry;
