//! What the worker needs: the job ledger (state changes) and a way to read orders.

use std::future::Future;

use chrono::{DateTime, Utc};
use jobs::table::{Finish, JobStoreError, Start};
use lambda_kit::dynamodb::BoxError;
use lambda_kit::events::Envelope;
use orders_api::order::Order;

pub trait JobLedger: Send + Sync {
    fn start(
        &self,
        id: &str,
        now: DateTime<Utc>,
        lease_until_millis: i64,
    ) -> impl Future<Output = Result<Start, JobStoreError>> + Send;

    /// Records how a run ended and, in the same write, the event that reports it (if any).
    fn finish(
        &self,
        id: &str,
        attempt: u32,
        finish: &Finish,
        now: DateTime<Utc>,
        event: Option<&Envelope>,
    ) -> impl Future<Output = Result<bool, JobStoreError>> + Send;
}

/// Reading the orders store failed; it may work later.
#[derive(Debug, thiserror::Error)]
#[error("reading the order failed")]
pub struct OrderReadError(#[source] pub BoxError);

pub trait OrderReader: Send + Sync {
    fn order(&self, id: &str) -> impl Future<Output = Result<Option<Order>, OrderReadError>> + Send;
}
