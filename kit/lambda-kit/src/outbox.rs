//! The transactional outbox: an event is written in the same DynamoDB transaction as the state
//! change it reports, into the outbox table; the table's stream feeds the relays that send the
//! events on ([`crate::relay`] reads it for them). So a change is never
//! stored without its event, nor an event sent for a change that was rolled back, and a failed
//! send is retried from the stream.

use aws_sdk_dynamodb::types::{AttributeValue, Put};
use chrono::{DateTime, Utc};

use crate::dynamodb::{BoxError, Item, MalformedItem, n, s, string};
use crate::events::Envelope;

/// How long an outbox item stays after it was written (the table's TTL attribute `expires_at`):
/// longer than the stream keeps records (24 h), so a record can always be read back.
pub const OUTBOX_RETENTION_SECONDS: i64 = 3 * 24 * 3600;

#[derive(Debug, Clone)]
pub struct OutboxTable {
    table: String,
}

impl OutboxTable {
    pub fn new(table: impl Into<String>) -> Self {
        Self { table: table.into() }
    }

    /// The put that records `event`, to add to the transaction of the change it reports.
    pub fn put(&self, event: &Envelope, now: DateTime<Utc>) -> Result<Put, BoxError> {
        Ok(Put::builder()
            .table_name(&self.table)
            .set_item(Some(outbox_item(event, now)?))
            .condition_expression("attribute_not_exists(id)")
            .build()?)
    }
}

fn outbox_item(event: &Envelope, now: DateTime<Utc>) -> Result<Item, BoxError> {
    Ok(Item::from([
        ("id".to_owned(), s(&event.id)),
        ("event_type".to_owned(), s(&event.event_type)),
        ("envelope".to_owned(), s(serde_json::to_string(event)?)),
        ("expires_at".to_owned(), n(now.timestamp() + OUTBOX_RETENTION_SECONDS)),
    ]))
}

/// The event an outbox item (a stream record's `NewImage`) holds.
pub fn event_from_item(item: &Item) -> Result<Envelope, MalformedItem> {
    let text = string(item, "envelope")?;
    serde_json::from_str(&text).map_err(|error| MalformedItem(format!("envelope is not an event: {error}")))
}

/// Reads a stream image in its JSON form (`{"id": {"S": "..."}, ...}`) as an item.
pub fn item_from_stream_image(image: &serde_json::Value) -> Result<Item, MalformedItem> {
    let object = image
        .as_object()
        .ok_or_else(|| MalformedItem("the image is not an object".into()))?;
    object
        .iter()
        .map(|(name, value)| {
            let attribute = match (
                value.get("S").and_then(|v| v.as_str()),
                value.get("N").and_then(|v| v.as_str()),
            ) {
                (Some(text), _) => AttributeValue::S(text.to_owned()),
                (_, Some(number)) => AttributeValue::N(number.to_owned()),
                // The outbox writes strings and numbers only; anything else is not read.
                _ => AttributeValue::Null(true),
            };
            Ok((name.clone(), attribute))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_outbox_item_reads_back_as_its_event_through_a_stream_image() {
        let event = Envelope::new("order.created", 1, "my-api", json!({"total": 3000}), Utc::now());
        let item = outbox_item(&event, Utc::now()).unwrap();
        let image = json!({
            "id": {"S": event.id},
            "event_type": {"S": "order.created"},
            "envelope": {"S": serde_json::to_string(&event).unwrap()},
            "expires_at": {"N": "1795700700"}
        });

        assert_eq!(event_from_item(&item).unwrap(), event);
        assert_eq!(
            event_from_item(&item_from_stream_image(&image).unwrap()).unwrap(),
            event
        );
    }

    #[test]
    fn an_image_without_an_envelope_is_malformed() {
        assert!(event_from_item(&item_from_stream_image(&json!({"id": {"S": "x"}})).unwrap()).is_err());
    }
}
