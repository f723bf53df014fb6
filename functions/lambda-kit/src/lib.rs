//! What the kit's Lambda functions share.
//!
//! - [`config`]: typed configuration read from the environment once, at start-up, failing fast.
//! - [`telemetry`]: the tracing subscriber, honouring Lambda's advanced logging controls.
//! - [`aws`]: one `SdkConfig` for every client, honouring the standard endpoint settings
//!   (`AWS_ENDPOINT_URL`) so the same binary talks to AWS or to a local emulator.
//! - [`problem`]: RFC 9457 `application/problem+json` answers, the one place where an error
//!   becomes an HTTP status.
//! - [`http`]: what every HTTP handler does before its own logic: find the route path behind any
//!   API Gateway stage, read a JSON body within a size limit, and build JSON answers.
//! - [`idempotency`]: idempotent creates with an `Idempotency-Key`, and their DynamoDB table.
//! - [`sqs`]: SQS batches with per-record failures, for every SQS consumer.
//! - [`events`]: the domain-event envelope, and publishing to SNS in batches.
//! - [`outbox`]: events written in the same transaction as the change they report.
//! - [`dynamodb`]: attribute helpers and the retryable/failed split of SDK errors.
//! - [`faults`]: the local-only switch that makes a share of SQS records fail (`make load`).
//! - [`local`]: how a function knows it runs under the local stack, and its local-only switches.
//! - `secrets` (feature `secrets`): key material read from Secrets Manager at init.

pub mod aws;
pub mod config;
pub mod dynamodb;
pub mod events;
pub mod faults;
pub mod http;
pub mod idempotency;
pub mod local;
pub mod outbox;
pub mod problem;
#[cfg(feature = "secrets")]
pub mod secrets;
pub mod sqs;
pub mod telemetry;
