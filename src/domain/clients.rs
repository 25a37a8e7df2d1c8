//! API clients: who may call the API, with which scopes (spec §5).
//!
//! An OAuth client authenticates with a public client id and a secret and receives access
//! tokens; a legacy API key is itself the credential. Both are rows of the same table, so
//! `created-by` points at either.

use std::fmt;

use super::coupa_scopes::NAMES;
use crate::time::Timestamp;

/// A permission Runledger gives a meaning, as OAuth names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::Read, Scope::Write];

    pub fn as_str(self) -> &'static str {
        NAMES[self.index()]
    }

    /// Its place in [`NAMES`], which begins with these two.
    fn index(self) -> usize {
        match self {
            Scope::Read => 0,
            Scope::Write => 1,
        }
    }
}

/// Enough 64-bit words for a bit per name in [`NAMES`].
const WORDS: usize = NAMES.len().div_ceil(64);

/// A set of scope names from [`NAMES`]: Runledger's two, and Coupa's others, which are
/// stored and granted but allow nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scopes([u64; WORDS]);

impl Scopes {
    /// Both scopes that Runledger gives a meaning (not Coupa's others).
    pub const ALL: Scopes = {
        let mut words = [0; WORDS];
        words[0] = 0b11;
        Scopes(words)
    };

    /// Reads a space-separated list; the first name that is not a scope is the error.
    pub fn parse(text: &str) -> Result<Scopes, String> {
        let mut scopes = Scopes::default();
        for name in text.split_whitespace() {
            let index = index_of(name).ok_or_else(|| name.to_owned())?;
            scopes.insert(index);
        }
        Ok(scopes)
    }

    /// The scopes named in a space-separated list, passing over names that are none
    /// (`openid` from another provider, a typo): RFC 6749 §3.3 lets a token request be
    /// granted less than it asks for.
    pub fn known(text: &str) -> Scopes {
        let mut scopes = Scopes::default();
        for index in text.split_whitespace().filter_map(index_of) {
            scopes.insert(index);
        }
        scopes
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.has(scope.index())
    }

    pub fn is_empty(self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    pub fn intersection(self, other: Scopes) -> Scopes {
        let mut words = self.0;
        for (word, other) in words.iter_mut().zip(other.0) {
            *word &= other;
        }
        Scopes(words)
    }

    /// The compact form carried inside access tokens: the bits in hexadecimal, most
    /// significant first, without leading zeros. Runledger's two scopes are the lowest
    /// bits, so a token of the older decimal form (`1` to `3`) reads the same.
    pub fn to_hex(self) -> String {
        let mut hex = String::new();
        for word in self.0.iter().rev() {
            if hex.is_empty() {
                if *word != 0 {
                    hex = format!("{word:x}");
                }
            } else {
                hex.push_str(&format!("{word:016x}"));
            }
        }
        if hex.is_empty() {
            hex.push('0');
        }
        hex
    }

    /// Reads [`Scopes::to_hex`]; bits past the last name are dropped.
    pub fn from_hex(text: &str) -> Option<Scopes> {
        let hex = text.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex || text.is_empty() || text.len() > WORDS * 16 {
            return None;
        }
        let mut scopes = Scopes::default();
        for (word, digits) in scopes.0.iter_mut().zip(text.as_bytes().rchunks(16)) {
            // At most 16 ASCII hex digits, as checked above.
            *word = u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()?;
        }
        for index in NAMES.len()..WORDS * 64 {
            scopes.0[index / 64] &= !(1 << (index % 64));
        }
        Some(scopes)
    }

    fn insert(&mut self, index: usize) {
        self.0[index / 64] |= 1 << (index % 64);
    }

    fn has(self, index: usize) -> bool {
        self.0[index / 64] & (1 << (index % 64)) != 0
    }
}

fn index_of(name: &str) -> Option<usize> {
    NAMES.iter().position(|n| *n == name)
}

impl fmt::Display for Scopes {
    /// The names, space-separated, Runledger's own first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = (0..NAMES.len())
            .filter(|i| self.has(*i))
            .map(|i| NAMES[i])
            .collect();
        f.write_str(&names.join(" "))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    OauthClient,
    ApiKey,
}

impl ClientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::OauthClient => "oauth_client",
            ClientKind::ApiKey => "api_key",
        }
    }

    pub fn parse(text: &str) -> Option<ClientKind> {
        [ClientKind::OauthClient, ClientKind::ApiKey]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub id: i64,
    /// The name given at creation, shown as `login` in `created-by`.
    pub login: String,
    pub kind: ClientKind,
    /// The public id of an OAuth client; none for an API key.
    pub client_id: Option<String>,
    pub scopes: Scopes,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// Strict: its writes of a stored record must carry `If-Match` (428 without).
    pub require_if_match: bool,
}

/// A client about to be registered; its secret exists only as a hash.
#[derive(Clone, Debug)]
pub struct NewClient {
    pub login: String,
    pub kind: ClientKind,
    pub client_id: Option<String>,
    pub secret_hash: Vec<u8>,
    pub scopes: Scopes,
    pub require_if_match: bool,
}

/// The refusal of a client name another client has (Rails' words for a taken `name`).
pub const NAME_TAKEN: &str = "Name has already been taken";

/// A client's name as it is stored: trimmed, 1 to 255 characters, none that XML cannot carry
/// (it is shown as `created-by.login` in both formats).
pub fn login(name: &str) -> Result<&str, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        return Err("A client name must have 1 to 255 characters".into());
    }
    match super::text::first_unshowable(name) {
        Some((position, c)) => Err(super::text::unshowable_message(
            "The client name",
            position,
            c,
        )),
        None => Ok(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_print_as_oauth_names() {
        let both = Scopes::parse("core.integration.write  core.integration.read").unwrap();
        assert_eq!(both, Scopes::ALL);
        assert_eq!(
            both.to_string(),
            "core.integration.read core.integration.write"
        );
        let read = Scopes::parse("core.integration.read").unwrap();
        assert!(read.contains(Scope::Read) && !read.contains(Scope::Write));
        assert_eq!(
            Scopes::parse("core.integration.read admin"),
            Err("admin".to_owned())
        );
        assert!(Scopes::parse("").unwrap().is_empty());
    }

    #[test]
    fn a_client_name_is_trimmed_and_must_be_text_xml_can_carry() {
        assert_eq!(login("  ci bot\t"), Ok("ci bot"));
        assert!(login(" ").is_err());
        assert!(login(&"x".repeat(256)).is_err());
        assert!(
            login("ci\u{1b}[31mbot")
                .unwrap_err()
                .starts_with("The client name contains U+001B at character 3")
        );
    }

    #[test]
    fn coupa_scope_names_parse_and_allow_nothing() {
        let coupa = Scopes::parse("core.common.read openid core.invoice.create").unwrap();
        assert_eq!(
            coupa.to_string(),
            "core.common.read core.invoice.create openid"
        );
        assert!(!coupa.contains(Scope::Read) && !coupa.contains(Scope::Write));
        assert_eq!(
            Scopes::parse("core.integraton.read"),
            Err("core.integraton.read".to_owned())
        );
        let every = Scopes::parse(&NAMES.join(" ")).unwrap();
        assert_eq!(every.to_string(), NAMES.join(" "));
    }

    #[test]
    fn known_passes_over_names_that_are_no_scope() {
        let asked = Scopes::known("openid core.integraton.read urn:x core.integration.read");
        assert_eq!(asked.to_string(), "core.integration.read openid");
        assert!(Scopes::known("email-me please").is_empty());
    }

    #[test]
    fn the_token_form_round_trips_and_reads_the_older_decimal_form() {
        let read = Scopes::parse("core.integration.read").unwrap();
        for (text, scopes) in [("1", read), ("3", Scopes::ALL), ("0", Scopes::default())] {
            assert_eq!(scopes.to_hex(), text);
            assert_eq!(Scopes::from_hex(text), Some(scopes));
        }
        let last = NAMES[NAMES.len() - 1];
        for list in [
            last.to_owned(),
            format!("core.integration.write {last}"),
            NAMES.join(" "),
        ] {
            let scopes = Scopes::parse(&list).unwrap();
            assert_eq!(Scopes::from_hex(&scopes.to_hex()), Some(scopes), "{list}");
        }
        let too_long = "f".repeat(WORDS * 16 + 1);
        for junk in ["", "x", "-1", " 1", too_long.as_str()] {
            assert_eq!(Scopes::from_hex(junk), None, "{junk}");
        }
        // A bit past the last name (never issued) is dropped, not an error.
        let past = Scopes::from_hex(&"f".repeat(WORDS * 16)).unwrap();
        assert_eq!(past, Scopes::parse(&NAMES.join(" ")).unwrap());
    }

    #[test]
    fn scope_names_are_distinct_and_begin_with_runledger_s_own() {
        assert_eq!(
            &NAMES[..2],
            ["core.integration.read", "core.integration.write"]
        );
        let mut sorted = NAMES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), NAMES.len());
        assert!(
            NAMES
                .iter()
                .all(|n| !n.is_empty() && !n.contains(char::is_whitespace))
        );
    }
}
