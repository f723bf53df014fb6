//! audit-log: one append-only record per domain event, whatever its type or version, keyed by
//! the event id so a repeated delivery adds nothing. It receives every event in its SNS envelope
//! (no filter, no raw delivery) and keeps the SNS message id beside the event.

use chrono::Utc;
use lambda_kit::dynamodb::{BoxError, Item, RecordStore, n, s};
use lambda_kit::events::{NotAnEvent, event_in};
use lambda_kit::sqs::{BatchError, RecordFailure, SqsBatch, SqsBatchResponse, SqsMessage, process_batch};
use serde_json::Value;
use tracing::info;

const CONCURRENCY: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Poison(#[from] NotAnEvent),
    #[error("the audit record could not be stored")]
    Store(#[source] BoxError),
}

impl RecordFailure for RecordError {
    fn is_poison(&self) -> bool {
        matches!(self, RecordError::Poison(_))
    }
}

pub struct AuditLog<S> {
    store: S,
}

impl<S: RecordStore> AuditLog<S> {
    pub fn new(store: S) -> Self {
        Self { store }
    }

    pub async fn handle(&self, event: SqsBatch) -> Result<SqsBatchResponse, BatchError> {
        process_batch(event, CONCURRENCY, |message| self.process(message)).await
    }

    async fn process(&self, message: SqsMessage) -> Result<(), RecordError> {
        let body = message.body.as_deref().unwrap_or_default();
        let Some(event) = event_in(body)? else {
            return Ok(());
        };
        // Kept without its callback URL: a capability, for the dispatcher only.
        let event = event.redacted();
        let sns_message_id = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|notification| notification.get("MessageId").and_then(Value::as_str).map(str::to_owned));
        let mut item = Item::from([
            ("event_id".to_owned(), s(&event.id)),
            ("event_type".to_owned(), s(&event.event_type)),
            ("version".to_owned(), n(event.version)),
            ("source".to_owned(), s(&event.source)),
            ("time".to_owned(), s(&event.time)),
            ("data".to_owned(), s(event.data.to_string())),
            (
                "received_at".to_owned(),
                s(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            ),
        ]);
        if let Some(id) = sns_message_id {
            item.insert("sns_message_id".to_owned(), s(id));
        }
        if !self.store.put_once(item).await.map_err(RecordError::Store)? {
            info!(event_id = %event.id, "already audited; repeated delivery ignored");
        }
        Ok(())
    }
}
