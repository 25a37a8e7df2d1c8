//! Access tokens: signed, self-contained, verified without a database round trip.
//!
//! A token is `base64url(payload).base64url(HMAC-SHA256(key, payload))` with the payload
//! `v1.<client row id>.<scope bits, in hexadecimal>.<expiry, unix seconds>.<nonce>`. The key
//! lives in the database so that every node of a cluster signs and verifies alike. Written by
//! hand because a JWT library would bring algorithm negotiation and parsing we neither need
//! nor want to trust; this format has one algorithm and four fields.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::secrets::random_bytes;
use crate::domain::clients::Scopes;
use crate::error::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// What a valid token says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claims {
    /// The row id of the client it was issued to.
    pub client: i64,
    pub scopes: Scopes,
    /// Unix seconds after which it is refused.
    pub expires: i64,
}

/// Why a token was refused. The client is only told that it is invalid or expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Malformed,
    BadSignature,
    Expired,
}

pub struct Signer {
    key: Vec<u8>,
}

impl Signer {
    pub fn new(key: Vec<u8>) -> Signer {
        Signer { key }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length")
    }

    pub fn sign(&self, claims: Claims) -> Result<String> {
        let nonce = URL_SAFE_NO_PAD.encode(random_bytes(9)?);
        let payload = format!(
            "v1.{}.{}.{}.{nonce}",
            claims.client,
            claims.scopes.to_hex(),
            claims.expires
        );
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let signature = mac.finalize().into_bytes();
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// The claims of `token`, if its signature is ours and it has not expired at `now`.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, Refusal> {
        let (payload, signature) = token.split_once('.').ok_or(Refusal::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| Refusal::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| Refusal::Malformed)?;
        let mut mac = self.mac();
        mac.update(&payload);
        // Constant-time comparison.
        mac.verify_slice(&signature)
            .map_err(|_| Refusal::BadSignature)?;
        let payload = std::str::from_utf8(&payload).map_err(|_| Refusal::Malformed)?;
        let mut fields = payload.split('.');
        if fields.next() != Some("v1") {
            return Err(Refusal::Malformed);
        }
        let mut field = || fields.next().ok_or(Refusal::Malformed);
        let number = |f: &str| f.parse::<i64>().map_err(|_| Refusal::Malformed);
        let client = number(field()?)?;
        let scopes = Scopes::from_hex(field()?).ok_or(Refusal::Malformed)?;
        let expires = number(field()?)?;
        if now >= expires {
            return Err(Refusal::Expired);
        }
        Ok(Claims {
            client,
            scopes,
            expires,
        })
    }
}

/// A fresh signing key.
pub fn new_key() -> Result<Vec<u8>> {
    random_bytes(32)
}

impl From<Refusal> for Error {
    fn from(_: Refusal) -> Error {
        Error::Unauthorized("The access token is invalid or has expired".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(expires: i64) -> Claims {
        Claims {
            client: 7,
            scopes: Scopes::ALL,
            expires,
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let signer = Signer::new(new_key().unwrap());
        let token = signer.sign(claims(1_000)).unwrap();
        assert_eq!(signer.verify(&token, 999), Ok(claims(1_000)));
        assert_eq!(signer.verify(&token, 1_000), Err(Refusal::Expired));
    }

    #[test]
    fn tampering_and_foreign_keys_are_refused() {
        let signer = Signer::new(new_key().unwrap());
        let token = signer.sign(claims(i64::MAX)).unwrap();
        let other = Signer::new(new_key().unwrap());
        assert_eq!(other.verify(&token, 0), Err(Refusal::BadSignature));

        // Rewrite the payload to claim another client, keeping the old signature.
        let (payload, signature) = token.split_once('.').unwrap();
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        let forged = URL_SAFE_NO_PAD.encode(text.replacen("v1.7.", "v1.1.", 1));
        assert_eq!(
            signer.verify(&format!("{forged}.{signature}"), 0),
            Err(Refusal::BadSignature)
        );

        for junk in ["", ".", "abc", "a.b.c", "!!!.???"] {
            assert!(signer.verify(junk, 0).is_err(), "{junk}");
        }
    }

    #[test]
    fn a_token_carrying_coupa_scopes_that_mean_nothing_here_verifies() {
        let signer = Signer::new(new_key().unwrap());
        let scopes = Scopes::parse("core.integration.read core.common.read openid").unwrap();
        let claims = Claims {
            scopes,
            ..claims(1_000)
        };
        let token = signer.sign(claims).unwrap();
        assert_eq!(signer.verify(&token, 0), Ok(claims));
    }

    #[test]
    fn a_token_of_the_older_decimal_form_still_verifies() {
        let signer = Signer::new(new_key().unwrap());
        let payload = "v1.7.3.1000.nonce";
        let mut mac = signer.mac();
        mac.update(payload.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        let token = format!("{}.{signature}", URL_SAFE_NO_PAD.encode(payload));
        assert_eq!(signer.verify(&token, 0), Ok(claims(1_000)));
    }
}
