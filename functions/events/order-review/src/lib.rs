//! order-review: the orders the bus's rules send here for a person to review (large retail
//! orders, by a numeric range on the total; every wholesale order, by a prefix of the customer)
//! become review items, one per event.
//!
//! EventBridge puts each matching event on the review queue as it is (no input transformer):
//! the body is the bus event, whose `detail` is the domain event's envelope. The review item is
//! keyed on that envelope's id, so a repeated delivery (the relay's at-least-once, a replay of
//! the archive, the queue's own redelivery) makes no second review.

use chrono::Utc;
use contracts::order::OrderCreated;
use lambda_kit::dynamodb::{BoxError, Item, RecordStore, n, s};
use lambda_kit::events::{ContractViolation, Envelope, Event, NotAnEvent};
use lambda_kit::sqs::{BatchError, RecordFailure, SqsBatch, SqsBatchResponse, SqsMessage, process_batch};
use serde::Deserialize;
use tracing::info;

/// Records of one batch handled at the same time.
const CONCURRENCY: usize = 10;

/// An event as EventBridge delivers it to a target: the fields this consumer reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BusEvent {
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// The domain event: what the relay put on the bus.
    pub detail: Envelope,
    /// Set on the events of a replay (EventBridge adds it): the name of the replay.
    #[serde(rename = "replay-name", default)]
    pub replay_name: Option<String>,
}

/// The bus event in a message body; anything else is poison.
pub fn bus_event_in(body: &str) -> Result<BusEvent, NotAnEvent> {
    let event: BusEvent =
        serde_json::from_str(body).map_err(|error| NotAnEvent(format!("not an event of the bus: {error}")))?;
    if event.detail_type != event.detail.event_type {
        return Err(NotAnEvent(format!(
            "detail-type {} is not the event's type {}",
            event.detail_type, event.detail.event_type
        )));
    }
    Ok(event)
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Poison(#[from] NotAnEvent),
    /// A known event whose data breaks its contract: poison too, never a review of `"?"`.
    #[error(transparent)]
    BreaksContract(#[from] ContractViolation),
    #[error("the review could not be stored")]
    Store(#[source] BoxError),
}

impl RecordFailure for RecordError {
    fn is_poison(&self) -> bool {
        matches!(self, RecordError::Poison(_) | RecordError::BreaksContract(_))
    }
}

pub struct OrderReview<S> {
    store: S,
}

impl<S: RecordStore> OrderReview<S> {
    pub fn new(store: S) -> Self {
        Self { store }
    }

    pub async fn handle(&self, event: SqsBatch) -> Result<SqsBatchResponse, BatchError> {
        process_batch(event, CONCURRENCY, |message| self.process(message)).await
    }

    async fn process(&self, message: SqsMessage) -> Result<(), RecordError> {
        let bus_event = bus_event_in(message.body.as_deref().unwrap_or_default())?;
        let event = &bus_event.detail;
        let Some(Event::OrderCreated(OrderCreated(order))) = Event::read(event)? else {
            // The rules route orders only; anything else is a rule's mistake, not this queue's.
            info!(event_id = %event.id, event_type = %event.event_type, version = event.version, "not an order to review; ignored");
            return Ok(());
        };
        let item = Item::from([
            ("event_id".to_owned(), s(&event.id)),
            ("order_id".to_owned(), s(&order.id)),
            ("customer_id".to_owned(), s(&order.customer_id)),
            ("currency".to_owned(), s(&order.currency)),
            ("total".to_owned(), n(order.total)),
            ("status".to_owned(), s("TO_REVIEW")),
            (
                "received_at".to_owned(),
                s(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            ),
        ]);
        if self.store.put_once(item).await.map_err(RecordError::Store)? {
            info!(event_id = %event.id, order_id = %order.id, replay = bus_event.replay_name.as_deref(), "order to review");
        } else {
            info!(event_id = %event.id, replay = bus_event.replay_name.as_deref(), "review exists; repeated delivery ignored");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn bus_event(detail_type: &str, detail: serde_json::Value) -> String {
        json!({"version": "0", "id": "eb-1", "detail-type": detail_type, "source": "orders-api",
               "account": "123456789012", "time": "2026-12-08T10:00:00Z", "region": "us-east-1",
               "resources": [], "detail": detail})
        .to_string()
    }

    #[test]
    fn a_bus_event_is_read_with_its_envelope_and_replay_name() {
        let envelope =
            json!({"id": "e-1", "type": "order.created", "version": 1, "time": "t", "source": "s", "data": {}});
        let event = bus_event_in(&bus_event("order.created", envelope.clone())).unwrap();
        assert_eq!((event.detail.id.as_str(), event.replay_name), ("e-1", None));

        let mut replayed: serde_json::Value = serde_json::from_str(&bus_event("order.created", envelope)).unwrap();
        replayed["replay-name"] = json!("orders-monday");
        let event = bus_event_in(&replayed.to_string()).unwrap();
        assert_eq!(event.replay_name.as_deref(), Some("orders-monday"));
    }

    #[test]
    fn a_body_that_is_not_a_bus_event_or_whose_type_disagrees_is_poison() {
        assert!(bus_event_in("not json").is_err());
        assert!(bus_event_in(r#"{"detail-type": "order.created", "detail": {"id": "e"}}"#).is_err());
        let envelope = json!({"id": "e-1", "type": "job.failed", "version": 1, "time": "t", "source": "s", "data": {}});
        assert!(bus_event_in(&bus_event("order.created", envelope)).is_err());
    }
}
