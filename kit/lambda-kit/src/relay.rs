//! Reading the outbox's DynamoDB stream (feature `relay`): what every relay of the outbox does
//! before it sends the events on, and the answer it gives Lambda after.
//!
//! The batch is read as JSON, record by record, rather than as the stock `DynamoDbEvent`: one
//! record that does not fit that type would fail the whole batch, which Lambda would retry until
//! the records leave the stream, blocking the shard. Read alone, it is reported by its sequence
//! number; the events before it are sent, and Lambda checkpoints them (with
//! `ReportBatchItemFailures` a stream resumes *at* the reported record: whatever came before it
//! counts as done, so it must be done).

use serde_json::Value;
use tracing::error;

use crate::events::Envelope;
use crate::metrics;
use crate::outbox::{event_from_item, item_from_stream_image};

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

/// A stream batch of the outbox, read in stream order up to its first malformed record.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxBatch {
    /// (sequence number, the event if the record is a new outbox item), in stream order.
    records: Vec<(String, Option<Envelope>)>,
    /// The first record that is an INSERT but not an event: where the shard must stop.
    malformed: Option<String>,
}

impl OutboxBatch {
    /// Reads a stream batch. A malformed INSERT ends the reading: it is logged and counted
    /// (`Events`, `malformed`), and [`OutboxBatch::answer`] reports it.
    pub fn read(event: &Value) -> Result<Self, StreamError> {
        let Some(Value::Array(records)) = event.get("Records") else {
            return Err(StreamError::NotABatch);
        };
        let mut batch = Self {
            records: Vec::with_capacity(records.len()),
            malformed: None,
        };
        for (index, record) in records.iter().enumerate() {
            let sequence = record
                .pointer("/dynamodb/SequenceNumber")
                .and_then(Value::as_str)
                .ok_or(StreamError::NoSequenceNumber(index))?
                .to_owned();
            if record.get("eventName").and_then(Value::as_str) != Some("INSERT") {
                // MODIFY does not happen in an outbox; REMOVE is the TTL sweeping a sent event.
                batch.records.push((sequence, None));
                continue;
            }
            let image = record.pointer("/dynamodb/NewImage").unwrap_or(&Value::Null);
            match item_from_stream_image(image).and_then(|item| event_from_item(&item)) {
                Ok(event) => batch.records.push((sequence, Some(event))),
                Err(malformed) => {
                    // Cannot be sent; reported so the shard stops here and, after the retries,
                    // the mapping's on-failure destination records where it is.
                    error!(%sequence, error = %malformed, "outbox record is malformed");
                    metrics::count("Events", "malformed", 1);
                    batch.malformed = Some(sequence);
                    break; // what follows is read again when the shard resumes here
                }
            }
        }
        Ok(batch)
    }

    /// The events to send, in stream order: those before the first malformed record.
    pub fn events(&self) -> Vec<Envelope> {
        self.records.iter().filter_map(|(_, event)| event.clone()).collect()
    }

    /// The answer once the events were sent, `failed` naming (by event id) those that were not:
    /// the shard resumes at the first of them, or else at the malformed record, or goes on.
    pub fn answer(&self, failed: &[String]) -> StreamBatchResponse {
        let first_failed = self.records.iter().find_map(|(sequence, event)| {
            event
                .as_ref()
                .is_some_and(|event| failed.contains(&event.id))
                .then(|| sequence.clone())
        });
        match first_failed.or_else(|| self.malformed.clone()) {
            Some(sequence) => {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(sequence);
                let mut response = StreamBatchResponse::default();
                response.batch_item_failures = vec![failure];
                response
            }
            None => StreamBatchResponse::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;

    fn insert(sequence: &str, event: &Envelope) -> Value {
        json!({"eventName": "INSERT", "dynamodb": {"SequenceNumber": sequence, "NewImage": {
            "id": {"S": event.id}, "envelope": {"S": serde_json::to_string(event).unwrap()}}}})
    }

    fn reported(answer: &StreamBatchResponse) -> Vec<String> {
        answer
            .batch_item_failures
            .iter()
            .filter_map(|f| f.item_identifier.clone())
            .collect()
    }

    #[test]
    fn the_events_before_a_malformed_record_are_sent_and_the_shard_stops_at_it() {
        let (a, b) = (
            Envelope::new("order.created", 1, "t", json!({}), Utc::now()),
            Envelope::new("order.created", 1, "t", json!({}), Utc::now()),
        );
        let garbage =
            json!({"eventName": "INSERT", "dynamodb": {"SequenceNumber": "2", "NewImage": {"id": {"S": "x"}}}});
        let removed = json!({"eventName": "REMOVE", "dynamodb": {"SequenceNumber": "0"}});
        let batch =
            OutboxBatch::read(&json!({"Records": [removed, insert("1", &a), garbage, insert("3", &b)]})).unwrap();

        assert_eq!(
            batch.events(),
            vec![a.clone()],
            "what comes before the malformed record goes out"
        );
        assert_eq!(
            reported(&batch.answer(&[])),
            ["2"],
            "then the shard resumes at the malformed record"
        );
        assert_eq!(
            reported(&batch.answer(std::slice::from_ref(&a.id))),
            ["1"],
            "or at the first event not sent"
        );
    }

    #[test]
    fn a_batch_sent_whole_is_answered_with_no_failure_and_one_without_sequence_numbers_fails() {
        let a = Envelope::new("job.failed", 1, "t", json!({}), Utc::now());
        let batch = OutboxBatch::read(&json!({"Records": [insert("1", &a)]})).unwrap();
        assert_eq!(batch.answer(&[]), StreamBatchResponse::default());
        assert_eq!(OutboxBatch::read(&json!({})), Err(StreamError::NotABatch));
        assert_eq!(
            OutboxBatch::read(&json!({"Records": [insert("1", &a), {"eventName": "INSERT"}]})),
            Err(StreamError::NoSequenceNumber(1))
        );
    }
}
