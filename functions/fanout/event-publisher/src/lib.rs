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
use lambda_kit::relay::OutboxBatch;
use lambda_kit::sns::{EventPublisher, PublishIncomplete};
use serde_json::Value;
use tracing::{info, warn};

/// Where events are published.
pub trait EventSink: Send + Sync {
    fn publish(&self, events: &[Envelope]) -> impl Future<Output = Result<(), PublishIncomplete>> + Send;
}

impl EventSink for EventPublisher {
    async fn publish(&self, events: &[Envelope]) -> Result<(), PublishIncomplete> {
        self.publish_all(events).await
    }
}

pub use lambda_kit::relay::{StreamBatchResponse, StreamError};

pub struct Publisher<S> {
    sink: S,
}

impl<S: EventSink> Publisher<S> {
    pub fn new(sink: S) -> Self {
        Self { sink }
    }

    /// The batch's events up to its first malformed record are published; the answer names
    /// the record the shard resumes at (lambda_kit::relay).
    pub async fn handle(&self, event: Value) -> Result<StreamBatchResponse, StreamError> {
        let batch = OutboxBatch::read(&event)?;
        let events = batch.events();
        let failed: Vec<String> = match self.sink.publish(&events).await {
            Ok(()) => {
                info!(published = events.len(), "outbox batch published");
                metrics::count("Events", "published", events.len());
                Vec::new()
            }
            Err(incomplete) => {
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
                incomplete.failed.into_iter().map(|failed| failed.event_id).collect()
            }
        };
        Ok(batch.answer(&failed))
    }
}
