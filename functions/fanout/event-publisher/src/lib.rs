//! event-publisher: the outbox's way out.
//!
//! DynamoDB stream of the outbox table → this function → SNS. Each batch of stream records is
//! published with `PublishBatch` (10 per call, every failed entry retried or reported); with
//! `ReportBatchItemFailures` the answer names the first record whose event did not go out, and
//! Lambda retries the shard from there. Events after it in the batch may go out twice: at least
//! once, never lost, and subscribers deduplicate on the event id.

use std::future::Future;

use lambda_kit::events::Envelope;
use lambda_kit::metrics;
use lambda_kit::outbox::{event_from_item, item_from_stream_image};
use lambda_kit::sns::{EventPublisher, PublishIncomplete};
use serde_json::Value;
use tracing::{error, info, warn};

/// Where events are published.
pub trait EventSink: Send + Sync {
    fn publish(&self, events: &[Envelope]) -> impl Future<Output = Result<(), PublishIncomplete>> + Send;
}

impl EventSink for EventPublisher {
    async fn publish(&self, events: &[Envelope]) -> Result<(), PublishIncomplete> {
        self.publish_all(events).await
    }
}

/// The stream answer (the runtime's stock type): the sequence number Lambda retries the shard
/// from, if any.
pub use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse as StreamBatchResponse};

/// Why a whole batch fails: only an event that is not a stream batch, or a record without a
/// sequence number (which could not be reported alone).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StreamError {
    #[error("the event has no Records array; it is not a DynamoDB stream batch")]
    NotABatch,
    #[error("record {0} has no dynamodb.SequenceNumber")]
    NoSequenceNumber(usize),
}

pub struct Publisher<S> {
    sink: S,
}

impl<S: EventSink> Publisher<S> {
    pub fn new(sink: S) -> Self {
        Self { sink }
    }

    /// The event is read as JSON, record by record, rather than as the stock `DynamoDbEvent`: one
    /// record that does not fit that type would fail the whole batch, which Lambda would retry
    /// until the records leave the stream, blocking the shard; read alone, it is reported by its
    /// sequence number and the records before it are published.
    pub async fn handle(&self, event: Value) -> Result<StreamBatchResponse, StreamError> {
        let Some(Value::Array(records)) = event.get("Records") else {
            return Err(StreamError::NotABatch);
        };
        // In stream order: (sequence number, the event it carries if it is a new outbox item).
        let mut pending: Vec<(String, Option<Envelope>)> = Vec::with_capacity(records.len());
        for (index, record) in records.iter().enumerate() {
            let sequence = record
                .pointer("/dynamodb/SequenceNumber")
                .and_then(Value::as_str)
                .ok_or(StreamError::NoSequenceNumber(index))?
                .to_owned();
            if record.get("eventName").and_then(Value::as_str) != Some("INSERT") {
                // MODIFY does not happen in an outbox; REMOVE is the TTL sweeping a sent event.
                pending.push((sequence, None));
                continue;
            }
            let image = record.pointer("/dynamodb/NewImage").unwrap_or(&Value::Null);
            match item_from_stream_image(image).and_then(|item| event_from_item(&item)) {
                Ok(event) => pending.push((sequence, Some(event))),
                Err(malformed) => {
                    // Cannot be published; report it so the shard stops here and, after the
                    // retries, the mapping's on-failure destination records where it is.
                    error!(%sequence, error = %malformed, "outbox record is malformed");
                    metrics::count("Events", "malformed", 1);
                    return Ok(failure_at(sequence));
                }
            }
        }
        let events: Vec<Envelope> = pending.iter().filter_map(|(_, event)| event.clone()).collect();
        match self.sink.publish(&events).await {
            Ok(()) => {
                info!(published = events.len(), "outbox batch published");
                metrics::count("Events", "published", events.len());
                Ok(StreamBatchResponse::default())
            }
            Err(incomplete) => {
                let first_failed = pending.iter().find(|(_, event)| {
                    event
                        .as_ref()
                        .is_some_and(|event| incomplete.failed.iter().any(|f| f.event_id == event.id))
                });
                warn!(
                    failed = incomplete.failed.len(),
                    "some events were not published; the shard retries from the first"
                );
                metrics::count(
                    "Events",
                    "published",
                    events.len().saturating_sub(incomplete.failed.len()),
                );
                metrics::count("Events", "failed", incomplete.failed.len());
                Ok(first_failed.map_or_else(StreamBatchResponse::default, |(sequence, _)| {
                    failure_at(sequence.clone())
                }))
            }
        }
    }
}

fn failure_at(sequence: String) -> StreamBatchResponse {
    let mut failure = DynamoDbBatchItemFailure::default();
    failure.item_identifier = Some(sequence);
    let mut response = StreamBatchResponse::default();
    response.batch_item_failures = vec![failure];
    response
}
