//! notifier: order and job events become notification records (what a mail or push sender would
//! pick up). It asked only for `order.created`, `job.succeeded` and `job.failed` (the
//! subscription's attribute filter) with raw delivery, and still tolerates anything else.

use chrono::Utc;
use lambda_kit::dynamodb::{BoxError, Item, RecordStore, s};
use lambda_kit::events::{Envelope, NotAnEvent, event_in};
use lambda_kit::sqs::{BatchError, SqsBatch, SqsBatchResponse, SqsMessage, process_batch};
use serde_json::Value;
use tracing::info;

/// Records of one batch handled at the same time.
const CONCURRENCY: usize = 10;

/// A notification to send: to whom, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub recipient: String,
    pub message: String,
}

/// The notification an event calls for; `None` for a type or version this notifier does not know.
pub fn notification_for(event: &Envelope) -> Option<Notification> {
    let text = |name: &str| event.data.get(name).and_then(Value::as_str).unwrap_or("?").to_owned();
    match (event.event_type.as_str(), event.version) {
        ("order.created", 1) => Some(Notification {
            recipient: format!("customer:{}", text("customer_id")),
            message: format!("Your order {} is confirmed.", text("id")),
        }),
        ("job.succeeded", 1) => Some(Notification {
            recipient: format!("job:{}", text("job_id")),
            message: format!("Your {} job {} finished.", text("type"), text("job_id")),
        }),
        ("job.failed", 1) => Some(Notification {
            recipient: format!("job:{}", text("job_id")),
            message: format!("Your {} job {} failed: {}", text("type"), text("job_id"), text("error")),
        }),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Poison(#[from] NotAnEvent),
    #[error("the notification could not be stored")]
    Store(#[source] BoxError),
}

pub struct Notifier<S> {
    store: S,
}

impl<S: RecordStore> Notifier<S> {
    pub fn new(store: S) -> Self {
        Self { store }
    }

    pub async fn handle(&self, event: SqsBatch) -> Result<SqsBatchResponse, BatchError> {
        process_batch(event, CONCURRENCY, |message| self.process(message)).await
    }

    async fn process(&self, message: SqsMessage) -> Result<(), RecordError> {
        let Some(event) = event_in(message.body.as_deref().unwrap_or_default())? else {
            return Ok(());
        };
        let Some(notification) = notification_for(&event) else {
            info!(event_id = %event.id, event_type = %event.event_type, version = event.version, "event not handled here; ignored");
            return Ok(());
        };
        let item = Item::from([
            ("id".to_owned(), s(format!("notification#{}", event.id))),
            ("event_id".to_owned(), s(&event.id)),
            ("event_type".to_owned(), s(&event.event_type)),
            ("recipient".to_owned(), s(notification.recipient)),
            ("message".to_owned(), s(notification.message)),
            (
                "created_at".to_owned(),
                s(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            ),
        ]);
        if !self.store.put_once(item).await.map_err(RecordError::Store)? {
            info!(event_id = %event.id, "notification exists; repeated delivery ignored");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_known_event_calls_for_its_notification() {
        let order = Envelope::new(
            "order.created",
            1,
            "orders-api",
            json!({"id": "o-1", "customer_id": "c-42"}),
            Utc::now(),
        );
        let failed = Envelope::new(
            "job.failed",
            1,
            "job-worker",
            json!({"job_id": "j-1", "type": "invoice", "error": "no order"}),
            Utc::now(),
        );
        assert_eq!(notification_for(&order).unwrap().recipient, "customer:c-42");
        assert_eq!(
            notification_for(&failed).unwrap().message,
            "Your invoice job j-1 failed: no order"
        );
    }

    #[test]
    fn unknown_types_and_versions_call_for_nothing() {
        assert_eq!(
            notification_for(&Envelope::new("order.shipped", 1, "x", json!({}), Utc::now())),
            None
        );
        assert_eq!(
            notification_for(&Envelope::new("order.created", 2, "x", json!({}), Utc::now())),
            None
        );
    }
}
