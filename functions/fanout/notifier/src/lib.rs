//! notifier: domain events become notification records (what a mail or push sender would pick
//! up). It asked only for the events it knows (the subscription's attribute filter) with raw
//! delivery, and still tolerates anything else.

use chrono::Utc;
use contracts::order::OrderCreated;
use lambda_kit::dynamodb::{BoxError, Item, RecordStore, s};
use lambda_kit::events::{ContractViolation, Event, NotAnEvent, event_in};
use lambda_kit::sqs::{BatchError, RecordFailure, SqsBatch, SqsBatchResponse, SqsMessage, process_batch};
use tracing::info;

/// Records of one batch handled at the same time.
const CONCURRENCY: usize = 10;

/// A notification to send: to whom, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub recipient: String,
    pub message: String,
}

/// The notification an event calls for, read by its contract.
pub fn notification_for(event: &Event) -> Notification {
    match event {
        Event::OrderCreated(OrderCreated(order)) => Notification {
            recipient: format!("customer:{}", order.customer_id),
            message: format!("Your order {} is confirmed.", order.id),
        },
        // starter: with async
        Event::JobSucceeded(job) => Notification {
            recipient: format!("job:{}", job.job_id),
            message: format!("Your {} job {} finished.", job.job_type, job.job_id),
        },
        Event::JobFailed(job) => Notification {
            recipient: format!("job:{}", job.job_id),
            message: format!("Your {} job {} failed: {}", job.job_type, job.job_id, job.error),
        },
        // starter: end
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Poison(#[from] NotAnEvent),
    /// A known event whose data breaks its contract: poison too, never a notification of `"?"`.
    #[error(transparent)]
    BreaksContract(#[from] ContractViolation),
    #[error("the notification could not be stored")]
    Store(#[source] BoxError),
}

impl RecordFailure for RecordError {
    fn is_poison(&self) -> bool {
        matches!(self, RecordError::Poison(_) | RecordError::BreaksContract(_))
    }
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
        let Some(known) = Event::read(&event)? else {
            info!(event_id = %event.id, event_type = %event.event_type, version = event.version, "event not handled here; ignored");
            return Ok(());
        };
        let notification = notification_for(&known);
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
    use lambda_kit::events::Envelope;
    use serde_json::json;

    use super::*;

    fn read(event_type: &str, version: u32, data: serde_json::Value) -> Result<Option<Event>, ContractViolation> {
        Event::read(&Envelope::new(event_type, version, "test", data, Utc::now()))
    }

    #[test]
    fn each_known_event_calls_for_its_notification() {
        let order = read(
            "order.created",
            1,
            json!({"id": "o-1", "customer_id": "c-42", "currency": "EUR", "items": [], "subtotal": 0,
                   "tax_rate_basis_points": 0, "tax": 0, "total": 0, "created_at": "2026-11-26T10:00:00.000Z"}),
        );
        assert_eq!(notification_for(&order.unwrap().unwrap()).recipient, "customer:c-42");
        // starter: with async
        let failed = read(
            "job.failed",
            1,
            json!({"job_id": "j-1", "type": "invoice", "attempts": 1, "error": "no order"}),
        );
        assert_eq!(
            notification_for(&failed.unwrap().unwrap()).message,
            "Your invoice job j-1 failed: no order"
        );
        // starter: end
    }

    #[test]
    fn unknown_types_and_versions_call_for_nothing_and_a_broken_contract_is_poison() {
        assert_eq!(read("order.shipped", 1, json!({})).unwrap(), None);
        assert_eq!(read("order.created", 2, json!({})).unwrap(), None);
        assert!(read("order.created", 1, json!({"id": "o-1", "customer_id": "c-42"})).is_err());
        assert!(read("job.failed", 1, json!({"job_id": "j-1"})).is_err()); // starter: with async
    }
}
