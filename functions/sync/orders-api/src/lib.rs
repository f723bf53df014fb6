//! orders-api: the synchronous request-response pattern.
//!
//! API Gateway (HTTP API) → this function → DynamoDB, answered while the caller waits:
//! `POST /orders` validates, prices and stores an order (idempotently with an `Idempotency-Key`),
//! `GET /orders/{id}` reads it back. Errors are RFC 9457 problem details.
//!
//! - [`order`]: the domain: validation and pricing, plain Rust.
//! - [`ports`]: what the handler needs from storage; [`store`]: the DynamoDB adapter; `memory`
//!   (with the `testing` feature): the in-memory one the handler's tests run on.
//! - [`handler`]: routing, the HTTP shape of each answer, and the one error → status mapping.

pub mod config;
pub mod currency;
pub mod handler;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod order;
pub mod ports;
pub mod store;
