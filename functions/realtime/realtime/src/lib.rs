//! WebSocket push, as ws-api (the WebSocket API's routes) and ws-push (the events subscriber)
//! share it:
//! - [`token`]: the `$connect` token, a short signed statement of who connects and until when;
//! - [`topic`]: what a client can follow (a job, an order, a customer), which topics an event
//!   reaches, and the `subscribe` message;
//! - [`connections`]: the port for connections and subscriptions, and its DynamoDB adapter.

pub mod connections;
pub mod token;
pub mod topic;
