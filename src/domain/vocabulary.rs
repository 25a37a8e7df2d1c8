//! Closed vocabularies: words the wire and the database spell one way, held as enums.

/// An enum of a closed vocabulary, each variant with the one word that spells it, and:
/// `ALL` (every variant, in order), `as_str` (its word) and `parse` (the variant a word
/// spells exactly, or `None`).
///
/// A macro because nine vocabularies would otherwise repeat the same three items, variant
/// by variant, where a word could drift from its `parse`.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $word:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $name {
            pub const ALL: [$name; [$($word),+].len()] = [$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                $name::ALL.into_iter().find(|value| value.as_str() == text)
            }
        }
    };
}

pub(crate) use vocabulary;

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
    use super::*;

    vocabulary! {
        /// A test vocabulary.
        enum Fruit {
            Apple = "apple",
            /// With a doc comment.
            BloodOrange = "blood_orange",
        }
    }

    #[test]
    fn a_vocabulary_spells_and_parses_each_word_exactly() {
        assert_eq!(Fruit::ALL, [Fruit::Apple, Fruit::BloodOrange]);
        for fruit in Fruit::ALL {
            assert_eq!(Fruit::parse(fruit.as_str()), Some(fruit));
        }
        assert_eq!(Fruit::BloodOrange.as_str(), "blood_orange");
        for refused in ["", "Apple", "blood orange", "pear"] {
            assert_eq!(Fruit::parse(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn a_stored_word_reads_in_any_case_and_nothing_else_does() {
        let read = |text| stored_word(&Fruit::ALL, Fruit::as_str, text);
        for fruit in Fruit::ALL {
            assert_eq!(read(fruit.as_str()), Some(fruit));
        }
        assert_eq!(read("APPLE"), Some(Fruit::Apple));
        assert_eq!(read("Blood_Orange"), Some(Fruit::BloodOrange));
        for unknown in ["", "pear", " apple", "apple ", "blood orange"] {
            assert_eq!(read(unknown), None, "{unknown:?}");
        }
    }
}
