//! jobs-api: the front half of the asynchronous request-reply pattern.
//!
//! `POST /jobs` validates a job, records it `QUEUED`, sends it to the jobs queue and answers
//! `202 Accepted` with `Location: /jobs/{id}` and `Retry-After`; `GET /jobs/{id}` shows where the
//! job is. The caller never waits for the work: `job-worker` does it from the queue.
//!
//! - [`ports`]: what the handler needs (the job store, the queue); [`adapters`]: DynamoDB and SQS;
//!   `memory` (with the `testing` feature): in-memory ones the handler's tests run on.
//! - [`handler`]: routing, answers, and the one error → status mapping.

pub mod adapters;
pub mod config;
pub mod handler;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod ports;
