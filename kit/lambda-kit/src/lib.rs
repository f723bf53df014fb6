//! What the kit's Lambda functions share, à la carte: each module past the first three sits
//! behind a Cargo feature of the same name, so a function compiles only the SDK crates and
//! runtime pieces it uses (`cargo tree -p <function>` shows them).
//!
//! Always there:
//! - [`config`]: typed configuration read from the environment once, at start-up, failing fast.
//! - [`telemetry`]: the tracing subscriber, honouring Lambda's advanced logging controls.
//! - [`aws`]: one `SdkConfig` for every client, honouring the standard endpoint settings
//!   (`AWS_ENDPOINT_URL`) so the same binary talks to AWS or to a local emulator.
//! - [`tls`]: the compiled-in trust store of every HTTPS client (`AWS_CA_BUNDLE` adds a CA).
//! - [`function`]: the start and the end of every function's `main` (init, then the runtime).
//! - [`metrics`]: metrics in CloudWatch's Embedded Metric Format, one line of stdout each.
//! - [`local`]: the local-only switches; in a build without the `local` feature they are
//!   constants that say "off".
//!
//! By feature:
//! - `http`: [`problem`] (RFC 9457 answers, the one place an error becomes an HTTP status) and
//!   [`http`] (route paths behind any stage, JSON bodies within a size limit, JSON answers).
//! - `owner`: [`owner`], what a caller creates is the caller's (who owns it, who may read it).
//! - `idempotency`: [`idempotency`], any operation run once per `Idempotency-Key`, kept in DynamoDB (or in memory for tests).
//! - `sqs`: [`sqs`], SQS batches with per-record failures, for every SQS consumer.
//! - `events`: [`events`], reading the domain events of the `contracts` crate from a message
//!   body.
//! - `sns`: [`sns`], publishing them to SNS in batches.
//! - `outbox`: [`outbox`], events written in the same transaction as the change they report.
//! - `relay`: [`relay`], reading the outbox's stream and answering it (the outbox's relays).
//! - `dynamodb`: [`dynamodb`], attribute helpers and the retryable/failed split of SDK errors.
//! - `web-tls`: [`web_tls`], Mozilla's roots for HTTPS to the public web (webhooks).
//! - `secrets`: key material read from Secrets Manager on first use and refreshed
//!   ([`keys`], always there, is what a handler asks it through).
//! - `local`: [`faults`], the switch that makes a share of SQS records fail (`make load`), and
//!   the real [`local`] switches. Only local-stack builds turn it on.

pub mod aws;
pub mod config;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "events")]
pub mod events;
#[cfg(all(feature = "local", feature = "sqs"))]
pub mod faults;
pub mod function;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "idempotency")]
pub mod idempotency;
pub mod keys;
pub mod local;
pub mod metrics;
#[cfg(feature = "outbox")]
pub mod outbox;
#[cfg(feature = "owner")]
pub mod owner;
#[cfg(feature = "http")]
pub mod problem;
#[cfg(feature = "relay")]
pub mod relay;
#[cfg(feature = "secrets")]
pub mod secrets;
#[cfg(feature = "sns")]
pub mod sns;
#[cfg(feature = "sqs")]
pub mod sqs;
pub mod telemetry;
pub mod tls;
#[cfg(feature = "web-tls")]
pub mod web_tls;

/// Any error an SDK or a dependency reports, kept as the source of an adapter's own error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
