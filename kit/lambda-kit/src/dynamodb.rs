//! Small helpers every DynamoDB adapter of the kit needs.

use std::collections::HashMap;
use std::str::FromStr;

pub use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

pub use crate::BoxError;

/// Throttling, timeouts and outages: worth retrying later. Anything else is a failure to report.
pub fn is_retryable<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    match error {
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
    }
}

/// Implements `From<SdkError<_, _>>` for an adapter's error type, the one place an SDK error is
/// sorted: [`is_retryable`] ones into its `Unavailable(BoxError)` variant (answered 503, or a
/// record retried), the rest into `Failed(BoxError)`; the SDK error is kept as the source.
///
/// ```
/// #[derive(Debug, thiserror::Error)]
/// pub enum StoreError {
///     #[error("the table is unavailable")]
///     Unavailable(#[source] lambda_kit::dynamodb::BoxError),
///     #[error("the table request failed")]
///     Failed(#[source] lambda_kit::dynamodb::BoxError),
/// }
/// lambda_kit::sdk_error_classified_into!(StoreError);
/// ```
#[macro_export]
macro_rules! sdk_error_classified_into {
    ($error:ty) => {
        impl<E, R> ::std::convert::From<$crate::dynamodb::SdkError<E, R>> for $error
        where
            E: $crate::dynamodb::ProvideErrorMetadata + ::std::error::Error + Send + Sync + 'static,
            R: ::std::fmt::Debug + Send + Sync + 'static,
        {
            fn from(error: $crate::dynamodb::SdkError<E, R>) -> Self {
                if $crate::dynamodb::is_retryable(&error) {
                    Self::Unavailable(Box::new(error))
                } else {
                    Self::Failed(Box::new(error))
                }
            }
        }
    };
}

/// Whether a call was refused by its condition expression: the expected outcome of a conditional
/// write that lost, not a failure.
pub fn is_condition_failed<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.as_service_error().and_then(ProvideErrorMetadata::code) == Some("ConditionalCheckFailedException")
}

/// Writes `item` unless an item with the same `key_attribute` exists: the idempotent write of a
/// consumer that may see a message twice. `Ok(false)` when it existed (a repeated delivery).
pub async fn put_once(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key_attribute: &str,
    item: Item,
) -> Result<
    bool,
    SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError, aws_sdk_dynamodb::config::http::HttpResponse>,
> {
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#key)")
        .expression_attribute_names("#key", key_attribute)
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(error) if is_condition_failed(&error) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Sends, on its own, an update built for a transaction (`types::Update`), so one builder serves
/// both the transactional and the single-item path.
pub async fn send_update(
    client: &aws_sdk_dynamodb::Client,
    update: aws_sdk_dynamodb::types::Update,
) -> Result<
    (),
    SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError, aws_sdk_dynamodb::config::http::HttpResponse>,
> {
    client
        .update_item()
        .table_name(update.table_name)
        .set_key(Some(update.key))
        .update_expression(update.update_expression)
        .set_condition_expression(update.condition_expression)
        .set_expression_attribute_names(update.expression_attribute_names)
        .set_expression_attribute_values(update.expression_attribute_values)
        .send()
        .await
        .map(drop)
}

/// A stored item that does not have the shape the code writes.
#[derive(Debug, thiserror::Error)]
#[error("a stored item is malformed: {0}")]
pub struct MalformedItem(pub String);

pub fn string(item: &Item, name: &str) -> Result<String, MalformedItem> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(MalformedItem(format!("{name} is not a string"))),
    }
}

pub fn optional_string(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

pub fn number<T: FromStr>(item: &Item, name: &str) -> Result<T, MalformedItem> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value
            .parse()
            .map_err(|_| MalformedItem(format!("{name} is out of range"))),
        _ => Err(MalformedItem(format!("{name} is not a number"))),
    }
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Where a consumer keeps what it derived from a message, each item once: the port the kit's
/// subscribers write through.
pub trait RecordStore: Send + Sync {
    /// `Ok(false)` when the item was there already (a repeated delivery).
    fn put_once(&self, item: Item) -> impl std::future::Future<Output = Result<bool, BoxError>> + Send;
}

impl<T: RecordStore> RecordStore for &T {
    fn put_once(&self, item: Item) -> impl std::future::Future<Output = Result<bool, BoxError>> + Send {
        (**self).put_once(item)
    }
}

/// A [`RecordStore`] in a DynamoDB table, deduplicated on the table's key attribute.
#[derive(Debug, Clone)]
pub struct DynamoDbRecords {
    client: aws_sdk_dynamodb::Client,
    table: String,
    key_attribute: &'static str,
}

impl DynamoDbRecords {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>, key_attribute: &'static str) -> Self {
        Self {
            client,
            table: table.into(),
            key_attribute,
        }
    }
}

impl RecordStore for DynamoDbRecords {
    async fn put_once(&self, item: Item) -> Result<bool, BoxError> {
        put_once(&self.client, &self.table, self.key_attribute, item)
            .await
            .map_err(Into::into)
    }
}

/// A [`RecordStore`] in memory that keeps the same promise (one item per key attribute): the
/// stand-in for handler and fuzz tests, beside the real one.
#[derive(Debug)]
pub struct MemoryRecords {
    key_attribute: &'static str,
    items: std::sync::Mutex<Vec<Item>>,
}

impl MemoryRecords {
    pub fn new(key_attribute: &'static str) -> Self {
        Self {
            key_attribute,
            items: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// What was stored, in the order it was.
    pub fn items(&self) -> Vec<Item> {
        self.items
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl RecordStore for MemoryRecords {
    async fn put_once(&self, item: Item) -> Result<bool, BoxError> {
        let key = item
            .get(self.key_attribute)
            .cloned()
            .ok_or_else(|| BoxError::from(format!("the item has no {}", self.key_attribute)))?;
        let mut items = self.items.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if items.iter().any(|stored| stored.get(self.key_attribute) == Some(&key)) {
            return Ok(false);
        }
        items.push(item);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum StoreError {
        #[error("unavailable")]
        Unavailable(#[source] BoxError),
        #[error("failed")]
        Failed(#[source] BoxError),
    }
    crate::sdk_error_classified_into!(StoreError);

    /// The raw response plays no part in the classification: `()` stands in for it.
    type Error = SdkError<GetItemError, ()>;

    fn service_error(code: &str) -> Error {
        SdkError::service_error(GetItemError::generic(ErrorMetadata::builder().code(code).build()), ())
    }

    #[test]
    fn throttling_timeouts_and_outages_are_unavailable_everything_else_failed() {
        for code in [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "InternalServerError",
        ] {
            assert!(
                matches!(StoreError::from(service_error(code)), StoreError::Unavailable(_)),
                "{code}"
            );
        }
        let timeout: Error = SdkError::timeout_error("slow");
        assert!(matches!(StoreError::from(timeout), StoreError::Unavailable(_)));
        for code in [
            "AccessDeniedException",
            "ValidationException",
            "ResourceNotFoundException",
        ] {
            assert!(
                matches!(StoreError::from(service_error(code)), StoreError::Failed(_)),
                "{code}"
            );
        }
    }

    #[test]
    fn the_sdk_error_stays_the_source() {
        let error = StoreError::from(service_error("AccessDeniedException"));
        let source = std::error::Error::source(&error).expect("a source");
        assert!(source.downcast_ref::<Error>().is_some());
    }

    #[tokio::test]
    async fn memory_records_keep_one_item_per_key_as_the_table_does() {
        let records = MemoryRecords::new("id");
        let item = |id: &str, n: u32| Item::from([("id".to_owned(), s(id)), ("n".to_owned(), super::n(n))]);
        assert!(records.put_once(item("a", 1)).await.unwrap());
        assert!(
            !records.put_once(item("a", 2)).await.unwrap(),
            "a repeated key is not stored again"
        );
        assert!(records.put_once(item("b", 3)).await.unwrap());
        assert!(
            records.put_once(Item::new()).await.is_err(),
            "an item without its key is refused"
        );
        assert_eq!(records.items(), [item("a", 1), item("b", 3)]);
    }
}
