//! The DynamoDB adapter of [`OrderStore`]: one table for orders, one for idempotency records.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use contracts::Contract; // starter: with fanout|events
use contracts::order::OrderCreated; // starter: with fanout|events
use lambda_kit::dynamodb::{Item, MalformedItem, s};
use lambda_kit::events::Envelope; // starter: with fanout|events
use lambda_kit::idempotency::dynamodb::IdempotencyTable;
use lambda_kit::idempotency::{Claim, ClaimStore, NewClaim, StoredResponse};
use lambda_kit::outbox::OutboxTable; // starter: with fanout|events

use crate::order::Order;
use crate::ports::{OrderStore, OwnedOrder, StoreError};

/// Orders keyed by `id` and the idempotency records of their creates.
/// With the outbox their events leave through, in the same transaction. // starter: with fanout|events
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    orders_table: String,
    idempotency: IdempotencyTable,
    outbox: OutboxTable, // starter: with fanout|events
}

impl DynamoDbStore {
    pub fn new(
        client: Client,
        orders_table: impl Into<String>,
        idempotency_table: impl Into<String>,
        outbox_table: impl Into<String>, // starter: with fanout|events
    ) -> Self {
        let idempotency = IdempotencyTable::new(client.clone(), idempotency_table);
        Self {
            client,
            orders_table: orders_table.into(),
            idempotency,
            outbox: OutboxTable::new(outbox_table), // starter: with fanout|events
        }
    }
}

impl OrderStore for DynamoDbStore {
    async fn get_order(&self, id: &str) -> Result<Option<OwnedOrder>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.orders_table)
            .key("id", s(id))
            .send()
            .await?;
        output
            .item
            .map(|item| order_from_item(item).map_err(StoreError::from))
            .transpose()
    }

    async fn create_order(
        &self,
        owned: &OwnedOrder,
        completes: Option<(&NewClaim, &StoredResponse)>,
    ) -> Result<(), StoreError> {
        let order = &owned.order;
        let put_order = Put::builder()
            .table_name(&self.orders_table)
            .set_item(Some(
                order_to_item(owned).map_err(|error| StoreError::Failed(error.into()))?,
            ))
            .condition_expression("attribute_not_exists(id)")
            .build()
            .map_err(|error| StoreError::Failed(error.into()))?;
        // The order, its event and its replayable answer are written together or not at all.
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_order).build());
        // starter: with fanout|events
        // An order is strings and integers: it always converts to JSON.
        let event = order_created(order).map_err(|error| StoreError::Failed(error.into()))?;
        let put_event = self.outbox.put(&event, order.created_at).map_err(StoreError::Failed)?;
        transaction = transaction.transact_items(TransactWriteItem::builder().put(put_event).build());
        // starter: end
        // Items before the claim's completion: they fail their condition when the order exists.
        let order_items = transaction.get_transact_items().as_ref().map_or(0, Vec::len);
        if let Some((claim, response)) = completes {
            let complete = self.idempotency.completion(claim, response)?;
            transaction = transaction.transact_items(TransactWriteItem::builder().update(complete).build());
        }
        match transaction.send().await {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    let failed = |index: usize| {
                        cancelled
                            .cancellation_reasons()
                            .get(index)
                            .and_then(|reason| reason.code())
                            == Some("ConditionalCheckFailed")
                    };
                    if (0..order_items).any(failed) {
                        Err(StoreError::AlreadyExists(order.id.clone()))
                    } else if failed(order_items) {
                        Err(StoreError::ClaimLost)
                    } else {
                        Err(error.into())
                    }
                }
                _ => Err(error.into()),
            },
        }
    }
}

impl ClaimStore for DynamoDbStore {
    type Error = StoreError;

    async fn claim(&self, claim: &NewClaim) -> Result<Claim, StoreError> {
        Ok(self.idempotency.claim(claim).await?)
    }

    async fn complete(&self, claim: &NewClaim, response: &StoredResponse) -> Result<(), StoreError> {
        Ok(self.idempotency.complete(claim, response).await?)
    }

    async fn release(&self, claim: &NewClaim) -> Result<(), StoreError> {
        Ok(self.idempotency.release(claim).await?)
    }
}

// starter: with fanout|events
/// The `order.created` v1 event: the order, by its contract.
fn order_created(order: &Order) -> Result<Envelope, serde_json::Error> {
    OrderCreated(order.clone()).envelope("orders-api", order.created_at)
}
// starter: end

/// An order item is the order's contract (`contracts::order::Order`) through serde: the
/// attributes other patterns may read; and `owner`, the digest of the caller who created it,
/// where the API has an authorizer.
/// job-worker's invoice job reads this table. // starter: with async
fn order_to_item(owned: &OwnedOrder) -> Result<Item, serde_dynamo::Error> {
    let mut item: Item = serde_dynamo::to_item(&owned.order)?;
    if let Some(owner) = &owned.owner {
        item.insert(OWNER.to_owned(), s(owner));
    }
    Ok(item)
}

/// The attribute that holds an order's owner.
const OWNER: &str = "owner";

/// Reads an order item back.
fn order_from_item(mut item: Item) -> Result<OwnedOrder, MalformedItem> {
    let owner = match item.remove(OWNER) {
        None => None,
        Some(aws_sdk_dynamodb::types::AttributeValue::S(owner)) => Some(owner),
        Some(_) => return Err(MalformedItem("an order's owner is not a string".to_owned())),
    };
    let order =
        serde_dynamo::from_item::<_, Order>(item).map_err(|error| MalformedItem(format!("not an order: {error}")))?;
    Ok(OwnedOrder { order, owner })
}
