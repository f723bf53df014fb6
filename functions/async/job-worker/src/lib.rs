//! job-worker: the back half of the asynchronous request-reply pattern.
//!
//! SQS → this function, in batches of up to 10 with `ReportBatchItemFailures`. Each record names
//! a job; the worker moves it `QUEUED → RUNNING → SUCCEEDED | FAILED` with conditional writes, so
//! a job runs once however often its message is delivered, and a job whose run crashed is taken
//! up again once that run's lease (its invocation deadline) has passed.
//!
//! - the kinds of job it runs are `jobs::kinds` (each its input and its run), as jobs-api accepts them.
//! - [`handler`]: one record's life, and the batch answer (through `lambda_kit::sqs`).
//! - [`adapters`]: the DynamoDB side of the ports.

pub mod adapters;
pub mod config;
pub mod handler;
pub mod ports;
