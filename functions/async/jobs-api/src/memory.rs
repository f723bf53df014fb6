//! In-memory adapters of the ports: jobs in a map with idempotency claims in the kit's
//! [`MemoryClaims`], and a queue that keeps what it was sent. The handler's tests run on them
//! under plain `cargo test`, with nothing else running; `tests/api.rs` checks the DynamoDB and
//! SQS adapters against the local AWS. Only with the `testing` feature: a deployed function
//! never has it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use jobs::model::{Job, JobMessage, JobStatus};
use jobs::store::JobStoreError;
use lambda_kit::idempotency::dynamodb::IdempotencyError;
use lambda_kit::idempotency::memory::MemoryClaims;
use lambda_kit::idempotency::{Claim, ClaimStore, NewClaim, StoredResponse};

use crate::ports::{JobQueue, JobStore, QueueError};

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Jobs and claims in memory; [`MemoryJobStore::unavailable`] makes every call fail as an
/// unreachable DynamoDB would.
#[derive(Debug, Default)]
pub struct MemoryJobStore {
    jobs: Mutex<HashMap<String, Job>>,
    claims: MemoryClaims,
    unavailable: bool,
}

impl MemoryJobStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose every call fails with `Unavailable`.
    pub fn unavailable() -> Self {
        Self {
            unavailable: true,
            ..Self::default()
        }
    }

    /// The claims, to put one in place as another request would have.
    pub fn claims(&self) -> &MemoryClaims {
        &self.claims
    }

    /// The job with this id, as stored.
    pub fn job(&self, id: &str) -> Option<Job> {
        locked(&self.jobs).get(id).cloned()
    }

    /// How many jobs the store holds.
    pub fn len(&self) -> usize {
        locked(&self.jobs).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check_jobs(&self) -> Result<(), JobStoreError> {
        if self.unavailable {
            return Err(JobStoreError::Unavailable(
                "the memory store is set to be unavailable".into(),
            ));
        }
        Ok(())
    }

    fn check_claims(&self) -> Result<(), IdempotencyError> {
        if self.unavailable {
            return Err(IdempotencyError::Unavailable(
                "the memory store is set to be unavailable".into(),
            ));
        }
        Ok(())
    }
}

impl JobStore for MemoryJobStore {
    async fn insert_job(&self, job: &Job) -> Result<(), JobStoreError> {
        self.check_jobs()?;
        let mut jobs = locked(&self.jobs);
        if jobs.contains_key(&job.id) {
            return Err(JobStoreError::AlreadyExists);
        }
        jobs.insert(job.id.clone(), job.clone());
        Ok(())
    }

    async fn get_job(&self, id: &str) -> Result<Option<Job>, JobStoreError> {
        self.check_jobs()?;
        Ok(self.job(id))
    }

    async fn delete_queued_job(&self, id: &str) -> Result<(), JobStoreError> {
        self.check_jobs()?;
        let mut jobs = locked(&self.jobs);
        if jobs
            .get(id)
            .is_some_and(|job| job.status == JobStatus::Queued && job.attempts == 0)
        {
            jobs.remove(id);
        }
        Ok(())
    }
}

impl ClaimStore for MemoryJobStore {
    type Error = IdempotencyError;

    async fn claim(&self, claim: &NewClaim) -> Result<Claim, IdempotencyError> {
        self.check_claims()?;
        Ok(self.claims.try_claim(claim))
    }

    async fn complete(&self, claim: &NewClaim, response: &StoredResponse) -> Result<(), IdempotencyError> {
        self.check_claims()?;
        self.claims
            .try_complete(claim, response)
            .map_err(|_| IdempotencyError::ClaimLost)
    }

    async fn release(&self, claim: &NewClaim) -> Result<(), IdempotencyError> {
        self.check_claims()?;
        self.claims.release_in_progress(claim);
        Ok(())
    }
}

/// A queue that keeps every message it was sent, with its trace header; [`MemoryQueue::failing`]
/// refuses every send, as an unreachable SQS would.
#[derive(Debug, Default)]
pub struct MemoryQueue {
    sent: Mutex<Vec<(JobMessage, Option<String>)>>,
    failing: bool,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// A queue whose every send fails.
    pub fn failing() -> Self {
        Self {
            failing: true,
            ..Self::default()
        }
    }

    /// What was sent, in order, with each message's trace header.
    pub fn sent(&self) -> Vec<(JobMessage, Option<String>)> {
        locked(&self.sent).clone()
    }
}

impl JobQueue for MemoryQueue {
    async fn send(&self, message: &JobMessage, trace_header: Option<&str>) -> Result<(), QueueError> {
        if self.failing {
            return Err(QueueError("the memory queue is set to fail".into()));
        }
        locked(&self.sent).push((message.clone(), trace_header.map(str::to_owned)));
        Ok(())
    }
}
