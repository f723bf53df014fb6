//! An idempotent operation, start to end: the one flow every idempotent route runs (claim →
//! replay or run → complete, or release on failure), whatever the operation does (create, update,
//! an action such as cancel). A handler gives it the claim (or none, without a key: the scope
//! and the request's fingerprint are in it) and the operation; the store only keeps records
//! ([`ClaimStore`], as Powertools splits its
//! idempotency handler from its persistence layer).

use std::future::Future;

use tracing::warn;

use super::{Claim, NewClaim, Replay, StoredResponse, replay};
use crate::telemetry::ErrorChain;

/// Where claims are kept. [`super::dynamodb::IdempotencyTable`] is the real one; a port that
/// also keeps what the operation changes implements it by delegating there.
pub trait ClaimStore: Send + Sync {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Claims the key, or reports who holds it.
    fn claim(&self, claim: &NewClaim) -> impl Future<Output = Result<Claim, Self::Error>> + Send;

    /// Completes a claim with the answer to give again.
    fn complete(
        &self,
        claim: &NewClaim,
        response: &StoredResponse,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Gives up a claim still in progress (the operation failed), so a retry need not wait for it
    /// to expire; the retry resumes it, with its reserved id. A completed claim is left alone.
    fn release(&self, claim: &NewClaim) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// What an operation did with the claim it ran under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// The operation completed the claim in its own write, in one transaction with the change:
    /// the strongest form.
    Completed(StoredResponse),
    /// The flow completes the claim after the operation. If that write fails the change stands
    /// and the claim expires; the operation must then be safe to run again under the same key:
    /// it makes its thing under the claim's reserved id ([`NewClaim::reserving`]), which a retry
    /// resumes.
    ToComplete(StoredResponse),
}

/// The answer to give: a new one, or the stored answer of an earlier request with the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    New(StoredResponse),
    Replayed(StoredResponse),
}

impl Answer {
    /// Whether this is the stored answer of an earlier request.
    pub fn is_replay(&self) -> bool {
        matches!(self, Answer::Replayed(_))
    }

    /// The outcome to count for this answer: `new` for a new one, `replayed` for a replay.
    pub fn outcome<'a>(&self, new: &'a str) -> &'a str {
        if self.is_replay() { "replayed" } else { new }
    }

    pub fn into_parts(self) -> (StoredResponse, bool) {
        match self {
            Answer::New(response) => (response, false),
            Answer::Replayed(response) => (response, true),
        }
    }
}

/// Why a request with a claimed key gets no answer of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Same key, same body, still running: the client should retry shortly (409).
    #[error("a request with this idempotency key is in progress")]
    InProgress,
    /// Same key, another body: a client error (422).
    #[error("the idempotency key was used with another request body")]
    KeyReused,
}

/// An error of an operation that ran under a claim.
pub trait OperationError {
    /// The claim was taken over meanwhile (this invocation outlived it): not ours to release.
    fn claim_lost(&self) -> bool {
        false
    }
}

/// Runs `operation` at most once per key: without a claim (no `Idempotency-Key`) it just runs;
/// with one it claims the key first, gives back the stored answer of an earlier request with the
/// same key and body, refuses a different body or a request still in progress, and otherwise
/// runs it, then completes the claim (or releases it if the operation failed).
pub async fn once<S, E, F>(store: &S, claim: Option<NewClaim>, operation: F) -> Result<Answer, E>
where
    S: ClaimStore,
    E: From<S::Error> + From<Refusal> + OperationError,
    F: AsyncFnOnce(Option<&NewClaim>) -> Result<Done, E>,
{
    let Some(mut claim) = claim else {
        return operation(None).await.map(|done| match done {
            Done::Completed(response) | Done::ToComplete(response) => Answer::New(response),
        });
    };
    match store.claim(&claim).await? {
        Claim::Acquired => {}
        Claim::Resumed { reserved_id } => claim.reserved_id = Some(reserved_id),
        Claim::Existing(existing) => {
            return match replay(existing, &claim.fingerprint) {
                Replay::Response(stored) => Ok(Answer::Replayed(stored)),
                Replay::InProgress => Err(Refusal::InProgress.into()),
                Replay::Mismatch => Err(Refusal::KeyReused.into()),
            };
        }
    }
    match operation(Some(&claim)).await {
        Ok(Done::Completed(response)) => Ok(Answer::New(response)),
        Ok(Done::ToComplete(response)) => {
            if let Err(error) = store.complete(&claim, &response).await {
                warn!(error = %ErrorChain(&error), "idempotency claim not completed; it expires at the deadline");
            }
            Ok(Answer::New(response))
        }
        Err(error) => {
            if !error.claim_lost()
                && let Err(release_error) = store.release(&claim).await
            {
                warn!(error = %ErrorChain(&release_error), "idempotency claim not released; it expires at the deadline");
            }
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::idempotency::IdempotencyKey;

    /// Claims in memory: enough to watch the flow's calls.
    #[derive(Default)]
    struct Claims {
        existing: Option<super::super::ExistingClaim>,
        calls: Mutex<Vec<&'static str>>,
        fail_complete: bool,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("store down")]
    struct Down;

    impl ClaimStore for Claims {
        type Error = Down;

        async fn claim(&self, _: &NewClaim) -> Result<Claim, Down> {
            self.calls.lock().unwrap().push("claim");
            Ok(self.existing.clone().map_or(Claim::Acquired, Claim::Existing))
        }

        async fn complete(&self, _: &NewClaim, _: &StoredResponse) -> Result<(), Down> {
            self.calls.lock().unwrap().push("complete");
            if self.fail_complete { Err(Down) } else { Ok(()) }
        }

        async fn release(&self, _: &NewClaim) -> Result<(), Down> {
            self.calls.lock().unwrap().push("release");
            Ok(())
        }
    }

    #[derive(Debug, PartialEq)]
    enum Failure {
        Store,
        Refused(Refusal),
        Create { lost: bool },
    }

    impl From<Down> for Failure {
        fn from(_: Down) -> Self {
            Failure::Store
        }
    }

    impl From<Refusal> for Failure {
        fn from(refusal: Refusal) -> Self {
            Failure::Refused(refusal)
        }
    }

    impl OperationError for Failure {
        fn claim_lost(&self) -> bool {
            matches!(self, Failure::Create { lost: true })
        }
    }

    fn claim(fingerprint: &str) -> NewClaim {
        NewClaim {
            key: IdempotencyKey::parse("POST /things", b"k-1").unwrap(),
            fingerprint: fingerprint.into(),
            now_millis: 0,
            in_progress_until_millis: 30_000,
            expires_at_seconds: 86_400,
            reserved_id: None,
        }
    }

    fn response(body: &str) -> StoredResponse {
        StoredResponse {
            status: 201,
            location: None,
            body: body.into(),
        }
    }

    async fn run(claims: &Claims, with: Option<NewClaim>, outcome: Result<Done, Failure>) -> Result<Answer, Failure> {
        once(claims, with, async |_| outcome).await
    }

    #[tokio::test]
    async fn without_a_key_the_operation_just_runs() {
        let claims = Claims::default();
        let answer = run(&claims, None, Ok(Done::ToComplete(response("a")))).await;
        assert_eq!(answer, Ok(Answer::New(response("a"))));
        assert!(claims.calls.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_new_key_is_claimed_run_and_completed_once() {
        let claims = Claims::default();
        let answer = run(&claims, Some(claim("f")), Ok(Done::ToComplete(response("a")))).await;
        assert_eq!(answer, Ok(Answer::New(response("a"))));
        assert_eq!(*claims.calls.lock().unwrap(), ["claim", "complete"]);

        let in_transaction = Claims::default();
        let answer = run(&in_transaction, Some(claim("f")), Ok(Done::Completed(response("a")))).await;
        assert_eq!(answer, Ok(Answer::New(response("a"))));
        assert_eq!(
            *in_transaction.calls.lock().unwrap(),
            ["claim"],
            "completed by the operation itself"
        );
    }

    #[tokio::test]
    async fn a_completion_that_fails_keeps_the_answer() {
        let claims = Claims {
            fail_complete: true,
            ..Claims::default()
        };
        let answer = run(&claims, Some(claim("f")), Ok(Done::ToComplete(response("a")))).await;
        assert_eq!(answer, Ok(Answer::New(response("a"))));
    }

    #[tokio::test]
    async fn a_claimed_key_replays_or_refuses_and_never_runs() {
        let existing = |response: Option<StoredResponse>| Claims {
            existing: Some(super::super::ExistingClaim {
                fingerprint: "f".into(),
                response,
            }),
            ..Claims::default()
        };
        let done = existing(Some(response("first")));
        let created = Mutex::new(false);
        let answer: Result<Answer, Failure> = once(&done, Some(claim("f")), async |_| {
            *created.lock().unwrap() = true;
            Ok(Done::ToComplete(response("second")))
        })
        .await;
        assert_eq!(answer, Ok(Answer::Replayed(response("first"))));
        assert!(!*created.lock().unwrap());
        assert_eq!(
            run(&existing(None), Some(claim("f")), Ok(Done::ToComplete(response("x")))).await,
            Err(Failure::Refused(Refusal::InProgress))
        );
        assert_eq!(
            run(&done, Some(claim("other body")), Ok(Done::ToComplete(response("x")))).await,
            Err(Failure::Refused(Refusal::KeyReused))
        );
    }

    #[tokio::test]
    async fn a_failed_operation_releases_its_claim_unless_it_was_lost() {
        let claims = Claims::default();
        let failed = run(&claims, Some(claim("f")), Err(Failure::Create { lost: false })).await;
        assert_eq!(failed, Err(Failure::Create { lost: false }));
        assert_eq!(*claims.calls.lock().unwrap(), ["claim", "release"]);

        let lost = Claims::default();
        let failed = run(&lost, Some(claim("f")), Err(Failure::Create { lost: true })).await;
        assert_eq!(failed, Err(Failure::Create { lost: true }));
        assert_eq!(
            *lost.calls.lock().unwrap(),
            ["claim"],
            "another request holds the key now"
        );
    }
}
