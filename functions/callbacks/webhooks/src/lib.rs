//! Signed webhooks, as plain Rust (no AWS, no I/O): signing a delivery the way the Standard
//! Webhooks specification describes (`webhook-id`, `webhook-timestamp`, `webhook-signature`),
//! and verifying one: the code a receiver needs.
//!
//! Which callback URLs may be called at all is a rule the async pattern (at submit) and this
//! one (at delivery) share: `contracts::callback`.

pub mod signature;
