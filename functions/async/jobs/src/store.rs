//! What a jobs store promises, whoever keeps the jobs: the outcomes of starting and finishing a
//! run, and its errors. The ports of jobs-api and job-worker speak these types; [`crate::table`]
//! implements them in DynamoDB.

use lambda_kit::BoxError;
use lambda_kit::dynamodb::MalformedItem;
use serde_json::Value;

use crate::model::Job;

#[derive(Debug, thiserror::Error)]
pub enum JobStoreError {
    #[error("a job with this id exists already")]
    AlreadyExists,
    /// Throttling, a timeout or an outage: retrying later may succeed.
    #[error("the jobs table is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the jobs table request failed")]
    Failed(#[source] BoxError),
    #[error(transparent)]
    Malformed(#[from] MalformedItem),
}

/// The outcome of trying to start a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// The job is ours to run: it is `RUNNING` with one more attempt, leased until the deadline.
    Started(Job),
    /// Already `SUCCEEDED` or `FAILED`: a repeated delivery, nothing to do.
    AlreadyFinished(Job),
    /// Another invocation runs it and its lease has not run out.
    Busy,
    /// No such job.
    Unknown,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    Succeeded(Value),
    /// A permanent failure: the job will not be tried again.
    Failed(String),
    /// A transient failure: back to `QUEUED`, for the queue's redelivery to run it again.
    Requeue(String),
}
