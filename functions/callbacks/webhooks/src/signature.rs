//! Standard Webhooks signatures (<https://www.standardwebhooks.com>, "Signature scheme").
//!
//! A delivery carries three headers:
//! - `webhook-id`: the event's id, the same on every retry (a receiver deduplicates on it);
//! - `webhook-timestamp`: when this attempt was signed, in seconds since the Unix epoch;
//! - `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, possibly
//!   several, separated by spaces (a sender signs with old and new key while rotating).
//!
//! The key is shared with the receiver as `whsec_<base64 of the key bytes>`. A sender holds
//! [`SigningKeys`]: while a key is rotated, it signs with the new and the old one.
//!
//! # Verifying a delivery (receiver side)
//!
//! ```
//! use webhooks::signature::{SigningKey, verify};
//!
//! # let key = SigningKey::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! # let body = br#"{"test": 2432232314}"#;
//! # let signature = key.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
//! // The secret the sender gave you, the three headers and the raw body, as received:
//! let key = SigningKey::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let now = 1614265330; // the receiver's clock, in seconds
//! verify(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", &signature, body, now)?;
//! // Only now parse the body, and skip it if you processed this webhook-id before.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far a delivery's timestamp may be from the receiver's clock: older deliveries are refused
/// as replays (the specification's suggestion).
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// The prefix of a secret in the specification's format.
pub const SECRET_PREFIX: &str = "whsec_";

/// The receiver of the callbacks of jobs submitted on an open API (`AuthMode` `NONE`): nothing
/// tells their callers apart, so they share this receiver's key.
pub const OPEN_RECEIVER: &str = "open";

/// What a receiver's key is derived for, before the receiver's name: a key of this scheme is
/// never the MAC of anything else.
const RECEIVER_KEY_LABEL: &[u8] = b"webhook receiver key v1\0";

/// Fewer key bytes than this is no secret worth the name.
const MIN_KEY_BYTES: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the secret after `whsec_` is not base64")]
    NotBase64,
    #[error("the secret is shorter than {MIN_KEY_BYTES} bytes")]
    TooShort,
    #[error("the secret holds more than two keys (the current one and, while rotating, the previous one)")]
    TooManyKeys,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("webhook-timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is more than {TOLERANCE_SECONDS} s from now")]
    OutsideTolerance,
    #[error("no v1 signature in webhook-signature matches")]
    NoMatchingSignature,
}

/// An HMAC-SHA256 key for signing or verifying deliveries. Its bytes never appear in `Debug`.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// Reads a secret: `whsec_<base64>` as the specification writes it, or else the text's own
    /// bytes (what a generated AWS Secrets Manager secret holds). Surrounding whitespace is
    /// ignored.
    pub fn from_secret(secret: &str) -> Result<Self, KeyError> {
        let secret = secret.trim();
        let bytes = match secret.strip_prefix(SECRET_PREFIX) {
            Some(encoded) => STANDARD.decode(encoded).map_err(|_| KeyError::NotBase64)?,
            None => secret.as_bytes().to_vec(),
        };
        if bytes.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort);
        }
        Ok(Self(bytes))
    }

    /// The key as receivers are given it: `whsec_<base64>`.
    /// The key of `receiver` under this one (see [`SigningKeys::for_receiver`]).
    fn derive(&self, receiver: &str) -> SigningKey {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(RECEIVER_KEY_LABEL);
        mac.update(receiver.as_bytes());
        SigningKey(mac.finalize().into_bytes().to_vec())
    }

    pub fn to_secret(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The `webhook-signature` value for one delivery: `v1,<base64>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp, body).finalize().into_bytes();
        format!("v1,{}", STANDARD.encode(tag))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

/// The keys a sender signs with: the current one and, while a rotation is under way, the
/// previous one too. Every delivery then carries a signature by each (space-separated, as
/// Standard Webhooks allows), so a receiver verifies with the key it has, old or new, and no
/// receiver breaks while they move to the new one one by one.
#[derive(Debug, Clone)]
pub struct SigningKeys {
    current: SigningKey,
    previous: Option<SigningKey>,
}

impl SigningKeys {
    /// Reads a secret that holds the current key, and while rotating the previous one after it,
    /// separated by whitespace (`<current> <previous>`); each as [`SigningKey::from_secret`] reads
    /// it.
    pub fn from_secret(secret: &str) -> Result<Self, KeyError> {
        let mut keys = secret.split_whitespace().map(SigningKey::from_secret);
        let current = keys.next().unwrap_or(Err(KeyError::TooShort))?;
        let previous = keys.next().transpose()?;
        if keys.next().is_some() {
            return Err(KeyError::TooManyKeys);
        }
        Ok(Self { current, previous })
    }

    /// The key a receiver is given now.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// The previous key, while a rotation is under way.
    pub fn previous(&self) -> Option<&SigningKey> {
        self.previous.as_ref()
    }

    /// The keys of one receiver, derived from these (the stack's): HMAC-SHA256 of the receiver's
    /// name keyed with each. Every receiver verifies with its own key, so a receiver that knows
    /// its key can forge deliveries to itself only; a rotation of the stack's keys rotates every
    /// receiver's, with the same overlap.
    pub fn for_receiver(&self, receiver: &str) -> SigningKeys {
        SigningKeys {
            current: self.current.derive(receiver),
            previous: self.previous.as_ref().map(|previous| previous.derive(receiver)),
        }
    }

    /// The `webhook-signature` header: the current key's signature, and the previous key's
    /// after it while rotating.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let current = self.current.sign(id, timestamp, body);
        match &self.previous {
            Some(previous) => format!("{current} {}", previous.sign(id, timestamp, body)),
            None => current,
        }
    }
}

impl From<SigningKey> for SigningKeys {
    fn from(current: SigningKey) -> Self {
        Self {
            current,
            previous: None,
        }
    }
}

/// Checks a delivery: its timestamp is within [`TOLERANCE_SECONDS`] of `now` and one of the
/// `v1` signatures in `signatures` is the HMAC of id, timestamp and body. The comparison takes
/// the same time whichever byte differs.
pub fn verify(
    key: &SigningKey,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let timestamp: i64 = timestamp.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
    // abs_diff: any two i64 timestamps, however far apart, without overflow.
    if now.abs_diff(timestamp) > TOLERANCE_SECONDS.unsigned_abs() {
        return Err(VerifyError::OutsideTolerance);
    }
    // The body is hashed once; each candidate signature is checked against a copy of the state.
    let mac = key.mac(id, timestamp, body);
    let matches = signatures
        .split(' ')
        .filter_map(|signature| signature.strip_prefix("v1,"))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .any(|tag| mac.clone().verify_slice(&tag).is_ok());
    if matches {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks reference libraries' tests.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn key() -> SigningKey {
        SigningKey::from_secret(SECRET).unwrap()
    }

    #[test]
    fn while_rotating_both_keys_sign_and_a_receiver_with_either_verifies() {
        let old = "a-previous-signing-secret-of-enough-bytes";
        let keys = SigningKeys::from_secret(&format!(" {SECRET}\n{old} ")).expect("two keys");
        let header = keys.sign(ID, TIMESTAMP, BODY);
        assert_eq!(header.split(' ').count(), 2, "{header}");
        assert!(header.starts_with(EXPECTED), "the current key's first: {header}");
        for receiver in [key(), SigningKey::from_secret(old).unwrap()] {
            assert_eq!(verify(&receiver, ID, "1614265330", &header, BODY, TIMESTAMP), Ok(()));
        }
        let one = SigningKeys::from_secret(SECRET).expect("one key");
        assert_eq!(one.sign(ID, TIMESTAMP, BODY), EXPECTED, "one key, one signature");
        assert_eq!(
            SigningKeys::from_secret(&format!("{SECRET} {old} {old}")).unwrap_err(),
            KeyError::TooManyKeys
        );
        assert_eq!(SigningKeys::from_secret("  ").unwrap_err(), KeyError::TooShort);
    }

    #[test]
    fn each_receiver_has_its_own_key_and_verifies_only_what_was_signed_for_it() {
        let stack = SigningKeys::from_secret(SECRET).unwrap();
        let (alice, bob) = (stack.for_receiver("alice"), stack.for_receiver("bob"));
        let for_alice = alice.sign(ID, TIMESTAMP, BODY);
        assert_eq!(
            verify(alice.current(), ID, "1614265330", &for_alice, BODY, TIMESTAMP),
            Ok(())
        );
        for other in [bob.current(), stack.current()] {
            assert_eq!(
                verify(other, ID, "1614265330", &for_alice, BODY, TIMESTAMP),
                Err(VerifyError::NoMatchingSignature)
            );
        }
        assert_eq!(
            alice.current().to_secret(),
            stack.for_receiver("alice").current().to_secret(),
            "derived, not random: the same every time"
        );
        // While the stack's key rotates, each receiver's does too, with the same overlap.
        let old = "a-previous-signing-secret-of-enough-bytes";
        let rotating = SigningKeys::from_secret(&format!("{SECRET} {old}"))
            .unwrap()
            .for_receiver("alice");
        let header = rotating.sign(ID, TIMESTAMP, BODY);
        let old_alice = SigningKeys::from_secret(old).unwrap().for_receiver("alice");
        for key in [alice.current(), old_alice.current()] {
            assert_eq!(verify(key, ID, "1614265330", &header, BODY, TIMESTAMP), Ok(()));
        }
    }

    #[test]
    fn signs_like_the_reference_implementations() {
        assert_eq!(key().sign(ID, TIMESTAMP, BODY), EXPECTED);
    }

    #[test]
    fn verifies_a_good_delivery_among_several_signatures() {
        let header = format!("v1,bm90IHRoaXMgb25l {EXPECTED} v2,whatever");
        assert_eq!(verify(&key(), ID, "1614265330", &header, BODY, TIMESTAMP + 10), Ok(()));
    }

    #[test]
    fn refuses_a_changed_body_id_timestamp_or_key() {
        let now = TIMESTAMP;
        let refused = Err(VerifyError::NoMatchingSignature);
        assert_eq!(
            verify(&key(), ID, "1614265330", EXPECTED, br#"{"test": 1}"#, now),
            refused
        );
        assert_eq!(verify(&key(), "msg_other", "1614265330", EXPECTED, BODY, now), refused);
        assert_eq!(verify(&key(), ID, "1614265331", EXPECTED, BODY, now), refused);
        let other = SigningKey::from_secret("a different secret of enough bytes").unwrap();
        assert_eq!(verify(&other, ID, "1614265330", EXPECTED, BODY, now), refused);
        assert_eq!(verify(&key(), ID, "1614265330", "v1,%%%", BODY, now), refused);
    }

    #[test]
    fn refuses_old_future_and_malformed_timestamps() {
        let late = TIMESTAMP + TOLERANCE_SECONDS + 1;
        assert_eq!(
            verify(&key(), ID, "1614265330", EXPECTED, BODY, late),
            Err(VerifyError::OutsideTolerance)
        );
        let early = TIMESTAMP - TOLERANCE_SECONDS - 1;
        assert_eq!(
            verify(&key(), ID, "1614265330", EXPECTED, BODY, early),
            Err(VerifyError::OutsideTolerance)
        );
        assert_eq!(
            verify(&key(), ID, "yesterday", EXPECTED, BODY, TIMESTAMP),
            Err(VerifyError::BadTimestamp)
        );
    }

    #[test]
    fn an_extreme_timestamp_is_outside_the_tolerance_not_an_overflow() {
        for (timestamp, now) in [
            (i64::MIN, TIMESTAMP),
            (i64::MAX, TIMESTAMP),
            (i64::MIN, i64::MAX),
            (i64::MAX, i64::MIN),
        ] {
            assert_eq!(
                verify(&key(), ID, &timestamp.to_string(), EXPECTED, BODY, now),
                Err(VerifyError::OutsideTolerance),
                "{timestamp} at {now}"
            );
        }
    }

    #[test]
    fn reads_both_secret_forms_and_refuses_short_or_broken_ones() {
        let raw = "Generated0By0Secrets0Manager0Without0Punctuation";
        let key = SigningKey::from_secret(raw).unwrap();
        assert_eq!(SigningKey::from_secret(&key.to_secret()).unwrap().0, raw.as_bytes());
        assert_eq!(SigningKey::from_secret("whsec_!!!").unwrap_err(), KeyError::NotBase64);
        assert_eq!(SigningKey::from_secret("short").unwrap_err(), KeyError::TooShort);
        assert_eq!(format!("{key:?}"), "SigningKey(..)");
    }
}
