//! The DynamoDB adapter of [`OrderStore`]: one table for orders, one for idempotency records.

use std::collections::HashMap;
use std::fmt::Debug;
use std::str::FromStr;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use crate::idempotency::{Claim, ExistingClaim, IdempotencyKey, NewClaim, StoredResponse};
use crate::order::{Order, PricedLine, format_timestamp};
use crate::ports::{BoxError, OrderStore, StoreError};

type Item = HashMap<String, AttributeValue>;

const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";

/// Orders keyed by `id`; idempotency records keyed by `key`, expiring through the TTL attribute
/// `expires_at` (epoch seconds).
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    orders_table: String,
    idempotency_table: String,
}

impl DynamoDbStore {
    pub fn new(client: Client, orders_table: impl Into<String>, idempotency_table: impl Into<String>) -> Self {
        Self {
            client,
            orders_table: orders_table.into(),
            idempotency_table: idempotency_table.into(),
        }
    }
}

impl OrderStore for DynamoDbStore {
    async fn get_order(&self, id: &str) -> Result<Option<Order>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.orders_table)
            .key("id", AttributeValue::S(id.to_owned()))
            .send()
            .await
            .map_err(classify)?;
        output.item.as_ref().map(order_from_item).transpose()
    }

    async fn create_order(
        &self,
        order: &Order,
        completes: Option<(&NewClaim, &StoredResponse)>,
    ) -> Result<(), StoreError> {
        let put_order = Put::builder()
            .table_name(&self.orders_table)
            .set_item(Some(order_to_item(order)))
            .condition_expression("attribute_not_exists(id)")
            .build()
            .map_err(|error| StoreError::Failed(error.into()))?;

        let Some((claim, response)) = completes else {
            let result = self
                .client
                .put_item()
                .table_name(put_order.table_name)
                .set_item(Some(put_order.item))
                .set_condition_expression(put_order.condition_expression)
                .send()
                .await;
            return match result {
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    Err(StoreError::AlreadyExists(order.id.clone()))
                }
                other => other.map(drop).map_err(classify),
            };
        };

        let mut values = HashMap::from([
            (":completed".to_owned(), AttributeValue::S(COMPLETED.to_owned())),
            (":in_progress".to_owned(), AttributeValue::S(IN_PROGRESS.to_owned())),
            (":fingerprint".to_owned(), AttributeValue::S(claim.fingerprint.clone())),
            (":status".to_owned(), AttributeValue::N(response.status.to_string())),
            (":body".to_owned(), AttributeValue::S(response.body.clone())),
        ]);
        let mut update_expression =
            "SET #status = :completed, response_status = :status, response_body = :body".to_owned();
        if let Some(location) = &response.location {
            values.insert(":location".to_owned(), AttributeValue::S(location.clone()));
            update_expression.push_str(", response_location = :location");
        }
        let complete_claim = Update::builder()
            .table_name(&self.idempotency_table)
            .key("key", AttributeValue::S(claim.key.as_str().to_owned()))
            .update_expression(update_expression)
            .condition_expression("#status = :in_progress AND fingerprint = :fingerprint")
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|error| StoreError::Failed(error.into()))?;

        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_order).build())
            .transact_items(TransactWriteItem::builder().update(complete_claim).build())
            .send()
            .await;
        match result {
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
                    if failed(0) {
                        Err(StoreError::AlreadyExists(order.id.clone()))
                    } else if failed(1) {
                        Err(StoreError::ClaimLost)
                    } else {
                        Err(classify(error))
                    }
                }
                _ => Err(classify(error)),
            },
        }
    }

    async fn claim_key(&self, claim: &NewClaim) -> Result<Claim, StoreError> {
        let item = HashMap::from([
            ("key".to_owned(), AttributeValue::S(claim.key.as_str().to_owned())),
            ("status".to_owned(), AttributeValue::S(IN_PROGRESS.to_owned())),
            ("fingerprint".to_owned(), AttributeValue::S(claim.fingerprint.clone())),
            (
                "in_progress_until".to_owned(),
                AttributeValue::N(claim.in_progress_until_millis.to_string()),
            ),
            (
                "expires_at".to_owned(),
                AttributeValue::N(claim.expires_at_seconds.to_string()),
            ),
        ]);
        // Free: never claimed; past its TTL but not yet swept (DynamoDB deletes expired items
        // within days, not at once); or claimed by an invocation that ran out of time.
        let result = self
            .client
            .put_item()
            .table_name(&self.idempotency_table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(#key) OR expires_at < :now_seconds \
                 OR (#status = :in_progress AND in_progress_until < :now_millis)",
            )
            .expression_attribute_names("#key", "key")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now_seconds", AttributeValue::N((claim.now_millis / 1000).to_string()))
            .expression_attribute_values(":now_millis", AttributeValue::N(claim.now_millis.to_string()))
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Acquired),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let existing = self
                    .client
                    .get_item()
                    .table_name(&self.idempotency_table)
                    .key("key", AttributeValue::S(claim.key.as_str().to_owned()))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(classify)?;
                match existing.item {
                    Some(item) => Ok(Claim::Existing(claim_from_item(&item)?)),
                    // Released between our write and our read: report it as in progress, the
                    // client's retry will find the key free.
                    None => Ok(Claim::Existing(ExistingClaim {
                        fingerprint: claim.fingerprint.clone(),
                        response: None,
                    })),
                }
            }
            Err(error) => Err(classify(error)),
        }
    }

    async fn release_key(&self, key: &IdempotencyKey) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.idempotency_table)
            .key("key", AttributeValue::S(key.as_str().to_owned()))
            .condition_expression("#status = :in_progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.to_owned()))
            .send()
            .await;
        match result {
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            other => other.map(drop).map_err(classify),
        }
    }
}

/// Throttling, timeouts and outages are worth a retry by the caller; anything else is a failure.
fn classify<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    let retryable = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(service) => matches!(
            service.err().code(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
            )
        ),
        _ => false,
    };
    let source: BoxError = Box::new(error);
    if retryable {
        StoreError::Unavailable(source)
    } else {
        StoreError::Failed(source)
    }
}

fn order_to_item(order: &Order) -> Item {
    let items = order
        .items
        .iter()
        .map(|line| {
            AttributeValue::M(HashMap::from([
                ("sku".to_owned(), AttributeValue::S(line.sku.clone())),
                ("quantity".to_owned(), AttributeValue::N(line.quantity.to_string())),
                ("unit_price".to_owned(), AttributeValue::N(line.unit_price.to_string())),
                ("line_total".to_owned(), AttributeValue::N(line.line_total.to_string())),
            ]))
        })
        .collect();
    HashMap::from([
        ("id".to_owned(), AttributeValue::S(order.id.clone())),
        ("customer_id".to_owned(), AttributeValue::S(order.customer_id.clone())),
        ("currency".to_owned(), AttributeValue::S(order.currency.clone())),
        ("items".to_owned(), AttributeValue::L(items)),
        ("subtotal".to_owned(), AttributeValue::N(order.subtotal.to_string())),
        (
            "tax_rate_basis_points".to_owned(),
            AttributeValue::N(order.tax_rate_basis_points.to_string()),
        ),
        ("tax".to_owned(), AttributeValue::N(order.tax.to_string())),
        ("total".to_owned(), AttributeValue::N(order.total.to_string())),
        (
            "created_at".to_owned(),
            AttributeValue::S(format_timestamp(&order.created_at)),
        ),
    ])
}

fn order_from_item(item: &Item) -> Result<Order, StoreError> {
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
                _ => Err(StoreError::Corrupt("an order line is not a map".into())),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(StoreError::Corrupt("order items are missing".into())),
    };
    let created_at = string(item, "created_at")?;
    let created_at = DateTime::parse_from_rfc3339(&created_at)
        .map_err(|error| StoreError::Corrupt(format!("created_at {created_at:?}: {error}")))?
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

fn claim_from_item(item: &Item) -> Result<ExistingClaim, StoreError> {
    let response = if string(item, "status")? == COMPLETED {
        Some(StoredResponse {
            status: number(item, "response_status")?,
            location: string(item, "response_location").ok(),
            body: string(item, "response_body")?,
        })
    } else {
        None
    };
    Ok(ExistingClaim {
        fingerprint: string(item, "fingerprint")?,
        response,
    })
}

fn string(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(StoreError::Corrupt(format!("{name} is not a string"))),
    }
}

fn number<T: FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("{name} is out of range"))),
        _ => Err(StoreError::Corrupt(format!("{name} is not a number"))),
    }
}
