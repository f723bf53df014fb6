//! The `$connect` token: `v1.<customer id>.<expiry, Unix seconds>.<signature>`, where the
//! signature is the unpadded base64url HMAC-SHA256 of everything before it, keyed with the
//! secret in AWS Secrets Manager (`WS_TOKEN_SECRET_ARN`).
//!
//! Whatever authenticates your users mints it (a login endpoint, a backend for the frontend);
//! the client passes it as `?token=` when it opens the WebSocket. It is deliberately simple:
//! swap in a JWT check against your identity provider where you have one. Tokens should be
//! short-lived: they travel in a URL, and URLs end up in logs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const VERSION: &str = "v1";
const MIN_KEY_BYTES: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no token")]
    Missing,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature does not match")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the token secret is shorter than {MIN_KEY_BYTES} bytes")]
pub struct WeakKey;

/// The key tokens are signed with. Its bytes never appear in `Debug`.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    pub fn new(secret: &str) -> Result<Self, WeakKey> {
        let bytes = secret.trim().as_bytes().to_vec();
        if bytes.len() < MIN_KEY_BYTES {
            return Err(WeakKey);
        }
        Ok(Self(bytes))
    }

    fn mac(&self, claims: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(claims.as_bytes());
        mac
    }

    /// A token for `customer_id`, valid until `expires_at` (Unix seconds).
    pub fn mint(&self, customer_id: &str, expires_at: i64) -> String {
        let claims = format!("{VERSION}.{customer_id}.{expires_at}");
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&claims).finalize().into_bytes());
        format!("{claims}.{signature}")
    }

    /// The customer a token speaks for, if it is well formed, signed with this key and not
    /// expired at `now`.
    pub fn check(&self, token: Option<&str>, now: i64) -> Result<String, TokenError> {
        let token = token.filter(|token| !token.is_empty()).ok_or(TokenError::Missing)?;
        // Customer ids may contain dots: the fields are read from both ends.
        let (claims, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (customer_id, expires_at) = claims
            .strip_prefix(VERSION)
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|rest| rest.rsplit_once('.'))
            .ok_or(TokenError::Malformed)?;
        if !is_customer_id(customer_id) {
            return Err(TokenError::Malformed);
        }
        let expires_at: i64 = expires_at.parse().map_err(|_| TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed)?;
        self.mac(claims)
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        if expires_at <= now {
            return Err(TokenError::Expired);
        }
        Ok(customer_id.to_owned())
    }
}

pub use contracts::is_customer_id;

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::new("a-test-token-secret-of-enough-bytes").unwrap()
    }

    #[test]
    fn a_minted_token_names_its_customer_until_it_expires() {
        let token = key().mint("c-42", 1_800_000_060);
        assert!(token.starts_with("v1.c-42.1800000060."));
        assert_eq!(key().check(Some(&token), 1_800_000_000), Ok("c-42".to_owned()));
        assert_eq!(key().check(Some(&token), 1_800_000_060), Err(TokenError::Expired));
    }

    #[test]
    fn customer_ids_with_dots_survive_the_round_trip() {
        let token = key().mint("acme.eu.c-7", 1_800_000_060);
        assert_eq!(key().check(Some(&token), 0), Ok("acme.eu.c-7".to_owned()));
    }

    #[test]
    fn a_changed_or_foreign_token_is_refused() {
        let token = key().mint("c-42", 1_800_000_060);
        let forged = token.replacen("c-42", "c-43", 1);
        assert_eq!(key().check(Some(&forged), 0), Err(TokenError::BadSignature));
        let later = token.replacen("1800000060", "1900000060", 1);
        assert_eq!(key().check(Some(&later), 0), Err(TokenError::BadSignature));
        let other = TokenKey::new("another-token-secret-of-enough-bytes").unwrap();
        assert_eq!(other.check(Some(&token), 0), Err(TokenError::BadSignature));
    }

    #[test]
    fn malformed_tokens_are_refused_before_any_signature_check() {
        for token in [
            "v1",
            "v1.c-42.1800000060",
            "v2.c-42.1.sig",
            "v1.c 42.1.sig",
            "v1.c-42.soon.sig",
            "v1.c-42.1.%%",
            "v1..1.sig",
        ] {
            assert_eq!(key().check(Some(token), 0), Err(TokenError::Malformed), "{token}");
        }
        assert_eq!(key().check(None, 0), Err(TokenError::Missing));
        assert_eq!(key().check(Some(""), 0), Err(TokenError::Missing));
        assert_eq!(TokenKey::new("short").unwrap_err(), WeakKey);
        assert_eq!(format!("{:?}", key()), "TokenKey(..)");
    }
}
