//! Which text Runledger can show in both of its formats.
//!
//! JSON can carry any Unicode scalar value, XML 1.0 cannot: its `Char` production leaves out
//! the C0 controls but tab, LF and CR (`\u{0}`, `\u{1b}` of an ANSI colour code, `\u{c}`), and
//! U+FFFE and U+FFFF; not even a character reference (`&#1;`) may name them. Text that holds
//! one would make every XML answer that shows it unreadable, so no such text is stored:
//! requests that carry it are refused at the door (400), naming where it is.

/// Whether XML 1.0 can carry `c` (its `Char` production; Rust's `char` already excludes
/// surrogates).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The first character of `text` that XML 1.0 cannot carry, with its character position
/// (1-based, as people count).
pub fn first_unshowable(text: &str) -> Option<(usize, char)> {
    text.chars()
        .enumerate()
        .find(|(_, c)| !is_xml_char(*c))
        .map(|(i, c)| (i + 1, c))
}

/// The message for text that XML cannot carry, naming where it was found (`what`, e.g.
/// `Response message` or `query parameter 'status'`).
pub fn unshowable_message(what: &str, position: usize, c: char) -> String {
    format!(
        "{what} contains U+{:04X} at character {position}, which XML cannot carry: \
         remove it or replace it",
        u32::from(c)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_carries_tab_and_line_ends_but_no_other_control() {
        for c in [
            '\t', '\n', '\r', ' ', 'é', '\u{85}', '\u{2028}', '\u{FFFD}', '😀',
        ] {
            assert!(is_xml_char(c), "{c:?}");
        }
        for c in ['\0', '\u{1}', '\u{8}', '\u{b}', '\u{c}', '\u{1b}', '\u{1f}'] {
            assert!(!is_xml_char(c), "{c:?}");
        }
        assert!(!is_xml_char('\u{FFFE}'));
        assert!(!is_xml_char('\u{FFFF}'));
        assert!(is_xml_char('\u{7F}'), "XML 1.0 allows DEL");
    }

    #[test]
    fn finds_the_first_unshowable_character_by_position() {
        assert_eq!(first_unshowable("plain text\n"), None);
        assert_eq!(first_unshowable("é\u{1b}[31m\u{0}"), Some((2, '\u{1b}')));
        assert_eq!(
            unshowable_message("Response message", 2, '\u{1b}'),
            "Response message contains U+001B at character 2, which XML cannot carry: \
             remove it or replace it"
        );
    }
}
