//! Text that one of the formats cannot show (spec §2.4, docs/api.md "Text"): refused at the
//! door, never stored, never written raw into an XML answer.
