//! The port the handler needs from storage. `store::DynamoDbStore` implements it; anything that
//! keeps the same promises can replace it.

use std::future::Future;

use crate::idempotency::{Claim, IdempotencyKey, NewClaim, StoredResponse};
use crate::order::Order;

/// Any error an SDK or driver reports, kept as the source of a [`StoreError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("an order with id {0} already exists")]
    AlreadyExists(String),
    /// The idempotency claim this request held was taken over (its invocation outlived the claim).
    #[error("the idempotency claim was lost")]
    ClaimLost,
    /// Throttling, a timeout or a dependency outage: retrying later may succeed.
    #[error("the store is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the store request failed")]
    Failed(#[source] BoxError),
    #[error("a stored item is malformed: {0}")]
    Corrupt(String),
}

/// Where orders and idempotency records are kept.
pub trait OrderStore: Send + Sync {
    /// The order with this id, if there is one.
    fn get_order(&self, id: &str) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;

    /// Stores a new order. With `completes`, the idempotency claim for that key is completed with
    /// the given answer in the same transaction, so an order never exists without its replayable
    /// answer, nor an answer without its order.
    fn create_order(
        &self,
        order: &Order,
        completes: Option<(&NewClaim, &StoredResponse)>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Claims an idempotency key, or reports who holds it.
    fn claim_key(&self, claim: &NewClaim) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Gives up a claim still in progress (the create failed), so a retry need not wait for it
    /// to expire. A completed claim is left alone.
    fn release_key(&self, key: &IdempotencyKey) -> impl Future<Output = Result<(), StoreError>> + Send;
}
