//! The records Runledger keeps and the rules they obey, free of I/O.
//!
//! Bodies arrive as a format-neutral [`serde_json::Value`] (XML is converted first), and each
//! record type turns that into typed, validated fields here, so that the store only ever sees
//! values that are already correct.

pub mod alerts;
pub mod clients;
pub mod contacts;
pub mod coupa_scopes;
pub mod input;
pub mod integrations;
pub mod records;
pub mod runs;
pub mod text;

/// The API client that made a change, shown as `created-by` / `updated-by`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub id: i64,
    pub login: String,
}

/// A word of a closed vocabulary (`all`, each spelt by `word`) as a stored row holds it.
///
/// Runledger writes only the words as spelt, and a body must spell them so. A row written
/// around Runledger may hold one in another ASCII case (`ERP`; only some columns have a
/// `CHECK`): it reads as that word, which no other word of the vocabulary can be taken for.
/// Any other text is none of them, and the store refuses to read it.
pub fn stored_word<T: Copy>(all: &[T], word: fn(T) -> &'static str, text: &str) -> Option<T> {
    let mut words = all.iter().copied();
    words
        .clone()
        .find(|&w| word(w) == text)
        .or_else(|| words.find(|&w| word(w).eq_ignore_ascii_case(text)))
}

#[cfg(test)]
mod tests {
    use super::integrations::EndSystemType;
    use super::*;

    #[test]
    fn a_stored_word_reads_in_any_case_and_nothing_else_does() {
        let read = |text| stored_word(&EndSystemType::ALL, EndSystemType::as_str, text);
        for t in EndSystemType::ALL {
            assert_eq!(read(t.as_str()), Some(t));
        }
        assert_eq!(read("ERP"), Some(EndSystemType::Erp));
        assert_eq!(
            read("Third_Party_Vendor"),
            Some(EndSystemType::ThirdPartyVendor)
        );
        for unknown in ["", "mainframe", " erp", "erp "] {
            assert_eq!(read(unknown), None, "{unknown:?}");
        }
    }
}
