//! Fuzzing the outbox publisher: stream batches of the sample's records, each maybe damaged
//! anywhere (test_support::mutated). Properties: nothing panics; only a record without a
//! sequence number (before any malformed one) fails the whole batch; otherwise the answer reports exactly the first
//! malformed INSERT (the shard then retries from it, keeping the order), and what is published is
//! the events of the well-formed INSERTs before it, in order (Lambda counts them done).

use std::sync::{Arc, Mutex};

use event_publisher::{EventSink, Publisher};
use lambda_kit::events::Envelope;
use lambda_kit::outbox::{event_from_item, item_from_stream_image};
use lambda_kit::sns::PublishIncomplete;
use proptest::prelude::*;
use serde_json::Value;
use test_support::{config, mutated, sample_event};

struct Recording(Arc<Mutex<Vec<String>>>);

impl EventSink for Recording {
    async fn publish(&self, events: &[Envelope]) -> Result<(), PublishIncomplete> {
        self.0.lock().unwrap().extend(events.iter().map(|e| e.id.clone()));
        Ok(())
    }
}

/// 1..=6 records from the sample, each with its own sequence number, some damaged.
fn batches() -> impl Strategy<Value = String> {
    let records = sample_event("event-publisher", "outbox-batch")["Records"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let record = (prop::sample::select(records), any::<bool>()).prop_flat_map(|(record, damage)| {
        if damage {
            mutated(record).boxed()
        } else {
            Just(record.to_string()).boxed()
        }
    });
    prop::collection::vec(record, 1..=6).prop_map(|records| {
        let records: Vec<Value> = records
            .into_iter()
            .enumerate()
            .map(|(index, text)| {
                let mut record: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                // Sequence numbers grow along the shard.
                if let Some(sequence) = record.pointer_mut("/dynamodb/SequenceNumber").filter(|s| s.is_string()) {
                    *sequence = Value::String(format!("{:021}", index + 1));
                }
                record
            })
            .collect();
        serde_json::json!({ "Records": records }).to_string()
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_first_malformed_record_is_reported_and_nothing_after_it_is_published(text in batches()) {
        let event: Value = serde_json::from_str(&text).expect("JSON");
        let records = event["Records"].as_array().cloned().unwrap_or_default();
        let published = Arc::new(Mutex::new(Vec::new()));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
        let outcome = runtime.block_on(Publisher::new(Recording(published.clone())).handle(event));

        // Walk the shard as the handler does: in order, up to the first record it must stop at.
        let sequence = |r: &Value| r.pointer("/dynamodb/SequenceNumber").and_then(Value::as_str).map(str::to_owned);
        let mut expected_published = Vec::new();
        let mut first_malformed = None;
        for record in &records {
            let Some(sequence) = sequence(record) else {
                prop_assert!(outcome.is_err(), "a record without a sequence number cannot be reported alone");
                return Ok(());
            };
            if record["eventName"] != "INSERT" {
                continue;
            }
            let image = record.pointer("/dynamodb/NewImage").unwrap_or(&Value::Null);
            match item_from_stream_image(image).and_then(|item| event_from_item(&item)) {
                Ok(event) => expected_published.push(event.id),
                Err(_) => {
                    first_malformed = Some(sequence);
                    break;
                }
            }
        }
        let answer = outcome.expect("an answer");
        let reported: Vec<String> = answer.batch_item_failures.iter().map(|f| f.item_identifier.clone().unwrap_or_default()).collect();
        match first_malformed {
            Some(sequence) => {
                prop_assert_eq!(reported, vec![sequence]);
                // The shard resumes at the malformed record: what came before it must be out.
                prop_assert_eq!(&*published.lock().unwrap(), &expected_published);
            }
            None => {
                prop_assert!(reported.is_empty());
                prop_assert_eq!(&*published.lock().unwrap(), &expected_published);
            }
        }
    }
}
