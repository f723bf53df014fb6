//! The port the handler needs from storage. `store::DynamoDbStore` implements it; anything that
//! keeps the same promises can replace it.

use std::future::Future;

use lambda_kit::dynamodb::{BoxError, MalformedItem};
use lambda_kit::idempotency::dynamodb::IdempotencyError;
use lambda_kit::idempotency::{ClaimStore, NewClaim, StoredResponse};

use crate::order::Order;

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
    #[error(transparent)]
    Corrupt(#[from] MalformedItem),
}

lambda_kit::sdk_error_classified_into!(StoreError);

impl From<IdempotencyError> for StoreError {
    fn from(error: IdempotencyError) -> Self {
        match error {
            IdempotencyError::Unavailable(source) => Self::Unavailable(source),
            IdempotencyError::Failed(source) => Self::Failed(source),
            IdempotencyError::Malformed(malformed) => Self::Corrupt(malformed),
            IdempotencyError::ClaimLost => Self::ClaimLost,
        }
    }
}

/// An order as it is kept: the order and its owner, the caller who created it
/// ([`lambda_kit::owner`]; `None` when it was created on an open API). The owner is never part
/// of the order's answer or of its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedOrder {
    pub order: Order,
    pub owner: Option<String>,
}

/// Where orders and their idempotency claims are kept (the claims through the kit's
/// [`ClaimStore`], which the kit's idempotency flow drives).
pub trait OrderStore: ClaimStore<Error = StoreError> {
    /// The order with this id and its owner, if there is one.
    fn get_order(&self, id: &str) -> impl Future<Output = Result<Option<OwnedOrder>, StoreError>> + Send;

    /// Stores a new order and, in the same transaction, with `completes`, the completed
    /// idempotency claim with its answer: an order never exists without its replayable answer,
    /// nor the answer without it.
    /// Its `order.created` event goes into the outbox in that transaction too. // starter: with fanout|events
    fn create_order(
        &self,
        order: &OwnedOrder,
        completes: Option<(&NewClaim, &StoredResponse)>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
