//! What the handler needs: a store for jobs and idempotency keys, and a queue to send jobs to.

use std::future::Future;

use jobs::model::{Job, JobMessage};
use jobs::store::JobStoreError;
use lambda_kit::dynamodb::BoxError;
use lambda_kit::idempotency::ClaimStore;
use lambda_kit::idempotency::dynamodb::IdempotencyError;

/// Jobs, and their idempotency claims (through the kit's [`ClaimStore`], which the kit's
/// idempotency flow drives).
pub trait JobStore: ClaimStore<Error = IdempotencyError> {
    fn insert_job(&self, job: &Job) -> impl Future<Output = Result<(), JobStoreError>> + Send;
    fn get_job(&self, id: &str) -> impl Future<Output = Result<Option<Job>, JobStoreError>> + Send;
    /// Removes a job whose message never left, so it is not shown `QUEUED` forever.
    fn delete_queued_job(&self, id: &str) -> impl Future<Output = Result<(), JobStoreError>> + Send;
}

/// The message could not be sent; the job was not queued.
#[derive(Debug, thiserror::Error)]
#[error("the job could not be sent to the queue")]
pub struct QueueError(#[source] pub BoxError);

pub trait JobQueue: Send + Sync {
    /// Sends a job to the queue, with the caller's trace header so the worker's trace joins it.
    fn send(
        &self,
        message: &JobMessage,
        trace_header: Option<&str>,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
}
