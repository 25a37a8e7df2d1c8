//! API clients: who may call the API, with which scopes (spec §5).
//!
//! An OAuth client authenticates with a public client id and a secret and receives access
//! tokens; a legacy API key is itself the credential. Both are rows of the same table, so
//! `created-by` points at either.

use std::fmt;

use crate::time::Timestamp;

/// A permission, as OAuth names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::Read, Scope::Write];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "core.integration.read",
            Scope::Write => "core.integration.write",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Scope::Read => 1,
            Scope::Write => 2,
        }
    }
}

/// A set of scopes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scopes(u8);

impl Scopes {
    pub const ALL: Scopes = Scopes(3);

    /// Reads a space-separated list; the first unknown name is the error.
    pub fn parse(text: &str) -> Result<Scopes, String> {
        let mut scopes = Scopes::default();
        for name in text.split_whitespace() {
            let scope = Scope::ALL
                .into_iter()
                .find(|s| s.as_str() == name)
                .ok_or_else(|| name.to_owned())?;
            scopes.0 |= scope.bit();
        }
        Ok(scopes)
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn is_subset_of(self, other: Scopes) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn intersection(self, other: Scopes) -> Scopes {
        Scopes(self.0 & other.0)
    }

    /// The compact form carried inside access tokens.
    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn from_bits(bits: u8) -> Scopes {
        Scopes(bits & Scopes::ALL.0)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Scope::ALL
            .into_iter()
            .filter(|s| self.contains(*s))
            .map(Scope::as_str)
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
}

/// A client about to be registered; its secret exists only as a hash.
#[derive(Clone, Debug)]
pub struct NewClient {
    pub login: String,
    pub kind: ClientKind,
    pub client_id: Option<String>,
    pub secret_hash: Vec<u8>,
    pub scopes: Scopes,
}

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
        assert!(read.is_subset_of(both) && !both.is_subset_of(read));
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
}
