//! A query string as Rack reads it: `&`-separated `key=value` pairs, `+` for a space,
//! percent-decoded, and a repeated key keeping its last value (spec §1.2, §3).
//!
//! Every key and value must decode to UTF-8 text that XML can carry: the query's text may be
//! echoed in an error body, and a value that reaches a filter is compared with stored text,
//! which never holds such characters ([`crate::domain::text`]).

use std::collections::HashMap;

use crate::domain::text::{first_unshowable, unshowable_message};
use crate::error::{Error, Result};

/// The decoded pairs of `query`, in the order sent; of a key sent more than once, only its
/// last occurrence, at that place.
pub fn parse(query: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for piece in query.split('&').filter(|piece| !piece.is_empty()) {
        let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
        let key = decode(key).ok_or_else(|| {
            Error::invalid(format!(
                "A query parameter name is not UTF-8 once decoded ('{key}')"
            ))
        })?;
        if let Some((position, c)) = first_unshowable(&key) {
            return Err(Error::invalid(unshowable_message(
                "A query parameter name",
                position,
                c,
            )));
        }
        let value = decode(value).ok_or_else(|| {
            Error::invalid(format!(
                "Query parameter '{key}' is not UTF-8 once decoded ('{value}')"
            ))
        })?;
        if let Some((position, c)) = first_unshowable(&value) {
            let what = format!("Query parameter '{key}'");
            return Err(Error::invalid(unshowable_message(&what, position, c)));
        }
        pairs.push((key, value));
    }
    let mut last = HashMap::new();
    for (i, (key, _)) in pairs.iter().enumerate() {
        last.insert(key.clone(), i);
    }
    Ok(pairs
        .into_iter()
        .enumerate()
        .filter(|(i, (key, _))| last.get(key) == Some(i))
        .map(|(_, pair)| pair)
        .collect())
}

/// `+` as a space, then `%XX` as a byte; a `%` not followed by two hex digits stays as it is
/// (as `form_urlencoded` reads it). `None` when the bytes are not UTF-8.
pub(super) fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = match bytes[i] {
            b'+' => b' ',
            b'%' => match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(high), Some(low)) => {
                    i += 2;
                    high << 4 | low
                }
                _ => b'%',
            },
            other => other,
        };
        out.push(byte);
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn hex(byte: Option<&u8>) -> Option<u8> {
    char::from(*byte?).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        parse(query).unwrap()
    }

    fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn decodes_as_a_form_does() {
        assert_eq!(
            pairs("a=1&b=x+y%20z&c&&d=%41%e2%82%ac&e=%zz%4&f=a=b"),
            owned(&[
                ("a", "1"),
                ("b", "x y z"),
                ("c", ""),
                ("d", "A€"),
                ("e", "%zz%4"),
                ("f", "a=b"),
            ])
        );
        assert_eq!(
            pairs("created_at%5Bgt%5D=2026"),
            owned(&[("created_at[gt]", "2026")])
        );
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_at_its_last_place() {
        assert_eq!(
            pairs("status=failed&limit=5&status=successful"),
            owned(&[("limit", "5"), ("status", "successful")])
        );
        // Keys are compared as decoded; distinct keys all stay.
        assert_eq!(
            pairs("id%5Bgt%5D=1&id[gt]=2&id[lt]=9&status[eq]=a&status=b"),
            owned(&[
                ("id[gt]", "2"),
                ("id[lt]", "9"),
                ("status[eq]", "a"),
                ("status", "b")
            ])
        );
    }

    #[test]
    fn refuses_text_xml_cannot_carry_or_that_is_not_utf8_naming_the_parameter() {
        let message = |q: &str| parse(q).unwrap_err().to_string();
        assert_eq!(
            message("limit=5&status=ab%00"),
            "Query parameter 'status' contains U+0000 at character 3, which XML cannot carry: \
             remove it or replace it"
        );
        assert!(message("st%01atus=x").starts_with("A query parameter name contains U+0001"));
        assert!(message("code=%EF%BF%BE").contains("U+FFFE"));
        assert!(message("code=%FF").contains("'code' is not UTF-8"));
        assert!(message("%C3=x").contains("name is not UTF-8"));
        // Even a key sent twice is checked in both places.
        assert!(message("code=%1b&code=x").contains("U+001B"));
        assert_eq!(pairs("code=tab%09ok"), owned(&[("code", "tab\tok")]));
    }
}
