//! event-relay: the outbox's way onto the event bus.
//!
//! DynamoDB stream of the outbox table → this function → `PutEvents` on the domain event bus.
//! Each event becomes one entry: its type as the `detail-type`, its producer as the `source`,
//! its envelope as the `detail` (redacted: a callback URL is a capability, and any rule of the
//! account may read the bus), so rules match on `detail.data.*` and consumers deduplicate on
//! `detail.id`, the event's own id (EventBridge gives each put, and each replay, an id of its own).
//!
//! Entries go in requests of at most [`MAX_ENTRIES`] and [`MAX_REQUEST_BYTES`] (PutEvents'
//! limits). An entry EventBridge fails through no fault of ours (throttled, an internal error),
//! or a call that fails whole, is sent again with a backoff, up to the attempt limit; whatever is
//! still not on the bus is reported, and the shard resumes at its record (lambda_kit::relay):
//! at least once, never dropped. Events after it may go out twice; consumers deduplicate.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lambda_kit::BoxError;
use lambda_kit::events::Envelope;
use lambda_kit::metrics;
use lambda_kit::relay::OutboxBatch;
pub use lambda_kit::relay::{StreamBatchResponse, StreamError};
use serde_json::Value;
use tracing::{error, info, warn};

/// Entries per `PutEvents` call: EventBridge's limit.
pub const MAX_ENTRIES: usize = 10;
/// The most a `PutEvents` request's entries may add up to (1 MB since January 2026), counted as
/// [`Entry::size`] does.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// What PutEvents counts for an entry's `Time`.
const TIME_BYTES: usize = 14;

/// Per-entry error codes that another try may cure: EventBridge's own trouble, not the entry's.
const RETRYABLE: [&str; 4] = [
    "ThrottlingException",
    "InternalFailure",
    "InternalException",
    "ServiceUnavailable",
];

/// One event as a `PutEvents` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub event_id: String,
    pub source: String,
    pub detail_type: String,
    pub detail: String,
    pub time: Option<DateTime<Utc>>,
}

impl Entry {
    pub fn of(event: &Envelope) -> Result<Self, serde_json::Error> {
        Ok(Self {
            event_id: event.id.clone(),
            source: event.source.clone(),
            detail_type: event.event_type.clone(),
            detail: serde_json::to_string(&event.clone().redacted())?,
            time: DateTime::parse_from_rfc3339(&event.time).ok().map(|time| time.to_utc()),
        })
    }

    /// The entry's size as PutEvents counts it: 14 bytes for a time, and the UTF-8 bytes of the
    /// source, the detail type and the detail (the relay names no resources).
    pub fn size(&self) -> usize {
        self.time.map_or(0, |_| TIME_BYTES) + self.source.len() + self.detail_type.len() + self.detail.len()
    }
}

/// The requests the entries go in, in order: each at most [`MAX_ENTRIES`] entries and
/// [`MAX_REQUEST_BYTES`]. An entry larger than a request may be is in none (the caller reports it).
pub fn requests(entries: &[Entry]) -> Vec<Vec<&Entry>> {
    let mut requests: Vec<Vec<&Entry>> = Vec::new();
    let mut bytes = 0;
    for entry in entries.iter().filter(|entry| entry.size() <= MAX_REQUEST_BYTES) {
        match requests.last_mut() {
            Some(request) if request.len() < MAX_ENTRIES && bytes + entry.size() <= MAX_REQUEST_BYTES => {
                request.push(entry);
                bytes += entry.size();
            }
            _ => {
                requests.push(vec![entry]);
                bytes = entry.size();
            }
        }
    }
    requests
}

/// Where the entries go: one `PutEvents` call.
pub trait Bus: Send + Sync {
    /// Puts `entries`; answers, entry by entry in their order, `None` (on the bus) or the error
    /// code EventBridge gave it. `Err`: the call failed as a whole.
    fn put(&self, entries: &[&Entry]) -> impl Future<Output = Result<Vec<Option<String>>, BoxError>> + Send;
}

pub struct Relay<B> {
    bus: B,
    attempts: u32,
    backoff: Duration,
}

impl<B: Bus> Relay<B> {
    /// `attempts` bounds how often an entry that failed through no fault of its own is sent.
    pub fn new(bus: B, attempts: u32) -> Self {
        Self {
            bus,
            attempts: attempts.max(1),
            backoff: Duration::from_millis(25),
        }
    }

    /// The first wait before an entry is sent again (doubled each time; 25 ms unless set).
    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// The bus, given back (tests read what a bus of their own holds).
    pub fn into_bus(self) -> B {
        self.bus
    }

    /// The batch's events, up to its first malformed record, onto the bus; the answer names the
    /// record the shard resumes at.
    pub async fn handle(&self, event: Value) -> Result<StreamBatchResponse, StreamError> {
        let batch = OutboxBatch::read(&event)?;
        let events = batch.events();
        let failed = self.put_all(&events).await;
        let put = events.len() - failed.len();
        metrics::count("Events", "put", put);
        if failed.is_empty() {
            info!(put, "outbox batch on the bus");
        } else {
            warn!(
                put,
                failed = failed.len(),
                "some events are not on the bus; the shard resumes at the first"
            );
            metrics::count("Events", "failed", failed.len());
        }
        Ok(batch.answer(&failed))
    }

    /// Puts every event; returns the ids of those that are not on the bus.
    pub async fn put_all(&self, events: &[Envelope]) -> Vec<String> {
        let mut failed = Vec::new();
        let mut entries = Vec::with_capacity(events.len());
        for event in events {
            match Entry::of(event) {
                Ok(entry) if entry.size() <= MAX_REQUEST_BYTES => entries.push(entry),
                Ok(entry) => {
                    error!(event_id = %event.id, size = entry.size(), "the event is larger than PutEvents takes");
                    failed.push(event.id.clone());
                }
                Err(unreadable) => {
                    error!(event_id = %event.id, error = %unreadable, "the event cannot be written as a detail");
                    failed.push(event.id.clone());
                }
            }
        }
        for request in requests(&entries) {
            failed.extend(self.put_request(request).await);
        }
        failed
    }

    /// One request's entries, the retryable failures sent again; the ids left out.
    async fn put_request(&self, mut pending: Vec<&Entry>) -> Vec<String> {
        let mut refused = Vec::new();
        for attempt in 1..=self.attempts {
            let retry: Vec<&Entry> = match self.bus.put(&pending).await {
                Ok(codes) => {
                    let mut retry = Vec::new();
                    for (index, entry) in pending.iter().enumerate() {
                        // An answer without this entry's result is no proof it is on the bus.
                        match codes.get(index).cloned().unwrap_or(Some("NoResult".to_owned())) {
                            None => {}
                            Some(code) if RETRYABLE.contains(&code.as_str()) => retry.push(*entry),
                            Some(code) => {
                                error!(event_id = %entry.event_id, %code, "EventBridge refused the event");
                                refused.push(entry.event_id.clone());
                            }
                        }
                    }
                    retry
                }
                Err(failure) => {
                    warn!(error = %failure, attempt, "PutEvents failed");
                    pending.clone()
                }
            };
            if retry.is_empty() {
                return refused;
            }
            if attempt == self.attempts {
                refused.extend(retry.iter().map(|entry| entry.event_id.clone()));
                return refused;
            }
            pending = retry;
            tokio::time::sleep(self.backoff * (1 << attempt)).await;
        }
        refused
    }
}

/// The bus as EventBridge serves it.
#[derive(Debug, Clone)]
pub struct PutEventsBus {
    client: aws_sdk_eventbridge::Client,
    bus_name: String,
}

impl PutEventsBus {
    pub fn new(client: aws_sdk_eventbridge::Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
        }
    }
}

impl Bus for PutEventsBus {
    async fn put(&self, entries: &[&Entry]) -> Result<Vec<Option<String>>, BoxError> {
        use aws_sdk_eventbridge::primitives::DateTime as SdkTime;
        use aws_sdk_eventbridge::types::PutEventsRequestEntry;

        let entries = entries
            .iter()
            .map(|entry| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus_name)
                    .source(&entry.source)
                    .detail_type(&entry.detail_type)
                    .detail(&entry.detail)
                    .set_time(entry.time.map(|time| SdkTime::from_millis(time.timestamp_millis())))
                    .build()
            })
            .collect();
        let output = self.client.put_events().set_entries(Some(entries)).send().await?;
        Ok(output
            .entries()
            .iter()
            .map(|result| result.error_code().map(str::to_owned))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(detail_bytes: usize) -> Entry {
        Entry {
            event_id: "e".into(),
            source: "orders-api".into(),
            detail_type: "order.created".into(),
            detail: "x".repeat(detail_bytes),
            time: Some(Utc::now()),
        }
    }

    #[test]
    fn requests_hold_at_most_ten_entries_and_a_megabyte_and_keep_the_order() {
        let small: Vec<Entry> = (0..25).map(|_| entry(100)).collect();
        assert_eq!(requests(&small).iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);

        let large: Vec<Entry> = (0..7).map(|_| entry(300 * 1024)).collect();
        let sizes: Vec<usize> = requests(&large).iter().map(Vec::len).collect();
        assert_eq!(sizes, [3, 3, 1], "three 300 KB entries fit in 1 MB, four do not");
        assert!(
            requests(&[entry(MAX_REQUEST_BYTES)]).is_empty(),
            "an entry larger than a request goes in none"
        );
    }

    #[test]
    fn an_entry_counts_its_time_source_type_and_detail_and_leaves_the_callback_off_the_bus() {
        let event = Envelope::new(
            "job.succeeded",
            1,
            "jobs",
            json!({"job_id": "j", "callback_url": "https://example.com/hook", "callback_owner": "o"}),
            Utc::now(),
        );
        let entry = Entry::of(&event).unwrap();
        assert_eq!(
            entry.size(),
            14 + "jobs".len() + "job.succeeded".len() + entry.detail.len()
        );
        let detail: Value = serde_json::from_str(&entry.detail).unwrap();
        assert_eq!(detail["data"], json!({"job_id": "j"}));
        assert_eq!(detail["id"], json!(event.id));
    }
}
