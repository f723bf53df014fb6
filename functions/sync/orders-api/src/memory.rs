//! The in-memory adapter of [`OrderStore`]: orders in a map, idempotency claims in the kit's
//! [`MemoryClaims`], with the DynamoDB adapter's promises (an order never exists without its
//! completed claim, nor the claim without it; a lost claim writes nothing). The handler's tests
//! run on it under plain `cargo test`, with nothing else running; `tests/dynamodb.rs` checks the
//! real adapter against the local AWS. Only with the `testing` feature: a deployed function
//! never has it.
//! It keeps no outbox: the `order.created` events are the real adapter's. // starter: with fanout|events

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use lambda_kit::idempotency::memory::{ClaimLost, MemoryClaims};
use lambda_kit::idempotency::{Claim, ClaimStore, NewClaim, StoredResponse};

use crate::ports::{OrderStore, OwnedOrder, StoreError};

/// Orders and claims in memory; [`MemoryStore::failing_with`] makes every call fail.
#[derive(Debug, Default)]
pub struct MemoryStore {
    orders: Mutex<HashMap<String, OwnedOrder>>,
    claims: MemoryClaims,
    fault: Option<Fault>,
}

/// How every call of a [`MemoryStore::failing_with`] fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// As DynamoDB throttled or out of reach: [`StoreError::Unavailable`].
    Unavailable,
    /// As a request DynamoDB refused: [`StoreError::Failed`].
    Failed,
}

impl From<ClaimLost> for StoreError {
    fn from(_: ClaimLost) -> Self {
        StoreError::ClaimLost
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose every call fails this way.
    pub fn failing_with(fault: Fault) -> Self {
        Self {
            fault: Some(fault),
            ..Self::default()
        }
    }

    /// The claims, to put one in place as another request would have.
    pub fn claims(&self) -> &MemoryClaims {
        &self.claims
    }

    /// How many orders the store holds.
    pub fn len(&self) -> usize {
        self.orders.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check(&self) -> Result<(), StoreError> {
        match self.fault {
            None => Ok(()),
            Some(Fault::Unavailable) => Err(StoreError::Unavailable(
                "the memory store is set to be unavailable".into(),
            )),
            Some(Fault::Failed) => Err(StoreError::Failed("the memory store is set to fail".into())),
        }
    }
}

impl OrderStore for MemoryStore {
    async fn get_order(&self, id: &str) -> Result<Option<OwnedOrder>, StoreError> {
        self.check()?;
        Ok(self
            .orders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned())
    }

    async fn create_order(
        &self,
        order: &OwnedOrder,
        completes: Option<(&NewClaim, &StoredResponse)>,
    ) -> Result<(), StoreError> {
        self.check()?;
        // One lock over the order's check, the claim's completion and the order's write: the
        // transaction of the DynamoDB adapter.
        let mut orders = self.orders.lock().unwrap_or_else(PoisonError::into_inner);
        if orders.contains_key(&order.order.id) {
            return Err(StoreError::AlreadyExists(order.order.id.clone()));
        }
        if let Some((claim, response)) = completes {
            self.claims.try_complete(claim, response)?;
        }
        orders.insert(order.order.id.clone(), order.clone());
        Ok(())
    }
}

impl ClaimStore for MemoryStore {
    type Error = StoreError;

    async fn claim(&self, claim: &NewClaim) -> Result<Claim, StoreError> {
        self.check()?;
        Ok(self.claims.try_claim(claim))
    }

    async fn complete(&self, claim: &NewClaim, response: &StoredResponse) -> Result<(), StoreError> {
        self.check()?;
        Ok(self.claims.try_complete(claim, response)?)
    }

    async fn release(&self, claim: &NewClaim) -> Result<(), StoreError> {
        self.check()?;
        self.claims.release_in_progress(claim);
        Ok(())
    }
}
