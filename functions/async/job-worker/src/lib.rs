//! job-worker: the back half of the asynchronous request-reply pattern.
//!
//! SQS → this function, in batches of up to 10 with `ReportBatchItemFailures`. Each record names
//! a job; the worker moves it `QUEUED → RUNNING → SUCCEEDED | FAILED` with conditional writes, so
//! a job runs once however often its message is delivered, and a job whose run crashed is taken
//! up again once that run's lease (its invocation deadline) has passed.
//!
//! - [`work`]: the job types it runs, each a pluggable runner (plain Rust over its own port).
//! - [`handler`]: one record's life, and the batch answer (through `lambda_kit::sqs`).
//! - [`adapters`]: the DynamoDB side of the ports.

pub mod adapters;
pub mod config;
pub mod handler;
pub mod ports;
pub mod work;
