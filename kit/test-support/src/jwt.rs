//! An identity provider's signing key (feature `jwt`): RSA 2048, RS256, published as a JWK
//! under its key id; what the tests and benchmarks of a JWT check sign their tokens with.

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

pub struct SigningKey {
    kid: String,
    key: EncodingKey,
    jwk: Jwk,
}

impl SigningKey {
    /// A new key (RSA key generation takes a while: make one per test binary).
    pub fn new(kid: &str) -> Self {
        Self::from_der(kid, &crate::tls::rsa_key_der())
    }

    /// The key `der` holds (PKCS#1, as [`crate::tls::rsa_key_der`] makes them): the same key in
    /// every run, where a run must not depend on a random key (instruction counts).
    pub fn from_der(kid: &str, der: &[u8]) -> Self {
        let key = EncodingKey::from_rsa_der(der);
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).expect("its public JWK");
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            kid: kid.to_owned(),
            key,
            jwk,
        }
    }

    /// The public key as the issuer publishes it.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// The private key, for tokens with a header of the test's own.
    pub fn encoding_key(&self) -> &EncodingKey {
        &self.key
    }

    /// A token with `claims`, signed RS256 with this key and naming its key id.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).expect("a token")
    }
}

/// The key set publishing `keys`.
pub fn key_set(keys: &[&SigningKey]) -> JwkSet {
    JwkSet {
        keys: keys.iter().map(|key| key.jwk.clone()).collect(),
    }
}
