//! Idempotency records in memory, written under the same conditions as
//! [`super::dynamodb::IdempotencyTable`] writes them: the store of handler tests that need no AWS.
//! Not for a deployed function: an execution environment's memory is its own, so two concurrent
//! invocations would not see each other's claims.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::flow::ClaimStore;
use super::{Claim, ExistingClaim, NewClaim, StoredResponse};

/// Claims by key, in memory.
#[derive(Debug, Default)]
pub struct MemoryClaims {
    records: Mutex<HashMap<String, Record>>,
}

#[derive(Debug, Clone)]
struct Record {
    fingerprint: String,
    in_progress_until_millis: i64,
    expires_at_seconds: i64,
    /// `None` while in progress.
    response: Option<StoredResponse>,
    reserved_id: Option<String>,
}

/// The one way a write here fails: its condition no longer holds (the claim was taken over, or
/// completed, meanwhile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the idempotency claim was lost")]
pub struct ClaimLost;

impl MemoryClaims {
    pub fn new() -> Self {
        Self::default()
    }

    fn records(&self) -> MutexGuard<'_, HashMap<String, Record>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims the key when no record holds it or its record has expired; resumes it, with the
    /// id its first request reserved, when that request is in progress past its deadline or
    /// released it; otherwise reports the record.
    pub fn try_claim(&self, claim: &NewClaim) -> Claim {
        let mut records = self.records();
        let mut inherited = None;
        if let Some(record) = records.get(&claim.key.0) {
            let expired = record.expires_at_seconds < claim.now_millis / 1000;
            let abandoned = record.response.is_none() && record.in_progress_until_millis < claim.now_millis;
            if !expired && !abandoned {
                return Claim::Existing(ExistingClaim {
                    fingerprint: record.fingerprint.clone(),
                    response: record.response.clone(),
                });
            }
            if !expired {
                inherited = record.reserved_id.clone();
            }
        }
        records.insert(
            claim.key.0.clone(),
            Record {
                fingerprint: claim.fingerprint.clone(),
                in_progress_until_millis: claim.in_progress_until_millis,
                expires_at_seconds: claim.expires_at_seconds,
                response: None,
                reserved_id: inherited.clone().or_else(|| claim.reserved_id.clone()),
            },
        );
        match inherited {
            Some(reserved_id) => Claim::Resumed { reserved_id },
            None => Claim::Acquired,
        }
    }

    /// Completes the claim with its answer, if it is still this request's and in progress.
    pub fn try_complete(&self, claim: &NewClaim, response: &StoredResponse) -> Result<(), ClaimLost> {
        match self.records().get_mut(&claim.key.0) {
            Some(record) if is_this_claim_in_progress(record, claim) && record.fingerprint == claim.fingerprint => {
                record.response = Some(response.clone());
                Ok(())
            }
            _ => Err(ClaimLost),
        }
    }

    /// Gives up this request's claim while in progress: the next request with the key resumes it
    /// at once, with its reserved id. A completed one, or one another request took over, stays.
    pub fn release_in_progress(&self, claim: &NewClaim) {
        if let Some(record) = self
            .records()
            .get_mut(&claim.key.0)
            .filter(|record| is_this_claim_in_progress(record, claim))
        {
            record.in_progress_until_millis = i64::MIN;
        }
    }
}

/// Whether `record` is `claim`'s and in progress. Claims of a key are told apart by their
/// deadline: a take-over happens only past the previous one, and sets a later one.
fn is_this_claim_in_progress(record: &Record, claim: &NewClaim) -> bool {
    record.response.is_none() && record.in_progress_until_millis == claim.in_progress_until_millis
}

impl ClaimStore for MemoryClaims {
    type Error = ClaimLost;

    async fn claim(&self, claim: &NewClaim) -> Result<Claim, ClaimLost> {
        Ok(self.try_claim(claim))
    }

    async fn complete(&self, claim: &NewClaim, response: &StoredResponse) -> Result<(), ClaimLost> {
        self.try_complete(claim, response)
    }

    async fn release(&self, claim: &NewClaim) -> Result<(), ClaimLost> {
        self.release_in_progress(claim);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::IdempotencyKey;

    fn claim(fingerprint: &str, now_millis: i64, in_progress_for: i64) -> NewClaim {
        NewClaim {
            key: IdempotencyKey::parse("POST /things", b"k-1").unwrap(),
            fingerprint: fingerprint.into(),
            now_millis,
            in_progress_until_millis: now_millis + in_progress_for,
            expires_at_seconds: now_millis / 1000 + 3600,
            reserved_id: None,
        }
    }

    fn answer() -> StoredResponse {
        StoredResponse {
            status: 201,
            location: None,
            body: "{}".into(),
        }
    }

    #[test]
    fn a_key_is_claimed_once_then_reported_in_progress_then_completed() {
        let claims = MemoryClaims::new();
        assert_eq!(claims.try_claim(&claim("f", 1_000, 30_000)), Claim::Acquired);
        let Claim::Existing(existing) = claims.try_claim(&claim("f", 2_000, 30_000)) else {
            panic!("claimed twice")
        };
        assert_eq!(existing.response, None);
        claims.try_complete(&claim("f", 1_000, 30_000), &answer()).unwrap();
        let Claim::Existing(done) = claims.try_claim(&claim("f", 3_000, 30_000)) else {
            panic!("claimed again")
        };
        assert_eq!(done.response, Some(answer()));
    }

    #[test]
    fn an_abandoned_claim_is_taken_over_and_its_first_holder_cannot_complete_it() {
        let claims = MemoryClaims::new();
        let first = claim("f", 1_000, 10);
        claims.try_claim(&first);
        assert_eq!(
            claims.try_claim(&claim("f", 2_000, 30_000)),
            Claim::Acquired,
            "past its deadline"
        );
        claims.try_complete(&claim("f", 2_000, 30_000), &answer()).unwrap();
        assert_eq!(
            claims.try_complete(&first, &answer()),
            Err(ClaimLost),
            "already completed"
        );
    }

    #[test]
    fn a_claim_taken_over_or_released_keeps_its_reserved_id_until_the_key_expires() {
        let claims = MemoryClaims::new();
        let first = claim("f", 1_000, 10).reserving("id-1");
        assert_eq!(claims.try_claim(&first), Claim::Acquired);
        let second = claim("f", 2_000, 30_000).reserving("id-2");
        assert_eq!(
            claims.try_claim(&second),
            Claim::Resumed {
                reserved_id: "id-1".into()
            },
            "taken over past its deadline"
        );
        claims.release_in_progress(&second);
        assert_eq!(
            claims.try_claim(&claim("f", 3_000, 30_000).reserving("id-3")),
            Claim::Resumed {
                reserved_id: "id-1".into()
            },
            "released"
        );
        // A day later the key is free, and a new request reserves its own id.
        let later = claim("f", 3_600_000 + 5_000, 30_000).reserving("id-4");
        assert_eq!(claims.try_claim(&later), Claim::Acquired);
        claims.release_in_progress(&later);
        assert_eq!(
            claims.try_claim(&claim("f", 3_600_000 + 6_000, 30_000)),
            Claim::Resumed {
                reserved_id: "id-4".into()
            }
        );
    }

    #[test]
    fn a_release_gives_up_only_a_claim_in_progress() {
        let claims = MemoryClaims::new();
        let first = claim("f", 1_000, 30_000);
        claims.try_claim(&first);
        claims.release_in_progress(&first);
        assert_eq!(claims.try_claim(&first), Claim::Acquired);
        claims.try_complete(&first, &answer()).unwrap();
        claims.release_in_progress(&first);
        assert!(matches!(claims.try_claim(&first), Claim::Existing(_)));
    }

    #[test]
    fn a_first_holder_after_a_take_over_neither_completes_nor_releases_the_new_claim() {
        let claims = MemoryClaims::new();
        let first = claim("f", 1_000, 10);
        claims.try_claim(&first);
        let second = claim("f", 2_000, 30_000);
        assert_eq!(claims.try_claim(&second), Claim::Acquired, "past its deadline");
        // The first request comes back to life, with the same body (the same fingerprint).
        assert_eq!(claims.try_complete(&first, &answer()), Err(ClaimLost));
        claims.release_in_progress(&first);
        assert!(
            matches!(
                claims.try_claim(&claim("f", 3_000, 30_000)),
                Claim::Existing(ExistingClaim { response: None, .. })
            ),
            "the second request still holds the key"
        );
        claims.try_complete(&second, &answer()).unwrap();
    }
}
