//! The DynamoDB adapter of [`OrderStore`]: one table for orders, one for idempotency records.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use lambda_kit::dynamodb::{Item, MalformedItem, n, number, s, string};
use lambda_kit::events::Envelope;
use lambda_kit::idempotency::dynamodb::IdempotencyTable;
use lambda_kit::idempotency::{Claim, IdempotencyKey, NewClaim, StoredResponse};
use lambda_kit::outbox::OutboxTable;

use crate::order::{Order, PricedLine, format_timestamp};
use crate::ports::{OrderStore, StoreError};

/// Orders keyed by `id`, the idempotency records of their creates, and the outbox their events
/// leave through.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    orders_table: String,
    idempotency: IdempotencyTable,
    outbox: OutboxTable,
}

impl DynamoDbStore {
    pub fn new(
        client: Client,
        orders_table: impl Into<String>,
        idempotency_table: impl Into<String>,
        outbox_table: impl Into<String>,
    ) -> Self {
        let idempotency = IdempotencyTable::new(client.clone(), idempotency_table);
        Self {
            client,
            orders_table: orders_table.into(),
            idempotency,
            outbox: OutboxTable::new(outbox_table),
        }
    }
}

impl OrderStore for DynamoDbStore {
    async fn get_order(&self, id: &str) -> Result<Option<Order>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.orders_table)
            .key("id", s(id))
            .send()
            .await?;
        output
            .item
            .as_ref()
            .map(|item| order_from_item(item).map_err(StoreError::from))
            .transpose()
    }

    async fn create_order(
        &self,
        order: &Order,
        event: &Envelope,
        completes: Option<(&NewClaim, &StoredResponse)>,
    ) -> Result<(), StoreError> {
        let put_order = Put::builder()
            .table_name(&self.orders_table)
            .set_item(Some(order_to_item(order)))
            .condition_expression("attribute_not_exists(id)")
            .build()
            .map_err(|error| StoreError::Failed(error.into()))?;
        let put_event = self.outbox.put(event, order.created_at).map_err(StoreError::Failed)?;

        // The order, its event and its replayable answer are written together or not at all.
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_order).build())
            .transact_items(TransactWriteItem::builder().put(put_event).build());
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
                    if failed(0) || failed(1) {
                        Err(StoreError::AlreadyExists(order.id.clone()))
                    } else if failed(2) {
                        Err(StoreError::ClaimLost)
                    } else {
                        Err(error.into())
                    }
                }
                _ => Err(error.into()),
            },
        }
    }

    async fn claim_key(&self, claim: &NewClaim) -> Result<Claim, StoreError> {
        Ok(self.idempotency.claim(claim).await?)
    }

    async fn release_key(&self, key: &IdempotencyKey) -> Result<(), StoreError> {
        Ok(self.idempotency.release(key).await?)
    }
}

fn order_to_item(order: &Order) -> Item {
    let items = order
        .items
        .iter()
        .map(|line| {
            AttributeValue::M(HashMap::from([
                ("sku".to_owned(), s(&line.sku)),
                ("quantity".to_owned(), n(line.quantity)),
                ("unit_price".to_owned(), n(line.unit_price)),
                ("line_total".to_owned(), n(line.line_total)),
            ]))
        })
        .collect();
    Item::from([
        ("id".to_owned(), s(&order.id)),
        ("customer_id".to_owned(), s(&order.customer_id)),
        ("currency".to_owned(), s(&order.currency)),
        ("items".to_owned(), AttributeValue::L(items)),
        ("subtotal".to_owned(), n(order.subtotal)),
        ("tax_rate_basis_points".to_owned(), n(order.tax_rate_basis_points)),
        ("tax".to_owned(), n(order.tax)),
        ("total".to_owned(), n(order.total)),
        ("created_at".to_owned(), s(format_timestamp(&order.created_at))),
    ])
}

/// Reads an order item back (also what other functions use to read orders).
pub fn order_from_item(item: &Item) -> Result<Order, MalformedItem> {
    let items = match item.get("items") {
        Some(AttributeValue::L(lines)) => lines
            .iter()
            .map(|line| match line {
                AttributeValue::M(line) => Ok(PricedLine {
                    sku: string(line, "sku")?,
                    quantity: number(line, "quantity")?,
                    unit_price: number(line, "unit_price")?,
                    line_total: number(line, "line_total")?,
                }),
                _ => Err(MalformedItem("an order line is not a map".into())),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(MalformedItem("order items are missing".into())),
    };
    let created_at = string(item, "created_at")?;
    let created_at = DateTime::parse_from_rfc3339(&created_at)
        .map_err(|error| MalformedItem(format!("created_at {created_at:?}: {error}")))?
        .with_timezone(&Utc);
    Ok(Order {
        id: string(item, "id")?,
        customer_id: string(item, "customer_id")?,
        currency: string(item, "currency")?,
        items,
        subtotal: number(item, "subtotal")?,
        tax_rate_basis_points: number(item, "tax_rate_basis_points")?,
        tax: number(item, "tax")?,
        total: number(item, "total")?,
        created_at,
    })
}
