//! Idempotent operations: the rules, apart from where records are kept.
//!
//! A client sends an `Idempotency-Key` header with a request that changes something (a create, an
//! update, an action). The key is scoped to the caller and the route (`POST /things`): the first
//! request with a key claims it (an `IN_PROGRESS` record), runs the operation and completes the
//! record with its answer (in the change's own transaction where the store can). A retry with the
//! same key and the same body gets the stored answer and changes nothing; the same key with
//! another body is refused. A claim whose invocation died is taken over
//! once its in-progress expiry (the invocation's deadline) has passed. Records expire by TTL.
//!
//! [`flow::once`] runs that flow for a handler; the rules here are plain Rust;
//! [`dynamodb::IdempotencyTable`] keeps the records, and [`memory::MemoryClaims`] keeps them in
//! memory under the same conditions, for handler tests that need no AWS.

pub mod dynamodb;
pub mod flow;
pub mod memory;

pub use flow::{Answer, ClaimStore, Done, OperationError, Refusal, once};

use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Longest accepted key. UUIDs (36) and most client schemes fit easily.
pub const MAX_KEY_CHARS: usize = 255;

/// A client's idempotency key, scoped to the operation it was sent with so the same table can
/// serve other operations, and to the caller who sent it when the API authenticates callers
/// ([`IdempotencyKey::for_caller`]): two callers who happen to pick the same key never see each
/// other's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Accepts 1 to [`MAX_KEY_CHARS`] visible ASCII characters.
    pub fn parse(operation: &str, raw: &[u8]) -> Result<Self, InvalidKey> {
        let valid = (1..=MAX_KEY_CHARS).contains(&raw.len()) && raw.iter().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(InvalidKey);
        }
        let key = std::str::from_utf8(raw).map_err(|_| InvalidKey)?;
        Ok(Self(format!("{operation}#{key}")))
    }

    /// The key of `caller` (see [`crate::http::caller`]): `operation@<SHA-256 of the caller>#key`.
    /// The digest has a fixed length, so no caller and key can spell another's, and keeps the
    /// caller's identity (an e-mail address may be a JWT subject) out of the table.
    pub fn for_caller(operation: &str, caller: Option<&str>, raw: &[u8]) -> Result<Self, InvalidKey> {
        let key = Self::parse(operation, raw)?;
        let Some(caller) = caller else {
            return Ok(key);
        };
        let digest = crate::owner::digest(caller);
        let raw = &key.0[operation.len() + 1..];
        Ok(Self(format!("{operation}@{digest}#{raw}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible ASCII characters")]
pub struct InvalidKey;

/// A digest of the validated request. Computed from the typed request rather than the raw bytes,
/// so the same order sent with other whitespace or key order is the same request.
pub fn fingerprint(request: &impl Serialize) -> String {
    let canonical = serde_json::to_vec(request).unwrap_or_default();
    hex::encode(Sha256::digest(&canonical))
}

/// The answer a completed request gave, kept to be given again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

/// What the store holds for a key that was already claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingClaim {
    pub fingerprint: String,
    /// `None` while the first request is still in progress.
    pub response: Option<StoredResponse>,
}

/// The outcome of trying to claim a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours: go on and create.
    Acquired,
    /// The key is ours, taken over from a request that stopped before it completed (or released
    /// it): go on, with the id that request reserved ([`NewClaim::reserving`]), so what it may
    /// have made is found, not made twice.
    Resumed { reserved_id: String },
    /// Someone claimed it before.
    Existing(ExistingClaim),
}

/// A claim to write: who, for which request, and until when.
#[derive(Debug, Clone)]
pub struct NewClaim {
    pub key: IdempotencyKey,
    pub fingerprint: String,
    /// Milliseconds since the epoch now; a claim in progress past its expiry may be taken over.
    pub now_millis: i64,
    pub in_progress_until_millis: i64,
    /// Seconds since the epoch after which the record is gone (the table's TTL attribute).
    pub expires_at_seconds: i64,
    /// The id of what the operation creates, kept with the claim for as long as the key's window
    /// lasts: a request that takes the claim over gets the first request's instead of its own
    /// ([`Claim::Resumed`]). Random, so an id tells nothing about the key.
    pub reserved_id: Option<String>,
}

impl NewClaim {
    /// The claim of a request that arrived at `now_millis` with `key`: held until the
    /// invocation's deadline (see [`claim_until`]), kept for `ttl`.
    pub fn new(key: IdempotencyKey, fingerprint: String, now_millis: i64, deadline_millis: u64, ttl: Duration) -> Self {
        let ttl_seconds = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        Self {
            key,
            fingerprint,
            now_millis,
            in_progress_until_millis: claim_until(deadline_millis, now_millis),
            expires_at_seconds: (now_millis / 1000).saturating_add(ttl_seconds),
            reserved_id: None,
        }
    }

    /// The claim reserves `id` (a fresh, random one) for what the operation creates. An
    /// operation that cannot create in one transaction with the claim's completion (it sends a
    /// message, calls out) makes its thing under the claim's `reserved_id`: a retry that takes
    /// an abandoned claim over then finds what the first attempt made.
    pub fn reserving(self, id: impl Into<String>) -> Self {
        Self {
            reserved_id: Some(id.into()),
            ..self
        }
    }
}

/// What to do with a request whose key was claimed before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// Same key, same body, finished: give the stored answer again.
    Response(StoredResponse),
    /// Same key, same body, still running: the client should retry shortly.
    InProgress,
    /// Same key, another body: a client error.
    Mismatch,
}

/// Decides how to answer a request whose key is already claimed.
pub fn replay(existing: ExistingClaim, fingerprint: &str) -> Replay {
    if existing.fingerprint != fingerprint {
        return Replay::Mismatch;
    }
    match existing.response {
        Some(response) => Replay::Response(response),
        None => Replay::InProgress,
    }
}

// HTTP answers ---------------------------------------------------------------------------------

impl From<InvalidKey> for crate::problem::Problem {
    fn from(error: InvalidKey) -> Self {
        Self::typed(
            http::StatusCode::BAD_REQUEST,
            "invalid-idempotency-key",
            "Invalid Idempotency-Key",
        )
        .with_detail(format!("{error}."))
    }
}

impl From<Refusal> for crate::problem::Problem {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::InProgress => key_in_progress_problem(),
            Refusal::KeyReused => key_reused_problem(),
        }
    }
}

/// 422: the key was used with another request body.
pub fn key_reused_problem() -> crate::problem::Problem {
    crate::problem::Problem::typed(
        http::StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
        "Idempotency-Key reused",
    )
    .with_detail("This Idempotency-Key was used with another request body. Use a new key for a new request.")
}

/// 409: the first request with this key is still running; retry shortly.
pub fn key_in_progress_problem() -> crate::problem::Problem {
    crate::problem::Problem::typed(
        http::StatusCode::CONFLICT,
        "idempotency-key-in-progress",
        "Request in progress",
    )
    .with_detail("A request with this Idempotency-Key is still being processed. Retry shortly.")
    .with_header(http::header::RETRY_AFTER, http::HeaderValue::from_static("1"))
}

/// The `Idempotency-Key` header of a request, scoped to `operation` and to the authenticated
/// caller, if any ([`crate::http::caller`]); `None` when absent.
pub fn key_of(request: &lambda_http::Request, operation: &str) -> Result<Option<IdempotencyKey>, InvalidKey> {
    let Some(value) = request.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let caller = crate::http::caller(request);
    IdempotencyKey::for_caller(operation, caller.as_deref(), value.as_bytes()).map(Some)
}

/// A claim is held until the invocation's deadline (milliseconds since the epoch): past it, the
/// invocation is dead and a retry may take the key over. Outside Lambda (no deadline), 30 s.
pub fn claim_until(deadline_millis: u64, now_millis: i64) -> i64 {
    let deadline = i64::try_from(deadline_millis).unwrap_or(0);
    if deadline > now_millis {
        deadline
    } else {
        now_millis + 30_000
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_key_is_scoped_to_its_caller_and_without_one_stays_as_it_was() {
        let anyone = IdempotencyKey::for_caller("POST /things", None, b"k-1").unwrap();
        let alice = IdempotencyKey::for_caller("POST /things", Some("jwt:https://idp alice"), b"k-1").unwrap();
        let bob = IdempotencyKey::for_caller("POST /things", Some("jwt:https://idp bob"), b"k-1").unwrap();
        assert_eq!(anyone, IdempotencyKey::parse("POST /things", b"k-1").unwrap());
        assert_ne!(alice, bob);
        assert_ne!(alice, anyone);
        assert!(alice.as_str().starts_with("POST /things@") && alice.as_str().ends_with("#k-1"));
        assert!(
            !alice.as_str().contains("alice"),
            "the caller's identity stays out of the table"
        );
        assert_eq!(
            IdempotencyKey::for_caller("POST /things", Some("x"), b""),
            Err(InvalidKey)
        );
    }

    #[test]
    fn a_key_is_scoped_to_its_operation() {
        let key = IdempotencyKey::parse("POST /things", b"7c0a-11").expect("valid");
        assert_eq!(key.as_str(), "POST /things#7c0a-11");
    }

    #[test]
    fn empty_long_or_invisible_keys_are_refused() {
        assert_eq!(IdempotencyKey::parse("op", b""), Err(InvalidKey));
        assert_eq!(IdempotencyKey::parse("op", &[b'k'; MAX_KEY_CHARS + 1]), Err(InvalidKey));
        assert_eq!(IdempotencyKey::parse("op", b"has space"), Err(InvalidKey));
        assert_eq!(IdempotencyKey::parse("op", "ключ".as_bytes()), Err(InvalidKey));
        assert!(IdempotencyKey::parse("op", &[b'k'; MAX_KEY_CHARS]).is_ok());
    }

    #[test]
    fn the_fingerprint_depends_on_content_not_on_layout() {
        #[derive(Serialize)]
        struct Request {
            a: u32,
            b: &'static str,
        }
        assert_eq!(
            fingerprint(&Request { a: 1, b: "x" }),
            fingerprint(&json!({"a": 1, "b": "x"}))
        );
        assert_ne!(
            fingerprint(&Request { a: 1, b: "x" }),
            fingerprint(&Request { a: 2, b: "x" })
        );
    }

    #[test]
    fn a_finished_request_with_the_same_body_is_replayed() {
        let response = StoredResponse {
            status: 201,
            location: Some("/things/1".into()),
            body: "{}".into(),
        };
        let existing = ExistingClaim {
            fingerprint: "f".into(),
            response: Some(response.clone()),
        };

        assert_eq!(replay(existing, "f"), Replay::Response(response));
    }

    #[test]
    fn a_running_request_with_the_same_body_is_in_progress() {
        assert_eq!(
            replay(
                ExistingClaim {
                    fingerprint: "f".into(),
                    response: None
                },
                "f"
            ),
            Replay::InProgress
        );
    }

    #[test]
    fn another_body_under_the_same_key_is_a_mismatch_even_when_finished() {
        let response = StoredResponse {
            status: 201,
            location: None,
            body: "{}".into(),
        };
        assert_eq!(
            replay(
                ExistingClaim {
                    fingerprint: "f".into(),
                    response: Some(response)
                },
                "g"
            ),
            Replay::Mismatch
        );
        assert_eq!(
            replay(
                ExistingClaim {
                    fingerprint: "f".into(),
                    response: None
                },
                "g"
            ),
            Replay::Mismatch
        );
    }
}
