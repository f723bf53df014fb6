//! Fuzzing the jobs API handler: nothing panics, a client's request is always answered, never with a 5xx, and every 4xx is a
//! problem document. The store and queue behind the handler accept everything.

use jobs::model::{Job, JobMessage};
use jobs::store::JobStoreError;
use jobs_api::handler::JobsApi;
use jobs_api::ports::{JobQueue, JobStore, QueueError};
use lambda_kit::idempotency::dynamodb::IdempotencyError;
use lambda_kit::idempotency::{Claim, ClaimStore, IdempotencyKey, NewClaim, StoredResponse};
use serde_json::Value;
use test_support::{check_http_properties, http_answer, sample_event};

struct Accepting;

impl JobStore for Accepting {
    async fn insert_job(&self, _: &Job) -> Result<(), JobStoreError> {
        Ok(())
    }
    async fn get_job(&self, _: &str) -> Result<Option<Job>, JobStoreError> {
        Ok(None)
    }
    async fn delete_queued_job(&self, _: &str) -> Result<(), JobStoreError> {
        Ok(())
    }
}

impl ClaimStore for Accepting {
    type Error = IdempotencyError;

    async fn claim(&self, _: &NewClaim) -> Result<Claim, IdempotencyError> {
        Ok(Claim::Acquired)
    }
    async fn complete(&self, _: &NewClaim, _: &StoredResponse) -> Result<(), IdempotencyError> {
        Ok(())
    }
    async fn release(&self, _: &IdempotencyKey) -> Result<(), IdempotencyError> {
        Ok(())
    }
}

impl JobQueue for Accepting {
    async fn send(&self, _: &JobMessage, _: Option<&str>) -> Result<(), QueueError> {
        Ok(())
    }
}

/// The accepted-request samples.
fn samples() -> Vec<Value> {
    [
        "create-invoice-job", // starter: with sync
        "create-job-rest-api",
        "create-report-job-idempotent",
        "get-job",
    ]
    .into_iter()
    .map(|name| sample_event("jobs-api", name))
    .collect()
}

fn answer(text: &str) -> Option<Value> {
    let api = JobsApi::new(Accepting, Accepting, kinds(), std::time::Duration::from_secs(3600))
        .expect("the route table")
        .with_callbacks(contracts::callback::Policy::default());
    http_answer(text, |request| api.handle(request))
}

#[test]
fn every_request_is_answered_without_a_5xx_and_no_damaged_event_panics() {
    check_http_properties(samples(), answer);
}

fn kinds() -> jobs::kinds::JobKinds {
    jobs::kinds::JobKinds::new()
        .with(jobs::kinds::invoice::Invoice) // starter: with sync
        .with(jobs::kinds::report::Report)
}
