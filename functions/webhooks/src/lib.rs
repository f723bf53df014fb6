//! Signed webhooks, as plain Rust (no AWS, no I/O):
//! - [`signature`]: signing a delivery the way the Standard Webhooks specification describes
//!   (`webhook-id`, `webhook-timestamp`, `webhook-signature`), and verifying one: the code a
//!   receiver needs;
//! - [`target`]: which callback URLs may be called at all (https only, no private, loopback or
//!   link-local address), checked when a job is submitted and again before each delivery.

pub mod signature;
pub mod target;
