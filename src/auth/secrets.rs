//! Random credentials and their hashes.
//!
//! Client secrets and API keys are 160 to 256 random bits, so a single SHA-256 is the right
//! hash: there is nothing for a slow password hash to protect against, and a fast one lets
//! an API key be found by its hash. Comparisons of secrets are constant-time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// `n` bytes from the operating system's generator.
pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut bytes = vec![0; n];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    Ok(bytes)
}

/// A public OAuth client id: 24 URL-safe characters.
pub fn new_client_id() -> Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes(18)?))
}

/// An OAuth client secret: 43 URL-safe characters (256 bits).
pub fn new_client_secret() -> Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes(32)?))
}

/// A legacy `X-COUPA-API-KEY`: 40 hexadecimal characters (160 bits), as Coupa's are.
pub fn new_api_key() -> Result<String> {
    Ok(random_bytes(20)?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Whether `secret` hashes to `expected`, in time independent of where they differ.
pub fn verify(secret: &str, expected: &[u8]) -> bool {
    hash(secret).ct_eq(expected).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_random_and_shaped_as_promised() {
        let key = new_api_key().unwrap();
        assert_eq!(key.len(), 40);
        assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(key, new_api_key().unwrap());
        assert_eq!(new_client_secret().unwrap().len(), 43);
        assert_eq!(new_client_id().unwrap().len(), 24);
    }

    #[test]
    fn verify_accepts_only_the_secret() {
        let stored = hash("s3cret");
        assert!(verify("s3cret", &stored));
        assert!(!verify("s3cres", &stored));
        assert!(!verify("", &stored));
    }
}
